# SPDX-License-Identifier: Apache-2.0
"""One process of tests/test_distributed.py: ``python _distributed_worker.py
PROCESS_ID PORT OUT``. Two of them on 127.0.0.1 form one 2-device mesh (one
CPU device each, gloo collectives) and compute a vocabulary-sharded sampled
softmax and a cross-device CLIP loss with their gradients; process 0 writes
the results as .npz to OUT."""

import sys

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxns
from jaxns import sharding as sh

V, D, B, M = 16, 4, 8, 3


def data():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(V, D)).astype(np.float32)
    hidden = rng.normal(size=(B, D)).astype(np.float32)
    labels = rng.integers(0, V, B).astype(np.int32)
    counts = rng.integers(1, 30, V)
    return table, hidden, labels, counts


def main() -> None:
    process_id, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_default_matmul_precision", "highest")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=process_id,
        initialization_timeout=60,
    )
    try:
        assert jax.device_count() == 2 and jax.local_device_count() == 1
        mesh = Mesh(np.array(jax.devices()), ("vocab",))
        table, hidden, labels, counts = data()

        def put(x, spec):
            sharding = NamedSharding(mesh, spec)
            return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])

        t = put(table, P("vocab", None))
        h, y = put(hidden, P()), put(labels, P())
        sampler = sh.shard_sampler(jaxns.samplers.unigram(counts), 2, mesh=mesh)
        key = jax.random.key(11)

        # Global arrays enter jit as arguments (closing over them is an error).
        def softmax_total(h, t, y, sampler):
            loss = sh.sampled_softmax(key, h, y, t, sampler, num_per_shard=M, mesh=mesh)
            return loss.sum(), loss

        (_, loss), (gh, gt) = jax.jit(
            jax.value_and_grad(softmax_total, argnums=(0, 1), has_aux=True)
        )(h, t, y, sampler)
        image, text = put(hidden, P("vocab", None)), put(table[:B], P("vocab", None))

        def clip_total(x, z):
            loss = sh.clip(x, z, mesh=mesh, axis="vocab", temperature=0.5)
            return loss.sum(), loss

        (_, clip_loss), (gx, gz) = jax.jit(
            jax.value_and_grad(clip_total, argnums=(0, 1), has_aux=True)
        )(image, text)
        gather = multihost_utils.process_allgather
        results = {
            "loss": np.asarray(loss),
            "grad_hidden": np.asarray(gh),
            "grad_table": gather(gt, tiled=True),
            "clip_loss": gather(clip_loss, tiled=True),
            "clip_grad_image": gather(gx, tiled=True),
            "clip_grad_text": gather(gz, tiled=True),
        }
        if process_id == 0:
            np.savez(out, **results)
    finally:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
