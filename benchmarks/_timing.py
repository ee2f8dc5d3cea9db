# SPDX-License-Identifier: Apache-2.0
"""One timing helper for every benchmark: compile, block until ready, median.

Every script in ``benchmarks/`` times through :func:`measure` so that all of
them mean the same thing by "ms": the median wall time of ``repeats`` calls
after one untimed call (compilation and warm-up), each call blocked until its
outputs are ready (``jax.block_until_ready`` on JAX outputs; other frameworks
synchronise inside the callable they pass).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Seconds of ``repeats`` timed calls (after one warm-up call)."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def median_ms(self) -> float:
        return 1e3 * self.median

    @property
    def spread(self) -> float:
        """Interquartile range over the median (0 for fewer than 4 runs)."""
        if len(self.times) < 4:
            return 0.0
        q = statistics.quantiles(self.times, n=4)
        return (q[2] - q[0]) / self.median if self.median > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": min(self.times),
            "max_s": max(self.times),
            "iqr_over_median": self.spread,
            "repeats": len(self.times),
        }


def _block(out: Any) -> Any:
    try:
        import jax
    except ImportError:  # a benchmark of a peer without JAX installed
        return out
    return jax.block_until_ready(out)


def measure(fn: Callable[..., Any], *args: Any, repeats: int = 7, **kwargs) -> Timing:
    """Times ``fn(*args, **kwargs)``: one untimed call, then ``repeats`` timed."""
    _block(fn(*args, **kwargs))
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        _block(fn(*args, **kwargs))
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


def median_ms(fn: Callable[..., Any], *args: Any, repeats: int = 7, **kwargs) -> float:
    """Median milliseconds of :func:`measure`."""
    return measure(fn, *args, repeats=repeats, **kwargs).median_ms


def device_line() -> str:
    """``device: <kind> x<count> (<backend>), jax <version>`` for table headers."""
    import jax

    devices = jax.devices()
    return (
        f"device: {devices[0].device_kind} x{len(devices)} "
        f"({jax.default_backend()}), jax {jax.__version__}"
    )
