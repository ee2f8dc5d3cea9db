# SPDX-License-Identifier: Apache-2.0
"""Tests for jaxns.optim: row-sparse Optax against dense Optax and NumPy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxns
from tests.helpers import assert_close

V, D, N = 20, 3, 12
LR = 0.05


def _standard(fn, *args):
    # Dense Optax references: Optax is not written for strict dtype promotion.
    with jax.numpy_dtype_promotion("standard"):
        return fn(*args)


def _batch(seed, *, n=N, num_embeddings=V, invalid=True, masked=True):
    """Ids with duplicates (and optionally invalid ids and a mask), float32 grads."""
    rng = np.random.default_rng(seed)
    # half the rows: many duplicates
    ids = rng.integers(0, num_embeddings // 2, size=n)
    if invalid:
        ids[0], ids[1] = -1, num_embeddings + 3
    grads = rng.normal(size=(n, D)).astype(np.float32)
    where = rng.random(n) > 0.25 if masked else np.ones(n, bool)
    return ids.astype(np.int32), grads, where


def _np_dedup(ids, grads, where, num_embeddings=V):
    """{row: summed float64 gradient} over valid, unmasked ids."""
    out = {}
    for i, g, w in zip(ids.tolist(), grads.astype(np.float64), where, strict=True):
        if w and 0 <= i < num_embeddings:
            out[i] = out.get(i, 0.0) + g
    return out


def _np_lazy_step(name, table, state, count, rows):
    """One lazy step of a NumPy float64 optimizer on the touched rows only."""
    table = table.copy()
    state = {k: v.copy() for k, v in state.items()}
    t = count + 1
    b1, b2, eps = 0.9, 0.999, 1e-8
    for i, g in rows.items():
        p = table[i]
        if name == "sgd":
            u = -LR * g
        elif name == "momentum":
            state["m"][i] = g + 0.9 * state["m"][i]
            u = -LR * state["m"][i]
        elif name == "adagrad":
            state["s"][i] = state["s"][i] + g**2
            u = -LR * g / np.sqrt(state["s"][i] + 1e-7)
        elif name == "rmsprop":
            state["s"][i] = 0.9 * state["s"][i] + 0.1 * g**2
            u = -LR * g / np.sqrt(state["s"][i] + 1e-8)
        elif name in ("adam", "adamw", "chain"):
            if name == "chain":
                g = np.clip(g, -0.5, 0.5)
            state["m"][i] = b1 * state["m"][i] + (1 - b1) * g
            state["v"][i] = b2 * state["v"][i] + (1 - b2) * g**2
            mhat = state["m"][i] / (1 - b1**t)
            vhat = state["v"][i] / (1 - b2**t)
            u = mhat / (np.sqrt(vhat) + eps)
            if name == "adamw":
                u = u + 0.1 * p
            # chain: scale_by_schedule(-LR * 0.5**step) with the pre-step count.
            u = -LR * u if name != "chain" else -LR * 0.5**count * u
        table[i] = p + u
    return table, state


def _np_init(name):
    if name == "adagrad":
        return {"s": np.full((V, D), 0.1)}
    return {"m": np.zeros((V, D)), "v": np.zeros((V, D)), "s": np.zeros((V, D))}


TRANSFORMATIONS = {
    "sgd": lambda: optax.sgd(LR),
    "momentum": lambda: optax.sgd(LR, momentum=0.9),
    "adagrad": lambda: optax.adagrad(LR),
    "rmsprop": lambda: optax.rmsprop(LR),
    "adam": lambda: optax.adam(LR),
    "adamw": lambda: optax.adamw(LR, weight_decay=0.1),
    "chain": lambda: optax.chain(
        optax.clip(0.5),
        optax.scale_by_adam(),
        optax.scale_by_schedule(lambda step: -LR * 0.5**step),
    ),
}


def _table(seed=0):
    return np.random.default_rng(100 + seed).normal(size=(V, D)).astype(np.float32)


def _row_leaves(state):
    return [x for x in jax.tree.leaves(state) if x.shape == (V, D)]


@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_matches_numpy_lazy_reference(name):
    """Three steps with duplicates, invalid ids and masks against a float64 loop."""
    opt = jaxns.optim.row_sparse(TRANSFORMATIONS[name]())
    table = jnp.asarray(_table())
    state = opt.init(table)
    ref_table, ref_state = _table().astype(np.float64), _np_init(name)
    for step in range(3):
        ids, grads, where = _batch(step)
        old_table, old_leaves = np.asarray(table), _row_leaves(state)
        table, state = opt.update(ids, grads, state, table, where=where)
        rows = _np_dedup(ids, grads, where)
        ref_table, ref_state = _np_lazy_step(name, ref_table, ref_state, step, rows)
        np.testing.assert_allclose(table, ref_table, rtol=1e-5, atol=1e-6)
        # Untouched rows: parameters and every moment row are bitwise unchanged.
        untouched = np.setdiff1d(np.arange(V), list(rows))
        assert untouched.size > 0
        np.testing.assert_array_equal(
            np.asarray(table)[untouched], old_table[untouched]
        )
        for new, old in zip(_row_leaves(state), old_leaves, strict=True):
            np.testing.assert_array_equal(np.asarray(new)[untouched], old[untouched])


@pytest.mark.parametrize(
    ("name", "dedup"),
    [("sgd", True), ("sgd", False), ("adam", True), ("adagrad", True)],
)
def test_float64_tables_under_x64_match_numpy(name, dedup):
    """float64 tables and gradients (x64, strict promotion) at float64 accuracy."""
    with jax.enable_x64(True):
        opt = jaxns.optim.row_sparse(TRANSFORMATIONS[name](), dedup=dedup)
        table = jnp.asarray(_table().astype(np.float64))
        state = opt.init(table)
        ref_table, ref_state = _table().astype(np.float64), _np_init(name)
        for step in range(3):
            ids, grads, where = _batch(step)
            grads = np.random.default_rng(step).normal(size=grads.shape)
            table, state = jax.jit(opt.update)(
                ids.astype(np.int64), grads, state, table, where=where
            )
            rows = _np_dedup(ids, grads, where)
            ref_table, ref_state = _np_lazy_step(name, ref_table, ref_state, step, rows)
            assert table.dtype == jnp.float64
            assert_close(table, ref_table)


@pytest.mark.parametrize("name", ["adam", "momentum", "rmsprop", "adamw"])
def test_equals_dense_optax_on_touched_subtable(name):
    """Dense Optax run on the touched rows' sub-table (and sub-state) agrees."""
    tx = TRANSFORMATIONS[name]()
    opt = jaxns.optim.row_sparse(tx)
    table = jnp.asarray(_table())
    state = opt.init(table)
    table, state = opt.update(*_batch(5, masked=False)[:2], state, table)
    ids, grads, where = _batch(6)
    rows = _np_dedup(ids, grads, where)
    touched = np.array(sorted(rows))
    summed = np.stack([rows[i] for i in touched]).astype(np.float32)

    def sub(leaf):
        return leaf[touched] if leaf.shape == (V, D) else leaf

    sub_params, sub_state = table[touched], jax.tree.map(sub, state)
    upd, sub_new_state = _standard(
        tx.update, jnp.asarray(summed), sub_state, sub_params
    )
    expected = np.asarray(table).copy()
    expected[touched] = optax.apply_updates(sub_params, upd)
    new_table, new_state = opt.update(ids, grads, state, table, where=where)
    np.testing.assert_allclose(new_table, expected, rtol=1e-6, atol=1e-7)
    for got, want, old in zip(
        jax.tree.leaves(new_state),
        jax.tree.leaves(sub_new_state),
        jax.tree.leaves(state),
        strict=True,
    ):
        if got.shape == (V, D):
            want_full = np.asarray(old).copy()
            want_full[touched] = want
            np.testing.assert_allclose(got, want_full, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(got, want)


def _dense_grad(ids, grads, where):
    """Dense [V, D] gradient by scatter-add of the valid, unmasked row gradients."""
    keep = where & (ids >= 0) & (ids < V)
    return jnp.zeros((V, D), jnp.float32).at[ids[keep]].add(grads[keep])


def test_sgd_with_schedule_equals_dense_optax_exactly():
    schedule = optax.linear_schedule(0.5, 0.125, transition_steps=4)
    tx = optax.sgd(schedule)
    for dedup in (True, False):
        opt = jaxns.optim.row_sparse(tx, dedup=dedup)
        # Multiples of 1/64 and 1/8 keep every product and sum exact in float32,
        # whatever the summation order (dedup=False adds duplicates one by one).
        table = dense = jnp.asarray(np.round(_table() * 64) / 64)
        state, dense_state = opt.init(table), tx.init(dense)
        for step in range(4):
            ids, grads, where = _batch(step)
            grads = np.round(grads * 8) / 8  # sums of duplicates are exact
            table, state = opt.update(ids, grads, state, table, where=where)
            g = _dense_grad(ids, grads, where)
            upd, dense_state = _standard(tx.update, g, dense_state, dense)
            dense = optax.apply_updates(dense, upd)
            np.testing.assert_array_equal(table, dense)


def test_adagrad_equals_dense_optax():
    """Adagrad leaves a zero-gradient row unchanged, so lazy == dense."""
    tx = optax.adagrad(LR)
    opt = jaxns.optim.row_sparse(tx)
    table = dense = jnp.asarray(_table())
    state, dense_state = opt.init(table), tx.init(dense)
    for step in range(3):
        ids, grads, where = _batch(step)
        table, state = opt.update(ids, grads, state, table, where=where)
        upd, dense_state = _standard(
            tx.update, _dense_grad(ids, grads, where), dense_state, dense
        )
        dense = optax.apply_updates(dense, upd)
        np.testing.assert_allclose(table, dense, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            state[0].sum_of_squares, dense_state[0].sum_of_squares, rtol=1e-6
        )


def test_duplicates_are_summed_before_the_update():
    """Adam on [i, i] with g, g equals Adam on [i] with 2 g (not two steps)."""
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.asarray(_table())
    g = jnp.asarray([[0.1, -0.2, 0.3]], jnp.float32)
    a, sa = opt.update(
        jnp.array([4, 4]), jnp.concatenate([g, g]), opt.init(table), table
    )
    b, sb = opt.update(jnp.array([4]), 2 * g, opt.init(table), table)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa[0].nu, sb[0].nu)
    assert int(sa[0].count) == 1


def test_count_advances_once_per_step_and_invalid_ids_dropped():
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.asarray(_table())
    state = opt.init(table)
    for step in range(1, 4):
        ids, grads, _ = _batch(step)
        table, state = opt.update(ids, grads, state, table)
        assert int(state[0].count) == step
    # A batch of only invalid or masked ids changes nothing but the count.
    ids = jnp.array([-1, -V, V, V + 100, 3], jnp.int32)
    where = jnp.array([True, True, True, True, False])
    new_table, new_state = opt.update(ids, jnp.ones((5, D)), state, table, where=where)
    np.testing.assert_array_equal(new_table, table)
    np.testing.assert_array_equal(new_state[0].mu, state[0].mu)
    np.testing.assert_array_equal(new_state[0].nu, state[0].nu)
    assert int(new_state[0].count) == 4


def test_extra_args_and_empty_batches():
    tx = optax.chain(optax.adam(LR), optax.contrib.reduce_on_plateau())
    opt = jaxns.optim.row_sparse(tx)
    table = jnp.asarray(_table())
    ids, grads, _ = _batch(0, invalid=False)
    _, state = opt.update(ids, grads, opt.init(table), table, value=jnp.float32(3.5))
    assert float(state[1].best_value) == 3.5  # value= reached the wrapped update
    empty = jnp.zeros((0,), jnp.int32)
    new, state = opt.update(empty, jnp.zeros((0, D)), state, table, value=1.0)
    np.testing.assert_array_equal(new, table)
    assert int(state[0][0].count) == 2


def test_masked_rows_equal_sliced_batch():
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.asarray(_table())
    state = opt.init(table)
    ids, grads, where = _batch(7, invalid=False)
    masked, _ = opt.update(ids, grads, state, table, where=where)
    sliced, _ = opt.update(ids[where], grads[where], state, table)
    np.testing.assert_array_equal(masked, sliced)


def test_jit_with_donation_equals_eager_and_scan_equals_loop():
    opt = jaxns.optim.row_sparse(TRANSFORMATIONS["chain"]())
    batches = [_batch(s) for s in range(3)]
    eager = jnp.asarray(_table())
    eager_state = opt.init(eager)
    for ids, grads, where in batches:
        eager, eager_state = opt.update(ids, grads, eager_state, eager, where=where)

    def step(table, state, ids, grads, where):
        return opt.update(ids, grads, state, table, where=where)

    step = jax.jit(step, donate_argnums=(0, 1))
    table = jnp.asarray(_table())
    state = opt.init(table)
    for ids, grads, where in batches:
        table, state = step(table, state, ids, grads, where)
    np.testing.assert_allclose(table, eager, rtol=1e-6, atol=1e-7)
    assert int(state[1].count) == 3 and int(state[2].count) == 3

    ids, grads, where = (np.stack(x) for x in zip(*batches, strict=True))

    def body(carry, batch):
        t, s = opt.update(batch[0], batch[1], carry[1], carry[0], where=batch[2])
        return (t, s), None

    table = jnp.asarray(_table())
    (scanned, _), _ = jax.jit(lambda c, xs: jax.lax.scan(body, c, xs))(
        (table, opt.init(table)), (ids, grads, where)
    )
    np.testing.assert_allclose(scanned, eager, rtol=1e-6, atol=1e-7)


def test_donated_step_updates_in_place():
    """No [V, D] copy in the compiled step: table and moments are updated in place."""
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.zeros((1000, 7))

    def step(table, state, ids, grads):
        return opt.update(ids, grads, state, table)

    hlo = (
        jax.jit(step, donate_argnums=(0, 1))
        .lower(table, opt.init(table), jnp.arange(5), jnp.ones((5, 7)))
        .compile()
        .as_text()
    )
    assert hlo.count("scatter(") >= 3  # table, mu, nu
    copies = [ln for ln in hlo.splitlines() if "f32[1000,7]" in ln and "copy(" in ln]
    assert not copies, copies


def test_ids_of_any_shape_and_int64_ids():
    opt = jaxns.optim.row_sparse(optax.rmsprop(LR))
    table = jnp.asarray(_table())
    state = opt.init(table)
    ids, grads, where = _batch(3, invalid=False)
    flat, _ = opt.update(ids, grads, state, table, where=where)
    shaped, _ = opt.update(
        ids.reshape(3, 4),
        grads.reshape(3, 4, D),
        state,
        table,
        where=where.reshape(3, 4),
    )
    np.testing.assert_array_equal(flat, shaped)
    from_numpy, _ = opt.update(
        list(ids), grads, state, np.asarray(table), where=list(where)
    )
    np.testing.assert_array_equal(flat, from_numpy)
    with jax.enable_x64(True):
        big = np.where(where, ids.astype(np.int64), np.int64(2**32 + 1))  # int32: 1
        wide, _ = opt.update(big, grads, state, table)
        narrow, _ = opt.update(ids, grads, state, table, where=where)
    np.testing.assert_array_equal(wide, narrow)


def test_pytree_of_tables_equals_per_table_updates():
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    tables = {"input": jnp.asarray(_table(0)), "output": jnp.asarray(_table(1))}
    state = opt.init(tables)
    (ia, ga, wa), (ib, gb, _) = _batch(1), _batch(2)
    new, new_state = opt.update(
        {"input": ia, "output": ib},
        {"input": ga, "output": gb},
        state,
        tables,
        where={"input": wa, "output": None},
    )
    one = jaxns.optim.row_sparse(optax.adam(LR))
    a, sa = one.update(ia, ga, one.init(tables["input"]), tables["input"], where=wa)
    b, sb = one.update(ib, gb, one.init(tables["output"]), tables["output"])
    np.testing.assert_array_equal(new["input"], a)
    np.testing.assert_array_equal(new["output"], b)
    np.testing.assert_array_equal(new_state["output"][0].mu, sb[0].mu)
    assert int(new_state["input"][0].count) == 1


def test_bfloat16_table_keeps_dtype_and_tracks_float32():
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    ids, grads, where = _batch(4)
    t32 = jnp.asarray(_table())
    out32, _ = opt.update(ids, grads, opt.init(t32), t32, where=where)
    t16 = t32.astype(jnp.bfloat16)
    out16, s16 = opt.update(ids, grads, opt.init(t16), t16, where=where)
    assert out16.dtype == jnp.bfloat16 and s16[0].mu.dtype == jnp.bfloat16
    np.testing.assert_allclose(out16.astype(jnp.float32), out32, rtol=1e-2, atol=1e-2)


def test_sum_duplicates_matches_numpy():
    ids, grads, where = _batch(9)
    unique, summed = jaxns.optim.sum_duplicates(
        ids, grads, num_embeddings=V, where=where
    )
    rows = _np_dedup(ids, grads, where)
    u = len(rows)
    assert unique.dtype == jnp.int32 and summed.shape == (N, D)
    np.testing.assert_array_equal(unique[:u], sorted(rows))
    np.testing.assert_array_equal(unique[u:], V + np.arange(u, N))
    np.testing.assert_allclose(
        summed[:u], np.stack([rows[i] for i in sorted(rows)]), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(summed[u:], 0.0)


def test_value_and_row_grad_matches_dense_gradient():
    table = jnp.asarray(_table())
    ids = jnp.asarray([[1, 4, 4], [7, -1, V]], jnp.int32)
    target = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, D)), jnp.float32)

    def loss(rows, target):
        return ((rows - target) ** 2).sum(), rows.shape

    (value, aux), g = jaxns.optim.value_and_row_grad(
        loss, table, ids, target, has_aux=True
    )
    assert aux == (2, 3, D) and g.shape == (2, 3, D)
    rows = np.asarray(table)[np.clip(np.asarray(ids), 0, V - 1)]
    rows[np.asarray((ids < 0) | (ids >= V))] = 0.0  # invalid ids gather zeros
    np.testing.assert_allclose(value, ((rows - target) ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(g, 2 * (rows - target), rtol=1e-6)
    # Scatter-added row gradients equal the dense gradient w.r.t. the table.
    valid = np.asarray((ids >= 0) & (ids < V))
    dense = jax.grad(lambda t: ((t[ids[valid]] - target[valid]) ** 2).sum())(table)
    np.testing.assert_allclose(
        jnp.zeros((V, D)).at[ids[valid]].add(g[valid]), dense, rtol=1e-6
    )
    np.testing.assert_array_equal(
        jaxns.optim.row_grad(lambda r: loss(r, target)[0], table, ids), g
    )


def test_value_and_row_grad_never_builds_a_dense_gradient():
    table = jnp.zeros((1000, 7))
    jaxpr = jax.make_jaxpr(
        lambda t, i: jaxns.optim.value_and_row_grad(lambda r: (r**2).sum(), t, i)
    )(table, jnp.arange(5))
    shapes = [v.aval.shape for eqn in jaxpr.eqns for v in eqn.outvars]
    assert (1000, 7) not in shapes


def test_update_reads_only_touched_rows():
    """The compiled step has no [V, D]-sized elementwise work besides scatters."""
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.zeros((1000, 7))
    jaxpr = jax.make_jaxpr(opt.update)(
        jnp.arange(5), jnp.ones((5, 7)), opt.init(table), table
    )
    big = {
        eqn.primitive.name
        for eqn in jaxpr.eqns
        if any(v.aval.shape == (1000, 7) for v in eqn.outvars)
    }
    assert big == {"scatter"}, big


def test_dedup_false_rejects_stateful_and_param_transformations():
    table = jnp.zeros((V, D))
    with pytest.raises(ValueError, match="row_sparse.init: dedup=False"):
        jaxns.optim.row_sparse(optax.adam(LR), dedup=False).init(table)
    opt = jaxns.optim.row_sparse(optax.sgd(LR), dedup=False)
    with pytest.raises(ValueError, match="row_sparse.update: dedup=False"):
        opt.update(jnp.arange(3), jnp.ones((3, D)), optax.adam(LR).init(table), table)
    # Weight decay needs parameters, which the fast path does not pass.
    wd = jaxns.optim.row_sparse(optax.add_decayed_weights(0.1), dedup=False)
    with pytest.raises(ValueError, match="requires the current value of parameters"):
        wd.update(jnp.arange(3), jnp.ones((3, D)), wd.init(table), table)


def _bad_cases():
    opt = jaxns.optim.row_sparse(optax.adam(LR))
    table = jnp.zeros((V, D))
    state = opt.init(table)
    step = jax.jit(opt.update)  # the checks fire while tracing
    ids, grads = jnp.arange(4), jnp.ones((4, D))
    tables = {"a": table, "b": table}
    up = "optim.row_sparse.update"
    return {
        "dedup not a bool": (
            TypeError,
            "optim.row_sparse: dedup must be a bool, got str 'yes'",
            lambda: jaxns.optim.row_sparse(optax.sgd(LR), dedup="yes"),
        ),
        "float ids": (
            TypeError,
            f"{up}: ids must be an integer",
            lambda: step(ids.astype(jnp.float32), grads, state, table),
        ),
        "grads rows": (
            ValueError,
            rf"{up}: row_grads must have shape \[4, 3\], got \(5, 3\)",
            lambda: step(ids, jnp.ones((5, D)), state, table),
        ),
        "grads dim": (
            ValueError,
            r"row_grads must have shape \[4, 3\], got \(4, 2\)",
            lambda: step(ids, jnp.ones((4, 2)), state, table),
        ),
        "int grads": (
            TypeError,
            f"{up}: row_grads must be a floating-point array",
            lambda: step(ids, jnp.ones((4, D), jnp.int32), state, table),
        ),
        "where shape": (
            ValueError,
            f"{up}: where shape",
            lambda: step(ids, grads, state, table, where=jnp.ones(3, bool)),
        ),
        "where dtype": (
            TypeError,
            f"{up}: where must be a boolean",
            lambda: step(ids, grads, state, table, where=jnp.ones(4)),
        ),
        "init table rank": (
            ValueError,
            "optim.row_sparse.init: table must be 2-D",
            lambda: opt.init(jnp.zeros(V)),
        ),
        "update table rank": (
            ValueError,
            f"{up}: table must be 2-D",
            lambda: step(ids, grads, state, jnp.zeros((V, D, 1))),
        ),
        "int table": (
            TypeError,
            "optim.row_sparse.init: table must be a floating-point array",
            lambda: opt.init(jnp.zeros((V, D), jnp.int32)),
        ),
        "ids pytree": (
            TypeError,
            f"{up}: ids must be an array",
            lambda: step({"a": ids}, grads, state, table),
        ),
        "ids structure": (
            ValueError,
            f"{up}: ids must have the same",
            lambda: opt.update(
                {"a": ids}, {"a": grads, "b": grads}, opt.init(tables), tables
            ),
        ),
        "factored state": (
            ValueError,
            "optim.row_sparse.init: optimizer state leaf",
            lambda: jaxns.optim.row_sparse(optax.adafactor(LR)).init(table),
        ),
        "transformation": (
            TypeError,
            "optim.row_sparse: transformation",
            lambda: jaxns.optim.row_sparse(optax.adam),
        ),
        "value_and_row_grad ids": (
            TypeError,
            "optim.value_and_row_grad: ids must be an integer",
            lambda: jaxns.optim.value_and_row_grad(
                lambda r: r.sum(), table, jnp.ones(3)
            ),
        ),
        "value_and_row_grad table": (
            ValueError,
            "optim.value_and_row_grad: table must be 2-D",
            lambda: jaxns.optim.value_and_row_grad(
                lambda r: r.sum(), jnp.zeros(V), ids
            ),
        ),
        "num_embeddings negative": (
            ValueError,
            "optim.sum_duplicates: num_embeddings must be >= 0",
            lambda: jaxns.optim.sum_duplicates(ids, grads, num_embeddings=-1),
        ),
        "num_embeddings float": (
            TypeError,
            "optim.sum_duplicates: num_embeddings must be a Python int",
            lambda: jaxns.optim.sum_duplicates(ids, grads, num_embeddings=5.0),
        ),
    }


BAD = _bad_cases()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_raise_under_jit(case):
    error, match, call = BAD[case]
    with pytest.raises(error, match=match):
        call()
