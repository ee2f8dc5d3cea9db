# SPDX-License-Identifier: Apache-2.0
"""What make_trainer's speed options cost and gain, side by side in one run.

Each row trains the same epochs of :func:`jaxns.word2vec.make_trainer` as
the first (its defaults, with the example's ``compiler_options``) with one
option changed, so that the docs' claims about them are measured, not
remembered:

* ``skip_hits=False``: keep a negative that equals the centre word
  (word2vec.c and gensim leave it out, the default);
* ``negatives_per_chunk=8``: half the shared draws (the default is 16);
* ``chunk_size=32``: twice the centres sharing one set of draws (16);
* ``compute_loss=False``: the same updates without the loss
  (``examples/skipgram.py`` computes it only on the calls that report it).

On CPU the process gets a one-thread XLA pool (``NPROC=1``, set before JAX
starts; see ``benchmarks/cpu_threads.py``). Every trainer is compiled and
run for one warm-up epoch first; then each round times one epoch of every
row in turn, so that a slow spell of the machine touches all rows alike.
A row's number is the median over the rounds of the raw words per second
(words read, before subsampling) of the built-in corpus; its ratio is
against the defaults' row of the same model. The mean loss per pair of the
last timed epoch shows what changed in the objective (``-`` where the loss
is not computed).

    python benchmarks/word2vec_options.py              # skip-gram and CBOW
    python benchmarks/word2vec_options.py --subwords   # fastText skip-gram too
    python benchmarks/word2vec_options.py --quick      # an eighth, one round
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# XLA:CPU sizes its pool when the backend starts: one thread trains fastest.
os.environ.setdefault("NPROC", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxns  # noqa: E402

# label -> make_trainer arguments changed from the defaults.
OPTIONS: dict[str, dict] = {
    "defaults": {},
    "skip_hits=False": {"skip_hits": False},
    "negatives_per_chunk=8": {"negatives_per_chunk": 8},
    "chunk_size=32": {"chunk_size": 32},
    "compute_loss=False": {"compute_loss": False},
}


def _corpus(quick: bool):
    vocab, corpus = jaxns.datasets.load_encoded_corpus("builtin", min_count=5)
    ids, sentence_ids, raw = corpus.ids, corpus.sentence_ids, corpus.num_raw_words
    if quick:  # the first eighth of the sentences
        cut = int(np.searchsorted(sentence_ids, corpus.num_sentences // 8))
        raw = round(raw * cut / len(ids))
        ids, sentence_ids = ids[:cut], sentence_ids[:cut]
    return vocab, ids, sentence_ids, raw


def _epoch(trainer, params, state, stream, epoch: int, raw: int):
    """One epoch of ``stream``: ``(params, state, seconds, loss per pair)``."""
    calls = stream.num_calls(trainer.block_size)
    key = jax.random.key(epoch)
    total, pairs = 0.0, 0.0
    t0 = time.perf_counter()
    for c in range(calls):
        progress = jaxns.word2vec.call_progress(epoch, c, calls, raw)
        params, state, loss, num = trainer.train(
            key, params, state, stream, c * trainer.block_size, progress
        )
        total, pairs = total + loss, pairs + num
    jax.block_until_ready(params)
    seconds = time.perf_counter() - t0
    return params, state, seconds, float(total / pairs)


def model_rows(
    name: str, model: str, subwords: bool, corpus, repeats: int
) -> dict[str, dict[str, float]]:
    """Every option of one model: raw words/s (median of the rounds), loss."""
    vocab, ids, sentence_ids, raw = corpus
    keep = jaxns.text.keep_probability(vocab.counts, 1e-3)
    sampler = jaxns.samplers.unigram(np.asarray(vocab.counts), power=0.75)
    base = dict(
        learning_rate=optax.linear_schedule(0.025, 1e-4, 4.0 * raw),
        model=model,
        compiler_options={"xla_backend_optimization_level": 1},
    )
    if subwords:
        compact = jaxns.subwords.compact_table(
            jaxns.subwords.subword_table(
                vocab.words, min_n=3, max_n=6, num_buckets=2_000_000
            )
        )
        base["subwords"] = compact.table
        init = lambda: jaxns.word2vec.init_subword_params(  # noqa: E731
            jax.random.key(0), len(vocab), 2_000_000, 100, rows=compact.rows
        )
    else:
        init = lambda: jaxns.word2vec.init_params(  # noqa: E731
            jax.random.key(0), len(vocab), 100
        )
    runs = {}
    for label, changed in OPTIONS.items():
        trainer = jaxns.word2vec.make_trainer(sampler, **base, **changed)
        params = init()
        state = trainer.init(params)
        stream = trainer.stream(jax.random.key(1), ids, sentence_ids, keep)
        params, state, _, _ = _epoch(trainer, params, state, stream, 0, raw)
        runs[label] = dict(
            trainer=trainer, params=params, state=state, stream=stream,
            seconds=[], loss=float("nan"),
        )  # fmt: skip
    for _ in range(repeats):
        for run in runs.values():
            run["params"], run["state"], seconds, run["loss"] = _epoch(
                run["trainer"], run["params"], run["state"], run["stream"], 1, raw
            )
            run["seconds"].append(seconds)
    results = {}
    for label, run in runs.items():
        median = statistics.median(run["seconds"])
        results[label] = {"words_per_second": raw / median, "loss": run["loss"]}
        _timing.record(
            f"word2vec options: {name}",
            f"jaxns {label}",
            seconds=median,
            work={"raw_words": raw},
            loss=run["loss"],
        )
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="rounds (median)")
    p.add_argument("--quick", action="store_true", help="an eighth of the corpus")
    p.add_argument("--subwords", action="store_true", help="fastText skip-gram too")
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    corpus = _corpus(args.quick)
    models = [("skip-gram", "skipgram", False), ("CBOW", "cbow", False)]
    if args.subwords:
        models.append(("fastText skip-gram", "skipgram", True))
    print(_timing.device_line())
    print(
        f"built-in corpus{' (an eighth)' if args.quick else ''}, make_trainer "
        f"with one option changed; raw words/s of one epoch, median of {repeats} "
        f"round(s); XLA pool NPROC={os.environ.get('NPROC')}"
    )
    print(f"{'model':20s} {'option':24s} {'raw words/s':>12s} {'ratio':>7s} loss")
    results = {}
    for name, model, subwords in models:
        rows = model_rows(name, model, subwords, corpus, repeats)
        results[name] = rows
        base = rows["defaults"]["words_per_second"]
        for label, row in rows.items():
            speed, loss = row["words_per_second"], row["loss"]
            shown = "-" if label == "compute_loss=False" else f"{loss:.4f}"
            print(f"{name:20s} {label:24s} {speed:12,.0f} {speed / base:6.2f}x {shown}")
    return results


if __name__ == "__main__":
    main()
