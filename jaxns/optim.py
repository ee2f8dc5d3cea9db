# SPDX-License-Identifier: Apache-2.0
"""Row-sparse application of Optax transformations to embedding tables.

A skip-gram or two-tower step touches a few thousand rows of a table with
millions of rows. Dense Optax reads and writes every row of the table and of
every optimizer moment on every step (O(V d)); :func:`row_sparse` reads and
writes only the rows a batch touches (O(N d) plus an O(N log N) sort of the
ids):

1. ids that are masked out (``where=False``), negative or ``>= num_embeddings`` are
   dropped;
2. the remaining ids are sorted and the gradients of duplicate ids are summed
   (static shapes: ``N`` slots, unused slots are padding);
3. the table rows and every optimizer-state leaf with the table's shape are
   gathered at the unique ids; other leaves (scalar step counts, injected
   hyperparameters) are passed as they are;
4. the wrapped transformation's ``update`` runs on the gathered rows, the
   updates are applied, and the new rows and state rows are scattered back
   (padding slots are dropped).

The semantics are **lazy**, like PyTorch's ``SparseAdam`` and TensorFlow's
lazy Adam: a row that no valid id touches keeps its parameters *and* its
optimizer state bitwise (its moments do not decay), while scalar state such as
Adam's ``count`` or a schedule's step is global and advances once per step. For
SGD (with or without a schedule) this equals dense Optax exactly; for stateful
transformations it equals dense Optax restricted to the touched rows.

Only element-wise transformations are supported (``sgd``, momentum, ``adagrad``,
``adam``, ``adamw``, ``rmsprop``, ``clip``, schedules, ``inject_hyperparams``,
chains of these). A transformation whose state has leaves that are neither
scalar nor table-shaped (``adafactor``'s factored moments, say) is rejected.
Transformations that reduce across rows (``clip_by_global_norm``) run, but see
only the touched rows.

Optax is not written for ``jax_numpy_dtype_promotion="strict"`` (Adam's bias
correction raises a Python float to an int32 count), so the wrapped
transformation's ``init`` and ``update`` run under standard promotion whatever
the global setting; this module's own code is strict-clean.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from jaxns import _checks

__all__ = [
    "RowSparseTransformation",
    "row_grad",
    "row_sparse",
    "sum_duplicates",
    "value_and_row_grad",
]

_INT32_MAX = int(np.iinfo(np.int32).max)


class RowSparseTransformation(NamedTuple):
    """A pair of pure functions ``(init, update)`` that updates only touched rows.

    ``init(table) -> state`` and
    ``update(ids, row_grads, state, table, *, where=None, **extra_args)
    -> (new_table, new_state)``; see :func:`row_sparse`.
    """

    init: Callable[..., Any]
    update: Callable[..., tuple[Any, Any]]


def _table(fn: str, arg: str, table: Any) -> jax.Array:
    """A 2-D float table whose row ids fit the int32 arithmetic used here."""
    table = _checks.float_array(fn, arg, table, ndim=2)
    if table.shape[0] > _INT32_MAX // 2:
        raise ValueError(
            f"{fn}: {arg} has {table.shape[0]} rows; at most {_INT32_MAX // 2} "
            "rows are supported (ids are handled as int32)."
        )
    return table


def _ids_grads_where(fn: str, ids: Any, row_grads: Any, where: Any, dim: int | None):
    """Integer ids, float ``row_grads`` of shape ``ids.shape + (dim,)``, mask."""
    ids = _checks.int_array(fn, "ids", ids)
    if dim is None:
        row_grads = _checks.float_array(fn, "row_grads", row_grads, ndim=ids.ndim + 1)
        dim = row_grads.shape[-1]
    row_grads = _checks.float_array(fn, "row_grads", row_grads, (*ids.shape, dim))
    where = _checks.mask(fn, "where", where, ids.shape, of="ids")
    return ids, row_grads, where


def _valid_int32_ids(
    ids: jax.Array, num_embeddings: int
) -> tuple[jax.Array, jax.Array]:
    """Flattened int32 ids, invalid entries mapped to ``num_embeddings``; validity.

    Validity is decided in the ids' own dtype, so that int64 ids beyond the int32
    range cannot wrap into the table.
    """
    flat = ids.reshape(-1)
    valid = flat >= 0
    if num_embeddings <= int(jnp.iinfo(flat.dtype).max):
        valid = valid & (flat < num_embeddings)
    safe = jnp.where(valid, flat, 0).astype(jnp.int32)
    return jnp.where(valid, safe, num_embeddings), valid


def _sum_duplicates(
    ids: jax.Array,
    row_grads: jax.Array,
    num_embeddings: int,
    where: jax.Array | None,
) -> tuple[jax.Array, jax.Array]:
    """Core of :func:`sum_duplicates` on validated, flattened inputs."""
    n = ids.shape[0]
    keys, valid = _valid_int32_ids(ids, num_embeddings)
    if where is not None:
        valid = valid & where.reshape(-1)
        keys = jnp.where(valid, keys, num_embeddings)
    if n == 0:
        return keys, row_grads
    acc_dtype = _checks.compute_dtype(row_grads.dtype)
    grads = jnp.where(valid[:, None], row_grads.astype(acc_dtype), 0)
    order = jnp.argsort(keys, stable=True)
    sorted_keys = keys[order]
    is_new = jnp.concatenate(
        [jnp.ones((1,), jnp.bool_), sorted_keys[1:] != sorted_keys[:-1]]
    )
    segment = jnp.cumsum(is_new.astype(jnp.int32)) - 1
    summed = jax.ops.segment_sum(
        grads[order], segment, num_segments=n, indices_are_sorted=True
    )
    # Unused slots and the slot collecting invalid ids get distinct out-of-range
    # ids num_embeddings + slot, so the ids stay sorted and unique (scatters may then
    # use unique_indices=True) and every padding slot is dropped by mode="drop".
    slot = jnp.arange(n, dtype=jnp.int32)
    unique = jnp.full((n,), num_embeddings, jnp.int32).at[segment].set(sorted_keys)
    unique = jnp.where(unique < num_embeddings, unique, num_embeddings + slot)
    return unique, summed.astype(row_grads.dtype)


@jax.named_scope("jaxns.optim.sum_duplicates")
def sum_duplicates(
    ids: ArrayLike,
    row_grads: ArrayLike,
    *,
    num_embeddings: int,
    where: ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Sorts ids and sums the gradients of duplicate ids, at static shape.

    Ids that are masked out, negative or ``>= num_embeddings`` are dropped. The output
    has as many slots as there are ids; the first ``u`` slots hold the ``u``
    distinct valid ids in increasing order with their summed gradients, the
    remaining slots are padding with ids ``num_embeddings + slot`` (out of range, so
    ``table.at[ids].set(..., mode="drop")`` ignores them) and zero gradients.
    Duplicates are summed in at least float32.

    Args:
      ids: integer row ids, any shape ``[...]``.
      row_grads: gradients, ``[..., dim]`` (``ids.shape + (dim,)``).
      num_embeddings: number of rows ``V`` of the table (static).
      where: optional boolean mask shaped like ``ids``; False drops the id.

    Returns:
      ``(unique_ids, summed_grads)``: int32 ``[N]`` sorted unique ids (valid ids
      first, then padding ids ``>= num_embeddings``) and ``[N, dim]`` summed gradients
      in the dtype of ``row_grads``, where ``N = ids.size``.

    Raises:
      TypeError: if ``ids`` is not integer, ``row_grads`` not float or ``where``
        not boolean.
      ValueError: if shapes disagree or ``num_embeddings`` is negative.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> ids = jnp.array([3, 1, 3, 7])
      >>> grads = jnp.array([[1.0], [2.0], [4.0], [8.0]])
      >>> u, g = jaxns.optim.sum_duplicates(ids, grads, num_embeddings=5)
      >>> u.tolist(), g[:, 0].tolist()
      ([1, 3, 7, 8], [2.0, 5.0, 0.0, 0.0])

    References:
      Recht et al, `Hogwild!: A Lock-Free Approach to Parallelizing Stochastic
      Gradient Descent <https://arxiv.org/abs/1106.5730>`_, 2011
    """
    fn = "optim.sum_duplicates"
    num_embeddings = _checks.size(
        fn, "num_embeddings", num_embeddings, maximum=_INT32_MAX // 2
    )
    ids, row_grads, where = _ids_grads_where(fn, ids, row_grads, where, None)
    return _sum_duplicates(
        ids.reshape(-1),
        row_grads.reshape(ids.size, row_grads.shape[-1]),
        int(num_embeddings),
        where,
    )


def _is_row_leaf(leaf: Any, table_shape: tuple[int, ...]) -> bool:
    return tuple(getattr(leaf, "shape", ())) == table_shape


def _elementwise_state(fn: str, state: Any, table_shape: tuple[int, ...]) -> None:
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        shape = tuple(getattr(leaf, "shape", ()))
        if shape and shape != table_shape:
            raise ValueError(
                f"{fn}: optimizer state leaf {jax.tree_util.keystr(path)} has shape "
                f"{shape}; row_sparse supports only element-wise transformations "
                f"whose state leaves are scalars or shaped like the table "
                f"{table_shape}."
            )


def _stateless(fn: str, state: Any, table_shape: tuple[int, ...]) -> None:
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        if _is_row_leaf(leaf, table_shape):
            raise ValueError(
                f"{fn}: dedup=False is only valid for linear, stateless "
                f"transformations (sgd without momentum, scale, schedules), but "
                f"the state has a table-shaped leaf {jax.tree_util.keystr(path)}. "
                "Use dedup=True (the default)."
            )


def _update_one(
    tx: optax.GradientTransformationExtraArgs,
    dedup: bool,
    ids: jax.Array,
    row_grads: jax.Array,
    state: Any,
    table: jax.Array,
    where: jax.Array | None,
    extra_args: dict[str, Any],
) -> tuple[jax.Array, Any]:
    num_embeddings, dim = table.shape
    flat_grads = row_grads.reshape(ids.size, dim)
    if not dedup:
        # Linear stateless transformations: u(g1 + g2) = u(g1) + u(g2), so the
        # per-occurrence updates can be scatter-added without sorting. params is
        # None so that transformations that need parameters fail loudly.
        keys, valid = _valid_int32_ids(ids, num_embeddings)
        if where is not None:
            valid = valid & where.reshape(-1)
            keys = jnp.where(valid, keys, num_embeddings)
        grads = jnp.where(valid[:, None], flat_grads, 0).astype(table.dtype)
        with jax.numpy_dtype_promotion("standard"):
            updates, new_state = tx.update(grads, state, None, **extra_args)
        new_table = table.at[keys].add(updates.astype(table.dtype), mode="drop")
        return new_table, new_state

    unique, summed = _sum_duplicates(ids.reshape(-1), flat_grads, num_embeddings, where)
    summed = summed.astype(table.dtype)

    def gather(leaf: jax.Array) -> jax.Array:
        return leaf.at[unique].get(
            mode="fill", fill_value=0, indices_are_sorted=True, unique_indices=True
        )

    def scatter(leaf: jax.Array, rows: jax.Array) -> jax.Array:
        return leaf.at[unique].set(
            rows.astype(leaf.dtype),
            mode="drop",
            indices_are_sorted=True,
            unique_indices=True,
        )

    shape = tuple(table.shape)
    rows = gather(table)
    sub_state = jax.tree.map(
        lambda leaf: gather(leaf) if _is_row_leaf(leaf, shape) else leaf, state
    )
    # Optax itself is not written for jax_numpy_dtype_promotion="strict" (Adam's
    # bias correction raises a Python float to an int32 count), so the wrapped
    # transformation runs under standard promotion whatever the global setting.
    with jax.numpy_dtype_promotion("standard"):
        updates, new_sub_state = tx.update(summed, sub_state, rows, **extra_args)
        new_rows = optax.apply_updates(rows, updates)
    new_table = scatter(table, new_rows)
    new_state = jax.tree.map(
        lambda old, new: scatter(old, new) if _is_row_leaf(old, shape) else new,
        state,
        new_sub_state,
    )
    return new_table, new_state


def _flatten_like(fn: str, arg: str, treedef: Any, tree: Any) -> list[Any]:
    try:
        return treedef.flatten_up_to(tree)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{fn}: {arg} must have the same pytree structure as table {treedef}: {err}"
        ) from None


@jax.named_scope("jaxns.optim.row_sparse")
def row_sparse(
    transformation: optax.GradientTransformation, *, dedup: bool = True
) -> RowSparseTransformation:
    """Wraps an element-wise Optax transformation to update only touched rows.

    The result is a :class:`RowSparseTransformation` ``(init, update)``:

    * ``init(table) -> state``: ``transformation.init(table)``. The state is
      dense (its moment leaves are ``[V, dim]`` like the table); only its access
      is sparse.
    * ``update(ids, row_grads, state, table, *, where=None, **extra_args)
      -> (new_table, new_state)``: applies one step. ``ids`` is an integer array
      of any shape ``[...]``, ``row_grads`` is ``[..., dim]`` (one gradient row
      per id, e.g. from :func:`value_and_row_grad`), ``where`` an optional
      boolean mask shaped like ``ids`` (False = the id contributes nothing).
      ``extra_args`` are forwarded to the wrapped ``update``. Unlike Optax's
      ``update``, it returns the **new table**, not the updates, because the
      rows are written in place.

    In-place steps: jit a step function that takes ``(table, state, ...)`` and
    returns ``(table, state, ...)`` with ``donate_argnums=(0, 1)``. JAX pairs
    each donated buffer with the first output of the same shape and dtype, so
    donating in an order other than the outputs' (for instance
    ``jax.jit(opt.update, donate_argnums=(2, 3))``, whose inputs are
    ``state, table`` but outputs ``table, state``) makes XLA copy the
    ``[V, dim]`` moments on every step.

    Duplicate ids are summed first, so a step equals a dense step with the
    dense gradient ``zeros([V, dim]).at[ids].add(row_grads)``, restricted to the
    touched rows (**lazy** semantics, as in PyTorch's ``SparseAdam``): rows that
    no valid id touches keep their parameters and their optimizer state bitwise,
    so their moments do not decay and decoupled weight decay (``adamw``) skips
    them; scalar state (Adam's ``count``, schedule steps) is global and advances
    once per step. A row counts as touched when a valid id refers to it, even if
    its gradient is zero. For SGD (with any schedule) the result equals dense
    Optax; for Adagrad it equals dense Optax too (a zero gradient leaves its
    accumulator and the row unchanged).

    Invalid ids (negative, ``>= V``, or masked out) are dropped: they change
    neither the table nor the state. Negative ids do **not** wrap around.

    Pytrees of tables: ``table`` may be any pytree of 2-D tables (e.g.
    ``{"input": [V, d], "output": [V, d]}``); ``ids``, ``row_grads`` and
    ``where`` are then pytrees with the same structure (one id array, one
    gradient array and one mask or ``None`` per table) and the state is the same
    pytree holding one ``transformation`` state per table (each table's scalar
    count advances once per step). For one array ``table`` the state is exactly
    ``transformation.init(table)``.

    Args:
      transformation: an element-wise Optax ``GradientTransformation`` (e.g.
        ``optax.adam(1e-3)``, ``optax.sgd(schedule, momentum=0.9)``,
        ``optax.chain(optax.clip(1.0), optax.scale_by_adam(),
        optax.scale_by_schedule(schedule))``).
      dedup: if False (fast path), skip sorting and summing duplicates and
        scatter-add the per-occurrence updates directly. Only valid for
        linear, stateless, parameter-free transformations such as SGD without
        momentum with a schedule (then it equals the default up to
        floating-point summation order). ``update`` raises ``ValueError`` if
        the state has table-shaped leaves; linearity cannot be checked (do not
        use it with ``optax.clip``, say), and ``params`` is passed as ``None``
        so that weight decay fails loudly.

    Returns:
      ``RowSparseTransformation(init, update)``; ``update`` returns
      ``(new_table, new_state)`` with the shapes and dtypes of ``table`` and
      ``state``.

    Raises:
      TypeError: (from ``init``/``update``) float ids, integer table or
        gradients, non-boolean ``where``.
      ValueError: (from ``init``/``update``) a table that is not 2-D, gradients
        whose shape is not ``ids.shape + (dim,)``, a mask shaped unlike
        ``ids``, mismatched pytree structures, state leaves that are neither
        scalar nor table-shaped, or ``dedup=False`` with table-shaped state.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import jaxns
      >>> opt = jaxns.optim.row_sparse(optax.adam(0.1))
      >>> table = jnp.ones((5, 2))
      >>> state = opt.init(table)
      >>> ids = jnp.array([1, 3, 1])
      >>> grads = jnp.ones((3, 2))
      >>> def step(table, state, ids, grads):
      ...     return opt.update(ids, grads, state, table)
      >>> step = jax.jit(step, donate_argnums=(0, 1))
      >>> table, state = step(table, state, ids, grads)
      >>> [round(float(x), 3) for x in table[:, 0]]
      [1.0, 0.9, 1.0, 0.9, 1.0]
      >>> int(state[0].count), state[0].mu.shape
      (1, (5, 2))

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015;
      Duchi et al, `Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization <https://jmlr.org/papers/v12/duchi11a.html>`_,
      2011;
      Recht et al, `Hogwild!: A Lock-Free Approach to Parallelizing Stochastic
      Gradient Descent <https://arxiv.org/abs/1106.5730>`_, 2011;
      PyTorch, `SparseAdam
      <https://pytorch.org/docs/stable/generated/torch.optim.SparseAdam.html>`_
    """
    if not isinstance(transformation, optax.GradientTransformation):
        raise TypeError(
            "optim.row_sparse: transformation must be an optax.GradientTransformation, "
            f"got {type(transformation).__name__}."
        )
    dedup = _checks.flag("optim.row_sparse", "dedup", dedup)
    tx = optax.with_extra_args_support(transformation)

    def init(table: Any) -> Any:
        treedef = jax.tree.structure(table)
        states = []
        for leaf in jax.tree.leaves(table):
            leaf = _table("optim.row_sparse.init", "table", leaf)
            with jax.numpy_dtype_promotion("standard"):
                state = tx.init(leaf)
            _elementwise_state("optim.row_sparse.init", state, tuple(leaf.shape))
            if not dedup:
                _stateless("optim.row_sparse.init", state, tuple(leaf.shape))
            states.append(state)
        return jax.tree.unflatten(treedef, states)

    def update(
        ids: Any,
        row_grads: Any,
        state: Any,
        table: Any,
        *,
        where: Any = None,
        **extra_args: Any,
    ) -> tuple[Any, Any]:
        fn = "optim.row_sparse.update"
        treedef = jax.tree.structure(table)
        tables = jax.tree.leaves(table)
        ids_list = _flatten_like(fn, "ids", treedef, ids)
        grads_list = _flatten_like(fn, "row_grads", treedef, row_grads)
        states = _flatten_like(fn, "state", treedef, state)
        if where is None:
            wheres = [None] * len(tables)
        else:
            wheres = _flatten_like(fn, "where", treedef, where)
        new_tables, new_states = [], []
        for t, i, g, s, w in zip(
            tables, ids_list, grads_list, states, wheres, strict=True
        ):
            t = _table(fn, "table", t)
            i, g, w = _ids_grads_where(fn, i, g, w, t.shape[1])
            _elementwise_state(fn, s, tuple(t.shape))
            if not dedup:
                _stateless(fn, s, tuple(t.shape))
            new_t, new_s = _update_one(tx, dedup, i, g, s, t, w, extra_args)
            new_tables.append(new_t)
            new_states.append(new_s)
        return (
            jax.tree.unflatten(treedef, new_tables),
            jax.tree.unflatten(treedef, new_states),
        )

    return RowSparseTransformation(init=init, update=update)


def _gather_rows(fn: str, table: Any, ids: Any) -> Any:
    treedef = jax.tree.structure(table)
    ids_list = _flatten_like(fn, "ids", treedef, ids)
    rows = []
    for t, i in zip(jax.tree.leaves(table), ids_list, strict=True):
        t = _table(fn, "table", t)
        i = _checks.int_array(fn, "ids", i)
        keys, _ = _valid_int32_ids(i, t.shape[0])
        rows.append(
            t.at[keys].get(mode="fill", fill_value=0).reshape(*i.shape, t.shape[1])
        )
    return jax.tree.unflatten(treedef, rows)


@jax.named_scope("jaxns.optim.value_and_row_grad")
def value_and_row_grad(
    loss_fn: Callable[..., Any],
    table: Any,
    ids: Any,
    *args: Any,
    has_aux: bool = False,
) -> tuple[Any, Any]:
    """Value of ``loss_fn(table[ids], *args)`` and its gradient w.r.t. the rows.

    Gathers the rows ``table[ids]`` (``ids.shape + (dim,)``) and differentiates
    ``loss_fn`` with respect to the gathered rows only, so no dense ``[V, dim]``
    gradient is ever built. The row gradients have the shape of the gathered
    rows and feed :func:`row_sparse`'s ``update`` directly; duplicate ids get
    one gradient row per occurrence (``update`` sums them).

    Invalid ids (negative or ``>= V``) gather a zero row (no wrap-around, no
    clamping), matching ``update``, which drops them.

    ``table`` and ``ids`` may also be matching pytrees (e.g. input and output
    embeddings); ``loss_fn`` then receives the pytree of gathered rows and the
    gradients come back as the same pytree.

    Args:
      loss_fn: ``loss_fn(rows, *args) -> scalar`` (or ``(scalar, aux)`` with
        ``has_aux=True``), where ``rows`` is ``[..., dim]``.
      table: ``[V, dim]`` float table, or a pytree of such tables.
      ids: integer ids ``[...]`` (or a pytree of id arrays like ``table``).
      *args: further positional arguments of ``loss_fn`` (not differentiated).
      has_aux: whether ``loss_fn`` returns ``(value, aux)``.

    Returns:
      ``(value, row_grads)`` (``((value, aux), row_grads)`` with ``has_aux``),
      with ``row_grads`` shaped ``ids.shape + (dim,)`` in the table's dtype.

    Raises:
      TypeError: float ids or an integer table.
      ValueError: a table that is not 2-D or mismatched pytree structures.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> table = jnp.arange(8.0).reshape(4, 2)
      >>> ids = jnp.array([[0, 3], [3, 1]])
      >>> loss, g = jaxns.optim.value_and_row_grad(
      ...     lambda rows: (rows**2).sum(), table, ids)
      >>> float(loss), g.shape
      (184.0, (2, 2, 2))
      >>> g[0, 1].tolist()
      [12.0, 14.0]

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013
    """
    if not isinstance(has_aux, bool):
        raise TypeError(f"value_and_row_grad: has_aux must be a bool, got {has_aux!r}.")
    rows = _gather_rows("optim.value_and_row_grad", table, ids)
    return jax.value_and_grad(lambda r: loss_fn(r, *args), has_aux=has_aux)(rows)


@jax.named_scope("jaxns.optim.row_grad")
def row_grad(
    loss_fn: Callable[..., Any],
    table: Any,
    ids: Any,
    *args: Any,
    has_aux: bool = False,
) -> Any:
    """Gradient of ``loss_fn(table[ids], *args)`` w.r.t. the gathered rows only.

    Same as :func:`value_and_row_grad` without the value.

    Args:
      loss_fn: ``loss_fn(rows, *args) -> scalar`` (or ``(scalar, aux)``).
      table: ``[V, dim]`` float table, or a pytree of such tables.
      ids: integer ids ``[...]`` (or a pytree of id arrays like ``table``).
      *args: further positional arguments of ``loss_fn`` (not differentiated).
      has_aux: whether ``loss_fn`` returns ``(value, aux)``.

    Returns:
      ``row_grads`` shaped ``ids.shape + (dim,)`` (``(row_grads, aux)`` with
      ``has_aux``).

    Raises:
      TypeError: float ids or an integer table.
      ValueError: a table that is not 2-D or mismatched pytree structures.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> table = jnp.ones((10, 3))
      >>> g = jaxns.optim.row_grad(lambda r: r.sum(), table, jnp.array([2, 2, 9]))
      >>> g.shape, float(g.sum())
      ((3, 3), 9.0)

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013
    """
    out, grads = value_and_row_grad(loss_fn, table, ids, *args, has_aux=has_aux)
    return (grads, out[1]) if has_aux else grads
