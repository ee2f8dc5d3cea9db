# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.losses: NumPy float64 references, closed-form gradients,
TensorFlow's published formulas, stability, masks, dtypes and bad inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, logsumexp

from jaxns import losses as L
from tests.helpers import assert_close, check_grads_jit, np_normalize, np_softplus


def _jit_grad(f, **kw):
    # One compilation per test is much cheaper than many eager primitives.
    return jax.jit(jax.grad(f, **kw))


def _jit_value_and_grad(f, **kw):
    return jax.jit(jax.value_and_grad(f, **kw))


# ---------------------------------------------------------------------------
# NumPy float64 references, written from the papers' formulas.
# ---------------------------------------------------------------------------


def np_sgns(pos, neg, where):
    return np_softplus(-pos) + (np_softplus(neg) * where).sum(-1)


def np_bpr(pos, neg, where):
    n = where.sum(-1)
    return np.where(
        n > 0, (np_softplus(neg - pos[:, None]) * where).sum(-1) / np.maximum(n, 1), 0
    )


def np_margin(pos, neg, where, margin=1.0):
    n = where.sum(-1)
    h = np.maximum(0, margin - pos[:, None] + neg) * where
    return np.where(n > 0, h.sum(-1) / np.maximum(n, 1), 0)


def np_self_adv(pos, neg, where, temperature=1.0, margin=1.0):
    out = []
    for p, n, w in zip(pos, neg, where, strict=True):
        live = n[w]
        loss = np_softplus(-(margin + p))
        if live.size:
            wts = np.exp(temperature * live - logsumexp(temperature * live))
            loss += (wts * np_softplus(margin + live)).sum()
        out.append(loss)
    return np.array(out)


def np_softmax_ce(pos, neg, where):
    out = []
    for p, n, w in zip(pos, neg, where, strict=True):
        z = np.concatenate([[p], n[w]])
        out.append(logsumexp(z) - p)
    return np.array(out)


def tf_sampled_logits(true_logits, sampled_logits, true_exp, sampled_exp, hits):
    """TensorFlow's _compute_sampled_logits, re-derived: subtract log expected
    counts from true and sampled logits, add -FLT_MAX at accidental hits, and
    labels 1/num_true for the true columns."""
    t = true_logits - np.log(true_exp)
    s = sampled_logits - np.log(sampled_exp)
    s = s + hits * -np.finfo(np.float32).max
    out_logits = np.concatenate([t, s], axis=1)
    num_true = t.shape[1]
    labels = np.concatenate([np.ones_like(t) / num_true, np.zeros_like(s)], axis=1)
    return out_logits, labels


def tf_nce(*args):
    x, z = tf_sampled_logits(*args)
    # sigmoid_cross_entropy_with_logits, then _sum_rows.
    return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).sum(1)


def tf_sampled_softmax(*args):
    x, z = tf_sampled_logits(*args)
    return -(z * (x - logsumexp(x, axis=1, keepdims=True))).sum(1)


# ---------------------------------------------------------------------------
# Losses on (pos [B], neg [B, k]) logits, for the generic tests.
# ---------------------------------------------------------------------------

LQ = 0.3  # a fixed log expected count used by nce


def _nce(p, n, where=None):
    return L.nce(
        p,
        n,
        jnp.full(p.shape, LQ, p.dtype),
        jnp.zeros(n.shape[-1:], n.dtype),
        where=where,
    )


def _full(p, n, where=None):
    logits = jnp.concatenate([p[:, None], n], axis=1)
    keep = None if where is None else jnp.concatenate([where[:, :1], where], axis=1)
    return L.full_softmax(logits, jnp.zeros(p.shape, jnp.int32), where=keep)


PAIRWISE = {
    "sgns": (L.sgns, np_sgns),
    "nce": (_nce, lambda p, n, w: np_sgns(p - LQ, n, w)),
    "sampled_softmax": (L.sampled_softmax, np_softmax_ce),
    "full_softmax": (_full, np_softmax_ce),
    "bpr": (L.bpr, np_bpr),
    "margin_ranking": (
        lambda p, n, where=None: L.margin_ranking(p, n, margin=1.0, where=where),
        np_margin,
    ),
    "self_adversarial": (
        lambda p, n, where=None: L.self_adversarial(
            p, n, adversarial_temperature=1.0, margin=1.0, where=where
        ),
        np_self_adv,
    ),
}
# Loss of a row whose negatives are all masked.
NO_NEGATIVES = {
    "sgns": lambda p: np_softplus(-p),
    "nce": lambda p: np_softplus(-(p - LQ)),
    "sampled_softmax": lambda p: 0 * p,
    "full_softmax": lambda p: 0 * p,
    "bpr": lambda p: 0 * p,
    "margin_ranking": lambda p: 0 * p,
    "self_adversarial": lambda p: np_softplus(-(1.0 + p)),
}
NAMES = sorted(PAIRWISE)


def _data(rng, b, k, scale=2.0):
    pos = rng.normal(size=b) * scale
    neg = rng.normal(size=(b, k)) * scale
    where = rng.random((b, k)) < 0.7
    return pos, neg, where


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("b,k", [(1, 1), (4, 3), (9, 8)])
def test_matches_numpy_reference(name, b, k):
    rng = np.random.default_rng(b * 10 + k)
    fn, ref = PAIRWISE[name]
    fn = jax.jit(fn)
    pos, neg, where = _data(rng, b, k)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    out = fn(f32(pos), f32(neg), where=jnp.asarray(where))
    assert out.shape == (b,) and out.dtype == jnp.float32
    np.testing.assert_allclose(out, ref(pos, neg, where), rtol=1e-5, atol=1e-5)
    out = fn(f32(pos), f32(neg))
    np.testing.assert_allclose(
        out, ref(pos, neg, np.ones_like(where)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("name", NAMES)
def test_mask_equals_slice_and_fully_masked_row(name):
    fn, _ = PAIRWISE[name]
    fn = jax.jit(fn)
    rng = np.random.default_rng(1)
    pos, neg, _ = _data(rng, 3, 4)
    pos, neg = jnp.asarray(pos, jnp.float32), jnp.asarray(neg, jnp.float32)
    # Mask == slice: dropping the last column by mask or by slicing agree.
    where = jnp.asarray(np.arange(4) < 3)[None].repeat(3, 0)
    np.testing.assert_allclose(
        fn(pos, neg, where=where), fn(pos, neg[:, :3]), rtol=1e-6
    )
    # A fully masked row: no contribution from negatives, finite zero gradient,
    # even when the masked logits are huge, inf or NaN.
    neg = neg.at[0].set(jnp.array([1e4, jnp.inf, -jnp.inf, jnp.nan]))
    where = jnp.ones((3, 4), bool).at[0].set(False)
    loss, (gp, gn) = _jit_value_and_grad(
        lambda p, n: fn(p, n, where=where)[0], argnums=(0, 1)
    )(pos, neg)
    np.testing.assert_allclose(
        loss, NO_NEGATIVES[name](np.float64(pos[0])), rtol=1e-6, atol=1e-7
    )
    assert bool(jnp.isfinite(gp).all()) and bool(jnp.isfinite(gn).all())
    np.testing.assert_array_equal(gn[0], np.zeros(4))


@pytest.mark.parametrize("name", NAMES)
def test_masked_huge_logit_gets_exactly_zero_gradient(name):
    fn, _ = PAIRWISE[name]
    pos = jnp.array([0.5, -0.3])
    neg = jnp.array([[1e4, 0.2, -0.1], [0.1, -jnp.inf, 0.3]])
    where = jnp.array([[False, True, True], [True, False, True]])
    g = _jit_grad(lambda n: fn(pos, n, where=where).sum())(neg)
    assert g[0, 0] == 0.0 and g[1, 1] == 0.0
    assert bool(jnp.isfinite(g).all())
    assert bool((g[where] != 0).all())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_huge_logits_are_finite(name, scale):
    fn, _ = PAIRWISE[name]
    pos = jnp.array([scale, -scale, scale, -scale], jnp.float32)
    neg = jnp.array(
        [[scale, -scale]] * 2 + [[-scale, -scale]] + [[scale, scale]], jnp.float32
    )
    loss, grads = _jit_value_and_grad(lambda p, n: fn(p, n).sum(), argnums=(0, 1))(
        pos, neg
    )
    assert bool(jnp.isfinite(loss))
    assert all(bool(jnp.isfinite(g).all()) for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name):
    fn, _ = PAIRWISE[name]
    fn = jax.jit(fn)
    pos = jnp.array([0.1, jnp.nan, 0.2])
    neg = jnp.array([[0.3, 0.1], [0.2, 0.0], [jnp.nan, 0.0]])
    out = np.asarray(fn(pos, neg))
    assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_inputs_match_float32_values_and_gradients(name):
    """bfloat16 in, float32 compute inside: the result equals the float32
    computation on the same (bf16-rounded) inputs up to one bf16 rounding of
    the output (rtol 1e-2), for the values and for the gradients."""
    fn, _ = PAIRWISE[name]
    rng = np.random.default_rng(3)
    pos, neg, where = _data(rng, 6, 5)
    pos16, neg16 = jnp.asarray(pos, jnp.bfloat16), jnp.asarray(neg, jnp.bfloat16)
    pos32, neg32 = pos16.astype(jnp.float32), neg16.astype(jnp.float32)
    where = jnp.asarray(where)

    def value_and_grads(p, n):
        def total(p, n):
            return fn(p, n, where=where).astype(jnp.float32).sum()

        return fn(p, n, where=where), jax.grad(total, argnums=(0, 1))(p, n)

    out16, (gp16, gn16) = jax.jit(value_and_grads)(pos16, neg16)
    out32, (gp32, gn32) = jax.jit(value_and_grads)(pos32, neg32)
    assert out16.dtype == gp16.dtype == gn16.dtype == jnp.bfloat16
    assert_close(out16, out32)
    assert_close(gp16, gp32)
    assert_close(gn16, gn32)


@pytest.mark.parametrize("name", NAMES)
def test_jit_equals_eager_and_vmap_equals_loop(name):
    fn, _ = PAIRWISE[name]
    rng = np.random.default_rng(4)
    pos, neg, where = (jnp.asarray(x) for x in _data(rng, 4, 3))
    pos, neg = pos.astype(jnp.float32), neg.astype(jnp.float32)
    eager = fn(pos, neg, where=where)
    np.testing.assert_allclose(jax.jit(fn)(pos, neg, where=where), eager, rtol=1e-6)
    # vmap over an extra leading axis == a loop over it.
    stacked = [(pos + i, neg - i, where) for i in range(3)]
    ps, ns, ws = (jnp.stack(x) for x in zip(*stacked, strict=True))
    out = jax.vmap(lambda p, n, w: fn(p, n, where=w))(ps, ns, ws)
    loop = jnp.stack([fn(p, n, where=w) for p, n, w in stacked])
    np.testing.assert_allclose(out, loop, rtol=1e-6)


def test_weights():
    pos, neg = jnp.array([0.1, 0.2]), jnp.array([[0.3], [0.4]])
    w = jnp.array([2.0, 0.0])
    np.testing.assert_allclose(L.sgns(pos, neg, weights=w), L.sgns(pos, neg) * w)
    np.testing.assert_allclose(L.bpr(pos, neg, weights=w), L.bpr(pos, neg) * w)


# ---------------------------------------------------------------------------
# Gradients.
# ---------------------------------------------------------------------------


def test_closed_form_gradients():
    rng = np.random.default_rng(5)
    pos = jnp.asarray(rng.normal(size=5) * 3, jnp.float32)
    neg = jnp.asarray(rng.normal(size=(5, 4)) * 3, jnp.float32)
    gp, gn = _jit_grad(lambda p, n: L.sgns(p, n).sum(), argnums=(0, 1))(pos, neg)
    np.testing.assert_allclose(gp, -jax.nn.sigmoid(-pos), rtol=1e-6)
    np.testing.assert_allclose(gn, jax.nn.sigmoid(neg), rtol=1e-6)
    # Sampled softmax: softmax(z - log q) - onehot.
    lq_pos = jnp.asarray(rng.normal(size=5), jnp.float32)
    lq_neg = jnp.asarray(rng.normal(size=4), jnp.float32)
    gp, gn = _jit_grad(
        lambda p, n: L.sampled_softmax(p, n, pos_log_q=lq_pos, neg_log_q=lq_neg).sum(),
        argnums=(0, 1),
    )(pos, neg)
    z = np.concatenate([(pos - lq_pos)[:, None], neg - lq_neg[None]], 1).astype(
        np.float64
    )
    soft = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    np.testing.assert_allclose(gp, soft[:, 0] - 1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gn, soft[:, 1:], rtol=1e-5, atol=1e-7)
    # BPR with one negative: d/dpos = -sigmoid(-(pos - neg)).
    gp, gn = _jit_grad(lambda p, n: L.bpr(p, n).sum(), argnums=(0, 1))(pos, neg[:, 0])
    np.testing.assert_allclose(
        gp, -expit(-(np.float64(pos) - np.float64(neg[:, 0]))), rtol=1e-5
    )
    np.testing.assert_allclose(gn, -gp, rtol=1e-6)
    # Self-adversarial weights are constants: d/dneg_j = w_j sigmoid(margin + neg_j).
    gn = _jit_grad(
        lambda n: L.self_adversarial(
            pos, n, adversarial_temperature=0.5, margin=1.0
        ).sum()
    )(neg)
    w = jax.nn.softmax(0.5 * neg, axis=-1)
    np.testing.assert_allclose(gn, w * jax.nn.sigmoid(1.0 + neg), rtol=1e-5)


def test_check_grads_float64():
    rng = np.random.default_rng(6)
    with jax.enable_x64(True):
        pos = jnp.asarray(rng.normal(size=3))
        pos2 = jnp.asarray(rng.normal(size=(3, 2)))
        neg = jnp.asarray(rng.normal(size=(3, 4)))
        where = jnp.asarray(rng.random((3, 4)) < 0.7)
        lq = jnp.asarray(rng.normal(size=4))
        check_grads_jit(lambda p, n: L.sgns(p, n, where=where), (pos, neg))
        check_grads_jit(lambda p, n: L.nce(p, n, p * 0 + 0.1, lq), (pos2, neg), 1)
        check_grads_jit(
            lambda p, n: L.sampled_softmax(
                p, n, pos_log_q=p * 0 + 0.2, neg_log_q=lq, where=where
            ),
            (pos2, neg),
        )
        check_grads_jit(lambda p, n: L.bpr(p, n, where=where), (pos, neg), 1)
        # margin_ranking's hinge: away from the kink, first order.
        check_grads_jit(
            lambda p, n: L.margin_ranking(p, n, margin=0.5, where=where), (pos, neg), 1
        )
        check_grads_jit(lambda x: L.full_softmax(x, jnp.array([0, 3, 1])), (neg,))
        a, b = (jnp.asarray(rng.normal(size=(3, 4))) for _ in range(2))
        check_grads_jit(
            lambda q, c: L.in_batch_softmax(
                q, c, temperature=0.5, candidate_ids=jnp.array([1, 2, 1])
            ),
            (a, b),
        )
        check_grads_jit(lambda x, y: L.ntxent(x, y, temperature=0.5), (a, b), 1)
        check_grads_jit(
            lambda x, y, s: L.clip(x, y, logit_scale=s), (a, b, jnp.array(1.0)), 1
        )
        check_grads_jit(
            lambda x, y, s, c: L.siglip(x, y, logit_scale=s, logit_bias=c),
            (a, b, jnp.array(0.5), jnp.array(-1.0)),
            1,
        )
        check_grads_jit(
            lambda x, y: L.hard_contrastive(
                x, y, temperature=0.5, tau_plus=0.05, beta=0.5
            ),
            (a, b),
            1,
        )


# ---------------------------------------------------------------------------
# Equivalences with the exact softmax and TensorFlow's formulas.
# ---------------------------------------------------------------------------


def test_sampled_softmax_over_all_classes_equals_full_softmax():
    rng = np.random.default_rng(7)
    b, v = 5, 11
    logits = jnp.asarray(rng.normal(size=(b, v)) * 3, jnp.float32)
    labels = jnp.asarray(rng.integers(0, v, size=b))

    def sampled(x):
        pos = jnp.take_along_axis(x, labels[:, None], axis=1)[:, 0]
        # Every class is a candidate; the true class is an accidental hit.
        hits = jnp.arange(v)[None, :] == labels[:, None]
        # Uniform q with k = V draws: log E = log(V * 1/V) = 0; any constant cancels.
        lq = jnp.full((v,), 0.7)
        return L.sampled_softmax(
            pos, x, pos_log_q=jnp.full((b,), 0.7), neg_log_q=lq, where=~hits
        )

    full = lambda x: L.full_softmax(x, labels)  # noqa: E731
    np.testing.assert_allclose(sampled(logits), full(logits), rtol=1e-5)
    np.testing.assert_allclose(
        _jit_grad(lambda x: sampled(x).sum())(logits),
        _jit_grad(lambda x: full(x).sum())(logits),
        rtol=1e-5,
        atol=1e-7,
    )
    ref = (
        logsumexp(np.float64(logits), axis=1) - np.float64(logits)[np.arange(b), labels]
    )
    np.testing.assert_allclose(full(logits), ref, rtol=1e-5)


@pytest.mark.parametrize("num_true", [1, 2, 4])
def test_sampled_softmax_all_negatives_masked(num_true):
    # The docstring's claim: 0 with one true class, the softmax over the true
    # classes alone (>= log T) with T > 1.
    rng = np.random.default_rng(24)
    pos, neg = rng.normal(size=(3, num_true)) * 2, rng.normal(size=(3, 5))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    p = f32(pos) if num_true > 1 else f32(pos[:, 0])
    out = L.sampled_softmax(p, f32(neg), where=jnp.zeros((3, 5), bool))
    ref = logsumexp(pos, axis=1) - pos.mean(1)
    assert_close(out, ref, loose=True)
    assert np.all(np.asarray(out) >= np.log(num_true) - 1e-6)


def test_full_softmax_reads_the_logits_without_a_masked_copy():
    # Without where=, the label's logit is its own term of the normaliser: the
    # compiled forward holds no [batch, num_classes] temporary (a label mask
    # made XLA materialise the masked logits, 4x the time of logsumexp).
    rng = np.random.default_rng(31)
    b, v = 64, 4096
    logits = jnp.asarray(rng.normal(size=(b, v)) * 3, jnp.float32)
    labels = jnp.asarray(rng.integers(0, v, size=b), jnp.int32)
    compiled = jax.jit(L.full_softmax).lower(logits, labels).compile()
    mem = compiled.memory_analysis()
    if mem is None:  # a backend without memory analysis
        pytest.skip("no compiled memory analysis on this backend")
    assert mem.temp_size_in_bytes < b * v * 4 / 4
    x = np.float64(logits)
    assert_close(
        compiled(logits, labels), logsumexp(x, axis=1) - x[np.arange(b), labels]
    )
    g = _jit_grad(lambda x: L.full_softmax(x, labels).sum())(logits)
    soft = np.exp(x - logsumexp(x, axis=1, keepdims=True))
    assert_close(g, soft - np.eye(v)[np.asarray(labels)], loose=True)


@pytest.mark.parametrize(
    "bad_label, label_dtype",
    [
        (-1, jnp.int32),
        (-3, jnp.int32),
        (3, jnp.int32),
        (-1, jnp.int8),
        (127, jnp.int8),
        (2**31 - 1, jnp.int32),
        (255, jnp.uint8),
    ],
)
def test_full_softmax_out_of_range_labels_give_nan(bad_label, label_dtype):
    # Negative labels used to wrap to the last class and count it twice.
    rng = np.random.default_rng(22)
    logits = rng.normal(size=(3, 3))
    labels = np.array([0, bad_label, 2])
    f = lambda x: L.full_softmax(x, jnp.asarray(labels, label_dtype))  # noqa: E731
    out = np.asarray(f(jnp.asarray(logits, jnp.float32)))
    assert np.isnan(out[1])
    ok = [0, 2]
    ref = logsumexp(logits[ok], axis=1) - logits[ok, labels[ok]]
    assert_close(out[ok], ref, loose=True)
    # The bad row's gradient is NaN; the other rows get softmax - onehot.
    g = np.asarray(jax.jit(jax.grad(lambda x: f(x).sum()))(jnp.asarray(logits)))
    assert np.isnan(g[1]).all()
    soft = np.exp(logits[ok] - logsumexp(logits[ok], axis=1, keepdims=True))
    assert_close(g[ok], soft - np.eye(3)[labels[ok]], loose=True)
    # jit == eager.
    np.testing.assert_array_equal(jax.jit(f)(jnp.asarray(logits, jnp.float32)), out)


@pytest.mark.parametrize("num_true", [1, 3])
def test_nce_and_sampled_softmax_match_tensorflow_formulas(num_true):
    rng = np.random.default_rng(8 + num_true)
    b, k, v = 6, 5, 20
    q = rng.dirichlet(np.ones(v))
    true_ids = rng.integers(0, v, size=(b, num_true))
    sampled_ids = rng.choice(v, size=k, p=q)  # shared candidates, as TF
    true_logits = rng.normal(size=(b, num_true))
    sampled_logits = rng.normal(size=(b, k))
    true_exp, sampled_exp = k * q[true_ids], k * q[sampled_ids]  # with replacement
    hits = (sampled_ids[None, None, :] == true_ids[:, :, None]).any(1)
    no_hits = np.zeros_like(hits)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    pos = f32(true_logits if num_true > 1 else true_logits[:, 0])
    lq_pos = f32(np.log(true_exp) if num_true > 1 else np.log(true_exp[:, 0]))
    lq_neg = f32(np.log(sampled_exp))
    # TF's nce_loss keeps accidental hits by default.
    out = L.nce(pos, f32(sampled_logits), lq_pos, lq_neg)
    ref = tf_nce(true_logits, sampled_logits, true_exp, sampled_exp[None], no_hits)
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    # sampled_softmax_loss removes them (remove_accidental_hits=True).
    out = L.sampled_softmax(
        pos,
        f32(sampled_logits),
        pos_log_q=lq_pos,
        neg_log_q=lq_neg,
        where=jnp.asarray(~hits),
    )
    ref = tf_sampled_softmax(
        true_logits, sampled_logits, true_exp, sampled_exp[None], hits
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    # Shared log_q == the same log_q broadcast per example.
    out2 = L.sampled_softmax(
        pos,
        f32(sampled_logits),
        pos_log_q=lq_pos,
        neg_log_q=jnp.broadcast_to(lq_neg, (b, k)),
        where=jnp.asarray(~hits),
    )
    np.testing.assert_allclose(out, out2, rtol=1e-6)


# ---------------------------------------------------------------------------
# In-batch and contrastive losses.
# ---------------------------------------------------------------------------


def np_retrieval(scores, temperature, log_q, ids, where, hard):
    b, n = scores.shape
    z = scores / temperature - (0 if log_q is None else log_q[None])
    out = []
    for i in range(b):
        keep = np.array(
            [j != i and (ids is None or ids[j] != ids[i]) for j in range(n)]
        )
        if where is not None:
            keep &= where[i]
        negs = z[i][keep]
        if hard is not None:
            negs = np.sort(negs)[::-1][:hard]
        out.append(logsumexp(np.concatenate([[z[i, i]], negs])) - z[i, i])
    return np.array(out)


@pytest.mark.parametrize(
    "ids, extra_ids",
    [
        # int32 300 and 200 wrap to int8 44 and -56: not the extra ids 44, -56.
        (np.array([300, 5, 200, 44], np.int32), np.array([44, -56, 5], np.int8)),
        (np.array([44, 5, -56, 7], np.int8), np.array([300, 200, 7], np.int32)),
        (np.array([255, 1, 128, 44], np.uint8), np.array([-1, -128, 1], np.int8)),
    ],
)
def test_in_batch_softmax_ids_of_different_dtypes(ids, extra_ids):
    # The dense path cast candidate_ids down to extra_ids' dtype before
    # comparing (false accidental hits); both paths now compare promoted ids.
    rng = np.random.default_rng(23)
    b, m, d = 4, 3, 5
    q, c, e = rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=(m, d))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    kw = dict(
        temperature=0.5,
        candidate_ids=jnp.asarray(ids),
        extra_candidates=f32(e),
        extra_ids=jnp.asarray(extra_ids),
    )
    all_ids = np.concatenate([ids.astype(np.int64), extra_ids.astype(np.int64)])
    ref = np_retrieval(q @ np.concatenate([c, e]).T, 0.5, None, all_ids, None, None)
    dense = L.in_batch_softmax(f32(q), f32(c), **kw)
    blocked = L.in_batch_softmax(f32(q), f32(c), block_size=2, **kw)
    assert_close(dense, ref, loose=True)
    assert_close(blocked, ref, loose=True)


@pytest.mark.parametrize(
    "ids",
    [
        # Ids at both ends of their dtype: the blocked path's id for extra
        # columns (min - 1 or max + 1) wrapped onto a row's id, 0 or -128,
        # and that row lost its extra negatives.
        np.array([0, 255, 3, 0], np.uint8),
        np.array([-128, 127, 3, 5], np.int8),
        np.array([0, 2**32 - 1, 3, 7], np.uint32),
        np.array([-(2**31), 2**31 - 1, -(2**31) + 1, 2**31 - 2], np.int32),
        np.arange(256).astype(np.uint8),  # every uint8 value
    ],
    ids=["uint8", "int8", "uint32", "int32", "uint8-all"],
)
def test_in_batch_softmax_extra_columns_without_ids_are_never_hits(ids):
    rng = np.random.default_rng(29)
    b, m, d = len(ids), 3, 4
    q, c, e = rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=(m, d))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    kw = dict(temperature=0.5, candidate_ids=jnp.asarray(ids), extra_candidates=f32(e))
    # The extra columns get ids that no row holds.
    all_ids = np.concatenate([ids.astype(np.int64), 2**40 + np.arange(m)])
    ref = np_retrieval(q @ np.concatenate([c, e]).T, 0.5, None, all_ids, None, None)
    assert_close(L.in_batch_softmax(f32(q), f32(c), **kw), ref, loose=True)
    blocked = jax.jit(functools.partial(L.in_batch_softmax, block_size=2, **kw))
    assert_close(blocked(f32(q), f32(c)), ref, loose=True)


@pytest.mark.parametrize("block_size", [None, 2])
def test_in_batch_softmax_refuses_int64_with_uint64_ids(block_size):
    # NumPy promotes int64 with uint64 to float64, where 2**60 and 2**60 + 1
    # are one number: the extra column was taken for an accidental hit.
    emb = jnp.ones((3, 2))
    with jax.enable_x64(True):
        ids = jnp.array([2**60, 5, 3], jnp.int64)
        extra_ids = jnp.array([2**60 + 1, 7], jnp.uint64)
        with pytest.raises(
            TypeError,
            match=r"in_batch_softmax: candidate_ids \(int64\) and extra_ids \(uint64\) "
            "have no common integer dtype",
        ):
            L.in_batch_softmax(
                emb,
                emb,
                candidate_ids=ids,
                extra_candidates=emb[:2],
                extra_ids=extra_ids,
                block_size=block_size,
            )


@pytest.mark.parametrize("hard", [None, 2])
def test_in_batch_softmax_matches_bruteforce(hard):
    rng = np.random.default_rng(9)
    b, m, d = 5, 3, 4
    q, c, e = rng.normal(size=(b, d)), rng.normal(size=(b, d)), rng.normal(size=(m, d))
    ids = np.array([3, 7, 3, 1, 7])  # duplicates in the batch
    extra_ids = np.array([1, 9, 3])  # accidental hits among extras
    lq = np.log(rng.dirichlet(np.ones(b + m)))
    where = rng.random((b, b + m)) < 0.9
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    out = L.in_batch_softmax(
        f32(q),
        f32(c),
        temperature=0.5,
        candidate_log_q=f32(lq[:b]),
        candidate_ids=jnp.asarray(ids),
        extra_candidates=f32(e),
        extra_log_q=f32(lq[b:]),
        extra_ids=jnp.asarray(extra_ids),
        num_hard_negatives=hard,
        where=jnp.asarray(where),
    )
    scores = q @ np.concatenate([c, e]).T
    all_ids = np.concatenate([ids, extra_ids])
    ref = np_retrieval(scores, 0.5, lq, all_ids, where, hard)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    logits_level = L.in_batch_softmax_from_logits(
        f32(scores),
        temperature=0.5,
        candidate_log_q=f32(lq),
        candidate_ids=jnp.asarray(all_ids),
        num_hard_negatives=hard,
        where=jnp.asarray(where),
    )
    np.testing.assert_allclose(logits_level, ref, rtol=1e-5, atol=1e-6)
    # Extras without ids are never masked as hits.
    out = L.in_batch_softmax(
        f32(q), f32(c), candidate_ids=jnp.asarray(ids), extra_candidates=f32(e)
    )
    ref = np_retrieval(
        scores, 1.0, None, np.concatenate([ids, [-1, -2, -3]]), None, None
    )
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("option", ["plain", "where", "ids", "hard"])
def test_in_batch_softmax_from_logits_does_not_copy_the_logits(option):
    # The caller's logits were copied to drop their diagonal by a scatter; now
    # the diagonal is left out by the mask, or (nothing masked) kept as the
    # positive's own term of the normaliser.
    rng = np.random.default_rng(32)
    b, n = 128, 256
    scores = rng.normal(size=(b, n)) * 3
    ids = rng.integers(0, 40, size=n)
    where = rng.random((b, n)) < 0.8
    kw, ref_args = {}, (None, None, None)
    if option == "where":
        kw, ref_args = dict(where=jnp.asarray(where)), (None, where, None)
    elif option == "ids":
        kw, ref_args = dict(candidate_ids=jnp.asarray(ids)), (ids, None, None)
    elif option == "hard":
        kw, ref_args = dict(num_hard_negatives=7), (None, None, 7)
    f = functools.partial(L.in_batch_softmax_from_logits, **kw)
    x = jnp.asarray(scores, jnp.float32)
    compiled = jax.jit(f).lower(x).compile()
    mem = compiled.memory_analysis()
    if mem is None:  # a backend without memory analysis
        pytest.skip("no compiled memory analysis on this backend")
    # No copy unmasked; one masked copy (not two) with ids.
    copies = {"plain": 0.25, "ids": 1.5}.get(option, 2.0)
    assert mem.temp_size_in_bytes < copies * b * n * 4
    ref = np_retrieval(np.float64(x), 1.0, None, *ref_args)
    assert_close(compiled(x), ref, loose=True)
    assert np.all(np.asarray(compiled(x)) >= 0)
    if option == "plain":
        z = np.float64(x)
        soft = np.exp(z - logsumexp(z, axis=1, keepdims=True))
        g = _jit_grad(lambda x: f(x).sum())(x)
        assert_close(g, soft - np.eye(b, n), loose=True)
        # The gradient is one elementwise pass over the logits: no second
        # [b, n] block for the diagonal's cotangent.
        grad = jax.jit(jax.grad(lambda x: f(x).sum())).lower(x).compile()
        assert grad.memory_analysis().temp_size_in_bytes < 0.25 * b * n * 4


@pytest.mark.parametrize("loss", ["in_batch_softmax", "infonce"])
def test_dense_in_batch_gradient_holds_one_logit_block(loss):
    # The positive's logit took the diagonal's place through a scatter of
    # -inf into a copy of the logits: two [b, b] blocks for the gradient.
    rng = np.random.default_rng(33)
    b, d = 256, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    dot = {"similarity": "dot"} if loss == "infonce" else {}
    fn = functools.partial(getattr(L, loss), temperature=0.1, **dot)
    grad = jax.jit(jax.grad(lambda x, y: fn(x, y).sum(), argnums=(0, 1)))
    mem = grad.lower(x, y).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 1.5 * b * b * 4
    z = np.float64(x) @ np.float64(y).T / 0.1
    soft = np.exp(z - logsumexp(z, axis=1, keepdims=True)) - np.eye(b)
    gx, gy = grad(x, y)
    for got, want in (
        (gx, soft @ np.float64(y) / 0.1),
        (gy, soft.T @ np.float64(x) / 0.1),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("loss", ["clip where", "infonce where", "in_batch ids"])
def test_masked_dense_gradient_holds_one_logit_block(loss):
    # The masked paths dropped the diagonal by a scatter of -inf into a copy
    # of the logits: two [b, b] blocks for the gradient.
    rng = np.random.default_rng(39)
    b, d = 256, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    where = jnp.asarray(rng.random((b, b)) < 0.7)
    ids = jnp.asarray(rng.integers(0, 100, size=b))
    fn = {
        "clip where": lambda x, y: L.clip(x, y, temperature=0.1, where=where),
        "infonce where": lambda x, y: L.infonce(x, y, temperature=0.1, where=where),
        "in_batch ids": lambda x, y: L.in_batch_softmax(
            x, y, temperature=0.1, candidate_ids=ids
        ),
    }[loss]
    grad = jax.jit(jax.value_and_grad(lambda x, y: fn(x, y).sum(), argnums=(0, 1)))
    mem = grad.lower(x, y).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 1.5 * b * b * 4


def test_masked_siglip_drops_the_diagonal_through_its_mask():
    # With where=, SigLIP scattered -inf into the diagonal of the logits and
    # masked the copy: 2 blocks for jax.grad, 3 for value_and_grad.
    rng = np.random.default_rng(43)
    b, d = 256, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    keep = rng.random((b, b)) < 0.7
    keep[np.arange(8), np.arange(8)] = False  # ignored: the positive stays
    scale, bias = jnp.float32(1.2), jnp.float32(-3.0)

    def total(x, y, scale, bias):
        return L.siglip(
            x, y, logit_scale=scale, logit_bias=bias, normalize=False, where=keep
        ).sum()

    args = (x, y, scale, bias)
    grad = jax.jit(jax.grad(total, argnums=(0, 1, 2, 3)))
    assert grad.lower(*args).compile().memory_analysis().temp_size_in_bytes < (
        1.5 * b * b * 4
    )
    vg = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))
    assert vg.lower(*args).compile().memory_analysis().temp_size_in_bytes < (
        2.5 * b * b * 4
    )
    x64, y64 = np.float64(x), np.float64(y)
    dots = x64 @ y64.T
    z = np.exp(1.2) * dots - 3.0
    signs = 2 * np.eye(b) - 1
    live = keep | np.eye(b, dtype=bool)
    want = np.where(live, np.logaddexp(0, -signs * z), 0).sum()
    # d softplus(-s z) / dz = -s sigmoid(-s z)
    dz = np.where(live, -signs / (1 + np.exp(signs * z)), 0)
    value, grads = vg(*args)
    np.testing.assert_allclose(float(value), want, rtol=1e-5)
    for got, w in zip(
        grads,
        (
            np.exp(1.2) * dz @ y64,
            np.exp(1.2) * dz.T @ x64,
            np.sum(dz * np.exp(1.2) * dots),
            np.sum(dz),
        ),
        strict=True,
    ):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())


def test_in_batch_softmax_learned_temperature_holds_one_logit_block():
    # Dividing the [b, b] product by a learned temperature kept the product
    # and the scaled copy as residuals for the temperature's derivative.
    rng = np.random.default_rng(38)
    b, d = 256, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    lq = jnp.asarray(np.log(rng.dirichlet(np.ones(b))), jnp.float32)
    t = jnp.float32(0.4)

    def total(x, y, t):
        return L.in_batch_softmax(x, y, temperature=t, candidate_log_q=lq).sum()

    grad = jax.jit(jax.grad(total, argnums=(0, 1, 2)))
    mem = grad.lower(x, y, t).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 1.5 * b * b * 4
    z = np.float64(x) @ np.float64(y).T
    s = z / 0.4 - np.float64(lq)[None, :]
    dz = np.exp(s - logsumexp(s, axis=1, keepdims=True)) - np.eye(b)
    gx, gy, gt = grad(x, y, t)
    for got, want in ((gx, dz @ np.float64(y) / 0.4), (gy, dz.T @ np.float64(x) / 0.4)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    assert_close(gt, -np.sum(dz * z) / 0.4**2, loose=True)


def test_in_batch_softmax_from_logits_folds_temperature_and_log_q():
    # Dividing the caller's logits by the temperature (and subtracting logQ)
    # before the custom-JVP logsumexp kept that scaled copy for the gradient:
    # a second [b, n] block. Learned temperature and logQ get their gradients.
    rng = np.random.default_rng(34)
    b, n = 192, 256
    x = jnp.asarray(rng.normal(size=(b, n)) * 3, jnp.float32)
    lq = jnp.asarray(np.log(rng.dirichlet(np.ones(n))), jnp.float32)
    t = jnp.float32(0.3)

    def total(x, t, lq):
        return L.in_batch_softmax_from_logits(
            x, temperature=t, candidate_log_q=lq
        ).sum()

    grad = jax.jit(jax.grad(total, argnums=(0, 1, 2)))
    fixed = jax.jit(jax.grad(lambda x, lq: total(x, 0.3, lq)))
    learned = jax.jit(jax.grad(lambda x, t: total(x, t, None), argnums=(0, 1)))
    for compiled in (fixed.lower(x, lq), learned.lower(x, t)):
        mem = compiled.compile().memory_analysis()
        assert mem.temp_size_in_bytes < 0.25 * b * n * 4
    # A learned temperature with logQ: the softmax block is shared by the
    # gradients of the logits and the temperature, and built once.
    mem = grad.lower(x, t, lq).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 1.25 * b * n * 4
    z = np.float64(x) / 0.3 - np.float64(lq)[None, :]
    d = np.exp(z - logsumexp(z, axis=1, keepdims=True)) - np.eye(b, n)
    gx, gt, glq = grad(x, t, lq)
    assert_close(gx, d / 0.3, loose=True)
    assert_close(gt, -np.sum(d * np.float64(x)) / 0.3**2, loose=True)
    assert_close(glq, -d.sum(axis=0), loose=True)
    loss = L.in_batch_softmax_from_logits(x, temperature=0.3, candidate_log_q=lq)
    assert_close(loss, logsumexp(z, axis=1) - np.diagonal(z), loose=True)


@pytest.mark.parametrize("scale", ["temperature", "logit_scale"])
def test_dense_clip_gradient_holds_one_logit_block(scale):
    # Row and column logsumexps of the logits (the diagonal dropped by a
    # scatter) each built a [b, b] cotangent: two blocks for the gradient.
    rng = np.random.default_rng(35)
    b, d = 256, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    ls = jnp.float32(np.log(7.0))

    def total(x, y, ls):
        kw = {"temperature": 1 / 7.0} if scale == "temperature" else {"logit_scale": ls}
        return L.clip(x, y, normalize=False, **kw).sum()

    grad = jax.jit(jax.grad(total, argnums=(0, 1, 2)))
    mem = grad.lower(x, y, ls).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 1.5 * b * b * 4
    z = 7.0 * np.float64(x) @ np.float64(y).T
    rows = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    cols = np.exp(z - logsumexp(z, axis=0, keepdims=True))
    dz = 0.5 * (rows + cols) - np.eye(b)
    gx, gy, gls = grad(x, y, ls)
    for got, want in ((gx, 7.0 * dz @ np.float64(y)), (gy, 7.0 * dz.T @ np.float64(x))):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    if scale == "logit_scale":
        assert_close(gls, np.sum(dz * z), loose=True)
    want = 0.5 * (logsumexp(z, axis=1) + logsumexp(z, axis=0)) - np.diagonal(z)
    assert_close(L.clip(x, y, logit_scale=ls, normalize=False), want, loose=True)


def test_dense_ntxent_gradient_holds_three_logit_blocks():
    # The three [b, b] blocks with -inf scattered into copies, and a
    # logsumexp per block and direction, held a fourth block for the gradient.
    rng = np.random.default_rng(37)
    b, d = 128, 8
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")

    def total(x, y):
        return L.ntxent(x, y, temperature=0.5, similarity="dot").sum()

    grad = jax.jit(jax.grad(total, argnums=(0, 1)))
    mem = grad.lower(x, y).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 3.5 * b * b * 4
    z = np.concatenate([np.float64(x), np.float64(y)])
    s = z @ z.T / 0.5
    np.fill_diagonal(s, -np.inf)
    p = np.exp(s - logsumexp(s, axis=1, keepdims=True))
    p[np.arange(2 * b), (np.arange(2 * b) + b) % (2 * b)] -= 1
    gz = (p + p.T) @ z / 0.5
    gx, gy = grad(x, y)
    for got, want in ((gx, gz[:b]), (gy, gz[b:])):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    pos = np.sum(z * np.concatenate([z[b:], z[:b]]), axis=1) / 0.5
    want = logsumexp(s, axis=1) - pos
    assert_close(L.ntxent(x, y, temperature=0.5, similarity="dot"), want, loose=True)


def test_masked_ntxent_gradient_drops_pairs_inside_the_rule():
    # With where=, NT-Xent scattered -inf into copies of its three blocks:
    # 5.4 blocks of temporaries for the gradient. The mask's four quarters
    # (one block in bytes, the transposed one copied) and the three blocks
    # remain. Self and the positive ignore the mask.
    rng = np.random.default_rng(41)
    b, d, t = 128, 8, 0.5
    x, y = (jnp.asarray(rng.normal(size=(b, d)), jnp.float32) for _ in "xy")
    keep = rng.random((2 * b, 2 * b)) < 0.6
    rows = np.arange(2 * b)
    pos_cols = (rows + b) % (2 * b)
    keep[rows, rows] = True  # ignored: self always drops
    keep[rows[:8], pos_cols[:8]] = False  # ignored: the positive always stays
    keep[8] = False  # row 8: only its positive is left, a zero loss

    def total(x, y):
        return L.ntxent(x, y, temperature=t, similarity="dot", where=keep).sum()

    grad = jax.jit(jax.grad(total, argnums=(0, 1)))
    mem = grad.lower(x, y).compile().memory_analysis()
    assert mem.temp_size_in_bytes < 4.6 * b * b * 4
    z = np.concatenate([np.float64(x), np.float64(y)])
    s = z @ z.T / t
    live = keep.copy()
    live[rows, pos_cols] = True
    live[rows, rows] = False
    s = np.where(live, s, -np.inf)
    pos = s[rows, pos_cols]
    want = logsumexp(s, axis=1) - pos
    got = L.ntxent(x, y, temperature=t, similarity="dot", where=keep)
    assert_close(got, want, loose=True)
    assert float(got[8]) == 0.0
    p = np.exp(s - logsumexp(s, axis=1, keepdims=True))
    p[rows, pos_cols] -= 1
    gz = (p + p.T) @ z / t
    gx, gy = grad(x, y)
    for g, w in ((gx, gz[:b]), (gy, gz[b:])):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())


def test_in_batch_all_duplicates_gives_zero():
    q = jnp.ones((3, 2))
    loss, g = _jit_value_and_grad(
        lambda x: L.in_batch_softmax(x, x, candidate_ids=jnp.array([4, 4, 4])).sum()
    )(q)
    assert float(loss) == 0.0
    np.testing.assert_array_equal(g, np.zeros((3, 2)))


def test_infonce_ntxent_clip_siglip_match_numpy():
    rng = np.random.default_rng(10)
    b, d = 4, 6
    a, p = rng.normal(size=(b, d)), rng.normal(size=(b, d))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    s = np_normalize(a) @ np_normalize(p).T / 0.2
    ref = logsumexp(s, axis=1) - np.diag(s)
    np.testing.assert_allclose(
        L.infonce(f32(a), f32(p), temperature=0.2), ref, rtol=1e-5
    )
    s = a @ p.T
    ref = logsumexp(s, axis=1) - np.diag(s)
    np.testing.assert_allclose(
        L.infonce(f32(a), f32(p), temperature=1.0, similarity="dot"), ref, rtol=1e-5
    )
    # NT-Xent: 2B views, self excluded.
    z = np_normalize(np.concatenate([a, p]))
    s = z @ z.T / 0.5
    np.fill_diagonal(s, -np.inf)
    pos_cols = (np.arange(2 * b) + b) % (2 * b)
    ref = logsumexp(s, axis=1) - s[np.arange(2 * b), pos_cols]
    np.testing.assert_allclose(
        L.ntxent(f32(a), f32(p), temperature=0.5), ref, rtol=1e-5
    )
    # CLIP: symmetric; temperature and logit_scale agree.
    s = np_normalize(a) @ np_normalize(p).T / 0.1
    ref = 0.5 * (logsumexp(s, axis=1) - np.diag(s) + logsumexp(s, axis=0) - np.diag(s))
    np.testing.assert_allclose(L.clip(f32(a), f32(p), temperature=0.1), ref, rtol=1e-5)
    np.testing.assert_allclose(
        L.clip(f32(a), f32(p), logit_scale=jnp.log(10.0)), ref, rtol=1e-5
    )
    # SigLIP.
    z = np.exp(0.7) * np_normalize(a) @ np_normalize(p).T - 2.0
    y = 2 * np.eye(b) - 1
    ref = np_softplus(-y * z).sum(1)
    np.testing.assert_allclose(
        L.siglip(f32(a), f32(p), logit_scale=0.7, logit_bias=-2.0), ref, rtol=1e-5
    )


def np_chuang(a, b, temperature, tau_plus, beta=None, dtype=np.float64):
    """Chuang et al.'s / Robinson et al.'s exp-space reference code in NumPy."""
    z = np_normalize(np.concatenate([a, b])).astype(dtype)
    n2 = z.shape[0]
    bsz = n2 // 2
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        neg = np.exp(z @ z.T / dtype(temperature))
        mask = ~np.eye(n2, dtype=bool)
        for i in range(bsz):
            mask[i, i + bsz] = mask[i + bsz, i] = False
        neg = neg[mask].reshape(n2, -1)
        pos = np.exp((z[:bsz] * z[bsz:]).sum(-1) / dtype(temperature))
        pos = np.concatenate([pos, pos])
        n = n2 - 2
        if beta is None:
            reweight = neg.sum(-1)
        else:
            imp = np.exp(dtype(beta) * np.log(neg))
            reweight = (imp * neg).sum(-1) / imp.mean(-1)
        ng = (-tau_plus * n * pos + reweight) / (1 - tau_plus)
        ng = np.maximum(ng, n * np.exp(dtype(-1 / temperature)))
        return -np.log(pos / (pos + ng))


@pytest.mark.parametrize("beta", [None, 1.0])
@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_debiased_and_hard_contrastive_match_reference(beta, temperature):
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    for tau_plus in (0.0, 0.1, 0.3):
        if beta is None:
            out = L.debiased_contrastive(
                f32(a), f32(b), temperature=temperature, tau_plus=tau_plus
            )
        else:
            out = L.hard_contrastive(
                f32(a), f32(b), temperature=temperature, tau_plus=tau_plus, beta=beta
            )
        ref = np_chuang(a, b, temperature, tau_plus, beta)
        np.testing.assert_allclose(out, ref, rtol=2e-4, atol=1e-5)
    # tau_plus = 0 (and beta = 0) is NT-Xent.
    np.testing.assert_allclose(
        L.hard_contrastive(
            f32(a), f32(b), temperature=temperature, tau_plus=0.0, beta=0.0
        ),
        L.ntxent(f32(a), f32(b), temperature=temperature),
        rtol=1e-5,
    )


@pytest.mark.parametrize("beta", [None, 1.0])
def test_debiased_and_hard_negatives_in_one_rule(beta):
    # The negatives' logsumexps came from -inf scattered into a (scaled)
    # copy of each block, per multiplier: one block more for the gradient.
    rng = np.random.default_rng(45)
    b = 128

    def loss(x, y):
        if beta is None:
            return L.debiased_contrastive(x, y, temperature=0.5, tau_plus=0.1)
        return L.hard_contrastive(x, y, temperature=0.5, tau_plus=0.1, beta=beta)

    x, y = (jnp.asarray(rng.normal(size=(b, 8)), jnp.float32) for _ in "xy")
    vg = jax.jit(jax.value_and_grad(lambda x, y: loss(x, y).sum(), argnums=(0, 1)))
    blocks = vg.lower(x, y).compile().memory_analysis().temp_size_in_bytes / (b * b * 4)
    assert blocks < (4.1 if beta is None else 7.2)  # before: 4.64 and 7.78
    # The gradient against central differences of the float64 reference.
    a, c = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    ga, gc = jax.grad(lambda x, y: loss(x, y).sum(), argnums=(0, 1))(
        jnp.asarray(a, jnp.float32), jnp.asarray(c, jnp.float32)
    )
    eps = 1e-6
    for _ in range(3):
        da, dc = rng.normal(size=a.shape), rng.normal(size=c.shape)
        want = (
            np_chuang(a + eps * da, c + eps * dc, 0.5, 0.1, beta).sum()
            - np_chuang(a - eps * da, c - eps * dc, 0.5, 0.1, beta).sum()
        ) / (2 * eps)
        got = np.sum(np.float64(ga) * da) + np.sum(np.float64(gc) * dc)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_debiased_log_space_survives_where_reference_overflows():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(4, 5))
    b = a + 0.01 * rng.normal(size=(4, 5))
    t = 0.005  # exp(1/t) = e^200 overflows float32
    ref32 = np_chuang(a, b, t, 0.1, 1.0, dtype=np.float32)
    assert not np.isfinite(ref32).all()
    ref64 = np_chuang(a, b, t, 0.1, 1.0)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    for beta in (None, 1.0):

        def f(x, y, beta=beta):
            if beta is None:
                return L.debiased_contrastive(x, y, temperature=t, tau_plus=0.1)
            return L.hard_contrastive(x, y, temperature=t, tau_plus=0.1, beta=beta)

        out, g = _jit_value_and_grad(lambda x: f(x, f32(b)).sum())(f32(a))
        assert bool(jnp.isfinite(out)) and bool(jnp.isfinite(g).all())
    out = L.hard_contrastive(f32(a), f32(b), temperature=t, tau_plus=0.1, beta=1.0)
    np.testing.assert_allclose(out, ref64, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("block_size", [None, 2])
def test_cosine_losses_ignore_the_length_of_long_embeddings(block_size):
    # |x|^2 overflowed float32 for embeddings 1e20 long: normalised to 0.
    rng = np.random.default_rng(37)
    a, b = (jnp.asarray(rng.normal(size=(3, 4)), jnp.float32) for _ in range(2))
    kw = dict(block_size=block_size)
    for fn in (L.infonce, L.ntxent, L.siglip, L.debiased_contrastive):
        assert_close(fn(1e20 * a, 1e25 * b, **kw), fn(a, b, **kw), loose=True)
    clip = functools.partial(L.clip, temperature=0.1, **kw)
    assert_close(clip(1e20 * a, 1e25 * b), clip(a, b), loose=True)


def test_contrastive_fully_masked_rows():
    rng = np.random.default_rng(13)
    a, b = (jnp.asarray(rng.normal(size=(2, 3)), jnp.float32) for _ in range(2))
    where = jnp.zeros((4, 4), bool)
    out = L.debiased_contrastive(a, b, where=where)
    np.testing.assert_array_equal(out, np.zeros(4))
    out, g = _jit_value_and_grad(lambda x: L.ntxent(x, b, where=where).sum())(a)
    assert float(out) == 0.0 and bool((g == 0).all())


def test_multi_true_needs_a_batch_axis():
    # pos [T] with neg [T] used to be read as one example with T true classes;
    # pos [1, T] with neg [1, K] is that example, and neg with one more axis
    # than pos is a batch of single positives.
    rng = np.random.default_rng(21)
    pos, neg = rng.normal(size=4), rng.normal(size=4)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    for fn in (L.sampled_softmax, lambda p, n: L.nce(p, n, 0 * p, 0 * n)):
        with pytest.raises(ValueError, match="neg_logits"):
            fn(f32(pos), f32(neg))
    out = L.sampled_softmax(f32(pos[None]), f32(neg[None]))
    assert out.shape == (1,)
    ref = logsumexp(np.concatenate([pos, neg])) - pos.mean()
    assert_close(out[0], ref, loose=True)
    out = L.sampled_softmax(f32(pos), f32(neg[:, None]))
    ref = [logsumexp([p, n]) - p for p, n in zip(pos, neg, strict=True)]
    assert_close(out, np.array(ref), loose=True)
    # A single example: pos [] with neg [K].
    out = L.sampled_softmax(f32(pos[0]), f32(neg))
    assert_close(out, logsumexp(np.concatenate([pos[:1], neg])) - pos[0], loose=True)
    # num_true > 1 with num_true == num_negatives stays multi-true.
    out = L.nce(f32(pos[None]), f32(neg[None]), f32(0 * pos[None]), f32(0 * neg))
    ref = (0.25 * np_softplus(-pos) + 0.75 * np_softplus(pos)).sum()
    assert_close(out[0], ref + np_softplus(neg).sum(), loose=True)


# ---------------------------------------------------------------------------
# Bad inputs raise at trace time, naming the function and the argument.
# ---------------------------------------------------------------------------


def _bad_cases():
    pos, neg = jnp.zeros(3), jnp.zeros((3, 4))
    emb = jnp.ones((3, 2))
    return [
        (
            ValueError,
            "sgns: neg_logits must have shape",
            lambda: L.sgns(pos, jnp.zeros((2, 4))),
        ),
        (
            TypeError,
            "sgns: pos_logits must be a floating",
            lambda: L.sgns(jnp.zeros(3, jnp.int32), neg),
        ),
        (
            TypeError,
            "bpr: neg_logits must be a floating",
            lambda: L.bpr(pos, jnp.zeros(3, bool)),
        ),
        (
            TypeError,
            "sgns: where must be a boolean",
            lambda: L.sgns(pos, neg, where=jnp.ones((3, 4))),
        ),
        (
            ValueError,
            "sgns: where shape",
            lambda: L.sgns(pos, neg, where=jnp.ones((3, 3), bool)),
        ),
        (
            ValueError,
            "sgns: weights shape",
            lambda: L.sgns(pos, neg, weights=jnp.ones(4)),
        ),
        (
            ValueError,
            "nce: neg_log_q shape",
            lambda: L.nce(pos, neg, pos, jnp.zeros(3)),
        ),
        (
            ValueError,
            "sampled_softmax: pos_logits must be",
            lambda: L.sampled_softmax(jnp.zeros(4), neg),
        ),
        # [batch] positives with [batch] negatives: a missing negatives axis,
        # not one example with `batch` true classes.
        (
            ValueError,
            r"sampled_softmax: .*got pos_logits \(3,\) and neg_logits \(3,\)",
            lambda: L.sampled_softmax(pos, pos),
        ),
        (
            ValueError,
            r"nce: .*got pos_logits \(3,\) and neg_logits \(3,\)",
            lambda: L.nce(pos, pos, pos, pos),
        ),
        (
            ValueError,
            r"sampled_softmax: .*got pos_logits \(3, 2\) and neg_logits \(4, 2\)",
            lambda: L.sampled_softmax(jnp.zeros((3, 2)), jnp.zeros((4, 2))),
        ),
        (
            ValueError,
            "sampled_softmax: pass both pos_log_q and neg_log_q",
            lambda: L.sampled_softmax(pos, neg, pos_log_q=pos),
        ),
        (
            ValueError,
            "sampled_softmax: pass both pos_log_q and neg_log_q",
            lambda: L.sampled_softmax(pos, neg, neg_log_q=jnp.zeros(3)),
        ),
        (
            TypeError,
            "full_softmax: labels must be integer",
            lambda: L.full_softmax(neg, pos),
        ),
        (
            ValueError,
            "margin_ranking: margin must be",
            lambda: L.margin_ranking(pos, neg, margin=-1.0),
        ),
        (
            ValueError,
            "self_adversarial: adversarial_temperature",
            lambda: L.self_adversarial(pos, neg, adversarial_temperature=-1.0),
        ),
        (
            ValueError,
            "in_batch_softmax: temperature must be",
            lambda: L.in_batch_softmax(emb, emb, temperature=0.0),
        ),
        (
            ValueError,
            "in_batch_softmax: in-batch negatives need batch size",
            lambda: L.in_batch_softmax(emb[:1], emb[:1]),
        ),
        (
            ValueError,
            "in_batch_softmax: pass both",
            lambda: L.in_batch_softmax(
                emb, emb, candidate_log_q=pos, extra_candidates=emb
            ),
        ),
        (
            ValueError,
            "in_batch_softmax: query and candidates",
            lambda: L.in_batch_softmax(emb, jnp.ones((2, 2))),
        ),
        (
            TypeError,
            "losses.in_batch_softmax: candidate_ids must be an integer array",
            lambda: L.in_batch_softmax(emb, emb, candidate_ids=pos),
        ),
        (
            TypeError,
            r"in_batch_softmax: candidate_ids \(int32\) and extra_ids \(uint32\) "
            "have no common integer dtype",
            lambda: L.in_batch_softmax(
                emb,
                emb,
                candidate_ids=jnp.arange(3),
                extra_candidates=emb,
                extra_ids=jnp.arange(3, dtype=jnp.uint32),
                block_size=2,
            ),  # fmt: skip
        ),
        (
            ValueError,
            "num_hard_negatives",
            lambda: L.in_batch_softmax(emb, emb, num_hard_negatives=0),
        ),
        (
            ValueError,
            "infonce: needs batch size >= 2",
            lambda: L.infonce(emb[:1], emb[:1]),
        ),
        (
            ValueError,
            "losses.ntxent: similarity must be one of",
            lambda: L.ntxent(emb, emb, similarity="l1"),
        ),
        (
            ValueError,
            "ntxent: temperature must be",
            lambda: L.ntxent(emb, emb, temperature=-0.1),
        ),
        (ValueError, "clip: give exactly one", lambda: L.clip(emb, emb)),
        # A truthy string or None was read as a flag.
        (
            TypeError,
            "losses.clip: normalize must be a bool, got str 'no'",
            lambda: L.clip(emb, emb, temperature=1.0, normalize="no"),
        ),
        (
            TypeError,
            "losses.clip: normalize must be a bool",
            lambda: L.clip(emb, emb, temperature=1.0, normalize=None, block_size=2),
        ),
        (
            TypeError,
            "losses.siglip: normalize must be a bool",
            lambda: L.siglip(emb, emb, normalize=1),
        ),
        (
            ValueError,
            "clip: give exactly one",
            lambda: L.clip(emb, emb, temperature=0.1, logit_scale=1.0),
        ),
        (
            ValueError,
            "siglip: logit_bias must be a scalar",
            lambda: L.siglip(emb, emb, logit_bias=jnp.zeros(3)),
        ),
        (
            ValueError,
            "debiased_contrastive: tau_plus",
            lambda: L.debiased_contrastive(emb, emb, tau_plus=1.0),
        ),
        (
            ValueError,
            "hard_contrastive: beta",
            lambda: L.hard_contrastive(emb, emb, beta=-1.0),
        ),
        (
            ValueError,
            "in_batch_softmax_from_logits: logits must be",
            lambda: L.in_batch_softmax_from_logits(jnp.zeros((3, 2))),
        ),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize(
    "exc, msg, call", BAD, ids=[f"{i}-{case[1][:30]}" for i, case in enumerate(BAD)]
)
def test_bad_inputs(exc, msg, call):
    with pytest.raises(exc, match=msg):
        call()


def test_bad_inputs_raise_under_jit():
    pos, emb = jnp.zeros(3), jnp.ones((3, 2))
    with pytest.raises(ValueError, match="sgns: neg_logits must have shape"):
        jax.jit(L.sgns)(pos, jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="in_batch_softmax: in-batch negatives"):
        jax.jit(L.in_batch_softmax)(emb[:1], emb[:1])


@pytest.mark.parametrize(
    "loss, arg",
    [
        (L.debiased_contrastive, "temperature"),
        (L.debiased_contrastive, "tau_plus"),
        (L.hard_contrastive, "temperature"),
        (L.hard_contrastive, "beta"),
    ],
)
def test_traced_static_hyperparameters_say_why(loss, arg):
    # They said only "must be a real number, got DynamicJaxprTracer".
    emb = jnp.ones((3, 2))
    call = jax.jit(lambda x: loss(emb, emb, **{arg: x}))  # noqa: B023
    with pytest.raises(TypeError, match=f"{arg} is static under jit"):
        call(jnp.float32(0.5))
    # The same number closed over: the Python value the loss reads.
    want = loss(emb, emb, **{arg: 0.5})
    assert_close(jax.jit(lambda: loss(emb, emb, **{arg: 0.5}))(), want)


# ---------------------------------------------------------------------------
# The dense contrastive losses differentiate through custom JVPs (a softmax /
# sigmoid against the tangent, diagonals dropped by a scatter): their gradients
# must equal autodiff of plain float64 formulas with masks written as `where`.
# ---------------------------------------------------------------------------


def _plain_lse(x, keep):
    x = jnp.where(keep, x, -jnp.inf)
    m = jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    return jnp.log(jnp.sum(jnp.exp(x - m), axis=-1)) + m[..., 0]


def _plain_ntxent(a, b, t, where):
    z = (
        jnp.concatenate([a, b])
        / jnp.linalg.norm(jnp.concatenate([a, b]), axis=1)[:, None]
    )
    n = z.shape[0]
    logits = z @ z.T / t
    i, j = np.indices((n, n))
    pos_col = (i + n // 2) % n
    keep = (j != i) & ((j == pos_col) | where)
    pos = logits[np.arange(n), (np.arange(n) + n // 2) % n]
    return _plain_lse(logits, keep) - pos


def _plain_clip(x, y, s, where):
    x = x / jnp.linalg.norm(x, axis=1)[:, None]
    y = y / jnp.linalg.norm(y, axis=1)[:, None]
    logits = jnp.exp(s) * x @ y.T
    keep = where | np.eye(x.shape[0], dtype=bool)
    pos = jnp.diagonal(logits)
    img = _plain_lse(logits, keep) - pos
    txt = _plain_lse(logits.T, keep.T) - pos
    return 0.5 * (img + txt)


def _plain_siglip(x, y, s, c, where):
    x = x / jnp.linalg.norm(x, axis=1)[:, None]
    y = y / jnp.linalg.norm(y, axis=1)[:, None]
    z = jnp.exp(s) * x @ y.T + c
    eye = np.eye(x.shape[0], dtype=bool)
    signed = jnp.where(eye, -z, z)
    return jnp.sum(jnp.where(eye | where, jax.nn.softplus(signed), 0), axis=-1)


def _plain_in_batch(q, c, t, log_q, ids, where):
    logits = q @ c.T / t - log_q[None, :]
    n = q.shape[0]
    i, j = np.indices(logits.shape)
    keep = (j == i) | ((ids[None, :] != ids[:n, None]) & where)
    return _plain_lse(logits, keep) - jnp.diagonal(logits[:, :n])


@pytest.mark.parametrize("name", ["ntxent", "clip", "siglip", "in_batch"])
def test_dense_contrastive_gradients_match_plain_float64_autodiff(name):
    rng = np.random.default_rng(11)
    n, d, e = 6, 5, 3
    with jax.enable_x64(True):
        a, b = (jnp.asarray(rng.normal(size=(n, d))) for _ in range(2))
        w = jnp.asarray(rng.random((n, n)) < 0.6)
        w2 = jnp.asarray(rng.random((2 * n, 2 * n)) < 0.6)
        extra = jnp.asarray(rng.normal(size=(e, d)))
        wx = jnp.asarray(rng.random((n, n + e)) < 0.6)
        log_q = jnp.asarray(rng.normal(size=n + e))
        ids = jnp.array([0, 1, 0, 2, 3, 1, 0, 5, 6])  # two duplicate pairs
        g = jnp.asarray(rng.normal(size=2 * n))  # cotangent: a weighted sum
        cases = {
            "ntxent": (
                lambda x, y, p: L.ntxent(x, y, temperature=p, where=w2),
                lambda x, y, p: _plain_ntxent(x, y, p, w2),
                jnp.float64(0.3),
            ),
            "clip": (
                lambda x, y, p: L.clip(x, y, logit_scale=p, where=w),
                lambda x, y, p: _plain_clip(x, y, p, w),
                jnp.float64(1.5),
            ),
            "siglip": (
                lambda x, y, p: L.siglip(x, y, logit_scale=p, logit_bias=-2.0, where=w),
                lambda x, y, p: _plain_siglip(x, y, p, -2.0, w),
                jnp.float64(1.2),
            ),
            "in_batch": (
                lambda x, y, p: L.in_batch_softmax(
                    x,
                    y,
                    temperature=p,
                    candidate_log_q=log_q[:n],
                    extra_candidates=extra,
                    extra_log_q=log_q[n:],
                    candidate_ids=ids[:n],
                    extra_ids=ids[n:],
                    where=wx,
                ),  # fmt: skip
                lambda x, y, p: _plain_in_batch(
                    x, jnp.concatenate([y, extra]), p, log_q, ids, wx
                ),
                jnp.float64(0.7),
            ),
        }
        fn, ref, p = cases[name]
        k = g[: fn(a, b, p).shape[0]]
        got = jax.jit(jax.value_and_grad(lambda *x: fn(*x) @ k, (0, 1, 2)))
        want = jax.value_and_grad(lambda *x: ref(*x) @ k, (0, 1, 2))
        (v1, g1), (v2, g2) = got(a, b, p), want(a, b, p)
        assert_close(v1, v2)
        for x1, x2 in zip(g1, g2, strict=True):
            assert_close(x1, x2)
        # vmap over a leading batch of two problems equals two calls.
        views = (jnp.stack([a, b]), jnp.stack([b, a]))
        batched = jax.vmap(lambda x, y: fn(x, y, p))(*views)
        assert_close(batched[1], fn(b, a, p))
        grads = jax.vmap(jax.grad(lambda x, y: fn(x, y, p) @ k))(*views)
        assert_close(grads[0], g1[0])


def test_dense_contrastive_masked_garbage_gets_zero_gradient():
    # Masked and dropped (self, positive) logits never reach an exp: a masked
    # huge logit neither changes the loss nor receives gradient.
    x = jnp.eye(4)
    y = jnp.eye(4).at[0, 1].set(50.0)  # text 0 aligns strongly with image 1
    where = jnp.ones((4, 4), bool).at[1, 0].set(False).at[0, 1].set(False)
    f = lambda y: L.clip(x, y, temperature=0.01, normalize=False, where=where)  # noqa: E731
    loss, grad = jax.value_and_grad(lambda y: f(y).sum())(y)
    assert bool(jnp.isfinite(loss)) and bool(jnp.isfinite(grad).all())
    np.testing.assert_allclose(grad[0, 1], 0.0, atol=0)
    z = L.infonce(x, x, temperature=1e-3, similarity="dot")
    assert_close(z, jnp.zeros(4))  # self-similarity 1000 dominates, exactly
