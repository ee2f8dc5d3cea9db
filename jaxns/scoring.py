# SPDX-License-Identifier: Apache-2.0
"""How embeddings become logits.

Two shapes of negatives are first class everywhere in this module:

* **per-example** candidates ``[batch, num_candidates, dim]`` (word2vec,
  PyKEEN): every query has its own candidates, scored by a batched dot product;
* **shared** candidates ``[num_candidates, dim]`` (TensorFlow's sampled losses,
  PyTorch-BigGraph chunks): all queries share the candidates, so scoring is one
  matrix product ``[batch, dim] x [dim, num_candidates]`` (a GEMM).

The rule that tells them apart is the rank: candidates with one more axis than
the query are per-example (their leading axes must equal the query's), a 2-D
candidate array ``[num_candidates, dim]`` is shared. Both give
``[..., num_candidates]`` logits, and per-example candidates that are the shared
ones broadcast give the same logits as the shared path.

The knowledge-graph scorers (:func:`transe`, :func:`distmult`, :func:`rotate`,
:func:`complex`)
return plausibility scores where higher means more plausible (negative
distances for the translational models), so every score here can be fed to
:mod:`jaxns.losses` directly.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "ROTATE_VARIANTS",
    "SIMILARITIES",
    "complex",
    "cosine",
    "distmult",
    "dot",
    "normalize",
    "rotate",
    "score",
    "score_rows",
    "transe",
]

#: Names accepted by the ``similarity=`` argument of :func:`score` and
#: :func:`score_rows`.
SIMILARITIES = ("dot", "cosine")

#: Default epsilon of :func:`cosine` and :func:`normalize`: norms are clamped
#: from below at this value (as ``torch.nn.functional.cosine_similarity``).
COSINE_EPS = 1e-8


def _layout(fn: str, query: jax.Array, candidates: jax.Array) -> str:
    """Returns 'per_example' or 'shared' and checks the shapes."""
    if query.ndim < 1:
        raise ValueError(f"{fn}: query must have shape [..., dim], got a scalar.")
    if candidates.shape[-1:] != query.shape[-1:]:
        raise ValueError(
            f"{fn}: query and candidates must share the embedding dim, got "
            f"query shape {query.shape} and candidates shape {candidates.shape}."
        )
    if candidates.ndim == query.ndim + 1:
        if candidates.shape[:-2] != query.shape[:-1]:
            raise ValueError(
                f"{fn}: per-example candidates must have shape "
                f"{query.shape[:-1] + ('num_candidates', query.shape[-1])}, got "
                f"{candidates.shape} for query shape {query.shape}."
            )
        return "per_example"
    if candidates.ndim == 2:
        return "shared"
    raise ValueError(
        f"{fn}: candidates must have shape [..., num_candidates, dim] matching "
        f"query {query.shape} (per-example) or [num_candidates, dim] (shared), "
        f"got {candidates.shape}."
    )


def _dot(query: jax.Array, candidates: jax.Array, layout: str) -> jax.Array:
    if layout == "shared":
        # One GEMM for the whole batch (PyTorch-BigGraph's chunked negatives).
        return jnp.einsum("...d,kd->...k", query, candidates)
    return jnp.einsum("...d,...kd->...k", query, candidates)


def _unit_scale(top: jax.Array, n: int) -> jax.Array:
    """An exact power of two that brings ``top`` into ``[0.5, 1)`` where a sum
    of ``n`` squares of entries up to ``top`` could exceed ``tiny^(-1/2)``
    (``top * sqrt(n)`` above ``3e9`` in float32, ``1e77`` in float64); exactly 1
    elsewhere. No gradient: callers use it where the result does not depend on
    it (a direction, or a norm divided by it again).

    Without it ``|x|^2`` overflows to inf for ``|x| > 1.8e19`` in float32, and
    the derivative of ``rsqrt``, ``|x|^-3``, underflows from about ``1e13``.
    """
    limit = float(jnp.finfo(top.dtype).tiny) ** -0.25 / math.sqrt(max(n, 1))
    big = (top > limit) & jnp.isfinite(top)
    exponent = jnp.where(big, jnp.frexp(jnp.where(big, top, 1))[1], 0)
    return jax.lax.stop_gradient(jnp.ldexp(jnp.ones_like(top), -exponent))


def _unless_long(squares: jax.Array, result: jax.Array, scaled, *inputs):
    """``result``, or ``scaled(*inputs)`` (the :func:`_unit_scale` path, the
    same bits on ordinary rows) when some sum of squares in ``squares``
    exceeds ``tiny^(-1/2)`` (``9e18`` in float32) or overflowed.

    The scaling costs an extra reduction and several element-wise passes, so
    it runs only for the inputs that need it: one ``max`` over ``squares``
    decides. ``result`` and ``squares`` are computed outside from the
    inputs, so XLA fuses the ordinary path as before (passing an
    intermediate such as ``head + relation - tail`` into the ``cond`` would
    materialise it): pass the arrays before any broadcast. Under ``vmap``
    with a batched decision both branches run (``lax.cond`` becomes a
    select); the result is the same.
    """
    limit = float(jnp.finfo(squares.dtype).tiny) ** -0.5
    long = jnp.max(squares, initial=0) > limit  # inf too; NaN stays on `result`
    # Rematerialised, so that under grad the cond keeps only ``inputs`` for the
    # scaled branch (its own residuals would be zeros of the full broadcast
    # shape on the ordinary path).
    scaled = jax.checkpoint(scaled)
    return jax.lax.cond(
        long, lambda r, *a: scaled(*a), lambda r, *a: r, result, *inputs
    )


@jax.custom_jvp
def _unit(x: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x / max(||x||, eps)`` along the last axis and ``1 / max(||x||, eps)``
    (``[..., 1]``).

    Long rows are scaled exactly first (see :func:`_unit_scale`) when some
    squared norm exceeds ``tiny^(-1/2)``; other rows keep their bits. The
    derivative is given in closed form (:func:`_unit_jvp`), so autodiff never
    sees the ``lax.cond``: differentiating through it kept a full-size copy of
    ``x`` as a residual and full-size zero cotangents for the branch not taken
    (2.5x the time and 80x the memory of the plain formula's gradient).
    """
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    limit = float(jnp.finfo(x.dtype).tiny) ** -0.5
    long = jnp.max(sq, initial=0) > limit  # inf too; NaN stays ordinary

    def ordinary(x, sq, eps):
        # max(|x|^2, eps^2) before the rsqrt: finite at x = 0.
        inv = jax.lax.rsqrt(jnp.maximum(sq, eps * eps))
        return x * inv, inv

    def scaled(x, sq, eps):
        # The direction does not change; other rows are multiplied by 1.
        top = jnp.max(jnp.abs(x), axis=-1, keepdims=True, initial=0)
        scale = _unit_scale(top, x.shape[-1])
        x, eps = x * scale, eps * scale
        sq = jnp.sum(x * x, axis=-1, keepdims=True)
        inv = jax.lax.rsqrt(jnp.maximum(sq, eps * eps))
        return x * inv, inv * scale

    return jax.lax.cond(long, scaled, ordinary, x, sq, eps)


@_unit.defjvp
def _unit_jvp(primals, tangents):
    # With n = max(|x|, eps) and dn = <u, dx> (or deps where clamped):
    # d(x / n) = (dx - u dn) / n and d(1 / n) = -dn / n^2. One reduction and
    # one elementwise pass backward; exact tangents of every output, so
    # higher derivatives hold too.
    x, eps = primals
    dx, deps = tangents
    u, inv = _unit(x, eps)
    # Where the norm was clamped to eps. A long row (scaled in _unit) is never
    # clamped, and its |x|^2 here (large or inf) says so too. No boolean
    # output of _unit: its float0 tangent lost the varying-axes type of its
    # primal under shard_map.
    clamped = jnp.sum(x * x, axis=-1, keepdims=True) <= eps * eps
    dn = jnp.where(clamped, deps, jnp.sum(u * dx, axis=-1, keepdims=True))
    du = (dx - u * dn) * inv
    return (u, inv), (du, -(inv * dn) * inv)


def _normalize(x: jax.Array, eps: float) -> jax.Array:
    """``x / max(||x||, eps)`` computed in at least float32, gradient-safe."""
    dtype = x.dtype
    xc = x.astype(jnp.float32) if dtype.itemsize < 4 else x
    return _unit(xc, jnp.asarray(eps, xc.dtype))[0].astype(dtype)


@jax.named_scope("jaxns.scoring.normalize")
def normalize(x: ArrayLike, *, eps: float = COSINE_EPS) -> jax.Array:
    r"""Scales vectors to unit L2 norm along the last axis.

    .. math:: \hat x = x / \max(\lVert x \rVert_2, \epsilon)

    The zero vector maps to zero and has the finite gradient ``I / eps`` (the
    clamp is applied to the squared norm before the square root, so no ``0/0``
    appears in the backward pass). Computed in at least float32. Long vectors
    (``|x|`` above ``3e9`` in float32) are first scaled by an exact power of two,
    so any finite vector, ``1e30`` long included, maps to a unit vector with
    the right gradient (``|x|^2`` would overflow).

    Args:
      x: float array ``[..., dim]``.
      eps: lower clamp of the norm, ``> 0`` (default ``1e-8``, PyTorch's
        ``cosine_similarity`` default; ``F.normalize``'s is ``1e-12``).

    Returns:
      Array ``[..., dim]`` of the dtype of ``x``.

    Raises:
      TypeError: if ``x`` is not floating point.
      ValueError: if ``eps <= 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> jaxns.scoring.normalize(jnp.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
      [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]

    References:
      Chen et al, `A Simple Framework for Contrastive Learning of Visual
      Representations <https://arxiv.org/abs/2002.05709>`_, 2020.
    """
    x = _checks.float_array("scoring.normalize", "x", x)
    _checks.number("scoring.normalize", "eps", eps, positive=True, allow_array=True)
    return _normalize(x, eps)


@jax.named_scope("jaxns.scoring.dot")
def dot(query: ArrayLike, candidates: ArrayLike) -> jax.Array:
    r"""Dot-product logits of queries against per-example or shared candidates.

    .. math:: s_{bj} = \langle q_b, c_{bj} \rangle \quad\text{(per-example)},
       \qquad s_{bj} = \langle q_b, c_j \rangle \quad\text{(shared)}

    Shared candidates ``[num_candidates, dim]`` are scored with one matrix
    product; per-example candidates ``[..., num_candidates, dim]`` with a batched
    dot product. Inputs of different float dtypes are cast to the wider one.

    Args:
      query: float array ``[..., dim]`` (typically ``[batch, dim]``).
      candidates: ``[..., num_candidates, dim]`` with the same leading axes as
        ``query`` (per-example) or ``[num_candidates, dim]`` (shared by all
        queries).

    Returns:
      Logits ``[..., num_candidates]``.

    Raises:
      TypeError: if an input is not floating point.
      ValueError: if the shapes fit neither layout.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> q = jnp.ones((4, 8))
      >>> jaxns.scoring.dot(q, jnp.ones((4, 5, 8))).shape  # per-example
      (4, 5)
      >>> jaxns.scoring.dot(q, jnp.ones((5, 8))).shape  # shared, one GEMM
      (4, 5)

    References:
      Lerer et al, `PyTorch-BigGraph: A Large-scale Graph Embedding System
      <https://arxiv.org/abs/1903.12287>`_, 2019.
    """
    query, candidates = _checks.same_floats(
        "scoring.dot", query=query, candidates=candidates
    )
    layout = _layout("scoring.dot", query, candidates)
    return _dot(query, candidates, layout)


@jax.named_scope("jaxns.scoring.cosine")
def cosine(
    query: ArrayLike, candidates: ArrayLike, *, eps: float = COSINE_EPS
) -> jax.Array:
    r"""Cosine-similarity logits against per-example or shared candidates.

    .. math:: s_{bj} = \frac{\langle q_b, c_{bj} \rangle}
       {\max(\lVert q_b \rVert, \epsilon)\,\max(\lVert c_{bj} \rVert, \epsilon)}

    Each vector is normalized on its own (as PyTorch's ``F.normalize``) before
    the dot product, so shared candidates are normalized once and scored with
    one GEMM. A zero vector scores 0 against everything and gets a finite
    gradient (of size ``1/eps``), never NaN. Normalization runs in at least
    float32.

    Args:
      query: float array ``[..., dim]``.
      candidates: ``[..., num_candidates, dim]`` (per-example) or
        ``[num_candidates, dim]`` (shared).
      eps: lower clamp of each norm, ``> 0`` (default ``1e-8``).

    Returns:
      Similarities in ``[-1, 1]`` up to rounding, shape ``[...,
      num_candidates]``: the dot product of two unit vectors can exceed 1 by
      an ulp or two (about one vector in seven against itself, random
      float32 vectors of dim 100). Clip before ``arccos``; the result is not
      clipped here because that extra pass over the scores made the shared
      layout 12% slower (``[4096, 20000]`` scores at dim 128, one core).

    Raises:
      TypeError: if an input is not floating point.
      ValueError: if the shapes fit neither layout or ``eps <= 0``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> q = jnp.array([[1.0, 0.0]])
      >>> c = jnp.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, 0.0]])
      >>> jaxns.scoring.cosine(q, c).tolist()
      [[1.0, 0.0, -1.0, 0.0]]

    References:
      Chen et al, `A Simple Framework for Contrastive Learning of Visual
      Representations <https://arxiv.org/abs/2002.05709>`_, 2020.
    """
    query, candidates = _checks.same_floats(
        "scoring.cosine", query=query, candidates=candidates
    )
    _checks.number("scoring.cosine", "eps", eps, positive=True, allow_array=True)
    layout = _layout("scoring.cosine", query, candidates)
    return _dot(_normalize(query, eps), _normalize(candidates, eps), layout)


@jax.named_scope("jaxns.scoring.score")
def score(
    query: ArrayLike,
    candidates: ArrayLike,
    *,
    similarity: str = "dot",
    eps: float = COSINE_EPS,
) -> jax.Array:
    """Logits with the similarity chosen by name (``"dot"`` or ``"cosine"``).

    Dispatches to :func:`dot` or :func:`cosine`; see those for the layouts.

    Args:
      query: float array ``[..., dim]``.
      candidates: ``[..., num_candidates, dim]`` (per-example) or
        ``[num_candidates, dim]`` (shared).
      similarity: one of :data:`SIMILARITIES`.
      eps: norm clamp for ``"cosine"`` (ignored by ``"dot"``).

    Returns:
      Logits ``[..., num_candidates]``.

    Raises:
      ValueError: for an unknown ``similarity`` or mismatched shapes.
      TypeError: if an input is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> q, c = jnp.array([[3.0, 4.0]]), jnp.array([[3.0, 4.0]])
      >>> jaxns.scoring.score(q, c, similarity="dot").tolist()
      [[25.0]]
      >>> jaxns.scoring.score(q, c, similarity="cosine").tolist()
      [[1.0]]

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    _checks.choice("scoring.score", "similarity", similarity, SIMILARITIES)
    if similarity == "dot":
        return dot(query, candidates)
    return cosine(query, candidates, eps=eps)


@jax.named_scope("jaxns.scoring.score_rows")
def score_rows(
    query_table: ArrayLike,
    candidate_table: ArrayLike,
    query_ids: ArrayLike,
    candidate_ids: ArrayLike,
    *,
    similarity: str = "dot",
    eps: float = COSINE_EPS,
) -> jax.Array:
    """Gathers embedding rows by id and scores them, touching only those rows.

    ``query_table[query_ids]`` is scored against ``candidate_table[candidate_ids]``.
    Per-example ids ``[batch, num_candidates]`` gather ``[batch, num_candidates,
    dim]`` rows; shared ids ``[num_candidates]`` gather each candidate row once
    (``[num_candidates, dim]``, not ``batch`` copies) and score with one GEMM.
    Nothing of size ``vocab`` is created, and under :func:`jax.grad` the
    gradient with respect to the gathered rows is a scatter of
    ``O(batch * num_candidates * dim)`` values (differentiate with respect to the
    gathered rows, as :mod:`jaxns.optim` does, to avoid a dense table gradient).

    For skip-gram, put the positive first: ``candidate_ids = jnp.concatenate(
    [context[:, None], negatives], axis=1)`` and split the logits as
    ``logits[:, 0], logits[:, 1:]``.

    .. warning:: Out-of-range ids are clamped to ``[0, vocab)`` by JAX's gather
       (no error under ``jit``).

    Args:
      query_table: float array ``[num_queries_vocab, dim]``.
      candidate_table: float array ``[vocab, dim]`` (may be ``query_table``).
      query_ids: integer ids ``[batch]``.
      candidate_ids: integer ids ``[batch, num_candidates]`` (per-example) or
        ``[num_candidates]`` (shared by the batch).
      similarity: ``"dot"`` or ``"cosine"``.
      eps: norm clamp for ``"cosine"``.

    Returns:
      Logits ``[batch, num_candidates]``.

    Raises:
      TypeError: for float ids or non-float tables.
      ValueError: for tables that are not 2-D, different embedding dims, ids of
        the wrong rank or batch size, or an unknown ``similarity``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> table = jnp.arange(12.0).reshape(6, 2)
      >>> q_ids = jnp.array([0, 1])
      >>> jaxns.scoring.score_rows(table, table, q_ids, jnp.array([[2, 3], [4, 5]]))
      Array([[ 5.,  7.],
             [43., 53.]], dtype=float32)
      >>> jaxns.scoring.score_rows(table, table, q_ids, jnp.array([2, 3])).shape
      (2, 2)

    References:
      Lerer et al, `PyTorch-BigGraph: A Large-scale Graph Embedding System
      <https://arxiv.org/abs/1903.12287>`_, 2019.
    """
    fn = "scoring.score_rows"
    _checks.choice(fn, "similarity", similarity, SIMILARITIES)
    query_table, candidate_table = _checks.same_floats(
        fn, query_table=query_table, candidate_table=candidate_table
    )
    for name, t in (("query_table", query_table), ("candidate_table", candidate_table)):
        if t.ndim != 2:
            raise ValueError(f"{fn}: {name} must be 2-D [vocab, dim], got {t.shape}.")
    if query_table.shape[1] != candidate_table.shape[1]:
        raise ValueError(
            f"{fn}: query_table shape {query_table.shape} and candidate_table "
            f"shape {candidate_table.shape} must have the same dim."
        )
    query_ids = _checks.int_array(fn, "query_ids", query_ids)
    candidate_ids = _checks.int_array(fn, "candidate_ids", candidate_ids)
    if query_ids.ndim != 1:
        raise ValueError(f"{fn}: query_ids must be [batch], got {query_ids.shape}.")
    if candidate_ids.ndim == 2:
        if candidate_ids.shape[0] != query_ids.shape[0]:
            raise ValueError(
                f"{fn}: per-example candidate_ids {candidate_ids.shape} must have "
                f"the batch size of query_ids {query_ids.shape}."
            )
    elif candidate_ids.ndim != 1:
        raise ValueError(
            f"{fn}: candidate_ids must be [batch, num_candidates] or "
            f"[num_candidates], got {candidate_ids.shape}."
        )
    query = jnp.take(query_table, query_ids, axis=0)
    candidates = jnp.take(candidate_table, candidate_ids, axis=0)
    return score(query, candidates, similarity=similarity, eps=eps)


def _kg_args(fn: str, **arrays: ArrayLike) -> tuple[jax.Array, ...]:
    return _kg_raw_args(fn, **arrays)[0]


def _kg_raw_args(
    fn: str, **arrays: ArrayLike
) -> tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]]:
    """The checked arrays with their ranks aligned (:func:`_align_ranks`),
    and as given (a ``lax.cond`` operand is materialised: pass it the small
    arrays and align them inside the branch)."""
    xs = _checks.same_floats(fn, **arrays)
    try:
        shape = jnp.broadcast_shapes(*(x.shape for x in xs))
    except ValueError:
        shapes = ", ".join(f"{k} {x.shape}" for k, x in zip(arrays, xs, strict=True))
        raise ValueError(f"{fn}: shapes do not broadcast: {shapes}.") from None
    if not shape:
        raise ValueError(f"{fn}: inputs must have an embedding axis, got scalars.")
    # Ranks are aligned explicitly: jaxns never relies on implicit rank promotion.
    return _align_ranks(*xs), tuple(xs)


def _align_ranks(*xs: jax.Array) -> tuple[jax.Array, ...]:
    """The arrays with leading unit axes up to the common rank.

    Size-1 axes are left to broadcast in the arithmetic: ``broadcast_to`` the
    full shape made the gradient of ``[q, 1, d]`` queries against ``[1, E, d]``
    entities materialise ``[q, E, d]`` cotangents (``distmult`` 20x and
    ``complex`` 13x the time of the plain formula's gradient).
    """
    ndim = max(x.ndim for x in xs)
    return tuple(x.reshape((1,) * (ndim - x.ndim) + x.shape) for x in xs)


def _by_leading_slice(f, raw: tuple[jax.Array, ...]) -> jax.Array:
    """``f(*raw)`` computed one slice of the leading broadcast axis at a time
    (``lax.map``), for a branch whose per-coordinate temporaries XLA
    materialises: it then holds those of one slice, not ``[q, E, d]``."""
    xs = _align_ranks(*raw)
    n = max(x.shape[0] for x in xs)
    if xs[0].ndim < 3 or n == 1:
        return f(*xs)
    return jax.lax.map(
        lambda i: f(*(x[i] if x.shape[0] > 1 else x[0] for x in xs)),
        jnp.arange(n, dtype=jnp.int32),
    )


def _second_pass(raw: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
    """``raw`` (the small arrays before broadcasting) behind an optimization
    barrier, for a second pass that recomputes a broadcast intermediate: XLA
    would otherwise share it between the two reductions and materialise it,
    ``[q, E, d]`` in :func:`jaxns.kg.evaluate`'s scoring, even in an untaken
    ``lax.cond`` branch (whose buffers are allocated anyway)."""
    return jax.lax.optimization_barrier(tuple(raw))


@jax.custom_jvp
def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt of a sum of squares, with derivative 0 (not inf/NaN) at exactly 0.

    The value is the plain ``sqrt``: NaN stays NaN (a ``where(x > 0, ..., 0)``
    turned a NaN distance into 0), and XLA fuses it into the reduction that
    follows (a select before the sum made it materialise ``[..., dim]``).
    """
    return jnp.sqrt(x)


@_safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _safe_sqrt(x)
    zero = y == 0
    return y, jnp.where(zero, 0, 0.5 / jnp.where(zero, 1, y)) * dx


@jax.named_scope("jaxns.scoring.transe")
def transe(
    head: ArrayLike, relation: ArrayLike, tail: ArrayLike, *, norm: int = 1
) -> jax.Array:
    r"""TransE score: the negative distance between ``head + relation`` and ``tail``.

    .. math:: f(h, r, t) = -\lVert h + r - t \rVert_p

    Inputs broadcast against each other (explicitly), so ``head [B, 1, d]``,
    ``relation [B, 1, d]`` and ``tail [B, k, d]`` score ``k`` corrupted tails per
    triple, and ``tail [1, k, d]`` shares them across the batch. The L2 norm has
    gradient 0 (not NaN) at exactly zero distance, and long differences are
    scaled by an exact power of two before squaring, so a finite distance
    (``1e30`` included) never becomes ``inf``.

    Args:
      head: float array ``[..., dim]``.
      relation: float array ``[..., dim]``.
      tail: float array ``[..., dim]``.
      norm: ``1`` or ``2``.

    Returns:
      Scores (higher = more plausible), the broadcast shape without ``dim``.

    Raises:
      ValueError: for shapes that do not broadcast or ``norm`` not in (1, 2).
      TypeError: if an input is not floating point, or ``norm`` is not an int
        (``True`` and ``1.0`` are refused).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> h, r, t = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0])
      >>> float(jaxns.scoring.transe(h, r, t)) == 0.0
      True
      >>> float(jaxns.scoring.transe(h, r, jnp.zeros(2), norm=2))
      -1.4142135381698608

    References:
      Bordes et al, `Translating Embeddings for Modeling Multi-relational Data
      <https://papers.nips.cc/paper/5071-translating-embeddings-for-modeling-multi-relational-data>`_,
      2013.
    """
    norm = _checks.size("scoring.transe", "norm", norm)
    if norm not in (1, 2):
        raise ValueError(f"scoring.transe: norm must be 1 or 2, got {norm!r}.")
    (head, relation, tail), raw = _kg_raw_args(
        "scoring.transe", head=head, relation=relation, tail=tail
    )
    diff = head + relation - tail
    if norm == 1:
        return -jnp.sum(jnp.abs(diff), axis=-1)

    def difference(raw):
        head, relation, tail = _align_ranks(*raw)
        return head + relation - tail

    def scaled(*raw):  # exactly, where |diff|^2 could overflow
        top = jnp.max(jnp.abs(difference(raw)), axis=-1, initial=0)
        scale = _unit_scale(top, diff.shape[-1])
        # The second pass recomputes the difference (see _second_pass).
        diff2 = difference(_second_pass(raw)) * scale[..., None]
        return -_safe_sqrt(jnp.sum(diff2 * diff2, axis=-1)) / scale

    sq = jnp.sum(diff * diff, axis=-1)  # 1e20 long gave -inf
    return _unless_long(sq, -_safe_sqrt(sq), scaled, *raw)


@jax.named_scope("jaxns.scoring.distmult")
def distmult(head: ArrayLike, relation: ArrayLike, tail: ArrayLike) -> jax.Array:
    r"""DistMult score: the trilinear product of head, relation and tail.

    .. math:: f(h, r, t) = \sum_i h_i r_i t_i

    Inputs broadcast explicitly (see :func:`transe`).

    Args:
      head: float array ``[..., dim]``.
      relation: float array ``[..., dim]`` (the diagonal of the relation matrix).
      tail: float array ``[..., dim]``.

    Returns:
      Scores (higher = more plausible), the broadcast shape without ``dim``.

    Raises:
      ValueError: for shapes that do not broadcast.
      TypeError: if an input is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> h = jnp.array([1.0, 2.0])
      >>> float(jaxns.scoring.distmult(h, jnp.array([3.0, 1.0]), h))
      7.0

    References:
      Yang et al, `Embedding Entities and Relations for Learning and Inference in
      Knowledge Bases <https://arxiv.org/abs/1412.6575>`_, 2015.
    """
    head, relation, tail = _kg_args(
        "scoring.distmult", head=head, relation=relation, tail=tail
    )
    return jnp.sum(head * relation * tail, axis=-1)


ROTATE_VARIANTS = ("pykeen", "sun")


def _split_complex(fn: str, name: str, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    if x.ndim == 0 or x.shape[-1] % 2:
        raise ValueError(
            f"{fn}: {name} must be [..., 2 * dim] (real parts, then imaginary parts), "
            f"got {x.shape}."
        )
    d = x.shape[-1] // 2
    return x[..., :d], x[..., d:]


@jax.named_scope("jaxns.scoring.rotate")
def rotate(
    head: ArrayLike,
    relation: ArrayLike,
    tail: ArrayLike,
    *,
    variant: str = "pykeen",
) -> jax.Array:
    r"""RotatE score: negative distance after rotating the head in the complex plane.

    Entities are complex vectors stored as real arrays ``[..., 2 * dim]``: the
    first half holds the real parts, the second half the imaginary parts (the
    layout of the RotatE reference code). Two variants:

    * ``variant="pykeen"`` (the default, PyKEEN's ``RotatEInteraction``): the
      relation is a complex vector ``[..., 2 * dim]`` in the same layout, of
      unit modulus per coordinate (keep it so, e.g. by renormalising after
      every update as PyKEEN does; it is not normalised here), and the
      distance is the L2 norm over the complex coordinates,

      .. math:: f(h, r, t) = -\lVert h \circ r - t \rVert_2
         = -\Big(\sum_{i=1}^{d} \lvert h_i r_i - t_i \rvert^2\Big)^{1/2}

    * ``variant="sun"`` (Sun et al.'s reference code): the relation is a phase
      vector ``[..., dim]`` (radians), the rotation ``e^{i theta}``, and the
      distance is the sum of the complex moduli,

      .. math:: f(h, r, t) = -\sum_{i=1}^{d} \lvert h_i e^{i\theta_i} - t_i \rvert

    The margin ``gamma`` of the paper is left to the loss
    (:func:`jaxns.losses.self_adversarial`, ``margin=``). Distances have
    gradient 0 (not NaN) where the rotated head equals the tail, and are
    computed without overflow, as in :func:`transe`.

    Args:
      head: float array ``[..., 2 * dim]``.
      relation: float array ``[..., 2 * dim]`` (``"pykeen"``) or phases
        ``[..., dim]`` (``"sun"``).
      tail: float array ``[..., 2 * dim]``.
      variant: ``"pykeen"`` or ``"sun"``.

    Returns:
      Scores (higher = more plausible), the broadcast shape without the
      embedding axis.

    Raises:
      ValueError: for an odd entity width, a relation width that does not fit
        the variant, shapes that do not broadcast, or an unknown variant.
      TypeError: if an input is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> h = jnp.array([1.0, 0.0])  # the complex number 1 + 0i
      >>> t = jnp.array([0.0, 1.0])  # the complex number 0 + 1i
      >>> r = jnp.array([0.0, 1.0])  # the rotation by i
      >>> abs(float(jaxns.scoring.rotate(h, r, t))) < 1e-6
      True
      >>> phase = jnp.array([jnp.pi / 2])
      >>> abs(float(jaxns.scoring.rotate(h, phase, t, variant="sun"))) < 1e-6
      True

    References:
      Sun et al, `RotatE: Knowledge Graph Embedding by Relational Rotation in
      Complex Space <https://arxiv.org/abs/1902.10197>`_, 2019.
    """
    fn = "scoring.rotate"
    variant = _checks.choice(fn, "variant", variant, ROTATE_VARIANTS)
    head = _checks.float_array(fn, "head", head)
    tail = _checks.float_array(fn, "tail", tail)
    relation = _checks.float_array(fn, "relation", relation)
    width = head.shape[-1] if head.ndim else 0
    if head.ndim == 0 or width % 2 or tail.shape[-1:] != head.shape[-1:]:
        raise ValueError(
            f"{fn}: head and tail must be [..., 2 * dim] with the same even width, "
            f"got head {head.shape} and tail {tail.shape}."
        )
    d = width // 2
    h_re, h_im = head[..., :d], head[..., d:]
    t_re, t_im = tail[..., :d], tail[..., d:]
    if variant == "sun":
        if relation.shape[-1:] != (d,):
            raise ValueError(
                f"{fn}: with variant='sun' the relation must be phases [..., {d}] "
                f"(half of the entity width {width}), got {relation.shape}."
            )
        cos, sin = jnp.cos(relation), jnp.sin(relation)
    else:
        if relation.shape[-1:] != (width,):
            raise ValueError(
                f"{fn}: with variant='pykeen' the relation must be complex "
                f"[..., {width}] like the entities, got {relation.shape}. Pass "
                "variant='sun' for phases."
            )
        cos, sin = relation[..., :d], relation[..., d:]
    args, raw = _kg_raw_args(
        fn, h_re=h_re, h_im=h_im, t_re=t_re, t_im=t_im, cos=cos, sin=sin
    )
    if variant == "sun":
        return _sun_distance(*raw)
    re, im = _rotation_residual(*args)
    squares = jnp.sum(re * re + im * im, axis=-1)
    result = -_safe_sqrt(squares)
    return _unless_long(squares, result, _scaled_rotate_l2, *raw)


def _rotation_residual(h_re, h_im, t_re, t_im, cos, sin):
    """``h * (cos + i sin) - t`` as real and imaginary parts."""
    re = h_re * cos - h_im * sin - t_re
    im = h_re * sin + h_im * cos - t_im
    return re, im


# Scaled exactly where the squares could overflow (distances of 1e20 gave
# -inf): per coordinate for the sum of moduli, per row for the L2 norm.
def _scaled_sun(*raw):
    re, im = _rotation_residual(*_align_ranks(*raw))
    top = jnp.maximum(jnp.abs(re), jnp.abs(im))
    scale = _unit_scale(top, 2)
    # The second pass recomputes the residual (see _second_pass).
    re, im = _rotation_residual(*_align_ranks(*_second_pass(raw)))
    re, im = re * scale, im * scale
    return -jnp.sum(_safe_sqrt(re * re + im * im) / scale, axis=-1)


def _scaled_rotate_l2(*raw):
    re, im = _rotation_residual(*_align_ranks(*raw))
    top = jnp.maximum(jnp.abs(re), jnp.abs(im))
    scale = _unit_scale(jnp.max(top, axis=-1, initial=0), 2 * top.shape[-1])
    # The second pass recomputes the residual (see _second_pass).
    re, im = _rotation_residual(*_align_ranks(*_second_pass(raw)))
    re, im = re * scale[..., None], im * scale[..., None]
    return -_safe_sqrt(jnp.sum(re * re + im * im, axis=-1)) / scale


@jax.custom_jvp
def _sun_distance(h_re, h_im, t_re, t_im, cos, sin):
    """RotatE's sum of moduli ``-sum_i |h_i (cos_i + i sin_i) - t_i|`` of the
    small arrays before broadcasting.

    The JVP is ``-sum_i <u_i, dz_i>`` with ``u_i`` the unit direction of the
    residual, recomputed from the small arrays: the gradient of ``[q, 1, d]``
    queries against ``[1, E, d]`` entities keeps about 3 ``[q, E, d]``
    buffers, where autodiff of the value (its long-row ``lax.cond``
    included) kept 6.6 and the plain formula keeps 2.
    """
    raw = (h_re, h_im, t_re, t_im, cos, sin)
    re, im = _rotation_residual(*_align_ranks(*raw))
    result = -jnp.sum(_safe_sqrt(re * re + im * im), axis=-1)
    # Decided on the distances, not on the [..., dim] squares (a second
    # reduction of those made XLA materialise them: 12x the time): a
    # distance is at least each modulus, so any square above the limit
    # gives a squared distance above it (the scaled path keeps the bits of
    # the rows that do not need it).
    return _unless_long(
        result * result, result, _by_leading_slice_of(_scaled_sun), *raw
    )


@_sun_distance.defjvp
def _sun_distance_jvp(primals, tangents):
    out = _sun_distance(*primals)
    # The residual's unit direction ([..., dim]; 0 where it is 0), through a
    # cond as the value's long rows are: only when some square could
    # overflow is each coordinate first scaled by an exact power of two
    # (doing so always took 1.2x the time).
    limit = float(jnp.finfo(out.dtype).tiny) ** -0.5
    long = jnp.max(out * out, initial=0) > limit  # inf too
    u_re, u_im = jax.lax.cond(
        long,
        lambda *raw: _by_leading_slice(
            functools.partial(_unit_direction, scaled=True), raw
        ),
        lambda *raw: _unit_direction(*raw, scaled=False),
        *primals,
    )
    h_re, h_im, t_re, t_im, cos, sin = _align_ranks(*primals)
    dh_re, dh_im, dt_re, dt_im, dcos, dsin = _align_ranks(*tangents)
    d_re = dh_re * cos - dh_im * sin - dt_re + h_re * dcos - h_im * dsin
    d_im = dh_re * sin + dh_im * cos - dt_im + h_re * dsin + h_im * dcos
    return out, -jnp.sum(u_re * d_re + u_im * d_im, axis=-1)


def _unit_direction(*raw, scaled):
    """The rotation residual's unit direction per coordinate (0 where it is
    0); ``scaled``: each coordinate first brought into ``[0.5, 1)`` exactly,
    so squares cannot overflow or underflow."""
    re, im = _rotation_residual(*_align_ranks(*raw))
    if scaled:
        scale = _unit_scale(jnp.maximum(jnp.abs(re), jnp.abs(im)), 2)
        re, im = re * scale, im * scale
    sq = re * re + im * im
    inv = jnp.where(sq > 0, jax.lax.rsqrt(jnp.where(sq > 0, sq, 1)), 0)
    return re * inv, im * inv


def _by_leading_slice_of(f):
    return lambda *raw: _by_leading_slice(f, raw)


@jax.named_scope("jaxns.scoring.complex")
def complex(head: ArrayLike, relation: ArrayLike, tail: ArrayLike) -> jax.Array:
    r"""ComplEx score: the real part of the complex trilinear product.

    .. math:: f(h, r, t) = \operatorname{Re}\Big(\sum_{i=1}^{d} h_i\, r_i\,
       \overline{t_i}\Big)

    Entities and relations are complex vectors stored as real arrays
    ``[..., 2 * dim]``, real parts first, then imaginary parts (``dim``
    complex numbers). Inputs broadcast explicitly (see :func:`transe`).

    Args:
      head: float array ``[..., 2 * dim]``.
      relation: float array ``[..., 2 * dim]``.
      tail: float array ``[..., 2 * dim]``.

    Returns:
      Scores (higher = more plausible), the broadcast shape without the
      embedding axis.

    Raises:
      ValueError: for odd or unequal widths, or shapes that do not broadcast.
      TypeError: if an input is not floating point.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> h = jnp.array([1.0, 2.0])  # 1 + 2i
      >>> r = jnp.array([0.0, 1.0])  # i
      >>> t = jnp.array([3.0, 1.0])  # 3 + i
      >>> float(jaxns.scoring.complex(h, r, t))  # Re((1 + 2i) i (3 - i)) = -5
      -5.0

    References:
      Trouillon et al, `Complex Embeddings for Simple Link Prediction
      <https://arxiv.org/abs/1606.06357>`_, 2016.
    """
    fn = "scoring.complex"
    head = _checks.float_array(fn, "head", head)
    relation = _checks.float_array(fn, "relation", relation)
    tail = _checks.float_array(fn, "tail", tail)
    if relation.shape[-1:] != head.shape[-1:] or tail.shape[-1:] != head.shape[-1:]:
        raise ValueError(
            f"{fn}: head, relation and tail must have the same width 2 * dim, got "
            f"{head.shape}, {relation.shape} and {tail.shape}."
        )
    h_re, h_im = _split_complex(fn, "head", head)
    r_re, r_im = _split_complex(fn, "relation", relation)
    t_re, t_im = _split_complex(fn, "tail", tail)
    h_re, h_im, r_re, r_im, t_re, t_im = _kg_args(
        fn, h_re=h_re, h_im=h_im, r_re=r_re, r_im=r_im, t_re=t_re, t_im=t_im
    )
    # Re(h r conj(t)) with hr = (h_re r_re - h_im r_im) + i (h_re r_im + h_im r_re)
    hr_re = h_re * r_re - h_im * r_im
    hr_im = h_re * r_im + h_im * r_re
    return jnp.sum(hr_re * t_re + hr_im * t_im, axis=-1)
