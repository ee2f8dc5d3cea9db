# SPDX-License-Identifier: Apache-2.0
"""fastText's character n-grams and their hashed rows (host side, NumPy).

fastText (Bojanowski et al. 2017) represents a word by its own vector and
the vectors of the character n-grams of ``<word>`` (``<`` and ``>`` mark the
word's boundaries), ``min_n <= n <= max_n`` characters. An n-gram's vector is
row ``hash(ngram) % num_buckets`` of a table of ``num_buckets`` rows, and
``hash`` is 32-bit FNV-1a over the n-gram's UTF-8 bytes, each byte read as a
*signed* char before the xor (Facebook fastText's ``Dictionary::hash``, which
gensim's ``ft_hash_bytes`` reproduces). This module computes these ids exactly
as both do, so tables trained here load in either (see
:func:`jaxns.wordvectors.save_fasttext_format`).

Facebook fastText lays out one input table, the ``V`` word rows followed by
the ``num_buckets`` n-gram rows: n-gram ``g`` of any word is row
``V + hash(g) % num_buckets``. :func:`subword_table` gives each vocabulary
word its rows in that layout, padded with ``-1``, for
:func:`jaxns.word2vec.block_gradients`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "CompactSubwords",
    "char_ngrams",
    "compact_table",
    "fasttext_hash",
    "ngram_buckets",
    "rows_per_block",
    "subword_table",
]

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


def _ngram_lengths(fn: str, min_n: int, max_n: int) -> tuple[int, int]:
    min_n = _checks.size(fn, "min_n", min_n, minimum=1)
    max_n = _checks.size(fn, "max_n", max_n, minimum=0)
    return min_n, max_n


def char_ngrams(word: str, *, min_n: int = 3, max_n: int = 6) -> list[str]:
    """The character n-grams of ``<word>``, in fastText's order.

    For each start position, the n-grams of ``min_n`` to ``max_n`` characters
    (Unicode code points, as fastText counts UTF-8 characters); a
    one-character n-gram made of a boundary marker alone is left out, as in
    fastText. Repeated n-grams are kept (they weigh twice in the mean). The
    word itself (without markers) is not an n-gram here; fastText and this
    library add the word's own row separately. ``max_n < min_n`` gives no
    n-grams (fastText's ``-maxn 0``).

    Args:
      word: the word.
      min_n: shortest n-gram, in characters (fastText's ``-minn``, 3).
      max_n: longest n-gram (fastText's ``-maxn``, 6).

    Returns:
      The n-grams, a list of str.

    Raises:
      TypeError: ``word`` is not a str, or the lengths are not ints.
      ValueError: ``min_n < 1`` or ``max_n < 0``.

    Examples:
      >>> import jaxns
      >>> jaxns.subwords.char_ngrams("where", min_n=3, max_n=3)
      ['<wh', 'whe', 'her', 'ere', 're>']
      >>> jaxns.subwords.char_ngrams("été", min_n=4, max_n=5)
      ['<été', '<été>', 'été>']

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017 (fastText's
      ``Dictionary::computeSubwords``).
    """
    fn = "subwords.char_ngrams"
    if not isinstance(word, str):
        raise TypeError(f"{fn}: word must be a str, got {type(word).__name__}.")
    min_n, max_n = _ngram_lengths(fn, min_n, max_n)
    text = f"<{word}>"
    size = len(text)
    out = []
    for i in range(size):
        for n in range(min_n, min(max_n, size - i) + 1):
            if n == 1 and (i == 0 or i + 1 == size):
                continue
            out.append(text[i : i + n])
    return out


def fasttext_hash(text: str | bytes) -> int:
    """fastText's 32-bit FNV-1a hash of a string's UTF-8 bytes.

    .. math::
       h_0 = 2166136261, \\quad
       h_{i+1} = (h_i \\oplus \\mathrm{int8}(b_i)) \\cdot 16777619 \\bmod 2^{32}

    Each byte is sign-extended (``int8``) before the xor, as Facebook
    fastText's ``Dictionary::hash`` (``uint32_t(int8_t(c))``) and gensim's
    ``ft_hash_bytes`` compute it; for bytes ``>= 0x80`` this differs from
    textbook FNV-1a.

    Args:
      text: a str (hashed as UTF-8) or bytes.

    Returns:
      The hash, an int in ``[0, 2**32)``.

    Raises:
      TypeError: ``text`` is neither str nor bytes.

    Examples:
      >>> import jaxns
      >>> jaxns.subwords.fasttext_hash("<wh")
      1048167652
      >>> h = jaxns.subwords.fasttext_hash
      >>> h("é") == h(b"\\xc3\\xa9"), h("é") == h(b"\\x03\\x29")
      (True, False)

    References:
      Fowler, Noll and Vo, `FNV hash <http://www.isthe.com/chongo/tech/comp/fnv/>`_,
      1991. Bojanowski et al, `Enriching Word Vectors with Subword
      Information <https://arxiv.org/abs/1607.04606>`_, 2017.
    """
    if isinstance(text, str):
        text = text.encode("utf-8")
    if not isinstance(text, bytes | bytearray):
        raise TypeError(
            f"subwords.fasttext_hash: text must be str or bytes, got "
            f"{type(text).__name__}."
        )
    h = _FNV_OFFSET
    for b in text:
        h = ((h ^ (b - 256 if b >= 128 else b)) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _hash_many(grams: list[bytes]) -> np.ndarray:
    """:func:`fasttext_hash` of many byte strings at once (uint32 NumPy)."""
    if not grams:
        return np.zeros(0, np.uint32)
    lengths = np.fromiter(map(len, grams), np.int64, len(grams))
    flat = np.frombuffer(b"".join(grams), np.int8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    h = np.full(len(grams), _FNV_OFFSET, np.uint32)
    for j in range(int(lengths.max())):
        live = lengths > j
        byte = flat[np.minimum(starts + j, len(flat) - 1)].astype(np.int32)
        # int8 -> uint32 sign-extends, as fastText's uint32_t(int8_t(c)).
        step = (h ^ byte.astype(np.uint32)) * np.uint32(_FNV_PRIME)
        h = np.where(live, step, h)
    return h


def ngram_buckets(
    word: str, *, min_n: int = 3, max_n: int = 6, num_buckets: int = 2_000_000
) -> list[int]:
    """The bucket of each n-gram of ``word``: ``fasttext_hash(g) % num_buckets``.

    gensim's ``ft_ngram_hashes``; add the vocabulary size for Facebook
    fastText's row ids.

    Args:
      word: the word.
      min_n: shortest n-gram in characters.
      max_n: longest n-gram in characters.
      num_buckets: number of buckets (fastText's ``-bucket``, 2,000,000).

    Returns:
      One bucket in ``[0, num_buckets)`` per n-gram of :func:`char_ngrams`.

    Raises:
      TypeError: ``word`` is not a str or a size is not an int.
      ValueError: ``num_buckets < 1`` or bad n-gram lengths.

    Examples:
      >>> import jaxns
      >>> jaxns.subwords.ngram_buckets("hi", min_n=3, max_n=4, num_buckets=1000)
      [152, 882, 756]

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017.
    """
    fn = "subwords.ngram_buckets"
    num_buckets = _checks.size(fn, "num_buckets", num_buckets, minimum=1)
    grams = char_ngrams(word, min_n=min_n, max_n=max_n)
    hashes = _hash_many([g.encode("utf-8") for g in grams])
    return (hashes % np.uint32(num_buckets)).astype(np.int64).tolist()


def subword_table(
    words: Sequence[str],
    *,
    min_n: int = 3,
    max_n: int = 6,
    num_buckets: int = 2_000_000,
) -> np.ndarray:
    """Each word's input rows in fastText's layout, padded with ``-1``.

    Row ``i`` holds ``i`` (the word's own row), then ``V + b`` for the bucket
    ``b`` of each of its n-grams (:func:`ngram_buckets`), then ``-1`` up to
    the longest list. With ``num_buckets == 0`` or ``max_n < min_n`` every
    word has its own row only (fastText without subwords).

    Args:
      words: the vocabulary, ``V`` words; row ``i`` is ``words[i]``.
      min_n: shortest n-gram in characters.
      max_n: longest n-gram in characters.
      num_buckets: number of n-gram buckets ``B``.

    Returns:
      ``int32 [V, M]``, ``M`` = 1 + the most n-grams of any word; ids lie in
      ``[0, V + B)`` or are ``-1``.

    Raises:
      TypeError: ``words`` is a str or holds a non-str.
      ValueError: bad sizes.

    Examples:
      >>> import jaxns
      >>> jaxns.subwords.subword_table(["hi", "a"], min_n=3, max_n=4,
      ...                              num_buckets=1000).tolist()
      [[0, 154, 884, 758], [1, 602, -1, -1]]

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017.
    """
    fn = "subwords.subword_table"
    if isinstance(words, str):
        raise TypeError(f"{fn}: words must be a sequence of str, got a str.")
    num_buckets = _checks.size(fn, "num_buckets", num_buckets, minimum=0)
    min_n, max_n = _ngram_lengths(fn, min_n, max_n)
    words = list(words)
    vocab_size = len(words)
    if num_buckets == 0 or max_n < min_n:
        return np.arange(vocab_size, dtype=np.int32)[:, None]
    grams: list[bytes] = []
    counts = np.zeros(vocab_size, np.int64)
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"{fn}: words[{i}] must be a str, got {word!r}.")
        mine = char_ngrams(word, min_n=min_n, max_n=max_n)
        counts[i] = len(mine)
        grams.extend(g.encode("utf-8") for g in mine)
    if vocab_size + num_buckets > np.iinfo(np.int32).max:
        raise ValueError(
            f"{fn}: vocab_size + num_buckets must fit in int32, got "
            f"{vocab_size + num_buckets}."
        )
    buckets = (_hash_many(grams) % np.uint32(num_buckets)).astype(np.int64)
    width = 1 + int(counts.max(initial=0))
    table = np.full((vocab_size, width), -1, np.int32)
    table[:, 0] = np.arange(vocab_size)
    row = np.repeat(np.arange(vocab_size), counts)
    first = np.cumsum(counts) - counts  # each word's first n-gram
    column = 1 + np.arange(len(grams)) - np.repeat(first, counts)
    table[row, column] = vocab_size + buckets
    return table


class CompactSubwords(NamedTuple):
    """A subword table renumbered onto the rows that training can touch.

    Attributes:
      table: ``int32 [V, M]``, the table given to :func:`compact_table` with
        every id replaced by its row of the compact input table (``-1``
        padding kept).
      rows: ``int32 [V + U]``, the row of the full input table (``[V + B,
        d]``) that each compact row stands for: the ``V`` word rows
        ``0 .. V - 1``, then the ``U`` used buckets' rows.
    """

    table: np.ndarray
    rows: np.ndarray

    def expand(
        self, compact_input: ArrayLike, full_input: ArrayLike, *, donate: bool = False
    ) -> jax.Array:
        """Writes trained compact rows back into a full input table.

        Args:
          compact_input: ``[V + U, d]``, the trained compact input table.
          full_input: ``[V + B, d]``, the full table the compact one was
            taken from (e.g. :func:`jaxns.word2vec.init_subword_params`
            without ``rows``: the buckets no word uses keep those values).
          donate: write into ``full_input``'s buffer instead of a copy of it
            (``full_input`` is deleted; saves copying a table of 2M rows).

        Returns:
          ``[V + B, d]``: ``full_input`` with row ``rows[i]`` replaced by
          ``compact_input[i]``.

        Raises:
          ValueError: the shapes do not match ``rows``.

        Examples:
          >>> import numpy as np, jaxns
          >>> c = jaxns.subwords.compact_table(np.array([[0, 7], [1, -1]]))
          >>> c.expand(np.ones((3, 2)), np.zeros((9, 2))).sum(axis=1).tolist()
          [2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]
        """
        fn = "subwords.CompactSubwords.expand"
        compact_input = _checks.float_array(fn, "compact_input", compact_input, ndim=2)
        full_input = _checks.float_array(fn, "full_input", full_input, ndim=2)
        if compact_input.shape[0] != self.rows.shape[0]:
            raise ValueError(
                f"{fn}: compact_input must have len(rows) = {self.rows.shape[0]} "
                f"rows, got shape {compact_input.shape}."
            )
        if full_input.shape[1] != compact_input.shape[1] or (
            self.rows.size and full_input.shape[0] <= int(self.rows.max())
        ):
            raise ValueError(
                f"{fn}: full_input must have more than max(rows) = "
                f"{int(self.rows.max(initial=-1))} rows of size "
                f"{compact_input.shape[1]}, got shape {full_input.shape}."
            )
        write = _write_rows_donated if donate else _write_rows
        return write(full_input, jnp.asarray(self.rows), compact_input)


def _set_rows(table, rows, values):
    return table.at[rows].set(values.astype(table.dtype), unique_indices=True)


_write_rows = jax.jit(_set_rows)
_write_rows_donated = jax.jit(_set_rows, donate_argnums=0)


def compact_table(subwords: ArrayLike) -> CompactSubwords:
    """Renumbers a subword table onto the buckets its words use.

    With 2,000,000 buckets a vocabulary of 19k words uses about 110k of them:
    every other bucket row keeps its initial value through training, since
    no token's update reaches it. Training on the ``V + U`` used rows instead
    of all ``V + B`` gives the same vectors (every update reads and writes
    the same rows, renumbered) from a table that fits the caches far better:
    about 1.2x faster fastText training on CPU. The used buckets are numbered
    in the order the table's rows first use them, so with a vocabulary sorted
    by frequency the frequent words' n-grams sit together at the front.

    Args:
      subwords: ``int [V, M]`` from :func:`subword_table`: row ``i`` starts
        with ``i`` (the word's own row), then its ids ``>= V``, then ``-1``.

    Returns:
      :class:`CompactSubwords`: the renumbered ``table`` for
      :func:`jaxns.word2vec.make_trainer` (``subwords=``), and the full
      table's ``rows`` for :func:`jaxns.word2vec.init_subword_params`
      (``rows=``) and :meth:`CompactSubwords.expand`.

    Raises:
      TypeError: ``subwords`` is not an integer array.
      ValueError: ``subwords`` is not 2-D, a row does not start with its own
        index, or an id is below ``-1``.

    Examples:
      >>> import numpy as np, jaxns
      >>> c = jaxns.subwords.compact_table(np.array([[0, 9, 5], [1, 5, -1]]))
      >>> c.table.tolist(), c.rows.tolist()
      ([[0, 2, 3], [1, 3, -1]], [0, 1, 9, 5])

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017.
    """
    fn = "subwords.compact_table"
    table = np.asarray(_checks.concrete(fn, "subwords", subwords))
    _checks.int_array(fn, "subwords", table, ndim=2)
    vocab_size = table.shape[0]
    if table.shape[1] == 0 or not np.array_equal(table[:, 0], np.arange(vocab_size)):
        raise ValueError(
            f"{fn}: subwords must start row i with i (the word's own row, as "
            f"subword_table lays it out), got shape {table.shape}"
            + (f" and first column {table[:5, 0].tolist()}..." if table.size else "")
            + "."
        )
    if table.size and int(table.min()) < -1:
        raise ValueError(
            f"{fn}: subwords must hold row ids >= 0 or -1 (padding), got "
            f"{int(table.min())}."
        )
    grams = table[:, 1:]
    flat = grams[grams >= vocab_size]  # row-major: the table's order of use
    used, first = np.unique(flat, return_index=True)
    order = flat[np.sort(first)]  # each used bucket once, by first use
    new = np.empty(used.size, np.int64)
    new[np.searchsorted(used, order)] = vocab_size + np.arange(order.size)
    compact = table.astype(np.int64)
    ids = compact[:, 1:]
    hit = ids >= vocab_size
    ids[hit] = new[np.searchsorted(used, ids[hit])]
    rows = np.concatenate([np.arange(vocab_size), order]).astype(np.int32)
    return CompactSubwords(compact.astype(np.int32), rows)


def rows_per_block(
    subwords: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    batch_size: int,
    window: int,
    multiple: int = 64,
) -> int:
    """The input rows a fastText update's block holds on average.

    A block of ``batch_size + 2 * window`` tokens gathers each token's own row
    and n-gram rows; this is that many tokens times the mean rows per word,
    weighted by how often each word occurs, rounded up to a multiple of
    ``multiple``. It is the page size ``subword_rows`` of
    :func:`jaxns.word2vec.make_trainer`: large enough that few blocks need a
    second page, small enough not to move padding rows (frequent words are
    short, so weighting matters: 2,560 rows on the built-in corpus by the
    frequency of the tokens subsampling keeps, against 3,588 by word).

    Args:
      subwords: ``int [V, M]`` from :func:`subword_table` (``-1`` padding).
      weights: optional non-negative ``[V]`` word weights (e.g. counts times
        keep probabilities, or a sampler's probabilities); ``None`` weights
        every word alike.
      batch_size: centre words per update.
      window: the maximum window ``W``.
      multiple: round the result up to a multiple of this.

    Returns:
      A positive ``int``, a multiple of ``multiple``.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> table = jaxns.subwords.subword_table(["a", "abcdef"], num_buckets=10)
      >>> jaxns.subwords.rows_per_block(table, batch_size=6, window=1)
      128
      >>> jaxns.subwords.rows_per_block(
      ...     table, np.array([9.0, 1.0]), batch_size=6, window=1, multiple=1
      ... )
      30

    References:
      Bojanowski, Grave, Joulin and Mikolov (2017). Enriching Word Vectors
      with Subword Information. TACL 5.
    """
    fn = "subwords.rows_per_block"
    table = np.asarray(_checks.int_array(fn, "subwords", subwords, ndim=2))
    batch_size = _checks.size(fn, "batch_size", batch_size, minimum=1)
    window = _checks.size(fn, "window", window, minimum=0)
    multiple = _checks.size(fn, "multiple", multiple, minimum=1)
    rows = (table >= 0).sum(axis=1).astype(np.float64)
    if weights is None:
        w = np.ones_like(rows)
    else:
        w = _checks.nonnegative_weights(fn, "weights", weights)
        if w.shape != rows.shape:
            raise ValueError(
                f"{fn}: weights must have shape [{rows.size}] (one per word of "
                f"subwords), got {list(w.shape)}."
            )
    mean = float(w @ rows) / float(w.sum()) if w.sum() > 0 else 1.0
    per_block = (batch_size + 2 * window) * max(mean, 1.0)
    return multiple * math.ceil(per_block / multiple)
