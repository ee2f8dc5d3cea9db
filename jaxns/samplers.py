# SPDX-License-Identifier: Apache-2.0
"""Proposal distributions for negative sampling, as pytrees that run inside XLA.

A :class:`Sampler` is immutable data: build it once on the host
(:func:`uniform`, :func:`log_uniform`, :func:`unigram`, :func:`categorical`,
:func:`mixture`), pass it into a jitted step as an argument, and draw with an
explicit key::

    sampler = jaxns.samplers.unigram(counts, power=0.75)  # alias table, once
    ids = sampler.sample(key, (batch, num_negatives))      # O(1) per draw
    log_q = sampler.log_prob(ids)                          # for logQ correction

Per-example negatives have shape ``[batch, num_negatives]``; negatives shared
by a batch (one matmul ``[batch, d] x [d, num_negatives]`` scores them all)
have shape ``[num_negatives]``. Both come from the same ``sample`` call.

Besides the samplers the module offers exact rejection-free exclusion
(:func:`sample_excluding`), accidental-hit masks (:func:`accidental_hits`),
hard-negative mining (:func:`hard_negatives`), expected counts for logQ
correction (:func:`expected_count`) and knowledge-graph corruption
(:func:`corrupt_triples`, :func:`bernoulli_head_prob`).

Random functions take one typed key (``jax.random.key``) as their first
argument. Legacy ``uint32`` keys are rejected with a ``TypeError`` that says
how to convert them (``jax.random.wrap_key_data``); batch with ``jax.vmap``
over split keys.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "Candidates",
    "Sampler",
    "accidental_hits",
    "bernoulli_head_prob",
    "categorical",
    "corrupt_triples",
    "expected_count",
    "hard_negatives",
    "log_expected_count",
    "log_uniform",
    "mixture",
    "sample_candidates",
    "sample_excluding",
    "unigram",
    "uniform",
]

# Each alias slot is split into 2**32 units, so the keep-or-alias decision is an
# exact comparison of one uniform 32-bit word with an integer threshold.
_UNITS = 1 << 32
_MAX_CLASSES = 1 << 30
_SUPPORT = "ids with non-zero probability"
_FAMILIES = ("uniform", "log_uniform", "unigram", "categorical", "mixture")


# --------------------------------------------------------------------------
# random words


def _random_words(key: jax.Array, shape: tuple[int, ...]):
    """Two independent uniform uint32 words per element of ``shape``.

    For threefry keys one Threefry-2x32 hash per element yields both words:
    ``jax.random.bits(..., uint32)`` computes the same hash and XORs its two
    outputs away, so this costs as much as one ``jax.random.bits`` call and
    half of two. Other key implementations draw ``[2, *shape]`` bits.
    """
    size = math.prod(shape)
    if str(jax.random.key_impl(key)) == "threefry2x32" and size < (1 << 31):
        counts = jax.lax.iota(jnp.uint32, 2 * size)
        words = jex.random.threefry_2x32(jax.random.key_data(key), counts)
        return words[:size].reshape(shape), words[size:].reshape(shape)
    words = jax.random.bits(key, (2, *shape), jnp.uint32)
    return words[0], words[1]


# --------------------------------------------------------------------------
# the sampler pytree


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Sampler:
    """A proposal distribution over ids ``0 .. num_classes - 1``.

    An immutable pytree: ``family``, ``num_classes`` and ``num_support`` are
    static (part of the tree structure, hashable); the tables are array leaves.
    A sampler passes through ``jax.jit`` as an argument, ``jax.vmap`` and
    checkpoints. Build one with :func:`uniform`, :func:`log_uniform`,
    :func:`unigram`, :func:`categorical` or :func:`mixture`, never directly.

    Attributes:
      family: ``"uniform"``, ``"log_uniform"``, ``"unigram"``, ``"categorical"``
        or ``"mixture"``.
      num_classes: the number of ids ``V``.
      num_support: the number of ids with non-zero probability (static), used
        to reject impossible draws without replacement.
      table_bits: ``log2`` of the alias table length (alias families only).
      table: ``int32[2**table_bits, 2]`` alias table: column 0 holds the keep
        threshold (a ``uint32`` bit pattern, in units of ``2**-32`` of a slot),
        column 1 the alias id. ``None`` for closed-form families.
      probabilities: ``float32[V]`` probabilities (alias families), or the
        mixture weights ``float32[K]`` (mixture); ``None`` otherwise.
      components: the mixed samplers (mixture only).
    """

    family: str
    num_classes: int
    num_support: int
    table_bits: int = 0
    table: jax.Array | None = None
    probabilities: jax.Array | None = None
    components: tuple[Sampler, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Sampler(family={self.family!r}, num_classes={self.num_classes}, "
            f"num_support={self.num_support})"
        )

    # ----------------------------------------------------------- drawing

    @jax.named_scope("jaxns.samplers.Sampler.sample")
    def sample(
        self, key: ArrayLike, shape: tuple[int, ...], *, replace: bool = True
    ) -> jax.Array:
        """Draws ids from the distribution.

        With replacement every element is an independent draw: O(1) per draw
        for every family (alias table: one uniform slot, one uniform 32-bit
        word, one gather of a ``(threshold, alias)`` pair). No per-call O(V)
        work.

        Without replacement the ids are distinct along the last axis of
        ``shape`` and each row is an ordered draw without replacement (the
        first slot follows the distribution; successive sampling).
        ``uniform`` uses an exact sequential shift method, O(k^2) per row with
        no O(V) work when ``k^2 <= 4 V`` (else a top-k of ``V`` random words).
        The other families use Gumbel-top-k (Kool et al. 2019), O(V) time and
        memory per row: fine for shared negatives, costly for large batches.

        Args:
          key: a single typed PRNG key (``jax.random.key``).
          shape: the output shape, a tuple of non-negative ints; static under
            ``jit``. ``(num_negatives,)`` gives negatives shared by a batch,
            ``(batch, num_negatives)`` per-example negatives.
          replace: whether ids may repeat along the last axis.

        Returns:
          ``int32`` ids of exactly ``shape``, in ``[0, num_classes)``.

        Raises:
          TypeError: if ``key`` is not a typed key, ``shape`` not a tuple or
            ``replace`` not a bool.
          ValueError: for a key array, negative sizes, draws from an empty
            vocabulary, or ``replace=False`` with ``shape[-1] > num_support``.

        Examples:
          >>> import jax, jaxns
          >>> sampler = jaxns.samplers.unigram([5, 0, 3, 1], power=0.75)
          >>> ids = sampler.sample(jax.random.key(0), (2, 3))
          >>> ids.shape, ids.dtype, bool((ids != 1).all())
          ((2, 3), dtype('int32'), True)
          >>> rows = sampler.sample(jax.random.key(1), (4, 3), replace=False)
          >>> [len(set(r)) for r in rows.tolist()]
          [3, 3, 3, 3]

        References:
          Walker, `An Efficient Method for Generating Discrete Random Variables
          with General Distributions <https://doi.org/10.1145/355744.355749>`_,
          1977.
          Kool et al, `Stochastic Beams and Where to Find Them
          <https://arxiv.org/abs/1903.06059>`_, 2019.
        """
        name = f"{self.family}.sample"
        key = _checks.key(name, key)
        shape = _checks.shape(name, "shape", shape)
        replace = _checks.flag(name, "replace", replace)
        if math.prod(shape) == 0:
            return jnp.zeros(shape, jnp.int32)
        if self.num_support == 0:
            raise ValueError(
                f"{name}: cannot draw {shape} ids from an empty vocabulary "
                f"(num_classes={self.num_classes}); only empty shapes are allowed"
            )
        if not replace and shape:
            if shape[-1] > self.num_support:
                raise _checks.too_many(name, shape[-1], self.num_support, what=_SUPPORT)
            return self._sample_without_replacement(key, shape)
        return self._sample_with_replacement(key, shape)

    def _sample_with_replacement(self, key, shape):
        if self.family == "uniform":
            return jax.random.randint(key, shape, 0, self.num_classes, jnp.int32)
        if self.family == "log_uniform":
            w0, w1 = _random_words(key, shape)
            return _log_uniform_from_words(w0, w1, self.num_classes)
        if self.family == "mixture":
            key_component, *keys = jax.random.split(key, len(self.components) + 1)
            which = jax.random.categorical(
                key_component, jnp.log(self.probabilities), shape=shape
            )
            draws = [
                c._sample_with_replacement(k, shape)
                for c, k in zip(self.components, keys, strict=True)
            ]
            out = draws[0]
            for i, d in enumerate(draws[1:], start=1):
                out = jnp.where(which == i, d, out)
            return out
        w0, w1 = _random_words(key, shape)
        return _alias_from_words(w0, w1, self.table, self.table_bits)

    def _sample_without_replacement(self, key, shape):
        n, k = self.num_classes, shape[-1]
        if self.family == "uniform":
            if k * k <= 4 * n:
                return _uniform_distinct(key, n, shape)
            bits = jax.random.bits(key, (*shape[:-1], n), jnp.uint32)
            return jax.lax.top_k(bits, k)[1].astype(jnp.int32)
        # Gumbel-top-k: argsort of log p + Gumbel noise is an ordered sample
        # without replacement (Kool et al. 2019). Zero-probability ids have
        # log p = -inf and lose to every finite id.
        log_p = self.log_prob(jnp.arange(n, dtype=jnp.int32))
        gumbel = jax.random.gumbel(key, (*shape[:-1], n), jnp.float32)
        perturbed = gumbel + jnp.broadcast_to(log_p, gumbel.shape)
        return jax.lax.top_k(perturbed, k)[1].astype(jnp.int32)

    # ------------------------------------------------------ probabilities

    @jax.named_scope("jaxns.samplers.Sampler.log_prob")
    def log_prob(self, ids: ArrayLike) -> jax.Array:
        """Log-probability of each id under the distribution.

        Ids outside ``[0, num_classes)`` and ids of probability 0 get
        ``-inf`` (for logQ correction use :func:`log_expected_count`, which
        clamps to the dtype's tiny instead).

        Args:
          ids: integer ids of any shape.

        Returns:
          ``float32`` log-probabilities with the shape of ``ids``.

        Raises:
          TypeError: if ``ids`` is not an integer array.

        Examples:
          >>> import jaxns
          >>> s = jaxns.samplers.uniform(4)
          >>> [round(v, 4) for v in s.log_prob([0, 3, 4]).tolist()]
          [-1.3863, -1.3863, -inf]

        References:
          Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
          Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
        """
        ids = _checks.int_array(f"{self.family}.log_prob", "ids", ids)
        return self._log_prob(ids)

    def _log_prob(self, ids):
        n = self.num_classes
        inside = (ids >= 0) & (ids < n)
        if self.family == "uniform":
            value = jnp.float32(-math.log(n)) if n else jnp.float32(-jnp.inf)
            return jnp.where(inside, value, -jnp.inf).astype(jnp.float32)
        if self.family == "log_uniform":
            k = jnp.where(inside, ids, 0).astype(jnp.float32)
            log_p = jnp.log(jnp.log1p(1.0 / (k + 1.0))) - jnp.float32(
                math.log(math.log(n + 1)) if n else 0.0
            )
            return jnp.where(inside, log_p, -jnp.inf)
        return jnp.log(self._prob(ids))

    def _prob(self, ids):
        if self.family in ("uniform", "log_uniform"):
            return jnp.exp(self._log_prob(ids))
        if self.family == "mixture":
            out = jnp.zeros(ids.shape, jnp.float32)
            for i, c in enumerate(self.components):
                out = out + self.probabilities[i] * c._prob(ids)
            return out
        if self.num_classes == 0:
            # Every id is outside an empty vocabulary (and there is no row 0
            # to gather).
            return jnp.zeros(ids.shape, jnp.float32)
        inside = (ids >= 0) & (ids < self.num_classes)
        p = jnp.take(self.probabilities, jnp.where(inside, ids, 0), mode="clip")
        return jnp.where(inside, p, 0.0)

    @jax.named_scope("jaxns.samplers.Sampler.probs")
    def probs(self) -> jax.Array:
        """The exact distribution as a ``float32[num_classes]`` vector.

        For alias tables this is the distribution the table samples (the
        normalised weights quantised to multiples of ``2**-32`` of a slot,
        then rounded to float32), not a Monte-Carlo estimate.

        Returns:
          ``float32[num_classes]`` probabilities summing to 1 (up to float32
          rounding).

        Examples:
          >>> import jaxns
          >>> p = jaxns.samplers.categorical([0.5, 0.0, 1.5]).probs()
          >>> [round(v, 4) for v in p.tolist()]
          [0.25, 0.0, 0.75]

        References:
          Vose, `A Linear Algorithm for Generating Random Numbers with a Given
          Distribution <https://doi.org/10.1109/32.92917>`_, 1991.
        """
        if self.family in ("unigram", "categorical"):
            return self.probabilities
        return self._prob(jnp.arange(self.num_classes, dtype=jnp.int32))


jax.tree_util.register_dataclass(
    Sampler,
    data_fields=["table", "probabilities", "components"],
    meta_fields=["family", "num_classes", "num_support", "table_bits"],
)


# --------------------------------------------------------------------------
# constructors


@jax.named_scope("jaxns.samplers.uniform")
def uniform(num_classes: int) -> Sampler:
    """Uniform distribution over ``num_classes`` ids.

    Args:
      num_classes: the vocabulary size ``V`` (a Python int, ``0 <= V <= 2**30``;
        ``V = 0`` only allows empty draws).

    Returns:
      A :class:`Sampler` with ``family="uniform"`` and no array leaves.

    Raises:
      TypeError: if ``num_classes`` is not an int.
      ValueError: if ``num_classes`` is negative or too large.

    Examples:
      >>> import jax, jaxns
      >>> s = jaxns.samplers.uniform(10)
      >>> s.sample(jax.random.key(0), (5,), replace=False).shape
      (5,)
      >>> round(float(s.probs().sum()), 6)
      1.0

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    n = _checks.size(
        "samplers.uniform", "num_classes", num_classes, maximum=_MAX_CLASSES
    )
    return Sampler("uniform", n, n)


@jax.named_scope("jaxns.samplers.log_uniform")
def log_uniform(num_classes: int) -> Sampler:
    r"""Log-uniform (Zipfian) distribution over id rank, as TensorFlow defines it.

    .. math::
        P(k) = \frac{\log((k + 2) / (k + 1))}{\log(V + 1)}, \quad k = 0..V-1,

    which suits vocabularies sorted by decreasing frequency. No table: each draw
    inverts the CDF in closed form (``floor(exp(u log(V + 1))) - 1``, TF's
    ``LogUniformCandidateSampler``) from two random words. To stay exact in
    float32 at large ``V`` the inversion runs in two stages: a block of
    ``~sqrt(V)`` consecutive ids from the first word, then the id inside the
    block from the second, each a well-conditioned float32 computation. The
    per-id relative error of the sampled distribution is below ``1e-3`` at
    ``V = 2**20`` (tested by exact enumeration of both random words) and grows
    like ``sqrt(V)`` (about ``1.5e-3`` at ``2**22``); a naive float32 inversion
    of one uniform cannot even reach some of the rarest ids at ``V = 10**6``.

    Args:
      num_classes: the vocabulary size ``V`` (a Python int,
        ``0 <= V <= 2**30``; up to ``2**24`` for the precision above).

    Returns:
      A :class:`Sampler` with ``family="log_uniform"`` and no array leaves.

    Raises:
      TypeError: if ``num_classes`` is not an int.
      ValueError: if ``num_classes`` is negative or too large.

    Examples:
      >>> import jax, jaxns
      >>> s = jaxns.samplers.log_uniform(1000)
      >>> [round(v, 4) for v in s.probs()[:3].tolist()]
      [0.1003, 0.0587, 0.0416]
      >>> s.sample(jax.random.key(0), (2, 4)).shape
      (2, 4)

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
    """
    n = _checks.size(
        "samplers.log_uniform", "num_classes", num_classes, maximum=_MAX_CLASSES
    )
    return Sampler("log_uniform", n, n)


def _log_uniform_blocks(n: int) -> int:
    # Blocks of ~sqrt(V) ids balance the float32 error of the two stages.
    return max(0, round(math.log2(n + 1) / 2)) if n else 0


def _log_uniform_from_words(w0, w1, n: int) -> jax.Array:
    # X = (V + 1)**u is log-uniform on [1, V + 1) and id = floor(X) - 1.
    # Stage 1 picks the block of 2**s ids that X falls in; stage 2 draws X
    # inside the block from its conditional (log-uniform on [lo, hi)), computed
    # as lo * expm1(w * log1p(width / lo)) so float32 resolves single ids.
    s = _log_uniform_blocks(n)
    width = 1 << s
    # The last block absorbs the remainder (< 2 width ids): a tiny final block
    # would get a large relative error from stage 1's float32 rounding.
    num_blocks = max(1, n // width)
    log_range = jnp.float32(math.log(n + 1))
    # v in (0, 1]: fine resolution near 0, where the rare ids are.
    v = (w0.astype(jnp.float32) + 0.5) * jnp.float32(2.0**-32)
    x_minus_1 = jnp.float32(n + 1) * jnp.exp(-v * log_range) - 1.0
    block = jnp.floor(x_minus_1 / jnp.float32(width))
    block = jnp.clip(block, 0, num_blocks - 1).astype(jnp.int32)
    first = block * width
    lo = (first + 1).astype(jnp.float32)
    span = jnp.where(block == num_blocks - 1, n - first, width)
    u = (w1 >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)
    offset = lo * jnp.expm1(u * jnp.log1p(span.astype(jnp.float32) / lo))
    offset = jnp.clip(jnp.floor(offset).astype(jnp.int32), 0, span - 1)
    return first + offset


def _normalised(weights: np.ndarray) -> np.ndarray:
    """``weights / weights.sum()``, also where the sum overflows float64."""
    with np.errstate(over="ignore"):
        total = weights.sum()
    if not np.isfinite(total):  # finite weights, e.g. 1e308 + 1e308
        weights = weights / weights.max()
        total = weights.sum()
    return weights / total


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Walker/Vose alias table in exact integer arithmetic, vectorised.

    The table has ``S = 2**b >= V`` slots (a power of two, so one word's top
    bits pick a slot exactly; padding ids get weight 0). The weights are
    quantised to integers ``q`` with ``sum(q) = S * 2**32`` (largest
    remainders; positive weights keep at least one unit). Each slot holds
    ``2**32`` units: ``threshold`` of them for its own id, the rest for
    ``alias``. In integer arithmetic the classic sweep has a closed form: lay
    the deficits of the small items (``q < 2**32``) end to end and the excesses
    of the large ones beside them; a small's alias is the large whose excess
    interval contains the start of the small's deficit interval, and a large
    overshot by the small straddling its end becomes a small itself, aliased
    to the next large. Zero-weight ids have threshold 0 and are never aliases,
    so they are never drawn, at any size.

    Returns:
      ``(q, table, b)``: units per id ``int64[S]``, ``int32[S, 2]`` table of
      (threshold bit pattern, alias), and ``b``.
    """
    v = weights.size
    b = max(1, math.ceil(math.log2(v)))
    slots = 1 << b
    total = slots * _UNITS
    scaled = np.zeros(slots)
    scaled[:v] = _normalised(weights) * float(total)
    q = np.floor(scaled).astype(np.int64)
    rest = total - int(q.sum())
    positive = np.flatnonzero(scaled > 0)  # only these may gain a unit
    if 0 <= rest <= positive.size:
        remainder = scaled[positive] - q[positive]
        if rest < positive.size:
            positive = positive[np.argpartition(-remainder, rest)[:rest]]
        q[positive] += 1
    else:  # float64 rounding of huge units; put the residue on the largest id
        q[np.argmax(q)] += rest
    # A positive weight whose share underflows float64 (1e-300 beside 1e300)
    # has scaled == 0 but must stay drawable too.
    lost = (q == 0) & np.pad(weights > 0, (0, slots - v))
    if lost.any():  # keep every positive weight drawable
        q[lost] = 1
        q[np.argmax(q)] -= int(lost.sum())
    small = np.flatnonzero(q < _UNITS)
    large = np.flatnonzero(q > _UNITS)
    threshold = np.full(slots, _UNITS - 1, np.int64)
    alias = np.arange(slots, dtype=np.int64)
    if small.size:
        deficit_end = np.cumsum(_UNITS - q[small])
        deficit_start = deficit_end - (_UNITS - q[small])
        excess_end = np.cumsum(q[large] - _UNITS)
        threshold[small] = q[small]
        alias[small] = large[np.searchsorted(excess_end, deficit_start, "right")]
        overshoot = deficit_end[np.searchsorted(deficit_end, excess_end)] - excess_end
        drained = overshoot > 0
        threshold[large] = np.where(drained, _UNITS - overshoot, _UNITS - 1)
        alias[large[:-1]] = np.where(drained[:-1], large[1:], large[:-1])
    table = np.stack([threshold.astype(np.uint32).view(np.int32), alias], axis=1)
    return q, table.astype(np.int32), b


def _alias_from_words(w0, w1, table, bits: int) -> jax.Array:
    slot = (w0 >> jnp.uint32(32 - bits)).astype(jnp.int32)
    row = table[slot]
    threshold = jax.lax.bitcast_convert_type(row[..., 0], jnp.uint32)
    return jnp.where(w1 < threshold, slot, row[..., 1])


def _alias_sampler(weights: np.ndarray, family: str) -> Sampler:
    v = weights.size
    if v == 0:
        empty = jnp.zeros(0, jnp.float32)  # float32 as documented, x64 or not
        return Sampler(family, 0, 0, 0, jnp.zeros((0, 2), jnp.int32), empty)
    q, table, b = _alias_table(weights)
    probs = (q[:v] / float((1 << b) * _UNITS)).astype(np.float32)
    return Sampler(
        family,
        v,
        int(np.count_nonzero(q[:v])),
        b,
        jnp.asarray(table),
        jnp.asarray(probs),
    )


@jax.named_scope("jaxns.samplers.unigram")
def unigram(counts: ArrayLike, *, power: float = 0.75) -> Sampler:
    r"""The word2vec noise distribution ``P(i) ∝ counts[i] ** power``.

    Builds a Walker/Vose alias table once on the host in float64/int64 NumPy
    (vectorised, about 0.5 s for ``V = 2**22``), so every draw is O(1): one
    uniform slot, one uniform 32-bit word, one gather of a (threshold, alias)
    pair. The sampled distribution is the normalised ``counts ** power``
    quantised to multiples of ``2**-32 / S`` (``S >= V`` the table length):
    an absolute error below ``1e-15`` for ``V = 10**6``. Ids with zero count are
    never drawn. Memory: ``8 S + 4 V`` bytes, ``S < 2 V`` (a power of two).

    Args:
      counts: concrete non-negative word counts ``[V]`` (NumPy/JAX/list).
        ``V = 0`` gives a sampler that only allows empty draws.
      power: the exponent (word2vec and gensim use 0.75, fastText 0.5); a
        Python float ``>= 0``. ``0 ** 0`` is taken as 0 (unseen ids stay out).

    Returns:
      A :class:`Sampler` with ``family="unigram"``.

    Raises:
      TypeError: if ``counts`` is traced (build outside ``jit``) or not numeric.
      ValueError: if ``counts`` is not 1-D, has NaN/inf/negative entries or sums
        to 0, or if ``power < 0``.

    Examples:
      >>> import jax, jaxns
      >>> s = jaxns.samplers.unigram([16, 1, 0, 81], power=0.5)
      >>> [round(v, 4) for v in s.probs().tolist()]
      [0.2857, 0.0714, 0.0, 0.6429]
      >>> step = jax.jit(lambda s, key: s.sample(key, (3, 5)))
      >>> step(s, jax.random.key(0)).shape
      (3, 5)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and their
      Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
      Vose, `A Linear Algorithm for Generating Random Numbers with a Given
      Distribution <https://doi.org/10.1109/32.92917>`_, 1991.
    """
    fn = "samplers.unigram"
    power = _checks.number(fn, "power", power, nonnegative=True)
    w = _checks.nonnegative_weights(fn, "counts", counts, max_size=_MAX_CLASSES)
    weights = np.where(w > 0, w ** float(power), 0.0)
    if w.size and not np.all(np.isfinite(weights)):
        raise ValueError(f"{fn}: counts ** power overflows float64 (power={power}).")
    return _alias_sampler(weights, "unigram")


@jax.named_scope("jaxns.samplers.categorical")
def categorical(probs: ArrayLike) -> Sampler:
    """A categorical distribution from concrete (unnormalised) probabilities.

    The same alias table as :func:`unigram` with ``power=1``: O(1) per draw on
    every backend, unlike ``jax.random.choice(p=...)`` (an O(V) cumsum per
    call) and ``jax.random.categorical(shape=(S,))`` (O(S V)).

    Args:
      probs: concrete non-negative weights ``[V]``; normalised here.

    Returns:
      A :class:`Sampler` with ``family="categorical"``.

    Raises:
      TypeError: if ``probs`` is traced or not numeric.
      ValueError: if ``probs`` is not 1-D, has NaN/inf/negative entries or sums
        to 0.

    Examples:
      >>> import jax, jaxns
      >>> s = jaxns.samplers.categorical([0.1, 0.0, 0.9])
      >>> ids = s.sample(jax.random.key(0), (1000,))
      >>> bool((ids != 1).all()), s.num_support
      (True, 2)

    References:
      Walker, `An Efficient Method for Generating Discrete Random Variables
      with General Distributions <https://doi.org/10.1145/355744.355749>`_,
      1977.
    """
    return _alias_sampler(
        _checks.nonnegative_weights(
            "samplers.categorical", "probs", probs, max_size=_MAX_CLASSES
        ),
        "categorical",
    )


@jax.named_scope("jaxns.samplers.mixture")
def mixture(samplers: Sequence[Sampler], weights: ArrayLike) -> Sampler:
    """A mixture ``sum_j weights[j] * samplers[j]`` of samplers over the same ids.

    Useful for mixed negative sampling (Yang et al. 2020), e.g. unigram plus
    uniform. Each draw picks a component with probability ``weights[j]`` and
    draws from it (K component draws per output: meant for small K);
    ``log_prob`` is the mixture's, so logQ correction stays exact.

    Args:
      samplers: ``K >= 1`` samplers with equal ``num_classes``.
      weights: concrete non-negative mixture weights ``[K]``, normalised here.

    Returns:
      A :class:`Sampler` with ``family="mixture"``.

    Raises:
      TypeError: if an element is not a :class:`Sampler` or weights are traced.
      ValueError: on differing ``num_classes``, a length mismatch, or invalid
        weights.

    Examples:
      >>> import jax, jaxns
      >>> m = jaxns.samplers.mixture(
      ...     [jaxns.samplers.uniform(4), jaxns.samplers.categorical([1, 0, 0, 0])],
      ...     [0.5, 0.5],
      ... )
      >>> [round(v, 3) for v in m.probs().tolist()]
      [0.625, 0.125, 0.125, 0.125]

    References:
      Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
      Networks in Recommendations <https://doi.org/10.1145/3366424.3386195>`_,
      2020.
    """
    samplers = tuple(samplers)
    fn = "samplers.mixture"
    if not samplers or not all(isinstance(s, Sampler) for s in samplers):
        raise TypeError(
            f"{fn}: samplers must be a non-empty sequence of jaxns.samplers.Sampler, "
            f"got {samplers!r}."
        )
    sizes = {s.num_classes for s in samplers}
    if len(sizes) != 1:
        raise ValueError(
            f"mixture: samplers must share num_classes, got {sorted(sizes)}"
        )
    w = _checks.nonnegative_weights(fn, "weights", weights, max_size=_MAX_CLASSES)
    if w.shape != (len(samplers),):
        raise ValueError(
            f"mixture: weights shape {w.shape} must be ({len(samplers)},), one "
            "weight per sampler"
        )
    w = _normalised(w)
    keep = [i for i in range(len(samplers)) if w[i] > 0]
    samplers = tuple(samplers[i] for i in keep)
    w = jnp.asarray(w[keep], jnp.float32)
    n = sizes.pop()
    m = Sampler("mixture", n, n, 0, None, w, samplers)
    try:  # the support is static when the component tables are concrete
        support = int(np.count_nonzero(np.asarray(m.probs())))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        support = n
    return dataclasses.replace(m, num_support=support)


# --------------------------------------------------------------------------
# without replacement, exclusion


def _uniform_distinct(key, n: int, shape: tuple[int, ...]) -> jax.Array:
    # Sequential shift method: the j-th id is uniform over the n - j ids not yet
    # drawn: draw r in [0, n - j) and map it past the sorted drawn ids d_i via
    # r + #{i : d_i - i <= r}. Exact, O(k^2) per row, no O(V) work.
    k = shape[-1]
    positions = jnp.broadcast_to(jnp.arange(k, dtype=jnp.int32), shape)
    maxval = jnp.int32(n) - positions
    r = jax.random.randint(key, shape, 0, maxval, jnp.int32)
    sentinel = jnp.iinfo(jnp.int32).max - k
    sorted_ids = jnp.full(shape, sentinel, jnp.int32)

    def body(j, carry):
        out, sorted_ids = carry
        rj = jax.lax.dynamic_index_in_dim(r, j, axis=-1, keepdims=True)
        gaps = sorted_ids - positions
        x = rj + jnp.sum(gaps <= rj, axis=-1, keepdims=True, dtype=jnp.int32)
        pos = jnp.sum(sorted_ids < x, axis=-1, keepdims=True, dtype=jnp.int32)
        shifted = jnp.concatenate([sorted_ids[..., :1], sorted_ids[..., :-1]], -1)
        sorted_ids = jnp.where(
            positions < pos, sorted_ids, jnp.where(positions == pos, x, shifted)
        )
        out = jax.lax.dynamic_update_index_in_dim(out, x, j, axis=-1)
        return out, sorted_ids

    out, _ = jax.lax.fori_loop(0, k, body, (jnp.zeros(shape, jnp.int32), sorted_ids))
    return out


@jax.named_scope("jaxns.samplers.sample_excluding")
def sample_excluding(
    key: ArrayLike,
    num_classes: int,
    exclude: ArrayLike,
    shape: tuple[int, ...],
) -> jax.Array:
    """Uniform ids from ``[0, num_classes)`` minus a per-row set of excluded ids.

    Exact and rejection-free at a fixed shape (PyKEEN's shift trick for one
    excluded id, generalised): each row's excluded ids are sorted and
    de-duplicated, ``r`` is drawn uniformly from the ``n - m`` remaining
    values and mapped to the ``r``-th non-excluded id,
    ``r + #{i : e_i - i <= r}`` (a comparison against the ``m`` sorted ids).
    Draws are independent (with replacement) and O(m) each.

    Duplicates in ``exclude`` are allowed; excluded ids outside
    ``[0, num_classes)`` (e.g. ``-1`` padding) are ignored.

    .. warning::
       If a row excludes every class (only detectable at run time), its ids
       are arbitrary values in ``[0, num_classes)``, i.e. excluded ones.

    Args:
      key: a single typed PRNG key.
      num_classes: the vocabulary size ``n`` (Python int).
      exclude: integer ids ``[*batch, m]`` excluded per row, or ``[m]`` shared
        by all rows. ``batch`` must equal ``shape[:-1]``.
      shape: output shape ``(*batch, num_negatives)``, a tuple; static under
        ``jit``.

    Returns:
      ``int32`` ids of exactly ``shape``.

    Raises:
      TypeError: for a non-typed key, non-tuple shape or non-integer exclude.
      ValueError: for a key array, negative sizes, mismatched batch shapes, or
        a non-empty draw when no class can remain (``num_classes == 0`` or a
        concrete ``exclude`` covering every class).

    Examples:
      >>> import jax, jaxns
      >>> positives = jax.numpy.array([[0, 1], [2, 2]])
      >>> ids = jaxns.samplers.sample_excluding(jax.random.key(0), 4, positives, (2, 6))
      >>> ids.shape, bool((ids[0] >= 2).all()), bool((ids[1] != 2).all())
      ((2, 6), True, True)

    References:
      Ali et al, `PyKEEN 1.0: A Python Library for Training and Evaluating
      Knowledge Graph Embeddings <https://arxiv.org/abs/2007.14175>`_, 2021.
    """
    name = "samplers.sample_excluding"
    key = _checks.key(name, key)
    n = _checks.size(name, "num_classes", num_classes, maximum=_MAX_CLASSES)
    shape = _checks.shape(name, "shape", shape)
    exclude = _checks.int_array(name, "exclude", exclude, ndim=range(1, 33))
    if not shape:
        raise ValueError(f"{name}: shape must have a last (sample) axis, got ().")
    if exclude.ndim > 1 and exclude.shape[:-1] != shape[:-1]:
        raise ValueError(
            f"{name}: exclude batch shape {exclude.shape[:-1]} must equal "
            f"shape[:-1] {shape[:-1]} (or exclude must be 1-D, shared by all rows)"
        )
    if math.prod(shape) == 0:
        return jnp.zeros(shape, jnp.int32)
    if n == 0:
        raise ValueError(f"{name}: cannot draw {shape} ids from num_classes=0")
    if exclude.shape[-1] >= n and not isinstance(exclude, jax.core.Tracer):
        rows = np.sort(np.asarray(exclude).reshape(-1, exclude.shape[-1]), axis=-1)
        fresh = (rows >= 0) & (rows < n)
        fresh[:, 1:] &= rows[:, 1:] != rows[:, :-1]
        if np.any(fresh.sum(-1) >= n):
            raise ValueError(
                f"{name}: exclude removes all {n} classes from a row; no id "
                "remains to draw"
            )
    m = exclude.shape[-1]
    batch = shape[:-1]
    # [*batch, m]; a shared set is broadcast (sorting it per row costs O(m log m)).
    # The range test runs before the cast to int32: with x64 a 64-bit id past
    # the int32 range would wrap into [0, n) (2**32 + 3 -> 3) and exclude it.
    e = exclude if exclude.dtype.itemsize > 4 else exclude.astype(jnp.int32)
    e = jnp.broadcast_to(e, (*batch, m))
    big = jnp.iinfo(jnp.int32).max - m  # sentinel: e_i - i stays above any r
    e = jnp.where((e >= 0) & (e < n), e, big).astype(jnp.int32)
    e = jnp.sort(e, axis=-1)
    previous = jnp.concatenate([jnp.full((*batch, 1), -1, jnp.int32), e[..., :-1]], -1)
    e = jnp.sort(jnp.where(e == previous, big, e), axis=-1)
    num_excluded = jnp.sum(e < big, axis=-1, dtype=jnp.int32, keepdims=True)
    remaining = jnp.maximum(jnp.int32(n) - num_excluded, 1)
    r = jax.random.randint(key, shape, 0, jnp.broadcast_to(remaining, shape), jnp.int32)
    # The r-th (0-based) id not in the sorted set e is r + #{i : e_i - i <= r}.
    gaps = e - jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32), e.shape)
    gaps = jnp.broadcast_to(gaps[..., None, :], (*shape, m))
    out = r + jnp.sum(gaps <= r[..., None], axis=-1, dtype=jnp.int32)
    return jnp.minimum(out, n - 1)


# --------------------------------------------------------------------------
# expected counts (logQ correction)


def _inclusion_probability(sampler: Sampler, ids: jax.Array, k: int) -> jax.Array:
    if sampler.family == "uniform":
        inside = (ids >= 0) & (ids < sampler.num_classes)
        n = sampler.num_classes
        return jnp.where(inside, jnp.float32(k / n if n else 0.0), 0.0)
    p = sampler._prob(ids)
    if k >= sampler.num_support:  # every id of the support is drawn
        return jnp.where(p > 0, 1.0, 0.0).astype(jnp.float32)
    if k == 1:  # one draw is the same with or without replacement: exactly p
        return p
    # Rosen's approximation for successive (Gumbel-top-k) sampling:
    # pi_i = 1 - exp(-t p_i) with t solving sum_i pi_i = k. f(t) is concave
    # and increasing, so Newton from t = k (a lower bound) increases
    # monotonically to the root.
    all_p = sampler.probs()

    def newton(_, t):
        e = jnp.exp(-t * all_p)
        # -expm1, not 1 - exp: with V >> k each term is ~k/V and 1 - exp loses
        # most of its float32 digits to cancellation (1e-3 relative at V=1e6).
        f = jnp.sum(-jnp.expm1(-t * all_p)) - k
        return t - f / jnp.maximum(jnp.sum(all_p * e), jnp.float32(1e-30))

    t = jax.lax.fori_loop(0, 30, newton, jnp.float32(k))
    return -jnp.expm1(-t * p)


@jax.named_scope("jaxns.samplers.expected_count")
def expected_count(
    sampler: Sampler,
    ids: ArrayLike,
    num_samples: int,
    *,
    replace: bool = True,
) -> jax.Array:
    r"""Expected number of times each id appears in ``num_samples`` draws.

    This is the ``Q`` of logQ correction: ``sampled_softmax`` and ``nce``
    subtract ``log(expected_count)`` from true and sampled logits.

    * ``replace=True``: ``num_samples * p(id)`` (exact).
    * ``replace=False``: the probability that the id is among the
      ``num_samples`` distinct ids of one row. Exact for ``uniform``
      (``num_samples / V``), for ``num_samples == 1`` (``p(id)``) and when
      ``num_samples >= num_support`` (1 on the support). Otherwise
      (Gumbel-top-k, i.e. successive sampling) Rosén's
      approximation :math:`\pi_i = 1 - e^{-t p_i}` with ``t`` solving
      :math:`\sum_i \pi_i = k` by 30 Newton steps over the whole distribution
      (O(V) per call); more accurate than TF's
      ``-expm1(num_tries * log1p(-p))``, which ignores that drawn ids are
      removed.

    Ids of probability 0 (or outside ``[0, V)``) get float32's tiny
    (``1.2e-38``) instead of 0, so that ``log`` stays finite (reliability R10).

    Args:
      sampler: the :class:`Sampler` the ids were drawn from.
      ids: integer ids of any shape.
      num_samples: draws per row (``shape[-1]`` of the ``sample`` call), a
        Python int.
      replace: the ``replace`` flag of the ``sample`` call.

    Returns:
      ``float32`` expected counts with the shape of ``ids``.

    Raises:
      TypeError: for non-integer ids or a non-int ``num_samples``.
      ValueError: if ``num_samples < 0``, or ``replace=False`` with
        ``num_samples > num_support``.

    Examples:
      >>> import jaxns
      >>> s = jaxns.samplers.uniform(100)
      >>> [round(v, 4) for v in jaxns.samplers.expected_count(s, [3], 5).tolist()]
      [0.05]
      >>> c = jaxns.samplers.expected_count(s, [3], 5, replace=False)
      >>> [round(v, 4) for v in c.tolist()]
      [0.05]

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
      Rosén, `On sampling with probability proportional to size
      <https://doi.org/10.1016/S0378-3758(96)00186-3>`_, 1997.
    """
    ids, k = _expected_count_args(
        "samplers.expected_count", sampler, ids, num_samples, replace
    )
    if replace:
        count = jnp.float32(k) * sampler._prob(ids)
    else:
        count = _inclusion_probability(sampler, ids, k)
    return jnp.maximum(count, jnp.finfo(jnp.float32).tiny)


def _expected_count_args(name, sampler, ids, num_samples, replace):
    _checks.instance(name, "sampler", sampler, Sampler, "a jaxns.samplers.Sampler")
    ids = _checks.int_array(name, "ids", ids)
    k = _checks.size(name, "num_samples", num_samples)
    if not _checks.flag(name, "replace", replace) and k > sampler.num_support:
        raise _checks.too_many(name, k, sampler.num_support, what=_SUPPORT)
    return ids, k


@jax.named_scope("jaxns.samplers.log_expected_count")
def log_expected_count(
    sampler: Sampler,
    ids: ArrayLike,
    num_samples: int,
    *,
    replace: bool = True,
) -> jax.Array:
    """Stable ``log(expected_count(...))``, clamped below at ``log(tiny)``.

    With replacement this is ``log(num_samples) + sampler.log_prob(ids)``,
    which does not underflow where the product would. See
    :func:`expected_count` for the semantics.

    Args:
      sampler: the :class:`Sampler` the ids were drawn from.
      ids: integer ids of any shape.
      num_samples: draws per row, a Python int.
      replace: the ``replace`` flag of the ``sample`` call.

    Returns:
      ``float32`` log expected counts with the shape of ``ids``, ``>= -87.34``.

    Raises:
      TypeError: for non-integer ids or a non-int ``num_samples``.
      ValueError: if ``num_samples < 0``, or ``replace=False`` with
        ``num_samples > num_support``.

    Examples:
      >>> import jaxns
      >>> s = jaxns.samplers.categorical([1.0, 0.0, 3.0])
      >>> lq = jaxns.samplers.log_expected_count(s, [0, 1, 2], 4)
      >>> [round(v, 3) for v in lq.tolist()]
      [0.0, -87.337, 1.099]

    References:
      Bengio and Senécal, `Adaptive Importance Sampling to Accelerate Training
      of a Neural Probabilistic Language Model
      <https://doi.org/10.1109/TNN.2007.912312>`_, 2008.
    """
    ids, k = _expected_count_args(
        "samplers.log_expected_count", sampler, ids, num_samples, replace
    )
    tiny = jnp.finfo(jnp.float32).tiny
    if replace:
        log_e = jnp.float32(math.log(k) if k else -jnp.inf) + sampler._log_prob(ids)
    else:
        log_e = jnp.log(_inclusion_probability(sampler, ids, k))
    return jnp.maximum(log_e, jnp.log(tiny))


class Candidates(NamedTuple):
    """Sampled candidates shared by a batch and their log expected counts.

    Attributes:
      ids: ``int32[num_samples]`` sampled class ids.
      pos_log_q: ``float32``, shape of the labels: log expected count of each
        label among the ``num_samples`` draws.
      neg_log_q: ``float32[num_samples]``: log expected count of each sampled
        id.
    """

    ids: jax.Array
    pos_log_q: jax.Array
    neg_log_q: jax.Array


@jax.named_scope("jaxns.samplers.sample_candidates")
def sample_candidates(
    key: ArrayLike,
    sampler: Sampler,
    num_samples: int,
    labels: ArrayLike,
    *,
    replace: bool = True,
) -> Candidates:
    """Draws candidates shared by a batch, with the log expected counts of logQ.

    TensorFlow's candidate samplers in one call: ``num_samples`` ids from
    ``sampler`` (with or without replacement) and the log expected counts of
    the labels and of the sampled ids (:func:`log_expected_count`:
    ``log(num_samples * q)`` with replacement, the inclusion probability
    without). Pass them to :func:`jaxns.losses.sampled_softmax` or
    :class:`jaxns.nn.SampledSoftmaxHead`. For per-example candidates draw
    ``sampler.sample(key, (batch, k))`` yourself.

    Args:
      key: a single typed key (``jax.random.key``).
      sampler: the proposal :class:`Sampler`.
      num_samples: number of candidates, a Python int ``>= 0`` (static under
        ``jit``); 0 gives empty ``ids`` and ``neg_log_q``.
      labels: integer ``[batch]`` or ``[batch, num_true]`` true classes.
      replace: whether candidates may repeat (TensorFlow's ``unique=True`` is
        ``replace=False``).

    Returns:
      :class:`Candidates` ``(ids [num_samples], pos_log_q [labels.shape],
      neg_log_q [num_samples])``.

    Raises:
      TypeError: for a key that is not a typed key, a non-Sampler, a non-int
        ``num_samples`` or non-integer labels.
      ValueError: for a key array, ``num_samples < 0`` or ``replace=False``
        with more samples than the sampler's support.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxns
      >>> sampler = jaxns.samplers.log_uniform(1000)
      >>> c = jaxns.samplers.sample_candidates(
      ...     jax.random.key(0), sampler, 16, jnp.array([3, 7]))
      >>> c.ids.shape, c.pos_log_q.shape, c.neg_log_q.shape
      ((16,), (2,), (16,))

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
    """
    fn = "samplers.sample_candidates"
    key = _checks.key(fn, key)
    _checks.instance(fn, "sampler", sampler, Sampler, "a jaxns.samplers.Sampler")
    num_samples = _checks.size(fn, "num_samples", num_samples)
    replace = _checks.flag(fn, "replace", replace)
    labels = _checks.int_array(fn, "labels", labels, ndim=(1, 2))
    if not replace and num_samples > sampler.num_support:
        raise _checks.too_many(fn, num_samples, sampler.num_support, what=_SUPPORT)
    ids = sampler.sample(key, (num_samples,), replace=replace)
    return Candidates(
        ids=ids,
        pos_log_q=log_expected_count(sampler, labels, num_samples, replace=replace),
        neg_log_q=log_expected_count(sampler, ids, num_samples, replace=replace),
    )


# --------------------------------------------------------------------------
# masks and hard negatives


@jax.named_scope("jaxns.samplers.accidental_hits")
def accidental_hits(true_ids: ArrayLike, sampled_ids: ArrayLike) -> jax.Array:
    """Marks sampled negatives that equal a true id of their row.

    Works for per-example negatives ``[batch, k]`` and negatives shared by the
    batch ``[k]``, with one true id per row ``[batch]`` or several
    ``[batch, num_true]``. Every copy of a duplicated sampled id is marked
    (TensorFlow's ``compute_accidental_hits`` reports only one). Use the result
    as a ``where=`` mask after negation: ``where=~hits``.

    Args:
      true_ids: integer ids ``[batch]`` or ``[batch, num_true]``.
      sampled_ids: integer ids ``[batch, k]`` (per example) or ``[k]`` (shared).

    Returns:
      ``bool[batch, k]``: True where ``sampled_ids`` equals any true id of the
      row (always 2-D, also for shared negatives).

    Raises:
      TypeError: if either argument is not an integer array.
      ValueError: on wrong ranks or mismatched batch sizes.

    Examples:
      >>> import jaxns
      >>> hits = jaxns.samplers.accidental_hits([[1, 2], [3, 3]], [2, 3, 2])
      >>> hits.astype(int).tolist()
      [[1, 0, 1], [0, 1, 0]]

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
    """
    name = "samplers.accidental_hits"
    true_ids = _checks.int_array(name, "true_ids", true_ids, ndim=(1, 2))
    sampled_ids = _checks.int_array(name, "sampled_ids", sampled_ids, ndim=(1, 2))
    true_2d = true_ids if true_ids.ndim == 2 else true_ids[:, None]
    batch = true_2d.shape[0]
    if sampled_ids.ndim == 2 and sampled_ids.shape[0] != batch:
        raise ValueError(
            f"{name}: sampled_ids batch size {sampled_ids.shape[0]} (shape "
            f"{sampled_ids.shape}) must equal true_ids batch size {batch} (shape "
            f"{true_ids.shape})."
        )
    sampled = jnp.broadcast_to(
        sampled_ids if sampled_ids.ndim == 2 else sampled_ids[None],
        (batch, sampled_ids.shape[-1]),
    )
    dtype = true_2d.dtype
    if sampled.dtype != dtype:  # ids are < 2**31: compare in the default int
        dtype = jax.dtypes.canonicalize_dtype(jnp.int64)
    equal = sampled.astype(dtype)[:, :, None] == true_2d.astype(dtype)[:, None, :]
    return jnp.any(equal, axis=-1)


def _sortable_keys(scores: jax.Array, where: jax.Array | None) -> jax.Array:
    # Map floats to signed integers with the same order, so top_k (stable:
    # lower index first on ties) also orders masked entries (lowest key) below
    # -inf and NaN (next lowest); -0.0 and +0.0 tie as in NumPy.
    if scores.dtype in (jnp.float16, jnp.bfloat16):
        scores = scores.astype(jnp.float32)
    int_dtype = jnp.int64 if scores.dtype == jnp.float64 else jnp.int32
    lowest = jnp.iinfo(int_dtype).min
    scores = jnp.where(scores == 0, jnp.zeros((), scores.dtype), scores)
    bits = jax.lax.bitcast_convert_type(scores, int_dtype)
    keys = jnp.where(bits < 0, bits ^ jnp.iinfo(int_dtype).max, bits)
    keys = jnp.where(jnp.isnan(scores), lowest + 1, keys)
    if where is not None:
        keys = jnp.where(where, keys, lowest)
    return keys


@jax.named_scope("jaxns.samplers.hard_negatives")
def hard_negatives(
    scores: ArrayLike,
    num_negatives: int,
    *,
    where: ArrayLike | None = None,
    return_mask: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Indices of the ``num_negatives`` highest-scoring candidates per row.

    Entries with ``where=False`` (e.g. the positives, or accidental hits) are
    skipped. Ties go to the lower index (deterministic); ``-0.0`` equals
    ``0.0``; NaN scores rank below ``-inf``. When a row has fewer than
    ``num_negatives`` unmasked entries, the remaining slots hold masked-out
    indices in increasing index order; ``return_mask=True`` also returns which
    slots are valid (``where`` at the chosen index).

    Args:
      scores: float scores ``[..., n]``; the candidate axis is last.
      num_negatives: ``k <= n``, a Python int (static under ``jit``).
      where: optional bool mask of the shape of ``scores``; True = candidate.
      return_mask: also return the validity mask of the chosen slots.

    Returns:
      ``int32[..., k]`` indices into the last axis, by decreasing score, or a
      tuple ``(indices, valid)`` with ``valid`` a ``bool[..., k]``.

    Raises:
      TypeError: if ``scores`` is not floating point, ``where`` not bool, or
        ``num_negatives`` not an int.
      ValueError: if ``num_negatives`` is negative or exceeds ``n``, or
        ``where`` has another shape.

    Examples:
      >>> import jaxns
      >>> scores = [[0.5, 2.0, 2.0, -1.0], [3.0, 1.0, 0.0, 1.0]]
      >>> mask = [[True, True, True, True], [False, True, True, True]]
      >>> jaxns.samplers.hard_negatives(scores, 2, where=mask).tolist()
      [[1, 2], [1, 3]]

    References:
      Robinson et al, `Contrastive Learning with Hard Negative Samples
      <https://arxiv.org/abs/2010.04592>`_, 2021.
    """
    name = "samplers.hard_negatives"
    scores = _checks.float_array(name, "scores", scores, ndim=range(1, 33))
    k = _checks.size(name, "num_negatives", num_negatives)
    n = scores.shape[-1]
    if k > n:
        raise ValueError(
            f"{name}: num_negatives={k} exceeds the number of candidates n={n} "
            f"(scores shape {scores.shape})."
        )
    where = _checks.mask(name, "where", where, scores.shape, of="scores")
    return_mask = _checks.flag(name, "return_mask", return_mask)
    if k == 0:
        indices = jnp.zeros((*scores.shape[:-1], 0), jnp.int32)
    else:
        indices = jax.lax.top_k(_sortable_keys(scores, where), k)[1].astype(jnp.int32)
    if not return_mask:
        return indices
    if where is None:
        return indices, jnp.ones(indices.shape, jnp.bool_)
    return indices, jnp.take_along_axis(where, indices, axis=-1)


# --------------------------------------------------------------------------
# knowledge-graph corruption


@jax.named_scope("jaxns.samplers.corrupt_triples")
def corrupt_triples(
    key: ArrayLike,
    triples: ArrayLike,
    num_entities: int,
    *,
    num_negatives: int,
    mode: str = "uniform",
    head_prob: ArrayLike | None = None,
) -> jax.Array:
    """Negative triples: replace the head or the tail, never by the original.

    Each negative copies its triple ``(head, relation, tail)`` and replaces
    exactly one of head and tail by a uniform entity among the other
    ``num_entities - 1`` (PyKEEN's shift trick: draw ``r`` from ``n - 1``
    values and add 1 if ``r >= original``). The head is replaced with
    probability 1/2 (``mode="uniform"``) or ``head_prob[relation]``
    (``mode="bernoulli"``, Wang et al. 2014; see :func:`bernoulli_head_prob`).
    Negatives may still be true triples (use a filter for that).

    Args:
      key: a single typed PRNG key.
      triples: integer triples ``[batch, 3]`` as (head, relation, tail).
      num_entities: number of entities ``n >= 2`` (Python int).
      num_negatives: negatives per triple (Python int, keyword-only).
      mode: ``"uniform"`` or ``"bernoulli"``.
      head_prob: ``float[num_relations]``, required for ``"bernoulli"`` and
        refused for ``"uniform"`` (which would ignore it).

    Returns:
      ``int32[batch, num_negatives, 3]`` corrupted triples.

    Raises:
      TypeError: for a non-typed key or non-integer triples.
      ValueError: for a key array, ``num_entities < 2``, a bad shape, an
        unknown mode, a missing ``head_prob`` with ``"bernoulli"``, one given
        with ``"uniform"``, or (concrete triples) entity ids outside
        ``[0, num_entities)`` or relation ids outside ``[0, len(head_prob))``
        with ``"bernoulli"``.

    .. warning:: Under ``jit`` the relation ids cannot be checked: with
       ``mode="bernoulli"`` an id below 0 reads ``head_prob[0]`` and one at or
       above ``len(head_prob)`` reads ``head_prob[-1]`` (the gather clamps).

    Examples:
      >>> import jax, jaxns
      >>> triples = jax.numpy.array([[0, 0, 1], [2, 1, 3]])
      >>> neg = jaxns.samplers.corrupt_triples(
      ...     jax.random.key(0), triples, 5, num_negatives=4)
      >>> neg.shape, bool(((neg != triples[:, None]).sum(-1) == 1).all())
      ((2, 4, 3), True)

    References:
      Bordes et al, `Translating Embeddings for Modeling Multi-relational Data
      <https://papers.nips.cc/paper/5071>`_, 2013.
      Wang et al, `Knowledge Graph Embedding by Translating on Hyperplanes
      <https://doi.org/10.1609/aaai.v28i1.8870>`_, 2014.
    """
    name = "samplers.corrupt_triples"
    key = _checks.key(name, key)
    triples = _checks.int_array(name, "triples", triples, ("batch", 3))
    n = _checks.size(
        name, "num_entities", num_entities, minimum=2, maximum=_MAX_CLASSES
    )
    k = _checks.size(name, "num_negatives", num_negatives)
    mode = _checks.choice(name, "mode", mode, ("uniform", "bernoulli"))
    if mode == "bernoulli" and head_prob is None:
        raise ValueError(
            f"{name}: mode='bernoulli' needs head_prob [num_relations], got None. "
            "Compute it with jaxns.samplers.bernoulli_head_prob(triples, ...)."
        )
    if mode == "uniform" and head_prob is not None:
        raise ValueError(
            f"{name}: head_prob is only used with mode='bernoulli' (mode='uniform' "
            "corrupts the head with probability 1/2); pass mode='bernoulli' or "
            "drop head_prob."
        )
    if mode == "bernoulli":
        head_prob = _checks.float_array(name, "head_prob", head_prob, ndim=1)
        # The gather below clamps; concrete (eager) relation ids are checked.
        _checks.values_in_range(
            name,
            "triples[:, 1]",
            triples[:, 1],
            0,
            head_prob.shape[0],
            what="relation ids (indices into head_prob)",
        )
    # A corrupted entity is drawn among the others of [0, n): a head or tail
    # outside it would be kept in the negatives as it is.
    for column, arg in ((0, "triples[:, 0]"), (2, "triples[:, 2]")):
        _checks.values_in_range(name, arg, triples[:, column], 0, n, what="entity ids")
    triples = triples.astype(jnp.int32)
    batch = triples.shape[0]
    shape = (batch, k)
    key_side, key_entity = jax.random.split(key)
    if mode == "uniform":
        p_head = jnp.full((batch, 1), 0.5, jnp.float32)
    else:
        head_prob = head_prob.astype(jnp.float32)
        p_head = jnp.take(head_prob, triples[:, 1], mode="clip")[:, None]
    # float32 as p_head (and the same draws with x64 on: a float64 coin would
    # differ, and meet p_head's float32 under strict promotion).
    corrupt_head = jax.random.uniform(key_side, shape, jnp.float32) < p_head
    heads = jnp.broadcast_to(triples[:, :1], shape)
    tails = jnp.broadcast_to(triples[:, 2:], shape)
    original = jnp.where(corrupt_head, heads, tails)
    r = jax.random.randint(key_entity, shape, 0, n - 1, jnp.int32)
    replacement = r + (r >= original).astype(jnp.int32)
    return jnp.stack(
        [
            jnp.where(corrupt_head, replacement, heads),
            jnp.broadcast_to(triples[:, 1:2], shape),
            jnp.where(corrupt_head, tails, replacement),
        ],
        axis=-1,
    )


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D integer array, sorted: a sort and a mask
    of repeats (``np.unique`` of integers hashes in NumPy 2: 25x slower here
    on 3M keys, and ``np.unique(axis=0)`` of rows sorts them as bytes)."""
    keys = np.sort(keys)
    keep = np.ones(len(keys), bool)
    keep[1:] = keys[1:] != keys[:-1]
    return keys[keep]


def _distinct_pairs(group: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``group`` of each distinct ``(group, other)`` pair (host side), through
    one int64 key per pair; rows when the key could overflow."""
    group, other = group.astype(np.int64), other.astype(np.int64)
    if not len(group):
        return group
    low = int(other.min())
    span = int(other.max()) - low + 1
    if (int(np.abs(group).max()) + 1) * span >= 2**62:
        return np.unique(np.stack([group, other], 1), axis=0)[:, 0]
    return np.floor_divide(_sorted_unique(group * span + (other - low)), span)


@jax.named_scope("jaxns.samplers.bernoulli_head_prob")
def bernoulli_head_prob(triples: ArrayLike, num_relations: int) -> jax.Array:
    """Per-relation probability of corrupting the head, ``tph / (tph + hpt)``.

    ``tph`` is the mean number of tails per (head, relation) pair and ``hpt``
    the mean number of heads per (relation, tail) pair (Wang et al. 2014):
    one-to-many relations corrupt the head more often, which makes false
    negatives rarer. Computed once on the host from concrete triples
    (NumPy); relations without triples get 0.5.

    Args:
      triples: concrete integer triples ``[num_triples, 3]``.
      num_relations: number of relations (Python int).

    Returns:
      ``float32[num_relations]`` head-corruption probabilities.

    Raises:
      TypeError: if ``triples`` is traced or not integer.
      ValueError: on a bad shape or relation ids outside ``[0, num_relations)``.

    Examples:
      >>> import jaxns
      >>> triples = [[0, 0, 1], [0, 0, 2], [0, 0, 3], [4, 1, 5]]
      >>> p = jaxns.samplers.bernoulli_head_prob(triples, 2)
      >>> [round(v, 3) for v in p.tolist()]
      [0.75, 0.5]

    References:
      Wang et al, `Knowledge Graph Embedding by Translating on Hyperplanes
      <https://doi.org/10.1609/aaai.v28i1.8870>`_, 2014.
    """
    name = "samplers.bernoulli_head_prob"
    _checks.concrete(name, "triples", triples, why="host-side statistics")
    t = np.asarray(_checks.int_array(name, "triples", triples, ("num_triples", 3)))
    r = _checks.size(name, "num_relations", num_relations, minimum=1)
    if t.size and (t[:, 1].min() < 0 or t[:, 1].max() >= r):
        raise ValueError(
            f"{name}: relation ids (triples[:, 1]) must lie in [0, {r}), got "
            f"[{t[:, 1].min()}, {t[:, 1].max()}]."
        )
    count = np.bincount(t[:, 1], minlength=r).astype(np.float64)
    heads = np.bincount(_distinct_pairs(t[:, 1], t[:, 0]), minlength=r)
    tails = np.bincount(_distinct_pairs(t[:, 1], t[:, 2]), minlength=r)
    with np.errstate(invalid="ignore", divide="ignore"):
        tph = count / heads
        hpt = count / tails
        p = np.where(count > 0, tph / (tph + hpt), 0.5)
    return jnp.asarray(p, jnp.float32)
