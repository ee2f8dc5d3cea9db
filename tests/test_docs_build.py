# SPDX-License-Identifier: Apache-2.0
"""The documentation site builds with warnings as errors, notebooks executed.

A broken docstring, cross-reference, notebook cell or missing plot fails this
test, and so fails CI (the README's test command runs it).
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_sphinx_build_without_warnings(tmp_path):
    # MPLBACKEND=Agg as CI may set it: conf.py must still give inline plots.
    # The notebooks train for real, so they run with XLA's usual code
    # generation, as for a reader, not conftest's fast-compile flag (with it
    # the word-vectors notebook took 33 s instead of 18).
    flags = os.environ.get("XLA_FLAGS", "").replace(
        "--xla_backend_optimization_level=0", ""
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        MPLBACKEND="Agg",
        XLA_FLAGS=" ".join(flags.split()),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    html = tmp_path / "html"
    for page in ("index.html", "performance.html", "api/losses.html"):
        assert (html / page).exists(), page
    # Every notebook in the toctree is a page; those that plot show their plots
    # (an image per plt.show(), not an empty output).
    notebooks = sorted((ROOT / "docs" / "notebooks").glob("*.md"))
    index = (ROOT / "docs" / "index.md").read_text()
    for notebook in notebooks:
        assert f"notebooks/{notebook.stem}" in index, notebook.name
        page = (html / "notebooks" / f"{notebook.stem}.html").read_text()
        shows = notebook.read_text().count("plt.show()")
        assert page.count("<img") >= shows, (notebook.name, shows)
    # Math is served from the site itself (renders offline).
    assert list(html.rglob("tex-chtml*.js")) or list(html.rglob("*mathjax*")), (
        "MathJax was not copied into the site"
    )
