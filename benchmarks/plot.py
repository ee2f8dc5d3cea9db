# SPDX-License-Identifier: Apache-2.0
"""Draws the benchmark runner's JSON files as PNG plots, one figure per question.

    python benchmarks/plot.py results/*.json -o docs/_static/bench/

Writes:

* ``speedup.png``: jaxns's speed-up against every installed alternative, per
  benchmark and question (median time of the alternative over jaxns's);
* ``roofline.png``: the memory-bound kernels' achieved bandwidth against the
  device's peak, and their roofline points (arithmetic intensity, FLOP rate);
* ``scaling.png``: throughput against problem size (vocabulary size for alias
  draws, batch size for the SGNS step, rows for the row-sparse update).

Every figure names the device(s) in its title.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

import _timing

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # main() says how to install it
    plt = None


def load(paths: list[pathlib.Path]) -> list[dict[str, Any]]:
    runs = []
    for p in paths:
        run = _timing.read_result(p, "plot.py")
        run["_name"] = f"{run['device_kind']} x{run['device_count']}"
        runs.append(run)
    if not runs:
        raise SystemExit("plot.py: error: no result files given")
    return runs


def _title(runs: list[dict[str, Any]], what: str) -> str:
    return f"{what} ({', '.join(sorted({r['_name'] for r in runs}))})"


def plot_speedup(runs: list[dict[str, Any]], out: pathlib.Path) -> pathlib.Path:
    rows = [
        (run["_name"], r)
        for run in runs
        for r in run.get("ratios", [])
        if r.get("speedup", 0) > 0
    ]
    height = max(2.5, 0.32 * len(rows) + 1.2)
    fig, ax = plt.subplots(figsize=(9, height))
    if rows:
        labels = [
            f"{r['benchmark']}: {r['group'][:38]} vs {r['against']}"
            + (f" [{dev}]" if len(runs) > 1 else "")
            for dev, r in rows
        ]
        values = [r["speedup"] for _, r in rows]
        colors = ["tab:green" if v >= 1 else "tab:red" for v in values]
        ax.barh(range(len(rows)), values, color=colors)
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", lw=0.8)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.2f}x", va="center", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no side-by-side records", ha="center", va="center")
    ax.set_xlabel("speed-up of jaxns (alternative's median time / jaxns's), log scale")
    ax.set_title(_title(runs, "jaxns against the alternatives"))
    fig.tight_layout()
    path = out / "speedup.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_roofline(runs: list[dict[str, Any]], out: pathlib.Path) -> pathlib.Path:
    fig, (ax_bw, ax_roof) = plt.subplots(1, 2, figsize=(11, 4.2))
    markers = "osD^v<>p"
    for i, run in enumerate(runs):
        kernels = run.get("kernels", [])
        peak = run.get("limits", {}).get("peak", {})
        bw = peak.get("bandwidth")
        labels = [
            f"{k['kernel']}\n" + ", ".join(f"{a}={b:,}" for a, b in k["size"].items())
            for k in kernels
        ]
        values = [k["bandwidth"] / 1e9 for k in kernels]
        offset = i / max(1, len(runs))
        ax_bw.bar(
            [j + offset * 0.8 for j in range(len(kernels))],
            values,
            width=0.8 / max(1, len(runs)),
            label=run["_name"],
        )
        if kernels and i == 0:
            ax_bw.set_xticks(range(len(kernels)), labels, fontsize=6, rotation=60)
        if bw:
            ax_bw.axhline(bw / 1e9, ls="--", lw=1, color=f"C{i}")
            ax_bw.text(
                -0.5,
                bw / 1e9,
                f" peak {bw / 1e9:.0f} GB/s ({peak.get('source', '')})",
                fontsize=7,
                va="bottom",
            )
        for j, k in enumerate(kernels):
            if k["flops"] <= 0:
                continue
            ai = k["flops"] / k["bytes"]
            ax_roof.scatter(
                ai,
                k["flop_rate"] / 1e9,
                marker=markers[j % len(markers)],
                color=f"C{i}",
                label=f"{k['kernel']} {list(k['size'].values())[0]:,} [{run['_name']}]",
            )
        if bw:
            xs = [1e-2, 1e3]
            roof = [bw * x / 1e9 for x in xs]
            flops_peak = peak.get("f32_flops")
            if flops_peak:
                roof = [min(r, flops_peak / 1e9) for r in roof]
            ax_roof.plot(xs, roof, color=f"C{i}", lw=1)
    ax_bw.set_ylabel("GB/s (minimum traffic / time)")
    ax_bw.set_title("memory-bound kernels", fontsize=9)
    ax_bw.legend(fontsize=7)
    ax_roof.set_xscale("log")
    ax_roof.set_yscale("log")
    ax_roof.set_xlabel("arithmetic intensity (FLOP / byte)")
    ax_roof.set_ylabel("achieved GFLOP/s")
    ax_roof.set_title("roofline (line: bandwidth x intensity)", fontsize=9)
    ax_roof.legend(fontsize=6)
    fig.suptitle(_title(runs, "distance to the memory-bandwidth limit"))
    fig.tight_layout()
    path = out / "roofline.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


_THROUGHPUT = {
    "alias draws": ("vocab", "draws", "draws / s", "vocabulary size"),
    "sgns step": ("batch", "pairs", "pairs / s", "batch size (pairs per step)"),
    "row-sparse adam": ("rows", "rows", "rows / s", "rows per update"),
}


def plot_scaling(runs: list[dict[str, Any]], out: pathlib.Path) -> pathlib.Path:
    fig, axes = plt.subplots(1, len(_THROUGHPUT), figsize=(12, 3.6))
    for ax, (kernel, (x_key, work_key, unit, xlabel)) in zip(
        axes, _THROUGHPUT.items(), strict=True
    ):
        for i, run in enumerate(runs):
            pts = sorted(
                (k["size"][x_key], k["size"][work_key] / k["median_s"])
                for k in run.get("kernels", [])
                if k["kernel"] == kernel
            )
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, "o-", color=f"C{i}", label=run["_name"])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(unit)
        ax.set_title(kernel, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(_title(runs, "throughput against problem size"))
    fig.tight_layout()
    path = out / "scaling.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=pathlib.Path)
    parser.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("."))
    args = parser.parse_args(argv)
    if plt is None:
        raise SystemExit(
            "plot.py: error: matplotlib is not installed: "
            "pip install 'jax-negsampling[bench]' (in a checkout: -e '.[bench]')"
        )
    runs = load(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (
        plot_speedup(runs, args.out),
        plot_roofline(runs, args.out),
        plot_scaling(runs, args.out),
    ):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
