# SPDX-License-Identifier: Apache-2.0
"""The README's Python examples run, in order, as a user would paste them."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md block {i}", "exec"), namespace)
        except Exception as e:  # name the failing block
            raise AssertionError(f"README python block {i} failed: {e!r}") from e


def test_readme_names_every_package_of_the_extras_it_lists():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    text = (ROOT / "README.md").read_text()
    setup = " ".join(text[text.index("Core dependencies:") :].split("\n\n")[0].split())
    for extra in ("flax", "examples", "bench", "dev"):  # `docs` is not spelt out
        for requirement in extras[extra]:
            name = re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0]
            if name != "jax-negsampling":  # another extra, named by itself
                assert name in setup, (extra, name)
