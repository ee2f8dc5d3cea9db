# SPDX-License-Identifier: Apache-2.0
"""NT-Xent / CLIP / SigLIP forward + backward: dense vs blocked vs optax vs PyTorch.

For each batch size ``B`` and loss, times one jitted forward + backward pass
(``jax.value_and_grad`` of the mean loss with respect to both embedding
matrices, ``[B, d]`` each) and reads its peak memory from the compiled
executable's ``memory_analysis()`` (arguments + outputs + temporaries):

* ``dense``: ``jaxns.losses.<loss>(...)``, the full ``B x B`` logits
  (``2B x 2B`` for NT-Xent);
* ``blocked``: the same with ``block_size=`` (a scan over candidate blocks with
  a recomputing custom VJP; memory ``O(B * block_size)``);
* ``optax``: ``optax.losses.ntxent`` on the stacked ``2B`` views (NT-Xent only);
* ``PyTorch``: the same three losses written as open_clip and big_vision write
  them (dense), run by ``--torch-python`` (a Python with torch installed) or in
  this process when torch is importable. "not installed" otherwise.

Dense runs are skipped where the compiled estimate exceeds ``--max-gb`` (optax's
``ntxent`` broadcasts a ``[2B, 2B, d]`` tensor for its cosine similarities, so
it stops fitting first). Time per
pair divides by the number of logits (``B^2``, ``4 B^2`` for NT-Xent).

Run ``python benchmarks/contrastive.py`` (B = 512 ... 4096, d = 128), and the
large blocked run with ``python benchmarks/contrastive.py --sizes 65536 --losses
clip siglip --no-dense --repeats 1``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import optax

from jaxns import losses

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import device_line, measure, record  # noqa: E402

LOSSES = ("ntxent", "clip", "siglip")

# Plain PyTorch versions of the three losses (dense), as the peers write them:
# NT-Xent as pytorch-metric-learning's NTXentLoss computes it (cosine, self
# masked, cross-entropy over the other 2B - 1 views), CLIP as open_clip's
# ClipLoss, SigLIP as big_vision's sigmoid loss. Run as a separate process so
# torch can live in its own virtual environment.
TORCH_SCRIPT = r"""
import json, statistics, sys, time
import torch
import torch.nn.functional as F

def ntxent(a, b, t=0.1):
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = z.shape[0]
    logits = (z @ z.T) / t
    logits = logits.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    labels = (torch.arange(n) + n // 2) % n
    return F.cross_entropy(logits, labels)

def clip(a, b, scale=10.0):
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = scale * a @ b.T
    labels = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

def siglip(a, b, scale=10.0, bias=-10.0):
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = scale * a @ b.T + bias
    labels = 2 * torch.eye(a.shape[0]) - 1
    return -F.logsigmoid(labels * logits).sum() / a.shape[0]

cfg = json.loads(sys.argv[1])
if cfg["threads"]:
    torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "ms": {}}
for B in cfg["sizes"]:
    for name in cfg["losses"]:
        a = torch.randn(B, cfg["dim"], requires_grad=True)
        b = torch.randn(B, cfg["dim"], requires_grad=True)
        fn = {"ntxent": ntxent, "clip": clip, "siglip": siglip}[name]
        def step():
            a.grad = b.grad = None
            fn(a, b).backward()
        try:
            step()
            times = []
            for _ in range(cfg["repeats"]):
                t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
            out["ms"][f"{name}/{B}"] = 1e3 * statistics.median(times)
        except RuntimeError as err:  # out of memory
            out["ms"][f"{name}/{B}"] = None
print(json.dumps(out))
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    p.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--block-size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-gb", type=float, default=6.0, help="skip dense above this")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU cores for JAX and PyTorch alike (0: all); on a shared machine "
        "1 avoids measuring thread contention",
    )
    p.add_argument("--no-dense", action="store_true", help="blocked runs only")
    p.add_argument("--torch-python", help="a python with torch (separate venv)")
    p.add_argument("--json", help="write all numbers here")
    p.add_argument("--quick", action="store_true", help="B = 512, 1024; 3 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [512, 1024], 3
    return args


def _loss_fn(name: str, block_size):
    if name == "ntxent":
        return lambda a, b: losses.ntxent(a, b, temperature=0.1, block_size=block_size)
    if name == "clip":
        return lambda a, b: losses.clip(a, b, temperature=0.1, block_size=block_size)
    return lambda a, b: losses.siglip(a, b, block_size=block_size)


def _optax_ntxent(a, b):
    batch = a.shape[0]
    labels = jnp.concatenate([jnp.arange(batch), jnp.arange(batch)])
    return optax.losses.ntxent(jnp.concatenate([a, b]), labels, temperature=0.1)


def _compile(loss, a, b):
    step = jax.jit(jax.value_and_grad(lambda a, b: loss(a, b).mean(), argnums=(0, 1)))
    compiled = step.lower(a, b).compile()
    mem = compiled.memory_analysis()
    peak = None
    if mem is not None:
        peak = (
            mem.temp_size_in_bytes
            + mem.argument_size_in_bytes
            + mem.output_size_in_bytes
        )
    return compiled, peak


def _time(compiled, a, b, repeats):
    if repeats <= 1:
        # Large runs: one timed call after ahead-of-time compilation.
        start = time.perf_counter()
        jax.block_until_ready(compiled(a, b))
        return time.perf_counter() - start
    return measure(compiled, a, b, repeats=repeats).median


def _torch(args, sizes, names):
    cfg = json.dumps(
        {
            "sizes": sizes,
            "losses": names,
            "dim": args.dim,
            "repeats": max(args.repeats, 1),
            "threads": args.threads,
        }
    )
    python = args.torch_python
    if python is None:
        if importlib.util.find_spec("torch") is None:
            return None
        python = sys.executable
    try:
        done = subprocess.run(
            [python, "-c", TORCH_SCRIPT, cfg],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"PyTorch run failed: {err}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.threads > 0 and hasattr(os, "sched_setaffinity"):
        # XLA sizes its CPU thread pool by the affinity in force when the
        # backend starts; PyTorch gets the same count via set_num_threads.
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(cores)[: args.threads])
        jax.devices()
        os.sched_setaffinity(0, cores)
    print(device_line())
    print(
        f"d = {args.dim}, block_size = {args.block_size}, {args.repeats} repeats, "
        f"threads = {args.threads or 'all'}"
    )
    # PyTorch runs once per (B, loss), right after the jaxns variants of that
    # row group, so that on a shared machine both see the same load.
    torch_sizes = [b for b in args.sizes if b <= 8192 and not args.no_dense]
    torch = _torch(args, [], []) if torch_sizes else None
    if torch is None:
        print("PyTorch: not installed (pass --torch-python)")
    else:
        print(f"PyTorch {torch['torch']} ({torch['threads']} threads)")
    torch_runs = []
    rows = []
    header = (
        f"{'loss':<7}{'B':>7} {'variant':<9}{'ms':>10}{'ns/pair':>9}"
        f"{'peak MB':>10}{'vs dense':>9}"
    )
    print(header)
    print("(vs dense: time over jaxns dense's at the same B; above 1x is slower)")
    for batch in args.sizes:
        key = jax.random.split(jax.random.key(batch), 2)
        a = jax.random.normal(key[0], (batch, args.dim))
        b = jax.random.normal(key[1], (batch, args.dim))
        for name in args.losses:
            pairs = (4 if name == "ntxent" else 1) * batch * batch
            variants = [("blocked", _loss_fn(name, args.block_size))]
            if not args.no_dense:
                variants.insert(0, ("dense", _loss_fn(name, None)))
                if name == "ntxent":
                    variants.append(("optax", _optax_ntxent))
            dense_s = None
            for variant, loss in variants:
                compiled, peak = _compile(loss, a, b)
                if variant != "blocked" and peak and peak > args.max_gb * 2**30:
                    print(f"{name:<7}{batch:>7} {variant:<9}  skipped: "
                          f"needs {peak / 2**30:.1f} GB > --max-gb")  # fmt: skip
                    continue
                seconds = _time(compiled, a, b, args.repeats)
                if variant == "dense":
                    dense_s = seconds
                ratio = f"{seconds / dense_s:>8.2f}x" if dense_s else f"{'':>9}"
                print(
                    f"{name:<7}{batch:>7} {variant:<9}{1e3 * seconds:>10.1f}"
                    f"{1e9 * seconds / pairs:>9.2f}"
                    f"{(peak or 0) / 2**20:>10.0f}{ratio}",
                    flush=True,
                )
                row = dict(
                    loss=name, batch=batch, variant=variant, seconds=seconds,
                    peak_bytes=peak, dim=args.dim, block_size=args.block_size,
                )  # fmt: skip
                rows.append(row)
                label = variant if variant == "optax" else f"jaxns {variant}"
                record(f"{name} B={batch}", label, seconds=seconds,
                       peak_bytes=peak, batch=batch, work={"pairs": pairs})  # fmt: skip
            ms = None
            if torch is not None and batch in torch_sizes:
                run = _torch(args, [batch], [name])
                ms = run and run["ms"].get(f"{name}/{batch}")
                torch_runs.append(run)
            if ms:
                dense_txt = f"{1e3 * dense_s / ms:>8.2f}x" if dense_s else ""
                print(
                    f"{name:<7}{batch:>7} {'PyTorch':<9}{ms:>10.1f}"
                    f"{1e6 * ms / pairs:>9.2f}{'':>10}   (jaxns dense / PyTorch"
                    f" {dense_txt.strip()})"
                )
                rows.append(dict(loss=name, batch=batch, variant="pytorch",
                                 seconds=ms / 1e3))  # fmt: skip
                record(f"{name} B={batch}", "PyTorch", seconds=ms / 1e3,
                       batch=batch, work={"pairs": pairs})  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"device": device_line(), "rows": rows, "torch": torch_runs}, f)
    return rows


if __name__ == "__main__":
    main()
