# SPDX-License-Identifier: Apache-2.0
"""Corpora and word-vector evaluation sets, with a checksummed download cache.

Three kinds of data feed the skip-gram job:

* **Corpora** (:func:`load_corpus`) as lists of tokenised sentences:

  - ``"builtin"``: the glosses and example sentences of WordNet 3.0 (Miller,
    1995), shipped with jaxns (about 166 thousand sentences, 1.46 million
    tokens, 2.2 MB compressed), so that everything runs offline;
  - ``"text8"``: the first 10^8 bytes of a cleaned English Wikipedia dump
    (Mahoney, 17 million tokens), downloaded once from
    ``http://mattmahoney.net/dc/text8.zip``, verified against a pinned SHA-256
    and cached (:func:`download`);
  - ``"debian"``: a held-out 6.4-million-token English corpus (GCIDE's
    Webster 1913 dictionary without its WordNet entries, Spurgeon's *Treasury
    of David*, the fortune files, the Jargon File, *The Devil's Dictionary*),
    built once into the cache from Debian packages by
    ``jaxns/data/make_debian_corpus.py`` (not shipped: part of it is GPL);
  - any local text file, one sentence per line, tokens separated by
    whitespace, optionally compressed (gzip, xz, bzip2, or a zip archive
    holding one file).

* **Word-similarity sets** (:func:`load_similarity`): WordSim-353
  (Finkelstein et al., 2002) and SimLex-999 (Hill et al., 2015), shipped.
* **Analogy questions** (:func:`load_analogies`): the Google analogy set
  (Mikolov et al., 2013), shipped.

Provenance and licences of the shipped files are in ``jaxns/data/README.md``.
Downloads go to the cache directory given by :func:`default_cache_dir`.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import dataclasses
import gc
import gzip
import hashlib
import http.client
import importlib.resources
import io
import lzma
import math
import os
import pathlib
import queue
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

import numpy as np

from jaxns import _checks, text

_T = TypeVar("_T")

__all__ = [
    "BUILTIN_CORPORA",
    "RemoteFile",
    "TEXT8",
    "default_cache_dir",
    "download",
    "load_analogies",
    "load_corpus",
    "load_encoded_corpus",
    "load_similarity",
]


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file to download once, verify and cache.

    Attributes:
      url: where to fetch it (``http(s)://`` or ``file://``).
      filename: its name inside the cache directory.
      algorithm: the :mod:`hashlib` name of the pinned digest (``"sha1"``,
        ``"sha256"``).
      digest: the expected hexadecimal digest of the whole file.
      size: the expected size in bytes, checked first (cheap), or ``None``.
    """

    url: str
    filename: str
    algorithm: str
    digest: str
    size: int | None = None


# The SHA-256 of http://mattmahoney.net/dc/text8.zip as independent public
# projects pin it (two agree; they also pin 6e890197...dca7 for the extracted
# 100,000,000-byte member), and the size the TensorFlow word2vec tutorial checks.
# GluonNLP pins the same file's SHA-1, 6c70299b93b7e1f927b42cd8f6ac1a31547c7a2e.
TEXT8 = RemoteFile(
    url="http://mattmahoney.net/dc/text8.zip",
    filename="text8.zip",
    algorithm="sha256",
    digest="a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232",
    size=31_344_016,
)

BUILTIN_CORPORA = ("builtin", "text8", "debian")
_DEBIAN_FILE = "debian_english.txt.xz"
_BUILTIN_FILE = "wordnet_glosses.txt.xz"
_SIMILARITY_FILES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
_ANALOGY_FILES = {"google": "questions-words.txt.gz"}
_BLOCK_CHARS = 1 << 23
_RAW_BLOCK_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20


def _data_file(name: str) -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("jaxns").joinpath("data", name)))


def default_cache_dir() -> pathlib.Path:
    """The directory where jaxns caches downloads.

    ``$JAXNS_CACHE`` if set, else ``$XDG_CACHE_HOME/jaxns`` if that is an
    absolute path (the XDG specification says to ignore a relative one), else
    ``~/.cache/jaxns``; a leading ``~`` is expanded. The directory is not
    created here.

    Returns:
      The cache directory as a :class:`pathlib.Path`.

    Examples:
      >>> import os
      >>> import jaxns
      >>> os.environ["JAXNS_CACHE"] = "/tmp/my-jaxns-cache"
      >>> print(jaxns.datasets.default_cache_dir())
      /tmp/my-jaxns-cache
      >>> del os.environ["JAXNS_CACHE"]

    References:
      The `XDG Base Directory Specification
      <https://specifications.freedesktop.org/basedir-spec/latest/>`_.
    """
    if os.environ.get("JAXNS_CACHE"):
        return pathlib.Path(os.environ["JAXNS_CACHE"]).expanduser()
    xdg = pathlib.Path(os.environ.get("XDG_CACHE_HOME", "")).expanduser()
    if xdg.is_absolute():
        return xdg / "jaxns"
    return pathlib.Path.home() / ".cache" / "jaxns"


def _file_digest(path: pathlib.Path, algorithm: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def _verify(path: pathlib.Path, remote: RemoteFile) -> str | None:
    """Return None if ``path`` matches ``remote``, else what is wrong."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size} bytes, expected {remote.size} bytes"
    actual = _file_digest(path, remote.algorithm)
    if actual != remote.digest.lower():
        return (
            f"{remote.algorithm} checksum mismatch: expected {remote.digest}, "
            f"got {actual}"
        )
    return None


def download(
    remote: RemoteFile, *, cache_dir: str | os.PathLike[str] | None = None
) -> pathlib.Path:
    """Download ``remote`` into the cache (once), verify it and return its path.

    A cached copy is verified (size, then digest) on every call. A cached copy
    that fails verification is deleted with a :class:`RuntimeWarning` and
    downloaded again. A download goes to a temporary file in the cache
    directory, is verified, and only then atomically renamed to its final
    name, so an interrupted or corrupt download is never cached.

    Args:
      remote: what to fetch (for example :data:`TEXT8`).
      cache_dir: the cache directory (a leading ``~`` is expanded); default
        :func:`default_cache_dir`. Created if missing.

    Returns:
      The path of the verified file in the cache.

    Raises:
      ValueError: the downloaded file fails verification; the message names
        the URL, the file, the algorithm, and the expected and actual
        digests (or sizes). The bad download is deleted.
      OSError: the download itself failed (no network, HTTP error, a
        connection cut in the middle); the message says where to put a
        manually downloaded copy.

    Examples:
      >>> import hashlib, pathlib, tempfile
      >>> import jaxns
      >>> tmp = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (tmp / "hello.txt").write_bytes(b"hello world\\n")
      >>> remote = jaxns.datasets.RemoteFile(
      ...     url=(tmp / "hello.txt").as_uri(), filename="hello.txt",
      ...     algorithm="sha256",
      ...     digest=hashlib.sha256(b"hello world\\n").hexdigest(), size=12)
      >>> path = jaxns.datasets.download(remote, cache_dir=tmp / "cache")
      >>> print(path.name, path.read_bytes())
      hello.txt b'hello world\\n'

    References:
      Mahoney, `About the test data
      <http://mattmahoney.net/dc/textdata.html>`_ (text8), 2006.
    """
    if not isinstance(remote, RemoteFile):
        raise TypeError(
            "datasets.download: remote must be a datasets.RemoteFile, got "
            f"{type(remote).__name__}."
        )
    if cache_dir is not None:
        _checks.path("datasets.download", "cache_dir", cache_dir)
    cache = (
        pathlib.Path(cache_dir).expanduser()
        if cache_dir is not None
        else default_cache_dir()
    )
    target = cache / remote.filename
    if target.exists():
        problem = _verify(target, remote)
        if problem is None:
            return target
        target.unlink()
        warnings.warn(
            f"download: cached file {target} is corrupt ({problem}); deleted it "
            f"and downloading {remote.url} again.",
            RuntimeWarning,
            stacklevel=2,
        )
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=cache, prefix=f".{remote.filename}.", suffix=".part"
    )
    tmp = pathlib.Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(remote.url, timeout=60) as response:
                    while chunk := response.read(_CHUNK_BYTES):
                        out.write(chunk)
            # http.client's errors (a connection cut inside a chunked
            # response: IncompleteRead) are not OSErrors.
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                raise OSError(
                    f"download: could not download {remote.url} ({err}). Download "
                    f"it by other means and place it at {target} "
                    f"({remote.algorithm} {remote.digest})."
                ) from err
        problem = _verify(tmp, remote)
        if problem is not None:
            raise ValueError(
                f"download: the file downloaded from {remote.url} for {target} "
                f"failed verification: {problem}. The download was deleted; "
                "try again, or check the URL."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def _open_text(path: pathlib.Path, caller: str) -> Iterator[IO[str]]:
    """Open a (possibly compressed) UTF-8 text file, sniffing the format."""
    if not path.exists():
        raise FileNotFoundError(f"{caller}: no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{caller}: {path} is a directory, not a text file")
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb"))
        magic = raw.read(6)
        raw.seek(0)
        binary: IO[bytes]
        if magic.startswith(b"\x1f\x8b"):
            binary = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif magic.startswith(b"\xfd7zXZ\x00"):
            binary = stack.enter_context(lzma.LZMAFile(raw, "rb"))
        elif magic.startswith(b"BZh"):
            binary = stack.enter_context(bz2.BZ2File(raw, "rb"))
        elif magic.startswith(b"PK\x03\x04"):
            archive = stack.enter_context(zipfile.ZipFile(raw))
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1:
                raise ValueError(
                    f"{caller}: zip archive {path} must hold exactly one file, "
                    f"got {len(members)}"
                )
            binary = stack.enter_context(archive.open(members[0]))
        else:
            binary = raw
        # utf-8-sig drops a leading byte-order mark (Windows tools write one).
        yield io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="strict", newline=""
        )


@contextlib.contextmanager
def _reading(
    path: pathlib.Path, caller: str, *, lowercase: bool
) -> Iterator[Iterator[list[str]]]:
    """The blocks of lines of a (possibly compressed) text file, read ahead
    (:func:`_line_blocks`, :func:`_read_ahead`), with read errors raised as
    ``ValueError`` naming the file, and Python's cyclic collector off: reading
    makes millions of new lists, which it would rescan again and again (a
    third of the time)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with (
            _open_text(path, caller) as handle,
            _read_ahead(_line_blocks(handle, lowercase=lowercase)) as blocks,
        ):
            yield blocks
    except (FileNotFoundError, IsADirectoryError):
        raise
    except UnicodeDecodeError as err:
        raise ValueError(f"{caller}: {path} is not UTF-8 text: {err}") from err
    except _read_errors() as err:
        raise ValueError(f"{caller}: cannot read {path}: {err}") from err
    finally:
        if gc_was_enabled:
            gc.enable()


def _read_errors() -> tuple[type[BaseException], ...]:
    return (
        UnicodeDecodeError,
        EOFError,
        OSError,
        lzma.LZMAError,
        zlib.error,
        zipfile.BadZipFile,
    )


def _byte_blocks(binary: IO[bytes]) -> Iterator[bytes]:
    """The bytes of ``binary`` in blocks of up to ``_BLOCK_CHARS``.

    An xz or bzip2 file is decompressed here, by large calls that release the
    GIL for the whole block (their file objects feed the decompressor 8 kB at
    a time, taking the GIL back after each), with their file objects'
    semantics: concatenated streams are read one after another, trailing
    data that is not a stream is ignored, a truncated stream raises
    ``EOFError``.
    """
    # The compressed file underneath (a private attribute: without it, the
    # file object's own reads below give the same bytes, more slowly).
    raw = getattr(binary, "_fp", None)
    if isinstance(binary, lzma.LZMAFile | bz2.BZ2File) and raw is not None:
        new, trailing_error = (
            (lzma.LZMADecompressor, lzma.LZMAError)
            if isinstance(binary, lzma.LZMAFile)
            else (bz2.BZ2Decompressor, OSError)
        )
        decompressor = new()
        while True:
            if decompressor.eof:
                data = decompressor.unused_data or raw.read(_RAW_BLOCK_BYTES)
                if not data:
                    return
                decompressor = new()  # the next stream
                try:
                    out = decompressor.decompress(data, _BLOCK_CHARS)
                except trailing_error:
                    return  # not a stream: ignored, as the file objects do
            else:
                data = b""
                if decompressor.needs_input:
                    data = raw.read(_RAW_BLOCK_BYTES)
                    if not data:
                        raise EOFError(
                            "Compressed file ended before the end-of-stream "
                            "marker was reached"
                        )
                out = decompressor.decompress(data, _BLOCK_CHARS)
            if out:
                yield out
    while data := binary.read(_BLOCK_CHARS):
        yield data


def _line_blocks(handle: IO[str], *, lowercase: bool) -> Iterator[list[str]]:
    """Yield blocks of ~8M characters of a text stream, split at newlines.

    Each block is cut at its last whitespace character, so that no token is
    split; its last line is unterminated (it goes on in the next block, or
    ends the stream), its other lines are whole. A line may span several
    blocks (text8 is a single 100 MB line).
    """
    # Whole blocks of bytes, decoded here: TextIOWrapper.read would decompress
    # and decode in 8 kB steps, each taking the GIL back from the caller.
    decoder = codecs.getincrementaldecoder(handle.encoding)(errors=handle.errors)
    data_blocks = _byte_blocks(handle.buffer)
    rest = ""
    while True:
        data = next(data_blocks, b"")
        at_end = not data
        block = rest + decoder.decode(data, final=at_end)
        if not at_end:
            cut = max(block.rfind(sep) for sep in (" ", "\n", "\t", "\r"))
            if cut < 0:
                rest = block
                continue
            block, rest = block[: cut + 1], block[cut + 1 :]
        if lowercase:
            block = block.lower()
        yield block.split("\n")
        if at_end:
            return


@contextlib.contextmanager
def _read_ahead(items: Iterator[_T], depth: int = 2) -> Iterator[Iterator[_T]]:
    """``items``, produced ahead in a background thread.

    Reading a compressed corpus is decompression, which releases the GIL: it
    runs on another core while the caller splits and counts the previous
    block. Exceptions reach the caller; the thread has ended when the
    ``with`` block does, also when the caller stopped early.
    """
    queue_ = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue_.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as err:  # re-raised by the consumer
            put((end, err))

    def consume() -> Iterator[_T]:
        while True:
            item, err = queue_.get()
            if err is not None:
                raise err
            if item is end:
                return
            yield item

    thread = threading.Thread(target=produce, name="jaxns-read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()


def _iter_lines_tokens(
    blocks: Iterator[list[str]],
) -> Iterator[tuple[list[str], bool]]:
    """Yield ``(tokens, line_ends)`` pieces of a whitespace-tokenised stream;
    ``line_ends`` says a newline follows (see :func:`_line_blocks`)."""
    for lines in blocks:
        for i, line in enumerate(lines):
            yield line.split(), i < len(lines) - 1


def _read_corpus(
    path: pathlib.Path, *, lowercase: bool, max_sentence_length: int, caller: str
) -> list[list[str]]:
    sentences: list[list[str]] = []
    # One shared str object per distinct word (sys.intern): text8 has 17M
    # tokens but only 254k types, so the corpus takes ~150 MB instead of ~1 GB.
    current: list[str] = []
    num_tokens = 0
    with _reading(path, caller, lowercase=lowercase) as blocks:
        for tokens, line_ends in _iter_lines_tokens(blocks):
            if line_ends and not current and 0 < len(tokens) < max_sentence_length:
                # The common case, a whole short line: no buffering.
                sentences.append(list(map(sys.intern, tokens)))
                num_tokens += len(tokens)
                continue
            if tokens:
                current.extend(map(sys.intern, tokens))
                num_tokens += len(tokens)
            if len(current) >= max_sentence_length:
                full = len(current) - len(current) % max_sentence_length
                sentences.extend(
                    current[i : i + max_sentence_length]
                    for i in range(0, full, max_sentence_length)
                )
                current = current[full:]
            if line_ends and current:
                sentences.append(current)
                current = []
    if current:
        sentences.append(current)
    if num_tokens == 0:
        raise ValueError(f"{caller}: corpus {path} is empty (no tokens)")
    return sentences


def _corpus_path(
    caller: str,
    name_or_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None,
) -> pathlib.Path:
    """The file of a built-in corpus name (downloading text8 once) or a path."""
    _checks.path(caller, "name_or_path", name_or_path)
    if name_or_path == "builtin":
        path = _data_file(_BUILTIN_FILE)
    elif name_or_path == "text8":
        path = download(TEXT8, cache_dir=cache_dir)
    elif name_or_path == "debian":
        cache = pathlib.Path(cache_dir).expanduser() if cache_dir is not None else None
        path = (cache or default_cache_dir()) / _DEBIAN_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{caller}: {path} does not exist; build it with "
                "python jaxns/data/make_debian_corpus.py DEBS_DIR (see its doc)"
            )
    else:
        path = _existing_file(
            caller, name_or_path, "a built-in corpus", BUILTIN_CORPORA
        )
    return path


def load_corpus(
    name_or_path: str | os.PathLike[str],
    *,
    lowercase: bool = False,
    max_sentence_length: int = 10_000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[list[str]]:
    """Load a corpus as a list of sentences, each a list of tokens.

    ``"builtin"`` is the WordNet 3.0 gloss corpus shipped with jaxns (166,002
    sentences, 1,461,052 tokens; lowercase; tokens are runs of ASCII letters
    and digits joined by internal hyphens or apostrophes; see
    ``jaxns/data/make_wordnet_corpus.py``). ``"text8"`` is downloaded once
    (:data:`TEXT8`, :func:`download`) and is a single line of 17,005,207
    lowercase tokens, cut into sentences of ``max_sentence_length`` tokens as
    gensim's ``Text8Corpus`` does. ``"debian"`` reads
    ``debian_english.txt.xz`` from the cache, which
    ``jaxns/data/make_debian_corpus.py`` builds from Debian packages (6.4M
    tokens of general English; see that script). Anything else is the path of
    a UTF-8 text file: one sentence per line (``\\n``), tokens separated by
    whitespace (``str.split``); gzip, xz, bzip2 and single-file zip archives are
    decompressed transparently (recognised by their magic bytes). Lines longer
    than ``max_sentence_length`` tokens are cut into chunks of that length
    (the last one shorter); empty lines are dropped. A leading UTF-8
    byte-order mark is dropped.

    Loading is linear-time string splitting on large blocks (text8 loads in a
    few seconds), and every distinct word is stored once.

    Args:
      name_or_path: ``"builtin"``, ``"text8"``, ``"debian"``, or a path.
      lowercase: lowercase the text before splitting (``str.lower``).
      max_sentence_length: the longest sentence returned; positive.
        word2vec.c uses 1,000 (``MAX_SENTENCE_LENGTH``), gensim 10,000.
      cache_dir: download cache for ``"text8"`` and ``"debian"`` (a leading
        ``~`` is expanded); default :func:`default_cache_dir`.

    Returns:
      The sentences, ``list[list[str]]``, in file order.

    Raises:
      FileNotFoundError: the path does not exist (and is not a built-in
        name); the message names the file and the built-in names.
      ValueError: ``max_sentence_length`` is not a positive integer; the file
        has no tokens, is not UTF-8, or is a corrupt archive (named in the
        message); the text8 download fails verification.
      OSError: the file cannot be read, or text8 cannot be downloaded.

    Examples:
      >>> import jaxns
      >>> corpus = jaxns.datasets.load_corpus("builtin")
      >>> len(corpus), sum(map(len, corpus))
      (166002, 1461052)
      >>> print(" ".join(corpus[1]))
      an entity that has physical existence

    References:
      Miller, `WordNet: A Lexical Database for English
      <https://doi.org/10.1145/219717.219748>`_, 1995.

      Mahoney, `About the test data <http://mattmahoney.net/dc/textdata.html>`_
      (text8), 2006.
    """
    caller = "datasets.load_corpus"
    max_sentence_length = _checks.size(
        caller, "max_sentence_length", max_sentence_length, minimum=1
    )
    lowercase = _checks.flag(caller, "lowercase", lowercase)
    path = _corpus_path(caller, name_or_path, cache_dir)
    return _read_corpus(
        path,
        lowercase=lowercase,
        max_sentence_length=max_sentence_length,
        caller=caller,
    )


def load_encoded_corpus(
    name_or_path: str | os.PathLike[str],
    *,
    min_count: int = 5,
    max_size: int | None = None,
    lowercase: bool = False,
    max_sentence_length: int = 10_000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[text.Vocabulary, text.EncodedCorpus]:
    """Load a corpus straight into its vocabulary and id streams.

    The same result as
    ``jaxns.text.encode_corpus(load_corpus(name_or_path, ...), ...)``, and
    so as :meth:`jaxns.text.Vocabulary.build` followed by
    :meth:`~jaxns.text.Vocabulary.encode`, without building the list of
    sentences: each block of the file is split and its words looked up once,
    and the next block is read and decompressed in a background thread
    meanwhile. On the 6.4M-token ``"debian"`` corpus this takes about half
    the time of the three steps.

    Args:
      name_or_path: ``"builtin"``, ``"text8"``, ``"debian"``, or a path; see
        :func:`load_corpus`, which reads the same files the same way.
      min_count: words seen fewer times are dropped (gensim's default 5).
      max_size: keep at most this many of the most frequent words.
      lowercase: lowercase the text before splitting (``str.lower``).
      max_sentence_length: the longest sentence; longer lines are cut into
        sentences of this many words (the last one shorter), as by
        :func:`load_corpus`.
      cache_dir: download cache for ``"text8"`` and ``"debian"``; default
        :func:`default_cache_dir`.

    Returns:
      ``(vocab, corpus)``: the :class:`jaxns.text.Vocabulary` (most frequent
      word first, ties in order of first appearance) and the
      :class:`jaxns.text.EncodedCorpus`: ``ids`` and ``sentence_ids``,
      ``int32 [num_tokens]``, without the words below ``min_count``;
      ``num_raw_words`` counts every word read and ``num_sentences`` the
      sentences :func:`load_corpus` returns.

    Raises:
      FileNotFoundError: the path does not exist (and is not a built-in
        name).
      TypeError: ``min_count``, ``max_size`` or ``max_sentence_length`` is
        not an int, or ``lowercase`` not a bool.
      ValueError: ``min_count``, ``max_size`` or ``max_sentence_length`` is
        below 1; the file has no tokens, is not UTF-8, or is a corrupt
        archive; no word reaches ``min_count``.
      OSError: the file cannot be read, or text8 cannot be downloaded.

    Examples:
      >>> import jaxns
      >>> vocab, corpus = jaxns.datasets.load_encoded_corpus("builtin")
      >>> len(vocab), corpus.num_raw_words, corpus.num_sentences
      (18963, 1461052, 166002)
      >>> vocab.words[:3]
      ('the', 'a', 'of')

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
    """
    caller = "datasets.load_encoded_corpus"
    min_count, max_size = text._vocabulary_options(caller, min_count, max_size)
    max_sentence_length = _checks.size(
        caller, "max_sentence_length", max_sentence_length, minimum=1
    )
    lowercase = _checks.flag(caller, "lowercase", lowercase)
    path = _corpus_path(caller, name_or_path, cache_dir)
    index = text._FirstSeen()
    id_blocks, length_blocks = [], []
    carried = 0  # the words of the line that goes on past the last block
    with _reading(path, caller, lowercase=lowercase) as blocks:
        for lines in blocks:
            ids, lengths = text._first_seen_ids(index, list(map(str.split, lines)))
            lengths[0] += carried
            carried = int(lengths[-1])
            id_blocks.append(ids)
            length_blocks.append(lengths[:-1])
    length_blocks.append(np.array([carried], np.int64))  # the last line
    first_ids = np.concatenate(id_blocks)
    if first_ids.size == 0:
        raise ValueError(f"{caller}: corpus {path} is empty (no tokens)")
    # Line i of n_i words gives ceil(n_i / max_sentence_length) sentences.
    line_lengths = np.concatenate(length_blocks)
    line_lengths = line_lengths[line_lengths > 0]
    pieces = -(-line_lengths // max_sentence_length)
    first_sentence = np.cumsum(pieces) - pieces
    sentence_ids = np.repeat(first_sentence.astype(np.int32), line_lengths)
    if pieces.max() > 1:  # a word's place in its line picks the piece
        line_start = np.repeat(np.cumsum(line_lengths) - line_lengths, line_lengths)
        place = np.arange(first_ids.size, dtype=np.int64) - line_start
        sentence_ids += (place // max_sentence_length).astype(np.int32)
    return text._vocabulary_and_ids(
        caller, index, first_ids, sentence_ids, int(pieces.sum()),
        min_count=min_count, max_size=max_size,
    )  # fmt: skip


def _resolve_eval_file(
    name_or_path: str | os.PathLike[str], names: dict[str, str], caller: str
) -> pathlib.Path:
    if isinstance(name_or_path, str) and name_or_path in names:
        return _data_file(names[name_or_path])
    _checks.path(caller, "name_or_path", name_or_path)
    return _existing_file(caller, name_or_path, "one of the shipped sets", names)


def _existing_file(
    caller: str, name_or_path: str | os.PathLike[str], what: str, names: Iterable[str]
) -> pathlib.Path:
    """``name_or_path`` as an expanded path, or ``FileNotFoundError`` naming
    ``caller``, the path, and the ``names`` it is not one of (``what``)."""
    path = pathlib.Path(name_or_path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"{caller}: no such file: {path} (and {str(name_or_path)!r} is not "
            f"{what}: {', '.join(names)})"
        )
    return path


def _read_lines(path: pathlib.Path, caller: str) -> list[str]:
    try:
        with _open_text(path, caller) as handle:
            return handle.read().splitlines()
    except (FileNotFoundError, IsADirectoryError):
        raise
    except UnicodeDecodeError as err:
        raise ValueError(f"{caller}: {path} is not UTF-8 text: {err}") from err
    except _read_errors() as err:
        raise ValueError(f"{caller}: cannot read {path}: {err}") from err


def load_similarity(
    name_or_path: str | os.PathLike[str],
) -> list[tuple[str, str, float]]:
    """Load a word-similarity set: pairs of words with a human score.

    ``"wordsim353"`` is WordSim-353 (Finkelstein et al., 2002; 353 pairs,
    relatedness scores 0-10); ``"simlex999"`` is SimLex-999 (Hill et al., 2015;
    999 pairs, similarity scores 0-10). Any other string is a path to a text
    file (optionally compressed) with one pair per line, ``word1 word2 score``,
    separated by tabs if the line has any, else by whitespace; blank lines and
    lines starting with ``#`` are skipped. Words are returned as written;
    :func:`jaxns.evaluation.word_similarity` matches them case-insensitively.

    Args:
      name_or_path: ``"wordsim353"``, ``"simlex999"``, or a path.

    Returns:
      A list of ``(word1, word2, score)``, in file order.

    Raises:
      FileNotFoundError: no such file.
      ValueError: a line has not exactly three fields, or a score that is not
        a finite number (the message names the file and line number); or
        the file holds no pairs.

    Examples:
      >>> import jaxns
      >>> pairs = jaxns.datasets.load_similarity("wordsim353")
      >>> len(pairs), pairs[0]
      (353, ('love', 'sex', 6.77))
      >>> len(jaxns.datasets.load_similarity("simlex999"))
      999

    References:
      Finkelstein et al, `Placing Search in Context: The Concept Revisited
      <https://doi.org/10.1145/503104.503110>`_, 2002.

      Hill et al, `SimLex-999: Evaluating Semantic Models with (Genuine)
      Similarity Estimation <https://arxiv.org/abs/1408.3456>`_, 2015.
    """
    caller = "datasets.load_similarity"
    path = _resolve_eval_file(name_or_path, _SIMILARITY_FILES, caller)
    pairs: list[tuple[str, str, float]] = []
    for line_no, line in enumerate(_read_lines(path, caller), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split("\t") if "\t" in stripped else stripped.split()
        fields = [field.strip() for field in fields]
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise ValueError(
                f"{caller}: {path} line {line_no}: expected 'word1 word2 score', "
                f"got {line!r}"
            )
        try:
            score = float(fields[2])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise ValueError(
                f"{caller}: {path} line {line_no}: score {fields[2]!r} is not a "
                "finite number"
            )
        pairs.append((fields[0], fields[1], score))
    if not pairs:
        raise ValueError(f"{caller}: {path} holds no word pairs")
    return pairs


def load_analogies(
    name_or_path: str | os.PathLike[str],
) -> dict[str, list[tuple[str, str, str, str]]]:
    """Load analogy questions ``a : b :: c : d``, grouped in sections.

    ``"google"`` is the Google analogy set of word2vec (Mikolov et al., 2013):
    19,544 questions in 14 sections (5 semantic, 9 syntactic, ``gram*``). Any
    other string is a path to a file (optionally compressed) in the same
    format: a line ``: section-name`` starts a section, every other non-blank
    line holds four whitespace-separated words ``a b c d`` meaning "a is to b
    as c is to d"; lines starting with ``#`` are skipped. Words are returned as
    written (the Google set capitalises proper nouns).

    Args:
      name_or_path: ``"google"`` or a path.

    Returns:
      An insertion-ordered dict from section name to its list of
      ``(a, b, c, d)`` questions.

    Raises:
      FileNotFoundError: no such file.
      ValueError: a question before the first section header, a line without
        four words, an empty section name, or a repeated section (the
        message names the file and line number); or no questions at all.

    Examples:
      >>> import jaxns
      >>> sections = jaxns.datasets.load_analogies("google")
      >>> len(sections), sum(map(len, sections.values()))
      (14, 19544)
      >>> sections["capital-common-countries"][0]
      ('Athens', 'Greece', 'Baghdad', 'Iraq')

    References:
      Mikolov et al, `Efficient Estimation of Word Representations in Vector
      Space <https://arxiv.org/abs/1301.3781>`_, 2013.
    """
    caller = "datasets.load_analogies"
    path = _resolve_eval_file(name_or_path, _ANALOGY_FILES, caller)
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    section: list[tuple[str, str, str, str]] | None = None
    for line_no, line in enumerate(_read_lines(path, caller), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(":"):
            name = stripped[1:].strip()
            if not name or name in sections:
                what = "an empty" if not name else f"a repeated ({name!r})"
                raise ValueError(
                    f"{caller}: {path} line {line_no}: {what} section name"
                )
            section = sections[name] = []
            continue
        if section is None:
            raise ValueError(
                f"{caller}: {path} line {line_no}: question before the first "
                "': section' header"
            )
        words = stripped.split()
        if len(words) != 4:
            raise ValueError(
                f"{caller}: {path} line {line_no}: expected four words 'a b c d', "
                f"got {line!r}"
            )
        section.append((words[0], words[1], words[2], words[3]))
    if not any(sections.values()):
        raise ValueError(f"{caller}: {path} holds no analogy questions")
    return sections
