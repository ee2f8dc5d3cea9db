# SPDX-License-Identifier: Apache-2.0
"""Fast skip-gram with negative sampling (SGNS) over a token stream.

The naive way to train word2vec in JAX builds one row per (centre, context)
pair, gathers ``2 + num_negatives`` embedding rows per pair and scatters as
many gradients back. That is memory-bound: every context word is read about
``2 * window`` times. This module instead trains on *chunks* of consecutive
centre words, following Ji et al. (2016):

* the input rows of a chunk's window, ``chunk_size + 2 * window`` consecutive
  tokens, are gathered once, and so are the output rows of its centres;
* the chunk's centres share ``negatives_per_chunk`` negatives drawn from the
  noise distribution; each (pair, negative) term is weighted by
  ``num_negatives / negatives_per_chunk``, so the expected gradient is
  exactly word2vec's ``num_negatives`` negatives per pair;
* all scores of a chunk come from one small matrix product
  ``[chunk + 2W, d] x [d, chunk + negatives]``, masked to the pairs that the
  dynamic windows and sentence boundaries allow, and the gradients are two
  more products of the same size.

The loss is word2vec's SGNS objective summed over pairs (see
:func:`jaxns.losses.sgns`); :func:`chunk_gradients` returns its exact
gradient with respect to the gathered rows, which :func:`make_trainer`
applies with any element-wise Optax transformation, row-sparsely.

Direction: like gensim, the *context* word's input vector is scored against
the *centre* word's output vector (and the negatives' output vectors).

The same chunks carry the rest of the family (:func:`block_gradients`): CBOW
(the mean of a centre's context vectors against its output vector, word2vec.c
and gensim's ``cbow_mean=1``) and fastText's subword inputs (a word's input
vector is the mean of its own row and its hashed character n-gram rows,
:mod:`jaxns.subwords`), for both models.
"""

from __future__ import annotations

import functools
import inspect
import math
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxns import _checks, optim, samplers, text
from jaxns import subwords as subwords_lib
from jaxns.text import PAD

__all__ = [
    "ChunkGradients",
    "SkipGramParams",
    "Stream",
    "Trainer",
    "call_progress",
    "chunk_gradients",
    "block_gradients",
    "init_params",
    "make_stream",
    "init_subword_params",
    "ReplicaState",
    "make_replica_trainer",
    "make_sharded_trainer",
    "make_trainer",
]


MODELS = ("skipgram", "cbow")


class SkipGramParams(NamedTuple):
    """The two embedding tables of word2vec.

    Attributes:
      input: ``[vocab_size, dim]`` the word vectors (gensim's ``wv``, ``syn0``).
      output: ``[vocab_size, dim]`` the context vectors (``syn1neg``).
    """

    input: jax.Array
    output: jax.Array


class ChunkGradients(NamedTuple):
    """Row gradients of the summed SGNS loss of one block (see
    :func:`chunk_gradients`). Ids of ``-1`` mark rows that carry no gradient.

    Attributes:
      loss: scalar, the summed SGNS loss of the block's live pairs.
      num_pairs: scalar ``int32``, the number of live (centre, context) pairs.
      input_ids: ``int32 [num_chunks * chunk_size + 2 * window]``, the block's
        tokens (each position once: overlapping chunk windows are summed).
      input_grads: ``[num_chunks * chunk_size + 2 * window, dim]``.
      output_ids: ``int32 [num_chunks * (chunk_size + negatives_per_chunk)]``.
      output_grads: ``[num_chunks * (chunk_size + negatives_per_chunk), dim]``.
    """

    loss: jax.Array
    num_pairs: jax.Array
    input_ids: jax.Array
    input_grads: jax.Array
    output_ids: jax.Array
    output_grads: jax.Array


def init_params(
    key: ArrayLike, vocab_size: int, dim: int, *, dtype: Any = jnp.float32
) -> SkipGramParams:
    """word2vec's initialisation: inputs ``U(-0.5/dim, 0.5/dim)``, outputs 0.

    Args:
      key: a single PRNG key.
      vocab_size: number of rows ``V``.
      dim: embedding size ``d``.
      dtype: the tables' dtype.

    Returns:
      :class:`SkipGramParams` with two ``[vocab_size, dim]`` tables.

    Examples:
      >>> import jax, jaxns
      >>> p = jaxns.word2vec.init_params(jax.random.key(0), 10, 4)
      >>> p.input.shape, float(abs(p.output).max())
      ((10, 4), 0.0)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "word2vec.init_params"
    _checks.key(fn, key)
    _checks.size(fn, "vocab_size", vocab_size, minimum=1)
    _checks.size(fn, "dim", dim, minimum=1)
    dtype = _checks.dtype(fn, "dtype", dtype)
    bound = 0.5 / dim
    inp = jax.random.uniform(key, (vocab_size, dim), dtype, -bound, bound)
    return SkipGramParams(inp, jnp.zeros((vocab_size, dim), dtype))


def chunk_gradients(
    params: SkipGramParams,
    tokens: ArrayLike,
    sentence_ids: ArrayLike,
    negatives: ArrayLike,
    window_reduction: ArrayLike,
    *,
    window: int,
    num_negatives: int,
    skip_hits: bool = True,
) -> ChunkGradients:
    """Exact row gradients of the SGNS loss of a block of chunked centres.

    The block holds ``num_chunks * chunk_size`` centre words,
    ``tokens[window : window + num_chunks * chunk_size]``, with ``window``
    tokens of context on each side. Centre ``c`` (at block position ``p``)
    pairs with the contexts ``p + o``, ``1 <= |o| <= window - b_c`` in its
    sentence, where ``b_c = window_reduction[c]``. Every pair of chunk ``g``
    is contrasted with the chunk's ``negatives[g]``, each weighted by
    ``num_negatives / negatives_per_chunk``:

    .. math::
       L = \\sum_{(c, x)} \\Big[\\mathrm{softplus}(-u_x \\cdot v_c)
           + \\frac{K}{K_c} \\sum_{n \\in N_{g(c)}}
             \\mathrm{softplus}(u_x \\cdot v_n)\\Big]

    with ``u`` the input and ``v`` the output table. With ``skip_hits`` (the
    default, as word2vec.c and gensim) a negative equal to the pair's centre
    word is left out of that pair's sum. With
    ``negatives_per_chunk = num_negatives`` and ``chunk_size = 1`` this is
    word2vec's loss with one draw of negatives per centre word.

    .. warning::
       Ids are checked against the vocabulary only when they are concrete
       (eager calls). Under ``jit`` (as inside :func:`make_trainer`) an id
       outside ``[0, V)`` is clamped by the gathers and reads another row;
       ids from :class:`jaxns.text.Vocabulary` and a sampler over the same
       vocabulary are always in range.

    Args:
      params: the two ``[V, d]`` tables.
      tokens: ``int [num_chunks * chunk_size + 2 * window]`` token ids after
        subsampling, ``-1`` for padding.
      sentence_ids: ``int`` like ``tokens``; pairs never cross sentences.
      negatives: ``int [num_chunks, negatives_per_chunk]`` noise draws.
      window_reduction: ``int [num_chunks, chunk_size]`` the ``b`` of each
        centre, in ``[0, window)``.
      window: maximum window ``W`` (static).
      num_negatives: ``K``, negatives per pair in expectation (static).
      skip_hits: leave out (pair, negative) terms whose negative is the
        pair's centre word, as word2vec.c and gensim skip such draws.

    Returns:
      :class:`ChunkGradients`: the summed loss, the number of live pairs, and
      row ids with the loss's gradient with respect to those rows (duplicates
      not merged; ``-1`` ids for padding rows, whose gradients are 0).

    Raises:
      ValueError: for inconsistent shapes or sizes, or concrete ids out of
        range.
      TypeError: for non-integer ids or non-float tables.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> p = jaxns.word2vec.init_params(jax.random.key(0), 5, 3)
      >>> g = jaxns.word2vec.chunk_gradients(
      ...     p, jnp.array([-1, 0, 1, 2, 3, -1]), jnp.zeros(6, jnp.int32),
      ...     jnp.array([[4, 4]]), jnp.zeros((1, 4), jnp.int32),
      ...     window=1, num_negatives=2)
      >>> int(g.num_pairs), g.input_grads.shape, g.output_ids.tolist()
      (6, (6, 3), [0, 1, 2, 3, 4, 4])

    References:
      Ji et al, `Parallelizing Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016. Mikolov et al,
      `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "word2vec.chunk_gradients"
    window = _checks.size(fn, "window", window, minimum=1)
    num_negatives = _checks.size(fn, "num_negatives", num_negatives, minimum=1)
    _checks.flag(fn, "skip_hits", skip_hits)
    tokens = _checks.int_array(fn, "tokens", tokens, ndim=1)
    sentence_ids = _checks.int_array(fn, "sentence_ids", sentence_ids, ndim=1)
    negatives = _checks.int_array(fn, "negatives", negatives, ndim=2)
    window_reduction = _checks.int_array(
        fn, "window_reduction", window_reduction, ndim=2
    )
    num_chunks, chunk = window_reduction.shape
    _checks.check_shape(fn, "negatives", negatives, (num_chunks, None))
    if negatives.shape[1] < 1:
        raise ValueError(
            f"{fn}: negatives must hold at least one draw per chunk, got shape "
            f"{tuple(negatives.shape)}."
        )
    _checks.check_shape(fn, "tokens", tokens, (num_chunks * chunk + 2 * window,))
    _checks.same_shape(fn, "sentence_ids", sentence_ids, "tokens", tokens)
    if not isinstance(params, SkipGramParams | tuple) or len(params) != 2:
        raise TypeError(
            f"{fn}: params must be a SkipGramParams(input, output), got "
            f"{type(params).__name__}."
        )
    u = _checks.float_array(fn, "params.input", params[0], ndim=2)
    v = _checks.float_array(fn, "params.output", params[1], ndim=2)
    _checks.same_shape(fn, "params.input", u, "params.output", v)
    vocab_size = u.shape[0]
    # Gathers clamp out-of-range ids under jit; concrete ids are checked here.
    _checks.values_in_range(
        fn, "tokens", tokens, PAD, vocab_size, what="token ids, -1 for padding"
    )
    _checks.values_in_range(fn, "negatives", negatives, 0, vocab_size, what="ids")
    _checks.values_in_range(fn, "window_reduction", window_reduction, 0, window)
    return _chunk_gradients(
        u.__getitem__, v.__getitem__, tokens, sentence_ids, negatives,
        window_reduction, window=window, num_negatives=num_negatives,
        skip_hits=skip_hits,
    )  # fmt: skip


def _chunk_gradients(
    input_rows, output_rows, tokens, sentence_ids, negatives, window_reduction, *,
    window, num_negatives, skip_hits,
):  # fmt: skip
    """:func:`chunk_gradients` on validated inputs, with the row reads supplied.

    ``input_rows(ids [n])`` returns the input table's ``[n, d]`` rows and
    ``output_rows(ids [G, C + Kc])`` the output table's ``[G, C + Kc, d]``
    rows (ids clamped to 0 where a token is padding), so the vocabulary-
    sharded trainer can hand in rows it fetched from their owners.
    """
    num_chunks, chunk = window_reduction.shape
    neg_per_chunk = negatives.shape[1]
    tokens = tokens.astype(jnp.int32)
    valid = tokens >= 0
    safe = jnp.where(valid, tokens, 0)
    x_rows = input_rows(safe)
    dim = x_rows.shape[1]
    # Compute in at least float32 (bfloat16 tables are upcast).
    bits = jnp.finfo(x_rows.dtype).bits
    compute = x_rows.dtype if bits >= 32 else jnp.dtype(jnp.float32)
    win, ctr_tok, ctr_ok, live = _chunk_pairs(
        valid, safe, sentence_ids, window_reduction, num_chunks, chunk, window
    )
    live_f = live.astype(compute)
    negatives = negatives.astype(jnp.int32)
    # Each live pair contributes K/Kc times each shared negative's term.
    alpha = num_negatives / neg_per_chunk
    neg_weight = jnp.sum(live_f, axis=-1, keepdims=True) * alpha  # [G, R, 1]

    # Gather each position's row once; chunk windows overlap by 2W rows.
    x = x_rows.astype(compute)[win]  # [G, R, d]
    y_rows = output_rows(_output_reads(safe, negatives, window_reduction, window))
    y = y_rows.astype(compute)  # [G, C + Kc, d]
    scores = jnp.einsum("grd,god->gro", x, y)
    # Positives enter as softplus(-s), negatives as softplus(s): flip the
    # positive columns once, then one pass gives both loss and gradient.
    sign = jnp.concatenate(
        [-jnp.ones((chunk,), compute), jnp.ones((neg_per_chunk,), compute)]
    )[None, None, :]
    neg_w = jnp.broadcast_to(neg_weight, (*live_f.shape[:2], neg_per_chunk))
    if skip_hits:
        # A negative equal to centre c scores exactly like c's positive column
        # (same output row), so leaving it out of c's pairs is a correction on
        # that column: -alpha * hits_c * softplus(s), and softplus(s) equals
        # softplus(-s) + s. With z = -s there: weight live - a and a term a*z.
        hits = jnp.sum(ctr_tok[:, :, None] == negatives[:, None, :], axis=-1)
        a = live_f * (alpha * hits.astype(compute))[:, None, :]  # [G, R, C]
        weight = jnp.concatenate([live_f - a, neg_w], axis=-1)
        linear = jnp.concatenate([a, jnp.zeros_like(neg_w)], axis=-1)
    else:
        weight = jnp.concatenate([live_f, neg_w], axis=-1)
        linear = None
    z = scores * sign
    sig, soft = _sigmoid_softplus(z)
    # d softplus(z)/dz = sigmoid(z), and z = sign * s.
    if linear is None:
        loss = jnp.sum(weight * soft)
        dscores = sign * sig * weight
    else:
        loss = jnp.sum(weight * soft + linear * z)
        dscores = sign * (sig * weight + linear)
    dx = jnp.einsum("gro,god->grd", dscores, y)
    dy = jnp.einsum("gro,grd->god", dscores, x)

    in_ids = jnp.where(valid, tokens, PAD)
    dx = _fold_windows(dx, chunk, window)
    # A chunk without pairs uses none of its draws: they are not touched
    # (no optimizer state moves for them, and no row counts them).
    used = jnp.any(live, axis=(1, 2))[:, None]
    out_ids = jnp.concatenate(
        [jnp.where(ctr_ok, ctr_tok, PAD), jnp.where(used, negatives, PAD)], axis=1
    ).reshape(-1)
    return ChunkGradients(
        loss=loss,
        num_pairs=jnp.sum(live, dtype=jnp.int32),
        input_ids=in_ids,
        input_grads=dx.astype(x_rows.dtype),
        output_ids=out_ids,
        output_grads=dy.reshape(-1, dim).astype(y_rows.dtype),
    )


def _chunk_pairs(
    valid, safe, sentence_ids, window_reduction, num_chunks, chunk, window
):
    """The live (context, centre) pairs of a block's chunks, shared by the kernels.

    Returns ``win [G, R]`` (block positions of each chunk's window rows),
    ``ctr_tok``/``ctr_ok [G, C]`` (centre ids and validity) and ``live
    [G, R, C]``: window row ``r`` is a context of centre ``c`` (inside the
    dynamic window, both tokens real, same sentence).
    """
    rows = chunk + 2 * window
    win = (
        jnp.arange(num_chunks, dtype=jnp.int32)[:, None] * chunk
        + jnp.arange(rows, dtype=jnp.int32)[None, :]
    )
    ctx_ok, ctx_sent = valid[win], sentence_ids[win]
    centre = slice(window, window + num_chunks * chunk)
    ctr_tok = safe[centre].reshape(num_chunks, chunk)
    ctr_ok = valid[centre].reshape(num_chunks, chunk)
    ctr_sent = sentence_ids[centre].reshape(num_chunks, chunk)
    # offset[r, c] of window row r from centre c.
    offset = jnp.abs(
        jnp.arange(rows, dtype=jnp.int32)[:, None]
        - (jnp.arange(chunk, dtype=jnp.int32)[None, :] + window)
    )
    reach = window - window_reduction.astype(jnp.int32)
    live = (
        (offset[None] >= 1)
        & (offset[None] <= reach[:, None, :])
        & ctx_ok[:, :, None]
        & ctr_ok[:, None, :]
        & (ctx_sent[:, :, None] == ctr_sent[:, None, :])
    )
    return win, ctr_tok, ctr_ok, live


def _scale_by_progress(schedule: optax.Schedule) -> optax.GradientTransformation:
    """Multiplies updates by ``-schedule(progress)``; ``progress`` is an extra
    argument of ``update`` (words processed, not steps taken)."""

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None, *, progress, **extra_args):
        del params, extra_args
        lr = schedule(progress)
        return jax.tree.map(lambda u: (-lr * u).astype(u.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init, update)


def _fold_windows(dx: jax.Array, chunk: int, window: int) -> jax.Array:
    """Sums window rows ``[G, chunk + 2W, d]`` onto block positions
    ``[G * chunk + 2W, d]`` (row ``r`` of chunk ``g`` is position ``g*chunk + r``)."""
    num_chunks, rows, dim = dx.shape
    length = num_chunks * chunk + 2 * window
    if chunk < 2 * window:  # windows overlap more than one neighbour
        pos = (
            jnp.arange(num_chunks, dtype=jnp.int32)[:, None] * chunk
            + jnp.arange(rows, dtype=jnp.int32)[None, :]
        )
        return jax.ops.segment_sum(dx.reshape(-1, dim), pos.reshape(-1), length)
    # With chunk >= 2W only the next chunk is reached: two shifted adds.
    head = dx[:, :chunk].reshape(-1, dim)  # positions g*chunk + [0, chunk)
    tail = jnp.pad(dx[:, chunk:], ((0, 0), (0, chunk - 2 * window), (0, 0)))
    tail = tail.reshape(-1, dim)  # positions (g+1)*chunk + [0, chunk)
    zeros = jnp.zeros((chunk, dim), dx.dtype)
    total = jnp.concatenate([head, zeros]) + jnp.concatenate([zeros, tail])
    return total[:length]


def _row_scale(
    ids: jax.Array, vocab: int, cap: Any, like: jax.Array, counted: Any = None
) -> jax.Array:
    """``[n, 1]`` ``min(1, cap / count)``, ``count`` the occurrences of
    ``ids[i]`` in ``ids`` (only where ``counted``, if given); 0 for ids < 0."""
    valid = ids >= 0
    safe = jnp.where(valid, ids, 0)
    counts_as = valid if counted is None else valid & counted
    counts = jnp.zeros((vocab,), jnp.int32).at[safe].add(counts_as.astype(jnp.int32))
    scale = jnp.minimum(cap / jnp.maximum(counts[safe], 1).astype(like.dtype), 1.0)
    return jnp.where(valid, scale, jnp.zeros_like(scale))[:, None]


def _sigmoid_softplus(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sigmoid(z), softplus(z))`` from one shared ``exp(-|z|)``; stable."""
    e = jnp.exp(-jnp.abs(z))
    inv = 1.0 / (1.0 + e)
    sig = jnp.where(z >= 0, inv, e * inv)
    return sig, jnp.maximum(z, 0.0) + jnp.log1p(e)


class Stream(NamedTuple):
    """One epoch's token stream, laid out as :attr:`Trainer.train` reads it.

    ``window`` padding tokens (``-1``) come first, then the kept tokens, then
    padding up to ``num_tokens + block_size + 2 * window`` in all, so every
    call of an epoch reads a full block without leaving the stream. Build it
    with :func:`make_stream` (or :meth:`Trainer.stream`).

    Attributes:
      tokens: ``int32 [length]`` token ids, ``-1`` for padding.
      sentence_ids: ``int32 [length]`` sentence of each token (``-1`` on
        padding); pairs never cross sentences.
      num_tokens: ``int32`` scalar, the tokens kept after subsampling.
    """

    tokens: jax.Array
    sentence_ids: jax.Array
    num_tokens: jax.Array

    def num_calls(self, block_size: int) -> int:
        """The number of :attr:`Trainer.train` calls that cover the stream.

        Reads ``num_tokens`` back to the host (not under ``jit``).

        Args:
          block_size: the tokens one call trains on
            (:attr:`Trainer.block_size`).

        Returns:
          ``max(1, ceil(num_tokens / block_size))``, an int.

        Examples:
          >>> import jax, jax.numpy as jnp, jaxns
          >>> stream = jaxns.word2vec.make_stream(
          ...     jax.random.key(0), jnp.arange(10), jnp.zeros(10, jnp.int32),
          ...     jnp.ones(10), window=1, block_size=4)
          >>> stream.num_calls(4)
          3
        """
        block_size = _checks.size(
            "word2vec.Stream.num_calls", "block_size", block_size, minimum=1
        )
        return max(1, -(-int(self.num_tokens) // block_size))


def make_stream(
    key: ArrayLike,
    ids: ArrayLike,
    sentence_ids: ArrayLike,
    keep_prob: ArrayLike,
    *,
    window: int,
    block_size: int,
    shuffle: bool = False,
    max_sentences: int | None = None,
) -> Stream:
    """Subsamples an encoded corpus and lays it out for :attr:`Trainer.train`.

    Drops each token with word2vec's keep probability (see
    :func:`jaxns.text.subsample`; ``jaxns.text.keep_probability(counts, 0)``
    keeps everything) and pads the kept tokens with ``window`` padding tokens
    in front and ``block_size + window`` behind. Call it once per epoch with
    a fresh key, as word2vec.c and gensim subsample every epoch afresh.
    Jittable with ``window``, ``block_size``, ``shuffle`` and
    ``max_sentences`` static.

    With ``shuffle=True`` the kept sentences are put in a random order (each
    sentence's tokens stay together and in order): the key is split into a
    subsampling key and a shuffling key, each run of equal ``sentence_ids``
    among the kept tokens (run ``r`` counted from 0) is given the sort key
    ``jax.random.bits(shuffle_key, (num_tokens,), uint32)[r]``, and the kept
    tokens are stably sorted by it. An update of many consecutive centres
    then draws them from sentences all over the corpus instead of from one
    stretch of text, so the words of one topic do not pile up in one update.
    With ``max_sentences`` (a bound on the number of such runs, e.g. the
    corpus's number of sentences) only the runs are sorted, ``R log R``
    instead of ``n log n`` work, with the same result; if the bound is too
    small the whole-token sort runs instead (a ``lax.cond``), so the result
    never depends on it.

    Args:
      key: a single PRNG key (for the subsampling draws).
      ids: ``int [num_tokens]`` token ids, e.g.
        :attr:`jaxns.text.EncodedCorpus.ids`.
      sentence_ids: ``int [num_tokens]`` sentence of each token.
      keep_prob: ``float [vocab_size]`` from
        :func:`jaxns.text.keep_probability`.
      window: the trainer's maximum window ``W`` (:attr:`Trainer.window`).
      block_size: centres per ``train`` call (:attr:`Trainer.block_size`).
      shuffle: put the kept sentences in a random order (see above).
      max_sentences: optional bound on the number of runs of equal
        ``sentence_ids`` (static); makes ``shuffle`` cheaper, never changes
        the stream.

    Returns:
      A :class:`Stream` of length ``num_tokens + block_size + 2 * window``.

    Raises:
      TypeError: for a non-key, non-integer ids or non-float keep_prob.
      ValueError: for a key array, mismatched shapes or non-positive sizes.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> s = jaxns.word2vec.make_stream(
      ...     jax.random.key(0), jnp.array([0, 1, 2]), jnp.array([0, 0, 1]),
      ...     jnp.ones(3), window=1, block_size=2)
      >>> s.tokens.tolist(), s.sentence_ids.tolist(), int(s.num_tokens)
      ([-1, 0, 1, 2, -1, -1, -1], [-1, 0, 0, 1, -1, -1, -1], 3)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013
      (subsampling of frequent words).
    """
    fn = "word2vec.make_stream"
    with jax.named_scope("jaxns.word2vec.make_stream"):
        _checks.key(fn, key)
        window = _checks.size(fn, "window", window, minimum=1)
        block_size = _checks.size(fn, "block_size", block_size, minimum=1)
        ids = _checks.int_array(fn, "ids", ids, ndim=1)
        sentence_ids = _checks.int_array(fn, "sentence_ids", sentence_ids, ndim=1)
        _checks.same_shape(fn, "sentence_ids", sentence_ids, "ids", ids)
        _checks.float_array(fn, "keep_prob", keep_prob, ndim=1)
        shuffle = _checks.flag(fn, "shuffle", shuffle)
        if max_sentences is not None:
            max_sentences = _checks.size(fn, "max_sentences", max_sentences, minimum=1)
        if shuffle:
            key, shuffle_key = jax.random.split(key)
        kept, sents, num_kept = text.subsample(key, ids, keep_prob, sentence_ids)
        if shuffle:
            kept, sents = _shuffle_sentences(
                shuffle_key, kept, sents, num_kept, max_sentences
            )
        front = jnp.full((window,), PAD, jnp.int32)
        back = jnp.full((block_size + window,), PAD, jnp.int32)
        return Stream(
            jnp.concatenate([front, kept, back]),
            jnp.concatenate([front, sents, back]),
            num_kept,
        )


def _shuffle_sentences(key, kept, sents, num_kept, max_runs=None):
    """Stably sorts the kept prefix by a random ``uint32`` per run of equal
    sentence ids; padding after the prefix stays last. With ``max_runs``
    (static) only the runs are sorted when there are at most that many."""
    n = kept.shape[0]
    if n == 0:  # an empty corpus: nothing to order
        return kept, sents
    position = jnp.arange(n, dtype=jnp.int32)
    real = position < num_kept
    starts = jnp.concatenate([jnp.ones((1,), bool), sents[1:] != sents[:-1]])
    bits = jax.random.bits(key, (n,), jnp.uint32)
    top = jnp.asarray(np.iinfo(np.uint32).max, jnp.uint32)

    def by_tokens(_):
        run = jnp.cumsum(starts, dtype=jnp.int32) - 1
        # Padding sorts last: its key is the largest, and a real run whose
        # key is that too comes first as the sort is stable.
        order_key = jnp.where(real, bits[run], top)
        _, order = jax.lax.sort((order_key, position), num_keys=1, is_stable=True)
        return order

    if max_runs is None or max_runs >= n:
        order = by_tokens(None)
        return kept[order], sents[order]

    heads_mask = starts & real
    num_runs = jnp.sum(heads_mask, dtype=jnp.int32)

    def by_runs(_):
        # Run r (its first token at heads[r]) keeps the key bits[r]; sorting
        # the runs stably by it is the token sort above, run by run.
        r = jnp.arange(max_runs, dtype=jnp.int32)
        heads = jnp.nonzero(heads_mask, size=max_runs, fill_value=n)[0]
        valid = r < num_runs
        _, order = jax.lax.sort(
            (jnp.where(valid, bits[:max_runs], top), r), num_keys=1, is_stable=True
        )
        ends = jnp.minimum(jnp.append(heads[1:], n), num_kept)
        length = jnp.where(valid, ends - heads, 0)[order]
        first = jnp.cumsum(length) - length  # output start of each run
        # Output position p lies in the run whose start is the last <= p.
        at = jnp.where(length > 0, first, n)
        marks = jnp.zeros((n,), jnp.int32).at[at].add(1, mode="drop")
        k = jnp.maximum(jnp.cumsum(marks) - 1, 0)
        src = heads[order][k] + (position - first[k])
        return jnp.where(real, src, position)

    order = jax.lax.cond(num_runs <= max_runs, by_runs, by_tokens, None)
    return kept[order], sents[order]


def call_progress(
    epoch: int, call: int, num_calls: int, words_per_epoch: float
) -> tuple[float, float]:
    """The span of raw words that call ``call`` of an epoch stands for.

    word2vec.c and gensim decay the learning rate linearly over the raw words
    of all epochs (every word of the corpus, also the ones subsampling or
    ``min_count`` drop). A :class:`Stream` is cut into ``num_calls`` equal
    calls, so call ``c`` of epoch ``e`` covers raw words
    ``e * R + R * c / n`` to ``e * R + R * (c + 1) / n``; pass the pair as
    ``progress`` to :attr:`Trainer.train` with a schedule over
    ``epochs * R`` words.

    Args:
      epoch: the epoch, from 0.
      call: the call within the epoch, from 0.
      num_calls: calls per epoch, :meth:`Stream.num_calls`.
      words_per_epoch: raw words of the corpus ``R``
        (:attr:`jaxns.text.EncodedCorpus.num_raw_words`).

    Returns:
      ``(progress0, progress1)``, Python floats.

    Examples:
      >>> import jaxns
      >>> jaxns.word2vec.call_progress(1, 2, 4, 1000)
      (1500.0, 1750.0)

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013 (a learning rate
      decreased linearly to zero over the training words).
    """
    fn = "word2vec.call_progress"
    epoch = _checks.size(fn, "epoch", epoch)
    num_calls = _checks.size(fn, "num_calls", num_calls, minimum=1)
    call = _checks.size(fn, "call", call, maximum=num_calls - 1)
    words = float(
        _checks.number(fn, "words_per_epoch", words_per_epoch, nonnegative=True)
    )
    base = epoch * words
    return base + words * call / num_calls, base + words * (call + 1) / num_calls


class Trainer(NamedTuple):
    """What :func:`make_trainer` returns.

    Attributes:
      init: ``init(params) -> opt_state``.
      train: ``train(key, params, opt_state, stream, start, progress) ->
        (params, opt_state, loss_sum, num_pairs)`` (``loss_sum`` is 0 for a
        trainer built with ``compute_loss=False``): runs the updates of the
        ``block_size`` centres from ``stream.tokens[start + window]`` on,
        with the learning rate at raw-word progress interpolated linearly
        across ``progress = (progress0, progress1)`` (real numbers of any
        type, computed in float32). ``params`` and
        ``opt_state`` are donated. ``start`` must be a multiple of the batch
        size (checked when it is a concrete number). ``train.lower`` compiles
        ahead of time, as ``jax.jit`` does.
      block_size: centres consumed by one ``train`` call.
      window: the maximum window ``W`` (for :func:`make_stream`).
      train_arrays: the same jitted update with the arrays spelt out, the
        signature ``train`` had before: ``train_arrays(params, opt_state,
        tokens, sentence_ids, start, key, progress0, progress1)``.
      shuffle: whether :meth:`stream` puts the sentences in a random order
        (:func:`make_stream`'s ``shuffle``).
      stream_sharding: where :meth:`stream` puts the stream's arrays
        (``None``: where :func:`make_stream` leaves them).
        :func:`make_sharded_trainer` and :func:`make_replica_trainer`
        replicate them over their mesh, once per stream, so that no
        ``train`` call copies them to the devices.
      subword_rows: with ``subwords``, the input rows one update gathers in
        its first page (:func:`make_trainer`'s ``subword_rows``, the default
        resolved); ``None`` without subwords.
      train_touched: ``train_arrays`` that also marks the rows it may write:
        ``train_touched(params, opt_state, touched, tokens, sentence_ids,
        start, key, progress0, progress1) -> (params, opt_state, touched,
        loss_sum, num_pairs)``, where ``touched`` is a
        :class:`SkipGramParams` of two boolean masks, of shapes ``[V_in]``
        and ``[V_out]`` (the tables' rows), OR-ed with the rows the call's
        updates scatter to (a superset of the rows whose values change).
        ``params``, ``opt_state`` and ``touched`` are donated.
        :func:`make_replica_trainer` merges only these rows. ``None`` for
        the trainers of :func:`make_sharded_trainer` and
        :func:`make_replica_trainer`.
    """

    init: Callable[[SkipGramParams], Any]
    train: Callable[..., tuple[SkipGramParams, Any, jax.Array, jax.Array]]
    block_size: int
    window: int
    train_arrays: Callable[..., tuple[SkipGramParams, Any, jax.Array, jax.Array]]
    shuffle: bool = False
    stream_sharding: jax.sharding.Sharding | None = None
    subword_rows: int | None = None
    train_touched: Callable[..., tuple[Any, ...]] | None = None

    def stream(
        self,
        key: ArrayLike,
        ids: ArrayLike,
        sentence_ids: ArrayLike,
        keep_prob: ArrayLike,
        *,
        max_sentences: int | None = None,
    ) -> Stream:
        """:func:`make_stream` with this trainer's ``window``, ``block_size``
        and ``shuffle``.

        Args:
          key: a single PRNG key (for the subsampling draws).
          ids: ``int [num_tokens]`` token ids.
          sentence_ids: ``int [num_tokens]`` sentence of each token.
          keep_prob: ``float [vocab_size]`` keep probabilities.
          max_sentences: optional static bound on the number of sentences,
            which makes ``shuffle`` cheaper (see :func:`make_stream`).

        Returns:
          A :class:`Stream` of length ``num_tokens + block_size + 2 * window``,
          placed with :attr:`stream_sharding` when it is set.

        Examples:
          >>> import jax, jax.numpy as jnp, optax, jaxns
          >>> t = jaxns.word2vec.make_trainer(
          ...     jaxns.samplers.uniform(4), learning_rate=optax.constant_schedule(
          ...     0.1), window=1, batch_size=4, chunk_size=4, steps_per_call=1)
          >>> s = t.stream(jax.random.key(0), jnp.arange(4), jnp.zeros(4, jnp.int32),
          ...              jnp.ones(4))
          >>> s.tokens.shape, s.num_calls(t.block_size)
          ((10,), 1)

        References:
          Mikolov et al, `Distributed Representations of Words and Phrases
          and their Compositionality <https://arxiv.org/abs/1310.4546>`_,
          2013 (subsampling of frequent words).
        """
        stream = make_stream(
            key,
            ids,
            sentence_ids,
            keep_prob,
            window=self.window,
            block_size=self.block_size,
            shuffle=self.shuffle,
            max_sentences=max_sentences,
        )
        if self.stream_sharding is None:
            return stream
        return jax.device_put(stream, self.stream_sharding)


def _float32_progress(*progress: ArrayLike) -> tuple[jax.Array, ...]:
    """``progress`` as float32, whatever number type it comes as: Python
    numbers already trace as (weak) float32, while NumPy integers or x64
    float64 would not combine with float32 under strict promotion."""
    return tuple(jnp.asarray(p).astype(jnp.float32) for p in progress)


def _update_draws(
    sampler, key, indices, num_chunks, chunk_size, negatives_per_chunk, window
):
    """The dynamic-window reductions ``int32 [S, G, C]`` and chunk negatives
    ``[S, G, Kc]`` of updates ``indices [S]``: update ``i`` draws them from
    ``fold_in(key, i)``, so they do not depend on how updates are grouped.

    A call draws for all its updates at once: XLA:CPU runs threefry as a
    loop of small ops, whose launch cost would recur in every update."""

    def draw(index):
        k_window, k_neg = jax.random.split(jax.random.fold_in(key, index))
        reduction = jax.random.randint(
            k_window, (num_chunks, chunk_size), 0, window, dtype=jnp.int32
        )
        return reduction, sampler.sample(k_neg, (num_chunks, negatives_per_chunk))

    return jax.vmap(draw)(indices)


def _train_call(key, stream, start, progress, block_size, batch_size, window):
    """The static checks of ``Trainer.train`` (one- and multi-device); returns
    ``progress`` as a tuple."""
    name = "word2vec.Trainer.train"
    _checks.key(name, key)
    if not isinstance(stream, Stream):
        raise TypeError(
            f"{name}: stream must be a word2vec.Stream, got "
            f"{type(stream).__name__}. Build it with trainer.stream(...) or "
            "word2vec.make_stream(...); train_arrays takes bare arrays."
        )
    if not isinstance(progress, tuple | list) or len(progress) != 2:
        raise TypeError(
            f"{name}: progress must be a pair (progress0, progress1), got "
            f"{_checks._describe(progress)}."
        )
    length = np.shape(stream.tokens)[0] if np.ndim(stream.tokens) else 0
    if length < block_size + 2 * window:
        raise ValueError(
            f"{name}: stream.tokens must hold at least block_size + 2 * window "
            f"= {block_size + 2 * window} tokens, got shape "
            f"{np.shape(stream.tokens)}. Build the stream with trainer.stream."
        )
    if isinstance(start, jax.Array):
        # Reading a device value back would stall the pipeline: check
        # only its type here (under jit nothing more is possible).
        _checks.int_array(name, "start", start, ndim=0)
    else:
        value = _checks.size(name, "start", start)
        if value % batch_size:
            raise ValueError(
                f"{name}: start must be a multiple of batch_size "
                f"{batch_size}, got {value}. Use call * trainer.block_size."
            )
        last = length - block_size - 2 * window
        if value > last:
            raise ValueError(
                f"{name}: start must be <= {last} for a stream of "
                f"{length} tokens (block_size {block_size}, "
                f"window {window}), got {value}."
            )
    return tuple(progress)


def make_trainer(
    sampler: Any,
    *,
    learning_rate: optax.Schedule,
    optimizer: optax.GradientTransformation | None = None,
    window: int = 5,
    num_negatives: int = 5,
    batch_size: int = 128,
    chunk_size: int = 16,
    negatives_per_chunk: int = 16,
    steps_per_call: int = 128,
    skip_hits: bool = True,
    duplicate_rows: str | int = "sum",
    compiler_options: dict[str, Any] | None = None,
    model: str = "skipgram",
    subwords: ArrayLike | None = None,
    subword_rows: int | None = None,
    shuffle: bool = False,
    max_row_rate: float | None = None,
    compute_loss: bool = True,
) -> Trainer:
    """Builds a jitted SGNS training loop over a device-resident token stream.

    One ``train`` call runs ``steps_per_call`` updates with ``lax.scan``. Each
    update takes the next ``batch_size`` centres of the stream, draws their
    dynamic windows and chunk negatives, computes :func:`chunk_gradients`,
    turns them into updates with ``optimizer`` (row-sparse: only touched rows
    and their optimizer state are read and written) and subtracts
    ``learning_rate(progress)`` times them. ``progress`` is interpolated
    linearly from ``progress0`` to ``progress1`` across the call's updates
    (update ``i`` of ``n`` uses ``progress0 + i / n * (progress1 -
    progress0)``). :func:`call_progress` spreads an epoch's raw words evenly
    over its calls, so a schedule over raw words processed (gensim's linear
    decay) is followed to within one call: the last call of an epoch is
    partly padding (updates without centres), and its real updates see a
    progress up to one call's span lower than the words they read. With
    ``steps_per_call=1`` that is one update.

    A training loop over epochs reads (a fresh key per epoch, so that each
    epoch subsamples and draws anew)::

        trainer = make_trainer(sampler, learning_rate=schedule)
        for epoch in range(epochs):
            k_sub, k_train = jax.random.split(jax.random.fold_in(key, epoch))
            stream = trainer.stream(k_sub, corpus.ids, corpus.sentence_ids, keep)
            n = stream.num_calls(trainer.block_size)
            for call in range(n):
                params, state, loss, pairs = trainer.train(
                    k_train, params, state, stream, call * trainer.block_size,
                    call_progress(epoch, call, n, corpus.num_raw_words))

    **On CPU, give XLA one thread.** XLA:CPU sizes its thread pool when JAX
    starts (by the cores the process may use, or by the environment variable
    ``NPROC``) and splits the larger loops of a program it compiles into
    that many parallel tasks. This step's loops are small, and handing their
    pieces between threads costs more than the other cores give back: on 2
    cores a one-thread pool trains 1.17x (skip-gram), 1.40x (CBOW) and 1.42x
    (fastText) the raw words per second of XLA's default pool (``python
    benchmarks/cpu_threads.py``). Set ``NPROC=1`` in the
    environment before JAX starts (``examples/skipgram.py`` pins the process
    to one core while the backend starts instead, its ``--threads 1``), and
    use the other cores with replicas (:func:`make_replica_trainer`, one
    host device per core: about 1.5x one thread on 2 cores). The persistent
    compilation cache's key does not include the pool size, so a cached
    program keeps the splits of the pool it was compiled under: give each
    pool size its own ``jax_compilation_cache_dir`` (``examples/skipgram.py``
    does).

    Args:
      sampler: a noise distribution with ``sample(key, shape)``, e.g.
        ``jaxns.samplers.unigram(counts, power=0.75)``; passed to the jitted
        function as an argument of ``train``'s closure. A
        :class:`jaxns.samplers.Sampler` must draw among exactly the
        vocabulary's ids (its ``num_classes`` is the number of rows of
        ``params.output``, and of ``subwords``); give zero weight to words
        that must never be negatives.
      learning_rate: an Optax schedule of ``progress``.
      optimizer: an element-wise Optax transformation *without* learning rate
        (``optax.identity()`` for word2vec's SGD, the default;
        ``optax.scale_by_rss()`` for Adagrad; ``optax.scale_by_adam()``).
      window: maximum window ``W``.
      num_negatives: negatives per pair ``K`` (in expectation).
      batch_size: centres per update (a multiple of ``chunk_size``). Updates
        of one batch are computed from the same parameters, so a frequent
        word's rows receive many summed (stale) updates at once; with SGD at
        word2vec's learning rate, 128-512 keeps gensim's quality on real
        corpora, while 1024 already loses some and 2048 can diverge. On a
        GPU or TPU one such update is far too little work to fill the device:
        with ``shuffle=True`` and ``max_row_rate=0.2`` (or
        ``duplicate_rows=8``) 16,384 centres per update keep gensim's
        quality at word2vec's learning rate (see ``benchmarks/RESULTS.md``,
        "Large updates"); raise ``steps_per_call`` to cut dispatch overhead.
      chunk_size: consecutive centres sharing one set of negatives.
      negatives_per_chunk: noise draws per chunk, each weighted
        ``num_negatives / negatives_per_chunk``. A context word pairs with
        about ten centres of its chunk, all contrasted with the same draws:
        with 8 per chunk its gradient concentrates on 8 directions and
        analogy accuracy falls about 0.02 below gensim's on a 6.4M-token
        corpus; 16 (the default) gives gensim's analogy accuracy. On one
        CPU thread 8 train skip-gram 1.13-1.30x, CBOW 1.21-1.23x and
        fastText skip-gram 0.91-1.08x as fast as 16 (``python
        benchmarks/word2vec_options.py``).
      steps_per_call: updates fused into one ``train`` call.
      skip_hits: leave out a negative for the pairs whose centre it equals,
        as word2vec.c and gensim do (see :func:`chunk_gradients`). On one
        CPU thread ``False`` trains skip-gram 1.09-1.10x as fast, CBOW
        0.95-1.05x and fastText skip-gram 0.99-1.02x (``python
        benchmarks/word2vec_options.py``).
      duplicate_rows: how one update combines the ``n`` row gradients that
        a batch gives the same table row (counted per table: the positions
        of a word for ``input``; its centre positions and negative draws
        for ``output``). ``"sum"`` (the default) adds them, as ``n``
        sequential SGD steps would to first order; with large batches a
        frequent word's ``n`` grows with ``batch_size`` and the summed step
        diverges (2,048 centres at lr 0.025). ``"mean"`` divides the sum by
        ``n``; an integer ``c`` multiplies it by ``min(1, c / n)``: rows
        seen at most ``c`` times are summed as before, more frequent ones
        move by at most ``c`` averaged steps per update (``"mean"`` is
        ``c = 1``). Applied before ``optimizer``. ``c = 8`` keeps updates
        of 16k centres stable at lr 0.025; with ``shuffle=True`` too they
        reach gensim's WordSim, SimLex and analogy scores (see
        ``benchmarks/skipgram_batch_sweep.py``).
      compiler_options: passed to ``jax.jit`` for ``train`` (e.g.
        ``{"xla_backend_optimization_level": 1}``, which on CPU compiles
        about 20% faster and runs as fast).
      model: ``"skipgram"`` (the default) or ``"cbow"`` (word2vec.c's and
        gensim's CBOW with the mean of the context words), see
        :func:`block_gradients`.
      subwords: optional ``int [V, M]`` fastText subword rows of each word
        (:func:`jaxns.subwords.subword_table`); the input table is then
        ``[V + num_buckets, d]`` (:func:`init_subword_params`).
      subword_rows: with ``subwords``, the input rows one update gathers and
        scatters (static). The block's words are laid out packed, each with
        exactly its own rows, ``subword_rows`` at a time: the first
        ``subword_rows`` in one go, the rest (if a block of long words has
        more) in further pages of that size, so the result does not depend
        on it. The default, ``(batch_size + 2 * window)`` times the mean
        number of rows of the vocabulary's words weighted by ``sampler``'s
        distribution (unigram^0.75 for word2vec; by word for a sampler
        that is not a :class:`jaxns.samplers.Sampler`), rounded up to a
        multiple of 64
        (:func:`jaxns.subwords.rows_per_block`), is
        what a block holds on average; a longer block takes a second page.
        Smaller pages are faster (``examples/skipgram.py`` weights by the
        frequency of the tokens subsampling keeps, which it knows); the
        chosen size is :attr:`Trainer.subword_rows`. (Padding every
        position to the longest word's rows, as :func:`block_gradients`
        does, moves 4-5x more rows than a block of English text holds.)
        Further pages update the input table again, which equals one update
        only for the linear SGD step: with an ``optimizer`` or
        ``duplicate_rows`` other than ``"sum"`` the default (and the
        minimum) is the padded size ``(batch_size + 2 * window) * M``.
      shuffle: :meth:`Trainer.stream` puts the kept sentences of each epoch
        in a random order (:func:`make_stream`), so that one update's
        ``batch_size`` consecutive centres come from sentences all over the
        corpus rather than from one stretch of text, where the words of a
        topic cluster and their summed updates pile up. Off by default
        (word2vec.c and gensim read the corpus in order).
      max_row_rate: caps the learning rate a table row receives in one
        update in total: a row given ``n`` row gradients by the batch
        (counted as for ``duplicate_rows``) has their sum multiplied by
        ``min(1, max_row_rate / (n * learning_rate(progress)))``, so with
        SGD it moves by ``min(n * lr, max_row_rate)`` times its mean
        gradient. Rows seen fewer than ``max_row_rate / lr`` times are
        summed as word2vec's sequential steps would be to first order;
        frequent rows take one step of ``max_row_rate`` along their mean
        gradient, whatever the batch size (0.2 kept updates of 16,384 and
        65,536 centres stable on a 6.4M-token corpus). The cap in counts,
        ``max_row_rate / lr``, grows as the learning rate decays, where
        ``duplicate_rows=c`` holds frequent rows at ``c`` steps to the end.
        With both, the smaller cap applies. Applied before ``optimizer``.
      compute_loss: whether ``train`` computes the loss it returns. The
        loss is the softplus of every score of the update, which the
        gradients do not need (they take the sigmoid); ``False`` leaves it
        out and returns ``0.0`` as the loss sum (``num_pairs`` is still
        counted), with the same updates. On one CPU core that makes a
        word-level skip-gram call 15-22% faster (``python
        benchmarks/sharding.py --only word2vec``: 1.15x on the built-in
        corpus; CBOW gains about 2%, fastText nothing measurable). gensim,
        too, computes no loss unless asked (its ``compute_loss=False``). A
        loop that reads the loss now and then can build a second trainer
        with the loss for those calls: both take the same ``params`` and
        ``opt_state`` (``examples/skipgram.py`` does so).

    Returns:
      A :class:`Trainer`. ``train`` reads ``stream.tokens[start : start +
      block_size + 2 * window]`` (a :class:`Stream` has ``window`` padding
      tokens first). The keys of update ``i`` are derived from ``key`` and
      ``start // batch_size + i`` alone, so the draws do not depend on
      ``steps_per_call``, and neither does the result for a constant
      learning rate (with a decaying one, see the progress above). An update
      without centres (padding at a stream's end) changes nothing, with any
      optimizer.

    Raises:
      TypeError: for non-integer sizes or a sampler without ``sample``.
      ValueError: for non-positive sizes, a ``batch_size`` that is not a
        multiple of ``chunk_size``, or a :class:`jaxns.samplers.Sampler` over
        another number of ids than ``subwords`` has words. ``init`` and
        ``train`` raise ``ValueError`` for tables that do not fit the trainer
        (``params.output``'s rows not the sampler's ids, input and output
        tables of different shapes for word-level inputs, an input table
        without every row ``subwords`` names). ``train`` raises
        ``TypeError`` for a non-key or a non-:class:`Stream` and
        ``ValueError`` for a key array, a stream shorter than one block, a
        concrete ``start`` that is not a multiple of ``batch_size`` or lies
        past the stream's last block, or an ``opt_state`` unlike
        ``init(params)``'s (another optimizer's, or other tables').

    Examples:
      >>> import jax, jax.numpy as jnp, optax, jaxns
      >>> sampler = jaxns.samplers.uniform(8)
      >>> t = jaxns.word2vec.make_trainer(
      ...     sampler, learning_rate=optax.constant_schedule(0.1), window=2,
      ...     batch_size=8, chunk_size=4, negatives_per_chunk=4, steps_per_call=2)
      >>> params = jaxns.word2vec.init_params(jax.random.key(0), 8, 4)
      >>> state = t.init(params)
      >>> ids = jnp.arange(16, dtype=jnp.int32) % 8
      >>> stream = t.stream(jax.random.key(1), ids, jnp.zeros(16, jnp.int32),
      ...                   jnp.ones(8))
      >>> params, state, loss, pairs = t.train(
      ...     jax.random.key(2), params, state, stream, 0, (0.0, 16.0))
      >>> int(pairs) > 0, bool(jnp.isfinite(loss))
      (True, True)

    References:
      Ji et al, `Parallelizing Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016. Mikolov et al,
      `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "word2vec.make_trainer"
    window = _checks.size(fn, "window", window, minimum=1)
    num_negatives = _checks.size(fn, "num_negatives", num_negatives, minimum=1)
    batch_size = _checks.size(fn, "batch_size", batch_size, minimum=1)
    chunk_size = _checks.size(fn, "chunk_size", chunk_size, minimum=1)
    negatives_per_chunk = _checks.size(
        fn, "negatives_per_chunk", negatives_per_chunk, minimum=1
    )
    steps_per_call = _checks.size(fn, "steps_per_call", steps_per_call, minimum=1)
    skip_hits = _checks.flag(fn, "skip_hits", skip_hits)
    shuffle = _checks.flag(fn, "shuffle", shuffle)
    compute_loss = _checks.flag(fn, "compute_loss", compute_loss)
    if max_row_rate is not None:
        max_row_rate = float(
            _checks.number(fn, "max_row_rate", max_row_rate, positive=True)
        )
    if isinstance(duplicate_rows, str):
        duplicate_rows = _checks.choice(
            fn, "duplicate_rows", duplicate_rows, ("sum", "mean")
        )
        cap = None if duplicate_rows == "sum" else 1
    else:
        cap = _checks.size(fn, "duplicate_rows", duplicate_rows, minimum=1)
    capped = cap is not None or max_row_rate is not None
    if not callable(getattr(sampler, "sample", None)):
        raise TypeError(
            f"{fn}: sampler must have a sample(key, shape) method (e.g. "
            f"jaxns.samplers.unigram(counts)), got {type(sampler).__name__}."
        )
    if optimizer is not None:
        _checks.transformation(fn, "optimizer", optimizer)
    if not callable(learning_rate):
        raise TypeError(
            f"{fn}: learning_rate must be an Optax schedule (a function of the "
            f"progress), got {type(learning_rate).__name__}. Use "
            "optax.constant_schedule(value) for a constant rate."
        )
    if batch_size % chunk_size:
        raise ValueError(
            f"{fn}: batch_size must be a multiple of chunk_size {chunk_size}, "
            f"got {batch_size}."
        )
    num_chunks = batch_size // chunk_size
    block_size = batch_size * steps_per_call
    model = _checks.choice(fn, "model", model, MODELS)
    packed, block_rows, table_rows = None, 0, None
    if subwords is not None:
        subwords = _checks.int_array(fn, "subwords", subwords, ndim=2)
        # The largest row id a word reads: the input table must hold it.
        table_rows = (subwords.shape[0], int(jnp.max(subwords, initial=-1)))
        if (
            isinstance(sampler, samplers.Sampler)
            and sampler.num_classes != subwords.shape[0]
        ):
            raise ValueError(
                f"{fn}: the sampler draws among {sampler.num_classes} ids, but "
                f"subwords has {subwords.shape[0]} rows (one per word). Build "
                "the sampler from the same vocabulary's counts."
            )
        packed = _pack_subwords(subwords)
        block_rows = (batch_size + 2 * window) * subwords.shape[1]
        one_page = optimizer is not None or capped
        if subword_rows is None and one_page:
            subword_rows = block_rows
        elif subword_rows is None:
            # The rows a block holds on average: the words' rows weighted by
            # the sampler's distribution where it covers the vocabulary
            # (unigram^0.75 for word2vec, near the frequency of the tokens
            # subsampling keeps), else by word.
            weights = None
            if isinstance(sampler, samplers.Sampler):
                probs = np.asarray(sampler.probs(), np.float64)
                if np.isfinite(probs).all() and probs.sum() > 0:
                    weights = probs
            subword_rows = subwords_lib.rows_per_block(
                subwords, weights, batch_size=batch_size, window=window
            )
        subword_rows = _checks.size(fn, "subword_rows", subword_rows, minimum=1)
        if one_page and subword_rows < block_rows:
            raise ValueError(
                f"{fn}: subword_rows must be >= (batch_size + 2 * window) * "
                f"subwords.shape[1] = {block_rows} with an optimizer or "
                f"duplicate_rows other than 'sum' (further pages equal one "
                f"update only for SGD), got {subword_rows}."
            )
        subword_rows = min(subword_rows, block_rows)
    elif subword_rows is not None:
        raise ValueError(f"{fn}: subword_rows needs subwords, got {subword_rows}.")
    if model == "skipgram" and subwords is None:
        gradients = functools.partial(
            chunk_gradients, window=window, num_negatives=num_negatives,
            skip_hits=skip_hits,
        )  # fmt: skip
    else:
        gradients = functools.partial(
            block_gradients, model=model, window=window,
            num_negatives=num_negatives, skip_hits=skip_hits, subwords=subwords,
        )  # fmt: skip
    linear = optimizer is None
    tx = optax.chain(
        optax.identity() if linear else optimizer, _scale_by_progress(learning_rate)
    )
    # SGD is linear: scatter-adding per-occurrence updates equals summing
    # duplicates first, and skips a sort per step.
    opt = optim.row_sparse(tx, dedup=not linear)
    opt_input = optim.row_sparse(tx, dedup=False)  # further subword pages (SGD)

    def subword_gradients(params, toks, sents, negs, reduction):
        """:func:`block_gradients` with the packed subword layout: the input
        ids and updates of the first page, and what the further pages need.

        The rows of each distinct word of the block are gathered once and its
        positions' updates summed before they are scattered: for SGD (and
        any optimizer, which sums duplicate rows first) that is the same
        update; with ``duplicate_rows`` capped, rows are counted per
        position, so there every position keeps its own rows."""
        block = toks.shape[0]
        vocab = packed.counts.shape[0] - 1  # the last entry: no rows
        valid = toks >= 0
        safe = jnp.where(valid, toks, 0)
        words = jnp.where(valid, toks, vocab)
        if not capped:
            # Sorting 138 ids is cheap; a block repeats a quarter of its rows.
            distinct, where = jnp.unique(
                words, size=block, fill_value=vocab, return_inverse=True
            )
            where = where.reshape(block)
        else:
            distinct, where = words, jnp.arange(block, dtype=jnp.int32)
        ends = jnp.cumsum(packed.counts[distinct])
        compute = _compute_dtype(params.input)

        def page_sum(page):
            pos, row, ok = _packed_page(packed, distinct, ends, page, subword_rows)
            rows = params.input[jnp.where(ok, row, 0)].astype(compute)
            return jax.ops.segment_sum(rows, pos, block, indices_are_sorted=True)

        word_sum = page_sum(0)
        num_pages = (ends[-1] + subword_rows - 1) // subword_rows
        if subword_rows < block_rows:  # a block of long words may need more
            word_sum = jax.lax.fori_loop(
                1, num_pages, lambda p, acc: acc + page_sum(p), word_sum
            )
        y = params.output[_output_reads(safe, negs, reduction, window)]
        loss, num, dx, out_ids, dy = _block_scores(
            word_sum[where], packed.counts[words].astype(compute),
            y.astype(compute), valid, safe, sents, negs, reduction, model=model,
            window=window, num_negatives=num_negatives, skip_hits=skip_hits,
        )  # fmt: skip
        if not capped:
            dx = jax.ops.segment_sum(dx, where, block)  # per distinct word

        def page_grads(page):
            pos, row, ok = _packed_page(packed, distinct, ends, page, subword_rows)
            grads = jnp.where(ok[:, None], dx[jnp.minimum(pos, block - 1)], 0)
            return row, grads.astype(params.input.dtype)

        in_ids, in_grads = page_grads(0)
        g = ChunkGradients(
            loss, num, in_ids, in_grads, out_ids, dy.astype(params.output.dtype)
        )
        return g, page_grads, num_pages

    def init(params: SkipGramParams) -> Any:
        tables = _tables(
            "word2vec.Trainer.init", params, sampler=sampler, subwords=table_rows
        )
        return opt.init(tables)

    def run(
        params, opt_state, tokens, sentence_ids, start, key, progress0, progress1,
        touched=None,
    ):  # fmt: skip
        def one_step(carry, xs):
            params, opt_state, touched = carry
            index, progress, reduction, negs = xs
            block = batch_size + 2 * window
            offset = index * batch_size
            toks = jax.lax.dynamic_slice(tokens, (offset,), (block,))
            sents = jax.lax.dynamic_slice(sentence_ids, (offset,), (block,))
            if packed is None:
                g = gradients(params, toks, sents, negs, reduction)
            else:
                g, page_grads, num_pages = subword_gradients(
                    params, toks, sents, negs, reduction
                )
            in_grads, out_grads = g.input_grads, g.output_grads
            if capped:
                step_cap = cap
                if max_row_rate is not None:
                    by_rate = max_row_rate / learning_rate(progress)
                    step_cap = by_rate if cap is None else jnp.minimum(cap, by_rate)
                in_grads = in_grads * _row_scale(
                    g.input_ids, params.input.shape[0], step_cap, in_grads
                )
                out_grads = out_grads * _row_scale(
                    g.output_ids, params.output.shape[0], step_cap, out_grads
                )

            def apply(operands):
                ids, grads, state, tabs = operands
                return opt.update(ids, grads, state, tabs, progress=progress)

            operands = (
                {"input": g.input_ids, "output": g.output_ids},
                {"input": in_grads, "output": out_grads},
                opt_state,
                {"input": params.input, "output": params.output},
            )
            if linear:  # SGD: an update without centres adds zeros
                tables, opt_state = apply(operands)
            else:  # leaves the tables and the state (Adam's count) alone
                tables, opt_state = jax.lax.cond(
                    g.num_pairs > 0, apply, lambda o: (o[3], o[2]), operands
                )
            params = SkipGramParams(tables["input"], tables["output"])
            if touched is not None:  # the rows this update may have written
                touched = SkipGramParams(
                    touched.input.at[g.input_ids].set(
                        True, mode="drop", wrap_negative_indices=False
                    ),
                    touched.output.at[g.output_ids].set(
                        True, mode="drop", wrap_negative_indices=False
                    ),
                )
            if packed is not None and subword_rows < block_rows:
                # The further pages of a block of long words (SGD: the sum
                # of the pages' updates is the update of their union).
                def more(page, carry):
                    table, mask = carry
                    ids, grads = page_grads(page)
                    state = opt_input.init(table)  # SGD's: empty
                    table = opt_input.update(
                        ids, grads, state, table, progress=progress
                    )[0]
                    if mask is not None:
                        mask = mask.at[ids].set(
                            True, mode="drop", wrap_negative_indices=False
                        )
                    return table, mask

                table, mask = jax.lax.fori_loop(
                    1, num_pages, more,
                    (params.input, None if touched is None else touched.input),
                )  # fmt: skip
                params = SkipGramParams(table, params.output)
                if touched is not None:
                    touched = SkipGramParams(mask, touched.output)
            # Without the loss, XLA drops its softplus from the step.
            loss = g.loss if compute_loss else jnp.zeros_like(g.loss)
            return (params, opt_state, touched), (loss, g.num_pairs)

        with jax.named_scope("jaxns.word2vec.train"):
            _checks.key("word2vec.Trainer.train", key)
            tables = _tables(
                "word2vec.Trainer.train", params, sampler=sampler, subwords=table_rows
            )
            _opt_state("word2vec.Trainer.train", opt_state, opt.init, tables)
            for arg, x in (("tokens", tokens), ("sentence_ids", sentence_ids)):
                x = _checks.int_array("word2vec.Trainer.train", arg, x, ndim=1)
                if x.shape[0] < block_size + 2 * window:
                    raise ValueError(
                        f"word2vec.Trainer.train: {arg} must hold at least "
                        f"block_size + 2 * window = {block_size + 2 * window} "
                        "tokens, got "
                        f"{x.shape[0]}. Build the stream with make_stream."
                    )
            _checks.same_shape(
                "word2vec.Trainer.train", "sentence_ids", sentence_ids, "tokens", tokens
            )
            steps = jnp.arange(steps_per_call, dtype=jnp.int32)
            frac = steps.astype(jnp.float32) / steps_per_call
            progress0, progress1 = _float32_progress(progress0, progress1)
            progress = progress0 + frac * (progress1 - progress0)
            # Micro-steps are indexed from the stream's start, so the keys (and
            # the result) do not depend on how many steps one call fuses.
            first = jnp.asarray(start, jnp.int32) // batch_size
            reductions, negs = _update_draws(
                sampler, key, first + steps, num_chunks, chunk_size,
                negatives_per_chunk, window,
            )  # fmt: skip
            if touched is not None:
                touched = _touched_masks(
                    "word2vec.Trainer.train_touched", touched, tables
                )
            (params, opt_state, touched), (losses, pairs) = jax.lax.scan(
                one_step,
                (params, opt_state, touched),
                (first + steps, progress, reductions, negs),
            )
            loss, num = jnp.sum(losses), jnp.sum(pairs)
            if touched is None:
                return params, opt_state, loss, num
            return params, opt_state, touched, loss, num

    train_arrays = jax.jit(
        run, donate_argnums=(0, 1), compiler_options=compiler_options
    )

    def run_touched(
        params, opt_state, touched, tokens, sentence_ids, start, key, progress0,
        progress1,
    ):  # fmt: skip
        return run(
            params, opt_state, tokens, sentence_ids, start, key, progress0,
            progress1, touched,
        )  # fmt: skip

    train_touched = jax.jit(
        run_touched, donate_argnums=(0, 1, 2), compiler_options=compiler_options
    )

    def run_stream(key, params, opt_state, stream, start, progress):
        progress0, progress1 = progress
        return run(
            params,
            opt_state,
            stream.tokens,
            stream.sentence_ids,
            start,
            key,
            progress0,
            progress1,
        )

    jitted = jax.jit(
        run_stream, donate_argnums=(1, 2), compiler_options=compiler_options
    )

    def train(
        key: ArrayLike,
        params: SkipGramParams,
        opt_state: Any,
        stream: Stream,
        start: ArrayLike,
        progress: tuple[ArrayLike, ArrayLike],
    ) -> tuple[SkipGramParams, Any, jax.Array, jax.Array]:
        progress = _train_call(
            key, stream, start, progress, block_size, batch_size, window
        )
        return jitted(key, params, opt_state, stream, start, progress)

    train.lower = jitted.lower  # ahead-of-time compilation, as with jax.jit
    return Trainer(
        init=init,
        train=train,
        block_size=block_size,
        window=window,
        train_arrays=train_arrays,
        shuffle=shuffle,
        subword_rows=subword_rows if packed is not None else None,
        train_touched=train_touched,
    )


def _tables(
    where: str, params: Any, *, sampler: Any, subwords: tuple[int, int] | None
) -> dict[str, Any]:
    """The two tables of ``params``, raising where they cannot be the ones a
    trainer built with ``sampler`` trains (static shapes only, so it runs at
    trace time): a sampler over another number of words draws ids that are
    no rows (their reads clamp and their updates drop), and so do subword
    ids past the input table. ``subwords``: ``(vocab_size, largest row id)``
    of the subword table, or None for word-level inputs."""
    if not isinstance(params, SkipGramParams | tuple) or len(params) != 2:
        raise TypeError(
            f"{where}: params must be a SkipGramParams(input, output), got "
            f"{type(params).__name__}."
        )
    tables = {"input": params[0], "output": params[1]}
    shapes = {
        name: _checks.float_array(where, f"params.{name}", table, ndim=2).shape
        for name, table in tables.items()
    }
    if shapes["input"][1] != shapes["output"][1]:
        raise ValueError(
            f"{where}: params.input and params.output must have the same dim, "
            f"got {shapes['input']} and {shapes['output']}."
        )
    words = shapes["output"][0]
    if subwords is None and shapes["input"][0] != words:
        raise ValueError(
            f"{where}: params.input and params.output must have one row per "
            f"word each, got {shapes['input']} and {shapes['output']} (subword "
            "inputs need make_trainer(subwords=))."
        )
    if subwords is not None:
        vocab, top_row = subwords
        if words != vocab:
            raise ValueError(
                f"{where}: params.output must have one row per word of "
                f"subwords, [{vocab}, dim], got {shapes['output']}."
            )
        if shapes["input"][0] <= top_row:
            raise ValueError(
                f"{where}: params.input must hold every row subwords names "
                f"(at least {top_row + 1} rows: vocab_size + num_buckets, see "
                f"init_subword_params), got {shapes['input']}."
            )
    drawn = sampler.num_classes if isinstance(sampler, samplers.Sampler) else None
    if drawn is not None and drawn != words:
        raise ValueError(
            f"{where}: the sampler draws among {drawn} ids, but params.output "
            f"has {words} rows (one per word). Build the sampler from the "
            "same vocabulary's counts; give zero weight to words that must "
            "never be negatives."
        )
    return tables


def _touched_masks(where: str, touched: Any, tables: dict[str, Any]) -> SkipGramParams:
    """``touched`` as a :class:`SkipGramParams` of two boolean masks, one entry
    per row of each table (trace time)."""
    if not isinstance(touched, SkipGramParams | tuple) or len(touched) != 2:
        raise TypeError(
            f"{where}: touched must be a SkipGramParams of two boolean masks, "
            f"got {type(touched).__name__}."
        )
    masks = []
    for name, mask in zip(("input", "output"), touched, strict=True):
        rows = tables[name].shape[0]
        if np.shape(mask) != (rows,) or jnp.result_type(mask) != jnp.bool_:
            raise ValueError(
                f"{where}: touched.{name} must be a boolean mask of shape "
                f"({rows},) (one entry per row of params.{name}), got "
                f"{_checks._describe(mask)}."
            )
        masks.append(mask)
    return SkipGramParams(*masks)


def _opt_state(where: str, opt_state: Any, init: Callable, tables: Any) -> None:
    """Raises unless ``opt_state`` has the structure and leaf shapes of
    ``init(tables)`` (trace time): another optimizer's state, or one made for
    other tables, failed deep inside the update."""
    abstract = jax.tree.map(lambda t: jax.ShapeDtypeStruct(t.shape, t.dtype), tables)
    expected = jax.eval_shape(init, abstract)
    want = jax.tree.structure(expected), [x.shape for x in jax.tree.leaves(expected)]
    got = (
        jax.tree.structure(opt_state),
        [np.shape(x) for x in jax.tree.leaves(opt_state)],
    )
    if got != want:
        raise ValueError(
            f"{where}: opt_state does not fit this trainer (the state of another "
            f"optimizer, or of tables of other shapes): expected leaves of shapes "
            f"{want[1]}, got {got[1]} ({got[0]}). Build it with trainer.init(params)."
        )


# ---------------------------------------------------------------------------
# The word2vec family: CBOW, and fastText's subword inputs for both models.


def init_subword_params(
    key: ArrayLike,
    vocab_size: int,
    num_buckets: int,
    dim: int,
    *,
    dtype: Any = jnp.float32,
    rows: ArrayLike | None = None,
) -> SkipGramParams:
    """fastText's initialisation: inputs ``U(-1/dim, 1/dim)``, outputs 0.

    The input table holds the ``vocab_size`` word rows followed by the
    ``num_buckets`` hashed character n-gram rows (Facebook fastText's layout:
    n-gram ``g`` is row ``vocab_size + hash(g) % num_buckets``, see
    :func:`jaxns.subwords.subword_table`); the output table has one row per
    word.

    Args:
      key: a single PRNG key.
      vocab_size: number of words ``V``.
      num_buckets: number of n-gram buckets ``B`` (fastText's ``-bucket``).
      dim: embedding size ``d``.
      dtype: the tables' dtype.
      rows: optional ``int [R]`` rows of the ``[V + B, dim]`` input table to
        make, e.g. :attr:`jaxns.subwords.CompactSubwords.rows`: the input is
        then ``[R, dim]``, bitwise those rows of the full table (each value
        is a hash of its index), without making the full table.

    Returns:
      :class:`SkipGramParams` with ``input`` ``[V + B, dim]`` (``[R, dim]``
      with ``rows``) and ``output`` ``[V, dim]``.

    Raises:
      TypeError: ``rows`` is not a concrete integer array (it is read on the
        host: make it outside ``jit``).
      ValueError: a size is negative, ``dim`` is 0 or a row lies outside
        ``[0, V + B)``.

    Examples:
      >>> import jax, jaxns
      >>> p = jaxns.word2vec.init_subword_params(jax.random.key(0), 10, 50, 4)
      >>> p.input.shape, p.output.shape, bool(abs(p.input).max() <= 0.25)
      ((60, 4), (10, 4), True)
      >>> q = jaxns.word2vec.init_subword_params(
      ...     jax.random.key(0), 10, 50, 4, rows=[0, 42])
      >>> bool((q.input == p.input[jax.numpy.array([0, 42])]).all())
      True

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017.
    """
    fn = "word2vec.init_subword_params"
    _checks.key(fn, key)
    vocab_size = _checks.size(fn, "vocab_size", vocab_size, minimum=1)
    num_buckets = _checks.size(fn, "num_buckets", num_buckets, minimum=0)
    dim = _checks.size(fn, "dim", dim, minimum=1)
    dtype = _checks.dtype(fn, "dtype", dtype)
    shape = (vocab_size + num_buckets, dim)
    if rows is not None:
        rows = _checks.int_array(fn, "rows", _checks.concrete(fn, "rows", rows), ndim=1)
        _checks.values_in_range(fn, "rows", rows, 0, shape[0], what="row ids")
    with jax.named_scope("jaxns.word2vec.init_subword_params"):
        bound = 1.0 / dim
        if rows is None:
            inp = _hash_uniform(key, shape, dtype, bound)
        else:
            inp = _hash_uniform(key, shape, dtype, bound, rows=rows)
        return SkipGramParams(inp, jnp.zeros((vocab_size, dim), dtype))


def _hash_uniform(key, shape, dtype, bound, rows=None):
    """``U(-bound, bound)`` of ``shape`` from a counter hash seeded by ``key``.

    Each element is murmur3's 32-bit finaliser of its index (Weyl-spaced and
    offset by 64 random bits of ``key``); its top 24 bits make the uniform
    (also for float64 tables). On CPU this is about 5x cheaper than
    ``jax.random.uniform`` (threefry), which took seconds for a 2M-row table.
    With ``rows`` only those rows of the table are made (the same values).
    """
    if math.prod(shape) >= 2**32:
        table = jax.random.uniform(key, shape, dtype, -bound, bound)
        return table if rows is None else table[rows]
    # One fused pass: op by op, each step would write a table-sized array.
    if rows is None:
        index = None
    else:
        index = jnp.asarray(rows, jnp.uint32)[:, None] * jnp.uint32(shape[1])
        index = index + jnp.arange(shape[1], dtype=jnp.uint32)[None, :]
    return _hash_uniform_fused(key, tuple(shape), jnp.dtype(dtype), float(bound), index)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _hash_uniform_fused(key, shape, dtype, bound, index=None):
    seed = jax.random.bits(key, (2,), jnp.uint32)

    def mix(x):
        x = (x ^ (x >> 16)) * jnp.uint32(0x85EBCA6B)
        x = (x ^ (x >> 13)) * jnp.uint32(0xC2B2AE35)
        return x ^ (x >> 16)

    if index is None:
        index = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    x = index * jnp.uint32(0x9E3779B9)
    x = mix(mix(x + seed[0]) ^ seed[1])
    u = (x >> 8).astype(jnp.float32) * jnp.float32(2.0**-23) - 1.0  # [-1, 1)
    return (u * bound).astype(dtype)


def block_gradients(
    params: SkipGramParams,
    tokens: ArrayLike,
    sentence_ids: ArrayLike,
    negatives: ArrayLike,
    window_reduction: ArrayLike,
    *,
    model: str,
    window: int,
    num_negatives: int,
    skip_hits: bool = True,
    subwords: ArrayLike | None = None,
) -> ChunkGradients:
    """Row updates of skip-gram or CBOW, word-level or with fastText subwords.

    The block and its chunks are laid out as in :func:`chunk_gradients`: centre
    ``c`` at block position ``p`` has the contexts ``p + o``,
    ``1 <= |o| <= window - b_c``, in its sentence; chunk ``g``'s centres
    share ``negatives[g]``, each weighted ``K / K_c`` (``K = num_negatives``,
    ``K_c = negatives_per_chunk``), and with ``skip_hits`` a negative equal to
    the centre is left out of that centre's terms (word2vec.c, gensim).

    **Inputs.** Without ``subwords`` a token's input vector is its row of
    ``params.input``. With ``subwords`` (``[V, M]`` row ids from
    :func:`jaxns.subwords.subword_table`: the word's own row, then its
    n-grams' bucket rows, ``-1`` padding) it is the mean of those rows, as in
    fastText (Bojanowski et al. 2017).

    **skip-gram** (``model="skipgram"``): every (centre, context) pair scores
    the context's input vector ``x`` against the centre's output row ``v``
    and the chunk's negatives, as :func:`chunk_gradients` (which this equals
    without ``subwords``):
    ``softplus(-x.v_c) + K/K_c sum_n softplus(x.v_n)``.

    **CBOW** (``model="cbow"``, word2vec.c's ``-cbow 1`` and gensim's
    ``sg=0, cbow_mean=1``): each centre with at least one context is one
    example, ``h_c`` the mean of its context words' input rows (with
    subwords: the mean over all rows of all context words, as fastText and
    gensim's ``FastText`` average the concatenated subword lists), scored as
    ``softplus(-h_c.v_c) + K/K_c sum_n softplus(h_c.v_n)``.

    **The input rows' update** is word2vec.c's, fastText's and gensim's, not
    the exact gradient of the loss: every row that enters a mean receives the
    full gradient with respect to that mean (word2vec.c adds ``neu1e`` to
    each context word, fastText adds ``grad_`` to each input row). The exact
    gradient would divide it by the number of rows averaged. Word-level
    skip-gram averages nothing, so there the update is the exact gradient;
    the output rows' gradients are always exact.

    Args:
      params: ``input`` ``[V, d]`` (``[V + B, d]`` with subwords) and
        ``output`` ``[V, d]``.
      tokens: ``int [num_chunks * chunk_size + 2 * window]`` token ids after
        subsampling, ``-1`` for padding.
      sentence_ids: ``int`` like ``tokens``; windows never cross sentences.
      negatives: ``int [num_chunks, negatives_per_chunk]`` noise draws.
      window_reduction: ``int [num_chunks, chunk_size]`` the ``b`` of each
        centre, in ``[0, window)``.
      model: ``"skipgram"`` or ``"cbow"`` (static).
      window: maximum window ``W`` (static).
      num_negatives: ``K``, negatives per example in expectation (static).
      skip_hits: leave out negatives equal to the example's centre word.
      subwords: optional ``int [V, M]`` input rows of each word (``-1``
        padding); ``None`` for word-level inputs.

    Returns:
      :class:`ChunkGradients`: the summed loss; ``num_pairs``, the number of
      live (centre, context) pairs for skip-gram and of live centres (CBOW
      examples) for CBOW; the input row ids ``[n]`` (``[n * M]`` with
      subwords, ``n`` the block length) with their updates, and the output
      row ids with their gradients. ``-1`` ids carry zero rows.

    Raises:
      ValueError: for inconsistent shapes, sizes or an unknown ``model``.
      TypeError: for non-integer ids or non-float tables.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> p = jaxns.word2vec.init_params(jax.random.key(0), 5, 3)
      >>> g = jaxns.word2vec.block_gradients(
      ...     p, jnp.array([-1, 0, 1, 2, 3, -1]), jnp.zeros(6, jnp.int32),
      ...     jnp.array([[4, 4]]), jnp.zeros((1, 4), jnp.int32),
      ...     model="cbow", window=1, num_negatives=2)
      >>> int(g.num_pairs), g.input_grads.shape, g.output_ids.tolist()
      (4, (6, 3), [0, 1, 2, 3, 4, 4])

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013 (CBOW). Bojanowski et
      al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017. Ji et al, `Parallelizing
      Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016.
    """
    fn = "word2vec.block_gradients"
    model = _checks.choice(fn, "model", model, MODELS)
    window = _checks.size(fn, "window", window, minimum=1)
    num_negatives = _checks.size(fn, "num_negatives", num_negatives, minimum=1)
    skip_hits = _checks.flag(fn, "skip_hits", skip_hits)
    tokens = _checks.int_array(fn, "tokens", tokens, ndim=1)
    sentence_ids = _checks.int_array(fn, "sentence_ids", sentence_ids, ndim=1)
    negatives = _checks.int_array(fn, "negatives", negatives, ndim=2)
    window_reduction = _checks.int_array(
        fn, "window_reduction", window_reduction, ndim=2
    )
    num_chunks, chunk = window_reduction.shape
    _checks.check_shape(fn, "negatives", negatives, (num_chunks, None))
    if negatives.shape[1] < 1:
        raise ValueError(
            f"{fn}: negatives must hold at least one draw per chunk, got shape "
            f"{tuple(negatives.shape)}."
        )
    _checks.check_shape(fn, "tokens", tokens, (num_chunks * chunk + 2 * window,))
    _checks.same_shape(fn, "sentence_ids", sentence_ids, "tokens", tokens)
    u = _checks.float_array(fn, "params.input", params[0], ndim=2)
    v = _checks.float_array(fn, "params.output", params[1], ndim=2)
    if u.shape[1] != v.shape[1] or (subwords is None and u.shape != v.shape):
        raise ValueError(
            f"{fn}: params.input {tuple(u.shape)} and params.output "
            f"{tuple(v.shape)} must be [vocab_size, dim] tables ([vocab_size + "
            "num_buckets, dim] for the input with subwords)."
        )
    if subwords is not None:
        subwords = _checks.int_array(fn, "subwords", subwords, ndim=2)
        _checks.check_shape(fn, "subwords", subwords, (v.shape[0], None))
        _checks.values_in_range(
            fn, "subwords", subwords, PAD, u.shape[0], what="input rows (or -1)"
        )
    # Gathers clamp out-of-range ids under jit; concrete ids are checked here.
    _checks.values_in_range(
        fn, "tokens", tokens, PAD, v.shape[0], what="token ids, -1 for padding"
    )
    _checks.values_in_range(fn, "negatives", negatives, 0, v.shape[0], what="ids")
    _checks.values_in_range(fn, "window_reduction", window_reduction, 0, window)
    with jax.named_scope("jaxns.word2vec.block_gradients"):
        return _block_gradients(
            u.__getitem__, v.__getitem__, tokens, sentence_ids, negatives,
            window_reduction, model=model, window=window,
            num_negatives=num_negatives, skip_hits=skip_hits, subwords=subwords,
        )  # fmt: skip


def _block_gradients(
    input_rows, output_rows, tokens, sentence_ids, negatives, window_reduction, *,
    model, window, num_negatives, skip_hits, subwords=None, per_position=False,
):  # fmt: skip
    """:func:`block_gradients` on validated inputs, with the row reads supplied.

    ``input_rows(ids)`` returns the input table's rows of an id array (``[n]``
    block positions, ``[n, M]`` with ``subwords``) with a trailing ``d`` axis,
    and ``output_rows(ids [G, C + Kc])`` the output table's ``[G, C + Kc, d]``
    rows (:func:`_output_reads`), as for :func:`_chunk_gradients`, so the
    vocabulary-sharded trainer can hand in rows it fetched from their owners.
    With ``subwords`` and ``per_position``, the input side is returned per
    block position (its token, ``-1`` for padding, and the update each of
    its ``M`` rows receives) instead of per row: ``M`` times fewer floats.
    """
    tokens = tokens.astype(jnp.int32)
    valid = tokens >= 0
    safe = jnp.where(valid, tokens, 0)
    # Each block position's input: the sum of its rows and how many they are.
    if subwords is None:
        x_rows = input_rows(safe)
        compute = _compute_dtype(x_rows)
        x_sum = x_rows.astype(compute)
        x_count = valid.astype(compute)
    else:
        sub, sub_ok = _position_rows(subwords, tokens)  # [n, M]
        x_rows = input_rows(sub)  # [n, M, d]
        compute = _compute_dtype(x_rows)
        rows_in = x_rows.astype(compute)
        x_sum = jnp.einsum("nm,nmd->nd", sub_ok.astype(compute), rows_in)
        x_count = jnp.sum(sub_ok, axis=-1).astype(compute)
    dim = x_rows.shape[-1]
    y_rows = output_rows(_output_reads(safe, negatives, window_reduction, window))
    loss, num, dx, out_ids, dy = _block_scores(
        x_sum, x_count, y_rows.astype(compute), valid, safe, sentence_ids,
        negatives, window_reduction, model=model, window=window,
        num_negatives=num_negatives, skip_hits=skip_hits,
    )  # fmt: skip
    if subwords is None or per_position:
        in_ids = jnp.where(valid, tokens, PAD)
        in_grads = dx
    else:
        in_ids = jnp.where(sub_ok, sub, PAD).reshape(-1)
        in_grads = jnp.where(sub_ok[..., None], dx[:, None, :], 0).reshape(-1, dim)
    return ChunkGradients(
        loss=loss,
        num_pairs=num,
        input_ids=in_ids,
        input_grads=in_grads.astype(x_rows.dtype),
        output_ids=out_ids,
        output_grads=dy.astype(y_rows.dtype),
    )


def _position_rows(subwords, tokens):
    """The input rows of each token, ``int32 [..., M]`` (``subwords`` rows,
    row 0 where there is none), and which of them are real (``bool``: the
    token is not ``-1`` padding and the row not ``-1``)."""
    tokens = tokens.astype(jnp.int32)
    sub = subwords.astype(jnp.int32)[jnp.maximum(tokens, 0)]
    ok = (sub >= 0) & (tokens >= 0)[..., None]
    return jnp.where(ok, sub, 0), ok


def _output_reads(safe, negatives, window_reduction, window):
    """The output rows a block's chunks read, ``int32 [G, C + Kc]``: each
    chunk's centres (``safe``: padding clamped to 0), then its negatives."""
    num_chunks, chunk = window_reduction.shape
    centres = safe[window : window + num_chunks * chunk].reshape(num_chunks, chunk)
    return jnp.concatenate(
        [centres.astype(jnp.int32), negatives.astype(jnp.int32)], axis=1
    )


def _compute_dtype(u):
    return u.dtype if jnp.finfo(u.dtype).bits >= 32 else jnp.dtype(jnp.float32)


def _block_scores(
    x_sum, x_count, y, valid, safe, sentence_ids, negatives, window_reduction, *,
    model, window, num_negatives, skip_hits,
):  # fmt: skip
    """The block's loss and gradients from each position's summed input rows.

    ``x_sum [n, d]`` and ``x_count [n]``: the sum of each block position's
    input rows and their number (0 for padding); ``y [G, C + Kc, d]``: the
    output rows of :func:`_output_reads`, in the compute dtype. Returns
    ``(loss, num, dx, out_ids, dy)``: ``dx [n, d]`` is the update of every
    input row of each position (word2vec.c's and fastText's: the gradient with
    respect to the averaged input), ``out_ids``/``dy`` the output rows and
    their gradients.
    """
    num_chunks, chunk = window_reduction.shape
    neg_per_chunk = negatives.shape[1]
    dim = x_sum.shape[1]
    compute = x_sum.dtype

    win, ctr_tok, ctr_ok, live = _chunk_pairs(
        valid, safe, sentence_ids, window_reduction, num_chunks, chunk, window
    )
    live_f = live.astype(compute)
    negatives = negatives.astype(jnp.int32)
    alpha = num_negatives / neg_per_chunk
    y_pos, y_neg = y[:, :chunk], y[:, chunk:]  # [G, C, d], [G, Kc, d]
    if skip_hits:
        keep = (ctr_tok[:, :, None] != negatives[:, None, :]).astype(compute)
    else:
        keep = jnp.ones((num_chunks, chunk, neg_per_chunk), compute)

    if model == "skipgram":
        x = (x_sum / jnp.maximum(x_count, 1)[:, None])[win]  # [G, R, d]
        s_pos = jnp.einsum("grd,gcd->grc", x, y_pos)
        s_neg = jnp.einsum("grd,gnd->grn", x, y_neg)
        # Pair (r, c) meets negative n with weight alpha * live * keep[c, n].
        w_neg = alpha * jnp.einsum("grc,gcn->grn", live_f, keep)
        sig_p, soft_p = _sigmoid_softplus(-s_pos)
        sig_n, soft_n = _sigmoid_softplus(s_neg)
        loss = jnp.sum(live_f * soft_p) + jnp.sum(w_neg * soft_n)
        d_pos = -sig_p * live_f  # [G, R, C]
        d_neg = sig_n * w_neg  # [G, R, Kc]
        dx = jnp.einsum("grc,gcd->grd", d_pos, y_pos) + jnp.einsum(
            "grn,gnd->grd", d_neg, y_neg
        )
        dy_pos = jnp.einsum("grc,grd->gcd", d_pos, x)
        dy_neg = jnp.einsum("grn,grd->gnd", d_neg, x)
        num = jnp.sum(live, dtype=jnp.int32)
    else:
        total = jnp.einsum("grc,grd->gcd", live_f, x_sum[win])
        count = jnp.einsum("grc,gr->gc", live_f, x_count[win])
        alive = (count > 0).astype(compute)  # [G, C]
        h = total / jnp.maximum(count, 1)[..., None]
        s_pos = jnp.sum(h * y_pos, axis=-1)  # [G, C]
        s_neg = jnp.einsum("gcd,gnd->gcn", h, y_neg)
        w_neg = alpha * alive[..., None] * keep
        sig_p, soft_p = _sigmoid_softplus(-s_pos)
        sig_n, soft_n = _sigmoid_softplus(s_neg)
        loss = jnp.sum(alive * soft_p) + jnp.sum(w_neg * soft_n)
        d_pos = -sig_p * alive  # [G, C]
        d_neg = sig_n * w_neg  # [G, C, Kc]
        dh = d_pos[..., None] * y_pos + jnp.einsum("gcn,gnd->gcd", d_neg, y_neg)
        # word2vec.c: every context word receives the whole neu1e.
        dx = jnp.einsum("grc,gcd->grd", live_f, dh)
        dy_pos = d_pos[..., None] * h
        dy_neg = jnp.einsum("gcn,gcd->gnd", d_neg, h)
        num = jnp.sum(alive, dtype=jnp.int32)

    dx = _fold_windows(dx, chunk, window)  # [n, d] per block position
    # A chunk without pairs uses none of its draws (see _chunk_gradients).
    used = jnp.any(live, axis=(1, 2))[:, None]
    out_ids = jnp.concatenate(
        [jnp.where(ctr_ok, ctr_tok, PAD), jnp.where(used, negatives, PAD)], axis=1
    ).reshape(-1)
    dy = jnp.concatenate([dy_pos, dy_neg], axis=1).reshape(-1, dim)
    return loss, num, dx, out_ids, dy


class _PackedSubwords(NamedTuple):
    """A vocabulary's subword rows, packed: word ``w``'s input rows are
    ``rows[starts[w] : starts[w] + counts[w]]`` (no padding); one more word,
    ``V``, has no rows (it stands for padding)."""

    rows: jax.Array  # int32 [sum of counts]
    starts: jax.Array  # int32 [V + 1]
    counts: jax.Array  # int32 [V + 1]


def _pack_subwords(subwords) -> _PackedSubwords:
    table = np.asarray(subwords)
    ok = table >= 0
    counts = np.append(ok.sum(axis=1), 0)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = table[ok]  # row-major: each word's rows in order
    if rows.size == 0:
        rows = np.zeros(1, np.int32)
    return _PackedSubwords(
        jnp.asarray(rows, jnp.int32),
        jnp.asarray(starts, jnp.int32),
        jnp.asarray(counts, jnp.int32),
    )


def _packed_page(packed: _PackedSubwords, words, ends, page, size):
    """Slots ``[page * size, (page + 1) * size)`` of the flat list of the rows
    of ``words`` (``ends``: the cumulative row counts of ``words``):
    ``(index in words [size], row id [size], ok [size])``; past the last row a
    slot is not ok, its index is ``len(words)`` (out of range), its row -1."""
    g = page * size + jnp.arange(size, dtype=jnp.int32)
    ok = g < ends[-1]
    # The slot's word: how many words end at or before it (searchsorted's
    # side="right"), as a histogram of the ends within the page and its
    # running sum (half the time of XLA:CPU's binary-search loop).
    first = jnp.maximum(ends - page * size, 0)  # ends before the page: slot 0
    marks = jnp.zeros(size, jnp.int32).at[first].add(1, mode="drop")
    pos = jnp.cumsum(marks, dtype=jnp.int32)  # [size]
    at = jnp.minimum(pos, words.shape[0] - 1)
    word = words[at]
    k = g - (ends[at] - packed.counts[word])  # the slot's index in its word
    row = packed.rows[jnp.where(ok, packed.starts[word] + k, 0)]
    return jnp.where(ok, pos, words.shape[0]), jnp.where(ok, row, PAD), ok


# ---------------------------------------------------------------------------
# Data parallelism: one slice of every update per device of a mesh axis.
# ---------------------------------------------------------------------------


def make_sharded_trainer(
    sampler: Any,
    *,
    mesh: jax.sharding.Mesh,
    axis: str = "data",
    vocab_axis: str | None = None,
    learning_rate: optax.Schedule,
    optimizer: optax.GradientTransformation | None = None,
    window: int = 5,
    num_negatives: int = 5,
    batch_size: int = 128,
    chunk_size: int = 16,
    negatives_per_chunk: int = 16,
    steps_per_call: int = 128,
    skip_hits: bool = True,
    sync_every: int = 1,
    exact_replicas: bool = True,
    compiler_options: dict[str, Any] | None = None,
    duplicate_rows: str | int = "sum",
    max_row_rate: float | None = None,
    shuffle: bool = False,
    model: str = "skipgram",
    subwords: ArrayLike | None = None,
    compute_loss: bool = True,
) -> Trainer:
    """:func:`make_trainer` running data-parallel over a mesh.

    Every update of ``batch_size`` centres is split into ``n`` consecutive
    slices of ``batch_size / n`` centres, one per device. Each device draws
    the update's dynamic windows and chunk negatives exactly as
    :func:`make_trainer` does (from ``fold_in(key, update)``; the draws are a
    few hundred integers, so every device draws them all and keeps its
    chunks) and computes the row gradients of its slice. How the tables are
    held decides the rest:

    * **Replicated** (``vocab_axis=None``, the default): the ``n`` devices of
      ``axis`` split each update; every device holds both tables and their
      optimizer state whole. The devices exchange only the touched rows (an
      all-gather of ids and row gradients along ``axis``, about
      ``batch_size * (2 W + 1.5) * d`` floats per update in all), and every
      device applies all of them to its replica with the row-sparse
      optimizer, so the replicas stay identical.
    * **Vocabulary-sharded** (``vocab_axis`` names a mesh axis of size
      ``n_v``): both tables and their table-shaped optimizer state are split
      into ``n_v`` contiguous slices of ``V / n_v`` rows
      (:func:`jaxns.sharding.vocab_sharding`), so a device holds ``1 / n_v``
      of the parameters and moments. The update is split over the devices of
      ``axis`` and, when it is a different axis, further over those of
      ``vocab_axis`` (``n = n_axis * n_v`` slices); ``vocab_axis=axis`` (one
      1-D mesh) gives every device ``1 / n`` of the rows and ``1 / n`` of
      each update's centres. A device fetches the rows its slice reads
      without any table leaving its owner: the devices of ``vocab_axis``
      all-gather the ids they need (integers), each reads the requested rows
      it owns (zeros for the others), and one ``psum_scatter`` hands every
      device its rows. After the gradients, the touched ids and row
      gradients are all-gathered over the slicing axes as in the replicated
      mode, and each device applies only those of rows it owns; the others
      are dropped. No step holds a ``[V, d]`` buffer on any device.

    The update is the same as :func:`make_trainer`'s with the same
    ``batch_size`` and key, for any device count and either layout: the same
    pairs, the same negatives, the same rows read, the same gradients. Only
    the order in which duplicate rows' gradients are summed differs, so
    results agree to float32 rounding (about 1e-6 relative per update; over a
    long run such differences grow the way they do between any two summation
    orders, so two device counts give equally good but not bitwise equal
    vectors). With one device the result is bitwise :func:`make_trainer`'s,
    in both layouts (for word-level inputs; see ``subwords``).

    **Delayed exchange** (``sync_every = S > 1``, replicated tables only).
    With one host device per CPU core, one update of a few hundred centres
    takes tens of microseconds, about what one cross-device exchange costs,
    so exchanging after every update leaves the devices waiting on each
    other. With ``S > 1`` a device applies its own slice of every update to
    its replica at once (it reads its own updates without delay, as a
    single-device run does) and receives the other devices' slices once
    every ``S`` updates: one all-gather of ``S`` updates' touched rows. At
    that exchange every device rebuilds the replica from the last exchanged
    state by applying all devices' slices of the ``S`` updates in order, as
    ``sync_every=1`` applies them, so the replicas stay bitwise identical
    and a device's stale reads are the only difference: its gradients see
    the other devices' last ``S - 1`` updates late, as a gensim worker
    thread reads rows other threads are writing (Hogwild). With one device
    the result equals ``sync_every=1``'s (and :func:`make_trainer`'s). The
    exchanged bytes per update do not change; their number of messages
    falls by ``S``.

    Undoing and replaying a device's own slices costs two more row-sparse
    writes per update, about as much as the gradients on a host CPU. With
    ``exact_replicas=False`` (plain SGD only, ``optimizer=None``) a device
    instead keeps its own slices and adds only the other devices' at the
    exchange, as Hogwild workers do: the same updates reach every replica,
    summed in a different order, so the replicas agree to float32 rounding
    rather than bitwise, and ``params`` comes back from the first device.
    On two devices the other device's rows then travel by one collective
    permute instead of an all-gather (half the bytes copied).

    Args:
      sampler: the noise distribution (as in :func:`make_trainer`).
      mesh: a :class:`jax.sharding.Mesh`; the tables are replicated over it,
        or split over ``vocab_axis``.
      axis: the mesh axis whose devices split each update.
      vocab_axis: ``None`` for replicated tables, or the mesh axis that
        splits the tables' rows (may equal ``axis``). The tables' ``V`` rows
        must be a multiple of its size (as :func:`jaxns.sharding.shard_table`
        requires); pad the vocabulary with rows that no token uses and the
        sampler's counts with zeros.
      learning_rate: an Optax schedule of the raw-word progress.
      optimizer: an element-wise Optax transformation without learning rate.
      window: maximum window ``W``.
      num_negatives: negatives per pair ``K`` (in expectation).
      batch_size: centres per update, across all devices; a multiple of
        ``n * chunk_size``.
      chunk_size: consecutive centres sharing one set of negatives.
      negatives_per_chunk: noise draws per chunk (as in :func:`make_trainer`).
      steps_per_call: updates fused into one ``train`` call.
      skip_hits: leave out negatives equal to the pair's centre.
      sync_every: updates between two exchanges of the touched rows (see
        *Delayed exchange*); a divisor of ``steps_per_call``. Values above
        1 need replicated tables (``vocab_axis=None``). For any value, an
        update without centres on any device (padding at a stream's end)
        leaves the tables and an ``optimizer``'s state (e.g. Adam's count)
        alone, as in :func:`make_trainer`.
      exact_replicas: with ``sync_every > 1``, keep the replicas bitwise
        identical (undo and replay) or, if False, only equal up to rounding
        (faster; plain SGD only).
      compiler_options: passed to ``jax.jit``.
      duplicate_rows: as :func:`make_trainer`'s, counted over the whole
        update (every device's slice; a token in the ``2 W`` positions two
        neighbouring slices share is counted once), so the update equals
        :func:`make_trainer`'s. Needs ``sync_every=1``.
      max_row_rate: as :func:`make_trainer`'s, counted the same way. Needs
        ``sync_every=1``. With ``shuffle=True`` these keep updates of 16k
        centres and more at gensim's quality (see :func:`make_trainer`),
        which is how a mesh of accelerators is filled.
      shuffle: :meth:`Trainer.stream` puts each epoch's sentences in a
        random order, as :func:`make_trainer`'s.
      model: ``"skipgram"`` (the default) or ``"cbow"`` (word2vec.c's and
        gensim's CBOW with the mean of the context words, see
        :func:`block_gradients`), in either layout and with every option
        above; the result equals :func:`make_trainer`'s with the same
        ``model``.
      subwords: optional ``int [V, M]`` fastText subword rows of each word
        (:func:`jaxns.subwords.subword_table`, ``-1`` padding), as
        :func:`make_trainer`'s: a word's input vector is the mean of its
        rows, the input table has ``V + num_buckets`` rows
        (:func:`init_subword_params`) and the output table ``V``. Works with
        both models, in both layouts and with every option above. The
        touched input rows of a slice are the ``M`` rows of each of its
        positions (``-1`` padding dropped), which all receive the
        position's update: the devices exchange one update per position
        (as many floats as word-level inputs), and each device expands them
        to the positions' rows, counts those (for ``duplicate_rows`` and
        ``max_row_rate``: once per position whose word has the row, as
        :func:`make_trainer` counts) and applies them like word rows, up to
        ``M`` times the input rows of a word-level update (padded to ``M``
        per position, where :func:`make_trainer` packs the rows of the
        block's distinct words). With ``vocab_axis`` the ``V +
        num_buckets`` input rows are split over it too, so that number must
        be a multiple of its size (pad the input table with rows no word
        uses). The result equals :func:`make_trainer`'s with the same
        ``subwords`` to float32 rounding on any device count, one included:
        :func:`make_trainer` gathers each distinct word's rows once (in
        pages of ``subword_rows``) and sums its positions' updates, the
        same update summed in another order.
      compute_loss: as :func:`make_trainer`'s: ``False`` returns ``0.0``
        as the loss sum and leaves the loss out of every device's step.

    Returns:
      A :class:`Trainer` with :func:`make_trainer`'s interface (``train``,
      ``train_arrays``, ``stream``, ``block_size``, ``window``); its
      ``stream`` comes back replicated over the mesh
      (:attr:`Trainer.stream_sharding`), once, not on every call. ``params``
      and ``opt_state`` come back replicated over the mesh, or, with
      ``vocab_axis``, split along their rows over it (``init`` builds the
      state that way; place the tables with
      :func:`jaxns.sharding.shard_table` so that the first call need not
      move them). ``train`` lays out ``params`` and ``opt_state`` given in
      another way (tables from :func:`init_params` on one device) as it
      returns them before the call, so the next call reuses the first
      one's compilation.

    Raises:
      TypeError: for a non-mesh, non-integer sizes or ``subwords``, or a
        sampler without ``sample``.
      ValueError: for an unknown ``axis``, ``vocab_axis`` or ``model``, a
        ``batch_size`` that is not a multiple of ``n * chunk_size``, a
        ``sync_every`` that does not divide ``steps_per_call`` or exceeds 1
        with ``vocab_axis``, ``subwords`` that is not 2-D;
        ``init`` and ``train`` raise ``ValueError`` for tables whose rows
        ``vocab_axis`` does not divide, and with ``subwords`` for an output
        table without one row per word or an input table without every
        row ``subwords`` names; ``train`` for an ``opt_state`` unlike
        ``init(params)``'s.

    Examples:
      >>> import jax, jax.numpy as jnp, optax, jaxns
      >>> mesh = jax.make_mesh((1,), ("data",))
      >>> t = jaxns.word2vec.make_sharded_trainer(
      ...     jaxns.samplers.uniform(8), mesh=mesh,
      ...     learning_rate=optax.constant_schedule(0.1), window=2,
      ...     batch_size=8, chunk_size=4, negatives_per_chunk=4, steps_per_call=2)
      >>> params = jaxns.word2vec.init_params(jax.random.key(0), 8, 4)
      >>> state = t.init(params)
      >>> ids = jnp.arange(16, dtype=jnp.int32) % 8
      >>> stream = t.stream(jax.random.key(1), ids, jnp.zeros(16, jnp.int32),
      ...                   jnp.ones(8))
      >>> params, state, loss, pairs = t.train(
      ...     jax.random.key(2), params, state, stream, 0, (0.0, 16.0))
      >>> int(pairs) > 0, bool(jnp.isfinite(loss))
      (True, True)

      The same with the tables split along the vocabulary over the mesh axis
      that splits the update:

      >>> t = jaxns.word2vec.make_sharded_trainer(
      ...     jaxns.samplers.uniform(8), mesh=mesh, axis="data",
      ...     vocab_axis="data", learning_rate=optax.constant_schedule(0.1),
      ...     window=2, batch_size=8, chunk_size=4, negatives_per_chunk=4,
      ...     steps_per_call=2)
      >>> params = jaxns.word2vec.init_params(jax.random.key(0), 8, 4)
      >>> params = jaxns.word2vec.SkipGramParams(
      ...     *(jaxns.sharding.shard_table(p, mesh, "data") for p in params))
      >>> state = t.init(params)
      >>> params, state, loss, pairs = t.train(
      ...     jax.random.key(2), params, state, stream, 0, (0.0, 16.0))
      >>> tuple(params.input.sharding.spec), int(pairs) > 0
      (('data', None), True)

      fastText inputs (replicated tables): each word's subword rows, and an
      input table with the n-gram bucket rows after the word rows:

      >>> table = jaxns.subwords.subword_table(
      ...     [f"w{i}" for i in range(8)], min_n=2, max_n=3, num_buckets=8)
      >>> t = jaxns.word2vec.make_sharded_trainer(
      ...     jaxns.samplers.uniform(8), mesh=mesh,
      ...     learning_rate=optax.constant_schedule(0.1), window=2,
      ...     batch_size=8, chunk_size=4, negatives_per_chunk=4,
      ...     steps_per_call=2, subwords=table)
      >>> params = jaxns.word2vec.init_subword_params(jax.random.key(0), 8, 8, 4)
      >>> state = t.init(params)
      >>> params, state, loss, pairs = t.train(
      ...     jax.random.key(2), params, state, stream, 0, (0.0, 16.0))
      >>> params.input.shape, bool(jnp.isfinite(loss))
      ((16, 4), True)

    References:
      Ji et al, `Parallelizing Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016. Dean et al, `Large Scale
      Distributed Deep Networks <https://papers.nips.cc/paper/4687>`_, 2012.
      Shazeer et al, `Mesh-TensorFlow: Deep Learning for Supercomputers
      <https://arxiv.org/abs/1811.02084>`_, 2018 (vocabulary-split tables).
      Recht et al, `Hogwild!: A Lock-Free Approach to Parallelizing
      Stochastic Gradient Descent <https://arxiv.org/abs/1106.5730>`_, 2011
      (delayed exchange).
    """
    from jax.sharding import PartitionSpec as P

    from jaxns import sharding as _sharding

    fn = "word2vec.make_sharded_trainer"
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh, got {mesh!r}.")
    for arg, name in (("axis", axis), ("vocab_axis", vocab_axis)):
        if arg == "vocab_axis" and name is None:
            continue
        if name not in mesh.axis_names:
            raise ValueError(
                f"{fn}: {arg} must name an axis of the mesh "
                f"{tuple(mesh.axis_names)}, got {name!r}."
            )
    model = _checks.choice(fn, "model", model, MODELS)
    sharded = vocab_axis is not None
    table_rows = None
    if subwords is not None:
        subwords = np.asarray(_checks.int_array(fn, "subwords", subwords, ndim=2))
        # The largest row id a word reads: the input table must hold it.
        table_rows = (subwords.shape[0], int(np.max(subwords, initial=-1)))
        # Uncommitted: the jitted program may run on any mesh.
        subwords = jnp.asarray(subwords, jnp.int32)
    # The axes whose devices split an update: the data axis, and the
    # vocabulary axis too when it is another one (so no device idles).
    split = axis if not sharded or vocab_axis == axis else (axis, vocab_axis)
    names = (split,) if isinstance(split, str) else split
    n = math.prod(mesh.shape[a] for a in names)
    # make_trainer checks every other argument and gives the stream helper.
    base = make_trainer(
        sampler, learning_rate=learning_rate, optimizer=optimizer, window=window,
        num_negatives=num_negatives, batch_size=batch_size, chunk_size=chunk_size,
        negatives_per_chunk=negatives_per_chunk, steps_per_call=steps_per_call,
        skip_hits=skip_hits, compiler_options=compiler_options,
        duplicate_rows=duplicate_rows, max_row_rate=max_row_rate, shuffle=shuffle,
        model=model,
    )  # fmt: skip
    # make_trainer has checked both caps.
    cap = {"sum": None, "mean": 1}.get(duplicate_rows, duplicate_rows)
    capped = cap is not None or max_row_rate is not None
    if batch_size % (n * chunk_size):
        over = f"mesh axis {axis!r} of size {n}"
        if len(names) > 1:
            over = f"mesh axes {names} of {n} devices in all"
        raise ValueError(
            f"{fn}: batch_size must be a multiple of n * chunk_size = "
            f"{n} * {chunk_size} for {over}, got {batch_size}."
        )
    sync_every = _checks.size(fn, "sync_every", sync_every, minimum=1)
    if steps_per_call % sync_every:
        raise ValueError(
            f"{fn}: sync_every must divide steps_per_call = {steps_per_call}, "
            f"got {sync_every}."
        )
    if capped and sync_every > 1:
        raise ValueError(
            f"{fn}: duplicate_rows and max_row_rate count a row's gradients "
            "over the whole update, which a device sees only at an exchange: "
            f"they need sync_every=1, got sync_every={sync_every}."
        )
    if sharded and sync_every > 1:
        raise ValueError(
            f"{fn}: sync_every > 1 needs replicated tables (vocab_axis=None): "
            f"a vocabulary-split table has no local replica to update between "
            f"exchanges; got sync_every={sync_every} with vocab_axis="
            f"{vocab_axis!r}."
        )
    _checks.flag(fn, "exact_replicas", exact_replicas)
    compute_loss = _checks.flag(fn, "compute_loss", compute_loss)
    if not exact_replicas and optimizer is not None:
        raise ValueError(
            f"{fn}: exact_replicas=False needs plain SGD (optimizer=None): a "
            "stateful optimizer would step its state once per exchange as well "
            f"as once per update; got optimizer={optimizer!r}."
        )
    num_chunks = batch_size // chunk_size
    local_chunks, local_batch = num_chunks // n, batch_size // n
    linear = optimizer is None
    tx = optax.chain(
        optax.identity() if linear else optimizer, _scale_by_progress(learning_rate)
    )
    opt = optim.row_sparse(tx, dedup=not linear)
    rows_spec = P(vocab_axis, None) if sharded else P()
    # Both kernels read the input rows of the block positions and the output
    # rows of each chunk's centres and negatives, through supplied reads.
    if subwords is not None:
        # An input position reads its word's M subword rows, which all get
        # the position's update: the kernel returns it once per position, so
        # the exchange carries word-level sizes (expand() makes the rows).
        kernel = functools.partial(
            _block_gradients, model=model, subwords=subwords, per_position=True
        )
    elif model == "skipgram":
        kernel = _chunk_gradients
    else:
        kernel = functools.partial(_block_gradients, model=model)
    rows_per_position = 1 if subwords is None else subwords.shape[1]

    def tables_of(where: str, params: Any) -> dict[str, Any]:
        tables = _tables(where, params, sampler=sampler, subwords=table_rows)
        if sharded:
            for name, table in tables.items():
                _sharding._divisible(
                    where,
                    f"params.{name}",
                    np.shape(table)[0],
                    mesh,
                    vocab_axis,
                    "rows",
                )
        return tables

    def state_specs(tables: dict[str, Any]) -> Any:
        # Table-shaped optimizer leaves are split like their table.
        shapes = jax.eval_shape(opt.init, tables)
        return {
            name: jax.tree.map(
                lambda leaf, t=t: rows_spec if leaf.shape == t.shape else P(),
                shapes[name],
            )
            for name, t in tables.items()
        }

    @jax.jit
    def sharded_init(tables: dict[str, Any]) -> Any:
        # One jit for the trainer's lifetime: it compiles once per table
        # shape, not once per call (a new shard_map per call would retrace).
        specs = {name: rows_spec for name in tables}
        with jax.named_scope("jaxns.word2vec.sharded_init"):
            return _sharding._shard_map(
                opt.init,
                mesh=mesh,
                in_specs=(specs,),
                out_specs=state_specs(tables),
            )(tables)

    def init(params: SkipGramParams) -> Any:
        tables = tables_of("word2vec.Trainer.init", params)
        if not sharded:
            return opt.init(tables)
        return sharded_init(tables)

    def packed(tree, axis, collective, per_leaf, shape):
        """Sends every leaf of ``tree`` through one ``collective``.

        Host devices pay a rendezvous per collective, about what a small
        update costs, so 4-byte leaves travel packed as the bits of one
        ``uint32`` array (flattened after ``axis``); other widths go one
        ``per_leaf`` call each. ``shape(x)``: a leaf's shape after the trip.
        """
        leaves, treedef = jax.tree.flatten(tree)
        if any(x.dtype.itemsize != 4 for x in leaves):
            return jax.tree.unflatten(treedef, [per_leaf(x) for x in leaves])
        lead = leaves[0].shape[:axis]
        flat = [
            jax.lax.bitcast_convert_type(x, jnp.uint32).reshape(*lead, -1)
            for x in leaves
        ]
        sent = collective(jnp.concatenate(flat, axis=axis))
        out, start = [], 0
        for x, f in zip(leaves, flat, strict=True):
            size = f.shape[-1]
            part = jax.lax.slice_in_dim(sent, start, start + size, axis=sent.ndim - 1)
            start += size
            out.append(jax.lax.bitcast_convert_type(part.reshape(shape(x)), x.dtype))
        return jax.tree.unflatten(treedef, out)

    def gather(tree, axis=0, invarying=True):
        """All-gathers every leaf of ``tree`` along ``axis`` in one collective."""
        to = {"to": "invarying"} if invarying else {}
        if n == 1:  # nothing to pack: one-participant collectives are free
            return jax.tree.map(
                lambda x: jax.lax.all_gather(x, split, axis=axis, tiled=True, **to),
                tree,
            )
        return packed(
            tree,
            axis,
            lambda p: jax.lax.all_gather(p, split, axis=axis, tiled=False, **to),
            lambda x: jax.lax.all_gather(x, split, axis=axis, tiled=True, **to),
            # [..., n, size] -> [..., n * rows, ...] in device order.
            lambda x: (*x.shape[:axis], n * x.shape[axis], *x.shape[axis + 1 :]),
        )

    def swap(tree):
        """On two devices, each device's ``tree`` goes to the other one: one
        collective permute copies half the bytes of an all-gather, which also
        hands every device back its own rows."""
        pairs = [(0, 1), (1, 0)]
        send = functools.partial(jax.lax.ppermute, axis_name=split, perm=pairs)
        return packed(tree, 1, send, send, lambda x: x.shape)

    def fetch(tables, in_ids, out_ids):
        """Rows ``in_ids`` of the input and ``out_ids`` of the output table,
        read on the devices of ``vocab_axis`` that own them."""
        u, v = tables["input"], tables["output"]
        m_in = in_ids.shape[0]
        want = jax.lax.all_gather(
            jnp.concatenate([in_ids, out_ids]), vocab_axis
        )  # [n_v, m]: every device's requests
        # Rows per shard: with subwords the input table has more rows.
        local_in, own_in = _sharding._owned(want[:, :m_in], u.shape[0], vocab_axis)
        local_out, own_out = _sharding._owned(want[:, m_in:], v.shape[0], vocab_axis)
        read_in = jnp.where(own_in[..., None], u[local_in], 0)
        read_out = jnp.where(own_out[..., None], v[local_out], 0)
        if u.dtype == v.dtype:  # one collective for both tables
            both = jnp.concatenate([read_in, read_out], axis=1)
            mine = jax.lax.psum_scatter(both, vocab_axis, scatter_dimension=0)
            return mine[:m_in], mine[m_in:]
        return (
            jax.lax.psum_scatter(read_in, vocab_axis, scatter_dimension=0),
            jax.lax.psum_scatter(read_out, vocab_axis, scatter_dimension=0),
        )

    def own_only(ids, table):
        """Global ids -> rows of this shard; -1 (dropped) for the others."""
        local, own = _sharding._owned(ids, table.shape[0], vocab_axis)
        return jnp.where(own & (ids >= 0), local, PAD)

    def device_run(params, opt_state, tokens, sentence_ids, first, key, progress):
        device = jax.lax.axis_index(split)
        steps = first + jnp.arange(steps_per_call, dtype=jnp.int32)
        # The call's draws, as make_trainer makes them; keep this device's.
        drawn = jax.tree.map(
            lambda x: jax.lax.dynamic_slice_in_dim(
                x, device * local_chunks, local_chunks, axis=1
            ),
            _update_draws(
                sampler, key, steps, num_chunks, chunk_size,
                negatives_per_chunk, window,
            ),
        )  # fmt: skip

        def grads(params, index, read=None):
            """This device's slice of update ``index``, read from ``params``;
            ``read`` (a dict) receives the rows it read, as read. With
            subwords, the input ids and updates are per block position (the
            kernel's ``per_position``): :func:`expand` makes them rows."""
            reduction, negs = jax.tree.map(lambda x: x[index - first], drawn)
            offset = index * batch_size + device * local_batch
            block = local_batch + 2 * window
            toks = jax.lax.dynamic_slice(tokens, (offset,), (block,))
            sents = jax.lax.dynamic_slice(sentence_ids, (offset,), (block,))
            if sharded:
                # The ids the kernel reads (padding clamped to row 0, as its
                # gathers do), fetched from their owners.
                tables = {"input": params.input, "output": params.output}
                safe = jnp.where(toks >= 0, toks, 0).astype(jnp.int32)
                out_ids = _output_reads(safe, negs, reduction, window)
                in_ids = safe
                if subwords is not None:  # [positions, M] subword rows
                    in_ids, _ = _position_rows(subwords, toks)
                x_rows, y_rows = fetch(tables, in_ids.reshape(-1), out_ids.reshape(-1))
                x_rows = x_rows.reshape(*in_ids.shape, -1)
                y_rows = y_rows.reshape(*out_ids.shape, -1)
                return kernel(
                    lambda ids: x_rows, lambda ids: y_rows, toks, sents, negs,
                    reduction, window=window, num_negatives=num_negatives,
                    skip_hits=skip_hits,
                )  # fmt: skip
            read = {} if read is None else read

            def rows(name, table):
                def take(ids):
                    read[name] = table[ids]
                    return read[name]

                return take

            return kernel(
                rows("input", params.input), rows("output", params.output),
                toks, sents, negs, reduction, window=window,
                num_negatives=num_negatives, skip_hits=skip_hits,
            )  # fmt: skip

        def apply(params, opt_state, ids, row_grads, progress):
            tables = {"input": params.input, "output": params.output}
            tables, opt_state = opt.update(
                ids, row_grads, opt_state, tables, progress=progress
            )
            return SkipGramParams(tables["input"], tables["output"]), opt_state

        def loss_of(g):
            """The loss of ``g``, or zeros (XLA then drops its softplus)."""
            return g.loss if compute_loss else jnp.zeros_like(g.loss)

        def exchanged(g):
            """What crosses devices: the touched rows (with subwords, the
            input side per block position, see ``grads``)."""
            ids = {"input": g.input_ids, "output": g.output_ids}
            return ids, {"input": g.input_grads, "output": g.output_grads}

        def expand(ids, row_grads):
            """:func:`exchanged`'s ids and updates as table rows: with
            subwords each position's ``M`` rows (-1 padding), as the kernel
            gives them. Leading axes (stacked updates) are kept."""
            if subwords is None:
                return ids, row_grads
            pos, dx = ids["input"], row_grads["input"]
            sub, ok = _position_rows(subwords, pos)  # [..., P, M]
            lead = pos.shape[:-1]
            flat = (*lead, pos.shape[-1] * rows_per_position)
            ids = dict(ids, input=jnp.where(ok, sub, PAD).reshape(flat))
            rows = jnp.where(ok[..., None], dx[..., None, :], 0).astype(dx.dtype)
            row_grads = dict(row_grads, input=rows.reshape(*flat, dx.shape[-1]))
            return ids, row_grads

        def ids_grads(g):
            """The rows ``g`` touches and their updates."""
            return expand(*exchanged(g))

        def capped_grads(params, ids, row_grads, progress):
            """make_trainer's duplicate_rows / max_row_rate scaling, with the
            rows counted over all devices' slices of the update."""
            step_cap = cap
            if max_row_rate is not None:
                by_rate = max_row_rate / learning_rate(progress)
                step_cap = by_rate if cap is None else jnp.minimum(cap, by_rate)
            # Slice d's last 2 W input positions are slice d + 1's first.
            slice_pos = jnp.arange(local_batch + 2 * window) < local_batch
            counted = jnp.concatenate(
                [jnp.tile(slice_pos, n - 1), jnp.ones_like(slice_pos)]
            )
            # With subwords each position touches its M rows (make_trainer
            # counts a row once per position whose word has it).
            counted_in = counted
            if subwords is not None:
                counted_in = jnp.repeat(counted, rows_per_position)
            out = {}
            for name in ids:
                rows = getattr(params, name).shape[0] * (
                    mesh.shape[vocab_axis] if sharded else 1
                )
                out[name] = row_grads[name] * _row_scale(
                    ids[name], rows, step_cap, row_grads[name],
                    counted_in if name == "input" else None,
                )  # fmt: skip
            return out

        def one_step(carry, xs):
            params, opt_state = carry
            index, progress = xs
            g = grads(params, index)
            # Only the touched rows cross devices.
            ids, row_grads = expand(*gather(exchanged(g)))
            if capped:
                row_grads = capped_grads(params, ids, row_grads, progress)
            if sharded:  # each shard applies the rows it owns
                tables = {"input": params.input, "output": params.output}
                ids = {name: own_only(ids[name], tables[name]) for name in ids}
            args = (params, opt_state, ids, row_grads, progress)
            if linear:  # SGD: an update without centres adds zeros
                params, opt_state = apply(*args)
            else:  # without centres on any device: tables and state stay
                total = jax.lax.psum(g.num_pairs, names)
                params, opt_state = jax.lax.cond(
                    total > 0, lambda a: apply(*a), lambda a: (a[0], a[1]), args
                )
            return (params, opt_state), (loss_of(g), g.num_pairs)

        def rows_of(tree, ids, like):
            """The rows ``ids`` of every ``like``-shaped leaf of ``tree``."""
            return jax.tree.map(
                lambda x: x[jnp.maximum(ids, 0)] if x.shape == like.shape else None,
                tree,
            )

        def put_rows(tree, ids, rows, like):
            """Writes ``rows`` back at ``ids`` (padding ids dropped)."""
            safe = jnp.where(ids >= 0, ids, like.shape[0])

            def put(x, r):
                if r is None:
                    return x
                return x.at[safe].set(r, mode="drop")

            return jax.tree.map(put, tree, rows, is_leaf=lambda r: r is None)

        def replay(params, opt_state, ids, row_grads, progress, pairs):
            """Applies ``[S, ...]`` stacked updates in order; an update
            without centres on any device (``pairs``: this device's ``[S]``
            counts) leaves the tables and the state (Adam's count) alone, as
            :func:`make_trainer`'s does."""
            if linear:  # SGD: an update without centres adds zeros
                total = jnp.ones_like(pairs)  # no collective needed
            else:
                total = jax.lax.psum(pairs, names)

            def step(carry, xs):
                *args, total = xs
                if linear:
                    return apply(*carry, *args), None
                return jax.lax.cond(
                    total > 0, lambda a: apply(*a), lambda a: (a[0], a[1]),
                    (*carry, *args),
                ), None  # fmt: skip

            (params, opt_state), _ = jax.lax.scan(
                step, (params, opt_state), (ids, row_grads, progress, total)
            )
            return params, opt_state

        def hogwild_group(carry, xs):
            """``sync_every`` updates: own slices at once, others at the end."""
            params, opt_state = carry
            indices, progress = xs

            def local_step(carry, xs):
                params, opt_state = carry
                index, progress = xs
                g = grads(params, index)
                params, opt_state = apply(params, opt_state, *ids_grads(g), progress)
                return (params, opt_state), g

            (params, opt_state), gs = jax.lax.scan(
                local_step, (params, opt_state), (indices, progress)
            )
            # [S, n, rows, ...] from every device; keep the n - 1 others'.
            others = (device + 1 + jnp.arange(n - 1)) % n

            def theirs(x, local):
                x = x.reshape(sync_every, n, *local.shape[1:])
                x = jnp.take(x, others, axis=1)
                return x.reshape(sync_every, (n - 1) * local.shape[1], *x.shape[3:])

            if n == 2:
                ids, row_grads = expand(*swap(exchanged(gs)))
            else:
                ids, row_grads = expand(
                    *jax.tree.map(
                        theirs,
                        gather(exchanged(gs), axis=1, invarying=False),
                        exchanged(gs),
                    )
                )
            params, opt_state = replay(
                params, opt_state, ids, row_grads, progress, gs.num_pairs
            )
            return (params, opt_state), (loss_of(gs), gs.num_pairs)

        def one_group(carry, xs):
            """``sync_every`` updates: own slices at once, all at the end."""
            params, opt_state = carry
            indices, progress = xs
            scalars = opt_state  # scalar state (counts) is restored whole

            def local_step(carry, xs):
                params, opt_state = carry
                index, progress = xs
                read = {}
                g = grads(params, index, read)
                ids, row_grads = ids_grads(g)
                # The touched rows as they were, to undo this step exactly:
                # the rows the gradients read (reading the tables again here
                # would make XLA copy them before the in-place update).
                saved = {
                    name: (
                        read[name].reshape(-1, read[name].shape[-1]),
                        rows_of(opt_state[name], ids[name], getattr(params, name)),
                    )
                    for name in ids
                }
                params, opt_state = apply(params, opt_state, ids, row_grads, progress)
                return (params, opt_state), (g, saved)

            (params, opt_state), (gs, saved) = jax.lax.scan(
                local_step, (params, opt_state), (indices, progress)
            )

            def undo(carry, xs):
                params, opt_state = carry
                g, saved = xs
                ids, _ = ids_grads(g)
                tables, states = {}, {}
                for name in ids:
                    table = getattr(params, name)
                    rows, state_rows = saved[name]
                    tables[name] = put_rows(table, ids[name], rows, table)
                    states[name] = put_rows(
                        opt_state[name], ids[name], state_rows, table
                    )
                params = SkipGramParams(tables["input"], tables["output"])
                return (params, states), None

            # Back to the exchanged state, bitwise: the first saved value of
            # a row is the last one written.
            (params, opt_state), _ = jax.lax.scan(
                undo, (params, opt_state), (gs, saved), reverse=True
            )
            opt_state = jax.tree.map(
                lambda now, then: then if then.ndim == 0 else now, opt_state, scalars
            )
            # One exchange for the group: [S, n * rows] in device order.
            ids, row_grads = expand(*gather(exchanged(gs), axis=1, invarying=False))

            params, opt_state = replay(
                params, opt_state, ids, row_grads, progress, gs.num_pairs
            )
            return (params, opt_state), (loss_of(gs), gs.num_pairs)

        if sync_every == 1:
            (params, opt_state), (losses, pairs) = jax.lax.scan(
                one_step, (params, opt_state), (steps, progress)
            )
        else:
            shape = (steps_per_call // sync_every, sync_every)
            (params, opt_state), (losses, pairs) = jax.lax.scan(
                one_group if exact_replicas or n == 1 else hogwild_group,
                (params, opt_state),
                (steps.reshape(shape), progress.reshape(shape)),
            )
        loss = jax.lax.psum(jnp.sum(losses), split)
        return params, opt_state, loss, jax.lax.psum(jnp.sum(pairs), split)

    def run(params, opt_state, tokens, sentence_ids, start, key, progress0, progress1):
        tables = tables_of("word2vec.Trainer.train", params)
        _opt_state("word2vec.Trainer.train", opt_state, opt.init, tables)
        with jax.named_scope("jaxns.word2vec.sharded_train"):
            steps = jnp.arange(steps_per_call, dtype=jnp.int32)
            frac = steps.astype(jnp.float32) / steps_per_call
            progress0, progress1 = _float32_progress(progress0, progress1)
            progress = progress0 + frac * (progress1 - progress0)
            first = jnp.asarray(start, jnp.int32) // batch_size
            if not sharded:
                # Delayed exchange keeps per-device replicas between
                # exchanges; they are identical again (bitwise) after each.
                mapped = jax.shard_map(
                    device_run,
                    mesh=mesh,
                    in_specs=P(),
                    out_specs=P(),
                    check_vma=sync_every == 1,
                )
                return mapped(
                    params, opt_state, tokens, sentence_ids, first, key, progress
                )
            specs = (rows_spec, state_specs(tables), P(), P(), P(), P(), P())
            mapped = _sharding._shard_map(
                device_run,
                mesh=mesh,
                in_specs=specs,
                out_specs=(rows_spec, specs[1], P(), P()),
            )
            params = SkipGramParams(*params)
            return mapped(params, opt_state, tokens, sentence_ids, first, key, progress)

    train_arrays = jax.jit(
        run, donate_argnums=(0, 1), compiler_options=compiler_options
    )

    def run_stream(key, params, opt_state, stream, start, progress):
        return run(
            params, opt_state, stream.tokens, stream.sentence_ids, start, key,
            progress[0], progress[1],
        )  # fmt: skip

    jitted = jax.jit(
        run_stream, donate_argnums=(1, 2), compiler_options=compiler_options
    )

    def train(
        key: ArrayLike,
        params: SkipGramParams,
        opt_state: Any,
        stream: Stream,
        start: ArrayLike,
        progress: tuple[ArrayLike, ArrayLike],
    ) -> tuple[SkipGramParams, Any, jax.Array, jax.Array]:
        progress = _train_call(
            key, stream, start, progress, base.block_size, batch_size, window
        )
        tables_of("word2vec.Trainer.train", params)
        if not returned(params, opt_state):
            params, opt_state = on_mesh(params, opt_state)
        out = jitted(key, params, opt_state, stream, start, progress)
        last[:] = [weakref.ref(out[0][0]), weakref.ref(out[0][1]), id(out[1])]
        return out

    last: list[Any] = []

    def returned(params: Any, opt_state: Any) -> bool:
        """Whether these are the arrays the last call returned (in place
        already): the usual loop, checked in O(1) instead of leaf by leaf."""
        return bool(last) and (
            last[0]() is params[0] and last[1]() is params[1]
            and last[2] == id(opt_state)
        )  # fmt: skip

    def on_mesh(params: Any, opt_state: Any) -> tuple[Any, Any]:
        """``params`` and ``opt_state`` laid out as ``train`` returns them.

        Tables from :func:`init_params` (one device) and ``init``'s state
        otherwise differ in sharding from the outputs of the first call, so
        the second call compiled again; arrays already in place pass as
        they are (no copy, still donated).
        """
        if not isinstance(opt_state, dict) or set(opt_state) != {"input", "output"}:
            return params, opt_state  # the traced check names the fault
        tables = {"input": params[0], "output": params[1]}
        specs = {
            name: (
                rows_spec,
                jax.tree.map(
                    lambda leaf, t=table: (
                        rows_spec if np.shape(leaf) == np.shape(t) else P()
                    ),
                    opt_state[name],
                ),
            )
            for name, table in tables.items()
        }
        arrays = {name: (tables[name], opt_state[name]) for name in tables}
        leaves = jax.tree.leaves(arrays)
        targets = [
            jax.sharding.NamedSharding(mesh, spec)
            for spec in jax.tree.leaves(specs, is_leaf=lambda x: isinstance(x, P))
        ]
        if any(
            not isinstance(x, jax.Array) or isinstance(x, jax.core.Tracer)
            for x in leaves
        ) or all(  # a one-device sharding is equivalent, but compiles apart
            isinstance(x.sharding, jax.sharding.NamedSharding)
            and x.sharding.mesh == mesh
            and x.sharding.is_equivalent_to(t, x.ndim)
            for x, t in zip(leaves, targets, strict=True)
        ):  # under a caller's jit (which lays them out), or already in place
            return params, opt_state
        placed = jax.tree.unflatten(jax.tree.structure(arrays), jax.device_put(
            leaves, targets))  # fmt: skip
        params = SkipGramParams(placed["input"][0], placed["output"][0])
        return params, {name: placed[name][1] for name in tables}

    train.lower = jitted.lower
    # A stream committed to one device would be copied to every device of the
    # mesh on every call (about a tenth of a two-device epoch on host devices).
    return base._replace(
        init=init, train=train, train_arrays=train_arrays,
        stream_sharding=jax.sharding.NamedSharding(mesh, P()), train_touched=None,
    )  # fmt: skip


class ReplicaState(NamedTuple):
    """The ``opt_state`` of :func:`make_replica_trainer`.

    Attributes:
      inner: :func:`make_trainer`'s optimizer state (plain SGD's).
      merged: the tables as the last merge left them (every replica's
        starting point since), a copy on every device.
      touched: two boolean masks over the rows of the input and output
        tables, each device's the rows its replica has written since the
        last merge (:attr:`Trainer.train_touched`'s); ``None`` in a state
        made before they existed.
    """

    inner: Any
    merged: SkipGramParams
    touched: SkipGramParams | None = None


def make_replica_trainer(
    sampler: Any,
    *,
    mesh: jax.sharding.Mesh,
    merge_every: int = 8,
    merge_rows: str = "auto",
    learning_rate: optax.Schedule,
    **options: Any,
) -> Trainer:
    """:func:`make_trainer` on every device of a mesh, each device training
    its own replica on its own blocks of the stream, with the replicas'
    changes summed every ``merge_every`` calls.

    One ``train`` call of the returned trainer runs ``n`` calls of
    :func:`make_trainer` side by side, one per device of ``mesh``: device
    ``i`` trains its replica on the ``i``-th block of ``block_size / n``
    tokens of the call, with the learning rate of that block's share of
    ``progress``. No device waits for another during a call: each runs its
    own program, with no collective (on host CPU devices, one per core, the
    rendezvous of a collective inside a program costs about what a small
    update does, which is why :func:`make_sharded_trainer`'s exchanges do
    not scale there). Every ``merge_every`` calls, and after the last call
    of a stream, the replicas are merged into ``merged + sum_i (params_i -
    merged)``, the changes added in device order on every device, so the
    replicas are bitwise identical after each merge. Each device's
    change since the last merge is thus added once, whole: the sum
    gensim's Hogwild worker threads form in one shared table, with each
    replica reading the other replicas' updates up to ``merge_every`` calls
    late instead of at once (local SGD with summed instead of averaged
    changes; averaging would halve the step of every row both replicas
    touch, which is most of them).

    What crosses devices, nothing between merges, and at a merge one of
    two exchanges (``merge_rows``):

    * ``"touched"``: only the rows the replicas wrote since the last merge.
      Each call marks them (:attr:`Trainer.train_touched`); at a merge the
      host reads how many rows each device marked, every device gathers its
      marked rows' ids and changes (padded to a size that only grows, so
      that few programs compile) and sends them to every other device, and
      every device adds all of them to its copy of the last merge and
      writes those rows into its replica. Each device receives ``(n - 1)
      s`` rows, ``s`` the most rows any device touched, and reads and
      writes only touched rows: a merge costs ``O(n s d)``, not ``O(V
      d)``, which is what makes merges affordable for large vocabularies
      (and frequent merges on small ones).
    * ``"all"``: whole tables, as a reduce-scatter and an all-gather of row
      slices made of ``jax.device_put`` copies (device ``k`` receives the
      ``k``-th of ``n`` row slices of every other replica and merges that
      slice, then every device receives every merged slice): each device
      receives about ``2 (n - 1) / n`` of a replica of both tables (``2 V
      d`` floats, untouched rows included) whatever ``n``, and reads and
      writes every row a few times. No read-back to the host.
    * ``"auto"`` (the default): ``"touched"`` when ``n s`` is at most the
      rows of both tables, else ``"all"`` (scattered reads and writes of
      ``n s`` rows cost about as much as streaming every row a few times).

    The two give bitwise the same tables. A merge waits for every device's
    call;
    ``merge_every`` trades that against staleness (what a replica has not
    yet seen of the others' updates): on the built-in corpus (5 epochs), 2
    replicas merged every call score as one device or better, every 8
    calls lose about 0.02 SimLex-999 and 0.013 analogy accuracy (see the
    "Scaling out" docs page).

    With one device the result is bitwise :func:`make_trainer`'s with the
    same options (there is nothing to merge).

    Args:
      sampler: the noise distribution (as in :func:`make_trainer`).
      mesh: a :class:`jax.sharding.Mesh`; every one of its devices holds a
        replica (for host CPU devices:
        ``jax.config.update("jax_num_cpu_devices", n)`` before JAX starts,
        one per core).
      merge_every: calls between two merges (and a merge after the last
        call of each stream).
      merge_rows: what a merge exchanges: ``"touched"`` (the rows written
        since the last merge), ``"all"`` (whole tables) or ``"auto"``
        (whichever moves fewer bytes; see above).
      learning_rate: an Optax schedule of the raw-word progress.
      **options: every other keyword of :func:`make_trainer` (``window``,
        ``num_negatives``, ``batch_size``, ``chunk_size``,
        ``negatives_per_chunk``, ``steps_per_call``, ``skip_hits``,
        ``compiler_options``, ``duplicate_rows``, ``max_row_rate``,
        ``shuffle``, ``model``, ``subwords``, ``subword_rows``), applied by
        every replica to its own updates. ``optimizer`` must be ``None``
        (plain SGD): a stateful optimizer's state would differ between the
        replicas and has no merge.

    Returns:
      A :class:`Trainer` with :func:`make_trainer`'s interface, whose
      ``block_size`` is ``n`` times :func:`make_trainer`'s; ``init``
      returns a :class:`ReplicaState`. ``params`` come back replicated over
      the mesh: each device's buffer is its replica, so between merges the
      devices hold different values and reading ``params`` (for example
      ``np.asarray``) gives the first device's; after the last call of a
      stream they are identical. ``loss_sum`` and ``num_pairs`` are summed
      over the devices. ``start`` must be a concrete integer (a Python or
      NumPy int: the host decides when to merge).

    Raises:
      TypeError: for a non-mesh, a non-integer ``merge_every``, or
        :func:`make_trainer`'s type errors.
      ValueError: for ``merge_every < 1``, an unknown ``merge_rows``, an
        ``optimizer``, or
        :func:`make_trainer`'s value errors; ``train`` for a ``start`` that
        is not a concrete multiple of ``block_size`` or an ``opt_state``
        unlike ``init(params)``'s.

    Examples:
      >>> import jax, jax.numpy as jnp, optax, jaxns
      >>> mesh = jax.make_mesh((1,), ("data",))
      >>> t = jaxns.word2vec.make_replica_trainer(
      ...     jaxns.samplers.uniform(8), mesh=mesh, merge_every=2,
      ...     learning_rate=optax.constant_schedule(0.1), window=2,
      ...     batch_size=8, chunk_size=4, negatives_per_chunk=4, steps_per_call=2)
      >>> params = jaxns.word2vec.init_params(jax.random.key(0), 8, 4)
      >>> state = t.init(params)
      >>> ids = jnp.arange(16, dtype=jnp.int32) % 8
      >>> stream = t.stream(jax.random.key(1), ids, jnp.zeros(16, jnp.int32),
      ...                   jnp.ones(8))
      >>> params, state, loss, pairs = t.train(
      ...     jax.random.key(2), params, state, stream, 0, (0.0, 16.0))
      >>> int(pairs) > 0, t.block_size
      (True, 16)

    References:
      Recht et al, `Hogwild!: A Lock-Free Approach to Parallelizing
      Stochastic Gradient Descent <https://arxiv.org/abs/1106.5730>`_, 2011.
      Stich, `Local SGD Converges Fast and Communicates Little
      <https://arxiv.org/abs/1805.09767>`_, 2019. Mikolov et al,
      `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    fn = "word2vec.make_replica_trainer"
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh, got {mesh!r}.")
    merge_every = _checks.size(fn, "merge_every", merge_every, minimum=1)
    merge_rows = _checks.choice(
        fn, "merge_rows", merge_rows, ("auto", "touched", "all")
    )
    if options.get("optimizer") is not None:
        raise ValueError(
            f"{fn}: optimizer must be None (plain SGD): each replica would "
            "step its own optimizer state, which a merge of the tables' "
            f"changes cannot combine; got optimizer={options['optimizer']!r}."
        )
    base = make_trainer(sampler, learning_rate=learning_rate, **options)
    devices = list(mesh.devices.flat)
    n = len(devices)
    replicated = NamedSharding(mesh, P())
    local_block = base.block_size
    block_size = n * local_block
    # For train's checks of start (a multiple of block_size, checked too).
    batch_size = options.get(
        "batch_size", inspect.signature(make_trainer).parameters["batch_size"].default
    )

    def split(x: Any) -> list[jax.Array]:
        """Each device's buffer of ``x`` (no copy when it is already
        replicated over the mesh; otherwise copied there first)."""
        if not (
            isinstance(x, jax.Array)
            and isinstance(x.sharding, NamedSharding)
            and x.sharding.mesh == mesh
            and x.sharding.is_fully_replicated
        ):
            x = jax.device_put(x, replicated)
        by_device = {s.device: s.data for s in x.addressable_shards}
        return [by_device[d] for d in devices]

    def join(parts: list[jax.Array]) -> jax.Array:
        return jax.make_array_from_single_device_arrays(
            parts[0].shape, replicated, parts
        )

    def split_tree(tree: Any) -> list[Any]:
        leaves, treedef = jax.tree.flatten(tree)
        per_leaf = [split(x) for x in leaves]
        return [jax.tree.unflatten(treedef, [p[i] for p in per_leaf]) for i in range(n)]

    def join_tree(trees: list[Any]) -> Any:
        return jax.tree.map(lambda *parts: join(list(parts)), *trees)

    def init(params: SkipGramParams) -> ReplicaState:
        inner = base.init(params)
        tables = SkipGramParams(*params)
        merged = jax.tree.map(lambda t: jax.device_put(jnp.copy(t), replicated), tables)
        touched = SkipGramParams(
            *(jax.device_put(jnp.zeros(t.shape[0], bool), replicated) for t in tables)
        )
        return ReplicaState(jax.device_put(inner, replicated), merged, touched)

    def bounds(rows: int, k: int) -> tuple[int, int]:
        """The rows whose merge device ``k`` computes: the ``k``-th of ``n``
        near-equal contiguous slices."""
        return rows * k // n, rows * (k + 1) // n

    @functools.partial(jax.jit, static_argnums=1)
    def take(params, k):
        """Slice ``k`` of both tables."""
        return SkipGramParams(*(t[slice(*bounds(t.shape[0], k))] for t in params))

    @functools.partial(jax.jit, static_argnums=(2, 3))
    def reduce_slice(params, merged, k, own, *others):
        """Slice ``k`` of ``merged + sum_j (params_j - merged)``, the changes
        added one by one in device order (as the touched-row merge adds
        them): ``others`` are the other devices' slices, ``own`` the
        position of this device's."""

        def one(p, m, *rest):
            lo, hi = bounds(p.shape[0], k)
            replicas = [*rest[:own], p[lo:hi], *rest[own:]]
            base = m[lo:hi]
            return functools.reduce(lambda acc, r: acc + (r - base), replicas, base)

        return SkipGramParams(
            *(one(p, m, *r) for p, m, *r in zip(params, merged, *others, strict=True))
        )

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def assemble(params, merged, *slices):
        """The merged slices (in row order) written into ``params`` and
        ``merged`` in place."""
        del params, merged  # donated: their buffers hold the result
        new = [jnp.concatenate(parts) for parts in zip(*slices, strict=True)]
        return SkipGramParams(*new), SkipGramParams(*(jnp.copy(t) for t in new))

    @functools.partial(jax.jit, static_argnums=3)
    def pack(params, merged, touched, capacity):
        """This replica's touched rows: per table, their ids (padded with
        the out-of-range id ``V``) and their changes since the last merge
        (zero in the padding)."""

        def one(p, m, mask, size):
            (ids,) = jnp.nonzero(mask, size=size, fill_value=mask.shape[0])
            new = p.at[ids].get(mode="fill", fill_value=0)
            old = m.at[ids].get(mode="fill", fill_value=0)
            return ids.astype(jnp.int32), new - old

        return tuple(map(one, params, merged, touched, capacity))

    # keep_unused: the masks' buffers place (and are reused for) the result.
    @functools.partial(jax.jit, donate_argnums=(0, 1, 2), keep_unused=True)
    def apply_rows(params, merged, touched, *packs):
        """Every replica's touched rows merged into ``merged`` (its changes
        added in device order), and those rows of ``merged`` written into
        this replica: in place, reading and writing only touched rows."""
        out_p, out_m = [], []
        for t, (p, m) in enumerate(zip(params, merged, strict=True)):
            for pk in packs:
                ids, change = pk[t]
                m = m.at[ids].add(change, mode="drop")
            for pk in packs:
                ids = pk[t][0]
                p = p.at[ids].set(m.at[ids].get(mode="fill", fill_value=0), mode="drop")
            out_p.append(p)
            out_m.append(m)
        return (
            SkipGramParams(*out_p),
            SkipGramParams(*out_m),
            SkipGramParams(*(jnp.zeros_like(x) for x in touched)),
        )

    @jax.jit
    def num_touched(touched):
        return jnp.stack([jnp.sum(x, dtype=jnp.int32) for x in touched])

    @functools.partial(jax.jit, donate_argnums=0, keep_unused=True)
    def cleared(touched):
        return SkipGramParams(*(jnp.zeros_like(x) for x in touched))

    capacity: list[int] = [0, 0]  # the touched-row merge's, only ever grown

    def touched_capacity(marks, rows):
        """The rows per table a touched-row merge gathers from each device
        (the most any device touched, rounded up to a power of two and
        never shrunk, so that few programs are compiled), or ``None`` when
        merging whole tables moves fewer bytes."""
        if merge_rows == "all":
            return None
        counts = np.max([np.asarray(c) for c in marks], axis=0)
        for t, c in enumerate(counts):
            if c > capacity[t]:  # grown with a quarter's headroom
                want = int(c) + int(c) // 4
                step = 1 << max(want.bit_length() - 4, 0)  # 8 sizes per octave
                capacity[t] = min(rows[t], max(256, -(-want // step) * step))
        # The touched-row merge reads and writes about n * size rows per
        # table, scattered; the slice-wise merge of whole tables streams
        # every row a few times. Measured on 2 CPU devices (built-in corpus,
        # benchmarks/sharding.py), the touched rows win at n * size = 0.9x
        # the tables' rows and lose at 1.3x and 1.8x: touched up to 1x.
        if merge_rows == "auto" and n * sum(capacity) > sum(rows):
            return None
        return tuple(capacity)

    def merge_touched(reps, merged, touched, size):
        """Every device's replica becomes the merge of all ``reps``, from
        the touched rows alone: each device sends its touched rows' ids and
        changes to every other device (``(n - 1) * size`` rows received
        per device), and every device adds all of them in device order into
        its copy of ``merged``, so the replicas stay bitwise equal."""
        bases, marks = split_tree(merged), touched
        packs = [pack(reps[i], bases[i], marks[i], size) for i in range(n)]
        for i in range(n):
            mine = [jax.device_put(pk, devices[i]) for pk in packs]
            reps[i], bases[i], marks[i] = apply_rows(reps[i], bases[i], marks[i], *mine)
        return reps, join_tree(bases), marks

    def merge_replicas(reps, merged):
        """Every device's replica becomes the merge of all ``reps``.

        As a reduce-scatter and an all-gather of copies: device ``k``
        receives slice ``k`` of every other replica and computes that
        slice's merge, then every device receives every other device's
        merged slice. Each device receives about ``2 (n - 1) / n`` of a
        replica in all, whatever ``n`` (copying whole replicas to every
        device would be ``n - 1``); the sums are the same on every device,
        so the replicas are bitwise equal."""
        bases = split_tree(merged)
        # Every copy is made before any replica is overwritten (donated).
        sums = []
        for k in range(n):
            others = [
                jax.device_put(take(reps[j], k), devices[k]) for j in range(n) if j != k
            ]
            sums.append(reduce_slice(reps[k], bases[k], k, k, *others))
        for i in range(n):
            parts = [jax.device_put(sums[k], devices[i]) for k in range(n)]
            reps[i], bases[i] = assemble(reps[i], bases[i], *parts)
        return reps, join_tree(bases)

    kept: dict[int, tuple[Any, int]] = {}

    def num_kept(tokens: jax.Array, count: Any) -> int:
        """The stream's kept tokens, read back once per stream."""
        hit = kept.get(id(tokens))
        if hit is None or hit[0]() is not tokens:
            kept.clear()
            hit = kept[id(tokens)] = (weakref.ref(tokens), int(count()))
        return hit[1]

    def run(params, opt_state, tokens, sentence_ids, start, key, progress, count):
        name = "word2vec.Trainer.train"
        if isinstance(start, jax.core.Tracer) or isinstance(start, jax.Array):
            raise TypeError(
                f"{name}: start must be a concrete integer for "
                "make_replica_trainer (the host decides when to merge), got "
                f"{_checks._describe(start)}."
            )
        start = _checks.size(name, "start", start)
        if start % block_size:
            raise ValueError(
                f"{name}: start must be a multiple of block_size {block_size} "
                f"(n * {local_block}), got {start}. Use call * trainer.block_size."
            )
        if not isinstance(opt_state, ReplicaState):
            raise ValueError(
                f"{name}: opt_state must be the trainer's init(params) (a "
                f"word2vec.ReplicaState), got {type(opt_state).__name__}."
            )
        params = SkipGramParams(*params)
        touched = opt_state.touched
        if touched is None:  # a state from before the masks: all rows
            touched = SkipGramParams(
                *(
                    jax.device_put(jnp.ones(t.shape[0], bool), replicated)
                    for t in params
                )
            )
        # Each device's share of the progress, on the host (a device value
        # is read back: pass numbers, as call_progress gives them).
        p0, p1 = (float(np.asarray(p)) for p in progress)
        shares = [p0 + (p1 - p0) * i / n for i in range(n)] + [p1]
        reps, inners = split_tree(params), split_tree(opt_state.inner)
        marks = split_tree(touched)
        toks, sents, keys = split(tokens), split(sentence_ids), split(key)
        losses, pairs = [], []
        for i in range(n):
            step = compiled.get(devices[i], base.train_touched)
            out = step(
                reps[i], inners[i], marks[i], toks[i], sents[i],
                start + i * local_block, keys[i], shares[i], shares[i + 1],
            )  # fmt: skip
            reps[i], inners[i], marks[i] = out[0], out[1], out[2]
            losses.append(out[3])
            pairs.append(out[4])
        call = start // block_size
        last = start + block_size >= num_kept(tokens, count)
        merged = opt_state.merged
        if n > 1 and ((call + 1) % merge_every == 0 or last):
            rows = [t.shape[0] for t in params]
            size = touched_capacity([num_touched(m) for m in marks], rows)
            if size is None:
                reps, merged = merge_replicas(reps, merged)
                marks = [cleared(m) for m in marks]
            else:
                reps, merged, marks = merge_touched(reps, merged, marks, size)
        loss = functools.reduce(
            jnp.add, [jax.device_put(x, devices[0]) for x in losses]
        )
        num = functools.reduce(jnp.add, [jax.device_put(x, devices[0]) for x in pairs])
        state = ReplicaState(join_tree(inners), merged, join_tree(marks))
        return join_tree(reps), state, loss, num

    def train(
        key: ArrayLike,
        params: SkipGramParams,
        opt_state: Any,
        stream: Stream,
        start: ArrayLike,
        progress: tuple[ArrayLike, ArrayLike],
    ) -> tuple[SkipGramParams, Any, jax.Array, jax.Array]:
        progress = _train_call(
            key, stream, start, progress, block_size, batch_size, base.window
        )
        return run(
            params, opt_state, stream.tokens, stream.sentence_ids, start, key,
            progress, lambda: stream.num_tokens,
        )  # fmt: skip

    compiled: dict[Any, Any] = {}  # device -> make_trainer's compiled step

    class _Lowered:
        """What ``train.lower`` returns: ``compile()`` compiles
        :func:`make_trainer`'s step for every device ahead of time (one
        program per device) and returns ``train``, which then uses them."""

        def __init__(self, lowered):
            self.lowered = lowered

        def compile(self):
            for device, lowered in self.lowered.items():
                compiled[device] = lowered.compile()
            return train

    def lower(key, params, opt_state, stream, start, progress):
        def on(device):
            place = jax.sharding.SingleDeviceSharding(device)
            return lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=place)

        masks = opt_state.touched
        if masks is None:
            masks = SkipGramParams(
                *(jax.ShapeDtypeStruct((t.shape[0],), jnp.bool_) for t in params)
            )
        return _Lowered({
            d: base.train_touched.lower(
                *jax.tree.map(on(d), (SkipGramParams(*params), opt_state.inner,
                                      SkipGramParams(*masks), stream.tokens,
                                      stream.sentence_ids)),
                start, jax.tree.map(on(d), key), *progress,
            )
            for d in devices
        })  # fmt: skip

    train.lower = lower

    def train_arrays(
        params, opt_state, tokens, sentence_ids, start, key, progress0, progress1
    ):
        tokens = jnp.asarray(tokens)
        return run(
            params, opt_state, tokens, sentence_ids, start, key,
            (progress0, progress1), lambda: jnp.sum(tokens >= 0),
        )  # fmt: skip

    return base._replace(
        init=init, train=train, train_arrays=train_arrays, block_size=block_size,
        stream_sharding=replicated, train_touched=None,
    )  # fmt: skip
