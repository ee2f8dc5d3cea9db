# SPDX-License-Identifier: Apache-2.0
"""Intrinsic evaluation of word vectors: similarity, analogies, neighbours.

Word vectors are given as a matrix ``vectors`` of shape ``[vocab_size, dim]``
and the list ``words`` of its row labels (row ``i`` is ``words[i]``), rows in
decreasing frequency order, as :mod:`jaxns.text` builds them and as the
word2vec format stores them (:mod:`jaxns.wordvectors`). The evaluations
reproduce gensim's ``KeyedVectors`` semantics (``evaluate_word_pairs``,
``evaluate_word_analogies``, ``most_similar``) so that scores are comparable
with gensim-trained vectors, while the heavy part (cosine scores against the
whole vocabulary) runs as batched JAX matmuls.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "AnalogyResult",
    "SectionScore",
    "SimilarityResult",
    "analogy",
    "nearest_neighbors",
    "spearman",
    "word_similarity",
]


class SimilarityResult(NamedTuple):
    """Result of :func:`word_similarity`.

    Attributes:
      spearman: Spearman rank correlation between the human scores and the
        cosine similarities of the pairs found in the vocabulary.
      pearson: Pearson correlation of the same.
      num_pairs: pairs evaluated (both words in the vocabulary, or any pair
        when ``oov_vector`` scored the unknown words).
      num_oov: pairs with a word out of the vocabulary (skipped, or scored
        with ``oov_vector``).
      oov_scored: True when the ``num_oov`` pairs were scored with
        ``oov_vector`` and so are counted in ``num_pairs`` too.
    """

    spearman: float
    pearson: float
    num_pairs: int
    num_oov: int
    oov_scored: bool = False

    @property
    def oov_ratio(self) -> float:
        """Fraction of all pairs with a word out of the vocabulary, in ``[0, 1]``.

        gensim's ``evaluate_word_pairs`` reports the same ratio as a
        percentage (``100 * oov_ratio``), also with ``dummy4unknown=True``.
        """
        total = self.num_pairs if self.oov_scored else self.num_pairs + self.num_oov
        return self.num_oov / total if total else 0.0


class SectionScore(NamedTuple):
    """Analogy accuracy of one section (questions with OOV words excluded)."""

    correct: int
    total: int
    skipped: int

    @property
    def accuracy(self) -> float:
        """``correct / total``, 0.0 when no question was evaluated."""
        return self.correct / self.total if self.total else 0.0


class AnalogyResult(NamedTuple):
    """Result of :func:`analogy`.

    Attributes:
      accuracy: ``correct / total`` over all sections (0.0 if ``total == 0``).
      correct: questions answered correctly.
      total: questions evaluated (all four words in the restricted vocabulary).
      skipped: questions skipped because a word is out of the restricted
        vocabulary.
      per_section: section name -> :class:`SectionScore`, in input order.
    """

    accuracy: float
    correct: int
    total: int
    skipped: int
    per_section: dict[str, SectionScore]


def _compute_dtype(*dtypes: np.dtype) -> np.dtype:
    """The widest floating dtype among ``dtypes``, at least float32."""
    floats = [np.dtype(d) for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    widest = max(floats, key=lambda d: d.itemsize, default=np.dtype(np.float32))
    return widest if widest.itemsize >= 4 else np.dtype(np.float32)


def _unit_rows(vectors: jax.Array) -> jax.Array:
    """Rows scaled to unit L2 norm (computed in at least float32)."""
    vectors = vectors.astype(_compute_dtype(vectors.dtype))
    norms = jnp.linalg.norm(vectors, axis=-1, keepdims=True)
    # A zero row stays zero (cosine 0 with everything) instead of NaN.
    return vectors / jnp.where(norms > 0, norms, jnp.ones_like(norms))


def _lookup_table(
    words: Sequence[str], limit: int | None, case_insensitive: bool
) -> dict[str, int]:
    """Word -> row over the first ``limit`` rows; the most frequent wins.

    As gensim: with ``case_insensitive`` the keys are case-folded and, among
    words that fold to the same key, the earliest (most frequent) row is used.
    """
    head = words if limit is None else words[:limit]
    table: dict[str, int] = {}
    for index, word in enumerate(head):
        key = word.upper() if case_insensitive else word
        table.setdefault(key, index)
    return table


def _average_ranks(values: jax.Array) -> jax.Array:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    ordered = jnp.sort(values)
    below = jnp.searchsorted(ordered, values, side="left")
    upto = jnp.searchsorted(ordered, values, side="right")
    return (below + upto + 1).astype(values.dtype) / 2


def _pearson(x: jax.Array, y: jax.Array) -> jax.Array:
    xc = x - jnp.mean(x)
    yc = y - jnp.mean(y)
    return jnp.sum(xc * yc) / jnp.sqrt(jnp.sum(xc * xc) * jnp.sum(yc * yc))


def spearman(x: ArrayLike, y: ArrayLike) -> jax.Array:
    """Spearman's rank correlation coefficient, with average ranks for ties.

    The Pearson correlation of the ranks of ``x`` and of ``y``, where tied
    values share the average of the ranks they occupy (as
    ``scipy.stats.spearmanr``):

    .. math::
        \\rho = \\frac{\\operatorname{cov}(R(x), R(y))}{\\sigma_{R(x)} \\sigma_{R(y)}}

    Jittable; computed in at least float32. NaN when either input is constant
    (zero rank variance) or has fewer than two elements, or holds a NaN (as
    ``scipy.stats.spearmanr``'s default ``nan_policy="propagate"``; filter
    NaN first to rank the rest).

    Args:
      x: ``[n]`` real values.
      y: ``[n]`` real values.

    Returns:
      ``[]`` the correlation in ``[-1, 1]``, dtype ``promote(x, y, float32)``.

    Raises:
      ValueError: ``x`` or ``y`` is not 1-D, or their lengths differ.
      TypeError: complex or boolean input.

    Examples:
      >>> import jaxns
      >>> round(float(jaxns.evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 45])), 6)
      1.0
      >>> round(float(jaxns.evaluation.spearman([1, 2, 2, 3], [3, 1, 2, 0])), 6)
      -0.948683

    References:
      Spearman, `The Proof and Measurement of Association between Two Things
      <https://doi.org/10.2307/1412159>`_, 1904.
    """
    fn = "evaluation.spearman"
    x = _checks.real_array(fn, "x", x, ndim=1)
    y = _checks.real_array(fn, "y", y, ndim=1)
    _checks.same_shape(fn, "x", x, "y", y)
    with jax.named_scope("jaxns.evaluation.spearman"):
        dtype = _compute_dtype(x.dtype, y.dtype)
        x, y = x.astype(dtype), y.astype(dtype)
        rho = _pearson(_average_ranks(x), _average_ranks(y))
        # A NaN has no rank: the sort put it last and gave a finite answer.
        missing = jnp.any(jnp.isnan(x)) | jnp.any(jnp.isnan(y))
        return jnp.where(missing, jnp.nan, rho)


def word_similarity(
    vectors: ArrayLike,
    words: Sequence[str],
    pairs: Sequence[tuple[str, str, float]],
    *,
    restrict_vocab: int | None = 300_000,
    case_insensitive: bool = True,
    oov_vector: Callable[[str], ArrayLike] | None = None,
) -> SimilarityResult:
    """Correlate cosine similarities of word pairs with human judgements.

    For every ``(word1, word2, score)`` whose two words are among the
    ``restrict_vocab`` most frequent rows, computes the cosine similarity of
    their vectors, then Spearman's rank correlation (the standard figure) and
    Pearson's correlation with the human scores. Pairs with an unknown word
    are skipped and counted. This is gensim's
    ``KeyedVectors.evaluate_word_pairs`` with ``dummy4unknown=False``
    (including its case folding: the most frequent of several case variants
    is used).

    Args:
      vectors: ``[vocab_size, dim]`` word vectors, rows in decreasing
        frequency.
      words: ``[vocab_size]`` the word of each row.
      pairs: ``(word1, word2, score)`` triples, e.g. from
        :func:`jaxns.datasets.load_similarity`.
      restrict_vocab: only the first ``restrict_vocab`` rows are looked up
        (``None``: all), as gensim (default 300,000).
      case_insensitive: match words ignoring case (``str.upper``, as gensim).
      oov_vector: for subword models, a function giving the vector of any
        word (e.g. :class:`jaxns.wordvectors.SubwordVectors`'s
        ``__getitem__``). Pairs with a word outside the restricted
        vocabulary are then scored with it instead of skipped (the word as
        written in the pair), ``num_oov`` counts those pairs and the
        result's ``oov_scored`` is True. Evaluate once without and once with
        it to report both "pairs in vocabulary" and "all pairs".

    Returns:
      A :class:`SimilarityResult` (Python floats and ints). Correlations are
      NaN when fewer than two pairs are in the vocabulary, or when a pair's
      cosine is NaN (a NaN vector), as gensim's (SciPy's) are.

    Raises:
      ValueError: ``vectors`` is not 2-D or ``len(words)`` differs from its
        rows, or ``restrict_vocab`` is not positive.
      TypeError: non-floating ``vectors``.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> words = ["cat", "dog", "car", "truck"]
      >>> vectors = np.array([[1, 0.1], [0.9, 0.2], [0, 1], [0.1, 0.9]])
      >>> pairs = [("cat", "dog", 8.0), ("car", "truck", 9.0),
      ...          ("cat", "car", 1.0), ("dog", "moon", 2.0)]
      >>> result = jaxns.evaluation.word_similarity(vectors, words, pairs)
      >>> round(result.spearman, 3), result.num_pairs, result.num_oov
      (1.0, 3, 1)

    References:
      Finkelstein et al, `Placing Search in Context: The Concept Revisited
      <https://doi.org/10.1145/503104.503110>`_, 2002.

      Hill et al, `SimLex-999: Evaluating Semantic Models with (Genuine)
      Similarity Estimation <https://arxiv.org/abs/1408.3456>`_, 2015.
    """
    fn = "evaluation.word_similarity"
    array, words = _checks.labelled_rows(fn, "vectors", vectors, "words", words)
    restrict_vocab = _checks.optional_size(
        fn, "restrict_vocab", restrict_vocab, minimum=1
    )
    case_insensitive = _checks.flag(fn, "case_insensitive", case_insensitive)
    if oov_vector is not None and not callable(oov_vector):
        raise TypeError(
            f"{fn}: oov_vector must be a function of a word, got "
            f"{type(oov_vector).__name__}"
        )
    with jax.named_scope("jaxns.evaluation.word_similarity"):
        table = _lookup_table(words, restrict_vocab, case_insensitive)
        fold = str.upper if case_insensitive else str
        left, right, gold = [], [], []
        extra: dict[str, int] = {}  # out-of-vocabulary word -> row after the table
        num_oov = 0
        for pair in pairs:
            if len(pair) != 3:
                raise ValueError(
                    f"{fn}: pairs must hold (word1, word2, score) triples, got "
                    f"{pair!r}."
                )
            a, b, score = pair
            index_a = table.get(fold(a))
            index_b = table.get(fold(b))
            if index_a is None or index_b is None:
                num_oov += 1
                if oov_vector is None:
                    continue
                if index_a is None:
                    index_a = array.shape[0] + extra.setdefault(a, len(extra))
                if index_b is None:
                    index_b = array.shape[0] + extra.setdefault(b, len(extra))
            left.append(index_a)
            right.append(index_b)
            gold.append(float(score))
        scored = oov_vector is not None
        if len(gold) < 2:
            return SimilarityResult(math.nan, math.nan, len(gold), num_oov, scored)
        if extra:
            rows = np.stack([np.asarray(oov_vector(w)) for w in extra])
            array = jnp.concatenate([array, jnp.asarray(rows, array.dtype)])
        unit = _unit_rows(array)
        cosines = jnp.sum(unit[jnp.asarray(left)] * unit[jnp.asarray(right)], axis=-1)
        human = jnp.asarray(gold, dtype=cosines.dtype)
        return SimilarityResult(
            spearman=float(spearman(human, cosines)),
            pearson=float(_pearson(human, cosines)),
            num_pairs=len(gold),
            num_oov=num_oov,
            oov_scored=scored,
        )


@functools.partial(jax.jit, static_argnames=("num_candidates",))
def _analogy_batch(
    unit: jax.Array, canonical: jax.Array, questions: jax.Array, num_candidates: int
) -> jax.Array:
    """3CosAdd predictions (canonical rows) for ``[batch, 4]`` questions.

    The best ``num_candidates`` rows by cosine are taken with ``top_k`` (much
    faster than a masked ``argmax`` over ``[batch, vocab]`` on CPU) and the
    first one that is not a question word or a case variant of one is the
    prediction; ``num_candidates`` exceeds the number of excluded rows.
    Returns -1 when every candidate is excluded (tiny vocabularies). A NaN
    score (a NaN vector) ranks last, as in NumPy's sort (gensim); ``top_k``
    ranked it first, so a NaN row answered every question. A question whose
    own words' vectors are NaN gets -1.
    """
    a, b, c = questions[:, 0], questions[:, 1], questions[:, 2]
    target = unit[b] - unit[a] + unit[c]
    scores = target @ unit.T  # [batch, restrict_vocab]
    scores = jnp.where(jnp.isnan(scores), -jnp.inf, scores)
    best, top = jax.lax.top_k(scores, num_candidates)  # [batch, num_candidates]
    top = canonical[top]
    allowed = (top != a[:, None]) & (top != b[:, None]) & (top != c[:, None])
    allowed &= best > -jnp.inf  # cosines are finite: -inf was NaN
    first = jnp.argmax(allowed, axis=-1)
    predicted = jnp.take_along_axis(top, first[:, None], axis=-1)[:, 0]
    return jnp.where(jnp.any(allowed, axis=-1), predicted, -1)


def analogy(
    vectors: ArrayLike,
    words: Sequence[str],
    questions: Mapping[str, Sequence[tuple[str, str, str, str]]]
    | Sequence[tuple[str, str, str, str]],
    *,
    restrict_vocab: int | None = 300_000,
    case_insensitive: bool = True,
    batch_size: int = 256,
) -> AnalogyResult:
    """Accuracy on analogy questions ``a : b :: c : d`` by 3CosAdd.

    For each question whose four words are among the ``restrict_vocab`` most
    frequent rows, the prediction is the word ``w`` of those rows, other than
    ``a``, ``b`` and ``c``, that maximises

    .. math::
        \\cos(w, b - a + c) \\quad\\text{with unit vectors } a, b, c, w,

    and the question is correct if ``w == d``. Questions with a word outside
    the restricted vocabulary are skipped and counted. This reproduces
    gensim's ``KeyedVectors.evaluate_word_analogies`` (same restriction, same
    case folding with the most frequent case variant, the question words and
    their case variants excluded), except that gensim only inspects its top 5
    candidates: when all 5 are case variants of the question words gensim
    counts the question wrong, here the next candidate is taken. A word with
    a NaN vector is never the prediction (NaN ranks last, as in gensim); a
    question with a NaN vector among its own words is counted wrong.

    The scores are computed in batches as one jitted ``[batch, dim] x [dim,
    restrict_vocab]`` matmul and a small ``top_k`` each (the last batch is
    padded, so only one shape is compiled); the Google set against 30,000
    words takes about a second on a laptop CPU, and the cost grows linearly
    with the restricted vocabulary.

    Args:
      vectors: ``[vocab_size, dim]`` word vectors, rows in decreasing
        frequency.
      words: ``[vocab_size]`` the word of each row.
      questions: section name -> list of ``(a, b, c, d)`` (as returned by
        :func:`jaxns.datasets.load_analogies`), or a plain list of
        questions (reported as one section named ``"questions"``).
      restrict_vocab: candidates and question words are limited to the
        first ``restrict_vocab`` rows (``None``: all); 300,000 as
        gensim's ``evaluate_word_analogies`` (its older ``accuracy()``
        used 30,000).
      case_insensitive: match words ignoring case (``str.upper``, as gensim).
      batch_size: questions per matmul; positive.

    Returns:
      An :class:`AnalogyResult` with overall and per-section counts.

    Raises:
      ValueError: bad shapes (see :func:`word_similarity`), a question that
        is not four words, non-positive ``restrict_vocab`` or
        ``batch_size``.
      TypeError: non-floating ``vectors``.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> words = ["man", "woman", "king", "queen", "apple"]
      >>> vectors = np.array([[1.0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1],
      ...                     [-1, 0, 0]])
      >>> questions = {"royal": [("man", "woman", "king", "queen"),
      ...                        ("man", "woman", "king", "pear")]}
      >>> result = jaxns.evaluation.analogy(vectors, words, questions)
      >>> result.accuracy, result.correct, result.total, result.skipped
      (1.0, 1, 1, 1)

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013.

      Levy and Goldberg, `Linguistic Regularities in Sparse and Explicit Word
      Representations <https://aclanthology.org/W14-1618/>`_, 2014 (3CosAdd).
    """
    fn = "evaluation.analogy"
    array, words = _checks.labelled_rows(fn, "vectors", vectors, "words", words)
    restrict_vocab = _checks.optional_size(
        fn, "restrict_vocab", restrict_vocab, minimum=1
    )
    case_insensitive = _checks.flag(fn, "case_insensitive", case_insensitive)
    batch_size = _checks.size(fn, "batch_size", batch_size, minimum=1)
    if not isinstance(questions, Mapping):
        questions = {"questions": list(questions)}
    with jax.named_scope("jaxns.evaluation.analogy"):
        limit = (
            len(words) if restrict_vocab is None else min(restrict_vocab, len(words))
        )
        table = _lookup_table(words, limit, case_insensitive)
        fold = str.upper if case_insensitive else str
        canonical = np.array(
            [table[fold(word)] for word in words[:limit]], dtype=np.int32
        )
        # Rows excluded per question: at most 3 x the largest case-variant family.
        num_candidates = min(3 * int(np.bincount(canonical).max()) + 1, limit)

        rows: list[tuple[int, int, int, int]] = []
        owner: list[str] = []
        skipped: dict[str, int] = {}
        for name, section in questions.items():
            skipped[name] = 0
            for question in section:
                if len(question) != 4:
                    raise ValueError(
                        f"{fn}: section {name!r}: a question must be four words "
                        f"(a, b, c, d), got {question!r}."
                    )
                ids = [table.get(fold(word)) for word in question]
                if any(index is None for index in ids):
                    skipped[name] += 1
                    continue
                rows.append((ids[0], ids[1], ids[2], ids[3]))  # type: ignore[arg-type]
                owner.append(name)

        hits = np.zeros(len(rows), dtype=bool)
        if rows:
            unit = _unit_rows(array[:limit])
            canonical_dev = jnp.asarray(canonical)
            all_rows = np.asarray(rows, dtype=np.int32)
            for start in range(0, len(rows), batch_size):
                batch = all_rows[start : start + batch_size]
                size = len(batch)
                if size < batch_size:
                    batch = np.concatenate(
                        [batch, np.zeros((batch_size - size, 4), dtype=np.int32)]
                    )
                predicted = np.asarray(
                    _analogy_batch(unit, canonical_dev, batch, num_candidates)
                )
                hits[start : start + size] = predicted[:size] == batch[:size, 3]

        per_section: dict[str, SectionScore] = {}
        owners = np.asarray(owner, dtype=object)
        for name in questions:
            mask = owners == name
            per_section[name] = SectionScore(
                correct=int(hits[mask].sum()),
                total=int(mask.sum()),
                skipped=skipped[name],
            )
        correct = int(hits.sum())
        total = len(rows)
        return AnalogyResult(
            accuracy=correct / total if total else 0.0,
            correct=correct,
            total=total,
            skipped=sum(skipped.values()),
            per_section=per_section,
        )


def nearest_neighbors(
    vectors: ArrayLike,
    words: Sequence[str],
    query_words: Sequence[str],
    *,
    k: int = 10,
) -> list[list[tuple[str, float]]]:
    """The ``k`` words with the highest cosine similarity to each query word.

    The query word itself is excluded (as gensim's ``most_similar``); words
    are matched exactly (case-sensitive). Ties are broken towards the more
    frequent (lower) row. Rows with NaN cosines (NaN vectors) rank last, as
    in gensim, and keep their NaN.

    Args:
      vectors: ``[vocab_size, dim]`` word vectors.
      words: ``[vocab_size]`` the word of each row.
      query_words: the words to look up.
      k: neighbours per query, ``1 <= k < vocab_size``.

    Returns:
      One list per query of ``k`` pairs ``(word, cosine)``, most similar
      first; cosines as Python floats.

    Raises:
      KeyError: a query word is not in ``words`` (all missing ones named).
      ValueError: ``k`` out of range, or bad shapes.
      TypeError: ``query_words`` is a single str.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> words = ["cat", "dog", "car", "truck"]
      >>> vectors = np.array([[1, 0.1], [0.9, 0.2], [0, 1], [0.1, 0.9]])
      >>> result = jaxns.evaluation.nearest_neighbors(vectors, words, ["cat"], k=2)
      >>> [(word, round(score, 3)) for word, score in result[0]]
      [('dog', 0.993), ('truck', 0.209)]

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013.
    """
    fn = "evaluation.nearest_neighbors"
    array, words = _checks.labelled_rows(fn, "vectors", vectors, "words", words)
    query_words = _checks.strings(fn, "query_words", query_words)
    k = _checks.size(fn, "k", k, minimum=1, maximum=len(words) - 1)
    with jax.named_scope("jaxns.evaluation.nearest_neighbors"):
        index = {}
        for row, word in enumerate(words):
            index.setdefault(word, row)
        missing = [word for word in query_words if word not in index]
        if missing:
            raise KeyError(f"{fn}: words not in the vocabulary: {missing}")
        if not query_words:
            return []
        unit = _unit_rows(array)
        query = jnp.asarray([index[word] for word in query_words], dtype=jnp.int32)
        scores = unit[query] @ unit.T
        columns = jnp.arange(unit.shape[0], dtype=jnp.int32)
        scores = jnp.where(columns[None, :] == query[:, None], -jnp.inf, scores)
        # NaN cosines (NaN vectors) rank after every cosine, as in NumPy's sort
        # (gensim), but before the query itself (-inf), and are reported as
        # NaN; top_k ranked them first.
        lowest = jnp.finfo(scores.dtype).min
        rank = jnp.where(jnp.isnan(scores), lowest, scores)
        _, top_ids = jax.lax.top_k(rank, k)
        top_scores = jnp.take_along_axis(scores, top_ids, axis=1)
        top_scores = np.asarray(top_scores).tolist()
        top_ids = np.asarray(top_ids).tolist()
        return [
            [(words[i], float(s)) for i, s in zip(ids, vals, strict=True)]
            for ids, vals in zip(top_ids, top_scores, strict=True)
        ]
