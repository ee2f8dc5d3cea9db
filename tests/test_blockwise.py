# SPDX-License-Identifier: Apache-2.0
"""Tests of ``block_size=``: the blocked contrastive losses equal the dense ones.

Every contrastive loss with ``block_size`` is checked against its dense version
(value and gradient with respect to every float input, learned temperatures and
logQ corrections included), against NumPy float64 references, under ``jit``,
``vmap`` and ``grad``, with masks, hit masks and half-precision inputs; the
private engine (:mod:`jaxns._blockwise`) is checked for the exact combination of
partial results that cross-device rings rely on, and the compiled memory of a
blocked gradient is checked to stay far below one ``B x B`` matrix.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxns import _blockwise
from jaxns import losses as L
from tests.helpers import assert_close, np_logsumexp, np_softplus

B, D, E = 9, 6, 4  # batch, dim, extra candidates
BLOCKS = [1, 4, 9, 64]  # one column, a ragged last block, exactly B, > B


def _data(seed=0):
    k = jax.random.split(jax.random.key(seed), 9)
    return {
        "a": jax.random.normal(k[0], (B, D)),
        "b": jax.random.normal(k[1], (B, D)),
        "where": jax.random.bernoulli(k[2], 0.7, (B, B)),
        "where2": jax.random.bernoulli(k[3], 0.7, (2 * B, 2 * B)),
        "ids": jax.random.randint(k[4], (B,), 0, 4),
        "log_q": jax.random.normal(k[5], (B,)),
        "extra": jax.random.normal(k[6], (E, D)),
        "extra_log_q": jax.random.normal(k[7], (E,)),
        "extra_ids": jnp.array([0, 1, 7, 8]),
        "where_x": jax.random.bernoulli(k[8], 0.7, (B, B + E)),
    }


# Each case: (loss(x, y, p, block_size), extra differentiable parameters p).
# ``p`` holds learned temperatures, biases and logQ corrections.
def _cases(d):
    return {
        "infonce": (
            lambda x, y, p, bs: L.infonce(
                x, y, temperature=p["t"], where=d["where"], block_size=bs
            ),
            {"t": jnp.float32(0.3)},
        ),
        "infonce_dot": (
            lambda x, y, p, bs: L.infonce(
                x, y, temperature=2.0, similarity="dot", block_size=bs
            ),
            {},
        ),
        "ntxent": (
            lambda x, y, p, bs: L.ntxent(
                x, y, temperature=p["t"], where=d["where2"], block_size=bs
            ),
            {"t": jnp.float32(0.2)},
        ),
        "ntxent_dot": (
            lambda x, y, p, bs: L.ntxent(
                x, y, temperature=3.0, similarity="dot", block_size=bs
            ),
            {},
        ),
        "clip": (
            lambda x, y, p, bs: L.clip(
                x, y, logit_scale=p["s"], where=d["where"], block_size=bs
            ),
            {"s": jnp.float32(2.0)},
        ),
        "clip_unnormalized": (
            lambda x, y, p, bs: L.clip(
                x, y, temperature=0.7, normalize=False, block_size=bs
            ),
            {},
        ),
        "siglip": (
            lambda x, y, p, bs: L.siglip(
                x,
                y,
                logit_scale=p["s"],
                logit_bias=p["b"],
                where=d["where"],
                block_size=bs,
            ),
            {"s": jnp.float32(1.0), "b": jnp.float32(-2.0)},
        ),
        "in_batch": (
            lambda x, y, p, bs: L.in_batch_softmax(
                x,
                y,
                temperature=0.5,
                candidate_log_q=p["lq"],
                candidate_ids=d["ids"],
                where=d["where"],
                block_size=bs,
            ),
            {"lq": d["log_q"]},
        ),
        "in_batch_mixed": (
            lambda x, y, p, bs: L.in_batch_softmax(
                x,
                y,
                temperature=p["t"],
                candidate_log_q=p["lq"],
                candidate_ids=d["ids"],
                extra_candidates=p["extra"],
                extra_log_q=p["elq"],
                extra_ids=d["extra_ids"],
                where=d["where_x"],
                block_size=bs,
            ),
            {
                "t": jnp.float32(0.5),
                "lq": d["log_q"],
                "extra": d["extra"],
                "elq": d["extra_log_q"],
            },
        ),
        "in_batch_extra_without_ids": (
            lambda x, y, p, bs: L.in_batch_softmax(
                x,
                y,
                candidate_ids=d["ids"],
                extra_candidates=p["extra"],
                block_size=bs,
            ),
            {"extra": d["extra"]},
        ),
        "debiased": (
            lambda x, y, p, bs: L.debiased_contrastive(
                x, y, temperature=0.3, tau_plus=0.1, where=d["where2"], block_size=bs
            ),
            {},
        ),
        "hard": (
            lambda x, y, p, bs: L.hard_contrastive(
                x, y, temperature=0.3, beta=0.7, where=d["where2"], block_size=bs
            ),
            {},
        ),
        "hard_beta0": (
            lambda x, y, p, bs: L.hard_contrastive(
                x, y, temperature=0.5, beta=0.0, block_size=bs
            ),
            {},
        ),
    }


NAMES = list(_cases(_data()))


def _weighted_sum(out):
    # Distinct weights per example so that a permuted gradient cannot pass.
    return jnp.sum(out * jnp.linspace(0.5, 1.5, out.size, dtype=out.dtype))


@pytest.mark.parametrize("name", NAMES)
def test_blocked_equals_dense_value_and_gradient(name):
    d = _data()
    f, params = _cases(d)[name]

    def total(x, y, p, bs):
        return _weighted_sum(f(x, y, p, bs))

    grad = jax.grad(total, argnums=(0, 1, 2))

    # One compilation per loss: the dense and every blocked version together.
    @jax.jit
    def run(x, y, p):
        sizes = [None, *BLOCKS]
        return [f(x, y, p, bs) for bs in sizes], [grad(x, y, p, bs) for bs in sizes]

    (dense, *blocked), (g_dense, *g_blocked) = run(d["a"], d["b"], params)
    for bs, out, g in zip(BLOCKS, blocked, g_blocked, strict=True):
        msg = f"block_size={bs}"
        assert out.shape == dense.shape and out.dtype == dense.dtype
        assert_close(out, dense, loose=True, err_msg=msg)
        for gb, gd in zip(jax.tree.leaves(g), jax.tree.leaves(g_dense), strict=True):
            assert_close(gb, gd, loose=True, err_msg=msg)


# ---------------------------------------------------------------------------
# Float64 NumPy references, independent of the dense code path.
# ---------------------------------------------------------------------------


def _np_unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _np_xent(logits, pos_cols, keep):
    out = []
    for i, j in enumerate(pos_cols):
        live = keep[i].copy()
        live[j] = True
        out.append(np_logsumexp(logits[i], where=live) - logits[i, j])
    return np.array(out)


def test_blocked_matches_float64_references():
    d = _data(1)
    a, b, where, where2 = d["a"], d["b"], d["where"], d["where2"]
    x, y = _np_unit(a), _np_unit(b)
    w, w2 = np.asarray(where), np.asarray(where2)
    eye = np.eye(B, dtype=bool)
    # CLIP: both directions, the mask transposed for text rows.
    logits = 5.0 * x @ y.T
    ref = 0.5 * (
        _np_xent(logits, range(B), w & ~eye) + _np_xent(logits.T, range(B), w.T & ~eye)
    )
    assert_close(L.clip(a, b, temperature=0.2, where=where, block_size=4), ref)
    # NT-Xent: 2B views, self excluded.
    z = np.concatenate([x, y])
    pos = (np.arange(2 * B) + B) % (2 * B)
    keep = w2 & ~np.eye(2 * B, dtype=bool)
    ref = _np_xent(z @ z.T / 0.1, pos, keep)
    out = L.ntxent(a, b, temperature=0.1, where=where2, block_size=5)
    assert_close(out, ref, loose=True)
    # SigLIP: a sum of softplus over every live pair.
    zs = np.exp(1.5) * x @ y.T - 3.0
    signed = np.where(eye, -zs, zs)
    ref = (np_softplus(signed) * (w | eye)).sum(-1)
    out = L.siglip(a, b, logit_scale=1.5, logit_bias=-3.0, where=where, block_size=2)
    assert_close(out, ref, loose=True)


def test_check_grads_float64():
    with jax.enable_x64(True):
        k = jax.random.split(jax.random.key(3), 2)
        a = jax.random.normal(k[0], (5, 3), jnp.float64)
        b = jax.random.normal(k[1], (5, 3), jnp.float64)

        def f(x, y, s, c):
            siglip = L.siglip(x, y, logit_scale=s, logit_bias=c, block_size=2)
            clip = L.clip(x, y, logit_scale=s, block_size=2)
            hard = L.hard_contrastive(x, y, temperature=0.5, beta=1.0, block_size=3)
            return _weighted_sum(siglip + clip) + _weighted_sum(hard)

        # The custom VJP defines reverse mode only (as Flash attention does).
        args = (a, b, jnp.float64(0.3), jnp.float64(-1.0))
        check_grads(jax.jit(f), args, 1, ("rev",))


@pytest.mark.parametrize("name", ["ntxent", "clip", "siglip", "in_batch_mixed", "hard"])
def test_hessian_forward_over_reverse_equals_dense(name):
    # jax.hessian (forward over reverse) differentiates the custom VJP's
    # backward pass, which is plain JAX: it works and equals the dense Hessian.
    # Forward mode alone (jax.jvp, jax.jacfwd) has no rule: a TypeError.
    with jax.enable_x64(True):
        d = jax.tree.map(
            lambda x: x.astype(jnp.float64) if x.dtype == jnp.float32 else x,
            _data(4),
        )
        f, params = _cases(d)[name]

        def hessian(bs):
            return jax.jit(
                jax.hessian(lambda x: _weighted_sum(f(x, d["b"], params, bs)))
            )

        assert_close(hessian(4)(d["a"]), hessian(None)(d["a"]), loose=True)
        with pytest.raises(TypeError, match="forward-mode"):
            jax.jvp(lambda x: f(x, d["b"], params, 4), (d["a"],), (d["b"],))


# ---------------------------------------------------------------------------
# Transformations, masks, dtypes.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ntxent", "clip", "siglip", "in_batch_mixed"])
def test_jit_equals_eager_and_vmap_equals_loop(name):
    d = _data(2)
    f, params = _cases(d)[name]
    eager = f(d["a"], d["b"], params, 4)
    one = jax.jit(lambda x, y: f(x, y, params, 4))
    assert_close(one(d["a"], d["b"]), eager)
    k = jax.random.split(jax.random.key(4), 2)
    xs = jax.random.normal(k[0], (3, B, D))
    ys = jax.random.normal(k[1], (3, B, D))
    out = jax.jit(jax.vmap(one))(xs, ys)
    assert_close(out, np.stack([one(xs[i], ys[i]) for i in range(3)]), loose=True)
    grad = jax.grad(lambda x, y: _weighted_sum(one(x, y)))
    grads = jax.jit(jax.vmap(grad))(xs, ys)
    loop = np.stack([jax.jit(grad)(xs[i], ys[i]) for i in range(3)])
    assert_close(grads, loop, loose=True)


@pytest.mark.parametrize("name", ["ntxent", "clip", "siglip", "debiased"])
def test_bfloat16_inputs_compute_in_float32(name):
    d = _data(5)
    f, params = _cases(d)[name]
    a16, b16 = d["a"].astype(jnp.bfloat16), d["b"].astype(jnp.bfloat16)
    out = f(a16, b16, params, 4)
    assert out.dtype == jnp.bfloat16
    # The float32 result on the same (rounded) inputs, within bfloat16 rounding.
    ref = f(a16.astype(jnp.float32), b16.astype(jnp.float32), params, None)
    assert_close(out, ref)
    g = jax.grad(lambda x: _weighted_sum(f(x, b16, params, 4).astype(jnp.float32)))(a16)
    assert g.dtype == jnp.bfloat16 and bool(jnp.all(jnp.isfinite(g)))


def test_fully_masked_rows_give_zero_and_zero_gradient():
    d = _data(6)
    where = np.ones((2 * B, 2 * B), bool)
    where[0] = False  # row 0 keeps only its positive
    where = jnp.asarray(where)
    for loss in (L.ntxent, L.debiased_contrastive):
        f = lambda x, loss=loss: loss(x, d["b"], where=where, block_size=4)  # noqa: E731
        out = f(d["a"])
        ref = loss(d["a"], d["b"], where=where)
        assert_close(out, ref, loose=True)
        assert float(out[0]) == 0.0
        g = jax.grad(lambda x, f=f: f(x)[0])(d["a"])
        assert bool(jnp.all(g == 0)), loss.__name__
    # Every column a hit: in-batch softmax with one id everywhere is 0.
    same = jnp.zeros((B,), jnp.int32)
    out, g = jax.value_and_grad(
        lambda x: L.in_batch_softmax(x, d["b"], candidate_ids=same, block_size=2).sum()
    )(d["a"])
    assert float(out) == 0.0 and bool(jnp.all(g == 0))


def test_small_temperature_stays_finite():
    d = _data(7)
    for bs in (None, 3):
        out, g = jax.value_and_grad(
            lambda x, bs=bs: L.ntxent(x, d["b"], temperature=1e-4, block_size=bs).sum()
        )(d["a"])
        assert np.isfinite(float(out)) and bool(jnp.all(jnp.isfinite(g)))
        if bs is None:
            dense = out
    assert_close(out, dense, loose=True)


def test_nan_propagates():
    d = _data(8)
    a = d["a"].at[2, 0].set(jnp.nan)
    out = L.clip(a, d["b"], temperature=0.1, block_size=4)
    assert bool(jnp.all(jnp.isnan(out)))  # row 2 is everyone's negative


# ---------------------------------------------------------------------------
# The engine: exact combination of partials (the cross-device contract).
# ---------------------------------------------------------------------------


def test_partials_over_column_shards_combine_exactly():
    d = _data(9)
    q, c = d["a"], d["b"]
    where = d["where"]
    pos = jnp.arange(B, dtype=jnp.int32)
    kw = dict(pos_cols=pos, alphas=(1.0, 0.5), softplus=True, block_size=2)

    def whole(q, c, s):
        st = _blockwise.stats(q, c, scale=s, where=where, **kw)
        return st.row_lse + (st.row_softplus, st.row_count)

    def sharded(q, c, s):
        # Two "devices" own columns [0, 5) and [5, 9); global ids via col_offset.
        parts = [
            _blockwise.stats(
                q, c[lo:hi], scale=s, where=where[:, lo:hi], col_offset=lo, **kw
            )
            for lo, hi in ((0, 5), (5, B))
        ]
        st = _blockwise.combine(*parts)
        return st.row_lse + (st.row_softplus, st.row_count)

    s = jnp.float32(1.7)
    for x, y in zip(whole(q, c, s), sharded(q, c, s), strict=True):
        assert_close(y, x, loose=True)
    # A dense float64 reference for the logsumexp with alpha = 0.5.
    z = 1.7 * np.asarray(q, np.float64) @ np.asarray(c, np.float64).T
    keep = np.asarray(where) & ~np.eye(B, dtype=bool)
    assert_close(whole(q, c, s)[1], np_logsumexp(0.5 * z, where=keep), loose=True)
    assert_close(whole(q, c, s)[3], keep.sum(-1))

    def scalar(f):
        return lambda q, c, s: sum(_weighted_sum(x) for x in f(q, c, s)[:3])

    g_whole = jax.grad(scalar(whole), argnums=(0, 1, 2))(q, c, s)
    g_shard = jax.grad(scalar(sharded), argnums=(0, 1, 2))(q, c, s)
    for x, y in zip(g_whole, g_shard, strict=True):
        assert_close(y, x, loose=True)


def test_blocked_gradient_never_holds_the_batch_matrix():
    batch, dim, block = 2048, 16, 128
    x = jnp.zeros((batch, dim))
    square = batch * batch * 4  # one float32 [B, B] matrix
    for loss in (
        lambda x, y, bs: L.clip(x, y, temperature=0.1, block_size=bs).mean(),
        lambda x, y, bs: L.siglip(x, y, block_size=bs).mean(),
        lambda x, y, bs: L.ntxent(x, y, block_size=bs).mean(),
    ):
        step = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
        dense = step.lower(x, x, None).compile().memory_analysis()
        blocked = step.lower(x, x, block).compile().memory_analysis()
        if dense is None:  # a backend without memory analysis
            pytest.skip("no compiled memory analysis on this backend")
        assert dense.temp_size_in_bytes >= square
        # NT-Xent has 2B rows: a few [2B, block] buffers, far below B x B.
        assert blocked.temp_size_in_bytes < square / 4


# ---------------------------------------------------------------------------
# Bad inputs.
# ---------------------------------------------------------------------------


BAD_INPUTS = [
    (ValueError, "ntxent: block_size must be >= 1", L.ntxent, {"block_size": 0}),
    (TypeError, "clip: block_size must be a Python int", L.clip,
     {"temperature": 0.1, "block_size": 2.0}),
    (TypeError, "siglip: block_size must be a Python int", L.siglip,
     {"block_size": True}),
    (TypeError, "infonce: block_size must be a Python int", L.infonce,
     {"block_size": "4"}),
    (ValueError, "hard_contrastive: block_size must be >= 1", L.hard_contrastive,
     {"block_size": -1}),
    (ValueError, "in_batch_softmax: num_hard_negatives needs the full",
     L.in_batch_softmax, {"num_hard_negatives": 1, "block_size": 2}),
    (ValueError, "debiased_contrastive: tau_plus", L.debiased_contrastive,
     {"tau_plus": 1.0, "block_size": 2}),
]  # fmt: skip


@pytest.mark.parametrize("exc, match, loss, kwargs", BAD_INPUTS)
def test_bad_inputs(exc, match, loss, kwargs):
    emb = jnp.ones((3, 2))
    with pytest.raises(exc, match=match):
        loss(emb, emb, **kwargs)
    with pytest.raises(exc, match=match):
        jax.jit(lambda x: loss(x, x, **kwargs))(emb)
