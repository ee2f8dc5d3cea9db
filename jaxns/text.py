# SPDX-License-Identifier: Apache-2.0
"""The word2vec data pipeline: vocabulary, subsampling, dynamic windows, pairs.

The host side (:class:`Vocabulary`) turns sentences of strings into a flat
``int32`` token stream plus a parallel stream of sentence ids. Everything after
that runs inside XLA with static shapes and explicit keys: :func:`subsample`
drops frequent words with word2vec's keep probability and compacts the stream,
and :func:`skipgram_pairs` turns a block of tokens into centre/context pairs
with word2vec's dynamic window, never crossing a sentence boundary or padding.

Padding is marked by the token id ``-1`` everywhere in this module.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "EncodedCorpus",
    "Vocabulary",
    "encode_corpus",
    "keep_probability",
    "skipgram_pairs",
    "subsample",
    "window_offsets",
]

PAD = -1


class EncodedCorpus(NamedTuple):
    """A corpus as flat id streams (the output of :meth:`Vocabulary.encode`).

    Attributes:
      ids: ``int32 [num_tokens]`` in-vocabulary token ids, sentence after
        sentence (out-of-vocabulary words are dropped, as word2vec does).
      sentence_ids: ``int32 [num_tokens]`` index of the sentence of each token.
      num_raw_words: number of words before dropping unknown ones (what
        word2vec and gensim count for the learning-rate decay and words/s).
      num_sentences: number of sentences read, also those left empty once
        unknown words are dropped; every ``sentence_ids`` value is below it.
    """

    ids: np.ndarray
    sentence_ids: np.ndarray
    num_raw_words: int
    num_sentences: int


@dataclasses.dataclass(frozen=True, eq=False)
class Vocabulary:
    """Words with their counts, ids sorted by decreasing frequency.

    Ties in frequency keep the order of first appearance, so a vocabulary is a
    deterministic function of its corpus. Id ``i`` is row ``i`` of every
    embedding table trained on it.

    Attributes:
      words: the words, most frequent first.
      counts: ``int64 [len(words)]`` corpus counts of ``words``.
    """

    words: tuple[str, ...]
    counts: np.ndarray
    _index: dict[str, int] = dataclasses.field(repr=False, compare=False)

    def __init__(self, words: Sequence[str], counts: ArrayLike):
        fn = "text.Vocabulary"
        words = tuple(_checks.strings(fn, "words", words, unique=True))
        counts = _checks.counts(fn, "counts", counts, len(words))
        index = {w: i for i, w in enumerate(words)}
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "_index", index)

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        *,
        min_count: int = 5,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Counts the words of a corpus and keeps those seen ``min_count`` times.

        Args:
          sentences: an iterable of sentences, each a sequence of words.
          min_count: words seen fewer times are dropped (gensim's default 5).
          max_size: keep at most this many of the most frequent words.

        Returns:
          The :class:`Vocabulary`, most frequent word first.

        Raises:
          TypeError: if ``min_count`` or ``max_size`` is not an int, or
            ``sentences`` is a str or its first sentence is (a sentence is a
            sequence of words: split lines into words first).
          ValueError: if ``min_count < 1``, ``max_size < 1``, the corpus is
            empty, or no word reaches ``min_count``.

        Examples:
          >>> import jaxns
          >>> vocab = jaxns.text.Vocabulary.build(
          ...     [["a", "b", "a"], ["c", "a", "b"]], min_count=2)
          >>> vocab.words, vocab.counts.tolist()
          (('a', 'b'), [3, 2])

        References:
          Mikolov et al, `Distributed Representations of Words and Phrases and
          their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
        """
        fn = "text.Vocabulary.build"
        min_count, max_size = _vocabulary_options(fn, min_count, max_size)
        sentences = _tokenized(fn, sentences)
        counter = collections.Counter(itertools.chain.from_iterable(sentences))
        if not counter:
            raise ValueError(f"{fn}: the corpus is empty (no words).")
        # Counter preserves first-appearance order; a stable sort keeps it for ties.
        items = sorted(
            ((w, c) for w, c in counter.items() if c >= min_count),
            key=lambda wc: -wc[1],
        )
        if not items:
            raise ValueError(
                f"{fn}: no word occurs at least min_count={min_count} times (the "
                f"most frequent occurs {max(counter.values())} times). Lower "
                "min_count."
            )
        if max_size is not None:
            items = items[:max_size]
        words, counts = zip(*items, strict=True)
        return cls(words, np.asarray(counts, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def index(self, word: str) -> int:
        """The id of ``word``: its row in every table trained on the vocabulary.

        Args:
          word: a word of the vocabulary.

        Returns:
          Its id, an int in ``[0, len(self))``.

        Raises:
          KeyError: if ``word`` is not in the vocabulary.

        Examples:
          >>> import jaxns
          >>> jaxns.text.Vocabulary(["a", "b"], [3, 2]).index("b")
          1
        """
        return self._index[word]

    def encode(self, sentences: Iterable[Sequence[str]]) -> EncodedCorpus:
        """Turns sentences into flat id and sentence-id streams.

        Unknown words are dropped before any window is formed, as in
        word2vec.c and gensim, so windows reach past them.

        Args:
          sentences: an iterable of sentences, each a sequence of words.

        Returns:
          An :class:`EncodedCorpus` with ``ids`` and ``sentence_ids`` of shape
          ``[num_tokens]`` (``int32``) and the raw word count.

        Raises:
          TypeError: if ``sentences`` is a str or its first sentence is.

        Examples:
          >>> import jaxns
          >>> vocab = jaxns.text.Vocabulary(["a", "b"], [3, 2])
          >>> enc = vocab.encode([["a", "x", "b"], ["b"]])
          >>> enc.ids.tolist(), enc.sentence_ids.tolist(), enc.num_raw_words
          ([0, 1, 1], [0, 0, 1], 4)
          >>> enc.num_sentences
          2
        """
        sentences = _tokenized("text.Vocabulary.encode", sentences)
        if not isinstance(sentences, Sequence):
            sentences = list(sentences)  # read twice below
        # The loops run in C (map, chain, np.fromiter); unknown words get -1.
        lengths = np.fromiter(map(len, sentences), np.int64, len(sentences))
        raw = int(lengths.sum())
        ids = np.fromiter(
            map(self._index.get, itertools.chain.from_iterable(sentences),
                itertools.repeat(-1)),
            np.int32,
            raw,
        )  # fmt: skip
        sent = np.repeat(np.arange(len(sentences), dtype=np.int32), lengths)
        known = ids >= 0
        return EncodedCorpus(ids[known], sent[known], raw, len(sentences))

    def save(self, path: str | os.PathLike) -> None:
        """Writes ``word count`` lines, most frequent first (plain UTF-8 text).

        Args:
          path: the file to write.

        Returns:
          None.

        Examples:
          >>> import jaxns, tempfile, os
          >>> vocab = jaxns.text.Vocabulary(["a", "b"], [3, 2])
          >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
          >>> vocab.save(path)
          >>> jaxns.text.Vocabulary.load(path).words
          ('a', 'b')

        Raises:
          ValueError: if a word is empty or holds whitespace (the file
            separates fields by whitespace, so it could not be read back).

        References:
          Mikolov et al, word2vec.c ``-save-vocab`` format, 2013.
        """
        _checks.strings("text.Vocabulary.save", "words", self.words, token=True)
        with open(path, "w", encoding="utf-8") as f:
            for w, c in zip(self.words, self.counts.tolist(), strict=True):
                f.write(f"{w} {c}\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Reads a file written by :meth:`save`.

        Args:
          path: the file to read.

        Returns:
          The :class:`Vocabulary`.

        Raises:
          FileNotFoundError: if ``path`` does not exist.
          ValueError: if a line is not ``word count`` or the file is not
            UTF-8.

        Examples:
          >>> import jaxns, tempfile, os
          >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
          >>> with open(path, "w") as f:
          ...     _ = f.write("the 10\\ncat 3\\n")
          >>> jaxns.text.Vocabulary.load(path).counts.tolist()
          [10, 3]

        References:
          Mikolov et al, word2vec.c ``-read-vocab`` format, 2013.
        """
        words, counts = [], []
        lineno = 0
        try:
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    parts = line.split()
                    if not parts:
                        continue
                    # isdecimal, not isdigit: int() refuses digits such as "²".
                    if len(parts) != 2 or not parts[1].isdecimal():
                        raise ValueError(
                            f"text.Vocabulary.load: {os.fspath(path)!r} line "
                            f"{lineno} is not 'word count': {line.rstrip()!r}."
                        )
                    words.append(parts[0])
                    counts.append(int(parts[1]))
        except UnicodeDecodeError as err:
            raise ValueError(
                f"text.Vocabulary.load: {os.fspath(path)!r} is not UTF-8 text "
                f"(after line {lineno}): {err}."
            ) from None
        return cls(words, counts)


def _tokenized(fn: str, sentences: Any) -> Iterable[Sequence[str]]:
    """``sentences`` unchanged (or, for an iterator, an equal one), raising
    for the usual slip of passing lines of text instead of lists of words,
    which would silently count characters. Only the first sentence is looked
    at, so a long corpus costs nothing."""
    hint = "Split each line into words first, e.g. [line.split() for line in lines]."
    if isinstance(sentences, str | bytes):
        raise TypeError(
            f"{fn}: sentences must be an iterable of sentences, each a sequence "
            f"of words, got one {type(sentences).__name__}. {hint}"
        )
    if isinstance(sentences, Sequence):
        first = sentences[0] if len(sentences) else None
    else:
        sentences = iter(sentences)
        first = next(sentences, None)
        sentences = itertools.chain(() if first is None else (first,), sentences)
    if isinstance(first, str | bytes):
        raise TypeError(
            f"{fn}: each sentence must be a sequence of words (str), got a "
            f"{type(first).__name__} as the first sentence: {first[:40]!r}. {hint}"
        )
    return sentences


def _vocabulary_options(
    fn: str, min_count: Any, max_size: Any
) -> tuple[int, int | None]:
    """``min_count`` (an int >= 1) and ``max_size`` (None or an int >= 1)."""
    min_count = _checks.size(fn, "min_count", min_count, minimum=1)
    return min_count, _checks.optional_size(fn, "max_size", max_size, minimum=1)


class _FirstSeen(dict):
    """word -> id in order of first appearance; a new word gets the next id."""

    def __missing__(self, word: str) -> int:
        self[word] = new = len(self)
        return new


def _first_seen_ids(
    index: _FirstSeen, pieces: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, lengths)`` of ``pieces`` (lists of words) under ``index``, which
    grows by every new word; the loops run in C (map, chain, np.fromiter)."""
    lengths = np.fromiter(map(len, pieces), np.int64, len(pieces))
    ids = np.fromiter(
        map(index.__getitem__, itertools.chain.from_iterable(pieces)),
        np.int32,
        int(lengths.sum()),
    )
    return ids, lengths


def _vocabulary_and_ids(
    fn: str,
    index: _FirstSeen,
    first_ids: np.ndarray,
    sentence_ids: np.ndarray,
    num_sentences: int,
    *,
    min_count: int,
    max_size: int | None,
) -> tuple[Vocabulary, EncodedCorpus]:
    """The vocabulary :meth:`Vocabulary.build` gives and the corpus
    :meth:`Vocabulary.encode` gives, from first-seen ids."""
    if first_ids.size == 0:
        raise ValueError(f"{fn}: the corpus is empty (no words).")
    counts = np.bincount(first_ids, minlength=len(index))
    # First-seen ids are in order of first appearance: a stable sort by count
    # breaks ties by it, as Vocabulary.build does.
    order = np.argsort(-counts, kind="stable")
    kept = order[counts[order] >= min_count]
    if kept.size == 0:
        raise ValueError(
            f"{fn}: no word occurs at least min_count={min_count} times (the "
            f"most frequent occurs {int(counts.max())} times). Lower min_count."
        )
    if max_size is not None:
        kept = kept[:max_size]
    words = list(index)  # in id order: a dict keeps insertion order
    vocab = Vocabulary([words[i] for i in kept.tolist()], counts[kept])
    new_id = np.full(len(index), -1, np.int32)
    new_id[kept] = np.arange(kept.size, dtype=np.int32)
    ids = new_id[first_ids]
    known = ids >= 0
    corpus = EncodedCorpus(
        ids[known], sentence_ids[known], int(first_ids.size), num_sentences
    )
    return vocab, corpus


def encode_corpus(
    sentences: Iterable[Sequence[str]],
    *,
    min_count: int = 5,
    max_size: int | None = None,
) -> tuple[Vocabulary, EncodedCorpus]:
    """Builds the vocabulary of a corpus and encodes it, in one pass.

    The same result as ``vocab = Vocabulary.build(sentences, min_count=...,
    max_size=...)`` followed by ``vocab.encode(sentences)``, in about half
    the time: every word is looked up in a dictionary once instead of twice
    (once to count, once to encode).
    :func:`jaxns.datasets.load_encoded_corpus` does the same for a corpus file
    as it is read.

    Args:
      sentences: an iterable of sentences, each a sequence of words.
      min_count: words seen fewer times are dropped (gensim's default 5).
      max_size: keep at most this many of the most frequent words.

    Returns:
      ``(vocab, corpus)``: the :class:`Vocabulary` (most frequent word first,
      ties in order of first appearance) and the :class:`EncodedCorpus`
      (``ids`` and ``sentence_ids`` of shape ``[num_tokens]``, ``int32``;
      unknown words dropped).

    Raises:
      TypeError: if ``min_count`` or ``max_size`` is not an int, or
        ``sentences`` is a str or its first sentence is.
      ValueError: if ``min_count < 1``, ``max_size < 1``, the corpus is
        empty, or no word reaches ``min_count``.

    Examples:
      >>> import jaxns
      >>> vocab, enc = jaxns.text.encode_corpus(
      ...     [["a", "b", "a"], ["x"], ["c", "a", "b"]], min_count=2)
      >>> vocab.words, vocab.counts.tolist()
      (('a', 'b'), [3, 2])
      >>> enc.ids.tolist(), enc.sentence_ids.tolist(), enc.num_sentences
      ([0, 1, 0, 0, 1], [0, 0, 0, 2, 2], 3)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "text.encode_corpus"
    min_count, max_size = _vocabulary_options(fn, min_count, max_size)
    sentences = _tokenized(fn, sentences)
    if not isinstance(sentences, Sequence):
        sentences = list(sentences)
    index = _FirstSeen()
    first_ids, lengths = _first_seen_ids(index, sentences)
    sent = np.repeat(np.arange(len(sentences), dtype=np.int32), lengths)
    return _vocabulary_and_ids(
        fn, index, first_ids, sent, len(sentences),
        min_count=min_count, max_size=max_size,
    )  # fmt: skip


def keep_probability(counts: ArrayLike, sample: float) -> np.ndarray:
    """word2vec's probability of keeping each occurrence of a word.

    .. math:: P_{keep}(w) = \\min\\left(1, \\sqrt{t / f(w)} + t / f(w)\\right),
       \\quad f(w) = \\mathrm{count}(w) / \\sum_v \\mathrm{count}(v)

    This is what word2vec.c and gensim compute (with ``t = sample``), not the
    ``1 - sqrt(t/f)`` discard probability printed in the paper. ``sample=0``
    keeps everything.

    Args:
      counts: ``[vocab_size]`` counts of the words in the vocabulary.
      sample: the threshold ``t`` (gensim's ``sample``, default ``1e-3``).

    Returns:
      ``float32 [vocab_size]`` keep probabilities in ``[0, 1]``.

    Raises:
      TypeError: if ``sample`` is not a real number or ``counts`` not real.
      ValueError: if ``sample`` is negative or not finite, or ``counts`` is
        not 1-D, finite and non-negative.

    Examples:
      >>> import jaxns, numpy as np
      >>> p = jaxns.text.keep_probability(np.array([900, 90, 10]), 0.01)
      >>> [round(float(x), 3) for x in p]
      [0.117, 0.444, 1.0]

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "text.keep_probability"
    counts = _checks.concrete(fn, "counts", counts, why="it is read on the host")
    counts = _checks.real_array(fn, "counts", counts, ndim=1, host=True)
    counts = counts.astype(np.float64)
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError(
            f"{fn}: counts must be finite and non-negative, got min {counts.min()}."
        )
    sample = float(_checks.number(fn, "sample", sample, nonnegative=True))
    if sample == 0 or counts.sum() == 0:
        return np.ones(counts.shape, np.float32)
    ratio = sample * counts.sum() / np.maximum(counts, 1e-300)
    return np.minimum(1.0, np.sqrt(ratio) + ratio).astype(np.float32)


def subsample(
    key: ArrayLike,
    ids: ArrayLike,
    keep_prob: ArrayLike,
    sentence_ids: ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Drops each token with word2vec's probability and compacts the stream.

    Kept tokens move to the front in their original order; the rest of the
    output is padding (``-1``), so the shape stays ``[num_tokens]``. Windows
    are formed *after* subsampling, so they reach past dropped words, as in
    word2vec.c and gensim. Padding tokens (``-1``) in the input are dropped.

    Args:
      key: a single PRNG key.
      ids: ``int [num_tokens]`` token ids (``-1`` for padding).
      keep_prob: ``float [vocab_size]`` from :func:`keep_probability`.
      sentence_ids: optional ``int [num_tokens]`` sentence of each token; it
        is compacted the same way.

    Returns:
      ``(kept_ids, kept_sentence_ids, num_kept)``: ``int32 [num_tokens]``
      twice (``-1`` after the kept prefix; ``kept_sentence_ids`` is all ``-1``
      when ``sentence_ids`` is None) and an ``int32`` scalar.

    Raises:
      TypeError: for non-integer ids.
      ValueError: for a key array, mismatched shapes, or concrete ids outside
        ``[-1, vocab_size)`` (under ``jit`` such an id reads the nearest
        word's probability and is kept or dropped with it).

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> ids = jnp.array([0, 1, 0, 2], jnp.int32)
      >>> kept, sent, n = jaxns.text.subsample(
      ...     jax.random.key(0), ids, jnp.array([0.0, 1.0, 1.0]))
      >>> kept.tolist(), int(n)
      ([1, 2, -1, -1], 2)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    fn = "text.subsample"
    _checks.key(fn, key)
    ids = _checks.int_array(fn, "ids", ids, ndim=1)
    keep_prob = _checks.float_array(fn, "keep_prob", keep_prob, ndim=1)
    _checks.values_in_range(
        fn, "ids", ids, PAD, keep_prob.shape[0], what="word ids (or -1 padding)"
    )
    if sentence_ids is None:
        sentence_ids = jnp.full(ids.shape, PAD, jnp.int32)
    sentence_ids = _checks.int_array(fn, "sentence_ids", sentence_ids, ndim=1)
    _checks.same_shape(fn, "sentence_ids", sentence_ids, "ids", ids)
    with jax.named_scope("jaxns.text.subsample"):
        n = ids.shape[0]
        valid = ids >= 0
        p = jnp.where(
            valid, keep_prob.astype(jnp.float32)[jnp.where(valid, ids, 0)], 0.0
        )
        keep = jax.random.uniform(key, (n,), jnp.float32) < p
        # Static-shape compaction: kept token i moves to slot (number kept before
        # it); dropped tokens target slot n, which the scatter drops.
        slot = jnp.cumsum(keep, dtype=jnp.int32) - 1
        target = jnp.where(keep, slot, n)
        empty = jnp.full((n,), PAD, jnp.int32)

        def compact(x):
            return empty.at[target].set(
                x.astype(jnp.int32), mode="drop", unique_indices=True
            )

        num_kept = slot[-1] + 1 if n else jnp.zeros((), jnp.int32)
        return compact(ids), compact(sentence_ids), num_kept


def window_offsets(window: int) -> tuple[int, ...]:
    """The context offsets ``-window..-1, 1..window`` in the order pairs use.

    Args:
      window: the maximum window size ``W``.

    Returns:
      A tuple of ``2 * window`` offsets.

    Examples:
      >>> import jaxns
      >>> jaxns.text.window_offsets(2)
      (-2, -1, 1, 2)

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013.
    """
    window = _checks.size("text.window_offsets", "window", window, minimum=1)
    return tuple(range(-window, 0)) + tuple(range(1, window + 1))


def skipgram_pairs(
    key: ArrayLike,
    tokens: ArrayLike,
    sentence_ids: ArrayLike,
    *,
    window: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Skip-gram (centre, context) pairs of a token block, dynamic windows.

    Every position of ``tokens`` is a centre. Its effective window is
    ``window - b`` with ``b ~ U{0, ..., window - 1}`` drawn per centre (the
    word2vec.c / gensim "reduced window"), so nearer words are paired more
    often. A context slot is live when it lies inside the effective window,
    inside the block, in the same sentence, and neither token is padding
    (``-1``). The output has a static shape: one row of ``2 * window`` slots
    per centre, in the order of :func:`window_offsets`.

    Args:
      key: a single PRNG key (for the window reductions ``b``).
      tokens: ``int [block]`` token ids after subsampling, ``-1`` for padding.
      sentence_ids: ``int [block]`` sentence of each token.
      window: the maximum window ``W`` (static).

    Returns:
      ``(centres, contexts, mask)`` with shapes ``[block]``,
      ``[block, 2 * window]`` and ``[block, 2 * window]`` (``int32``,
      ``int32``, ``bool``). Dead slots hold ``-1`` in ``contexts``.

    Raises:
      TypeError: for non-integer tokens.
      ValueError: for a key array, ``window < 1`` or mismatched shapes.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> c, ctx, m = jaxns.text.skipgram_pairs(
      ...     jax.random.key(0), jnp.array([5, 6, 7, -1], jnp.int32),
      ...     jnp.array([0, 0, 1, -1], jnp.int32), window=1)
      >>> ctx.tolist()
      [[-1, 6], [5, -1], [-1, -1], [-1, -1]]
      >>> m.sum(axis=1).tolist()
      [1, 1, 0, 0]

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013.
    """
    fn = "text.skipgram_pairs"
    _checks.key(fn, key)
    window = _checks.size(fn, "window", window, minimum=1)
    offsets = window_offsets(window)
    tokens = _checks.int_array(fn, "tokens", tokens, ndim=1)
    sentence_ids = _checks.int_array(fn, "sentence_ids", sentence_ids, ndim=1)
    _checks.same_shape(fn, "sentence_ids", sentence_ids, "tokens", tokens)
    with jax.named_scope("jaxns.text.skipgram_pairs"):
        n = tokens.shape[0]
        tokens = tokens.astype(jnp.int32)
        reduced = window - jax.random.randint(key, (n,), 0, window, dtype=jnp.int32)
        pad_tok = jnp.full((window,), PAD, jnp.int32)
        padded = jnp.concatenate([pad_tok, tokens, pad_tok])
        padded_sent = jnp.concatenate(
            [pad_tok, sentence_ids.astype(jnp.int32), pad_tok]
        )
        idx = (
            jnp.arange(n, dtype=jnp.int32)[:, None]
            + (window + jnp.asarray(offsets, jnp.int32))[None, :]
        )
        contexts = padded[idx]
        same = padded_sent[idx] == sentence_ids.astype(jnp.int32)[:, None]
        near = jnp.abs(jnp.asarray(offsets, jnp.int32))[None, :] <= reduced[:, None]
        mask = near & same & (contexts >= 0) & (tokens >= 0)[:, None]
        return tokens, jnp.where(mask, contexts, PAD), mask
