# SPDX-License-Identifier: Apache-2.0
r"""Vocabulary-sharded tables and cross-device negatives on ``jax.sharding``.

Everything here runs on JAX's own distributed engine: a
:class:`jax.sharding.Mesh`, :class:`~jax.sharding.NamedSharding` and
:func:`jax.shard_map` with its collectives (``psum``, ``pmax``,
``all_gather``, ``ppermute``). The same code runs on the host devices of one
CPU (``XLA_FLAGS=--xla_force_host_platform_device_count=8``), on the GPUs or
TPUs of one machine, and across hosts after :func:`jax.distributed.initialize`.

Two mesh axes matter:

* a **vocabulary axis** (``vocab_axis``) along which embedding tables are split
  into ``n`` contiguous slices of ``V / n`` rows (:func:`shard_table`). A row
  lives on exactly one device; gathers (:func:`gather_rows`) and row-sparse
  Optax updates (:func:`row_sparse`) run on the device that owns the row, and
  no table is ever all-gathered.
* a **batch axis** (``batch_axis`` / ``axis``) along which examples are split
  (data parallelism). Cross-device in-batch losses (:func:`in_batch_softmax`,
  :func:`infonce`, :func:`clip`, :func:`siglip`) let every device's queries
  see every device's candidates.

Sampled losses over a vocabulary-sharded output table
(:func:`sampled_softmax`, :func:`sgns`) draw their candidates *stratified by
shard*: shard ``s`` draws ``num_per_shard`` ids from the proposal ``q``
restricted to its slice, ``q(i) / Q_s`` with ``Q_s`` the slice's mass
(:func:`shard_sampler` builds one alias table per slice), and scores them
against its own rows. The logQ correction of a candidate ``i`` is then its
expected count under this scheme,

.. math:: \log E_i = \log(m\, q_i / Q_s) = \log q_i + \log(m / Q_s),

the global proposal's ``log q_i`` plus a per-shard constant. (A correction by
``log q_i`` alone would be biased unless every shard drew ``m`` proportional to
``Q_s``.) The shards combine their partial sums exactly, with a ``pmax`` of
the partial maxima and a ``psum`` of the partial ``sum(exp(z - max))``: the
loss and gradient equal those of :func:`jaxns.losses.sampled_softmax` on one
device for the same global candidates (:meth:`ShardedSampler.candidates`
reproduces them).

What crosses devices per step (``B`` examples, ``d`` dims, ``n`` shards):
sampled softmax all-reduces ``3 B`` floats (positive logit, partial max,
partial sum) and SGNS ``B`` (its per-example loss, a sum over shards), plus,
in the backward pass, the ``[B, d]`` gradient of the replicated queries; a
gather all-reduces ``[N, d]`` rows; the in-batch losses all-gather ``[B, d]``
candidates (and send their gradients back with one reduce-scatter); the
SigLIP ring sends ``n - 1`` blocks of ``[B / n, d]`` to a neighbour. See
``docs/scaling.md``.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from jaxns import _checks, losses, optim, samplers, scoring

__all__ = [
    "ShardedSampler",
    "clip",
    "gather_rows",
    "in_batch_softmax",
    "infonce",
    "row_sparse",
    "sampled_softmax",
    "sgns",
    "shard_sampler",
    "shard_table",
    "siglip",
    "vocab_sharding",
]


# ---------------------------------------------------------------------------
# mesh checks
# ---------------------------------------------------------------------------


def _mesh(fn: str, mesh: Any) -> Mesh:
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{fn}: mesh must be a jax.sharding.Mesh (e.g. jax.make_mesh((8,), "
            f"('vocab',))), got {type(mesh).__name__}."
        )
    return mesh


def _axis(fn: str, arg: str, mesh: Mesh, axis: Any, *, optional: bool = False):
    if axis is None and optional:
        return None
    if axis not in mesh.axis_names:
        raise ValueError(
            f"{fn}: {arg} must name an axis of the mesh {tuple(mesh.axis_names)}, "
            f"got {axis!r}."
        )
    return axis


def _divisible(fn: str, arg: str, size: int, mesh: Mesh, axis: str | None, what: str):
    if axis is None:
        return
    n = mesh.shape[axis]
    if size % n:
        raise ValueError(
            f"{fn}: {arg} has {size} {what}, which mesh axis {axis!r} of size {n} "
            f"does not divide. Pad it to a multiple of {n}."
        )


# Compiled programs of eager (unjitted) calls, most recently used last.
_EAGER_PROGRAMS: collections.OrderedDict = collections.OrderedDict()
_EAGER_PROGRAMS_MAX = 64


def _is_spec(x: Any) -> bool:
    return isinstance(x, P)


def _eager_key(body: Any, mesh: Mesh, in_specs: Any, out_specs: Any) -> Any:
    """What determines an eager call's program, or None if it is unhashable.

    ``body`` is a closure made afresh by every call of a public function; two
    closures of the same code over equal static values (sizes, axis names,
    flags: typed, so that ``True`` and ``1`` differ) trace the same program.
    """
    code = getattr(body, "__code__", None)
    if code is None:  # a partial or another callable: nothing to compare
        return None
    cells = tuple(
        (type(c.cell_contents), c.cell_contents) for c in body.__closure__ or ()
    )
    specs = (
        jax.tree.flatten(in_specs, is_leaf=_is_spec),
        jax.tree.flatten(out_specs, is_leaf=_is_spec),
    )
    specs = tuple((tuple(leaves), treedef) for leaves, treedef in specs)
    key = (code, cells, mesh, specs)
    try:
        hash(key)
    except TypeError:  # e.g. an array among the closure's cells
        return None
    return key


def _shard_map(body: Any, *, mesh: Mesh, in_specs: Any, out_specs: Any) -> Any:
    """``jax.shard_map`` that also accepts meshes with Explicit axes, and is
    compiled as one program when called eagerly.

    On a mesh with Explicit axes (``jax.make_mesh``'s default) shard_map wants
    its arguments already laid out as ``in_specs`` says; they are resharded
    first. Auto meshes let ``jit`` reshard as needed.

    Traced (inside ``jit``, ``grad``, ...), the result is the plain shard_map.
    Called on concrete arrays, shard_map would run op by op, compiling every
    primitive for the mesh (about 6 s per call of :func:`sampled_softmax` on 4
    host devices); the call is then jitted instead, and the compiled program
    is kept for later calls with the same static arguments.
    """
    mapped = jax.shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=out_specs)
    explicit = jax.sharding.AxisType.Explicit
    if any(t == explicit for t in getattr(mesh, "axis_types", ())):

        def place(spec: P, x: Any) -> Any:
            sharding = NamedSharding(mesh, spec)
            return jax.tree.map(lambda a: jax.sharding.reshard(a, sharding), x)

        def mapped_placed(*args: Any) -> Any:
            args = jax.tree.map(place, in_specs, args, is_leaf=_is_spec)
            return mapped(*args)

    else:
        mapped_placed = mapped

    def call(*args: Any) -> Any:
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(args)):
            return mapped_placed(*args)
        key = _eager_key(body, mesh, in_specs, out_specs)
        if key is None:
            return jax.jit(mapped_placed)(*args)
        program = _EAGER_PROGRAMS.get(key)
        if program is None:
            program = _EAGER_PROGRAMS[key] = jax.jit(mapped_placed)
            if len(_EAGER_PROGRAMS) > _EAGER_PROGRAMS_MAX:
                _EAGER_PROGRAMS.popitem(last=False)
        else:
            _EAGER_PROGRAMS.move_to_end(key)
        return program(*args)

    return call


def _distinct(fn: str, vocab_axis: str, batch_axis: str | None) -> None:
    if batch_axis is not None and batch_axis == vocab_axis:
        raise ValueError(
            f"{fn}: batch_axis and vocab_axis must be different mesh axes, got "
            f"{batch_axis!r} for both."
        )


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------


def vocab_sharding(mesh: Mesh, vocab_axis: str = "vocab") -> NamedSharding:
    """The sharding of a ``[V, dim]`` table split along its rows over one axis.

    Args:
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits the vocabulary.

    Returns:
      ``NamedSharding(mesh, PartitionSpec(vocab_axis, None))``: device ``s``
      of the axis holds rows ``[s V / n, (s + 1) V / n)``; other mesh axes hold
      replicas.

    Examples:
      >>> import jax, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> tuple(jaxns.sharding.vocab_sharding(mesh).spec)
      ('vocab', None)

    References:
      JAX, `Distributed arrays and automatic parallelization
      <https://docs.jax.dev/en/latest/notebooks/Distributed_arrays_and_automatic_parallelization.html>`_
    """
    fn = "sharding.vocab_sharding"
    mesh = _mesh(fn, mesh)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    return NamedSharding(mesh, P(vocab_axis, None))


def shard_table(table: ArrayLike, mesh: Mesh, vocab_axis: str = "vocab") -> jax.Array:
    """Places a ``[V, dim]`` table on the mesh, split along the vocabulary.

    Each device of ``vocab_axis`` receives ``V / n`` contiguous rows (and only
    those: ``jax.device_put`` slices on the host). Optimizer states built by
    :func:`row_sparse` follow the same layout.

    Args:
      table: float ``[V, dim]``; ``V`` must be a multiple of the axis size.
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits the vocabulary.

    Returns:
      The table as a ``jax.Array`` with :func:`vocab_sharding`.

    Raises:
      TypeError: for a non-float table or a non-mesh.
      ValueError: for a table that is not 2-D, an unknown axis, or ``V`` not a
        multiple of the axis size.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> t = jaxns.sharding.shard_table(jnp.ones((6, 4)), mesh)
      >>> t.shape, tuple(t.sharding.spec)
      ((6, 4), ('vocab', None))

    References:
      Lerer et al, `PyTorch-BigGraph: A Large-scale Graph Embedding System
      <https://arxiv.org/abs/1903.12287>`_, 2019 (entity partitions).
    """
    fn = "sharding.shard_table"
    mesh = _mesh(fn, mesh)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    table = _checks.float_array(fn, "table", table, ndim=2)
    _divisible(fn, "table", table.shape[0], mesh, vocab_axis, "rows")
    return jax.device_put(table, NamedSharding(mesh, P(vocab_axis, None)))


def _replicated(x: jax.Array) -> jax.Array:
    """``x`` readable whole on one device: an array split over Explicit mesh
    axes (``jax.make_mesh``'s default) refuses plain indexing, so it is
    resharded to replicated; other arrays pass unchanged."""
    sharding = getattr(jax.typeof(x), "sharding", None)
    mesh = getattr(sharding, "mesh", None)
    if mesh is None or AxisType.Explicit not in tuple(getattr(mesh, "axis_types", ())):
        return x
    return jax.sharding.reshard(x, NamedSharding(mesh, P()))


def _owned(ids: jax.Array, rows_per_shard: int, vocab_axis: str):
    """Local row of each global id on this shard, and whether the shard owns it.

    Whether an id is a row at all is decided in its own dtype (as
    :mod:`jaxns.optim` does), so int64 ids past the int32 range cannot wrap
    into the table; inside ``shard_map`` over ``vocab_axis``."""
    vocab = rows_per_shard * jax.lax.axis_size(vocab_axis)
    safe, valid = optim._valid_int32_ids(ids, vocab)
    first = jax.lax.axis_index(vocab_axis) * rows_per_shard
    local = safe.reshape(ids.shape) - first.astype(jnp.int32)
    own = valid.reshape(ids.shape) & (local >= 0) & (local < rows_per_shard)
    return jnp.where(own, local, 0), own


def gather_rows(
    table: ArrayLike,
    ids: ArrayLike,
    *,
    mesh: Mesh,
    vocab_axis: str = "vocab",
    batch_axis: str | None = None,
) -> jax.Array:
    """``table[ids]`` for a vocabulary-sharded table, without gathering the table.

    Every shard reads the rows it owns (zeros elsewhere) and one ``psum`` over
    ``vocab_axis`` assembles them: ``ids.size * dim`` values cross devices,
    never the table. Differentiable: the gradient of a row flows back to the
    shard that owns it only. Ids outside ``[0, V)`` give zero rows.

    Args:
      table: ``[V, dim]``, sharded with :func:`shard_table` (any layout works;
        JAX reshards other layouts first).
      ids: integer ids of any shape ``[...]``; replicated, or split along their
        first axis over ``batch_axis``.
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits the table.
      batch_axis: optional mesh axis that splits ``ids``' first axis.

    Returns:
      ``[..., dim]`` rows in the table's dtype, laid out like ``ids``.

    Raises:
      TypeError: for float ids, a non-float table or a non-mesh.
      ValueError: for unknown axes or sizes the axes do not divide.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> t = jaxns.sharding.shard_table(jnp.arange(12.0).reshape(6, 2), mesh)
      >>> jaxns.sharding.gather_rows(t, jnp.array([5, 0]), mesh=mesh).tolist()
      [[10.0, 11.0], [0.0, 1.0]]

    References:
      Shazeer et al, `Mesh-TensorFlow: Deep Learning for Supercomputers
      <https://arxiv.org/abs/1811.02084>`_, 2018.
    """
    fn = "sharding.gather_rows"
    mesh = _mesh(fn, mesh)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    _axis(fn, "batch_axis", mesh, batch_axis, optional=True)
    _distinct(fn, vocab_axis, batch_axis)
    table = _checks.float_array(fn, "table", table, ndim=2)
    ids = _checks.int_array(fn, "ids", ids)
    _divisible(fn, "table", table.shape[0], mesh, vocab_axis, "rows")
    if batch_axis is not None:
        _checks.int_array(fn, "ids", ids, ndim=range(1, 64))
        _divisible(fn, "ids", ids.shape[0], mesh, batch_axis, "entries")
    rows_per_shard = table.shape[0] // mesh.shape[vocab_axis]
    lead = P(batch_axis) if batch_axis is not None else P()

    def body(t, i):
        local, own = _owned(i, rows_per_shard, vocab_axis)
        rows = jnp.where(own[..., None], t[local], 0)
        return jax.lax.psum(rows, vocab_axis)

    with jax.named_scope("jaxns.sharding.gather_rows"):
        return _shard_map(
            body, mesh=mesh, in_specs=(P(vocab_axis, None), lead), out_specs=lead
        )(table, ids)


# ---------------------------------------------------------------------------
# row-sparse optimizer on sharded tables
# ---------------------------------------------------------------------------


def row_sparse(
    transformation: optax.GradientTransformation,
    *,
    mesh: Mesh,
    vocab_axis: str = "vocab",
    batch_axis: str | None = None,
    dedup: bool = True,
) -> optim.RowSparseTransformation:
    """:func:`jaxns.optim.row_sparse` for vocabulary-sharded tables.

    ``init(table)`` builds the optimizer state on each shard for its own rows,
    so moment leaves are split like the table (``1 / n`` of the whole per
    device). ``update(ids, row_grads, state, table, **extra_args)`` applies a
    step on every shard to the ids it owns and drops the others: no row and no
    moment crosses devices. With ``batch_axis``, ``ids`` and ``row_grads`` are
    split along their first axis over that axis and are all-gathered along it
    first (the touched rows are the only thing exchanged); otherwise they are
    replicated. ``table`` may be a pytree of tables (then ``ids`` and
    ``row_grads`` are matching pytrees), as in :func:`jaxns.optim.row_sparse`.

    Args:
      transformation: an element-wise Optax transformation.
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits the tables.
      batch_axis: optional mesh axis that splits ``ids`` and ``row_grads``.
      dedup: as in :func:`jaxns.optim.row_sparse`.

    Returns:
      A :class:`jaxns.optim.RowSparseTransformation` whose ``init`` and
      ``update`` run under ``shard_map``; ``update`` returns
      ``(new_table, new_state)`` laid out like ``(table, state)``.

    Raises:
      TypeError: for a non-mesh or a non-Optax transformation.
      ValueError: for unknown axes; ``init``/``update`` raise for tables whose
        rows the axis does not divide.

    Examples:
      >>> import jax, jax.numpy as jnp, optax, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> opt = jaxns.sharding.row_sparse(optax.sgd(1.0), mesh=mesh)
      >>> table = jaxns.sharding.shard_table(jnp.zeros((4, 2)), mesh)
      >>> state = opt.init(table)
      >>> table, state = opt.update(jnp.array([3]), jnp.ones((1, 2)), state, table)
      >>> table[:, 0].tolist()
      [0.0, 0.0, 0.0, -1.0]

    References:
      Recht et al, `Hogwild!: A Lock-Free Approach to Parallelizing Stochastic
      Gradient Descent <https://arxiv.org/abs/1106.5730>`_, 2011.
    """
    fn = "sharding.row_sparse"
    mesh = _mesh(fn, mesh)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    _axis(fn, "batch_axis", mesh, batch_axis, optional=True)
    _distinct(fn, vocab_axis, batch_axis)
    inner = optim.row_sparse(transformation, dedup=dedup)
    row_spec = P(vocab_axis, None)

    def _state_specs(table: Any) -> Any:
        shapes = jax.eval_shape(inner.init, table)
        tables = jax.tree.leaves(table)
        per_table = jax.tree.structure(table).flatten_up_to(shapes)
        specs = [
            jax.tree.map(
                lambda leaf, t=t: row_spec if leaf.shape == t.shape else P(), s
            )
            for t, s in zip(tables, per_table, strict=True)
        ]
        return jax.tree.unflatten(jax.tree.structure(table), specs)

    def _table_specs(fn2: str, table: Any) -> Any:
        for t in jax.tree.leaves(table):
            t = _checks.float_array(fn2, "table", t, ndim=2)
            _divisible(fn2, "table", t.shape[0], mesh, vocab_axis, "rows")
        return jax.tree.map(lambda _: row_spec, table)

    def init(table: Any) -> Any:
        specs = _table_specs("sharding.row_sparse.init", table)
        with jax.named_scope("jaxns.sharding.row_sparse.init"):
            return _shard_map(
                inner.init, mesh=mesh, in_specs=(specs,), out_specs=_state_specs(table)
            )(table)

    def update(
        ids: Any, row_grads: Any, state: Any, table: Any, **extra_args: Any
    ) -> tuple[Any, Any]:
        specs = _table_specs("sharding.row_sparse.update", table)
        state_specs = _state_specs(table)
        lead = P(batch_axis) if batch_axis is not None else P()
        fn2 = "sharding.row_sparse.update"
        for i in jax.tree.leaves(ids):
            if batch_axis is None:
                _checks.int_array(fn2, "ids", i)
            else:  # split along their first axis
                i = _checks.int_array(fn2, "ids", i, ndim=range(1, 64))
                _divisible(fn2, "ids", i.shape[0], mesh, batch_axis, "entries")
        id_specs = jax.tree.map(lambda _: lead, ids)

        def body(ids, grads, state, table, extra):
            if batch_axis is not None:
                ids, grads = jax.tree.map(
                    lambda x: jax.lax.all_gather(
                        x, batch_axis, tiled=True, to="invarying"
                    ),
                    (ids, grads),
                )

            def localise(i, t):
                # Each table by its own rows per shard (t is the local slice).
                local, own = _owned(i, t.shape[0], vocab_axis)
                return jnp.where(own, local, -1)

            local_ids = jax.tree.map(localise, ids, table)
            return inner.update(local_ids, grads, state, table, **extra)

        with jax.named_scope("jaxns.sharding.row_sparse.update"):
            return _shard_map(
                body,
                mesh=mesh,
                in_specs=(id_specs, id_specs, state_specs, specs, P()),
                out_specs=(specs, state_specs),
            )(ids, row_grads, state, table, extra_args)

    return optim.RowSparseTransformation(init=init, update=update)


# ---------------------------------------------------------------------------
# stratified sampler
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class ShardedSampler:
    """A proposal split into one alias table per vocabulary shard (a pytree).

    Shard ``s`` owns ids ``[s V / n, (s + 1) V / n)`` and draws from the
    proposal restricted to them, ``q(i) / Q_s``. Build it with
    :func:`shard_sampler`; it passes through ``jit`` and ``shard_map`` (its
    tables are split along the vocabulary axis like the embedding tables).

    Attributes:
      num_classes: ``V`` (static).
      num_shards: ``n`` (static).
      table_bits: ``log2`` of each shard's alias table length (static).
      tables: ``int32[n, 2**table_bits, 2]`` one alias table per shard, over
        local ids.
      log_probs: ``float32[n, V / n]`` log of each id's probability *within*
        its shard, ``log(q_i / Q_s)``, clamped to float32's tiny.
      mass: ``float32[n]`` each shard's share ``Q_s`` of the proposal.
    """

    num_classes: int
    num_shards: int
    table_bits: int
    tables: jax.Array
    log_probs: jax.Array
    mass: jax.Array

    def candidates(
        self, key: ArrayLike, num_per_shard: int
    ) -> tuple[jax.Array, jax.Array]:
        """The global candidates that the shards draw, on one device.

        Returns exactly the ids that :func:`sampled_softmax` and :func:`sgns`
        draw under ``shard_map`` with the same key (shard ``s`` uses
        ``fold_in(key, s)``), concatenated in shard order: the single-device
        reference for the same global candidates.

        Args:
          key: a single typed key.
          num_per_shard: ``m``, draws per shard (with replacement).

        Returns:
          ``(ids, log_expected_count)``: ``int32 [n * m]`` global ids and
          ``float32 [n * m]`` ``log(m q_i / Q_s)``.

        Examples:
          >>> import jax, jaxns
          >>> s = jaxns.sharding.shard_sampler(jaxns.samplers.uniform(8), 2)
          >>> ids, log_e = s.candidates(jax.random.key(0), 3)
          >>> ids.shape, bool((ids[:3] < 4).all() & (ids[3:] >= 4).all())
          ((6,), True)

        References:
          Jean et al, `On Using Very Large Target Vocabulary for Neural
          Machine Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
        """
        fn = "ShardedSampler.candidates"
        key = _checks.key(fn, key)
        m = _checks.size(fn, "num_per_shard", num_per_shard, minimum=1)
        tables, log_probs = _replicated(self.tables), _replicated(self.log_probs)
        shards = jnp.arange(self.num_shards, dtype=jnp.int32)
        # A rolled loop, not a Python one: the program (and its compile time)
        # stays one draw, not num_shards copies of it. Not vmap either: it
        # would change the draws of non-threefry keys (rbg).
        local, log_e = jax.lax.map(
            lambda a: _draw(key, a[0], a[1], a[2], self, m),
            (shards, tables, log_probs),
        )
        ids = local + shards[:, None] * self._rows
        return ids.reshape(-1), log_e.reshape(-1)

    def log_expected_count(self, ids: ArrayLike, num_per_shard: int) -> jax.Array:
        """``log(m q_i / Q_s)`` of global ids: their logQ correction.

        Args:
          ids: integer global ids of any shape, in ``[0, V)``.
          num_per_shard: ``m``, draws per shard.

        Returns:
          ``float32`` with the shape of ``ids``.

        Examples:
          >>> import jax.numpy as jnp, jaxns
          >>> s = jaxns.sharding.shard_sampler(jaxns.samplers.uniform(8), 2)
          >>> round(float(s.log_expected_count(jnp.array(5), 2)), 4)  # log(2/4)
          -0.6931

        References:
          Bengio and Senécal, `Adaptive Importance Sampling to Accelerate
          Training of a Neural Probabilistic Language Model
          <https://doi.org/10.1109/TNN.2007.912312>`_, 2008.
        """
        fn = "ShardedSampler.log_expected_count"
        ids = _checks.int_array(fn, "ids", ids)
        m = _checks.size(fn, "num_per_shard", num_per_shard, minimum=1)
        ids = jnp.clip(ids.astype(jnp.int32), 0, self.num_classes - 1)
        lp = _replicated(self.log_probs)[ids // self._rows, ids % self._rows]
        return lp + jnp.float32(math.log(m))

    @property
    def _rows(self) -> int:
        return self.num_classes // self.num_shards


jax.tree_util.register_dataclass(
    ShardedSampler,
    data_fields=["tables", "log_probs", "mass"],
    meta_fields=["num_classes", "num_shards", "table_bits"],
)


def _draw(key, shard, table, log_probs, sampler: ShardedSampler, m: int):
    """``m`` local ids of one shard and their log expected counts."""
    w0, w1 = samplers._random_words(jax.random.fold_in(key, shard), (m,))
    local = samplers._alias_from_words(w0, w1, table, sampler.table_bits)
    return local, log_probs[local] + jnp.float32(math.log(m))


def shard_sampler(
    sampler: Any,
    num_shards: int,
    *,
    mesh: Mesh | None = None,
    vocab_axis: str = "vocab",
) -> ShardedSampler:
    """Splits a proposal into per-shard alias tables for stratified draws.

    Reads the exact distribution ``q = sampler.probs()`` on the host (any
    :class:`jaxns.samplers.Sampler`, or a concrete probability vector) and
    builds, for each of ``num_shards`` contiguous slices, an alias table of
    ``q`` restricted to the slice. A slice with zero mass is never scored (its
    candidates are masked out).

    Args:
      sampler: a :class:`jaxns.samplers.Sampler` or concrete float
        probabilities ``[V]`` (non-negative, positive sum).
      num_shards: ``n``, the size of the vocabulary axis; must divide ``V``.
      mesh: optional mesh; when given the tables are placed split along
        ``vocab_axis`` (whose size must be ``num_shards``).
      vocab_axis: the mesh axis that splits the vocabulary.

    Returns:
      A :class:`ShardedSampler`.

    Raises:
      TypeError: for a traced probability vector.
      ValueError: for bad probabilities, ``n`` that does not divide ``V``, or
        a mesh axis of another size.

    Examples:
      >>> import jaxns
      >>> s = jaxns.sharding.shard_sampler(
      ...     jaxns.samplers.unigram([4, 3, 2, 1, 0, 0], power=1.0), 3)
      >>> [round(float(x), 2) for x in s.mass]
      [0.7, 0.3, 0.0]

    References:
      Walker, `An Efficient Method for Generating Discrete Random Variables
      with General Distributions <https://doi.org/10.1145/355744.355749>`_,
      1977.
    """
    fn = "sharding.shard_sampler"
    n = _checks.size(fn, "num_shards", num_shards, minimum=1)
    probs = sampler.probs() if isinstance(sampler, samplers.Sampler) else sampler
    probs = _checks.nonnegative_weights(fn, "sampler", probs)
    v = probs.size
    if v % n:
        raise ValueError(
            f"{fn}: num_shards {n} must divide the vocabulary size {v}. Pad the "
            f"vocabulary (zero-probability rows) to a multiple of {n}."
        )
    rows = v // n
    slices = probs.reshape(n, rows) / probs.sum()
    mass = slices.sum(axis=1)
    tables, log_probs, bits = [], [], 0
    for s in range(n):
        w = slices[s] if mass[s] > 0 else np.ones(rows)
        units, table, bits = samplers._alias_table(w)
        local = units[:rows] / float((1 << bits) * samplers._UNITS)
        tiny = np.finfo(np.float32).tiny
        log_probs.append(np.log(np.maximum(local, tiny)).astype(np.float32))
        tables.append(table)
    out = ShardedSampler(
        num_classes=v,
        num_shards=n,
        table_bits=bits,
        tables=jnp.asarray(np.stack(tables)),
        log_probs=jnp.asarray(np.stack(log_probs)),
        mass=jnp.asarray(mass.astype(np.float32)),
    )
    if mesh is None:
        return out
    mesh = _mesh(fn, mesh)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    if mesh.shape[vocab_axis] != n:
        raise ValueError(
            f"{fn}: mesh axis {vocab_axis!r} has size {mesh.shape[vocab_axis]}, "
            f"but num_shards is {n}."
        )
    return jax.device_put(out, _sampler_shardings(out, mesh, vocab_axis))


def _sampler_spec_tree(sampler: ShardedSampler, vocab_axis: str) -> ShardedSampler:
    """The sampler's partition specs: tables split like the embedding table."""
    return dataclasses.replace(
        sampler, tables=P(vocab_axis), log_probs=P(vocab_axis), mass=P()
    )


def _sampler_shardings(sampler: ShardedSampler, mesh: Mesh, vocab_axis: str):
    specs = _sampler_spec_tree(sampler, vocab_axis)
    return dataclasses.replace(
        specs,
        tables=NamedSharding(mesh, specs.tables),
        log_probs=NamedSharding(mesh, specs.log_probs),
        mass=NamedSharding(mesh, specs.mass),
    )


# ---------------------------------------------------------------------------
# sampled losses over a vocabulary-sharded output table
# ---------------------------------------------------------------------------


def _sampled_setup(
    fn, key, hidden, labels, table, sampler, num_per_shard, mesh, vocab_axis, batch_axis
):
    mesh = _mesh(fn, mesh)
    key = _checks.key(fn, key)
    _axis(fn, "vocab_axis", mesh, vocab_axis)
    _axis(fn, "batch_axis", mesh, batch_axis, optional=True)
    _distinct(fn, vocab_axis, batch_axis)
    m = _checks.size(fn, "num_per_shard", num_per_shard, minimum=1)
    (hidden, table), _ = _checks.floats(fn, hidden=hidden, table=table)
    _checks.check_shape(fn, "hidden", hidden, ("batch", "dim"))
    _checks.check_shape(fn, "table", table, ("vocab_size", hidden.shape[1]))
    labels = _checks.int_array(fn, "labels", labels, (hidden.shape[0],))
    if not isinstance(sampler, ShardedSampler):
        raise TypeError(
            f"{fn}: sampler must be a ShardedSampler from "
            f"jaxns.sharding.shard_sampler, got {type(sampler).__name__}."
        )
    n = mesh.shape[vocab_axis]
    if sampler.num_shards != n or sampler.num_classes != table.shape[0]:
        raise ValueError(
            f"{fn}: sampler has {sampler.num_shards} shards over "
            f"{sampler.num_classes} ids, but the table has {table.shape[0]} rows "
            f"and mesh axis {vocab_axis!r} has size {n}."
        )
    _divisible(fn, "table", table.shape[0], mesh, vocab_axis, "rows")
    _divisible(fn, "hidden", hidden.shape[0], mesh, batch_axis, "rows")
    return key, hidden, labels, table, m


def _sampled_scores(key, h, labels, table, sampler, m, vocab_axis, remove_hits):
    """Per shard: positive logit (psum'd), negative logits, log E, keep mask."""
    s = jax.lax.axis_index(vocab_axis)
    rows = table.shape[0]
    local, log_e = _draw(key, s, sampler.tables[0], sampler.log_probs[0], sampler, m)
    neg = h @ table[local].T  # [b, m]
    keep = jnp.broadcast_to(sampler.mass[s] > 0, neg.shape)
    row, own = _owned(labels, rows, vocab_axis)
    if remove_hits:  # a draw of this shard that is the example's own label
        keep = keep & ~(own[:, None] & (local[None, :] == row[:, None]))
    pos = jnp.sum(h * table[row], axis=-1)
    pos_log_e = sampler.log_probs[0][row] + jnp.float32(math.log(m))
    return pos, pos_log_e, own, neg, log_e, keep


def sampled_softmax(
    key: ArrayLike,
    hidden: ArrayLike,
    labels: ArrayLike,
    table: ArrayLike,
    sampler: ShardedSampler,
    *,
    num_per_shard: int,
    mesh: Mesh,
    vocab_axis: str = "vocab",
    batch_axis: str | None = None,
    remove_accidental_hits: bool = True,
) -> jax.Array:
    r"""Sampled softmax over a vocabulary-sharded output table, combined exactly.

    Each shard draws ``num_per_shard`` candidates from its slice of the
    proposal (shared by the batch), scores them against its own rows and
    subtracts their log expected count ``log(m q_i / Q_s)``; the positive is
    scored by the shard that owns it. The shards combine the partial
    logsumexps exactly (a ``pmax`` of the partial maxima and a ``psum`` of the
    partial sums), so per example

    .. math:: \ell = \log\Big(e^{z^+} + \sum_s \sum_{j \in C_s} e^{z_j}\Big)
       - z^+, \qquad z = h \cdot w - \log E

    which equals :func:`jaxns.losses.sampled_softmax` with
    ``neg_logits = hidden @ table[ids].T``, ``pos_log_q`` and ``neg_log_q``
    from :meth:`ShardedSampler.candidates` and
    :meth:`ShardedSampler.log_expected_count`, and accidental hits masked, in
    value and gradient. Per device only ``[B, m]`` logits and the local rows
    exist; ``3 B`` floats are all-reduced forward.

    Args:
      key: a single typed key (every shard folds in its index).
      hidden: float ``[batch, dim]`` queries; replicated, or split over
        ``batch_axis``.
      labels: integer ``[batch]`` positive ids in ``[0, V)``.
      table: float ``[V, dim]`` output table split over ``vocab_axis``.
      sampler: a :class:`ShardedSampler` with ``num_shards`` equal to the axis
        size.
      num_per_shard: ``m``, candidates drawn per shard (static).
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits ``table``.
      batch_axis: optional mesh axis that splits the batch.
      remove_accidental_hits: mask candidates equal to the example's label
        (TensorFlow's ``remove_accidental_hits``).

    Returns:
      ``[batch]`` float32 losses, laid out like ``labels``.

    Raises:
      TypeError: for bad dtypes, a key that is not typed, or a sampler of
        another kind.
      ValueError: for mismatched shapes, unknown axes or sizes they do not
        divide.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> table = jaxns.sharding.shard_table(jnp.zeros((8, 4)), mesh)
      >>> sampler = jaxns.sharding.shard_sampler(jaxns.samplers.uniform(8), 1)
      >>> loss = jaxns.sharding.sampled_softmax(
      ...     jax.random.key(0), jnp.ones((2, 4)), jnp.array([1, 2]), table,
      ...     sampler, num_per_shard=8, mesh=mesh, remove_accidental_hits=False)
      >>> round(float(loss[0]), 4)  # log(9): 9 equal corrected logits
      2.1972

    References:
      Jean et al, `On Using Very Large Target Vocabulary for Neural Machine
      Translation <https://arxiv.org/abs/1412.2007>`_, 2015.
      TensorFlow, `tf.nn.sampled_softmax_loss
      <https://www.tensorflow.org/api_docs/python/tf/nn/sampled_softmax_loss>`_
      (its ``partition_strategy`` shards the table without a per-shard logQ).
    """
    fn = "sharding.sampled_softmax"
    key, hidden, labels, table, m = _sampled_setup(
        fn,
        key,
        hidden,
        labels,
        table,
        sampler,
        num_per_shard,
        mesh,
        vocab_axis,
        batch_axis,
    )
    remove = _checks.flag(fn, "remove_accidental_hits", remove_accidental_hits)

    def body(key, h, labels, table, sampler):
        pos, pos_log_e, own, neg, log_e, keep = _sampled_scores(
            key, h, labels, table, sampler, m, vocab_axis, remove
        )
        z_pos = jax.lax.psum(jnp.where(own, pos - pos_log_e, 0), vocab_axis)
        z = jnp.where(keep, neg - log_e[None, :], -jnp.inf)
        local_max = jax.lax.stop_gradient(jnp.max(z, axis=-1, initial=-jnp.inf))
        top = jnp.maximum(jax.lax.pmax(local_max, vocab_axis), z_pos)
        # NaN or inf maxima fall back to 0 so that NaN propagates, not hides.
        top = jax.lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0))
        part = jnp.sum(jnp.where(keep, jnp.exp(z - top[:, None]), 0), axis=-1)
        total = jax.lax.psum(part, vocab_axis) + jnp.exp(z_pos - top)
        return jnp.log(total) + top - z_pos

    lead = P(batch_axis) if batch_axis is not None else P()
    with jax.named_scope("jaxns.sharding.sampled_softmax"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(
                P(),
                P(batch_axis, None),
                lead,
                P(vocab_axis, None),
                _sampler_spec_tree(sampler, vocab_axis),
            ),
            out_specs=lead,
        )(key, hidden, labels, table, sampler)


def sgns(
    key: ArrayLike,
    hidden: ArrayLike,
    labels: ArrayLike,
    table: ArrayLike,
    sampler: ShardedSampler,
    *,
    num_negatives: int,
    num_per_shard: int,
    mesh: Mesh,
    vocab_axis: str = "vocab",
    batch_axis: str | None = None,
    remove_accidental_hits: bool = True,
) -> jax.Array:
    r"""SGNS over a vocabulary-sharded output table with stratified negatives.

    Each shard draws ``m = num_per_shard`` negatives from its slice of the
    proposal (shared by the batch). word2vec draws ``K = num_negatives``
    negatives from the whole proposal, of which ``K Q_s`` fall in shard ``s``
    in expectation, so each of shard ``s``'s terms is weighted ``K Q_s / m``
    (``= K q_i / E_i``); the expected loss and gradient are word2vec's:

    .. math:: \ell = \operatorname{softplus}(-h \cdot w^+)
       + \sum_s \frac{K Q_s}{m} \sum_{j \in C_s} \operatorname{softplus}(h \cdot w_j)

    The negative sums are combined with one ``psum``. With a uniform proposal
    and ``n m = K`` every weight is 1 (plain SGNS). Negatives equal to the
    label are left out (word2vec.c and gensim skip them) unless
    ``remove_accidental_hits=False``.

    Args:
      key: a single typed key.
      hidden: float ``[batch, dim]`` input vectors; replicated, or split over
        ``batch_axis``.
      labels: integer ``[batch]`` positive ids in ``[0, V)``.
      table: float ``[V, dim]`` output table split over ``vocab_axis``.
      sampler: a :class:`ShardedSampler`.
      num_negatives: ``K``, word2vec's negatives per example (static).
      num_per_shard: ``m``, draws per shard (static).
      mesh: the device mesh.
      vocab_axis: the mesh axis that splits ``table``.
      batch_axis: optional mesh axis that splits the batch.
      remove_accidental_hits: leave out negatives equal to the label.

    Returns:
      ``[batch]`` float32 losses, laid out like ``labels``.

    Raises:
      TypeError: for bad dtypes, a key that is not typed, or a sampler of
        another kind.
      ValueError: for mismatched shapes, unknown axes or sizes they do not
        divide.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("vocab",))
      >>> table = jaxns.sharding.shard_table(jnp.zeros((8, 4)), mesh)
      >>> sampler = jaxns.sharding.shard_sampler(jaxns.samplers.uniform(8), 1)
      >>> loss = jaxns.sharding.sgns(
      ...     jax.random.key(0), jnp.ones((2, 4)), jnp.array([1, 2]), table,
      ...     sampler, num_negatives=5, num_per_shard=5, mesh=mesh,
      ...     remove_accidental_hits=False)
      >>> round(float(loss[0]), 4)  # 6 * log(2)
      4.1589

    References:
      Mikolov et al, `Distributed Representations of Words and Phrases and
      their Compositionality <https://arxiv.org/abs/1310.4546>`_, 2013.
      Ji et al, `Parallelizing Word2Vec in Shared and Distributed Memory
      <https://arxiv.org/abs/1604.04661>`_, 2016.
    """
    fn = "sharding.sgns"
    key, hidden, labels, table, m = _sampled_setup(
        fn,
        key,
        hidden,
        labels,
        table,
        sampler,
        num_per_shard,
        mesh,
        vocab_axis,
        batch_axis,
    )
    k = _checks.size(fn, "num_negatives", num_negatives, minimum=0)
    remove = _checks.flag(fn, "remove_accidental_hits", remove_accidental_hits)

    def body(key, h, labels, table, sampler):
        pos, _, own, neg, _, keep = _sampled_scores(
            key, h, labels, table, sampler, m, vocab_axis, remove
        )
        s = jax.lax.axis_index(vocab_axis)
        weight = sampler.mass[s] * jnp.float32(k / m)
        part = jnp.where(own, jax.nn.softplus(-pos), 0)
        part = part + weight * losses._softplus_sum(neg, keep)
        return jax.lax.psum(part, vocab_axis)

    lead = P(batch_axis) if batch_axis is not None else P()
    with jax.named_scope("jaxns.sharding.sgns"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(
                P(),
                P(batch_axis, None),
                lead,
                P(vocab_axis, None),
                _sampler_spec_tree(sampler, vocab_axis),
            ),
            out_specs=lead,
        )(key, hidden, labels, table, sampler)


# ---------------------------------------------------------------------------
# cross-device in-batch negatives
# ---------------------------------------------------------------------------


def _batch_setup(fn, mesh, axis, a_name, a, b_name, b):
    mesh = _mesh(fn, mesh)
    _axis(fn, "axis", mesh, axis)
    (a, b), _ = _checks.floats(fn, **{a_name: a, b_name: b})
    _checks.check_shape(fn, a_name, a, ("batch", "dim"))
    _checks.same_shape(fn, a_name, a, b_name, b)
    _divisible(fn, a_name, a.shape[0], mesh, axis, "rows")
    if a.shape[0] < 2:
        raise ValueError(f"{fn}: needs batch size >= 2, got {a_name} {a.shape}.")
    return mesh, a, b


def _gather_own_first(x: jax.Array, axis: str) -> jax.Array:
    """All-gathers ``x`` along ``axis`` and rotates this device's block first.

    Row ``i`` of the local block then finds its positive in column ``i``, as
    the single-device losses expect; the other columns keep a fixed order.
    The gradient of the gathered copy flows back to the device that owns each
    row (the transpose of ``all_gather`` is a reduce-scatter).
    """
    full = jax.lax.all_gather(x, axis, tiled=True)
    total, b = full.shape[0], x.shape[0]
    start = jax.lax.axis_index(axis) * b
    order = (jnp.arange(total, dtype=jnp.int32) + start.astype(jnp.int32)) % total
    return full[order]


def in_batch_softmax(
    query: ArrayLike,
    candidates: ArrayLike,
    *,
    mesh: Mesh,
    axis: str = "batch",
    temperature: float | ArrayLike = 1.0,
    candidate_log_q: ArrayLike | None = None,
    candidate_ids: ArrayLike | None = None,
    num_hard_negatives: int | None = None,
) -> jax.Array:
    """:func:`jaxns.losses.in_batch_softmax` with negatives from every device.

    The batch is split over ``axis``; each device all-gathers the candidates
    (with their ``log_q`` and ids) and scores its own queries against all of
    them: a ``[batch / n, batch]`` block of logits per device, never the
    global ``[batch, batch]`` matrix. TFRS order as on one device
    (temperature, logQ on every column, accidental hits by id, optional top-k).
    Gradients reach the device that owns each candidate (open_clip's
    ``gather_with_grad``).

    Args:
      query: float ``[batch, dim]`` split over ``axis``.
      candidates: float ``[batch, dim]``, the positives, split like ``query``.
      mesh: the device mesh.
      axis: the mesh axis that splits the batch.
      temperature: ``> 0``; a Python number or a scalar array (learned).
      candidate_log_q: optional ``[batch]`` log sampling probabilities.
      candidate_ids: optional integer ``[batch]`` ids for hit masking.
      num_hard_negatives: optional int, keep the top negatives per row.

    Returns:
      ``[batch]`` losses in float32 (float64 for float64 inputs), split over
      ``axis``.

    Raises:
      TypeError: for bad dtypes or a non-mesh.
      ValueError: for mismatched shapes, ``batch < 2``, an unknown axis or a
        batch the axis does not divide.

    Examples:
      >>> import jax, jaxns
      >>> mesh = jax.make_mesh((1,), ("batch",))
      >>> q = jax.random.normal(jax.random.key(0), (4, 8))
      >>> jaxns.sharding.in_batch_softmax(q, q, mesh=mesh).shape
      (4,)

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
    """
    fn = "sharding.in_batch_softmax"
    mesh, q, c = _batch_setup(fn, mesh, axis, "query", query, "candidates", candidates)
    batch = q.shape[0]
    if candidate_log_q is not None:
        candidate_log_q = _checks.float_array(
            fn, "candidate_log_q", candidate_log_q, (batch,)
        ).astype(q.dtype)
    if candidate_ids is not None:
        candidate_ids = _checks.int_array(fn, "candidate_ids", candidate_ids, (batch,))
    _checks.optional_size(fn, "num_hard_negatives", num_hard_negatives, minimum=1)
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    temperature = jnp.asarray(temperature, q.dtype)

    def body(q, c, log_q, ids, temperature):
        logits = q @ _gather_own_first(c, axis).T
        return losses.in_batch_softmax_from_logits(
            logits,
            temperature=temperature,
            candidate_log_q=None if log_q is None else _gather_own_first(log_q, axis),
            candidate_ids=None if ids is None else _gather_own_first(ids, axis),
            num_hard_negatives=num_hard_negatives,
        )

    with jax.named_scope("jaxns.sharding.in_batch_softmax"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(P(axis, None), P(axis, None), P(axis), P(axis), P()),
            out_specs=P(axis),
        )(q, c, candidate_log_q, candidate_ids, temperature)


def infonce(
    anchors: ArrayLike,
    positives: ArrayLike,
    *,
    mesh: Mesh,
    axis: str = "batch",
    temperature: float | ArrayLike = 0.1,
    similarity: str = "cosine",
) -> jax.Array:
    """:func:`jaxns.losses.infonce` with every device's positives as negatives.

    Each device all-gathers the (normalised, for cosine) positives and scores
    its own anchors against them: ``[batch / n, batch]`` logits per device.

    Args:
      anchors: float ``[batch, dim]`` split over ``axis``.
      positives: float ``[batch, dim]`` split like ``anchors``.
      mesh: the device mesh.
      axis: the mesh axis that splits the batch.
      temperature: ``> 0``; a Python number or a scalar array.
      similarity: ``"cosine"`` or ``"dot"``.

    Returns:
      ``[batch]`` losses split over ``axis``.

    Raises:
      TypeError: for bad dtypes or a non-mesh.
      ValueError: for mismatched shapes, ``batch < 2``, an unknown axis or
        similarity.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("batch",))
      >>> x = jnp.eye(4)
      >>> loss = jaxns.sharding.infonce(x, x, mesh=mesh, temperature=1.0)
      >>> round(float(loss[0]), 4)
      0.7437

    References:
      van den Oord et al, `Representation Learning with Contrastive Predictive
      Coding <https://arxiv.org/abs/1807.03748>`_, 2018.
    """
    fn = "sharding.infonce"
    mesh, a, p = _batch_setup(
        fn, mesh, axis, "anchors", anchors, "positives", positives
    )
    _checks.choice(fn, "similarity", similarity, ("cosine", "dot"))
    _checks.number(fn, "temperature", temperature, positive=True, allow_array=True)
    temperature = jnp.asarray(temperature, a.dtype)

    def body(a, p, temperature):
        if similarity == "cosine":
            a, p = scoring.normalize(a), scoring.normalize(p)
        logits = a @ _gather_own_first(p, axis).T
        return losses.in_batch_softmax_from_logits(logits, temperature=temperature)

    with jax.named_scope("jaxns.sharding.infonce"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(P(axis, None), P(axis, None), P()),
            out_specs=P(axis),
        )(a, p, temperature)


def _scale(fn: str, temperature, logit_scale, dtype) -> jax.Array:
    if (temperature is None) == (logit_scale is None):
        raise ValueError(
            f"{fn}: give exactly one of temperature (a Python number) or "
            f"logit_scale (log of the inverse temperature, may be learned)."
        )
    if temperature is not None:
        _checks.number(fn, "temperature", temperature, positive=True)
        return jnp.asarray(1.0 / temperature, dtype)
    scale = _checks.float_array(fn, "logit_scale", logit_scale, ())
    return jnp.exp(scale.astype(dtype))


def clip(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    mesh: Mesh,
    axis: str = "batch",
    temperature: float | None = None,
    logit_scale: ArrayLike | None = None,
    normalize: bool = True,
) -> jax.Array:
    """:func:`jaxns.losses.clip` over the global batch split across devices.

    Each device all-gathers the (normalised) text embeddings and scores its
    own images against all of them: one ``[batch / n, batch]`` logit block
    per device. Its rows give the image-to-text losses; the text-to-image
    losses are each column's logsumexp over every device's images, completed
    by a ``pmax`` of the column maxima and a ``psum`` of the column sums
    (``batch`` floats each). Gradients
    flow back to the owning device. open_clip's ``gather_with_grad`` with
    ``local_loss=True`` gathers both modalities and scores two blocks per
    device, twice the products and the memory.

    Args:
      image_embeddings: float ``[batch, dim]`` split over ``axis``.
      text_embeddings: float ``[batch, dim]`` split like the images.
      mesh: the device mesh.
      axis: the mesh axis that splits the batch.
      temperature: ``> 0``; give exactly one of ``temperature`` and
        ``logit_scale``.
      logit_scale: scalar log inverse temperature (typically learned).
      normalize: L2-normalise the embeddings first (CLIP does).

    Returns:
      ``[batch]`` per-pair losses split over ``axis``.

    Raises:
      TypeError: for bad dtypes or a non-mesh.
      ValueError: for mismatched shapes, ``batch < 2``, both or neither of
        ``temperature``/``logit_scale``, or an unknown axis.

    Examples:
      >>> import jax.numpy as jnp, jax, jaxns
      >>> mesh = jax.make_mesh((1,), ("batch",))
      >>> x = jnp.eye(3)
      >>> loss = jaxns.sharding.clip(x, x, mesh=mesh, logit_scale=jnp.log(10.0))
      >>> round(float(loss[0]), 4)
      0.0001

    References:
      Radford et al, `Learning Transferable Visual Models From Natural Language
      Supervision <https://arxiv.org/abs/2103.00020>`_, 2021. Ilharco et al,
      `OpenCLIP <https://github.com/mlfoundations/open_clip>`_, 2021.
    """
    fn = "sharding.clip"
    mesh, x, y = _batch_setup(
        fn,
        mesh,
        axis,
        "image_embeddings",
        image_embeddings,
        "text_embeddings",
        text_embeddings,
    )
    scale = _scale(fn, temperature, logit_scale, x.dtype)
    normalize = _checks.flag(fn, "normalize", normalize)

    def body(x, y, scale):
        if normalize:
            x, y = scoring.normalize(x), scoring.normalize(y)
        b = x.shape[0]
        offset = jax.lax.axis_index(axis).astype(jnp.int32) * b
        # Scaling the [b, d] rows, not the [b, B] product: the derivative in
        # the scale then keeps no [b, B] residual.
        xs = scale * x
        logits = xs @ jax.lax.all_gather(y, axis, tiled=True).T  # [b, B]
        pos = jnp.sum(xs * y, axis=-1)
        # One block per device: this device's images against every text. The
        # rows give the image losses; each column's logsumexp over all images
        # is a psum of the devices' partial sums (texts' losses), so the
        # texts never score every image a second time.
        own = losses._offset_own(logits, offset)
        local_max = jnp.max(jnp.where(own, pos[:, None], logits), axis=0)
        col_max = jax.lax.pmax(jax.lax.stop_gradient(local_max), axis)
        img, col_sums = losses._lse_rows_col_sums(logits, pos, offset, col_max)
        col_lse = jnp.log(jax.lax.psum(col_sums, axis)) + col_max
        txt = jax.lax.dynamic_slice(col_lse, (offset,), (b,)) - pos
        return 0.5 * (img + txt)

    with jax.named_scope("jaxns.sharding.clip"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(P(axis, None), P(axis, None), P()),
            out_specs=P(axis),
        )(x, y, scale)


def siglip(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    mesh: Mesh,
    axis: str = "batch",
    logit_scale: float | ArrayLike = losses._SIGLIP_LOGIT_SCALE,
    logit_bias: float | ArrayLike = -10.0,
    normalize: bool = True,
) -> jax.Array:
    """:func:`jaxns.losses.siglip` over devices with a ring of ``ppermute``.

    Each device keeps its images and passes its text block around the ring of
    ``axis``: at step ``t`` it scores its images against the texts of device
    ``i - t`` (positives only at ``t = 0``) and sends the block on. A device
    holds one ``[batch / n, batch / n]`` logit block at a time, never the
    global matrix; each step is rematerialised in the backward pass, whose
    gradients travel the ring in reverse (big_vision's chunked SigLIP).

    Args:
      image_embeddings: float ``[batch, dim]`` split over ``axis``.
      text_embeddings: float ``[batch, dim]`` split like the images.
      mesh: the device mesh.
      axis: the mesh axis that splits the batch.
      logit_scale: scalar ``t`` (log of the scale), Python number or array.
      logit_bias: scalar ``b``.
      normalize: L2-normalise the embeddings first (SigLIP does).

    Returns:
      ``[batch]`` per-image losses split over ``axis``.

    Raises:
      TypeError: for bad dtypes or a non-mesh.
      ValueError: for mismatched shapes, ``batch < 2`` or an unknown axis.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> mesh = jax.make_mesh((1,), ("batch",))
      >>> x = jnp.eye(2)
      >>> loss = jaxns.sharding.siglip(
      ...     x, x, mesh=mesh, logit_scale=0.0, logit_bias=0.0)
      >>> round(float(loss[0]), 4)
      1.0064

    References:
      Zhai et al, `Sigmoid Loss for Language Image Pre-Training
      <https://arxiv.org/abs/2303.15343>`_, 2023.
    """
    fn = "sharding.siglip"
    mesh, x, y = _batch_setup(
        fn,
        mesh,
        axis,
        "image_embeddings",
        image_embeddings,
        "text_embeddings",
        text_embeddings,
    )
    t = losses._scalar(fn, "logit_scale", logit_scale, x.dtype)
    b = losses._scalar(fn, "logit_bias", logit_bias, x.dtype)
    normalize = _checks.flag(fn, "normalize", normalize)
    n = mesh.shape[axis]
    ring = [(i, (i + 1) % n) for i in range(n)]

    def body(x, y, t, b):
        if normalize:
            x, y = scoring.normalize(x), scoring.normalize(y)
        scale = jnp.exp(t)
        rows = x.shape[0]
        eye = jnp.asarray(np.eye(rows, dtype=bool))
        z = scale * (x @ y.T) + b
        own = jnp.sum(jax.nn.softplus(jnp.where(eye, -z, z)), axis=-1)

        @jax.checkpoint
        def step(carry, _):
            block, acc = carry
            block = jax.lax.ppermute(block, axis, ring)
            z = scale * (x @ block.T) + b
            return (block, acc + jnp.sum(jax.nn.softplus(z), axis=-1)), None

        (_, total), _ = jax.lax.scan(step, (y, own), None, length=n - 1)
        return total

    with jax.named_scope("jaxns.sharding.siglip"):
        return _shard_map(
            body,
            mesh=mesh,
            in_specs=(P(axis, None), P(axis, None), P(), P()),
            out_specs=P(axis),
        )(x, y, t, b)
