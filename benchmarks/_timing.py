# SPDX-License-Identifier: Apache-2.0
"""One timing helper for every benchmark: compile, block until ready, median.

Every script in ``benchmarks/`` times through :func:`measure` so that all of
them mean the same thing by "ms": the median wall time of ``repeats`` calls
after one untimed call (compilation and warm-up), each call blocked until its
outputs are ready (``jax.block_until_ready`` on JAX outputs; other frameworks
synchronise inside the callable they pass).

Machine-readable records: when the environment variable ``JAXNS_BENCH_RECORD``
names a file (``benchmarks/run.py`` sets it), every :func:`measure` call that
has a ``label`` appends one JSON line to it: the benchmark's ``group`` (one
question, e.g. ``"sgns step B=4096"``), the ``label`` of the contestant
(``"jaxns"``, ``"naive JAX"``, ``"PyTorch"``), the timing, and ``work`` (a dict
of counts done per call, e.g. ``{"pairs": 4096}``) and ``bytes``/``flops``
moved per call where the script knows them. :func:`record` adds a measurement
timed some other way (a whole-process wall time, a quality score).
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
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


def measure(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int = 7,
    label: str | None = None,
    group: str | None = None,
    work: dict[str, float] | None = None,
    bytes_moved: float | None = None,
    flops: float | None = None,
    warmup: bool = True,
    **kwargs: Any,
) -> Timing:
    """Times ``fn(*args, **kwargs)``: one untimed call, then ``repeats`` timed.

    With ``label`` (and ``group``) the result is also recorded (see the module
    docstring); ``work``, ``bytes_moved`` and ``flops`` describe one call.
    ``warmup=False`` skips the untimed call, for a caller that compiled and
    warmed ``fn`` itself and times it in rounds.
    """
    if warmup:
        _block(fn(*args, **kwargs))
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        _block(fn(*args, **kwargs))
        times.append(time.perf_counter() - start)
    timing = Timing(tuple(times))
    if label is not None:
        record(
            group or "",
            label,
            timing=timing,
            work=work,
            bytes_moved=bytes_moved,
            flops=flops,
        )
    return timing


def record(
    group: str,
    label: str,
    *,
    timing: Timing | None = None,
    seconds: float | None = None,
    work: dict[str, float] | None = None,
    bytes_moved: float | None = None,
    flops: float | None = None,
    **values: Any,
) -> None:
    """Appends one measurement to ``$JAXNS_BENCH_RECORD`` (no-op when unset).

    ``timing`` (from :func:`measure`) or ``seconds`` (timed otherwise) give the
    time of one call; ``values`` carries anything else worth plotting (scores,
    peak memory in bytes, sizes).
    """
    path = os.environ.get("JAXNS_BENCH_RECORD")
    if not path:
        return
    entry: dict[str, Any] = {
        "script": os.path.basename(sys.argv[0]),
        "group": group,
        "label": label,
    }
    if timing is not None:
        entry.update(timing.as_dict())
    elif seconds is not None:
        entry["median_s"] = float(seconds)
    if work:
        entry["work"] = {k: float(v) for k, v in work.items()}
    if bytes_moved is not None:
        entry["bytes"] = float(bytes_moved)
    if flops is not None:
        entry["flops"] = float(flops)
    entry.update(values)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, default=float) + "\n")


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


def peer_path(python: str | None, package: str, *parts: str) -> pathlib.Path | None:
    """A file or folder inside ``package`` as installed for another interpreter.

    Peers with their own virtual environment (PyKEEN, RecBole) ship the data
    sets they are compared on; this finds ``<package>/<parts...>`` in that
    environment without importing the package there. ``None`` when there is no
    such interpreter, package or path.
    """
    if not python:
        return None
    code = (
        "import importlib.util, pathlib, sys; "
        f"s = importlib.util.find_spec({package!r}); "
        "print(pathlib.Path(s.origin).parent.joinpath(*sys.argv[1:]))"
    )
    try:
        out = subprocess.run(
            [python, "-c", code, *parts], capture_output=True, text=True
        )
    except OSError:  # not an interpreter: the peer's own run reports it
        return None
    path = pathlib.Path(out.stdout.strip())
    return path if out.returncode == 0 and path.exists() else None


def read_result(path: pathlib.Path, prog: str) -> dict[str, Any]:
    """One result file of ``benchmarks/run.py``, or a one-line error naming it."""
    try:
        run = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SystemExit(
            f"{prog}: error: cannot read {path}: {err.strerror} "
            "(benchmarks/run.py --out writes the result files)"
        ) from None
    except ValueError as err:
        raise SystemExit(f"{prog}: error: {path} is not JSON: {err}") from None
    if not isinstance(run, dict) or not {"device_kind", "device_count"} <= set(run):
        raise SystemExit(
            f"{prog}: error: {path} is not a result file of benchmarks/run.py "
            "(it has no device_kind and device_count)"
        )
    return run
