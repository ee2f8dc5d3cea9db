# SPDX-License-Identifier: Apache-2.0
r"""Per-example negative-sampling objectives on logits.

Conventions shared by every loss in this module:

* Inputs are **logits**: higher means more likely to be the positive. Distances
  enter negated (see :mod:`jaxns.scoring`).
* Losses return **one value per example** and never reduce over the batch; the
  caller writes ``loss.mean()``.
* ``where=`` is a boolean mask with the shape of the negatives (True keeps a
  negative). It is how accidental hits and known positives are removed: masked
  logits never reach a ``max`` or ``exp`` (they are replaced with ``jnp.where``
  first), so their gradient is exactly 0 even when the masked value is ``1e4``,
  ``inf`` or NaN. A row whose negatives are all masked contributes nothing from
  its negatives (softmax-type losses with one positive give exactly 0, with
  zero gradient; see :func:`sampled_softmax` for several true classes).
* ``weights=`` multiplies the per-example result (shape of the output).
* Hyperparameters are keyword-only. Python hyperparameters are validated at
  trace time; array hyperparameters (learned temperatures) are not.
* Computation runs in float32 or wider (bfloat16/float16 inputs are upcast) and
  the result has the input's float dtype. Unmasked NaN inputs give NaN.
* Multi-negative reductions: :func:`sgns` and :func:`nce` **sum** over negatives
  (word2vec, TensorFlow); :func:`bpr` and :func:`margin_ranking` **average** over
  live negatives; :func:`self_adversarial` takes a softmax-weighted average;
  the softmax losses normalise over all candidates.
* ``block_size=`` (the in-batch and contrastive losses): the loss and its
  gradient are computed over blocks of candidate columns with an online
  logsumexp (a plain sum for SigLIP) and a custom VJP that recomputes each block
  in the backward pass, as Flash attention does, so a batch of ``B`` rows never
  holds the ``B x B`` logits: memory ``O(B * block_size + B * dim)``. Values and
  gradients equal the dense computation up to float rounding. Use it when the
  dense matrix (``4 B^2`` bytes, the same again for its gradient) does not fit.
  The dense path (``block_size=None``) differentiates through custom JVPs (the
  softmax or sigmoid of the logits against the tangent). The in-batch,
  InfoNCE, CLIP and NT-Xent losses (masked or not) put the positive's logit
  in the diagonal's place inside that rule (the gradient keeps one ``B x B``
  block, three for NT-Xent's three distinct blocks); the debiased and hard
  losses drop self and positive inside theirs, and SigLIP with ``where=``
  in its mask. Unmasked SigLIP and hard negatives (``num_hard_negatives``)
  drop the diagonal by an in-place scatter.
  Either way the gradient costs one elementwise pass over the logits and the
  matrix products; on CPU
  neither path was more than 2x slower than the other at any size measured
  (``benchmarks/RESULTS.md``).
  ``block_size`` is static under ``jit``. The blocked gradient is reverse mode
  (``jax.grad``, ``jax.vjp``, and ``jax.hessian``, which is forward mode over
  reverse); forward mode alone (``jax.jvp``, ``jax.jacfwd``) needs
  ``block_size=None``.

Shapes of negatives: per-example ``[batch, num_negatives]``. Negatives shared by
the batch (TensorFlow's ``sampled_softmax_loss``, PyTorch-BigGraph) are scored
to ``[batch, num_negatives]`` with one matrix product by :func:`jaxns.scoring.dot`
first; their ``log_q`` may stay shared (``[num_negatives]``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _blockwise, _checks, scoring

__all__ = [
    "bpr",
    "clip",
    "debiased_contrastive",
    "full_softmax",
    "hard_contrastive",
    "in_batch_softmax",
    "in_batch_softmax_from_logits",
    "infonce",
    "margin_ranking",
    "nce",
    "ntxent",
    "sampled_softmax",
    "self_adversarial",
    "sgns",
    "siglip",
]

# ---------------------------------------------------------------------------
# Validation and dtype helpers (static: they run at trace time).
# ---------------------------------------------------------------------------


def _and(a: jax.Array | None, b: jax.Array | None) -> jax.Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _finish(fn: str, loss: jax.Array, weights: ArrayLike | None, out_dtype):
    weights = _checks.weights(fn, "weights", weights, loss.shape)
    if weights is not None:
        loss = loss * weights.astype(loss.dtype)
    return loss.astype(out_dtype)


def _scalar(fn: str, name: str, value, dtype) -> jax.Array:
    """A checked scalar hyperparameter (Python number or array) as ``dtype``."""
    _checks.number(fn, name, value, allow_array=True)
    return jnp.asarray(value).astype(dtype)


def _log_q(fn: str, name: str, log_q, logits: jax.Array, dtype, *, shared: bool):
    """Returns log_q broadcast to logits' shape (shared [k] allowed for negs)."""
    if log_q is None:
        return None
    log_q = _checks.float_array(fn, name, log_q)
    if log_q.shape == logits.shape:
        return log_q.astype(dtype)
    if shared and log_q.shape == logits.shape[-1:]:
        return jnp.broadcast_to(log_q.astype(dtype), logits.shape)
    expected = f"{logits.shape}" + (f" or shared {logits.shape[-1:]}" if shared else "")
    raise ValueError(f"{fn}: {name} shape {log_q.shape} must be {expected}.")


def _embeddings(fn: str, a_name: str, a, b_name: str, b):
    (a, b), out_dtype = _checks.floats(fn, **{a_name: a, b_name: b})
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"{fn}: {a_name} and {b_name} must both be [batch, dim] with equal "
            f"shapes, got {a_name} {a.shape} and {b_name} {b.shape}."
        )
    return a, b, out_dtype


def _optional_ids(fn: str, name: str, ids, shape: tuple) -> jax.Array | None:
    return None if ids is None else _checks.int_array(fn, name, ids, shape)


def _common_ids(
    fn: str, a_name: str, a: jax.Array, b_name: str, b: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Two id arrays in one dtype that holds every value of both, so neither is
    cut down to the other's (int32 300 cast to int8 would equal the id 44).

    NumPy's promotion lattice is used (JAX's refuses mixed widths under strict
    promotion); a pair that needs 64 bits without ``jax_enable_x64`` (int32
    with uint32) is refused rather than wrapped, and so is int64 with uint64,
    which NumPy promotes to float64 (ids above 2**53 would compare equal).
    """
    wide = np.promote_types(a.dtype, b.dtype)
    if not np.issubdtype(wide, np.integer):
        raise TypeError(
            f"{fn}: {a_name} ({a.dtype}) and {b_name} ({b.dtype}) have no common "
            f"integer dtype (NumPy would compare them as {wide}, which merges "
            f"large ids); cast both to one dtype, e.g. "
            f"{b_name}.astype({a_name}.dtype)."
        )
    if jax.dtypes.canonicalize_dtype(wide) != wide:
        raise TypeError(
            f"{fn}: {a_name} ({a.dtype}) and {b_name} ({b.dtype}) have no common "
            f"integer dtype without jax_enable_x64 (it would be {wide}); cast "
            f"both to one dtype, e.g. {b_name}.astype({a_name}.dtype)."
        )
    return a.astype(wide), b.astype(wide)


# ---------------------------------------------------------------------------
# Numerical cores. Masked entries are replaced before any max/exp.
# ---------------------------------------------------------------------------


def _live(x: jax.Array, keep: jax.Array | None) -> jax.Array:
    return x if keep is None else jnp.where(keep, x, -jnp.inf)


def _softplus(x: jax.Array) -> jax.Array:
    # softplus without logaddexp's infinity branches: 0 at -inf, inf at inf.
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@jax.custom_jvp
def _softplus_sum(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Sum of ``softplus`` over the live entries of the last axis.

    The JVP is ``sum(sigmoid(x) * dx)`` over live entries: the backward pass is
    one elementwise pass over ``x`` (autodiff of ``softplus`` would keep its
    output as well).
    """
    if mask is None:
        return jnp.sum(_softplus(x), axis=-1)
    return jnp.sum(jnp.where(mask, _softplus(jnp.where(mask, x, 0)), 0), -1)


@_softplus_sum.defjvp
def _softplus_sum_jvp(primals, tangents):
    x, mask = primals
    dx = tangents[0]
    if mask is None:
        dot = jnp.sum(jax.nn.sigmoid(x) * dx, axis=-1)
    else:
        live = jax.nn.sigmoid(jnp.where(mask, x, 0)) * dx
        dot = jnp.sum(jnp.where(mask, live, 0), axis=-1)
    return _softplus_sum(x, mask), dot


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _lse(x: jax.Array, keep: jax.Array | None, axis: int) -> jax.Array:
    """logsumexp over ``axis`` of the live entries (``-inf`` if none).

    Entries that are masked (``keep`` False) or ``-inf`` never reach the result
    and get a zero tangent. The JVP is the softmax of the live entries against
    the tangent, so a reverse pass costs one elementwise pass over ``x`` (no
    saved ``exp``, no ``where`` transposes), which is what makes the dense
    contrastive losses cheap.
    """
    x = _live(x, keep)
    m = jnp.max(x, axis=axis, keepdims=True)
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
    s = jnp.sum(jnp.exp(x - m), axis=axis)
    empty = s == 0
    return jnp.where(empty, -jnp.inf, jnp.log(jnp.where(empty, 1, s)) + m.squeeze(axis))


@_lse.defjvp
def _lse_jvp(axis, primals, tangents):
    x, keep = primals
    dx = tangents[0]
    out = _lse(x, keep, axis)
    safe = jnp.expand_dims(jnp.where(jnp.isfinite(out), out, 0), axis)
    weighted = jnp.exp(_live(x, keep) - safe) * dx
    if keep is not None:
        weighted = jnp.where(keep, weighted, 0)
    return out, jnp.sum(weighted, axis=axis)


def _own(rows: int, cols: int) -> jax.Array:
    """``[rows, cols]`` mask of the diagonal ``(i, i)``."""
    return (
        jnp.arange(cols, dtype=jnp.int32)[None, :]
        == jnp.arange(rows, dtype=jnp.int32)[:, None]
    )


def _scaled(x: jax.Array, temperature: jax.Array, shift: jax.Array | None):
    z = x / temperature
    return z if shift is None else z - shift[None, :]


@jax.custom_jvp
def _lse_minus_own(
    x: jax.Array, temperature: jax.Array, shift: jax.Array | None
) -> jax.Array:
    """``logsumexp(z[i]) - z[i, i]`` per row of ``z = x / temperature - shift``.

    The in-batch softmax loss of ``x`` ``[rows, cols >= rows]`` when every
    column is live (``shift`` ``[cols]`` is the logQ correction, or None). The
    JVP is ``sum((softmax(z[i]) - onehot(i)) * dz[i])`` as one elementwise
    product over the caller's ``x``: a reverse pass builds one ``[rows,
    cols]`` buffer (the gradient itself) and keeps no scaled copy of ``x``;
    autodiff of the diagonal would scatter its cotangent into a second one.
    """
    z = _scaled(x, temperature, shift)
    return _lse(z, None, 1) - jnp.diagonal(z[:, : x.shape[0]])


def _nonzero(tangent) -> bool:
    return not isinstance(tangent, jax.custom_derivatives.SymbolicZero)


def _lse_minus_own_jvp(primals, tangents):
    (x, t, shift), (dx, dt, dshift) = primals, tangents
    rows, cols = x.shape
    z = _scaled(x, t, shift)
    lse = _lse(z, None, 1)
    out = lse - jnp.diagonal(z[:, :rows])
    safe = jnp.where(jnp.isfinite(lse), lse, 0)[:, None]
    w = jnp.exp(z - safe)
    w = jnp.where(_own(rows, cols), w - 1, w)
    # dz = dx / t - x * dt / t**2 - dshift, the softmax block applied to it in
    # the reverse pass only. Zero tangents (a fixed temperature, logQ or
    # logits) stay out of it: a zero dt times x is a [rows, cols] residual.
    # Written as (dx - x * dt / t) / t, XLA:CPU fuses the learned-temperature
    # gradient into one pass; as a sum of two scaled terms it kept a block
    # (tests/test_losses.py checks the temporaries).
    dz = None
    if _nonzero(dx):
        dz = dx
    if _nonzero(dt):
        term = -x * (dt / t)
        dz = term if dz is None else dz + term
    if dz is not None:
        dz = dz / t
    if shift is not None and _nonzero(dshift):
        term = -jnp.broadcast_to(dshift[None, :], x.shape)
        dz = term if dz is None else dz + term
    if dz is None:
        return out, jnp.zeros_like(out)
    return out, jnp.sum(w * dz, axis=1)


_lse_minus_own.defjvp(_lse_minus_own_jvp, symbolic_zeros=True)


def _with_own(x: jax.Array, pos: jax.Array, keep: jax.Array | None):
    """``x`` with ``pos[i]`` at ``(i, i)`` and ``-inf`` where ``keep`` drops."""
    own = _own(*x.shape)
    if keep is not None:
        x = jnp.where(keep, x, -jnp.inf)
    return own, jnp.where(own, pos[:, None], x)


@jax.custom_jvp
def _lse_with_own(
    x: jax.Array, pos: jax.Array, keep: jax.Array | None = None
) -> jax.Array:
    """``logsumexp(x[i] with x[i, i] := pos[i]) - pos[i]`` per row.

    The in-batch softmax loss when the positive's logit comes from its own
    computation; ``keep`` (bool, like ``x``) drops the columns it is False
    for, the diagonal excepted. The JVP is one elementwise pass (the softmax
    of the live entries off the diagonal against ``dx``, ``p_ii - 1``
    against ``dpos``), so a reverse pass builds one ``[rows, cols]`` buffer,
    where dropping the diagonal by a scatter copied the logits.
    """
    return _lse(_with_own(x, pos, keep)[1], None, 1) - pos


@_lse_with_own.defjvp
def _lse_with_own_jvp(primals, tangents):
    (x, pos, keep), (dx, dpos, _) = primals, tangents
    own, z = _with_own(x, pos, keep)
    lse = _lse(z, None, 1)
    safe = jnp.where(jnp.isfinite(lse), lse, 0)[:, None]
    p = jnp.exp(z - safe)  # 0 where keep drops (z = -inf)
    off = jnp.sum(jnp.where(_dropped(own, keep), 0, p * dx), axis=1)
    p_own = jnp.exp(pos - safe[:, 0])
    return lse - pos, off + (p_own - 1) * dpos


def _dropped(own: jax.Array, keep: jax.Array | None) -> jax.Array:
    """The entries whose tangent must not reach the loss (NaN-safe)."""
    return own if keep is None else own | ~keep


@jax.custom_jvp
def _lse_both_with_own(
    x: jax.Array, pos: jax.Array, keep: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """:func:`_lse_with_own` of the rows and of the columns of square ``x``.

    CLIP's two directions: with ``z = x``, ``z[i, i] := pos[i]`` and ``-inf``
    where ``keep`` (optional, off the diagonal) drops a pair,
    ``(logsumexp(z[i, :]) - pos[i], logsumexp(z[:, i]) - pos[i])``. The JVP
    is one elementwise expression over ``x`` (row and column softmax against
    ``dx``), so a reverse pass builds one ``[n, n]`` buffer, where two
    :func:`_lse` calls build one each and add them.
    """
    z = _with_own(x, pos, keep)[1]
    return _lse(z, None, 1) - pos, _lse(z, None, 0) - pos


@_lse_both_with_own.defjvp
def _lse_both_with_own_jvp(primals, tangents):
    (x, pos, keep), (dx, dpos, _) = primals, tangents
    own, z = _with_own(x, pos, keep)
    row, col = _lse(z, None, 1), _lse(z, None, 0)
    safe_row = jnp.where(jnp.isfinite(row), row, 0)
    safe_col = jnp.where(jnp.isfinite(col), col, 0)
    off = jnp.where(_dropped(own, keep), 0, dx)
    d_row = jnp.sum(jnp.exp(z - safe_row[:, None]) * off, axis=1)
    d_col = jnp.sum(jnp.exp(z - safe_col[None, :]) * off, axis=0)
    p_row, p_col = jnp.exp(pos - safe_row), jnp.exp(pos - safe_col)
    return (row - pos, col - pos), (
        d_row + (p_row - 1) * dpos,
        d_col + (p_col - 1) * dpos,
    )


def _offset_own(x: jax.Array, offset: jax.Array) -> jax.Array:
    """``[rows, cols]`` mask of ``(i, i + offset)``."""
    rows, cols = x.shape
    return (
        jnp.arange(cols, dtype=jnp.int32)[None, :]
        == jnp.arange(rows, dtype=jnp.int32)[:, None] + offset
    )


@jax.custom_jvp
def _lse_rows_col_sums(
    x: jax.Array, pos: jax.Array, offset: jax.Array, col_max: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """CLIP's statistics of one device's rows of the global logit matrix.

    ``x`` ``[b, B]`` holds this device's ``b`` rows; row ``i``'s positive is
    column ``i + offset``, and its logit is ``pos[i]``. With ``z = x`` and
    ``z[i, i + offset] := pos[i]``, returns ``logsumexp(z[i, :]) - pos[i]``
    (the row losses, complete) and ``sum_i exp(z[i, j] - col_max[j])`` (this
    device's part of each column's sum, which a ``psum`` completes).
    ``col_max`` (no gradient) must bound every column's entries. The JVP is
    one elementwise pass (row and column softmax against the tangent), so a
    reverse pass builds one ``[b, B]`` buffer.
    """
    own = _offset_own(x, offset)
    z = jnp.where(own, pos[:, None], x)
    return _lse(z, None, 1) - pos, jnp.sum(jnp.exp(z - col_max[None, :]), axis=0)


@_lse_rows_col_sums.defjvp
def _lse_rows_col_sums_jvp(primals, tangents):
    (x, pos, offset, col_max), (dx, dpos, _, _) = primals, tangents
    own = _offset_own(x, offset)
    out = _lse_rows_col_sums(x, pos, offset, col_max)
    z = jnp.where(own, pos[:, None], x)
    row = out[0] + pos
    safe = jnp.where(jnp.isfinite(row), row, 0)
    dz = jnp.where(own, 0, dx)  # the positives' tangents enter as [b] vectors
    p_own = jnp.exp(pos - safe)
    q_own = jnp.exp(pos - jax.lax.dynamic_slice(col_max, (offset,), pos.shape))
    d_row = jnp.sum(jnp.exp(z - safe[:, None]) * dz, axis=1) + (p_own - 1) * dpos
    d_cols = jnp.sum(jnp.exp(z - col_max[None, :]) * dz, axis=0)
    d_cols = jax.lax.dynamic_update_slice(
        d_cols,
        jax.lax.dynamic_slice(d_cols, (offset,), pos.shape) + q_own * dpos,
        (offset,),
    )
    return out, (d_row, d_cols)


def _two_view_parts(aa, ab, bb, pos, keeps):
    """NT-Xent's three blocks, self dropped and the positive on ab's diagonal.

    ``ab`` serves both views: its rows (view a against view b) and its
    columns (view b against view a) are masked separately when ``keeps`` is
    ``(keep_aa, keep_ab_rows, keep_ab_cols, keep_bb)``, so it comes back
    twice; without a mask both are the same array."""
    own = _own(*aa.shape)
    ka, kr, kc, kb = (None,) * 4 if keeps is None else keeps
    zr = jnp.where(own, pos[:, None], _live(ab, kr))
    zc = zr if keeps is None else jnp.where(own, pos[:, None], _live(ab, kc))
    return (
        jnp.where(own, -jnp.inf, _live(aa, ka)),
        zr,
        zc,
        jnp.where(own, -jnp.inf, _live(bb, kb)),
    )


def _two_view_lse(za, zr, zc, zb):
    return (
        jnp.logaddexp(_lse(za, None, 1), _lse(zr, None, 1)),
        jnp.logaddexp(_lse(zc, None, 0), _lse(zb, None, 1)),
    )


@jax.custom_jvp
def _two_view_xent(
    aa: jax.Array,
    ab: jax.Array,
    bb: jax.Array,
    pos: jax.Array,
    keeps: tuple[jax.Array, ...] | None = None,
) -> jax.Array:
    """NT-Xent's ``[2B]`` losses from its three distinct ``[B, B]`` blocks.

    Row ``i`` of view a normalises over ``aa[i, j != i]``, ``ab[i, j != i]``
    and the positive ``pos[i]`` (``a_i . b_i``); row ``i`` of view b over
    ``bb[i, j != i]``, ``ab[j != i, i]`` and the same positive. ``keeps``
    (optional, bool ``[B, B]`` each: ``aa``'s, ``ab``'s for view a's rows,
    ``ab``'s for view b's rows read by columns, ``bb``'s) drops the pairs it
    is False for; self and the positive ignore it. The JVP is one
    elementwise pass per block (the softmax of the live entries against the
    block's tangent), so a reverse pass keeps one buffer per block, where
    the logsumexps of a copy of each block with ``-inf`` scattered in built
    one each and added them.
    """
    lse_a, lse_b = _two_view_lse(*_two_view_parts(aa, ab, bb, pos, keeps))
    return jnp.concatenate([lse_a - pos, lse_b - pos])


@_two_view_xent.defjvp
def _two_view_xent_jvp(primals, tangents):
    (aa, ab, bb, pos, keeps), (daa, dab, dbb, dpos, _) = primals, tangents
    own = _own(*aa.shape)
    za, zr, zc, zb = _two_view_parts(aa, ab, bb, pos, keeps)
    lse_a, lse_b = _two_view_lse(za, zr, zc, zb)
    ra = jnp.where(jnp.isfinite(lse_a), lse_a, 0)
    rb = jnp.where(jnp.isfinite(lse_b), lse_b, 0)
    if keeps is None:
        # Self's entries are -inf in za and zb: their weight is 0 already.
        off_r = off_c = jnp.where(own, 0, dab)
    else:
        # Masked tangents stay out (inf or NaN there must not reach the loss).
        ka, kr, kc, kb = keeps
        daa, dbb = (
            jnp.where(_dropped(own, k), 0, d) for k, d in ((ka, daa), (kb, dbb))
        )
        off_r = jnp.where(_dropped(own, kr), 0, dab)
        off_c = jnp.where(_dropped(own, kc), 0, dab)
    d_a = jnp.sum(jnp.exp(za - ra[:, None]) * daa, axis=1) + jnp.sum(
        jnp.exp(zr - ra[:, None]) * off_r, axis=1
    )
    d_b = jnp.sum(jnp.exp(zb - rb[:, None]) * dbb, axis=1) + jnp.sum(
        jnp.exp(zc - rb[None, :]) * off_c, axis=0
    )
    d_a = d_a + (jnp.exp(pos - ra) - 1) * dpos
    d_b = d_b + (jnp.exp(pos - rb) - 1) * dpos
    out = jnp.concatenate([lse_a - pos, lse_b - pos])
    return out, jnp.concatenate([d_a, d_b])


def _two_view_negatives(aa, ab, bb, keeps, alpha):
    """NT-Xent's three blocks times ``alpha``, with self, the positive and the
    pairs ``keeps`` drops set to ``-inf`` (``ab`` twice: for view a's rows
    and for view b's columns; once without a mask)."""
    own = _own(*aa.shape)
    ka, kr, kc, kb = (None,) * 4 if keeps is None else keeps

    def live(x, keep):
        x = x if alpha == 1.0 else alpha * x
        return jnp.where(_dropped(own, keep), -jnp.inf, x)

    zr = live(ab, kr)
    return live(aa, ka), zr, zr if keeps is None else live(ab, kc), live(bb, kb)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _two_view_negative_lses(
    aa: jax.Array,
    ab: jax.Array,
    bb: jax.Array,
    keeps: tuple[jax.Array, ...] | None,
    alphas: tuple[float, ...],
) -> tuple[jax.Array, ...]:
    """``logsumexp_j(alpha * z_ij)`` over each of NT-Xent's ``2B`` rows' live
    negatives (self, the positive and what ``keeps`` drops excluded), one
    ``[2B]`` vector per ``alpha``, from the three distinct ``[B, B]`` blocks
    (``keeps`` as in :func:`_two_view_xent`). The JVP is one elementwise pass
    per block and ``alpha`` (the softmax of the live entries against the
    tangent), where autodiff of ``-inf`` scattered into a scaled copy of each
    block kept a further buffer per block and ``alpha``."""
    out = []
    for alpha in alphas:
        lse_a, lse_b = _two_view_lse(*_two_view_negatives(aa, ab, bb, keeps, alpha))
        out.append(jnp.concatenate([lse_a, lse_b]))
    return tuple(out)


@_two_view_negative_lses.defjvp
def _two_view_negative_lses_jvp(alphas, primals, tangents):
    (aa, ab, bb, keeps), (daa, dab, dbb, _) = primals, tangents
    own = _own(*aa.shape)
    ka, kr, kc, kb = (None,) * 4 if keeps is None else keeps
    # Dropped tangents stay out (inf or NaN there must not reach the loss).
    daa, dbb = (jnp.where(_dropped(own, k), 0, d) for k, d in ((ka, daa), (kb, dbb)))
    d_r = jnp.where(_dropped(own, kr), 0, dab)
    d_c = d_r if keeps is None else jnp.where(_dropped(own, kc), 0, dab)
    outs, dots = [], []
    for alpha in alphas:
        za, zr, zc, zb = _two_view_negatives(aa, ab, bb, keeps, alpha)
        lse_a, lse_b = _two_view_lse(za, zr, zc, zb)
        ra = jnp.where(jnp.isfinite(lse_a), lse_a, 0)[:, None]
        rb = jnp.where(jnp.isfinite(lse_b), lse_b, 0)
        d_a = jnp.sum(jnp.exp(za - ra) * daa, 1) + jnp.sum(jnp.exp(zr - ra) * d_r, 1)
        d_b = jnp.sum(jnp.exp(zb - rb[:, None]) * dbb, 1) + jnp.sum(
            jnp.exp(zc - rb[None, :]) * d_c, 0
        )
        outs.append(jnp.concatenate([lse_a, lse_b]))
        dots.append(alpha * jnp.concatenate([d_a, d_b]))
    return tuple(outs), tuple(dots)


def _drop(logits: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """Sets the distinct entries ``logits[rows, cols]`` to ``-inf``.

    A scatter of ``len(rows)`` values (in place under ``jit``) instead of a
    ``[rows, cols]`` mask: the dropped entries never reach a max or ``exp`` and
    their gradient is exactly 0.
    """
    return logits.at[rows, cols].set(-jnp.inf, unique_indices=True)


def _masked_mean(values: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Mean over live entries of the last axis; 0 when none is live."""
    if mask is None:
        return jnp.mean(values, axis=-1)
    total = jnp.sum(jnp.where(mask, values, 0), axis=-1)
    count = jnp.sum(mask, axis=-1).astype(values.dtype)
    return total / jnp.maximum(count, 1)


def _softmax_xent(pos: jax.Array, neg: jax.Array, mask: jax.Array | None):
    """Cross-entropy of a softmax over ``[pos..., live neg...]``.

    ``pos`` is ``[..., num_true]`` (always live, label ``1/num_true`` each),
    ``neg`` is ``[..., k]``. Returns ``logsumexp(all) - mean(pos)``.
    """
    if mask is not None:
        neg = jnp.where(mask, neg, -jnp.inf)
    m = jnp.maximum(jnp.max(pos, axis=-1), jnp.max(neg, axis=-1, initial=-jnp.inf))
    # NaN/inf maxima fall back to 0 so that NaN propagates instead of being hidden.
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
    s = jnp.sum(jnp.exp(pos - m[..., None]), axis=-1)
    s = s + jnp.sum(jnp.exp(neg - m[..., None]), axis=-1)
    return jnp.log(s) + m - jnp.mean(pos, axis=-1)


# ---------------------------------------------------------------------------
# Sampled losses on explicit negatives.
# ---------------------------------------------------------------------------


@jax.named_scope("jaxns.losses.sgns")
def sgns(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Skip-gram negative-sampling loss (word2vec), summed over negatives.

    .. math:: \ell = -\log\sigma(s^+) - \sum_{j=1}^{k} \log\sigma(-s^-_j)
       = \operatorname{softplus}(-s^+) + \sum_j \operatorname{softplus}(s^-_j)

    The gradients are ``d/ds+ = -sigmoid(-s+)`` and ``d/ds-_j = sigmoid(s-_j)``,
    the updates of word2vec.c. Masked negatives (``where=False``, e.g. a
    negative equal to the positive, which word2vec.c and gensim skip) add
    nothing; with all negatives masked the loss is ``softplus(-s+)``.

    Args:
      pos_logits: ``[batch]`` logits of the positive pairs.
      neg_logits: ``[batch, num_negatives]`` logits of the negatives
        (per-example; score shared negatives with :func:`jaxns.scoring.dot`).
      where: optional bool ``[batch, num_negatives]``, True keeps a negative.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits or a non-bool ``where``.
      ValueError: if ``neg_logits.shape != pos_logits.shape + (k,)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> loss = jaxns.losses.sgns(jnp.zeros(3), jnp.zeros((3, 5)))
      >>> loss.shape, round(float(loss[0]), 4)  # 6 * log(2)
      ((3,), 4.1589)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "losses.sgns"
    (pos, neg), out_dtype = _checks.floats(
        fn, pos_logits=pos_logits, neg_logits=neg_logits
    )
    _checks.one_more_axis(fn, "neg_logits", neg, "pos_logits", pos, "num_negatives")
    mask = _checks.mask(fn, "where", where, neg.shape)
    loss = jax.nn.softplus(-pos) + _softplus_sum(neg, mask)
    return _finish(fn, loss, weights, out_dtype)


def _true_negs(fn: str, pos: jax.Array, neg: jax.Array) -> bool:
    """Checks shapes for losses that accept [B] or [B, num_true] positives.

    Returns True for ``[B, num_true]`` positives. Only positives with two or
    more axes can carry a ``num_true`` axis: ``pos [B]`` with ``neg [B]`` is a
    batch missing its negatives axis, not one example with ``B`` true classes.
    """
    if pos.ndim >= 2 and pos.ndim == neg.ndim and pos.shape[:-1] == neg.shape[:-1]:
        if pos.shape[-1] < 1:
            raise ValueError(
                f"{fn}: num_true must be >= 1, got pos_logits {pos.shape}."
            )
        return True
    if neg.ndim == pos.ndim + 1 and neg.shape[:-1] == pos.shape:
        return False
    hint = ""
    if pos.ndim == neg.ndim == 1:
        hint = " For one negative per example pass neg_logits[:, None]."
    raise ValueError(
        f"{fn}: pos_logits must be [batch] or [batch, num_true] and neg_logits "
        f"[batch, num_negatives] with the same batch shape (neg_logits one axis "
        f"more than [batch] pos_logits), got pos_logits {pos.shape} and "
        f"neg_logits {neg.shape}.{hint}"
    )


@jax.named_scope("jaxns.losses.nce")
def nce(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    pos_log_q: ArrayLike,
    neg_log_q: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Noise-contrastive estimation loss with TensorFlow's ``nce_loss`` semantics.

    Logits are shifted by the log expected counts, ``x = s - log E`` with
    ``E = k q`` when ``k`` candidates are drawn with replacement from ``q``, then
    a sigmoid cross-entropy is summed over the true and sampled candidates:

    .. math:: \ell = \sum_{t=1}^{T} \big[\tfrac1T \operatorname{softplus}(-x^+_t)
       + (1 - \tfrac1T) \operatorname{softplus}(x^+_t)\big]
       + \sum_{j=1}^{k} \operatorname{softplus}(x^-_j)

    With one true class (``T = 1``) this is
    ``softplus(-x+) + sum_j softplus(x-_j)``: SGNS on the corrected logits. As in
    TensorFlow, each of ``T`` true classes gets the label ``1/T``.

    Args:
      pos_logits: ``[batch]`` or ``[batch, num_true]`` logits of the true classes.
      neg_logits: ``[batch, num_negatives]`` logits of the sampled classes.
      pos_log_q: log expected counts of the true classes, shape of
        ``pos_logits``.
      neg_log_q: log expected counts of the sampled classes,
        ``[batch, num_negatives]`` or shared ``[num_negatives]``.
      where: optional bool ``[batch, num_negatives]`` (False drops a negative,
        e.g. an accidental hit; TensorFlow's ``nce_loss`` keeps hits by default).
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits or log-probabilities.
      ValueError: for mismatched shapes.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> k, q = 4, jnp.full((4,), 0.25)  # uniform over 4 classes: E = k q = 1
      >>> loss = jaxns.losses.nce(jnp.zeros(2), jnp.zeros((2, k)), jnp.zeros(2),
      ...                         jnp.log(k * q))
      >>> round(float(loss[0]), 4)  # 5 * log(2)
      3.4657

    References:
      Gutmann and Hyvärinen, `Noise-contrastive estimation: A new estimation
      principle for unnormalized statistical models
      <https://proceedings.mlr.press/v9/gutmann10a.html>`_, 2010.
      Mnih and Teh, `A fast and simple algorithm for training neural
      probabilistic language models <https://arxiv.org/abs/1206.6426>`_, 2012.
    """
    fn = "losses.nce"
    (pos, neg), out_dtype = _checks.floats(
        fn, pos_logits=pos_logits, neg_logits=neg_logits
    )
    multi = _true_negs(fn, pos, neg)
    mask = _checks.mask(fn, "where", where, neg.shape)
    pos = pos - _log_q(fn, "pos_log_q", pos_log_q, pos, pos.dtype, shared=False)
    neg = neg - _log_q(fn, "neg_log_q", neg_log_q, neg, neg.dtype, shared=True)
    if multi:
        y = 1.0 / pos.shape[-1]
        pos_term = y * jax.nn.softplus(-pos)
        if pos.shape[-1] > 1:
            pos_term = pos_term + (1.0 - y) * jax.nn.softplus(pos)
        pos_term = jnp.sum(pos_term, axis=-1)
    else:
        pos_term = jax.nn.softplus(-pos)
    loss = pos_term + _softplus_sum(neg, mask)
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.sampled_softmax")
def sampled_softmax(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    *,
    pos_log_q: ArrayLike | None = None,
    neg_log_q: ArrayLike | None = None,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Sampled softmax cross-entropy with the logQ correction.

    Softmax cross-entropy over the corrected logits
    ``z = [s+ - log E+, s- - log E-]`` (TensorFlow's ``sampled_softmax_loss``
    with ``subtract_log_q=True``):

    .. math:: \ell = \log\Big(\sum_t e^{z^+_t} + \sum_{j\ \text{live}}
       e^{z^-_j}\Big) - \frac1T \sum_{t=1}^{T} z^+_t

    With one true class the gradient is ``softmax(z) - onehot``. With all ``V``
    classes as candidates (the positive masked among them) and uniform ``q``
    this equals :func:`full_softmax`. ``log_q`` is the log expected count
    (``log(k q)`` with replacement; any constant shift cancels); give both
    ``pos_log_q`` and ``neg_log_q`` or neither, since correcting one side only
    biases the loss (as :class:`jaxns.nn.SampledSoftmaxHead`). Accidental hits
    are removed with ``where`` (TensorFlow subtracts ``FLT_MAX`` instead).
    A row with every negative masked gives exactly 0 with one true class; with
    ``T > 1`` true classes it gives the softmax over the true classes alone,
    ``logsumexp(z+) - mean(z+)``, which is at least ``log T``.

    Args:
      pos_logits: ``[batch]`` or ``[batch, num_true]`` (each true class gets
        label ``1/num_true``, as TensorFlow).
      neg_logits: ``[batch, num_negatives]`` (shared negatives: score them to
        ``[batch, num_negatives]`` with :func:`jaxns.scoring.dot`).
      pos_log_q: optional log expected counts, shape of ``pos_logits``.
      neg_log_q: optional log expected counts, ``[batch, num_negatives]`` or
        shared ``[num_negatives]``.
      where: optional bool ``[batch, num_negatives]``, True keeps a negative.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits.
      ValueError: for mismatched shapes, or only one of ``pos_log_q`` and
        ``neg_log_q``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> loss = jaxns.losses.sampled_softmax(jnp.zeros(2), jnp.zeros((2, 3)))
      >>> round(float(loss[0]), 4)  # log(4)
      1.3863

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
      Bengio and Senécal, `Adaptive Importance Sampling to Accelerate Training
      of a Neural Probabilistic Language Model
      <https://doi.org/10.1109/TNN.2007.912312>`_, 2008.
    """
    fn = "losses.sampled_softmax"
    (pos, neg), out_dtype = _checks.floats(
        fn, pos_logits=pos_logits, neg_logits=neg_logits
    )
    multi = _true_negs(fn, pos, neg)
    mask = _checks.mask(fn, "where", where, neg.shape)
    if (pos_log_q is None) != (neg_log_q is None):
        raise ValueError(
            f"{fn}: pass both pos_log_q and neg_log_q or neither (None); "
            "correcting only one side biases the loss."
        )
    if pos_log_q is not None:
        pos = pos - _log_q(fn, "pos_log_q", pos_log_q, pos, pos.dtype, shared=False)
        neg = neg - _log_q(fn, "neg_log_q", neg_log_q, neg, neg.dtype, shared=True)
    loss = _softmax_xent(pos if multi else pos[..., None], neg, mask)
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.full_softmax")
def full_softmax(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Exact softmax cross-entropy over all classes: the reference for sampling.

    .. math:: \ell = \log \sum_{v\ \text{live}} e^{s_v} - s_{y}

    ``where`` drops classes from the normaliser (e.g. other known positives in
    filtered ranking); the label's class is always kept.

    .. warning:: Labels outside ``[0, num_classes)``, negative ones included,
       give a NaN loss for their row (and a NaN gradient for that row's
       logits; other rows are unaffected); they are not checked under ``jit``.

    Args:
      logits: ``[batch, num_classes]`` (any leading axes).
      labels: integer ``[batch]``.
      where: optional bool ``[batch, num_classes]``, True keeps a class.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits or non-integer labels.
      ValueError: if ``labels.shape != logits.shape[:-1]``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> loss = jaxns.losses.full_softmax(jnp.zeros((2, 8)), jnp.array([0, 3]))
      >>> round(float(loss[1]), 4)  # log(8)
      2.0794

    References:
      Bengio et al, `A Neural Probabilistic Language Model
      <https://www.jmlr.org/papers/v3/bengio03a.html>`_, 2003.
    """
    fn = "losses.full_softmax"
    (logits,), out_dtype = _checks.floats(fn, logits=logits)
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"{fn}: labels must be integer, got dtype {labels.dtype}.")
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"{fn}: labels shape {labels.shape} must equal logits.shape[:-1] "
            f"(logits shape {logits.shape})."
        )
    mask = _checks.mask(fn, "where", where, logits.shape)
    num_classes = logits.shape[-1]
    # A negative index would wrap to a real class (and keep it in the
    # normaliser too), so every label outside [0, num_classes) is turned into
    # NaN here, not left to the gather.
    valid = labels >= 0
    if num_classes <= jnp.iinfo(labels.dtype).max:
        valid = valid & (labels < num_classes)
    index = jnp.where(valid, labels, 0).astype(jnp.int32)[..., None]
    pos = jnp.take_along_axis(logits, index, axis=-1)
    pos = jnp.where(valid[..., None], pos, jnp.asarray(jnp.nan, pos.dtype))
    if mask is None:
        # No class is dropped, so the label's own logit is the positive's term
        # of the normaliser: the max and the sum read ``logits`` directly (a
        # ``[..., num_classes]`` mask of the label was a select that XLA
        # materialised before both reductions: 4x the time of the forward).
        # An invalid row adds NaN to its sum, so its loss and gradient are NaN.
        m = jnp.max(logits, axis=-1)
        m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
        s = jnp.sum(jnp.exp(logits - m[..., None]), axis=-1)
        s = s + jnp.where(valid, 0, jnp.asarray(jnp.nan, s.dtype))
        return _finish(fn, jnp.log(s) + m - pos[..., 0], weights, out_dtype)
    classes = jnp.arange(num_classes, dtype=jnp.int32)
    classes = classes.reshape((1,) * labels.ndim + (-1,))
    # An invalid row keeps every class, so all of its gradient is NaN too.
    not_label = (classes != index) | ~valid[..., None]
    loss = _softmax_xent(pos, logits, not_label & mask)
    return _finish(fn, loss, weights, out_dtype)


# ---------------------------------------------------------------------------
# In-batch and contrastive losses.
# ---------------------------------------------------------------------------


def _retrieval(
    fn: str,
    logits: jax.Array,
    temperature,
    log_q: jax.Array | None,
    hits: jax.Array | None,
    mask: jax.Array | None,
    num_hard_negatives: int | None,
    pos: jax.Array | None = None,
) -> jax.Array:
    """TFRS ``Retrieval`` order: temperature, logQ, accidental hits, top-k.

    ``hits`` [rows, cols] is True where a column holds the row's positive id.
    ``pos`` (optional) is the positive logits after temperature and logQ when
    the caller computed them with row-wise dot products (cheaper to
    differentiate than the diagonal of ``logits``).
    """
    rows, cols = logits.shape
    t = _scalar(fn, "temperature", temperature, logits.dtype)
    keep = _and(None if hits is None else ~hits, mask)
    hard = num_hard_negatives is not None and num_hard_negatives < cols - 1
    if pos is None and keep is None and not hard:
        # Every column is live, so the positive's own logit is its term of
        # the normaliser (>= pos, the loss stays >= 0): one pass over the
        # caller's logits, with the temperature and logQ inside it (a scatter
        # of the diagonal, or a scaled copy, would hold a second block).
        return _lse_minus_own(logits, t, log_q)
    # Every column, the positive included (TFRS SamplingProbablityCorrection).
    logits = _scaled(logits, t, log_q)
    if pos is None:
        pos = jnp.diagonal(logits[:, :rows])
        # The caller's logits: drop the diagonal in the mask, not by a scatter
        # (a copy of them); the reductions see the same -inf.
        keep = _and(keep, ~_own(rows, cols))
        neg = logits
    elif not hard:
        # One pass with the positive's logit in place of the diagonal (the
        # scatter of _drop below would copy the logits).
        return _lse_with_own(logits, pos, keep)
    else:
        diag = jnp.arange(rows, dtype=jnp.int32)
        neg = _drop(logits, diag, diag)
    if hard:
        neg, idx = jax.lax.top_k(_live(neg, keep), num_hard_negatives)
        keep = None if keep is None else jnp.take_along_axis(keep, idx, axis=-1)
    return _blocked_xent(pos, _lse(neg, keep, 1))


def _blocked_xent(pos: jax.Array, neg_lse: jax.Array) -> jax.Array:
    """Softmax cross-entropy from the positive logit and its negatives' logsumexp."""
    return jnp.logaddexp(pos, neg_lse) - pos


@jax.named_scope("jaxns.losses.in_batch_softmax_from_logits")
def in_batch_softmax_from_logits(
    logits: ArrayLike,
    *,
    temperature: float | ArrayLike = 1.0,
    candidate_log_q: ArrayLike | None = None,
    candidate_ids: ArrayLike | None = None,
    num_hard_negatives: int | None = None,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""In-batch softmax on a score matrix (row ``i``'s positive in column ``i``).

    ``logits`` is ``[batch, num_candidates]`` with ``num_candidates >= batch``:
    the first ``batch`` columns are the batch's own candidates (the positive of
    row ``i`` is column ``i``) and any further columns are extra candidates
    shared by the batch (mixed negative sampling). The order of operations is
    TensorFlow Recommenders' ``Retrieval`` task:

    1. divide by ``temperature``;
    2. subtract ``candidate_log_q`` from every column, the positive included;
    3. mask accidental hits: column ``j != i`` is dropped from row ``i`` when
       ``candidate_ids[j] == candidate_ids[i]`` (duplicates in a batch);
    4. optionally keep only the ``num_hard_negatives`` highest live negatives;
    5. softmax cross-entropy with the positive as the label.

    Args:
      logits: float ``[batch, num_candidates]``, ``num_candidates >= batch``.
      temperature: ``> 0`` (Python number, checked) or a scalar array (learned,
        not checked).
      candidate_log_q: optional ``[num_candidates]`` log sampling probabilities
        of the candidates (the logQ correction of Yi et al. 2019).
      candidate_ids: optional integer ``[num_candidates]`` ids for hit masking.
      num_hard_negatives: optional int, keep the top negatives per row.
      where: optional bool ``[batch, num_candidates]``, True keeps a column (the
        positive column is always kept).
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits or non-integer ids.
      ValueError: for mismatched shapes, ``batch < 2`` without extra columns,
        ``temperature <= 0`` or a bad ``num_hard_negatives``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> logits = jnp.eye(3)
      >>> loss = jaxns.losses.in_batch_softmax_from_logits(
      ...     logits, candidate_ids=jnp.array([7, 8, 7]))
      >>> [round(x, 4) for x in loss.tolist()]  # rows 0 and 2 share id 7
      [0.3133, 0.5514, 0.3133]

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
      Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural Networks
      in Recommendations <https://doi.org/10.1145/3366424.3386195>`_, 2020.
    """
    fn = "losses.in_batch_softmax_from_logits"
    (logits,), out_dtype = _checks.floats(fn, logits=logits)
    if logits.ndim != 2 or logits.shape[1] < logits.shape[0]:
        raise ValueError(
            f"{fn}: logits must be [batch, num_candidates] with num_candidates >= "
            f"batch, got {logits.shape}."
        )
    if logits.shape[1] < 2:
        raise ValueError(
            f"{fn}: needs at least 2 candidates (batch size > 1 or extra "
            f"columns), got logits shape {logits.shape}."
        )
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    _checks.optional_size(fn, "num_hard_negatives", num_hard_negatives, minimum=1)
    cols = logits.shape[1:]
    log_q = _log_q(
        fn, "candidate_log_q", candidate_log_q, logits[0], logits.dtype, shared=False
    )
    ids = _optional_ids(fn, "candidate_ids", candidate_ids, cols)
    # A column holding the row's positive id is an accidental hit (TFRS).
    hits = None if ids is None else ids[None, :] == ids[: logits.shape[0], None]
    mask = _checks.mask(fn, "where", where, logits.shape)
    loss = _retrieval(fn, logits, temperature, log_q, hits, mask, num_hard_negatives)
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.in_batch_softmax")
def in_batch_softmax(
    query: ArrayLike,
    candidates: ArrayLike,
    *,
    temperature: float | ArrayLike = 1.0,
    candidate_log_q: ArrayLike | None = None,
    candidate_ids: ArrayLike | None = None,
    extra_candidates: ArrayLike | None = None,
    extra_log_q: ArrayLike | None = None,
    extra_ids: ArrayLike | None = None,
    num_hard_negatives: int | None = None,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""In-batch softmax for two-tower retrieval (TFRS ``Retrieval`` semantics).

    Row ``i`` contrasts ``query[i]`` against every candidate of the batch (its
    positive is ``candidates[i]``) and, for mixed negative sampling, against
    ``extra_candidates`` shared by the batch (Yang et al. 2020), with one matrix
    product ``[batch, dim] x [dim, batch + num_extra]``. Then, in TFRS order:
    divide by ``temperature``, subtract ``log_q`` from every column including
    the positive, mask accidental hits by id equality (a column whose id equals
    the row's positive id, other than the positive itself), optionally keep the
    ``num_hard_negatives`` hardest negatives, and take the softmax
    cross-entropy:

    .. math:: \ell_i = -\log \frac{e^{z_{ii}}}{\sum_{j\ \text{live}} e^{z_{ij}}},
       \qquad z_{ij} = \langle q_i, c_j \rangle / \tau - \log q_j

    For the logQ correction with mixed sampling, ``log_q`` should be the log
    probability of the mixture proposal for every column; pass both
    ``candidate_log_q`` and ``extra_log_q`` or neither.

    Args:
      query: float ``[batch, dim]``.
      candidates: float ``[batch, dim]``, the positives.
      temperature: ``> 0``; a Python number (checked) or scalar array (learned).
      candidate_log_q: optional ``[batch]`` log sampling probabilities.
      candidate_ids: optional integer ``[batch]`` ids for hit masking.
      extra_candidates: optional ``[num_extra, dim]`` shared sampled negatives.
      extra_log_q: optional ``[num_extra]``.
      extra_ids: optional integer ``[num_extra]`` (requires ``candidate_ids``).
      num_hard_negatives: optional int, keep the top negatives per row.
      where: optional bool ``[batch, batch + num_extra]``, True keeps a column.
      weights: optional ``[batch]`` per-example weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many candidate columns, never holding the full logit
        matrix (memory ``O(rows * block_size)``; see the module notes). None
        (default) builds the full matrix (see the module notes for speed).
        Not available with ``num_hard_negatives`` (a top-k over all columns).

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float embeddings or non-integer ids, or
        ``candidate_ids`` and ``extra_ids`` without a common integer dtype
        (int32 with uint32 without ``jax_enable_x64``, int64 with uint64).
      ValueError: for mismatched shapes, ``batch == 1`` without extra
        candidates, ``temperature <= 0``, inconsistent ``log_q``/``ids``
        arguments, or ``num_hard_negatives`` with ``block_size``.

    Examples:
      >>> import jax
      >>> import jaxns
      >>> q = jax.random.normal(jax.random.key(0), (8, 16))
      >>> c = jax.random.normal(jax.random.key(1), (8, 16))
      >>> jaxns.losses.in_batch_softmax(q, c, temperature=0.1).shape
      (8,)

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
      Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural Networks
      in Recommendations <https://doi.org/10.1145/3366424.3386195>`_, 2020.
    """
    fn = "losses.in_batch_softmax"
    (query, candidates, extra), out_dtype = _checks.floats(
        fn, query=query, candidates=candidates, extra_candidates=extra_candidates
    )
    if query.ndim != 2 or candidates.shape != query.shape:
        raise ValueError(
            f"{fn}: query and candidates must both be [batch, dim] with equal "
            f"shapes, got query {query.shape} and candidates {candidates.shape}."
        )
    batch, dim = query.shape
    num_extra = 0
    if extra is not None:
        if extra.ndim != 2 or extra.shape[1] != dim:
            raise ValueError(
                f"{fn}: extra_candidates must be [num_extra, {dim}], got {extra.shape}."
            )
        num_extra = extra.shape[0]
    if batch < 2 and num_extra == 0:
        raise ValueError(
            f"{fn}: in-batch negatives need batch size >= 2 (or "
            f"extra_candidates), got query shape {query.shape}."
        )
    if extra is None and (extra_log_q is not None or extra_ids is not None):
        raise ValueError(f"{fn}: extra_log_q/extra_ids given without extra_candidates.")
    if num_extra and (candidate_log_q is None) != (extra_log_q is None):
        raise ValueError(
            f"{fn}: pass both candidate_log_q and extra_log_q or neither "
            f"(the logQ correction must cover every column)."
        )
    if extra_ids is not None and candidate_ids is None:
        raise ValueError(f"{fn}: extra_ids requires candidate_ids.")
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    _checks.optional_size(fn, "num_hard_negatives", num_hard_negatives, minimum=1)
    block_size = _checks.optional_size(fn, "block_size", block_size, minimum=1)
    if block_size is not None and num_hard_negatives is not None:
        raise ValueError(
            f"{fn}: num_hard_negatives needs the full logit matrix (a top-k over "
            f"every column); pass block_size=None to use it."
        )
    dtype = query.dtype
    log_q = _log_q(
        fn, "candidate_log_q", candidate_log_q, query[:, 0], dtype, shared=False
    )
    ids = _optional_ids(fn, "candidate_ids", candidate_ids, (batch,))
    hits = None if ids is None else ids[None, :] == ids[:, None]
    cands = candidates
    if extra is not None:
        cands = jnp.concatenate([candidates, extra], axis=0)
        if log_q is not None:
            extra_lq = _log_q(
                fn, "extra_log_q", extra_log_q, extra[:, 0], dtype, shared=False
            )
            log_q = jnp.concatenate([log_q, extra_lq])
        if hits is not None:
            if extra_ids is None:
                extra_hits = jnp.zeros((batch, num_extra), bool)
            else:
                e_ids = _optional_ids(fn, "extra_ids", extra_ids, (num_extra,))
                row_ids, e_ids = _common_ids(
                    fn, "candidate_ids", ids, "extra_ids", e_ids
                )
                extra_hits = e_ids[None, :] == row_ids[:, None]
            hits = jnp.concatenate([hits, extra_hits], axis=1)
    if block_size is not None:
        loss = _in_batch_blocked(
            fn, query, candidates, cands, temperature, log_q, ids, extra_ids,
            where, block_size,
        )  # fmt: skip
        return _finish(fn, loss, weights, out_dtype)
    # The temperature divides the [B, d] queries, not the [B, C] product: a
    # learned temperature's derivative then keeps no [B, C] residual.
    scaled = query / _scalar(fn, "temperature", temperature, dtype)
    logits = scaled @ cands.T
    mask = _checks.mask(fn, "where", where, logits.shape)
    pos = jnp.sum(scaled * candidates, axis=-1)
    if log_q is not None:
        pos = pos - log_q[:batch]
    loss = _retrieval(fn, logits, 1.0, log_q, hits, mask, num_hard_negatives, pos)
    return _finish(fn, loss, weights, out_dtype)


def _absent_id(ids: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``ids`` (1-D) and an id of their dtype that none of them holds.

    One below the smallest or above the largest id, or else (the ids reach both
    ends of their dtype) one inside a gap between sorted ids. Ids narrower than
    32 bits are widened to int32 first (exactly), so a batch of uint8 ids that
    holds all 256 values still leaves one free; wider dtypes have more values
    than any batch.
    """
    if ids.dtype.itemsize < 4:
        ids = ids.astype(jnp.int32)
    info = jnp.iinfo(ids.dtype)
    lowest, highest = (jnp.asarray(v, ids.dtype) for v in (info.min, info.max))
    s = jnp.sort(ids)
    low, high = s[0], s[-1]
    inner = high  # unused unless both ends of the dtype are taken (n >= 2 then)
    if s.shape[0] > 1:
        # s[k] < s[k + 1] rules out s[k] == max, so s[k] + 1 does not wrap.
        gap = (s[:-1] < s[1:]) & (s[:-1] + 1 != s[1:])
        inner = s[jnp.argmax(gap)] + 1
    none = jnp.where(low > lowest, low - 1, jnp.where(high < highest, high + 1, inner))
    return ids, none


def _in_batch_blocked(
    fn, query, candidates, cands, temperature, log_q, ids, extra_ids, where, bs
):
    """:func:`in_batch_softmax` over column blocks (same order of operations)."""
    batch, num_cols = query.shape[0], cands.shape[0]
    mask = _checks.mask(fn, "where", where, (batch, num_cols))
    scale = 1.0 / _scalar(fn, "temperature", temperature, query.dtype)
    pos = scale * jnp.sum(query * candidates, axis=-1)
    if log_q is not None:
        pos = pos - log_q[:batch]
    col_ids = ids
    if ids is not None and num_cols > batch:
        if extra_ids is None:
            # Extra columns without ids are never hits: give them an id that no
            # row has.
            ids, none = _absent_id(ids)
            extra = jnp.full((num_cols - batch,), none, ids.dtype)
        else:
            extra = _optional_ids(fn, "extra_ids", extra_ids, (num_cols - batch,))
            ids, extra = _common_ids(fn, "candidate_ids", ids, "extra_ids", extra)
        col_ids = jnp.concatenate([ids, extra])
    st = _blockwise.stats(
        query,
        cands,
        scale=scale,
        col_bias=log_q,
        where=mask,
        row_ids=ids,
        col_ids=col_ids,
        pos_cols=jnp.arange(batch, dtype=jnp.int32),
        block_size=bs,
    )
    return _blocked_xent(pos, st.row_lse[0])


@jax.named_scope("jaxns.losses.infonce")
def infonce(
    anchors: ArrayLike,
    positives: ArrayLike,
    *,
    temperature: float | ArrayLike = 0.1,
    similarity: str = "cosine",
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""InfoNCE with one positive per anchor and the batch's positives as negatives.

    .. math:: \ell_i = -\log \frac{\exp(s(a_i, p_i)/\tau)}
       {\sum_{j\ \text{live}} \exp(s(a_i, p_j)/\tau)}

    ``s`` is cosine similarity (default) or the dot product.

    Args:
      anchors: float ``[batch, dim]``.
      positives: float ``[batch, dim]``; ``positives[i]`` pairs with
        ``anchors[i]``, the other rows are its negatives.
      temperature: ``> 0`` (Python number, checked, or a learned scalar array).
      similarity: ``"cosine"`` or ``"dot"``.
      where: optional bool ``[batch, batch]``, True keeps a column (the diagonal
        is always kept), e.g. to drop same-class pairs.
      weights: optional ``[batch]`` per-example weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many candidate columns, never holding the full logit
        matrix (memory ``O(rows * block_size)``; see the module notes). None
        (default) builds the full matrix (see the module notes for speed).

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float inputs.
      ValueError: for mismatched shapes, ``batch < 2``, ``temperature <= 0`` or
        an unknown ``similarity``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> x = jnp.eye(4)
      >>> round(float(jaxns.losses.infonce(x, x, temperature=1.0)[0]), 4)
      0.7437

    References:
      van den Oord et al, `Representation Learning with Contrastive Predictive
      Coding <https://arxiv.org/abs/1807.03748>`_, 2018.
    """
    fn = "losses.infonce"
    a, p, out_dtype = _embeddings(fn, "anchors", anchors, "positives", positives)
    _checks.choice(fn, "similarity", similarity, scoring.SIMILARITIES)
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    if a.shape[0] < 2:
        raise ValueError(f"{fn}: needs batch size >= 2, got anchors {a.shape}.")
    block_size = _checks.optional_size(fn, "block_size", block_size, minimum=1)
    mask = _checks.mask(fn, "where", where, (a.shape[0], a.shape[0]))
    if similarity == "cosine":
        a, p = scoring.normalize(a), scoring.normalize(p)
    scale = 1.0 / _scalar(fn, "temperature", temperature, a.dtype)
    pos = scale * jnp.sum(a * p, axis=-1)
    if block_size is not None:
        st = _blockwise.stats(
            a,
            p,
            scale=scale,
            where=mask,
            pos_cols=jnp.arange(a.shape[0], dtype=jnp.int32),
            block_size=block_size,
        )
        neg_lse = st.row_lse[0]
    else:
        loss = _lse_with_own((scale * a) @ p.T, pos, mask)
        return _finish(fn, loss, weights, out_dtype)
    return _finish(fn, _blocked_xent(pos, neg_lse), weights, out_dtype)


def _two_view(
    fn, view_a, view_b, temperature, similarity, where, block_size, alphas,
    losses=False,
):  # fmt: skip
    """NT-Xent's layout: positive logits, negatives' logsumexps and counts.

    For each multiplier ``alpha``, ``logsumexp_j(alpha * z_ij)`` over the live
    negatives of each of the ``2B`` rows (self and positive excluded), dense
    (``block_size=None``) or over column blocks. With ``losses=True`` (NT-Xent's
    call) and dense (masked or not), the second item is the ``[2B]`` losses
    themselves and the count is None.
    """
    a, b, out_dtype = _embeddings(fn, "view_a", view_a, "view_b", view_b)
    _checks.choice(fn, "similarity", similarity, scoring.SIMILARITIES)
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    batch = a.shape[0]
    if batch < 2:
        raise ValueError(f"{fn}: needs batch size >= 2, got view_a {a.shape}.")
    if similarity == "cosine":
        a, b = scoring.normalize(a), scoring.normalize(b)
    z = jnp.concatenate([a, b], axis=0)
    n = 2 * batch
    scale = 1.0 / _scalar(fn, "temperature", temperature, z.dtype)
    pos = scale * jnp.sum(z * jnp.concatenate([b, a], axis=0), axis=-1)
    mask = _checks.mask(fn, "where", where, (n, n))
    rows = jnp.arange(n, dtype=jnp.int32)
    pos_cols = (rows + batch) % n
    if block_size is not None:
        st = _blockwise.stats(
            z,
            z,
            scale=scale,
            where=mask,
            pos_cols=pos_cols,
            self_cols=rows,
            alphas=alphas,
            block_size=block_size,
        )
        return pos, st.row_lse, st.row_count, out_dtype
    # The [2B, 2B] logits are symmetric: score the three distinct B x B blocks
    # [[aa, ab], [ab.T, bb]] only (3/4 of the work); the b rows read ab by
    # columns. Self (diagonal of aa, bb) and positive (diagonal of ab) drop.
    quads = (None,) * 4 if mask is None else (
        mask[:batch, :batch], mask[:batch, batch:], mask[batch:, :batch].T,
        mask[batch:, batch:],
    )  # fmt: skip
    raw = ((scale * a) @ a.T, (scale * a) @ b.T, (scale * b) @ b.T)
    keeps = None if mask is None else quads
    if losses:
        # NT-Xent itself: the losses in one rule, no -inf scatters (copies).
        return pos, _two_view_xent(*raw, pos[:batch], keeps), None, out_dtype
    # The debiased and hard losses: the negatives' logsumexps in one rule.
    lses = _two_view_negative_lses(*raw, keeps, tuple(float(a) for a in alphas))
    if mask is None:
        count = jnp.full((n,), n - 2, z.dtype)
    else:
        dropped = mask[rows, rows].astype(jnp.int32) + mask[rows, pos_cols].astype(
            jnp.int32
        )
        count = (jnp.sum(mask, axis=1, dtype=jnp.int32) - dropped).astype(z.dtype)
    return pos, tuple(lses), count, out_dtype


@jax.named_scope("jaxns.losses.ntxent")
def ntxent(
    view_a: ArrayLike,
    view_b: ArrayLike,
    *,
    temperature: float | ArrayLike = 0.1,
    similarity: str = "cosine",
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""NT-Xent (SimCLR): each of ``2 * batch`` views against all others.

    The views are stacked as ``z = [view_a; view_b]`` (``2B`` rows). Row ``i``'s
    positive is the other view of the same example (``i + B mod 2B``); its
    negatives are the remaining ``2B - 2`` views (itself excluded):

    .. math:: \ell_i = -\log \frac{\exp(s(z_i, z_{i^+})/\tau)}
       {\sum_{j \ne i,\ \text{live}} \exp(s(z_i, z_j)/\tau)}

    SimCLR's loss is the mean of the ``2B`` returned values.

    .. seealso:: ``optax.losses.ntxent(embeddings, labels, temperature)``
       takes one stacked batch with group labels and returns the mean:
       ``optax.losses.ntxent(jnp.concatenate([a, b]), jnp.tile(jnp.arange(B),
       2), temperature=t)`` equals ``ntxent(a, b, temperature=t).mean()``.
       optax's default temperature is 0.07 (here 0.1), and its cosine clamps
       each squared norm at the dtype's epsilon (norms below ``3.5e-4`` in
       float32; here norms below ``1e-8``).

    Args:
      view_a: float ``[batch, dim]``.
      view_b: float ``[batch, dim]``, the second view of each example.
      temperature: ``> 0`` (Python number, checked, or a learned scalar array).
      similarity: ``"cosine"`` (SimCLR) or ``"dot"``.
      where: optional bool ``[2 * batch, 2 * batch]``, True keeps a column (self
        is always dropped, the positive always kept).
      weights: optional ``[2 * batch]`` per-view weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many candidate columns, never holding the full logit
        matrix (memory ``O(rows * block_size)``; see the module notes). None
        (default) builds the full matrix (see the module notes for speed).

    Returns:
      ``[2 * batch]`` losses, ``view_a`` rows first, in the input's float dtype.

    Raises:
      TypeError: for non-float inputs.
      ValueError: for mismatched shapes, ``batch < 2``, ``temperature <= 0`` or
        an unknown ``similarity``.

    Examples:
      >>> import jax
      >>> import jaxns
      >>> a = jax.random.normal(jax.random.key(0), (4, 8))
      >>> loss = jaxns.losses.ntxent(a, a + 0.1, temperature=0.5)
      >>> loss.shape
      (8,)
      >>> blocked = jaxns.losses.ntxent(a, a + 0.1, temperature=0.5, block_size=3)
      >>> bool(jax.numpy.allclose(loss, blocked, atol=1e-5))
      True

    References:
      Chen et al, `A Simple Framework for Contrastive Learning of Visual
      Representations <https://arxiv.org/abs/2002.05709>`_, 2020.
    """
    fn = "losses.ntxent"
    block_size = _checks.optional_size(fn, "block_size", block_size, minimum=1)
    pos, lses, count, out_dtype = _two_view(
        fn, view_a, view_b, temperature, similarity, where, block_size, (1.0,),
        losses=True,
    )  # fmt: skip
    if count is None:  # dense, nothing masked: the losses themselves
        return _finish(fn, lses, weights, out_dtype)
    return _finish(fn, _blocked_xent(pos, lses[0]), weights, out_dtype)


def _scale(fn: str, temperature, logit_scale, dtype) -> jax.Array:
    if (temperature is None) == (logit_scale is None):
        raise ValueError(
            f"{fn}: give exactly one of temperature (a Python number) or "
            f"logit_scale (log of the inverse temperature, may be learned), got "
            f"temperature={temperature!r} and logit_scale={logit_scale!r}."
        )
    if temperature is not None:
        _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
        return 1.0 / _scalar(fn, "temperature", temperature, dtype)
    return jnp.exp(_scalar(fn, "logit_scale", logit_scale, dtype))


@jax.named_scope("jaxns.losses.clip")
def clip(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    temperature: float | ArrayLike | None = None,
    logit_scale: ArrayLike | None = None,
    normalize: bool = True,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""CLIP's symmetric contrastive loss, per image-text pair.

    With ``L = scale * <x_i, y_j>`` (unit-normalized embeddings by default) and
    ``scale = 1 / temperature`` or ``exp(logit_scale)``:

    .. math:: \ell_i = \tfrac12\big[\operatorname{CE}(L_{i,:}, i)
       + \operatorname{CE}(L_{:,i}, i)\big]

    The mean over the batch is CLIP's loss. CLIP initialises ``logit_scale`` to
    ``log(1 / 0.07)`` and clips the scale at 100 in its training loop; clip the
    parameter yourself if you want that.

    Args:
      image_embeddings: float ``[batch, dim]``.
      text_embeddings: float ``[batch, dim]``; row ``i`` pairs with image ``i``.
      temperature: ``> 0``; give exactly one of ``temperature`` and
        ``logit_scale``.
      logit_scale: scalar log inverse temperature (typically learned), the
        parameter as CLIP stores it. open_clip's ``ClipLoss`` takes its
        exponential (what open_clip's models return): pass the log here.
      normalize: L2-normalize the embeddings first (CLIP does).
      where: optional bool ``[batch, batch]`` over (image, text) pairs, True
        keeps a pair as a negative in both directions (the diagonal is kept).
      weights: optional ``[batch]`` per-pair weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many texts (both directions in one pass), never
        holding the full logit matrix (memory ``O(rows * block_size)``; see
        the module notes). None (default) builds the full matrix (see the
        module notes for speed).

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float inputs or a non-bool ``normalize``.
      ValueError: for mismatched shapes, ``batch < 2``, both or neither of
        ``temperature``/``logit_scale``, or ``temperature <= 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> x = jnp.eye(3)
      >>> loss = jaxns.losses.clip(x, x, logit_scale=jnp.log(10.0))
      >>> round(float(loss[0]), 4)
      0.0001

    References:
      Radford et al, `Learning Transferable Visual Models From Natural Language
      Supervision <https://arxiv.org/abs/2103.00020>`_, 2021.
    """
    fn = "losses.clip"
    x, y, out_dtype = _embeddings(
        fn, "image_embeddings", image_embeddings, "text_embeddings", text_embeddings
    )
    if x.shape[0] < 2:
        raise ValueError(f"{fn}: needs batch size >= 2, got {x.shape}.")
    scale = _scale(fn, temperature, logit_scale, x.dtype)
    mask = _checks.mask(fn, "where", where, (x.shape[0], x.shape[0]))
    block_size = _checks.optional_size(fn, "block_size", block_size, minimum=1)
    if _checks.flag(fn, "normalize", normalize):
        x, y = scoring.normalize(x), scoring.normalize(y)
    if block_size is not None:
        st = _blockwise.stats(
            x,
            y,
            scale=scale,
            where=mask,
            pos_cols=jnp.arange(x.shape[0], dtype=jnp.int32),
            columns=True,
            block_size=block_size,
        )
        row_lse, col_lse = st.row_lse[0], st.col_lse[0]
    else:
        pos = scale * jnp.sum(x * y, axis=-1)
        img, txt = _lse_both_with_own((scale * x) @ y.T, pos, mask)
        return _finish(fn, 0.5 * (img + txt), weights, out_dtype)
    pos = scale * jnp.sum(x * y, axis=-1)
    img = _blocked_xent(pos, row_lse)
    txt = _blocked_xent(pos, col_lse)
    return _finish(fn, 0.5 * (img + txt), weights, out_dtype)


# SigLIP's initialisation (Zhai et al. 2023): scale t' = log 10, bias b = -10.
_SIGLIP_LOGIT_SCALE = math.log(10.0)


@jax.named_scope("jaxns.losses.siglip")
def siglip(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    logit_scale: float | ArrayLike = _SIGLIP_LOGIT_SCALE,
    logit_bias: float | ArrayLike = -10.0,
    normalize: bool = True,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""SigLIP's pairwise sigmoid loss, per image (row).

    Every (image, text) pair is an independent binary problem with label
    ``+1`` on the diagonal and ``-1`` elsewhere:

    .. math:: \ell_i = \sum_{j} \operatorname{softplus}\big(-y_{ij}\,
       (e^{t} \langle x_i, y_j \rangle + b)\big)

    The mean over the batch is the paper's loss (``-1/|B| sum_i sum_j``). The
    defaults ``t = log 10``, ``b = -10`` are the paper's initialisation; pass
    learned scalars.

    Args:
      image_embeddings: float ``[batch, dim]``.
      text_embeddings: float ``[batch, dim]``.
      logit_scale: scalar ``t`` (log of the scale), the parameter as SigLIP
        stores it. open_clip's ``SigLipLoss`` and big_vision's loss take
        ``exp(t)`` (what their models return): pass the log here.
      logit_bias: scalar ``b``.
      normalize: L2-normalize the embeddings first (SigLIP does).
      where: optional bool ``[batch, batch]``, True keeps a negative pair (the
        diagonal is always kept).
      weights: optional ``[batch]`` per-image weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many texts (a plain sum over blocks), never
        holding the full logit matrix (memory ``O(rows * block_size)``; see
        the module notes). None (default) builds the full matrix (see the
        module notes for speed).

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float inputs or a non-bool ``normalize``.
      ValueError: for mismatched shapes or non-scalar scale/bias.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> x = jnp.eye(2)
      >>> loss = jaxns.losses.siglip(x, x, logit_scale=0.0, logit_bias=0.0)
      >>> round(float(loss[0]), 4)  # softplus(-1) + softplus(0)
      1.0064

    References:
      Zhai et al, `Sigmoid Loss for Language Image Pre-Training
      <https://arxiv.org/abs/2303.15343>`_, 2023.
    """
    fn = "losses.siglip"
    x, y, out_dtype = _embeddings(
        fn, "image_embeddings", image_embeddings, "text_embeddings", text_embeddings
    )
    t = _scalar(fn, "logit_scale", logit_scale, x.dtype)
    b = _scalar(fn, "logit_bias", logit_bias, x.dtype)
    n = x.shape[0]
    mask = _checks.mask(fn, "where", where, (n, n))
    block_size = _checks.optional_size(fn, "block_size", block_size, minimum=1)
    if _checks.flag(fn, "normalize", normalize):
        x, y = scoring.normalize(x), scoring.normalize(y)
    if block_size is not None:
        st = _blockwise.stats(
            x,
            y,
            scale=jnp.exp(t),
            bias=b,
            where=mask,
            pos_cols=jnp.arange(n, dtype=jnp.int32),
            alphas=(),
            softplus=True,
            block_size=block_size,
        )
        neg_total = st.row_softplus
    else:
        logits = (jnp.exp(t) * x) @ y.T + b
        if mask is None:
            # A scatter of -inf into the diagonal (in place): 25-35% faster
            # here than a mask in the sum (benchmarks/scoring.py, siglip).
            diag = jnp.arange(n, dtype=jnp.int32)
            neg_total = _softplus_sum(_drop(logits, diag, diag), None)
        else:
            # The diagonal joins the mask: no -inf scatter into a copy.
            neg_total = _softplus_sum(logits, mask & ~_own(n, n))
    pos = jnp.exp(t) * jnp.sum(x * y, axis=-1) + b
    loss = jax.nn.softplus(-pos) + neg_total
    return _finish(fn, loss, weights, out_dtype)


def _debiased_alphas(beta) -> tuple[float, ...]:
    """The logsumexp multipliers :func:`_debiased_tail` needs."""
    return (1.0,) if beta is None else (1.0 + beta, float(beta))


def _debiased_tail(pos, count, lses, *, tau_plus, temperature):
    """The loss from live-negative counts and logsumexps of ``alpha * neg``."""
    live = count > 0
    log_n = jnp.log(jnp.where(live, count, 1))
    if len(lses) == 1:
        log_r = lses[0]
    else:
        # sum(e^{(1+b)s}) / mean(e^{b s}): Robinson et al.'s reweighted sum.
        log_r = lses[0] - lses[1] + log_n
    log_r = jnp.where(live, log_r, 0)
    # log(R - tau N e^{pos}) via log R + log(1 - e^d), d = log(tau N e^{pos}) - log R.
    if tau_plus > 0:
        d = math.log(tau_plus) + log_n + pos - log_r
        one_minus = -jnp.expm1(jnp.minimum(d, 0))
        ok = one_minus > jnp.finfo(pos.dtype).tiny
        log_diff = jnp.where(ok, log_r + jnp.log(jnp.where(ok, one_minus, 1)), -jnp.inf)
        log_ng = log_diff - math.log1p(-tau_plus)
    else:
        log_ng = log_r
    # The reference's clamp Ng >= N e^{-1/t}, in log space.
    log_ng = jnp.maximum(log_ng, log_n - 1.0 / temperature)
    loss = jax.nn.softplus(log_ng - pos)  # -log(e^pos / (e^pos + Ng))
    return jnp.where(live, loss, 0)


def _contrastive_hyperparameters(fn: str, temperature, tau_plus, beta) -> None:
    # Python numbers only: the temperature also sets the clamp N e^(-1/t).
    _checks.number(fn, "temperature", temperature, positive=True)
    _checks.number(fn, "tau_plus", tau_plus, nonnegative=True, below=1)
    if beta is not None:
        _checks.number(fn, "beta", beta, nonnegative=True)


def _debiased_dispatch(fn, view_a, view_b, temperature, tau_plus, beta, where, bs):
    """Dense or blocked (``bs``) debiased/hard losses before weighting."""
    bs = _checks.optional_size(fn, "block_size", bs, minimum=1)
    pos, lses, count, out_dtype = _two_view(
        fn, view_a, view_b, temperature, "cosine", where, bs, _debiased_alphas(beta)
    )
    loss = _debiased_tail(pos, count, lses, tau_plus=tau_plus, temperature=temperature)
    return loss, out_dtype


@jax.named_scope("jaxns.losses.debiased_contrastive")
def debiased_contrastive(
    view_a: ArrayLike,
    view_b: ArrayLike,
    *,
    temperature: float = 0.5,
    tau_plus: float = 0.1,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""Debiased contrastive loss (Chuang et al. 2020), computed in log space.

    SimCLR layout (see :func:`ntxent`), cosine similarities ``s``, ``N`` live
    negatives per row (``2B - 2`` without ``where``) and class prior
    ``tau_plus``. The reference estimator of the negative term is

    .. math:: N_g = \max\Big(\frac{\sum_j e^{s_j/t} - \tau^+ N e^{s^+/t}}
       {1 - \tau^+},\ N e^{-1/t}\Big), \qquad
       \ell = -\log\frac{e^{s^+/t}}{e^{s^+/t} + N_g}

    Here ``log N_g`` is built from ``logsumexp`` and ``log1p(-exp(.))`` and the
    loss is ``softplus(log N_g - s+/t)``, so it stays finite at small
    temperatures where the reference's ``exp(s / t)`` overflows (float32
    overflows for ``1/t > 88``). The clamp keeps the reference's semantics:
    ``log N_g >= log N - 1/t``. ``tau_plus = 0`` gives :func:`ntxent` with
    cosine similarity.

    Args:
      view_a: float ``[batch, dim]``.
      view_b: float ``[batch, dim]``.
      temperature: Python number ``> 0``; also sets the clamp ``N e^{-1/t}``.
      tau_plus: class prior in ``[0, 1)``.
      where: optional bool ``[2 * batch, 2 * batch]``, True keeps a negative.
      weights: optional ``[2 * batch]`` per-view weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many candidate columns, never holding the full logit
        matrix (memory ``O(rows * block_size)``; see the module notes). None
        (default) builds the full matrix (see the module notes for speed).

    Returns:
      ``[2 * batch]`` losses in the input's float dtype (0 for a row with no
      live negative).

    Raises:
      TypeError: for non-float inputs.
      ValueError: for mismatched shapes, ``batch < 2``, ``temperature <= 0`` or
        ``tau_plus`` outside ``[0, 1)``.

    Examples:
      >>> import jax
      >>> import jaxns
      >>> a = jax.random.normal(jax.random.key(0), (4, 8))
      >>> loss = jaxns.losses.debiased_contrastive(a, a, temperature=0.001)
      >>> loss.shape, bool(jax.numpy.isfinite(loss).all())
      ((8,), True)

    References:
      Chuang et al, `Debiased Contrastive Learning
      <https://arxiv.org/abs/2007.00224>`_, 2020.
    """
    fn = "losses.debiased_contrastive"
    _contrastive_hyperparameters(fn, temperature, tau_plus, None)
    loss, out_dtype = _debiased_dispatch(
        fn, view_a, view_b, temperature, tau_plus, None, where, block_size
    )
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.hard_contrastive")
def hard_contrastive(
    view_a: ArrayLike,
    view_b: ArrayLike,
    *,
    temperature: float = 0.5,
    tau_plus: float = 0.1,
    beta: float = 1.0,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    block_size: int | None = None,
) -> jax.Array:
    r"""Hard-negative contrastive loss (Robinson et al. 2021), in log space.

    As :func:`debiased_contrastive`, with the negatives reweighted by
    ``e^{beta s_j / t}`` (importance weights normalised by their mean):

    .. math:: R = \frac{\sum_j e^{(1+\beta) s_j/t}}{\frac1N \sum_j
       e^{\beta s_j/t}}, \qquad N_g = \max\Big(\frac{R - \tau^+ N
       e^{s^+/t}}{1 - \tau^+},\ N e^{-1/t}\Big)

    and ``loss = softplus(log N_g - s+/t)``, all in log space. ``beta = 0``
    gives :func:`debiased_contrastive`.

    Args:
      view_a: float ``[batch, dim]``.
      view_b: float ``[batch, dim]``.
      temperature: Python number ``> 0``; also sets the clamp ``N e^{-1/t}``.
      tau_plus: class prior in ``[0, 1)``.
      beta: concentration ``>= 0`` (0 = uniform weights).
      where: optional bool ``[2 * batch, 2 * batch]``, True keeps a negative.
      weights: optional ``[2 * batch]`` per-view weights.
      block_size: optional static int: compute the loss and its gradient over
        blocks of this many candidate columns, never holding the full logit
        matrix (memory ``O(rows * block_size)``; see the module notes). None
        (default) builds the full matrix (see the module notes for speed).

    Returns:
      ``[2 * batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float inputs.
      ValueError: for mismatched shapes, ``batch < 2`` or out-of-range
        hyperparameters.

    Examples:
      >>> import jax
      >>> import jaxns
      >>> a = jax.random.normal(jax.random.key(0), (4, 8))
      >>> jaxns.losses.hard_contrastive(a, a + 0.1, beta=1.0).shape
      (8,)

    References:
      Robinson et al, `Contrastive Learning with Hard Negative Samples
      <https://arxiv.org/abs/2010.04592>`_, 2021.
    """
    fn = "losses.hard_contrastive"
    _contrastive_hyperparameters(fn, temperature, tau_plus, beta)
    loss, out_dtype = _debiased_dispatch(
        fn, view_a, view_b, temperature, tau_plus, beta, where, block_size
    )
    return _finish(fn, loss, weights, out_dtype)


# ---------------------------------------------------------------------------
# Pairwise ranking and knowledge-graph losses.
# ---------------------------------------------------------------------------


def _pairwise(fn: str, pos_logits, neg_logits, where):
    (pos, neg), out_dtype = _checks.floats(
        fn, pos_logits=pos_logits, neg_logits=neg_logits
    )
    if neg.shape == pos.shape:
        neg = neg[..., None]  # one negative per positive
        if where is not None:
            where = jnp.asarray(where)[..., None]
    _checks.one_more_axis(fn, "neg_logits", neg, "pos_logits", pos, "num_negatives")
    return pos, neg, _checks.mask(fn, "where", where, neg.shape), out_dtype


@jax.named_scope("jaxns.losses.bpr")
def bpr(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Bayesian personalised ranking loss, averaged over live negatives.

    .. math:: \ell = \frac{1}{|J|} \sum_{j \in J} -\log\sigma(s^+ - s^-_j)
       = \frac{1}{|J|} \sum_{j \in J} \operatorname{softplus}(s^-_j - s^+)

    The gradient with respect to ``s+`` is ``-mean_j sigmoid(s-_j - s+)``. A row
    with no live negative gives 0. RecBole's ``BPRLoss`` computes
    ``-log(1e-10 + sigmoid(s+ - s-))``: within ``1e-6`` of this loss while
    ``s+ - s- > -9``, but it saturates at ``23.03`` (with a vanishing
    gradient) where this loss keeps growing linearly.

    Args:
      pos_logits: ``[batch]``.
      neg_logits: ``[batch]`` (one negative each) or ``[batch, num_negatives]``.
      where: optional bool, shape of ``neg_logits``; True keeps a negative.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits.
      ValueError: for mismatched shapes.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> round(float(jaxns.losses.bpr(jnp.zeros(1), jnp.zeros(1))[0]), 4)
      0.6931

    References:
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
    """
    fn = "losses.bpr"
    pos, neg, mask, out_dtype = _pairwise(fn, pos_logits, neg_logits, where)
    diff = neg - pos[..., None]
    if mask is not None:
        diff = jnp.where(mask, diff, 0)
    loss = _masked_mean(jax.nn.softplus(diff), mask)
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.margin_ranking")
def margin_ranking(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    *,
    margin: float = 1.0,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Margin ranking (hinge) loss, averaged over live negatives.

    .. math:: \ell = \frac{1}{|J|} \sum_{j \in J} \max(0,\ \gamma - s^+ + s^-_j)

    For TransE-style scores (negative distances) this is the loss of Bordes et
    al. 2013, ``max(0, gamma + d+ - d-)``. A row with no live negative gives 0.

    Args:
      pos_logits: ``[batch]``.
      neg_logits: ``[batch]`` or ``[batch, num_negatives]``.
      margin: ``gamma >= 0``.
      where: optional bool, shape of ``neg_logits``; True keeps a negative.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits.
      ValueError: for mismatched shapes or ``margin < 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> jaxns.losses.margin_ranking(jnp.array([2.0, 0.0]), jnp.array([[0.5, 1.5],
      ...                             [0.0, -2.0]]), margin=1.0).tolist()
      [0.25, 0.5]

    References:
      Bordes et al, `Translating Embeddings for Modeling Multi-relational Data
      <https://papers.nips.cc/paper/5071-translating-embeddings-for-modeling-multi-relational-data>`_,
      2013.
    """
    fn = "losses.margin_ranking"
    _checks.number(fn, "margin", margin, nonnegative=True, allow_array=True)
    pos, neg, mask, out_dtype = _pairwise(fn, pos_logits, neg_logits, where)
    diff = neg - pos[..., None]
    if mask is not None:
        diff = jnp.where(mask, diff, 0)
    loss = _masked_mean(jax.nn.relu(margin + diff), mask)
    return _finish(fn, loss, weights, out_dtype)


@jax.named_scope("jaxns.losses.self_adversarial")
def self_adversarial(
    pos_logits: ArrayLike,
    neg_logits: ArrayLike,
    *,
    adversarial_temperature: float = 1.0,
    margin: float = 0.0,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> jax.Array:
    r"""Self-adversarial negative sampling loss (RotatE), per positive triple.

    .. math:: \ell = -\log\sigma(\gamma + s^+) - \sum_j w_j
       \log\sigma(-s^-_j - \gamma), \qquad
       w = \operatorname{stop\_gradient}(\operatorname{softmax}_{\text{live}}
       (\alpha\, s^-))

    Sign convention: ``s`` are logits (higher = more plausible). For distance
    models pass ``s = -d`` (as :func:`jaxns.scoring.transe` and
    :func:`jaxns.scoring.rotate` return): then ``gamma + s = gamma - d``, the
    RotatE paper's ``-log sigma(gamma - d(h, t))`` and
    ``-log sigma(d(h', t') - gamma)``, and PyKEEN's ``NSSALoss``. For
    similarity scores (DistMult) a margin of 0 is usual. The weights are
    constants for the gradient and sum to 1 over the live negatives (a weighted
    average); a row with no live negative keeps only the positive term. The
    paper's formula is used as is (the reference code additionally halves the
    sum of the two terms).

    Args:
      pos_logits: ``[batch]``.
      neg_logits: ``[batch, num_negatives]``.
      adversarial_temperature: the multiplier ``alpha >= 0`` of the negatives'
        scores in the softmax, Sun et al.'s "temperature of sampling" and
        PyKEEN's ``adversarial_temperature``. Unlike every other
        ``temperature`` in jaxns it multiplies (an inverse temperature):
        larger focuses the weight on harder negatives, 0 weighs them
        uniformly.
      margin: ``gamma >= 0``.
      where: optional bool ``[batch, num_negatives]``, True keeps a negative.
      weights: optional ``[batch]`` per-example weights.

    Returns:
      ``[batch]`` losses in the input's float dtype.

    Raises:
      TypeError: for non-float logits.
      ValueError: for mismatched shapes, ``adversarial_temperature < 0`` or
        ``margin < 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> loss = jaxns.losses.self_adversarial(jnp.zeros(1), jnp.zeros((1, 4)))
      >>> round(float(loss[0]), 4)  # 2 log 2
      1.3863

    References:
      Sun et al, `RotatE: Knowledge Graph Embedding by Relational Rotation in
      Complex Space <https://arxiv.org/abs/1902.10197>`_, 2019.
    """
    fn = "losses.self_adversarial"
    _checks.number(
        fn,
        "adversarial_temperature",
        adversarial_temperature,
        nonnegative=True,
        allow_array=True,
    )
    _checks.number(fn, "margin", margin, nonnegative=True, allow_array=True)
    (pos, neg), out_dtype = _checks.floats(
        fn, pos_logits=pos_logits, neg_logits=neg_logits
    )
    _checks.one_more_axis(fn, "neg_logits", neg, "pos_logits", pos, "num_negatives")
    mask = _checks.mask(fn, "where", where, neg.shape)
    z = adversarial_temperature * neg
    if mask is not None:
        z = jnp.where(mask, z, -jnp.inf)
    m = jnp.max(z, axis=-1, initial=-jnp.inf, keepdims=True)
    e = jnp.exp(z - jnp.where(jnp.isfinite(m), m, 0))
    total = jnp.sum(e, axis=-1, keepdims=True)
    w = jax.lax.stop_gradient(e / jnp.where(total == 0, 1, total))
    neg_terms = jax.nn.softplus(margin + neg)
    if mask is not None:
        neg_terms = jnp.where(
            mask, jax.nn.softplus(margin + jnp.where(mask, neg, 0)), 0
        )
    loss = jax.nn.softplus(-(margin + pos)) + jnp.sum(w * neg_terms, axis=-1)
    return _finish(fn, loss, weights, out_dtype)
