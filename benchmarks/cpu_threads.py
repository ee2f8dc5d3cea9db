# SPDX-License-Identifier: Apache-2.0
"""word2vec on CPU: XLA's thread pool against one thread, and two replicas.

XLA:CPU sizes its thread pool when JAX's backend starts (by the cores the
process may use, or by the environment variable ``NPROC``), and when it
compiles a program it splits the larger loops into that many parallel
tasks. The word2vec step's loops are small: handing their pieces between
threads costs more than the second core gives back. This script trains the
same epochs of :func:`jaxns.word2vec.make_trainer` (built-in corpus, 100
dimensions, the example's options) in fresh processes, one per
configuration, since the pool is fixed at start:

* **XLA's default pool**: one device, every core (what a notebook gets);
* **NPROC=1**: one device, a one-thread pool (set in the environment
  before JAX starts);
* **pinned at start**: one device, the process pinned to one core while the
  backend starts and unpinned after it (``examples/skipgram.py``'s
  ``--threads 1``);
* **2 replicas**: :func:`jaxns.word2vec.make_replica_trainer` on two host
  devices (one per core), merged every 8 calls (``--devices 2``).

No persistent compilation cache is used: its key does not include the pool
size, so a program compiled under one pool would be reused under another.
Each row is the raw words per second of the second of two epochs (the first
compiles and warms up), the median of ``--repeats`` rounds, each round
running every configuration once; the ratio is against XLA's default pool.
The final loss of the timed epoch shows that each row trains the same way
(the replicas' differs: each replica reads the other's updates late).

    python benchmarks/cpu_threads.py              # skip-gram and CBOW
    python benchmarks/cpu_threads.py --subwords   # fastText skip-gram too
    python benchmarks/cpu_threads.py --quick      # an eighth of the corpus
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "default": "XLA's default pool",
    "nproc1": "NPROC=1",
    "pinned": "pinned at start",
    "replicas": "2 replicas",
}


def child(config: str, model: str, subwords: bool, quick: bool) -> None:
    """One configuration in this (fresh) process: prints a JSON line."""
    if config == "replicas":
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2"
    import jax

    if config == "pinned" and hasattr(os, "sched_setaffinity"):
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(cores)[:1])
        jax.devices()  # the backend starts (and sizes its pool) now
        os.sched_setaffinity(0, cores)
    import numpy as np
    import optax

    import jaxns

    vocab, corpus = jaxns.datasets.load_encoded_corpus("builtin", min_count=5)
    ids, sentence_ids = corpus.ids, corpus.sentence_ids
    raw = corpus.num_raw_words
    if quick:  # the first eighth of the sentences
        cut = int(np.searchsorted(sentence_ids, corpus.num_sentences // 8))
        raw = round(raw * cut / len(ids))
        ids, sentence_ids = ids[:cut], sentence_ids[:cut]
    keep = jaxns.text.keep_probability(vocab.counts, 1e-3)
    options = dict(
        learning_rate=optax.linear_schedule(0.025, 1e-4, 2.0 * raw),
        model=model,
        compiler_options={"xla_backend_optimization_level": 1},
        compute_loss=True,
    )
    if subwords:
        compact = jaxns.subwords.compact_table(
            jaxns.subwords.subword_table(
                vocab.words, min_n=3, max_n=6, num_buckets=2_000_000
            )
        )
        options["subwords"] = compact.table
        params = jaxns.word2vec.init_subword_params(
            jax.random.key(0), len(vocab), 2_000_000, 100, rows=compact.rows
        )
    else:
        params = jaxns.word2vec.init_params(jax.random.key(0), len(vocab), 100)
    sampler = jaxns.samplers.unigram(np.asarray(vocab.counts), power=0.75)
    if config == "replicas":
        mesh = jax.sharding.Mesh(np.array(jax.devices()[:2]), ("data",))
        trainer = jaxns.word2vec.make_replica_trainer(
            sampler, mesh=mesh, merge_every=8, **options
        )
    else:
        trainer = jaxns.word2vec.make_trainer(sampler, **options)
    state = trainer.init(params)
    key = jax.random.key(1)
    for epoch in range(2):  # the first epoch compiles and warms up
        stream = trainer.stream(jax.random.key(epoch), ids, sentence_ids, keep)
        calls = stream.num_calls(trainer.block_size)
        total, pairs = 0.0, 0.0
        jax.block_until_ready(stream)
        t0 = time.perf_counter()
        for c in range(calls):
            progress = jaxns.word2vec.call_progress(epoch, c, calls, raw)
            params, state, loss, num = trainer.train(
                key, params, state, stream, c * trainer.block_size, progress
            )
            total, pairs = total + loss, pairs + num
        jax.block_until_ready(params)
        seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "words_per_second": raw / seconds,
                "seconds": seconds,
                "raw_words": raw,
                "loss": float(total / pairs),
            }
        )
    )


def _run_child(config: str, model: str, subwords: bool, quick: bool) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("NPROC", None)
    if config == "nproc1":
        env["NPROC"] = "1"
    args = ["--child", config, "--model", model]
    args += ["--subwords"] * subwords + ["--quick"] * quick
    out = subprocess.run(
        [sys.executable, __file__, *args],
        check=True, capture_output=True, text=True, cwd=ROOT, env=env,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="rounds (median)")
    p.add_argument("--quick", action="store_true", help="an eighth of the corpus")
    p.add_argument("--subwords", action="store_true", help="fastText skip-gram too")
    p.add_argument("--child", choices=sorted(CONFIGS), help=argparse.SUPPRESS)
    p.add_argument("--model", default="skipgram", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.model, args.subwords, args.quick)
        return {}
    sys.path.insert(0, str(Path(__file__).parent))
    import _timing

    repeats = 1 if args.quick else args.repeats
    rows = [("skip-gram", "skipgram", False), ("CBOW", "cbow", False)]
    if args.subwords:
        rows.append(("fastText skip-gram", "skipgram", True))
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for name, model, subwords in rows:
            for config in CONFIGS:
                r = _run_child(config, model, subwords, args.quick)
                runs.setdefault((name, config), []).append(r)
    print(_timing.device_line())
    print(
        f"built-in corpus{' (an eighth)' if args.quick else ''}; raw words/s of "
        f"the second epoch, median of {repeats} round(s); {os.cpu_count()} cores"
    )
    print(f"{'model':20s} {'configuration':20s} {'raw words/s':>12s} {'ratio':>7s}")
    results: dict[str, dict[str, float]] = {}
    for name, _, _ in rows:

        def median(config: str, field: str, name: str = name) -> float:
            return statistics.median(r[field] for r in runs[(name, config)])

        base = median("default", "words_per_second")
        for config, label in CONFIGS.items():
            speed = median(config, "words_per_second")
            loss = median(config, "loss")
            results[f"{name}: {label}"] = {"words_per_second": speed, "loss": loss}
            # The runner's ratios set the "jaxns" rows (the ways the docs
            # recommend) against XLA's default pool.
            _timing.record(
                f"word2vec epoch on CPU: {name}",
                label if config == "default" else f"jaxns {label}",
                seconds=median(config, "seconds"),
                work={"raw_words": median(config, "raw_words")},
                loss=loss,
            )
            print(
                f"{name:20s} {label:20s} {speed:12,.0f} {speed / base:6.2f}x"
                f"  loss {loss:.4f}"
            )
    return results


if __name__ == "__main__":
    main()
