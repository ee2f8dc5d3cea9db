# SPDX-License-Identifier: Apache-2.0
"""Runs every benchmark into one JSON file per device, with distance to the limit.

    python benchmarks/run.py --suite quick --out results/cpu.json
    python benchmarks/run.py --suite full --only samplers losses
    python benchmarks/run.py --torch-python T --pykeen-python P --recbole-python R
    python benchmarks/plot.py results/*.json -o docs/_static/bench/
    python benchmarks/report.py results/*.json   # regenerates RESULTS.md

Each benchmark script in this folder runs in its own process (so a script that
fails, or a peer library that is missing, costs only its own row), with
``JAXNS_BENCH_RECORD`` pointing at a file where ``benchmarks/_timing.py``
appends one JSON line per labelled measurement. The runner adds:

* the device (kind, count, backend), the jax / jaxlib / optax versions, the date;
* **distance to the limit** for the memory-bound kernels (alias draws, the
  gathers and scatters of an SGNS step, the row-sparse Optax update): the bytes
  each call must move at least and the FLOPs it needs, divided by the measured
  time, next to the device's peak bandwidth and FLOP rate (a table of data-sheet
  peaks for common accelerators; on CPU the bandwidth is measured at start-up
  by a STREAM-like triad in JAX);
* ratios: within each (script, group) every other contestant's median time
  divided by jaxns's (> 1 means jaxns is faster).

Peers that need old pins or torch live in their own virtual environments; the
``--<peer>-python`` options hand those interpreters to the scripts that compare
with them (PyTorch: contrastive; PyKEEN: kg; RecBole: retrieval).

``quick`` finishes in a few minutes on 2 CPU cores; ``full`` is for
accelerators (``benchmarks/accelerator.sh``). On an accelerator the scripts
that measure the host CPU (``CPU_ONLY``: ``cpu_threads``,
``word2vec_options``) are skipped unless ``--only`` names them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _timing  # noqa: E402

# name -> (script, quick arguments, full arguments). A script that does not
# exist yet is skipped with a note; "--quick" is every script's smoke mode.
SCRIPTS: dict[str, tuple[str, list[str], list[str]]] = {
    "samplers": ("samplers.py", ["--quick"], []),
    "losses": ("losses.py", ["--quick"], []),
    "optim": ("optim.py", ["--quick"], []),
    "skipgram": ("skipgram_vs_gensim.py", ["--quick"], ["--repeats", "1"]),
    # The KG and retrieval benchmarks need their data sets (a cache, PyKEEN's or
    # RecBole's installed package, or a download) and report when it is missing.
    "kg": ("kg_vs_pykeen.py", ["--quick"], []),
    "retrieval": ("retrieval_vs_recbole.py", ["--quick"], []),
    "contrastive": ("contrastive.py", ["--quick"], []),
    "sharding": ("sharding.py", ["--quick"], []),
    "subwords": ("subwords.py", ["--quick"], []),
    "corpus_io": ("corpus_io.py", ["--quick"], []),
    "cpu_threads": ("cpu_threads.py", ["--quick"], []),
    "word2vec_options": ("word2vec_options.py", ["--quick"], ["--subwords"]),
    "scoring": ("scoring.py", ["--quick"], []),
}

# Scripts that measure the host CPU (cpu_threads' children run JAX on the CPU;
# word2vec_options times the CPU trainer's options on a one-thread pool): an
# accelerator session skips them unless ``--only`` names them, to keep its
# device time for the accelerator.
CPU_ONLY: tuple[str, ...] = ("cpu_threads", "word2vec_options")

# Extra arguments when JAX runs on an accelerator: skip-gram then trains with
# 16,384 centres per update (128 leave a GPU nearly idle), with the options
# that keep gensim's quality at that size (skipgram_vs_gensim.LARGE_UPDATES).
ACCELERATOR_ARGS: dict[str, list[str]] = {"skipgram": ["--large-updates"]}

# Peers that need their own virtual environment (torch, old pins): the runner
# passes ``--<peer>-python PATH`` on to the scripts that compare with them.
PEER_PYTHONS: dict[str, tuple[str, ...]] = {
    "torch": ("contrastive",),
    "pykeen": ("kg",),
    "recbole": ("retrieval",),
}

# Data-sheet peaks: memory bandwidth (bytes/s) and dense FLOP/s (bf16 tensor
# cores / MXU; float32 non-tensor where listed). Sources: NVIDIA H100 and H200
# Tensor Core GPU data sheets (SXM), NVIDIA A100 data sheet (80 GB SXM), NVIDIA
# L4 data sheet, Google Cloud TPU system architecture pages (v4, v5e, v5p).
PEAKS: dict[str, dict[str, float]] = {
    "H200": {"bandwidth": 4.8e12, "bf16_flops": 989e12, "f32_flops": 67e12},
    "H100": {"bandwidth": 3.35e12, "bf16_flops": 989e12, "f32_flops": 67e12},
    "A100": {"bandwidth": 2.039e12, "bf16_flops": 312e12, "f32_flops": 19.5e12},
    "L4": {"bandwidth": 300e9, "bf16_flops": 121e12, "f32_flops": 30.3e12},
    "TPU v4": {"bandwidth": 1.2e12, "bf16_flops": 275e12},
    "TPU v5 lite": {"bandwidth": 819e9, "bf16_flops": 197e12},
    "TPU v5e": {"bandwidth": 819e9, "bf16_flops": 197e12},
    "TPU v5p": {"bandwidth": 2.765e12, "bf16_flops": 459e12},
}


def device_info() -> dict[str, Any]:
    import jax
    import jaxlib

    try:
        import optax

        optax_version = optax.__version__
    except ImportError:  # pragma: no cover - optax is a core dependency
        optax_version = None
    devices = jax.devices()
    return {
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "backend": jax.default_backend(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "optax": optax_version,
            "python": platform.python_version(),
        },
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def peak_for(device_kind: str) -> dict[str, float] | None:
    for name, peak in PEAKS.items():
        if name.lower() in device_kind.lower():
            return dict(peak, source="data sheet", name=name)
    return None


# ---------------------------------------------------------------------------
# Distance to the limit: kernels whose minimum traffic is known
# ---------------------------------------------------------------------------


def triad_bandwidth(n: int, repeats: int) -> dict[str, float]:
    """STREAM triad ``a = b + s * c`` in JAX: 3 arrays of float32 per element."""
    import jax
    import jax.numpy as jnp

    b = jnp.arange(n, dtype=jnp.float32)
    c = jnp.ones(n, jnp.float32)
    triad = jax.jit(lambda b, c: b + jnp.float32(3.0) * c)
    t = _timing.measure(triad, b, c, repeats=repeats)
    moved = 3 * 4 * n
    return {"bandwidth": moved / t.median, "bytes": moved, "median_s": t.median}


def roofline_kernels(suite: str, repeats: int) -> list[dict[str, Any]]:
    """Times the memory-bound kernels and states the bytes and FLOPs they need."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    import jaxns

    out: list[dict[str, Any]] = []
    key = jax.random.key(0)
    quick = suite == "quick"

    # Alias draws: per draw one 32-bit threshold and one 32-bit alias read
    # (at least; cached tables read less) and one int32 id written.
    vocab_sizes = (10_000, 1_000_000) if quick else (10_000, 1_000_000, 10_000_000)
    draws = 1_000_000 if quick else 10_000_000
    for v in vocab_sizes:
        counts = np.floor(1e7 / np.arange(1, v + 1) ** 1.05) + 1
        sampler = jaxns.samplers.unigram(counts, power=0.75)
        fn = jax.jit(lambda s, k: s.sample(k, (draws,)))
        t = _timing.measure(fn, sampler, key, repeats=repeats)
        out.append(
            _kernel("alias draws", {"vocab": v, "draws": draws}, t, 12.0 * draws, 0.0)
        )

    # SGNS step with per-example negatives, B pairs, k negatives, dim d:
    # gathers (2 + k) rows of d float32 and scatters as many row gradients;
    # 2 (2 + k) d FLOPs forward (dots) and about twice that backward.
    vocab, dim, k = 100_000, 128, 5
    batches = (1024, 4096) if quick else (1024, 4096, 16384, 65536)
    w_in = jax.random.normal(key, (vocab, dim)) * 0.01
    w_out = jnp.zeros((vocab, dim))
    noise = jaxns.samplers.unigram(np.arange(vocab, 0, -1), power=0.75)

    def sgns_step(w_in, w_out, centres, contexts, negatives):
        def loss_fn(u, v):
            pos = jnp.sum(u * v[:, 0], -1)
            neg = jnp.einsum("bd,bkd->bk", u, v[:, 1:])
            return jaxns.losses.sgns(pos, neg).sum()

        u = w_in[centres]
        v = w_out[jnp.concatenate([contexts[:, None], negatives], 1)]
        gu, gv = jax.grad(loss_fn, argnums=(0, 1))(u, v)
        ids = jnp.concatenate([contexts[:, None], negatives], 1)
        w_in = w_in.at[centres].add(-0.025 * gu)
        w_out = w_out.at[ids].add(-0.025 * gv)
        return w_in, w_out

    # Tables are donated and updated in place, as a training loop does: without
    # donation every call would copy both whole tables.
    step = jax.jit(sgns_step, donate_argnums=(0, 1))
    tables = [w_in, w_out]

    def train_step(centres, contexts, negatives):
        tables[:] = step(*tables, centres, contexts, negatives)
        return tables

    for b in batches:
        kc, kx, kn = jax.random.split(jax.random.key(b), 3)
        centres = jax.random.randint(kc, (b,), 0, vocab)
        contexts = jax.random.randint(kx, (b,), 0, vocab)
        negatives = noise.sample(kn, (b, k))
        t = _timing.measure(train_step, centres, contexts, negatives, repeats=repeats)
        rows = b * (2 + k)
        moved = 3.0 * rows * dim * 4  # gather, read-modify-write of the scatter
        flops = 6.0 * b * (1 + k) * dim
        out.append(_kernel("sgns step", {"batch": b, "pairs": b}, t, moved, flops))

    # Row-sparse Adam over touched rows: read parameter, gradient, two moments,
    # write parameter and two moments: 7 float32 rows of d per touched row.
    table = jax.random.normal(key, (1_000_000, dim))
    opt = jaxns.optim.row_sparse(optax.adam(1e-3))
    state = opt.init(table)
    # Donated inputs in the order of the outputs (table, state): XLA pairs a
    # donated buffer with the first output of its shape (see benchmarks/optim.py).
    upd = jax.jit(
        lambda table, state, ids, grads: opt.update(ids, grads, state, table),
        donate_argnums=(0, 1),
    )
    held = [table, state]

    def apply(ids, grads):
        held[:] = upd(*held, ids, grads)
        return held

    for rows in (4096,) if quick else (4096, 65536):
        ids = jax.random.randint(key, (rows,), 0, table.shape[0])
        grads = jnp.ones((rows, dim))
        t = _timing.measure(apply, ids, grads, repeats=repeats)
        out.append(
            _kernel(
                "row-sparse adam",
                {"rows": rows},
                t,
                7.0 * rows * dim * 4,
                10.0 * rows * dim,
            )
        )
    return out


def _kernel(name, size, timing, moved, flops) -> dict[str, Any]:
    return {
        "kernel": name,
        "size": size,
        **timing.as_dict(),
        "bytes": moved,
        "flops": flops,
        "bandwidth": moved / timing.median,
        "flop_rate": flops / timing.median,
    }


# ---------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------


def skip_reason(name: str, backend: str, explicit: bool) -> str | None:
    """Why the runner skips script ``name`` on ``backend`` (``None``: it runs).
    ``explicit``: ``--only`` named it."""
    if name in CPU_ONLY and backend != "cpu" and not explicit:
        return f"skipped: measures the host CPU (--only {name} runs it)"
    return None


def run_script(
    name: str,
    suite: str,
    timeout: float,
    env: dict[str, str],
    peers: dict[str, str] | None = None,
    accelerator: bool = False,
) -> dict[str, Any]:
    script, quick_args, full_args = SCRIPTS[name]
    path = HERE / script
    if not path.exists():
        return {"status": "missing", "script": script}
    args = list(quick_args if suite == "quick" else full_args)
    if accelerator:
        args += ACCELERATOR_ARGS.get(name, [])
    for peer, python in (peers or {}).items():
        if python and name in PEER_PYTHONS[peer]:
            args += [f"--{peer}-python", python]
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as rec:
        record_path = rec.name
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            cwd=ROOT,
            env={**env, "JAXNS_BENCH_RECORD": record_path},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        status = f"timeout after {timeout:.0f} s"
        stdout = e.stdout or ""
        stderr = e.stderr or ""
        if isinstance(stdout, bytes):
            stdout, stderr = stdout.decode(), stderr.decode()
    seconds = time.perf_counter() - start
    records = []
    with open(record_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    os.unlink(record_path)
    return {
        "status": status,
        "script": script,
        "args": args,
        "seconds": seconds,
        "stdout": stdout,
        "stderr_tail": stderr[-2000:],
        "records": records,
    }


def ratios(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Other contestants' median time over jaxns's, per (benchmark, group)."""
    rows = []
    for name, result in results.items():
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in result.get("records", []):
            if "median_s" in r:
                groups.setdefault(r.get("group", ""), []).append(r)
        for group, recs in groups.items():
            ours = [r for r in recs if str(r["label"]).lower().startswith("jaxns")]
            if not ours:
                continue
            best = min(ours, key=lambda r: r["median_s"])
            for r in recs:
                if r in ours or r["median_s"] <= 0:
                    continue
                rows.append(
                    {
                        "benchmark": name,
                        "group": group,
                        "jaxns": best["label"],
                        "against": r["label"],
                        "speedup": r["median_s"] / best["median_s"],
                    }
                )
    return rows


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("quick", "full"), default="quick")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCRIPTS) + ["roofline"], metavar="NAME"
    )
    parser.add_argument("--out", type=pathlib.Path, help="default results/DEVICE.json")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per script"
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds for the whole run: later scripts get what is left",
    )
    for peer, names in PEER_PYTHONS.items():
        parser.add_argument(
            f"--{peer}-python",
            metavar="PATH",
            help=f"a Python that can import {peer}, for: {', '.join(names)}",
        )
    args = parser.parse_args(argv)
    peers = {p: getattr(args, f"{p}_python") for p in PEER_PYTHONS}
    quick = args.suite == "quick"
    repeats = args.repeats or (5 if quick else 11)
    timeout = args.timeout or (240.0 if quick else 1200.0)
    selected = args.only or [*SCRIPTS, "roofline"]

    info = device_info()
    out = args.out or ROOT / "results" / f"{_slug(info['device_kind'])}.json"
    print(_timing.device_line(), flush=True)

    limits: dict[str, Any] = {}
    kernels: list[dict[str, Any]] = []
    if "roofline" in selected:
        peak = peak_for(info["device_kind"])
        # 3 x 256 MiB (quick: 3 x 64 MiB): far beyond any cache, so the triad
        # reads and writes memory; kernels whose working set fits in cache can
        # exceed it (flagged in the plots).
        triad = triad_bandwidth(1 << (24 if quick else 26), repeats)
        limits = {
            "measured_triad": triad,
            "peak": peak
            or {"bandwidth": triad["bandwidth"], "source": "STREAM-like triad"},
        }
        print(f"triad bandwidth: {triad['bandwidth'] / 1e9:.1f} GB/s", flush=True)
        kernels = roofline_kernels(args.suite, repeats)
        peak_bw = limits["peak"]["bandwidth"]
        for k in kernels:
            k["fraction_of_peak_bandwidth"] = k["bandwidth"] / peak_bw
            size = ", ".join(f"{a}={b:,}" for a, b in k["size"].items())
            print(
                f"  {k['kernel']:<16} {size:<32} {1e3 * k['median_s']:9.3f} ms  "
                f"{k['bandwidth'] / 1e9:8.1f} GB/s  "
                f"({100 * k['fraction_of_peak_bandwidth']:.0f}% of peak)",
                flush=True,
            )

    deadline = time.monotonic() + args.budget if args.budget else None
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    scripts: dict[str, dict[str, Any]] = {}
    for name in selected:
        if name == "roofline":
            continue
        print(f"== {name}", flush=True)
        left = (
            timeout if deadline is None else min(timeout, deadline - time.monotonic())
        )
        if left < 10:
            scripts[name] = {"status": "skipped: budget spent", "script": name}
            continue
        reason = skip_reason(name, info["backend"], bool(args.only))
        if reason:
            scripts[name] = {"status": reason, "script": name}
            print(f"   {reason}", flush=True)
            continue
        scripts[name] = run_script(
            name, args.suite, left, env, peers, info["backend"] != "cpu"
        )
        r = scripts[name]
        print(
            f"   {r['status']}"
            + (
                f" in {r['seconds']:.1f} s, {len(r['records'])} records"
                if "seconds" in r
                else ""
            ),
            flush=True,
        )

    result = {
        "suite": args.suite,
        **info,
        "limits": limits,
        "kernels": kernels,
        "benchmarks": scripts,
        "ratios": ratios(scripts),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n", encoding="utf-8")
    for row in result["ratios"]:
        print(
            f"  {row['benchmark']:<11} {row['group'][:40]:<40} "
            f"{row['jaxns']} vs {row['against']}: {row['speedup']:.2f}x"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
