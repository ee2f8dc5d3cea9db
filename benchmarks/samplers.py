# SPDX-License-Identifier: Apache-2.0
"""How fast are jaxns's alias-table draws? One table, medians after compilation.

Compares, for a Zipfian unigram^0.75 distribution over V ids:

* ``jaxns.samplers.unigram(...).sample(key, (n,))`` (alias table, O(1)/draw),
* ``jax.random.choice(key, V, (n,), p=p)`` (an O(V) cumsum on every call),
* ``jax.random.randint(key, (n,), 0, V)`` (uniform ids: the speed ceiling),
* NumPy ``Generator.choice(V, size=n, p=p)`` on the host.

The sampler and the probabilities are passed to the jitted functions as
arguments: a closed-over constant would let XLA constant-fold the cumsum.

Usage: ``python benchmarks/samplers.py [--quick] [--repeats 11]``.
"""

import argparse
import time

import _timing
import jax
import jax.numpy as jnp
import numpy as np

import jaxns


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=11, help="timed runs (>= 5)")
    args = parser.parse_args()
    repeats = max(5, args.repeats)
    vocab_sizes = (10_000,) if args.quick else (10_000, 1_000_000)
    draw_counts = (5_000, 100_000) if args.quick else (5_000, 1_000_000)

    print(_timing.device_line())
    header = (
        f"{'V':>9} {'draws':>9} {'build s':>8} {'jaxns ms':>9} {'choice ms':>10} "
        f"{'randint ms':>10} {'numpy ms':>9} {'x choice':>9} {'vs randint':>10}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for v in vocab_sizes:
        counts = np.floor(1e7 / np.arange(1, v + 1) ** 1.05) + 1
        start = time.perf_counter()
        sampler = jaxns.samplers.unigram(counts, power=0.75)
        build_s = time.perf_counter() - start
        p64 = counts**0.75 / (counts**0.75).sum()
        p = jnp.asarray(p64, jnp.float32)
        for n in draw_counts:
            key = jax.random.key(n)
            ours = jax.jit(lambda s, k, n=n: s.sample(k, (n,)))
            choice = jax.jit(lambda p, k, n=n, v=v: jax.random.choice(k, v, (n,), p=p))
            randint = jax.jit(lambda k, n=n, v=v: jax.random.randint(k, (n,), 0, v))
            group = f"unigram draws V={v} n={n}"
            work = {"draws": n}

            def ms(label, fn, *a, group=group, work=work, **kw):
                timing = _timing.measure(
                    fn, *a, repeats=repeats, label=label, group=group, work=work, **kw
                )
                return timing.median_ms

            t_ours = ms("jaxns", ours, sampler, key)
            t_choice = ms("jax.random.choice", choice, p, key)
            t_randint = ms("jax.random.randint", randint, key)
            t_numpy = ms("NumPy choice", rng.choice, v, size=n, p=p64)
            print(
                f"{v:>9,} {n:>9,} {build_s:>8.3f} {t_ours:>9.3f} {t_choice:>10.3f} "
                f"{t_randint:>10.3f} {t_numpy:>9.3f} {t_choice / t_ours:>8.1f}x "
                f"{t_randint / t_ours:>9.2f}x"
            )
    print(
        "x choice: jaxns speedup over jax.random.choice(p=); vs randint: jaxns "
        "speed relative to jax.random.randint (1.0 = as fast)."
    )


if __name__ == "__main__":
    main()
