# SPDX-License-Identifier: Apache-2.0
"""Every public function is documented, and every docstring example runs."""

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "jaxns.samplers",
    "jaxns.scoring",
    "jaxns.losses",
    "jaxns.text",
    "jaxns.datasets",
    "jaxns.evaluation",
    "jaxns.optim",
    "jaxns.wordvectors",
    "jaxns.word2vec",
    "jaxns.nn",
    "jaxns.kg",
    "jaxns.sharding",
    "jaxns.retrieval",
    "jaxns.subwords",
]
# References are asked for only where there is a paper or a peer to cite, so
# they are not required (a mandatory section produced filler).
SECTIONS = ("Returns:", "Examples:")


def _public_functions(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for meth_name, meth in vars(obj).items():
                if inspect.isfunction(meth) and not meth_name.startswith("_"):
                    yield f"{name}.{meth_name}", meth


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_are_documented(name):
    module = importlib.import_module(name)
    missing = []
    for fname, fn in _public_functions(module):
        doc = inspect.getdoc(fn) or ""
        params = [p for p in inspect.signature(fn).parameters if p != "self"]
        # Args: only when there is an argument to describe (no "Args: None").
        required = SECTIONS + (("Args:",) if params else ())
        lacking = [s for s in required if s not in doc]
        # Short accessors on data classes may skip References/Examples.
        if fname.count(".") and len(doc.splitlines()) <= 3 and doc:
            continue
        if lacking:
            missing.append(f"{fname}: {lacking}")
    assert not missing, "\n".join(missing)
