# SPDX-License-Identifier: Apache-2.0
"""Tests of the chunked SGNS trainer (jaxns.word2vec)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxns
from jaxns import word2vec


def _random_block(rng, num_chunks, chunk, window, vocab, kc):
    n = num_chunks * chunk + 2 * window
    tokens = rng.integers(0, vocab, n).astype(np.int32)
    tokens[rng.random(n) < 0.1] = -1
    tokens[:window] = -1
    sentence_ids = np.cumsum(rng.random(n) < 0.2).astype(np.int32)
    negatives = rng.integers(0, vocab, (num_chunks, kc)).astype(np.int32)
    reduction = rng.integers(0, window, (num_chunks, chunk)).astype(np.int32)
    return tokens, sentence_ids, negatives, reduction


def _reference_loss(
    u, v, tokens, sentence_ids, negatives, reduction, window, k, skip_hits=True
):
    """Brute-force pair enumeration of the chunked SGNS loss (dense tables)."""
    num_chunks, chunk = reduction.shape
    kc = negatives.shape[1]
    loss = 0.0
    pairs = 0
    for g in range(num_chunks):
        for c in range(chunk):
            p = window + g * chunk + c
            if tokens[p] < 0:
                continue
            reach = window - reduction[g, c]
            for o in range(-reach, reach + 1):
                q = p + o
                if o == 0 or tokens[q] < 0 or sentence_ids[q] != sentence_ids[p]:
                    continue
                x = u[tokens[q]]
                loss = loss + jax.nn.softplus(-(x @ v[tokens[p]]))
                for n in negatives[g]:
                    if skip_hits and n == tokens[p]:
                        continue  # word2vec.c and gensim skip such draws
                    loss = loss + (k / kc) * jax.nn.softplus(x @ v[n])
                pairs += 1
    return loss, pairs


@pytest.mark.parametrize(
    "chunk,kc,skip_hits", [(1, 5, True), (4, 3, True), (8, 8, True), (8, 8, False)]
)
def test_chunk_gradients_equal_autodiff_of_pair_loss(chunk, kc, skip_hits):
    rng = np.random.default_rng(chunk)
    window, vocab, dim, k = 3, 12, 4, 5
    tokens, sent, negs, red = _random_block(rng, 2, chunk, window, vocab, kc)
    negs[:, 0] = tokens[window : window + 2 * chunk : chunk]  # plant some hits
    with jax.enable_x64(True):
        u = jnp.asarray(rng.normal(size=(vocab, dim)))
        v = jnp.asarray(rng.normal(size=(vocab, dim)))
        params = word2vec.SkipGramParams(u, v)
        g = word2vec.chunk_gradients(
            params, tokens, sent, negs, red, window=window, num_negatives=k,
            skip_hits=skip_hits,
        )  # fmt: skip

        def ref(u, v):
            args = (tokens, sent, negs, red, window, k, skip_hits)
            return _reference_loss(u, v, *args)[0]

        ref_loss, (du, dv) = jax.value_and_grad(ref, argnums=(0, 1))(u, v)
        _, ref_pairs = _reference_loss(u, v, tokens, sent, negs, red, window, k)
        got_du = jnp.zeros_like(u).at[g.input_ids].add(g.input_grads, mode="drop")
        got_dv = jnp.zeros_like(v).at[g.output_ids].add(g.output_grads, mode="drop")
        np.testing.assert_allclose(g.loss, ref_loss, rtol=1e-12)
        np.testing.assert_allclose(got_du, du, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_dv, dv, rtol=1e-10, atol=1e-12)
        assert int(g.num_pairs) == ref_pairs
        # padding rows carry exactly zero gradient
        assert not np.any(np.asarray(g.input_grads)[np.asarray(g.input_ids) < 0])


def test_chunk_of_one_equals_sgns_loss_over_skipgram_pairs():
    """chunk_size=1, K negatives per centre: word2vec's loss via jaxns.losses."""
    rng = np.random.default_rng(0)
    window, vocab, dim, k, n = 2, 10, 3, 4, 20
    tokens, sent, negs, red = _random_block(rng, n, 1, window, vocab, k)
    negs[::3, 0] = tokens[window : window + n : 3]  # plant some hits
    u = jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32)
    v = jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32)
    g = word2vec.chunk_gradients(
        word2vec.SkipGramParams(u, v), tokens, sent, negs, red,
        window=window, num_negatives=k,
    )  # fmt: skip
    total = 0.0
    for c in range(n):
        p = window + c
        for o in range(-(window - red[c, 0]), window - red[c, 0] + 1):
            q = p + o
            if o == 0 or tokens[p] < 0 or tokens[q] < 0 or sent[q] != sent[p]:
                continue
            pos = u[tokens[q]] @ v[tokens[p]]
            neg = v[negs[c]] @ u[tokens[q]]
            keep = jnp.asarray(negs[c] != tokens[p])  # gensim skips such draws
            total += float(jaxns.losses.sgns(pos[None], neg[None], where=keep[None])[0])
    np.testing.assert_allclose(float(g.loss), total, rtol=1e-5)


def test_chunk_gradients_validate_shapes():
    p = word2vec.init_params(jax.random.key(0), 5, 3)
    ok = dict(window=1, num_negatives=2)
    toks = jnp.zeros(6, jnp.int32)
    with pytest.raises(ValueError, match="tokens shape"):
        word2vec.chunk_gradients(
            p, toks[:5], toks[:5], jnp.zeros((1, 2), jnp.int32),
            jnp.zeros((1, 4), jnp.int32), **ok,
        )  # fmt: skip
    with pytest.raises(ValueError, match="negatives.shape"):
        word2vec.chunk_gradients(
            p,
            toks,
            toks,
            jnp.zeros((2, 2), jnp.int32),
            jnp.zeros((1, 4), jnp.int32),
            **ok,
        )
    with pytest.raises(TypeError, match="tokens must be an integer array"):
        word2vec.chunk_gradients(
            p, toks.astype(jnp.float32), toks, jnp.zeros((1, 2), jnp.int32),
            jnp.zeros((1, 4), jnp.int32), **ok,
        )  # fmt: skip
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        word2vec.chunk_gradients(
            p, toks, toks, jnp.zeros((1, 2), jnp.int32), jnp.zeros((1, 4), jnp.int32),
            window=0, num_negatives=2,
        )  # fmt: skip
    with pytest.raises(TypeError, match="sampler must have a sample"):
        word2vec.make_trainer(jnp.ones(5), learning_rate=optax.constant_schedule(0.1))
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        word2vec.make_trainer(
            jaxns.samplers.uniform(5), learning_rate=optax.constant_schedule(0.1),
            batch_size=10, chunk_size=4,
        )  # fmt: skip


def test_sgd_step_is_exactly_a_scatter_of_the_chunk_gradients():
    rng = np.random.default_rng(1)
    vocab, dim, window, batch, chunk = 16, 4, 2, 8, 4
    sampler = jaxns.samplers.uniform(vocab)
    trainer = word2vec.make_trainer(
        sampler, learning_rate=optax.constant_schedule(0.05), window=window,
        batch_size=batch, chunk_size=chunk, negatives_per_chunk=3, steps_per_call=1,
    )  # fmt: skip
    params = word2vec.SkipGramParams(
        jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32),
        jnp.asarray(rng.normal(size=(vocab, dim)), jnp.float32),
    )
    tokens = jnp.asarray(rng.integers(0, vocab, batch + 2 * window), jnp.int32)
    sent = jnp.zeros(batch + 2 * window, jnp.int32)
    key = jax.random.key(3)
    # the same draws the trainer makes for micro-step 0
    k_window, k_neg = jax.random.split(jax.random.fold_in(key, 0))
    red = jax.random.randint(k_window, (batch // chunk, chunk), 0, window, jnp.int32)
    negs = sampler.sample(k_neg, (batch // chunk, 3))
    g = word2vec.chunk_gradients(
        params, tokens, sent, negs, red, window=window, num_negatives=5
    )
    expected_u = params.input.at[g.input_ids].add(-0.05 * g.input_grads, mode="drop")
    expected_v = params.output.at[g.output_ids].add(-0.05 * g.output_grads, mode="drop")
    state = trainer.init(params)
    new, _, loss, pairs = trainer.train(
        params, state, tokens, sent, 0, key, jnp.float32(0), jnp.float32(1)
    )
    np.testing.assert_allclose(new.input, expected_u, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new.output, expected_v, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loss, g.loss, rtol=1e-6)
    assert int(pairs) == int(g.num_pairs)


def _topic_corpus(rng, num_topics=4, words_per_topic=12, sentences=1500, length=12):
    """Sentences drawn from one topic each: words of a topic co-occur."""
    out = []
    for _ in range(sentences):
        t = rng.integers(num_topics)
        ids = t * words_per_topic + rng.integers(0, words_per_topic, length)
        out.append([f"w{i}" for i in ids])
    return out


@pytest.mark.parametrize("optimizer", [None, "adagrad"])
def test_training_recovers_planted_topics(optimizer):
    rng = np.random.default_rng(0)
    sentences = _topic_corpus(rng)
    vocab = jaxns.text.Vocabulary.build(sentences, min_count=1)
    enc = vocab.encode(sentences)
    window, batch = 3, 64
    tx = (
        None if optimizer is None else optax.scale_by_rss(initial_accumulator_value=0.1)
    )
    lr = 0.025 if optimizer is None else 0.2
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(vocab.counts), learning_rate=optax.constant_schedule(lr),
        optimizer=tx, window=window, batch_size=batch, chunk_size=8,
        negatives_per_chunk=8, steps_per_call=8,
    )  # fmt: skip
    params = word2vec.init_params(jax.random.key(0), len(vocab), 16)
    state = trainer.init(params)
    pad = -np.ones(window, np.int32)
    n = len(enc.ids)
    calls = -(-n // trainer.block_size)
    tail = -np.ones(calls * trainer.block_size - n + window, np.int32)
    toks = jnp.asarray(np.concatenate([pad, enc.ids, tail]))
    sent = jnp.asarray(np.concatenate([pad, enc.sentence_ids, tail]))
    losses = []
    for epoch in range(3):
        for c in range(calls):
            params, state, loss, pairs = trainer.train(
                params, state, toks, sent, c * trainer.block_size,
                jax.random.key(epoch), jnp.float32(0), jnp.float32(1),
            )  # fmt: skip
            losses.append(float(loss) / int(pairs))
    assert losses[-1] < 0.8 * losses[0]
    topic = np.array([int(w[1:]) // 12 for w in vocab.words])
    nn = jaxns.evaluation.nearest_neighbors(
        np.asarray(params.input), vocab.words, list(vocab.words), k=5
    )
    same = np.mean(
        [topic[vocab.index(w)] == topic[i] for i, row in enumerate(nn) for w, _ in row]
    )
    assert same > 0.9  # chance is about 0.25
