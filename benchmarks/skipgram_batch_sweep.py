# SPDX-License-Identifier: Apache-2.0
"""Skip-gram quality against centres per update, for each way to combine rows.

Trains ``examples/skipgram.py`` (gensim's skip-gram defaults: dim 100, window
5, 5 negatives, min_count 5, sample 1e-3, lr 0.025 -> 1e-4) once per batch
size and ``--duplicate-rows`` mode (and, with ``--jaxns-flags`` and a
``--label`` naming them, further options such as ``--shuffle`` or
``--max-row-rate``), each in a fresh process, scores the vectors with the
same code as ``skipgram_vs_gensim.py`` (WordSim-353, SimLex-999, Google
analogies, semantic and syntactic sections, and analogies over the 30,000
most frequent words), writes the rows to a JSON file and draws their means
over seeds against centres per update into a PNG. A run whose loss diverges
is recorded as such (scores missing).

    python benchmarks/skipgram_batch_sweep.py --corpus debian \\
        --batch-sizes 128,1024,4096,16384,65536 --modes sum,mean,8 \\
        --gensim wordsim353=0.551,simlex999=0.285,analogy=0.193 \\
        --output benchmarks/skipgram_batch_sweep.json \\
        --plot benchmarks/skipgram_batch_sweep.png
    python benchmarks/skipgram_batch_sweep.py --corpus debian \\
        --batch-sizes 16384 --modes sum --seeds 1,2,3 \\
        --label "max_row_rate=0.2, shuffle" \\
        --jaxns-flags="--max-row-rate 0.2 --shuffle" \\
        --output benchmarks/skipgram_batch_sweep.json
    python benchmarks/skipgram_batch_sweep.py --plot-only \\
        --output benchmarks/skipgram_batch_sweep.json \\
        --plot benchmarks/skipgram_batch_sweep.png

Each update's block of ``steps_per_call`` updates is kept near 16k centres
(``steps_per_call = max(1, 16384 // batch)``) so that large batches do not
pad the end of an epoch with a huge empty block.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCORES = (
    ("wordsim353", "WordSim-353"),
    ("simlex999", "SimLex-999"),
    ("analogy", "analogy"),
    ("semantic", "analogy, semantic"),
    ("syntactic", "analogy, syntactic"),
)


def run_one(args: argparse.Namespace, batch: int, mode: str, seed: int) -> dict:
    from skipgram_vs_gensim import _evaluate

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jaxns-sweep-"))
    save, report = tmp / "vectors.txt", tmp / "report.json"
    cmd = [
        sys.executable, "examples/skipgram.py", "--corpus", args.corpus,
        "--epochs", str(args.epochs), "--batch-size", str(batch),
        "--steps-per-call", str(max(1, 16384 // batch)),
        "--duplicate-rows", mode, "--seed", str(seed), "--lr", str(args.lr),
        "--no-eval", "--no-progress", "--save", str(save), "--report", str(report),
        *args.jaxns_flags.split(),
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    row = {"batch_size": batch, "mode": mode, "seed": seed}
    if args.label:
        row.update(label=args.label, flags=args.jaxns_flags, lr=args.lr)
        row["epochs"] = args.epochs
    row["wall"] = time.perf_counter() - t0
    if proc.returncode != 0:
        if "diverged" not in proc.stderr + proc.stdout:
            sys.exit(f"run failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
        row["diverged"] = True
        return row
    stats = json.loads(report.read_text())
    row["train_seconds"] = stats["train_seconds"]
    row.update(_evaluate(str(save), False))
    row["analogy_30k"] = _analogy_30k(str(save))
    return row


def _analogy_30k(path: str) -> float:
    """Analogy accuracy over the 30,000 most frequent words (the evaluation
    default of the earliest rows of this sweep and of their gensim anchor)."""
    import jaxns

    words, vectors = jaxns.wordvectors.load_word2vec_format(path)
    questions = jaxns.datasets.load_analogies("google")
    result = jaxns.evaluation.analogy(vectors, words, questions, restrict_vocab=30_000)
    return float(result.accuracy)


def _series(row: dict) -> str:
    """The plot's line of a row: its label, or its ``duplicate_rows`` mode."""
    return row.get("label") or f"duplicate_rows={row['mode']}"


def _seed_means(rows: list[dict], key: str) -> list[tuple[int, float]]:
    """``(batch_size, mean over seeds of key)``, by batch size."""
    by_batch: dict[int, list[float]] = {}
    for r in rows:
        by_batch.setdefault(r["batch_size"], []).append(r[key])
    return [(b, sum(v) / len(v)) for b, v in sorted(by_batch.items())]


def plot(rows: list[dict], gensim: dict[str, float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("wordsim353", "simlex999", "analogy", "semantic", "syntactic")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.9 * len(keys), 4.4))
    series = sorted({_series(r) for r in rows}, key=lambda m: ("shuffle" in m, m))
    for ax, key in zip(axes, keys, strict=True):
        for name, marker in zip(series, "osD^v<>ph*", strict=False):
            runs = [r for r in rows if _series(r) == name]
            ok = _seed_means([r for r in runs if not r.get("diverged")], key)
            if ok:
                ax.plot(
                    [b for b, _ in ok],
                    [v for _, v in ok],
                    marker=marker,
                    label=f"jaxns, {name}",
                )
            bottom = ax.get_xaxis_transform()  # x in data, y in axes units
            for r in runs:
                if r.get("diverged"):
                    ax.plot([r["batch_size"]], [0.04], "rx", transform=bottom)
                    ax.annotate(
                        "diverged", (r["batch_size"], 0.07), xycoords=bottom, fontsize=7
                    )
        if key in gensim:
            ax.axhline(
                gensim[key], color="gray", ls="--", label="gensim (mean of 3 seeds)"
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("centres per update")
        ax.set_title(dict(SCORES)[key])
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default="debian")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.025)
    p.add_argument("--batch-sizes", default="128,1024,4096,16384,65536")
    p.add_argument("--modes", default="sum,mean")
    p.add_argument("--seeds", default="1")
    p.add_argument("--jaxns-flags", default="")
    p.add_argument(
        "--label",
        default="",
        help="the plot's name for this --jaxns-flags variant (default: "
        "duplicate_rows=MODE); also tells its rows apart from others",
    )
    p.add_argument("--gensim", default="", help="reference scores key=value,...")
    p.add_argument("--output", default="skipgram_batch_sweep.json")
    p.add_argument("--plot", default=None, help="PNG to draw")
    p.add_argument("--plot-only", action="store_true")
    args = p.parse_args(argv)
    gensim = {
        k: float(v) for k, v in (kv.split("=") for kv in args.gensim.split(",") if kv)
    }
    out = pathlib.Path(args.output)
    if args.plot_only:
        data = json.loads(out.read_text())
        plot(data["rows"], data["gensim"], args.plot)
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    stored = json.loads(out.read_text()) if out.exists() else {}
    rows = stored.get("rows", [])
    gensim = gensim or stored.get("gensim", {})  # keep the file's reference
    done = {(r["batch_size"], r["mode"], r["seed"], r.get("label", "")) for r in rows}
    for seed in map(int, args.seeds.split(",")):
        for batch in map(int, args.batch_sizes.split(",")):
            for mode in args.modes.split(","):
                if (batch, mode, seed, args.label) in done:
                    continue
                row = run_one(args, batch, mode, seed)
                rows.append(row)
                # Keep the file's other keys (a hand-written "note").
                stored.update(rows=rows, gensim=gensim)
                out.write_text(json.dumps(stored, indent=1))
                scores = "  ".join(f"{k} {row[k]:.3f}" for k, _ in SCORES if k in row)
                print(
                    f"batch {batch:>6} {mode:>4} {args.label} seed {seed}: "
                    f"{'DIVERGED' if row.get('diverged') else scores}"
                    f"  ({row['wall']:.0f} s)",
                    flush=True,
                )
    if args.plot:
        plot(rows, gensim, args.plot)


if __name__ == "__main__":
    main()
