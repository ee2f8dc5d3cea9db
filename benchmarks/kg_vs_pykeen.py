# SPDX-License-Identifier: Apache-2.0
"""Knowledge-graph link prediction: jaxns (examples/knowledge_graph.py) vs PyKEEN.

The same sLCWA configuration (the anchor table of issue 8: batch 256, 64
negatives per positive, 200 real dimensions per entity, Adam with torch's
defaults, seed 42, filtered realistic test metrics on both sides) is trained
by PyKEEN's ``pipeline`` and by jaxns, each in its own fresh process, one
after the other on the same cores, and both are printed with their ratios:

    python benchmarks/kg_vs_pykeen.py --dataset umls
    python benchmarks/kg_vs_pykeen.py --configs rotate transe --epochs 10
    python benchmarks/kg_vs_pykeen.py --pykeen-python /path/to/venv/bin/python
    python benchmarks/kg_vs_pykeen.py --quick   # smoke: Nations, RotatE, 5 epochs
    python benchmarks/kg_vs_pykeen.py --known-triples 3000000

``--known-triples N`` times only the host-side set-up on ``N`` random triples
of FB15k-237's sizes (14,541 entities, 237 relations): the filtered set
(``kg.known_triples``) against the same rows sorted the plain NumPy way
(``np.unique(axis=0)`` and ``np.lexsort``), and the Bernoulli sampler's
head probabilities (``samplers.bernoulli_head_prob``) against the same
counts from ``np.unique(axis=0)``, median of 3 calls each.

PyKEEN is not a dependency: it runs under ``--pykeen-python`` (default: this
interpreter when it can import ``pykeen``; otherwise PyKEEN is reported as not
installed and only jaxns runs). A data set that cannot be loaded (no cache, no
PyKEEN package, no network) is reported as not available, and nothing runs.
PyKEEN uses ``torch.set_num_threads(threads)``; XLA uses the process's cores.
Positives/s counts training triples per second of the training loop (each
scored with its negatives); jaxns's steady rate leaves out the first epoch,
which includes compilation. Wall time is the
whole process from interpreter start (imports, data, compilation, training,
evaluation); CPU seconds (user + system, all threads) of the same process tell
the cost apart from the load of a shared machine.

Records for ``benchmarks/run.py``: one group per configuration (``"kg rotate"``,
...), labels ``"jaxns"`` and ``"PyKEEN"``, the training-loop seconds as the
time (so the runner's ratio is PyKEEN's training time over jaxns's), with
positives/s, wall and CPU seconds and the filtered MRR as values.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name -> (jaxns example flags, PyKEEN pipeline keyword arguments)
CONFIGS = {
    "rotate": (
        ["--model", "rotate", "--loss", "nssa", "--margin", "9"],
        dict(
            model="RotatE",
            loss="NSSA",
            loss_kwargs=dict(margin=9.0, adversarial_temperature=1.0),
            complex_dim=True,
        ),  # fmt: skip
    ),
    "rotate-bernoulli": (
        [
            "--model",
            "rotate",
            "--loss",
            "nssa",
            "--margin",
            "9",
            "--sampler",
            "bernoulli",
        ],
        dict(
            model="RotatE",
            loss="NSSA",
            loss_kwargs=dict(margin=9.0, adversarial_temperature=1.0),
            complex_dim=True,
            sampler="bernoulli",
        ),
    ),  # fmt: skip
    "rotate-filtered": (
        [
            "--model",
            "rotate",
            "--loss",
            "nssa",
            "--margin",
            "9",
            "--filtered-negatives",
        ],
        dict(
            model="RotatE",
            loss="NSSA",
            loss_kwargs=dict(margin=9.0, adversarial_temperature=1.0),
            complex_dim=True,
            filtered=True,
        ),
    ),  # fmt: skip
    "transe": (
        ["--model", "transe", "--loss", "nssa", "--margin", "12"],
        dict(
            model="TransE",
            loss="NSSA",
            loss_kwargs=dict(margin=12.0, adversarial_temperature=1.0),
            model_kwargs=dict(scoring_fct_norm=1),
        ),
    ),  # fmt: skip
    "distmult": (
        ["--model", "distmult", "--loss", "softplus", "--normalize-entities", "no"],
        dict(
            model="DistMult",
            loss="softplus",
            model_kwargs=dict(entity_constrainer=None),
        ),
    ),  # fmt: skip
}


# Contestants as benchmarks/run.py pairs them within a group.
LABELS = {"jaxns": "jaxns", "pykeen": "PyKEEN"}


def run_pykeen(spec: dict) -> None:
    """Worker: one PyKEEN pipeline run; prints a JSON line."""
    t0 = time.perf_counter()
    import torch
    from pykeen.pipeline import pipeline

    torch.set_num_threads(spec["threads"])
    config = CONFIGS[spec["config"]][1]
    dim = spec["dim"] // 2 if config.get("complex_dim") else spec["dim"]
    result = pipeline(
        dataset=spec["dataset"],
        model=config["model"],
        model_kwargs=dict(embedding_dim=dim, **config.get("model_kwargs", {})),
        loss=config["loss"],
        loss_kwargs=config.get("loss_kwargs"),
        negative_sampler=config.get("sampler", "basic"),
        negative_sampler_kwargs=dict(
            num_negs_per_pos=spec["negatives"], filtered=config.get("filtered", False)
        ),
        optimizer="adam",
        optimizer_kwargs=dict(lr=spec["lr"]),
        training_kwargs=dict(num_epochs=spec["epochs"], batch_size=spec["batch_size"]),
        evaluator_kwargs=dict(filtered=True),
        random_seed=spec["seed"],
        device="cpu",
        use_tqdm=False,
    )
    metrics = result.metric_results
    out = {
        "train_seconds": result.train_seconds,
        "evaluate_seconds": result.evaluate_seconds,
        "wall_seconds": time.perf_counter() - t0,
        "pykeen": importlib.metadata.version("pykeen"),
        "torch": torch.__version__,
    }
    for side in ("both", "head", "tail"):
        out[side] = {
            "mrr": metrics.get_metric(f"{side}.realistic.inverse_harmonic_mean_rank"),
            "hits@1": metrics.get_metric(f"{side}.realistic.hits_at_1"),
            "hits@10": metrics.get_metric(f"{side}.realistic.hits_at_10"),
        }
    print("RESULT " + json.dumps(out))


def _child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pykeen_python(requested: str | None) -> str | None:
    if requested:
        return requested
    if importlib.util.find_spec("pykeen") is not None:
        return sys.executable
    return None


def _peer_data(python: str | None) -> None:
    """Points ``$JAXNS_KG_DATA`` at the data that the PyKEEN peer's wheel ships."""
    if not python or python == sys.executable or os.environ.get("JAXNS_KG_DATA"):
        return
    from benchmarks import _timing

    folder = _timing.peer_path(python, "pykeen", "datasets")
    if folder is not None:
        os.environ["JAXNS_KG_DATA"] = str(folder)


def _train_size(dataset: str) -> int:
    import jaxns.kg

    return len(jaxns.kg.load_triples(dataset).train)


def _jaxns(args, config: str, tmp: pathlib.Path) -> dict:
    report = tmp / f"jaxns-{config}.json"
    cmd = [sys.executable, str(ROOT / "examples" / "knowledge_graph.py")]
    cmd += CONFIGS[config][0]
    cmd += ["--dataset", args.dataset, "--epochs", str(args.epochs), "--dim",
            str(args.dim), "--negatives", str(args.negatives), "--batch-size",
            str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed),
            "--no-progress", "--report", str(report)]  # fmt: skip
    t0, cpu0 = time.perf_counter(), _child_cpu_seconds()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    cpu = _child_cpu_seconds() - cpu0
    stats = json.loads(report.read_text())
    return {
        "positives_per_second": stats["positives_per_second"],
        "steady_positives_per_second": stats["steady_positives_per_second"],
        "train_seconds": stats["train_seconds"],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        **{side: stats["test"][side] for side in ("both", "head", "tail")},
    }


def _pykeen(args, config: str, python: str, num_train: int) -> dict:
    spec = dict(vars(args), config=config)
    spec = {k: spec[k] for k in ("config", "dataset", "epochs", "dim", "negatives",
                                 "batch_size", "lr", "seed", "threads")}  # fmt: skip
    cmd = [python, __file__, "--run-pykeen", json.dumps(spec)]
    t0, cpu0 = time.perf_counter(), _child_cpu_seconds()
    proc = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu = _child_cpu_seconds() - cpu0
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    out["wall_seconds"] = wall
    out["cpu_seconds"] = cpu
    out["positives_per_second"] = args.epochs * num_train / out["train_seconds"]
    return out


def _time_known_triples(n: int) -> None:
    """kg.known_triples and samplers.bernoulli_head_prob against NumPy."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import jaxns
    from benchmarks import _timing

    e, r = 14_541, 237
    rng = np.random.default_rng(0)
    triples = np.stack(
        [rng.integers(0, e, n), rng.integers(0, r, n), rng.integers(0, e, n)], 1
    )

    def plain():  # the sorted rows and widths kg.known_triples returns
        rows = np.unique(triples, axis=0)
        out = []
        for cols in ((0, 1, 2), (2, 1, 0)):
            t = rows[:, cols]
            t = t[np.lexsort((t[:, 2], t[:, 1], t[:, 0]))]
            out.append((t, np.unique(t[:, :2], axis=0, return_counts=True)[1].max()))
        return out

    def plain_bernoulli():  # tph / (tph + hpt) from distinct rows
        count = np.bincount(triples[:, 1], minlength=r)
        heads = np.bincount(np.unique(triples[:, :2], axis=0)[:, 1], minlength=r)
        tails = np.bincount(np.unique(triples[:, 1:], axis=0)[:, 0], minlength=r)
        tph, hpt = count / heads, count / tails
        return tph / (tph + hpt)

    cases = {
        "known_triples": (plain, lambda: jaxns.kg.known_triples(triples, e, r)),
        "bernoulli_head_prob": (
            plain_bernoulli,
            lambda: jaxns.samplers.bernoulli_head_prob(triples, r),
        ),
    }
    for case, sides in cases.items():
        times = {}
        for name, fn in zip(("numpy", "jaxns"), sides, strict=True):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - start)
            times[name] = statistics.median(runs)
            _timing.record(f"kg {case}", name, seconds=times[name], work={"triples": n})
        print(
            f"{case} of {n:,} triples: numpy {times['numpy']:.2f} s, jaxns "
            f"{times['jaxns']:.2f} s ({times['numpy'] / times['jaxns']:.1f}x)"
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", help="nations, umls, kinships or a folder (umls)")
    p.add_argument(
        "--configs", nargs="+", choices=sorted(CONFIGS),
        help="default: rotate transe distmult (--quick: rotate)",
    )  # fmt: skip
    p.add_argument("--epochs", type=int, help="default 100 (--quick: 5)")
    p.add_argument("--dim", type=int, default=200, help="real numbers per entity")
    p.add_argument("--negatives", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--pykeen-python", help="an interpreter that can import pykeen")
    p.add_argument("--json", help="also write all results as JSON here")
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run in well under a minute: nations, rotate, 5 epochs",
    )  # fmt: skip
    p.add_argument(
        "--known-triples", type=int, metavar="N",
        help="only time kg.known_triples on N random triples, against NumPy",
    )  # fmt: skip
    p.add_argument("--run-pykeen", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run_pykeen:
        run_pykeen(json.loads(args.run_pykeen))
        return
    if args.known_triples is not None:
        _time_known_triples(args.known_triples)
        return
    defaults = (
        ("nations", ["rotate"], 5)
        if args.quick
        else ("umls", ["rotate", "transe", "distmult"], 100)
    )
    for name, value in zip(("dataset", "configs", "epochs"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    sys.path.insert(0, str(ROOT))
    from benchmarks import _timing

    python = _pykeen_python(args.pykeen_python)
    _peer_data(python)  # the same splits PyKEEN reads, when none is local
    try:
        num_train = _train_size(args.dataset)
    except OSError as err:  # FileNotFoundError, a failed download
        print(f"{args.dataset}: not available ({err}); nothing to compare")
        return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="jaxns-kg-bench-"))
    print(
        f"{args.dataset}: {num_train:,} training triples, {args.epochs} epochs, "
        f"batch {args.batch_size}, {args.negatives} negatives, dim {args.dim}, "
        f"lr {args.lr}, seed {args.seed}; {os.cpu_count()} cores, PyKEEN with "
        f"{args.threads} threads"
    )
    print(_timing.device_line())
    if python is None:
        print("PyKEEN: not installed (pass --pykeen-python); jaxns only")
    results = {}
    for config in args.configs:
        row = {"jaxns": _jaxns(args, config, tmp)}
        if python is not None:
            row["pykeen"] = _pykeen(args, config, python, num_train)
        results[config] = row
        _print_row(config, row)
        for lib, r in row.items():
            _timing.record(
                f"kg {config}", LABELS[lib], seconds=r["train_seconds"],
                positives_per_second=r["positives_per_second"],
                wall_seconds=r["wall_seconds"], cpu_seconds=r["cpu_seconds"],
                mrr=r["both"]["mrr"], hits_at_10=r["both"]["hits@10"],
                dataset=args.dataset, epochs=args.epochs,
            )  # fmt: skip
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    print("(ratios: jaxns over PyKEEN for speed; MRR difference jaxns - PyKEEN)")


def _print_row(config: str, row: dict) -> None:
    j, k = row["jaxns"], row.get("pykeen")
    print(f"\n{config}")
    header = f"  {'':26}{'PyKEEN':>12}{'jaxns':>12}{'ratio':>10}"
    print(header)

    def line(label, key, fmt, higher_better=True):
        jv = j[key] if key in j else None
        kv = k[key] if k and key in k else None
        cells = [fmt.format(kv) if kv is not None else f"{'-':>12}",
                 fmt.format(jv) if jv is not None else f"{'-':>12}"]  # fmt: skip
        ratio = ""
        if jv and kv:
            ratio = f"{(jv / kv if higher_better else kv / jv):>9.1f}x"
        print(f"  {label:26}{cells[0]}{cells[1]}{ratio}")

    line("positives/s (train loop)", "positives_per_second", "{:>12,.0f}")
    line("positives/s (steady)", "steady_positives_per_second", "{:>12,.0f}")
    line("train seconds", "train_seconds", "{:>12.1f}", higher_better=False)
    line("wall seconds (process)", "wall_seconds", "{:>12.1f}", higher_better=False)
    line("CPU seconds (process)", "cpu_seconds", "{:>12.1f}", higher_better=False)
    # Quality: the difference jaxns - PyKEEN; "-" where PyKEEN did not run.
    for label, side, metric in (
        ("MRR both", "both", "mrr"),
        ("MRR head", "head", "mrr"),
        ("MRR tail", "tail", "mrr"),
        ("Hits@10 both", "both", "hits@10"),
    ):
        jv = j[side][metric]
        if k is None:
            print(f"  {label:26}{'-':>12}{jv:>12.3f}")
        else:
            kv = k[side][metric]
            print(f"  {label:26}{kv:>12.3f}{jv:>12.3f}{jv - kv:>+10.3f}")


if __name__ == "__main__":
    main()
