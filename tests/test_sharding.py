# SPDX-License-Identifier: Apache-2.0
"""jaxns.sharding on 1, 2, 4 and 8 simulated host devices.

JAX fixes the number of host devices when its backend starts, so the plain
``pytest`` run executes this module a second time in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (see
:func:`test_on_eight_host_devices`); there the tests below run, and the
outer run deselects them. Every sharded function is compared with its
single-device counterpart (value and gradient, 1e-5), and compiled steps are
checked never to hold a full table or a global ``B x B`` logit matrix.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh

import jaxns
from jaxns import sharding as sh
from tests.helpers import assert_close, np_softplus

NUM_DEVICES = 8
INNER = os.environ.get("JAXNS_SHARDING_INNER") == "1"
# Tests that need the eight devices carry this marker; tests/conftest.py
# deselects them in the outer run (they run in the subprocess), so they are
# neither skipped nor run twice.
eight = pytest.mark.eight_devices
COUNTS = (1, 2, 4, 8)
# Sizes chosen so that a full table [96, 5] or a global [48, 48] block would
# be recognisable in the compiled HLO.
V, D, B = 96, 5, 48


_SELF = "test_on_eight_host_devices"


def test_on_eight_host_devices():
    flags = os.environ.get("XLA_FLAGS", "")
    env = dict(
        os.environ,
        # Light LLVM optimisation: these programs are tiny and compile-bound.
        XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={NUM_DEVICES}"
        " --xla_backend_optimization_level=0",
        JAX_PLATFORMS="cpu",
        JAXNS_SHARDING_INNER="1",
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-o", "addopts=-ra"]
        # One process: the outer run may already be spread over xdist workers.
        + ["-p", "no:xdist", "-p", "no:benchmark", "-p", "no:cacheprovider"]
        + ["-k", f"not {_SELF}", os.path.abspath(__file__)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        # About 4 minutes on a 2-core Xeon and 7 on a slower 2-core EPYC
        # (within a full run): the limit only stops a hang.
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, proc.stdout


def _mesh(n: int, name: str = "vocab") -> Mesh:
    return Mesh(np.array(jax.devices()[:n]), (name,))


def _mesh2(batch: int, vocab: int) -> Mesh:
    devices = np.array(jax.devices()[: batch * vocab]).reshape(batch, vocab)
    return Mesh(devices, ("batch", "vocab"))


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    table = jnp.asarray(rng.normal(size=(V, D)), jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(B, D)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, V, B), jnp.int32)
    counts = rng.integers(0, 40, V)
    counts[V - V // 4 :] = 0  # the last quarter of the vocabulary is never drawn
    counts[int(labels[0])] = 0  # a label of probability 0 (logQ clamped)
    return table, hidden, labels, counts


# ---------------------------------------------------------------------------
# tables, gathers, row-sparse updates
# ---------------------------------------------------------------------------


@eight
def test_eight_devices_are_simulated():
    assert len(jax.devices()) == NUM_DEVICES


@eight
@pytest.mark.parametrize("n", COUNTS)
def test_shard_table_holds_one_slice_per_device(n):
    table, *_ = _data()
    t = sh.shard_table(table, _mesh(n))
    shards = sorted(t.addressable_shards, key=lambda s: s.index[0].start or 0)
    assert len(shards) == n
    for i, shard in enumerate(shards):
        assert shard.data.shape == (V // n, D)
        np.testing.assert_array_equal(
            shard.data, np.asarray(table)[i * V // n : (i + 1) * V // n]
        )


@eight
@pytest.mark.parametrize("n", COUNTS)
def test_gather_rows_equals_take_in_value_and_gradient(n):
    table, hidden, labels, _ = _data()
    ids = jnp.concatenate([labels, jnp.array([-1, V], jnp.int32)])
    mesh = _mesh(n)
    t = sh.shard_table(table, mesh)
    rows = jax.jit(lambda t, i: sh.gather_rows(t, i, mesh=mesh))(t, ids)
    expected = np.concatenate([np.asarray(table)[np.asarray(labels)], np.zeros((2, D))])
    assert_close(rows, expected)
    weight = jnp.arange(ids.size * D, dtype=jnp.float32).reshape(ids.size, D)
    grad = jax.grad(lambda t: jnp.sum(sh.gather_rows(t, ids, mesh=mesh) * weight))(t)
    dense = np.zeros((V, D))
    np.add.at(dense, np.asarray(labels), np.asarray(weight)[: labels.size])
    assert_close(grad, dense)
    assert grad.sharding.is_equivalent_to(t.sharding, 2)


@eight
def test_gather_rows_with_batch_axis():
    table, hidden, labels, _ = _data()
    mesh = _mesh2(2, 4)
    t = sh.shard_table(table, mesh)
    rows = sh.gather_rows(t, labels, mesh=mesh, batch_axis="batch")
    assert_close(rows, np.asarray(table)[np.asarray(labels)])


@eight
@pytest.mark.parametrize("n", COUNTS)
def test_row_sparse_adam_equals_single_device(n):
    table, hidden, labels, _ = _data()
    ids = labels[:12]  # duplicates and ids on several shards
    grads = hidden[:12]
    mesh = _mesh(n)
    opt = sh.row_sparse(optax.adam(0.1), mesh=mesh)
    ref_opt = jaxns.optim.row_sparse(optax.adam(0.1))
    t = sh.shard_table(table, mesh)
    state = opt.init(t)
    mu = state[0].mu
    assert mu.sharding.is_equivalent_to(t.sharding, 2)
    assert {s.data.shape for s in mu.addressable_shards} == {(V // n, D)}
    ref_t, ref_state = table, ref_opt.init(table)
    step = jax.jit(opt.update)
    ref_step = jax.jit(ref_opt.update)
    for _ in range(2):
        t, state = step(ids, grads, state, t)
        ref_t, ref_state = ref_step(ids, grads, ref_state, ref_t)
    assert_close(t, ref_t)
    assert_close(state[0].nu, ref_state[0].nu)
    assert int(state[0].count) == 2


@eight
def test_row_sparse_with_batch_axis_gathers_the_touched_rows():
    table, hidden, labels, _ = _data()
    mesh = _mesh2(2, 4)
    opt = sh.row_sparse(optax.sgd(0.5), mesh=mesh, batch_axis="batch")
    t = sh.shard_table(table, mesh)
    t, _ = jax.jit(opt.update)(labels, hidden, opt.init(t), t)
    expected = np.asarray(table, np.float64).copy()
    np.add.at(expected, np.asarray(labels), -0.5 * np.asarray(hidden))
    assert_close(t, expected)


@eight
def test_row_sparse_tables_of_different_sizes_each_localise_their_own_rows():
    """A pytree of tables with different rows per shard (fastText's V + B
    input rows and V output rows): each table's ids are its own."""
    rng = np.random.default_rng(5)
    tables = {"a": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32),
              "b": jnp.asarray(rng.normal(size=(32, 3)), jnp.float32)}  # fmt: skip
    ids = {"a": jnp.array([1, 7, 7]), "b": jnp.array([5, 20, 31])}
    grads = {k: jnp.asarray(rng.normal(size=(3, 3)), jnp.float32) for k in ids}
    mesh = _mesh(4)
    opt = sh.row_sparse(optax.adam(0.1), mesh=mesh)
    ref = jaxns.optim.row_sparse(optax.adam(0.1))
    t = {k: sh.shard_table(v, mesh) for k, v in tables.items()}
    t, state = jax.jit(opt.update)(ids, grads, opt.init(t), t)
    want, ref_state = ref.update(ids, grads, ref.init(tables), tables)
    for k in tables:
        assert_close(t[k], want[k])
        moved = np.flatnonzero(np.any(np.asarray(t[k]) != np.asarray(tables[k]), 1))
        assert moved.tolist() == sorted(set(np.asarray(ids[k]).tolist()))
    for got, want in zip(
        jax.tree.leaves(state), jax.tree.leaves(ref_state), strict=True
    ):
        assert_close(got, want)


@eight
def test_row_sparse_and_gather_do_not_wrap_int64_ids():
    """Ids past the int32 range are no rows (decided in their own dtype)."""
    table = jnp.arange(16.0).reshape(8, 2)
    mesh = _mesh(2)
    t = sh.shard_table(table, mesh)
    opt = sh.row_sparse(optax.sgd(1.0), mesh=mesh)
    grads, state = jnp.ones((2, 2), jnp.float32), opt.init(t)
    with jax.enable_x64(True):
        ids = jnp.array([2**32 + 3, 3], jnp.int64)
        rows = sh.gather_rows(t, ids, mesh=mesh)
        new, _ = opt.update(ids, grads, state, t)
    assert_close(rows, np.array([[0.0, 0.0], [6.0, 7.0]]))
    expected = np.asarray(table).copy()
    expected[3] -= 1.0
    assert_close(new, expected)


@eight
def test_sharded_sampler_reference_methods_on_an_explicit_mesh():
    """candidates and log_expected_count read the shards' tables whole, also
    when they are split over Explicit axes (jax.make_mesh's default)."""
    *_, counts = _data()
    base = jaxns.samplers.unigram(counts, power=0.75)
    explicit = jax.make_mesh((4,), ("vocab",))
    assert jax.sharding.AxisType.Explicit in explicit.axis_types
    auto = sh.shard_sampler(base, 4, mesh=_mesh(4))
    s = sh.shard_sampler(base, 4, mesh=explicit)
    key = jax.random.key(3)
    for got, want in zip(s.candidates(key, 5), auto.candidates(key, 5), strict=True):
        np.testing.assert_array_equal(got, want)
    ids = jnp.arange(0, V, 7)
    np.testing.assert_array_equal(
        s.log_expected_count(ids, 5), auto.log_expected_count(ids, 5)
    )


@eight
@pytest.mark.parametrize("dtype", [jnp.uint8, jnp.int16, jnp.uint32])
def test_sampled_losses_take_labels_of_any_integer_dtype(dtype):
    table, hidden, labels, counts = _data()
    mesh = _mesh(4)
    s = sh.shard_sampler(jaxns.samplers.unigram(counts, power=0.75), 4, mesh=mesh)
    t = sh.shard_table(table, mesh)
    key = jax.random.key(1)
    for loss in (sh.sampled_softmax, functools.partial(sh.sgns, num_negatives=5)):
        want = loss(key, hidden, labels, t, s, num_per_shard=4, mesh=mesh)
        got = loss(key, hidden, labels.astype(dtype), t, s, num_per_shard=4, mesh=mesh)
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# sampled softmax and SGNS over a vocabulary-sharded output table
# ---------------------------------------------------------------------------


@eight
@pytest.mark.parametrize("n", COUNTS)
def test_sharded_sampler_log_expected_count_is_exact(n):
    *_, counts = _data()
    q = counts**0.75 / np.sum(counts**0.75)
    s = sh.shard_sampler(jaxns.samplers.unigram(counts, power=0.75), n)
    mass = q.reshape(n, -1).sum(1)
    assert_close(s.mass, mass)
    live = np.flatnonzero(q > 0)
    expected = np.log(3 * q[live] / mass[live // (V // n)])
    got = s.log_expected_count(jnp.asarray(live), 3)
    assert_close(got, expected, rtol=1e-5)  # alias quantisation, float32 logs
    ids, log_e = s.candidates(jax.random.key(0), 64)
    ids = np.asarray(ids).reshape(n, 64)
    for shard in range(n):  # each shard draws only its own, live ids
        assert ((ids[shard] // (V // n)) == shard).all() or mass[shard] == 0
    assert (q[ids[mass > 0]] > 0).all()
    assert_close(log_e, s.log_expected_count(jnp.asarray(ids.reshape(-1)), 64))


@pytest.mark.parametrize("n", [1, pytest.param(4, marks=eight)])
def test_eager_calls_compile_once_and_equal_jit(n, monkeypatch):
    # Eager shard_map ran op by op, compiling each primitive for the mesh on
    # every call (about 6 s a call of sampled_softmax on 4 host devices).
    traces = []
    scores = sh._sampled_scores

    def counted(*args, **kwargs):
        traces.append(1)
        return scores(*args, **kwargs)

    monkeypatch.setattr(sh, "_sampled_scores", counted)
    # Programs that other tests' eager calls left behind would be reused.
    monkeypatch.setattr(sh, "_EAGER_PROGRAMS", collections.OrderedDict())
    table, hidden, labels, counts = _data()
    mesh = _mesh(n)
    s = sh.shard_sampler(jaxns.samplers.unigram(counts, power=0.75), n, mesh=mesh)
    t = sh.shard_table(table, mesh)
    call = functools.partial(sh.sampled_softmax, num_per_shard=4, mesh=mesh)
    first = call(jax.random.key(1), hidden, labels, t, s)
    again = call(jax.random.key(2), hidden, labels, t, s)
    assert len(traces) == 1
    jitted = jax.jit(call)
    np.testing.assert_array_equal(
        first, jitted(jax.random.key(1), hidden, labels, t, s)
    )
    np.testing.assert_array_equal(
        again, jitted(jax.random.key(2), hidden, labels, t, s)
    )
    # Another static argument is another program.
    call(jax.random.key(1), hidden, labels, t, s, remove_accidental_hits=False)
    assert len(traces) == 3  # one eager trace, one under jit, one new program


def test_eager_key_is_none_for_unhashable_closures():
    big = jnp.arange(3)

    def body(x):
        return x + big

    assert sh._eager_key(body, _mesh(1), (sh.P(),), sh.P()) is None
    n = 3

    def body2(x):
        return x + n

    assert sh._eager_key(body2, _mesh(1), (sh.P(),), sh.P()) is not None
    # A callable without code of its own is jitted per call, not cached.
    part = functools.partial(jnp.add, 1.0)
    assert sh._eager_key(part, _mesh(1), (sh.P(),), sh.P()) is None
    mapped = sh._shard_map(part, mesh=_mesh(1), in_specs=(sh.P(),), out_specs=sh.P())
    np.testing.assert_array_equal(mapped(jnp.arange(3.0)), [1.0, 2.0, 3.0])


def test_sharded_sampler_candidates_program_does_not_grow_with_shards():
    # candidates unrolled a Python loop over the shards: 128 shards lowered
    # to 26x the program of 2 and took 8.7 s to compile (0.14 s for 2).
    counts = np.arange(1024, 0, -1).astype(np.float64)
    q = counts**0.75 / np.sum(counts**0.75)
    sizes = {}
    for n in (2, 64):
        s = sh.shard_sampler(jaxns.samplers.unigram(counts, power=0.75), n)
        draw = jax.jit(lambda s, key: s.candidates(key, 4))
        sizes[n] = len(draw.lower(s, jax.random.key(0)).as_text())
        ids, log_e = draw(s, jax.random.key(1))
        rows = 1024 // n
        shard_of = np.asarray(ids) // rows
        np.testing.assert_array_equal(shard_of, np.repeat(np.arange(n), 4))
        mass = q.reshape(n, rows).sum(1)
        want = np.log(4 * q[np.asarray(ids)] / mass[shard_of])
        assert_close(log_e, want, rtol=1e-5)  # alias quantisation, float32 logs
    assert sizes[64] < 1.5 * sizes[2]


def _sampled_reference(key, hidden, labels, table, s, m, loss):
    ids, log_e = s.candidates(key, m)
    pos = jnp.sum(hidden * table[labels], -1)
    neg = hidden @ table[ids].T
    keep = ids[None, :] != labels[:, None]
    if loss == "softmax":
        keep = keep & (s.mass[ids // (V // s.num_shards)] > 0)[None, :]
        return jaxns.losses.sampled_softmax(
            pos,
            neg,
            pos_log_q=s.log_expected_count(labels, m),
            neg_log_q=log_e,
            where=keep,
        )
    weight = s.mass[ids // (V // s.num_shards)] * (5 / m)  # K = 5
    return jax.nn.softplus(-pos) + jnp.sum(
        jnp.where(keep, weight[None, :] * jax.nn.softplus(neg), 0), -1
    )


@eight
@pytest.mark.parametrize("loss", ["softmax", "sgns"])
@pytest.mark.parametrize("n", COUNTS)
def test_sampled_losses_equal_single_device(n, loss):
    table, hidden, labels, counts = _data()
    mesh = _mesh(n)
    m = 6
    s = sh.shard_sampler(jaxns.samplers.unigram(counts), n, mesh=mesh)
    key = jax.random.key(7)

    def sharded(h, t):
        if loss == "softmax":
            return sh.sampled_softmax(key, h, labels, t, s, num_per_shard=m, mesh=mesh)
        return sh.sgns(
            key, h, labels, t, s, num_negatives=5, num_per_shard=m, mesh=mesh
        )

    def total(h, t):
        per_example = sharded(h, t)
        return jnp.sum(per_example * jnp.linspace(0.5, 1.5, B)), per_example

    def ref_total(h, t):
        ref = _sampled_reference(key, h, labels, t, s, m, loss)
        return jnp.sum(ref * jnp.linspace(0.5, 1.5, B)), ref

    t = sh.shard_table(table, mesh)
    grad = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)
    (_, value), grads = jax.jit(grad)(hidden, t)
    ref_grad = jax.value_and_grad(ref_total, argnums=(0, 1), has_aux=True)
    (_, ref_value), ref_grads = jax.jit(ref_grad)(hidden, table)
    assert_close(value, ref_value, loose=True)
    assert bool(jnp.isfinite(value).all())
    assert_close(grads[0], ref_grads[0], loose=True)
    assert_close(grads[1], ref_grads[1], loose=True)
    assert grads[1].sharding.is_equivalent_to(t.sharding, 2)


@eight
def test_sgns_weights_are_one_for_uniform_proposal_and_n_m_equal_k():
    # Runs on one device too: with 1 shard, uniform q and m = K, it is SGNS.
    table, hidden, labels, _ = _data()
    mesh = Mesh(np.array(jax.devices()[:1]), ("vocab",))
    s = sh.shard_sampler(jaxns.samplers.uniform(V), 1)
    key = jax.random.key(1)
    got = jax.jit(
        sh.sgns,
        static_argnames=(
            "num_negatives",
            "num_per_shard",
            "mesh",
            "remove_accidental_hits",
        ),
    )(
        key,
        hidden,
        labels,
        table,
        s,
        num_negatives=5,
        num_per_shard=5,
        mesh=mesh,
        remove_accidental_hits=False,
    )
    ids, _ = s.candidates(key, 5)
    t, h = np.asarray(table, np.float64), np.asarray(hidden, np.float64)
    pos = np.sum(h * t[np.asarray(labels)], -1)
    neg = h @ t[np.asarray(ids)].T
    assert_close(got, np_softplus(-pos) + np_softplus(neg).sum(-1), loose=True)


@eight
def test_sampled_softmax_with_batch_and_vocab_axes():
    table, hidden, labels, counts = _data()
    mesh = _mesh2(2, 4)
    s = sh.shard_sampler(jaxns.samplers.unigram(counts), 4, mesh=mesh)
    key = jax.random.key(2)
    t = sh.shard_table(table, mesh)

    def total(h, t):
        return sh.sampled_softmax(
            key, h, labels, t, s, num_per_shard=4, mesh=mesh, batch_axis="batch"
        ).sum()

    value, grads = jax.jit(jax.value_and_grad(total, argnums=(0, 1)))(hidden, t)

    def ref_total(h, t):
        return _sampled_reference(key, h, labels, t, s, 4, "softmax").sum()

    ref_grad = jax.jit(jax.value_and_grad(ref_total, argnums=(0, 1)))
    ref_value, ref_grads = ref_grad(hidden, table)
    assert_close(value, ref_value, loose=True)
    assert_close(grads[0], ref_grads[0], loose=True)
    assert_close(grads[1], ref_grads[1], loose=True)


# ---------------------------------------------------------------------------
# cross-device in-batch negatives
# ---------------------------------------------------------------------------


def _pairs(seed: int = 3):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(B, D)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(B, D)) + 0.5 * np.asarray(x), jnp.float32)
    return x, y


def _contrastive_cases():
    rng = np.random.default_rng(4)
    ids = jnp.asarray(rng.integers(0, 20, B), jnp.int32)  # duplicates
    log_q = jnp.asarray(np.log(rng.uniform(0.01, 1, B)), jnp.float32)
    temp = jnp.float32(0.3)
    return {
        "in_batch": (
            lambda x, y, a, mesh: sh.in_batch_softmax(
                x,
                y,
                mesh=mesh,
                temperature=a,
                candidate_log_q=log_q,
                candidate_ids=ids,
            ),
            lambda x, y, a: jaxns.losses.in_batch_softmax(
                x, y, temperature=a, candidate_log_q=log_q, candidate_ids=ids
            ),
            temp,
        ),
        "in_batch_hard": (
            lambda x, y, a, mesh: sh.in_batch_softmax(
                x, y, mesh=mesh, temperature=a, num_hard_negatives=7
            ),
            lambda x, y, a: jaxns.losses.in_batch_softmax(
                x, y, temperature=a, num_hard_negatives=7
            ),
            temp,
        ),
        "infonce": (
            lambda x, y, a, mesh: sh.infonce(x, y, mesh=mesh, temperature=a),
            lambda x, y, a: jaxns.losses.infonce(x, y, temperature=a),
            temp,
        ),
        "clip": (
            lambda x, y, a, mesh: sh.clip(x, y, mesh=mesh, logit_scale=a),
            lambda x, y, a: jaxns.losses.clip(x, y, logit_scale=a),
            jnp.float32(1.5),
        ),
        "siglip": (
            lambda x, y, a, mesh: sh.siglip(
                x, y, mesh=mesh, logit_scale=a, logit_bias=a - 3.0
            ),
            lambda x, y, a: jaxns.losses.siglip(
                x, y, logit_scale=a, logit_bias=a - 3.0
            ),
            jnp.float32(1.2),
        ),
    }


CASES = _contrastive_cases()
_REFERENCES: dict = {}


def _single_device(name, fn, *args):
    """The single-device reference does not depend on the device count."""
    if name not in _REFERENCES:
        _REFERENCES[name] = fn(*args)
    return _REFERENCES[name]


@eight
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("n", COUNTS)
def test_cross_device_contrastive_equals_single_device(n, name):
    sharded, single, param = CASES[name]
    mesh = _mesh(n, "batch")
    x, y = _pairs()
    weights = jnp.linspace(0.5, 1.5, B)

    def total(x, y, a):
        per_example = sharded(x, y, a, mesh)
        return jnp.sum(per_example * weights), per_example

    def ref_total(x, y, a):
        per_example = single(x, y, a)
        return jnp.sum(per_example * weights), per_example

    grad = jax.value_and_grad(total, argnums=(0, 1, 2), has_aux=True)
    (_, value), grads = jax.jit(grad)(x, y, param)
    ref_grad = jax.value_and_grad(ref_total, argnums=(0, 1, 2), has_aux=True)
    (_, ref_value), ref_grads = _single_device(name, jax.jit(ref_grad), x, y, param)
    assert_close(value, ref_value, loose=True)
    for g, r in zip(grads, ref_grads, strict=True):
        assert_close(g, r, loose=True)


# ---------------------------------------------------------------------------
# nothing global on one device
# ---------------------------------------------------------------------------


def _hlo_shapes(compiled) -> set[str]:
    return set(re.findall(r"\[(\d+(?:,\d+)*)\]", compiled.as_text()))


@eight
def test_sampled_softmax_step_never_holds_the_full_table():
    big_v, dim = 8 * 1024, 16  # a 512 KiB table: per-device buffers stand out
    rng = np.random.default_rng(5)
    table = jnp.asarray(rng.normal(size=(big_v, dim)), jnp.float32)
    hidden = jnp.asarray(rng.normal(size=(B, dim)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, big_v, B), jnp.int32)
    mesh = _mesh(8)
    s = sh.shard_sampler(jaxns.samplers.uniform(big_v), 8, mesh=mesh)
    t = sh.shard_table(table, mesh)
    opt = sh.row_sparse(optax.adam(0.1), mesh=mesh)
    state = opt.init(t)

    def step(t, state, h, key):
        def loss(h, t):
            return sh.sampled_softmax(
                key, h, labels, t, s, num_per_shard=4, mesh=mesh
            ).mean()

        value, (gh, gt) = jax.value_and_grad(loss, argnums=(0, 1))(h, t)
        t, state = opt.update(labels, gh, state, t - 0.1 * gt)
        return t, state, value

    compiled = jax.jit(step).lower(t, state, hidden, jax.random.key(0)).compile()
    shapes = _hlo_shapes(compiled)
    assert f"{big_v},{dim}" not in shapes, "a full [V, d] table on one device"
    assert f"{big_v // 8},{dim}" in shapes
    mem = compiled.memory_analysis()
    if mem is not None:  # per device: the slice of the table and its moments
        table_bytes = big_v * dim * 4
        assert mem.argument_size_in_bytes < 0.5 * table_bytes
        assert mem.temp_size_in_bytes < 0.25 * table_bytes


@eight
@pytest.mark.parametrize("name", ["in_batch", "infonce", "clip", "siglip"])
def test_contrastive_steps_never_hold_the_global_logits(name):
    sharded, _, param = CASES[name]
    mesh = _mesh(8, "batch")
    x, y = _pairs()
    grad = jax.grad(lambda x, y, a: sharded(x, y, a, mesh).sum(), argnums=(0, 1, 2))
    shapes = _hlo_shapes(jax.jit(grad).lower(x, y, param).compile())
    assert f"{B},{B}" not in shapes, "a global [B, B] logit matrix"
    if name == "siglip":  # the ring: one [B/n, B/n] block at a time
        assert f"{B // 8},{B}" not in shapes and f"{B // 8},{B // 8}" in shapes
    else:
        assert f"{B // 8},{B}" in shapes


@eight
@pytest.mark.parametrize("n", [2, 4])
def test_clip_gradient_holds_few_logit_blocks(n):
    # Each device's [b, B] image and text logits, b = B / n. Scaling the
    # [b, B] product by the temperature kept it as a residual, and the
    # diagonal's cotangent was a block of its own: about 5 blocks of
    # temporaries per device; 2 (the logits, the cotangent) and change now.
    big_b, dim = 512, 8
    rng = np.random.default_rng(9)
    x, y = (jnp.asarray(rng.normal(size=(big_b, dim)), jnp.float32) for _ in "xy")
    mesh = _mesh(n, "batch")
    grad = jax.grad(
        lambda x, y: sh.clip(x, y, mesh=mesh, temperature=0.07).mean(),
        argnums=(0, 1),
    )
    mem = jax.jit(grad).lower(x, y).compile().memory_analysis()
    block = big_b // n * big_b * 4
    assert mem.temp_size_in_bytes < 3 * block


@eight
def test_clip_gathers_one_modality_and_scores_one_block():
    # open_clip's layout (gather both modalities, score images against all
    # texts and texts against all images) makes two [b, B] products per
    # device; the text losses are column logsumexps of the one block.
    mesh = _mesh(8, "batch")
    x, y = _pairs()
    fwd = jax.jit(lambda x, y: sh.clip(x, y, mesh=mesh, temperature=0.1))
    hlo = fwd.lower(x, y).compile().as_text()
    gathers = [
        line for line in hlo.splitlines()
        if " all-gather(" in line or " all-gather-start(" in line
    ]  # fmt: skip
    assert len(gathers) == 1, gathers


# ---------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------


@eight
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: sh.shard_table(jnp.ones((10, 2)), m), ValueError, "does not divide"),
        (lambda m: sh.shard_table(jnp.ones((8, 2)), m, "data"), ValueError, "axis"),
        (lambda m: sh.shard_table(jnp.ones((8, 2), jnp.int32), m), TypeError, "float"),
        (lambda m: sh.shard_table(jnp.ones((8, 2)), "mesh"), TypeError, "Mesh"),
        (
            lambda m: sh.shard_sampler(jaxns.samplers.uniform(10), 4),
            ValueError,
            "divide",
        ),
        (
            lambda m: sh.shard_sampler(jaxns.samplers.uniform(8), 2, mesh=m),
            ValueError,
            "size 4",
        ),
        (
            lambda m: sh.sampled_softmax(
                jax.random.key(0),
                jnp.ones((2, 3)),
                jnp.zeros(2, jnp.int32),
                jnp.ones((8, 3)),
                jaxns.samplers.uniform(8),
                num_per_shard=2,
                mesh=m,
            ),
            TypeError,
            "ShardedSampler",
        ),
        (
            lambda m: sh.sampled_softmax(
                jax.random.key(0),
                jnp.ones((2, 3)),
                jnp.zeros(2, jnp.int32),
                jnp.ones((8, 3)),
                sh.shard_sampler(jaxns.samplers.uniform(8), 2),
                num_per_shard=2,
                mesh=m,
            ),
            ValueError,
            "2 shards",
        ),
        (
            lambda m: sh.in_batch_softmax(
                jnp.ones((6, 3)), jnp.ones((6, 3)), mesh=m, axis="vocab"
            ),
            ValueError,
            "does not divide",
        ),
        (
            lambda m: sh.clip(jnp.ones((8, 3)), jnp.ones((8, 3)), mesh=m, axis="vocab"),
            ValueError,
            "exactly one",
        ),
        (
            lambda m: sh.gather_rows(
                jnp.ones((8, 2)), jnp.zeros(4, jnp.int32), mesh=m, batch_axis="vocab"
            ),
            ValueError,
            "different mesh axes",
        ),
        (
            lambda m: sh.row_sparse(optax.sgd(1.0), mesh=m).update(
                jnp.array([1.7, 5.9]), jnp.ones((2, 2)), (), jnp.ones((8, 2))
            ),
            TypeError,
            "sharding.row_sparse.update: ids must be an integer array",
        ),
        (
            lambda m: sh.row_sparse(
                optax.sgd(1.0), mesh=_mesh2(4, 2), batch_axis="batch"
            ).update(jnp.arange(6), jnp.ones((6, 2)), (), jnp.ones((8, 2))),
            ValueError,
            "sharding.row_sparse.update: ids has 6 entries, which mesh axis 'batch'",
        ),
        (
            lambda m: sh.siglip(
                jnp.ones((8, 3)),
                jnp.ones((8, 3)),
                mesh=m,
                axis="vocab",
                logit_scale=float("nan"),
            ),
            ValueError,
            "sharding.siglip: logit_scale must be finite",
        ),
        (
            lambda m: sh.siglip(
                jnp.ones((8, 3)),
                jnp.ones((8, 3)),
                mesh=m,
                axis="vocab",
                logit_bias=jnp.array(1, jnp.int32),
            ),
            TypeError,
            "sharding.siglip: logit_bias must be a float scalar",
        ),
    ],
)
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call(_mesh(4))


# ---------------------------------------------------------------------------
# data-parallel word2vec
# ---------------------------------------------------------------------------


def _assert_trained_alike(got, want, *, adam=False):
    """Tables, losses (and with ``adam`` the input table's second moment) of
    two ``_train_word2vec`` results agree to float32 rounding: the same
    updates, duplicate rows summed in another order."""
    (params, state, losses), (ref, ref_state, ref_losses) = got, want
    assert_close(params.input, ref.input, loose=True)
    assert_close(params.output, ref.output, loose=True)
    assert_close(losses, ref_losses, loose=True)
    if adam:
        assert_close(state["input"][0].nu, ref_state["input"][0].nu, loose=True)


def _train_word2vec(
    trainer, ids, sents, vocab, dim=8, place=lambda table: table, num_buckets=None
):
    """Trains a few calls; ``place`` puts each table where it lives (sharded);
    with ``num_buckets`` the input table has fastText's subword rows too."""
    if num_buckets is None:
        params = jaxns.word2vec.init_params(jax.random.key(0), vocab, dim)
    else:
        params = jaxns.word2vec.init_subword_params(
            jax.random.key(0), vocab, num_buckets, dim
        )
    params = jaxns.word2vec.SkipGramParams(*(place(p) for p in params))
    state = trainer.init(params)
    stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(vocab))
    calls = stream.num_calls(trainer.block_size)
    losses = []
    for c in range(calls):
        progress = jaxns.word2vec.call_progress(0, c, calls, ids.size)
        params, state, loss, _ = trainer.train(
            jax.random.key(2), params, state, stream, c * trainer.block_size, progress
        )
        losses.append(float(loss))
    return params, state, np.array(losses, np.float32)


@eight
def test_data_parallel_word2vec_equals_one_device():
    ids, sents, sampler, kw = _w2v_case(adam=False)
    vocab = W2V_VOCAB
    ref, _, ref_losses = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, vocab
    )
    for n in COUNTS:
        trainer = jaxns.word2vec.make_sharded_trainer(
            sampler, mesh=_mesh(n, "data"), **kw
        )
        params, _, losses = _train_word2vec(trainer, ids, sents, vocab)
        if n == 1:  # the same program: bitwise
            np.testing.assert_array_equal(params.input, ref.input)
            np.testing.assert_array_equal(params.output, ref.output)
        # The same updates summed in another order: float32 rounding only.
        assert_close(params.input, ref.input, loose=True)
        assert_close(params.output, ref.output, loose=True)
        assert_close(losses, ref_losses, loose=True)


class _CountingSampler:
    """A noise distribution that counts its traces (``sample`` runs once per
    trace of the training step)."""

    def __init__(self, sampler):
        self.sampler, self.traces = sampler, 0

    def sample(self, key, shape):
        self.traces += 1
        return self.sampler.sample(key, shape)


@pytest.mark.parametrize("adam", [False, True])
@pytest.mark.parametrize("sync_every", [1, 2])
def test_sharded_trainer_compiles_once(adam, sync_every):
    # Tables from init_params (one device) and init's state differ in
    # sharding from what train returns: the second call compiled again.
    ids, sents, sampler, kw = _w2v_case(adam=adam)
    ref, ref_state, ref_losses = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, W2V_VOCAB
    )
    counting = _CountingSampler(sampler)
    trainer = jaxns.word2vec.make_sharded_trainer(
        counting, mesh=_mesh(1, "data"), sync_every=sync_every, **kw
    )
    params, state, losses = _train_word2vec(trainer, ids, sents, W2V_VOCAB)
    assert len(losses) >= 3
    assert counting.traces == 1
    # One device: make_trainer's program, bit for bit.
    np.testing.assert_array_equal(params.input, ref.input)
    np.testing.assert_array_equal(params.output, ref.output)
    np.testing.assert_array_equal(losses, ref_losses)


def test_vocab_sharded_trainer_init_compiles_once():
    # init built a new jit (a new shard_map) on every call, so every call
    # traced and compiled the optimizer's init again.
    ids, sents, sampler, kw = _w2v_case(adam=True)
    traces = []
    adam = kw.pop("optimizer")

    def counted_init(params):
        traces.append(1)
        return adam.init(params)

    kw["optimizer"] = optax.GradientTransformation(counted_init, adam.update)
    trainer = jaxns.word2vec.make_sharded_trainer(
        sampler, mesh=_mesh(1, "data"), vocab_axis="data", **kw
    )
    params = jaxns.word2vec.init_params(jax.random.key(0), W2V_VOCAB, 8)
    first = trainer.init(params)
    after_first = len(traces)
    second = trainer.init(params)
    assert after_first >= 1
    assert len(traces) == after_first
    jax.tree.map(np.testing.assert_array_equal, first, second)


@eight
@pytest.mark.parametrize("n", [2, 4])
def test_sharded_trainer_stream_lives_on_every_device(n):
    """The stream is replicated once, by ``stream``: a ``train`` call then
    reads it where it is instead of copying it to the devices."""
    ids, sents, sampler, kw = _w2v_case(adam=False)
    mesh = _mesh(n, "data")
    trainer = jaxns.word2vec.make_sharded_trainer(sampler, mesh=mesh, **kw)
    keep = jnp.full(W2V_VOCAB, 0.7)
    stream = trainer.stream(jax.random.key(1), ids, sents, keep)
    # The same stream as make_stream's, one whole copy on each device.
    expected = jaxns.word2vec.make_stream(
        jax.random.key(1), ids, sents, keep, window=kw["window"],
        block_size=trainer.block_size,
    )  # fmt: skip
    for leaf, want in zip(stream, expected, strict=True):
        assert leaf.sharding.is_equivalent_to(
            jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
            leaf.ndim,
        )
        shards = leaf.addressable_shards
        assert sorted(s.device.id for s in shards) == sorted(
            d.id for d in mesh.devices.flat
        )
        for shard in shards:
            np.testing.assert_array_equal(shard.data, want)
    assert jaxns.word2vec.make_trainer(sampler, **kw).stream_sharding is None


CAPS = {
    "duplicate_rows=2, shuffle": dict(duplicate_rows=2, shuffle=True),
    "max_row_rate": dict(max_row_rate=0.02),
    "both": dict(duplicate_rows=3, max_row_rate=0.03),
}


@eight
@pytest.mark.parametrize("caps", sorted(CAPS))
@pytest.mark.parametrize("layout", ["replicated", "vocab-split"])
def test_capped_word2vec_equals_one_device(caps, layout):
    """duplicate_rows / max_row_rate count a row over the whole update, also
    across the slices' shared window positions: make_trainer's update."""
    # Frequent words repeat within an update, so the caps bind.
    ids, sents, sampler, kw = _w2v_case(zipf=1.3, adam=False)
    vocab = W2V_VOCAB
    plain, _, _ = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, vocab
    )
    kw.update(CAPS[caps])
    ref, _, ref_losses = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, vocab
    )
    # The caps change the result, so the comparison below can fail.
    assert float(np.max(np.abs(np.asarray(ref.input) - np.asarray(plain.input)))) > 1e-3
    for n in (2, 4, 8):
        mesh = _mesh(n, "data")
        split = layout == "vocab-split"
        trainer = jaxns.word2vec.make_sharded_trainer(
            sampler, mesh=mesh, vocab_axis="data" if split else None, **kw
        )
        assert trainer.shuffle == kw.get("shuffle", False)
        params, _, losses = _train_word2vec(
            trainer,
            ids,
            sents,
            vocab,
            place=functools.partial(sh.shard_table, mesh=mesh, vocab_axis="data")
            if split
            else (lambda t: t),
        )
        assert_close(params.input, ref.input, loose=True)
        assert_close(params.output, ref.output, loose=True)
        assert_close(losses, ref_losses, loose=True)


def test_capped_sharded_trainer_needs_sync_every_one():
    with pytest.raises(ValueError, match=r"make_sharded_trainer: .*sync_every=1"):
        jaxns.word2vec.make_sharded_trainer(
            jaxns.samplers.uniform(8),
            mesh=_mesh(1, "data"),
            learning_rate=optax.constant_schedule(0.1),
            max_row_rate=0.2,
            sync_every=2,
            steps_per_call=4,
        )


def _delayed_reference(
    trainer_kw, sampler, ids, sents, vocab, n, sync_every, model="skipgram",
    subwords=None,
):  # fmt: skip
    """A plain loop of the delayed exchange: ``n`` NumPy replicas, each
    applying its own slices of the updates at once and every device's slices
    (from the last exchanged tables) every ``sync_every`` updates. Gradients
    come from the public :func:`jaxns.word2vec.chunk_gradients` (skip-gram)
    or :func:`jaxns.word2vec.block_gradients` (CBOW, and fastText's
    ``subwords`` for either model)."""
    kw = dict(trainer_kw)
    lr, window, batch = kw["learning_rate"], kw["window"], kw["batch_size"]
    chunk, per_chunk = kw["chunk_size"], kw["negatives_per_chunk"]
    steps = kw["steps_per_call"]
    trainer = jaxns.word2vec.make_trainer(sampler, **kw)
    if subwords is None:
        init = jaxns.word2vec.init_params(jax.random.key(0), vocab, 4)
    else:
        init = jaxns.word2vec.init_subword_params(
            jax.random.key(0), vocab, SUBWORD_BUCKETS, 4
        )
    tables = [np.array(init.input), np.array(init.output)]
    stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(vocab))
    tokens, sentence_ids = np.asarray(stream.tokens), np.asarray(stream.sentence_ids)
    calls, key = stream.num_calls(trainer.block_size), jax.random.key(2)
    num_chunks = batch // chunk
    local_chunks, local_batch = num_chunks // n, batch // n
    total_loss = 0.0

    def apply(tables, g, rate):
        for table, rows, grads in (
            (tables[0], g.input_ids, g.input_grads),
            (tables[1], g.output_ids, g.output_grads),
        ):
            rows, grads = np.asarray(rows), np.asarray(grads)
            keep = rows >= 0
            np.add.at(table, rows[keep], -rate * grads[keep])

    for c in range(calls):
        p0, p1 = jaxns.word2vec.call_progress(0, c, calls, ids.size)
        for group in range(steps // sync_every):
            replicas = [[t.copy() for t in tables] for _ in range(n)]
            found = []  # (gradients, rate) by step, then device: as applied
            for s in range(group * sync_every, (group + 1) * sync_every):
                index = c * steps + s
                frac = np.float32(s) / np.float32(steps)
                rate = float(lr(np.float32(p0) + frac * np.float32(p1 - p0)))
                k_window, k_neg = jax.random.split(jax.random.fold_in(key, index))
                reduction = jax.random.randint(
                    k_window, (num_chunks, chunk), 0, window, dtype=jnp.int32
                )
                negs = sampler.sample(k_neg, (num_chunks, per_chunk))
                for d in range(n):
                    start = index * batch + d * local_batch
                    block = slice(start, start + local_batch + 2 * window)
                    mine = slice(d * local_chunks, (d + 1) * local_chunks)
                    gradients = (
                        jaxns.word2vec.chunk_gradients
                        if model == "skipgram" and subwords is None
                        else functools.partial(
                            jaxns.word2vec.block_gradients, model=model,
                            subwords=subwords,
                        )
                    )  # fmt: skip
                    g = gradients(
                        jaxns.word2vec.SkipGramParams(*map(jnp.asarray, replicas[d])),
                        tokens[block], sentence_ids[block], negs[mine],
                        reduction[mine], window=window,
                        num_negatives=kw.get("num_negatives", 5),
                    )  # fmt: skip
                    apply(replicas[d], g, rate)
                    found.append((g, rate))
                    total_loss += float(g.loss)
            for g, rate in found:  # the exchange, from the last exchanged state
                apply(tables, g, rate)
    return tables, total_loss


@eight
@pytest.mark.parametrize(
    "n, sync_every, model, exact",
    [  # exact and Hogwild for every model, subwords included; 1 to 8 devices
        (1, 4, "skipgram", True),
        (2, 2, "skipgram", False),
        (4, 4, "skipgram", False),
        (8, 2, "skipgram", True),
        (2, 2, "cbow", True),
        (4, 4, "cbow", False),
        (2, 2, "fasttext-skipgram", False),
        (4, 2, "fasttext-cbow", True),
    ],
)
def test_delayed_exchange_word2vec_matches_a_plain_loop(n, sync_every, model, exact):
    fasttext = model.startswith("fasttext-")
    model = model.removeprefix("fasttext-")
    table = _subword_table(200) if fasttext else None
    buckets = SUBWORD_BUCKETS if fasttext else None
    rng = np.random.default_rng(1)
    vocab, size = 200, 1200
    ids = jnp.asarray(rng.zipf(1.5, size) % vocab, jnp.int32)
    sents = jnp.asarray(np.arange(size) // 41, jnp.int32)
    sampler = jaxns.samplers.unigram(np.bincount(ids, minlength=vocab))
    # A large rate, so that reading the other devices' updates late visibly
    # changes the result (checked below against the undelayed trainer).
    kw = dict(
        learning_rate=optax.linear_schedule(0.01, 0.001, float(size)),
        window=3,
        batch_size=64,
        chunk_size=8,
        negatives_per_chunk=4,
        steps_per_call=4,
        model=model,
    )
    if fasttext:
        kw["subwords"] = table
    ref, ref_loss = _delayed_reference(
        kw, sampler, ids, sents, vocab, n, sync_every, model, table
    )
    trainer = jaxns.word2vec.make_sharded_trainer(
        sampler,
        mesh=_mesh(n, "data"),
        sync_every=sync_every,
        exact_replicas=exact,
        **kw,
    )
    params, _, losses = _train_word2vec(
        trainer, ids, sents, vocab, dim=4, num_buckets=buckets
    )
    # Replicated tables: every device holds the same (exchanged) table,
    # bitwise, or (Hogwild-style) the same updates summed in another order.
    shards = [np.asarray(s.data) for s in params.input.addressable_shards]
    for shard in shards[1:]:
        if exact:
            np.testing.assert_array_equal(shard, shards[0])
        else:
            assert_close(shard, shards[0], loose=True)
    assert_close(params.input, ref[0], rtol=1e-4, atol=1e-5)
    assert_close(params.output, ref[1], rtol=1e-4, atol=1e-5)
    assert_close(np.sum(losses, dtype=np.float64), ref_loss, rtol=1e-4)
    undelayed = jaxns.word2vec.make_sharded_trainer(
        sampler, mesh=_mesh(n, "data"), **kw
    )
    plain, _, _ = _train_word2vec(
        undelayed, ids, sents, vocab, dim=4, num_buckets=buckets
    )
    gap = np.max(np.abs(np.asarray(plain.input) - ref[0]))
    if n == 1:  # one device reads no update late: the same result
        assert_close(params.input, plain.input, loose=True)
    else:
        assert gap > 1e-2, gap  # the delay is real, and the test can see it


def test_delayed_exchange_on_one_device_changes_nothing_with_adam():
    # One device reads none of its updates late; the undo before the replay
    # must restore Adam's table-shaped moments and its count exactly.
    ids, sents, sampler, kw = _w2v_case()
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    plain, plain_state, plain_losses = _train_word2vec(
        jaxns.word2vec.make_sharded_trainer(sampler, mesh=mesh, **kw),
        ids, sents, W2V_VOCAB, W2V_DIM,
    )  # fmt: skip
    params, state, losses = _train_word2vec(
        jaxns.word2vec.make_sharded_trainer(sampler, mesh=mesh, sync_every=4, **kw),
        ids, sents, W2V_VOCAB, W2V_DIM,
    )  # fmt: skip
    assert_close(params.input, plain.input)
    assert_close(params.output, plain.output)
    assert_close(state["output"][0].nu, plain_state["output"][0].nu)
    assert_close(losses, plain_losses)
    assert int(state["input"][0].count) == int(plain_state["input"][0].count)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(sync_every=3, steps_per_call=4), "sync_every must divide"),
        (dict(sync_every=2, vocab_axis="data"), "needs replicated tables"),
        (dict(sync_every=0), "sync_every"),
        (
            dict(sync_every=2, exact_replicas=False, optimizer=optax.scale_by_adam()),
            "needs plain SGD",
        ),
    ],
)
def test_sharded_trainer_rejects_bad_sync_every(kw, match):
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    with pytest.raises(ValueError, match=match):
        jaxns.word2vec.make_sharded_trainer(
            jaxns.samplers.uniform(8),
            mesh=mesh,
            learning_rate=optax.constant_schedule(0.1),
            **kw,
        )


def test_sharded_trainer_rejects_a_batch_the_devices_do_not_split():
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    sampler = jaxns.samplers.uniform(8)
    with pytest.raises(ValueError, match="axis"):
        jaxns.word2vec.make_sharded_trainer(
            sampler, mesh=mesh, axis="vocab", learning_rate=optax.constant_schedule(1.0)
        )
    with pytest.raises(TypeError, match="Mesh"):
        jaxns.word2vec.make_sharded_trainer(
            sampler, mesh="mesh", learning_rate=optax.constant_schedule(1.0)
        )


# ---------------------------------------------------------------------------
# word2vec with vocabulary-sharded tables
# ---------------------------------------------------------------------------

W2V_VOCAB, W2V_DIM = 200, 8


def _w2v_case(zipf=1.5, adam=True):
    """A 1,500-token corpus over W2V_VOCAB words (Zipf ``zipf``), its
    sampler and the trainers' arguments (Adam: table-shaped moments)."""
    rng = np.random.default_rng(0)
    size = 1500
    ids = jnp.asarray(rng.zipf(zipf, size) % W2V_VOCAB, jnp.int32)
    sents = jnp.asarray(np.arange(size) // 37, jnp.int32)
    sampler = jaxns.samplers.unigram(np.bincount(ids, minlength=W2V_VOCAB))
    kw = dict(
        learning_rate=optax.linear_schedule(0.01, 1e-4, float(size)),
        optimizer=optax.scale_by_adam() if adam else None,
        window=3,
        batch_size=128,
        chunk_size=8,
        negatives_per_chunk=4,
        steps_per_call=4,
    )
    return ids, sents, sampler, kw


def _w2v_mesh(layout: str) -> tuple[Mesh, str]:
    """``"n"``: one axis splitting both the update and the vocabulary;
    ``"dxv"``: a data axis of d devices and a vocabulary axis of v."""
    if "x" not in layout:
        return _mesh(int(layout), "data"), "data"
    d, v = (int(s) for s in layout.split("x"))
    devices = np.array(jax.devices()[: d * v]).reshape(d, v)
    return Mesh(devices, ("data", "vocab")), "vocab"


@eight
@pytest.mark.parametrize("layout", ["2", "4", "8", "2x4"])
def test_vocab_sharded_word2vec_equals_one_device(layout):
    ids, sents, sampler, kw = _w2v_case()
    ref_trainer = jaxns.word2vec.make_trainer(sampler, **kw)
    ref, ref_state, ref_losses = _single_device(
        "word2vec", _train_word2vec, ref_trainer, ids, sents, W2V_VOCAB, W2V_DIM
    )
    mesh, vocab_axis = _w2v_mesh(layout)
    trainer = jaxns.word2vec.make_sharded_trainer(
        sampler, mesh=mesh, axis="data", vocab_axis=vocab_axis, **kw
    )
    params, state, losses = _train_word2vec(
        trainer,
        ids,
        sents,
        W2V_VOCAB,
        W2V_DIM,
        place=lambda table: sh.shard_table(table, mesh, vocab_axis),
    )
    # The same updates, duplicates summed in another order: rounding only.
    assert_close(params.input, ref.input, loose=True)
    assert_close(params.output, ref.output, loose=True)
    assert_close(state["output"][0].nu, ref_state["output"][0].nu, loose=True)
    assert_close(losses, ref_losses, loose=True)
    assert int(state["input"][0].count) == int(ref_state["input"][0].count)
    # Each device holds V / n_v rows of each table and of each moment.
    n_v = mesh.shape[vocab_axis]
    for x in (params.input, params.output, state["input"][0].mu):
        assert x.sharding.is_equivalent_to(sh.vocab_sharding(mesh, vocab_axis), 2)
        assert len(x.addressable_shards) == mesh.size
        assert {s.data.shape for s in x.addressable_shards} == {
            (W2V_VOCAB // n_v, W2V_DIM)
        }


@eight
def test_vocab_sharded_word2vec_step_never_holds_a_full_table():
    big_v, dim = 8 * 1024, 16  # a 512 KiB table: per-device buffers stand out
    mesh = _mesh(8, "data")
    sampler = jaxns.samplers.uniform(big_v)
    kw = dict(
        learning_rate=optax.constant_schedule(0.01),
        optimizer=optax.scale_by_adam(),
        window=2,
        batch_size=64,
        chunk_size=8,
        negatives_per_chunk=4,
        steps_per_call=2,
    )
    ids = jnp.arange(300, dtype=jnp.int32) * 7 % big_v
    sents = jnp.zeros(300, jnp.int32)

    def compiled(vocab_axis):
        trainer = jaxns.word2vec.make_sharded_trainer(
            sampler, mesh=mesh, vocab_axis=vocab_axis, **kw
        )
        params = jaxns.word2vec.init_params(jax.random.key(0), big_v, dim)
        if vocab_axis is not None:
            params = jaxns.word2vec.SkipGramParams(
                *(sh.shard_table(p, mesh, vocab_axis) for p in params)
            )
        state = trainer.init(params)
        stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(big_v))
        return trainer.train.lower(
            jax.random.key(2), params, state, stream, 0, (0.0, 1.0)
        ).compile()

    table_bytes = big_v * dim * 4
    sharded = compiled("data")
    shapes = _hlo_shapes(sharded)
    assert f"{big_v},{dim}" not in shapes, "a full [V, d] table on one device"
    assert f"{big_v // 8},{dim}" in shapes
    # The replicated layout, for contrast, holds the whole tables.
    assert f"{big_v},{dim}" in _hlo_shapes(compiled(None))
    mem = sharded.memory_analysis()
    if mem is not None:  # per device: 1/8 of two tables and four moments
        assert mem.argument_size_in_bytes < table_bytes
        assert mem.temp_size_in_bytes < 0.25 * table_bytes


@eight
@pytest.mark.parametrize(
    "vocab, vocab_axis, batch_size, match",
    [
        (8, "vocab", 32, "vocab_axis must name an axis"),
        (10, "data", 32, r"params\.input has 10 rows.*size 4"),
        (8, "data", 24, "batch_size must be a multiple of n"),
    ],
)
def test_vocab_sharded_trainer_rejects_bad_layouts(
    vocab, vocab_axis, batch_size, match
):
    mesh = _mesh(4, "data")
    with pytest.raises(ValueError, match=match):
        trainer = jaxns.word2vec.make_sharded_trainer(
            jaxns.samplers.uniform(vocab),
            mesh=mesh,
            vocab_axis=vocab_axis,
            learning_rate=optax.constant_schedule(0.1),
            window=1,
            batch_size=batch_size,
            chunk_size=4,
        )
        trainer.init(jaxns.word2vec.init_params(jax.random.key(0), vocab, 2))


@eight
def test_vocab_sharded_trainer_rejects_indivisible_tables_in_train():
    mesh = _mesh(4, "data")
    trainer = jaxns.word2vec.make_sharded_trainer(
        jaxns.samplers.uniform(10),
        mesh=mesh,
        vocab_axis="data",
        learning_rate=optax.constant_schedule(0.1),
        window=1,
        batch_size=16,
        chunk_size=4,
        steps_per_call=1,
    )
    params = jaxns.word2vec.init_params(jax.random.key(0), 10, 2)
    stream = trainer.stream(
        jax.random.key(1), jnp.arange(10), jnp.zeros(10, jnp.int32), jnp.ones(10)
    )
    with pytest.raises(ValueError, match=r"params\.input has 10 rows, which mesh"):
        trainer.train(jax.random.key(2), params, None, stream, 0, (0.0, 1.0))


# ---------------------------------------------------------------------------
# data-parallel CBOW
# ---------------------------------------------------------------------------

CBOW_CASES = {
    # (devices, layout, options); Adam has table-shaped moments.
    "2 replicated": (2, "replicated", dict(adam=False)),
    "4 replicated, adam, shuffle": (4, "replicated", dict(shuffle=True)),
    "2 vocab-split, adam": (2, "vocab-split", {}),
    "4 vocab-split, caps": (
        4, "vocab-split", dict(adam=False, duplicate_rows=2, max_row_rate=0.02)
    ),
}  # fmt: skip


@eight
@pytest.mark.parametrize("case", sorted(CBOW_CASES))
def test_cbow_word2vec_equals_one_device(case):
    n, layout, options = CBOW_CASES[case]
    options = dict(options)
    adam = options.pop("adam", True)
    ids, sents, sampler, kw = _w2v_case(zipf=1.3, adam=adam)
    kw.update(options)
    ref, ref_state, ref_losses = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, model="cbow", **kw),
        ids, sents, W2V_VOCAB, W2V_DIM,
    )  # fmt: skip
    # CBOW's updates are not skip-gram's, so the comparison below can fail.
    skipgram, _, _ = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, W2V_VOCAB, W2V_DIM
    )
    assert float(np.max(np.abs(np.asarray(ref.input - skipgram.input)))) > 1e-3
    mesh = _mesh(n, "data")
    split = layout == "vocab-split"
    trainer = jaxns.word2vec.make_sharded_trainer(
        sampler, mesh=mesh, vocab_axis="data" if split else None, model="cbow", **kw
    )
    params, state, losses = _train_word2vec(
        trainer, ids, sents, W2V_VOCAB, W2V_DIM,
        place=functools.partial(sh.shard_table, mesh=mesh, vocab_axis="data")
        if split
        else (lambda t: t),
    )  # fmt: skip
    _assert_trained_alike(
        (params, state, losses), (ref, ref_state, ref_losses), adam=adam
    )
    if split:
        assert params.input.sharding.is_equivalent_to(
            sh.vocab_sharding(mesh, "data"), 2
        )


def test_sharded_trainer_rejects_an_unknown_model():
    with pytest.raises(
        ValueError, match=r"word2vec\.make_sharded_trainer: model must be one of"
    ):
        jaxns.word2vec.make_sharded_trainer(
            jaxns.samplers.uniform(8),
            mesh=_mesh(1, "data"),
            learning_rate=optax.constant_schedule(0.1),
            model="glove",
        )


# ---------------------------------------------------------------------------
# data-parallel fastText (subword inputs)
# ---------------------------------------------------------------------------

# V + B = 256 input rows: the vocabulary-split layouts divide them.
SUBWORD_BUCKETS = 56


def _subword_table(vocab: int) -> np.ndarray:
    """fastText rows of ``vocab`` words of 2-10 letters: the word's own row,
    then 3- and 4-gram buckets (up to 10 rows, ``-1`` padding); nearby words
    share n-grams, so one update touches a bucket from several words."""
    words = [f"w{i}" + "abcdefgh"[: i % 9] for i in range(vocab)]
    return jaxns.subwords.subword_table(
        words, min_n=3, max_n=4, num_buckets=SUBWORD_BUCKETS
    )


SUBWORD_CASES = {
    # (model, layout, options): layout "r<n>" replicated over n devices,
    # otherwise _w2v_mesh's vocabulary-split layouts; Adam by default.
    "skipgram r2": ("skipgram", "r2", dict(adam=False)),
    "skipgram r4, adam, shuffle": ("skipgram", "r4", dict(shuffle=True)),
    "skipgram r4, caps": (
        "skipgram", "r4", dict(adam=False, duplicate_rows=2, max_row_rate=0.02)
    ),
    "cbow r2, adam": ("cbow", "r2", {}),
    "cbow r4": ("cbow", "r4", dict(adam=False)),
    "cbow r2, caps": ("cbow", "r2", dict(adam=False, duplicate_rows=2)),
    "skipgram 2, adam": ("skipgram", "2", {}),
    "skipgram 2x2, caps": ("skipgram", "2x2", dict(adam=False, max_row_rate=0.02)),
    "cbow 4": ("cbow", "4", dict(adam=False)),
}  # fmt: skip


@eight
@pytest.mark.parametrize("case", sorted(SUBWORD_CASES))
def test_subword_word2vec_equals_one_device(case):
    """fastText inputs: the touched input rows are every position's subword
    rows; the update is make_trainer(subwords=...)'s (which pages the rows
    for SGD, gathers each distinct word's rows once and sums duplicates):
    the same update summed in another order."""
    model, layout, options = SUBWORD_CASES[case]
    options = dict(options)
    adam = options.pop("adam", True)
    ids, sents, sampler, kw = _w2v_case(zipf=1.3, adam=adam)
    kw.update(options, model=model)
    table = _subword_table(W2V_VOCAB)
    ref, ref_state, ref_losses = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, subwords=table, **kw),
        ids, sents, W2V_VOCAB, W2V_DIM, num_buckets=SUBWORD_BUCKETS,
    )  # fmt: skip
    # Word-level inputs give other updates, so the comparison below can fail.
    words, _, _ = _train_word2vec(
        jaxns.word2vec.make_trainer(sampler, **kw), ids, sents, W2V_VOCAB, W2V_DIM
    )
    assert float(np.max(np.abs(np.asarray(ref.output - words.output)))) > 1e-3
    if layout.startswith("r"):
        mesh, vocab_axis = _mesh(int(layout[1:]), "data"), None
    else:
        mesh, vocab_axis = _w2v_mesh(layout)
    trainer = jaxns.word2vec.make_sharded_trainer(
        sampler, mesh=mesh, axis="data", vocab_axis=vocab_axis, subwords=table, **kw
    )
    params, state, losses = _train_word2vec(
        trainer, ids, sents, W2V_VOCAB, W2V_DIM, num_buckets=SUBWORD_BUCKETS,
        place=(lambda t: t) if vocab_axis is None
        else functools.partial(sh.shard_table, mesh=mesh, vocab_axis=vocab_axis),
    )  # fmt: skip
    _assert_trained_alike(
        (params, state, losses), (ref, ref_state, ref_losses), adam=adam
    )
    if adam:
        assert int(state["input"][0].count) == int(ref_state["input"][0].count)
    if vocab_axis is not None:  # V + B input rows split over the vocab axis
        n_v = mesh.shape[vocab_axis]
        assert {s.data.shape for s in params.input.addressable_shards} == {
            ((W2V_VOCAB + SUBWORD_BUCKETS) // n_v, W2V_DIM)
        }


@pytest.mark.parametrize(
    "subwords, error, match",
    [
        (np.zeros((8, 2)), TypeError, "make_sharded_trainer: subwords must be an int"),
        (
            np.zeros(8, np.int32),
            ValueError,
            "make_sharded_trainer: subwords must be 2-D",
        ),
        # A table of another vocabulary, and one naming rows past the buckets.
        (np.zeros((6, 2), np.int32), ValueError, "init: params.output must have one"),
        (
            np.full((8, 2), 20, np.int32),
            ValueError,
            "params.input must hold .* 21 rows",
        ),
    ],
)
def test_sharded_trainer_rejects_bad_subwords(subwords, error, match):
    with pytest.raises(error, match=match):
        trainer = jaxns.word2vec.make_sharded_trainer(
            jaxns.samplers.uniform(8),
            mesh=_mesh(1, "data"),
            learning_rate=optax.constant_schedule(0.1),
            subwords=subwords,
        )
        # 8 words and 8 buckets: 16 input rows.
        trainer.init(jaxns.word2vec.init_subword_params(jax.random.key(0), 8, 8, 2))


@eight
@pytest.mark.parametrize("model,hogwild", [("skipgram", False), ("cbow", True)])
def test_sharded_trainer_on_the_compact_table(model, hogwild):
    """The mesh trainer on jaxns.subwords.compact_table's table (the rows the
    words use, renumbered) trains the full table's vectors: written back with
    expand they equal the full table trained on the same mesh; every row of
    the corpus's words moved, and the buckets no word uses did not."""
    ids, sents, sampler, kw = _w2v_case(zipf=1.3, adam=False)
    kw.update(model=model)
    if hogwild:
        kw.update(sync_every=2, exact_replicas=False)
    buckets = 20_000
    words = [f"w{i}" + "abcdefgh"[: i % 9] for i in range(W2V_VOCAB)]
    table = jaxns.subwords.subword_table(words, min_n=3, max_n=4, num_buckets=buckets)
    compact = jaxns.subwords.compact_table(table)
    assert len(compact.rows) < W2V_VOCAB + buckets // 10
    mesh = _mesh(2, "data")
    key = jax.random.key(0)

    def trained(subwords, rows):
        trainer = jaxns.word2vec.make_sharded_trainer(
            sampler, mesh=mesh, axis="data", subwords=subwords, **kw
        )
        params = jaxns.word2vec.init_subword_params(
            key, W2V_VOCAB, buckets, W2V_DIM, rows=rows
        )
        state = trainer.init(params)
        stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(W2V_VOCAB))
        calls = stream.num_calls(trainer.block_size)
        for c in range(calls):
            progress = jaxns.word2vec.call_progress(0, c, calls, ids.size)
            params, state, _, _ = trainer.train(
                jax.random.key(2), params, state, stream, c * trainer.block_size,
                progress,
            )  # fmt: skip
        return params

    full = trained(table, None)
    small = trained(compact.table, compact.rows)
    assert small.input.shape == (len(compact.rows), W2V_DIM)
    start = jaxns.word2vec.init_subword_params(key, W2V_VOCAB, buckets, W2V_DIM)
    back = np.asarray(compact.expand(small.input, start.input))
    # The same updates on renumbered rows, in the same order: bit for bit.
    np.testing.assert_array_equal(back, np.asarray(full.input))
    np.testing.assert_array_equal(np.asarray(small.output), np.asarray(full.output))
    moved = np.abs(np.asarray(full.input) - np.asarray(start.input)).max(axis=1)
    # Training moved the rows of the corpus's words (nearly all: rows read
    # only while the output table was still zero, fastText's start, get
    # zero updates), and not the buckets no word uses.
    seen = table[np.unique(np.asarray(ids))]
    seen = np.unique(seen[seen >= 0])
    assert (moved[seen] > 0).mean() > 0.9
    unused = np.setdiff1d(np.arange(W2V_VOCAB + buckets), compact.rows)
    assert not moved[unused].any()


# ---------------------------------------------------------------------------
# word2vec replicas merged every few calls (make_replica_trainer)
# ---------------------------------------------------------------------------


def _replica_case():
    ids, sents, sampler, kw = _w2v_case(adam=False)
    del kw["optimizer"]
    # Small calls, so that 1,500 tokens make many calls and several merges;
    # a large rate, so that reading the other replicas late shows.
    kw.update(batch_size=32, steps_per_call=2)
    kw["learning_rate"] = optax.linear_schedule(0.05, 0.005, float(ids.size))
    return ids, sents, sampler, kw


def _replica_reference(kw, sampler, stream, n, merge_every, size):
    """make_trainer on n replicas, block i of every call on replica i, and
    a merge (the sum of the replicas' changes, in float64) every
    ``merge_every`` calls and after the last: an independent loop."""
    base = jaxns.word2vec.make_trainer(sampler, **kw)
    params = jaxns.word2vec.init_params(jax.random.key(0), W2V_VOCAB, 8)
    merged = [np.asarray(t, np.float64) for t in params]
    reps = [jax.tree.map(jnp.copy, params) for _ in range(n)]  # donated
    states = [base.init(params) for _ in range(n)]
    calls = -(-int(stream.num_tokens) // (n * base.block_size))
    for c in range(calls):
        p0, p1 = jaxns.word2vec.call_progress(0, c, calls, size)
        for i in range(n):
            reps[i], states[i], _, _ = base.train_arrays(
                reps[i], states[i], stream.tokens, stream.sentence_ids,
                (c * n + i) * base.block_size, jax.random.key(2),
                p0 + (p1 - p0) * i / n, p0 + (p1 - p0) * (i + 1) / n,
            )  # fmt: skip
        if (c + 1) % merge_every == 0 or c == calls - 1:
            merged = [
                m + sum(np.asarray(r[t], np.float64) - m for r in reps)
                for t, m in enumerate(merged)
            ]
            reps = [
                jaxns.word2vec.SkipGramParams(
                    *(jnp.asarray(m, jnp.float32) for m in merged)
                )
                for _ in range(n)
            ]
    return merged, calls


@eight
@pytest.mark.parametrize(
    "n, merge_every, arrays, merge_rows",
    [(1, 2, False, "auto"), (2, 3, True, "touched"), (3, 2, False, "all")],
)
def test_replica_trainer_sums_the_replicas_changes(n, merge_every, arrays, merge_rows):
    # arrays: through train_arrays, which finds a stream's last call (and
    # merges after it) by counting the kept tokens. merge_rows: "auto"
    # merges whole tables here (the vocabulary is small); the touched-row
    # merge is also checked against whole tables, bitwise.
    ids, sents, sampler, kw = _replica_case()
    modes = [merge_rows] + (["all"] if merge_rows == "touched" else [])
    trainers = [
        jaxns.word2vec.make_replica_trainer(
            sampler, mesh=_mesh(n, "data"), merge_every=merge_every,
            merge_rows=mode, **kw,
        )
        for mode in modes
    ]  # fmt: skip
    trainer = trainers[0]
    stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(W2V_VOCAB))
    ref, ref_calls = _replica_reference(kw, sampler, stream, n, merge_every, ids.size)
    calls = stream.num_calls(trainer.block_size)
    assert calls == ref_calls and calls >= 3 * merge_every
    results = []
    for trainer in trainers:
        params = jaxns.word2vec.init_params(jax.random.key(0), W2V_VOCAB, 8)
        state = trainer.init(params)
        differed = False
        for c in range(calls):
            progress = jaxns.word2vec.call_progress(0, c, calls, ids.size)
            if arrays:
                params, state, loss, pairs = trainer.train_arrays(
                    params, state, stream.tokens, stream.sentence_ids,
                    c * trainer.block_size, jax.random.key(2), *progress,
                )  # fmt: skip
            else:
                params, state, loss, pairs = trainer.train(
                    jax.random.key(2), params, state, stream,
                    c * trainer.block_size, progress,
                )  # fmt: skip
            shards = [np.asarray(s.data) for s in params.input.addressable_shards]
            assert len(shards) == n and np.isfinite(float(loss)) and int(pairs) > 0
            marks = [
                np.asarray(s.data) for s in state.touched.output.addressable_shards
            ]
            if (c + 1) % merge_every and c < calls - 1:  # replicas apart
                differed |= not all(np.array_equal(s, shards[0]) for s in shards)
                assert all(m.any() for m in marks)  # rows written since the merge
            else:  # merged: bitwise equal replicas, the state's copy, no marks
                for s in shards[1:]:
                    np.testing.assert_array_equal(s, shards[0])
                if n > 1:  # one device has nothing to merge
                    np.testing.assert_array_equal(state.merged.input, shards[0])
                    assert not any(m.any() for m in marks)
        assert differed == (n > 1 and merge_every > 1)
        results.append(params)
    params = results[0]
    assert_close(params.input, ref[0], rtol=1e-4, atol=1e-5)
    assert_close(params.output, ref[1], rtol=1e-4, atol=1e-5)
    for other in results[1:]:  # whole tables: bitwise the same vectors
        np.testing.assert_array_equal(other.input, params.input)
        np.testing.assert_array_equal(other.output, params.output)
    # One device is make_trainer's loop (bitwise); more read each other late.
    plain = jaxns.word2vec.make_trainer(sampler, **kw)
    p = jaxns.word2vec.init_params(jax.random.key(0), W2V_VOCAB, 8)
    s = plain.init(p)
    blocks = calls * n
    for c in range(blocks):
        p0, p1 = jaxns.word2vec.call_progress(0, c // n, calls, ids.size)
        i = c % n
        p, s, _, _ = plain.train_arrays(
            p, s, stream.tokens, stream.sentence_ids, c * plain.block_size,
            jax.random.key(2), p0 + (p1 - p0) * i / n, p0 + (p1 - p0) * (i + 1) / n,
        )  # fmt: skip
    if n == 1:
        np.testing.assert_array_equal(params.input, p.input)
        np.testing.assert_array_equal(params.output, p.output)
    else:
        assert np.max(np.abs(np.asarray(p.input) - ref[0])) > 1e-3


@eight
def test_replica_trainer_rejects_bad_arguments():
    ids, sents, sampler, kw = _replica_case()
    mesh = _mesh(2, "data")
    make = jaxns.word2vec.make_replica_trainer
    with pytest.raises(TypeError, match=r"make_replica_trainer: mesh must be"):
        make(sampler, mesh=jax.devices(), **kw)
    with pytest.raises(ValueError, match=r"make_replica_trainer: merge_every"):
        make(sampler, mesh=mesh, merge_every=0, **kw)
    with pytest.raises(
        ValueError, match=r"make_replica_trainer: merge_rows must be one of .*'rows'"
    ):
        make(sampler, mesh=mesh, merge_rows="rows", **kw)
    with pytest.raises(ValueError, match=r"optimizer must be None .*got optimizer="):
        make(sampler, mesh=mesh, optimizer=optax.scale_by_adam(), **kw)
    trainer = make(sampler, mesh=mesh, **kw)
    params = jaxns.word2vec.init_params(jax.random.key(0), W2V_VOCAB, 8)
    state = trainer.init(params)
    stream = trainer.stream(jax.random.key(1), ids, sents, jnp.ones(W2V_VOCAB))
    key = jax.random.key(2)
    with pytest.raises(TypeError, match=r"start must be a concrete integer.*got"):
        trainer.train(key, params, state, stream, jnp.int32(0), (0.0, 1.0))
    with pytest.raises(
        ValueError, match=rf"multiple of block_size {trainer.block_size}"
    ):
        trainer.train(key, params, state, stream, 32, (0.0, 1.0))
    with pytest.raises(ValueError, match=r"ReplicaState"):
        trainer.train(key, params, {}, stream, 0, (0.0, 1.0))


@eight
def test_skipgram_example_trains_replicas_on_two_devices(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "skipgram_example",
        os.path.join(
            os.path.dirname(os.path.dirname(__file__)), "examples", "skipgram.py"
        ),
    )
    skipgram = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(skipgram)
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{i}" for i in rng.integers(0, 30, 10)) for _ in range(400)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n")
    flags = [
        "--corpus", str(tmp_path / "c.txt"), "--epochs", "2", "--dim", "8",
        "--window", "2", "--batch-size", "32", "--chunk-size", "8",
        "--chunk-negatives", "8", "--steps-per-call", "2", "--min-count", "1",
        "--no-progress", "--no-eval", "--no-compile-cache", "--threads", "0",
    ]  # fmt: skip
    one = skipgram.main(flags)
    two = skipgram.main(
        [*flags, "--devices", "2", "--merge-every", "3", "--merge-rows", "touched"]
    )
    out = capsys.readouterr().out
    assert "on 2 x cpu" in out
    # Twice the tokens per call: half the calls, the same words in all.
    assert two["raw_words"] == one["raw_words"] == 4000
    assert (
        np.isfinite(two["final_loss"])
        and abs(two["final_loss"] - one["final_loss"]) < 0.2
    )
