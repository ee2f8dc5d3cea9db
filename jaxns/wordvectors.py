# SPDX-License-Identifier: Apache-2.0
"""Word vectors in the word2vec.c file formats, readable by gensim.

Both formats start with a header line ``"<vocab_size> <dim>\\n"`` and then hold
one row per word, in the given order (word2vec.c and gensim write rows in
decreasing frequency):

* text: ``word v1 v2 ... vd\\n``, values in decimal;
* binary: ``word`` in UTF-8, one space, ``d`` little-endian float32 values,
  ``\\n`` (word2vec.c writes the newline, gensim does not; both are read).

Words must be non-empty and contain no whitespace, since the formats separate
fields with spaces.

fastText models (word rows plus hashed character n-gram rows) are held by
:class:`SubwordVectors`, which gives vectors for any word, and are written and
read in Facebook fastText's binary ``.bin`` format
(:func:`save_fasttext_format`, :func:`load_fasttext_format`), which
``gensim.models.fasttext.load_facebook_model`` also reads.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import struct
from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "SubwordVectors",
    "load_fasttext_format",
    "load_word2vec_format",
    "save_fasttext_format",
    "save_word2vec_format",
]


def save_word2vec_format(
    path: str | os.PathLike[str],
    words: Sequence[str],
    vectors: ArrayLike,
    *,
    binary: bool = False,
) -> None:
    """Write word vectors in the word2vec.c text or binary format.

    Rows are written in the given order; vectors are stored as float32. The
    text format writes each value with 9 significant digits, which round-trips
    float32 exactly. The file is written to a temporary name next to ``path``
    and renamed when complete, so an interrupted save never leaves a partial
    file. gensim reads the result with
    ``KeyedVectors.load_word2vec_format(path, binary=binary)``.

    Args:
      path: the output file.
      words: ``[vocab_size]`` unique words without whitespace.
      vectors: ``[vocab_size, dim]`` real values.
      binary: binary format (word2vec.c ``-binary 1``) instead of text.

    Raises:
      ValueError: ``vectors`` is not 2-D or has no column, its rows differ
        from ``len(words)``, a word is empty, holds whitespace or is
        repeated, or a value is not finite or past float32's range.
      TypeError: ``words`` is not a sequence of str, ``vectors`` is not
        real, ``binary`` not a bool or ``path`` not a path.

    Returns:
      None.

    Examples:
      >>> import os, tempfile
      >>> import numpy as np
      >>> import jaxns
      >>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
      >>> jaxns.wordvectors.save_word2vec_format(
      ...     path, ["the", "café"], np.array([[0.5, -1.0], [0.25, 2.0]]))
      >>> import pathlib
      >>> print(pathlib.Path(path).read_text(encoding="utf-8"), end="")
      2 2
      the 0.5 -1
      café 0.25 2

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013 (word2vec.c,
      https://code.google.com/archive/p/word2vec/).
    """
    fn = "wordvectors.save_word2vec_format"
    _checks.path(fn, "path", path)
    binary = _checks.flag(fn, "binary", binary)
    array = _checks.real_array(fn, "vectors", vectors, ndim=2, host=True)
    if array.shape[1] < 1:  # the format has no way to write an empty row
        raise ValueError(
            f"{fn}: vectors must have at least one column, got shape {array.shape}."
        )
    # The format separates fields with spaces: words are tokens.
    words = _checks.strings(
        fn,
        "words",
        words,
        length=array.shape[0],
        length_of="vectors.shape[0]",
        token=True,
        unique=True,
    )
    with np.errstate(over="ignore"):  # values past float32's range: below
        narrow = array.astype(np.float32)
    if not np.isfinite(narrow).all():
        row = int(np.argwhere(~np.isfinite(narrow))[0, 0])
        if np.isfinite(array[row]).all():
            raise ValueError(
                f"{fn}: vectors must fit float32 (magnitudes up to "
                f"{np.finfo(np.float32).max}), got {np.abs(array[row]).max()} in "
                f"row {row}."
            )
        raise ValueError(f"{fn}: vectors must be finite, got NaN or inf in row {row}.")
    array = narrow
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    header = f"{array.shape[0]} {array.shape[1]}\n".encode()
    try:
        with open(tmp, "wb") as out:
            out.write(header)
            if binary:
                little = array.astype("<f4", copy=False)
                for word, row in zip(words, little, strict=True):
                    out.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                out.write(_text_rows(words, array))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# The text format's values, as "%.9g" writes them (9 significant digits: a
# float32 reads back exactly), formatted by NumPy: each value's candidate bytes
# fill 32 bytes (four 8-byte words from small tables) and a mask, picked by
# sign, decimal exponent and significant digits, keeps those "%.9g" writes:
#   ' ' '-' '0' '.' '0' '0' '0' d0 | '.' d1 '.' d2 '.' d3 '.' d4 |
#   '.' d5 '.' d6 '.' d7 '.' d8 | 'e' sign tens units (4 unused)
# Python's "%" operator, one call per row, takes ~1.7x as long as one thread
# of this (2.2x as long as the threads, benchmarks/corpus_io.py).
def _le_words(rows) -> np.ndarray:
    return np.asarray(rows, np.uint8).reshape(-1, 8).view("<u8").ravel()


_G9_LEAD = _le_words([[32, 45, 48, 46, 48, 48, 48, 48 + d] for d in range(10)])
_FOUR_DIGITS = np.arange(10_000)[:, None] // 10 ** np.arange(3, -1, -1) % 10
_G9_FOUR = _le_words(np.stack([np.full_like(_FOUR_DIGITS, 46), 48 + _FOUR_DIGITS], 2))
_G9_EXP = _le_words(
    [
        [101, 45 if e < 0 else 43, 48 + abs(e) // 10, 48 + abs(e) % 10, 0, 0, 0, 0]
        for e in range(-50, 51)
    ]
)
# Trailing zero digits of a 4-digit group (4 for 0000).
_G9_TRAILING = np.cumprod(_FOUR_DIGITS[:, ::-1] == 0, axis=1).sum(1)
_G9_POWERS = 10.0 ** np.arange(-60, 61)


def _g9_masks() -> np.ndarray:
    """uint8 [2 * 14 * 9, 32]: the bytes kept, by (negative, form, digits);
    form 0-12 is positional with decimal exponent -4..8, 13 exponential."""
    masks = np.zeros((2, 14, 9, 32), np.uint8)
    for negative in (0, 1):
        for form in range(14):
            for digits in range(1, 10):
                keep = masks[negative, form, digits - 1]
                keep[0], keep[1] = 1, negative  # the separator and the sign
                at = [7 + 2 * i for i in range(9)]  # digit i; its point: at[i] + 1
                if form == 13:  # d0[.ddd]e+XX
                    keep[[at[0], *at[1:digits]]] = 1
                    keep[at[0] + 1] = digits > 1
                    keep[24:28] = 1
                elif form >= 4:  # ddd[.ddd]
                    point = form - 4  # the digit before the point
                    keep[at[: max(digits, point + 1)]] = 1
                    keep[at[point] + 1] = digits > point + 1
                else:  # 0.[000]ddd
                    keep[[2, 3, *range(4, 4 + 3 - form)]] = 1
                    keep[at[:digits]] = 1
    return masks.reshape(-1, 32)


_G9_MASKS = _g9_masks()


def _g9_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(candidates uint8 [n, 32], keep uint8 [n, 32])`` of float32 values."""
    x = np.abs(values.astype(np.float64))
    nonzero = x > 0
    x[~nonzero] = 1.0
    exponent = np.floor(np.log10(x)).astype(np.int64)
    exponent -= x < _G9_POWERS[exponent + 60]  # log10 rounded up
    exponent += x >= _G9_POWERS[exponent + 61]
    scaled = x * _G9_POWERS[68 - exponent]  # in [1e8, 1e9)
    significand = np.rint(scaled)  # ties to even, as "%" rounds
    # Within rounding error of a tie, or of 1e8: left to Python's "%".
    unsure = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (significand < 1e8)
    carry = significand == 1e9  # 9.999999999 -> 10.0000000
    significand[carry] = 1e8
    exponent += carry
    significand = np.clip(significand, 0, 999_999_999).astype(np.int64) * nonzero
    exponent = np.clip(exponent, -50, 50) * nonzero
    lead, rest = np.divmod(significand, 100_000_000)
    middle, low = np.divmod(rest, 10_000)
    trailing = np.where(
        low == 0, np.where(middle == 0, 8, 4 + _G9_TRAILING[middle]), _G9_TRAILING[low]
    )
    words = np.empty((values.size, 4), np.uint64)
    words[:, 0] = _G9_LEAD[lead]
    words[:, 1] = _G9_FOUR[middle]
    words[:, 2] = _G9_FOUR[low]
    words[:, 3] = _G9_EXP[exponent + 50]
    form = np.where((exponent < -4) | (exponent >= 9), 13, exponent + 4)
    keep = _G9_MASKS[(np.signbit(values) * 14 + form) * 9 + 8 - trailing]
    for i in np.flatnonzero(unsure):
        text = np.frombuffer(b" %.9g" % values[i], np.uint8)
        keep[i] = 0
        keep[i, : text.size] = 1
        words[i] = 0
        words.view(np.uint8)[i, : text.size] = text
    return words.view(np.uint8), keep


def _text_rows(words: Sequence[str], array: np.ndarray) -> bytes:
    """The text format's rows, ``word v1 ... vd\\n`` with ``"%.9g"`` values.

    Blocks of rows are formatted on up to 4 threads (NumPy releases the GIL).
    """
    rows, dim = array.shape
    step = max(1, 131_072 // dim)

    def block(start: int) -> bytes:
        values = array[start : start + step].ravel()
        candidates, keep = _g9_bytes(values)
        text = np.compress(keep.ravel().view(bool), candidates.ravel()).tobytes()
        ends = np.cumsum(keep.reshape(-1, dim * 32).sum(1, dtype=np.int64)).tolist()
        lines, begin = [], 0
        for word, end in zip(words[start : start + step], ends, strict=True):
            lines.append(word.encode() + text[begin:end] + b"\n")
            begin = end
        return b"".join(lines)

    starts = range(0, rows, step)
    threads = min(len(starts), 4, os.cpu_count() or 1)
    if threads <= 1:
        return b"".join(map(block, starts))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return b"".join(pool.map(block, starts))


def _parse_header(line: bytes, path: pathlib.Path, caller: str) -> tuple[int, int]:
    fields = line.split()
    try:
        if len(fields) != 2:
            raise ValueError
        vocab_size, dim = int(fields[0]), int(fields[1])
        if vocab_size < 0 or dim <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{caller}: {path} line 1: expected a header '<vocab_size> <dim>', "
            f"got {line[:80]!r}"
        ) from None
    return vocab_size, dim


def _decode(raw: bytes, path: pathlib.Path, where: str, caller: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{caller}: {path} {where}: word is not UTF-8: {err}") from err


def _load_text(
    data: bytes, path: pathlib.Path, caller: str
) -> tuple[list[str], np.ndarray]:
    lines = data.split(b"\n")
    vocab_size, dim = _parse_header(lines[0], path, caller)
    body = lines[1:]
    while body and not body[-1].strip():
        body.pop()
    if len(body) != vocab_size:
        raise ValueError(
            f"{caller}: {path}: the header promises {vocab_size} rows, "
            f"the file has {len(body)}"
        )
    words: list[str] = []
    values: list[bytes] = []
    for line_no, line in enumerate(body, start=2):
        word, _, rest = line.rstrip(b"\r").lstrip(b" ").partition(b" ")
        fields = rest.split()
        if not word or len(fields) != dim:
            raise ValueError(
                f"{caller}: {path} line {line_no}: expected a word and {dim} "
                f"values, got {len(fields)} values"
            )
        words.append(_decode(word, path, f"line {line_no}", caller))
        values.extend(fields)
    try:
        with np.errstate(over="ignore"):  # checked by the caller, with the line
            array = np.array(values, dtype=np.float64).astype(np.float32)
    except ValueError:
        for line_no, line in enumerate(body, start=2):
            try:
                np.array(line.split()[1:], dtype=np.float64)
            except ValueError as err:
                raise ValueError(
                    f"{caller}: {path} line {line_no}: bad value ({err})"
                ) from None
        raise
    return words, array.reshape(vocab_size, dim)


def _load_binary(
    data: bytes, path: pathlib.Path, caller: str
) -> tuple[list[str], np.ndarray]:
    end = data.find(b"\n")
    if end < 0:
        raise ValueError(f"{caller}: {path}: no header line")
    vocab_size, dim = _parse_header(data[:end], path, caller)
    pos = end + 1
    row_bytes = 4 * dim
    words: list[str] = []
    array = np.empty((vocab_size, dim), dtype=np.float32)
    for row in range(vocab_size):
        while pos < len(data) and data[pos] in b"\n\r":
            pos += 1  # word2vec.c ends rows with "\n"; gensim does not.
        space = data.find(b" ", pos)
        if space < 0 or space == pos or space + 1 + row_bytes > len(data):
            raise ValueError(
                f"{caller}: {path} row {row + 1} (byte {pos}): truncated or "
                f"malformed, expected '<word> <{dim} float32>' (is the file in "
                "the text format? use binary=False)"
            )
        words.append(_decode(data[pos:space], path, f"row {row + 1}", caller))
        array[row] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + row_bytes
    if data[pos:].strip(b"\n\r"):
        raise ValueError(
            f"{caller}: {path}: {len(data) - pos} unexpected bytes after the "
            f"{vocab_size} rows announced by the header"
        )
    return words, array


def load_word2vec_format(
    path: str | os.PathLike[str], *, binary: bool = False
) -> tuple[list[str], np.ndarray]:
    """Read word vectors in the word2vec.c text or binary format.

    Reads files written by :func:`save_word2vec_format`, word2vec.c and
    gensim's ``KeyedVectors.save_word2vec_format``. Rows keep the file's
    order (for word2vec.c and gensim files: decreasing frequency).

    Args:
      path: the file.
      binary: the binary format instead of text.

    Returns:
      ``(words, vectors)``: ``words`` a list of ``vocab_size`` str,
      ``vectors`` a NumPy float32 array ``[vocab_size, dim]``.

    Raises:
      FileNotFoundError: no such file.
      ValueError: the file is malformed (bad header, wrong number of rows or
        values, truncated binary data, non-numeric value, a value that is not
        a finite float32, non-UTF-8 word, duplicate word); the message names
        the file and the line or row. (gensim loads non-finite values
        silently, turning text values beyond float32's range into inf.)

    Examples:
      >>> import os, tempfile
      >>> import numpy as np
      >>> import jaxns
      >>> path = os.path.join(tempfile.mkdtemp(), "vectors.bin")
      >>> vectors = np.array([[0.5, -1.0], [0.25, 2.0]], dtype=np.float32)
      >>> jaxns.wordvectors.save_word2vec_format(
      ...     path, ["the", "café"], vectors, binary=True)
      >>> words, loaded = jaxns.wordvectors.load_word2vec_format(path, binary=True)
      >>> words, loaded.dtype, loaded.shape, bool((loaded == vectors).all())
      (['the', 'café'], dtype('float32'), (2, 2), True)

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013 (word2vec.c,
      https://code.google.com/archive/p/word2vec/).
    """
    caller = "wordvectors.load_word2vec_format"
    path = pathlib.Path(_checks.path(caller, "path", path))
    binary = _checks.flag(caller, "binary", binary)
    if not path.exists():
        raise FileNotFoundError(f"{caller}: no such file: {path}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise OSError(f"{caller}: cannot read {path}: {err}") from err
    if not data:
        raise ValueError(f"{caller}: {path} is empty")
    if binary:
        words, vectors = _load_binary(data, path, caller)
    else:
        words, vectors = _load_text(data, path, caller)
    finite = np.isfinite(vectors)
    if not finite.all():
        row, col = (int(i[0]) for i in np.nonzero(~finite))
        where = f"row {row + 1}" if binary else f"line {row + 2}"
        raise ValueError(
            f"{caller}: {path} {where} (word {words[row]!r}): value {col + 1} "
            f"is {vectors[row, col]} as float32 (inf, nan, or beyond "
            "+-3.4e38); expected finite vectors."
        )
    if len(set(words)) != len(words):
        seen: set[str] = set()
        for i, word in enumerate(words):
            if word in seen:
                raise ValueError(
                    f"{caller}: {path} row {i + 1}: duplicate word {word!r}."
                )
            seen.add(word)
    return words, vectors


# ---------------------------------------------------------------------------
# fastText: subword vectors, and Facebook fastText's binary model format.

_FASTTEXT_MAGIC = 793712314
_FASTTEXT_VERSION = 12
_FASTTEXT_MODELS = {"cbow": 1, "skipgram": 2}
_FASTTEXT_LOSS_NS = 2


def _compose(
    word_rows: np.ndarray, ngram_rows: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """Mean of each word's rows: its own and its n-grams' (fastText's word
    vector). ``table`` is :func:`jaxns.subwords.subword_table`'s layout."""
    vocab_size, dim = word_rows.shape
    out = np.empty((vocab_size, dim), np.float32)
    step = 4096  # bounds the [step, M, d] temporary
    for start in range(0, vocab_size, step):
        ids = table[start : start + step]
        ok = ids >= 0
        total = word_rows[start : start + step].astype(np.float64)
        grams = np.where(ok[:, 1:], ids[:, 1:] - vocab_size, 0)
        if grams.shape[1]:
            rows = ngram_rows[grams] * ok[:, 1:, None]
            total = total + rows.sum(axis=1, dtype=np.float64)
        out[start : start + step] = total / ok.sum(axis=1, keepdims=True)
    return out


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """float32 rows scaled to length 1 (zero rows stay 0), computed in float64
    a block of rows at a time: squares of float32 values overflow float32
    from about 1.8e19 and underflow below 1e-23, float64's never do."""
    out = np.empty(x.shape, np.float32)
    step = 4096  # bounds the float64 temporary
    for start in range(0, x.shape[0], step):
        rows = x[start : start + step].astype(np.float64)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        out[start : start + step] = rows / np.where(norms > 0, norms, 1)
    return out


class SubwordVectors:
    """fastText word vectors: in-vocabulary words and any other word.

    A word's vector is the mean of its own row and the rows of its character
    n-grams (:func:`jaxns.subwords.char_ngrams` of ``<word>``, hashed into
    ``num_buckets`` rows); a word outside the vocabulary gets the mean of its
    n-gram rows alone, and the zero vector when it has none (as Facebook
    fastText and gensim's ``FastTextKeyedVectors``). One exception:
    Facebook fastText gives its end-of-sentence word ``</s>`` its own row
    alone, while here (as in gensim) it has n-grams like any word.
    ``subwords`` skips
    hashing the vocabulary's n-grams again: the ``[V, M]`` rows of each word
    in the full layout, ``V`` word rows then the buckets
    (:func:`jaxns.subwords.subword_table` of ``words`` with these sizes), or
    the :class:`jaxns.subwords.CompactSubwords` a compact trainer was given
    (its ``table`` numbers the compact rows, so it is mapped back through
    ``rows``; the compact ``table`` itself is not this layout).

    Attributes:
      words: the vocabulary, a list of ``V`` str (row order).
      word_rows: ``float32 [V, d]`` the words' own rows.
      ngram_rows: ``float32 [B, d]`` the n-gram bucket rows.
      min_n: shortest n-gram in characters.
      max_n: longest n-gram in characters.
      vectors: ``float32 [V, d]`` the composed in-vocabulary vectors.

    Examples:
      >>> import numpy as np, jaxns
      >>> rng = np.random.default_rng(0)
      >>> sv = jaxns.wordvectors.SubwordVectors(
      ...     ["cat", "cats"], rng.normal(size=(2, 4)), rng.normal(size=(50, 4)),
      ...     min_n=3, max_n=4)
      >>> sv["cat"].shape, "cat" in sv, "catty" in sv
      ((4,), True, False)
      >>> [w for w, _ in sv.most_similar("catty", topn=2)]
      ['cat', 'cats']
    """

    def __init__(
        self,
        words: Sequence[str],
        word_rows: ArrayLike,
        ngram_rows: ArrayLike,
        *,
        min_n: int = 3,
        max_n: int = 6,
        subwords: ArrayLike | None = None,
    ):
        from jaxns import subwords as _subwords

        caller = "wordvectors.SubwordVectors"
        words = _checks.strings(caller, "words", words, token=True, unique=True)
        word_rows = np.asarray(word_rows, np.float32)
        ngram_rows = np.asarray(ngram_rows, np.float32)
        if word_rows.ndim != 2 or word_rows.shape[0] != len(words):
            raise ValueError(
                f"{caller}: word_rows must be [len(words), dim] = "
                f"[{len(words)}, dim], got shape {word_rows.shape}"
            )
        if ngram_rows.ndim != 2 or ngram_rows.shape[1] != word_rows.shape[1]:
            raise ValueError(
                f"{caller}: ngram_rows must be [num_buckets, {word_rows.shape[1]}], "
                f"got shape {ngram_rows.shape}"
            )
        self.words = words
        self.word_rows = word_rows
        self.ngram_rows = ngram_rows
        self.min_n = _checks.size(caller, "min_n", min_n, minimum=1)
        self.max_n = _checks.size(caller, "max_n", max_n, minimum=0)
        self._index = {w: i for i, w in enumerate(words)}
        if isinstance(subwords, _subwords.CompactSubwords):
            # The trainer's compact ids, back in the full table's rows.
            compact = subwords
            _checks.int_array(caller, "subwords.table", compact.table, ndim=2)
            subwords = np.where(
                compact.table >= 0, np.asarray(compact.rows)[compact.table], -1
            )
        if subwords is None:
            table = _subwords.subword_table(
                words, min_n=self.min_n, max_n=self.max_n, num_buckets=len(ngram_rows)
            )
        else:  # the caller's table, e.g. the trainer's (skips hashing again)
            table = np.asarray(subwords)
            _checks.int_array(caller, "subwords", table, (len(words), None))
            _checks.values_in_range(
                caller, "subwords", table, -1, len(words) + len(ngram_rows),
                what="row ids (or -1)",
            )  # fmt: skip
        self.vectors = _compose(word_rows, ngram_rows, table)
        self._unit: np.ndarray | None = None

    @property
    def num_buckets(self) -> int:
        """The number of n-gram rows ``B``."""
        return self.ngram_rows.shape[0]

    @classmethod
    def from_input_table(
        cls,
        words: Sequence[str],
        input_table: ArrayLike,
        *,
        min_n: int = 3,
        max_n: int = 6,
        subwords: ArrayLike | None = None,
    ) -> SubwordVectors:
        """From fastText's one input table: ``V`` word rows, then the buckets.

        Args:
          words: the ``V`` words.
          input_table: ``[V + B, d]``, e.g. ``params.input`` of
            :func:`jaxns.word2vec.init_subword_params`.
          min_n: shortest n-gram in characters.
          max_n: longest n-gram in characters.
          subwords: optional: skips hashing the vocabulary's n-grams again.
            The ``int [V, M]`` rows of each word in ``input_table``'s full
            layout (:func:`jaxns.subwords.subword_table` of ``words`` with
            these sizes), or the :class:`jaxns.subwords.CompactSubwords` of
            a trainer that trained the compact table (after
            :meth:`~jaxns.subwords.CompactSubwords.expand` wrote it back into
            ``input_table``).

        Returns:
          The :class:`SubwordVectors`.

        Examples:
          >>> import numpy as np, jaxns
          >>> sv = jaxns.wordvectors.SubwordVectors.from_input_table(
          ...     ["a", "b"], np.ones((12, 3)), min_n=3, max_n=6)
          >>> sv.num_buckets, sv["zzz"].tolist()
          (10, [1.0, 1.0, 1.0])
        """
        table = np.asarray(input_table)
        words = list(words)
        return cls(
            words, table[: len(words)], table[len(words) :], min_n=min_n,
            max_n=max_n, subwords=subwords,
        )  # fmt: skip

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, word: str) -> np.ndarray:
        """The vector of any word, in or out of the vocabulary.

        Args:
          word: the word.

        Returns:
          ``float32 [d]``.

        Examples:
          >>> import numpy as np, jaxns
          >>> sv = jaxns.wordvectors.SubwordVectors(
          ...     ["a"], np.zeros((1, 2)), np.ones((5, 2)))
          >>> sv["a"].tolist(), sv["hello"].tolist()  # "a": mean of 0 and <a>'s 1
          ([0.5, 0.5], [1.0, 1.0])
        """
        from jaxns import subwords

        index = self._index.get(word)
        if index is not None:
            return self.vectors[index]
        if not isinstance(word, str):
            raise TypeError(f"SubwordVectors: a word must be a str, got {word!r}")
        if not self.num_buckets:
            return np.zeros(self.vectors.shape[1], np.float32)
        buckets = subwords.ngram_buckets(
            word, min_n=self.min_n, max_n=self.max_n, num_buckets=self.num_buckets
        )
        if not buckets:
            return np.zeros(self.vectors.shape[1], np.float32)
        rows = self.ngram_rows[np.asarray(buckets)].astype(np.float64)
        return rows.mean(axis=0).astype(np.float32)

    def most_similar(self, word: str | ArrayLike, *, topn: int = 10):
        """The vocabulary words closest to a word (any word) or a vector.

        Cosine similarity against the composed in-vocabulary vectors; the
        query word itself is left out.

        Args:
          word: a word (in or out of the vocabulary) or a ``[d]`` vector.
          topn: how many neighbours.

        Returns:
          A list of ``topn`` ``(word, cosine)``, most similar first.

        Examples:
          >>> import numpy as np, jaxns
          >>> sv = jaxns.wordvectors.SubwordVectors(
          ...     ["x", "y", "z"], np.eye(3), np.zeros((4, 3)))
          >>> sv.most_similar(np.array([0.0, 1.0, 0.1]), topn=1)
          [('y', 0.995...)]

        References:
          gensim's ``KeyedVectors.most_similar`` (cosine, the query left out).
        """
        fn = "wordvectors.SubwordVectors.most_similar"
        topn = _checks.size(fn, "topn", topn, minimum=1)
        if self._unit is None:
            self._unit = _unit_rows(self.vectors)
        skip = None
        if isinstance(word, str):
            skip = self._index.get(word)
            query = self[word]
        else:
            query = np.asarray(word, np.float32)
        scores = self._unit @ _unit_rows(query[None])[0]
        if skip is not None:
            scores[skip] = -np.inf
        top = np.argsort(-scores, kind="stable")[: min(topn, len(scores))]
        return [(self.words[i], float(scores[i])) for i in top if i != skip]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Saves to one ``.npz`` file (rows, words, n-gram lengths).

        Args:
          path: the file.

        Returns:
          None.

        Examples:
          >>> import os, tempfile, numpy as np, jaxns
          >>> sv = jaxns.wordvectors.SubwordVectors(
          ...     ["a"], np.ones((1, 2)), np.zeros((3, 2)))
          >>> path = os.path.join(tempfile.mkdtemp(), "sv.npz")
          >>> sv.save(path)
          >>> jaxns.wordvectors.SubwordVectors.load(path).words
          ['a']

        References:
          NumPy's ``.npz`` format (``numpy.savez``).
        """
        path = pathlib.Path(path)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npz")
        try:
            # The words as UTF-8 bytes, one per line (they hold no
            # whitespace): a NumPy str array would drop trailing NULs.
            text = "\n".join(self.words).encode("utf-8")
            np.savez(
                tmp,
                words_utf8=np.frombuffer(text, np.uint8),
                word_rows=self.word_rows,
                ngram_rows=self.ngram_rows,
                ngram_lengths=np.array([self.min_n, self.max_n]),
            )
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SubwordVectors:
        """Loads what :meth:`save` wrote.

        Args:
          path: the file.

        Returns:
          The :class:`SubwordVectors`.

        Examples:
          >>> import os, tempfile, numpy as np, jaxns
          >>> path = os.path.join(tempfile.mkdtemp(), "sv.npz")
          >>> jaxns.wordvectors.SubwordVectors(
          ...     ["a", "b"], np.eye(2), np.zeros((3, 2))).save(path)
          >>> jaxns.wordvectors.SubwordVectors.load(path)["b"].tolist()
          [0.0, 0.5]
        """
        with np.load(path, allow_pickle=False) as data:
            min_n, max_n = (int(x) for x in data["ngram_lengths"])
            word_rows = data["word_rows"]
            if "words_utf8" in data:
                text = data["words_utf8"].tobytes().decode("utf-8")
                words = text.split("\n") if len(word_rows) else []
            else:  # files written before words were stored as UTF-8 bytes
                words = data["words"].tolist()
            return cls(words, word_rows, data["ngram_rows"], min_n=min_n, max_n=max_n)


def save_fasttext_format(
    path: str | os.PathLike[str],
    words: Sequence[str],
    counts: ArrayLike,
    input_table: ArrayLike,
    output_table: ArrayLike,
    *,
    min_n: int = 3,
    max_n: int = 6,
    model: str = "skipgram",
    window: int = 5,
    epochs: int = 5,
    min_count: int = 5,
    num_negatives: int = 5,
    sample: float = 1e-3,
) -> None:
    """Writes Facebook fastText's binary model (``.bin``, version 12).

    The layout of fastText's ``FastText::saveModel``: magic and version, the
    training arguments, the dictionary (each word, its count and type), the
    input matrix ``[V + B, d]`` (word rows, then n-gram buckets) and the
    output matrix ``[V, d]``, unquantised, little-endian. Facebook fastText
    and ``gensim.models.fasttext.load_facebook_model`` read it and give the
    same vectors as :class:`SubwordVectors` for any word, except that
    Facebook fastText gives the word ``</s>`` (its end of sentence) its own
    row alone (gensim and :class:`SubwordVectors` add its n-grams).

    Args:
      path: the output file (by convention ``.bin``).
      words: the ``V`` words, most frequent first.
      counts: ``[V]`` their corpus counts.
      input_table: ``[V + B, d]`` word rows then n-gram rows. With
        ``max_n < min_n`` (no n-grams) only the ``V`` word rows are written,
        with ``bucket`` 0, as fastText's ``-maxn 0``.
      output_table: ``[V, d]`` the output (negative-sampling) rows.
      min_n: shortest n-gram in characters.
      max_n: longest n-gram in characters.
      model: ``"skipgram"`` or ``"cbow"`` (recorded in the header).
      window: recorded training window.
      epochs: recorded epochs.
      min_count: recorded minimum count.
      num_negatives: recorded negatives (the loss is negative sampling).
      sample: recorded subsampling threshold.

    Returns:
      None.

    Raises:
      TypeError: non-integer counts or sizes, a non-number ``sample``.
      ValueError: shapes that do not agree, a bad word, a non-finite value,
        negative counts, sizes below 1 (``max_n`` below 0) or a negative
        ``sample``.

    Examples:
      >>> import os, tempfile, numpy as np, jaxns
      >>> path = os.path.join(tempfile.mkdtemp(), "model.bin")
      >>> jaxns.wordvectors.save_fasttext_format(
      ...     path, ["a", "b"], [3, 2], np.ones((12, 4)), np.zeros((2, 4)))
      >>> jaxns.wordvectors.load_fasttext_format(path).num_buckets
      10

    References:
      Bojanowski et al, `Enriching Word Vectors with Subword Information
      <https://arxiv.org/abs/1607.04606>`_, 2017; Facebook fastText,
      ``src/fasttext.cc`` (``saveModel``), ``src/args.cc``,
      ``src/dictionary.cc``.
    """
    caller = "wordvectors.save_fasttext_format"
    words = _checks.strings(caller, "words", words, token=True, unique=True)
    if any("\0" in w for w in words):
        raise ValueError(f"{caller}: words must not contain NUL characters")
    vocab_size = len(words)
    counts = _checks.counts(caller, "counts", counts, vocab_size)
    min_n = _checks.size(caller, "min_n", min_n, minimum=1)
    max_n = _checks.size(caller, "max_n", max_n, minimum=0)
    window = _checks.size(caller, "window", window, minimum=1)
    epochs = _checks.size(caller, "epochs", epochs, minimum=1)
    min_count = _checks.size(caller, "min_count", min_count, minimum=1)
    num_negatives = _checks.size(caller, "num_negatives", num_negatives, minimum=1)
    sample = float(_checks.number(caller, "sample", sample, nonnegative=True))
    with np.errstate(over="ignore"):  # values past float32's range: below
        inp = np.asarray(input_table, np.float32)
        out = np.asarray(output_table, np.float32)
    if inp.ndim != 2 or inp.shape[0] < vocab_size:
        raise ValueError(
            f"{caller}: input_table must be [len(words) + num_buckets, dim], got "
            f"shape {inp.shape}"
        )
    if out.shape != (vocab_size, inp.shape[1]):
        raise ValueError(
            f"{caller}: output_table must have shape ({vocab_size}, {inp.shape[1]}), "
            f"got {out.shape}"
        )
    model = _checks.choice(caller, "model", model, tuple(_FASTTEXT_MODELS))
    # A float64 sum of float32 values cannot overflow, so it is finite exactly
    # when every value is (NaN and inf carry through), without a mask of the
    # table.
    if not all(np.isfinite(m.sum(dtype=np.float64)) for m in (inp, out)):
        raise ValueError(
            f"{caller}: the tables hold NaN or infinite values (or values past "
            "float32's range)"
        )
    if max_n < min_n:
        # No word has an n-gram, so no bucket row is ever read: write none, as
        # fastText's own -maxn 0 does (Args::parseArgs sets bucket 0); gensim
        # reads no other layout for such a model.
        inp = inp[:vocab_size]
    dim, buckets = inp.shape[1], inp.shape[0] - vocab_size
    header = struct.pack(
        "<2i12id",
        _FASTTEXT_MAGIC, _FASTTEXT_VERSION,
        # Args::save: dim ws epoch minCount neg wordNgrams loss model bucket
        # minn maxn lrUpdateRate t
        dim, window, epochs, min_count, num_negatives, 1, _FASTTEXT_LOSS_NS,
        _FASTTEXT_MODELS[model], buckets, min_n, max_n, 100, sample,
    )  # fmt: skip
    # Dictionary::save: size nwords nlabels ntokens pruneidx_size, entries.
    dictionary = [struct.pack("<3i2q", vocab_size, vocab_size, 0, counts.sum(), -1)]
    for word, count in zip(words, counts.tolist(), strict=True):
        dictionary.append(word.encode("utf-8") + b"\0" + struct.pack("<qb", count, 0))
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(b"".join(dictionary))
            for matrix in (inp, out):
                # quant flag, then DenseMatrix::save: rows, cols, values.
                f.write(struct.pack("<?2q", False, *matrix.shape))
                # From the array's own buffer: tobytes() would copy 800 MB.
                f.write(memoryview(np.ascontiguousarray(matrix, "<f4")).cast("B"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_fasttext_format(path: str | os.PathLike[str]) -> SubwordVectors:
    """Reads the word and n-gram vectors of a Facebook fastText ``.bin`` model.

    Reads unquantised unsupervised models of format version 12 (fastText
    0.9, gensim's ``save_facebook_model``, :func:`save_fasttext_format`).

    Args:
      path: the ``.bin`` file.

    Returns:
      A :class:`SubwordVectors` with the model's words, rows and n-gram
      lengths.

    Raises:
      FileNotFoundError: no such file.
      ValueError: not a fastText model of a supported kind, or a file that is
        truncated or corrupt (the message names it and where it ends).

    Examples:
      >>> import os, tempfile, numpy as np, jaxns
      >>> path = os.path.join(tempfile.mkdtemp(), "model.bin")
      >>> jaxns.wordvectors.save_fasttext_format(
      ...     path, ["a"], [1], np.ones((4, 2)), np.zeros((1, 2)), min_n=2, max_n=3)
      >>> sv = jaxns.wordvectors.load_fasttext_format(path)
      >>> sv.words, sv.min_n, sv.max_n, sv.ngram_rows.shape
      (['a'], 2, 3, (3, 2))

    References:
      Facebook fastText, ``src/fasttext.cc`` (``loadModel``).
    """
    caller = "wordvectors.load_fasttext_format"
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{caller}: no such file: {path}")
    data = path.read_bytes()
    head = struct.calcsize("<2i12id")
    if len(data) < head + struct.calcsize("<3i2q"):
        raise ValueError(f"{caller}: {path} is too short for a fastText model")
    magic, version, dim, *_, buckets, min_n, max_n, _, _ = struct.unpack_from(
        "<2i12id", data
    )
    if magic != _FASTTEXT_MAGIC or version > _FASTTEXT_VERSION:
        raise ValueError(
            f"{caller}: {path} is not a fastText model of version <= 12 "
            f"(magic {magic}, version {version})"
        )
    if min_n < 1 or max_n < 0 or buckets < 0 or dim < 1:
        raise ValueError(
            f"{caller}: {path}: a corrupt header (dim {dim}, bucket {buckets}, "
            f"minn {min_n}, maxn {max_n})"
        )
    size, nwords, nlabels, _, prune = struct.unpack_from("<3i2q", data, head)
    if nlabels:
        raise ValueError(f"{caller}: {path} is a supervised model (labels)")
    if not 0 <= nwords <= size:
        raise ValueError(
            f"{caller}: {path}: a corrupt dictionary ({nwords} words of {size})"
        )

    def truncated(what: str) -> ValueError:
        return ValueError(
            f"{caller}: {path} is truncated or corrupt: it ends inside {what} "
            f"({len(data)} bytes)"
        )

    pos = head + struct.calcsize("<3i2q")
    words = []
    for _ in range(size):
        end = data.find(b"\0", pos)
        if end < 0 or end + 10 > len(data):
            raise truncated("the dictionary")
        words.append(data[pos:end].decode("utf-8", errors="backslashreplace"))
        pos = end + 1 + 9
    pos += 8 * max(prune, 0)
    matrices = []
    for name, want in (("input", nwords + buckets), ("output", nwords)):
        if pos + struct.calcsize("<?2q") > len(data):
            raise truncated(f"the {name} matrix's header")
        quant, rows, cols = struct.unpack_from("<?2q", data, pos)
        if quant:
            raise ValueError(f"{caller}: {path} is quantised (.ftz), not supported")
        if rows != want or cols != dim:
            raise ValueError(
                f"{caller}: {path}: {name} matrix {rows}x{cols} does not match "
                f"{nwords} words"
                + (f" + {buckets} buckets" if name == "input" else "")
                + f" of dim {dim}"
            )
        pos += struct.calcsize("<?2q")
        if pos + 4 * rows * cols > len(data):
            raise truncated(f"the {name} matrix")
        matrices.append(
            np.frombuffer(data, "<f4", rows * cols, pos).reshape(rows, cols)
        )
        pos += 4 * rows * cols
    matrix = matrices[0]
    return SubwordVectors(
        words[:nwords], matrix[:nwords], matrix[nwords:], min_n=min_n, max_n=max_n
    )
