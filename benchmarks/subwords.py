# SPDX-License-Identifier: Apache-2.0
"""fastText's input table: every bucket vs only the buckets the words use.

One fastText update gathers the character n-gram rows of its block's words
and scatters their updates back. Side by side in one process, on the same
stream of the built-in corpus (n-grams 3-6, 2M buckets, gensim's defaults
otherwise), for skip-gram and CBOW:

* **padded** (the naive way): the full ``[V + 2M, d]`` table, and every
  block position gathers ``max n-grams per word`` rows, padding included
  (``subword_rows`` = the whole block);
* **full table**: the full table, the words' rows packed without padding
  (``subword_rows`` as ``examples/skipgram.py`` sets it);
* **compact table**: the same packed rows on the table of
  :func:`jaxns.subwords.compact_table`, only the buckets the vocabulary's
  n-grams hash to, renumbered in order of first use (about 110k of the 2M on
  the built-in corpus);
* the compact table with :func:`jaxns.word2vec.make_trainer`'s default page
  (the words' rows weighted by the sampler) and with the per-word mean
  (the default before it).

All of them train the same vectors (SGD: bitwise for the packed rows, see
``tests/test_subwords.py``); the table prints microseconds per update of 128
centres (median of ``--repeats`` rounds, each timing one call of 128
updates of every layout in turn, after a compiling call) and the input
table's size.

    python benchmarks/subwords.py            # 2M buckets, 15 rounds
    python benchmarks/subwords.py --quick    # 200k buckets, a smoke run
"""

from __future__ import annotations

import argparse
import math

import _timing
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxns

BATCH, WINDOW, DIM = 128, 5, 100


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    p.add_argument(
        "--repeats", type=int, default=15, help="rounds (timed calls per row)"
    )
    p.add_argument("--buckets", type=int, default=None, help="default 2,000,000")
    args = p.parse_args(argv)
    buckets = args.buckets or (200_000 if args.quick else 2_000_000)
    repeats = 3 if args.quick else args.repeats

    sentences = jaxns.datasets.load_corpus("builtin")
    if args.quick:
        sentences = sentences[: len(sentences) // 8]
    vocab, corpus = jaxns.text.encode_corpus(sentences, min_count=5)
    keep = jaxns.text.keep_probability(vocab.counts, 1e-3)
    full = jaxns.subwords.subword_table(
        vocab.words, min_n=3, max_n=6, num_buckets=buckets
    )
    compact = jaxns.subwords.compact_table(full)
    # The example's page: rows weighted by the kept tokens' frequency.
    packed_rows = jaxns.subwords.rows_per_block(
        full, np.asarray(vocab.counts) * np.asarray(keep), batch_size=BATCH,
        window=WINDOW, multiple=256,
    )  # fmt: skip
    block_rows = (BATCH + 2 * WINDOW) * full.shape[1]
    sampler = jaxns.samplers.unigram(vocab.counts, power=0.75)
    key = jax.random.key(0)
    print(
        f"{_timing.device_line()}  V={len(vocab):,}  buckets={buckets:,} "
        f"(used {len(compact.rows) - len(vocab):,})  d={DIM}  "
        f"batch={BATCH}  subword_rows packed={packed_rows:,} padded={block_rows:,}"
    )

    # The page of the compact table's last two rows: make_trainer's default
    # (rows weighted by the sampler), and the per-word mean it replaced.
    per_word = (BATCH + 2 * WINDOW) * math.ceil(float((full >= 0).sum(1).mean()))
    layouts = (
        ("padded", full, block_rows, None),
        ("full table", full, packed_rows, None),
        ("compact table", compact.table, packed_rows, compact.rows),
        ("compact, library page", compact.table, None, compact.rows),
        (f"compact, page {per_word}", compact.table, per_word, compact.rows),
    )
    results: dict[str, dict[str, float]] = {}
    print(
        f"{'model':9} {'input table':22} {'page':>6} {'MB':>5} {'us/update':>10} "
        f"{'vs padded':>10}"
    )
    for model in ("skipgram", "cbow"):
        group = f"fastText {model} update, {BATCH} centres"
        calls, pages = {}, {}
        for name, table, rows_per_call, rows in layouts:
            trainer = jaxns.word2vec.make_trainer(
                sampler,
                learning_rate=optax.constant_schedule(0.025),
                model=model,
                subwords=table,
                subword_rows=rows_per_call,
                batch_size=BATCH,
                window=WINDOW,
                compiler_options={"xla_backend_optimization_level": 1},
            )
            params = jaxns.word2vec.init_subword_params(
                key, len(vocab), buckets, DIM, rows=rows
            )
            stream = trainer.stream(
                key, jnp.asarray(corpus.ids), jnp.asarray(corpus.sentence_ids),
                jnp.asarray(keep),
            )  # fmt: skip
            mb = params.input.size * params.input.dtype.itemsize / 1e6
            carry = {"params": params, "state": trainer.init(params), "call": 0}

            def call(trainer=trainer, carry=carry, stream=stream):
                c = carry["call"] % stream.num_calls(trainer.block_size)
                carry["call"] += 1
                carry["params"], carry["state"], loss, _ = trainer.train(
                    key, carry["params"], carry["state"], stream,
                    c * trainer.block_size, (0.0, 0.5),
                )  # fmt: skip
                return carry["params"], loss

            jax.block_until_ready(call())  # compiles (params are donated)
            calls[name] = (call, trainer.block_size // BATCH, mb, [])
            pages[name] = trainer.subword_rows
            del params
        # Rounds over the layouts, so that a slow spell of the machine
        # touches every row alike; each row is the median of its rounds.
        for _ in range(repeats):
            for call, _, _, times in calls.values():
                times.append(_timing.measure(call, repeats=1, warmup=False).times[0])
        base = None
        for name, (_, updates, mb, times) in calls.items():
            page = pages[name]
            timing = _timing.Timing(tuple(times))
            _timing.record(
                group, name, timing=timing, work={"updates": updates}, input_mb=mb
            )
            us = 1e6 * timing.median / updates
            base = base or us
            results[f"{model} {name}"] = {
                "us_per_update": us,
                "input_mb": mb,
                "page": page,
            }
            print(
                f"{model:9} {name:22} {page:>6} {mb:>5,.0f} {us:>10.1f} "
                f"{base / us:>9.2f}x"
            )
        del calls
    return results


if __name__ == "__main__":
    main()
