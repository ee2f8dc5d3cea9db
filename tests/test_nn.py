# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.nn: each module equals the functional jaxns computation and a
NumPy float64 reference on the same parameters, gradients reach the right rows,
nnx.jit training reduces the loss on planted problems, dtypes, bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats
from flax import nnx
from scipy.special import expit, logsumexp

from jaxns import losses, optim, samplers, scoring
from jaxns.nn import SampledSoftmaxHead, SkipGram, TwoTower
from jaxns.samplers import sample_candidates
from tests.helpers import assert_close, np_softplus, tolerance

V, D, B, K = 12, 4, 5, 3


def _normal(seed, shape, scale=1.0):
    return scale * jax.random.normal(jax.random.key(seed), shape)


def _skipgram(**kw):
    """A SkipGram with a random (non-zero) output table."""
    model = SkipGram(V, D, rngs=nnx.Rngs(0), **kw)
    model.output.embedding[...] = _normal(1, (V, D), 0.5).astype(
        model.output.embedding.dtype
    )
    return model


def _head(**kw):
    head = SampledSoftmaxHead(D, V, rngs=nnx.Rngs(0), **kw)
    if head.bias is not None:
        head.bias[...] = _normal(2, (V,), 0.3).astype(head.bias[...].dtype)
    return head


CENTRES = jnp.array([0, 1, 2, 2, 7])
CONTEXTS = jnp.array([3, 4, 5, 5, 0])
NEGATIVES = jnp.array([[6, 8, 9], [3, 4, 9], [1, 9, 9], [6, 0, 11], [8, 8, 2]])
SHARED = jnp.array([6, 9, 11])


# ---------------------------------------------------------------------------
# SkipGram
# ---------------------------------------------------------------------------


def test_skipgram_init():
    model = SkipGram(V, D, rngs=nnx.Rngs(0))
    table = np.asarray(model.input.embedding[...])
    assert table.shape == (V, D) and model.output.embedding.shape == (V, D)
    assert np.abs(table).max() <= 0.5 / D and np.abs(table).min() > 0
    assert table.std() > 0.25 / D  # U(-a, a) has std a / sqrt(3) = 0.577 a
    assert np.all(np.asarray(model.output.embedding[...]) == 0)
    # The output table starts at zero: every logit is 0, loss (1 + k) log 2.
    loss = model(CENTRES, CONTEXTS, NEGATIVES)
    np.testing.assert_allclose(loss, np.full(B, 4 * np.log(2)), rtol=1e-6)


def _np_sgns(model, centres, contexts, negatives, where=None, weights=None):
    w_in = np.asarray(model.input.embedding[...], np.float64)
    w_out = np.asarray(model.output.embedding[...], np.float64)
    negatives = np.broadcast_to(negatives, (len(centres), np.shape(negatives)[-1]))
    v = w_in[centres]
    pos = np.sum(v * w_out[contexts], -1)
    neg = np.einsum("bd,bkd->bk", v, w_out[negatives])
    where = np.ones(neg.shape, bool) if where is None else np.asarray(where)
    loss = np_softplus(-pos) + np.sum(np.where(where, np_softplus(neg), 0), -1)
    return loss if weights is None else loss * np.asarray(weights)


@pytest.mark.parametrize("shared", [False, True])
def test_skipgram_matches_functional_and_numpy(shared):
    model = _skipgram()
    negatives = SHARED if shared else NEGATIVES
    where = ~samplers.accidental_hits(CONTEXTS, negatives)
    weights = jnp.linspace(0.5, 1.5, B)
    loss = model(CENTRES, CONTEXTS, negatives, where=where, weights=weights)
    assert loss.shape == (B,) and loss.dtype == jnp.float32
    # The functional jaxns computation on the same tables.
    if shared:
        negatives_2d = jnp.broadcast_to(SHARED, (B, K))
    else:
        negatives_2d = negatives
    ids = jnp.concatenate([CONTEXTS[:, None], negatives_2d], axis=1)
    logits = scoring.score_rows(
        model.input.embedding[...], model.output.embedding[...], CENTRES, ids
    )
    expected = losses.sgns(logits[:, 0], logits[:, 1:], where=where, weights=weights)
    np.testing.assert_allclose(loss, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        loss,
        _np_sgns(model, CENTRES, CONTEXTS, negatives, where, weights),
        rtol=1e-6,
        atol=1e-6,
    )


def test_skipgram_shared_equals_broadcast_per_example():
    model = _skipgram()
    shared = model(CENTRES, CONTEXTS, SHARED)
    per_example = model(CENTRES, CONTEXTS, jnp.broadcast_to(SHARED, (B, K)))
    np.testing.assert_allclose(shared, per_example, rtol=1e-6)


def test_skipgram_gradients_closed_form_and_untouched_rows():
    model = _skipgram()
    grads = nnx.grad(lambda m: m(CENTRES, CONTEXTS, NEGATIVES).sum())(model)
    g_in = np.asarray(grads.input.embedding[...], np.float64)
    g_out = np.asarray(grads.output.embedding[...], np.float64)
    # word2vec's updates: d/dv_c = -sig(-s+) v'_o + sum_j sig(s_j) v'_nj, etc.
    w_in = np.asarray(model.input.embedding[...], np.float64)
    w_out = np.asarray(model.output.embedding[...], np.float64)
    c, o, n = (np.asarray(a) for a in (CENTRES, CONTEXTS, NEGATIVES))
    s_pos = np.sum(w_in[c] * w_out[o], -1)
    s_neg = np.einsum("bd,bkd->bk", w_in[c], w_out[n])
    a_pos, a_neg = -expit(-s_pos), expit(s_neg)
    exp_in, exp_out = np.zeros((V, D)), np.zeros((V, D))
    np.add.at(exp_in, c, a_pos[:, None] * w_out[o])
    np.add.at(exp_in, c, np.einsum("bk,bkd->bd", a_neg, w_out[n]))
    np.add.at(exp_out, o, a_pos[:, None] * w_in[c])
    np.add.at(exp_out, n, a_neg[:, :, None] * w_in[c][:, None, :])
    np.testing.assert_allclose(g_in, exp_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_out, exp_out, rtol=1e-5, atol=1e-6)
    untouched_in = np.setdiff1d(np.arange(V), c)
    untouched_out = np.setdiff1d(np.arange(V), np.concatenate([o, n.ravel()]))
    assert untouched_in.size and untouched_out.size
    assert np.all(g_in[untouched_in] == 0) and np.all(g_out[untouched_out] == 0)


def test_skipgram_masked_negative_gets_zero_gradient():
    model = _skipgram()
    # Id 6 is a negative at [0, 0] and [3, 0] only, and never a context.
    where = jnp.ones((B, K), bool).at[0, 0].set(False).at[3, 0].set(False)
    grads = nnx.grad(lambda m: m(CENTRES, CONTEXTS, NEGATIVES, where=where).sum())(
        model
    )
    assert np.all(np.asarray(grads.output.embedding[...])[6] == 0)
    assert np.any(np.asarray(grads.output.embedding[...])[8] != 0)


def test_skipgram_jit_equals_eager_and_embed():
    model = _skipgram()

    @nnx.jit
    def f(m, c, o, n):
        return m(c, o, n)

    np.testing.assert_allclose(
        f(model, CENTRES, CONTEXTS, NEGATIVES),
        model(CENTRES, CONTEXTS, NEGATIVES),
        rtol=1e-6,
    )
    ids = jnp.array([[1, 2], [3, 11]])
    np.testing.assert_array_equal(
        model.embed(ids), np.asarray(model.input.embedding[...])[np.asarray(ids)]
    )


def _adam_step(loss_fn):
    @nnx.jit
    def step(model, optimizer, *args):
        loss, grads = nnx.value_and_grad(loss_fn)(model, *args)
        # Optax's Adam is not written for strict dtype promotion.
        with jax.numpy_dtype_promotion("standard"):
            optimizer.update(model, grads)
        return loss

    return step


def test_skipgram_train_step_reduces_loss_on_planted_pairs():
    vocab, k, batch = 16, 4, 32
    model = SkipGram(vocab, 8, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)
    partner = jnp.asarray(np.random.default_rng(0).permutation(vocab))
    sampler = samplers.uniform(vocab)

    def loss_fn(m, key):
        key_c, key_n = jax.random.split(key)
        centres = jax.random.randint(key_c, (batch,), 0, vocab)
        contexts = partner[centres]
        negatives = sampler.sample(key_n, (batch, k))
        where = ~samplers.accidental_hits(contexts, negatives)
        return m(centres, contexts, negatives, where=where).mean()

    step = _adam_step(loss_fn)
    keys = jax.random.split(jax.random.key(0), 60)
    first = float(step(model, optimizer, keys[0]))
    for key in keys[1:]:
        last = float(step(model, optimizer, key))
    assert first > 2.5 and last < 0.3 * first
    # The planted partner is the best-scoring output word for most centres.
    scores = model.embed(jnp.arange(vocab)) @ model.output.embedding[...].T
    assert np.mean(np.argmax(scores, -1) == np.asarray(partner)) >= 0.75


def test_skipgram_row_sparse_sgd_equals_nnx_optimizer():
    """The module's tables train row-sparsely with jaxns.optim as well."""
    dense, sparse = _skipgram(), _skipgram()
    nnx.Optimizer(dense, optax.sgd(0.5), wrt=nnx.Param).update(
        dense, nnx.grad(lambda m: m(CENTRES, CONTEXTS, NEGATIVES).sum())(dense)
    )
    tables = {"input": sparse.input.embedding[...], "out": sparse.output.embedding[...]}
    ids = {"input": CENTRES, "out": jnp.concatenate([CONTEXTS[:, None], NEGATIVES], 1)}

    def rows_loss(rows):
        logits = scoring.dot(rows["input"], rows["out"])
        return losses.sgns(logits[:, 0], logits[:, 1:]).sum()

    tx = optim.row_sparse(optax.sgd(0.5))

    @jax.jit
    def sparse_step(tables, ids):
        _, row_grads = optim.value_and_row_grad(rows_loss, tables, ids)
        return tx.update(ids, row_grads, tx.init(tables), tables)[0]

    new = sparse_step(tables, ids)
    np.testing.assert_allclose(new["input"], dense.input.embedding[...], atol=1e-6)
    np.testing.assert_allclose(new["out"], dense.output.embedding[...], atol=1e-6)


# ---------------------------------------------------------------------------
# SampledSoftmaxHead and sample_candidates
# ---------------------------------------------------------------------------


def _np_sampled_softmax(head, hidden, labels, sampled, lq_true, lq_sampled, hits):
    w = np.asarray(head.output.embedding[...], np.float64)
    b = np.asarray(head.bias[...], np.float64) if head.bias is not None else 0 * w[:, 0]
    h = np.asarray(hidden, np.float64)
    labels = np.asarray(labels).reshape(len(h), -1)
    sampled = np.broadcast_to(np.asarray(sampled), (len(h), np.shape(sampled)[-1]))
    out = []
    for i in range(len(h)):
        z_true = h[i] @ w[labels[i]].T + b[labels[i]]
        z_true = z_true - np.asarray(lq_true, np.float64).reshape(len(h), -1)[i]
        z_s = h[i] @ w[sampled[i]].T + b[sampled[i]]
        z_s = (
            z_s - np.broadcast_to(np.asarray(lq_sampled, np.float64), sampled.shape)[i]
        )
        live = z_s[~np.isin(sampled[i], labels[i])] if hits else z_s
        out.append(logsumexp(np.concatenate([z_true, live])) - z_true.mean())
    return np.array(out)


HIDDEN = _normal(3, (B, D))
LABELS = jnp.array([0, 5, 6, 6, 11])
SAMPLED = jnp.array([6, 1, 2, 6, 9, 11, 3])  # 6 and 11 are accidental hits


@pytest.mark.parametrize("remove_hits", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_head_matches_functional_and_numpy(remove_hits, use_bias):
    head = _head(use_bias=use_bias)
    sampler = samplers.log_uniform(V)
    lq_true = samplers.log_expected_count(sampler, LABELS, 7)
    lq_sampled = samplers.log_expected_count(sampler, SAMPLED, 7)
    loss = head(
        HIDDEN,
        LABELS,
        SAMPLED,
        pos_log_q=lq_true,
        neg_log_q=lq_sampled,
        remove_accidental_hits=remove_hits,
    )
    assert loss.shape == (B,) and loss.dtype == jnp.float32
    # The functional jaxns computation: gather, one shared GEMM, the loss.
    w = head.output.embedding[...]
    b = head.bias[...] if use_bias else jnp.zeros(V)
    pos = jnp.sum(HIDDEN * w[LABELS], -1) + b[LABELS]
    neg = scoring.dot(HIDDEN, w[SAMPLED]) + jnp.broadcast_to(b[SAMPLED], (B, 7))
    where = ~samplers.accidental_hits(LABELS, SAMPLED) if remove_hits else None
    expected = losses.sampled_softmax(
        pos, neg, pos_log_q=lq_true, neg_log_q=lq_sampled, where=where
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-6, atol=1e-5)
    reference = _np_sampled_softmax(
        head, HIDDEN, LABELS, SAMPLED, lq_true, lq_sampled, remove_hits
    )
    np.testing.assert_allclose(loss, reference, rtol=1e-5, atol=1e-5)


def test_head_num_true_and_per_example_candidates():
    head = _head()
    labels = jnp.stack([LABELS, (LABELS + 1) % V], axis=1)  # [B, 2]
    sampled = jax.random.randint(jax.random.key(4), (B, 6), 0, V)
    lq_true = _normal(5, (B, 2), 0.1)
    lq_sampled = _normal(6, (B, 6), 0.1)
    loss = head(HIDDEN, labels, sampled, pos_log_q=lq_true, neg_log_q=lq_sampled)
    reference = _np_sampled_softmax(
        head, HIDDEN, labels, sampled, lq_true, lq_sampled, True
    )
    np.testing.assert_allclose(loss, reference, rtol=1e-5, atol=1e-5)


def test_head_all_classes_uniform_equals_full_softmax_value_and_grad():
    head = _head()
    everything = jnp.arange(V)
    const = jnp.full((B,), jnp.log(1.0)), jnp.full((V,), jnp.log(1.0))

    def sampled(m):
        return m(
            HIDDEN, LABELS, everything, pos_log_q=const[0], neg_log_q=const[1]
        ).sum()

    def full(m):
        return losses.full_softmax(m.full_logits(HIDDEN), LABELS).sum()

    value_s, grads_s = nnx.jit(nnx.value_and_grad(sampled))(head)
    value_f, grads_f = nnx.jit(nnx.value_and_grad(full))(head)
    np.testing.assert_allclose(value_s, value_f, rtol=1e-6)
    for gs, gf in zip(jax.tree.leaves(grads_s), jax.tree.leaves(grads_f), strict=True):
        np.testing.assert_allclose(gs, gf, rtol=1e-5, atol=1e-6)

    # Gradient w.r.t. hidden is also the full one.
    def sampled_h(h):
        return head(h, LABELS, everything, pos_log_q=None, neg_log_q=None).sum()

    def full_h(h):
        return losses.full_softmax(head.full_logits(h), LABELS).sum()

    gh_s, gh_f = jax.jit(lambda h: (jax.grad(sampled_h)(h), jax.grad(full_h)(h)))(
        HIDDEN
    )
    np.testing.assert_allclose(gh_s, gh_f, rtol=1e-5, atol=1e-6)


def test_head_gradient_only_reaches_scored_rows():
    head = _head()
    grads = nnx.grad(
        lambda m: m(HIDDEN, LABELS, SAMPLED, pos_log_q=None, neg_log_q=None).sum()
    )(head)
    touched = np.union1d(np.asarray(LABELS), np.asarray(SAMPLED))
    untouched = np.setdiff1d(np.arange(V), touched)
    g_w = np.asarray(grads.output.embedding[...])
    g_b = np.asarray(grads.bias[...])
    assert np.all(g_w[untouched] == 0) and np.all(g_b[untouched] == 0)
    assert np.all(np.any(g_w[touched] != 0, axis=-1))


def test_sample_candidates_against_exact_probabilities():
    """Ids follow the sampler's exact distribution (chi-squared on fixed keys);
    the log expected counts equal NumPy float64 formulas, not jaxns's own."""
    counts = np.arange(1, V + 1)
    p = counts**0.75 / np.sum(counts**0.75)  # word2vec's noise distribution
    sampler = samplers.unigram(counts, power=0.75)
    k = 20_000
    for seed in (0, 1, 2):
        c = jax.jit(sample_candidates, static_argnums=(2,))(
            jax.random.key(seed), sampler, k, LABELS
        )
        assert c.ids.shape == (k,) and c.ids.dtype == jnp.int32
        observed = np.bincount(np.asarray(c.ids), minlength=V)
        assert scipy.stats.chisquare(observed, k * p).pvalue > 1e-3
        assert_close(c.pos_log_q, np.log(k * p[np.asarray(LABELS)]))
        assert_close(c.neg_log_q, np.log(k * p[np.asarray(c.ids)]))
    # Without replacement from a uniform proposal: distinct ids, each included
    # with probability exactly k / V.
    u = sample_candidates(
        jax.random.key(3), samplers.uniform(V), 5, LABELS[:, None], replace=False
    )
    assert len(set(u.ids.tolist())) == 5 and u.pos_log_q.shape == (B, 1)
    assert_close(u.neg_log_q, np.full(5, np.log(5 / V)))
    # Without replacement from unigram: the inclusion probability it reports
    # matches the frequency of inclusion over many independent draws.
    keys = jax.random.split(jax.random.key(4), 4000)
    draws = jax.vmap(
        lambda key: sample_candidates(key, sampler, 4, LABELS, replace=False).ids
    )(keys)
    assert all(len(set(row)) == 4 for row in np.asarray(draws).tolist())
    freq = np.bincount(np.asarray(draws).ravel(), minlength=V) / len(keys)
    reported = np.exp(
        np.asarray(
            samplers.log_expected_count(sampler, jnp.arange(V), 4, replace=False)
        )
    )
    np.testing.assert_allclose(freq, reported, atol=0.03)


def test_sample_candidates_zero_samples_gives_empty_arrays():
    sampler = samplers.unigram(np.arange(1, V + 1), power=0.75)
    for replace in (True, False):
        c = sample_candidates(jax.random.key(0), sampler, 0, LABELS, replace=replace)
        assert c.ids.shape == (0,) and c.ids.dtype == jnp.int32
        assert c.neg_log_q.shape == (0,) and c.pos_log_q.shape == (B,)
        none = samplers.uniform(0)
        empty = sample_candidates(jax.random.key(0), none, 0, LABELS, replace=replace)
        assert empty.ids.shape == (0,)


def test_nn_reexports_the_samplers_candidates():
    import jaxns.nn

    assert jaxns.nn.sample_candidates is samplers.sample_candidates
    assert jaxns.nn.Candidates is samplers.Candidates


def test_head_train_step_with_sampled_candidates_improves_full_softmax():
    num_classes, dim, batch, k = 64, 16, 32, 8
    protos = _normal(8, (num_classes, dim))  # a planted class prototype each
    head = SampledSoftmaxHead(dim, num_classes, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(head, optax.adam(0.05), wrt=nnx.Param)
    sampler = samplers.log_uniform(num_classes)

    def loss_fn(m, key):
        key_y, key_x, key_s = jax.random.split(key, 3)
        labels = jax.random.randint(key_y, (batch,), 0, num_classes)
        hidden = protos[labels] + 0.3 * jax.random.normal(key_x, (batch, dim))
        c = sample_candidates(key_s, sampler, k, labels)
        return m(
            hidden,
            labels,
            c.ids,
            pos_log_q=c.pos_log_q,
            neg_log_q=c.neg_log_q,
        ).mean()

    def full_loss():
        labels = jnp.arange(num_classes)
        return float(losses.full_softmax(head.full_logits(protos), labels).mean())

    before = full_loss()
    step = _adam_step(loss_fn)
    for key in jax.random.split(jax.random.key(1), 80):
        step(head, optimizer, key)
    after = full_loss()
    assert before > 3.0 and after < 0.5 * before
    accuracy = np.mean(np.argmax(head.full_logits(protos), -1) == np.arange(64))
    assert accuracy >= 0.9


# ---------------------------------------------------------------------------
# TwoTower
# ---------------------------------------------------------------------------

QUERIES = _normal(10, (B, 6))
ITEMS = _normal(11, (B, 3))


@pytest.mark.parametrize("normalize", [False, True])
def test_two_tower_matches_functional_and_numpy(normalize):
    model = TwoTower(6, 3, D, normalize=normalize, rngs=nnx.Rngs(0))
    model.query_tower.bias[...] = _normal(12, (D,), 0.1)
    log_q = jnp.log(jnp.array([0.1, 0.2, 0.3, 0.2, 0.2]))
    ids = jnp.array([4, 5, 4, 6, 7])
    loss = model(
        QUERIES, ITEMS, temperature=0.5, candidate_log_q=log_q, candidate_ids=ids
    )
    q = QUERIES @ model.query_tower.kernel[...] + model.query_tower.bias[None, :]
    c = ITEMS @ model.candidate_tower.kernel[...] + model.candidate_tower.bias[None, :]
    if normalize:
        q, c = scoring.normalize(q), scoring.normalize(c)
    expected = losses.in_batch_softmax(
        q, c, temperature=0.5, candidate_log_q=log_q, candidate_ids=ids
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-6, atol=1e-6)
    # NumPy float64: logits / t - log q, same-id columns masked, softmax CE.
    qn, cn = np.asarray(q, np.float64), np.asarray(c, np.float64)
    z = qn @ cn.T / 0.5 - np.asarray(log_q, np.float64)[None, :]
    idn = np.asarray(ids)
    keep = (idn[None] != idn[:, None]) | np.eye(B, dtype=bool)
    reference = [logsumexp(z[i][keep[i]]) - z[i, i] for i in range(B)]
    np.testing.assert_allclose(loss, reference, rtol=1e-5, atol=1e-5)
    if normalize:
        np.testing.assert_allclose(
            jnp.linalg.norm(model.embed_candidates(ITEMS), axis=-1), 1.0, rtol=1e-6
        )


def test_two_tower_mixed_negatives_and_gradients():
    model = TwoTower(6, 3, D, rngs=nnx.Rngs(0))
    extra = _normal(13, (4, 3))
    lq, extra_lq = jnp.full((B,), -2.0), jnp.full((4,), -3.0)

    def loss_fn(m):
        return m(
            QUERIES,
            ITEMS,
            temperature=0.2,
            candidate_log_q=lq,
            extra_candidates=extra,
            extra_log_q=extra_lq,
        ).sum()

    value, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model)
    q, c = model.embed_queries(QUERIES), model.embed_candidates(ITEMS)
    expected = losses.in_batch_softmax(
        q,
        c,
        temperature=0.2,
        candidate_log_q=lq,
        extra_candidates=model.embed_candidates(extra),
        extra_log_q=extra_lq,
    ).sum()
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    for g in jax.tree.leaves(grads):
        assert np.all(np.isfinite(g)) and np.any(np.asarray(g) != 0)


def test_two_tower_train_step_reduces_loss():
    dim_q, dim_c, batch = 8, 5, 16
    planted = _normal(20, (dim_q, dim_c))
    model = TwoTower(dim_q, dim_c, 8, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)

    def loss_fn(m, key):
        queries = jax.random.normal(key, (batch, dim_q))
        return m(queries, queries @ planted, temperature=0.5).mean()

    step = _adam_step(loss_fn)
    keys = jax.random.split(jax.random.key(2), 60)
    first = float(step(model, optimizer, keys[0]))
    for key in keys[1:]:
        last = float(step(model, optimizer, key))
    # From far above to well below chance (log batch = 2.77).
    assert first > 10 and last < 0.5 * np.log(batch)


def test_head_and_tower_jit_equal_eager():
    head, tower = _head(), TwoTower(6, 3, D, normalize=True, rngs=nnx.Rngs(0))
    no_q = dict(pos_log_q=None, neg_log_q=None)

    @nnx.jit
    def f(head, tower):
        return head(HIDDEN, LABELS, SAMPLED, **no_q), tower(QUERIES, ITEMS)

    jit_head, jit_tower = f(head, tower)
    np.testing.assert_allclose(
        jit_head, head(HIDDEN, LABELS, SAMPLED, **no_q), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(jit_tower, tower(QUERIES, ITEMS), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------


def _bf16(x):
    """``x`` rounded to bfloat16 and back: inputs both paths see exactly."""
    return jnp.asarray(x).astype(jnp.bfloat16).astype(jnp.float32)


def _float32_twin(module, make):
    """A float32 module holding ``module``'s parameters rounded to bfloat16."""
    twin = make()
    nnx.update(twin, jax.tree.map(_bf16, nnx.state(module, nnx.Param)))
    return twin


@pytest.mark.parametrize(
    "dtype, param_dtype",
    [(jnp.bfloat16, jnp.float32), (None, jnp.bfloat16)],
)
def test_bfloat16_matches_float32_values_and_gradients(dtype, param_dtype):
    """Half precision computes like float32 on the same rounded numbers.

    The reference is the float32 module on the bf16-rounded parameters and
    inputs, so the only differences are bf16 roundings of intermediate logits
    and of the output: bf16 outputs agree at 1e-2, float32 outputs (bf16
    parameters promoted to float32 inputs) at float32 precision.
    """
    kw = dict(dtype=dtype, param_dtype=param_dtype)
    sg = _skipgram(**kw)
    head = _head(**kw)
    tower = TwoTower(6, 3, D, rngs=nnx.Rngs(0), **kw)
    twins = (
        _float32_twin(sg, _skipgram),
        _float32_twin(head, _head),
        _float32_twin(tower, lambda: TwoTower(6, 3, D, rngs=nnx.Rngs(0))),
    )
    hidden, queries, items = _bf16(HIDDEN), _bf16(QUERIES), _bf16(ITEMS)
    no_q = dict(pos_log_q=None, neg_log_q=None)

    @nnx.jit  # one compilation instead of many eager bfloat16 primitives
    def run(sg, head, tower):
        def sg_loss(m):
            return m(CENTRES, CONTEXTS, NEGATIVES).astype(jnp.float32).sum()

        def head_loss(m):
            return m(hidden, LABELS, SAMPLED, **no_q).astype(jnp.float32).sum()

        return (
            sg(CENTRES, CONTEXTS, NEGATIVES),
            nnx.grad(sg_loss)(sg),
            head(hidden, LABELS, SAMPLED, **no_q),
            nnx.grad(head_loss)(head),
            head.full_logits(hidden),
            tower(queries, items, temperature=0.1),
        )

    out = run(sg, head, tower)
    ref = run(*twins)
    assert out[0].dtype == jnp.bfloat16
    # dtype=None with bfloat16 parameters and float32 inputs computes in float32.
    assert out[2].dtype == out[4].dtype == (dtype or jnp.float32)
    # Where the compute dtype is bfloat16 even float32 results (gradients of
    # float32 parameters) carry bfloat16 rounding: judge by the compute dtype.
    rtol, atol = tolerance(jnp.bfloat16) if dtype == jnp.bfloat16 else (None, None)
    for got, want in zip(jax.tree.leaves(out), jax.tree.leaves(ref), strict=True):
        assert_close(got, want, loose=True, rtol=rtol, atol=atol)


def test_two_tower_bfloat16_inputs_promote_to_parameters():
    tower = TwoTower(6, 3, D, rngs=nnx.Rngs(0))
    out = tower(QUERIES.astype(jnp.bfloat16), ITEMS.astype(jnp.bfloat16))
    assert out.dtype == jnp.float32


# ---------------------------------------------------------------------------
# Bad inputs: static errors naming the module and the argument.
# ---------------------------------------------------------------------------


def _bad_cases():
    sg, head = _skipgram(), _head()
    tower = TwoTower(6, 3, D, rngs=nnx.Rngs(0))
    r = nnx.Rngs(0)
    uni = samplers.uniform(V)
    no_q = dict(pos_log_q=None, neg_log_q=None)
    return {
        "sg num_embeddings": (
            lambda: SkipGram(0, D, rngs=r),
            ValueError,
            "num_embeddings",
        ),
        "sg features": (lambda: SkipGram(V, 2.5, rngs=r), TypeError, "features"),
        "sg bool size": (
            lambda: SkipGram(True, D, rngs=r),
            TypeError,
            "num_embeddings",
        ),
        "sg dtype": (
            lambda: SkipGram(V, D, param_dtype=jnp.int32, rngs=r),
            TypeError,
            "param_dtype",
        ),
        "sg rngs": (lambda: SkipGram(V, D, rngs=0), TypeError, "rngs"),
        "sg float ids": (
            lambda: sg(CENTRES.astype(float), CONTEXTS, NEGATIVES),
            TypeError,
            "centres",
        ),
        "sg contexts": (
            lambda: sg(CENTRES, CONTEXTS[:3], NEGATIVES),
            ValueError,
            "contexts",
        ),
        "sg negatives batch": (
            lambda: sg(CENTRES, CONTEXTS, NEGATIVES[:2]),
            ValueError,
            "negatives",
        ),
        "sg negatives rank": (
            lambda: sg(CENTRES, CONTEXTS, NEGATIVES[None]),
            ValueError,
            "negatives",
        ),
        "sg where": (
            lambda: sg(CENTRES, CONTEXTS, NEGATIVES, where=jnp.ones((B, 2), bool)),
            ValueError,
            "where",
        ),
        "sg where dtype": (
            lambda: sg(CENTRES, CONTEXTS, NEGATIVES, where=jnp.ones((B, K))),
            TypeError,
            "where",
        ),
        "sg weights": (
            lambda: sg(CENTRES, CONTEXTS, NEGATIVES, weights=jnp.ones(2)),
            ValueError,
            "weights",
        ),
        "sg embed": (lambda: sg.embed(jnp.ones(2)), TypeError, "ids"),
        "head hidden width": (
            lambda: head(jnp.ones((B, D + 1)), LABELS, SAMPLED, **no_q),
            ValueError,
            "hidden",
        ),
        "head hidden int": (
            lambda: head(jnp.ones((B, D), int), LABELS, SAMPLED, **no_q),
            TypeError,
            "hidden",
        ),
        "head labels batch": (
            lambda: head(HIDDEN, LABELS[:2], SAMPLED, **no_q),
            ValueError,
            "labels",
        ),
        "head sampled rank": (
            lambda: head(HIDDEN, LABELS, jnp.zeros((B, 2, 2), int), **no_q),
            ValueError,
            "sampled_ids",
        ),
        "head one log_q": (
            lambda: head(
                HIDDEN, LABELS, SAMPLED, pos_log_q=jnp.zeros(B), neg_log_q=None
            ),
            ValueError,
            "neg_log_q",
        ),
        "head log_q shape": (
            lambda: head(
                HIDDEN,
                LABELS,
                SAMPLED,
                pos_log_q=jnp.zeros(B),
                neg_log_q=jnp.zeros(3),
            ),
            ValueError,
            "neg_log_q",
        ),
        "head full_logits": (
            lambda: head.full_logits(jnp.ones(D)),
            ValueError,
            "hidden",
        ),
        "head size": (
            lambda: SampledSoftmaxHead(D, -1, rngs=r),
            ValueError,
            "num_classes",
        ),
        "cands key array": (
            lambda: sample_candidates(
                jax.random.split(jax.random.key(0)), uni, 3, LABELS
            ),
            ValueError,
            "vmap",
        ),
        "cands raw key": (
            lambda: sample_candidates(jax.random.PRNGKey(0), uni, 3, LABELS),
            TypeError,
            "key",
        ),
        "cands sampler": (
            lambda: sample_candidates(jax.random.key(0), "uniform", 3, LABELS),
            TypeError,
            "sampler",
        ),
        "cands too many": (
            lambda: sample_candidates(
                jax.random.key(0), uni, V + 1, LABELS, replace=False
            ),
            ValueError,
            "larger sample",
        ),
        "cands num_samples": (
            lambda: sample_candidates(jax.random.key(0), uni, -1, LABELS),
            ValueError,
            "num_samples",
        ),
        "tower queries": (
            lambda: tower(jnp.ones((B, 5)), ITEMS),
            ValueError,
            "queries",
        ),
        "thin candidates rows": (
            lambda: tower(QUERIES, ITEMS[:2]),
            ValueError,
            "candidates",
        ),
        "thin temperature": (
            lambda: tower(QUERIES, ITEMS, temperature=0.0),
            ValueError,
            "temperature",
        ),
        "thin batch 1": (
            lambda: tower(QUERIES[:1], ITEMS[:1]),
            ValueError,
            "batch size",
        ),
        "thin log_q": (
            lambda: tower(QUERIES, ITEMS, candidate_log_q=jnp.zeros(2)),
            ValueError,
            "candidate_log_q",
        ),
        "thin ids": (
            lambda: tower(QUERIES, ITEMS, candidate_ids=jnp.zeros(B)),
            TypeError,
            "candidate_ids",
        ),
        "thin extra log_q": (
            lambda: tower(
                QUERIES,
                ITEMS,
                candidate_log_q=jnp.zeros(B),
                extra_candidates=jnp.ones((2, 3)),
            ),
            ValueError,
            "extra_log_q",
        ),
        "thin extra without": (
            lambda: tower(QUERIES, ITEMS, extra_ids=jnp.zeros(2, int)),
            ValueError,
            "extra_candidates",
        ),
    }


BAD = _bad_cases()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_raise_naming_module_and_argument(case):
    fn, error, argument = BAD[case]
    module = {
        "sg": "SkipGram",
        "head": "SampledSoftmaxHead",
        "cands": "sample_candidates",
        "tower": "TwoTower",
        # TwoTower checks only the feature widths and passes everything else
        # to losses.in_batch_softmax, whose errors name it.
        "thin": "in_batch_softmax",
    }[case.split()[0]]
    with pytest.raises(error, match=argument) as info:
        fn()
    assert module in str(info.value)


def test_bad_inputs_raise_under_jit():
    sg = _skipgram()
    with pytest.raises(ValueError, match="SkipGram: per-example negatives"):
        nnx.jit(lambda m, n: m(CENTRES, CONTEXTS, n))(sg, NEGATIVES[:2])


def test_public_calls_are_named_in_the_compiled_program():
    """GPU profiles name jaxns's operations: jax.named_scope("jaxns.<name>")."""
    model = _skipgram()
    sampler = samplers.unigram(np.arange(1, V + 1), power=0.75)

    def step(key):
        negatives = sampler.sample(key, (B, K))
        return losses.sgns(jnp.zeros(B), jnp.zeros((B, K))), model.embed(negatives)

    text = jax.jit(step).lower(jax.random.key(0)).as_text(debug_info=True)
    for name in (
        "jaxns.samplers.Sampler.sample",
        "jaxns.losses.sgns",
        "jaxns.nn.SkipGram.embed",
    ):
        assert name in text, name
