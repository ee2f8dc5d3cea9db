# SPDX-License-Identifier: Apache-2.0
"""Two processes on the loopback address (jax.distributed, gloo CPU collectives)
compute the same sharded losses as one process (tests/_distributed_worker.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxns
from jaxns import sharding as sh
from tests import _distributed_worker as worker
from tests.helpers import assert_close

TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reference():
    table, hidden, labels, counts = (jnp.asarray(x) for x in worker.data())
    sampler = sh.shard_sampler(jaxns.samplers.unigram(counts), 2)
    key = jax.random.key(11)
    ids, log_e = sampler.candidates(key, worker.M)

    def softmax_total(h, t):
        loss = jaxns.losses.sampled_softmax(
            jnp.sum(h * t[labels], -1),
            h @ t[ids].T,
            pos_log_q=sampler.log_expected_count(labels, worker.M),
            neg_log_q=log_e,
            where=ids[None, :] != labels[:, None],
        )
        return loss.sum(), loss

    (_, loss), grads = jax.value_and_grad(softmax_total, (0, 1), has_aux=True)(
        hidden, table
    )

    def clip_total(x, z):
        loss = jaxns.losses.clip(x, z, temperature=0.5)
        return loss.sum(), loss

    (_, clip_loss), clip_grads = jax.value_and_grad(clip_total, (0, 1), has_aux=True)(
        hidden, table[: worker.B]
    )
    return loss, grads, clip_loss, clip_grads


def test_two_processes_on_loopback_match_one_process(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "result.npz"
    port = str(_free_port())
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    script = os.path.join(root, "tests", "_distributed_worker.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, str(i), port, str(out)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for p in procs:  # never leave a worker behind
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)[-6000:]
    got = np.load(out)
    loss, grads, clip_loss, clip_grads = _reference()
    assert_close(got["loss"], loss, loose=True)
    assert_close(got["grad_hidden"], grads[0], loose=True)
    assert_close(got["grad_table"], grads[1], loose=True)
    assert_close(got["clip_loss"], clip_loss, loose=True)
    assert_close(got["clip_grad_image"], clip_grads[0], loose=True)
    assert_close(got["clip_grad_text"], clip_grads[1], loose=True)
