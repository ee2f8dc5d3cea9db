# SPDX-License-Identifier: Apache-2.0
"""Tests of jaxns.scoring against NumPy float64 references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxns import scoring
from tests.helpers import assert_close, check_grads_jit, np_normalize


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("b,k,d", [(1, 1, 1), (3, 4, 5), (7, 2, 16)])
def test_dot_and_cosine_match_numpy(rng, b, k, d):
    q = rng.normal(size=(b, d))
    c = rng.normal(size=(b, k, d))
    shared = rng.normal(size=(k, d))
    q32, c32, s32 = (jnp.asarray(x, jnp.float32) for x in (q, c, shared))
    np.testing.assert_allclose(
        scoring.dot(q32, c32), np.einsum("bd,bkd->bk", q, c), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        scoring.dot(q32, s32), q @ shared.T, rtol=1e-5, atol=1e-5
    )
    ref = np.einsum("bd,bkd->bk", np_normalize(q), np_normalize(c))
    np.testing.assert_allclose(scoring.cosine(q32, c32), ref, rtol=1e-5, atol=1e-6)
    ref = np_normalize(q) @ np_normalize(shared).T
    np.testing.assert_allclose(scoring.cosine(q32, s32), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_shared_equals_broadcast_per_example(rng, similarity):
    q = jnp.asarray(rng.normal(size=(6, 8)), jnp.float32)
    shared = jnp.asarray(rng.normal(size=(4, 8)), jnp.float32)
    per_example = jnp.broadcast_to(shared[None], (6, 4, 8))
    np.testing.assert_allclose(
        scoring.score(q, shared, similarity=similarity),
        scoring.score(q, per_example, similarity=similarity),
        rtol=1e-6,
        atol=1e-6,
    )


def test_leading_axes(rng):
    q = jnp.asarray(rng.normal(size=(2, 3, 4)), jnp.float32)
    c = jnp.asarray(rng.normal(size=(2, 3, 5, 4)), jnp.float32)
    assert scoring.dot(q, c).shape == (2, 3, 5)
    assert scoring.dot(q, c[0, 0]).shape == (2, 3, 5)


def test_score_rows_matches_gather(rng):
    qt = jnp.asarray(rng.normal(size=(10, 4)), jnp.float32)
    ct = jnp.asarray(rng.normal(size=(12, 4)), jnp.float32)
    qi = jnp.array([0, 3, 9])
    per = jnp.array([[1, 2], [11, 0], [5, 5]])
    shared = jnp.array([4, 7, 7, 1])
    for sim in scoring.SIMILARITIES:
        np.testing.assert_allclose(
            scoring.score_rows(qt, ct, qi, per, similarity=sim),
            scoring.score(qt[qi], ct[per], similarity=sim),
            rtol=1e-6,
        )
        np.testing.assert_allclose(
            scoring.score_rows(qt, ct, qi, shared, similarity=sim),
            scoring.score(qt[qi], ct[shared], similarity=sim),
            rtol=1e-6,
        )
    # jit == eager, and the shared path scores with one GEMM (no [B, k, d]).
    f = jax.jit(lambda a, b, i, j: scoring.score_rows(a, b, i, j))
    np.testing.assert_array_equal(
        f(qt, ct, qi, shared), scoring.score_rows(qt, ct, qi, shared)
    )
    jaxpr = str(jax.make_jaxpr(scoring.score_rows)(qt, ct, qi, shared))
    assert "3,4,4" not in jaxpr.replace(" ", "")


def test_cosine_zero_vector_gradient_is_finite():
    q = jnp.zeros((1, 3))
    c = jnp.array([[1.0, 2.0, 2.0]])
    g = jax.grad(lambda x: scoring.cosine(x, c).sum())(q)
    assert bool(jnp.isfinite(g).all())
    np.testing.assert_allclose(g, c / 3.0 / 1e-8, rtol=1e-5)
    assert float(scoring.cosine(q, c)[0, 0]) == 0.0
    g = jax.grad(lambda x: scoring.normalize(x).sum())(jnp.zeros(3))
    assert bool(jnp.isfinite(g).all())


def test_cosine_of_a_vector_with_itself_is_one_within_two_ulps():
    # The docstring's bound: unit vectors' dot products round to at most
    # 1 + 2 ulp (not clipped, for speed), never further.
    x = jax.random.normal(jax.random.key(5), (20_000, 100))
    s = np.float64(scoring.cosine(x, x[:, None, :])[:, 0])
    ulp = float(jnp.finfo(jnp.float32).eps)  # the spacing just above 1
    assert s.max() <= 1 + 2 * ulp
    assert s.min() >= 1 - 4 * ulp  # below 1 rounding is finer, errors add up
    assert (s > 1).sum() > 0  # why the docstring says "up to rounding"


@pytest.mark.parametrize(
    "dtype, scale",
    [
        ("float32", 1e13),  # |x|^-3 underflowed in the backward pass
        ("float32", 1e20),  # |x|^2 overflowed: the unit vector was 0
        ("float32", 1e30),
        ("bfloat16", 1e30),  # computed in float32
        ("float64", 1e160),
        ("float64", 1e300),
    ],
)
def test_normalize_and_cosine_of_long_vectors(dtype, scale):
    # The direction of u * scale is u's: value and gradient (times scale) are
    # the float64 ones at u, (g - n (n . g)) / |u| with n = u / |u|.
    rng = np.random.default_rng(31)
    u, g, c = (rng.normal(size=(4, 6)) for _ in range(3))
    with jax.enable_x64(dtype == "float64"):
        x = jnp.asarray(u * scale, dtype)
        u = np.asarray(x, np.float64) / scale  # the rounded input's direction
        n = np_normalize(u)
        want_grad = (g - n * (n * g).sum(-1, keepdims=True)) / np.linalg.norm(
            u, axis=-1, keepdims=True
        )
        out, vjp = jax.vjp(scoring.normalize, x)
        (grad,) = vjp(jnp.asarray(g, dtype))
        assert out.dtype == grad.dtype == x.dtype
        assert_close(out, n)
        # Scaled back in float64, compared at the tolerance of x's dtype.
        scaled = jnp.asarray(np.asarray(grad, np.float64) * scale, dtype)
        assert_close(scaled, want_grad, loose=True)
        cos = scoring.cosine(x, jnp.asarray(c * scale, dtype))
        assert_close(cos, n @ np_normalize(c).T, loose=True)


def _bfloat16_only_normalize(x):
    """x / ||x|| with every step in bfloat16: each partial sum of squares is
    rounded to bfloat16 (what a reduction without an upcast does)."""

    def step(total, column):
        return total + column * column, None

    zero = jnp.zeros(x.shape[:-1], x.dtype)
    total, _ = jax.lax.scan(step, zero, jnp.moveaxis(x, -1, 0))
    return x * jax.lax.rsqrt(total)[..., None]


def test_cosine_bfloat16_computes_in_float32():
    # dim 512: a bfloat16 running sum of squares loses whole terms once it is
    # 256x larger than each of them (8 bits of mantissa), a float32 one does
    # not. Candidates include the query itself, a negative multiple and a
    # correlated vector, so the similarities cover [-1, 1].
    rng = np.random.default_rng(25)
    q = rng.normal(size=(3, 512)) * 1e3
    c = rng.normal(size=(3, 5, 512)) * 1e3
    c[:, 0], c[:, 1], c[:, 2] = q, -0.5 * q, q + 0.5 * c[:, 2]
    qb, cb = jnp.asarray(q, jnp.bfloat16), jnp.asarray(c, jnp.bfloat16)
    out = scoring.cosine(qb, cb)
    assert out.dtype == jnp.bfloat16
    # Reference on the bfloat16-rounded inputs, in float64.
    q64, c64 = np.asarray(qb, np.float64), np.asarray(cb, np.float64)
    ref = np.einsum("bd,bkd->bk", np_normalize(q64), np_normalize(c64))
    # About one bfloat16 ulp below 1 (2**-8): the rounding of the output and
    # of the normalised vectors.
    atol = 4e-3
    lib_error = np.abs(np.asarray(out, np.float64) - ref).max()
    assert lib_error <= atol
    # The same scores with the normalisation in bfloat16 fail that tolerance:
    # the test can tell the two apart.
    norm16 = jax.jit(_bfloat16_only_normalize)
    naive = jnp.einsum("bd,bkd->bk", norm16(qb), norm16(cb))
    assert naive.dtype == jnp.bfloat16
    naive_error = np.abs(np.asarray(naive, np.float64) - ref).max()
    assert naive_error > 10 * atol > 10 * lib_error


def test_gradients_float64(rng):
    with jax.enable_x64(True):
        q = jnp.asarray(rng.normal(size=(3, 4)))
        c = jnp.asarray(rng.normal(size=(3, 2, 4)))
        s = jnp.asarray(rng.normal(size=(2, 4)))
        check_grads_jit(scoring.dot, (q, c))
        check_grads_jit(scoring.cosine, (q, c))
        check_grads_jit(scoring.cosine, (q, s), order=1)
        h, r, t = (jnp.asarray(rng.normal(size=(3, 4))) for _ in range(3))
        check_grads_jit(scoring.distmult, (h, r, t), order=1)
        check_grads_jit(lambda *a: scoring.transe(*a, norm=2), (h, r, t), order=1)
        phase = jnp.asarray(rng.normal(size=(3, 2)))
        check_grads_jit(
            lambda *a: scoring.rotate(*a, variant="sun"), (h, phase, t), order=1
        )


def test_kg_scorers_match_numpy(rng):
    h = rng.normal(size=(4, 1, 6))
    r = rng.normal(size=(4, 1, 6))
    t = rng.normal(size=(4, 3, 6))
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    np.testing.assert_allclose(
        scoring.transe(f(h), f(r), f(t), norm=1),
        -np.abs(h + r - t).sum(-1),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        scoring.transe(f(h), f(r), f(t), norm=2),
        -np.linalg.norm(h + r - t, axis=-1),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        scoring.distmult(f(h), f(r), f(t)), (h * r * t).sum(-1), rtol=1e-4, atol=1e-5
    )
    phase = rng.uniform(-np.pi, np.pi, size=(4, 1, 3))
    hc = h[..., :3] + 1j * h[..., 3:]
    tc = t[..., :3] + 1j * t[..., 3:]
    ref = -np.abs(hc * np.exp(1j * phase) - tc).sum(-1)
    np.testing.assert_allclose(
        scoring.rotate(f(h), f(phase), f(t), variant="sun"), ref, rtol=1e-5
    )
    # Zero distance: gradient 0, not NaN.
    g = jax.grad(lambda x: scoring.transe(x, jnp.zeros(2), x, norm=2))(jnp.ones(2))
    np.testing.assert_array_equal(g, np.zeros(2))


def test_vmap_equals_loop(rng):
    q = jnp.asarray(rng.normal(size=(4, 3, 5)), jnp.float32)
    c = jnp.asarray(rng.normal(size=(4, 3, 2, 5)), jnp.float32)
    out = jax.vmap(scoring.cosine)(q, c)
    loop = jnp.stack([scoring.cosine(q[i], c[i]) for i in range(4)])
    np.testing.assert_allclose(out, loop, rtol=1e-6)


_Q = jnp.ones((3, 4))

BAD = {
    "dim": (
        ValueError,
        "scoring.dot: query and candidates",
        lambda: scoring.dot(_Q, jnp.ones((3, 2, 5))),
    ),
    "per-example batch": (
        ValueError,
        "per-example candidates",
        lambda: scoring.dot(_Q, jnp.ones((2, 2, 4))),
    ),
    "int query": (
        TypeError,
        "scoring.cosine: query must be a floating",
        lambda: scoring.cosine(jnp.ones((3, 4), jnp.int32), jnp.ones((2, 4))),
    ),
    "similarity": (
        ValueError,
        "scoring.score: similarity must be one of",
        lambda: scoring.score(_Q, jnp.ones((2, 4)), similarity="l2"),
    ),
    "eps": (
        ValueError,
        "scoring.cosine: eps must be finite and > 0",
        lambda: scoring.cosine(_Q, jnp.ones((2, 4)), eps=0.0),
    ),
    "normalize eps": (
        TypeError,
        "scoring.normalize: eps must be a real number",
        lambda: scoring.normalize(_Q, eps="1e-8"),
    ),
    "float ids": (
        TypeError,
        "scoring.score_rows: candidate_ids must be an integer",
        lambda: scoring.score_rows(_Q, _Q, jnp.array([0]), jnp.array([0.5])),
    ),
    "ids batch": (
        ValueError,
        "batch size of query_ids",
        lambda: scoring.score_rows(
            _Q, _Q, jnp.array([0, 1]), jnp.zeros((3, 2), jnp.int32)
        ),
    ),
    "norm": (
        ValueError,
        "scoring.transe: norm must be 1 or 2",
        lambda: scoring.transe(_Q, _Q, _Q, norm=3),
    ),
    # True == 1 and 2.0 == 2 used to pass the `in (1, 2)` test.
    "norm bool": (
        TypeError,
        "scoring.transe: norm must be a Python int",
        lambda: scoring.transe(_Q, _Q, _Q, norm=True),
    ),
    "norm float": (
        TypeError,
        "scoring.transe: norm must be a Python int",
        lambda: scoring.transe(_Q, _Q, _Q, norm=2.0),
    ),
    "norm str": (
        TypeError,
        "scoring.transe: norm must be a Python int",
        lambda: scoring.transe(_Q, _Q, _Q, norm="1"),
    ),
    "phase": (
        ValueError,
        "must be phases",
        lambda: scoring.rotate(_Q, _Q, _Q, variant="sun"),
    ),
    "broadcast": (
        ValueError,
        "scoring.distmult: shapes do not broadcast",
        lambda: scoring.distmult(_Q, jnp.ones((2, 4)), _Q),
    ),
    "under jit": (
        ValueError,
        "scoring.dot: query and candidates",
        lambda: jax.jit(scoring.dot)(_Q, jnp.ones((2, 5))),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs(case):
    error, match, call = BAD[case]
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------
# complex-valued knowledge-graph scorers: RotatE (both variants) and ComplEx


def _np_complex(x):
    d = x.shape[-1] // 2
    return x[..., :d] + 1j * x[..., d:]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_rotate_pykeen_and_complex_match_numpy(rng, dtype):
    h = rng.normal(size=(4, 1, 6))
    t = rng.normal(size=(4, 3, 6))
    phase = rng.uniform(-np.pi, np.pi, size=(4, 1, 3))
    r = np.concatenate([np.cos(phase), np.sin(phase)], -1)  # unit modulus
    r_free = rng.normal(size=(4, 1, 6))
    hc, tc, rc = _np_complex(h), _np_complex(t), np.exp(1j * phase)
    with jax.enable_x64(dtype == jnp.float64):
        f = lambda x: jnp.asarray(x, dtype)  # noqa: E731
        got = scoring.rotate(f(h), f(r), f(t))
        ref = -np.sqrt((np.abs(hc * rc - tc) ** 2).sum(-1))
        assert got.dtype == dtype and got.shape == (4, 3)
        tol = dict(rtol=1e-12) if dtype == jnp.float64 else dict(rtol=1e-5)
        np.testing.assert_allclose(got, ref, **tol)
        # Sun et al.: the sum of the moduli, from phases
        ref_sun = -np.abs(hc * rc - tc).sum(-1)
        got_sun = scoring.rotate(f(h), f(phase), f(t), variant="sun")
        np.testing.assert_allclose(got_sun, ref_sun, **tol)
        got_c = scoring.complex(f(h), f(r_free), f(t))
        ref_c = np.real((hc * _np_complex(r_free) * np.conj(tc)).sum(-1))
        np.testing.assert_allclose(got_c, ref_c, **tol, atol=1e-12 * 10)


def test_rotate_variants_agree_in_one_dimension(rng):
    # With one complex coordinate the L2 norm is the modulus.
    h, t = (jnp.asarray(rng.normal(size=(5, 2)), jnp.float32) for _ in range(2))
    theta = jnp.asarray(rng.uniform(-3, 3, size=(5, 1)), jnp.float32)
    r = jnp.concatenate([jnp.cos(theta), jnp.sin(theta)], -1)
    np.testing.assert_allclose(
        scoring.rotate(h, r, t), scoring.rotate(h, theta, t, variant="sun"), rtol=1e-6
    )


def test_complex_scorers_gradients_float64(rng):
    with jax.enable_x64(True):
        h, r, t = (jnp.asarray(rng.normal(size=(3, 4))) for _ in range(3))
        check_grads_jit(scoring.complex, (h, r, t), order=2)
        check_grads_jit(scoring.rotate, (h, r, t), order=1)
    # zero distance: gradient 0, not NaN
    x = jnp.array([0.3, -0.2])
    one = jnp.array([1.0, 0.0])
    g = jax.grad(lambda h: scoring.rotate(h, one, x))(x)
    np.testing.assert_array_equal(g, np.zeros(2))


def test_complex_scorers_jit_and_bfloat16(rng):
    h, r, t = (jnp.asarray(rng.normal(size=(2, 3, 8)), jnp.float32) for _ in range(3))
    for f in (scoring.rotate, scoring.complex):
        np.testing.assert_allclose(jax.jit(f)(h, r, t), f(h, r, t), rtol=1e-6)
        half = f(*(x.astype(jnp.bfloat16) for x in (h, r, t)))
        assert half.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda q: scoring.rotate(q, q[:, :2], q), ValueError, "variant='sun'"),
        (lambda q: scoring.rotate(q, q, q, variant="l1"), ValueError, "variant"),
        (lambda q: scoring.rotate(q[:, :3], q[:, :3], q[:, :3]), ValueError, "even"),
        (lambda q: scoring.complex(q, q[:, :2], q), ValueError, "same width"),
        (lambda q: scoring.complex(q[:, :3], q[:, :3], q[:, :3]), ValueError,
         "2 \\* dim"),
        (lambda q: scoring.complex(q.astype(jnp.int32), q, q), TypeError,
         "floating"),
        (lambda q: scoring.complex(q, q, q[:2]), ValueError, "broadcast"),
    ],
)  # fmt: skip
def test_complex_scorers_bad_inputs(call, error, words):
    with pytest.raises(error, match=words):
        call(jnp.ones((3, 4)))


def _np_distance_grads(e, de_dh, de_dt, norm):
    """Float64 gradients of ``-norm(e)`` for complex ``e = e(h, t)`` (real and
    imaginary parts of h and t laid out [re..., im...]): d|e|^2/dx = 2 Re(conj(e)
    de/dx), divided by ``2 norm``."""

    def grad(de):
        return np.concatenate(
            [-np.real(np.conj(e) * de) / norm, -np.real(np.conj(e) * 1j * de) / norm],
            -1,
        )

    return grad(de_dh), grad(de_dt)


@pytest.mark.parametrize(
    "dtype, scale",
    [("float32", 1e20), ("float32", 1e30), ("float64", 1e160), ("float64", 1e300)],
)
def test_l2_distances_of_long_differences(dtype, scale):
    # Distances are homogeneous: scaling the entities (and TransE's relation)
    # by `scale` scales the score by `scale` and leaves the gradient as it is.
    # The squares overflowed: -inf scores with zero gradients.
    rng = np.random.default_rng(41)
    h, t, rel = (rng.normal(size=(3, 2, 6)) for _ in range(3))
    phase = rng.uniform(-np.pi, np.pi, size=(3, 2, 3))
    unit = np.concatenate([np.cos(phase), np.sin(phase)], -1)
    hc, tc, rc = _np_complex(h), _np_complex(t), np.exp(1j * phase)
    e = h + rel - t
    e_rot = hc * rc - tc
    l2 = np.sqrt((np.abs(e_rot) ** 2).sum(-1, keepdims=True))
    unit_e = e / np.linalg.norm(e, axis=-1, keepdims=True)
    cases = {  # score function, relation, relation scale, -score, gradients
        "transe": (
            lambda h, r, t: scoring.transe(h, r, t, norm=2),
            rel,
            scale,
            np.linalg.norm(e, axis=-1),
            (-unit_e, unit_e),
        ),
        "pykeen": (
            scoring.rotate,
            unit,
            1.0,
            l2[..., 0],
            _np_distance_grads(e_rot, rc, -1.0, l2),
        ),
        "sun": (
            lambda h, r, t: scoring.rotate(h, r, t, variant="sun"),
            phase,
            1.0,
            np.abs(e_rot).sum(-1),
            _np_distance_grads(e_rot, rc, -1.0, np.abs(e_rot)),
        ),
    }
    with jax.enable_x64(dtype == "float64"):
        for name, (fn, r, r_scale, distance, grads) in cases.items():
            args = [jnp.asarray(x, dtype) for x in (h * scale, r * r_scale, t * scale)]
            score, vjp = jax.vjp(lambda h, t: fn(h, args[1], t), args[0], args[2])  # noqa: B023
            got = jnp.asarray(np.asarray(score, np.float64) / scale, dtype)
            assert_close(got, -distance, loose=True, err_msg=name)
            for g, want in zip(vjp(jnp.ones_like(score)), grads, strict=True):
                assert_close(g, want, loose=True, err_msg=name)


def test_rotate_sun_gradient_holds_what_the_plain_formula_holds():
    # Autodiff of the sum of moduli, its long-row lax.cond included, kept
    # 6.6 [q, E, d] buffers for the gradient of [q, 1, w] queries against
    # [1, E, w] entities (the plain formula 2). The rule keeps the residual's
    # unit direction only. Long rows, and a residual of exactly 0, keep
    # their exact gradients.
    rng = np.random.default_rng(36)
    q, e, d = 16, 700, 24
    h, t = rng.normal(size=(q, 1, 2 * d)), rng.normal(size=(1, e, 2 * d))
    phase = rng.normal(size=(q, 1, d))
    fn = lambda h, p, t: scoring.rotate(h, p, t, variant="sun")  # noqa: E731
    grad = jax.jit(jax.grad(lambda *a: fn(*a).sum(), argnums=(0, 1, 2)))
    args = [jnp.asarray(x, jnp.float32) for x in (h, phase, t)]
    mem = grad.lower(*args).compile().memory_analysis()
    if mem is None:  # a backend without memory analysis
        pytest.skip("no compiled memory analysis on this backend")
    assert mem.temp_size_in_bytes < 3.5 * q * e * d * 4
    for long in (False, True):
        h2, t2 = h.copy(), t.copy()
        phase2 = phase.copy()
        phase2[2, 0, 0] = 0.0
        t2[0, 9, 0], t2[0, 9, d] = h2[2, 0, 0], h2[2, 0, d]  # residual 0
        if long:
            h2[3, 0, 2], t2[0, 5, d + 1] = 1e25, -3e21  # the long branches run
        args = [jnp.asarray(x, jnp.float32) for x in (h2, phase2, t2)]
        hc, tc, rc = _np_complex(h2), _np_complex(t2), np.exp(1j * phase2)
        res = hc * rc - tc
        mod = np.abs(res)
        unit = np.where(mod > 0, res / np.where(mod > 0, mod, 1), 0)
        # d(-|res|)/dx = -Re(conj(unit) dres/dx)
        g_h = -np.concatenate(
            [np.real(np.conj(unit) * rc), np.real(np.conj(unit) * 1j * rc)], -1
        ).sum(1, keepdims=True)
        g_t = np.concatenate([np.real(unit), np.imag(unit)], -1).sum(0, keepdims=True)
        g_p = -np.real(np.conj(unit) * 1j * hc * rc).sum(1, keepdims=True)
        # The phase's derivative cancels to about 0 where the head is long
        # (the unit residual is parallel to the rotated head): float32 gets
        # it to its rounding of |h| * E.
        cond_p = e * np.abs(hc)
        for got, want, cond in zip(
            grad(*args), (g_h, g_p, g_t), (0, cond_p, 0), strict=True
        ):
            scale = np.maximum(np.abs(want).max(), cond)
            np.testing.assert_allclose(np.asarray(got) / scale, want / scale, atol=2e-5)


def test_l2_scorers_never_hold_the_broadcast_differences():
    # kg.evaluate scores [q, 1, w] queries against [1, E, w] entities. The
    # rescaling branch of the L2 scorers (a lax.cond, whose buffers are
    # allocated whether it runs or not) held the broadcast [q, E, w / 2]
    # residual twice: 3 GB at q = 256, E = 15,000, d = 100 in float32.
    rng = np.random.default_rng(5)
    q, e, d = 32, 1500, 64
    h, rel = rng.normal(size=(2, q, 1, 2 * d))
    t = rng.normal(size=(1, e, 2 * d))
    hc, rc, tc = _np_complex(h), _np_complex(rel), _np_complex(t)
    cases = {
        "transe": (
            lambda h, r, t: scoring.transe(h, r, t, norm=2),
            np.linalg.norm(h + rel - t, axis=-1),
        ),
        "rotate": (
            scoring.rotate,
            np.sqrt((np.abs(hc * rc - tc) ** 2).sum(-1)),
        ),
    }
    broadcast = q * e * d * 4  # one float32 [q, E, d] array
    args = [jnp.asarray(x, jnp.float32) for x in (h, rel, t)]
    for name, (fn, distance) in cases.items():
        compiled = jax.jit(fn).lower(*args).compile()
        mem = compiled.memory_analysis()
        if mem is None:  # a backend without memory analysis
            pytest.skip("no compiled memory analysis on this backend")
        assert mem.temp_size_in_bytes < broadcast / 4, name
        assert_close(compiled(*args), -distance, loose=True, err_msg=name)


def test_normalize_gradient_holds_no_copy_of_the_input():
    # The exact rescaling of long rows sat in a lax.cond that autodiff went
    # through: the gradient kept a copy of x and zero cotangents for the branch
    # not taken (4x x's size, 2.5x the time of the plain formula). The
    # derivative is now given in closed form.
    rng = np.random.default_rng(33)
    n, d = 512, 64
    x64 = rng.normal(size=(n, d)) * np.logspace(-10, 3, n)[:, None]
    w = rng.normal(size=d)
    x = jnp.asarray(x64, jnp.float32)
    weight = jnp.asarray(w[None, :], jnp.float32)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(scoring.normalize(x) * weight)))
    compiled = grad.lower(x).compile()
    mem = compiled.memory_analysis()
    if mem is None:  # a backend without memory analysis
        pytest.skip("no compiled memory analysis on this backend")
    assert mem.temp_size_in_bytes < 1.5 * n * d * 4  # was 3.1x
    norm = np.maximum(np.linalg.norm(x64, axis=-1, keepdims=True), scoring.COSINE_EPS)
    u = x64 / norm
    want = np.where(
        norm > scoring.COSINE_EPS, (w - u * (u @ w)[:, None]) / norm, w / norm
    )
    # float32 rounding relative to each row's largest entry (the projection
    # cancels in single entries).
    row = np.abs(want).max(axis=-1, keepdims=True)
    got = np.asarray(compiled(x), np.float64)
    np.testing.assert_allclose(got / row, want / row, rtol=0, atol=1e-5)


@pytest.mark.parametrize("scorer", ["transe2", "rotate", "rotate_sun"])
def test_nan_embedding_gives_nan_distance(scorer):
    # The distance's sqrt was where(x > 0, sqrt(x), 0): a NaN squared distance
    # became 0 (transe norm=2, rotate) or a NaN coordinate added 0 (sun).
    h = jnp.array([[jnp.nan, 1.0, 0.0, 0.0], [1.0, 2.0, 0.0, 0.5]])
    t = jnp.zeros((2, 4))
    fn = {
        "transe2": lambda h, t: scoring.transe(h, jnp.ones(4), t, norm=2),
        "rotate": lambda h, t: scoring.rotate(h, jnp.array([1.0, 1.0, 0.0, 0.0]), t),
        "rotate_sun": lambda h, t: scoring.rotate(h, jnp.zeros(2), t, variant="sun"),
    }[scorer]
    out = np.asarray(jax.jit(fn)(h, t))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    # A zero distance keeps its zero gradient.
    g = jax.jit(jax.grad(lambda t: fn(t, t).sum()))(h[1:].repeat(2, 0))
    np.testing.assert_array_equal(g, np.zeros((2, 4)))


def test_kg_scorer_gradients_hold_no_broadcast_cotangent():
    # broadcast_to the common shape made the gradient of [q, 1, w] queries
    # against [1, E, w] entities hold [q, E, w] cotangents (distmult 1x, complex
    # 3x its size, 20x and 13x the time of the plain formula's gradient).
    rng = np.random.default_rng(34)
    q, e, w = 16, 600, 32
    h, r = rng.normal(size=(2, q, 1, w))
    t = rng.normal(size=(1, e, w))
    rc, tc = _np_complex(r), _np_complex(t)
    cases = {
        "distmult": (scoring.distmult, lambda: (r * t).sum(1)),
        "complex": (scoring.complex, lambda: np.concatenate(
            [(rc * np.conj(tc)).real.sum(1), -(rc * np.conj(tc)).imag.sum(1)], -1
        )),
    }  # fmt: skip
    args = [jnp.asarray(x, jnp.float32) for x in (h, r, t)]
    for name, (fn, grad_h) in cases.items():
        step = jax.jit(jax.grad(lambda *a: fn(*a).sum()))  # noqa: B023
        compiled = step.lower(*args).compile()
        mem = compiled.memory_analysis()
        if mem is None:  # a backend without memory analysis
            pytest.skip("no compiled memory analysis on this backend")
        assert mem.temp_size_in_bytes < q * e * w * 4 / 4, name
        assert_close(compiled(*args), grad_h()[:, None, :], loose=True, err_msg=name)


def test_rotate_sun_forward_holds_no_broadcast_residual():
    # The long-row branch of variant="sun" scales per coordinate; its
    # temporaries ([q, E, d], allocated whether the branch runs or not) are
    # now those of one query at a time. Long rows still score exactly.
    rng = np.random.default_rng(35)
    q, e, d = 16, 700, 24
    h, t = rng.normal(size=(q, 1, 2 * d)), rng.normal(size=(1, e, 2 * d))
    phase = rng.normal(size=(q, 1, d))
    fn = lambda h, p, t: scoring.rotate(h, p, t, variant="sun")  # noqa: E731
    args = [jnp.asarray(x, jnp.float32) for x in (h, phase, t)]
    compiled = jax.jit(fn).lower(*args).compile()
    mem = compiled.memory_analysis()
    if mem is None:  # a backend without memory analysis
        pytest.skip("no compiled memory analysis on this backend")
    assert mem.temp_size_in_bytes < q * e * d * 4 / 2  # was 2.1x
    h[3, 0, 2], t[0, 5, d + 1] = 1e25, -3e21  # the long-row branch runs
    args = [jnp.asarray(x, jnp.float32) for x in (h, phase, t)]
    hc, tc = _np_complex(h), _np_complex(t)
    want = -np.abs(hc * np.exp(1j * phase) - tc).sum(-1)
    assert_close(compiled(*args), want, loose=True)
