# SPDX-License-Identifier: Apache-2.0
"""Rebuild ``wordnet_glosses.txt.xz``, jaxns' built-in English corpus.

The corpus is made of the glosses of WordNet 3.0 (Miller, 1995), as packaged by
Debian in ``wordnet-base`` (``apt-get download wordnet-base``). For every synset
line of ``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv`` (in that
order, synsets in file order) the gloss after `` | `` gives:

* one sentence for the definition: the text before the first double quote;
* one sentence for each example: every ``"..."`` span (a quote left open at the
  end of a line is closed there; this happens 20 times in WordNet 3.0).

Text outside the quotes after the first example (attributions such as
``- Shakespeare``, connecting commas) is dropped. Each sentence is tokenised by
:func:`tokenize`: lowercased, then maximal runs of ASCII letters and digits,
joined by single internal hyphens or apostrophes (``well-known``, ``don't``,
``one's``), are the tokens; everything else (punctuation, brackets, quotes,
underscores, leading/trailing hyphens or apostrophes) separates tokens. Empty
sentences are dropped. The output is UTF-8 (in fact ASCII), one sentence per
line, tokens separated by one space, compressed with xz (``lzma`` preset 9,
extreme), which is deterministic for a given input.

Usage::

    python jaxns/data/make_wordnet_corpus.py wordnet-base_1%3a3.0-37_all.deb \\
        [--output jaxns/data/wordnet_glosses.txt.xz]

The argument may be the ``.deb`` file (unpacked with ``dpkg -x``, or with
``ar`` + ``tar`` when ``dpkg`` is absent) or a directory that holds the
``data.*`` files.

References:
    Miller, `WordNet: A Lexical Database for English
    <https://doi.org/10.1145/219717.219748>`_, 1995.
"""

from __future__ import annotations

import argparse
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator

POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into word tokens (see the module doc)."""
    return _TOKEN.findall(text.lower())


def gloss_sentences(gloss: str) -> list[str]:
    """Split one WordNet gloss into its definition and quoted examples."""
    parts = gloss.split('"')
    # parts[0] is the definition; odd-indexed parts are inside quotes.
    texts = [parts[0]] + parts[1::2]
    return [text for text in texts if text.strip()]


def iter_sentences(data_dir: str) -> Iterator[list[str]]:
    """Yield the tokenised sentences of all glosses, in file order."""
    for name in POS_FILES:
        path = os.path.join(data_dir, name)
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                # The licence header lines start with two spaces; synsets with
                # an 8-digit byte offset.
                if not line[:1].isdigit():
                    continue
                _, sep, gloss = line.partition(" | ")
                if not sep:
                    raise ValueError(f"{path}: synset line without a gloss: {line!r}")
                for text in gloss_sentences(gloss.strip()):
                    tokens = tokenize(text)
                    if tokens:
                        yield tokens


def _find_data_dir(root: str) -> str:
    for dirpath, _, filenames in os.walk(root):
        if all(name in filenames for name in POS_FILES):
            return dirpath
    raise FileNotFoundError(f"no WordNet data.* files found under {root}")


def _unpack_deb(deb: str, dest: str) -> None:
    if shutil.which("dpkg"):
        subprocess.run(["dpkg", "-x", deb, dest], check=True)
        return
    # A .deb is an ar archive holding data.tar.*; read it without dpkg.
    with open(deb, "rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb} is not a Debian package (ar archive)")
        while header := handle.read(60):
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58])
            payload = handle.read(size)
            handle.read(size % 2)
            if name.startswith("data.tar"):
                member = os.path.join(dest, name)
                with open(member, "wb") as out:
                    out.write(payload)
                with tarfile.open(member) as tar:
                    tar.extractall(dest, filter="data")
                return
    raise ValueError(f"{deb} holds no data.tar member")


def build(source: str, output: str) -> tuple[int, int]:
    """Write the corpus for ``source`` (a .deb or a directory) to ``output``.

    Returns:
        ``(num_sentences, num_tokens)``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isdir(source):
            data_dir = _find_data_dir(source)
        else:
            _unpack_deb(source, tmp)
            data_dir = _find_data_dir(tmp)
        lines = [" ".join(tokens) for tokens in iter_sentences(data_dir)]
    text = "\n".join(lines) + "\n"
    num_tokens = sum(line.count(" ") + 1 for line in lines)
    data = lzma.compress(text.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME)
    tmp_out = output + ".tmp"
    with open(tmp_out, "wb") as handle:
        handle.write(data)
    os.replace(tmp_out, output)
    return len(lines), num_tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="wordnet-base .deb, or a folder with data.*")
    parser.add_argument(
        "--output",
        default=os.path.join(os.path.dirname(__file__), "wordnet_glosses.txt.xz"),
        help="output file (default: next to this script)",
    )
    args = parser.parse_args(argv)
    num_sentences, num_tokens = build(args.source, args.output)
    size = os.path.getsize(args.output)
    print(
        f"wrote {args.output}: {num_sentences} sentences, {num_tokens} tokens, "
        f"{size} bytes",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
