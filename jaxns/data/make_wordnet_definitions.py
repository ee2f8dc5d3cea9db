# SPDX-License-Identifier: Apache-2.0
"""Rebuild ``wordnet_definitions.tsv.xz``: WordNet headwords and their definitions.

Paired data for the CLIP-style mode of ``examples/contrastive.py`` (a "reverse
dictionary": find a word from its definition). From the same Debian
``wordnet-base`` files as ``wordnet_glosses.txt.xz`` (see
``make_wordnet_corpus.py``), for every synset line of ``data.noun``,
``data.verb``, ``data.adj`` and ``data.adv`` (that order, file order within):

* the headword is the synset's first lemma, lowercased, with an adjective
  marker such as ``(a)`` removed; synsets whose first lemma is not a single run
  of ASCII letters (multi-word lemmas joined by ``_``, digits, hyphens) are
  skipped;
* the definition is the gloss text before the first double quote, tokenised
  exactly as the corpus (``make_wordnet_corpus.tokenize``);
* only the first synset of each headword is kept, so every headword appears
  once.

Output: one ``headword<TAB>definition tokens`` line per pair, UTF-8 (ASCII),
xz-compressed (preset 9, extreme: deterministic).

Usage::

    python jaxns/data/make_wordnet_definitions.py wordnet-base_1%3a3.0-37_all.deb
"""

from __future__ import annotations

import argparse
import lzma
import os
import re
import sys
import tempfile

from make_wordnet_corpus import (  # the sibling script in this folder
    POS_FILES,
    _find_data_dir,
    _unpack_deb,
    gloss_sentences,
    tokenize,
)

_WORD = re.compile(r"[a-z]+")


def iter_pairs(data_dir: str):
    """Yield ``(headword, definition)`` pairs in file order, headwords unique."""
    seen = set()
    for name in POS_FILES:
        with open(os.path.join(data_dir, name), encoding="utf-8") as handle:
            for line in handle:
                if not line[:1].isdigit():
                    continue
                head, _, gloss = line.partition(" | ")
                word = re.sub(r"\(.*\)$", "", head.split()[4]).lower()
                if not _WORD.fullmatch(word) or word in seen:
                    continue
                texts = gloss_sentences(gloss.strip())
                tokens = tokenize(texts[0]) if texts else []
                if not tokens:
                    continue
                seen.add(word)
                yield word, " ".join(tokens)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="wordnet-base .deb, or a folder with data.*")
    parser.add_argument(
        "--output",
        default=os.path.join(os.path.dirname(__file__), "wordnet_definitions.tsv.xz"),
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isdir(args.source):
            data_dir = _find_data_dir(args.source)
        else:
            _unpack_deb(args.source, tmp)
            data_dir = _find_data_dir(tmp)
        pairs = list(iter_pairs(data_dir))
    text = "".join(f"{w}\t{d}\n" for w, d in pairs)
    data = lzma.compress(text.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME)
    with open(args.output, "wb") as handle:
        handle.write(data)
    print(
        f"wrote {args.output}: {len(pairs)} pairs, {len(data)} bytes", file=sys.stderr
    )


if __name__ == "__main__":
    main()
