# SPDX-License-Identifier: Apache-2.0
"""Test configuration: the strictest JAX numerics the library must survive."""

import jax

# Implicit dtype promotion and rank broadcasting hide bugs in library code.
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
# float32 matmuls in full precision on every backend (GPUs default to TF32), so
# float32 tolerances mean the same everywhere; see tests/helpers.py.
jax.config.update("jax_default_matmul_precision", "highest")
