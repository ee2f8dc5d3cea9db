# SPDX-License-Identifier: Apache-2.0
"""The word2vec job's host side: reading, counting, encoding and writing.

Side by side in one process, on the same corpus, the median of ``--repeats``
runs of each:

* **corpus to id streams**: ``load_corpus``, ``Vocabulary.build`` and
  ``Vocabulary.encode`` (three passes over the words: interning, counting,
  encoding) against ``datasets.load_encoded_corpus`` (one pass while a
  thread decompresses the next block), and ``text.encode_corpus`` on the
  loaded sentences;
* **text vectors**: the corpus vocabulary's ``[V, 100]`` float32 vectors
  written in the word2vec text format with Python's ``%`` operator, one call
  per row (``"%.9g"``, the naive way and jaxns's writer before) against
  ``wordvectors.save_word2vec_format`` (NumPy, the same bytes);
* **imports**: ``import ml_dtypes`` and ``import jax`` in fresh processes
  (ml_dtypes 0.7.0 took ~0.55 s, 0.6.0 5 ms; ``pyproject.toml`` excludes
  0.7.0).

    python benchmarks/corpus_io.py                    # built-in corpus
    python benchmarks/corpus_io.py --corpus debian    # 6.4M held-out tokens
    python benchmarks/corpus_io.py --quick            # smoke run
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import pathlib
import subprocess
import sys
import tempfile

import _timing
import numpy as np

import jaxns


def _build_and_encode(sentences):
    vocab = jaxns.text.Vocabulary.build(sentences, min_count=5)
    return vocab, vocab.encode(sentences)


def _three_passes(corpus: str):
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as examples/skipgram.py did around these three steps
    try:
        return _build_and_encode(jaxns.datasets.load_corpus(corpus))
    finally:
        if gc_was_enabled:
            gc.enable()


def _percent_writer(path: pathlib.Path, words, vectors: np.ndarray) -> None:
    row_format = "%s" + " %.9g" * vectors.shape[1]
    rows = zip(words, vectors.tolist(), strict=True)
    lines = [row_format % (w, *row) for w, row in rows]
    with open(path, "wb") as f:
        f.write(f"{vectors.shape[0]} {vectors.shape[1]}\n".encode())
        f.write(("\n".join(lines) + "\n").encode())


def _import_seconds(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; "
    code += "print(time.perf_counter() - t)"
    times = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True))
        for _ in range(repeats)
    ]
    return float(np.median(times))


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="builtin", help="builtin, debian or a path")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    p.add_argument("--quick", action="store_true", help="one timed run, a smoke run")
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    group = f"word2vec host side {args.corpus}"
    results = {}

    def row(name: str, label: str, fn, *fn_args) -> float:
        timing = _timing.measure(
            fn, *fn_args, repeats=repeats, label=label, group=f"{group}: {name}"
        )
        results[f"{name}: {label}"] = timing.median
        return timing.median

    three = row(
        "corpus to ids", "load_corpus + build + encode", _three_passes, args.corpus
    )
    one = row(
        "corpus to ids", "jaxns load_encoded_corpus",
        jaxns.datasets.load_encoded_corpus, args.corpus,
    )  # fmt: skip
    sentences = jaxns.datasets.load_corpus(args.corpus)
    in_memory = row(
        "sentences to ids", "Vocabulary.build + encode", _build_and_encode, sentences
    )
    one_pass = row(
        "sentences to ids", "jaxns text.encode_corpus",
        jaxns.text.encode_corpus, sentences,
    )  # fmt: skip
    vocab, corpus = jaxns.datasets.load_encoded_corpus(args.corpus)
    vectors = np.random.default_rng(0).normal(0, 0.3, (len(vocab), 100))
    vectors = vectors.astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="jaxns-bench-") as tmp:
        plain_path, ours_path = pathlib.Path(tmp, "a.txt"), pathlib.Path(tmp, "b.txt")
        percent = row(
            "text vectors", "Python %.9g per row",
            _percent_writer, plain_path, vocab.words, vectors,
        )  # fmt: skip
        ours = row(
            "text vectors", "jaxns save_word2vec_format",
            jaxns.wordvectors.save_word2vec_format, ours_path, vocab.words, vectors,
        )  # fmt: skip
        same = plain_path.read_bytes() == ours_path.read_bytes()
    imports = {m: _import_seconds(m, repeats) for m in ("ml_dtypes", "jax")}
    for module, seconds in imports.items():
        _timing.record(f"{group}: imports", f"import {module}", seconds=seconds)
        results[f"import {module}"] = seconds

    print(_timing.device_line())
    print(
        f"corpus {args.corpus}: {corpus.num_raw_words:,} words, {len(vocab):,} "
        f"in the vocabulary; median of {repeats} run(s) after one untimed"
    )
    print(f"{'':40s} {'naive s':>10s} {'jaxns s':>10s} {'speed-up':>9s}")
    for name, naive, fast in [
        ("corpus to id streams", three, one),
        ("sentences to id streams", in_memory, one_pass),
        (f"{len(vocab):,} x 100 text vectors", percent, ours),
    ]:
        print(f"{name:40s} {naive:10.3f} {fast:10.3f} {naive / fast:8.2f}x")
    print(f"the same text file, byte for byte: {same}")
    version = importlib.metadata.version("ml_dtypes")
    print(
        f"import ml_dtypes {version}: {imports['ml_dtypes']:.3f} s; "
        f"import jax: {imports['jax']:.3f} s (fresh processes)"
    )
    return results


if __name__ == "__main__":
    main()
