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
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxns import optim
from jaxns.text import PAD, _check_int_array, _check_key

__all__ = [
    "ChunkGradients",
    "SkipGramParams",
    "chunk_gradients",
    "init_params",
    "make_trainer",
]


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
    _check_key("init_params", key)
    for name, v in (("vocab_size", vocab_size), ("dim", dim)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"init_params: {name} must be an int >= 1, got {v!r}")
    bound = 0.5 / dim
    inp = jax.random.uniform(key, (vocab_size, dim), dtype, -bound, bound)
    return SkipGramParams(inp, jnp.zeros((vocab_size, dim), dtype))


def _check_static(fn: str, **kwargs: int) -> None:
    for name, v in kwargs.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{fn}: {name} must be an int >= 1, got {v!r}")


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
      ValueError: for inconsistent shapes or sizes.
      TypeError: for non-integer ids.

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
    fn = "chunk_gradients"
    _check_static(fn, window=window, num_negatives=num_negatives)
    tokens = _check_int_array(fn, "tokens", tokens, 1)
    sentence_ids = _check_int_array(fn, "sentence_ids", sentence_ids, 1)
    negatives = _check_int_array(fn, "negatives", negatives, 2)
    window_reduction = _check_int_array(fn, "window_reduction", window_reduction, 2)
    num_chunks, chunk = window_reduction.shape
    neg_per_chunk = negatives.shape[1]
    if negatives.shape[0] != num_chunks:
        raise ValueError(
            f"{fn}: negatives.shape[0] {negatives.shape[0]} must equal the number "
            f"of chunks window_reduction.shape[0] {num_chunks}"
        )
    if tokens.shape != (num_chunks * chunk + 2 * window,):
        raise ValueError(
            f"{fn}: tokens shape {tokens.shape} must be (num_chunks * chunk_size "
            f"+ 2 * window,) = ({num_chunks * chunk + 2 * window},)"
        )
    if sentence_ids.shape != tokens.shape:
        raise ValueError(
            f"{fn}: sentence_ids shape {sentence_ids.shape} must equal tokens "
            f"shape {tokens.shape}"
        )
    u, v = params
    if u.ndim != 2 or u.shape != v.shape:
        raise ValueError(
            f"{fn}: params.input {u.shape} and params.output {v.shape} must be "
            "equal [vocab_size, dim] tables"
        )
    dim = u.shape[1]
    rows = chunk + 2 * window
    # Compute in at least float32 (bfloat16 tables are upcast).
    compute = u.dtype if jnp.finfo(u.dtype).bits >= 32 else jnp.dtype(jnp.float32)

    tokens = tokens.astype(jnp.int32)
    valid = tokens >= 0
    safe = jnp.where(valid, tokens, 0)
    # [G, R] positions of each chunk's window in the block.
    win = (
        jnp.arange(num_chunks, dtype=jnp.int32)[:, None] * chunk
        + jnp.arange(rows, dtype=jnp.int32)[None, :]
    )
    ctx_ok, ctx_sent = valid[win], sentence_ids[win]
    centre = slice(window, window + num_chunks * chunk)
    ctr_tok = safe[centre].reshape(num_chunks, chunk)
    ctr_ok = valid[centre].reshape(num_chunks, chunk)
    ctr_sent = sentence_ids[centre].reshape(num_chunks, chunk)

    # offset[r, c] of window row r from centre c; live pairs [G, R, C].
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
    live_f = live.astype(compute)
    negatives = negatives.astype(jnp.int32)
    # Each live pair contributes K/Kc times each shared negative's term.
    alpha = num_negatives / neg_per_chunk
    neg_weight = jnp.sum(live_f, axis=-1, keepdims=True) * alpha  # [G, R, 1]

    # Gather each position's row once; chunk windows overlap by 2W rows.
    x = u[safe].astype(compute)[win]  # [G, R, d]
    out_ids = jnp.concatenate([ctr_tok, negatives], axis=1)  # [G, C + Kc]
    y = v[out_ids].astype(compute)  # [G, C + Kc, d]
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
    out_ids = jnp.concatenate(
        [jnp.where(ctr_ok, ctr_tok, PAD), negatives], axis=1
    ).reshape(-1)
    return ChunkGradients(
        loss=loss,
        num_pairs=jnp.sum(live, dtype=jnp.int32),
        input_ids=in_ids,
        input_grads=dx.astype(u.dtype),
        output_ids=out_ids,
        output_grads=dy.reshape(-1, dim).astype(v.dtype),
    )


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


def _sigmoid_softplus(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sigmoid(z), softplus(z))`` from one shared ``exp(-|z|)``; stable."""
    e = jnp.exp(-jnp.abs(z))
    inv = 1.0 / (1.0 + e)
    sig = jnp.where(z >= 0, inv, e * inv)
    return sig, jnp.maximum(z, 0.0) + jnp.log1p(e)


class Trainer(NamedTuple):
    """What :func:`make_trainer` returns.

    Attributes:
      init: ``init(params) -> opt_state``.
      train: the jitted ``train(params, opt_state, tokens, sentence_ids,
        start, key, progress0, progress1) -> (params, opt_state, loss_sum,
        num_pairs)``; ``params`` and ``opt_state`` are donated.
      block_size: centres consumed by one ``train`` call.
    """

    init: Callable[[SkipGramParams], Any]
    train: Callable[..., tuple[SkipGramParams, Any, jax.Array, jax.Array]]
    block_size: int


def make_trainer(
    sampler: Any,
    *,
    learning_rate: optax.Schedule,
    optimizer: optax.GradientTransformation | None = None,
    window: int = 5,
    num_negatives: int = 5,
    batch_size: int = 128,
    chunk_size: int = 16,
    negatives_per_chunk: int = 8,
    steps_per_call: int = 128,
    skip_hits: bool = True,
    compiler_options: dict[str, Any] | None = None,
) -> Trainer:
    """Builds a jitted SGNS training loop over a device-resident token stream.

    One ``train`` call runs ``steps_per_call`` updates with ``lax.scan``. Each
    update takes the next ``batch_size`` centres of the stream, draws their
    dynamic windows and chunk negatives, computes :func:`chunk_gradients`,
    turns them into updates with ``optimizer`` (row-sparse: only touched rows
    and their optimizer state are read and written) and subtracts
    ``learning_rate(progress)`` times them. ``progress`` is interpolated
    linearly from ``progress0`` to ``progress1`` across the call's updates, so
    a schedule over raw words processed (gensim's linear decay) is exact to
    within one call.

    Args:
      sampler: a noise distribution with ``sample(key, shape)``, e.g.
        ``jaxns.samplers.unigram(counts, power=0.75)``; passed to the jitted
        function as an argument of ``train``'s closure.
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
        raise ``batch_size`` (and lower ``learning_rate``) with care, or
        ``steps_per_call`` to cut dispatch overhead.
      chunk_size: consecutive centres sharing one set of negatives.
      negatives_per_chunk: noise draws per chunk, each weighted
        ``num_negatives / negatives_per_chunk``.
      steps_per_call: updates fused into one ``train`` call.
      skip_hits: leave out a negative for the pairs whose centre it equals,
        as word2vec.c and gensim do (see :func:`chunk_gradients`); about 10%
        of the step's time on CPU.
      compiler_options: passed to ``jax.jit`` for ``train`` (e.g.
        ``{"xla_backend_optimization_level": 1}``, which on CPU compiles
        about 20% faster and runs as fast).

    Returns:
      A :class:`Trainer`. ``train`` reads ``tokens[start : start + block_size +
      2 * window]``; lay the stream out with ``window`` padding tokens first.

    Raises:
      ValueError: for non-positive sizes or a ``batch_size`` that is not a
        multiple of ``chunk_size``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax, jaxns
      >>> sampler = jaxns.samplers.uniform(8)
      >>> t = jaxns.word2vec.make_trainer(
      ...     sampler, learning_rate=optax.constant_schedule(0.1), window=2,
      ...     batch_size=8, chunk_size=4, negatives_per_chunk=4, steps_per_call=2)
      >>> params = jaxns.word2vec.init_params(jax.random.key(0), 8, 4)
      >>> state = t.init(params)
      >>> toks = jnp.concatenate([jnp.full(2, -1), jnp.arange(16) % 8,
      ...                         jnp.full(2, -1)]).astype(jnp.int32)
      >>> params, state, loss, pairs = t.train(
      ...     params, state, toks, jnp.zeros(20, jnp.int32), 0,
      ...     jax.random.key(1), 0.0, 1.0)
      >>> int(pairs) > 0, bool(jnp.isfinite(loss))
      (True, True)

    References:
      Ji et al, `Parallelizing Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016. Mikolov et al,
      `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "make_trainer"
    _check_static(
        fn,
        window=window,
        num_negatives=num_negatives,
        batch_size=batch_size,
        chunk_size=chunk_size,
        negatives_per_chunk=negatives_per_chunk,
        steps_per_call=steps_per_call,
    )
    if not callable(getattr(sampler, "sample", None)):
        raise TypeError(
            f"{fn}: sampler must have a sample(key, shape) method (e.g. "
            f"jaxns.samplers.unigram(counts)), got {type(sampler).__name__}"
        )
    if batch_size % chunk_size:
        raise ValueError(
            f"{fn}: batch_size {batch_size} must be a multiple of chunk_size "
            f"{chunk_size}"
        )
    num_chunks = batch_size // chunk_size
    linear = optimizer is None
    tx = optax.chain(
        optax.identity() if linear else optimizer, _scale_by_progress(learning_rate)
    )
    # SGD is linear: scatter-adding per-occurrence updates equals summing
    # duplicates first, and skips a sort per step.
    opt = optim.row_sparse(tx, dedup=not linear)

    def init(params: SkipGramParams) -> Any:
        return opt.init({"input": params.input, "output": params.output})

    @functools.partial(
        jax.jit, donate_argnums=(0, 1), compiler_options=compiler_options
    )
    def train(
        params, opt_state, tokens, sentence_ids, start, key, progress0, progress1
    ):
        def one_step(carry, xs):
            params, opt_state = carry
            index, progress = xs
            k_window, k_neg = jax.random.split(jax.random.fold_in(key, index))
            block = batch_size + 2 * window
            offset = index * batch_size
            toks = jax.lax.dynamic_slice(tokens, (offset,), (block,))
            sents = jax.lax.dynamic_slice(sentence_ids, (offset,), (block,))
            reduction = jax.random.randint(
                k_window, (num_chunks, chunk_size), 0, window, dtype=jnp.int32
            )
            negs = sampler.sample(k_neg, (num_chunks, negatives_per_chunk))
            g = chunk_gradients(
                params,
                toks,
                sents,
                negs,
                reduction,
                window=window,
                num_negatives=num_negatives,
                skip_hits=skip_hits,
            )
            tables, opt_state = opt.update(
                {"input": g.input_ids, "output": g.output_ids},
                {"input": g.input_grads, "output": g.output_grads},
                opt_state,
                {"input": params.input, "output": params.output},
                progress=progress,
            )
            params = SkipGramParams(tables["input"], tables["output"])
            return (params, opt_state), (g.loss, g.num_pairs)

        steps = jnp.arange(steps_per_call, dtype=jnp.int32)
        frac = steps.astype(jnp.float32) / steps_per_call
        progress = progress0 + frac * (progress1 - progress0)
        # Micro-steps are indexed from the stream's start, so the keys (and the
        # result) do not depend on how many steps one call fuses.
        first = jnp.asarray(start, jnp.int32) // batch_size
        (params, opt_state), (losses, pairs) = jax.lax.scan(
            one_step, (params, opt_state), (first + steps, progress)
        )
        return params, opt_state, jnp.sum(losses), jnp.sum(pairs)

    return Trainer(init=init, train=train, block_size=batch_size * steps_per_call)
