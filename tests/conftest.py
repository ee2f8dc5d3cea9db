# SPDX-License-Identifier: Apache-2.0
"""Test configuration: the strictest JAX numerics the library must survive."""

import atexit
import os
import pathlib
import shutil
import tempfile

# Tests run thousands of tiny programs, so compiling dominates their time:
# skip LLVM's machine-code optimisation (XLA's own HLO passes still run, so
# every test checks the same program a user gets, only less tuned). Set before
# JAX starts its backend; subprocesses (examples, notebooks) inherit it.
_FAST_COMPILE = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()
    )

# One persistent compilation cache per run, shared by the xdist workers and
# every subprocess (the eight-device run, the examples): many tests compile
# the same programs again (a trainer built per test, the same loss at the
# same shapes in both workers), and XLA's compile is most of the suite's
# time. The first process to load this file makes an empty directory, so a
# run never reads another run's programs; it is removed when that process
# ends (and by the next run, if this one is killed first). A user's own
# JAX_COMPILATION_CACHE_DIR is left as it is.
_PREFIX = "jaxns-tests-xla-"


def _remove_stale_caches() -> None:
    """Removes the caches of earlier runs that were killed before their
    clean-up (their directory names their process, which no longer runs)."""
    for path in pathlib.Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = path.name[len(_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive (another user's), or not ours to signal
            pass


if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _remove_stale_caches()
    _CACHE = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

import jax  # noqa: E402

# Implicit dtype promotion and rank broadcasting hide bugs in library code.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
# float32 matmuls in full precision on every backend (GPUs default to TF32), so
# float32 tolerances mean the same everywhere; see tests/helpers.py.
jax.config.update("jax_default_matmul_precision", "highest")


def pytest_collection_modifyitems(config, items):
    """Runs ``eight_devices`` tests only where eight host devices exist.

    tests/test_sharding.py re-runs itself in a subprocess with eight simulated
    host devices (JAX fixes the device count at start-up); there the marked
    tests run and the launcher is left out, here the launcher runs alone.
    """
    inner = os.environ.get("JAXNS_SHARDING_INNER") == "1"
    keep, drop = [], []
    for item in items:
        marked = item.get_closest_marker("eight_devices") is not None
        launcher = item.name == "test_on_eight_host_devices"
        (drop if (marked != inner or (inner and launcher)) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    # The longest tests first, so that the xdist workers do not wait on one
    # of them at the end of the run (each takes minutes on 2 cores).
    items.sort(key=lambda item: item.name not in _LONGEST)


_LONGEST = frozenset(
    {
        "test_on_eight_host_devices",
        "test_sphinx_build_without_warnings",
        "test_readme_python_blocks_run",
    }
)
