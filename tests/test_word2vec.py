# SPDX-License-Identifier: Apache-2.0
"""Tests of the chunked SGNS trainer (jaxns.word2vec)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_close

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
    centres = tokens[window : window + 2 * chunk : chunk]
    negs[:, 0] = np.where(centres >= 0, centres, negs[:, 0])  # plant some hits
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
    centres = tokens[window : window + n : 3]
    negs[::3, 0] = np.where(centres >= 0, centres, negs[::3, 0])  # plant some hits
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
    with pytest.raises(ValueError, match="tokens must have shape"):
        word2vec.chunk_gradients(
            p, toks[:5], toks[:5], jnp.zeros((1, 2), jnp.int32),
            jnp.zeros((1, 4), jnp.int32), **ok,
        )  # fmt: skip
    with pytest.raises(ValueError, match="negatives must have shape"):
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
    with pytest.raises(ValueError, match="window must be >= 1"):
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
    with pytest.raises(TypeError, match="optimizer must be an Optax .* str 'adam'"):
        word2vec.make_trainer(
            jaxns.samplers.uniform(5), learning_rate=optax.constant_schedule(0.1),
            optimizer="adam",
        )  # fmt: skip
    for make, extra in (
        (word2vec.make_trainer, {}),
        (
            word2vec.make_sharded_trainer,
            {"mesh": jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))},
        ),
    ):
        with pytest.raises(
            TypeError,
            match=r"make_(sharded_)?trainer: compute_loss must be a bool, "
            "got str 'no'",
        ):
            make(
                jaxns.samplers.uniform(8), learning_rate=optax.constant_schedule(0.1),
                compute_loss="no", **extra,
            )  # fmt: skip


def test_sgd_updates_equal_gradient_steps_of_the_brute_force_loss():
    """Two fused SGD updates against float64 autodiff of the pair loss.

    No draw is redone the library's way: window 1 leaves no reduction to draw
    (b is always 0), and a sampler with one nonzero count draws that id only.
    """
    rng = np.random.default_rng(1)
    vocab, dim, window, batch, chunk, kc, k, lr = 16, 4, 1, 8, 4, 3, 5, 0.05
    counts = np.zeros(vocab)
    counts[7] = 1.0
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(counts), learning_rate=optax.constant_schedule(lr),
        window=window, num_negatives=k, batch_size=batch, chunk_size=chunk,
        negatives_per_chunk=kc, steps_per_call=2,
    )  # fmt: skip
    u0 = rng.normal(size=(vocab, dim))
    v0 = rng.normal(size=(vocab, dim))
    n = 2 * batch + 2 * window
    tokens = rng.integers(0, vocab, n).astype(np.int32)
    tokens[:window] = -1
    tokens[-window:] = -1
    sent = (np.arange(n) // 5).astype(np.int32)
    negs = np.full((batch // chunk, kc), 7, np.int32)
    red = np.zeros((batch // chunk, chunk), np.int32)
    with jax.enable_x64(True):
        u, v = jnp.asarray(u0), jnp.asarray(v0)
        for step in range(2):
            block = slice(step * batch, step * batch + batch + 2 * window)
            args = (tokens[block], sent[block], negs, red, window, k)
            loss = lambda u, v, args=args: _reference_loss(u, v, *args)[0]  # noqa: E731
            du, dv = jax.grad(loss, argnums=(0, 1))(u, v)
            u, v = u - lr * du, v - lr * dv
        expected_u, expected_v = np.asarray(u), np.asarray(v)
    params = word2vec.SkipGramParams(
        jnp.asarray(u0, jnp.float32), jnp.asarray(v0, jnp.float32)
    )
    stream = word2vec.Stream(jnp.asarray(tokens), jnp.asarray(sent), jnp.int32(n))
    new, _, _, pairs = trainer.train(
        jax.random.key(3), params, trainer.init(params), stream, 0, (0.0, 1.0)
    )
    assert_close(new.input, expected_u, loose=True)
    assert_close(new.output, expected_v, loose=True)
    assert int(pairs) > 0


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
    keep_all = jaxns.text.keep_probability(vocab.counts, 0.0)
    stream = trainer.stream(jax.random.key(0), enc.ids, enc.sentence_ids, keep_all)
    losses = []
    for epoch in range(3):
        for c in range(stream.num_calls(trainer.block_size)):
            params, state, loss, pairs = trainer.train(
                jax.random.key(epoch), params, state, stream,
                c * trainer.block_size, (0.0, 1.0),
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


# ---------------------------------------------------------------------------
# The stream API: make_stream, call_progress, Trainer.train


def test_make_stream_lays_out_kept_tokens_between_padding():
    ids = np.array([0, 1, 2, 1, 0, 2, 2], np.int32)
    sent = np.array([0, 0, 0, 1, 1, 2, 2], np.int32)
    keep = np.array([1.0, 0.0, 1.0], np.float32)  # word 1 always dropped
    window, block = 2, 4
    s = word2vec.make_stream(
        jax.random.key(0), ids, sent, keep, window=window, block_size=block
    )
    kept = ids != 1
    n = int(kept.sum())
    tail = len(ids) - n + block + window  # unused capacity, then the back pad
    want_t = np.concatenate([[-1] * window, ids[kept], [-1] * tail])
    want_s = np.concatenate([[-1] * window, sent[kept], [-1] * tail])
    np.testing.assert_array_equal(s.tokens, want_t)
    np.testing.assert_array_equal(s.sentence_ids, want_s)
    assert int(s.num_tokens) == n and s.num_calls(block) == 2
    assert s.tokens.shape == (len(ids) + block + 2 * window,)
    # jit gives the same stream
    jitted = jax.jit(word2vec.make_stream, static_argnames=("window", "block_size"))
    again = jitted(jax.random.key(0), ids, sent, keep, window=window, block_size=block)
    np.testing.assert_array_equal(again.tokens, s.tokens)


def _numpy_shuffled_stream(key, ids, sent, keep, window, block):
    """The shuffled layout in NumPy: the same subsampling and sort-key draws
    (JAX's random bits), each kept sentence run moved whole, by a stable sort."""
    k_sub, k_shuffle = jax.random.split(key)
    n = len(ids)
    u = np.asarray(jax.random.uniform(k_sub, (n,), jnp.float32))
    kept = u < keep[ids]
    t, s = ids[kept], sent[kept]
    bits = np.asarray(jax.random.bits(k_shuffle, (n,), jnp.uint32))
    run = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1 if len(s) else s
    order = np.argsort(bits[run], kind="stable")
    tail = n - len(t) + block + window
    return (
        np.concatenate([[-1] * window, t[order], [-1] * tail]),
        np.concatenate([[-1] * window, s[order], [-1] * tail]),
        len(t),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_make_stream_shuffle_moves_whole_sentences_as_numpy(seed):
    rng = np.random.default_rng(seed)
    n, vocab, window, block = 200, 7, 2, 8
    ids = rng.integers(0, vocab, n).astype(np.int32)
    sent = np.cumsum(rng.random(n) < 0.2).astype(np.int32)
    keep = np.linspace(0.3, 1.0, vocab).astype(np.float32)
    key = jax.random.key(seed)
    s = word2vec.make_stream(
        key, ids, sent, keep, window=window, block_size=block, shuffle=True
    )
    want_t, want_s, num = _numpy_shuffled_stream(key, ids, sent, keep, window, block)
    np.testing.assert_array_equal(s.tokens, want_t)
    np.testing.assert_array_equal(s.sentence_ids, want_s)
    assert int(s.num_tokens) == num
    # The sentences are reordered (not the identity), each kept whole.
    kept_sent = want_s[window : window + num]
    assert not np.all(np.diff(kept_sent) >= 0)
    starts = np.r_[True, kept_sent[1:] != kept_sent[:-1]]
    assert starts.sum() == len(np.unique(kept_sent))
    # Trainer.stream passes the option on; jit gives the same stream.
    t = word2vec.make_trainer(
        jaxns.samplers.uniform(vocab), learning_rate=optax.constant_schedule(0.1),
        window=window, batch_size=block, chunk_size=block, steps_per_call=1,
        shuffle=True,
    )  # fmt: skip
    again = jax.jit(t.stream)(key, ids, sent, keep)
    np.testing.assert_array_equal(again.tokens, want_t)
    np.testing.assert_array_equal(again.sentence_ids, want_s)


@pytest.mark.parametrize("contiguous", [True, False])
def test_shuffle_with_max_sentences_gives_the_same_stream(contiguous):
    """Sorting only the sentence runs (when max_sentences bounds them) or
    falling back to the token sort (when it does not) changes nothing."""
    rng = np.random.default_rng(3)
    n, vocab, window, block = 300, 7, 2, 8
    ids = rng.integers(0, vocab, n).astype(np.int32)
    if contiguous:
        sent = np.cumsum(rng.random(n) < 0.2).astype(np.int32)
    else:  # ids that come back: more runs than distinct sentences
        sent = rng.integers(0, 4, n).astype(np.int32)
    keep = np.linspace(0.3, 1.0, vocab).astype(np.float32)
    runs = int(np.count_nonzero(np.diff(sent))) + 1
    make = jax.jit(
        word2vec.make_stream,
        static_argnames=("window", "block_size", "shuffle", "max_sentences"),
    )
    for seed in range(3):
        key = jax.random.key(seed)
        want_t, want_s, num = _numpy_shuffled_stream(
            key, ids, sent, keep, window, block
        )
        for bound in (runs, runs + 7, runs // 2, 1, n):
            s = make(
                key, ids, sent, keep, window=window, block_size=block, shuffle=True,
                max_sentences=bound,
            )  # fmt: skip
            np.testing.assert_array_equal(s.tokens, want_t)
            np.testing.assert_array_equal(s.sentence_ids, want_s)
            assert int(s.num_tokens) == num
    with pytest.raises(ValueError, match=r"make_stream: max_sentences"):
        word2vec.make_stream(
            key, ids, sent, keep, window=window, block_size=block, shuffle=True,
            max_sentences=0,
        )  # fmt: skip


def test_call_progress_tiles_all_epochs_without_gaps():
    raw, calls, epochs = 1234, 7, 3
    spans = [
        word2vec.call_progress(e, c, calls, raw)
        for e in range(epochs)
        for c in range(calls)
    ]
    assert spans[0][0] == 0.0
    assert spans[-1][1] == epochs * raw
    for (_, end), (begin, _) in zip(spans, spans[1:], strict=False):
        assert end == begin
    np.testing.assert_allclose([b - a for a, b in spans], raw / calls)


def _small_trainer(sharded=False, **kw):
    opts = dict(window=2, batch_size=8, chunk_size=4, negatives_per_chunk=3)
    opts.update(kw)
    if sharded:  # the data-parallel trainer on a one-device mesh
        mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
        opts["mesh"] = mesh
        make = word2vec.make_sharded_trainer
    else:
        make = word2vec.make_trainer
    return make(
        jaxns.samplers.uniform(10), learning_rate=optax.constant_schedule(0.1), **opts
    )


def _small_stream(trainer, n=50):
    ids = (np.arange(n) * 7 % 10).astype(np.int32)
    sent = (np.arange(n) // 9).astype(np.int32)
    return trainer.stream(jax.random.key(0), ids, sent, jnp.ones(10, jnp.float32))


def test_train_equals_train_arrays_the_former_signature():
    t = _small_trainer(steps_per_call=2)
    stream = _small_stream(t)
    params = word2vec.init_params(jax.random.key(1), 10, 4)
    copy = jax.tree.map(jnp.copy, params)
    key = jax.random.key(5)
    a = t.train(key, params, t.init(params), stream, 16, (10.0, 20.0))
    b = t.train_arrays(
        copy, t.init(copy), stream.tokens, stream.sentence_ids, 16, key, 10.0, 20.0
    )
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "touched,error,match",
    [((jnp.zeros(10, bool),), TypeError, "touched must be a SkipGramParams"),
     ((jnp.zeros(10, bool), jnp.zeros(9, bool)), ValueError,
      r"touched.output must be a boolean mask of shape \(10,\)"),
     ((jnp.zeros(10, jnp.int32), jnp.zeros(10, bool)), ValueError,
      r"touched.input must be a boolean mask of shape \(10,\) .*int32")],
)  # fmt: skip
def test_train_touched_rejects_bad_masks(touched, error, match):
    t = _small_trainer(steps_per_call=2)
    stream = _small_stream(t)
    params = word2vec.init_params(jax.random.key(1), 10, 4)
    with pytest.raises(error, match=rf"word2vec.Trainer.train_touched: {match}"):
        t.train_touched(
            params, t.init(params), touched, stream.tokens, stream.sentence_ids, 0,
            jax.random.key(5), 0.0, 1.0,
        )  # fmt: skip
    assert word2vec.make_sharded_trainer(
        jaxns.samplers.uniform(10), learning_rate=optax.constant_schedule(0.1),
        mesh=jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",)), window=2,
        batch_size=8, chunk_size=4, negatives_per_chunk=3,
    ).train_touched is None  # fmt: skip


@pytest.mark.parametrize("sharded", [False, True], ids=["make_trainer", "sharded"])
@pytest.mark.parametrize("kind", ["numpy int64", "x64 float64"])
def test_progress_of_any_number_type_equals_python_floats(kind, sharded):
    """Progress given as NumPy integers or (x64) float64 arrays trains exactly
    as the same Python numbers (strict promotion refused to mix them with the
    float32 fractions of a call)."""
    opts = dict(window=2, batch_size=8, chunk_size=4, negatives_per_chunk=3)
    if sharded:
        opts["mesh"] = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    make = word2vec.make_sharded_trainer if sharded else word2vec.make_trainer
    t = make(
        jaxns.samplers.uniform(10),
        learning_rate=optax.linear_schedule(0.1, 0.01, 100),
        steps_per_call=2,
        **opts,
    )
    stream = _small_stream(t)
    with jax.enable_x64(kind == "x64 float64"):
        number = {
            "numpy int64": np.int64,
            "x64 float64": jnp.float64,  # a float64 array (x64 on here)
        }[kind]
        progress = (number(10), number(60))
        runs = []
        for p in (progress, (10.0, 60.0)):
            params = word2vec.init_params(jax.random.key(1), 10, 4)
            runs.append(
                t.train(jax.random.key(5), params, t.init(params), stream, 16, p)
            )
    for x, y in zip(*map(jax.tree.leaves, runs), strict=True):
        np.testing.assert_array_equal(x, y)


_BAD_TRAIN = [
    ("uint32 key", lambda k, s: dict(key=jax.random.PRNGKey(0)), TypeError,
     "typed key"),
    ("key array", lambda k, s: dict(key=jax.random.split(k, 2)), ValueError,
     "Use jax.vmap"),
    ("start not a batch multiple", lambda k, s: dict(start=4), ValueError,
     "multiple of batch_size 8"),
    ("start past the stream", lambda k, s: dict(start=64), ValueError,
     "start must be <= "),
    ("negative start", lambda k, s: dict(start=-8), ValueError, "start must be >= 0"),
    ("float start", lambda k, s: dict(start=8.0), TypeError, "start must be"),
    ("bare arrays", lambda k, s: dict(stream=(s.tokens, s.sentence_ids)),
     TypeError, "stream must be a word2vec.Stream"),
    ("short stream", lambda k, s: dict(stream=s._replace(
        tokens=s.tokens[:19], sentence_ids=s.sentence_ids[:19])), ValueError,
     "at least block_size"),
    ("progress scalar", lambda k, s: dict(progress=0.5), TypeError,
     "progress must be a pair"),
    ("tables of another vocabulary", lambda k, s: dict(
        params=word2vec.init_params(k, 8, 4)), ValueError,
     r"sampler draws among 10 ids, but params.output has 8 rows"),
    ("input rows differ", lambda k, s: dict(params=word2vec.SkipGramParams(
        jnp.zeros((12, 4)), jnp.zeros((10, 4)))), ValueError,
     r"one row per word each, got \(12, 4\) and \(10, 4\)"),
    ("dims differ", lambda k, s: dict(params=word2vec.SkipGramParams(
        jnp.zeros((10, 4)), jnp.zeros((10, 3)))), ValueError, "the same dim"),
    ("integer table", lambda k, s: dict(params=word2vec.SkipGramParams(
        jnp.zeros((10, 4), jnp.int32), jnp.zeros((10, 4)))), TypeError,
     "params.input must be a floating-point array"),
    ("one table", lambda k, s: dict(params=jnp.zeros((10, 4))), TypeError,
     r"params must be a SkipGramParams\(input, output\)"),
    ("another optimizer's state", lambda k, s: dict(opt_state=_small_trainer(
        optimizer=optax.scale_by_adam()).init(word2vec.init_params(k, 10, 4))),
     ValueError, r"opt_state does not fit this trainer .* got \[\(\), \(10, 4\)"),
]  # fmt: skip


@pytest.mark.parametrize("sharded", [False, True], ids=["make_trainer", "sharded"])
@pytest.mark.parametrize(
    "make,error,match", [c[1:] for c in _BAD_TRAIN], ids=[c[0] for c in _BAD_TRAIN]
)
def test_train_rejects_bad_input(make, error, match, sharded):
    t = _small_trainer(sharded, steps_per_call=2)
    stream = _small_stream(t)  # 50 tokens + 16 + 4 = 70, last start 50
    params = word2vec.init_params(jax.random.key(1), 10, 4)
    args = dict(
        key=jax.random.key(2),
        params=params,
        opt_state=t.init(params),
        stream=stream,
        start=0,
        progress=(0.0, 1.0),
    )
    args.update(make(args["key"], stream))
    with pytest.raises(error, match=match):
        t.train(**args)
    if args["params"] is not params:  # init checks the tables alike
        with pytest.raises(error, match=match.replace("Trainer.train", "")):
            t.init(args["params"])


@pytest.mark.parametrize("sharded", [False, True], ids=["make_trainer", "sharded"])
@pytest.mark.parametrize("other", ["sgd", "dim 5"])
def test_train_refuses_an_adam_state_that_does_not_fit(other, sharded):
    t = _small_trainer(sharded, steps_per_call=2, optimizer=optax.scale_by_adam())
    params = word2vec.init_params(jax.random.key(1), 10, 4)
    if other == "sgd":
        state = _small_trainer().init(params)
    else:
        state = t.init(word2vec.init_params(jax.random.key(1), 10, 5))
    with pytest.raises(ValueError, match="opt_state does not fit this trainer"):
        t.train(jax.random.key(2), params, state, _small_stream(t), 0, (0.0, 1.0))


def _np_softplus(z):
    return np.logaddexp(0.0, z)


def _np_sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def reference_updates(
    u, v, tokens, sentence_ids, negatives, reduction, window, k, *, model,
    subwords=None, skip_hits=True,
):  # fmt: skip
    """float64 NumPy brute force of the word2vec family on one block.

    Returns (loss, examples, input update [V_in, d], output gradient [V, d]).
    Inputs average their rows (a word's own row, or its subword rows); every
    row entering an average receives the full gradient with respect to the
    average (word2vec.c, fastText, gensim); output gradients are exact.
    """
    u = np.asarray(u, np.float64)
    v = np.asarray(v, np.float64)
    num_chunks, chunk = reduction.shape
    kc = negatives.shape[1]
    alpha = k / kc

    def rows_of(t):
        if subwords is None:
            return [int(t)]
        return [int(r) for r in subwords[t] if r >= 0]

    du, dv = np.zeros_like(u), np.zeros_like(v)
    loss, examples = 0.0, 0

    def score(h, centre, g):
        """Loss of h against centre and chunk g's negatives; dh; adds to dv."""
        s = h @ v[centre]
        loss = _np_softplus(-s)
        dh = -_np_sigmoid(-s) * v[centre]
        dv[centre] += -_np_sigmoid(-s) * h
        for n in negatives[g]:
            if skip_hits and n == centre:
                continue
            s = h @ v[n]
            loss += alpha * _np_softplus(s)
            dh = dh + alpha * _np_sigmoid(s) * v[n]
            dv[n] += alpha * _np_sigmoid(s) * h
        return loss, dh

    for g in range(num_chunks):
        for c in range(chunk):
            p = window + g * chunk + c
            if tokens[p] < 0:
                continue
            reach = window - reduction[g, c]
            ctx = [
                p + o for o in range(-reach, reach + 1)
                if o != 0 and tokens[p + o] >= 0
                and sentence_ids[p + o] == sentence_ids[p]
            ]  # fmt: skip
            if model == "skipgram":
                for q in ctx:
                    rows = rows_of(tokens[q])
                    x = u[rows].mean(axis=0)
                    term, dx = score(x, tokens[p], g)
                    loss += term
                    examples += 1
                    for r in rows:
                        du[r] += dx
            elif ctx:
                rows = [r for q in ctx for r in rows_of(tokens[q])]
                h = u[rows].mean(axis=0)
                term, dh = score(h, tokens[p], g)
                loss += term
                examples += 1
                for r in rows:
                    du[r] += dh
    return loss, examples, du, dv


def _scatter(shape, ids, grads):
    ids = np.asarray(ids)
    out = np.zeros(shape)
    keep = ids >= 0
    np.add.at(out, ids[keep], np.asarray(grads, np.float64)[keep])
    return out


@pytest.mark.parametrize(
    "model,chunk,kc,skip_hits",
    [
        ("cbow", 1, 5, True),
        ("cbow", 4, 3, True),
        ("cbow", 8, 8, False),
        ("cbow", 3, 2, True),
        ("skipgram", 4, 3, True),
        ("skipgram", 8, 8, False),
    ],
)
def test_block_gradients_equal_brute_force(model, chunk, kc, skip_hits):
    rng = np.random.default_rng(10 + chunk)
    window, vocab, dim, k = 3, 12, 4, 5
    tokens, sent, negs, red = _random_block(rng, 3, chunk, window, vocab, kc)
    starts = tokens[window : window + 3 * chunk : chunk]
    negs[:, 0] = np.where(starts >= 0, starts, negs[:, 0])  # plant some hits
    with jax.enable_x64(True):
        u = rng.normal(size=(vocab, dim))
        v = rng.normal(size=(vocab, dim))
        g = word2vec.block_gradients(
            word2vec.SkipGramParams(jnp.asarray(u), jnp.asarray(v)), tokens, sent,
            negs, red, model=model, window=window, num_negatives=k,
            skip_hits=skip_hits,
        )  # fmt: skip
        loss, examples, du, dv = reference_updates(
            u, v, tokens, sent, negs, red, window, k, model=model,
            skip_hits=skip_hits,
        )  # fmt: skip
        assert g.input_grads.dtype == jnp.float64
        assert_close(g.loss, loss)
        assert int(g.num_pairs) == examples
        assert_close(_scatter(u.shape, g.input_ids, g.input_grads), du)
        assert_close(_scatter(v.shape, g.output_ids, g.output_grads), dv)


def test_cbow_output_gradient_is_autodiff_and_input_update_is_word2vec_c():
    """The output rows get the exact gradient of the CBOW loss; each context
    word gets the full gradient with respect to the mean (word2vec.c's neu1e),
    which is the exact gradient times the number of context words."""
    rng = np.random.default_rng(5)
    window, vocab, dim, k, chunk = 2, 9, 3, 4, 4
    tokens, sent, negs, red = _random_block(rng, 2, chunk, window, vocab, 4)
    with jax.enable_x64(True):
        u = jnp.asarray(rng.normal(size=(vocab, dim)))
        v = jnp.asarray(rng.normal(size=(vocab, dim)))

        def loss_fn(u, v):
            g = word2vec.block_gradients(
                word2vec.SkipGramParams(u, v), tokens, sent, negs, red,
                model="cbow", window=window, num_negatives=k,
            )  # fmt: skip
            return g.loss

        du, dv = jax.grad(loss_fn, argnums=(0, 1))(u, v)
        g = word2vec.block_gradients(
            word2vec.SkipGramParams(u, v), tokens, sent, negs, red,
            model="cbow", window=window, num_negatives=k,
        )  # fmt: skip
        assert_close(_scatter(v.shape, g.output_ids, g.output_grads), dv, loose=True)
        # Recompute the exact input gradient by hand from the per-centre counts.
        _, _, full, _ = reference_updates(
            u, v, tokens, sent, negs, red, window, k, model="cbow"
        )
        assert not np.allclose(full, du)  # word2vec.c's update is not the gradient
        assert_close(_scatter(u.shape, g.input_ids, g.input_grads), full)


def test_block_gradients_skipgram_equals_chunk_gradients():
    rng = np.random.default_rng(2)
    tokens, sent, negs, red = _random_block(rng, 4, 8, 5, 30, 8)
    params = word2vec.SkipGramParams(
        jnp.asarray(rng.normal(size=(30, 6)), jnp.float32),
        jnp.asarray(rng.normal(size=(30, 6)), jnp.float32),
    )
    a = word2vec.chunk_gradients(params, tokens, sent, negs, red, window=5,
                                 num_negatives=5)  # fmt: skip
    b = word2vec.block_gradients(params, tokens, sent, negs, red, model="skipgram",
                                 window=5, num_negatives=5)  # fmt: skip
    assert_close(b.loss, a.loss, loose=True)
    assert int(a.num_pairs) == int(b.num_pairs)
    np.testing.assert_array_equal(a.input_ids, b.input_ids)
    assert_close(b.input_grads, a.input_grads, loose=True)
    # A negative equal to a centre is corrected on the centre's column in
    # chunk_gradients and on the negative's in block_gradients: same row.
    np.testing.assert_array_equal(a.output_ids, b.output_ids)
    assert_close(
        _scatter((30, 6), b.output_ids, b.output_grads).astype(np.float32),
        _scatter((30, 6), a.output_ids, a.output_grads),
        loose=True,
    )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(model="sg"), ValueError, "model must be one of"),
        (dict(model="cbow", window=0), ValueError, "window must be >= 1"),
        (dict(model="cbow", skip_hits=1), TypeError, "skip_hits must be a bool"),
        (dict(model="cbow", subwords=np.zeros((4, 2), np.int32)), ValueError,
         "subwords must have shape"),
        (dict(model="cbow", subwords=np.zeros((5, 2))), TypeError,
         "subwords must be an integer array"),
    ],
)  # fmt: skip
def test_block_gradients_reject_bad_arguments(kwargs, error, match):
    p = word2vec.init_params(jax.random.key(0), 5, 3)
    args = dict(window=1, num_negatives=2) | kwargs
    with pytest.raises(error, match=match):
        word2vec.block_gradients(
            p, jnp.zeros(6, jnp.int32), jnp.zeros(6, jnp.int32),
            jnp.zeros((1, 2), jnp.int32), jnp.zeros((1, 4), jnp.int32), **args,
        )  # fmt: skip


_TOK, _NEG, _RED = (
    jnp.zeros(6, jnp.int32),
    jnp.zeros((1, 2), jnp.int32),
    jnp.zeros((1, 4), jnp.int32),
)


@pytest.mark.parametrize("fn", ["chunk", "block"])
@pytest.mark.parametrize(
    "arrays,match",
    [
        (dict(tokens=_TOK.at[2].set(9)), r"tokens must hold token ids.* got 9"),
        (dict(negatives=_NEG.at[0, 1].set(7)), r"negatives must hold ids .* got 7"),
        (dict(window_reduction=_RED.at[0, 0].set(3)),
         r"window_reduction must hold values in \[0, 1\), got 3"),
        (dict(negatives=jnp.zeros((1, 0), jnp.int32)),
         r"negatives must hold at least one draw per chunk, got shape \(1, 0\)"),
    ],
)  # fmt: skip
def test_gradients_refuse_ids_outside_the_tables(fn, arrays, match):
    """Concrete ids past the tables would read clamped rows while their
    gradients went to rows the update drops: both functions refuse them."""
    p = word2vec.init_params(jax.random.key(0), 5, 3)
    args = dict(tokens=_TOK, sentence_ids=jnp.zeros(6, jnp.int32), negatives=_NEG,
                window_reduction=_RED) | arrays  # fmt: skip
    call = word2vec.chunk_gradients if fn == "chunk" else word2vec.block_gradients
    extra = {} if fn == "chunk" else {"model": "skipgram"}
    with pytest.raises(ValueError, match=f"word2vec.{fn}_gradients: {match}"):
        call(p, **args, window=1, num_negatives=2, **extra)


def test_block_gradients_refuse_subword_rows_past_the_input_table():
    p = word2vec.init_subword_params(jax.random.key(0), 5, 4, 3)  # 9 input rows
    table = np.tile(np.arange(5, dtype=np.int32)[:, None], (1, 2))
    table[3, 1] = 9
    with pytest.raises(ValueError, match=r"subwords must hold input rows \(or -1\)"):
        word2vec.block_gradients(
            p, _TOK, jnp.zeros(6, jnp.int32), _NEG, _RED, model="cbow", window=1,
            num_negatives=2, subwords=table,
        )  # fmt: skip


def test_init_subword_params_refuses_an_integer_dtype():
    with pytest.raises(
        TypeError, match="init_subword_params: dtype must be a floating"
    ):
        word2vec.init_subword_params(jax.random.key(0), 5, 4, 3, dtype=jnp.int32)


@pytest.mark.parametrize(
    "sharded", [False, 1, 2], ids=["make_trainer", "sharded", "sharded-sync2"]
)
@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_steps_per_call_invariance_with_a_partly_padded_last_call(optimizer, sharded):
    """40 tokens in updates of 8 centres: 5 updates. With 4 updates per call
    the second call holds 3 updates of padding only; they change nothing, so
    the tables and the optimizer's state equal those of one update per call
    (Adam's count included), and an all-padding update moves no row. The
    sharded trainer's delayed exchange (``sync_every=2``, its updates
    replayed after each pair) keeps that too."""
    tx = optax.scale_by_adam() if optimizer == "adam" else optax.scale_by_rss()
    vocab = 12
    ids = jnp.asarray(np.random.default_rng(0).integers(0, vocab, 40), jnp.int32)
    sents = jnp.asarray(np.repeat(np.arange(8), 5), jnp.int32)
    sampler = jaxns.samplers.unigram(jnp.ones(vocab))

    make, kw = word2vec.make_trainer, {}
    if sharded:  # the mesh trainer on a one-device mesh
        make = word2vec.make_sharded_trainer
        kw["mesh"] = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))

    def run(steps):
        sync = {} if steps == 1 or sharded in (False, 1) else {"sync_every": 2}
        t = make(
            sampler, learning_rate=optax.constant_schedule(0.5), optimizer=tx,
            window=2, batch_size=8, chunk_size=4, negatives_per_chunk=4,
            steps_per_call=steps, **kw, **sync,
        )  # fmt: skip
        p = word2vec.init_params(jax.random.key(0), vocab, 4)
        state = t.init(p)
        stream = t.stream(jax.random.key(1), ids, sents, jnp.ones(vocab))
        for c in range(stream.num_calls(t.block_size)):
            p, state, _, _ = t.train(
                jax.random.key(2), p, state, stream, c * t.block_size, (0.0, 0.0)
            )
        return p, state

    (a, sa), (b, sb) = run(1), run(4)
    for x, y in zip(jax.tree.leaves((a, sa)), jax.tree.leaves((b, sb)), strict=True):
        np.testing.assert_array_equal(x, y)
    if optimizer == "adam":
        counts = [int(x) for x in jax.tree.leaves(sb) if np.ndim(x) == 0]
        assert counts and set(counts) == {5}, counts


def test_make_stream_shuffles_an_empty_corpus():
    empty = jnp.zeros(0, jnp.int32)
    for shuffle in (False, True):
        s = word2vec.make_stream(
            jax.random.key(0), empty, empty, jnp.ones(3), window=1, block_size=2,
            shuffle=shuffle,
        )  # fmt: skip
        assert int(s.num_tokens) == 0
        assert (np.asarray(s.tokens) == -1).all()


def train_on_topics(model, *, subwords=None, num_buckets=0, lr=0.05, epochs=4):
    """Trains on the planted-topic corpus; returns (vocab, params, losses)."""
    rng = np.random.default_rng(0)
    sentences = _topic_corpus(rng)
    vocab = jaxns.text.Vocabulary.build(sentences, min_count=1)
    enc = vocab.encode(sentences)
    table = None if subwords is None else subwords(vocab.words)
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(vocab.counts),
        learning_rate=optax.constant_schedule(lr), window=3, batch_size=64,
        chunk_size=8, negatives_per_chunk=8, steps_per_call=8, model=model,
        subwords=table,
    )  # fmt: skip
    if table is None:
        params = word2vec.init_params(jax.random.key(0), len(vocab), 16)
    else:
        params = word2vec.init_subword_params(
            jax.random.key(0), len(vocab), num_buckets, 16
        )
    state = trainer.init(params)
    keep_all = jaxns.text.keep_probability(vocab.counts, 0.0)
    stream = trainer.stream(jax.random.key(0), enc.ids, enc.sentence_ids, keep_all)
    losses = []
    for epoch in range(epochs):
        for c in range(stream.num_calls(trainer.block_size)):
            params, state, loss, num = trainer.train(
                jax.random.key(epoch), params, state, stream,
                c * trainer.block_size, (0.0, 1.0),
            )  # fmt: skip
            losses.append(float(loss) / int(num))
    return vocab, params, losses


def topic_purity(vocab, vectors):
    """Fraction of 5 nearest neighbours from the word's own planted topic."""
    topic = np.array([int(w[1:]) // 12 for w in vocab.words])
    nn = jaxns.evaluation.nearest_neighbors(
        np.asarray(vectors), vocab.words, list(vocab.words), k=5
    )
    return np.mean(
        [topic[vocab.index(w)] == topic[i] for i, row in enumerate(nn) for w, _ in row]
    )


def test_cbow_training_recovers_planted_topics():
    vocab, params, losses = train_on_topics("cbow")
    assert losses[-1] < 0.8 * losses[0]
    assert topic_purity(vocab, params.input) > 0.9  # chance is about 0.25


def _ones_probe() -> optax.GradientTransformation:
    """An 'optimizer' that turns every touched row's update into ones, so that
    a row's change reads back minus the learning rate of the update."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(jnp.ones_like, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def test_learning_rate_of_each_update_follows_gensims_linear_decay():
    """lr of update i of call c of epoch e, from gensim's formula in float64:
    alpha = lr - (lr - min_lr) * words / (epochs * raw_words), with the raw
    words of the update spread evenly over the call's updates."""
    vocab, dim, batch, steps, window = 64, 2, 4, 3, 1
    epochs, raw, lr, min_lr = 2, 1000, 0.025, 1e-4
    counts = np.zeros(vocab)
    counts[-1] = 1.0  # every negative is row vocab - 1, never a centre
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(counts),
        learning_rate=optax.linear_schedule(lr, min_lr, epochs * raw),
        optimizer=_ones_probe(), window=window, batch_size=batch, chunk_size=batch,
        negatives_per_chunk=2, steps_per_call=steps,
    )  # fmt: skip
    num_tokens = 2 * batch * steps  # two calls per epoch
    ids = np.arange(num_tokens, dtype=np.int32)  # every centre once per epoch
    stream = trainer.stream(
        jax.random.key(0), ids, np.zeros(num_tokens, np.int32), np.ones(vocab)
    )
    num_calls = stream.num_calls(trainer.block_size)
    assert num_calls == 2
    zeros = np.zeros((vocab, dim), np.float32)  # two buffers: both are donated
    params = word2vec.SkipGramParams(jnp.asarray(zeros), jnp.asarray(zeros))
    state = trainer.init(params)
    before = np.zeros((vocab, dim), np.float32)
    for epoch in range(epochs):
        for call in range(num_calls):
            progress = word2vec.call_progress(epoch, call, num_calls, raw)
            params, state, _, _ = trainer.train(
                jax.random.key(1), params, state, stream,
                call * trainer.block_size, progress,
            )  # fmt: skip
        after = np.asarray(params.output)
        # The output row of centre t changes only in the update that has t
        # among its centres: update g = t // batch of the epoch.
        g = ids // batch
        words = epoch * raw + raw * (g // steps + (g % steps) / steps) / num_calls
        alpha = lr - (lr - min_lr) * words / (epochs * raw)
        step = after[ids] - before[ids]
        assert_close(step, -np.repeat(alpha[:, None], dim, axis=1), loose=True)
        # Row vocab - 1 is every update's only negative: minus all their rates.
        per_update = alpha[::batch]
        assert len(per_update) == num_calls * steps
        assert_close((after - before)[-1], -np.full(dim, per_update.sum()), loose=True)
        before = after
    assert np.all(np.asarray(params.input)[num_tokens:] == 0)  # never touched


def _numpy_capped_sgd_step(u, v, tokens, sent, negs, red, window, k, lr, cap):
    """NumPy float64: per-occurrence SGNS gradients by pair enumeration, each
    table row moved by ``lr`` times the sum of its ``n`` occurrences'
    gradients times ``min(1, cap / n)`` (``cap = 1``: their mean)."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    num_chunks, chunk = red.shape
    kc = negs.shape[1]
    gu, gv = np.zeros_like(u), np.zeros_like(v)
    n_in, n_out = np.zeros(len(u)), np.zeros(len(v))
    for t in tokens[tokens >= 0]:
        n_in[t] += 1  # one row gradient per block position of the word
    for g in range(num_chunks):
        for n in negs[g]:
            n_out[n] += 1  # one per negative draw ...
        for c in range(chunk):
            p = window + g * chunk + c
            if tokens[p] < 0:
                continue
            n_out[tokens[p]] += 1  # ... and one per centre position
            for o in range(-(window - red[g, c]), window - red[g, c] + 1):
                q = p + o
                if o == 0 or tokens[q] < 0 or sent[q] != sent[p]:
                    continue
                x, y = u[tokens[q]], v[tokens[p]]
                d = -1.0 / (1.0 + np.exp(x @ y))  # d softplus(-s) / ds
                gu[tokens[q]] += d * y
                gv[tokens[p]] += d * x
                for n in negs[g]:
                    if n == tokens[p]:
                        continue  # skip_hits
                    d = (k / kc) / (1.0 + np.exp(-(x @ v[n])))
                    gu[tokens[q]] += d * v[n]
                    gv[n] += d * x
    u_new = u - lr * gu * np.minimum(1.0, cap / np.maximum(n_in, 1))[:, None]
    v_new = v - lr * gv * np.minimum(1.0, cap / np.maximum(n_out, 1))[:, None]
    return u_new, v_new


def _one_update_case(rng, sampler, vocab, dim, window, batch, chunk, kc, pads, seed):
    """Tables, one update's tokens (``pads`` positions padding) and the
    window and negative draws ``make_trainer`` makes for update 0 of
    ``jax.random.key(seed)``."""
    u0 = rng.normal(size=(vocab, dim)) * 0.5
    v0 = rng.normal(size=(vocab, dim)) * 0.5
    tokens = rng.integers(0, vocab, batch + 2 * window).astype(np.int32)
    tokens[list(pads)] = -1
    sent = np.cumsum(rng.random(batch + 2 * window) < 0.15).astype(np.int32)
    key = jax.random.key(seed)
    k_window, k_neg = jax.random.split(jax.random.fold_in(key, 0))
    red = np.asarray(
        jax.random.randint(k_window, (batch // chunk, chunk), 0, window, jnp.int32)
    )
    negs = np.asarray(sampler.sample(k_neg, (batch // chunk, kc)))
    return u0, v0, tokens, sent, key, red, negs


def _tables(u0, v0):
    return word2vec.SkipGramParams(
        jnp.asarray(u0, jnp.float32), jnp.asarray(v0, jnp.float32)
    )


@pytest.mark.parametrize(
    "optimizer,duplicate_rows", [(None, "mean"), ("adagrad", "mean"), (None, 3)]
)
def test_duplicate_rows_equal_numpy_averaged_update(optimizer, duplicate_rows):
    rng = np.random.default_rng(7)
    vocab, dim, window, batch, chunk, kc, lr = 6, 4, 2, 16, 4, 3, 0.05
    sampler = jaxns.samplers.uniform(vocab)
    tx = None if optimizer is None else optax.scale_by_rss(initial_accumulator_value=0)
    trainer = word2vec.make_trainer(
        sampler, learning_rate=optax.constant_schedule(lr), optimizer=tx,
        window=window, batch_size=batch, chunk_size=chunk, negatives_per_chunk=kc,
        steps_per_call=1, duplicate_rows=duplicate_rows,
    )  # fmt: skip
    # A small vocabulary: every row occurs several times in the batch.
    u0, v0, tokens, sent, key, red, negs = _one_update_case(
        rng, sampler, vocab, dim, window, batch, chunk, kc, pads=(0, 5, 11), seed=5
    )
    params = _tables(u0, v0)
    cap = 1 if duplicate_rows == "mean" else duplicate_rows
    u1, v1 = _numpy_capped_sgd_step(
        params.input, params.output, tokens, sent, negs, red, window, 5, lr, cap
    )
    if optimizer is not None:
        # Adagrad from a zero accumulator (optax's eps 1e-7 inside the root).
        mu, mv = (u0 - u1) / lr, (v0 - v1) / lr
        u1 = u0 - lr * mu / np.sqrt(mu**2 + 1e-7)
        v1 = v0 - lr * mv / np.sqrt(mv**2 + 1e-7)
    new, _, _, _ = trainer.train_arrays(
        params, trainer.init(params), jnp.asarray(tokens), jnp.asarray(sent), 0,
        key, jnp.float32(0), jnp.float32(1),
    )  # fmt: skip
    assert_close(new.input, u1, loose=True)
    assert_close(new.output, v1, loose=True)


@pytest.mark.parametrize(
    "max_row_rate,duplicate_rows,cap", [(0.075, "sum", 2.5), (0.075, 2, 2), (0.2, 3, 3)]
)
def test_max_row_rate_caps_each_rows_total_rate_as_numpy(
    max_row_rate, duplicate_rows, cap
):
    # lr(progress 5) = 0.03 on a linear decay: the cap in counts is
    # max_row_rate / 0.03, the smaller one with duplicate_rows.
    rng = np.random.default_rng(11)
    vocab, dim, window, batch, chunk, kc = 6, 4, 2, 16, 4, 3
    sampler = jaxns.samplers.uniform(vocab)
    trainer = word2vec.make_trainer(
        sampler, learning_rate=optax.linear_schedule(0.05, 0.01, 10),
        window=window, batch_size=batch, chunk_size=chunk, negatives_per_chunk=kc,
        steps_per_call=1, duplicate_rows=duplicate_rows, max_row_rate=max_row_rate,
    )  # fmt: skip
    u0, v0, tokens, sent, key, red, negs = _one_update_case(
        rng, sampler, vocab, dim, window, batch, chunk, kc, pads=(0, 7), seed=3
    )
    params = _tables(u0, v0)
    u1, v1 = _numpy_capped_sgd_step(
        params.input, params.output, tokens, sent, negs, red, window, 5, 0.03, cap
    )
    new, _, _, _ = trainer.train_arrays(
        params, trainer.init(params), jnp.asarray(tokens), jnp.asarray(sent), 0,
        key, jnp.float32(5), jnp.float32(6),
    )  # fmt: skip
    assert_close(new.input, u1, loose=True)
    assert_close(new.output, v1, loose=True)
    # Some rows were capped, others summed: the test tells the two apart.
    summed = word2vec.make_trainer(
        sampler, learning_rate=optax.linear_schedule(0.05, 0.01, 10),
        window=window, batch_size=batch, chunk_size=chunk, negatives_per_chunk=kc,
        steps_per_call=1,
    )  # fmt: skip
    params = _tables(u0, v0)  # the first call donated the tables
    plain, _, _, _ = summed.train_arrays(
        params, summed.init(params), jnp.asarray(tokens), jnp.asarray(sent), 0,
        key, jnp.float32(5), jnp.float32(6),
    )  # fmt: skip
    assert not np.allclose(np.asarray(plain.output), v1, atol=1e-4)


@pytest.mark.parametrize("value", [0.0, -0.1, float("inf")])
def test_max_row_rate_is_checked(value):
    with pytest.raises(ValueError, match="max_row_rate must be finite and > 0"):
        word2vec.make_trainer(
            jaxns.samplers.uniform(5), learning_rate=optax.constant_schedule(0.1),
            max_row_rate=value,
        )  # fmt: skip


@pytest.mark.parametrize(
    "value,error,match",
    [("max", ValueError, r"one of \('sum', 'mean'\)"), (0, ValueError, ">= 1"),
     (2.5, TypeError, "duplicate_rows")],
)  # fmt: skip
def test_duplicate_rows_is_checked(value, error, match):
    with pytest.raises(error, match=match):
        word2vec.make_trainer(
            jaxns.samplers.uniform(5), learning_rate=optax.constant_schedule(0.1),
            duplicate_rows=value,
        )  # fmt: skip


@pytest.mark.parametrize(
    "model, subwords, make",
    [
        ("skipgram", False, "make_trainer"),
        ("cbow", False, "make_trainer"),
        ("skipgram", True, "make_trainer"),
        ("cbow", False, "make_sharded_trainer"),
    ],
)
def test_compute_loss_false_returns_zero_loss_and_the_same_updates(
    model, subwords, make
):
    """Leaving the loss out changes no update: the tables after two calls
    equal those of the trainer that computes it, bitwise (the same ops for
    the gradients; only the loss's are dropped), the pair counts are the
    same, and the loss sum is 0 where the other trainer's is positive."""
    rng = np.random.default_rng(3)
    vocab, size = 30, 300
    ids = jnp.asarray(rng.zipf(1.6, size) % vocab, jnp.int32)
    sents = jnp.asarray(np.arange(size) // 17, jnp.int32)
    words = [f"w{i}" for i in range(vocab)]
    table = jaxns.subwords.subword_table(words, num_buckets=50) if subwords else None
    kw = dict(
        learning_rate=optax.linear_schedule(0.05, 0.01, float(size)),
        window=2, batch_size=32, chunk_size=8, negatives_per_chunk=4,
        steps_per_call=4, model=model, subwords=table,
    )  # fmt: skip
    if make == "make_sharded_trainer":
        kw["mesh"] = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    build = getattr(word2vec, make)
    sampler = jaxns.samplers.unigram(np.bincount(ids, minlength=vocab))
    results = []
    for compute_loss in (True, False):
        trainer = build(sampler, compute_loss=compute_loss, **kw)
        if subwords:
            params = word2vec.init_subword_params(jax.random.key(0), vocab, 50, 8)
        else:
            params = word2vec.init_params(jax.random.key(0), vocab, 8)
        start = np.asarray(jax.random.normal(jax.random.key(1), params.output.shape))
        params = word2vec.SkipGramParams(params.input, jnp.asarray(start))
        state = trainer.init(params)
        stream = trainer.stream(jax.random.key(2), ids, sents, jnp.ones(vocab))
        losses, pairs = [], []
        for c in range(2):
            params, state, loss, num = trainer.train(
                jax.random.key(4), params, state, stream, c * trainer.block_size,
                (c * 100.0, (c + 1) * 100.0),
            )  # fmt: skip
            losses.append(float(loss))
            pairs.append(int(num))
        results.append((params, losses, pairs))
    (with_loss, loss_on, pairs_on), (without, loss_off, pairs_off) = results
    assert min(loss_on) > 0 and loss_off == [0.0, 0.0]
    assert pairs_on == pairs_off and min(pairs_on) > 0
    np.testing.assert_array_equal(without.input, with_loss.input)
    np.testing.assert_array_equal(without.output, with_loss.output)
    assert np.max(np.abs(np.asarray(without.output) - start)) > 1e-3  # it trained
