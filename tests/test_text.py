# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.text against NumPy float64 / brute-force references."""

import collections

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxns import text

SENTENCES = [
    "the cat sat on the mat".split(),
    "the dog sat on the log".split(),
    "a cat and a dog".split(),
    "the end".split(),
]


def test_vocabulary_counts_order_and_min_count():
    vocab = text.Vocabulary.build(SENTENCES, min_count=2)
    counts = collections.Counter(w for s in SENTENCES for w in s)
    expected = [w for w, c in counts.items() if c >= 2]
    # decreasing count, ties in order of first appearance
    expected.sort(key=lambda w: -counts[w])
    assert list(vocab.words) == expected
    assert vocab.counts.tolist() == [counts[w] for w in expected]
    assert vocab.words[0] == "the" and vocab.index("the") == 0
    assert "mat" not in vocab and "cat" in vocab
    assert len(vocab) == len(expected)


def test_vocabulary_max_size_and_round_trip(tmp_path):
    vocab = text.Vocabulary.build(SENTENCES, min_count=1, max_size=3)
    assert len(vocab) == 3
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    loaded = text.Vocabulary.load(path)
    assert loaded.words == vocab.words
    np.testing.assert_array_equal(loaded.counts, vocab.counts)


_BAD_VOCABULARY = [
    # (what, call, error, message)
    ("empty corpus", lambda: text.Vocabulary.build([[], []]), ValueError,
     "text.Vocabulary.build: the corpus is empty"),
    ("no word frequent enough", lambda: text.Vocabulary.build(SENTENCES, min_count=10),
     ValueError, "min_count=10 times .*Lower min_count"),
    ("min_count 0", lambda: text.Vocabulary.build(SENTENCES, min_count=0),
     ValueError, "text.Vocabulary.build: min_count must be >= 1, got 0"),
    ("min_count float", lambda: text.Vocabulary.build(SENTENCES, min_count=2.0),
     TypeError, "text.Vocabulary.build: min_count must be a Python int"),
    ("max_size 0", lambda: text.Vocabulary.build(SENTENCES, max_size=0),
     ValueError, "text.Vocabulary.build: max_size must be >= 1, got 0"),
    ("max_size negative", lambda: text.Vocabulary.build(SENTENCES, max_size=-2),
     ValueError, "text.Vocabulary.build: max_size must be >= 1, got -2"),
    ("max_size float", lambda: text.Vocabulary.build(SENTENCES, max_size=3.0),
     TypeError, "text.Vocabulary.build: max_size must be a Python int"),
    ("duplicate words", lambda: text.Vocabulary(["a", "a"], [1, 1]), ValueError,
     "text.Vocabulary: words must not repeat an entry, got 'a' again at index 1"),
    ("counts too short", lambda: text.Vocabulary(["a", "b"], [1]), ValueError,
     r"text.Vocabulary: counts must have shape \[2\], got \(1,\)"),
    ("negative count", lambda: text.Vocabulary(["a", "b"], [1, -1]), ValueError,
     "counts must be non-negative, got -1 at index 1"),
    ("float counts", lambda: text.Vocabulary(["a"], [1.5]), TypeError,
     "counts must be an integer array"),
    ("a word that is not a str", lambda: text.Vocabulary(["a", 3], [1, 1]),
     TypeError, r"words\[1\] must be a str"),
    ("lines, not lists of words", lambda: text.Vocabulary.build(["the cat", "a"]),
     TypeError, "build: each sentence must be a sequence of words .* 'the cat'"),
    ("lines from a generator", lambda: text.Vocabulary.build(
        line for line in ["the cat"]), TypeError, "first sentence: 'the cat'"),
    ("one str", lambda: text.Vocabulary.build("the cat"), TypeError,
     "build: sentences must be an iterable of sentences.* got one str"),
    ("encode lines", lambda: text.Vocabulary(["a"], [1]).encode(["a b"]),
     TypeError, "encode: each sentence must be a sequence of words"),
    ("encode one str", lambda: text.Vocabulary(["a"], [1]).encode("a"),
     TypeError, "encode: sentences must be an iterable of sentences"),
]  # fmt: skip


@pytest.mark.parametrize(
    "call,error,match",
    [c[1:] for c in _BAD_VOCABULARY],
    ids=[c[0] for c in _BAD_VOCABULARY],
)
def test_vocabulary_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("word", ["new york", "a\xa0b", "x\x1cy", "", "two\nlines"])
def test_vocabulary_save_refuses_words_it_could_not_read_back(tmp_path, word):
    path = tmp_path / "vocab.txt"
    with pytest.raises(ValueError, match=r"save: words\[0\] must be a non-empty"):
        text.Vocabulary([word, "b"], [2, 1]).save(path)
    assert not path.exists()
    # Words of other scripts are fine and come back as they were.
    vocab = text.Vocabulary(["caf\u00e9", "\u8bcd", "b"], [3, 2, 1])
    vocab.save(path)
    assert text.Vocabulary.load(path).words == vocab.words


def test_build_and_encode_take_iterators_of_sentences():
    vocab = text.Vocabulary.build(iter(SENTENCES), min_count=1)
    assert vocab.words == text.Vocabulary.build(SENTENCES, min_count=1).words
    a, b = vocab.encode(iter(SENTENCES)), vocab.encode(SENTENCES)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert vocab.encode([]).num_raw_words == 0


@pytest.mark.parametrize(
    "content,match",
    [
        (b"the 3\ncat three\n", "line 2 is not 'word count'"),
        ("the 3\ncat \u00b2\n".encode(), "line 2 is not 'word count'"),
        (b"the 3\ncaf\xe9 2\n", "is not UTF-8 text"),
    ],
)
def test_vocabulary_load_names_the_bad_line(tmp_path, content, match):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=f"Vocabulary.load: .*bad.txt.* {match}"):
        text.Vocabulary.load(bad)


def test_encode_drops_unknown_words_and_keeps_sentences():
    vocab = text.Vocabulary.build(SENTENCES, min_count=2)
    enc = vocab.encode(SENTENCES)
    ref_ids, ref_sent = [], []
    for s, sentence in enumerate(SENTENCES):
        for w in sentence:
            if w in vocab:
                ref_ids.append(vocab.index(w))
                ref_sent.append(s)
    assert enc.ids.tolist() == ref_ids
    assert enc.sentence_ids.tolist() == ref_sent
    assert enc.ids.dtype == np.int32
    assert enc.num_raw_words == sum(map(len, SENTENCES))


def _brute_force_vocabulary_and_corpus(sentences, min_count, max_size):
    """Counting, ordering and encoding word by word, in plain Python."""
    counts, first = {}, {}
    for sentence in sentences:
        for w in sentence:
            counts[w] = counts.get(w, 0) + 1
            first.setdefault(w, len(first))
    words = sorted((w for w in counts if counts[w] >= min_count),
                   key=lambda w: (-counts[w], first[w]))[:max_size]  # fmt: skip
    index = {w: i for i, w in enumerate(words)}
    ids, sent = [], []
    for s, sentence in enumerate(sentences):
        for w in sentence:
            if w in index:
                ids.append(index[w])
                sent.append(s)
    return words, [counts[w] for w in words], ids, sent


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("min_count,max_size", [(1, None), (2, None), (3, 4)])
def test_encode_corpus_matches_counting_and_encoding_by_hand(seed, min_count, max_size):
    """Random corpora with many ties in frequency, empty sentences and words
    seen only once: the same vocabulary, counts and streams as the brute
    force, and as Vocabulary.build followed by encode."""
    rng = np.random.default_rng(seed)
    pool = [f"w{i}" for i in range(30)] + ["caf\u00e9", "\u8bcd"]
    sentences = [
        list(rng.choice(pool, rng.integers(0, 9))) for _ in range(rng.integers(1, 60))
    ]
    vocab, corpus = text.encode_corpus(
        sentences, min_count=min_count, max_size=max_size
    )
    words, counts, ids, sent = _brute_force_vocabulary_and_corpus(
        sentences, min_count, max_size
    )
    assert list(vocab.words) == words
    assert vocab.counts.tolist() == counts
    assert corpus.ids.tolist() == ids and corpus.sentence_ids.tolist() == sent
    assert corpus.ids.dtype == corpus.sentence_ids.dtype == np.int32
    assert corpus.num_raw_words == sum(map(len, sentences))
    assert corpus.num_sentences == len(sentences)
    built = text.Vocabulary.build(sentences, min_count=min_count, max_size=max_size)
    assert built.words == vocab.words
    np.testing.assert_array_equal(built.counts, vocab.counts)
    for a, b in zip(built.encode(iter(sentences)), corpus, strict=True):
        np.testing.assert_array_equal(a, b)


def test_encode_corpus_bad_input_names_it():
    with pytest.raises(ValueError, match="text.encode_corpus: the corpus is empty"):
        text.encode_corpus([[], []])
    rare = r"no word occurs at least min_count=10 times \(the most frequent occurs 5"
    with pytest.raises(ValueError, match=f"encode_corpus: {rare}"):
        text.encode_corpus(SENTENCES, min_count=10)
    with pytest.raises(ValueError, match="encode_corpus: min_count must be >= 1"):
        text.encode_corpus(SENTENCES, min_count=0)
    with pytest.raises(TypeError, match="encode_corpus: max_size must be a Python"):
        text.encode_corpus(SENTENCES, max_size=2.0)
    with pytest.raises(TypeError, match="encode_corpus: each sentence must be a seq"):
        text.encode_corpus(["the cat", "a dog"])
    with pytest.raises(TypeError, match="encode_corpus: sentences must be an iter"):
        text.encode_corpus("the cat")


def test_keep_probability_matches_word2vec_formula():
    counts = np.array([10_000, 1_000, 100, 10, 1, 0], np.int64)
    t = 1e-3
    f = counts / counts.sum()
    with np.errstate(divide="ignore"):
        ref = np.minimum(1.0, np.sqrt(t / f) + t / f)
    got = text.keep_probability(counts, t)
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(text.keep_probability(counts, 0.0), 1.0)


_COUNTS = np.array([10, 1], np.int64)
_BAD_KEEP = [
    ("negative sample", (_COUNTS, -1.0), ValueError,
     "text.keep_probability: sample must be finite and >= 0, got -1.0"),
    ("nan sample", (_COUNTS, float("nan")), ValueError, "sample must be finite"),
    ("str sample", (_COUNTS, "1e-3"), TypeError,
     "text.keep_probability: sample must be a real number, got str"),
    ("None sample", (_COUNTS, None), TypeError, "sample must be a real number"),
    ("array sample", (_COUNTS, np.ones(2)), TypeError, "sample must be a real number"),
    ("2-D counts", (_COUNTS[None], 1e-3), ValueError, "counts must be 1-D"),
    ("negative counts", (-_COUNTS, 1e-3), ValueError,
     "counts must be finite and non-negative"),
    ("bool counts", (_COUNTS > 2, 1e-3), TypeError, "counts must be an array of real"),
]  # fmt: skip


@pytest.mark.parametrize(
    "args,error,match", [c[1:] for c in _BAD_KEEP], ids=[c[0] for c in _BAD_KEEP]
)
def test_keep_probability_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        text.keep_probability(*args)


def test_subsample_rates_chi_squared_and_order():
    vocab_p = np.array([0.1, 0.5, 0.9, 1.0], np.float32)
    ids = np.tile(np.arange(4, dtype=np.int32), 25_000)
    sent = np.arange(ids.size, dtype=np.int32) // 7
    for seed in (0, 1, 2):
        kept, kept_sent, n = text.subsample(jax.random.key(seed), ids, vocab_p, sent)
        n = int(n)
        kept, kept_sent = np.asarray(kept), np.asarray(kept_sent)
        assert (kept[n:] == -1).all() and (kept[:n] >= 0).all()
        assert (kept_sent[n:] == -1).all()
        # order preserved: the kept sentence ids never decrease
        assert (np.diff(kept_sent[:n]) >= 0).all()
        observed = np.bincount(kept[:n], minlength=4)
        trials = 25_000
        for word in range(3):  # word 3 is always kept
            p = scipy.stats.binomtest(int(observed[word]), trials, float(vocab_p[word]))
            assert p.pvalue > 1e-3
        assert observed[3] == trials


def test_subsample_drops_padding():
    kept, _, n = text.subsample(
        jax.random.key(0), jnp.array([-1, 0, -1, 1], jnp.int32), jnp.ones(2)
    )
    assert kept.tolist() == [0, 1, -1, -1] and int(n) == 2


_IDS = jnp.zeros(3, jnp.int32)
_BAD_SUBSAMPLE = [
    ("float ids", (jax.random.key(0), jnp.ones(3), jnp.ones(2)), TypeError,
     "text.subsample: ids must be an integer array"),
    ("key array", (jax.random.split(jax.random.key(0), 2), _IDS, jnp.ones(2)),
     ValueError, "Use jax.vmap"),
    ("legacy key", (jax.random.PRNGKey(0), _IDS, jnp.ones(2)), TypeError,
     "wrap_key_data"),
    ("int keep_prob", (jax.random.key(0), _IDS, jnp.ones(2, jnp.int32)), TypeError,
     "keep_prob must be a floating-point array"),
    ("2-D keep_prob", (jax.random.key(0), _IDS, jnp.ones((2, 2))), ValueError,
     "keep_prob must be 1-D"),
    ("short sentence_ids", (jax.random.key(0), _IDS, jnp.ones(2),
                            jnp.zeros(2, jnp.int32)),
     ValueError, "sentence_ids and ids must have the same shape"),
    ("id past the vocabulary", (jax.random.key(0), jnp.array([0, 5, 1]),
                                jnp.ones(3)),
     ValueError, r"ids must hold word ids \(or -1 padding\) in \[-1, 3\), got 5 "
     "at index 1"),
    ("id below padding", (jax.random.key(0), jnp.array([-2, 0]), jnp.ones(3)),
     ValueError, r"in \[-1, 3\), got -2 at index 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    "args,error,match",
    [c[1:] for c in _BAD_SUBSAMPLE],
    ids=[c[0] for c in _BAD_SUBSAMPLE],
)
def test_subsample_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        text.subsample(*args)


def _reference_pairs(tokens, sentence_ids, reduced, window):
    """Brute force: all (centre, context, offset) pairs word2vec would train."""
    pairs = []
    n = len(tokens)
    for i in range(n):
        if tokens[i] < 0:
            continue
        for o in range(-window, window + 1):
            j = i + o
            if o == 0 or abs(o) > reduced[i] or not 0 <= j < n or tokens[j] < 0:
                continue
            if sentence_ids[j] != sentence_ids[i]:
                continue
            pairs.append((i, int(tokens[i]), int(tokens[j])))
    return sorted(pairs)


def _check_pairs_against_brute_force(key, tokens, sentence_ids, window):
    """Every centre's pairs are exactly word2vec's for *some* window in 1..W.

    The reductions are random; rather than redrawing them the way the library
    does, accept any effective window and let the brute force decide. How
    often each window occurs is tested separately (chi-squared below).
    """
    n = len(tokens)
    centres, contexts, mask = text.skipgram_pairs(
        key, tokens, sentence_ids, window=window
    )
    np.testing.assert_array_equal(centres, tokens)
    assert (np.asarray(contexts)[~np.asarray(mask)] == -1).all()
    got = collections.defaultdict(list)
    for i in range(n):
        for s in range(2 * window):
            if mask[i, s]:
                got[i].append((i, int(centres[i]), int(contexts[i, s])))
    for i in range(n):
        options = [
            sorted(p for p in _reference_pairs(tokens, sentence_ids, [r] * n, window)
                   if p[0] == i)
            for r in range(1, window + 1)
        ]  # fmt: skip
        assert sorted(got[i]) in options, (i, got[i], options)


@pytest.mark.parametrize("window", [1, 3, 5])
def test_skipgram_pairs_match_brute_force(window):
    rng = np.random.default_rng(window)
    n = 64
    tokens = rng.integers(0, 20, n).astype(np.int32)
    tokens[rng.random(n) < 0.1] = -1
    tokens[-5:] = -1  # block padding
    sentence_ids = np.cumsum(rng.random(n) < 0.15).astype(np.int32)
    _check_pairs_against_brute_force(jax.random.key(7), tokens, sentence_ids, window)


def test_dynamic_window_pair_counts_match_expectation():
    # One long sentence: each centre has sum_{b=0}^{W-1} 2 (W - b) / W = W + 1
    # contexts on average away from the edges.
    window, n = 5, 20_000
    tokens = np.zeros(n, np.int32)
    sentence_ids = np.zeros(n, np.int32)
    _, _, mask = text.skipgram_pairs(
        jax.random.key(3), tokens, sentence_ids, window=window
    )
    per_centre = np.asarray(mask)[window:-window].sum(1)
    assert abs(per_centre.mean() - (window + 1)) < 0.05
    counts = np.bincount(per_centre, minlength=2 * window + 1)
    expected = np.zeros(2 * window + 1)
    expected[2 * np.arange(1, window + 1)] = (n - 2 * window) / window
    keep = expected > 0
    assert counts[~keep].sum() == 0
    assert scipy.stats.chisquare(counts[keep], expected[keep]).pvalue > 1e-3


def test_skipgram_pairs_jit_equals_eager_and_validates():
    tokens = jnp.arange(12, dtype=jnp.int32)
    sent = jnp.zeros(12, jnp.int32)
    f = jax.jit(text.skipgram_pairs, static_argnames="window")
    for a, b in zip(
        f(jax.random.key(1), tokens, sent, window=2),
        text.skipgram_pairs(jax.random.key(1), tokens, sent, window=2),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="text.skipgram_pairs: window must be >= 1"):
        text.skipgram_pairs(jax.random.key(1), tokens, sent, window=0)
    with pytest.raises(TypeError, match="window must be a Python int"):
        text.skipgram_pairs(jax.random.key(1), tokens, sent, window=2.0)
    with pytest.raises(TypeError, match="tokens must be an integer array"):
        text.skipgram_pairs(
            jax.random.key(1), tokens.astype(jnp.float32), sent, window=2
        )


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(
    window=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    pad_rate=st.sampled_from([0.0, 0.2]),
    sentence_rate=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_skipgram_pairs_property(window, seed, pad_rate, sentence_rate):
    """Any block, window and sentence layout: exactly the brute-force pairs."""
    rng = np.random.default_rng(seed)
    n = 24  # one static shape per window keeps compilation cheap
    tokens = rng.integers(0, 9, n).astype(np.int32)
    tokens[rng.random(n) < pad_rate] = -1
    sentence_ids = np.cumsum(rng.random(n) < sentence_rate).astype(np.int32)
    _check_pairs_against_brute_force(jax.random.key(seed), tokens, sentence_ids, window)
