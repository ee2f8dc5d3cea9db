# SPDX-License-Identifier: Apache-2.0
"""RecBole's side of ``retrieval_vs_recbole.py``, run under RecBole's own Python.

RecBole needs old pins (``numpy<1.24``, torch), so it lives in a separate
environment; this script imports neither JAX nor jaxns. It reads a RecBole
atomic dataset directory, builds RecBole's split with RecBole's own code, trains
one model with RecBole's trainer (early stopping on the validation metric) and
writes one JSON with the timings, the metrics and the split as one code per row
of the ``.inter`` file (0 train, 1 valid, 2 test), so that jaxns can train and
evaluate on exactly the same split.

    python benchmarks/_recbole_worker.py --data-dir DIR --dataset NAME --out OUT

``--train-seeds N`` trains N times on the one split (built with ``--seed``),
with training seeds ``seed .. seed + N - 1``: RecBole's own spread over seeds,
for comparing means.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import shutil
import tempfile
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="holds NAME/NAME.inter")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="BPR")
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--stopping-step", type=int, default=10)
    p.add_argument(
        "--train-seeds",
        type=int,
        default=1,
        help="train this many times on the one split, with training seeds "
        "seed, seed + 1, ... (the split always comes from --seed)",
    )
    args = p.parse_args()

    # RecBole reloads its own best checkpoint with torch.load, which torch>=2.6
    # refuses by default (weights_only); the file is the one this run wrote.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.data.interaction import Interaction
    from recbole.utils import init_logger, init_seed
    from recbole.utils.enum_type import FeatureSource, FeatureType

    work = pathlib.Path(tempfile.mkdtemp(prefix="recbole-run-"))
    config = Config(
        model=args.model,
        dataset=args.dataset,
        config_dict={
            "data_path": args.data_dir,
            "checkpoint_dir": str(work / "saved"),
            "seed": args.seed,
            "epochs": args.epochs,
            "embedding_size": args.dim,
            "learning_rate": args.lr,
            "train_batch_size": args.batch_size,
            "stopping_step": args.stopping_step,
            "topk": [10, 20, 50],
            "use_gpu": False,
            "show_progress": False,
            "state": "WARNING",
            "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logging.getLogger().setLevel(logging.WARNING)
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    # Remember each row's line in the .inter file through RecBole's own split.
    n = len(dataset.inter_feat)
    dataset.field2type["row_id"] = FeatureType.TOKEN
    dataset.field2source["row_id"] = FeatureSource.INTERACTION
    dataset.inter_feat["row_id"] = np.arange(n)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    codes = np.full(n, -1, np.int64)
    for code, part in enumerate((train_data, valid_data, test_data)):
        feat = part._dataset.inter_feat
        rows = (feat["row_id"] if isinstance(feat, Interaction) else feat).numpy()
        codes[rows] = code
    assert (codes >= 0).all(), "every row belongs to one part"
    # Check that RecBole kept the file's rows (no filtering) in file order.
    first = pathlib.Path(args.data_dir, args.dataset, f"{args.dataset}.inter")
    with open(first) as handle:
        num_lines = sum(1 for line in handle if line.strip()) - 1
    assert num_lines == n, f"RecBole kept {n} of {num_lines} rows"
    t_data = time.perf_counter() - t0

    runs = [
        train_once(config, train_data, valid_data, test_data, args.seed + s)
        for s in range(args.train_seeds)
    ]
    first = runs[0]
    out = {
        "model": args.model,
        "torch_threads": torch.get_num_threads(),
        "num_rows": int(n),
        "split_sizes": [int((codes == c).sum()) for c in range(3)],
        "data_seconds": t_data,
        **first,
        # Every training seed on the same split (the first is the run above).
        "seeds": [
            {k: r[k] for k in ("seed", "fit_seconds", "epochs", "best_valid", "test")}
            for r in runs
        ],
        "split_codes": codes.tolist(),
    }
    pathlib.Path(args.out).write_text(json.dumps(out))
    shutil.rmtree(work, ignore_errors=True)


def train_once(config, train_data, valid_data, test_data, seed: int) -> dict:
    """One early-stopped fit of RecBole's model on the prepared split.

    The training seed drives what RecBole seeds at the start of a run (the
    model's initialisation, the negatives drawn by NumPy) and the train loader's
    shuffle generator, which RecBole seeds once when it builds the loader.
    """
    import torch
    from recbole.utils import get_model, get_trainer, init_seed

    config["seed"] = seed
    init_seed(seed + config["local_rank"], config["reproducibility"])
    train_data.generator.manual_seed(seed)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    epoch_times: list[float] = []
    eval_times: list[float] = []
    valid_curve: list[float] = []
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

    def timed_train(*a, **k):
        start = time.perf_counter()
        out = train_epoch(*a, **k)
        epoch_times.append(time.perf_counter() - start)
        return out

    def timed_valid(*a, **k):
        start = time.perf_counter()
        out = valid_epoch(*a, **k)
        eval_times.append(time.perf_counter() - start)
        valid_curve.append(float(out[0]))
        return out

    trainer._train_epoch, trainer._valid_epoch = timed_train, timed_valid
    t1 = time.perf_counter()
    _, best_valid = trainer.fit(train_data, valid_data, saved=True, verbose=False)
    fit_seconds = time.perf_counter() - t1
    start = time.perf_counter()
    test = trainer.evaluate(test_data, load_best_model=True)
    test_seconds = time.perf_counter() - start
    return {
        "seed": seed,
        "torch_threads": torch.get_num_threads(),
        "fit_seconds": fit_seconds,
        "epochs": len(epoch_times),
        "epoch_seconds": epoch_times,
        "eval_seconds": eval_times,
        "test_eval_seconds": test_seconds,
        "valid_mrr10_curve": valid_curve,
        "best_valid": {k: float(v) for k, v in best_valid.items()},
        "test": {k: float(v) for k, v in test.items()},
    }


if __name__ == "__main__":
    main()
