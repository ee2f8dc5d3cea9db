# SPDX-License-Identifier: Apache-2.0
"""Scorers and dense softmax losses: jaxns vs the plain ``jnp`` formula.

What a user would write in a few lines instead of calling jaxns: the same
maths without input checks, long-vector scaling or NaN handling. Each case is
timed forward and as ``jit(value_and_grad(sum))``, both sides compiled first
and then timed in interleaved rounds (the order alternates every round), the
median of the rounds; beside the times, the temporaries of each compiled
program (``memory_analysis().temp_size_in_bytes``). A ratio above 1 means
jaxns is slower than the plain formula.

Cases: ``scoring.normalize``, ``scoring.cosine`` per example, the knowledge-
graph scorers (``transe`` L1 and L2, ``distmult``, ``complex``, ``rotate`` in
both variants) of ``[q, 1, d]`` queries against ``[1, E, d]`` entities (the
shapes ``kg.evaluate`` scores), ``losses.full_softmax``,
``losses.in_batch_softmax_from_logits`` (also with a learned temperature and
logQ), and from ``[B, d]`` embeddings ``losses.in_batch_softmax`` (also with a
learned temperature, and with candidate ids masking accidental hits),
``losses.infonce`` (dot product, temperature 0.1), ``losses.clip``
(temperature 0.1, not normalized; also with a ``where`` mask),
``losses.siglip`` (logit scale 2.3, bias -10, not normalized; also with a
``where`` mask), ``losses.ntxent`` (dot product, temperature 0.1; also
with a ``where`` mask), and ``losses.debiased_contrastive`` and
``losses.hard_contrastive`` (cosine, temperature 0.5, tau_plus 0.1, beta 1)
against the authors' exp-space code written in ``jnp``.

Usage: ``python benchmarks/scoring.py [--quick] [--rounds 7] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import _timing
import jax
import jax.numpy as jnp

import jaxns

S, L = jaxns.scoring, jaxns.losses


def _plain_normalize(x):
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def _halves(x, d):
    return x[..., :d], x[..., d:]


def _cases(quick: bool) -> list[tuple[str, Callable, Callable, tuple, tuple]]:
    """``(name, plain, jaxns, args, argnums of the gradient)``."""
    k = jax.random.split(jax.random.key(0), 13)
    n, b, kk, dim = (10_000, 256, 64, 128) if quick else (100_000, 1024, 64, 128)
    q, e, d = (16, 2_000, 100) if quick else (64, 15_000, 100)
    classes = 2_000 if quick else 10_000
    x = jax.random.normal(k[0], (n, dim))
    u = jax.random.normal(k[1], (b, dim))
    c = jax.random.normal(k[2], (b, kk, dim))
    h, r, t = (jax.random.normal(k[3 + i], s) for i, s in
               enumerate([(q, 1, d), (q, 1, d), (1, e, d)]))  # fmt: skip
    h2, r2, t2 = (jax.random.normal(k[6 + i], s) for i, s in
                  enumerate([(q, 1, 2 * d), (q, 1, 2 * d), (1, e, 2 * d)]))  # fmt: skip
    phase = jax.random.uniform(k[9], (q, 1, d), maxval=6.28)
    logits = jax.random.normal(k[10], (b, classes))
    labels = jax.random.randint(k[11], (b,), 0, classes)
    square = jax.random.normal(k[12], (b, b))
    queries, keys = jax.random.normal(jax.random.key(1), (2, b, dim))

    def in_batch_plain(qs, cs):  # what TFRS and most training loops write
        z = qs @ cs.T / 0.1
        return jax.nn.logsumexp(z, -1) - jnp.diagonal(z)

    def learned_plain(z, temp, lq):  # a learned temperature and logQ
        z = z / temp - lq[None, :]
        return jax.nn.logsumexp(z, -1) - jnp.diagonal(z)

    def clip_plain(qs, cs):  # open_clip's two cross-entropies
        z = qs @ cs.T / 0.1
        return 0.5 * (jax.nn.logsumexp(z, 1) + jax.nn.logsumexp(z, 0)) - jnp.diagonal(z)

    def in_batch_ids_plain(qs, cs):  # TFRS: accidental hits get a huge negative
        z = qs @ cs.T / 0.1
        hits = (ids[None, :] == ids[:, None]) & ~jnp.eye(b, dtype=bool)
        z = jnp.where(hits, -jnp.inf, z)
        return jax.nn.logsumexp(z, -1) - jnp.diagonal(z)

    def clip_where_plain(qs, cs):
        z = qs @ cs.T / 0.1
        z = jnp.where(where | jnp.eye(b, dtype=bool), z, -jnp.inf)
        return 0.5 * (jax.nn.logsumexp(z, 1) + jax.nn.logsumexp(z, 0)) - jnp.diagonal(z)

    def ntxent_plain(va, vb, keep=None):  # SimCLR's loss as most code writes it
        z = jnp.concatenate([va, vb])
        s = z @ z.T / 0.1
        n = 2 * b
        rows = jnp.arange(n)
        pos = s[rows, (rows + b) % n]
        if keep is not None:
            s = jnp.where(
                keep | (rows[None, :] == (rows[:, None] + b) % n), s, -jnp.inf
            )
        s = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, s)
        return jax.nn.logsumexp(s, 1) - pos

    def siglip_plain(qs, cs, keep=None):  # big_vision's sigmoid loss
        z = jnp.exp(2.3) * qs @ cs.T - 10.0
        signs = 2.0 * jnp.eye(b) - 1.0
        terms = -jax.nn.log_sigmoid(signs * z)
        if keep is not None:
            terms = jnp.where(keep | jnp.eye(b, dtype=bool), terms, 0.0)
        return jnp.sum(terms, axis=1)

    def chuang_plain(va, vb, beta=None):  # the authors' exp-space code in jnp
        z = _plain_normalize(jnp.concatenate([va, vb]))
        n = 2 * b
        rows = jnp.arange(n)
        sim = jnp.exp(z @ z.T / 0.5)
        pos = sim[rows, (rows + b) % n]
        drop = (rows[None, :] == rows[:, None]) | (
            rows[None, :] == (rows[:, None] + b) % n
        )
        neg = jnp.where(drop, 0.0, sim)
        if beta is None:
            reweight = neg.sum(-1)
        else:
            imp = jnp.where(drop, 0.0, sim**beta)
            reweight = (imp * neg).sum(-1) / (imp.sum(-1) / (n - 2))
        ng = (-0.1 * (n - 2) * pos + reweight) / 0.9
        ng = jnp.maximum(ng, (n - 2) * jnp.exp(-1 / 0.5))
        return -jnp.log(pos / (pos + ng))

    ids = jax.random.randint(jax.random.key(3), (b,), 0, b // 4)
    where = jax.random.uniform(jax.random.key(4), (b, b)) < 0.7
    where2 = jax.random.uniform(jax.random.key(5), (2 * b, 2 * b)) < 0.7
    temp = jnp.float32(0.1)
    log_q = jax.nn.log_softmax(jax.random.normal(jax.random.key(2), (b,)))

    def complex_plain(h, r, t):
        (hr, hi), (rr, ri), (tr, ti) = (_halves(a, d) for a in (h, r, t))
        return jnp.sum((hr * rr - hi * ri) * tr + (hr * ri + hi * rr) * ti, -1)

    def rotate_plain(h, r, t):  # PyKEEN's: the L2 distance of h * r to t
        (hr, hi), (rr, ri), (tr, ti) = (_halves(a, d) for a in (h, r, t))
        re, im = hr * rr - hi * ri - tr, hr * ri + hi * rr - ti
        return -jnp.sqrt(jnp.sum(re * re + im * im, -1))

    def rotate_sun_plain(h, p, t):  # Sun et al.'s: the sum of moduli
        (hr, hi), (tr, ti) = _halves(h, d), _halves(t, d)
        cos, sin = jnp.cos(p), jnp.sin(p)
        re, im = hr * cos - hi * sin - tr, hr * sin + hi * cos - ti
        return -jnp.sum(jnp.sqrt(re * re + im * im), -1)

    kg = f"[{q}, {e}, {d}]"
    return [
        (f"normalize [{n}, {dim}]", _plain_normalize, S.normalize, (x,), (0,)),
        (
            f"cosine per example [{b}, {kk}, {dim}]",
            lambda u, c: jnp.einsum(
                "bd,bkd->bk", _plain_normalize(u), _plain_normalize(c)
            ),
            S.cosine,
            (u, c),
            (0, 1),
        ),
        (
            f"transe L1 {kg}",
            lambda h, r, t: -jnp.sum(jnp.abs(h + r - t), -1),
            lambda h, r, t: S.transe(h, r, t, norm=1),
            (h, r, t),
            (0, 1, 2),
        ),
        (
            f"transe L2 {kg}",
            lambda h, r, t: -jnp.linalg.norm(h + r - t, axis=-1),
            lambda h, r, t: S.transe(h, r, t, norm=2),
            (h, r, t),
            (0, 1, 2),
        ),
        (
            f"distmult {kg}",
            lambda h, r, t: jnp.sum(h * r * t, -1),
            S.distmult,
            (h, r, t),
            (0, 1, 2),
        ),
        (f"complex {kg}", complex_plain, S.complex, (h2, r2, t2), (0, 1, 2)),
        (f"rotate {kg}", rotate_plain, S.rotate, (h2, r2, t2), (0, 1, 2)),
        (
            f"rotate sun {kg}",
            rotate_sun_plain,
            lambda h, p, t: S.rotate(h, p, t, variant="sun"),
            (h2, phase, t2),
            (0, 1, 2),
        ),
        (
            f"full_softmax [{b}, {classes}]",
            lambda z, y: (
                jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, y[:, None], -1)[:, 0]
            ),
            L.full_softmax,
            (logits, labels),
            (0,),
        ),
        (
            f"in_batch_softmax_from_logits [{b}, {b}]",
            lambda z: jax.nn.logsumexp(z, -1) - jnp.diagonal(z),
            L.in_batch_softmax_from_logits,
            (square,),
            (0,),
        ),
        (
            f"from_logits learned t, logQ [{b}, {b}]",
            lambda z, temp: learned_plain(z, temp, log_q),
            lambda z, temp: L.in_batch_softmax_from_logits(
                z, temperature=temp, candidate_log_q=log_q
            ),
            (square, temp),
            (0, 1),
        ),
        (
            f"in_batch_softmax [{b}, {dim}] x2",
            in_batch_plain,
            lambda qs, cs: L.in_batch_softmax(qs, cs, temperature=0.1),
            (queries, keys),
            (0, 1),
        ),
        (
            f"in_batch_softmax learned t [{b}, {dim}] x2",
            lambda qs, cs, temp: (
                jax.nn.logsumexp(qs @ cs.T / temp, -1) - jnp.sum(qs * cs, -1) / temp
            ),
            lambda qs, cs, temp: L.in_batch_softmax(qs, cs, temperature=temp),
            (queries, keys, temp),
            (0, 1, 2),
        ),
        (
            f"in_batch_softmax ids [{b}, {dim}] x2",
            in_batch_ids_plain,
            lambda qs, cs: L.in_batch_softmax(
                qs, cs, temperature=0.1, candidate_ids=ids
            ),
            (queries, keys),
            (0, 1),
        ),
        (
            f"infonce dot [{b}, {dim}] x2",
            in_batch_plain,
            lambda qs, cs: L.infonce(qs, cs, temperature=0.1, similarity="dot"),
            (queries, keys),
            (0, 1),
        ),
        (
            f"clip [{b}, {dim}] x2",
            clip_plain,
            lambda qs, cs: L.clip(qs, cs, temperature=0.1, normalize=False),
            (queries, keys),
            (0, 1),
        ),
        (
            f"clip where [{b}, {dim}] x2",
            clip_where_plain,
            lambda qs, cs: L.clip(
                qs, cs, temperature=0.1, normalize=False, where=where
            ),
            (queries, keys),
            (0, 1),
        ),
        (
            f"siglip [{b}, {dim}] x2",
            siglip_plain,
            lambda qs, cs: L.siglip(
                qs, cs, logit_scale=2.3, logit_bias=-10.0, normalize=False
            ),
            (queries, keys),
            (0, 1),
        ),
        (
            f"siglip where [{b}, {dim}] x2",
            lambda qs, cs: siglip_plain(qs, cs, where),
            lambda qs, cs: L.siglip(
                qs,
                cs,
                logit_scale=2.3,
                logit_bias=-10.0,
                normalize=False,
                where=where,
            ),  # fmt: skip
            (queries, keys),
            (0, 1),
        ),
        (
            f"debiased_contrastive [{b}, {dim}] x2",
            chuang_plain,
            lambda va, vb: L.debiased_contrastive(
                va, vb, temperature=0.5, tau_plus=0.1
            ),
            (queries, keys),
            (0, 1),
        ),
        (
            f"hard_contrastive beta 1 [{b}, {dim}] x2",
            lambda va, vb: chuang_plain(va, vb, 1.0),
            lambda va, vb: L.hard_contrastive(
                va, vb, temperature=0.5, tau_plus=0.1, beta=1.0
            ),
            (queries, keys),
            (0, 1),
        ),
        (
            f"ntxent dot [{b}, {dim}] x2",
            ntxent_plain,
            lambda va, vb: L.ntxent(va, vb, temperature=0.1, similarity="dot"),
            (queries, keys),
            (0, 1),
        ),
        (
            f"ntxent dot where [{b}, {dim}] x2",
            lambda va, vb: ntxent_plain(va, vb, where2),
            lambda va, vb: L.ntxent(
                va, vb, temperature=0.1, similarity="dot", where=where2
            ),
            (queries, keys),
            (0, 1),
        ),
    ]


def _compile(fn: Callable, args: tuple, argnums: tuple, grad: bool) -> Any:
    if grad:
        summed = jax.value_and_grad(lambda *a: jnp.sum(fn(*a)), argnums=argnums)
        return jax.jit(summed).lower(*args).compile()
    return jax.jit(fn).lower(*args).compile()


def _temp_mb(compiled: Any) -> float:
    try:
        return compiled.memory_analysis().temp_size_in_bytes / 2**20
    except (AttributeError, NotImplementedError):  # not every backend says
        return float("nan")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    p.add_argument("--rounds", type=int, default=None, help="default 7 (3 quick)")
    p.add_argument(
        "--only", default="", help="run only the cases whose name contains this"
    )
    args = p.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    print(_timing.device_line())
    entries = []
    for name, plain, lib, fn_args, argnums in _cases(args.quick):
        if args.only not in name:
            continue
        for grad in (False, True):
            sides = [_compile(f, fn_args, argnums, grad) for f in (plain, lib)]
            for compiled in sides:  # warm-up
                jax.block_until_ready(compiled(*fn_args))
            entries.append(
                dict(
                    name=f"{name} {'grad' if grad else 'fwd'}",
                    sides=sides,
                    args=fn_args,
                    times=([], []),
                    mb=tuple(_temp_mb(c) for c in sides),
                )
            )
    for r in range(rounds):
        for e in entries:
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                start = time.perf_counter()
                jax.block_until_ready(e["sides"][i](*e["args"]))
                e["times"][i].append(time.perf_counter() - start)
    header = f"{'case':48s} {'plain ms':>9s} {'jaxns ms':>9s} {'ratio':>6s}"
    print(f"{header} {'plain MB':>9s} {'jaxns MB':>9s}")
    print("-" * (len(header) + 20))
    rows = []
    for e in entries:
        plain_s, lib_s = (statistics.median(t) for t in e["times"])
        for label, seconds, mb in zip(
            ("plain jnp", "jaxns"), (plain_s, lib_s), e["mb"], strict=True
        ):
            _timing.record(e["name"], label, seconds=seconds, temp_mb=mb)
        print(
            f"{e['name']:48s} {1e3 * plain_s:9.3f} {1e3 * lib_s:9.3f} "
            f"{lib_s / plain_s:5.2f}x {e['mb'][0]:9.1f} {e['mb'][1]:9.1f}"
        )
        rows.append(dict(case=e["name"], plain_s=plain_s, jaxns_s=lib_s))
    print(f"(median of {rounds} interleaved rounds; ratio = jaxns / plain jnp)")
    return rows


if __name__ == "__main__":
    main()
