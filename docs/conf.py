# SPDX-License-Identifier: Apache-2.0
"""Sphinx configuration for the jaxns documentation.

Build: ``pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
Notebooks (MyST markdown under ``notebooks/``) are executed at build time.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import jaxns  # noqa: E402

# The notebook kernels inherit this process's environment: an MPLBACKEND such as
# Agg (set by CI or a test) would make plt.show() draw nothing, and the pages
# would lose their plots without an error. Inline is what Jupyter itself uses.
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

project = "jaxns"
author = "The jaxns developers"
copyright = "2026, The jaxns developers"
release = jaxns.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    # MathJax served from the site itself, so math renders offline too.
    "sphinx-mathjax-offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"

# Google-style docstrings (the house style) through napoleon.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# NamedTuple fields: as :ivar: fields, not a second description of each member.
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# Show ``ArrayLike`` as written instead of expanding JAX's union of array types.
autodoc_type_aliases = {"ArrayLike": "jax.typing.ArrayLike"}
autodoc_default_options = {"members": True, "show-inheritance": False}
# Type hints name JAX/NumPy types that Sphinx cannot resolve offline.
nitpicky = False
suppress_warnings = ["myst.header"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# Executed notebooks: every build runs them (small, about a minute each on CPU).
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_title = f"jaxns {release}"
html_static_path = ["_static"]
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
