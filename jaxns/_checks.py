# SPDX-License-Identifier: Apache-2.0
"""Static argument checks shared by every jaxns module (private).

One helper per kind of check, always called as ``(fn, arg, value, ...)``:

* ``fn`` is the public name the user called (``"losses.sgns"``,
  ``"unigram.sample"``), ``arg`` the argument's name as the user wrote it.
* A wrong **type** raises :class:`TypeError`; a wrong **value or shape** raises
  :class:`ValueError`. The same fault gets the same exception everywhere.
* Messages read ``"{fn}: {arg} must be <expected>, got <given>."`` and, where
  a fix is obvious, end with how to fix it.

Everything here runs at trace time on static information (Python values,
shapes, dtypes) or on concrete host arrays (tables built once, outside
``jit``). Nothing here inspects a traced value.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Collection, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__: list[str] = []

_NUMBER = (int, float, np.integer, np.floating)


def _describe(value: Any) -> str:
    """A short rendering of what the user passed: type and value or shape."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


# ---------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------


def key(fn: str, value: Any, arg: str = "key") -> jax.Array:
    """One typed PRNG key (``jax.random.key``), never a batch, never uint32 data."""
    if not isinstance(value, jax.Array) or not jnp.issubdtype(
        value.dtype, jax.dtypes.prng_key
    ):
        raise TypeError(
            f"{fn}: {arg} must be a typed key from jax.random.key, got "
            f"{_describe(value)}. Convert a legacy uint32 key with "
            "jax.random.wrap_key_data(key)."
        )
    if value.shape != ():
        raise ValueError(
            f"{fn}: {arg} must be a single key, got a key array of shape "
            f"{value.shape}. Use jax.vmap for batching."
        )
    return value


# ---------------------------------------------------------------------------
# Python (static) values
# ---------------------------------------------------------------------------


def size(
    fn: str,
    arg: str,
    value: Any,
    *,
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    """A Python int in ``[minimum, maximum]`` (static under ``jit``); bools refused."""
    try:
        if isinstance(value, bool | np.bool_):
            raise TypeError
        out = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{fn}: {arg} must be a Python int (static under jit), got "
            f"{_describe(value)}."
        ) from None
    if out < minimum:
        raise ValueError(f"{fn}: {arg} must be >= {minimum}, got {out}.")
    if maximum is not None and out > maximum:
        raise ValueError(f"{fn}: {arg} must be <= {maximum}, got {out}.")
    return out


def optional_size(
    fn: str, arg: str, value: Any, *, minimum: int = 0, maximum: int | None = None
) -> int | None:
    """``None`` or a :func:`size`."""
    if value is None:
        return None
    return size(fn, arg, value, minimum=minimum, maximum=maximum)


def sorted_sizes(
    fn: str,
    arg: str,
    value: Any,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    maximum_is: str = "",
) -> tuple[int, ...]:
    """One int or a non-empty sequence of ints (cut-offs such as ``ks``), sorted
    and without repeats, each in ``[minimum, maximum]``; ``maximum_is`` names
    the bound in the message ("the number of items")."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise TypeError(
            f"{fn}: {arg} must be a non-empty tuple of ints, got {_describe(value)}."
        )
    out = tuple(sorted({size(fn, arg, v, minimum=minimum) for v in value}))
    if maximum is not None and out[-1] > maximum:
        bound = f"{maximum_is} {maximum}" if maximum_is else f"{maximum}"
        raise ValueError(f"{fn}: {arg} must be <= {bound}, got {out[-1]}.")
    return out


def shape(fn: str, arg: str, value: Any) -> tuple[int, ...]:
    """A tuple of non-negative Python ints (static under ``jit``)."""
    if not isinstance(value, tuple):
        raise TypeError(
            f"{fn}: {arg} must be a tuple of non-negative ints, got "
            f"{_describe(value)}. Write ({value!r},) for one dimension."
            if isinstance(value, int)
            else f"{fn}: {arg} must be a tuple of non-negative ints, got "
            f"{_describe(value)}."
        )
    for d in value:
        if isinstance(d, bool | np.bool_):
            raise TypeError(
                f"{fn}: {arg} must be a tuple of non-negative ints, got {value!r}."
            )
        try:
            operator.index(d)
        except TypeError:
            raise TypeError(
                f"{fn}: {arg} must be a tuple of non-negative ints (static under "
                f"jit), got {value!r}."
            ) from None
    out = tuple(operator.index(d) for d in value)
    if any(d < 0 for d in out):
        raise ValueError(
            f"{fn}: {arg} must be a tuple of non-negative ints, got {value!r}."
        )
    return out


def flag(fn: str, arg: str, value: Any) -> bool:
    """A Python bool (not a truthy number or array)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{fn}: {arg} must be a bool, got {_describe(value)}.")
    return bool(value)


def choice(fn: str, arg: str, value: Any, allowed: Sequence[str]) -> str:
    """One of a fixed set of mode strings."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{fn}: {arg} must be one of {tuple(allowed)}, got {value!r}.")
    return value


def instance(fn: str, arg: str, value: Any, cls: type, expected: str) -> Any:
    """An instance of ``cls``; ``expected`` says what to pass ("a Sampler ...")."""
    if not isinstance(value, cls):
        raise TypeError(f"{fn}: {arg} must be {expected}, got {_describe(value)}.")
    return value


def is_static_number(value: Any) -> bool:
    """True for a Python or NumPy real number (not a bool, not an array)."""
    return isinstance(value, _NUMBER) and not isinstance(value, bool | np.bool_)


def number(
    fn: str,
    arg: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    maximum: float | None = None,
    below: float | None = None,
    allow_array: bool = False,
) -> Any:
    """A finite real hyperparameter, checked when it is a static number.

    With ``allow_array=True`` a scalar float array (a learned temperature, a
    traced value) is accepted unchecked, since its value cannot be read under
    ``jit``; its shape and dtype are still checked.
    """
    if is_static_number(value):
        v = float(value)
        if positive:
            ok, expected = v > 0, "finite and > 0"
        elif nonnegative:
            ok, expected = v >= 0, "finite and >= 0"
        else:
            ok, expected = True, "finite"
        if maximum is not None:
            ok, expected = ok and v <= maximum, f"{expected} and <= {maximum}"
        if below is not None:
            ok, expected = ok and v < below, f"{expected} and < {below}"
        if not (ok and math.isfinite(v)):
            raise ValueError(f"{fn}: {arg} must be {expected}, got {value}.")
        return value
    if allow_array and isinstance(value, jax.Array | np.ndarray):
        x = jnp.asarray(value)
        if x.shape != ():
            raise ValueError(f"{fn}: {arg} must be a scalar, got shape {x.shape}.")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(
                f"{fn}: {arg} must be a float scalar, got dtype {x.dtype}. "
                f"Cast it with {arg}.astype(jnp.float32)."
            )
        return value
    kind = "a real number or a float scalar array" if allow_array else "a real number"
    hint = ""
    if isinstance(value, jax.core.Tracer):
        # A traced argument of the caller's jit: say why it cannot be one.
        hint = (
            f" {arg} is static under jit (it is read in Python): pass a Python "
            "number, closed over or marked with jax.jit(..., static_argnames=...)."
        )
    raise TypeError(f"{fn}: {arg} must be {kind}, got {_describe(value)}.{hint}")


def dtype(fn: str, arg: str, value: Any, *, allow_none: bool = False) -> Any:
    """A floating dtype (or ``None`` where ``allow_none``)."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{fn}: {arg} must be a floating dtype, got None.")
    try:
        d = jnp.dtype(value)
    except TypeError:
        raise TypeError(
            f"{fn}: {arg} must be a floating dtype, got {value!r}."
        ) from None
    if not jnp.issubdtype(d, jnp.floating):
        raise TypeError(f"{fn}: {arg} must be a floating dtype, got {d}.")
    return d


# ---------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------


def _as_array(fn: str, arg: str, value: Any) -> jax.Array:
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{fn}: {arg} must be an array, got {_describe(value)}."
        ) from None


def _shape_text(expected: Sequence[int | str | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in expected) + "]"


def check_shape(
    fn: str, arg: str, x: jax.Array, expected: Sequence[int | str | None]
) -> None:
    """``x.shape`` matches ``expected``; ``str`` or ``None`` entries match any size."""
    ok = x.ndim == len(expected) and all(
        want is None or isinstance(want, str) or got == want
        for got, want in zip(x.shape, expected, strict=False)
    )
    if not ok:
        raise ValueError(
            f"{fn}: {arg} must have shape {_shape_text(expected)}, got "
            f"{tuple(x.shape)}."
        )


def _fits_int32(fn: str, arg: str, value: Any) -> None:
    """Without x64, JAX turns 64-bit host integers into int32 by wrapping
    (2**32 becomes 0), so an id past the int32 range would silently read
    another row: host arrays are checked before the conversion."""
    if jax.config.jax_enable_x64 or not isinstance(value, np.ndarray | np.integer):
        return
    if value.dtype.kind not in "iu" or value.dtype.itemsize < 8 or value.size == 0:
        return
    info = np.iinfo(np.int32)
    low, high = int(np.min(value)), int(np.max(value))
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise ValueError(
            f"{fn}: {arg} must fit int32 (JAX without x64 would wrap it), got "
            f"{bad}. Enable x64 (jax.config.update('jax_enable_x64', True)) or "
            "use smaller ids."
        )


def _typed_array(fn, arg, value, shape, ndim, *, integer: bool) -> jax.Array:
    if integer:
        _fits_int32(fn, arg, value)
    x = _as_array(fn, arg, value)
    if integer and not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: {arg} must be an integer array (ids), got dtype {x.dtype}. "
            f"Cast it with {arg}.astype(jnp.int32)."
        )
    if not integer and not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: {arg} must be a floating-point array, got dtype {x.dtype}. "
            f"Cast it with {arg}.astype(jnp.float32)."
        )
    return _shaped(fn, arg, x, shape, ndim)


def int_array(
    fn: str,
    arg: str,
    value: ArrayLike,
    shape: Sequence[int | str | None] | None = None,
    *,
    ndim: int | Collection[int] | None = None,
) -> jax.Array:
    """An integer array (ids); optionally of a given shape or rank."""
    return _typed_array(fn, arg, value, shape, ndim, integer=True)


def float_array(
    fn: str,
    arg: str,
    value: ArrayLike,
    shape: Sequence[int | str | None] | None = None,
    *,
    ndim: int | Collection[int] | None = None,
) -> jax.Array:
    """A floating-point array (logits, embeddings); optionally of a given shape."""
    return _typed_array(fn, arg, value, shape, ndim, integer=False)


def _shaped(fn: str, arg: str, x: jax.Array, shape, ndim) -> jax.Array:
    """``x`` after the optional rank and shape checks every array helper makes."""
    _rank(fn, arg, x, ndim)
    if shape is not None:
        check_shape(fn, arg, x, shape)
    return x


def _rank(fn: str, arg: str, x: jax.Array, ndim: int | Collection[int] | None):
    if ndim is None:
        return
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{fn}: {arg} must be {want}, got shape {tuple(x.shape)}.")


def mask(
    fn: str,
    arg: str,
    value: ArrayLike | None,
    shape: Sequence[int],
    *,
    of: str = "the negatives",
) -> jax.Array | None:
    """``None`` or a boolean mask (True keeps) of exactly ``shape``."""
    if value is None:
        return None
    x = _as_array(fn, arg, value)
    if x.dtype != jnp.bool_:
        raise TypeError(
            f"{fn}: {arg} must be a boolean mask (True keeps an entry), got dtype "
            f"{x.dtype}. Use {arg}.astype(bool)."
        )
    if tuple(x.shape) != tuple(shape):
        raise ValueError(
            f"{fn}: {arg} shape {tuple(x.shape)} must equal the shape of {of} "
            f"{tuple(shape)}."
        )
    return x


def one_more_axis(
    fn: str,
    arg: str,
    x: jax.Array,
    base_arg: str,
    base: jax.Array,
    axis: str,
) -> None:
    """``x.shape == base.shape + (n,)``: e.g. negatives of a batch of positives."""
    if x.ndim != base.ndim + 1 or tuple(x.shape[:-1]) != tuple(base.shape):
        raise ValueError(
            f"{fn}: {arg} must have shape {base_arg}.shape + ({axis},) = "
            f"{(*base.shape, axis)}, got {base_arg} {tuple(base.shape)} and {arg} "
            f"{tuple(x.shape)}."
        )


def same_shape(fn: str, a_arg: str, a: jax.Array, b_arg: str, b: jax.Array) -> None:
    """Two arrays of equal shape (no silent broadcasting)."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{fn}: {a_arg} and {b_arg} must have the same shape, got {a_arg} "
            f"{tuple(a.shape)} and {b_arg} {tuple(b.shape)}."
        )


def result_dtype(*dtypes: Any) -> np.dtype:
    """The common float dtype without implicit promotion.

    Equal dtypes stay; mixed ones give the widest, where bfloat16 with float16
    (neither contains the other) gives float32.
    """
    ds = {jnp.dtype(d) for d in dtypes}
    if len(ds) == 1:
        (d,) = ds
        return d
    widest = max(d.itemsize for d in ds)
    return jnp.dtype(jnp.float64 if widest == 8 else jnp.float32)


def compute_dtype(dtype: Any) -> np.dtype:
    """float32 for half types, float64 stays: the precision jaxns computes in."""
    return jnp.dtype(jnp.float64 if jnp.dtype(dtype).itemsize == 8 else jnp.float32)


def floats(
    fn: str, **arrays: ArrayLike | None
) -> tuple[tuple[jax.Array | None, ...], np.dtype]:
    """Float arrays cast to one compute dtype, and the dtype to return.

    ``None`` entries pass through. The output dtype is :func:`result_dtype` of
    the inputs; compute is float32, or float64 when that is the output dtype.
    """
    checked = {
        name: None if x is None else float_array(fn, name, x)
        for name, x in arrays.items()
    }
    present = [x.dtype for x in checked.values() if x is not None]
    out_dtype = result_dtype(*present) if present else jnp.dtype(jnp.float32)
    work = compute_dtype(out_dtype)
    cast = tuple(None if x is None else x.astype(work) for x in checked.values())
    return cast, out_dtype


def same_floats(fn: str, **arrays: ArrayLike) -> tuple[jax.Array, ...]:
    """Float arrays cast to their common :func:`result_dtype` (no compute upcast).

    For functions that compute in the input's dtype (a matrix product in
    bfloat16 stays bfloat16), unlike :func:`floats`.
    """
    checked = [float_array(fn, name, x) for name, x in arrays.items()]
    common = result_dtype(*(x.dtype for x in checked))
    return tuple(x.astype(common) for x in checked)


def weights(
    fn: str, arg: str, value: ArrayLike | None, shape: Sequence[int]
) -> jax.Array | None:
    """``None`` or float per-example weights of exactly ``shape``."""
    if value is None:
        return None
    x = float_array(fn, arg, value)
    if tuple(x.shape) != tuple(shape):
        raise ValueError(
            f"{fn}: {arg} shape {tuple(x.shape)} must equal the per-example "
            f"output shape {tuple(shape)}."
        )
    return x


# ---------------------------------------------------------------------------
# Concrete host data (tables built once, outside jit)
# ---------------------------------------------------------------------------


def concrete(fn: str, arg: str, value: Any, *, why: str = "") -> np.ndarray:
    """A concrete (non-traced) array, read on the host."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{fn}: {arg} must be concrete, got a traced value"
            + (f" ({why})" if why else "")
            + ". Build it outside jit and pass the result in as an argument."
        )
    return np.asarray(value)


def nonnegative_weights(
    fn: str, arg: str, value: Any, *, max_size: int | None = None
) -> np.ndarray:
    """Concrete 1-D, finite, non-negative weights with a positive sum (float64).

    Empty weights are allowed (an empty vocabulary); callers that cannot accept
    them check the size themselves.
    """
    w = concrete(fn, arg, value, why="the table is built once on the host")
    if w.dtype == object or not (
        np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_
    ):
        raise TypeError(f"{fn}: {arg} must be numeric, got dtype {w.dtype}.")
    w = w.astype(np.float64)
    if w.ndim != 1:
        raise ValueError(f"{fn}: {arg} must be 1-D, got shape {w.shape}.")
    if max_size is not None and w.size > max_size:
        raise ValueError(f"{fn}: {arg} has {w.size} entries, at most {max_size}.")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{fn}: {arg} must be finite, got NaN or inf.")
    if np.any(w < 0):
        raise ValueError(f"{fn}: {arg} must be non-negative, got min {w.min()}.")
    if w.size and not w.max() > 0:  # not the sum: it can overflow float64
        raise ValueError(f"{fn}: {arg} must have a positive sum, got all zeros.")
    return w


def too_many(fn: str, num: int, population: int, *, what: str = "ids") -> ValueError:
    """NumPy's wording for a without-replacement draw larger than its population."""
    return ValueError(
        f"{fn}: Cannot take a larger sample than population when replace=False "
        f"(got {num} samples, population of {population} {what})."
    )


def values_in_range(
    fn: str, arg: str, value: Any, low: int, high: int, *, what: str = "values"
) -> None:
    """Concrete integers in ``[low, high)``; traced values are not inspected.

    Gathers clamp out-of-range indices under ``jit``, so a bad id would
    silently read another row: where the ids are concrete (eager calls), this
    catches it. Under ``jit`` the caller documents the clamping instead.
    """
    if isinstance(value, jax.core.Tracer):
        return
    x = np.asarray(value)
    if x.size == 0:
        return
    bad = (x < low) | (x >= high)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{fn}: {arg} must hold {what} in [{low}, {high}), got {x[index]} at "
            f"index {index if len(index) > 1 else index[0]}."
        )


def real_array(
    fn: str,
    arg: str,
    value: Any,
    shape: Sequence[int | str | None] | None = None,
    *,
    ndim: int | Collection[int] | None = None,
    host: bool = False,
) -> Any:
    """An integer or floating array (not bool, not complex); optionally shaped.

    With ``host=True`` the value is read as a NumPy array (files, tables on
    the host) instead of being moved to the device.
    """
    if host:
        try:
            x = np.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{fn}: {arg} must be an array of real numbers, got {_describe(value)}."
            ) from None
    else:
        x = _as_array(fn, arg, value)
    kind = np.dtype(x.dtype) if x.dtype != jnp.bfloat16 else None
    real = kind is None or (
        kind != np.bool_
        and (np.issubdtype(kind, np.integer) or np.issubdtype(kind, np.floating))
    )
    if not real:
        raise TypeError(
            f"{fn}: {arg} must be an array of real numbers (integer or float), got "
            f"dtype {x.dtype}."
        )
    return _shaped(fn, arg, x, shape, ndim)


def counts(fn: str, arg: str, value: Any, length: int) -> np.ndarray:
    """Host ``int64 [length]`` counts: an integer array, none negative."""
    x = real_array(fn, arg, value, (length,), host=True)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(
            f"{fn}: {arg} must be an integer array, got dtype {x.dtype}. "
            f"Cast it with {arg}.astype(np.int64)."
        )
    x = x.astype(np.int64)
    if np.any(x < 0):
        raise ValueError(
            f"{fn}: {arg} must be non-negative, got {x.min()} at index "
            f"{int(np.argmin(x))}."
        )
    return x


def strings(
    fn: str,
    arg: str,
    value: Any,
    *,
    length: int | None = None,
    length_of: str = "",
    token: bool = False,
    unique: bool = False,
) -> list[str]:
    """A sequence of str (not one str), as a list.

    ``length`` (described by ``length_of``) fixes the number of entries;
    ``token`` requires non-empty strings without whitespace (fields of a
    space-separated file); ``unique`` refuses repeated entries.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        hint = f" Use [{value!r}] for one." if isinstance(value, str) else ""
        raise TypeError(
            f"{fn}: {arg} must be a sequence of str, got {_describe(value)}.{hint}"
        )
    out = list(value)
    seen: set[str] = set()
    for i, item in enumerate(out):
        if not isinstance(item, str):
            raise TypeError(f"{fn}: {arg}[{i}] must be a str, got {_describe(item)}.")
        if token and (not item or any(c.isspace() for c in item)):
            raise ValueError(
                f"{fn}: {arg}[{i}] must be a non-empty str without whitespace, "
                f"got {item!r}."
            )
        if unique:
            if item in seen:
                raise ValueError(
                    f"{fn}: {arg} must not repeat an entry, got {item!r} again at "
                    f"index {i}."
                )
            seen.add(item)
    if length is not None and len(out) != length:
        raise ValueError(
            f"{fn}: len({arg}) must equal {length_of or 'the expected length'} "
            f"{length}, got {len(out)}."
        )
    return out


def path(fn: str, arg: str, value: Any) -> Any:
    """A ``str`` or ``os.PathLike`` file name (not yet checked to exist)."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{fn}: {arg} must be a str or os.PathLike path, got {_describe(value)}."
        )
    return value


def labelled_rows(
    fn: str, arg: str, value: Any, labels_arg: str, labels: Any
) -> tuple[jax.Array, list[str]]:
    """A float matrix ``[rows, dim]`` with one str label per row (word vectors)."""
    matrix = float_array(fn, arg, value, ndim=2)
    names = strings(
        fn, labels_arg, labels, length=matrix.shape[0], length_of=f"{arg}.shape[0]"
    )
    return matrix, names


def transformation(fn: str, arg: str, value: Any) -> Any:
    """An Optax-style gradient transformation: callable ``init`` and ``update``."""
    if not (
        callable(getattr(value, "init", None))
        and callable(getattr(value, "update", None))
    ):
        raise TypeError(
            f"{fn}: {arg} must be an Optax gradient transformation (with init "
            f"and update, e.g. optax.adam(1e-3)), got {_describe(value)}."
        )
    return value
