# SPDX-License-Identifier: Apache-2.0
"""Row-sparse Optax vs dense Optax on one embedding table.

One step updates a ``[V, d]`` table from ``N`` (id, gradient row) pairs with
log-uniform (Zipf-like, many duplicates) ids. Row-sparse: ``jaxns.optim.row_sparse``
(sorts the ids, sums duplicates, touches only those rows). Dense: the gradient is
scattered into a ``[V, d]`` array and plain Optax updates the whole table and
every moment. Both are jitted with the table and the state donated.

Run ``python benchmarks/optim.py`` (V=1,000,000, d=128, N=4096) or
``python benchmarks/optim.py --quick`` for a small smoke run.
"""

import argparse
import statistics

import _timing
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxns


def _batches(num_rows, dim, num_ids, count, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        # Log-uniform ids, like word frequencies: frequent rows repeat in a batch.
        ids = np.floor(np.exp(rng.random(num_ids) * np.log(num_rows + 1))) - 1
        ids = np.clip(ids, 0, num_rows - 1).astype(np.int32)
        grads = rng.normal(size=(num_ids, dim)).astype(np.float32)
        out.append((jnp.asarray(ids), jnp.asarray(grads)))
    return out


def _time(step, table, state, batches, runs):
    """Median ms per step (``_timing``: the first call compiles, untimed).

    The step donates its table and state, so each call carries them on and
    takes the next batch.
    """
    carry = {"table": table, "state": state, "calls": 0}

    def call():
        ids, grads = batches[carry["calls"] % len(batches)]
        carry["calls"] += 1
        carry["table"], carry["state"] = step(
            carry["table"], carry["state"], ids, grads
        )
        return carry["table"], carry["state"]

    return _timing.median_ms(call, repeats=runs)


def _dense_step(tx, num_rows):
    def step(table, state, ids, grads):
        dense = jnp.zeros((num_rows, grads.shape[-1]), grads.dtype).at[ids].add(grads)
        updates, state = tx.update(dense, state, table)
        return optax.apply_updates(table, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _sparse_step(opt):
    # Donated inputs come in the order of the outputs (table, state): JAX pairs a
    # donated buffer with the first output of the same shape, so jitting
    # opt.update(ids, grads, state, table) directly would copy the moments.
    def step(table, state, ids, grads):
        return opt.update(ids, grads, state, table)

    return jax.jit(step, donate_argnums=(0, 1))


def _run(name, tx, args, batches, dedup=True):
    key = jax.random.key(0)
    shape = (args.num_rows, args.dim)

    opt = jaxns.optim.row_sparse(tx, dedup=dedup)
    table = jax.random.normal(key, shape, jnp.float32)
    sparse_ms = _time(
        _sparse_step(opt),
        table,
        opt.init(table),
        batches,
        args.runs,
    )
    del table

    table = jax.random.normal(key, shape, jnp.float32)
    dense_ms = _time(
        _dense_step(tx, args.num_rows), table, tx.init(table), batches, args.runs
    )
    del table
    group = f"{name} update, {args.num_ids} ids of V={args.num_rows}"
    _timing.record(group, "jaxns row_sparse", seconds=sparse_ms / 1e3)
    _timing.record(group, "dense Optax", seconds=dense_ms / 1e3)
    ratio = dense_ms / sparse_ms
    print(f"{name:<24} {sparse_ms:>14.3f} {dense_ms:>12.3f} {ratio:>9.1f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--num-ids", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.num_rows, args.dim, args.num_ids, args.runs = 10_000, 16, 256, 5
    args.runs = max(args.runs, 5)

    batches = _batches(args.num_rows, args.dim, args.num_ids, count=4)
    unique = statistics.mean(len(np.unique(np.asarray(i))) for i, _ in batches)
    print(
        f"{_timing.device_line()}  V={args.num_rows:,}  d={args.dim}"
        f"  N={args.num_ids} ids/step (~{unique:.0f} unique)  median of {args.runs}"
    )
    print(f"{'optimizer':<24} {'row-sparse ms':>14} {'dense ms':>12} {'speedup':>10}")
    _run("adam", optax.adam(1e-3), args, batches)
    _run("adagrad", optax.adagrad(0.1), args, batches)
    _run("sgd", optax.sgd(0.025), args, batches)
    schedule = optax.linear_schedule(0.025, 1e-4, transition_steps=10_000)
    _run("sgd+schedule dedup=False", optax.sgd(schedule), args, batches, dedup=False)


if __name__ == "__main__":
    main()
