# SPDX-License-Identifier: Apache-2.0
"""Build ``debian_english.txt.xz``, a held-out English corpus of 6.4M tokens.

jaxns does not ship this corpus (part of it is GPL-licensed and it is larger
than the package data should be): this script rebuilds it, byte for byte, from
five Debian packages into the user cache (``$JAXNS_CACHE``, see
:func:`jaxns.datasets.default_cache_dir`), where
``jaxns.datasets.load_corpus("debian")`` reads it. None of its text comes from
WordNet, so it is independent of the built-in corpus.

Sources (Debian 12 "bookworm"; get them with ``apt-get download dict-gcide
sword-comm-tdavid fortunes dict-jargon dict-devil``), in this order:

* ``dict-gcide`` 0.48.5+nmu2: GCIDE, the GNU Collaborative International
  Dictionary of English (Webster's 1913 unabridged dictionary with its
  literary quotations, plus later additions), GPL-2.0-or-later;
  ``usr/share/dictd/gcide.dict.dz``.
* ``sword-comm-tdavid`` 2.1-1: C. H. Spurgeon, *The Treasury of David*
  (1869-1885), Victorian English prose commentary quoting hundreds of
  authors, public domain; the SWORD zCom blocks under
  ``usr/share/sword/modules/comments/zcom/tdavid/``.
* ``fortunes`` 1:1.99.1-7.3: the fortune-mod quotation files
  (``usr/share/games/fortunes/*``, without ``art``, ``ascii-art`` and the
  ``.dat``/``.u8`` companions), BSD-licensed collection.
* ``dict-jargon`` 4.4.7-3.1: the Jargon File 4.4.7, public domain;
  ``usr/share/dictd/jargon.dict.dz``.
* ``dict-devil`` 1.0-13.1: Ambrose Bierce, *The Devil's Dictionary* (1911),
  public domain; ``usr/share/dictd/devil.dict.dz``.

Processing. Dictionary files (dictd format, gzip-readable) are split into
entries at blank lines; in each entry the lines are joined, GCIDE's
character codes such as ``[a^]`` or ``[ae]`` become their letters,
``\\...\\`` headword spellings, space-free parentheses (pronunciations) and
``[...]`` spans (etymologies, usage labels, source tags such as
``[1913 Webster]``) are removed, ``{...}`` braces are unwrapped, and sense
numbers or labels (``1.``, ``b.``, ``n.``) and attributions (``--Shak.``)
are removed. Entries tagged as taken from WordNet, ``Syn:`` lists and the
``00-database-*`` header entries are left out. The commentary's OSIS markup
is removed with its ``<note>`` footnotes; a fortune file is split
into entries at ``%`` lines. Every entry is then cut into sentences after
``.``, ``!`` or ``?`` followed by white space, and each sentence is tokenised
as the built-in corpus is (``make_wordnet_corpus.tokenize``: lowercase, runs
of ASCII letters and digits joined by single internal hyphens or
apostrophes); curly quotes become ASCII ones first. Empty sentences are
dropped. The output is one sentence per line, tokens separated by one space,
xz-compressed (preset 9), deterministic for given inputs.

Usage::

    mkdir debs && cd debs && apt-get download dict-gcide sword-comm-tdavid \\
        fortunes dict-jargon dict-devil && cd ..
    python jaxns/data/make_debian_corpus.py debs      # -> $JAXNS_CACHE/...
"""

from __future__ import annotations

import argparse
import glob
import gzip
import lzma
import os
import re
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator

if __package__:
    from .make_wordnet_corpus import _unpack_deb, tokenize
else:  # run as a script: this folder is on sys.path
    from make_wordnet_corpus import _unpack_deb, tokenize

FILENAME = "debian_english.txt.xz"
PACKAGES = ("dict-gcide", "sword-comm-tdavid", "fortunes", "dict-jargon", "dict-devil")
_CODE = re.compile(r"\[([.=^~:'`,\-]?)([A-Za-z]{1,2})([.=^~:'`,\-]?)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def _code(match: re.Match) -> str:
    pre, letters, post = match.groups()
    if pre or post or letters.lower() in ("ae", "oe"):
        return letters
    return match.group(0)  # a label such as [R.] stays for the next step


def clean_dict_entry(text: str) -> str:
    """Strip dictd/GCIDE markup from one entry's joined text."""
    text = _CODE.sub(_code, text)
    text = re.sub(r"\\[^\\]*\\", " ", text)
    text = re.sub(r"\([^\s()]*\)", " ", text)
    for _ in range(3):  # nested brackets, innermost first
        text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"(?:^|(?<=\s))(?:\d+|[a-z])\.(?=\s)", " ", text)  # sense numbers
    text = re.sub(r"--\s*[A-Z][A-Za-z.' ]{0,30}?\.(?=\s|$)", " ", text)  # --Shak.
    return text.replace("{", "").replace("}", "")


def sentences(text: str) -> Iterator[list[str]]:
    """Cut ``text`` into sentences and tokenise them."""
    for piece in _SENTENCE_END.split(text.translate(_QUOTES)):
        tokens = tokenize(piece)
        if tokens:
            yield tokens


def _paragraphs(lines: Iterable[str]) -> Iterator[str]:
    block: list[str] = []
    for line in lines:
        if line.strip():
            block.append(line.strip())
        elif block:
            yield " ".join(block)
            block = []
    if block:
        yield " ".join(block)


def _entries(lines: Iterable[str]) -> Iterator[list[str]]:
    """dictd entries: a line at column 0 starts one, indented lines continue it."""
    entry: list[str] = []
    for line in lines:
        if line[:1].strip() and entry:
            yield entry
            entry = []
        entry.append(line)
    if entry:
        yield entry


def dict_sentences(path: str) -> Iterator[list[str]]:
    """Sentences of a dictd ``.dict.dz`` file, entries in file order.

    Entries whose source tag names WordNet (GCIDE took some definitions from
    WordNet 1.5, the source of the built-in corpus) are left out, and so are
    the dictionary's own header entries (``00-database-*``) and ``Syn:`` lists.
    """
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
        for entry in _entries(handle):
            if entry[0].startswith("00-database") or any(
                "[WordNet" in line or "[WN" in line for line in entry
            ):
                continue
            for paragraph in _paragraphs(entry):
                if not paragraph.startswith("Syn:"):
                    yield from sentences(clean_dict_entry(paragraph))


def sword_sentences(module_dir: str, ext: str = "b") -> Iterator[list[str]]:
    """Sentences of a SWORD zText/zCom module: zlib blocks in ``*.?zz``
    indexed by ``*.?zs`` (offset, size, uncompressed size; little-endian
    ``uint32``), ``ext`` the letter before ``zs``."""
    for testament in ("ot", "nt"):
        with open(os.path.join(module_dir, f"{testament}.{ext}zs"), "rb") as f:
            index = f.read()
        with open(os.path.join(module_dir, f"{testament}.{ext}zz"), "rb") as f:
            data = f.read()
        for i in range(len(index) // 12):
            offset, size, _ = struct.unpack("<III", index[12 * i : 12 * i + 12])
            text = zlib.decompress(data[offset : offset + size]).decode("utf-8")
            text = re.sub(r"<note\b.*?</note>", " ", text, flags=re.S)
            text = re.sub(r"<[^>]*>", " ", text)
            yield from sentences(text)


def fortune_sentences(directory: str) -> Iterator[list[str]]:
    """Sentences of the fortune files, files in name order."""
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        name = os.path.basename(path)
        if "." in name or name in ("art", "ascii-art") or os.path.isdir(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            entry: list[str] = []
            for line in handle:
                if line.strip() == "%":
                    yield from sentences(" ".join(entry))
                    entry = []
                else:
                    entry.append(line.strip())
            yield from sentences(" ".join(entry))


def iter_corpus(root: str) -> Iterator[list[str]]:
    """All sentences, sources in the order of :data:`PACKAGES`."""
    share = os.path.join(root, "usr", "share")
    yield from dict_sentences(os.path.join(share, "dictd", "gcide.dict.dz"))
    tdavid = os.path.join(share, "sword", "modules", "comments", "zcom", "tdavid")
    yield from sword_sentences(tdavid, "c")
    yield from fortune_sentences(os.path.join(share, "games", "fortunes"))
    yield from dict_sentences(os.path.join(share, "dictd", "jargon.dict.dz"))
    yield from dict_sentences(os.path.join(share, "dictd", "devil.dict.dz"))


def build(deb_dir: str, output: str) -> tuple[int, int]:
    """Unpack the packages' ``.deb`` files in ``deb_dir``; write ``output``.

    Returns:
        ``(num_sentences, num_tokens)``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            debs = sorted(glob.glob(os.path.join(deb_dir, f"{package}_*.deb")))
            if not debs:
                raise FileNotFoundError(
                    f"no {package}_*.deb in {deb_dir} (apt-get download {package})"
                )
            _unpack_deb(debs[-1], tmp)
        lines = [" ".join(tokens) for tokens in iter_corpus(tmp)]
    text = "\n".join(lines) + "\n"
    num_tokens = sum(line.count(" ") + 1 for line in lines)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tmp_out = output + ".tmp"
    with open(tmp_out, "wb") as handle:
        handle.write(lzma.compress(text.encode("utf-8"), preset=9))
    os.replace(tmp_out, output)
    return len(lines), num_tokens


def _default_output() -> str:
    if os.environ.get("JAXNS_CACHE"):
        cache = os.path.expanduser(os.environ["JAXNS_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        cache = os.path.join(os.path.expanduser(os.environ["XDG_CACHE_HOME"]), "jaxns")
    else:
        cache = os.path.join(os.path.expanduser("~"), ".cache", "jaxns")
    return os.path.join(cache, FILENAME)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("debs", help="folder holding the five packages' .deb files")
    parser.add_argument(
        "--output",
        default=_default_output(),
        help="output file (default: the jaxns cache, $JAXNS_CACHE/" + FILENAME + ")",
    )
    args = parser.parse_args(argv)
    num_sentences, num_tokens = build(args.debs, args.output)
    print(
        f"wrote {args.output}: {num_sentences} sentences, {num_tokens} tokens, "
        f"{os.path.getsize(args.output)} bytes",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
