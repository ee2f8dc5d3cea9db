# SPDX-License-Identifier: Apache-2.0
"""Recommender retrieval on MovieLens-100k: jaxns vs RecBole, same split, one run.

1. RecBole 1.2.1's BPR (dim 64, Adam 1e-3, batch 2048, early stopping on valid
   MRR@10 with patience 10) runs in RecBole's own Python
   (``--recbole-python``; RecBole needs old pins) through
   ``benchmarks/_recbole_worker.py``, which also exports RecBole's split as one
   code per row. Without it the RecBole rows print "not installed" and jaxns
   uses its own RecBole-style split.
2. jaxns's BPR with RecBole's settings trains on exactly that split: test
   metrics at the best-validation checkpoint, median epoch time, median
   full-ranking validation time (``benchmarks/_timing.py``: compiled first,
   blocked until ready) and the whole early-stopped fit, side by side.
3. An ablation on the same split around the one-seed search's softmax pick
   (mixed negatives, cosine scores at temperature 0.2, batches of 512), one
   change per row (no logQ, in-batch negatives only, sampled popularity or uniform
   negatives, dot products, side features) and the earlier untuned recipe;
   test metrics (mean over ``--seeds``), the validation MRR@10 that selected
   the recipe and the slowest seed's whole run (model, compilation, training,
   test).

    python benchmarks/retrieval_vs_recbole.py --recbole-python /path/to/python

``--recbole-seeds N`` trains RecBole's BPR with N training seeds on the one
split (seed 2020's) and ``--bpr-seeds N`` jaxns's: the parity row compares the
two means (each side's standard deviation is printed), and the speed table adds
the median and the slowest of the seeds' whole fits.

``--no-ablation`` runs only 1-2, ``--ablation-only`` only 3 (with
``--recbole-result`` on RecBole's split), ``--ablation-rows 1,2`` a part of 3.
``--selection`` replaces the ablation by the recipe's selection: the strongest
configurations of the one-seed search, each over ``--seeds``, with every
seed's validation MRR@10, test NDCG@10 and Recall@10 and whole run.

The data comes from ``jaxns.retrieval.load_interactions("movielens-100k")``; it
is written to a temporary directory for RecBole and deleted afterwards. Without
it (no cache, no RecBole package, no network) the script says so and exits 0.

``--user-items N`` times only the host-side index of each user's items
(``retrieval.user_items``, which masks seen items and draws BPR negatives) on
``N`` random interactions of MovieLens-20M's sizes (138,000 users, 27,000
items), against the distinct pairs taken by ``np.unique`` of their keys (what
it did before), median of 3 calls each.

``--quick`` is a smoke run: jaxns's fits stop after 10 epochs and the ablation
has one seed and two rows (in-batch softmax with and without logQ). Records
for ``benchmarks/run.py``: groups ``"retrieval BPR epoch"``, ``"retrieval
full-ranking eval"`` and (not with ``--quick``) ``"retrieval whole fit"``, with
labels ``"jaxns"`` and ``"RecBole"`` (the runner's ratio is RecBole's time over
jaxns's) and test metrics as values; the ablation's rows are recorded as
quality only (group ``"retrieval ablation"``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import two_tower  # noqa: E402
from _timing import device_line, measure, peer_path, record  # noqa: E402

from jaxns import retrieval  # noqa: E402

AT10 = ("recall@10", "mrr@10", "ndcg@10", "hit@10")
# The one-seed search's pick (selected on valid MRR@10, see RESULTS.md), the
# centre of the ablation: mixed negatives (the batch's 512 positives plus 256
# uniform items shared by the batch, logQ of the mixture), cosine scores at
# temperature 0.2, Adam 1e-3, batches of 512. Each ablation row changes one
# thing of it. Over 3 seeds (--selection) 512 popularity negatives at dim 128
# won by 0.001 valid MRR@10: the example's documented recipe.
SCORES = ["--normalize", "--temperature", "0.2", "--lr", "0.001"]
SCORES += ["--batch-size", "512"]
RECIPE = ["--loss", "mixed", "--negatives", "256", *SCORES]
IN_BATCH = ["--loss", "in_batch", *SCORES]  # the recipe less its 256 negatives
SAMPLED = ["--loss", "sampled_softmax", "--negatives", "512", *SCORES]
# The earlier, untuned softmax recipe, for reference.
UNTUNED = ["--normalize", "--temperature", "0.1", "--lr", "0.005"]
# argparse keeps a flag's last value.
ABLATION = [
    ("BPR (RecBole's settings)", []),
    ("recipe: mixed (in-batch + 256 uniform), logQ", RECIPE),
    ("recipe, no logQ", [*RECIPE, "--no-logq"]),
    ("recipe, in-batch only, logQ", IN_BATCH),
    ("recipe, in-batch only, no logQ", [*IN_BATCH, "--no-logq"]),
    ("recipe, sampled 512 popularity, logQ", [*SAMPLED, "--sampler", "popularity"]),
    (
        "recipe, sampled 512 popularity, no logQ",
        [*SAMPLED, "--sampler", "popularity", "--no-logq"],
    ),
    ("recipe, sampled 512 uniform", SAMPLED),
    (
        "recipe, dot product (temperature 1)",
        [*RECIPE, "--temperature", "1", "--no-normalize"],
    ),
    ("recipe + side features", [*RECIPE, "--features"]),
    ("untuned: sampled 64 uniform, t 0.1", ["--loss", "sampled_softmax", *UNTUNED]),
]

# The strongest configurations of the one-seed search (RESULTS.md), run again
# over --seeds to select the recipe on the mean validation MRR@10.
SELECTION = [
    ("mixed 256, batch 512 (the recipe)", RECIPE),
    ("mixed 256, batch 1024", [*RECIPE, "--batch-size", "1024"]),
    ("mixed 512, batch 1024", [*RECIPE, "--negatives", "512", "--batch-size", "1024"]),
    (
        "mixed 512, batch 1024, lr 2e-3",
        [*RECIPE, "--negatives", "512", "--batch-size", "1024", "--lr", "0.002"],
    ),
    ("sampled 512 popularity, dim 128", [*SAMPLED, "--sampler", "popularity",
                                         "--dim", "128"]),
    ("recipe + side features", [*RECIPE, "--features"]),
]  # fmt: skip


def write_atomic(data: retrieval.Interactions, directory: pathlib.Path) -> None:
    """The interactions as RecBole's ml-100k.inter, rows in file order."""
    users = {v: k for k, v in data.user_to_id.items()}
    items = {v: k for k, v in data.item_to_id.items()}
    (directory / "ml-100k").mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u, i, r, t in zip(
        data.users.tolist(),
        data.items.tolist(),
        data.ratings.tolist(),
        data.timestamps.tolist(),
        strict=True,
    ):
        lines.append(f"{users[u]}\t{items[i]}\t{r:g}\t{int(t)}")
    (directory / "ml-100k" / "ml-100k.inter").write_text("\n".join(lines) + "\n")


def peer_movielens(python: str | None) -> pathlib.Path | None:
    """The ``ml-100k.inter`` that RecBole's wheel ships, in the peer's own venv."""
    return peer_path(python, "recbole", "dataset_example", "ml-100k", "ml-100k.inter")


def run_recbole(args, data) -> dict | None:
    if args.recbole_result:
        return json.loads(pathlib.Path(args.recbole_result).read_text())
    if not args.recbole_python:
        return None
    with tempfile.TemporaryDirectory(prefix="jaxns-recbole-") as tmp:
        tmp = pathlib.Path(tmp)
        write_atomic(data, tmp / "data")
        out = tmp / "recbole.json"
        cmd = [
            args.recbole_python,
            str(ROOT / "benchmarks" / "_recbole_worker.py"),
            "--data-dir",
            str(tmp / "data"),
            "--dataset",
            "ml-100k",
            "--out",
            str(out),
            "--threads",
            str(args.threads),
            "--train-seeds",
            str(args.recbole_seeds),
        ]
        subprocess.run(cmd, check=True, cwd=tmp)
        return json.loads(out.read_text())


def jaxns_run(
    flags, data, split, *, seed: int, timing: bool, epochs: int | None = None
) -> dict:
    if epochs is not None:
        flags = [*flags, "--epochs", str(epochs)]
    args = two_tower.parse_args(
        ["--no-progress", "--seed", str(seed), "--no-compile-cache", *flags]
    )
    start = time.perf_counter()
    result = two_tower.fit(args, data, split, progress=False)
    keys = ("epochs", "best_epoch", "fit_seconds", "valid", "test")
    out = {"seed": seed, **{k: result[k] for k in keys}}
    # The whole run: model, compilation, training, the best checkpoint tested.
    out["run_seconds"] = time.perf_counter() - start
    if timing:
        trainer = result["trainer"]
        key = jax.random.key(0)
        rng = np.random.default_rng(0)

        def epoch(state, key):  # the host's shuffle and negatives count
            orders, negatives = trainer.draw(rng, 0, 1)
            return trainer.train_epoch(
                state, key, orders[0], None if negatives is None else negatives[0]
            )

        out["epoch_seconds"] = measure(epoch, result["state"], key).median
        out["eval_seconds"] = measure(
            trainer.evaluate, result["best_state"], trainer.valid
        ).median
    return out


def example_twice(source, split) -> list[float]:
    """The example's whole BPR fit in two fresh processes sharing a new XLA cache.

    ``examples/two_tower.py`` keeps XLA's persistent compilation cache by
    default, so every run after the first skips compilation; this measures
    both (the split travels as a temporary split file).
    """
    seconds = []
    with tempfile.TemporaryDirectory(prefix="jaxns-example-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "split.txt").write_text("\n".join(map(str, split.codes.tolist())))
        for run in range(2):
            report = tmp / f"run{run}.json"
            cmd = [
                sys.executable, str(ROOT / "examples" / "two_tower.py"),
                "--data", str(source), "--split-file", str(tmp / "split.txt"),
                "--offline", "--no-progress", "--report", str(report),
            ]  # fmt: skip
            env = {**os.environ, "JAXNS_CACHE": str(tmp / "cache")}
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            seconds.append(json.loads(report.read_text())["fit_seconds"])
    return seconds


def _mean(runs: list[dict], reduce=np.mean) -> dict:
    """The @10 test metrics and epochs of several seeds' runs, reduced."""
    return {
        "test": {m: float(reduce([r["test"][m] for r in runs])) for m in AT10},
        "epochs": float(reduce([r["epochs"] for r in runs])),
    }


def side_by_side(args, data, split, recbole, recbole_wall, report: dict) -> None:
    """RecBole's BPR next to jaxns's: metrics, epoch, evaluation, whole fit."""
    epochs = 10 if args.quick else None
    ours = jaxns_run([], data, split, seed=2020, timing=True, epochs=epochs)
    report["jaxns_bpr"] = ours
    print("\nBPR, test metrics at the best-validation checkpoint")
    print(f"{'':18}" + "".join(f"{m:>10}" for m in AT10) + f"{'epochs':>8}")
    runs = [ours] + [
        jaxns_run([], data, split, seed=2020 + s, timing=False, epochs=epochs)
        for s in range(1, args.bpr_seeds)
    ]
    if len(runs) > 1:
        report["jaxns_bpr_seeds"] = runs
    # One seed's metrics move by about 0.01 (Hit@10 more): compare the means.
    sides = [("jaxns", runs)]
    if recbole is not None:
        sides.insert(0, ("RecBole", recbole.get("seeds") or [recbole]))
    means = {}
    for name, side in sides:
        rows = [(name, side[0])]
        if len(side) > 1:
            rows = [
                (f"{name} seed {r.get('seed', 2020 + s)}", r)
                for s, r in enumerate(side)
            ]
            rows.append((f"{name} mean of {len(side)}", _mean(side)))
            rows.append((f"{name} sd", _mean(side, np.std)))
        for label, r in rows:
            print(
                f"{label:18}"
                + "".join(f"{r['test'][m]:>10.4f}" for m in AT10)
                + f"{r['epochs']:>8.0f}"
            )
        means[name] = rows[-2][1] if len(side) > 1 else side[0]
    if recbole is not None:
        mean, rb_mean = means["jaxns"], means["RecBole"]
        several = any(len(side) > 1 for _, side in sides)
        if epochs is None:
            print(
                f"{'diff of means' if several else 'diff':18}"
                + "".join(
                    f"{mean['test'][m] - rb_mean['test'][m]:>+10.4f}" for m in AT10
                )
            )
        else:  # jaxns capped at `epochs`, RecBole early-stopped: not comparable
            print(f"{'diff':18}  n/a (jaxns capped at {epochs} epochs by --quick)")
        report["bpr_means"] = means
        rb_epoch = statistics.median(recbole["epoch_seconds"])
        rb_eval = statistics.median(recbole["eval_seconds"])
        print("\nspeed (median of epochs; whole fit with early stopping)")
        print(f"{'':24}{'RecBole':>10}{'jaxns':>10}{'ratio':>8}")
        speed = [
            ("BPR epoch (s)", rb_epoch, ours["epoch_seconds"]),
            ("full-ranking eval (s)", rb_eval, ours["eval_seconds"]),
        ]
        if epochs is None:  # a capped fit is not comparable with a whole one
            speed.append(("whole fit (s)", recbole["fit_seconds"], ours["fit_seconds"]))
        rb_runs = recbole.get("seeds") or [recbole]
        if len(rb_runs) > 1 and len(runs) > 1 and epochs is None:
            fits = [
                statistics.median(r["fit_seconds"] for r in x) for x in (rb_runs, runs)
            ]
            speed.append(("whole fit, seed median", *fits))
            slowest = [max(r["fit_seconds"] for r in x) for x in (rb_runs, runs)]
            speed.append(("whole fit, slowest seed", *slowest))
        for label, a, b in speed:
            print(f"{label:24}{a:>10.3f}{b:>10.3f}{a / b:>7.1f}x")
        report["recbole"] = {k: v for k, v in recbole.items() if k != "split_codes"}
        report["recbole_wall"] = recbole_wall
    else:
        print("RecBole BPR: not installed")
    contestants = [("jaxns", ours, ours["epoch_seconds"], ours["eval_seconds"])]
    if recbole is not None:
        contestants.append(("RecBole", recbole, rb_epoch, rb_eval))
    for label, r, epoch_s, eval_s in contestants:
        metrics = {m.replace("@", "_at_"): r["test"][m] for m in AT10}
        record("retrieval BPR epoch", label, seconds=epoch_s, **metrics)
        record("retrieval full-ranking eval", label, seconds=eval_s)
        if not args.quick:  # a capped fit is not comparable with an early-stopped one
            record("retrieval whole fit", label, seconds=r["fit_seconds"],
                   epochs=r["epochs"], **metrics)  # fmt: skip


def _time_user_items(n: int) -> None:
    """retrieval.user_items against np.unique of the (user, item) keys."""
    num_users, num_items = 138_000, 27_000
    rng = np.random.default_rng(0)
    data = retrieval.Interactions(
        users=rng.integers(0, num_users, n).astype(np.int32),
        items=rng.integers(0, num_items, n).astype(np.int32),
        ratings=None,
        timestamps=None,
        user_to_id={str(u): u for u in range(num_users)},
        item_to_id={str(i): i for i in range(num_items)},
        user_features={},
        item_features={},
        source="random",
    )

    def plain():  # the distinct pairs and each user's degree
        keys = data.users.astype(np.int64) * num_items + data.items
        pairs = np.unique(keys)
        return pairs, np.bincount(pairs // num_items, minlength=num_users)

    times = {}
    for name, fn in (("numpy", plain), ("jaxns", lambda: retrieval.user_items(data))):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs)
        record("retrieval user_items", name, seconds=times[name], work={"rows": n})
    print(
        f"user_items of {n:,} interactions: numpy {times['numpy']:.2f} s, jaxns "
        f"{times['jaxns']:.2f} s ({times['numpy'] / times['jaxns']:.1f}x)"
    )


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recbole-python", help="a Python with recbole==1.2.1")
    p.add_argument("--recbole-result", help="reuse a _recbole_worker.py JSON")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3, help="seeds per ablation row")
    p.add_argument(
        "--bpr-seeds",
        type=int,
        default=1,
        help="jaxns BPR seeds on the same split (the parity row is their mean)",
    )
    p.add_argument(
        "--recbole-seeds",
        type=int,
        default=1,
        help="RecBole BPR training seeds on the same split (seed 2020's); with "
        "--bpr-seeds, the parity row compares the two means",
    )
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument(
        "--ablation-only",
        action="store_true",
        help="skip the BPR side by side (with --recbole-result: RecBole's split)",
    )
    p.add_argument(
        "--ablation-rows",
        help="comma-separated row numbers of the ablation to run (0 = BPR), "
        "to split it over several runs; default all",
    )
    p.add_argument(
        "--selection",
        action="store_true",
        help="run the recipe's selection table (the strongest configurations "
        "of the one-seed search) instead of the ablation; --ablation-rows "
        "picks its rows",
    )
    p.add_argument(
        "--quick", action="store_true", help="10 epochs; ablation: 1 seed, in-batch"
    )
    p.add_argument("--report", help="write everything as JSON here")
    p.add_argument(
        "--user-items", type=int, metavar="N",
        help="only time retrieval.user_items on N random interactions",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.user_items is not None:
        _time_user_items(args.user_items)
        return {}
    epochs = 10 if args.quick else None
    print(device_line())
    source = "movielens-100k"
    try:
        data = retrieval.load_interactions(source)
    except FileNotFoundError as err:
        # Not in this environment: the copy inside the RecBole peer's wheel.
        source = peer_movielens(args.recbole_python)
        if source is None:
            print(f"movielens-100k: not available ({err})")
            return {}
        data = retrieval.load_interactions(source)
    t0 = time.perf_counter()
    recbole = run_recbole(args, data)
    recbole_wall = time.perf_counter() - t0
    if recbole is None:
        print("RecBole: not installed (pass --recbole-python); jaxns's own split")
        split = retrieval.split_random(jax.random.key(2020), data)
    else:
        split = retrieval.split_from_codes(data, np.asarray(recbole["split_codes"]))
    print(f"split train/valid/test: {split.sizes}")
    report: dict = {"split_sizes": split.sizes}
    if not args.ablation_only:
        side_by_side(args, data, split, recbole, recbole_wall, report)
    if not args.no_ablation:
        # Quick: the BPR row would repeat the run above; in-batch shows logQ.
        table = SELECTION if args.selection else ABLATION
        quick_rows = [row for row in table if "in-batch only" in row[0]]
        configs = (quick_rows or table[:1]) if args.quick else table
        if args.ablation_rows:
            configs = [table[int(i)] for i in args.ablation_rows.split(",")]
        seeds = [2020] if args.quick else [2020 + s for s in range(args.seeds)]
        name = "selection" if args.selection else "ablation"
        print(f"\n{name}, test @10, mean of {len(seeds)} seed(s)")
        print(
            f"{'':44}" + "".join(f"{m:>10}" for m in AT10)
            + f"{'v-mrr@10':>10}{'max s':>7}"
        )  # fmt: skip
        report["ablation"] = {}
        for label, flags in configs:
            runs = [
                jaxns_run(flags, data, split, seed=s, timing=False, epochs=epochs)
                for s in seeds
            ]
            mean = {m: float(np.mean([r["test"][m] for r in runs])) for m in AT10}
            valid = float(np.mean([r["valid"]["mrr@10"] for r in runs]))
            wall = max(r["run_seconds"] for r in runs)
            report["ablation"][label] = {
                "flags": flags, "runs": runs, "mean": mean, "valid_mrr10": valid,
            }  # fmt: skip
            record("retrieval ablation", label,
                   **{m.replace("@", "_at_"): v for m, v in mean.items()})  # fmt: skip
            print(
                f"{label:44}" + "".join(f"{mean[m]:>10.4f}" for m in AT10)
                + f"{valid:>10.4f}{wall:>7.1f}"
            )  # fmt: skip
            if args.selection:  # each seed: valid MRR@10, test @10, whole run
                for r in runs:
                    print(
                        f"{'':4}seed {r['seed']}: valid mrr@10 "
                        f"{r['valid']['mrr@10']:.4f}, test ndcg@10 "
                        f"{r['test']['ndcg@10']:.4f} recall@10 "
                        f"{r['test']['recall@10']:.4f}, {r['epochs']} epochs, "
                        f"whole run {r['run_seconds']:.1f} s"
                    )
    if not (args.ablation_only or args.quick):
        warm = example_twice(source, split)
        report["example_fit_seconds"] = warm
        print(
            f"\nexamples/two_tower.py (BPR) run twice, whole fit: {warm[0]:.2f} s "
            f"(XLA cache empty), {warm[1]:.2f} s (cache filled by the first run)"
        )
        if recbole is not None:
            print(f"RecBole's whole fit over the warm example's: "
                  f"{recbole['fit_seconds'] / warm[1]:.1f}x")  # fmt: skip
    if args.report:
        pathlib.Path(args.report).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
