# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.wordvectors: word2vec.c text and binary files."""

import struct

import numpy as np
import pytest

from jaxns.wordvectors import load_word2vec_format, save_word2vec_format

WORDS = ["the", "of", "café", "naïve", "日本", "x-ray", "it's", "Ω"]


def _vectors(dim=5, seed=0):
    vocab_size = len(WORDS)
    rng = np.random.default_rng(seed)
    # Values spanning many magnitudes, to exercise the decimal round trip.
    scale = 10.0 ** rng.integers(-8, 8, size=(vocab_size, dim))
    return (rng.standard_normal((vocab_size, dim)) * scale).astype(np.float32)


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_is_exact(tmp_path, binary):
    vectors = _vectors()
    path = tmp_path / "vectors.w2v"
    save_word2vec_format(path, WORDS, vectors, binary=binary)
    words, loaded = load_word2vec_format(path, binary=binary)
    assert words == WORDS
    assert loaded.dtype == np.float32 and loaded.shape == vectors.shape
    np.testing.assert_array_equal(loaded, vectors)
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.w2v"]  # no temp left


@pytest.mark.parametrize("binary", [False, True])
def test_layout_matches_word2vec_c(tmp_path, binary):
    vectors = np.array([[0.5, -1.0], [0.25, 2.0]], dtype=np.float32)
    path = tmp_path / "v"
    save_word2vec_format(path, ["a", "é"], vectors, binary=binary)
    data = path.read_bytes()
    if binary:
        expected = (
            b"2 2\n"
            + b"a "
            + struct.pack("<2f", 0.5, -1.0)
            + b"\n"
            + "é ".encode()
            + struct.pack("<2f", 0.25, 2.0)
            + b"\n"
        )
    else:
        expected = "2 2\na 0.5 -1\né 0.25 2\n".encode()
    assert data == expected


@pytest.mark.parametrize("dim", [1, 7, 300])
def test_text_values_are_exactly_what_percent_9g_writes(tmp_path, dim):
    """The NumPy formatter writes every float32 as Python's ".9g" does, byte
    for byte: random bit patterns (every exponent, subnormals), Gaussian
    values, powers of ten and the values next to them (where %g switches to
    exponential form or rounds up to a new power), exact ties at the tenth
    digit, zeros of both signs; rows of 1, 7 and 300 values, in many blocks
    on several threads."""
    rng = np.random.default_rng(dim)
    bits = rng.integers(0, 2**32, 60_000, dtype=np.uint64).astype(np.uint32)
    tens = np.float32(10.0) ** np.arange(-45, 39, dtype=np.float32)
    special = np.concatenate([
        tens, np.nextafter(tens, np.float32(0)), np.nextafter(tens, np.float32(np.inf)),
        [0.0, -0.0, 2.0**-14, 2.0**-24, 2.0**-126, 2.0**-149, 3.4028235e38,
         9.99999999e-5, 999999999.0, 99999999.0, 123456789.0, 0.5, 2.5, -1.0],
    ]).astype(np.float32)  # fmt: skip
    values = np.concatenate([
        bits.view(np.float32), rng.normal(size=60_000).astype(np.float32),
        special, -special,
    ])  # fmt: skip
    values = values[np.isfinite(values)]
    values = values[: values.size // dim * dim].reshape(-1, dim)
    words = [f"w{i}" for i in range(len(values))]
    path = tmp_path / "v.txt"
    save_word2vec_format(path, words, values)
    expected = f"{len(values)} {dim}\n" + "".join(
        w + "".join(f" {v:.9g}" for v in row) + "\n"
        for w, row in zip(words, values.tolist(), strict=True)
    )
    assert path.read_bytes() == expected.encode()
    np.testing.assert_array_equal(load_word2vec_format(path)[1], values)


def test_reads_word2vec_c_text_with_trailing_spaces_and_crlf(tmp_path):
    # word2vec.c writes "%lf " after every value.
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 3\r\nhello 0.100000 0.200000 -0.300000 \r\nworld 1 2 3 \r\n")
    words, vectors = load_word2vec_format(path)
    assert words == ["hello", "world"]
    np.testing.assert_array_equal(
        vectors, np.array([[0.1, 0.2, -0.3], [1, 2, 3]], dtype=np.float32)
    )


def test_reads_binary_without_row_newlines(tmp_path):
    # gensim writes binary rows without the trailing newline of word2vec.c.
    rows = [("a", [1.0, 2.0]), ("bb", [3.0, -4.5])]
    body = b"".join(w.encode() + b" " + struct.pack("<2f", *v) for w, v in rows)
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 2\n" + body)
    words, vectors = load_word2vec_format(path, binary=True)
    assert words == ["a", "bb"]
    np.testing.assert_array_equal(vectors, np.array([[1, 2], [3, -4.5]], np.float32))


def test_empty_vocabulary_round_trip(tmp_path):
    path = tmp_path / "empty.txt"
    save_word2vec_format(path, [], np.zeros((0, 3), np.float32))
    words, vectors = load_word2vec_format(path)
    assert words == [] and vectors.shape == (0, 3)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_files(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors()
    path = tmp_path / "ours"
    save_word2vec_format(path, WORDS, vectors, binary=binary)
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert list(kv.index_to_key) == WORDS
    np.testing.assert_array_equal(kv.vectors, vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_gensim_files(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors(seed=1)
    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(WORDS, vectors)
    path = tmp_path / "theirs"
    kv.save_word2vec_format(str(path), binary=binary)
    words, loaded = load_word2vec_format(path, binary=binary)
    assert words == WORDS
    np.testing.assert_array_equal(loaded, vectors)


@pytest.mark.parametrize(
    "content, binary, match",
    [
        (b"", False, "is empty"),
        (b"2\na 1\n", False, "line 1: expected a header"),
        (b"x 2\na 1 2\n", False, "line 1: expected a header"),
        (b"2 0\na\nb\n", False, "line 1: expected a header"),
        (b"2 2\na 1 2\n", False, "promises 2 rows, the file has 1"),
        (b"1 2\na 1 2\nb 3 4\n", False, "promises 1 rows, the file has 2"),
        (b"2 2\na 1 2\nb 3\n", False, "line 3: expected a word and 2 values"),
        (b"2 2\na 1 2\nb 3 x\n", False, "line 3: bad value"),
        (b"2 2\na 1 2\na 3 4\n", False, "row 2: duplicate word 'a'"),
        (b"1 2\n\xff\xfe 1 2\n", False, "line 2: word is not UTF-8"),
        (b"1 2\na " + struct.pack("<f", 1.0), True, "row 1 .*truncated"),
        (b"1 1\na " + struct.pack("<f", 1.0) + b"\nzz", True, "unexpected bytes"),
        (b"1 1", True, "no header line"),
        (b"2 1\nab" + struct.pack("<f", 1.0), True, "row 1 .*malformed"),
        # Values that are no finite float32 (gensim loads them as inf/nan).
        (b"2 2\na 1 2\nb 3 1e39\n", False, r"line 3 \(word 'b'\): value 2 is inf"),
        (b"1 2\na nan 2\n", False, r"line 2 \(word 'a'\): value 1 is nan"),
        (b"1 1\na " + struct.pack("<f", float("-inf")), True, "row 1 .*is -inf"),
    ],
)
def test_malformed_files_raise_naming_the_file(tmp_path, content, binary, match):
    path = tmp_path / "bad.w2v"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        load_word2vec_format(path, binary=binary)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_word2vec_format(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    "words, vectors, error, match",
    [
        (["a b", "c"], np.zeros((2, 2)), ValueError, r"words\[0\] must be .*'a b'"),
        (["a", ""], np.zeros((2, 2)), ValueError, r"words\[1\] must be .*got ''"),
        (["a", "a\n"], np.zeros((2, 2)), ValueError, r"words\[1\] must be .*wh"),
        (["a", "a"], np.zeros((2, 2)), ValueError, "must not repeat an entry"),
        (["a", 1], np.zeros((2, 2)), TypeError, r"words\[1\] must be a str"),
        (["a"], np.zeros((2, 2)), ValueError, r"len\(words\) must equal .* 2, got 1"),
        (["a"], np.zeros(2), ValueError, "must be 2-D"),
        (["a"], np.zeros((1, 0)), ValueError, "at least one column, got shape"),
        (["a"], np.array([[np.nan, 1.0]]), ValueError, "NaN"),
        (["a", "b"], np.array([[1.0, 2.0], [-1e39, 0.0]]), ValueError,
         r"must fit float32 .*got 1e\+39 in row 1"),
        ("ab", np.zeros((2, 2)), TypeError, "sequence of str"),
        (["a"], np.array([["x"]]), TypeError, "real numbers"),
    ],
)  # fmt: skip
def test_save_rejects_bad_inputs(tmp_path, words, vectors, error, match):
    path = tmp_path / "out.txt"
    with pytest.raises(error, match=f"wordvectors.save_word2vec_format: .*{match}"):
        save_word2vec_format(path, words, vectors)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
