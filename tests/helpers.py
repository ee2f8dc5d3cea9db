# SPDX-License-Identifier: Apache-2.0
"""Shared test helpers: one closeness check, tolerances by dtype, references.

Tolerances are chosen by the dtype of the value under test, not by the test:

* float64: ``rtol=atol=1e-12`` (exact formulas in double precision),
* float32: ``rtol=1e-6`` for exact formulas; ``loose=True`` (log/exp-heavy
  losses, reductions whose summation order differs from NumPy's) gives
  ``rtol=atol=1e-5``,
* bfloat16/float16: ``rtol=atol=1e-2`` (8/11 bits of mantissa).

On recent NVIDIA GPUs JAX runs float32 matrix products in TF32 by default
(about 1e-3 relative error). ``tests/conftest.py`` sets the matmul precision to
"highest" for the whole test session instead of loosening float32 tolerances on
GPU: a loosened tolerance would stop the float32 tests from telling a real bug
from TF32 rounding, and the library itself never depends on the precision
setting for correctness (users keep JAX's default and its speed).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

_TOLERANCES = {
    "float64": (1e-12, 1e-12),
    "float32": (1e-6, 1e-7),
    "bfloat16": (1e-2, 1e-2),
    "float16": (1e-2, 1e-2),
}
_LOOSE_FLOAT32 = (1e-5, 1e-5)


def tolerance(dtype: Any, *, loose: bool = False) -> tuple[float, float]:
    """``(rtol, atol)`` for values of ``dtype``."""
    name = jnp.dtype(dtype).name
    if loose and name == "float32":
        return _LOOSE_FLOAT32
    if loose and name == "float64":
        return (1e-10, 1e-10)
    return _TOLERANCES.get(name, (0.0, 0.0))


def assert_close(
    actual: Any,
    expected: Any,
    *,
    loose: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    err_msg: str = "",
) -> None:
    """``np.testing.assert_allclose`` with the tolerance of ``actual``'s dtype.

    ``expected`` is usually a NumPy float64 reference; it is compared in float64.
    Explicit ``rtol``/``atol`` override the dtype's defaults (say why at the call).
    """
    dtype = getattr(actual, "dtype", np.float64)
    if not jnp.issubdtype(dtype, jnp.inexact):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
        return
    default_rtol, default_atol = tolerance(dtype, loose=loose)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        np.asarray(expected, np.float64),
        rtol=default_rtol if rtol is None else rtol,
        atol=default_atol if atol is None else atol,
        err_msg=err_msg,
    )


# ---------------------------------------------------------------------------
# Float64 NumPy references shared across test modules
# ---------------------------------------------------------------------------


def np_softplus(x: Any) -> np.ndarray:
    """``log(1 + exp(x))`` in float64, stable for large ``|x|``."""
    x = np.asarray(x, np.float64)
    return np.logaddexp(0.0, x)


def np_log_sigmoid(x: Any) -> np.ndarray:
    """``log(sigmoid(x))`` in float64."""
    return -np_softplus(-np.asarray(x, np.float64))


def np_logsumexp(x: Any, axis: int = -1, where: Any = None) -> np.ndarray:
    """Float64 logsumexp over ``axis``; masked entries excluded (-inf if none)."""
    x = np.asarray(x, np.float64)
    if where is not None:
        x = np.where(where, x, -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def np_normalize(x: Any, eps: float = 1e-8) -> np.ndarray:
    """Rows scaled to unit L2 norm in float64, norms clamped below at ``eps``."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


# ---------------------------------------------------------------------------
# Gradient checks
# ---------------------------------------------------------------------------


def check_grads_jit(f: Any, args: tuple, order: int = 2) -> None:
    """``jax.test_util.check_grads`` in both modes on the jitted ``f``.

    Run it inside ``jax.enable_x64(True)`` with float64 arguments: finite
    differences in float32 cannot resolve second derivatives. ``jit`` keeps the
    many evaluations of ``check_grads`` cheap.
    """
    import jax
    from jax.test_util import check_grads

    check_grads(jax.jit(f), args, order=order, modes=("fwd", "rev"))
