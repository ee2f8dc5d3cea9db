# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.kg: datasets, known triples, filtered ranks and metrics."""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close

import jaxns
from jaxns import kg

# --------------------------------------------------------------------------
# datasets


def _write(directory: pathlib.Path, **splits: str) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in splits.items():
        (directory / f"{name}.txt").write_text(text, encoding="utf-8")
    return directory


TRAIN = "zeta\tr2\talpha\nalpha\tr1\tbeta\nbeta\tr1\tzeta\n\nalpha\tr1\tbeta\n"
VALID = "beta\tr2\talpha\n"
TEST = "zeta\tr1\tbeta\n"


def test_load_triples_ids_as_pykeen(tmp_path):
    data = kg.load_triples(_write(tmp_path, train=TRAIN, valid=VALID, test=TEST))
    assert dict(data.entity_to_id) == {"alpha": 0, "beta": 1, "zeta": 2}
    assert dict(data.relation_to_id) == {"r1": 0, "r2": 1}
    # de-duplicated and sorted by id, as PyKEEN's np.unique
    assert data.train.tolist() == [[0, 0, 1], [1, 0, 2], [2, 1, 0]]
    assert data.valid.tolist() == [[1, 1, 0]]
    assert data.test.tolist() == [[2, 0, 1]]
    assert data.train.dtype == np.int32
    assert (data.num_entities, data.num_relations) == (3, 2)
    with pytest.raises(ValueError):
        data.train[0, 0] = 5
    with pytest.raises(TypeError):
        data.entity_to_id["new"] = 3


@pytest.mark.parametrize("marked", ["train", "valid", "test"])
def test_load_triples_drop_a_utf8_byte_order_mark(tmp_path, marked):
    # Windows tools often start UTF-8 files with U+FEFF; it is no label's part.
    directory = _write(tmp_path, train=TRAIN, valid=VALID, test=TEST)
    path = directory / f"{marked}.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    data = kg.load_triples(directory)
    assert dict(data.entity_to_id) == {"alpha": 0, "beta": 1, "zeta": 2}
    assert dict(data.relation_to_id) == {"r1": 0, "r2": 1}
    assert data.train.tolist() == [[0, 0, 1], [1, 0, 2], [2, 1, 0]]
    assert data.valid.tolist() == [[1, 1, 0]]
    assert data.test.tolist() == [[2, 0, 1]]


@pytest.mark.parametrize(
    "splits, error, words",
    [
        (dict(train="a\tr\n", valid=VALID, test=TEST), ValueError, "train.txt line 1"),
        (dict(train=TRAIN, valid="\n\n", test=TEST), ValueError, "valid.txt holds no"),
        (dict(train=TRAIN, valid=VALID, test="zeta\tr1\tomega\n"), ValueError,
         "test.txt line 1: entity 'omega'"),
        (dict(train=TRAIN, valid="beta\tr9\talpha\n", test=TEST), ValueError,
         "relation 'r9'"),
        (dict(train=TRAIN, valid=VALID, test="a\tb\tc\td\n"), ValueError,
         "got 4"),
        (dict(train=TRAIN, valid=VALID), FileNotFoundError, "test.txt"),
    ],
)  # fmt: skip
def test_load_triples_bad_files(tmp_path, splits, error, words):
    _write(tmp_path, **splits)
    with pytest.raises(error, match=words):
        kg.load_triples(tmp_path)


def test_load_triples_bad_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither one of"):
        kg.load_triples(tmp_path / "missing")
    with pytest.raises(TypeError, match="source"):
        kg.load_triples(3)


def _fake_named(monkeypatch, tmp_path, text=(TRAIN, VALID, TEST)):
    """Pins the digests of tiny files as if they were the 'umls' splits."""
    digests = {
        s: hashlib.sha256(t.encode()).hexdigest()
        for s, t in zip(("train", "valid", "test"), text, strict=True)
    }
    monkeypatch.setitem(kg._SHA256, "umls", digests)
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kg, "_pykeen_data_dir", lambda: None)


def test_named_dataset_from_data_dir(monkeypatch, tmp_path):
    _fake_named(monkeypatch, tmp_path)
    monkeypatch.setenv(kg.KG_DATA_ENV, str(tmp_path / "peer"))
    _write(tmp_path / "peer" / "umls", train=TRAIN, valid=VALID, test=TEST)
    data = kg.load_triples("umls")
    assert data.name == "umls" and data.train.shape == (3, 3)


def test_named_dataset_from_installed_package(monkeypatch, tmp_path):
    _fake_named(monkeypatch, tmp_path)
    monkeypatch.delenv(kg.KG_DATA_ENV, raising=False)
    _write(tmp_path / "pkg" / "umls", train=TRAIN, valid=VALID, test=TEST)
    monkeypatch.setattr(kg, "_pykeen_data_dir", lambda: tmp_path / "pkg")
    assert kg.load_triples("umls").test.tolist() == [[2, 0, 1]]


def test_named_dataset_download_verifies(monkeypatch, tmp_path):
    _fake_named(monkeypatch, tmp_path)
    monkeypatch.delenv(kg.KG_DATA_ENV, raising=False)
    # A local copy that differs is ignored with a warning, then downloaded.
    _write(tmp_path / "peer" / "umls", train=TRAIN + "x\ty\tz\n", valid=VALID,
           test=TEST)  # fmt: skip
    monkeypatch.setenv(kg.KG_DATA_ENV, str(tmp_path / "peer"))
    remote = _write(tmp_path / "remote" / "umls", train=TRAIN, valid=VALID, test=TEST)
    url = remote.parent.as_uri() + "/{name}/{split}.txt"
    monkeypatch.setattr(kg, "_URL", url)
    with pytest.warns(RuntimeWarning, match="SHA-256 mismatch"):
        data = kg.load_triples("umls")
    assert data.train.shape == (3, 3)
    assert (tmp_path / "cache" / "kg" / "umls" / "train.txt").is_file()
    # A corrupt remote file is rejected and not cached.
    (remote / "valid.txt").write_text("changed\tr1\tbeta\n")
    (tmp_path / "cache" / "kg" / "umls" / "valid.txt").unlink()
    monkeypatch.delenv(kg.KG_DATA_ENV)
    with pytest.raises(ValueError, match="failed verification"):
        kg.load_triples("umls")
    assert not (tmp_path / "cache" / "kg" / "umls" / "valid.txt").exists()


# --------------------------------------------------------------------------
# known triples


def _random_triples(rng, n, e, r):
    return np.stack(
        [rng.integers(0, e, n), rng.integers(0, r, n), rng.integers(0, e, n)], 1
    )


@pytest.mark.parametrize("n", [0, 1, 2, 7, 64, 300])
def test_contains_matches_python_set(n):
    rng = np.random.default_rng(n)
    e, r = 9, 4
    triples = _random_triples(rng, n, e, r)
    known = kg.known_triples(triples, e, r)
    every = np.array(list(itertools.product(range(e), range(r), range(e))), np.int32)
    expected = np.array([tuple(t) in set(map(tuple, triples)) for t in every])
    got = jax.jit(lambda k, t: k.contains(t))(known, every)
    np.testing.assert_array_equal(np.asarray(got), expected)
    # batched shapes keep their leading axes
    assert known.contains(every.reshape(e, r * e, 3)).shape == (e, r * e)


@pytest.mark.parametrize("huge", [False, True])
def test_known_triples_sorted_rows_and_widths_match_numpy(huge):
    # The rows are sorted as int64 keys (np.unique(axis=0) and np.lexsort
    # took 10 s for 3M triples); keys that could overflow int64 take the
    # row-wise path. Both against a lexicographic sort in NumPy.
    rng = np.random.default_rng(7)
    e, r = 13, 5
    triples = np.concatenate([_random_triples(rng, 400, e, r)] * 2)  # duplicates
    sizes = (2**40, 2**40, 2**40) if huge else (e, r, e)
    for columns in ((0, 1, 2), (2, 1, 0)):
        rows, widest = kg._distinct_sorted_rows(triples, columns, sizes)
        t = np.unique(triples, axis=0)[:, columns]
        want = t[np.lexsort((t[:, 2], t[:, 1], t[:, 0]))]
        np.testing.assert_array_equal(rows, want)
        pairs = collections.Counter(map(tuple, want[:, :2].tolist()))
        assert widest == max(pairs.values())
    known = kg.known_triples(triples, e, r)
    rows, _ = kg._distinct_sorted_rows(triples, (2, 1, 0), (e, r, e))
    np.testing.assert_array_equal(np.asarray(known.by_tail), rows)


def test_contains_union_of_splits():
    known = kg.known_triples([np.array([[0, 0, 1]]), np.array([[1, 1, 0]])], 2, 2)
    assert known.contains([[0, 0, 1], [1, 1, 0], [1, 0, 0]]).tolist() == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize("side", ["head", "tail"])
def test_filter_mask_matches_brute_force(side):
    rng = np.random.default_rng(3)
    e, r = 11, 3
    triples = _random_triples(rng, 120, e, r)
    known = kg.known_triples(triples, e, r)
    queries = _random_triples(rng, 40, e, r).astype(np.int32)
    got = np.asarray(jax.jit(lambda k, q: k.filter_mask(q, side))(known, queries))
    truth = set(map(tuple, triples))
    expected = np.zeros((40, e), bool)
    for i, (h, rel, t) in enumerate(queries):
        for x in range(e):
            expected[i, x] = ((h, rel, x) if side == "tail" else (x, rel, t)) in truth
    np.testing.assert_array_equal(got, expected)


def test_known_triples_64_bit_queries_outside_int32_match_nothing():
    # With x64 a query id past the int32 range is in no triple; it wrapped
    # onto another id (2**32 + 1 -> 1) and reported triples not in the set.
    known = kg.known_triples([[0, 0, 1], [1, 0, 0], [1, 0, 1]], 2, 1)
    with jax.enable_x64(True):
        far = np.array(
            [[2**32, 0, 1], [0, 0, 2**32 + 1], [1, 2**32, 0], [-(2**32) + 1, 0, 0],
             [1, 0, 1]],
            np.int64,
        )  # fmt: skip
        got = jax.jit(lambda k, q: k.contains(q))(known, far)
        assert got.tolist() == [False, False, False, False, True]
        tails = known.filter_mask(far, "tail").astype(int).tolist()
        heads = known.filter_mask(far, "head").astype(int).tolist()
    assert tails == [[0, 0], [0, 1], [0, 0], [0, 0], [1, 1]]
    assert heads == [[1, 1], [0, 0], [0, 0], [0, 1], [1, 1]]


@pytest.mark.parametrize(
    "args, error, words",
    [
        (([[0, 0, 5]], 3, 1), ValueError, "outside"),
        (([[0, 1, 0]], 3, 1), ValueError, "outside"),
        (([[0.0, 0, 1]], 3, 1), TypeError, "integer"),
        (([0, 0, 1], 3, 1), ValueError, r"\[n, 3\]"),
        (([[0, 0, 1]], 0, 1), ValueError, "num_entities"),
        (([[0, 0, 1]], 3.0, 1), TypeError, "num_entities"),
    ],
)
def test_known_triples_bad_inputs(args, error, words):
    with pytest.raises(error, match=words):
        kg.known_triples(*args)


def test_known_triples_bad_queries():
    known = kg.known_triples([[0, 0, 1]], 2, 1)
    with pytest.raises(TypeError, match="integer"):
        known.contains(jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        known.contains(jnp.zeros((2, 2), jnp.int32))
    with pytest.raises(ValueError, match="side"):
        known.filter_mask(jnp.zeros((2, 3), jnp.int32), "relation")
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda t: kg.known_triples(t, 2, 1))(jnp.zeros((1, 3), jnp.int32))


# --------------------------------------------------------------------------
# ranks


def _np_ranks(scores, true_index, keep):
    """Brute-force float64 reference: PyKEEN's ranks, NaN never better."""
    opt, pes = [], []
    for i, row in enumerate(np.asarray(scores, np.float64)):
        s = row[true_index[i]]
        better = at_least = 0
        for j, c in enumerate(row):
            if j == true_index[i] or not keep[i, j]:
                continue
            if np.isnan(s):  # a NaN true score is below every number
                better += not np.isnan(c)
                at_least += 1
            else:
                better += bool(c > s)
                at_least += bool(c >= s)
        opt.append(1 + better)
        pes.append(1 + at_least)
    opt, pes = np.array(opt), np.array(pes)
    return opt, pes, (opt + pes) / 2


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("masked", [False, True])
def test_ranks_match_brute_force(seed, masked):
    rng = np.random.default_rng(seed)
    q, e = 50, 12
    # few distinct values: many ties, including with the true score
    scores = rng.integers(-2, 3, (q, e)).astype(np.float32)
    scores[rng.random((q, e)) < 0.1] = np.nan
    scores[rng.random((q, e)) < 0.05] = -np.inf
    true_index = rng.integers(0, e, q).astype(np.int32)
    keep = rng.random((q, e)) < 0.7 if masked else np.ones((q, e), bool)
    f = jax.jit(lambda s, t, w: kg.ranks(s, t, where=w))
    got = f(scores, true_index, keep) if masked else kg.ranks(scores, true_index)
    opt, pes, real = _np_ranks(scores, true_index, keep)
    np.testing.assert_array_equal(np.asarray(got.optimistic), opt)
    np.testing.assert_array_equal(np.asarray(got.pessimistic), pes)
    assert_close(got.realistic, real)
    assert got.optimistic.dtype == jnp.int32 and got.realistic.dtype == jnp.float32
    # the true column is kept even when where says otherwise
    keep_none = np.zeros((q, e), bool)
    assert (
        np.asarray(kg.ranks(scores, true_index, where=keep_none).realistic) == 1
    ).all()


def test_ranks_nan_never_better():
    scores = jnp.array([[1.0, jnp.nan, jnp.nan], [jnp.nan, 0.0, jnp.nan]])
    r = kg.ranks(scores, jnp.array([0, 0]))
    assert r.optimistic.tolist() == [1, 2] and r.pessimistic.tolist() == [1, 3]


def test_ranks_half_precision_and_vmap():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (3, 6, 8)).astype(np.float32)
    idx = rng.integers(0, 8, (3, 6)).astype(np.int32)
    got = jax.vmap(lambda s, i: kg.ranks(s, i).realistic)(scores, idx)
    for b in range(3):
        np.testing.assert_array_equal(got[b], kg.ranks(scores[b], idx[b]).realistic)
    half = kg.ranks(jnp.asarray(scores[0], jnp.bfloat16), idx[0])
    np.testing.assert_array_equal(half.realistic, got[0])


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(scores=jnp.zeros((2, 3), jnp.int32)), TypeError, "scores"),
        (dict(scores=jnp.zeros(3)), ValueError, "2-D"),
        (dict(true_index=jnp.zeros(2)), TypeError, "true_index"),
        (dict(true_index=jnp.zeros(3, jnp.int32)), ValueError, "true_index"),
        (dict(where=jnp.ones((2, 3), jnp.int32)), TypeError, "where"),
        (dict(where=jnp.ones((2, 4), bool)), ValueError, "where"),
    ],
)
def test_ranks_bad_inputs(kwargs, error, words):
    args = dict(scores=jnp.zeros((2, 3)), true_index=jnp.zeros(2, jnp.int32))
    args.update(kwargs)
    where = args.pop("where", None)
    with pytest.raises(error, match=words):
        kg.ranks(args["scores"], args["true_index"], where=where)


def test_rank_metrics_match_numpy():
    rng = np.random.default_rng(1)
    real = rng.integers(2, 40, 200) / 2.0  # halves: ties straddling k
    m = jax.jit(lambda r: kg.rank_metrics(r, ks=(1, 3, 10)))(
        jnp.asarray(real, jnp.float32)
    )
    assert_close(m["mrr"], np.mean(1 / real))
    assert_close(m["mean_rank"], np.mean(real))
    for k in (1, 3, 10):
        assert_close(m[f"hits@{k}"], np.mean(real <= k))
    ranks = kg.Ranks(jnp.ones(2, jnp.int32), jnp.ones(2, jnp.int32), jnp.ones(2))
    assert float(kg.rank_metrics(ranks)["hits@1"]) == 1.0
    with jax.enable_x64(True):  # float64 ranks: float64 metrics, 1e-12 close
        real64 = real + np.arange(real.size) * 1e-9
        m = kg.rank_metrics(jnp.asarray(real64), ks=(3,))
        assert all(v.dtype == jnp.float64 for v in m.values())
        assert_close(m["mrr"], np.mean(1 / real64))
        assert_close(m["mean_rank"], np.mean(real64))
        assert_close(m["hits@3"], np.mean(real64 <= 3))


@pytest.mark.parametrize(
    "ranks, ks, error",
    [
        (jnp.ones(3, jnp.int32), (1,), TypeError),
        (jnp.ones(3), (0,), ValueError),
        (jnp.ones(3), (1.5,), TypeError),
    ],
)
def test_rank_metrics_bad_inputs(ranks, ks, error):
    with pytest.raises(error):
        kg.rank_metrics(ranks, ks=ks)


# --------------------------------------------------------------------------
# evaluate


def _table_score(table, h, r, t):
    """A toy bilinear model: scores from a table indexed by (h, r, t)."""
    return table[h, r, t]


def test_evaluate_matches_brute_force():
    rng = np.random.default_rng(5)
    e, r = 10, 3
    train = _random_triples(rng, 60, e, r)
    test = _random_triples(rng, 25, e, r)
    known = kg.known_triples([train, test], e, r)
    table = jnp.asarray(rng.integers(0, 5, (e, r, e)).astype(np.float32))
    got = kg.evaluate(_table_score, table, test, known, batch_size=8, ks=(1, 3))
    truth = set(map(tuple, train)) | set(map(tuple, test))
    t_np = np.asarray(table, np.float64)
    head_ranks, tail_ranks = [], []
    for h, rel, t in test:
        keep_t = np.array([(h, rel, x) not in truth for x in range(e)])
        keep_h = np.array([(x, rel, t) not in truth for x in range(e)])
        tail_ranks.append(_np_ranks(t_np[h, rel][None], [t], keep_t[None])[2][0])
        head_ranks.append(_np_ranks(t_np[:, rel, t][None], [h], keep_h[None])[2][0])
    for side, rr in (
        ("head", head_ranks),
        ("tail", tail_ranks),
        ("both", head_ranks + tail_ranks),
    ):
        rr = np.array(rr)
        assert got[side]["mrr"] == pytest.approx(np.mean(1 / rr), rel=1e-6)
        assert got[side]["mean_rank"] == pytest.approx(np.mean(rr), rel=1e-6)
        assert got[side]["hits@3"] == pytest.approx(np.mean(rr <= 3), rel=1e-6)


def test_evaluate_reuses_its_compilation_for_an_equal_partial():
    # A fresh functools.partial per call (the documented score_fn) compares by
    # identity, so every evaluate call traced and compiled both sides again.
    traces = []

    def score(table, h, r, t, *, shift):
        traces.append(shift)
        return table[h, r, t] + shift

    rng = np.random.default_rng(6)
    e, r = 6, 2
    test = _random_triples(rng, 9, e, r)
    known = kg.known_triples(test, e, r)
    table = jnp.asarray(rng.normal(size=(e, r, e)).astype(np.float32))
    want = kg.evaluate(_table_score, table, test, known, batch_size=4)
    for _ in range(3):
        got = kg.evaluate(functools.partial(score, shift=0.0), table, test, known,
                          batch_size=4)  # fmt: skip
        assert got == want  # a constant shift keeps every rank
    assert traces == [0.0, 0.0]  # head and tail, traced once
    kg.evaluate(functools.partial(score, shift=1.0), table, test, known, batch_size=4)
    assert traces == [0.0, 0.0, 1.0, 1.0]  # other arguments: compiled anew


@pytest.mark.parametrize(
    "triples, words",
    [
        ([[0, 0, 2]], "entity ids outside \\[0, 2\\)"),
        ([[-1, 0, 1]], "entity ids outside \\[0, 2\\)"),
        ([[0, 1, 1]], "relation ids in \\[0, 1\\), got 1 at index 0"),
        ([[0, 0, 1], [1, 7, 0]], "relation ids in \\[0, 1\\), got 7 at index 1"),
        ([[0, -1, 1]], "relation ids in \\[0, 1\\), got -1"),
    ],
)
def test_evaluate_rejects_ids_outside_known(triples, words):
    known = kg.known_triples([[0, 0, 1]], 2, 1)
    params = kg.init_params(jax.random.key(0), "distmult", 2, 1, 4)
    score = functools.partial(kg.score_triples, model="distmult")
    with pytest.raises(ValueError, match=words):
        kg.evaluate(score, params, np.array(triples), known)


def test_evaluate_of_no_triples_gives_nan_metrics():
    # rank_metrics' NaN for no ranks (a NumPy error about concatenating no
    # arrays before).
    known = kg.known_triples([[0, 0, 1]], 2, 1)
    got = kg.evaluate(_table_score, jnp.zeros((2, 1, 2)), np.zeros((0, 3), int), known)
    assert set(got) == {"head", "tail", "both"}
    for metrics in got.values():
        assert set(metrics) == {"mrr", "mean_rank", "hits@1", "hits@3", "hits@10"}
        assert all(np.isnan(v) for v in metrics.values())


def test_evaluate_bad_inputs():
    known = kg.known_triples([[0, 0, 1]], 2, 1)
    table = jnp.zeros((2, 1, 2))
    with pytest.raises(TypeError, match="integer"):
        kg.evaluate(_table_score, table, np.zeros((1, 3)), known)
    with pytest.raises(ValueError, match="batch_size"):
        kg.evaluate(_table_score, table, np.array([[0, 0, 1]]), known, batch_size=0)


def test_module_is_exported():
    assert jaxns.kg is kg


# --------------------------------------------------------------------------
# negatives


@pytest.mark.parametrize("batch, k, num_valid", [(4, 3, None), (5, 2, None), (6, 4, 3)])
def test_basic_sampler_splits_like_pykeen(batch, k, num_valid):
    n = 7
    rng = np.random.default_rng(batch)
    pos = _random_triples(rng, batch, n, 3).astype(np.int32)
    neg = np.asarray(
        kg.corrupt_batch(
            jax.random.key(0), pos, n, num_negatives=k, num_valid=num_valid
        )  # fmt: skip
    )
    valid = batch if num_valid is None else num_valid
    split = -(-valid * k // 2)  # ceil: PyKEEN's split of the flat negatives
    flat = np.arange(batch * k).reshape(batch, k)
    head = flat < split
    p = np.broadcast_to(pos[:, None], neg.shape)
    np.testing.assert_array_equal(neg[..., 1], p[..., 1])
    np.testing.assert_array_equal(neg[..., 0] != p[..., 0], head)
    np.testing.assert_array_equal(neg[..., 2] != p[..., 2], ~head)
    assert neg.dtype == np.int32 and ((neg >= 0) & (neg < n)).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sampler", ["basic", "bernoulli"])
def test_replacement_uniform_over_the_other_entities(seed, sampler):
    scipy_stats = pytest.importorskip("scipy.stats")
    n, original = 6, 2
    pos = jnp.array([[original, 0, original]] * 500, jnp.int32)
    neg = kg.corrupt_batch(
        jax.random.key(seed), pos, n, num_negatives=200, sampler=sampler,
        head_prob=jnp.array([0.3]),
    )  # fmt: skip
    neg = np.asarray(neg)
    replaced = np.where(neg[..., 0] != original, neg[..., 0], neg[..., 2]).ravel()
    counts = np.bincount(replaced, minlength=n)
    assert counts[original] == 0  # never the original
    observed = np.delete(counts, original)
    _, p = scipy_stats.chisquare(observed)
    assert p > 1e-3


def test_bernoulli_sampler_head_fraction_per_relation():
    head_prob = jnp.array([0.1, 0.5, 0.9], jnp.float32)
    pos = jnp.array([[0, r, 1] for r in range(3)] * 200, jnp.int32)
    neg = np.asarray(
        kg.corrupt_batch(
            jax.random.key(3),
            pos,
            5,
            num_negatives=100,
            sampler="bernoulli",
            head_prob=head_prob,
        )  # fmt: skip
    )
    head = neg[..., 0] != 0
    for r, p in enumerate(np.asarray(head_prob)):
        frac = head[np.asarray(pos[:, 1]) == r]
        m = frac.size
        z = (frac.mean() - p) / np.sqrt(p * (1 - p) / m)
        assert abs(z) < 4, (r, frac.mean(), p)
    # exactly one entity changes, the relation never does
    changed = (neg != np.asarray(pos)[:, None]).sum(-1)
    assert (changed == 1).all()


def test_corrupt_batch_jit_equals_eager_and_bad_inputs():
    pos = jnp.array([[0, 0, 1], [1, 0, 2]], jnp.int32)
    f = lambda key: kg.corrupt_batch(key, pos, 4, num_negatives=3)  # noqa: E731
    np.testing.assert_array_equal(jax.jit(f)(jax.random.key(1)), f(jax.random.key(1)))
    with pytest.raises(ValueError, match="num_entities"):
        kg.corrupt_batch(jax.random.key(0), pos, 1, num_negatives=2)
    with pytest.raises(ValueError, match="head_prob"):
        kg.corrupt_batch(jax.random.key(0), pos, 4, num_negatives=2,
                         sampler="bernoulli")  # fmt: skip
    with pytest.raises(ValueError, match="sampler"):
        kg.corrupt_batch(jax.random.key(0), pos, 4, num_negatives=2, sampler="x")
    with pytest.raises(ValueError, match="Use jax.vmap"):
        kg.corrupt_batch(jax.random.split(jax.random.key(0)), pos, 4, num_negatives=2)
    with pytest.raises(TypeError, match="positives"):
        kg.corrupt_batch(jax.random.key(0), pos.astype(float), 4, num_negatives=2)


# --------------------------------------------------------------------------
# losses with PyKEEN's reductions


def _np_pykeen_loss(loss, pos, neg, keep, valid, margin, alpha, weights=None):
    """PyKEEN's sLCWA reductions in float64, written from its definitions.

    With ``weights``: Sun et al.'s weighted means (each negative weighted by
    its positive's weight).
    """
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    keep = keep & valid[:, None]
    if loss == "softmax":  # alpha scales the scores, margin is log E-
        w = np.ones(len(pos)) if weights is None else np.asarray(weights, np.float64)
        rows = []
        for b in np.flatnonzero(valid):
            z = np.concatenate([[alpha * pos[b]], alpha * neg[b][keep[b]] - margin])
            m = z.max()
            rows.append(m + np.log(np.exp(z - m).sum()) - alpha * pos[b])
        return np.sum(w[valid] * np.array(rows)) / w[valid].sum()
    if weights is not None:
        w = np.asarray(weights, np.float64)[valid]
        wn = np.broadcast_to(np.asarray(weights, np.float64)[:, None], neg.shape)
        pos_v = pos[valid]
        if loss == "nssa":
            rows = []
            for b in np.flatnonzero(valid):
                s = neg[b][keep[b]]
                term = np.logaddexp(0, -(margin + pos[b]))
                if s.size:
                    a = np.exp(alpha * s - np.max(alpha * s))
                    term += np.sum(a / a.sum() * np.logaddexp(0, s + margin))
                rows.append(term)
            return 0.5 * np.sum(w * np.array(rows)) / w.sum()
        if loss == "margin":
            pairs = np.broadcast_to(pos[:, None], neg.shape)
            hinge = np.maximum(0, margin + neg - pairs)
            return np.sum((wn * hinge)[keep]) / np.sum(wn[keep])
        total = np.sum(w * np.logaddexp(0, -pos_v)) + np.sum(
            (wn * np.logaddexp(0, neg))[keep]
        )
        return total / (w.sum() + wn[keep].sum())
    pos_v = pos[valid]
    if loss == "nssa":
        pos_term = np.mean(np.logaddexp(0, -(margin + pos_v)))
        neg_terms = []
        for b in np.flatnonzero(valid):
            s = neg[b][keep[b]]
            if s.size == 0:
                neg_terms.append(0.0)
                continue
            w = np.exp(alpha * s - np.max(alpha * s))
            w /= w.sum()
            neg_terms.append(np.sum(w * np.logaddexp(0, s + margin)))
        return 0.5 * (pos_term + np.mean(neg_terms))
    if loss == "margin":
        pairs = np.broadcast_to(pos[:, None], neg.shape)[keep]
        return np.mean(np.maximum(0, margin + neg[keep] - pairs))
    values = np.concatenate([np.logaddexp(0, -pos_v), np.logaddexp(0, neg[keep])])
    return np.mean(values)


@pytest.mark.parametrize("loss", ["nssa", "softplus", "margin", "bce", "softmax"])
@pytest.mark.parametrize("masked", [False, True])
def test_slcwa_loss_matches_pykeen_reductions(loss, masked):
    rng = np.random.default_rng(7)
    b, k = 6, 5
    pos = rng.normal(size=b).astype(np.float32) * 3
    neg = rng.normal(size=(b, k)).astype(np.float32) * 3
    keep = rng.random((b, k)) < 0.6 if masked else np.ones((b, k), bool)
    valid = np.arange(b) < 4 if masked else np.ones(b, bool)
    margin = {"nssa": 9.0, "margin": 1.0}.get(loss)
    log_q = np.log(5 / 7) if loss == "softmax" else None
    got = jax.jit(
        lambda p, n, w, v: kg.slcwa_loss(
            p,
            n,
            loss=loss,
            margin=margin,
            adversarial_temperature=0.5,
            where=w,
            valid=v,
            neg_log_q=log_q,
        )  # fmt: skip
    )(pos, neg, keep, valid)
    ref_margin = log_q if loss == "softmax" else margin or 0.0
    ref = _np_pykeen_loss(loss, pos, neg, keep, valid, ref_margin, 0.5)
    assert_close(got, ref, loose=True)


@pytest.mark.parametrize("loss", ["nssa", "softplus", "margin", "softmax"])
def test_slcwa_loss_row_weights(loss):
    rng = np.random.default_rng(8)
    b, k = 5, 4
    pos = rng.normal(size=b).astype(np.float32)
    neg = rng.normal(size=(b, k)).astype(np.float32)
    keep = rng.random((b, k)) < 0.7
    valid = np.arange(b) < 4
    weights = rng.uniform(0.1, 2.0, b).astype(np.float32)
    log_q = 2.0 if loss == "softmax" else None  # the reference reads it as margin
    got = kg.slcwa_loss(pos, neg, loss=loss, margin=2.0, where=keep, valid=valid,
                        weights=weights, neg_log_q=log_q)  # fmt: skip
    ref = _np_pykeen_loss(loss, pos, neg, keep, valid, 2.0, 1.0, weights)
    assert_close(got, ref, loose=True)
    # unit weights change nothing
    ones = kg.slcwa_loss(pos, neg, loss=loss, margin=2.0, where=keep, valid=valid,
                         weights=np.ones(b, np.float32))  # fmt: skip
    assert_close(ones, kg.slcwa_loss(pos, neg, loss=loss, margin=2.0, where=keep,
                                     valid=valid), loose=True)  # fmt: skip


def test_slcwa_loss_nssa_weights_are_constants():
    pos, neg = jnp.array([0.5]), jnp.array([[1.0, -2.0, 0.0]])
    g = jax.grad(lambda n: kg.slcwa_loss(pos, n, loss="nssa", margin=1.0))(neg)
    w = np.exp(np.asarray(neg[0], np.float64))
    w /= w.sum()
    sig = 1 / (1 + np.exp(-(np.asarray(neg[0], np.float64) + 1.0)))
    assert_close(g[0], 0.5 * w * sig, loose=True)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(loss="hinge"), ValueError),
        (dict(margin=-1.0), ValueError),
        (dict(adversarial_temperature=-1.0), ValueError),
        (dict(where=jnp.ones((2, 4), bool)), ValueError),
        (dict(valid=jnp.ones(2, jnp.int32)), TypeError),
    ],
)
def test_slcwa_loss_bad_inputs(kwargs, error):
    with pytest.raises(error):
        kg.slcwa_loss(jnp.zeros(2), jnp.zeros((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="pos_scores"):
        kg.slcwa_loss(jnp.zeros(3), jnp.zeros((2, 3)))


# --------------------------------------------------------------------------
# models and training


@pytest.mark.parametrize("model", kg.MODELS)
def test_fast_negative_scores_equal_the_scorers(model):
    """The trainer's all-entity and anchor paths give the scoring functions."""
    rng = np.random.default_rng(0)
    e, r, d = 9, 3, 6
    params = kg.init_params(jax.random.key(1), model, e, r, d)
    pos = jnp.asarray(_random_triples(rng, 5, e, r), jnp.int32)
    ent, rel = params["entity"], params["relation"]
    h, rr, t = ent[pos[:, 0]], rel[pos[:, 1]], ent[pos[:, 2]]
    q_tail, q_head = kg._anchors(model, "pykeen", h, rr, t)
    sim = kg._SIMILARITY[(model, "pykeen")]
    tails = kg.score_triples(params, pos[:, :1], pos[:, 1:2], jnp.arange(e)[None],
                             model=model)  # fmt: skip
    heads = kg.score_triples(params, jnp.arange(e)[None], pos[:, 1:2], pos[:, 2:],
                             model=model)  # fmt: skip
    pairs = kg._similarity_pairs(sim, q_tail[:, None], ent[None])
    assert_close(pairs, tails, loose=True)
    assert_close(kg._similarity_pairs(sim, q_head[:, None], ent[None]), heads,
                 loose=True)  # fmt: skip
    if sim in ("dot", "l2"):
        both = kg._similarity_all(sim, jnp.stack([q_tail, q_head], 1), ent)
        assert_close(both[:, 0], tails, rtol=1e-4, atol=1e-4)  # |q|^2 expansion
        assert_close(both[:, 1], heads, rtol=1e-4, atol=1e-4)


def test_both_sides_replaces_each_side_uniformly():
    scipy_stats = pytest.importorskip("scipy.stats")
    n, b, k = 7, 300, 50
    pos = jnp.asarray(np.random.default_rng(0).integers(0, n, (b, 3)), jnp.int32)
    pos = pos.at[:, 1].set(0)
    neg = np.asarray(kg._both_sides(jax.random.key(4), pos, n, k))
    p = np.asarray(pos)
    assert neg.shape == (2 * b, k, 3)
    head, tail = neg[:b], neg[b:]
    # rows :b keep relation and tail and replace the head, rows b: the tail
    assert (head[..., 1:] == p[:, None, 1:]).all() and (head[..., 0] != p[:, :1]).all()
    assert (tail[..., :2] == p[:, None, :2]).all() and (tail[..., 2] != p[:, 2:]).all()
    for side, col in ((head, 0), (tail, 2)):
        # the replacement's offset from the original is uniform on 1..n-1
        offset = (side[..., col] - p[:, col : col + 1]) % n
        counts = np.bincount(offset.ravel(), minlength=n)
        assert counts[0] == 0
        assert scipy_stats.chisquare(counts[1:]).pvalue > 1e-3


@pytest.mark.parametrize("complex_rows", [False, True])
def test_n3_matches_gathered_rows(complex_rows):
    rng = np.random.default_rng(5)
    e, r, d = 6, 3, 8
    params = {
        "entity": jnp.asarray(rng.normal(size=(e, d)), jnp.float32),
        "relation": jnp.asarray(rng.normal(size=(r, d)), jnp.float32),
    }
    pos = _random_triples(rng, 9, e, r).astype(np.int32)
    keep = np.arange(9) < 7

    def cubes(x):
        x = np.asarray(x, np.float64)
        if complex_rows:
            return np.sum(np.hypot(x[..., : d // 2], x[..., d // 2 :]) ** 3, -1)
        return np.sum(np.abs(x) ** 3, -1)

    ent, rel = (np.asarray(params[k], np.float64) for k in ("entity", "relation"))
    rows = cubes(ent[pos[:, 0]]) + cubes(rel[pos[:, 1]]) + cubes(ent[pos[:, 2]])
    got = kg._n3(params, jnp.asarray(pos), jnp.asarray(keep), complex_rows)
    assert_close(got, rows[keep].mean(), loose=True)


@pytest.mark.parametrize("model", ["complex", "distmult"])
def test_trainer_adds_the_n3_penalty(model):
    """One batch per epoch: the epoch's loss is the loss at the initial tables."""
    train = np.array([[0, 0, 1], [1, 0, 2], [2, 1, 3], [3, 1, 4], [4, 0, 0],
                      [1, 1, 3]], np.int32)  # fmt: skip
    losses = []
    for weight in (0.0, 0.5):
        t = kg.make_trainer(train, 5, 2, model=model, dim=8, num_negatives=4,
                            batch_size=8, loss="softmax", regularizer="n3",
                            regularization=weight)  # fmt: skip
        params, state = t.init(jax.random.key(0))
        ent = np.asarray(params["entity"], np.float64)  # train_epoch donates
        rel = np.asarray(params["relation"], np.float64)
        _, _, value = t.train_epoch(params, state, jax.random.key(1))
        losses.append(float(value))

    def cubes(x):
        if model == "complex":
            return np.sum(np.hypot(x[..., :4], x[..., 4:]) ** 3, -1)
        return np.sum(np.abs(x) ** 3, -1)

    n3 = cubes(ent[train[:, 0]]) + cubes(rel[train[:, 1]]) + cubes(ent[train[:, 2]])
    assert_close(losses[1] - losses[0], 0.5 * n3.mean(), rtol=1e-4, atol=1e-4)


def test_make_trainer_init_scale():
    train = [[0, 0, 1], [1, 0, 2]]
    for model in ("complex", "rotate"):
        one = kg.make_trainer(train, 3, 1, model=model, dim=4).init(jax.random.key(0))
        tenth = kg.make_trainer(train, 3, 1, model=model, dim=4, init_scale=0.1)
        tenth = tenth.init(jax.random.key(0))
        assert_close(tenth[0]["entity"], 0.1 * one[0]["entity"])
        scale = 0.1 if model == "complex" else 1.0  # rotations keep unit modulus
        assert_close(tenth[0]["relation"], scale * one[0]["relation"])


@pytest.mark.parametrize("mixed", [None, 3])
def test_l1_negatives_gradient_equals_autodiff(mixed):
    """TransE's custom backward against autodiff of the same scores."""
    rng = np.random.default_rng(11)
    b, k, e, d = 6, 5, 9, 7
    q_row = jnp.asarray(rng.normal(size=(b, d)), jnp.float32)
    q_other = jnp.asarray(rng.normal(size=(b, d)), jnp.float32)
    table = jnp.asarray(rng.normal(size=(e, d)), jnp.float32)
    ids = jnp.asarray(rng.integers(0, e, (b, k)), jnp.int32)
    other = np.zeros((b, k), bool)
    if mixed is not None:
        other[mixed, 2:] = True
    other = jnp.asarray(other)
    w = jnp.asarray(rng.normal(size=(b, k)), jnp.float32)
    m = jnp.argmax(jnp.any(other, axis=1))

    def ours(qr, qo, t):
        return jnp.sum(w * kg._l1_negatives(qr, qo, t, ids, other, m))

    def reference(qr, qo, t):
        anchor = jnp.where(other[..., None], qo[:, None], qr[:, None])
        return jnp.sum(w * -jnp.sum(jnp.abs(anchor - t[ids]), axis=-1))

    got = jax.jit(jax.value_and_grad(ours, argnums=(0, 1, 2)))(q_row, q_other, table)
    ref = jax.value_and_grad(reference, argnums=(0, 1, 2))(q_row, q_other, table)
    for a, r in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
        assert_close(a, r, loose=True)
    # float64 NumPy: d/d row of -|a - row| is sign(a - row)
    qo64, qr64 = (np.asarray(x, np.float64)[:, None] for x in (q_other, q_row))
    a64 = np.where(np.asarray(other)[..., None], qo64, qr64)
    u = np.asarray(w, np.float64)[..., None] * np.sign(
        a64 - np.asarray(table, np.float64)[np.asarray(ids)]
    )
    g_table = np.zeros((e, d))
    np.add.at(g_table, np.asarray(ids), u)
    assert_close(got[1][2], g_table, loose=True)


def test_init_params_follow_pykeen():
    p = kg.init_params(jax.random.key(0), "transe", 50, 4, 16)
    assert_close(jnp.linalg.norm(p["entity"], axis=1), np.ones(50))
    assert_close(jnp.linalg.norm(p["relation"], axis=1), np.ones(4))
    p = kg.init_params(jax.random.key(0), "rotate", 50, 4, 16)
    re, im = p["relation"][:, :8], p["relation"][:, 8:]
    assert_close(re**2 + im**2, np.ones((4, 8)))
    assert float(jnp.abs(p["entity"]).max()) <= np.sqrt(6 / 16)
    p = kg.init_params(jax.random.key(0), "rotate", 5, 4, 16, rotate_variant="sun")
    assert p["relation"].shape == (4, 8)
    with pytest.raises(ValueError, match="even"):
        kg.init_params(jax.random.key(0), "complex", 5, 4, 7)
    with pytest.raises(ValueError, match="model"):
        kg.init_params(jax.random.key(0), "transh", 5, 4, 8)


@pytest.mark.parametrize(
    "model, loss, sampler, filtered",
    [
        ("transe", "nssa", "basic", False),
        ("distmult", "softplus", "bernoulli", True),
        ("complex", "bce", "basic", True),
        ("rotate", "margin", "bernoulli", False),
        ("rotate-sun", "nssa", "basic", True),
        ("complex", "softmax", "both", True),
        ("rotate", "softmax", "both", False),
    ],
)
def test_trainer_learns_a_tiny_graph(model, loss, sampler, filtered):
    variant = "sun" if model == "rotate-sun" else "pykeen"
    model = model.removesuffix("-sun")
    # A cycle: t = h + 1 (mod n) under relation 0, its inverse under 1.
    n = 8
    train = np.array([[i, 0, (i + 1) % n] for i in range(n)]
                     + [[(i + 1) % n, 1, i] for i in range(n)], np.int32)  # fmt: skip
    both = sampler == "both"
    trainer = kg.make_trainer(
        train, n, 2, model=model, dim=16, loss=loss,
        sampler="basic" if both else sampler, both_sides=both,
        num_negatives=8, batch_size=5, learning_rate=0.05,
        filtered_negatives=filtered, margin=1.0 if loss != "nssa" else 3.0,
        rotate_variant=variant, subsampling=variant == "sun",
        regularizer="n3" if both else "l2", regularization=1e-3 if both else None,
        init_scale=0.1 if both else 1.0,
    )  # fmt: skip
    params, state = trainer.init(jax.random.key(0))
    known = kg.known_triples(train, n, 2)
    before = kg.evaluate(trainer.score_fn, params, train, known)["both"]["mrr"]
    losses = []
    for epoch in range(60):
        params, state, value = trainer.train_epoch(params, state, jax.random.key(epoch))
        losses.append(float(value))
    after = kg.evaluate(trainer.score_fn, params, train, known)["both"]["mrr"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert after > before + 0.1, (before, after)
    if model == "transe":
        assert_close(jnp.linalg.norm(params["entity"], axis=1), np.ones(n), loose=True)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(model="transh"), ValueError, "model"),
        (dict(loss="hinge"), ValueError, "loss"),
        (dict(sampler="uniform"), ValueError, "sampler"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(model="rotate", dim=7), ValueError, "even"),
        (dict(filtered_negatives=1), TypeError, "filtered_negatives"),
        (dict(both_sides=1), TypeError, "both_sides"),
        (dict(regularizer="l1"), ValueError, "regularizer"),
        (dict(init_scale=0.0), ValueError, "init_scale"),
        (dict(init_scale=float("inf")), ValueError, "init_scale"),
        (dict(optimizer="adam"), TypeError, "optimizer must be an Optax .* str 'adam'"),
        (dict(optimizer=object()), TypeError, "optimizer must be an Optax"),
        (dict(margin=-1.0), ValueError, "margin must be finite and >= 0, got -1.0"),
        (dict(margin=float("inf")), ValueError, "margin must be finite"),
        (dict(margin="9"), TypeError, "margin must be a real number"),
        (dict(adversarial_temperature=float("nan")), ValueError,
         "adversarial_temperature must be finite and >= 0, got nan"),
        (dict(adversarial_temperature=-0.5), ValueError, "adversarial_temperature"),
        (dict(normalize_entities="no"), TypeError,
         "kg.make_trainer: normalize_entities must be a bool, got str 'no'"),
    ],
)  # fmt: skip
def test_make_trainer_bad_inputs(kwargs, error, words):
    with pytest.raises(error, match=words):
        kg.make_trainer([[0, 0, 1]], 2, 1, **kwargs)


def test_make_trainer_accepts_the_edge_of_the_checks():
    optax = pytest.importorskip("optax")
    # margin 0 and temperature 0 are slcwa_loss's edges, and any object with
    # init and update is an optimizer; one step of SGD moves the tables.
    t = kg.make_trainer(
        [[0, 0, 1]], 2, 1, model="distmult", dim=4, num_negatives=1,
        batch_size=1, margin=0.0, adversarial_temperature=0.0,
        optimizer=optax.sgd(0.1),
    )  # fmt: skip
    params, state = t.init(jax.random.key(0))
    before = np.array(params["entity"])  # train_epoch donates params
    params, _, loss = t.train_epoch(params, state, jax.random.key(1))
    assert bool(jnp.isfinite(loss))
    assert not np.allclose(params["entity"], before)


# --------------------------------------------------------------------------
# the example


def _example():
    import importlib.util

    path = (
        pathlib.Path(__file__).resolve().parents[1] / "examples" / "knowledge_graph.py"
    )
    spec = importlib.util.spec_from_file_location("knowledge_graph_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_graph(directory):
    rng = np.random.default_rng(0)
    names = [f"e{i}" for i in range(12)]
    lines = {f"{names[i]}\tnext\t{names[(i + 1) % 12]}" for i in range(12)} | {
        f"{names[int(a)]}\tlink\t{names[int(b)]}"
        for a, b in rng.integers(0, 12, (30, 2))
    }
    lines = sorted(lines)
    return _write(
        directory,
        train="\n".join(lines) + "\n",
        valid=lines[0] + "\n",
        test="\n".join(lines[1:4]) + "\n",
    )


def test_example_trains_and_reports(tmp_path, capsys):
    example = _example()
    report = tmp_path / "report.json"
    out = example.main(
        ["--dataset", str(_tiny_graph(tmp_path / "g")), "--epochs", "3", "--dim",
         "8", "--negatives", "4", "--batch-size", "16", "--eval-every", "2",
         "--report", str(report), "--no-progress", "--model", "transe",
         "--margin", "12"]
    )  # fmt: skip
    import json

    saved = json.loads(report.read_text())
    assert saved["test"]["both"]["mrr"] == pytest.approx(out["test"]["both"]["mrr"])
    assert set(saved["test"]) == {"head", "tail", "both"}
    assert saved["history"][0]["epoch"] == 2 and len(saved["history"]) == 1
    assert saved["steady_positives_per_second"] > 0
    assert "filtered test metrics" in capsys.readouterr().out


def test_example_one_epoch_has_no_steady_rate(tmp_path):
    example = _example()
    report = tmp_path / "report.json"
    example.main(
        ["--dataset", str(_tiny_graph(tmp_path / "g")), "--epochs", "1", "--dim",
         "8", "--negatives", "4", "--batch-size", "16", "--report", str(report),
         "--no-progress", "--model", "transe", "--margin", "12"]
    )  # fmt: skip
    import json

    saved = json.loads(report.read_text())
    assert saved["steady_positives_per_second"] is None
    assert saved["positives_per_second"] > 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--lr", "nan"], "--lr"),
        (["--lr", "-1"], "--lr"),
        (["--negatives", "0"], "--negatives"),
        (["--model", "rotate", "--dim", "7"], "even"),
        (["--report", "/nonexistent-dir/report.json"], "does not exist"),
    ],
)
def test_example_rejects_bad_flags(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        _example().parse_args(argv)
    assert info.value.code == 2
    assert words in capsys.readouterr().err


def test_example_library_errors_are_one_line(tmp_path, capsys):
    _write(tmp_path, train="a\tb\n", valid=VALID, test=TEST)
    with pytest.raises(SystemExit) as info:
        _example().main(["--dataset", str(tmp_path), "--no-progress"])
    assert info.value.code == 1  # an error while running; usage errors exit 2
    err = capsys.readouterr().err
    assert err.startswith("knowledge_graph.py: error: load_triples:")
    assert "Traceback" not in err and "train.txt line 1" in err
    with pytest.raises(ValueError):
        _example().main(["--dataset", str(tmp_path), "--debug", "--no-progress"])
