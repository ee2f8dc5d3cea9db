# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.evaluation against brute-force NumPy references and gensim."""

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxns.evaluation import (
    AnalogyResult,
    analogy,
    nearest_neighbors,
    spearman,
    word_similarity,
)

# A vocabulary in decreasing frequency with case variants ("Paris" after
# "paris", "KING" after "king"), so case folding must keep the first row.
VOCAB_SIZE, DIM = 120, 8
BASE = [f"w{i}" for i in range(VOCAB_SIZE - 6)]
WORDS = BASE[:10] + ["paris", "king", "Paris", "KING", "France", "queen"] + BASE[10:]


def _vectors(seed=0, dim=DIM):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((len(WORDS), dim)).astype(np.float32)


def _unit64(vectors):
    v = np.asarray(vectors, np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ----------------------------------------------------------------------------
# spearman


def _spearman_reference(x, y):
    """Average ranks by explicit tie groups, then Pearson, in float64."""

    def ranks(values):
        values = np.asarray(values, np.float64)
        out = np.empty(len(values))
        for i, v in enumerate(values):
            below = np.sum(values < v)
            equal = np.sum(values == v)
            out[i] = below + (equal + 1) / 2
        return out

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float(np.sum(rx * ry) / np.sqrt(np.sum(rx * rx) * np.sum(ry * ry)))


@pytest.mark.parametrize("seed", range(4))
def test_spearman_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 50
    x = rng.integers(0, 8, n).astype(np.float32)  # many ties
    y = (x + rng.integers(-3, 4, n)).astype(np.float32)
    ours = float(spearman(x, y))
    np.testing.assert_allclose(ours, scipy.stats.spearmanr(x, y).statistic, rtol=1e-5)
    np.testing.assert_allclose(ours, _spearman_reference(x, y), rtol=1e-5)


def test_spearman_exact_cases_and_jit():
    x = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert float(spearman(x, x**3)) == pytest.approx(1.0, abs=1e-6)
    assert float(spearman(x, -x)) == pytest.approx(-1.0, abs=1e-6)
    y = jnp.array([3.0, 1.0, 4.0, 1.5])
    assert float(jax.jit(spearman)(x, y)) == pytest.approx(float(spearman(x, y)))
    # Mixed integer / float inputs are ranked in float32.
    assert spearman(np.arange(5), np.arange(5.0)).dtype == jnp.float32
    assert math.isnan(float(spearman(jnp.ones(4), x)))  # constant input


@pytest.mark.parametrize(
    "x, y",
    [
        ([1.0, 2.0, np.nan, 4.0], [1.0, 2.0, 3.0, 4.0]),
        ([1.0, 2.0, 3.0, 4.0], [4.0, np.nan, 2.0, 1.0]),
        ([np.nan, np.nan, 1.0], [1.0, 2.0, 3.0]),
    ],
)
def test_spearman_of_nan_is_nan_as_scipy(x, y):
    """NaN has no rank: the sort put it last and gave a finite coefficient
    (0.8 for the first case), where SciPy's default propagates NaN."""
    assert math.isnan(scipy.stats.spearmanr(x, y).statistic)
    assert math.isnan(float(spearman(np.float32(x), np.float32(y))))
    assert math.isnan(float(jax.jit(spearman)(np.float32(x), np.float32(y))))


def test_word_similarity_with_a_nan_vector_is_nan_as_gensim():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    vectors = rng.normal(size=(20, 4)).astype(np.float32)
    vectors[3] = np.nan
    pairs = [(f"w{2 * i}", f"w{2 * i + 1}", float(i % 4)) for i in range(10)]
    result = word_similarity(vectors, words, pairs)
    assert math.isnan(result.spearman) and math.isnan(result.pearson)
    assert result.num_pairs == 10


def test_spearman_float64():
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        x, y = rng.standard_normal(30), rng.standard_normal(30)
        out = spearman(x, y)
        assert out.dtype == jnp.float64
        np.testing.assert_allclose(
            float(out), scipy.stats.spearmanr(x, y).statistic, rtol=1e-12
        )


@pytest.mark.parametrize(
    "x, y, error, match",
    [
        (np.zeros((2, 2)), np.zeros((2, 2)), ValueError, "x must be 1-D"),
        (np.zeros(3), np.zeros(4), ValueError, r"x and y must have the same shape"),
        (np.zeros(3, bool), np.zeros(3), TypeError, "x must be an array of real"),
        (np.zeros(3), np.zeros(3, complex), TypeError, "y must be an array of real"),
    ],
)
def test_spearman_bad_inputs(x, y, error, match):
    with pytest.raises(error, match=f"evaluation.spearman: {match}"):
        spearman(x, y)


# ----------------------------------------------------------------------------
# word_similarity

PAIRS = [
    ("w0", "w1", 3.0),
    ("PARIS", "france", 9.0),  # case-folded: rows 'paris' and 'France'
    ("king", "queen", 8.5),
    ("King", "w3", 1.0),
    ("w2", "w5", 4.0),
    ("w4", "missing", 5.0),  # OOV
    ("w6", "w7", 4.0),  # tie in the gold scores
    ("w8", "w9", 2.5),
    ("w50", "w60", 7.0),
    ("w100", "w1", 6.0),  # beyond restrict_vocab=100 in one test
]


def _similarity_reference(vectors, words, pairs, restrict_vocab, case_insensitive):
    unit = _unit64(vectors)
    fold = str.upper if case_insensitive else str
    table = {}
    for i, word in enumerate(words[:restrict_vocab]):
        table.setdefault(fold(word), i)
    gold, model, oov = [], [], 0
    for a, b, score in pairs:
        if fold(a) not in table or fold(b) not in table:
            oov += 1
            continue
        gold.append(score)
        model.append(unit[table[fold(a)]] @ unit[table[fold(b)]])
    return (
        scipy.stats.spearmanr(gold, model).statistic,
        scipy.stats.pearsonr(gold, model).statistic,
        len(gold),
        oov,
    )


@pytest.mark.parametrize("restrict_vocab", [None, 100])
@pytest.mark.parametrize("case_insensitive", [True, False])
def test_word_similarity_matches_reference(restrict_vocab, case_insensitive):
    vectors = _vectors()
    result = word_similarity(
        vectors,
        WORDS,
        PAIRS,
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
    )
    rho, r, n, oov = _similarity_reference(
        vectors, WORDS, PAIRS, restrict_vocab or len(WORDS), case_insensitive
    )
    np.testing.assert_allclose(result.spearman, rho, rtol=1e-5)
    np.testing.assert_allclose(result.pearson, r, rtol=1e-5)
    assert (result.num_pairs, result.num_oov) == (n, oov)
    assert result.oov_ratio == pytest.approx(oov / len(PAIRS))


def test_word_similarity_matches_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors(seed=1)
    kv = gensim_models.KeyedVectors(DIM)
    kv.add_vectors(WORDS, vectors)
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in PAIRS))
    for restrict_vocab in (300_000, 100):
        pearson, spearman_, oov_ratio = kv.evaluate_word_pairs(
            str(path), restrict_vocab=restrict_vocab
        )
        ours = word_similarity(vectors, WORDS, PAIRS, restrict_vocab=restrict_vocab)
        np.testing.assert_allclose(ours.spearman, spearman_.statistic, rtol=1e-5)
        np.testing.assert_allclose(ours.pearson, pearson.statistic, rtol=1e-5)
        assert 100 * ours.oov_ratio == pytest.approx(oov_ratio)


def test_word_similarity_too_few_pairs():
    vectors = _vectors()
    result = word_similarity(vectors, WORDS, [("w0", "w1", 1.0), ("a", "b", 2.0)])
    assert math.isnan(result.spearman) and (result.num_pairs, result.num_oov) == (1, 1)


_VECTORS = _vectors()
_BAD_EVALUATION = [
    # (function, args, kwargs, error, message)
    (word_similarity, (_VECTORS, WORDS[:3], PAIRS), {}, ValueError,
     r"evaluation.word_similarity: len\(words\) must equal vectors.shape\[0\]"),
    (word_similarity, (_VECTORS[0], WORDS, PAIRS), {}, ValueError,
     "evaluation.word_similarity: vectors must be 2-D"),
    (word_similarity, (np.ones((len(WORDS), 2), np.int32), WORDS, PAIRS), {},
     TypeError, "evaluation.word_similarity: vectors must be a floating-point"),
    (word_similarity, (_VECTORS, "w0", PAIRS), {}, TypeError,
     "evaluation.word_similarity: words must be a sequence of str"),
    (word_similarity, (_VECTORS, [*WORDS[:-1], 3], PAIRS), {}, TypeError,
     r"words\[\d+\] must be a str"),
    (word_similarity, (_VECTORS, WORDS, [("w0", "w1")]), {}, ValueError, "triples"),
    (word_similarity, (_VECTORS, WORDS, PAIRS), {"restrict_vocab": 0}, ValueError,
     "evaluation.word_similarity: restrict_vocab must be >= 1"),
    (word_similarity, (_VECTORS, WORDS, PAIRS), {"restrict_vocab": 1.5}, TypeError,
     "restrict_vocab must be a Python int"),
    (word_similarity, (_VECTORS, WORDS, PAIRS), {"case_insensitive": 1}, TypeError,
     "case_insensitive must be a bool"),
    (analogy, (_VECTORS, WORDS, {"s": [("w0", "w1", "w2")]}), {}, ValueError,
     "evaluation.analogy: section 's': a question must be"),
    (analogy, (_VECTORS, WORDS, {}), {"batch_size": 0}, ValueError,
     "evaluation.analogy: batch_size must be >= 1"),
    (analogy, (_VECTORS, WORDS, {}), {"batch_size": 2.0}, TypeError,
     "evaluation.analogy: batch_size must be a Python int"),
    (analogy, (_VECTORS, WORDS, {}), {"restrict_vocab": -1}, ValueError,
     "evaluation.analogy: restrict_vocab must be >= 1"),
    (nearest_neighbors, (_VECTORS, WORDS, "w0"), {}, TypeError,
     r"Use \['w0'\] for one"),
    (nearest_neighbors, (_VECTORS, WORDS, ["w0"]), {"k": len(WORDS)}, ValueError,
     f"evaluation.nearest_neighbors: k must be <= {len(WORDS) - 1}"),
    (nearest_neighbors, (_VECTORS, WORDS, ["w0"]), {"k": 0}, ValueError,
     "evaluation.nearest_neighbors: k must be >= 1"),
    (nearest_neighbors, (_VECTORS, WORDS, ["w0", "nope"]), {}, KeyError, "'nope'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "function,args,kwargs,error,match",
    _BAD_EVALUATION,
    ids=[f"{c[0].__name__}-{c[4][:40]}" for c in _BAD_EVALUATION],
)
def test_evaluation_rejects_bad_input(function, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        function(*args, **kwargs)


# ----------------------------------------------------------------------------
# analogy


def _analogy_prediction64(unit, table, canonical, a, b, c):
    """Brute force 3CosAdd in float64 over the restricted rows."""
    target = unit[table[b]] - unit[table[a]] + unit[table[c]]
    scores = unit @ target
    excluded = {table[a], table[b], table[c]}
    best, best_score = None, -np.inf
    for row, score in enumerate(scores):
        if canonical[row] in excluded:
            continue
        if score > best_score:
            best, best_score = canonical[row], score
    return best


def _make_questions(vectors, words, restrict_vocab, seed, case_insensitive=True):
    """Questions whose answer is the true 3CosAdd prediction half of the time,
    plus OOV questions, so that accuracy is neither 0 nor 1."""
    rng = np.random.default_rng(seed)
    fold = str.upper if case_insensitive else str
    table = {}
    for i, word in enumerate(words[:restrict_vocab]):
        table.setdefault(fold(word), i)
    canonical = [table[fold(w)] for w in words[:restrict_vocab]]
    unit = _unit64(vectors[:restrict_vocab])
    sections = {"semantic": [], "syntactic": []}
    for i in range(60):
        a, b, c = (words[j] for j in rng.choice(restrict_vocab, 3, replace=False))
        if fold(a) in {fold(b), fold(c)} or fold(b) == fold(c):
            continue
        if i % 2:
            best = _analogy_prediction64(
                unit, table, canonical, fold(a), fold(b), fold(c)
            )
            d = words[best]
        else:
            d = words[rng.integers(restrict_vocab)]
        sections["semantic" if i < 30 else "syntactic"].append((a, b, c, d))
    sections["semantic"].append(("paris", "France", "KING", "queen"))
    sections["semantic"].append(("Paris", "France", "king", "nowhere"))  # OOV
    sections["syntactic"].append(("w0", "w1", "w2", words[-1]))  # OOV if restricted
    return sections, unit, table, canonical


def _analogy_reference(vectors, words, sections, restrict_vocab, case_insensitive):
    fold = str.upper if case_insensitive else str
    table = {}
    for i, word in enumerate(words[:restrict_vocab]):
        table.setdefault(fold(word), i)
    canonical = [table[fold(w)] for w in words[:restrict_vocab]]
    unit = _unit64(vectors[:restrict_vocab])
    correct = total = skipped = 0
    for questions in sections.values():
        for question in questions:
            a, b, c, d = (fold(w) for w in question)
            if any(w not in table for w in (a, b, c, d)):
                skipped += 1
                continue
            total += 1
            correct += (
                _analogy_prediction64(unit, table, canonical, a, b, c) == table[d]
            )
    return correct, total, skipped


@pytest.mark.parametrize("restrict_vocab", [None, 100])
@pytest.mark.parametrize("case_insensitive", [True, False])
def test_analogy_matches_bruteforce(restrict_vocab, case_insensitive):
    vectors = _vectors(seed=2)
    limit = restrict_vocab or len(WORDS)
    sections, *_ = _make_questions(vectors, WORDS, limit, seed=0)
    result = analogy(
        vectors,
        WORDS,
        sections,
        restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive,
        batch_size=16,
    )
    correct, total, skipped = _analogy_reference(
        vectors, WORDS, sections, limit, case_insensitive
    )
    assert isinstance(result, AnalogyResult)
    assert (result.correct, result.total, result.skipped) == (correct, total, skipped)
    assert 0 < result.correct < result.total
    assert result.accuracy == correct / total
    assert sum(s.correct for s in result.per_section.values()) == correct
    assert sum(s.total for s in result.per_section.values()) == total
    assert sum(s.skipped for s in result.per_section.values()) == skipped
    assert list(result.per_section) == ["semantic", "syntactic"]


def test_analogy_default_restriction_is_gensims():
    gensim_models = pytest.importorskip("gensim.models")
    ours = inspect.signature(analogy).parameters["restrict_vocab"].default
    theirs = inspect.signature(gensim_models.KeyedVectors.evaluate_word_analogies)
    assert ours == theirs.parameters["restrict_vocab"].default == 300_000


@pytest.mark.parametrize("restrict_vocab", [None, 100])
def test_analogy_matches_gensim_exactly(tmp_path, restrict_vocab):
    """``None`` compares both libraries at their defaults."""
    gensim_models = pytest.importorskip("gensim.models")
    vectors = _vectors(seed=3)
    limit = min(restrict_vocab or 300_000, len(WORDS))
    sections, *_ = _make_questions(vectors, WORDS, limit, seed=1)
    kv = gensim_models.KeyedVectors(DIM)
    kv.add_vectors(WORDS, vectors)
    path = tmp_path / "questions.txt"
    lines = []
    for name, questions in sections.items():
        lines.append(f": {name}")
        lines.extend(" ".join(q) for q in questions)
    path.write_text("\n".join(lines) + "\n")
    opts = {} if restrict_vocab is None else {"restrict_vocab": restrict_vocab}
    score, gensim_sections = kv.evaluate_word_analogies(str(path), **opts)
    ours = analogy(vectors, WORDS, sections, **opts)
    assert ours.accuracy == score
    for section in gensim_sections[:-1]:  # the last one is gensim's total
        mine = ours.per_section[section["section"]]
        assert mine.correct == len(section["correct"])
        assert mine.total == len(section["correct"]) + len(section["incorrect"])


def test_analogy_batch_size_and_list_input_do_not_change_results():
    vectors = _vectors(seed=4)
    sections, *_ = _make_questions(vectors, WORDS, len(WORDS), seed=2)
    flat = [q for questions in sections.values() for q in questions]
    results = [analogy(vectors, WORDS, flat, batch_size=b) for b in (1, 7, 256)]
    assert results[0] == results[1] == results[2]
    assert list(results[0].per_section) == ["questions"]


@pytest.mark.parametrize("restrict_vocab", [None, 100])
def test_analogy_with_nan_vectors_matches_bruteforce(restrict_vocab):
    """NaN rows (a diverged word): the brute force (NumPy, as gensim) never
    predicts them and counts a question with one among its words wrong;
    top_k ranked NaN first, so the NaN word answered every question."""
    vectors = _vectors(seed=2)
    limit = restrict_vocab or len(WORDS)
    sections, *_ = _make_questions(vectors, WORDS, limit, seed=0)
    rows = [3, 17, 40, 41, 90]
    vectors[rows] = np.nan
    result = analogy(vectors, WORDS, sections, restrict_vocab=restrict_vocab)
    correct, total, skipped = _analogy_reference(vectors, WORDS, sections, limit, True)
    assert (result.correct, result.total, result.skipped) == (correct, total, skipped)
    assert 0 < correct < total


def test_analogy_with_every_question_out_of_vocabulary():
    vectors = _vectors()
    empty = analogy(vectors, WORDS, {"none": [("a", "b", "c", "d")]})
    assert (empty.accuracy, empty.correct, empty.total, empty.skipped) == (0, 0, 0, 1)
    assert empty.per_section["none"].accuracy == 0.0


# ----------------------------------------------------------------------------
# nearest_neighbors


def test_nearest_neighbors_matches_bruteforce_and_gensim():
    vectors = _vectors(seed=5)
    queries = ["w0", "Paris", "w77"]
    result = nearest_neighbors(vectors, WORDS, queries, k=5)
    unit = _unit64(vectors)
    for query, neighbours in zip(queries, result, strict=True):
        row = WORDS.index(query)
        scores = unit @ unit[row]
        scores[row] = -np.inf
        order = np.argsort(-scores, kind="stable")[:5]
        assert [w for w, _ in neighbours] == [WORDS[i] for i in order]
        np.testing.assert_allclose([s for _, s in neighbours], scores[order], atol=1e-6)
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(DIM)
    kv.add_vectors(WORDS, vectors)
    for query, neighbours in zip(queries, result, strict=True):
        theirs = kv.most_similar(query, topn=5)
        assert [w for w, _ in neighbours] == [w for w, _ in theirs]
        np.testing.assert_allclose(
            [s for _, s in neighbours], [s for _, s in theirs], atol=1e-6
        )


def test_nearest_neighbors_rank_nan_rows_last_as_gensim():
    vectors = _vectors(seed=5)
    vectors[[2, 9]] = np.nan
    result = nearest_neighbors(vectors, WORDS, ["w0"], k=len(WORDS) - 1)[0]
    unit = _unit64(vectors)
    scores = unit @ unit[0]
    order = [i for i in np.argsort(-scores, kind="stable") if i != 0]  # NaN last
    assert [w for w, _ in result] == [WORDS[i] for i in order]
    assert [w for w, _ in result[-2:]] == [WORDS[2], WORDS[9]]
    assert all(np.isnan(s) for _, s in result[-2:])
    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(DIM)
    kv.add_vectors(WORDS, vectors)
    theirs = kv.most_similar("w0", topn=10)
    assert [w for w, _ in result[:10]] == [w for w, _ in theirs]


def test_nearest_neighbors_of_no_query_is_empty():
    assert nearest_neighbors(_vectors(), WORDS, []) == []


def test_word_similarity_scores_oov_pairs_with_a_subword_function():
    words = ["cat", "dog", "car"]
    vectors = np.array([[1.0, 0.1], [0.9, 0.2], [0.0, 1.0]])
    pairs = [("cat", "dog", 8.0), ("cat", "car", 1.0), ("dog", "kitten", 7.0),
             ("truck", "car", 9.0), ("kitten", "truck", 0.5)]  # fmt: skip
    extra = {"kitten": np.array([1.0, 0.0]), "truck": np.array([0.1, 0.9])}
    base = word_similarity(vectors, words, pairs)
    assert (base.num_pairs, base.num_oov) == (2, 3)
    full = word_similarity(vectors, words, pairs, oov_vector=extra.__getitem__)
    table = dict(zip(words, vectors, strict=True)) | extra
    cos = [
        table[a] @ table[b] / np.linalg.norm(table[a]) / np.linalg.norm(table[b])
        for a, b, _ in pairs
    ]
    expected = scipy.stats.spearmanr([p[2] for p in pairs], cos).statistic
    assert (full.num_pairs, full.num_oov) == (5, 3)
    np.testing.assert_allclose(full.spearman, expected, rtol=1e-6)
    # 3 of the 5 pairs have an unknown word, whether skipped or scored (the
    # scored ones are in num_pairs already: not 3 / (5 + 3)).
    assert base.oov_ratio == full.oov_ratio == pytest.approx(3 / 5)
    assert (base.oov_scored, full.oov_scored) == (False, True)
    with pytest.raises(TypeError, match="oov_vector must be a function"):
        word_similarity(vectors, words, pairs, oov_vector=3)
