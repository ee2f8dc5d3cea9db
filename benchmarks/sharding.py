# SPDX-License-Identifier: Apache-2.0
"""Scaling out: memory per device and step time against device count, and
data-parallel word2vec against gensim's worker threads.

Two tables:

1. **Memory and step time** of a vocabulary-sharded sampled-softmax training
   step (V = 2^17, d = 64, Adam moments on the shards) and of a cross-device
   CLIP step (global batch 4096), on 1, 2, 4 and 8 devices: per-device bytes
   from XLA's ``memory_analysis()`` of the compiled step, and the median
   step time. On CPU the devices are simulated
   (``--xla_force_host_platform_device_count=8``) and share the machine's
   cores: the memory column is real, the time column is not a speed-up
   measurement. On a GPU/TPU host the same script uses the real devices.
   After it, **eager calls**: the first and later unjitted calls of
   ``sharding.sampled_softmax`` and ``sharding.clip`` against the same call
   under ``jit`` (a later eager call reuses the first one's program).
2. **word2vec throughput** (built-in corpus, one epoch after a warm-up
   epoch): :func:`jaxns.word2vec.make_trainer` without a mesh (the
   one-core baseline, first row) and
   :func:`jaxns.word2vec.make_sharded_trainer` on 1 and 2 host
   devices (one core each, one process per configuration), with replicated
   tables, with tables split along the vocabulary (``vocab_axis``) and
   with delayed exchange (``sync_every``), and
   :func:`jaxns.word2vec.make_replica_trainer` on 2 host devices (a replica
   per device, merged every 1, 2 or 8 calls), against gensim with 1 and 2
   workers: raw words per second of the second of two epochs, and the
   WordSim-353 Spearman of the vectors after both. The jaxns rows compute
   the loss (gensim computes none by default), except the last two ("no
   loss"): the one-core baseline and the replicas merged every 8 calls
   again, with ``compute_loss=False`` (the same vectors).

    python benchmarks/sharding.py            # both tables
    python benchmarks/sharding.py --quick    # smaller sizes, smoke run
    python benchmarks/sharding.py --only word2vec --subwords  # fastText rows

3. **Exchange between two processes** (``--only exchange``): a collective
   permute and an all-gather of blocks of 100-float rows (the touched rows
   the data-parallel trainer exchanges) between two processes joined by
   ``jax.distributed`` (one CPU device each, gloo over the loopback
   interface), side by side with the same collectives between two host
   devices of one process: median microseconds after compilation.

With ``--subwords`` the word2vec table trains fastText skip-gram instead
(``subwords=``: n-grams 3-6 in 2M buckets; as ``examples/skipgram.py``,
the input table holds only the buckets the words use, renumbered by
:func:`jaxns.subwords.compact_table`), on fewer configurations, against
gensim's ``FastText`` with the same n-grams and buckets.

The word2vec rows are medians of ``--repeats`` rounds (3 by default), each
round running every configuration once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _host_devices(n: int, cores: int) -> None:
    """Sets up ``n`` host devices on ``cores`` cores; call before importing JAX."""
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}"
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[:cores])


# ---------------------------------------------------------------------------
# 1. memory and step time against device count
# ---------------------------------------------------------------------------


def memory_table(quick: bool) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from _timing import device_line, measure
    from jax.sharding import Mesh

    import jaxns
    from jaxns import sharding as sh

    vocab, dim, batch, m = (2**14, 32, 512, 64) if quick else (2**17, 64, 2048, 256)
    clip_batch = 512 if quick else 4096
    rng = np.random.default_rng(0)
    table = jnp.asarray(rng.normal(size=(vocab, dim)) * 0.1, jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(batch, dim)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, vocab, batch), jnp.int32)
    base = jaxns.samplers.log_uniform(vocab)
    images = jnp.asarray(rng.normal(size=(clip_batch, dim)), jnp.float32)
    texts = jnp.asarray(rng.normal(size=(clip_batch, dim)), jnp.float32)
    print(device_line())
    print(
        f"sampled softmax step: V={vocab:,} d={dim} (table "
        f"{vocab * dim * 4 / 2**20:.0f} MiB, + 2 Adam moments), batch {batch}, "
        f"{m} candidates per shard; "
        f"CLIP step: global batch {clip_batch}, d={dim}"
    )
    header = (
        f"{'devices':>7} {'softmax MiB/dev':>16} {'step ms':>8} "
        f"{'CLIP MiB/dev':>13} {'step ms':>8}"
    )
    print(header)
    print("-" * len(header))
    counts = [n for n in (1, 2, 4, 8) if n <= jax.device_count()]
    for n in counts:
        mesh = Mesh(np.array(jax.devices()[:n]), ("vocab",))
        sampler = sh.shard_sampler(base, n, mesh=mesh)
        opt = sh.row_sparse(optax.adam(1e-3), mesh=mesh)
        t = sh.shard_table(table, mesh)
        state = opt.init(t)

        def step(t, state, h, key, sampler=sampler, mesh=mesh, opt=opt):
            def loss(h, t):
                return sh.sampled_softmax(
                    key, h, labels, t, sampler, num_per_shard=m, mesh=mesh
                ).mean()

            value, (gh, gt) = jax.value_and_grad(loss, argnums=(0, 1))(h, t)
            t, state = opt.update(labels, gh, state, t - 1e-3 * gt)
            return t, state, value

        key = jax.random.key(0)
        compiled = jax.jit(step).lower(t, state, hidden, key)
        compiled = compiled.compile()
        mem = compiled.memory_analysis()
        mib = (
            (mem.argument_size_in_bytes + mem.temp_size_in_bytes) / 2**20
            if mem is not None
            else float("nan")
        )
        carry = [t, state]

        def run(carry=carry, compiled=compiled, key=key):
            carry[0], carry[1], value = compiled(carry[0], carry[1], hidden, key)
            return value

        timing = measure(run, repeats=5, label=f"{n} devices", group="sharded softmax")
        batch_mesh = Mesh(np.array(jax.devices()[:n]), ("batch",))

        def clip_step(x, y, mesh=batch_mesh):
            return jax.grad(
                lambda x, y: sh.clip(x, y, mesh=mesh, temperature=0.07).mean(),
                argnums=(0, 1),
            )(x, y)

        clip_compiled = jax.jit(clip_step).lower(images, texts).compile()
        clip_mem = clip_compiled.memory_analysis()
        clip_mib = (
            (clip_mem.argument_size_in_bytes + clip_mem.temp_size_in_bytes) / 2**20
            if clip_mem is not None
            else float("nan")
        )
        clip_timing = measure(
            clip_compiled, images, texts, repeats=5, label=f"{n} devices",
            group="sharded clip",
        )  # fmt: skip
        print(
            f"{n:>7} {mib:>16.1f} {timing.median_ms:>8.1f} "
            f"{clip_mib:>13.1f} {clip_timing.median_ms:>8.1f}"
        )
    print(
        "(MiB/dev: arguments + temporaries of one device's compiled step. On CPU "
        "the devices are simulated and share the cores: times are not speed-ups.)"
    )


def eager_table(quick: bool) -> None:
    """Eager (unjitted) calls against the same call under ``jit``.

    A notebook calls the sharded losses directly. The first eager call
    compiles one program for the mesh, later ones with the same static
    arguments reuse it, so they cost what the jitted call costs.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    from _timing import measure
    from jax.sharding import Mesh

    import jaxns
    from jaxns import sharding as sh

    vocab, dim, batch, m = (2**12, 32, 256, 32) if quick else (2**14, 64, 1024, 128)
    rng = np.random.default_rng(1)
    table = jnp.asarray(rng.normal(size=(vocab, dim)) * 0.1, jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(batch, dim)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, vocab, batch), jnp.int32)
    base = jaxns.samplers.log_uniform(vocab)
    print()
    print(
        f"eager calls: sampled_softmax (V={vocab:,}, d={dim}, batch {batch}, "
        f"{m} per shard) and clip (batch {batch}); ms"
    )
    header = (
        f"{'devices':>7} {'function':>15} {'1st eager':>10} {'eager':>8} "
        f"{'jit':>8} {'eager/jit':>10}"
    )
    print(header)
    print("-" * len(header))
    for n in [n for n in (1, 2, 4, 8) if n <= jax.device_count()]:
        mesh = Mesh(np.array(jax.devices()[:n]), ("vocab",))
        batch_mesh = Mesh(np.array(jax.devices()[:n]), ("batch",))
        sampler = sh.shard_sampler(base, n, mesh=mesh)
        t = sh.shard_table(table, mesh)
        key = jax.random.key(0)
        calls = {
            "sampled_softmax": lambda key, h, s=sampler, t=t, mesh=mesh: (
                sh.sampled_softmax(key, h, labels, t, s, num_per_shard=m, mesh=mesh)
            ),
            "clip": lambda key, h, mesh=batch_mesh: sh.clip(
                h, h[::-1], mesh=mesh, temperature=0.07
            ),
        }
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call(key, hidden))
            first = (time.perf_counter() - start) * 1e3
            eager = measure(call, key, hidden, repeats=5, warmup=False)
            jitted = measure(jax.jit(call), key, hidden, repeats=5)
            print(
                f"{n:>7} {name:>15} {first:>10.1f} {eager.median_ms:>8.2f} "
                f"{jitted.median_ms:>8.2f} {eager.median / jitted.median:>9.2f}x"
            )


# ---------------------------------------------------------------------------
# 2. word2vec throughput: data-parallel jaxns vs gensim workers
# ---------------------------------------------------------------------------


def _wordsim(words, vectors) -> float:
    import jaxns

    pairs = jaxns.datasets.load_similarity("wordsim353")
    return float(jaxns.evaluation.word_similarity(vectors, words, pairs).spearman)


# fastText's n-grams and buckets (gensim's FastText defaults) for --subwords.
MIN_N, MAX_N, BUCKETS = 3, 6, 2_000_000


def w2v_child(
    devices: int,
    batch_size: int,
    split: int,
    sync_every: int,
    exact: int,
    merge: int,
    merge_rows: int,
    compute_loss: int,
    quick: bool,
    subwords: bool = False,
) -> None:
    """One configuration in a fresh process: prints a JSON line.

    ``devices=0`` is the single-device trainer without a mesh
    (:func:`jaxns.word2vec.make_trainer`, on one core): the baseline the mesh
    rows have to beat, since the mesh's exchange costs even on one device.
    ``subwords``: fastText skip-gram (vocabulary-split tables are not timed
    with it). ``merge > 0``: :func:`jaxns.word2vec.make_replica_trainer`
    (``batch_size`` centres per device and update, merged every ``merge``
    calls; ``merge_rows`` 0, 1, 2: its ``merge_rows`` "auto", "all",
    "touched"). ``compute_loss`` 0: the trainer's ``compute_loss=False``."""
    _host_devices(max(devices, 1), max(devices, 1))
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from jax.sharding import Mesh

    import jaxns

    sentences = jaxns.datasets.load_corpus("builtin")
    if quick:
        sentences = sentences[: len(sentences) // 8]
    vocab, corpus = jaxns.text.encode_corpus(sentences, min_count=5)
    raw = corpus.num_raw_words
    keep = jnp.asarray(jaxns.text.keep_probability(vocab.counts, 1e-3))
    # Split tables need V divisible by the devices: pad with unused rows.
    rows = -(-len(vocab) // devices) * devices if split else len(vocab)
    counts = np.pad(np.asarray(vocab.counts), (0, rows - len(vocab)))
    options = dict(
        learning_rate=optax.linear_schedule(0.025, 1e-4, 2.0 * raw),
        batch_size=batch_size,
        compiler_options={"xla_backend_optimization_level": 1},
        compute_loss=bool(compute_loss),
    )
    sampler = jaxns.samplers.unigram(counts, power=0.75)
    buckets, compact = 0, None
    if subwords:
        # Only the buckets the words use (the example's table).
        compact = jaxns.subwords.compact_table(
            jaxns.subwords.subword_table(
                vocab.words, min_n=MIN_N, max_n=MAX_N, num_buckets=BUCKETS
            )
        )
        options["subwords"] = compact.table
        buckets = BUCKETS
    if devices == 0:
        trainer = jaxns.word2vec.make_trainer(sampler, **options)
    elif merge:
        mesh = Mesh(np.array(jax.devices()[:devices]), ("data",))
        trainer = jaxns.word2vec.make_replica_trainer(
            sampler, mesh=mesh, merge_every=merge,
            merge_rows=("auto", "all", "touched")[merge_rows], **options,
        )  # fmt: skip
    else:
        mesh = Mesh(np.array(jax.devices()[:devices]), ("data",))
        trainer = jaxns.word2vec.make_sharded_trainer(
            sampler,
            mesh=mesh,
            vocab_axis="data" if split else None,
            sync_every=sync_every,
            exact_replicas=bool(exact),
            **options,
        )
    if subwords:
        params = jaxns.word2vec.init_subword_params(
            jax.random.key(0), rows, buckets, 100, rows=compact.rows
        )
    else:
        params = jaxns.word2vec.init_params(jax.random.key(0), rows, 100)
    if split:
        params = jaxns.word2vec.SkipGramParams(
            *(jaxns.sharding.shard_table(t, mesh, "data") for t in params)
        )
    state = trainer.init(params)
    seconds = []
    key = jax.random.key(9)
    for epoch in range(2):  # the first epoch compiles and warms up
        # The epoch's subsampling and layout count, as gensim's do.
        t0 = time.perf_counter()
        stream = trainer.stream(
            jax.random.key(epoch), corpus.ids, corpus.sentence_ids, keep
        )
        calls = stream.num_calls(trainer.block_size)
        for c in range(calls):
            progress = jaxns.word2vec.call_progress(epoch, c, calls, raw)
            params, state, loss, _ = trainer.train(
                key, params, state, stream, c * trainer.block_size,
                progress,
            )  # fmt: skip
        jax.block_until_ready(params)
        seconds.append(time.perf_counter() - t0)
    vectors = np.asarray(params.input)[: len(vocab)]
    print(
        json.dumps(
            {
                "words_per_second": raw / seconds[-1],
                "loss": float(loss),
                "wordsim353": _wordsim(vocab.words, vectors),
            }
        )
    )


def gensim_child(workers: int, quick: bool, subwords: bool = False) -> None:
    import lzma

    from gensim.models import FastText, Word2Vec

    with lzma.open(ROOT / "jaxns" / "data" / "wordnet_glosses.txt.xz", "rt") as f:
        sentences = [line.split() for line in f if line.strip()]
    if quick:
        sentences = sentences[: len(sentences) // 8]
    raw = sum(map(len, sentences))
    if subwords:
        model = FastText(
            sg=1, vector_size=100, workers=workers, min_count=5, seed=1,
            min_n=MIN_N, max_n=MAX_N, bucket=BUCKETS,
        )  # fmt: skip
    else:
        model = Word2Vec(sg=1, vector_size=100, workers=workers, min_count=5, seed=1)
    model.build_vocab(sentences)
    # Two epochs in one call, as jaxns's rows (a warm-up epoch, then the
    # timed one); gensim has nothing to compile, so both are timed.
    t0 = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=2)
    seconds = (time.perf_counter() - t0) / 2
    wordsim = _wordsim(model.wv.index_to_key, model.wv.vectors)
    print(json.dumps({"words_per_second": raw / seconds, "wordsim353": wordsim}))


def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def w2v_table(quick: bool, repeats: int, subwords: bool = False) -> None:
    import statistics

    from _timing import record

    q = ["--quick"] if quick else []
    q += ["--subwords"] if subwords else []
    # (devices, batch, vocab-split, sync_every, exact replicas, merge_every,
    # merge_rows: 0 auto, 1 whole tables, 2 touched rows): 128 centres per
    # device and update in the rows that add a device (batch 256 on 2;
    # make_replica_trainer's batch is per device). Devices 0: make_trainer
    # without a mesh, the one-core baseline.
    configs = ((0, 128, 0, 1, 1, 0, 0), (1, 128, 0, 1, 1, 0, 0))
    configs += ((2, 256, 0, 1, 1, 0, 0), (2, 256, 1, 1, 1, 0, 0))
    configs += ((2, 256, 0, 4, 1, 0, 0), (2, 256, 0, 4, 0, 0, 0))
    configs += ((2, 256, 0, 8, 0, 0, 0), (2, 256, 0, 16, 0, 0, 0))
    configs += ((2, 256, 0, 64, 1, 0, 0), (1, 256, 0, 1, 1, 0, 0))
    configs += ((2, 128, 0, 1, 1, 1, 1), (2, 128, 0, 1, 1, 1, 2))
    configs += ((2, 128, 0, 1, 1, 2, 1), (2, 128, 0, 1, 1, 2, 2))
    configs += ((2, 128, 0, 1, 1, 8, 1), (2, 128, 0, 1, 1, 8, 2))
    if subwords:  # fastText: the replicated layout, fewer rows
        configs = ((0, 128, 0, 1, 1, 0, 0), (1, 128, 0, 1, 1, 0, 0))
        configs += ((2, 256, 0, 1, 1, 0, 0), (2, 256, 0, 4, 0, 0, 0))
        configs += ((1, 256, 0, 1, 1, 0, 0), (2, 128, 0, 1, 1, 8, 0))
    # Every row computes the loss; the last rows leave it out
    # (compute_loss=False: the same updates).
    configs = tuple((*c, 1) for c in configs)
    configs += ((0, 128, 0, 1, 1, 0, 0, 0), (2, 128, 0, 1, 1, 8, 0, 0))
    jobs = []
    for devices, batch, split, sync, exact, merge, merge_rows, loss in configs:
        tables = ", vocab-split" if split else ""
        sync_text = f", sync every {sync}" if sync > 1 else ""
        sync_text += "" if exact else " (Hogwild)"
        name = f"jaxns {devices} dev, batch {batch}{tables}{sync_text}"
        if devices == 0:
            name = f"jaxns make_trainer (no mesh), batch {batch}"
        if merge:
            rows = ("", ", whole tables", ", touched rows")[merge_rows]
            name = f"jaxns {devices} replicas, merge every {merge}{rows}"
        name += "" if loss else ", no loss"
        config = (devices, batch, split, sync, exact, merge, merge_rows, loss)
        jobs.append((name, ["--w2v-child", *map(str, config)]))
    try:
        import gensim  # noqa: F401

        for workers in (1, 2):
            name = f"gensim{' FastText' if subwords else ''} {workers} worker(s)"
            jobs.append((name, ["--gensim-child", str(workers)]))
    except ImportError:
        print("gensim: not installed")
    # Rounds over all configurations, so that a slow spell of the machine
    # touches every row alike; each row is the median of its rounds.
    runs = {name: [] for name, _ in jobs}
    for _ in range(repeats):
        for name, args in jobs:
            r = _child([*args, *q])
            runs[name].append((r["words_per_second"], r["wordsim353"]))
    rows = []
    for name, results in runs.items():
        wps = statistics.median(w for w, _ in results)
        ws = statistics.median(s for _, s in results)
        rows.append((name, wps, ws))
        group = "fastText data parallel" if subwords else "word2vec data parallel"
        record(group, name, words_per_second=wps, wordsim353=ws)
    first = rows[0][1]
    title = "fastText skip-gram" if subwords else "word2vec"
    print(
        f"{title + ' (built-in corpus, 2nd epoch)':52} {'raw words/s':>12} "
        f"{'vs 1st':>7} {'WS353':>6}"
    )
    for name, wps, ws in rows:
        print(f"{name:52} {wps:>12,.0f} {wps / first:>6.2f}x {ws:>6.3f}")
    print(
        "(jaxns: the second epoch, its subsampling included; gensim: the mean "
        "of its two epochs, which it subsamples as it trains)"
    )
    if repeats > 1:
        print(f"(median of {repeats} rounds over all rows)")


# ---------------------------------------------------------------------------
# 3. exchange between two processes (gloo) and between two host devices
# ---------------------------------------------------------------------------

EXCHANGE_ROWS = (100, 1600, 6400)


def exchange_child(process_id: int, port: int, quick: bool) -> None:
    """Times a permute and an all-gather of row blocks over a 2-device mesh:
    two processes (``process_id`` 0/1, ``port`` > 0) or, with ``port`` 0, two
    host devices of this process. Process 0 prints the medians as JSON."""
    import numpy as np

    if port:
        import jax

        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}",
            num_processes=2,
            process_id=process_id,
            initialization_timeout=60,
        )
    else:
        _host_devices(2, 2)
        import jax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:2]), ("d",))
    spec = NamedSharding(mesh, P("d"))
    calls = 10 if quick else 30
    result = {}
    for rows in EXCHANGE_ROWS[:1] if quick else EXCHANGE_ROWS:
        x = jax.make_array_from_callback(
            (2 * rows, 100), spec, lambda i, r=rows: np.ones((r, 100), np.float32)
        )
        ops = {
            "permute": lambda a: jax.lax.ppermute(a, "d", [(0, 1), (1, 0)]),
            "all_gather": lambda a: jax.lax.all_gather(a, "d", tiled=True),
        }
        for name, op in ops.items():
            fn = jax.jit(
                jax.shard_map(op, mesh=mesh, in_specs=P("d"), out_specs=P("d"))
            )
            for _ in range(3):  # compiles, and lets gloo set up its pairs
                fn(x).block_until_ready()
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                fn(x).block_until_ready()
                times.append(time.perf_counter() - t0)
            result[f"{name} {rows}"] = sorted(times)[len(times) // 2] * 1e6
    if port:
        jax.distributed.shutdown()
    if process_id == 0:
        print(json.dumps(result))


def exchange_table(quick: bool) -> None:
    import socket

    from _timing import record

    with socket.socket() as sock:  # a free port for the coordinator
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    q = ["--quick"] if quick else []
    other = subprocess.Popen(
        [sys.executable, __file__, "--exchange-child", "1", str(port), *q],
        cwd=ROOT,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        processes = _child(["--exchange-child", "0", str(port), *q])
    finally:
        other.wait(timeout=120)
    devices = _child(["--exchange-child", "0", "0", *q])
    print(
        f"{'exchange of 100-float rows, 2 devices':40} {'2 processes':>12} "
        f"{'1 process':>10} {'ratio':>7}"
    )
    for key, us in processes.items():
        name, rows = key.split()
        label = f"{name}, {int(rows):,} rows ({int(rows) * 400 / 1e6:.2f} MB)"
        one = devices[key]
        print(f"{label:40} {us:>10,.0f}us {one:>8,.0f}us {us / one:>6.1f}x")
        record(
            "exchange between processes",
            label,
            processes_us=us,
            host_devices_us=devices[key],
        )
    print("(medians after compilation; processes: jax.distributed, gloo, loopback)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    p.add_argument("--only", choices=("memory", "word2vec", "exchange"), default=None)
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="word2vec rounds (each row: the median; default 3, 1 with --quick)",
    )
    p.add_argument(
        "--subwords",
        action="store_true",
        help="word2vec table: fastText skip-gram (subwords=) vs gensim FastText",
    )
    p.add_argument("--w2v-child", nargs=8, type=int, help=argparse.SUPPRESS)
    p.add_argument("--gensim-child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--exchange-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.exchange_child:
        return exchange_child(*args.exchange_child, args.quick)
    if args.w2v_child:
        return w2v_child(*args.w2v_child, args.quick, args.subwords)
    if args.gensim_child:
        return gensim_child(args.gensim_child, args.quick, args.subwords)
    if args.memory_child:
        if os.environ.get("JAX_PLATFORMS", "cpu") == "cpu":
            _host_devices(8, os.cpu_count() or 1)
        memory_table(args.quick)
        return eager_table(args.quick)
    if args.only in (None, "memory"):
        # A fresh process: the host device count is fixed when JAX starts.
        subprocess.run(
            [sys.executable, __file__, "--memory-child"]
            + (["--quick"] if args.quick else []),
            check=True,
            cwd=ROOT,
        )
    if args.only in (None, "word2vec"):
        print()
        repeats = args.repeats or (1 if args.quick else 3)
        w2v_table(args.quick, repeats, args.subwords)
    if args.only in (None, "exchange"):
        print()
        exchange_table(args.quick)


if __name__ == "__main__":
    main()
