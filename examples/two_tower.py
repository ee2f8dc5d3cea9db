# SPDX-License-Identifier: Apache-2.0
"""Train a two-tower retrieval model on MovieLens-100k with jaxns, RecBole's protocol.

Runs with no arguments (BPR with RecBole's settings on RecBole's default split):

    python examples/two_tower.py

and with jaxns's objectives, e.g. popularity negatives with logQ correction:

    python examples/two_tower.py --loss sampled_softmax --sampler popularity

The tuned recipe of ``benchmarks/RESULTS.md``, selected on the mean validation
MRR@10 of 3 seeds among the strongest configurations of a one-seed search
(512 popularity-distributed negatives shared by the batch, logQ; cosine
scores at temperature 0.2; dim 128):

    python examples/two_tower.py --loss sampled_softmax --sampler popularity \
        --negatives 512 --normalize --temperature 0.2 --batch-size 512 --dim 128

Mixed negatives (the batch's positives plus 256 uniform items, logQ of the
mixture; ``--loss mixed --negatives 256 --normalize --temperature 0.2
--batch-size 512``, the one-seed search's pick) came second by 0.001.

Data: ``--data movielens-100k`` (from the jaxns cache, an installed RecBole, or
GroupLens' verified download; jaxns ships none of it) or a path (``u.data``,
a RecBole ``.inter`` file, a CSV). Splits: RecBole's default random 8:1:1 by
user (``--split recbole``), leave-one-out by time, a global temporal split, or
``--split-file`` with one code per row (0 train, 1 valid, 2 test) from another
tool. The epochs run on the device, ``--epochs-per-call`` at a time, as one
compiled program: each epoch is a ``lax.scan`` over the batches, then the
model is evaluated on the validation part by full ranking (RecBole's MRR@10),
the best state is kept and training stops after ``--patience`` epochs without
a better MRR@10; the best checkpoint is evaluated on both parts. A fit
compiles three programs (the initialisation, the epochs, the final
evaluation); BPR's negatives are drawn on the host with the shuffles, as
RecBole draws them.
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

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxns
import jaxns.nn
from jaxns import retrieval

KS = (10, 20, 50)


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="two_tower", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="movielens-100k", help="movielens-100k or a path")
    p.add_argument("--split", choices=("recbole", "loo", "temporal"), default="recbole")
    p.add_argument("--split-file", help="one code per interaction row: 0/1/2")
    p.add_argument("--loss", choices=retrieval.OBJECTIVES, default="bpr")
    p.add_argument(
        "--sampler",
        choices=("uniform", "popularity"),
        default=None,
        help="negatives of sampled_softmax and mixed (default uniform)",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="popularity proposal: count**alpha (default 1)",
    )
    p.add_argument(
        "--negatives",
        type=_positive_int,
        default=None,
        help="negatives per positive (bpr, default 1) or shared by the batch "
        "(sampled_softmax, mixed; default 64)",
    )
    p.add_argument("--hard-negatives", type=_positive_int, default=None)
    p.add_argument("--no-logq", action="store_true", help="no logQ correction")
    p.add_argument("--features", action="store_true", help="use side features")
    p.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="cosine scores (--no-normalize: dot products)",
    )
    p.add_argument("--dim", type=_positive_int, default=64)
    p.add_argument("--epochs", type=_positive_int, default=300)
    p.add_argument("--batch-size", type=_positive_int, default=2048)
    p.add_argument("--lr", type=_positive_float, default=1e-3)
    p.add_argument(
        "--temperature",
        type=_positive_float,
        default=None,
        help="softmax temperature (not bpr; default 1)",
    )
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument(
        "--epochs-per-call",
        type=_positive_int,
        default=25,
        help="epochs run on the device between two progress updates",
    )
    p.add_argument("--report", help="write the results as JSON here")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-compile-cache", action="store_true")
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument(
        "--debug",
        action="store_true",
        help="tracebacks on errors (also JAXNS_DEBUG=1)",
    )
    args = p.parse_args(argv)
    if args.patience < 0:
        p.error("--patience must be >= 0")
    if args.alpha is not None and not (math.isfinite(args.alpha) and args.alpha >= 0):
        p.error("--alpha must be finite and >= 0")
    # Flags the loss would ignore are refused, not silently dropped.
    ignored = {
        "bpr": (
            ("--sampler popularity", args.sampler == "popularity"),
            ("--alpha", args.alpha is not None),
            ("--no-logq", args.no_logq),
            ("--temperature", args.temperature is not None),
        ),
        "in_batch": (
            ("--negatives", args.negatives is not None),
            ("--sampler", args.sampler is not None),
        ),
    }
    for flag, given in ignored.get(args.loss, ()):
        if given:
            p.error(f"{flag} has no effect with --loss {args.loss}")
    if args.sampler is None:
        args.sampler = "uniform"
    if args.alpha is not None and args.sampler != "popularity":
        p.error(f"--alpha has no effect with --sampler {args.sampler}")
    if args.alpha is None:
        args.alpha = 1.0
    if args.temperature is None:
        args.temperature = 1.0
    if args.report:
        args.report = os.path.expanduser(args.report)  # where it is written too
        if pathlib.Path(args.report).expanduser().is_dir():
            p.error(f"--report {args.report}: is a directory; give a file name")
        parent = pathlib.Path(args.report).expanduser().resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            p.error(f"--report: cannot write to {parent}")
    args.parser = p
    return args


def make_split(args, data: retrieval.Interactions) -> retrieval.Split:
    if args.split_file:
        return retrieval.load_split(args.split_file, data)
    if args.split == "loo":
        return retrieval.split_leave_one_out(data)
    if args.split == "temporal":
        return retrieval.split_temporal(data)
    return retrieval.split_random(jax.random.key(args.seed), data)


def side_features(features) -> list:
    """Categorical features shared by several entities: fields with at most
    half as many categories as entities (drops zip codes, titles)."""
    out = []
    for _, feature in sorted(features.items()):
        rows = feature.codes.shape[0]
        if feature.vocabulary and len(feature.vocabulary) <= rows // 2:
            out.append(feature.codes)
    return out


def dense_task(task: retrieval.RankingTask):
    """A task's users and its relevant and masked items as dense boolean
    ``[users, items]`` arrays (the validation in the training loop masks with
    one ``where`` instead of a scatter every epoch)."""
    rows = np.arange(task.num_users)[:, None]
    masks = []
    for ids in (task.relevant, task.exclude):
        dense = np.zeros((task.num_users, task.num_items + 1), bool)
        dense[rows, np.asarray(ids)] = True
        masks.append(jax.device_put(np.ascontiguousarray(dense[:, :-1])))
    return task.users, masks[0], masks[1]


def host_negatives(rng: np.random.Generator, known: np.ndarray, users: np.ndarray):
    """RecBole's BPR negatives, drawn by NumPy on the host as RecBole does.

    A uniform item per entry of ``users``, redrawn while it is one of the
    user's training items (``known``: boolean ``[num_users, num_items]``):
    uniform over the items the user has not trained on, the distribution of
    :func:`jaxns.retrieval.sample_negatives`. Drawn on the host with the
    epochs' shuffles because compiling the device draw (threefry hashes, the
    bounded integer draw and the binary search) took about half a second of
    every BPR fit, and the redraw touches ~5% of MovieLens's draws. A user
    who knows every item keeps an arbitrary draw (RecBole would loop).

    Returns:
      ``int32`` item ids, the shape of ``users``.
    """
    num_items = known.shape[1]
    out = rng.integers(0, num_items, users.shape, dtype=np.int32)
    redraw = np.flatnonzero(known[users, out] & ~known.all(axis=1)[users])
    flat, users = out.reshape(-1), users.reshape(-1)
    while redraw.size:
        flat[redraw] = rng.integers(0, num_items, redraw.size, dtype=np.int32)
        redraw = redraw[known[users[redraw], flat[redraw]]]
    return out


def host_xavier_normal(rng: np.random.Generator, shape: tuple[int, int]):
    """PyTorch's ``xavier_normal_`` (RecBole's initialisation) drawn by NumPy.

    The same distribution as :class:`jaxns.nn.IdTower`'s default: a normal
    with variance ``2 / (rows + width)`` per table. Drawn on the host because
    compiling JAX's normal draw for each table shape took about half a second,
    a sizeable part of a whole BPR fit.
    """
    std = math.sqrt(2.0 / (shape[0] + shape[1]))
    return rng.normal(0.0, std, shape).astype(np.float32)


def mrr_at_10(scores: jax.Array, relevant: jax.Array, exclude: jax.Array):
    """RecBole's MRR@10 (:func:`jaxns.retrieval.topk_metrics`) without a top-k.

    The first hit's rank is one plus the number of unmasked items scored above
    the user's best relevant item: a count instead of XLA:CPU's top-k, half
    the time of the validation between epochs. Equal scores are the only
    difference (top-k breaks ties by item id).
    """
    best = jnp.max(jnp.where(relevant, scores, -jnp.inf), axis=1, keepdims=True)
    rank = 1 + jnp.sum(~exclude & (scores > best), axis=1, dtype=scores.dtype)
    live = jnp.any(relevant, axis=1)
    reciprocal = jnp.where(live & (rank <= 10), 1 / rank, 0)
    return jnp.sum(reciprocal) / jnp.maximum(jnp.sum(live, dtype=scores.dtype), 1)


class Trainer:
    """The jitted epoch and evaluation of one configuration.

    A fit compiles two programs: :meth:`init` (the model, the optimizer and
    the early-stopping state, from tables drawn on the host) and
    :meth:`run_epochs` (epochs with validation and early stopping), plus the
    final evaluation. Host arrays reach the device through ``jax.device_put``,
    never through eager JAX operations, each of which would compile a small
    program of its own.
    """

    def __init__(self, args, data: retrieval.Interactions, split: retrieval.Split):
        self.args = args
        self.data = data
        rows = split.rows("train")
        self.users_host = data.users[rows].astype(np.int32)
        self.users = jax.device_put(self.users_host)
        self.items = jax.device_put(data.items[rows].astype(np.int32))
        self.num_rows = int(rows.size)
        self.objective = retrieval.objective(
            args.loss,
            data,
            split,
            num_negatives=args.negatives,
            sampler=args.sampler,
            power=args.alpha,
            log_q_correction=not args.no_logq,
            temperature=args.temperature,
            num_hard_negatives=args.hard_negatives,
        )
        self.known = None
        if self.objective.kind == "bpr":  # RecBole's sampler, on the host
            self.known = np.zeros((data.num_users, data.num_items), bool)
            self.known[data.users[rows], data.items[rows]] = True
        # The model's structure without running it: the shapes of its tables,
        # in the order the model asks for them, are drawn on the host and
        # handed to the compiled initialisation.
        shapes = []

        def record(key, shape, dtype=jnp.float32):
            shapes.append(tuple(shape))
            return jnp.zeros(shape, dtype)

        abstract = nnx.eval_shape(lambda: self._build(record))
        self.graphdef = nnx.graphdef(abstract)
        self.model_graphdef = nnx.graphdef(abstract[0])
        rng = np.random.default_rng([args.seed, 1])
        self.tables = [host_xavier_normal(rng, shape) for shape in shapes]
        self.valid = retrieval.ranking_task(data, split, "valid")
        self.test = retrieval.ranking_task(data, split, "test")
        # The arrays the compiled programs read are passed as arguments.
        self.inputs = {
            "users": self.users,
            "items": self.items,
            "objective": self.objective,
            "valid": dense_task(self.valid),
        }
        train_epoch = jax.jit(self._train_epoch)
        run_epochs = jax.jit(self._run_epochs, donate_argnums=0)
        self.train_epoch = lambda state, key, order, negatives: train_epoch(
            state, key, order, negatives, self.inputs
        )
        self.run_epochs = lambda carry, key, orders, negatives, last: run_epochs(
            carry, key, orders, negatives, last, self.inputs
        )
        self.init = jax.jit(self._init)
        self.evaluate = jax.jit(self._evaluate)
        self.evaluate_both = jax.jit(self._evaluate_both)

    def _build(self, init):
        args, data = self.args, self.data
        model = jaxns.nn.IdTwoTower(
            data.num_users,
            data.num_items,
            args.dim,
            user_features=side_features(data.user_features) if args.features else (),
            item_features=side_features(data.item_features) if args.features else (),
            normalize=args.normalize,
            embedding_init=init,
            rngs=nnx.Rngs(args.seed),
        )
        return model, nnx.Optimizer(model, optax.adam(args.lr), wrt=nnx.Param)

    def _init(self, tables):
        """The model, the optimizer, the key and the early-stopping state
        before the first epoch (one compiled program)."""
        tables = list(tables)

        def init(key, shape, dtype=jnp.float32):
            del key  # the tables come from the host, in the order asked for
            table = tables.pop(0)
            assert table.shape == tuple(shape), (table.shape, shape)
            return table.astype(dtype)

        model, opt = self._build(init)
        epochs = self.args.epochs
        carry = {
            "state": nnx.state((model, opt)),
            "best": nnx.state(model),
            "best_score": jnp.int32(-1),
            "best_epoch": jnp.int32(0),
            "bad": jnp.int32(0),
            "epoch": jnp.int32(0),
            "finite": jnp.bool_(True),
            "losses": jnp.zeros((epochs,), jnp.float32),
            "scores": jnp.zeros((epochs,), jnp.int32),
        }
        return carry, jax.random.key(self.args.seed)

    def draw(self, rng: np.random.Generator, first_epoch: int, epochs: int):
        """Each epoch's order of the training rows (``int32[epochs, rows]``)
        and, for BPR, each row's negatives (``int32[epochs, rows, k]``, else
        ``None``), drawn on the host for the epochs ``first_epoch`` (from 0)
        to ``first_epoch + epochs - 1``.

        The orders are ``rng``'s next permutations; an epoch's negatives come
        from a generator of ``(seed, 3, epoch)`` alone: the results do not
        depend on how many epochs one call draws (``--epochs-per-call``).

        RecBole shuffles and draws its BPR negatives on the host too; on the
        device, ``jax.random.permutation`` is two XLA:CPU sorts, as long as the
        rest of a BPR epoch, and the negative draw was half a second of
        compilation.
        """
        orders = np.stack(
            [rng.permutation(self.num_rows).astype(np.int32) for _ in range(epochs)]
        )
        if self.known is None:
            return orders, None
        k = self.objective.num_negatives
        negatives = []
        for epoch, order in enumerate(orders, start=first_epoch):
            users = np.repeat(self.users_host[order][:, None], k, axis=-1)
            epoch_rng = np.random.default_rng([self.args.seed, 3, epoch])
            negatives.append(host_negatives(epoch_rng, self.known, users))
        return orders, np.stack(negatives)

    def _train_epoch(self, state, key, order, negatives, inputs):
        graphdef, obj, batch = self.graphdef, inputs["objective"], self.args.batch_size
        steps = -(-self.num_rows // batch)
        pad = steps * batch - self.num_rows
        rows = jnp.pad(order, (0, pad)).reshape(steps, batch)
        # The last batch is padded with row 0 and masked (RecBole's is smaller).
        valid = (np.arange(steps * batch) < self.num_rows).reshape(steps, batch)
        users, items = inputs["users"][rows], inputs["items"][rows]
        if negatives is not None:  # BPR: per positive, drawn on the host
            negatives = jnp.pad(negatives, ((0, pad), (0, 0)))
            negatives = negatives.reshape(steps, batch, -1)
        else:  # shared by each batch
            keys = jax.random.split(key, steps)
            negatives = jax.vmap(obj.negatives)(keys, users, items)

        def step(state, inputs):
            users, items, negative_ids, v = inputs
            model, opt = nnx.merge(graphdef, state)

            def loss_fn(m):
                # The positives and negatives in one lookup (one gather and
                # one scatter of the item table's gradient, not two).
                per_row = obj.loss(
                    m.embed_queries(users),
                    m.embed_candidates(items),
                    m.embed_candidates(negative_ids),
                    items,
                    negative_ids,
                    where=v,
                )
                return jnp.sum(per_row) / jnp.sum(v, dtype=per_row.dtype)

            loss, grads = nnx.value_and_grad(loss_fn)(model)
            # Optax's Adam mixes int32 counts and floats (not strict-clean).
            with jax.numpy_dtype_promotion("standard"):
                opt.update(model, grads)
            return nnx.state((model, opt)), loss

        state, losses = jax.lax.scan(step, state, (users, items, negatives, valid))
        return state, jnp.mean(losses)

    def _embeddings(self, model_state):
        model = nnx.merge(self.model_graphdef, model_state)
        users = model.embed_queries(jnp.arange(self.data.num_users))
        items = model.embed_candidates(jnp.arange(self.data.num_items))
        return users, items

    def _evaluate(self, model_state, task):
        users, items = self._embeddings(model_state)
        return retrieval.evaluate_ranking(task, users, items, ks=KS)

    def _evaluate_both(self, model_state, tasks):
        users, items = self._embeddings(model_state)
        return [retrieval.evaluate_ranking(t, users, items, ks=KS) for t in tasks]

    def _run_epochs(self, carry, key, orders, negatives, last_epoch, inputs):
        """Epochs until ``last_epoch`` or early stopping, on the device.

        Each epoch trains, then scores the validation part (MRR@10 only) and
        keeps the best model (not the optimizer: only the model is tested), as
        RecBole's trainer does between epochs; the whole loop is one compiled
        program, so a fit is a few host calls.
        """
        patience = self.args.patience
        first = carry["epoch"]

        def running(c):
            return (c["epoch"] < last_epoch) & (c["bad"] <= patience) & c["finite"]

        def one_epoch(c):
            epoch = c["epoch"] + 1
            index = epoch - 1 - first
            state, loss = self._train_epoch(
                c["state"],
                jax.random.fold_in(key, epoch),
                orders[index],
                None if negatives is None else negatives[index],
                inputs,
            )
            model_state = nnx.state(nnx.merge(self.graphdef, state)[0])
            users, items = self._embeddings(model_state)
            valid_users, relevant, exclude = inputs["valid"]
            scores = users[valid_users] @ items.T
            # RecBole compares the validation metric rounded to 4 decimals.
            mrr = mrr_at_10(scores, relevant, exclude)
            score = jnp.round(mrr * 1e4).astype(jnp.int32)
            better = score >= c["best_score"]
            best = jax.tree.map(
                lambda new, old: jnp.where(better, new, old), model_state, c["best"]
            )
            return {
                "state": state,
                "best": best,
                "best_score": jnp.where(better, score, c["best_score"]),
                "best_epoch": jnp.where(better, epoch, c["best_epoch"]),
                "bad": jnp.where(better, 0, c["bad"] + 1),
                "epoch": epoch,
                "finite": jnp.isfinite(loss),
                "losses": c["losses"].at[epoch - 1].set(loss),
                "scores": c["scores"].at[epoch - 1].set(score),
            }

        return jax.lax.while_loop(running, one_epoch, carry)


class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="epoch", leave=False)
            except ImportError:
                pass

    def update(self, loss: float, mrr: float, best: float):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                loss=f"{loss:.4f}", mrr10=f"{mrr:.4f}", best=f"{best:.4f}"
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def fit(args, data, split, *, progress: bool = True) -> dict:
    """Trains with early stopping on valid MRR@10; tests the best checkpoint.

    The epochs run on the device ``--epochs-per-call`` at a time (the early
    stopping state stays there); the host only reads the progress in between
    and draws the next calls' shuffles (and BPR's negatives) while the device
    trains.
    """
    t0 = time.perf_counter()
    trainer = Trainer(args, data, split)
    carry, key = trainer.init(trainer.tables)
    rng = np.random.default_rng([args.seed, 2])  # the shuffles
    bar = _Progress(args.epochs, progress and not args.no_progress)
    done, calls = 0, []
    drawn = trainer.draw(rng, 0, args.epochs_per_call)
    while True:
        start = time.perf_counter()
        last = np.int32(min(done + args.epochs_per_call, args.epochs))
        carry = trainer.run_epochs(carry, key, *drawn, last)
        if last < args.epochs:  # while the device trains
            drawn = trainer.draw(rng, int(last), args.epochs_per_call)
        epoch, bad, finite, losses, scores = jax.device_get(
            tuple(carry[k] for k in ("epoch", "bad", "finite", "losses", "scores"))
        )
        calls.append((int(epoch) - done, time.perf_counter() - start))
        for e in range(done, int(epoch)):
            bar.update(float(losses[e]), scores[e] / 1e4, scores[: e + 1].max() / 1e4)
        done = int(epoch)
        if not finite:
            raise FloatingPointError(
                f"the training loss became {losses[done - 1]} in epoch {done}; "
                "lower --lr"
            )
        if bad > args.patience or done >= args.epochs:
            break
    bar.close()
    fit_seconds = time.perf_counter() - t0
    valid, test = (
        {k: float(v) for k, v in part.items()}
        for part in trainer.evaluate_both(carry["best"], (trainer.valid, trainer.test))
    )
    return {
        "epochs": done,
        "best_epoch": int(carry["best_epoch"]),
        "fit_seconds": fit_seconds,
        "epoch_calls": calls,
        "valid_mrr10_curve": [float(x) / 1e4 for x in scores[:done]],
        "valid": valid,
        "test": test,
        "trainer": trainer,
        "state": carry["state"],
        "best_state": carry["best"],
    }


def table(result: dict) -> str:
    names = [f"{m}@{k}" for k in KS for m in retrieval.METRICS]
    lines = ["part  " + " ".join(f"{n:>12}" for n in names)]
    for part in ("valid", "test"):
        lines.append(
            f"{part:<5} " + " ".join(f"{result[part][n]:>12.4f}" for n in names)
        )
    return "\n".join(lines)


def run(args) -> dict:
    t0 = time.perf_counter()
    if not args.no_compile_cache:
        cache = jaxns.datasets.default_cache_dir() / "xla"
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    data = retrieval.load_interactions(args.data, download=not args.offline)
    if args.features and not (
        side_features(data.user_features) or side_features(data.item_features)
    ):
        raise ValueError(
            f"--features: {data.source} has no categorical side features "
            "(fields shared by several users or items) to use"
        )
    split = make_split(args, data)
    train, valid, test = split.sizes
    print(
        f"{data.source}: {data.num_users:,} users, {data.num_items:,} items, "
        f"{data.num_rows:,} interactions; split {train:,}/{valid:,}/{test:,}"
    )
    result = fit(args, data, split)
    wall = time.perf_counter() - t0
    print(table(result))
    print(
        f"{args.loss}: {result['epochs']} epochs (best {result['best_epoch']}), "
        f"fit {result['fit_seconds']:.1f} s in {len(result['epoch_calls'])} "
        f"device calls, wall {wall:.1f} s"
    )
    skip = ("trainer", "state", "best_state")
    report = {k: v for k, v in result.items() if k not in skip}
    report["wall_seconds"] = wall
    report["config"] = {k: v for k, v in vars(args).items() if k != "parser"}
    report["device"] = jax.devices()[0].device_kind
    if args.report:
        pathlib.Path(args.report).write_text(json.dumps(report, indent=2))
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
        args.parser.exit(1, f"{args.parser.prog}: error: {message}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
