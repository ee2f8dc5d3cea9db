# SPDX-License-Identifier: Apache-2.0
r"""Contrastive statistics over blocks of candidates, in bounded memory (private).

Every in-batch contrastive loss (InfoNCE, NT-Xent, CLIP, SigLIP, the debiased
and hard variants, in-batch softmax) needs, per query row ``i``, a reduction
over the live negatives ``j`` of the logits

.. math:: z_{ij} = \text{scale} \cdot \langle q_i, c_j \rangle + \text{bias}
   - \text{col\_bias}_j

and the positive's logit, which is one row-wise dot product. :func:`stats`
computes those reductions without ever holding the ``[rows, columns]`` logit
matrix: a ``lax.scan`` over blocks of ``block_size`` candidate columns keeps
running per-row accumulators (an online logsumexp, as in Flash attention, for
the softmax losses; a plain sum of ``softplus`` for SigLIP), and a custom VJP
recomputes each block in the backward pass. Peak memory is
``O(rows * block_size + (rows + columns) * dim)``.

A negative ``j`` of row ``i`` is live when all of these hold:

* ``where[i, j]`` (a user mask, when given),
* ``j != pos_cols[i]`` (the positive is scored separately) and
  ``j != self_cols[i]`` (NT-Xent drops a view's similarity with itself),
* ``col_ids[j] != row_ids[i]`` (accidental hits: a column holding the row's
  positive id),

with ``j`` the *global* column index ``col_offset + local index``. That offset
is what lets the same function serve blocks that live elsewhere: a cross-device
ring (``ppermute`` of candidate shards) calls :func:`stats` on each shard it
receives with that shard's offset and combines the partial results with
:func:`combine`, which is exact (``logaddexp`` of logsumexps, sums of sums).
Gradients flow through :func:`combine` by ordinary autodiff into each partial's
custom VJP, so each shard's candidates get their gradient on the device that
scored them.

Optionally (``columns=True``, CLIP's text-to-image direction) the same pass also
returns logsumexps over the live *rows* of every column; those are complete
within a block, so they cost no second scan.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__: list[str] = []


class Stats(NamedTuple):
    """Per-row (and optionally per-column) reductions over live negatives.

    Attributes:
      row_lse: one ``[rows]`` array per multiplier ``alpha``:
        ``logsumexp_j(alpha * z_ij)`` over live ``j`` (``-inf`` for none).
      row_softplus: ``[rows]`` ``sum_j softplus(z_ij)`` over live ``j``, or None.
      row_count: ``[rows]`` number of live negatives (float, no gradient).
      col_lse: one ``[columns]`` array per multiplier over live rows ``i``,
        or ``()`` when columns were not requested.
    """

    row_lse: tuple[jax.Array, ...]
    row_softplus: jax.Array | None
    row_count: jax.Array
    col_lse: tuple[jax.Array, ...]


def combine(a: Stats, b: Stats) -> Stats:
    """Exactly combines the row statistics of two disjoint sets of candidates.

    Column statistics are per candidate, so they concatenate (``a`` first).
    """
    sp = None
    if a.row_softplus is not None:
        sp = a.row_softplus + b.row_softplus
    return Stats(
        row_lse=tuple(
            jnp.logaddexp(x, y) for x, y in zip(a.row_lse, b.row_lse, strict=True)
        ),
        row_softplus=sp,
        row_count=a.row_count + b.row_count,
        col_lse=tuple(
            jnp.concatenate([x, y]) for x, y in zip(a.col_lse, b.col_lse, strict=True)
        ),
    )


def stats(
    q: ArrayLike,
    c: ArrayLike,
    *,
    scale: ArrayLike = 1.0,
    bias: ArrayLike = 0.0,
    col_bias: ArrayLike | None = None,
    where: ArrayLike | None = None,
    row_ids: ArrayLike | None = None,
    col_ids: ArrayLike | None = None,
    pos_cols: ArrayLike | None = None,
    self_cols: ArrayLike | None = None,
    col_offset: ArrayLike = 0,
    alphas: tuple[float, ...] = (1.0,),
    softplus: bool = False,
    columns: bool = False,
    block_size: int = 1024,
) -> Stats:
    """Row (and column) reductions of ``z = scale * q @ c.T + bias - col_bias``.

    Args:
      q: float ``[rows, dim]`` queries (already normalised if cosine).
      c: float ``[columns, dim]`` candidates, same dtype as ``q``.
      scale: scalar multiplier of the dot products (differentiable).
      bias: scalar added to every logit (differentiable; SigLIP's ``b``).
      col_bias: optional ``[columns]`` subtracted from column ``j`` (logQ).
      where: optional bool ``[rows, columns]``, True keeps a negative.
      row_ids: optional int ``[rows]``; with ``col_ids`` masks hits.
      col_ids: optional int ``[columns]``.
      pos_cols: optional int ``[rows]`` global column of each row's positive.
      self_cols: optional int ``[rows]`` global column to drop (NT-Xent).
      col_offset: global index of column 0 (an int, may be traced).
      alphas: static multipliers, one logsumexp per entry.
      softplus: static, also return the softplus sum (SigLIP).
      columns: static, also return column logsumexps (CLIP).
      block_size: static number of columns per block.

    Returns:
      :class:`Stats` in the dtype of ``q``.
    """
    q = jnp.asarray(q)
    c = jnp.asarray(c)
    dtype = q.dtype
    rows, cols = q.shape[0], c.shape[0]
    scale = jnp.asarray(scale, dtype)
    bias = jnp.asarray(bias, dtype)
    col_bias = jnp.zeros((cols,), dtype) if col_bias is None else col_bias
    col_bias = jnp.asarray(col_bias, dtype)
    if (row_ids is None) != (col_ids is None):
        raise ValueError("stats: give both row_ids and col_ids or neither.")
    ints = (
        row_ids,
        col_ids,
        pos_cols,
        self_cols,
        jnp.asarray(col_offset, jnp.int32),
    )
    bs = max(1, min(int(block_size), cols))
    config = (tuple(float(a) for a in alphas), bool(softplus), bool(columns), bs)
    del rows
    return _stats(config, q, c, scale, bias, col_bias, where, ints)


# ---------------------------------------------------------------------------
# The scan and its custom VJP.
# ---------------------------------------------------------------------------


def _pad_blocks(x: jax.Array | None, bs: int, fill, axis: int = 0):
    """Pads ``axis`` to a multiple of ``bs``."""
    if x is None:
        return None
    n = x.shape[axis]
    extra = -n % bs
    if extra == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths, constant_values=fill)


def _blocks(x: jax.Array | None, bs: int):
    """``[n_pad, ...]`` -> ``[num_blocks, bs, ...]``."""
    if x is None:
        return None
    return x.reshape((x.shape[0] // bs, bs) + x.shape[1:])


def _keep(j0, bs, cols, where_blk, ints, col_ids_blk):
    """Bool ``[rows, bs]``: live negatives of this block."""
    row_ids, _, pos_cols, self_cols, col_offset = ints
    local = j0 + jnp.arange(bs, dtype=jnp.int32)
    keep = (local < cols)[None, :]
    glob = (col_offset + local)[None, :]
    if pos_cols is not None:
        keep = keep & (glob != pos_cols[:, None])
    if self_cols is not None:
        keep = keep & (glob != self_cols[:, None])
    if row_ids is not None:
        keep = keep & (col_ids_blk[None, :] != row_ids[:, None])
    if where_blk is not None:
        keep = keep & where_blk
    return keep


def _safe(m: jax.Array) -> jax.Array:
    # A running max of -inf (nothing live yet) or NaN is replaced by 0 so that
    # exp(x - m) never computes -inf - -inf; NaN inputs still reach the sum.
    return jnp.where(jnp.isfinite(m), m, 0)


def _lse_finish(m: jax.Array, s: jax.Array) -> jax.Array:
    empty = s == 0
    return jnp.where(empty, -jnp.inf, jnp.log(jnp.where(empty, 1, s)) + _safe(m))


def _col_lse(x: jax.Array) -> jax.Array:
    """Masked (``-inf``) logsumexp over axis 0."""
    m = jnp.max(x, axis=0)
    s = jnp.sum(jnp.exp(x - _safe(m)[None, :]), axis=0)
    return _lse_finish(m, s)


def _scan_inputs(bs, c, col_bias, where, ints):
    cols = c.shape[0]
    col_ids = ints[1]
    xs = (
        _blocks(_pad_blocks(c, bs, 0), bs),
        _blocks(_pad_blocks(col_bias, bs, 0), bs),
        None if col_ids is None else _blocks(_pad_blocks(col_ids, bs, 0), bs),
        jnp.arange(0, cols + (-cols % bs), bs, dtype=jnp.int32),
    )
    return xs, _pad_blocks(where, bs, False, axis=1)


def _where_blk(where, j0, bs):
    if where is None:
        return None
    return jax.lax.dynamic_slice_in_dim(where, j0, bs, axis=1)


def _forward(config, q, c, scale, bias, col_bias, where, ints) -> Stats:
    alphas, softplus, columns, bs = config
    rows, cols = q.shape[0], c.shape[0]
    dtype = q.dtype
    xs, where = _scan_inputs(bs, c, col_bias, where, ints)

    def step(carry, x):
        ms, ss, sp, count = carry
        cb, cbias, cids, j0 = x
        keep = _keep(j0, bs, cols, _where_blk(where, j0, bs), ints, cids)
        z = scale * (q @ cb.T) + bias - cbias[None, :]
        new_ms, new_ss, col_out = [], [], []
        for a, m, s in zip(alphas, ms, ss, strict=True):
            x_a = jnp.where(keep, a * z, -jnp.inf)
            m_new = jnp.maximum(m, jnp.max(x_a, axis=1))
            # s is relative to safe(m); rescale where anything was summed yet.
            s = jnp.where(s == 0, 0, s * jnp.exp(_safe(m) - _safe(m_new)))
            s = s + jnp.sum(jnp.exp(x_a - _safe(m_new)[:, None]), axis=1)
            new_ms.append(m_new)
            new_ss.append(s)
            if columns:
                col_out.append(_col_lse(x_a))
        if softplus:
            live = jax.nn.softplus(jnp.where(keep, z, 0))
            sp = sp + jnp.sum(jnp.where(keep, live, 0), axis=1)
        count = count + jnp.sum(keep, axis=1, dtype=jnp.int32)
        return (tuple(new_ms), tuple(new_ss), sp, count), tuple(col_out)

    init = (
        tuple(jnp.full((rows,), -jnp.inf, dtype) for _ in alphas),
        tuple(jnp.zeros((rows,), dtype) for _ in alphas),
        jnp.zeros((rows,), dtype),
        jnp.zeros((rows,), jnp.int32),
    )
    (ms, ss, sp, count), col_out = jax.lax.scan(step, init, xs)
    row_lse = tuple(_lse_finish(m, s) for m, s in zip(ms, ss, strict=True))
    col_lse = tuple(x.reshape(-1)[:cols] for x in col_out)
    return Stats(row_lse, sp if softplus else None, count.astype(dtype), col_lse)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _stats(config, q, c, scale, bias, col_bias, where, ints) -> Stats:
    return _forward(config, q, c, scale, bias, col_bias, where, ints)


def _stats_fwd(config, q, c, scale, bias, col_bias, where, ints):
    out = _forward(config, q, c, scale, bias, col_bias, where, ints)
    residuals = (q, c, scale, bias, col_bias, where, ints, out.row_lse, out.col_lse)
    return out, residuals


def _stats_bwd(config, residuals, g: Stats):
    alphas, softplus, columns, bs = config
    q, c, scale, bias, col_bias, where, ints, row_lse, col_lse = residuals
    cols = c.shape[0]
    xs, where_p = _scan_inputs(bs, c, col_bias, where, ints)
    safe_row = [_safe(x) for x in row_lse]
    g_row = [jnp.asarray(x, q.dtype) for x in g.row_lse]
    if columns:
        # [columns, num_alphas], blocked like the candidates.
        safe_col = jnp.stack([_safe(x) for x in col_lse], axis=1)
        col_lse_b = _blocks(_pad_blocks(safe_col, bs, 0), bs)
        g_col = jnp.stack([jnp.asarray(x, q.dtype) for x in g.col_lse], axis=1)
        g_col_b = _blocks(_pad_blocks(g_col, bs, 0), bs)

    def step(carry, x):
        dq, dscale, dbias = carry
        cb, cbias, cids, j0, clse, gcol = x
        keep = _keep(j0, bs, cols, _where_blk(where_p, j0, bs), ints, cids)
        dots = q @ cb.T
        z = scale * dots + bias - cbias[None, :]
        dz = jnp.zeros_like(z)
        for k, a in enumerate(alphas):
            x_a = jnp.where(keep, a * z, -jnp.inf)
            w = g_row[k][:, None] * jnp.exp(x_a - safe_row[k][:, None])
            if columns:
                w = w + gcol[:, k][None, :] * jnp.exp(x_a - clse[:, k][None, :])
            dz = dz + a * w
        if softplus:
            sig = jax.nn.sigmoid(jnp.where(keep, z, 0))
            dz = dz + jnp.where(keep, g.row_softplus[:, None] * sig, 0)
        dq = dq + scale * (dz @ cb)
        dc = scale * (dz.T @ q)
        dscale = dscale + jnp.sum(dz * dots)
        dbias = dbias + jnp.sum(dz)
        return (dq, dscale, dbias), (dc, -jnp.sum(dz, axis=0))

    zero = jnp.zeros((), q.dtype)
    nblocks = xs[0].shape[0]
    if not columns:
        empty = jnp.zeros((nblocks, bs, 0), q.dtype)
        col_lse_b = g_col_b = empty
    (dq, dscale, dbias), (dc, dcb) = jax.lax.scan(
        step, (jnp.zeros_like(q), zero, zero), xs + (col_lse_b, g_col_b)
    )
    dc = dc.reshape(-1, c.shape[1])[:cols]
    dcb = dcb.reshape(-1)[:cols]
    return dq, dc, dscale, dbias, dcb, None, None


_stats.defvjp(_stats_fwd, _stats_bwd)
