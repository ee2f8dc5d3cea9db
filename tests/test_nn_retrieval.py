# SPDX-License-Identifier: Apache-2.0
"""jaxns.nn.IdTower and IdTwoTower: ID-embedding towers with side features."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from helpers import assert_close

import jaxns
import jaxns.nn


def _np(x):
    return np.asarray(x[...], np.float64)


def test_tower_is_id_row_plus_mean_of_feature_rows():
    genres = np.array([[0, 2], [1, -1], [-1, -1], [2, 2]])
    gender = np.array([[1], [0], [1], [-1]])
    tower = jaxns.nn.IdTower(4, 3, side_features=[genres, gender], rngs=nnx.Rngs(0))
    ids = jnp.array([[0, 1], [2, 3]])
    got = tower(ids)
    e, g, s = (
        _np(tower.embedding.embedding),
        _np(tower.side_tables[0].embedding),
        _np(tower.side_tables[1].embedding),
    )
    assert g.shape == (3, 3) and s.shape == (2, 3)
    want = np.stack(
        [
            e[0] + (g[0] + g[2]) / 2 + s[1],
            e[1] + g[1] + s[0],
            e[2] + s[1],  # no genre: nothing added
            e[3] + g[2] + 0.0,  # a repeated code counts twice in a mean of 2
        ]
    ).reshape(2, 2, 3)
    assert_close(got, want, loose=True)
    normed = jaxns.nn.IdTower(
        4, 3, side_features=[genres], normalize=True, rngs=nnx.Rngs(0)
    )
    assert_close(
        jnp.linalg.norm(normed(jnp.arange(4)), axis=-1), np.ones(4), loose=True
    )


@pytest.mark.parametrize("side", [False, True])
def test_out_of_range_ids_give_nan_rows_as_documented(side):
    codes = [np.array([[0], [1], [-1]])] if side else []
    tower = jaxns.nn.IdTower(3, 2, side_features=codes, rngs=nnx.Rngs(0))
    out = np.asarray(tower(jnp.array([3, 7, -4, -1, -3, 2, 0])))
    # Not clamped to the last row: NaN past either end, wrapped from -3 to -1.
    assert np.isnan(out[:3]).all()
    np.testing.assert_array_equal(out[3], out[5])
    np.testing.assert_array_equal(out[4], out[6])
    assert np.isfinite(out[3:]).all()
    doc = jaxns.nn.IdTower.__call__.__doc__
    assert "gather NaN rows" in doc and "clamped" not in doc


def test_init_is_xavier_normal():
    tower = jaxns.nn.IdTower(2000, 64, rngs=nnx.Rngs(1))
    table = _np(tower.embedding.embedding)
    # torch.nn.init.xavier_normal_ on [2000, 64]: std sqrt(2 / 2064), untruncated
    assert abs(table.std() / np.sqrt(2 / 2064) - 1) < 0.01
    assert np.abs(table).max() > 3 * np.sqrt(2 / 2064)


def test_two_tower_call_is_in_batch_softmax_with_item_ids():
    model = jaxns.nn.IdTwoTower(5, 7, 4, rngs=nnx.Rngs(2))
    users, items = jnp.array([0, 1, 4]), jnp.array([3, 3, 6])
    extra = jnp.array([0, 6])
    log_q = jnp.log(jnp.array([0.2, 0.2, 0.1]))
    extra_lq = jnp.log(jnp.array([0.05, 0.1]))
    got = model(
        users,
        items,
        temperature=0.5,
        candidate_log_q=log_q,
        extra_ids=extra,
        extra_log_q=extra_lq,
    )
    want = jaxns.losses.in_batch_softmax(
        model.embed_queries(users),
        model.embed_candidates(items),
        temperature=0.5,
        candidate_log_q=log_q,
        candidate_ids=items,
        extra_candidates=model.embed_candidates(extra),
        extra_log_q=extra_lq,
        extra_ids=extra,
    )
    assert_close(got, want)
    # rows 0 and 1 share item 3: neither is the other's negative; row 2's
    # positive (6) is also an extra candidate: masked as an accidental hit
    q = _np(model.query_tower.embedding.embedding)[np.array([0, 1, 4])]
    c = _np(model.candidate_tower.embedding.embedding)
    cols = np.r_[3, 3, 6, 0, 6]
    z = q @ c[cols].T / 0.5 - np.log(np.r_[0.2, 0.2, 0.1, 0.05, 0.1])[None, :]
    live = cols[None, :] != np.array([3, 3, 6])[:, None]
    live[np.arange(3), np.arange(3)] = True
    zl = np.where(live, z, -np.inf)
    ref = np.log(np.exp(zl).sum(1)) - z[np.arange(3), np.arange(3)]
    assert_close(got, ref, loose=True)


def test_side_features_train_and_codes_do_not():
    genres = np.array([[0], [1], [0]])
    model = jaxns.nn.IdTwoTower(2, 3, 4, item_features=[genres], rngs=nnx.Rngs(3))
    opt = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    before = _np(model.candidate_tower.side_tables[0].embedding)

    def loss(m):
        # items of different genres: a shared genre's gradient would cancel
        return m(jnp.array([0, 1]), jnp.array([0, 1])).mean()

    grads = nnx.grad(loss)(model)
    g = np.asarray(grads.candidate_tower.side_tables[0].embedding[...])
    assert np.abs(g).sum() > 0
    opt.update(model, grads)
    assert not np.allclose(_np(model.candidate_tower.side_tables[0].embedding), before)
    np.testing.assert_array_equal(
        np.asarray(model.candidate_tower.side_codes[0][...]), genres
    )
    codes = nnx.state(model, jaxns.nn.FeatureCodes)
    assert len(jax.tree.leaves(codes)) == 1


def test_jit_equals_eager():
    model = jaxns.nn.IdTwoTower(
        4, 5, 3, item_features=[np.array([[0], [1], [1], [-1], [0]])], rngs=nnx.Rngs(4)
    )
    f = nnx.jit(lambda m, u, i: m(u, i))
    u, i = jnp.array([0, 1, 2]), jnp.array([4, 3, 3])
    assert_close(f(model, u, i), model(u, i))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: jaxns.nn.IdTower(0, 3, rngs=nnx.Rngs(0)),
            ValueError,
            "num_ids must be >= 1",
        ),
        (lambda: jaxns.nn.IdTower(3, 2.0, rngs=nnx.Rngs(0)), TypeError, "features"),
        (lambda: jaxns.nn.IdTower(3, 2, rngs=0), TypeError, "nnx.Rngs"),
        (
            lambda: jaxns.nn.IdTower(
                3, 2, side_features=[np.zeros((2, 1), int)], rngs=nnx.Rngs(0)
            ),
            ValueError,
            r"side_features\[0\] must have shape \[num_ids=3",
        ),
        (
            lambda: jaxns.nn.IdTower(
                3, 2, side_features=[np.zeros((3, 1))], rngs=nnx.Rngs(0)
            ),
            TypeError,
            "integer codes",
        ),
        (
            lambda: jaxns.nn.IdTower(3, 2, dtype=jnp.int32, rngs=nnx.Rngs(0)),
            TypeError,
            "floating dtype",
        ),
        (
            lambda: jaxns.nn.IdTower(3, 2, rngs=nnx.Rngs(0))(jnp.zeros(2)),
            TypeError,
            "integer array",
        ),
        (
            lambda: jaxns.nn.IdTwoTower(3, 3, 2, rngs=nnx.Rngs(0))(
                jnp.arange(2), jnp.arange(3)
            ),
            ValueError,
            "item_ids must have shape",
        ),
        (
            lambda: jaxns.nn.IdTwoTower(3, 3, 2, rngs=nnx.Rngs(0))(
                jnp.arange(2), jnp.arange(2), temperature=-1.0
            ),
            ValueError,
            "temperature",
        ),
    ],
)
def test_bad_inputs(make, error, message):
    with pytest.raises(error, match=message) as raised:
        make()
    # Named as the user calls them, like every nn module's errors (the
    # temperature is checked by the loss the module calls).
    where = str(raised.value).split(":")[0]
    assert where in ("nn.IdTower", "nn.IdTwoTower", "losses.in_batch_softmax")
