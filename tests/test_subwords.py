# SPDX-License-Identifier: Apache-2.0
"""Tests of fastText subwords: n-grams, hashing, the subword trainer, the
subword-vectors object and Facebook fastText's .bin format (read by gensim)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_close
from test_word2vec import (
    _random_block,
    _scatter,
    reference_updates,
    topic_purity,
    train_on_topics,
)

import jaxns
from jaxns import subwords, word2vec, wordvectors

WORDS = ["where", "été", "hi", "a", "naïve", "日本語", "x" * 20, "aaaa", "c++"]


def _fnv1a_signed(data: bytes) -> int:
    """Facebook fastText's Dictionary::hash, written from its definition."""
    h = 2166136261
    for b in data:
        signed = b - 256 if b > 127 else b
        h = ((h ^ (signed % 2**32)) * 16777619) % 2**32
    return h


@pytest.mark.parametrize("word", WORDS)
def test_hash_is_fasttext_fnv1a_with_signed_bytes(word):
    for gram in subwords.char_ngrams(word, min_n=1, max_n=6):
        assert subwords.fasttext_hash(gram) == _fnv1a_signed(gram.encode())
    # Non-ASCII bytes sign-extend: textbook FNV-1a differs there.
    if any(ord(ch) > 127 for ch in word):
        h = 2166136261
        for b in word.encode():
            h = ((h ^ b) * 16777619) % 2**32
        assert subwords.fasttext_hash(word) != h


def test_char_ngrams_by_hand():
    assert subwords.char_ngrams("hi", min_n=3, max_n=6) == ["<hi", "<hi>", "hi>"]
    # one-character boundary markers alone are not n-grams (fastText)
    assert subwords.char_ngrams("ab", min_n=1, max_n=1) == ["a", "b"]
    assert subwords.char_ngrams("ab", min_n=3, max_n=0) == []


@pytest.mark.parametrize("word", WORDS)
def test_ngrams_and_buckets_equal_gensim(word):
    ft = pytest.importorskip("gensim.models.fasttext")
    inner = pytest.importorskip("gensim.models.fasttext_inner")
    expected = [g.decode() for g in inner.compute_ngrams_bytes(word, 3, 6)]
    assert subwords.char_ngrams(word, min_n=3, max_n=6) == expected
    for g in expected:
        assert subwords.fasttext_hash(g) == inner.ft_hash_bytes(g.encode())
    assert subwords.ngram_buckets(word, num_buckets=2_000_000) == (
        ft.ft_ngram_hashes(word, 3, 6, 2_000_000)
    )


def test_subword_table_layout():
    table = subwords.subword_table(WORDS, num_buckets=1000)
    vocab = len(WORDS)
    for i, word in enumerate(WORDS):
        row = table[i][table[i] >= 0]
        assert row[0] == i
        buckets = subwords.ngram_buckets(word, num_buckets=1000)
        assert row[1:].tolist() == [vocab + b for b in buckets]
    assert table.shape[1] == 1 + max(len(subwords.char_ngrams(w)) for w in WORDS)
    np.testing.assert_array_equal(
        subwords.subword_table(WORDS, num_buckets=0), np.arange(vocab)[:, None]
    )
    # An empty vocabulary: no rows, the one column of the word's own row.
    empty = subwords.subword_table([], num_buckets=1000)
    assert empty.shape == (0, 1) and empty.dtype == np.int32


@pytest.mark.parametrize(
    "fn,kwargs,error,match",
    [
        (subwords.char_ngrams, dict(word=3), TypeError, "word must be a str"),
        (subwords.char_ngrams, dict(word="a", min_n=0), ValueError, "min_n"),
        (subwords.fasttext_hash, dict(text=3), TypeError, "str or bytes"),
        (subwords.subword_table, dict(words="abc"), TypeError, "sequence of str"),
        (subwords.ngram_buckets, dict(word="a", num_buckets=0), ValueError,
         "num_buckets must be >= 1"),
    ],
)  # fmt: skip
def test_bad_arguments(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(**kwargs)


@pytest.mark.parametrize(
    "model,chunk,kc,skip_hits",
    [("skipgram", 4, 3, True), ("skipgram", 8, 8, False), ("cbow", 4, 3, True),
     ("cbow", 1, 5, False)],
)  # fmt: skip
def test_subword_block_gradients_equal_brute_force(model, chunk, kc, skip_hits):
    rng = np.random.default_rng(chunk + kc)
    window, vocab, dim, k, buckets = 3, 12, 4, 5, 7
    tokens, sent, negs, red = _random_block(rng, 3, chunk, window, vocab, kc)
    starts = tokens[window : window + 3 * chunk : chunk]
    negs[:, 0] = np.where(starts >= 0, starts, negs[:, 0])  # plant some hits
    words = [f"w{i}" + "x" * (i % 4) for i in range(vocab)]
    table = subwords.subword_table(words, min_n=2, max_n=4, num_buckets=buckets)
    with jax.enable_x64(True):
        u = rng.normal(size=(vocab + buckets, dim))
        v = rng.normal(size=(vocab, dim))
        g = word2vec.block_gradients(
            word2vec.SkipGramParams(jnp.asarray(u), jnp.asarray(v)), tokens, sent,
            negs, red, model=model, window=window, num_negatives=k,
            skip_hits=skip_hits, subwords=table,
        )  # fmt: skip
        loss, examples, du, dv = reference_updates(
            u, v, tokens, sent, negs, red, window, k, model=model,
            subwords=table, skip_hits=skip_hits,
        )  # fmt: skip
        assert_close(g.loss, loss)
        assert int(g.num_pairs) == examples
        assert_close(_scatter(u.shape, g.input_ids, g.input_grads), du)
        assert_close(_scatter(v.shape, g.output_ids, g.output_grads), dv)


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_subword_training_recovers_planted_topics(model):
    def table(words):
        return subwords.subword_table(words, min_n=3, max_n=4, num_buckets=500)

    vocab, params, losses = train_on_topics(
        model, subwords=table, num_buckets=500, lr=0.05
    )
    assert losses[-1] < 0.8 * losses[0]
    sv = wordvectors.SubwordVectors.from_input_table(
        vocab.words, np.asarray(params.input), min_n=3, max_n=4
    )
    assert topic_purity(vocab, sv.vectors) > 0.9  # chance is about 0.25


def _random_model(rng, words, buckets=50, dim=5):
    counts = np.arange(len(words), 0, -1) * 3
    inp = rng.normal(size=(len(words) + buckets, dim)).astype(np.float32)
    out = rng.normal(size=(len(words), dim)).astype(np.float32)
    return counts, inp, out


def test_subword_vectors_compose_in_and_out_of_vocabulary():
    rng = np.random.default_rng(0)
    words = ["where", "here", "été"]
    _, inp, _ = _random_model(rng, words)
    sv = wordvectors.SubwordVectors.from_input_table(words, inp, min_n=3, max_n=6)
    for i, w in enumerate(words):
        rows = [i] + [3 + b for b in subwords.ngram_buckets(w, num_buckets=50)]
        assert_close(sv[w], inp[rows].astype(np.float64).mean(0).astype(np.float32))
    oov = [3 + b for b in subwords.ngram_buckets("there", num_buckets=50)]
    assert_close(sv["there"], inp[oov].astype(np.float64).mean(0).astype(np.float32))
    assert "there" not in sv and "here" in sv
    # most_similar of an OOV word ranks the vocabulary by cosine
    wide, there = sv.vectors.astype(np.float64), sv["there"].astype(np.float64)
    unit = wide / np.linalg.norm(wide, axis=1, keepdims=True)
    cos = unit @ (there / np.linalg.norm(there))
    got = sv.most_similar("there", topn=3)
    assert [w for w, _ in got] == [words[i] for i in np.argsort(-cos)]
    assert_close(np.array([c for _, c in got], np.float32), np.sort(cos)[::-1])
    # an in-vocabulary query is left out of its own neighbours
    assert "here" not in [w for w, _ in sv.most_similar("here", topn=2)]
    # the trainer's table given instead of hashed again: the same vectors
    table = subwords.subword_table(words, num_buckets=50)
    given = wordvectors.SubwordVectors.from_input_table(words, inp, subwords=table)
    np.testing.assert_array_equal(given.vectors, sv.vectors)
    shuffled = wordvectors.SubwordVectors.from_input_table(
        words, inp, subwords=table[::-1]
    )
    assert not np.array_equal(shuffled.vectors, sv.vectors)  # it is read, not ignored
    # A compact trainer's CompactSubwords: mapped back to the full rows.
    compact = subwords.compact_table(table)
    assert not np.array_equal(compact.table, table)
    given = wordvectors.SubwordVectors.from_input_table(words, inp, subwords=compact)
    np.testing.assert_array_equal(given.vectors, sv.vectors)
    for kwargs, error, match in [
        (dict(min_n=2.7), TypeError, "min_n must be a Python int"),
        (dict(min_n=0), ValueError, "min_n must be >= 1, got 0"),
        (dict(max_n="6"), TypeError, "max_n must be a Python int"),
    ]:
        with pytest.raises(error, match="wordvectors.SubwordVectors: " + match):
            wordvectors.SubwordVectors.from_input_table(words, inp, **kwargs)
    for bad, error, match in [
        (table[:2], ValueError, "subwords must have shape \\[3, \\?\\]"),
        (table.astype(float), TypeError, "subwords must be an integer array"),
        (table + 60, ValueError, "subwords must hold row ids"),
    ]:
        with pytest.raises(error, match=match):
            wordvectors.SubwordVectors.from_input_table(words, inp, subwords=bad)


@pytest.mark.parametrize("query", ["b", "c", "d", "vector"])
def test_most_similar_is_cosine_for_long_and_short_vectors(query):
    """Cosines of rows whose squares overflow (1e20) or underflow (3e-30)
    float32 equal a float64 NumPy reference; ties keep the vocabulary's
    order; an in-vocabulary query is left out, as gensim does."""
    rows = np.array(
        [[1e20, 0, 0], [1, 0, 0], [3e-30, 3e-30, 0], [0, 0, -2e19], [2, 2, 0]],
        np.float32,
    )
    words = ["a", "b", "c", "d", "e"]
    sv = wordvectors.SubwordVectors(words, rows, np.zeros((0, 3)))
    vector = np.array([0.0, 1e25, 0.0], np.float32)
    q = vector if query == "vector" else rows[words.index(query)]
    wide = rows.astype(np.float64)
    cos = wide @ q / (np.linalg.norm(wide, axis=1) * np.linalg.norm(q.astype(float)))
    order = [i for i in np.argsort(-cos, kind="stable") if words[i] != query]
    got = sv.most_similar(vector if query == "vector" else query, topn=5)
    assert [w for w, _ in got] == [words[i] for i in order]
    assert_close(np.array([c for _, c in got], np.float32), cos[order])


def test_subword_vectors_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    words = ["alpha", "beta"]
    _, inp, _ = _random_model(rng, words, buckets=9)
    sv = wordvectors.SubwordVectors.from_input_table(words, inp, min_n=2, max_n=5)
    sv.save(tmp_path / "sv.npz")
    back = wordvectors.SubwordVectors.load(tmp_path / "sv.npz")
    assert back.words == words and (back.min_n, back.max_n) == (2, 5)
    np.testing.assert_array_equal(back.vectors, sv.vectors)
    np.testing.assert_array_equal(back["gamma"], sv["gamma"])


@pytest.mark.parametrize(
    "words", [["a\x00", "\x00b", "c\x00\x00"], ["日本", "🙂"], ["solo"], []]
)
def test_subword_vectors_save_load_keeps_every_word(tmp_path, words):
    """Words come back exactly (NumPy str arrays drop trailing NULs), and so
    do their vectors, which hash the words' n-grams."""
    rng = np.random.default_rng(3)
    _, inp, _ = _random_model(rng, words, buckets=13)
    sv = wordvectors.SubwordVectors.from_input_table(words, inp, min_n=1, max_n=3)
    sv.save(tmp_path / "sv.npz")
    back = wordvectors.SubwordVectors.load(tmp_path / "sv.npz")
    assert back.words == words
    np.testing.assert_array_equal(back.vectors, sv.vectors)


def test_subword_vectors_load_reads_files_with_a_str_array_of_words(tmp_path):
    rows = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    np.savez(
        tmp_path / "old.npz", words=np.array(["ab", "c"]), word_rows=rows[:2],
        ngram_rows=rows[2:], ngram_lengths=np.array([1, 2]),
    )  # fmt: skip
    back = wordvectors.SubwordVectors.load(tmp_path / "old.npz")
    assert back.words == ["ab", "c"] and (back.min_n, back.max_n) == (1, 2)
    np.testing.assert_array_equal(back.word_rows, rows[:2])


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_fasttext_bin_loads_in_gensim_with_the_same_vectors(tmp_path, model):
    ft = pytest.importorskip("gensim.models.fasttext")
    rng = np.random.default_rng(2)
    words = ["the", "où", "where", "here", "naïve", "c++", "日本"]
    counts, inp, out = _random_model(rng, words, buckets=101, dim=6)
    path = tmp_path / "model.bin"
    wordvectors.save_fasttext_format(
        path, words, counts, inp, out, min_n=3, max_n=6, model=model
    )
    sv = wordvectors.SubwordVectors.from_input_table(words, inp)
    loaded = ft.load_facebook_model(str(path))
    assert list(loaded.wv.index_to_key) == words
    assert loaded.sg == int(model == "skipgram") and loaded.wv.bucket == 101
    for w in [*words, "there", "naïvely", "日本語", "zz"]:
        assert_close(np.asarray(loaded.wv[w], np.float32), sv[w], loose=True)
    np.testing.assert_array_equal(loaded.syn1neg, out)
    # and our own reader gives back what was written
    back = wordvectors.load_fasttext_format(path)
    assert back.words == words
    np.testing.assert_array_equal(back.ngram_rows, inp[len(words) :])


@pytest.mark.parametrize(("min_n", "max_n"), [(3, 0), (4, 3)])
def test_fasttext_bin_without_ngrams_loads_in_gensim(tmp_path, min_n, max_n):
    """No n-grams: no bucket rows are written (fastText's -maxn 0), so gensim
    reads the model (it refused one with bucket rows) and the vectors agree."""
    ft = pytest.importorskip("gensim.models.fasttext")
    rng = np.random.default_rng(5)
    words = ["the", "où", "日本"]
    counts, inp, out = _random_model(rng, words, buckets=11, dim=4)
    path = tmp_path / "model.bin"
    wordvectors.save_fasttext_format(
        path, words, counts, inp, out, min_n=min_n, max_n=max_n
    )
    loaded = ft.load_facebook_model(str(path))
    assert list(loaded.wv.index_to_key) == words and loaded.wv.bucket == 0
    back = wordvectors.load_fasttext_format(path)
    assert back.num_buckets == 0 and (back.min_n, back.max_n) == (min_n, max_n)
    for i, w in enumerate(words):
        np.testing.assert_array_equal(loaded.wv[w], inp[i])
        np.testing.assert_array_equal(back[w], inp[i])
    np.testing.assert_array_equal(back["unseen"], np.zeros(4, np.float32))


def test_fasttext_bin_reads_gensims_own_files(tmp_path):
    ft = pytest.importorskip("gensim.models.fasttext")
    sentences = [["where", "here", "there", "été"], ["here", "where", "naïve"]] * 5
    model = ft.FastText(
        sentences, vector_size=8, min_count=1, bucket=97, epochs=1, workers=1, seed=1
    )
    ft.save_facebook_model(model, str(tmp_path / "g.bin"))
    sv = wordvectors.load_fasttext_format(tmp_path / "g.bin")
    assert sv.words == list(model.wv.index_to_key)
    for w in ["where", "été", "nowhere", "x"]:
        assert_close(sv[w], np.asarray(model.wv[w], np.float32), loose=True)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(counts=[1]), ValueError, "counts must have shape"),
        (dict(counts=[2.5, 1.0]), TypeError, "counts must be an integer array"),
        (dict(counts=[-3, 2]), ValueError, "counts must be non-negative, got -3"),
        (dict(output_table=np.zeros((2, 3))), ValueError,
         "output_table must have shape"),
        (dict(model="sg"), ValueError, "model must be one of"),
        (dict(input_table=np.full((5, 4), np.nan)), ValueError, "the tables hold NaN"),
        (dict(output_table=np.full((2, 4), 1e39)), ValueError,
         r"the tables hold NaN .*past float32's range"),
        (dict(min_n=0), ValueError, "min_n must be >= 1, got 0"),
        (dict(max_n=-1), ValueError, "max_n must be >= 0, got -1"),
        (dict(window=2.5), TypeError, "window must be a Python int"),
        (dict(num_negatives=0), ValueError, "num_negatives must be >= 1"),
        (dict(epochs=0), ValueError, "epochs must be >= 1"),
        (dict(sample=-1.0), ValueError, "sample must be finite and >= 0"),
    ],
)  # fmt: skip
def test_save_fasttext_format_rejects_bad_input(tmp_path, kwargs, error, match):
    args = dict(
        path=tmp_path / "m.bin", words=["a", "b"], counts=[2, 1],
        input_table=np.zeros((5, 4)), output_table=np.zeros((2, 4)),
    ) | kwargs  # fmt: skip
    with pytest.raises(error, match="wordvectors.save_fasttext_format: " + match):
        wordvectors.save_fasttext_format(**args)
    assert not (tmp_path / "m.bin").exists()


def test_load_fasttext_format_names_a_truncated_file(tmp_path):
    """Every cut of a valid file raises a ValueError naming the function and
    the file; none loads (the output matrix's end is checked too)."""
    path = tmp_path / "m.bin"
    rng = np.random.default_rng(3)
    words = ["où", "b"]
    counts, inp, out = _random_model(rng, words, buckets=5, dim=3)
    wordvectors.save_fasttext_format(path, words, counts, inp, out, min_n=1, max_n=2)
    data = path.read_bytes()
    assert wordvectors.load_fasttext_format(path).words == words
    cut = tmp_path / "cut.bin"
    for end in range(len(data)):
        cut.write_bytes(data[:end])
        with pytest.raises(ValueError, match=r"load_fasttext_format: .*cut\.bin"):
            wordvectors.load_fasttext_format(cut)
    # A header whose n-gram sizes are impossible is named as corrupt.
    bad = bytearray(data)
    bad[4 * 11 : 4 * 12] = (0).to_bytes(4, "little", signed=True)  # minn
    cut.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="corrupt header .*minn 0"):
        wordvectors.load_fasttext_format(cut)


def test_subword_trainer_param_init_bounds():
    p = word2vec.init_subword_params(jax.random.key(0), 7, 30, 8)
    assert p.input.shape == (37, 8) and p.output.shape == (7, 8)
    assert float(jnp.abs(p.input).max()) <= 1 / 8 and not jnp.any(p.output)


def test_subword_init_is_uniform_and_depends_on_the_key():
    """Chi-squared over 50 bins (fixed keys), lag-1 and column correlations."""
    dim = 10
    x = np.asarray(word2vec.init_subword_params(jax.random.key(3), 100, 9900, dim)[0])
    assert np.abs(x).max() <= 1 / dim
    observed = np.histogram(x, bins=50, range=(-1 / dim, 1 / dim))[0]
    expected = x.size / 50
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 85.4  # the 0.999 quantile of chi-squared with 49 dof
    flat = x.reshape(-1)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.01  # 5 sigma: 0.005
    assert np.abs(np.corrcoef(x.T) - np.eye(dim)).max() < 0.05
    y = np.asarray(word2vec.init_subword_params(jax.random.key(4), 100, 9900, dim)[0])
    assert abs(np.corrcoef(flat, y.reshape(-1))[0, 1]) < 0.01
    again = word2vec.init_subword_params(jax.random.key(3), 100, 9900, dim)[0]
    np.testing.assert_array_equal(np.asarray(again), x)


@pytest.mark.parametrize(
    "model,subword_rows,duplicate_rows",
    [("skipgram", 4, "sum"), ("skipgram", None, "sum"), ("cbow", 7, "sum"),
     ("cbow", None, "sum"), ("skipgram", 10_000, "sum"), ("cbow", None, 100)],
)  # fmt: skip
def test_packed_subword_sgd_steps_equal_brute_force(
    model, subword_rows, duplicate_rows
):
    """Two fused SGD updates of the trainer (packed subword rows, some blocks
    spread over several pages, repeated words gathered once) against float64
    brute force, step by step. A cap of 100 row gradients per update never
    binds here: it only switches the per-word gathering off.

    No draw is redone the library's way: window 1 leaves no reduction to draw,
    and a sampler with one nonzero count draws that id only.
    """
    rng = np.random.default_rng(5)
    vocab, dim, window, batch, chunk, kc, k, lr, buckets = 9, 4, 1, 8, 4, 3, 5, 0.05, 11
    words = [f"w{i}" + "yz" * (i % 3) for i in range(vocab)]
    table = subwords.subword_table(words, min_n=2, max_n=3, num_buckets=buckets)
    counts = np.zeros(vocab)
    counts[7] = 1.0
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(counts), learning_rate=optax.constant_schedule(lr),
        window=window, num_negatives=k, batch_size=batch, chunk_size=chunk,
        negatives_per_chunk=kc, steps_per_call=2, model=model, subwords=table,
        subword_rows=subword_rows, duplicate_rows=duplicate_rows,
    )  # fmt: skip
    u = rng.normal(size=(vocab + buckets, dim))
    v = rng.normal(size=(vocab, dim))
    n = 2 * batch + 2 * window
    tokens = rng.integers(0, vocab, n).astype(np.int32)
    tokens[:window] = -1
    tokens[-window:] = -1
    tokens[5] = -1
    sent = (np.arange(n) // 5).astype(np.int32)
    negs = np.full((batch // chunk, kc), 7, np.int32)
    red = np.zeros((batch // chunk, chunk), np.int32)
    params = word2vec.SkipGramParams(
        jnp.asarray(u, jnp.float32), jnp.asarray(v, jnp.float32)
    )
    before = (u, v)
    for step in range(2):
        block = slice(step * batch, step * batch + batch + 2 * window)
        _, _, du, dv = reference_updates(
            u, v, tokens[block], sent[block], negs, red, window, k, model=model,
            subwords=table,
        )  # fmt: skip
        u, v = u - lr * du, v - lr * dv
    stream = word2vec.Stream(jnp.asarray(tokens), jnp.asarray(sent), jnp.int32(n))
    again = jax.tree.map(jnp.copy, params)  # train donates params
    new, _, loss, num = trainer.train(
        jax.random.key(3), params, trainer.init(params), stream, 0, (0.0, 1.0)
    )
    assert_close(new.input, u, loose=True)
    assert_close(new.output, v, loose=True)
    assert int(num) > 0
    # train_touched: the same update, and the rows it wrote marked (OR-ed
    # into the given masks): exactly the rows brute force changes, here.
    marked = word2vec.SkipGramParams(
        jnp.zeros(vocab + buckets, bool).at[0].set(True), jnp.zeros(vocab, bool)
    )
    out = trainer.train_touched(
        again, trainer.init(again), marked, stream.tokens, stream.sentence_ids, 0,
        jax.random.key(3), 0.0, 1.0,
    )  # fmt: skip
    np.testing.assert_array_equal(out[0].input, new.input)
    np.testing.assert_array_equal(out[0].output, new.output)
    for t, (ref, old, mask) in enumerate(zip((u, v), before, out[2], strict=True)):
        changed = np.any(ref != old, axis=1)
        if t == 0:
            changed[0] = True  # marked before the call
        np.testing.assert_array_equal(np.asarray(mask), changed)
    assert float(out[3]) == float(loss) and int(out[4]) == int(num)


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(subword_rows=0), "subword_rows must be >= 1"),
     (dict(subword_rows=10, duplicate_rows=8), "subword_rows must be >= "),
     (dict(subword_rows=10, optimizer=optax.scale_by_rss()),
      "subword_rows must be >= "),
     (dict(subword_rows=10, subwords=None), "subword_rows needs subwords")],
)  # fmt: skip
def test_subword_rows_is_checked(kwargs, match):
    table = subwords.subword_table(["ab", "c"], min_n=2, max_n=3, num_buckets=5)
    args = dict(
        learning_rate=optax.constant_schedule(0.1), window=1, batch_size=4,
        chunk_size=4, negatives_per_chunk=2, subwords=table,
    ) | kwargs  # fmt: skip
    with pytest.raises(ValueError, match=match):
        word2vec.make_trainer(jaxns.samplers.uniform(2), **args)


def test_compact_table_by_hand():
    """Every id renumbered by first use (row-major), padding and the words'
    own rows kept, and ``rows`` mapping each compact row back."""
    table = np.array([[0, 9, 12, -1], [1, 12, 5, 9], [2, -1, -1, -1], [3, 7, 7, 14]])
    c = subwords.compact_table(table)
    np.testing.assert_array_equal(
        c.table, [[0, 4, 5, -1], [1, 5, 6, 4], [2, -1, -1, -1], [3, 7, 7, 8]]
    )
    np.testing.assert_array_equal(c.rows, [0, 1, 2, 3, 9, 12, 5, 7, 14])
    assert c.table.dtype == np.int32 and c.rows.dtype == np.int32


def test_compact_table_of_a_real_vocabulary():
    """The compact ids point back at the same full rows; used buckets only."""
    words = [f"{w}{i}" for i in range(40) for w in ("where", "naïve")] + WORDS
    table = subwords.subword_table(words, num_buckets=100_000)
    c = subwords.compact_table(table)
    ok = table >= 0
    np.testing.assert_array_equal(c.table >= 0, ok)
    np.testing.assert_array_equal(c.rows[c.table[ok]], table[ok])
    used = np.unique(table[ok])
    assert len(c.rows) == used.size and set(c.rows.tolist()) == set(used.tolist())
    assert len(c.rows) < len(words) + 100_000


def test_init_subword_params_rows_are_the_full_tables_rows():
    key = jax.random.key(7)
    full = word2vec.init_subword_params(key, 30, 500, 6)
    rows = np.array([0, 29, 30, 529, 300, 300, 1])
    part = word2vec.init_subword_params(key, 30, 500, 6, rows=rows)
    np.testing.assert_array_equal(np.asarray(part.input), np.asarray(full.input)[rows])
    np.testing.assert_array_equal(np.asarray(part.output), np.asarray(full.output))
    half = word2vec.init_subword_params(key, 30, 500, 6, dtype=jnp.bfloat16, rows=rows)
    assert half.input.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "model,optimizer", [("skipgram", None), ("cbow", None), ("skipgram", "adam")]
)
def test_training_the_compact_table_equals_training_the_full_one(model, optimizer):
    """Same vectors, renumbered: the compact table's trained rows written
    back equal the full table trained directly, and the buckets no word
    uses keep their initial values."""
    rng = np.random.default_rng(2)
    vocab, dim, buckets = 60, 8, 5_000
    words = ["".join(rng.choice(list("abcdefgh"), rng.integers(1, 9))) + str(i)
             for i in range(vocab)]  # fmt: skip
    table = subwords.subword_table(words, min_n=2, max_n=4, num_buckets=buckets)
    compact = subwords.compact_table(table)
    counts = rng.integers(1, 50, vocab).astype(np.float64)
    tokens = rng.integers(0, vocab, 3_000).astype(np.int32)
    sent = (np.arange(tokens.size) // 11).astype(np.int32)
    key = jax.random.key(1)

    def trained(ids, rows):
        trainer = word2vec.make_trainer(
            jaxns.samplers.unigram(counts), learning_rate=optax.constant_schedule(0.1),
            window=2, batch_size=32, chunk_size=8, negatives_per_chunk=8,
            steps_per_call=4, model=model, subwords=ids,
            optimizer=None if optimizer is None else optax.scale_by_adam(),
        )  # fmt: skip
        params = word2vec.init_subword_params(key, vocab, buckets, dim, rows=rows)
        state = trainer.init(params)
        keep = jaxns.text.keep_probability(counts, 0.0)
        stream = trainer.stream(key, tokens, sent, keep)
        for c in range(stream.num_calls(trainer.block_size)):
            params, state, loss, num = trainer.train(
                key, params, state, stream, c * trainer.block_size, (0.0, 1.0)
            )
        return params

    full = trained(table, None)
    small = trained(compact.table, compact.rows)
    assert small.input.shape == (len(compact.rows), dim)
    start = word2vec.init_subword_params(key, vocab, buckets, dim)
    back = compact.expand(small.input, start.input)
    donated = compact.expand(
        small.input, word2vec.init_subword_params(key, vocab, buckets, dim).input,
        donate=True,
    )  # fmt: skip
    np.testing.assert_array_equal(np.asarray(donated), np.asarray(back))
    # The same ops on the same values, renumbered: bit for bit.
    np.testing.assert_array_equal(np.asarray(back), np.asarray(full.input))
    np.testing.assert_array_equal(np.asarray(small.output), np.asarray(full.output))
    unused = np.setdiff1d(np.arange(vocab + buckets), compact.rows)
    moved = np.abs(np.asarray(full.input) - np.asarray(start.input)).max(axis=1)
    assert moved[compact.rows[vocab:]].min() > 0 and not moved[unused].any()


@pytest.mark.parametrize(
    "call,error,match",
    [(lambda: subwords.compact_table(np.zeros((2, 3))), TypeError, "integer"),
     (lambda: subwords.compact_table(np.arange(3)), ValueError, "must be 2-D"),
     (lambda: subwords.compact_table(np.array([[1, 5], [0, 6]])), ValueError,
      "start row i with i"),
     (lambda: subwords.compact_table(np.array([[0, -2]])), ValueError, ">= 0 or -1"),
     (lambda: subwords.compact_table(np.array([[0, 4]])).expand(
         np.zeros((3, 2)), np.zeros((9, 2))), ValueError, "len\\(rows\\) = 2"),
     (lambda: subwords.compact_table(np.array([[0, 4]])).expand(
         np.zeros((2, 2)), np.zeros((4, 2))), ValueError, "more than max\\(rows\\)"),
     (lambda: word2vec.init_subword_params(jax.random.key(0), 3, 4, 2, rows=[7]),
      ValueError, "rows must hold row ids in \\[0, 7\\)"),
     (lambda: word2vec.init_subword_params(jax.random.key(0), 3, 4, 2, rows=[0.5]),
      TypeError, "rows must be an integer array")],
)  # fmt: skip
def test_compact_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_default_subword_rows_weights_the_words_by_the_sampler():
    """The default first page: (batch + 2W) times the mean rows of a word,
    weighted by the sampler's distribution (by word for an object that is
    not a Sampler), rounded up to a multiple of 64; with an optimizer, the
    padded block."""
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdef"), rng.integers(1, 12))) + str(i)
             for i in range(50)]  # fmt: skip
    table = subwords.subword_table(words, min_n=2, max_n=4, num_buckets=999)
    rows = (table >= 0).sum(axis=1).astype(np.float64)
    # Frequent short words, as in text: the weighted mean is smaller.
    counts = np.where(rows < np.median(rows), 1000.0, 1.0)
    kw = dict(learning_rate=optax.constant_schedule(0.1), subwords=table,
              batch_size=16, chunk_size=8, window=3)  # fmt: skip

    def expected(weights):
        per_block = 22 * float(weights @ rows) / weights.sum()
        return 64 * int(np.ceil(per_block / 64))

    p = counts**0.75
    assert expected(p) < expected(np.ones(50))
    trainer = word2vec.make_trainer(jaxns.samplers.unigram(counts), **kw)
    assert trainer.subword_rows == expected(p)
    trainer = word2vec.make_trainer(jaxns.samplers.uniform(50), **kw)
    assert trainer.subword_rows == expected(np.ones(50))
    # A user's sampler that is not a jaxns Sampler is weighted by word.
    uniform = jaxns.samplers.uniform(50)
    user = type("UserSampler", (), {"sample": staticmethod(uniform.sample)})()
    trainer = word2vec.make_trainer(user, **kw)
    assert trainer.subword_rows == expected(np.ones(50))
    # A Sampler over another number of ids than words is refused.
    with pytest.raises(ValueError, match="draws among 60 ids, but subwords has 50"):
        word2vec.make_trainer(jaxns.samplers.unigram(np.ones(60)), **kw)
    trainer = word2vec.make_trainer(
        jaxns.samplers.unigram(counts), optimizer=optax.scale_by_adam(), **kw
    )
    assert trainer.subword_rows == 22 * table.shape[1]
    assert (
        word2vec.make_trainer(
            jaxns.samplers.unigram(counts), learning_rate=optax.constant_schedule(0.1)
        ).subword_rows
        is None
    )


@pytest.mark.parametrize("sharded", [False, True], ids=["make_trainer", "sharded"])
def test_trainers_refuse_tables_that_do_not_fit_the_subwords(sharded):
    """A table too small for the subword ids, or an output table of another
    vocabulary, would clamp reads and drop updates: init and train refuse."""
    words = ["ab", "abc", "bcd", "cd"]
    table = subwords.subword_table(words, min_n=2, max_n=3, num_buckets=50)
    top = int(table.max())
    make, kw = word2vec.make_trainer, {}
    if sharded:  # on a one-device mesh
        make = word2vec.make_sharded_trainer
        kw["mesh"] = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    trainer = make(
        jaxns.samplers.uniform(4), learning_rate=optax.constant_schedule(0.1),
        subwords=table, batch_size=4, chunk_size=2, window=1, **kw,
    )  # fmt: skip
    key = jax.random.key(0)
    good = word2vec.init_subword_params(key, 4, 50, 3)
    state = trainer.init(good)
    ids = jnp.asarray(np.arange(12) % 4, jnp.int32)
    stream = trainer.stream(key, ids, jnp.zeros(12, jnp.int32), jnp.ones(4))
    bad = [
        (word2vec.SkipGramParams(good.input[: top - 3], good.output),
         f"at least {top + 1} rows"),
        (word2vec.SkipGramParams(good.input, good.output[:3]),
         r"one row per word of subwords, \[4, dim\], got \(3, 3\)"),
    ]  # fmt: skip
    for params, match in bad:
        with pytest.raises(ValueError, match=match):
            trainer.init(params)
        with pytest.raises(ValueError, match=match):
            trainer.train(key, params, state, stream, 0, (0.0, 1.0))
    trainer.train(key, good, state, stream, 0, (0.0, 1.0))  # fits


def test_rows_per_block_by_hand_and_bad_input():
    # Rows per word: "a" has 2 ("a", "<a>"), "abcdef" 19.
    table = subwords.subword_table(["a", "abcdef"], num_buckets=10)
    np.testing.assert_array_equal((table >= 0).sum(axis=1), [2, 19])
    # 8 positions x 10.5 = 84 -> 128; x (9*2 + 19)/10 = 3.7 -> 29.6 -> 30.
    assert subwords.rows_per_block(table, batch_size=6, window=1) == 128
    weighted = subwords.rows_per_block(
        table, np.array([9.0, 1.0]), batch_size=6, window=1, multiple=1
    )
    assert weighted == 30
    bad = [
        (dict(weights=np.array([1.0, np.nan])), ValueError, "weights must be finite"),
        (dict(weights=np.array([1.0, -1.0])), ValueError, "non-negative"),
        (dict(weights=np.ones(3)), ValueError, r"weights must have shape \[2\]"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(multiple=0), ValueError, "multiple"),
    ]
    for kwargs, error, match in bad:
        kw = dict(batch_size=6, window=1) | kwargs
        with pytest.raises(error, match=f"subwords.rows_per_block: .*{match}"):
            subwords.rows_per_block(table, **kw)
    with pytest.raises(TypeError, match="subwords.rows_per_block: subwords"):
        subwords.rows_per_block(table.astype(np.float32), batch_size=6, window=1)
