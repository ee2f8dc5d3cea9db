# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.datasets: corpora, evaluation sets and the download cache.

No network: downloads use ``file://`` URLs to local files, or a patched
``urllib.request.urlopen``.
"""

import bz2
import dataclasses
import gzip
import hashlib
import http.client
import io
import lzma
import os
import pathlib
import re
import struct
import threading
import urllib.error
import urllib.request
import zipfile
import zlib

import numpy as np
import pytest

from jaxns import datasets
from jaxns import text as text_module
from jaxns.data import make_debian_corpus, make_wordnet_corpus
from jaxns.datasets import (
    RemoteFile,
    default_cache_dir,
    download,
    load_analogies,
    load_corpus,
    load_encoded_corpus,
    load_similarity,
)


def _reference_corpus(text, max_len, lowercase=False):
    """Sentences as defined: lines split on whitespace, cut into chunks."""
    if lowercase:
        text = text.lower()
    out = []
    for line in text.split("\n"):
        tokens = line.split()
        out.extend(tokens[i : i + max_len] for i in range(0, len(tokens), max_len))
    return out


# ----------------------------------------------------------------------------
# built-in corpus and its generator


def test_builtin_corpus():
    corpus = load_corpus("builtin")
    assert len(corpus) == 166_002
    assert sum(map(len, corpus)) == 1_461_052
    assert corpus[0][:4] == ["that", "which", "is", "perceived"]
    token = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*\Z")
    vocabulary = {word for sentence in corpus for word in sentence}
    assert all(token.match(word) for word in vocabulary)
    assert {"dog", "well-known", "one's", "1990"} <= vocabulary
    assert max(map(len, corpus)) <= 10_000


def _sword_module(directory, testament_texts, ext):
    """A SWORD zCom/zText module: zlib blocks indexed by (offset, size, usize)."""
    directory.mkdir(parents=True)
    for testament, blocks in testament_texts.items():
        index, data = b"", b""
        for text in blocks:
            raw = text.encode()
            packed = zlib.compress(raw)
            index += struct.pack("<III", len(data), len(packed), len(raw))
            data += packed
        (directory / f"{testament}.{ext}zs").write_bytes(index)
        (directory / f"{testament}.{ext}zz").write_bytes(data)


def test_make_debian_corpus_on_tiny_packages(tmp_path):
    share = tmp_path / "usr" / "share"
    (share / "dictd").mkdir(parents=True)
    gcide = (
        "00-database-info\n   This file was converted.\n\n"
        'Aback \\A*back"\\ ([.a]*b[a^]k"), adv. [Pref. a- + b[ae]c.]\n'
        '   1. Toward the back; backward. "Therewith aback she start."\n'
        "      --Chaucer.\n   [1913 Webster]\n\n"
        "   Syn: rearward\n"
        'Abdomen \\Ab*do"men\\, n.\n   the belly {cavity}. [R.]\n'
        "   [WordNet 1.5]\n"
        "Ab \\Ab\\, n. The fifth month! Hot.\n"
    )
    (share / "dictd" / "gcide.dict.dz").write_bytes(gzip.compress(gcide.encode()))
    for name, text in (
        ("jargon", "foo n. A word.\n"),
        ("devil", "BORE, n. A person.\n"),
    ):
        (share / "dictd" / f"{name}.dict.dz").write_bytes(gzip.compress(text.encode()))
    tdavid = share / "sword" / "modules" / "comments" / "zcom" / "tdavid"
    _sword_module(
        tdavid,
        {"ot": ['<title>Psalm 1</title> Blessed is the man.<note n="a">x y</note>'],
         "nt": []},
        "c",
    )  # fmt: skip
    fortunes = share / "games" / "fortunes"
    fortunes.mkdir(parents=True)
    (fortunes / "wisdom").write_text("Don\u2019t panic.\n%\nBe kind. Now!\n%\n")
    (fortunes / "wisdom.dat").write_bytes(b"\x00\x01")
    (fortunes / "art").write_text("  /\\_/\\\n")
    sentences = [" ".join(s) for s in make_debian_corpus.iter_corpus(str(tmp_path))]
    # No header entry, no WordNet entry, no Syn: list, no footnote, no art.
    assert sentences == [
        "aback adv", "toward the back backward", "therewith aback she start",
        "ab the fifth month", "hot",
        "psalm 1 blessed is the man",
        "don't panic", "be kind", "now",
        "foo a word", "bore a person",
    ]  # fmt: skip


def test_debian_corpus_loads_from_the_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_debian_corpus.py"):
        load_corpus("debian", cache_dir=tmp_path)
    (tmp_path / "debian_english.txt.xz").write_bytes(lzma.compress(b"a b\nc\n"))
    assert load_corpus("debian", cache_dir=tmp_path) == [["a", "b"], ["c"]]


def test_wordnet_tokenizer_and_gloss_split():
    tokens = make_wordnet_corpus.tokenize(
        "A well-known (e.g. 'classic') O'Brien's -- dog_house, 3.5 km!"
    )
    assert tokens == "a well-known e g classic o'brien's dog house 3 5 km".split()
    gloss = 'have a firm understanding; "Do you control these data?"; "ok" - Bard'
    assert make_wordnet_corpus.gloss_sentences(gloss) == [
        "have a firm understanding; ",
        "Do you control these data?",
        "ok",
    ]
    # An unterminated quote runs to the end of the gloss.
    assert make_wordnet_corpus.gloss_sentences('x; "an open quote  ') == [
        "x; ",
        "an open quote  ",
    ]


def test_make_wordnet_corpus_on_a_tiny_wordnet(tmp_path):
    source = tmp_path / "wordnet"
    source.mkdir()
    header = "  1 This software and database is being provided to you\n"
    glosses = {
        "data.noun": 'that which exists; "a real entity"',
        "data.verb": 'move fast; "He ran!"; "Run, Bob" - X',
        "data.adj": "(usually followed by `to') having power",
        "data.adv": "to a high degree  ",
    }
    for offset, (name, gloss) in enumerate(glosses.items()):
        synset = f"{offset:08d} 03 n 01 word 0 000 | {gloss}\n"
        (source / name).write_text(header + synset)
    output = tmp_path / "corpus.txt.xz"
    assert make_wordnet_corpus.build(str(source), str(output)) == (7, 22)
    assert lzma.decompress(output.read_bytes()).decode() == (
        "that which exists\na real entity\nmove fast\nhe ran\nrun bob\n"
        "usually followed by to having power\nto a high degree\n"
    )
    assert load_corpus(output) == [
        line.split()
        for line in lzma.decompress(output.read_bytes()).decode().splitlines()
    ]


# ----------------------------------------------------------------------------
# local text files

TEXT = (
    "The quick brown fox\n"
    "\n"
    "  jumps\tover the   lazy dog \r\n"
    "a b c d e f g h i j k l\n"
    "Ünïcödé wörds — ok\n"
    "last line without newline"
)


def _write(path, text, kind):
    data = text.encode()
    if kind == "gz":
        data = gzip.compress(data)
    elif kind == "xz":
        data = lzma.compress(data)
    elif kind == "bz2":
        data = bz2.compress(data)
    elif kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("member.txt", data)
        return path
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["plain", "gz", "xz", "bz2", "zip"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_local_files_any_compression(tmp_path, kind, lowercase):
    path = _write(tmp_path / f"corpus.{kind}", TEXT, kind)
    expected = _reference_corpus(TEXT, 5, lowercase)
    assert load_corpus(path, max_sentence_length=5, lowercase=lowercase) == expected
    assert load_corpus(str(path), max_sentence_length=5, lowercase=lowercase) == (
        expected
    )


@pytest.mark.parametrize("block_chars", [1, 3, 7, 64])
def test_block_boundaries_never_split_tokens(tmp_path, monkeypatch, block_chars):
    rng = np.random.default_rng(block_chars)
    pieces = rng.choice(["ab", "c", "dddd", " ", "  ", "\n", "\t", "\r\n", "é"], 400)
    text = "".join(pieces)
    path = _write(tmp_path / "c.txt", text, "plain")
    monkeypatch.setattr(datasets, "_BLOCK_CHARS", block_chars)
    for max_len in (1, 3, 1000):
        assert load_corpus(path, max_sentence_length=max_len) == _reference_corpus(
            text, max_len
        )


def _encoded_reference(sentences, min_count=1, max_size=None):
    """Vocabulary and streams of ``sentences``, counted and encoded in plain
    Python (decreasing count, ties in order of first appearance)."""
    counts, first = {}, {}
    for w in (w for s in sentences for w in s):
        counts[w] = counts.get(w, 0) + 1
        first.setdefault(w, len(first))
    words = sorted((w for w in counts if counts[w] >= min_count),
                   key=lambda w: (-counts[w], first[w]))[:max_size]  # fmt: skip
    index = {w: i for i, w in enumerate(words)}
    pairs = [(index[w], s) for s, ws in enumerate(sentences) for w in ws if w in index]
    ids, sent = zip(*pairs, strict=True) if pairs else ((), ())
    return words, [counts[w] for w in words], list(ids), list(sent)


def _check_encoded(path, text, *, min_count=1, max_size=None, **kwargs):
    vocab, corpus = load_encoded_corpus(
        path, min_count=min_count, max_size=max_size, **kwargs
    )
    sentences = _reference_corpus(
        text, kwargs.get("max_sentence_length", 10_000), kwargs.get("lowercase", False)
    )
    words, counts, ids, sent = _encoded_reference(sentences, min_count, max_size)
    assert list(vocab.words) == words
    assert vocab.counts.tolist() == counts
    assert corpus.ids.tolist() == ids
    assert corpus.sentence_ids.tolist() == sent
    assert corpus.ids.dtype == corpus.sentence_ids.dtype == np.int32
    assert corpus.num_raw_words == sum(map(len, sentences))
    assert corpus.num_sentences == len(sentences)


@pytest.mark.parametrize("kind", ["plain", "gz", "xz", "bz2", "zip"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_load_encoded_corpus_any_compression(tmp_path, kind, lowercase):
    """The vocabulary and streams that counting and encoding the defined
    sentences by hand give, for every archive kind; words below min_count
    and beyond max_size are dropped from the streams."""
    text = "\ufeff" + TEXT + "\nthe the fox Fox a b\n" * 3
    path = _write(tmp_path / f"corpus.{kind}", text, kind)
    text = text[1:]  # the byte-order mark is not a word
    for max_len, min_count, max_size in [(5, 1, None), (3, 2, None), (10_000, 1, 4)]:
        _check_encoded(path, text, min_count=min_count, max_size=max_size,
                       max_sentence_length=max_len, lowercase=lowercase)  # fmt: skip


@pytest.mark.parametrize("kind", ["plain", "xz", "bz2"])
@pytest.mark.parametrize("block_chars", [1, 3, 7, 64])
def test_load_encoded_corpus_block_boundaries(tmp_path, monkeypatch, kind, block_chars):
    """Lines spanning blocks and long lines cut into sentences come out as
    the definition says, also when the decompressor is fed a byte at a time."""
    rng = np.random.default_rng(block_chars)
    pieces = rng.choice(["ab", "c", "dddd", " ", "  ", "\n", "\t", "\r\n", "é"], 400)
    text = "".join(pieces)
    path = _write(tmp_path / f"c.{kind}", text, kind)
    monkeypatch.setattr(datasets, "_BLOCK_CHARS", block_chars)
    monkeypatch.setattr(datasets, "_RAW_BLOCK_BYTES", block_chars)
    for max_len in (1, 3, 1000):
        _check_encoded(path, text, max_sentence_length=max_len)
        assert load_corpus(path, max_sentence_length=max_len) == _reference_corpus(
            text, max_len
        )


@pytest.mark.parametrize("kind", ["xz", "bz2"])
def test_streams_read_like_the_standard_library(tmp_path, monkeypatch, kind):
    """Concatenated streams are read one after another and trailing bytes that
    are not a stream are ignored, as lzma.open and bz2.open read them; a
    truncated stream is an error naming the file."""
    compress = lzma.compress if kind == "xz" else bz2.compress
    opener = lzma.open if kind == "xz" else bz2.open
    monkeypatch.setattr(datasets, "_RAW_BLOCK_BYTES", 16)  # many reads per stream
    for data in [
        compress(b"a b c\nd ") + compress(b"e f\ng\n"),
        compress(b"a b\n") + compress(b"") + compress(b"c c\n") + b"not a stream",
        compress(b"x y\n" * 50),
    ]:
        path = tmp_path / f"c.{kind}"
        path.write_bytes(data)
        with opener(path, "rt") as f:
            text = f.read()
        assert load_corpus(path) == _reference_corpus(text, 10_000)
        _check_encoded(path, text)
    truncated = tmp_path / f"t.{kind}"
    truncated.write_bytes(compress(b"some words here\n" * 100)[:-20])
    for load in (load_corpus, load_encoded_corpus):
        with pytest.raises(ValueError, match=f"cannot read {truncated}"):
            load(truncated)


def test_the_read_ahead_thread_ends_with_the_read(tmp_path, monkeypatch):
    """Also when the reader stops early, and when reading fails."""
    monkeypatch.setattr(datasets, "_BLOCK_CHARS", 4)
    path = _write(tmp_path / "c.xz", "a b c d\n" * 100, "xz")

    def readers():
        return [t for t in threading.enumerate() if t.name == "jaxns-read-ahead"]

    with pytest.raises(KeyError):
        with datasets._reading(path, "caller", lowercase=False) as blocks:
            next(blocks)
            assert len(readers()) == 1
            raise KeyError("stop")
    assert readers() == []
    assert load_encoded_corpus(path, min_count=1)[1].num_sentences == 100
    truncated = _write(tmp_path / "t.xz", "a b\n" * 1000, "xz")
    truncated.write_bytes(truncated.read_bytes()[:-30])
    with pytest.raises(ValueError, match="cannot read"):
        load_corpus(truncated)
    assert readers() == []


def test_load_encoded_corpus_builtin_matches_encoding_the_loaded_corpus():
    vocab, corpus = load_encoded_corpus("builtin", min_count=5)
    sentences = load_corpus("builtin")
    ref = text_module.Vocabulary.build(sentences, min_count=5)
    assert vocab.words == ref.words
    np.testing.assert_array_equal(vocab.counts, ref.counts)
    for a, b in zip(corpus, ref.encode(sentences), strict=True):
        np.testing.assert_array_equal(a, b)
    assert corpus.num_sentences == len(sentences) == 166_002


def test_load_encoded_corpus_errors_name_the_function(tmp_path):
    caller = "datasets.load_encoded_corpus"
    rare = _write(tmp_path / "rare.txt", "a b c\n", "plain")
    with pytest.raises(ValueError, match=f"{caller}: no word occurs at least "
                       "min_count=5 times"):  # fmt: skip
        load_encoded_corpus(rare)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        load_encoded_corpus(tmp_path)
    for kwargs, error, match in [
        ({"min_count": 0}, ValueError, "min_count must be >= 1"),
        ({"max_size": 0}, ValueError, "max_size must be >= 1"),
        ({"min_count": 2.0}, TypeError, "min_count must be a Python int"),
        *_BAD_LOAD_CORPUS,
    ]:
        kwargs = {"name_or_path": "builtin", **kwargs}
        with pytest.raises(error, match=f"{caller}: {match}"):
            load_encoded_corpus(**kwargs)


def test_text8_style_single_line_is_chunked_like_gensim(tmp_path):
    words = [f"w{i % 37}" for i in range(25_003)]
    path = _write(tmp_path / "text8", " " + " ".join(words), "plain")
    corpus = load_corpus(path)
    assert [len(s) for s in corpus] == [10_000, 10_000, 5_003]
    assert [w for s in corpus for w in s] == words
    # Words are shared objects (interned), not one copy per token.
    assert len({id(w) for s in corpus for w in s if w == "w5"}) == 1
    gensim_word2vec = pytest.importorskip("gensim.models.word2vec")
    theirs = list(gensim_word2vec.Text8Corpus(str(path), max_sentence_length=10_000))
    assert corpus == theirs


@pytest.mark.parametrize("load", [load_corpus, load_encoded_corpus])
def test_corpus_errors_name_the_file(tmp_path, load):
    caller = f"datasets.{load.__name__}"
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match=f"{caller}: no such file: {missing}"):
        load(missing)
    with pytest.raises(
        FileNotFoundError, match="not a built-in corpus: builtin, text8"
    ):
        load("text9")
    empty = _write(tmp_path / "empty.txt", " \n\t\n", "plain")
    with pytest.raises(ValueError, match=f"{caller}: corpus {empty} is empty"):
        load(empty)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match=f"{caller}: {latin1} is not UTF-8"):
        load(latin1)
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(gzip.compress(b"some words here\n" * 100)[:-20])
    with pytest.raises(ValueError, match=f"{caller}: cannot read {corrupt}"):
        load(corrupt)
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.txt", "a")
        archive.writestr("b.txt", "b")
    with pytest.raises(ValueError, match=f"{two} must hold exactly one file, got 2"):
        load(two)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        load(tmp_path)


_BAD_LOAD_CORPUS = [
    ({"max_sentence_length": 0}, ValueError, "max_sentence_length must be >= 1"),
    ({"max_sentence_length": -1}, ValueError, "max_sentence_length must be >= 1"),
    ({"max_sentence_length": 2.5}, TypeError, "max_sentence_length must be a Python"),
    ({"max_sentence_length": True}, TypeError, "max_sentence_length must be a Python"),
    ({"lowercase": "yes"}, TypeError, "lowercase must be a bool"),
    ({"name_or_path": 3}, TypeError, "name_or_path must be a str or os.PathLike"),
]


@pytest.mark.parametrize("kwargs,error,match", _BAD_LOAD_CORPUS)
def test_load_corpus_rejects_bad_arguments(kwargs, error, match):
    kwargs = {"name_or_path": "builtin", **kwargs}
    with pytest.raises(error, match=f"datasets.load_corpus: {match}"):
        load_corpus(**kwargs)


# ----------------------------------------------------------------------------
# cache directory and downloads


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("JAXNS_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "jaxns"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "jaxns"


@pytest.mark.parametrize("xdg", ["relative/cache", "cache", "./cache"])
def test_default_cache_dir_ignores_a_relative_xdg_cache_home(
    monkeypatch, tmp_path, xdg
):
    """The XDG specification: a relative path in XDG_CACHE_HOME is invalid and
    ignored (it put the cache under whatever directory Python started in)."""
    monkeypatch.delenv("JAXNS_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "jaxns"
    monkeypatch.setenv("XDG_CACHE_HOME", "~/xdg")
    assert default_cache_dir() == tmp_path / "home" / "xdg" / "jaxns"


def test_cache_dir_argument_expands_a_tilde(monkeypatch, tmp_path):
    """cache_dir="~/c" is the home's c, as JAXNS_CACHE="~/c" is (it made a
    directory named "~" in the working directory)."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    source = tmp_path / "source.bin"
    source.write_bytes(b"some bytes\n")
    path = download(_remote_for(source), cache_dir="~/c")
    assert path == home / "c" / "file.bin" and path.read_bytes() == b"some bytes\n"
    (home / "c" / "debian_english.txt.xz").write_bytes(lzma.compress(b"a b\nc\n"))
    assert load_corpus("debian", cache_dir="~/c") == [["a", "b"], ["c"]]
    assert list(work.iterdir()) == []


def _remote_for(path, **changes):
    data = path.read_bytes()
    remote = RemoteFile(
        url=path.as_uri(),
        filename="file.bin",
        algorithm="sha256",
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    return dataclasses.replace(remote, **changes)


def _no_network(*args, **kwargs):
    raise AssertionError("unexpected download")


def test_download_verifies_caches_and_reuses(tmp_path, monkeypatch):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3000))
    cache = tmp_path / "cache"
    remote = _remote_for(source)
    path = download(remote, cache_dir=cache)
    assert path == cache / "file.bin" and path.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == ["file.bin"]
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    assert download(remote, cache_dir=cache) == path  # cached: no download
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    sha1_remote = dataclasses.replace(remote, algorithm="sha1", digest=sha1)
    assert download(sha1_remote, cache_dir=cache) == path


def test_download_with_bad_checksum_is_deleted(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"not what we expected")
    cache = tmp_path / "cache"
    wrong = "0" * 64
    remote = _remote_for(source, digest=wrong)
    actual = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.raises(ValueError) as info:
        download(remote, cache_dir=cache)
    message = str(info.value)
    for part in (str(cache / "file.bin"), remote.url, "sha256", wrong, actual):
        assert part in message
    assert list(cache.iterdir()) == []  # nothing cached, no partial file
    with pytest.raises(ValueError, match="size 20 bytes, expected 21 bytes"):
        download(_remote_for(source, size=21), cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_corrupt_cached_file_is_deleted_and_downloaded_again(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"good bytes")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "file.bin").write_bytes(b"evil bytes")  # same size, wrong digest
    with pytest.warns(RuntimeWarning, match="is corrupt .*checksum mismatch"):
        path = download(_remote_for(source), cache_dir=cache)
    assert path.read_bytes() == b"good bytes"


def test_corrupt_cache_and_bad_download_leave_nothing(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"bad download")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "file.bin").write_bytes(b"truncated")
    remote = _remote_for(source, digest="f" * 64)
    with pytest.warns(RuntimeWarning, match="size 9 bytes, expected 12"):
        with pytest.raises(ValueError, match="failed verification"):
            download(remote, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_network_failure_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    remote = RemoteFile("http://example.invalid/x.zip", "x.zip", "sha1", "ab" * 20)
    with pytest.raises(OSError, match=r"could not download .*x\.zip.*place it at"):
        download(remote, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


class _CutResponse(io.BytesIO):
    """A chunked HTTP response whose connection drops after some bytes."""

    def read(self, size=-1):
        if self.tell():
            raise http.client.IncompleteRead(b"", 1024)
        return super().read(100)


def test_connection_cut_mid_download_is_an_oserror_and_leaves_nothing(
    tmp_path, monkeypatch
):
    """http.client.IncompleteRead is no OSError: it escaped the documented
    error and its advice (and load_interactions' how-to-get message)."""
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda *a, **k: _CutResponse(b"x" * 1000)
    )
    remote = RemoteFile("http://example.invalid/x.zip", "x.zip", "sha1", "ab" * 20)
    with pytest.raises(OSError, match=r"could not download .*IncompleteRead.*place"):
        download(remote, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_text8_through_the_download_path(tmp_path, monkeypatch):
    words = [f"w{i % 11}" for i in range(2_500)]
    archive = tmp_path / "served" / "text8.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("text8", " " + " ".join(words))
    data = archive.read_bytes()

    class FakeResponse:
        def __init__(self, payload):
            self._payload = payload

        def read(self, size):
            chunk, self._payload = self._payload[:size], self._payload[size:]
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return FakeResponse(data)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    remote = dataclasses.replace(
        datasets.TEXT8, digest=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    monkeypatch.setattr(datasets, "TEXT8", remote)
    cache = tmp_path / "cache"
    corpus = load_corpus("text8", cache_dir=cache, max_sentence_length=1000)
    assert calls == ["http://mattmahoney.net/dc/text8.zip"]
    assert [len(s) for s in corpus] == [1000, 1000, 500]
    assert [w for s in corpus for w in s] == words
    load_corpus("text8", cache_dir=cache)
    assert len(calls) == 1  # served from the cache
    # A cached file with the wrong checksum is replaced.
    flipped = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
    (cache / "text8.zip").write_bytes(flipped)
    with pytest.warns(RuntimeWarning, match="text8.zip is corrupt"):
        load_corpus("text8", cache_dir=cache)
    assert len(calls) == 2


def test_text8_pin_rejects_a_file_of_the_right_size_and_wrong_digest(tmp_path):
    """The TEXT8 pin is enforced: a stand-in of exactly text8.zip's pinned size
    (sparse zeros, so the size check passes) fails the pinned SHA-256, and is
    deleted, never cached; a file of another size fails the size check first."""
    fake = tmp_path / "text8.zip"
    with open(fake, "wb") as handle:
        handle.truncate(datasets.TEXT8.size)
    remote = dataclasses.replace(datasets.TEXT8, url=fake.as_uri())
    assert remote.algorithm == "sha256" and len(remote.digest) == 64
    cache = tmp_path / "cache"
    with pytest.raises(ValueError) as info:
        download(remote, cache_dir=cache)
    actual = hashlib.sha256(fake.read_bytes()).hexdigest()
    for part in ("sha256", datasets.TEXT8.digest, actual):
        assert part in str(info.value)
    assert list(cache.iterdir()) == []
    short = tmp_path / "short.zip"
    short.write_bytes(b"PK")
    with pytest.raises(ValueError, match=f"expected {datasets.TEXT8.size} bytes"):
        download(dataclasses.replace(remote, url=short.as_uri()), cache_dir=cache)
    assert list(cache.iterdir()) == []


# ----------------------------------------------------------------------------
# evaluation sets


def test_shipped_similarity_sets():
    wordsim = load_similarity("wordsim353")
    simlex = load_similarity("simlex999")
    assert len(wordsim) == 353 and len(simlex) == 999
    assert wordsim[1] == ("tiger", "cat", 7.35)
    assert simlex[0] == ("old", "new", 1.58)
    for pairs in (wordsim, simlex):
        scores = [s for _, _, s in pairs]
        assert 0 <= min(scores) and max(scores) <= 10


def test_shipped_analogies():
    sections = load_analogies("google")
    assert len(sections) == 14
    assert sum(map(len, sections.values())) == 19_544
    assert list(sections)[:2] == ["capital-common-countries", "capital-world"]
    assert len(sections["gram6-nationality-adjective"]) == 1599
    assert all(len(q) == 4 for qs in sections.values() for q in qs)


def test_shipped_copies_equal_gensims():
    gensim = pytest.importorskip("gensim")
    test_data = pathlib.Path(gensim.__file__).parent / "test" / "test_data"
    assert load_similarity("wordsim353") == load_similarity(
        test_data / "wordsim353.tsv"
    )
    assert load_similarity("simlex999") == load_similarity(test_data / "simlex999.txt")
    assert load_analogies("google") == load_analogies(test_data / "questions-words.txt")


def test_similarity_file_formats(tmp_path):
    path = tmp_path / "sim.txt"
    # Line 4 has four whitespace-separated fields and no tab.
    path.write_text("# comment\n\nold\tnew\t1.5\nNew York  city 2\r\n")
    with pytest.raises(ValueError, match=f"{path} line 4: expected 'word1 word2"):
        load_similarity(path)
    path.write_text("old\tnew\t1.5\nthe  cat 2\r\n# c\na\tb\t-0.5\n")
    assert load_similarity(path) == [
        ("old", "new", 1.5),
        ("the", "cat", 2.0),
        ("a", "b", -0.5),
    ]
    gz = tmp_path / "sim.tsv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert load_similarity(gz) == load_similarity(path)


_BOM = "\ufeff"


@pytest.mark.parametrize("kind", ["plain", "gz", "zip"])
@pytest.mark.parametrize(
    "reader, text, expected",
    [
        (
            load_similarity,
            "cat\tdog\t8.0\ncar\ttruck\t9.0\n",
            [("cat", "dog", 8.0), ("car", "truck", 9.0)],
        ),
        (load_analogies, ": s\na b c d\n", {"s": [("a", "b", "c", "d")]}),
        (load_corpus, "cat dog\ncar\n", [["cat", "dog"], ["car"]]),
    ],
)
def test_readers_drop_a_utf8_byte_order_mark(tmp_path, kind, reader, text, expected):
    # Excel's "CSV UTF-8" and many Windows tools start files with U+FEFF.
    path = _write(tmp_path / f"bom.{kind}", _BOM + text, kind)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf") == (kind == "plain")
    assert reader(path) == expected
    # Only a leading mark is dropped: one inside the text stays a character.
    inner = _write(tmp_path / f"inner.{kind}", "x y\n" + _BOM + "z\n", kind)
    assert load_corpus(inner) == [["x", "y"], [_BOM + "z"]]


@pytest.mark.parametrize(
    "content, match",
    [
        ("a\tb\n", "line 1: expected 'word1 word2 score'"),
        ("# c\na b c d\n", "line 2: expected"),
        ("a\tb\tlots\n", "line 1: score 'lots' is not a finite number"),
        ("a\tb\tnan\n", "line 1: score 'nan' is not a finite number"),
        ("# only comments\n", "holds no word pairs"),
    ],
)
def test_malformed_similarity_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_similarity(path)
    assert str(path) in str(info.value)


def test_analogy_file_format(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": one\na b c d\n\n#x\n: two\nA  B\tC D\n: empty\n")
    assert load_analogies(path) == {
        "one": [("a", "b", "c", "d")],
        "two": [("A", "B", "C", "D")],
        "empty": [],
    }


@pytest.mark.parametrize(
    "content, match",
    [
        ("a b c d\n", "line 1: question before the first ': section' header"),
        (": s\na b c\n", "line 2: expected four words"),
        (": s\na b c d e\n", "line 2: expected four words"),
        (": s\na b c d\n: s\n", "line 3: a repeated \\('s'\\) section name"),
        (":\n", "line 1: an empty section name"),
        (": s\n", "holds no analogy questions"),
    ],
)
def test_malformed_analogy_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_analogies(path)
    assert str(path) in str(info.value)


def test_evaluation_set_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="shipped sets: wordsim353, simlex999"):
        load_similarity("wordsim999")
    with pytest.raises(FileNotFoundError, match="shipped sets: google"):
        load_analogies(tmp_path / "nope.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00a b 1\n")
    with pytest.raises(ValueError, match=f"{binary} is not UTF-8"):
        load_similarity(binary)
