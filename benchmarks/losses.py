# SPDX-License-Identifier: Apache-2.0
"""SGNS training step and sampled softmax: jaxns vs naive JAX vs PyTorch / TF.

One SGNS step gathers the input rows of the centre words and the output rows of
the context words and negatives, scores them, takes the loss and its gradient
with respect to the gathered rows, and applies SGD by one scatter-add per table,
all in one jitted function with the tables donated. Variants:

* ``jaxns per-example``: ``[B, k]`` negatives, batched dot product;
* ``jaxns shared``: ``k`` negatives shared by the batch, scored with one GEMM;
* ``naive JAX``: ``jax.grad`` of the loss with respect to the full tables (dense
  ``[V, d]`` gradients, dense SGD update);
* ``PyTorch``: ``nn.Embedding(sparse=True)`` and ``torch.optim.SGD`` (if
  installed).

Then sampled softmax (shared negatives with logQ correction, forward and
backward) against ``tf.nn.sampled_softmax_loss`` (if TensorFlow is installed).

Run ``python benchmarks/losses.py`` (B=4096, k=5, d=128, V=100,000) or
``python benchmarks/losses.py --quick``.
"""

import argparse

import _timing
import jax
import jax.numpy as jnp
import numpy as np

import jaxns
from jaxns import losses, scoring


def _negatives(key, counts, shape):
    """Unigram^0.75 negatives from jaxns.samplers (randint if unavailable)."""
    try:
        sampler = jaxns.samplers.unigram(counts, power=0.75)
        return sampler.sample(key, shape)
    except (AttributeError, TypeError):
        return jax.random.randint(key, shape, 0, counts.shape[0], jnp.int32)


# ---------------------------------------------------------------------------
# SGNS steps. Each returns (w_in, w_out, loss) and donates the tables.
# ---------------------------------------------------------------------------


def sgns_step_per_example(lr):
    def step(w_in, w_out, centers, contexts, negatives):
        ids = jnp.concatenate([contexts[:, None], negatives], axis=1)  # [B, 1+k]
        u = w_in[centers]  # [B, d]
        v = w_out[ids]  # [B, 1+k, d]

        def loss_fn(u, v):
            logits = scoring.dot(u, v)  # [B, 1+k]
            return losses.sgns(logits[:, 0], logits[:, 1:]).sum()

        loss, (gu, gv) = jax.value_and_grad(loss_fn, argnums=(0, 1))(u, v)
        # One scatter-add per table; duplicate ids accumulate.
        w_in = w_in.at[centers].add(-lr * gu)
        w_out = w_out.at[ids.reshape(-1)].add(-lr * gv.reshape(-1, gv.shape[-1]))
        return w_in, w_out, loss

    return jax.jit(step, donate_argnums=(0, 1))


def sgns_step_shared(lr):
    def step(w_in, w_out, centers, contexts, negatives):
        batch = centers.shape[0]
        ids = jnp.concatenate([contexts, negatives])  # [B + k]
        u = w_in[centers]  # [B, d]
        v = w_out[ids]  # [B + k, d]

        def loss_fn(u, v):
            pos = jnp.sum(u * v[:batch], axis=-1)
            neg = scoring.dot(u, v[batch:])  # one GEMM [B, d] x [d, k]
            return losses.sgns(pos, neg).sum()

        loss, (gu, gv) = jax.value_and_grad(loss_fn, argnums=(0, 1))(u, v)
        w_in = w_in.at[centers].add(-lr * gu)
        w_out = w_out.at[ids].add(-lr * gv)
        return w_in, w_out, loss

    return jax.jit(step, donate_argnums=(0, 1))


def sgns_step_naive(lr):
    def step(w_in, w_out, centers, contexts, negatives):
        def loss_fn(w_in, w_out):
            u = w_in[centers]
            v = w_out[jnp.concatenate([contexts[:, None], negatives], axis=1)]
            logits = jnp.einsum("bd,bkd->bk", u, v)
            return losses.sgns(logits[:, 0], logits[:, 1:]).sum()

        loss, (g_in, g_out) = jax.value_and_grad(loss_fn, argnums=(0, 1))(w_in, w_out)
        return w_in - lr * g_in, w_out - lr * g_out, loss

    return jax.jit(step, donate_argnums=(0, 1))


def _time_jax_step(step, vocab, dim, batch_args, runs):
    key = jax.random.key(1)
    k1, k2 = jax.random.split(key)
    state = {
        "w_in": (jax.random.uniform(k1, (vocab, dim)) - 0.5) / dim,
        "w_out": jax.random.normal(k2, (vocab, dim)) * 0.01,
    }

    def call():
        state["w_in"], state["w_out"], loss = step(
            state["w_in"], state["w_out"], *batch_args
        )
        jax.block_until_ready((state["w_in"], state["w_out"], loss))

    ms = _timing.median_ms(call, repeats=runs)
    assert bool(jnp.isfinite(state["w_in"]).all())
    return ms


def _time_torch(vocab, dim, centers, contexts, negatives, lr, runs):
    try:
        import torch
    except ImportError:
        return None
    emb_in = torch.nn.Embedding(vocab, dim, sparse=True)
    emb_out = torch.nn.Embedding(vocab, dim, sparse=True)
    opt = torch.optim.SGD([emb_in.weight, emb_out.weight], lr=lr)
    c = torch.from_numpy(np.asarray(centers, np.int64))
    ids = torch.from_numpy(
        np.concatenate([np.asarray(contexts)[:, None], np.asarray(negatives)], 1)
    ).long()

    def call():
        opt.zero_grad()
        u = emb_in(c)  # [B, d]
        v = emb_out(ids)  # [B, 1+k, d]
        logits = torch.bmm(v, u.unsqueeze(2)).squeeze(2)
        loss = torch.nn.functional.softplus(-logits[:, 0]).sum()
        loss = loss + torch.nn.functional.softplus(logits[:, 1:]).sum()
        loss.backward()
        opt.step()

    return _timing.median_ms(call, repeats=runs)


# ---------------------------------------------------------------------------
# Sampled softmax, forward and backward.
# ---------------------------------------------------------------------------


def sampled_softmax_grad(num_sampled, num_classes):
    """What ``tf.nn.sampled_softmax_loss`` does per step, the jaxns way: draw
    ``num_sampled`` log-uniform candidates (with replacement, as TF with
    ``unique=False``), logQ-correct, mask accidental hits, and differentiate
    w.r.t. the inputs and gathered rows."""
    sampler = jaxns.samplers.log_uniform(num_classes)

    def loss_fn(inputs, rows, biases, pos_log_q, neg_log_q, keep):
        batch = inputs.shape[0]
        w_true, w_sampled = rows[:batch], rows[batch:]
        b_true, b_sampled = biases[:batch], biases[batch:]
        pos = jnp.sum(inputs * w_true, axis=-1) + b_true
        neg = scoring.dot(inputs, w_sampled) + b_sampled[None, :]  # shared: one GEMM
        return losses.sampled_softmax(
            pos, neg, pos_log_q=pos_log_q, neg_log_q=neg_log_q, where=keep
        ).mean()

    def step(key, inputs, weights, biases, labels):
        sampled = sampler.sample(key, (num_sampled,))
        pos_log_q = jaxns.samplers.log_expected_count(sampler, labels, num_sampled)
        neg_log_q = jaxns.samplers.log_expected_count(sampler, sampled, num_sampled)
        keep = ~jaxns.samplers.accidental_hits(labels, sampled)
        ids = jnp.concatenate([labels, sampled])
        rows, b = weights[ids], biases[ids]
        grads = jax.grad(loss_fn, argnums=(0, 1, 2))(
            inputs, rows, b, pos_log_q, neg_log_q, keep
        )
        return ids, grads  # row gradients, like TF's IndexedSlices

    return jax.jit(step)


def _time_tf_sampled_softmax(inputs, weights, biases, labels, num_sampled, runs):
    try:
        import tensorflow as tf
    except ImportError:
        return None
    w = tf.Variable(np.asarray(weights))
    b = tf.Variable(np.asarray(biases))
    x = tf.Variable(np.asarray(inputs))
    y = tf.constant(np.asarray(labels, np.int64)[:, None])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sampled_softmax_loss(
                    w,
                    b,
                    y,
                    x,
                    num_sampled=num_sampled,
                    num_classes=w.shape[0],
                    sampled_values=tf.random.log_uniform_candidate_sampler(
                        y, 1, num_sampled, unique=False, range_max=w.shape[0]
                    ),
                )
            )
        return tape.gradient(loss, [x, w, b])

    def call():
        grads = step()
        # Weights and biases get IndexedSlices (row gradients): read them as
        # they are, without densifying to [V, d].
        for g in grads:
            if isinstance(g, tf.IndexedSlices):
                _ = (g.values.numpy(), g.indices.numpy())
            else:
                _ = g.numpy()

    return _timing.median_ms(call, repeats=runs)


def _fmt(ms):
    return "not installed" if ms is None else f"{ms:9.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--sampled", type=int, default=64, help="sampled softmax k")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.vocab, args.runs = 512, 10_000, 5
    b, k, d, v, lr = args.batch, args.negatives, args.dim, args.vocab, 0.025

    rng = np.random.default_rng(0)
    counts = rng.zipf(1.3, size=v).astype(np.float64)
    centers = jnp.asarray(rng.integers(0, v, size=b), jnp.int32)
    contexts = jnp.asarray(rng.integers(0, v, size=b), jnp.int32)
    k_neg, k_shared, k_ss = jax.random.split(jax.random.key(0), 3)
    negatives = _negatives(k_neg, counts, (b, k))
    shared = _negatives(k_shared, counts, (k,))

    print(_timing.device_line())
    print(f"SGNS step: B={b} pairs, k={k}, d={d}, V={v:,}; median of {args.runs}")
    rows = [
        (
            "jaxns per-example",
            _time_jax_step(
                sgns_step_per_example(lr),
                v,
                d,
                (centers, contexts, negatives),
                args.runs,
            ),
        ),
        (
            "jaxns shared",
            _time_jax_step(
                sgns_step_shared(lr), v, d, (centers, contexts, shared), args.runs
            ),
        ),
        (
            "naive JAX (dense grad)",
            _time_jax_step(
                sgns_step_naive(lr), v, d, (centers, contexts, negatives), args.runs
            ),
        ),
        (
            "PyTorch sparse Embedding",
            _time_torch(v, d, centers, contexts, negatives, lr, args.runs),
        ),
    ]
    for name, ms in rows:
        if ms is not None:
            # Shared negatives are another objective (k draws for the whole
            # batch instead of k per pair): a group of its own, so that no
            # ratio pairs it with the per-example peers.
            group = f"sgns step B={b} k={k}"
            if name == "jaxns shared":
                group += " (negatives shared by the batch)"
            _timing.record(group, name, seconds=ms / 1e3, work={"pairs": b})
    base = rows[0][1]
    print(
        f"{'method':<26} {'ms/step':>13} {'Mpairs/s':>9} {'time / jaxns per-ex.':>21}"
    )
    for name, ms in rows:
        if ms is None:
            print(f"{name:<26} {_fmt(ms):>13}")
            continue
        print(f"{name:<26} {_fmt(ms):>13} {b / ms / 1e3:9.2f} {ms / base:20.2f}x")
    times = dict(rows)
    # Same work on both sides: per-example negatives against the peers' own.
    for other in ("naive JAX (dense grad)", "PyTorch sparse Embedding"):
        if times[other] is not None:
            speedup = times[other] / times["jaxns per-example"]
            print(f"jaxns per-example is {speedup:.2f}x faster than {other}")
    print(
        "(jaxns shared draws k negatives for the whole batch, not k per pair: "
        "another objective, so it is not ranked against the peers)"
    )

    # Sampled softmax: shared negatives, logQ correction, forward + backward.
    n = args.sampled
    inputs = jax.random.normal(k_ss, (b, d)) * 0.1
    weights = jax.random.normal(jax.random.fold_in(k_ss, 1), (v, d)) * 0.1
    biases = jnp.zeros((v,))
    labels = contexts
    step = sampled_softmax_grad(n, v)
    call_args = (jax.random.fold_in(k_ss, 2), inputs, weights, biases, labels)
    jax_ms = _timing.median_ms(step, *call_args, repeats=args.runs)
    tf_ms = _time_tf_sampled_softmax(inputs, weights, biases, labels, n, args.runs)
    print(
        f"\nsampled softmax fwd+bwd: B={b}, {n} shared log-uniform candidates "
        f"(with replacement, hits removed), d={d}, V={v:,}"
    )
    print(f"{'method':<26} {'ms/step':>13} {'jaxns speedup':>14}")
    group = f"sampled softmax B={b} k={n}"
    _timing.record(group, "jaxns sampled_softmax", seconds=jax_ms / 1e3)
    if tf_ms is not None:
        _timing.record(group, "TensorFlow", seconds=tf_ms / 1e3)
    print(f"{'jaxns sampled_softmax':<26} {_fmt(jax_ms):>13} {1.0:13.2f}x")
    tf_ratio = "" if tf_ms is None else f"{tf_ms / jax_ms:13.2f}x"
    print(f"{'tf.nn.sampled_softmax_loss':<26} {_fmt(tf_ms):>13} {tf_ratio}")


if __name__ == "__main__":
    main()
