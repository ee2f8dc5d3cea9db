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
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = ["load_word2vec_format", "save_word2vec_format"]


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
        ValueError: ``vectors`` is not 2-D, its rows differ from ``len(words)``,
            a word is empty, holds whitespace or is repeated, or a value is not
            finite.
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
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(
            f"{fn}: vectors must be finite, got NaN or inf in row "
            f"{int(np.argwhere(~np.isfinite(array))[0, 0])}."
        )
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
                # One %-format call per row: ~5x faster than per value.
                row_format = "%s" + " %.9g" * array.shape[1]
                lines = [
                    row_format % (word, *row)
                    for word, row in zip(words, array.tolist(), strict=True)
                ]
                out.write(("\n".join(lines) + ("\n" if lines else "")).encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
            values, truncated binary data, non-numeric value, non-UTF-8 word,
            duplicate word); the message names the file and the line or row.

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
    if len(set(words)) != len(words):
        seen: set[str] = set()
        for i, word in enumerate(words):
            if word in seen:
                raise ValueError(
                    f"{caller}: {path} row {i + 1}: duplicate word {word!r}."
                )
            seen.add(word)
    return words, vectors
