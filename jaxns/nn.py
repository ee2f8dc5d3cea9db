# SPDX-License-Identifier: Apache-2.0
r"""Flax NNX modules for negative sampling.

The modules hold parameters only; everything random stays functional. A
module's ``__call__`` takes the negatives (ids drawn by the caller with an
explicit key) and returns **per-example** losses computed by
:mod:`jaxns.scoring` and :mod:`jaxns.losses`; the caller reduces::

    model = jaxns.nn.SkipGram(len(counts), 100, rngs=nnx.Rngs(0))
    sampler = jaxns.samplers.unigram(counts, power=0.75)
    negatives = sampler.sample(key, (batch, 5))  # or shared: (5,)
    loss = model(centres, contexts, negatives).mean()

* :class:`SkipGram`: word2vec's two tables and the SGNS loss (Mikolov et al.
  2013) on per-example ``[batch, num_negatives]`` or shared
  ``[num_negatives]`` negatives.
* :class:`SampledSoftmaxHead`: an output layer trained with TensorFlow-style
  sampled softmax (Jean et al. 2015): candidates shared by the batch, logQ
  correction, accidental hits masked; :func:`jaxns.samplers.sample_candidates`
  draws the candidates and their log expected counts with an explicit key
  (re-exported here as ``jaxns.nn.sample_candidates``).
* :class:`TwoTower`: linear query and candidate towers trained with the
  in-batch softmax of Yi et al. 2019 (temperature, logQ correction, accidental
  hits by id, mixed negatives).

Dtypes follow Flax: ``param_dtype`` is the storage dtype of the parameters,
``dtype`` (default ``None``) the compute dtype; with ``dtype=None`` the
parameters and the float inputs are combined in the wider of their dtypes
(explicitly, so the modules run under ``jax_numpy_dtype_promotion="strict"``).
The losses compute in float32 or wider and return the compute dtype.

Large vocabularies: a dense ``nnx.Optimizer`` reads and writes every row of a
table (and of its optimizer moments) on every step. Where that dominates, train
the tables row-sparsely with :func:`jaxns.optim.row_sparse` on
``model.input.embedding[...]`` and ``model.output.embedding[...]`` (see
:mod:`jaxns.word2vec`).

This is the only jaxns module that imports Flax (``pip install
jax-negsampling[flax]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from jaxns import _checks, losses, samplers, scoring
from jaxns.samplers import Candidates as Candidates
from jaxns.samplers import sample_candidates as sample_candidates

__all__ = [
    "Candidates",
    "FeatureCodes",
    "IdTower",
    "IdTwoTower",
    "SampledSoftmaxHead",
    "SkipGram",
    "TwoTower",
    "sample_candidates",
]

_Initializer = Callable[..., jax.Array]


def _promote(args: tuple, /, *, dtype: Any = None, inexact: bool = True) -> tuple:
    """Flax ``promote_dtype`` replacement that is explicit under strict promotion."""
    del inexact  # every argument is a float array here
    if dtype is None:
        dtype = _checks.result_dtype(
            *(jnp.asarray(a).dtype for a in args if a is not None)
        )
    return tuple(None if a is None else jnp.asarray(a).astype(dtype) for a in args)


def _word2vec_init(key: jax.Array, shape: tuple, dtype: Any = jnp.float32) -> jax.Array:
    """word2vec.c's input-vector init: ``U(-0.5 / dim, 0.5 / dim)``."""
    bound = 0.5 / shape[-1]
    draw_dtype = dtype if jnp.dtype(dtype).itemsize >= 4 else jnp.float32
    return jax.random.uniform(key, shape, draw_dtype, -bound, bound).astype(dtype)


# Lecun-normal over the features axis of a [num_classes, features] table: unit
# variance logits for unit-variance hidden states, as nnx.Linear's kernel.
_default_output_init = nnx.initializers.variance_scaling(
    1.0, "fan_in", "truncated_normal", in_axis=-1, out_axis=-2
)


_zeros_init = nnx.initializers.zeros_init()


# ---------------------------------------------------------------------------
# Skip-gram
# ---------------------------------------------------------------------------


class SkipGram(nnx.Module):
    r"""Word2vec skip-gram with negative sampling: two tables and the SGNS loss.

    ``input`` holds the word vectors (word2vec's ``syn0``, gensim's ``wv``),
    initialised ``U(-0.5/d, 0.5/d)`` as word2vec.c does; ``output`` the context
    vectors (``syn1neg``), initialised to zeros. Both are :class:`flax.nnx.Embed`
    tables ``[num_embeddings, features]``. For a pair ``(c, o)`` with negatives
    ``n_1 .. n_k``:

    .. math:: \ell = -\log\sigma(\langle v_c, v'_o \rangle)
       - \sum_{j=1}^{k} \log\sigma(-\langle v_c, v'_{n_j} \rangle)

    with ``v`` rows of ``input`` and ``v'`` rows of ``output``
    (:func:`jaxns.losses.sgns`). Direction: ``centres`` index ``input`` and
    ``contexts`` and the negatives index ``output``, the paper's formula. To
    reproduce gensim and :mod:`jaxns.word2vec` (the context's input vector
    against the centre's output vector, negatives replacing the centre), call
    ``model(contexts, centres, negatives)``.

    The module draws nothing: the caller samples the negatives with a key (e.g.
    ``jaxns.samplers.unigram(counts).sample(key, (batch, k))``). word2vec.c and
    gensim skip a negative equal to the positive; do the same with
    ``where=~jaxns.samplers.accidental_hits(contexts, negatives)``.

    Args:
      num_embeddings: vocabulary size ``V``, the rows of both tables (as
        :class:`flax.nnx.Embed`'s ``num_embeddings``).
      features: embedding dimension ``d``.
      dtype: compute dtype of the gathered vectors (``None``: ``param_dtype``).
      param_dtype: storage dtype of the tables.
      rngs: :class:`flax.nnx.Rngs` for the ``input`` initialisation.

    Returns:
      A module with ``input`` and ``output`` :class:`flax.nnx.Embed` tables.

    Raises:
      TypeError: for a non-int size, a non-float dtype or ``rngs`` that is not
        an :class:`flax.nnx.Rngs`.
      ValueError: for a size ``< 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import jaxns.nn
      >>> model = jaxns.nn.SkipGram(10, 4, rngs=nnx.Rngs(0))
      >>> model.input.embedding.shape, float(jnp.abs(model.output.embedding[...]).max())
      ((10, 4), 0.0)
      >>> centres, contexts = jnp.array([1, 2]), jnp.array([3, 4])
      >>> loss = model(centres, contexts, jnp.array([[5, 6], [7, 8]]))
      >>> loss.shape, round(float(loss[0]), 4)  # zero output table: 3 log 2
      ((2,), 2.0794)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """

    def __init__(
        self,
        num_embeddings: int,
        features: int,
        *,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        fn = "nn.SkipGram"
        self.num_embeddings = _checks.size(
            fn, "num_embeddings", num_embeddings, minimum=1
        )
        self.features = _checks.size(fn, "features", features, minimum=1)
        self.dtype = _checks.dtype(fn, "dtype", dtype, allow_none=True)
        self.param_dtype = _checks.dtype(fn, "param_dtype", param_dtype)
        _checks.instance(fn, "rngs", rngs, nnx.Rngs, "an nnx.Rngs (e.g. nnx.Rngs(0))")
        table = dict(dtype=self.dtype, param_dtype=self.param_dtype, rngs=rngs)
        self.input = nnx.Embed(
            self.num_embeddings, self.features, embedding_init=_word2vec_init, **table
        )
        self.output = nnx.Embed(
            self.num_embeddings,
            self.features,
            embedding_init=_zeros_init,
            **table,
        )

    @jax.named_scope("jaxns.nn.SkipGram")
    def __call__(
        self,
        centres: ArrayLike,
        contexts: ArrayLike,
        negatives: ArrayLike,
        *,
        where: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> jax.Array:
        """Per-example SGNS loss of ``(centre, context)`` pairs.

        Per-example negatives ``[batch, num_negatives]`` are gathered as
        ``[batch, num_negatives, features]``; shared negatives
        ``[num_negatives]`` are gathered once and scored with one matrix
        product (see :func:`jaxns.scoring.dot`).

        .. warning:: Ids are not checked under ``jit``. As in
           :class:`flax.nnx.Embed` (``jnp.take``), ids ``>= num_embeddings`` or
           ``< -num_embeddings`` gather NaN rows (the loss is NaN) and negative ids
           count from the end.

        Args:
          centres: integer ``[batch]`` ids into ``input``.
          contexts: integer ``[batch]`` ids into ``output`` (the positives).
          negatives: integer ``[batch, num_negatives]`` (per example) or
            ``[num_negatives]`` (shared by the batch) ids into ``output``.
          where: optional bool ``[batch, num_negatives]``, True keeps a
            negative.
          weights: optional float ``[batch]`` per-example weights.

        Returns:
          ``[batch]`` losses in the compute dtype.

        Raises:
          TypeError: for non-integer ids, a non-bool ``where`` or non-float
            ``weights``.
          ValueError: for ids of the wrong rank or batch size, or a
            ``where``/``weights`` of the wrong shape.

        Examples:
          >>> import jax, jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns
          >>> model = jaxns.nn.SkipGram(50, 8, rngs=nnx.Rngs(0))
          >>> sampler = jaxns.samplers.uniform(50)
          >>> centres, contexts = jnp.array([1, 2, 3]), jnp.array([4, 5, 6])
          >>> shared = sampler.sample(jax.random.key(0), (5,))
          >>> model(centres, contexts, shared).shape
          (3,)
          >>> @nnx.jit
          ... def loss_fn(model, negatives):
          ...     return model(centres, contexts, negatives).mean()
          >>> per_example = sampler.sample(jax.random.key(1), (3, 5))
          >>> grads = nnx.grad(loss_fn)(model, per_example)
          >>> grads.input.embedding.shape
          (50, 8)

        References:
          Mikolov et al, `Distributed Representations of Words and Phrases and
          their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
        """
        fn = "nn.SkipGram"
        centres = _checks.int_array(fn, "centres", centres, ndim=1)
        (batch,) = centres.shape
        contexts = _checks.int_array(fn, "contexts", contexts, ndim=1)
        if contexts.shape != centres.shape:
            raise ValueError(
                f"{fn}: contexts shape {contexts.shape} must equal centres shape "
                f"{centres.shape}."
            )
        negatives = _checks.int_array(fn, "negatives", negatives, ndim=(1, 2))
        if negatives.ndim == 2 and negatives.shape[0] != batch:
            raise ValueError(
                f"{fn}: per-example negatives {negatives.shape} must have the batch "
                f"size of centres {centres.shape}."
            )
        neg_shape = (batch, negatives.shape[-1])
        where = _checks.mask(fn, "where", where, neg_shape)
        weights = _checks.weights(fn, "weights", weights, (batch,))
        query = self.input(centres)  # [batch, features]
        pos = jnp.sum(query * self.output(contexts), axis=-1)
        neg = scoring.dot(query, self.output(negatives))  # [batch, num_negatives]
        return losses.sgns(pos, neg, where=where, weights=weights)

    @jax.named_scope("jaxns.nn.SkipGram.embed")
    def embed(self, ids: ArrayLike) -> jax.Array:
        """The word vectors (rows of ``input``) of ``ids``.

        Args:
          ids: integer ids of any shape ``[...]``.

        Returns:
          ``[..., features]`` vectors in the compute dtype.

        Raises:
          TypeError: for non-integer ids.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.SkipGram(10, 4, rngs=nnx.Rngs(0))
          >>> model.embed(jnp.array([[1, 2, 3]])).shape
          (1, 3, 4)

        References:
          Mikolov et al, `Efficient Estimation of Word Representations in Vector
          Space <https://arxiv.org/abs/1301.3781>`_, 2013.
        """
        return self.input(_checks.int_array("nn.SkipGram.embed", "ids", ids))


# ---------------------------------------------------------------------------
# Sampled softmax
# ---------------------------------------------------------------------------


class SampledSoftmaxHead(nnx.Module):
    r"""Output layer ``[num_classes, features]`` trained with sampled softmax.

    Full logits are ``h W^T + b``. Training scores only the true classes and
    ``k`` sampled candidates (shared by the batch: one ``[batch, features] x
    [features, k]`` product, no ``O(num_classes)`` work), with TensorFlow's
    ``sampled_softmax_loss`` semantics (:func:`jaxns.losses.sampled_softmax`):

    .. math:: z = [s_{y} - \log E_{y},\ s_{c_1} - \log E_{c_1}, \dots,
       s_{c_k} - \log E_{c_k}], \qquad \ell = -\log\operatorname{softmax}(z)_0

    where ``E`` is the expected count of a class among the draws (logQ
    correction, Jean et al. 2015) and candidates equal to a true class
    (accidental hits) are masked out. With every class as a candidate and a
    uniform proposal this is the full softmax cross-entropy. Draw the
    candidates with :func:`jaxns.samplers.sample_candidates` and an explicit
    key.

    ``output`` is an :class:`flax.nnx.Embed` (weights ``[num_classes,
    features]``, so sampled rows are gathered), ``bias`` an
    :class:`flax.nnx.Param` ``[num_classes]`` (or ``None``).

    Args:
      features: input dimension ``d``.
      num_classes: number of output classes ``V``.
      use_bias: whether to add a per-class bias.
      dtype: compute dtype (``None``: the wider of the input's and
        ``param_dtype``).
      param_dtype: storage dtype of the parameters.
      kernel_init: initializer of the ``[num_classes, features]`` weights
        (default: truncated normal with variance ``1 / features``).
      bias_init: initializer of the bias (default zeros).
      rngs: :class:`flax.nnx.Rngs` for the initialisation.

    Returns:
      A module with ``output`` and ``bias``.

    Raises:
      TypeError: for a non-int size, a non-float dtype or ``rngs`` that is not
        an :class:`flax.nnx.Rngs`.
      ValueError: for a size ``< 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import jaxns
      >>> head = jaxns.nn.SampledSoftmaxHead(8, 1000, rngs=nnx.Rngs(0))
      >>> hidden, labels = jnp.ones((4, 8)), jnp.array([1, 2, 3, 4])
      >>> c = jaxns.samplers.sample_candidates(
      ...     jax.random.key(0), jaxns.samplers.log_uniform(1000), 64, labels)
      >>> loss = head(hidden, labels, c.ids, pos_log_q=c.pos_log_q,
      ...             neg_log_q=c.neg_log_q)
      >>> loss.shape, head.full_logits(hidden).shape
      ((4,), (4, 1000))

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
      Bengio and Senécal, `Adaptive Importance Sampling to Accelerate Training
      of a Neural Probabilistic Language Model
      <https://doi.org/10.1109/TNN.2007.912312>`_, 2008.
    """

    def __init__(
        self,
        features: int,
        num_classes: int,
        *,
        use_bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        kernel_init: _Initializer = _default_output_init,
        bias_init: _Initializer = _zeros_init,
        rngs: nnx.Rngs,
    ):
        fn = "nn.SampledSoftmaxHead"
        self.features = _checks.size(fn, "features", features, minimum=1)
        self.num_classes = _checks.size(fn, "num_classes", num_classes, minimum=1)
        use_bias = _checks.flag(fn, "use_bias", use_bias)
        self.dtype = _checks.dtype(fn, "dtype", dtype, allow_none=True)
        self.param_dtype = _checks.dtype(fn, "param_dtype", param_dtype)
        _checks.instance(fn, "rngs", rngs, nnx.Rngs, "an nnx.Rngs (e.g. nnx.Rngs(0))")
        self.output = nnx.Embed(
            self.num_classes,
            self.features,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            embedding_init=kernel_init,
            rngs=rngs,
        )
        self.bias = (
            nnx.Param(bias_init(rngs.params(), (self.num_classes,), self.param_dtype))
            if use_bias
            else None
        )

    def _hidden(self, fn: str, hidden: ArrayLike) -> jax.Array:
        hidden = _checks.float_array(fn, "hidden", hidden, ("batch", self.features))
        dtype = self.dtype
        if dtype is None:
            dtype = _checks.result_dtype(hidden.dtype, self.param_dtype)
        return hidden.astype(dtype)

    def _logits(self, hidden: jax.Array, ids: jax.Array) -> jax.Array:
        """``[batch, n]`` logits of ids ``[n]`` (shared) or ``[batch, n]``."""
        logits = scoring.dot(hidden, self.output(ids).astype(hidden.dtype))
        if self.bias is not None:
            bias = jnp.take(self.bias[...], ids, axis=0).astype(logits.dtype)
            logits = logits + jnp.broadcast_to(bias, logits.shape)
        return logits

    @jax.named_scope("jaxns.nn.SampledSoftmaxHead")
    def __call__(
        self,
        hidden: ArrayLike,
        labels: ArrayLike,
        sampled_ids: ArrayLike,
        *,
        pos_log_q: ArrayLike | None,
        neg_log_q: ArrayLike | None,
        remove_accidental_hits: bool = True,
        where: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> jax.Array:
        """Per-example sampled softmax cross-entropy.

        ``pos_log_q`` and ``neg_log_q`` are required keywords (logQ
        correction is easy to forget and biases the model towards frequent
        classes); pass both as ``None`` to skip it, which is exact only when
        every class has the same expected count. With several true classes
        each gets the label ``1 / num_true`` (TensorFlow).

        .. warning:: Ids are not checked under ``jit``. As in
           :class:`flax.nnx.Embed` (``jnp.take``), ids ``>= num_classes`` or
           ``< -num_classes`` gather NaN rows (the loss is NaN) and negative
           ids count from the end.

        Args:
          hidden: float ``[batch, features]``.
          labels: integer ``[batch]`` or ``[batch, num_true]`` true classes.
          sampled_ids: integer ``[num_sampled]`` candidates shared by the batch
            (or per-example ``[batch, num_sampled]``).
          pos_log_q: float log expected counts of the labels (shape of
            ``labels``), or ``None``.
          neg_log_q: float log expected counts of the candidates (shape of
            ``sampled_ids``), or ``None``.
          remove_accidental_hits: mask candidates equal to a true class of the
            row (:func:`jaxns.samplers.accidental_hits`), as TensorFlow does by
            default.
          where: optional bool ``[batch, num_sampled]``, True keeps a
            candidate.
          weights: optional float ``[batch]`` per-example weights.

        Returns:
          ``[batch]`` losses in the compute dtype.

        Raises:
          TypeError: for non-float ``hidden``/log-counts, non-integer ids or a
            non-bool ``where``.
          ValueError: for mismatched shapes or only one of the two log-counts.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns
          >>> head = jaxns.nn.SampledSoftmaxHead(4, 5, rngs=nnx.Rngs(0))
          >>> hidden, labels = jnp.ones((2, 4)), jnp.array([0, 3])
          >>> # every class a candidate, uniform q: the full softmax
          >>> loss = head(hidden, labels, jnp.arange(5), pos_log_q=None,
          ...             neg_log_q=None)
          >>> full = jaxns.losses.full_softmax(head.full_logits(hidden), labels)
          >>> bool(jnp.allclose(loss, full, atol=1e-6))
          True

        References:
          Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
          Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
        """
        fn = "nn.SampledSoftmaxHead"
        hidden = self._hidden(fn, hidden)
        batch = hidden.shape[0]
        labels = _checks.int_array(fn, "labels", labels, ndim=(1, 2))
        if labels.shape[0] != batch or 0 in labels.shape:
            raise ValueError(
                f"{fn}: labels must be [batch] or [batch, num_true] with batch "
                f"{batch} and num_true >= 1, got {labels.shape}."
            )
        sampled_ids = _checks.int_array(fn, "sampled_ids", sampled_ids, ndim=(1, 2))
        if sampled_ids.ndim == 2 and sampled_ids.shape[0] != batch:
            raise ValueError(
                f"{fn}: per-example sampled_ids {sampled_ids.shape} must have the "
                f"batch size of hidden {hidden.shape}."
            )
        if (pos_log_q is None) != (neg_log_q is None):
            raise ValueError(
                f"{fn}: pass both pos_log_q and neg_log_q or neither (None); "
                "correcting only one side biases the loss."
            )
        if pos_log_q is not None:
            pos_log_q = _checks.float_array(fn, "pos_log_q", pos_log_q, labels.shape)
            neg_log_q = _checks.float_array(
                fn, "neg_log_q", neg_log_q, sampled_ids.shape
            )
        remove_accidental_hits = _checks.flag(
            fn, "remove_accidental_hits", remove_accidental_hits
        )
        neg_shape = (batch, sampled_ids.shape[-1])
        keep = _checks.mask(fn, "where", where, neg_shape)
        weights = _checks.weights(fn, "weights", weights, (batch,))
        if remove_accidental_hits:
            hits = samplers.accidental_hits(labels, sampled_ids)
            keep = ~hits if keep is None else keep & ~hits
        true_2d = labels if labels.ndim == 2 else labels[:, None]
        pos = self._logits(hidden, true_2d)  # [batch, num_true]
        if labels.ndim == 1:
            pos = pos[:, 0]
        neg = self._logits(hidden, sampled_ids)
        return losses.sampled_softmax(
            pos,
            neg,
            pos_log_q=pos_log_q,
            neg_log_q=neg_log_q,
            where=keep,
            weights=weights,
        )

    @jax.named_scope("jaxns.nn.SampledSoftmaxHead.full_logits")
    def full_logits(self, hidden: ArrayLike) -> jax.Array:
        """Logits of every class, ``hidden @ W.T + b``, for evaluation.

        Args:
          hidden: float ``[batch, features]``.

        Returns:
          ``[batch, num_classes]`` logits in the compute dtype.

        Raises:
          TypeError: for non-float ``hidden``.
          ValueError: if ``hidden`` is not ``[batch, features]``.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> head = jaxns.nn.SampledSoftmaxHead(4, 10, rngs=nnx.Rngs(0))
          >>> head.full_logits(jnp.zeros((3, 4))).shape
          (3, 10)

        References:
          Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
          Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
        """
        hidden = self._hidden("nn.SampledSoftmaxHead.full_logits", hidden)
        logits = scoring.dot(hidden, self.output.embedding[...].astype(hidden.dtype))
        if self.bias is not None:
            bias = self.bias[...].astype(logits.dtype)
            logits = logits + jnp.broadcast_to(bias, logits.shape)
        return logits


# ---------------------------------------------------------------------------
# Two-tower retrieval
# ---------------------------------------------------------------------------


class TwoTower(nnx.Module):
    r"""Linear query and candidate towers trained with the in-batch softmax.

    ``query_tower`` and ``candidate_tower`` are :class:`flax.nnx.Linear`
    projections to a shared ``features``-dimensional space (optionally
    L2-normalised, as Yi et al. 2019). Row ``i`` of a batch contrasts query
    ``i`` with every candidate of the batch, its positive being candidate ``i``
    (:func:`jaxns.losses.in_batch_softmax`, TensorFlow Recommenders' order):

    .. math:: \ell_i = -\log \frac{e^{z_{ii}}}{\sum_{j\ \text{live}} e^{z_{ij}}},
       \qquad z_{ij} = \langle u_i, v_j \rangle / \tau - \log q_j

    with ``q_j`` the sampling probability of candidate ``j`` (logQ correction of
    the popularity bias of in-batch negatives) and columns whose candidate id
    equals row ``i``'s removed (accidental hits). Extra candidates shared by the
    batch give mixed negative sampling (Yang et al. 2020). Deeper towers are a
    matter of composing your own module with :func:`jaxns.losses.in_batch_softmax`.

    Args:
      query_features_in: width of the query features.
      candidate_features_in: width of the candidate features.
      features: width of the shared embedding space.
      use_bias: whether the towers have biases.
      normalize: L2-normalise both embeddings (then logits are cosines).
      dtype: compute dtype (``None``: the wider of the input's and
        ``param_dtype``).
      param_dtype: storage dtype of the parameters.
      rngs: :class:`flax.nnx.Rngs` for the initialisation.

    Returns:
      A module with ``query_tower`` and ``candidate_tower``.

    Raises:
      TypeError: for a non-int size, a non-bool flag, a non-float dtype or
        ``rngs`` that is not an :class:`flax.nnx.Rngs`.
      ValueError: for a size ``< 1``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import jaxns.nn
      >>> model = jaxns.nn.TwoTower(6, 3, 8, normalize=True, rngs=nnx.Rngs(0))
      >>> queries = jax.random.normal(jax.random.key(0), (4, 6))
      >>> items = jax.random.normal(jax.random.key(1), (4, 3))
      >>> loss = model(queries, items, temperature=0.05,
      ...              candidate_ids=jnp.array([10, 11, 12, 10]))
      >>> loss.shape, model.embed_queries(queries).shape
      ((4,), (4, 8))

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
      Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural Networks
      in Recommendations <https://doi.org/10.1145/3366424.3386195>`_, 2020.
    """

    def __init__(
        self,
        query_features_in: int,
        candidate_features_in: int,
        features: int,
        *,
        use_bias: bool = True,
        normalize: bool = False,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        fn = "nn.TwoTower"
        self.query_features_in = _checks.size(
            fn, "query_features_in", query_features_in, minimum=1
        )
        self.candidate_features_in = _checks.size(
            fn, "candidate_features_in", candidate_features_in, minimum=1
        )
        self.features = _checks.size(fn, "features", features, minimum=1)
        use_bias = _checks.flag(fn, "use_bias", use_bias)
        self.normalize = _checks.flag(fn, "normalize", normalize)
        self.dtype = _checks.dtype(fn, "dtype", dtype, allow_none=True)
        self.param_dtype = _checks.dtype(fn, "param_dtype", param_dtype)
        _checks.instance(fn, "rngs", rngs, nnx.Rngs, "an nnx.Rngs (e.g. nnx.Rngs(0))")
        tower = dict(
            use_bias=use_bias,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            promote_dtype=_promote,
            rngs=rngs,
        )
        self.query_tower = nnx.Linear(self.query_features_in, self.features, **tower)
        self.candidate_tower = nnx.Linear(
            self.candidate_features_in, self.features, **tower
        )

    def _embed(self, fn: str, name: str, tower: nnx.Linear, x: ArrayLike, width: int):
        rows = "num_extra" if name == "extra_candidates" else "batch"
        x = _checks.float_array(fn, name, x, (rows, width))
        y = tower(x)
        return scoring.normalize(y) if self.normalize else y

    @jax.named_scope("jaxns.nn.TwoTower.embed_queries")
    def embed_queries(self, queries: ArrayLike) -> jax.Array:
        """Query embeddings (for retrieval and evaluation).

        Args:
          queries: float ``[batch, query_features_in]``.

        Returns:
          ``[batch, features]`` embeddings (unit norm if ``normalize``).

        Raises:
          TypeError: for non-float queries.
          ValueError: for a wrong shape.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.TwoTower(6, 3, 8, rngs=nnx.Rngs(0))
          >>> model.embed_queries(jnp.ones((2, 6))).shape
          (2, 8)

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
        """
        return self._embed(
            "nn.TwoTower.embed_queries",
            "queries",
            self.query_tower,
            queries,
            self.query_features_in,
        )

    @jax.named_scope("jaxns.nn.TwoTower.embed_candidates")
    def embed_candidates(self, candidates: ArrayLike) -> jax.Array:
        """Candidate embeddings (e.g. to index the whole corpus).

        Args:
          candidates: float ``[num_candidates, candidate_features_in]``.

        Returns:
          ``[num_candidates, features]`` embeddings (unit norm if
          ``normalize``).

        Raises:
          TypeError: for non-float candidates.
          ValueError: for a wrong shape.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.TwoTower(6, 3, 8, rngs=nnx.Rngs(0))
          >>> model.embed_candidates(jnp.ones((5, 3))).shape
          (5, 8)

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
        """
        return self._embed(
            "nn.TwoTower.embed_candidates",
            "candidates",
            self.candidate_tower,
            candidates,
            self.candidate_features_in,
        )

    @jax.named_scope("jaxns.nn.TwoTower")
    def __call__(
        self,
        queries: ArrayLike,
        candidates: ArrayLike,
        *,
        temperature: float | ArrayLike = 1.0,
        candidate_log_q: ArrayLike | None = None,
        candidate_ids: ArrayLike | None = None,
        extra_candidates: ArrayLike | None = None,
        extra_log_q: ArrayLike | None = None,
        extra_ids: ArrayLike | None = None,
        where: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> jax.Array:
        """Per-example in-batch softmax loss of matched (query, candidate) rows.

        Args:
          queries: float ``[batch, query_features_in]``.
          candidates: float ``[batch, candidate_features_in]``; row ``i`` is
            the positive of query ``i``.
          temperature: ``> 0``, a Python number (checked) or a float scalar
            array (e.g. learned; not checked).
          candidate_log_q: optional float ``[batch]`` log sampling
            probabilities of the candidates (logQ correction; Yi et al.
            estimate them from streaming frequencies).
          candidate_ids: optional integer ``[batch]`` ids; columns sharing row
            ``i``'s id are masked (duplicates in a batch).
          extra_candidates: optional float ``[num_extra,
            candidate_features_in]`` extra negatives shared by the batch
            (mixed negative sampling).
          extra_log_q: optional float ``[num_extra]`` (required with
            ``candidate_log_q`` when there are extra candidates).
          extra_ids: optional integer ``[num_extra]`` (requires
            ``candidate_ids``).
          where: optional bool ``[batch, batch + num_extra]``, True keeps a
            column.
          weights: optional float ``[batch]`` per-example weights.

        Returns:
          ``[batch]`` losses in the compute dtype.

        Raises:
          TypeError: for non-float features or log-probabilities or non-integer
            ids.
          ValueError: for mismatched shapes, ``batch < 2`` without extra
            candidates, ``temperature <= 0`` or inconsistent ``log_q``/``ids``.

        Examples:
          >>> import jax, jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns
          >>> model = jaxns.nn.TwoTower(6, 3, 8, rngs=nnx.Rngs(0))
          >>> queries = jax.random.normal(jax.random.key(0), (4, 6))
          >>> items = jax.random.normal(jax.random.key(1), (4, 3))
          >>> log_q = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.4]))
          >>> grads = nnx.grad(lambda m: m(queries, items, temperature=0.1,
          ...                              candidate_log_q=log_q).mean())(model)
          >>> grads.query_tower.kernel.shape, grads.candidate_tower.kernel.shape
          ((6, 8), (3, 8))

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
          Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
          Networks in Recommendations
          <https://doi.org/10.1145/3366424.3386195>`_, 2020.
        """
        # The module knows only the feature widths; every other argument is
        # checked by losses.in_batch_softmax, which it is passed to unchanged.
        fn = "nn.TwoTower"
        width = self.candidate_features_in
        query = self._embed(
            fn, "queries", self.query_tower, queries, self.query_features_in
        )
        cands = self._embed(fn, "candidates", self.candidate_tower, candidates, width)
        if extra_candidates is not None:
            extra_candidates = self._embed(
                fn, "extra_candidates", self.candidate_tower, extra_candidates, width
            )
        return losses.in_batch_softmax(
            query,
            cands,
            temperature=temperature,
            candidate_log_q=candidate_log_q,
            candidate_ids=candidate_ids,
            extra_candidates=extra_candidates,
            extra_log_q=extra_log_q,
            extra_ids=extra_ids,
            where=where,
            weights=weights,
        )


# ---------------------------------------------------------------------------
# ID-embedding towers (recommender retrieval)
# ---------------------------------------------------------------------------


class FeatureCodes(nnx.Variable):
    """Constant categorical codes of a tower's side features (not trained)."""


def _xavier_normal() -> _Initializer:
    # PyTorch's xavier_normal_ on an [num, dim] table (RecBole's initialisation):
    # an untruncated normal with variance 2 / (num + dim).
    return nnx.initializers.variance_scaling(1.0, "fan_avg", "normal")


class IdTower(nnx.Module):
    r"""An ID-embedding tower with optional categorical side features.

    The embedding of id ``i`` is its own row plus, for every side feature, the
    mean of the embeddings of the categories ``i`` has (multi-valued fields
    such as a film's genres average their categories; a missing value, code
    ``-1``, contributes nothing):

    .. math:: e_i = E[i] + \sum_f \frac{1}{|c_f(i)|} \sum_{c \in c_f(i)} F_f[c]

    The codes are constants stored in the module (:class:`FeatureCodes`
    variables, not :class:`flax.nnx.Param`), so the tower maps ids to
    embeddings by itself and optimisers built with ``wrt=nnx.Param`` leave the
    codes alone. All tables start as PyTorch's ``xavier_normal_`` (RecBole's
    initialisation) unless ``embedding_init`` says otherwise.

    Args:
      num_ids: rows of the id table.
      features: embedding width.
      side_features: integer ``[num_ids, width]`` code arrays, one per
        feature, ``-1`` where absent (e.g. :class:`jaxns.retrieval.Feature`
        ``.codes``).
      normalize: L2-normalise the output.
      embedding_init: initialiser of every table.
      dtype: compute dtype (``None``: the parameters' dtype).
      param_dtype: storage dtype of the tables.
      rngs: :class:`flax.nnx.Rngs` for the initialisation.

    Returns:
      A module mapping integer ids ``[...]`` to ``[..., features]``.

    Raises:
      TypeError: non-int sizes, non-integer codes, a non-float dtype or
        ``rngs`` that is not an :class:`flax.nnx.Rngs`.
      ValueError: sizes ``< 1`` or codes with another number of rows.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import jaxns.nn
      >>> genres = jnp.array([[0, 2], [1, -1], [-1, -1]])  # 3 items, 3 genres
      >>> tower = jaxns.nn.IdTower(3, 4, side_features=[genres], rngs=nnx.Rngs(0))
      >>> tower(jnp.array([0, 2])).shape
      (2, 4)

    References:
      Rendle, `Factorization Machines
      <https://doi.org/10.1109/ICDM.2010.127>`_, 2010.
      Glorot and Bengio, `Understanding the difficulty of training deep
      feedforward neural networks
      <https://proceedings.mlr.press/v9/glorot10a.html>`_, 2010.
    """

    def __init__(
        self,
        num_ids: int,
        features: int,
        *,
        side_features: Any = (),
        normalize: bool = False,
        embedding_init: _Initializer | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        fn = "nn.IdTower"
        self.num_ids = _checks.size(fn, "num_ids", num_ids, minimum=1)
        self.features = _checks.size(fn, "features", features, minimum=1)
        self.normalize = _checks.flag(fn, "normalize", normalize)
        self.dtype = _checks.dtype(fn, "dtype", dtype, allow_none=True)
        self.param_dtype = _checks.dtype(fn, "param_dtype", param_dtype)
        if not isinstance(rngs, nnx.Rngs):
            raise TypeError(
                f"{fn}: rngs must be an nnx.Rngs (e.g. nnx.Rngs(0)), got "
                f"{type(rngs).__name__}."
            )
        init = _xavier_normal() if embedding_init is None else embedding_init
        table = dict(
            embedding_init=init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            rngs=rngs,
        )
        self.embedding = nnx.Embed(self.num_ids, self.features, **table)
        codes, tables = [], []
        for j, c in enumerate(side_features):
            c = np.asarray(_checks.concrete(fn, f"side_features[{j}]", c))
            if not np.issubdtype(c.dtype, np.integer):
                raise TypeError(
                    f"{fn}: side_features[{j}] must be integer codes, got dtype "
                    f"{c.dtype}."
                )
            if c.ndim != 2 or c.shape[0] != self.num_ids:
                raise ValueError(
                    f"{fn}: side_features[{j}] must have shape [num_ids={self.num_ids}"
                    f", width], got {c.shape}."
                )
            vocab = max(int(c.max(initial=-1)) + 1, 1)
            codes.append(FeatureCodes(jnp.asarray(c, jnp.int32)))
            tables.append(nnx.Embed(vocab, self.features, **table))
        self.side_codes = nnx.List(codes)
        self.side_tables = nnx.List(tables)

    @jax.named_scope("jaxns.nn.IdTower")
    def __call__(self, ids: ArrayLike) -> jax.Array:
        """Embeddings of integer ids.

        .. warning:: Ids are not checked under ``jit``. As in
           :class:`flax.nnx.Embed` (``jnp.take``), ids ``>= num_ids`` or
           ``< -num_ids`` gather NaN rows (the embedding is NaN) and negative
           ids count from the end.

        Args:
          ids: integer ids ``[...]`` in ``[0, num_ids)``.

        Returns:
          ``[..., features]`` embeddings (unit norm if ``normalize``).

        Raises:
          TypeError: non-integer ids.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> tower = jaxns.nn.IdTower(5, 3, rngs=nnx.Rngs(0))
          >>> tower(jnp.array([[0, 4]])).shape
          (1, 2, 3)

        References:
          Rendle, `Factorization Machines
          <https://doi.org/10.1109/ICDM.2010.127>`_, 2010.
        """
        ids = _checks.int_array("nn.IdTower", "ids", ids)
        with jax.named_scope("jaxns.nn.IdTower"):
            out = self.embedding(ids)
            for codes, table in zip(self.side_codes, self.side_tables, strict=True):
                c = codes[...][ids]  # [..., width]
                valid = c >= 0
                rows = table(jnp.maximum(c, 0))
                rows = jnp.where(valid[..., None], rows, 0)
                count = jnp.maximum(jnp.sum(valid, axis=-1, keepdims=True), 1)
                out = out + jnp.sum(rows, axis=-2) / count.astype(rows.dtype)
            return scoring.normalize(out) if self.normalize else out


class IdTwoTower(nnx.Module):
    r"""User and item ID towers (with side features) for two-tower retrieval.

    :class:`TwoTower`'s design with :class:`IdTower` towers: ``query_tower``
    embeds user ids, ``candidate_tower`` item ids, the score is the dot product
    (cosine with ``normalize``), and ``__call__`` is the in-batch softmax of
    Yi et al. 2019 (:func:`jaxns.losses.in_batch_softmax`) with the item ids
    as candidate ids, so duplicate items of a batch are never each other's
    negatives. For BPR, sampled softmax and mixed negatives embed the ids with
    :meth:`embed_queries`/:meth:`embed_candidates` and use
    :class:`jaxns.retrieval.Objective`.

    Args:
      num_users: rows of the user table.
      num_items: rows of the item table.
      features: embedding width.
      user_features: integer ``[num_users, width]`` code arrays (see
        :class:`IdTower`).
      item_features: integer ``[num_items, width]`` code arrays.
      normalize: L2-normalise both embeddings.
      embedding_init: initialiser of every table (default: PyTorch's
        ``xavier_normal_``, as RecBole).
      dtype: compute dtype.
      param_dtype: storage dtype.
      rngs: :class:`flax.nnx.Rngs`.

    Returns:
      A module with ``query_tower`` and ``candidate_tower``.

    Raises:
      TypeError: see :class:`IdTower`.
      ValueError: see :class:`IdTower`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import jaxns.nn
      >>> model = jaxns.nn.IdTwoTower(10, 20, 8, rngs=nnx.Rngs(0))
      >>> loss = model(jnp.array([0, 1, 2]), jnp.array([5, 5, 7]), temperature=0.1)
      >>> loss.shape, model.embed_candidates(jnp.arange(20)).shape
      ((3,), (20, 8))

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        features: int,
        *,
        user_features: Any = (),
        item_features: Any = (),
        normalize: bool = False,
        embedding_init: _Initializer | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        tower = dict(
            normalize=normalize,
            embedding_init=embedding_init,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
        self.query_tower = IdTower(
            num_users, features, side_features=user_features, **tower
        )
        self.candidate_tower = IdTower(
            num_items, features, side_features=item_features, **tower
        )

    @jax.named_scope("jaxns.nn.IdTwoTower.embed_queries")
    def embed_queries(self, user_ids: ArrayLike) -> jax.Array:
        """User embeddings (for training, and all users for evaluation).

        Args:
          user_ids: integer ids ``[...]``.

        Returns:
          ``[..., features]`` embeddings.

        Raises:
          TypeError: non-integer ids.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.IdTwoTower(10, 20, 8, rngs=nnx.Rngs(0))
          >>> model.embed_queries(jnp.arange(10)).shape
          (10, 8)

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
        """
        return self.query_tower(user_ids)

    @jax.named_scope("jaxns.nn.IdTwoTower.embed_candidates")
    def embed_candidates(self, item_ids: ArrayLike) -> jax.Array:
        """Item embeddings (for training, and the whole catalogue for ranking).

        Args:
          item_ids: integer ids ``[...]``.

        Returns:
          ``[..., features]`` embeddings.

        Raises:
          TypeError: non-integer ids.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.IdTwoTower(10, 20, 8, rngs=nnx.Rngs(0))
          >>> model.embed_candidates(jnp.array([[1, 2]])).shape
          (1, 2, 8)

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
        """
        return self.candidate_tower(item_ids)

    @jax.named_scope("jaxns.nn.IdTwoTower")
    def __call__(
        self,
        user_ids: ArrayLike,
        item_ids: ArrayLike,
        *,
        temperature: float | ArrayLike = 1.0,
        candidate_log_q: ArrayLike | None = None,
        extra_ids: ArrayLike | None = None,
        extra_log_q: ArrayLike | None = None,
        num_hard_negatives: int | None = None,
        where: ArrayLike | None = None,
        weights: ArrayLike | None = None,
    ) -> jax.Array:
        """Per-example in-batch softmax loss of matched (user, item) rows.

        Args:
          user_ids: integer ``[batch]``.
          item_ids: integer ``[batch]``; item ``i`` is the positive of user
            ``i`` and the candidate id of column ``i`` (duplicates masked).
          temperature: ``> 0``.
          candidate_log_q: optional float ``[batch]`` log sampling
            probabilities of the items (logQ correction).
          extra_ids: optional integer ``[num_extra]`` extra items shared by the
            batch (mixed negative sampling).
          extra_log_q: optional float ``[num_extra]`` (with
            ``candidate_log_q``).
          num_hard_negatives: keep only the hardest negatives per row.
          where: optional bool ``[batch, batch + num_extra]``, True keeps a
            column.
          weights: optional float ``[batch]``.

        Returns:
          ``[batch]`` losses.

        Raises:
          TypeError: non-integer ids, non-float log-probabilities.
          ValueError: mismatched shapes, ``temperature <= 0``.

        Examples:
          >>> import jax.numpy as jnp
          >>> from flax import nnx
          >>> import jaxns.nn
          >>> model = jaxns.nn.IdTwoTower(10, 20, 8, rngs=nnx.Rngs(0))
          >>> grads = nnx.grad(lambda m: m(jnp.array([0, 1]), jnp.array([3, 4]),
          ...                              extra_ids=jnp.array([9])).mean())(model)
          >>> grads.candidate_tower.embedding.embedding.shape
          (20, 8)

        References:
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
          Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
          Networks in Recommendations
          <https://doi.org/10.1145/3366424.3386195>`_, 2020.
        """
        fn = "nn.IdTwoTower"
        user_ids = _checks.int_array(fn, "user_ids", user_ids, ndim=1)
        item_ids = _checks.int_array(fn, "item_ids", item_ids, shape=user_ids.shape)
        extra = None
        if extra_ids is not None:
            extra_ids = _checks.int_array(fn, "extra_ids", extra_ids, ndim=1)
            extra = self.embed_candidates(extra_ids)
        return losses.in_batch_softmax(
            self.embed_queries(user_ids),
            self.embed_candidates(item_ids),
            temperature=temperature,
            candidate_log_q=candidate_log_q,
            candidate_ids=item_ids,
            extra_candidates=extra,
            extra_log_q=extra_log_q,
            extra_ids=extra_ids,
            num_hard_negatives=num_hard_negatives,
            where=where,
            weights=weights,
        )
