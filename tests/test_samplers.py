# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.samplers: exact tables, chi-squared fits, keys, bad inputs."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats
from helpers import assert_close

import jaxns
from jaxns import samplers

KEYS = (0, 1, 2)
N_DRAWS = 100_000
UNITS = 2.0**32


def _zipf_counts(v, seed=0, zero_fraction=0.0):
    rng = np.random.default_rng(seed)
    counts = np.floor(1e6 / np.arange(1, v + 1) ** 1.1) + rng.integers(0, 3, v)
    counts[rng.random(v) < zero_fraction] = 0
    return counts


def _chisquare_pvalue(ids, p):
    """Chi-squared p-value of draws `ids` against `p`, bins with E < 5 merged."""
    ids = np.asarray(ids).ravel()
    p = np.asarray(p, np.float64)
    p = p / p.sum()
    observed = np.bincount(ids, minlength=p.size).astype(np.float64)
    assert observed.size == p.size, "an id outside [0, V) was drawn"
    expected = ids.size * p
    assert observed[p == 0].sum() == 0, "a zero-probability id was drawn"
    small = expected < 5
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return scipy.stats.chisquare(obs, exp).pvalue


def _implied_alias_distribution(sampler):
    """p_i = (prob_i + sum_{j: alias_j = i} (1 - prob_j)) / S, in float64."""
    table = np.asarray(sampler.table)
    threshold = table[:, 0].view(np.uint32).astype(np.float64)
    alias = table[:, 1]
    slots = table.shape[0]
    full = alias == np.arange(slots)  # alias = self: the slot is all its own
    keep = np.where(full, 1.0, threshold / UNITS)
    mass = keep.copy()
    np.add.at(mass, alias, 1.0 - keep)
    return mass / slots


_draw = jax.jit(lambda s, key: s.sample(key, (N_DRAWS,)))


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize("v", [1, 2, 3, 7, 1000, 12345])
@pytest.mark.parametrize("power", [0.75, 0.5, 1.0])
def test_alias_table_implies_exact_distribution(v, power):
    counts = _zipf_counts(v, seed=v, zero_fraction=0.2)
    counts[0] = max(counts[0], 1)
    sampler = samplers.unigram(counts, power=power)
    expected = np.where(counts > 0, counts.astype(np.float64) ** power, 0.0)
    expected /= expected.sum()
    implied = _implied_alias_distribution(sampler)
    np.testing.assert_allclose(implied[:v], expected, rtol=1e-6, atol=1e-12)
    assert np.all(implied[v:] == 0)  # padding slots
    assert np.all(implied[:v][counts == 0] == 0)
    assert abs(implied.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(sampler.probs(), expected, rtol=1e-6, atol=1e-12)
    assert sampler.num_support == int(np.count_nonzero(counts))


def test_alias_table_never_aliases_zero_weight_ids_at_4m():
    v = 1 << 22
    counts = _zipf_counts(v, seed=3, zero_fraction=0.3)
    counts[-(v // 4) :] = 0  # a zero tail
    sampler = samplers.unigram(counts, power=0.75)
    table = np.asarray(sampler.table)
    zero = np.flatnonzero(counts == 0)
    assert np.all(table[zero, 0] == 0)  # threshold 0: the slot always aliases
    assert not np.isin(table[:, 1], zero).any()  # and no slot aliases to them
    ids = np.asarray(sampler.sample(jax.random.key(0), (1_000_000,)))
    assert not np.isin(ids, zero).any()
    assert ids.min() >= 0 and ids.max() < v


@pytest.mark.parametrize(
    "weights",
    [[1e308, 1e308], [1.7e308, 1e308, 1.0], [1e300, 1e-300, 1.0], [1e9, 1.0]],
    ids=["sum-overflows", "sum-overflows-tail", "share-underflows", "skewed"],
)
def test_extreme_finite_weights_give_their_distribution(weights):
    # The float64 sum of finite weights can overflow (all mass went to id 0,
    # with a RuntimeWarning) and a tiny share can underflow to 0 (a positive
    # weight was never drawn). Each positive weight keeps at least one unit
    # (2**-32 of a slot), which the largest gives up.
    w = np.asarray(weights, np.float64)
    exact = (w / w.max()) / (w / w.max()).sum()
    sampler = samplers.categorical(w)
    implied = _implied_alias_distribution(sampler)
    unit = 1.0 / (UNITS * implied.size)
    np.testing.assert_allclose(implied[: w.size], exact, rtol=0, atol=w.size * unit)
    assert np.all(implied[: w.size] > 0) and sampler.num_support == w.size
    assert_close(sampler.probs(), implied[: w.size])
    mixed = samplers.mixture(
        [samplers.uniform(w.size), samplers.categorical(np.ones(w.size))],
        w[:2],
    )
    assert_close(mixed.probs(), np.full(w.size, 1 / w.size))


def test_categorical_matches_normalised_probs():
    p = np.random.default_rng(1).dirichlet(np.ones(300)) * 7.0
    p[::7] = 0
    sampler = samplers.categorical(p)
    np.testing.assert_allclose(
        _implied_alias_distribution(sampler)[:300], p / p.sum(), rtol=1e-6, atol=1e-12
    )
    assert sampler.family == "categorical"


def test_log_uniform_probs_match_formula():
    for v in (1, 10, 1000, 123_457):
        p = np.asarray(samplers.log_uniform(v).probs(), np.float64)
        k = np.arange(v)
        expected = np.log((k + 2) / (k + 1)) / np.log(v + 1)
        np.testing.assert_allclose(p, expected, rtol=1e-5)
        assert abs(p.sum() - 1) < 1e-5
        lp = samplers.log_uniform(v).log_prob(jnp.arange(v))
        np.testing.assert_allclose(lp, np.log(expected), atol=1e-5)


@pytest.mark.parametrize("v", [1, 2, 2**30])
def test_log_uniform_at_the_ends_of_its_range(v):
    # The documented range is 0 <= V <= 2**30; every pair of extreme random
    # words maps into [0, V), and V = 1 always draws 0.
    words = jnp.array([0, 1, 2**31, 2**32 - 1], jnp.uint32)
    w0, w1 = jnp.meshgrid(words, words)
    ids = np.asarray(samplers._log_uniform_from_words(w0, w1, v))
    assert ids.min() == 0 and ids.max() == v - 1
    assert samplers.log_uniform(v).num_classes == v
    with pytest.raises(ValueError, match="num_classes"):
        samplers.log_uniform(2**30 + 1)


def test_log_uniform_draw_is_exact_at_large_vocabulary():
    # The map from the two random words to an id is deterministic, so the
    # sampled distribution can be enumerated: stage 1 (the block of ids) by
    # binary search over all 2**32 values of the first word, stage 2 (the id
    # inside a block) over all 2**24 values the second word uses.
    v = (1 << 20) + 3
    s = samplers._log_uniform_blocks(v)
    width = 1 << s
    num_blocks = max(1, v // width)
    f = jax.jit(lambda w0, w1: samplers._log_uniform_from_words(w0, w1, v))

    def block_of(w0):
        return np.asarray(
            f(jnp.asarray(w0, jnp.uint32), jnp.zeros(w0.shape, jnp.uint32))
        )

    def first_word_below(limit):  # smallest w0 with block(w0) < limit
        lo, hi = np.zeros(limit.shape, np.int64), np.full(limit.shape, 1 << 32)
        for _ in range(33):
            mid = (lo + hi) // 2
            below = (block_of(np.minimum(mid, (1 << 32) - 1)) >> s < limit) & (
                mid < (1 << 32)
            )
            hi, lo = np.where(below, mid, hi), np.where(below, lo, mid + 1)
        return lo

    blocks = np.arange(num_blocks)
    start = first_word_below(blocks + 1)
    block_mass = (first_word_below(blocks) - start) / UNITS
    k = np.arange(v, dtype=np.float64)
    p = np.log((k + 2) / (k + 1)) / np.log(v + 1)
    block_ids = np.minimum(np.arange(v) >> s, num_blocks - 1)
    p_block = np.bincount(block_ids, weights=p)
    np.testing.assert_allclose(block_mass, p_block, rtol=2e-4)

    u_words = jnp.asarray(np.arange(1 << 24, dtype=np.uint32) << 8)
    for b in (0, 1, num_blocks // 2, num_blocks - 1):
        w0 = jnp.full(u_words.shape, min(start[b], (1 << 32) - 1), jnp.uint32)
        ids = np.asarray(f(w0, u_words))
        lo = b * width
        hi = v if b == num_blocks - 1 else lo + width
        assert np.all((ids >= lo) & (ids < hi))
        within = np.bincount(ids - lo, minlength=hi - lo) / 2.0**24
        np.testing.assert_allclose(within, p[lo:hi] / p[lo:hi].sum(), rtol=1e-3)


# ------------------------------------------------------- chi-squared fits


def _fit_cases():
    counts = _zipf_counts(1000, seed=5)
    probs = np.random.default_rng(6).dirichlet(np.ones(500) * 0.3)
    return {
        "uniform": (samplers.uniform(1000), np.ones(1000)),
        "log_uniform": (
            samplers.log_uniform(1000),
            np.log((np.arange(1000) + 2) / (np.arange(1000) + 1)),
        ),
        "unigram_075": (samplers.unigram(counts, power=0.75), counts**0.75),
        "unigram_05": (samplers.unigram(counts, power=0.5), counts**0.5),
        "categorical": (samplers.categorical(probs), probs),
        "mixture": (
            samplers.mixture(
                [samplers.uniform(1000), samplers.unigram(counts, power=0.75)],
                [0.3, 0.7],
            ),
            0.3 / 1000 + 0.7 * counts**0.75 / (counts**0.75).sum(),
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["uniform", "log_uniform", "unigram_075", "unigram_05", "categorical", "mixture"],
)
def test_chi_squared_goodness_of_fit(case):
    sampler, weights = _fit_cases()[case]
    p = weights / weights.sum()
    for seed in KEYS:
        ids = np.asarray(_draw(sampler, jax.random.key(seed)))
        assert ids.dtype == np.int32 and ids.shape == (N_DRAWS,)
        assert _chisquare_pvalue(ids, p) > 1e-3, (case, seed)
        # support: every id expected >= 20 times appears
        assert np.isin(np.flatnonzero(N_DRAWS * p >= 20), ids).all()


def test_chi_squared_has_power():
    counts = _zipf_counts(1000, seed=5)
    wrong = samplers.unigram(counts, power=0.70)
    for seed in KEYS:
        ids = _draw(wrong, jax.random.key(seed))
        assert _chisquare_pvalue(ids, counts**0.75) < 1e-3


def test_zero_probability_ids_never_drawn():
    counts = _zipf_counts(200, seed=7, zero_fraction=0.5)
    sampler = samplers.unigram(counts, power=0.75)
    ids = np.asarray(_draw(sampler, jax.random.key(0)))
    assert not np.isin(ids, np.flatnonzero(counts == 0)).any()


def test_random_words_fallback_for_other_key_impls():
    sampler = samplers.unigram(_zipf_counts(100), power=0.75)
    key = jax.random.key(0, impl="rbg")
    ids = sampler.sample(key, (N_DRAWS,))
    assert _chisquare_pvalue(ids, np.asarray(sampler.probs(), np.float64)) > 1e-3


# -------------------------------------------------- without replacement


def test_uniform_without_replacement_shift_method_is_exact():
    # All 20 ordered pairs of distinct ids from 5 are equally likely.
    draw = jax.jit(
        lambda key: samplers.uniform(5).sample(key, (N_DRAWS, 2), replace=False)
    )
    for seed in KEYS:
        pairs = np.asarray(draw(jax.random.key(seed)))
        assert np.all(pairs[:, 0] != pairs[:, 1])
        code = pairs[:, 0] * 5 + pairs[:, 1]
        p = (np.arange(25) // 5 != np.arange(25) % 5).astype(np.float64)
        assert _chisquare_pvalue(code, p) > 1e-3


@pytest.mark.parametrize("v,k", [(50, 5), (20, 15)])  # shift method / top-k path
def test_uniform_without_replacement_inclusion(v, k):
    rows = np.asarray(
        samplers.uniform(v).sample(jax.random.key(0), (20_000, k), replace=False)
    )
    assert rows.shape == (20_000, k)
    assert all(len(set(r)) == k for r in rows[:2000])
    assert np.all(np.sort(rows, -1)[:, 1:] != np.sort(rows, -1)[:, :-1])
    # inclusion frequency k / V (conservative chi-squared: counts are negatively
    # correlated within a row)
    assert _chisquare_pvalue(rows, np.ones(v)) > 1e-3
    assert _chisquare_pvalue(rows[:, 0], np.ones(v)) > 1e-3


def test_gumbel_top_k_rows_and_first_slot():
    counts = _zipf_counts(40, seed=8, zero_fraction=0.2)
    counts[:3] = [100, 50, 25]
    sampler = samplers.unigram(counts, power=0.75)
    k = int(np.count_nonzero(counts)) - 1
    rows = np.asarray(
        jax.jit(lambda s, key: s.sample(key, (N_DRAWS, k), replace=False))(
            sampler, jax.random.key(1)
        )
    )
    sorted_rows = np.sort(rows, -1)
    assert np.all(sorted_rows[:, 1:] != sorted_rows[:, :-1])
    assert not np.isin(rows, np.flatnonzero(counts == 0)).any()
    assert _chisquare_pvalue(rows[:, 0], counts**0.75) > 1e-3
    for family in (samplers.log_uniform(30), _fit_cases()["mixture"][0]):
        rows = np.asarray(family.sample(jax.random.key(2), (3000, 7), replace=False))
        assert np.all(np.sort(rows, -1)[:, 1:] != np.sort(rows, -1)[:, :-1])


def test_without_replacement_full_support_is_a_permutation():
    sampler = samplers.categorical([0.5, 0.0, 0.25, 0.25])
    rows = np.asarray(sampler.sample(jax.random.key(0), (100, 3), replace=False))
    assert np.all(np.sort(rows, -1) == [0, 2, 3])
    with pytest.raises(ValueError, match="Cannot take a larger sample than population"):
        sampler.sample(jax.random.key(0), (4,), replace=False)


# ------------------------------------------------------ expected counts


def test_expected_count_with_replacement():
    counts = _zipf_counts(50, seed=9, zero_fraction=0.2)
    sampler = samplers.unigram(counts, power=0.75)
    ids = jnp.arange(-1, 51)
    p = np.asarray(sampler.probs(), np.float64)
    expected = 7 * np.concatenate([[0.0], p, [0.0]])
    got = samplers.expected_count(sampler, ids, 7)
    np.testing.assert_allclose(
        got, np.maximum(expected, np.finfo(np.float32).tiny), rtol=1e-6
    )
    log_got = samplers.log_expected_count(sampler, ids, 7)
    assert np.all(np.isfinite(log_got))
    tiny_log = np.log(np.finfo(np.float32).tiny)
    np.testing.assert_allclose(
        log_got[1:-1][p > 0], np.log(expected[1:-1][p > 0]), rtol=1e-6
    )
    np.testing.assert_allclose(log_got[(expected == 0)], tiny_log, rtol=1e-6)


def test_expected_count_without_replacement():
    u = samplers.uniform(40)
    np.testing.assert_allclose(
        samplers.expected_count(u, jnp.arange(40), 6, replace=False), 6 / 40, rtol=1e-6
    )
    p = np.random.default_rng(0).dirichlet(np.ones(20) * 0.5)
    sampler = samplers.categorical(p)
    k = 5
    rows = sampler.sample(jax.random.key(0), (N_DRAWS, k), replace=False)
    freq = np.bincount(np.asarray(rows).ravel(), minlength=20) / N_DRAWS
    rosen = np.asarray(
        samplers.expected_count(sampler, jnp.arange(20), k, replace=False)
    )
    assert abs(rosen.sum() - k) < 1e-4
    # Rosen's approximation within 8% plus Monte-Carlo noise (4 sigma)
    assert np.all(np.abs(rosen - freq) <= 0.08 * freq + 4 * np.sqrt(freq / N_DRAWS))
    tf = -np.expm1(k * np.log1p(-np.asarray(sampler.probs(), np.float64)))
    assert np.abs(rosen / freq - 1).max() < np.abs(tf / freq - 1).max()
    full = samplers.categorical([1.0, 0.0, 2.0])
    np.testing.assert_allclose(
        samplers.expected_count(full, jnp.arange(3), 2, replace=False),
        [1.0, np.finfo(np.float32).tiny, 1.0],
    )


@pytest.mark.parametrize(
    "weights", [[5, 3, 2], [1e9, 1], [1, 0, 4, 4, 1]], ids=["small", "skewed", "zero"]
)
def test_expected_count_of_one_draw_without_replacement_is_p(weights):
    # One draw without replacement is one categorical draw: the inclusion
    # probability is the table's p exactly (Rosen's approximation gave 0.465
    # for p = 0.5, and 1.9e-8 for p = 1e-9).
    sampler = samplers.categorical(weights)
    p = _implied_alias_distribution(sampler)[: len(weights)]
    ids = jnp.arange(len(weights))
    got = samplers.expected_count(sampler, ids, 1, replace=False)
    assert_close(got, np.where(p > 0, p, np.finfo(np.float32).tiny))
    log_got = samplers.log_expected_count(sampler, ids, 1, replace=False)
    tiny_log = np.log(np.finfo(np.float32).tiny)
    with np.errstate(divide="ignore"):
        assert_close(log_got, np.where(p > 0, np.log(p), tiny_log))
    candidates = samplers.sample_candidates(
        jax.random.key(0), sampler, 1, ids, replace=False
    )
    assert_close(candidates.pos_log_q, log_got)


def _np_rosen(p, k):
    """Rosen's pi = 1 - exp(-t p) with sum(pi) = k, solved in float64."""
    from scipy.optimize import brentq

    t = brentq(lambda t: -np.expm1(-t * p).sum() - k, 0.0, 1e3 * k / p[p > 0].min())
    return -np.expm1(-t * p)


@pytest.mark.parametrize("num_classes", [100_000, 1_000_000])
def test_expected_count_without_replacement_many_classes(num_classes):
    # Equal weights through the alias family (not `uniform`'s exact k/V path):
    # Rosen's pi is exactly k/V. `1 - exp` in the float32 Newton solve was
    # off by ~1e-3 at V = 1e6 and its pi did not sum to k.
    k = 10
    sampler = samplers.categorical(np.ones(num_classes))
    ids = jnp.arange(num_classes)
    got = np.asarray(samplers.expected_count(sampler, ids, k, replace=False))
    np.testing.assert_allclose(got, k / num_classes, rtol=2e-6)
    assert abs(got.astype(np.float64).sum() - k) < 2e-5 * k
    log_got = samplers.log_expected_count(sampler, ids[:3], k, replace=False)
    np.testing.assert_allclose(log_got, np.log(k / num_classes), rtol=1e-6)


def test_expected_count_without_replacement_zipf_matches_float64():
    v, k = 100_000, 10
    weights = 1.0 / np.arange(1, v + 1)
    sampler = samplers.categorical(weights)
    p = np.asarray(sampler.probs(), np.float64)
    got = np.asarray(samplers.expected_count(sampler, jnp.arange(v), k, replace=False))
    np.testing.assert_allclose(got, _np_rosen(p, k), rtol=1e-5)
    assert abs(got.astype(np.float64).sum() - k) < 1e-5 * k


# ------------------------------------------------------------ exclusion


def test_sample_excluding_exact_and_uniform():
    exclude = jnp.array([[0, 3, 3, 9, -1, 12], [5, 5, 5, 5, 5, 5]])
    draw = jax.jit(
        lambda key: samplers.sample_excluding(key, 10, exclude, (2, N_DRAWS // 2))
    )
    for seed in KEYS:
        ids = np.asarray(draw(jax.random.key(seed)))
        assert ids.shape == (2, N_DRAWS // 2)
        assert not np.isin(ids[0], [0, 3, 9]).any() and not np.isin(ids[1], [5]).any()
        p0 = np.ones(10)
        p0[[0, 3, 9]] = 0
        p1 = np.ones(10)
        p1[5] = 0
        assert _chisquare_pvalue(ids[0], p0) > 1e-3
        assert _chisquare_pvalue(ids[1], p1) > 1e-3


def test_sample_excluding_shared_set_and_edges():
    ids = samplers.sample_excluding(jax.random.key(0), 6, jnp.array([1, 4]), (3, 1000))
    assert ids.shape == (3, 1000)
    assert set(np.unique(ids)) == {0, 2, 3, 5}
    one_left = samplers.sample_excluding(
        jax.random.key(0), 4, jnp.array([[0, 1, 3]]), (1, 50)
    )
    assert np.all(one_left == 2)
    assert samplers.sample_excluding(
        jax.random.key(0), 4, jnp.array([0]), (3, 0)
    ).shape == (3, 0)


def test_sample_excluding_ignores_64_bit_ids_outside_the_range():
    # With x64, ids past the int32 range are ids outside [0, n) like -1: they
    # exclude nothing (2**32 + 3 wrapped to 3 and excluded it).
    with jax.enable_x64(True):
        far = jnp.array([[2**32 + 3, 2**33, -(2**32) + 1, 2]] * 2, jnp.int64)
        pad = jnp.array([[-1, -1, -1, 2]] * 2, jnp.int64)
        key = jax.random.key(0)
        f = jax.jit(lambda e: samplers.sample_excluding(key, 5, e, (2, 400)))
        ids = np.asarray(f(far))
        np.testing.assert_array_equal(ids, f(pad))
        np.testing.assert_array_equal(np.unique(ids), [0, 1, 3, 4])


# ------------------------------------------------- accidental hits, hard


@pytest.mark.parametrize("true_shape", [(6,), (6, 3)])
@pytest.mark.parametrize("sampled_shape", [(6, 8), (8,)])
def test_accidental_hits_matches_brute_force(true_shape, sampled_shape):
    rng = np.random.default_rng(0)
    true_ids = rng.integers(0, 5, true_shape)
    sampled = rng.integers(0, 5, sampled_shape)  # many duplicates
    got = np.asarray(samplers.accidental_hits(true_ids, sampled))
    t = true_ids.reshape(6, -1)
    s = np.broadcast_to(sampled, (6, 8))
    expected = np.array(
        [[s[b, j] in set(t[b].tolist()) for j in range(8)] for b in range(6)]
    )
    assert got.shape == (6, 8) and got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)


def test_accidental_hits_mixed_int_dtypes():
    hits = samplers.accidental_hits(
        jnp.array([1, 2], jnp.uint32), jnp.array([[1, 2], [2, 2]], jnp.int32)
    )
    np.testing.assert_array_equal(hits, [[True, False], [True, True]])


def test_hard_negatives_nan_ranks_below_minus_inf():
    scores = jnp.array([[1.0, jnp.nan, -jnp.inf, 2.0]])
    mask = jnp.array([[True, True, True, False]])
    idx, valid = samplers.hard_negatives(scores, 4, where=mask, return_mask=True)
    np.testing.assert_array_equal(idx, [[0, 2, 1, 3]])
    np.testing.assert_array_equal(valid, [[True, True, True, False]])


def _hard_reference(scores, k, where):
    out = []
    n = scores.shape[-1]
    for row, mask in zip(scores.reshape(-1, n), where.reshape(-1, n), strict=True):
        n = row.size
        # unmasked first, by decreasing score, then masked; ties by index
        order = np.lexsort((np.arange(n), np.where(mask, -row, 0), ~mask))
        out.append(order[:k])
    return np.array(out).reshape(*scores.shape[:-1], k)


def test_hard_negatives_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(-3, 3, (4, 5, 12)).astype(np.float32)  # many ties
    scores[0, 0, :4] = [-np.inf, 0.0, -0.0, np.inf]
    where = rng.random(scores.shape) < 0.7
    where[1, 1] = False  # fully masked row
    where[2, 2, 3:] = False  # 3 valid entries only
    idx, valid = samplers.hard_negatives(
        scores, 5, where=jnp.asarray(where), return_mask=True
    )
    np.testing.assert_array_equal(idx, _hard_reference(scores, 5, where))
    np.testing.assert_array_equal(valid, np.take_along_axis(where, np.asarray(idx), -1))
    assert valid[2, 2].tolist() == [True] * 3 + [False] * 2
    np.testing.assert_array_equal(idx[1, 1], np.arange(5))  # masked: lowest indices
    no_mask = samplers.hard_negatives(scores, 12)
    np.testing.assert_array_equal(
        no_mask, _hard_reference(scores, 12, np.ones_like(where))
    )
    bf16 = samplers.hard_negatives(jnp.asarray(scores, jnp.bfloat16), 3)
    np.testing.assert_array_equal(bf16, _hard_reference(scores, 3, np.ones_like(where)))
    assert samplers.hard_negatives(scores, 0).shape == (4, 5, 0)
    jitted = jax.jit(lambda s, w: samplers.hard_negatives(s, 5, where=w))
    np.testing.assert_array_equal(jitted(scores, where), idx)


# ---------------------------------------------------------------- keys


def _all_samplers():
    counts = _zipf_counts(300, seed=2, zero_fraction=0.1)
    return [
        samplers.uniform(300),
        samplers.log_uniform(300),
        samplers.unigram(counts, power=0.75),
        samplers.categorical(counts),
        samplers.mixture([samplers.uniform(300), samplers.log_uniform(300)], [1, 3]),
    ]


def _check_key_semantics(f, *args):
    """jit == eager bitwise, same key same ids, vmap over keys == loop."""
    keys = jax.random.split(jax.random.key(4), 3)
    eager = f(*args, keys[0])
    jitted = jax.jit(f)
    np.testing.assert_array_equal(jitted(*args, keys[0]), eager)
    np.testing.assert_array_equal(jitted(*args, keys[0]), eager)
    assert not np.array_equal(jitted(*args, keys[1]), eager)
    in_axes = (None,) * len(args) + (0,)
    batched = jax.jit(jax.vmap(f, in_axes=in_axes))(*args, keys)
    np.testing.assert_array_equal(batched, np.stack([jitted(*args, k) for k in keys]))


@pytest.mark.parametrize("replace", [True, False])
def test_jit_equals_eager_and_vmap_equals_loop(replace):
    # Without replacement, the non-uniform families share one Gumbel-top-k path.
    cases = _all_samplers() if replace else _all_samplers()[::2]
    for sampler in cases:
        _check_key_semantics(lambda s, k: s.sample(k, (2, 6), replace=replace), sampler)


def test_key_semantics_of_exclusion_and_corruption():
    excl = jnp.array([[1, 2], [3, 3]])
    _check_key_semantics(lambda k: samplers.sample_excluding(k, 9, excl, (2, 5)))
    triples = jnp.array([[0, 1, 2], [3, 0, 4]])
    _check_key_semantics(
        lambda k: samplers.corrupt_triples(k, triples, 5, num_negatives=3)
    )


def _every_draw(key):
    triples = jnp.array([[0, 0, 1], [2, 1, 3], [4, 0, 2]], jnp.int32)
    head_prob = jnp.array([0.3, 0.8], jnp.float32)
    out = [s.sample(key, (3, 4)) for s in _all_samplers()]
    out += [s.sample(key, (3, 4), replace=False) for s in _all_samplers()]
    out.append(samplers.sample_excluding(key, 9, jnp.array([[1, 2], [3, 3]]), (2, 5)))
    out.append(samplers.sample_candidates(key, _all_samplers()[2], 5, triples).ids)
    out.append(samplers.corrupt_triples(key, triples, 5, num_negatives=8))
    out.append(
        samplers.corrupt_triples(
            key, triples, 5, num_negatives=8, mode="bernoulli", head_prob=head_prob
        )
    )
    return out


def test_x64_draws_the_same_int32_ids():
    # With jax_enable_x64 (and the suite's strict promotion) every random
    # function runs and returns the ids it returns without x64: corrupt_triples
    # drew its head-or-tail coin in float64 there (other draws, and a float64
    # vs float32 comparison that strict promotion refuses).
    key = jax.random.key(7)
    expected = [np.asarray(x) for x in _every_draw(key)]
    with jax.enable_x64(True):
        got = _every_draw(key)
        jitted = jax.jit(_every_draw)(key)
    for e, g, j in zip(expected, got, jitted, strict=True):
        assert g.dtype == jnp.int32 and j.dtype == jnp.int32
        np.testing.assert_array_equal(g, e)
        np.testing.assert_array_equal(j, e)


def test_no_retrace_and_sampler_as_jit_argument():
    counts = _zipf_counts(100)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(sampler, key):
        ids = sampler.sample(key, (8, 4))
        return ids, sampler.log_prob(ids)

    a = samplers.unigram(counts, power=0.75)
    b = samplers.unigram(counts[::-1].copy(), power=0.75)  # same static structure
    ids_a, lp_a = step(a, jax.random.key(0))
    step(a, jax.random.key(1))
    ids_b, _ = step(b, jax.random.key(0))
    np.testing.assert_allclose(
        lp_a, np.log(np.asarray(a.probs())[np.asarray(ids_a)]), rtol=1e-6
    )
    assert not np.array_equal(ids_a, ids_b)
    leaves, treedef = jax.tree_util.tree_flatten(a)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.num_classes == 100 and rebuilt.family == "unigram"


def test_vmap_over_stacked_samplers():
    tables = [samplers.categorical(np.eye(4)[i] + 0.0) for i in range(3)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *tables)
    ids = jax.vmap(lambda s, k: s.sample(k, (5,)))(
        stacked, jax.random.split(jax.random.key(0), 3)
    )
    np.testing.assert_array_equal(ids, np.repeat(np.arange(3)[:, None], 5, 1))


# ------------------------------------------------------------- corruption


def test_corrupt_triples_uniform_mode():
    n = 7
    triples = jnp.array([[0, 0, 6], [3, 1, 3]])
    neg = np.asarray(
        samplers.corrupt_triples(
            jax.random.key(0), triples, n, num_negatives=N_DRAWS // 2
        )
    )
    t = np.asarray(triples)[:, None, :]
    changed = neg != t
    assert neg.shape == (2, N_DRAWS // 2, 3)
    assert np.all(changed.sum(-1) == 1) and not changed[..., 1].any()
    head = changed[..., 0]
    assert abs(head.mean() - 0.5) < 0.01
    for b in range(2):
        for col in (0, 2):
            picked = neg[b, changed[b, :, col], col]
            p = np.ones(n)
            p[t[b, 0, col]] = 0
            assert _chisquare_pvalue(picked, p) > 1e-3


def test_bernoulli_head_prob_and_mode():
    rng = np.random.default_rng(0)
    triples = np.stack(
        [rng.integers(0, 30, 400), rng.integers(0, 4, 400), rng.integers(0, 30, 400)], 1
    )
    triples[triples[:, 1] == 0, 0] = 1  # relation 0: one head, many tails
    p = np.asarray(samplers.bernoulli_head_prob(triples, 5))
    for r in range(4):
        rows = triples[triples[:, 1] == r]
        tph = len(rows) / len({(h, rr) for h, rr, _ in rows})
        hpt = len(rows) / len({(rr, t) for _, rr, t in rows})
        assert abs(p[r] - tph / (tph + hpt)) < 1e-6
    assert p[4] == 0.5 and p[0] > 0.9
    neg = samplers.corrupt_triples(
        jax.random.key(1),
        jnp.asarray(triples[:2]),
        30,
        num_negatives=20_000,
        mode="bernoulli",
        head_prob=jnp.asarray(p),
    )
    head_rate = np.asarray((neg[..., 0] != triples[:2, None, 0]).mean(-1))
    np.testing.assert_allclose(head_rate, p[triples[:2, 1]], atol=0.015)


def test_bernoulli_head_prob_of_ids_beyond_one_int64_key():
    # Pairs are counted as one int64 key each; with x64 and entity ids near
    # 2**62 the key could overflow, and the rows are counted instead.
    triples = np.array(
        [[2**62, 0, 5], [2**62, 0, 6], [3, 0, 5], [3, 1, -(2**62)], [4, 1, 2**62],
         [4, 1, 2**62]],
        np.int64,
    )  # fmt: skip
    with jax.enable_x64(True):
        p = np.asarray(samplers.bernoulli_head_prob(triples, 2))
    for r in range(2):
        rows = triples[triples[:, 1] == r].tolist()
        tph = len(rows) / len({(h, rr) for h, rr, _ in rows})
        hpt = len(rows) / len({(rr, t) for _, rr, t in rows})
        assert abs(p[r] - tph / (tph + hpt)) < 1e-6


def test_bernoulli_relation_ids_clamp_under_jit():
    # Documented: traced relation ids are not checked; the gather clamps, so -1
    # reads head_prob[0] and 7 reads head_prob[-1]. Eagerly they raise.
    triples = jnp.array([[0, -1, 1], [0, 7, 1], [0, 1, 1]])
    head_prob = jnp.array([0.0, 1.0])

    def corrupt(t):
        return samplers.corrupt_triples(
            jax.random.key(3), t, 10, num_negatives=50, mode="bernoulli",
            head_prob=head_prob,
        )  # fmt: skip

    neg = np.asarray(jax.jit(corrupt)(triples))
    head_rate = (neg[..., 0] != 0).mean(-1)
    np.testing.assert_array_equal(head_rate, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="got -1 at index 0"):
        corrupt(triples)


# ------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "counts,error,match",
    [
        ([1.0, np.nan], ValueError, "samplers.unigram: counts must be finite"),
        ([1.0, np.inf], ValueError, "samplers.unigram: counts must be finite"),
        ([1.0, -2.0], ValueError, "samplers.unigram: counts must be non-negative"),
        ([0, 0, 0], ValueError, "samplers.unigram: counts must have a positive sum"),
        (
            [[1, 2], [3, 4]],
            ValueError,
            r"samplers.unigram: counts must be 1-D, got shape \(2, 2\)",
        ),
        (["a", "b"], TypeError, "samplers.unigram: counts must be numeric"),
    ],
)
def test_unigram_rejects_bad_counts(counts, error, match):
    with pytest.raises(error, match=match):
        samplers.unigram(counts)


@pytest.mark.parametrize(
    "make",
    [
        lambda: samplers.unigram([]),
        lambda: samplers.categorical(np.zeros(0)),
        lambda: samplers.categorical([]),
        lambda: samplers.uniform(0),
        lambda: samplers.log_uniform(0),
        lambda: samplers.mixture([samplers.unigram([]), samplers.uniform(0)], [1, 1]),
    ],
    ids=["unigram", "categorical zeros", "categorical list", "uniform",
         "log_uniform", "mixture"],
)  # fmt: skip
def test_empty_vocabulary(make):
    sampler = make()
    assert sampler.num_classes == 0
    assert sampler.sample(jax.random.key(0), (3, 0)).shape == (3, 0)
    assert sampler.probs().shape == (0,)
    assert sampler.probs().dtype == jnp.float32
    with jax.enable_x64(True):  # float32[V] as documented (was float64 here)
        assert make().probs().dtype == jnp.float32
    with pytest.raises(ValueError, match="empty vocabulary"):
        sampler.sample(jax.random.key(0), (3, 1))
    # Every id is out of range: log_prob -inf, as documented (the alias
    # families raised IndexError gathering from an empty table).
    ids = jnp.array([-1, 0, 5])
    np.testing.assert_array_equal(sampler.log_prob(ids), -np.inf)
    np.testing.assert_array_equal(jax.jit(sampler.log_prob)(ids), -np.inf)
    tiny_log = np.log(np.finfo(np.float32).tiny)
    for replace in (True, False):
        count = samplers.expected_count(sampler, ids, 0, replace=replace)
        np.testing.assert_array_equal(count, np.finfo(np.float32).tiny)
        log_count = samplers.log_expected_count(sampler, ids, 0, replace=replace)
        np.testing.assert_allclose(log_count, tiny_log, rtol=1e-6)


def test_empty_draws_need_no_support():
    sampler = samplers.unigram(_zipf_counts(10, zero_fraction=0.3), power=0.75)
    key = jax.random.key(0)
    assert sampler.sample(key, (4, 0), replace=False).shape == (4, 0)
    assert sampler.sample(key, ()).shape == ()


_KEY = jax.random.key(0)
_SAMPLER = samplers.unigram(_zipf_counts(10, zero_fraction=0.3), power=0.75)
_TRIPLE = jnp.array([[0, 0, 1]])

# (error, message fragment, call): every static fault of the samplers module.
BAD = {
    "key array under jit": (
        ValueError,
        r"unigram.sample: key must be a single key, got a key array of shape "
        r"\(4,\)\. Use jax\.vmap",
        lambda: jax.jit(lambda k: _SAMPLER.sample(k, (3,)))(jax.random.split(_KEY, 4)),
    ),
    "raw key": (
        TypeError,
        "typed key",
        lambda: _SAMPLER.sample(jax.random.PRNGKey(0), (3,)),
    ),
    "shape list": (TypeError, "must be a tuple", lambda: _SAMPLER.sample(_KEY, [3])),
    "shape int": (TypeError, r"Write \(3,\)", lambda: _SAMPLER.sample(_KEY, 3)),
    "shape float": (
        TypeError,
        "non-negative ints",
        lambda: _SAMPLER.sample(_KEY, (2.5,)),
    ),
    "shape negative": (
        ValueError,
        "non-negative ints",
        lambda: _SAMPLER.sample(_KEY, (2, -1)),
    ),
    "too many under jit": (
        ValueError,
        "Cannot take a larger sample than population",
        lambda: jax.jit(
            lambda k: _SAMPLER.sample(k, (2, _SAMPLER.num_support + 1), replace=False)
        )(_KEY),
    ),
    "too many uniform": (
        ValueError,
        "Cannot take a larger sample than population",
        lambda: samplers.uniform(3).sample(_KEY, (4,), replace=False),
    ),
    "log_prob float ids": (
        TypeError,
        "unigram.log_prob: ids must be an integer array",
        lambda: _SAMPLER.log_prob(jnp.array([1.0])),
    ),
    "expected_count float ids": (
        TypeError,
        "samplers.expected_count: ids must be an integer array",
        lambda: samplers.expected_count(_SAMPLER, jnp.array([1.0]), 3),
    ),
    "expected_count sampler": (
        TypeError,
        "samplers.expected_count: sampler must be a jaxns.samplers.Sampler",
        lambda: samplers.expected_count("uniform", jnp.array([1]), 3),
    ),
    "log_expected_count num_samples": (
        ValueError,
        "samplers.log_expected_count: num_samples must be >= 0",
        lambda: samplers.log_expected_count(_SAMPLER, jnp.array([1]), -1),
    ),
    "power negative": (
        ValueError,
        "samplers.unigram: power must be finite and >= 0",
        lambda: samplers.unigram([1, 2], power=-0.5),
    ),
    "power string": (
        TypeError,
        "samplers.unigram: power must be a real number",
        lambda: samplers.unigram([1, 2], power="0.75"),
    ),
    "probs negative": (
        ValueError,
        "samplers.categorical: probs must be non-negative",
        lambda: samplers.categorical([0.5, -0.1]),
    ),
    "probs zero sum": (
        ValueError,
        "samplers.categorical: probs must have a positive sum",
        lambda: samplers.categorical(np.zeros(3)),
    ),
    "uniform negative": (
        ValueError,
        "samplers.uniform: num_classes must be >= 0",
        lambda: samplers.uniform(-1),
    ),
    "uniform too large": (
        ValueError,
        "samplers.uniform: num_classes must be <= 1073741824",
        lambda: samplers.uniform(2**30 + 1),
    ),
    "log_uniform float": (
        TypeError,
        "samplers.log_uniform: num_classes must be a Python int",
        lambda: samplers.log_uniform(3.0),
    ),
    "traced counts": (
        TypeError,
        "samplers.unigram: counts must be concrete",
        lambda: jax.jit(lambda c: samplers.unigram(c).probs())(jnp.ones(3)),
    ),
    "mixture weights shape": (
        ValueError,
        r"weights shape \(3,\) must be \(2,\)",
        lambda: samplers.mixture([samplers.uniform(3), samplers.uniform(3)], [1, 1, 1]),
    ),
    "mixture sizes": (
        ValueError,
        "share num_classes",
        lambda: samplers.mixture([samplers.uniform(3), samplers.uniform(4)], [1, 1]),
    ),
    "mixture not samplers": (
        TypeError,
        "samplers.mixture: samplers must be a non-empty sequence",
        lambda: samplers.mixture([], []),
    ),
    "excluding all": (
        ValueError,
        "removes all 3 classes",
        lambda: samplers.sample_excluding(_KEY, 3, jnp.array([[0, 1, 2, 2]]), (1, 4)),
    ),
    "excluding empty": (
        ValueError,
        "num_classes=0",
        lambda: samplers.sample_excluding(_KEY, 0, jnp.array([0]), (4,)),
    ),
    "excluding batch": (
        ValueError,
        "exclude batch shape",
        lambda: samplers.sample_excluding(
            _KEY, 9, jnp.zeros((3, 2), jnp.int32), (2, 4)
        ),
    ),
    "excluding float": (
        TypeError,
        "samplers.sample_excluding: exclude must be an integer array",
        lambda: samplers.sample_excluding(_KEY, 9, jnp.zeros((2,)), (2, 4)),
    ),
    "excluding scalar": (
        ValueError,
        "samplers.sample_excluding: exclude must be",
        lambda: samplers.sample_excluding(_KEY, 9, jnp.array(1), (2, 4)),
    ),
    "hits float": (
        TypeError,
        "samplers.accidental_hits: sampled_ids must be an integer array",
        lambda: samplers.accidental_hits(jnp.array([1, 2]), jnp.array([1.0, 2.0])),
    ),
    "hits batch": (
        ValueError,
        "batch size",
        lambda: samplers.accidental_hits(
            jnp.array([1, 2]), jnp.zeros((3, 4), jnp.int32)
        ),
    ),
    "hits rank": (
        ValueError,
        "samplers.accidental_hits: true_ids must be 1-D or 2-D",
        lambda: samplers.accidental_hits(jnp.zeros((1, 2, 3), int), jnp.array([1])),
    ),
    "hard int scores": (
        TypeError,
        "samplers.hard_negatives: scores must be a floating-point array",
        lambda: samplers.hard_negatives(jnp.arange(5), 2),
    ),
    "hard too many": (
        ValueError,
        "exceeds",
        lambda: samplers.hard_negatives(jnp.zeros(5), 6),
    ),
    "hard where shape": (
        ValueError,
        "where shape",
        lambda: samplers.hard_negatives(jnp.zeros((2, 5)), 2, where=jnp.ones(5, bool)),
    ),
    "hard where dtype": (
        TypeError,
        "samplers.hard_negatives: where must be a boolean mask",
        lambda: samplers.hard_negatives(jnp.zeros(5), 2, where=jnp.ones(5)),
    ),
    "corrupt one entity": (
        ValueError,
        "samplers.corrupt_triples: num_entities must be >= 2",
        lambda: samplers.corrupt_triples(_KEY, _TRIPLE, 1, num_negatives=2),
    ),
    "corrupt mode": (
        ValueError,
        "mode must be one of",
        lambda: samplers.corrupt_triples(_KEY, _TRIPLE, 5, num_negatives=2, mode="x"),
    ),
    "corrupt bernoulli": (
        ValueError,
        "head_prob",
        lambda: samplers.corrupt_triples(
            _KEY, _TRIPLE, 5, num_negatives=2, mode="bernoulli"
        ),
    ),
    # Relation ids outside head_prob were clamped silently, even eagerly.
    "corrupt relation past head_prob": (
        ValueError,
        r"samplers.corrupt_triples: triples\[:, 1\] must hold relation ids "
        r"\(indices into head_prob\) in \[0, 2\), got 5 at index 1",
        lambda: samplers.corrupt_triples(
            _KEY,
            jnp.array([[0, 1, 1], [0, 5, 1]]),
            10,
            num_negatives=2,
            mode="bernoulli",
            head_prob=jnp.array([0.0, 1.0]),
        ),  # fmt: skip
    ),
    # A head or tail outside [0, n) was kept in the negatives as it was.
    "corrupt entity past num_entities": (
        ValueError,
        r"samplers.corrupt_triples: triples\[:, 2\] must hold entity ids in "
        r"\[0, 5\), got 7 at index 1",
        lambda: samplers.corrupt_triples(
            _KEY, jnp.array([[0, 0, 1], [2, 0, 7]]), 5, num_negatives=2
        ),
    ),
    "corrupt negative head": (
        ValueError,
        r"triples\[:, 0\] must hold entity ids in \[0, 5\), got -1 at index 0",
        lambda: samplers.corrupt_triples(
            _KEY, jnp.array([[-1, 0, 1]]), 5, num_negatives=2
        ),
    ),
    "corrupt negative relation": (
        ValueError,
        r"in \[0, 2\), got -2 at index 0",
        lambda: samplers.corrupt_triples(
            _KEY,
            jnp.array([[0, -2, 1]]),
            10,
            num_negatives=2,
            mode="bernoulli",
            head_prob=jnp.array([0.0, 1.0]),
        ),  # fmt: skip
    ),
    "corrupt empty head_prob": (
        ValueError,
        r"in \[0, 0\), got 0",
        lambda: samplers.corrupt_triples(
            _KEY,
            _TRIPLE,
            10,
            num_negatives=2,
            mode="bernoulli",
            head_prob=jnp.zeros(0),
        ),  # fmt: skip
    ),
    # head_prob was silently ignored with mode="uniform".
    "corrupt uniform with head_prob": (
        ValueError,
        "samplers.corrupt_triples: head_prob is only used with mode='bernoulli'",
        lambda: samplers.corrupt_triples(
            _KEY, _TRIPLE, 10, num_negatives=2, head_prob=jnp.array([1.0])
        ),
    ),
    "corrupt triples shape": (
        ValueError,
        r"samplers.corrupt_triples: triples must have shape \[batch, 3\]",
        lambda: samplers.corrupt_triples(_KEY, _TRIPLE[:, :2], 5, num_negatives=2),
    ),
    "head_prob traced": (
        TypeError,
        "samplers.bernoulli_head_prob: triples must be concrete",
        lambda: jax.jit(lambda t: samplers.bernoulli_head_prob(t, 2))(_TRIPLE),
    ),
    "head_prob relations": (
        ValueError,
        "relation ids",
        lambda: samplers.bernoulli_head_prob([[0, 3, 1]], 2),
    ),
    "candidates num_samples": (
        TypeError,
        "samplers.sample_candidates: num_samples must be a Python int",
        lambda: samplers.sample_candidates(_KEY, _SAMPLER, 2.0, jnp.array([1])),
    ),
    # A truthy/falsy non-bool replace was read as a flag (None: no replacement).
    "sample replace None": (
        TypeError,
        "unigram.sample: replace must be a bool, got NoneType None",
        lambda: _SAMPLER.sample(_KEY, (2, 3), replace=None),
    ),
    "sample replace int": (
        TypeError,
        "uniform.sample: replace must be a bool",
        lambda: samplers.uniform(9).sample(_KEY, (2, 3), replace=0),
    ),
    "sample replace str on empty shape": (
        TypeError,
        "uniform.sample: replace must be a bool",
        lambda: samplers.uniform(9).sample(_KEY, (0,), replace="no"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_raise_at_trace_time(case):
    error, match, call = BAD[case]
    with pytest.raises(error, match=match):
        call()


def test_log_prob_out_of_range_and_dtypes():
    for sampler in _all_samplers():
        lp = sampler.log_prob(jnp.array([-1, 0, 299, 300]))
        assert lp.dtype == jnp.float32
        assert lp[0] == -np.inf and lp[3] == -np.inf
        np.testing.assert_allclose(
            jnp.exp(sampler.log_prob(jnp.arange(300))).sum(), 1.0, rtol=1e-5
        )
    assert isinstance(jaxns.samplers.uniform(3), samplers.Sampler)
    assert math.isclose(
        float(samplers.uniform(8).log_prob(jnp.array(3))), -math.log(8), rel_tol=1e-6
    )


_BIG = np.array([2**32 + 3, 1], np.int64)  # 3 after JAX's int32 wrap


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: jaxns.samplers.uniform(10).log_prob(_BIG), "uniform.log_prob: ids"),
        (lambda: jaxns.samplers.accidental_hits(_BIG, _BIG[:, None]),
         "samplers.accidental_hits: true_ids"),
        (lambda: jaxns.optim.row_sparse(optax.sgd(1.0)).update(
            _BIG, jnp.ones((2, 2)), (), jnp.ones((10, 2))),
         "optim.row_sparse.update: ids"),
    ],
)  # fmt: skip
def test_int64_host_ids_past_int32_are_refused_without_x64(call, name):
    """Without x64 JAX wraps 64-bit host ids into int32 (2**32 + 3 -> 3): an
    id past the vocabulary would read row 3. The checks refuse it first."""
    assert not jax.config.jax_enable_x64
    with pytest.raises(ValueError, match=f"{name} must fit int32 .* 4294967299"):
        call()
    with jax.enable_x64(True):  # with x64 the id is itself and out of range
        assert float(jaxns.samplers.uniform(10).log_prob(_BIG)[0]) == -np.inf
