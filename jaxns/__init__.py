# SPDX-License-Identifier: Apache-2.0
"""jaxns: vectorized negative sampling for JAX.

Samplers that draw negatives inside XLA with explicit keys, per-example
numerically stable losses, a word2vec pipeline and row-sparse Optax updates.
``jaxns.nn`` (Flax NNX modules) is imported on demand because Flax is optional.
"""

from jaxns import datasets as datasets
from jaxns import evaluation as evaluation
from jaxns import kg as kg
from jaxns import losses as losses
from jaxns import optim as optim
from jaxns import retrieval as retrieval
from jaxns import samplers as samplers
from jaxns import scoring as scoring
from jaxns import sharding as sharding
from jaxns import subwords as subwords
from jaxns import text as text
from jaxns import word2vec as word2vec
from jaxns import wordvectors as wordvectors

__version__ = "0.1.0"
