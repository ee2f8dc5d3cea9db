# SPDX-License-Identifier: Apache-2.0
"""Contrastive learning with jaxns: SimCLR on digits, CLIP on a dictionary.

Runs with no arguments, offline:

    python examples/contrastive.py                 # SimCLR, every loss
    python examples/contrastive.py --mode clip     # CLIP vs SigLIP

**SimCLR** (Chen et al. 2020) on scikit-learn's digits (1,797 8x8 images that
ship inside scikit-learn): two augmented views of each image (random
crop-and-resize, translation, Gaussian noise and erasing, all in JAX), a small
Flax NNX convolutional encoder with a projection head, trained with the loss
chosen by ``--loss`` (several may be given; the default trains each of
``ntxent dcl hcl siglip infonce`` in turn). The frozen encoder features are then
evaluated by a linear probe (multinomial logistic regression trained in JAX) on
a fixed stratified split with 1 %, 10 % and 100 % of the training labels,
against the same probe on raw pixels and on a randomly initialised encoder.
At 1 % (one label per class) and 10 % a single label draw is very noisy, so the
probe is fitted on ``--draws`` (10) fixed, stratified random label subsets and
the table gives the mean accuracy, its standard deviation, and on how many of
the same draws the features beat raw pixels (a paired comparison). Features
are standardised with the statistics of all training images (no labels).
Temperatures default by loss, from the papers' settings: 0.2 for NT-Xent and
InfoNCE, 0.5 for DCL and HCL (``--temperature`` overrides all).

**CLIP** mode contrasts WordNet headwords (a character n-gram encoder) with
their definitions (a bag-of-words encoder), from the pairs shipped in
``jaxns/data/wordnet_definitions.tsv.xz``, and reports "reverse dictionary"
retrieval (definition -> headword) recall@1 and @10 among held-out pairs, for
``clip`` against ``siglip``.

``--block-size N`` computes every loss over blocks of N candidates
(``jaxns.losses.*(..., block_size=N)``): the same numbers in bounded memory.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import pathlib
import sys
import time
import zlib
from collections import Counter
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxns

SIMCLR_LOSSES = ("ntxent", "dcl", "hcl", "siglip", "infonce")
CLIP_LOSSES = ("clip", "siglip")
FRACTIONS = (0.01, 0.1, 1.0)
# Label draws per fraction below 100 %: the probe accuracy is the mean over
# this many fixed, stratified random subsets (seeds 0, 1, ...), reported with
# its standard deviation (one label per class is a very noisy single draw).
DRAWS = 10
# Temperatures by loss, fixed before evaluation from the papers' settings:
# SimCLR/InfoNCE at 0.2 (Chen et al. use 0.1-0.5), DCL and HCL at 0.5 (Chuang
# et al. 2020 and Robinson et al. 2021 train with 0.5). SigLIP learns its own.
TEMPERATURES = {"ntxent": 0.2, "infonce": 0.2, "dcl": 0.5, "hcl": 0.5}
DEFINITIONS = (
    pathlib.Path(jaxns.__file__).parent / "data" / "wordnet_definitions.tsv.xz"
)


# --------------------------------------------------------------------------
# Command line: bad values stop here, before anything is trained.


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _check_writable(parser: argparse.ArgumentParser, flag: str, path: str | None):
    if path is None:
        return
    p = pathlib.Path(path)
    parent = p.parent if str(p.parent) else pathlib.Path(".")
    if p.is_dir():
        parser.error(f"{flag} {path} is a directory")
    if not parent.is_dir():
        parser.error(f"{flag} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        parser.error(f"{flag} {path} is not writable")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="contrastive.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--mode", choices=("simclr", "clip"), default="simclr")
    p.add_argument(
        "--loss",
        nargs="+",
        choices=sorted(set(SIMCLR_LOSSES + CLIP_LOSSES)),
        help="losses to train, one run each (default: ntxent dcl hcl siglip "
        "infonce for simclr, clip siglip for clip)",
    )
    p.add_argument("--epochs", type=_positive_int, help="default 50 (simclr), 8 (clip)")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--lr", type=_positive_float, default=3e-3, help="peak rate")
    p.add_argument("--warmup-epochs", type=float, default=2.0)
    p.add_argument("--optimizer", choices=("adam", "lars"), default="adam")
    p.add_argument(
        "--temperature",
        type=_positive_float,
        help="of ntxent, infonce, dcl and hcl (default by loss: "
        + ", ".join(f"{k} {v}" for k, v in TEMPERATURES.items())
        + "; clip and siglip learn theirs)",
    )
    p.add_argument(
        "--siglip-bias",
        type=float,
        default=None,
        help="initial SigLIP bias (the paper's -10); the learned scale starts at "
        "log 10 in simclr mode and at log(1/0.07) in clip mode",
    )
    p.add_argument(
        "--block-size", type=_positive_int, help="compute the losses over blocks"
    )
    p.add_argument("--pairs", type=_positive_int, help="clip mode (default 20000)")
    p.add_argument("--held-out", type=_positive_int, help="clip mode (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--draws",
        type=_positive_int,
        help=f"random label subsets averaged at 1 %% and 10 %% (simclr mode; "
        f"default {DRAWS})",
    )
    p.add_argument("--report", help="write settings and results as JSON here")
    p.add_argument("--plot", help="write a PNG of probe accuracy (simclr mode)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--debug",
        action="store_true",
        help="tracebacks on errors (also JAXNS_DEBUG=1)",
    )
    args = p.parse_args(argv)
    allowed = SIMCLR_LOSSES if args.mode == "simclr" else CLIP_LOSSES
    args.loss = list(args.loss or allowed)
    for loss in args.loss:
        if loss not in allowed:
            p.error(f"--loss {loss} is not a {args.mode} loss; choose from {allowed}")
    if args.epochs is None:
        args.epochs = 50 if args.mode == "simclr" else 8
    if not (math.isfinite(args.warmup_epochs) and args.warmup_epochs >= 0):
        p.error(f"--warmup-epochs must be finite and >= 0, got {args.warmup_epochs}")
    if args.plot and args.mode != "simclr":
        p.error("--plot draws the simclr probe; it needs --mode simclr")
    # Flags that would change nothing are refused, not silently dropped.
    losses = " ".join(args.loss)
    for flag, given, effective, setting in (
        ("--pairs", args.pairs, args.mode == "clip", f"--mode {args.mode}"),
        ("--held-out", args.held_out, args.mode == "clip", f"--mode {args.mode}"),
        ("--draws", args.draws, args.mode == "simclr", f"--mode {args.mode}"),
        (
            "--temperature",
            args.temperature,
            any(loss in TEMPERATURES for loss in args.loss),
            f"--loss {losses} (they learn theirs)",
        ),
        ("--siglip-bias", args.siglip_bias, "siglip" in args.loss, f"--loss {losses}"),
    ):
        if given is not None and not effective:
            p.error(f"{flag} has no effect with {setting}")
    if args.siglip_bias is not None and not math.isfinite(args.siglip_bias):
        p.error(f"--siglip-bias must be finite, got {args.siglip_bias}")
    defaults = {"pairs": 20000, "held_out": 1000, "draws": DRAWS, "siglip_bias": -10.0}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("report", "plot"):  # a quoted ~ too
        if getattr(args, name):
            setattr(args, name, os.path.expanduser(getattr(args, name)))
    _check_writable(p, "--report", args.report)
    _check_writable(p, "--plot", args.plot)
    return args


def _optimizer(args, steps: int) -> optax.GradientTransformation:
    warmup = min(steps - 1, int(args.warmup_epochs * steps / args.epochs))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, args.lr, warmup_steps=max(warmup, 0), decay_steps=max(steps, 1)
    )
    if args.optimizer == "lars":
        return optax.lars(schedule, weight_decay=1e-6, momentum=0.9)
    return optax.adam(schedule)


def _progress(total: int, desc: str, disable: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=disable, leave=False)


# --------------------------------------------------------------------------
# SimCLR: augmentations in JAX, one image at a time (vmapped).


def translate(x: jax.Array, shift: jax.Array) -> jax.Array:
    """Shifts an image by ``shift`` pixels (bilinear, zero fill)."""
    return jax.image.scale_and_translate(
        x, x.shape, (0, 1), jnp.ones(2), shift, method="linear"
    )


def crop_and_resize(key: jax.Array, x: jax.Array, min_area: float = 0.5):
    """A random square crop of ``min_area`` to all of the image, resized back."""
    k1, k2 = jax.random.split(key)
    scale = 1.0 / jnp.sqrt(jax.random.uniform(k1, (), minval=min_area, maxval=1.0))
    size = jnp.asarray(x.shape, jnp.float32)
    # Output pixel o samples input (o - t) / s: t in [(1 - s) size, 0] keeps
    # the crop inside the image.
    t = jax.random.uniform(k2, (2,)) * (1.0 - scale) * size
    return jax.image.scale_and_translate(
        x, x.shape, (0, 1), jnp.full(2, scale), t, method="linear"
    )


def random_erase(key: jax.Array, x: jax.Array, p: float = 0.5, max_side: int = 3):
    """With probability ``p`` sets a random rectangle to 0 (Zhong et al. 2020)."""
    k1, k2, k3 = jax.random.split(key, 3)
    h, w = x.shape
    side = jax.random.randint(k1, (2,), 1, max_side + 1)
    corner = jax.random.randint(k2, (2,), 0, jnp.array([h, w]) - side + 1)
    rows = jnp.arange(h)[:, None]
    cols = jnp.arange(w)[None, :]
    box = (rows >= corner[0]) & (rows < corner[0] + side[0])
    box = box & (cols >= corner[1]) & (cols < corner[1] + side[1])
    return jnp.where(box & jax.random.bernoulli(k3, p), 0.0, x)


def augment(key: jax.Array, x: jax.Array) -> jax.Array:
    """One SimCLR view of an ``[8, 8]`` image with values in ``[0, 1]``."""
    k = jax.random.split(key, 4)
    x = crop_and_resize(k[0], x)
    x = translate(x, jax.random.uniform(k[1], (2,), minval=-1.0, maxval=1.0))
    x = x + 0.1 * jax.random.normal(k[2], x.shape)
    return random_erase(k[3], x)


class Encoder(nnx.Module):
    """Two 3x3 convolutions and a dense layer: ``[batch, 8, 8]`` -> features."""

    def __init__(self, features: int = 128, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(32, 64, (3, 3), strides=(2, 2), rngs=rngs)
        self.dense = nnx.Linear(4 * 4 * 64, features, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = nnx.relu(self.conv1(x[..., None]))
        h = nnx.relu(self.conv2(h))
        return nnx.relu(self.dense(h.reshape(h.shape[0], -1)))


class SimCLR(nnx.Module):
    """Encoder, projection head and SigLIP's learned scale and bias."""

    def __init__(self, features: int = 128, projection: int = 64, *, bias: float, rngs):
        self.encoder = Encoder(features, rngs=rngs)
        self.head1 = nnx.Linear(features, features, rngs=rngs)
        self.head2 = nnx.Linear(features, projection, rngs=rngs)
        self.logit_scale = nnx.Param(jnp.asarray(math.log(10.0)))
        self.logit_bias = nnx.Param(jnp.asarray(bias))

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head2(nnx.relu(self.head1(self.encoder(x))))


def simclr_loss(name: str, model: SimCLR, za, zb, args) -> jax.Array:
    L, bs = jaxns.losses, args.block_size
    t = args.temperature or TEMPERATURES.get(name)
    if name == "ntxent":
        return L.ntxent(za, zb, temperature=t, block_size=bs).mean()
    if name == "infonce":
        return L.infonce(za, zb, temperature=t, block_size=bs).mean()
    if name == "dcl":
        return L.debiased_contrastive(za, zb, temperature=t, block_size=bs).mean()
    if name == "hcl":
        return L.hard_contrastive(za, zb, temperature=t, block_size=bs).mean()
    scale, bias = model.logit_scale[...], model.logit_bias[...]
    loss = L.siglip(za, zb, logit_scale=scale, logit_bias=bias, block_size=bs)
    return loss.mean()


def load_digits_split():
    """Images in ``[0, 1]`` and a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=0
    )


def label_masks(labels: np.ndarray, seed: int = 0) -> dict[float, np.ndarray]:
    """Stratified subsets of the training labels, nested, fixed by ``seed``."""
    order = np.random.default_rng(seed).permutation(len(labels))
    masks = {}
    for frac in FRACTIONS:
        mask = np.zeros(len(labels), bool)
        for c in np.unique(labels):
            members = order[labels[order] == c]
            mask[members[: max(1, round(frac * len(members)))]] = True
        masks[frac] = mask
    return masks


def train_simclr(name: str, images: np.ndarray, args) -> tuple[SimCLR, dict]:
    model = SimCLR(bias=args.siglip_bias, rngs=nnx.Rngs(args.seed))
    graphdef, params = nnx.split(model)
    per_epoch = len(images) // args.batch_size
    if per_epoch < 1:
        raise ValueError(
            f"--batch-size {args.batch_size} exceeds the {len(images)} training images"
        )
    steps = per_epoch * args.epochs
    tx = _optimizer(args, steps)
    opt_state = tx.init(params)
    data = jnp.asarray(images)

    @jax.jit
    def step(params, opt_state, key, batch):
        ka, kb = jax.random.split(key)

        def loss_fn(params):
            model = nnx.merge(graphdef, params)
            views = [
                jax.vmap(augment)(jax.random.split(k, len(batch)), batch)
                for k in (ka, kb)
            ]
            za, zb = model(views[0]), model(views[1])
            return simclr_loss(name, model, za, zb, args)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    key = jax.random.key(args.seed)
    t0 = time.perf_counter()
    losses = []
    with _progress(steps, name, args.no_progress) as bar:
        for epoch in range(args.epochs):
            key, kp = jax.random.split(jax.random.fold_in(key, epoch))
            perm = jax.random.permutation(kp, len(images))
            for i in range(per_epoch):
                key, ks = jax.random.split(key)
                batch = data[perm[i * args.batch_size : (i + 1) * args.batch_size]]
                params, opt_state, loss = step(params, opt_state, ks, batch)
                bar.update(1)
            losses.append(float(loss))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if not np.isfinite(losses[-1]):
        raise FloatingPointError(f"{name}: the loss became {losses[-1]}; lower --lr")
    info = {"train_seconds": time.perf_counter() - t0, "final_loss": losses[-1]}
    return nnx.merge(graphdef, params), info


def encode(model: SimCLR, images: np.ndarray) -> np.ndarray:
    graphdef, params = nnx.split(model.encoder)
    f = jax.jit(lambda p, x: nnx.merge(graphdef, p)(x))
    return np.asarray(f(params, jnp.asarray(images)))


def linear_probe(
    train_x, train_y, mask, test_x, test_y, *, steps: int = 500, l2: float = 1e-3
):
    """Test accuracy of multinomial logistic regression on the masked rows.

    Features are standardised with the statistics of all training rows (no
    labels needed, as in semi-supervised evaluation: with one label per class
    the labelled rows alone give a useless variance); the weights are fitted by
    full-batch Adam on the mean cross-entropy of the labelled rows plus
    ``l2 |W|^2``.
    """
    train_x = train_x.reshape(len(train_x), -1)
    test_x = test_x.reshape(len(test_x), -1)
    return float(_probe(train_x, train_y, mask, test_x, test_y, steps, l2))


@jax.jit(static_argnums=(5,))
def _probe(train_x, train_y, mask, test_x, test_y, steps, l2):
    w = mask.astype(jnp.float32)
    n = jnp.sum(w)
    mean = jnp.mean(train_x, axis=0, keepdims=True)
    std = jnp.std(train_x, axis=0, keepdims=True)
    x, xt = (train_x - mean) / (std + 1e-3), (test_x - mean) / (std + 1e-3)
    params = (jnp.zeros((x.shape[1], 10)), jnp.zeros(10))
    tx = optax.adam(0.05)

    def loss_fn(params):
        logits = x @ params[0] + params[1][None, :]
        xent = optax.softmax_cross_entropy_with_integer_labels(logits, train_y)
        return jnp.sum(w * xent) / n + l2 * jnp.sum(params[0] ** 2)

    def body(_, carry):
        params, state = carry
        updates, state = tx.update(jax.grad(loss_fn)(params), state)
        return optax.apply_updates(params, updates), state

    params, _ = jax.lax.fori_loop(0, steps, body, (params, tx.init(params)))
    return jnp.mean(jnp.argmax(xt @ params[0] + params[1][None, :], -1) == test_y)


def run_simclr(args) -> dict:
    x_train, x_test, y_train, y_test = load_digits_split()
    draws = [label_masks(y_train, seed) for seed in range(args.draws)]
    masks = draws[0]
    print(
        f"digits: {len(x_train)} train / {len(x_test)} test images; labels used "
        + ", ".join(f"{f:.0%}: {m.sum()}" for f, m in masks.items())
        + f"; 1 % and 10 %: mean (std) over {args.draws} random label draws"
    )
    features = {"raw pixels": (x_train, x_test)}
    init = SimCLR(bias=0.0, rngs=nnx.Rngs(args.seed))
    features["random encoder"] = (encode(init, x_train), encode(init, x_test))
    runs = {}
    for name in args.loss:
        model, info = train_simclr(name, x_train, args)
        runs[name] = info
        print(
            f"{name:>8}: {args.epochs} epochs in {info['train_seconds']:.1f} s, "
            f"final loss {info['final_loss']:.4f}"
        )
        features[name] = (encode(model, x_train), encode(model, x_test))
    table, spread, per_draw = {}, {}, {}
    for label, (ftr, fte) in features.items():
        table[label], spread[label], per_draw[label] = {}, {}, {}
        for frac in FRACTIONS:
            subsets = draws if frac < 1 else draws[:1]
            accs = [linear_probe(ftr, y_train, m[frac], fte, y_test) for m in subsets]
            table[label][f"{frac:g}"] = float(np.mean(accs))
            spread[label][f"{frac:g}"] = float(np.std(accs))
            per_draw[label][f"{frac:g}"] = accs
    # Paired comparison: on how many of the same label draws a feature set's
    # probe beats the raw pixels' probe.
    wins = {
        label: {
            f: int(np.sum(np.greater(row[f], per_draw["raw pixels"][f])))
            for f in ("0.01", "0.1")
        }
        for label, row in per_draw.items()
    }
    _print_probe_table(table, spread, wins, args.draws)
    if args.plot:
        _plot(table, args.plot)
        print(f"plot written to {args.plot}")
    return {
        "training": runs,
        "linear_probe_accuracy": table,
        "linear_probe_std": spread,
        "linear_probe_per_draw": per_draw,
        "draws_beating_pixels": wins,
        "label_draws": args.draws,
    }


def _print_probe_table(table: dict, spread: dict, wins: dict, draws: int) -> None:
    raw = table["raw pixels"]
    head = "".join(f"{f'{frac:.0%} labels':>16}" for frac in FRACTIONS)
    print(f"\nlinear probe test accuracy\n{'features':<16}{head}   vs pixels (1%, 10%)")
    for label, row in table.items():
        cells = "".join(
            f"{row[f'{frac:g}']:>9.3f} ({spread[label][f'{frac:g}']:.3f})"
            if frac < 1
            else f"{row[f'{frac:g}']:>16.3f}"
            for frac in FRACTIONS
        )
        delta = ""
        if label != "raw pixels":
            d1 = row["0.01"] - raw["0.01"]
            d10 = row["0.1"] - raw["0.1"]
            w = wins[label]
            delta = f"   {d1:+.3f}, {d10:+.3f}  (wins {w['0.01']}/{draws}, "
            delta += f"{w['0.1']}/{draws})"
        print(f"{label:<16}{cells}{delta}")


def _plot(table: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, row in table.items():
        style = "--" if label in ("raw pixels", "random encoder") else "-"
        ys = [row[f"{frac:g}"] for frac in FRACTIONS]
        ax.plot([100 * f for f in FRACTIONS], ys, style, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training labels used (%)")
    ax.set_ylabel("linear probe test accuracy")
    ax.set_title("SimCLR on digits: frozen features, linear probe")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------
# CLIP mode: headword character n-grams against definition words.

NGRAM_BUCKETS = 1 << 15


def load_definitions(limit: int) -> list[tuple[str, str]]:
    with lzma.open(DEFINITIONS, "rt", encoding="utf-8") as handle:
        pairs = [tuple(line.rstrip("\n").split("\t")) for line in handle]
    return pairs[:limit] if limit < len(pairs) else pairs


def char_ngrams(word: str, n_min: int = 2, n_max: int = 4) -> list[int]:
    """Hashed character n-grams of ``<word>`` (fastText's boundary markers)."""
    w = f"<{word}>"
    grams = [
        w[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(w) - n + 1)
    ]
    # crc32 is stable across runs (Python's hash() is salted per process).
    return [zlib.crc32(g.encode()) % NGRAM_BUCKETS for g in grams]


def _pad(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, max(len(r) for r in rows))
    ids = np.zeros((len(rows), width), np.int32)
    mask = np.zeros((len(rows), width), bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = True
    return ids, mask


class Bag(nnx.Module):
    """Mean of embeddings over a padded bag of ids, then a linear map."""

    def __init__(self, num_ids: int, dim: int, out: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(num_ids, dim, rngs=rngs)
        self.proj = nnx.Linear(dim, out, rngs=rngs)

    def __call__(self, ids: jax.Array, mask: jax.Array) -> jax.Array:
        e = self.embed(ids) * mask[..., None]
        mean = e.sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1)
        return self.proj(mean)


class TwoTower(nnx.Module):
    """The word and gloss towers, CLIP's learned scale (starting at
    log(1/0.07), CLIP's) and SigLIP's learned bias (``--siglip-bias``)."""

    def __init__(self, vocab: int, *, bias: float, rngs: nnx.Rngs, dim: int = 128):
        self.word = Bag(NGRAM_BUCKETS, dim, dim, rngs=rngs)
        self.gloss = Bag(vocab, dim, dim, rngs=rngs)
        self.logit_scale = nnx.Param(jnp.asarray(math.log(1 / 0.07)))
        self.logit_bias = nnx.Param(jnp.asarray(bias))


def run_clip(args) -> dict:
    pairs = load_definitions(args.pairs)
    if args.held_out >= len(pairs):
        raise ValueError(
            f"--held-out {args.held_out} must be below the {len(pairs)} pairs"
        )
    order = np.random.default_rng(0).permutation(len(pairs))
    test_idx, train_idx = order[: args.held_out], order[args.held_out :]
    counts = Counter(t for i in train_idx for t in pairs[i][1].split())
    vocab = {
        w: i + 1 for i, w in enumerate(sorted(w for w, c in counts.items() if c >= 2))
    }
    words = _pad([char_ngrams(w) for w, _ in pairs])
    glosses = _pad([[vocab[t] for t in d.split() if t in vocab] for _, d in pairs])
    print(
        f"WordNet definitions: {len(train_idx)} train / {len(test_idx)} held-out "
        f"pairs, {len(vocab)} gloss words, {NGRAM_BUCKETS} n-gram buckets"
    )
    results = {}
    for name in args.loss:
        results[name] = _train_clip(
            name, words, glosses, train_idx, test_idx, vocab, args
        )
        r = results[name]
        print(
            f"{name:>8}: {args.epochs} epochs in {r['train_seconds']:.1f} s, final "
            f"loss {r['final_loss']:.4f}, definition -> word recall@1 "
            f"{r['recall@1']:.3f}, recall@10 {r['recall@10']:.3f}"
        )
    chance = 10 / len(test_idx)
    print(f"(chance recall@10 among {len(test_idx)} held-out words: {chance:.3f})")
    return {"retrieval": results, "held_out": len(test_idx)}


def _train_clip(name, words, glosses, train_idx, test_idx, vocab, args) -> dict:
    per_epoch = len(train_idx) // args.batch_size
    if per_epoch < 1:
        raise ValueError(
            f"--batch-size {args.batch_size} exceeds the {len(train_idx)} training "
            "pairs"
        )
    model = TwoTower(len(vocab) + 1, bias=args.siglip_bias, rngs=nnx.Rngs(args.seed))
    graphdef, params = nnx.split(model)
    steps = per_epoch * args.epochs
    tx = _optimizer(args, steps)
    opt_state = tx.init(params)
    arrays = [jnp.asarray(a) for a in (*words, *glosses)]
    bs = args.block_size

    def embed(params, idx):
        m = nnx.merge(graphdef, params)
        w = m.word(arrays[0][idx], arrays[1][idx])
        g = m.gloss(arrays[2][idx], arrays[3][idx])
        return m, w, g

    @jax.jit
    def step(params, opt_state, idx):
        def loss_fn(params):
            m, w, g = embed(params, idx)
            if name == "clip":
                loss = jaxns.losses.clip(
                    g, w, logit_scale=m.logit_scale[...], block_size=bs
                )
            else:
                loss = jaxns.losses.siglip(
                    g,
                    w,
                    logit_scale=m.logit_scale[...],
                    logit_bias=m.logit_bias[...],
                    block_size=bs,
                )
            return loss.mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    with _progress(steps, name, args.no_progress) as bar:
        for _ in range(args.epochs):
            perm = rng.permutation(train_idx)
            for i in range(per_epoch):
                idx = jnp.asarray(perm[i * args.batch_size : (i + 1) * args.batch_size])
                params, opt_state, loss = step(params, opt_state, idx)
                bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.3f}")
    seconds = time.perf_counter() - t0
    _, w, g = jax.jit(embed)(params, jnp.asarray(test_idx))
    sims = np.asarray(jaxns.scoring.cosine(g, w))  # definitions x words
    rank = (sims > np.diag(sims)[:, None]).sum(1)
    return {
        "train_seconds": seconds,
        "final_loss": float(loss),
        "recall@1": float(np.mean(rank < 1)),
        "recall@10": float(np.mean(rank < 10)),
    }


# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    try:
        print(f"jaxns {jaxns.__version__} on {jax.devices()[0].device_kind}")
        t0 = time.perf_counter()
        run = run_simclr if args.mode == "simclr" else run_clip
        results = run(args)
        results["wall_seconds"] = time.perf_counter() - t0
        results["settings"] = {k: v for k, v in vars(args).items() if k != "debug"}
        if args.report:
            pathlib.Path(args.report).write_text(json.dumps(results, indent=2))
            print(f"report written to {args.report}")
        return results
    except (ValueError, TypeError, OSError, FloatingPointError) as err:
        if args.debug or os.environ.get("JAXNS_DEBUG"):
            raise
        message = " ".join(str(err).split())  # one line
        print(f"contrastive.py: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(sys.argv[1:])
