# SPDX-License-Identifier: Apache-2.0
"""Train a knowledge-graph embedding (TransE, DistMult, ComplEx, RotatE) with jaxns.

Runs with no arguments on the Nations graph (the ConvE split, read from the
jaxns cache, from an installed PyKEEN's data folder, from ``$JAXNS_KG_DATA``
or downloaded once with its SHA-256 checked):

    python examples/knowledge_graph.py
    python examples/knowledge_graph.py --dataset umls --model rotate --epochs 100

It follows PyKEEN's sLCWA recipe: shuffled batches of positives, ``--negatives``
corrupted triples per positive from the Basic or Bernoulli sampler
(optionally dropping those that are training triples), the chosen loss with
PyKEEN's reduction, Adam through Optax, PyKEEN's constraints. At the end it
prints the filtered test metrics (PyKEEN's ``RankBasedEvaluator``, realistic
ranks, head, tail and both sides) and the wall time; ``--report`` writes them
as JSON. ``--dim`` counts real numbers per entity: ComplEx and RotatE use
``dim / 2`` complex numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Sequence

PROG = "knowledge_graph.py"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--dataset",
        default="nations",
        help="nations, umls, kinships, or a directory with train/valid/test.txt",
    )
    p.add_argument(
        "--model", choices=("transe", "distmult", "complex", "rotate"),
        default="rotate",
    )  # fmt: skip
    p.add_argument(
        "--loss",
        choices=("nssa", "softplus", "margin", "bce", "softmax"),
        default="nssa",
        help="softmax: cross-entropy over the positive and its negatives "
        "(not in PyKEEN; --adversarial-temperature scales its scores)",
    )
    p.add_argument("--sampler", choices=("basic", "bernoulli"), default="basic")
    p.add_argument(
        "--filtered-negatives",
        action="store_true",
        help="drop sampled negatives that are training triples",
    )
    p.add_argument(
        "--subsampling",
        action="store_true",
        help="weight positives by Sun et al.'s subsampling weights (not in PyKEEN)",
    )
    p.add_argument(
        "--both-sides",
        action="store_true",
        help="--negatives head and --negatives tail corruptions per positive "
        "(not in PyKEEN)",
    )
    p.add_argument(
        "--regularizer",
        choices=("l2", "n3"),
        default="l2",
        help="l2: PyKEEN's default LpRegularizer; n3: Lacroix et al.'s N3 on "
        "the positives' rows",
    )
    p.add_argument(
        "--regularization",
        type=_nonnegative_float,
        default=None,
        help="regulariser weight (default: PyKEEN's for l2, 0 for n3)",
    )
    p.add_argument(
        "--init-scale",
        type=_positive_float,
        default=1.0,
        help="multiply the initial entity (and ComplEx/DistMult relation) rows",
    )
    p.add_argument("--negatives", type=_positive_int, default=64)
    p.add_argument("--dim", type=_positive_int, default=200,
                   help="real numbers per entity")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=100)
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--lr", type=_positive_float, default=1e-2)
    p.add_argument(
        "--margin",
        type=_nonnegative_float,
        default=None,
        help="loss margin gamma (default: 9 for nssa, 1 for margin)",
    )
    p.add_argument(
        "--adversarial-temperature",
        type=_nonnegative_float,
        default=None,
        help="nssa: the negatives' weights softmax(this * score); softmax: "
        "multiplies the scores (default 1)",
    )
    p.add_argument(
        "--rotate-variant",
        choices=("pykeen", "sun"),
        default=None,
        help="RotatE as PyKEEN scores it (L2 norm) or as Sun et al. (phases, "
        "sum of moduli)",
    )
    p.add_argument(
        "--normalize-entities",
        choices=("auto", "yes", "no"),
        default="auto",
        help="unit entity rows after every step (auto: TransE only, as PyKEEN)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="epochs between validation evaluations (0: none)",
    )
    p.add_argument("--report", help="write the final metrics as JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks (also JAXNS_DEBUG=1)",
    )
    args = p.parse_args(argv)
    if args.eval_every < 0:
        p.error("--eval-every must be >= 0")
    if args.model in ("complex", "rotate") and args.dim % 2:
        p.error(f"--dim must be even for {args.model} (real and imaginary parts)")
    # Flags the loss or the model would ignore are refused, not dropped.
    if args.margin is not None and args.loss not in ("nssa", "margin"):
        p.error(f"--margin has no effect with --loss {args.loss}")
    if args.adversarial_temperature is not None and args.loss not in (
        "nssa",
        "softmax",
    ):
        p.error(f"--adversarial-temperature has no effect with --loss {args.loss}")
    if args.rotate_variant is not None and args.model != "rotate":
        p.error(f"--rotate-variant has no effect with --model {args.model}")
    if args.adversarial_temperature is None:
        args.adversarial_temperature = 1.0
    if args.rotate_variant is None:
        args.rotate_variant = "pykeen"
    if args.report:
        args.report = os.path.expanduser(args.report)  # a quoted ~ too
        _check_writable(p, args.report)
    return args


def _check_writable(parser: argparse.ArgumentParser, path: str) -> None:
    """Fail before training, not after, if the report cannot be written."""
    target = pathlib.Path(path)
    directory = target.parent if str(target.parent) else pathlib.Path(".")
    if target.is_dir():
        parser.error(f"--report {path} is a directory")
    if not directory.is_dir():
        parser.error(f"--report: directory {directory} does not exist")
    if not os.access(directory, os.W_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        parser.error(f"--report {path} is not writable")


class _Progress:
    """A tqdm bar of positives with positives/s and the loss, if available."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="pos", unit_scale=True)
            except ImportError:
                pass

    def update(self, positives: int, loss: float, extra: str = "") -> None:
        if self.bar is not None:
            self.bar.update(positives)
            self.bar.set_postfix_str(f"loss={loss:.4f}{extra}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    import jaxns

    t0 = time.perf_counter()
    data = jaxns.kg.load_triples(args.dataset)
    print(
        f"{data.name}: {data.num_entities} entities, {data.num_relations} "
        f"relations, {len(data.train)}/{len(data.valid)}/{len(data.test)} "
        "train/valid/test triples"
    )
    normalize = {"auto": None, "yes": True, "no": False}[args.normalize_entities]
    trainer = jaxns.kg.make_trainer(
        data.train,
        data.num_entities,
        data.num_relations,
        model=args.model,
        dim=args.dim,
        loss=args.loss,
        sampler=args.sampler,
        num_negatives=args.negatives,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        margin=args.margin,
        adversarial_temperature=args.adversarial_temperature,
        filtered_negatives=args.filtered_negatives,
        rotate_variant=args.rotate_variant,
        normalize_entities=normalize,
        subsampling=args.subsampling,
        regularizer=args.regularizer,
        regularization=args.regularization,
        both_sides=args.both_sides,
        init_scale=args.init_scale,
    )
    key = jax.random.key(args.seed)
    init_key, train_key = jax.random.split(key)
    params, opt_state = trainer.init(init_key)
    valid_known = jaxns.kg.known_triples(
        [data.train, data.valid], data.num_entities, data.num_relations
    )
    test_known = jaxns.kg.known_triples(
        [data.train, data.valid, data.test], data.num_entities, data.num_relations
    )
    progress = _Progress(args.epochs * len(data.train), not args.no_progress)
    train_seconds = first_epoch = 0.0
    history = []
    loss = float("nan")
    for epoch in range(args.epochs):
        t_epoch = time.perf_counter()
        params, opt_state, value = trainer.train_epoch(
            params, opt_state, jax.random.fold_in(train_key, epoch)
        )
        loss = float(value)  # waits for the epoch
        train_seconds += time.perf_counter() - t_epoch
        if epoch == 0:
            first_epoch = train_seconds  # includes compiling the epoch
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} in epoch {epoch + 1}; lower --lr"
            )
        extra = ""
        if args.eval_every and (epoch + 1) % args.eval_every == 0:
            m = jaxns.kg.evaluate(trainer.score_fn, params, data.valid, valid_known)
            history.append({"epoch": epoch + 1, "valid_mrr": m["both"]["mrr"]})
            extra = f", valid MRR={m['both']['mrr']:.3f}"
        progress.update(len(data.train), loss, extra)
    progress.close()
    t_eval = time.perf_counter()
    test = jaxns.kg.evaluate(trainer.score_fn, params, data.test, test_known)
    wall = time.perf_counter() - t0
    print(
        f"trained {args.epochs} epochs in {train_seconds:.1f} s "
        f"({args.epochs * len(data.train) / max(train_seconds, 1e-9):,.0f} "
        f"positives/s; first epoch with compilation {first_epoch:.1f} s), final "
        f"loss {loss:.4f}"
    )
    print(f"filtered test metrics (realistic ranks), {len(data.test)} triples:")
    for side in ("both", "head", "tail"):
        m = test[side]
        print(
            f"  {side:>4}: MRR {m['mrr']:.4f}  Hits@1 {m['hits@1']:.4f}  "
            f"Hits@3 {m['hits@3']:.4f}  Hits@10 {m['hits@10']:.4f}  "
            f"MR {m['mean_rank']:.2f}"
        )
    print(f"evaluation {time.perf_counter() - t_eval:.2f} s, wall {wall:.1f} s")
    report = {
        "dataset": data.name,
        "config": {k: v for k, v in vars(args).items() if k not in ("debug",)},
        "test": test,
        "history": history,
        "final_loss": loss,
        "train_seconds": train_seconds,
        "first_epoch_seconds": first_epoch,
        # after compilation: epochs 2.. only; None (null) with one epoch
        "steady_positives_per_second": (
            (args.epochs - 1) * len(data.train)
            / max(train_seconds - first_epoch, 1e-9)
            if args.epochs > 1 else None
        ),
        "positives_per_second": args.epochs * len(data.train)
        / max(train_seconds, 1e-9),
        "wall_seconds": wall,
        "num_params": int(sum(np.size(x) for x in jax.tree.leaves(params))),
    }  # fmt: skip
    if args.report:
        pathlib.Path(args.report).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.report}")
    return report


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (ValueError, TypeError, OSError, FloatingPointError) as err:
        if args.debug or os.environ.get("JAXNS_DEBUG"):
            raise
        # Usage errors exit 2 (argparse); errors while running exit 1.
        message = " ".join(str(err).split())  # one line
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(sys.argv[1:])
