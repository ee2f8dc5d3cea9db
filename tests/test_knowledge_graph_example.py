# SPDX-License-Identifier: Apache-2.0
"""examples/knowledge_graph.py's command line: flags that would have no effect."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import knowledge_graph  # noqa: E402


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--loss", "softplus", "--margin", "5"], "--margin: --loss softplus"),
        (["--loss", "bce", "--margin", "5"], "--margin: --loss bce"),
        (["--loss", "softmax", "--margin", "5"], "--margin: --loss softmax"),
        (["--loss", "margin", "--adversarial-temperature", "2"],
         "--adversarial-temperature: --loss margin"),
        (["--loss", "softplus", "--adversarial-temperature", "2"],
         "--adversarial-temperature: --loss softplus"),
        (["--model", "transe", "--rotate-variant", "sun"],
         "--rotate-variant: --model transe"),
        (["--model", "complex", "--rotate-variant", "pykeen"],
         "--rotate-variant: --model complex"),
    ],
)  # fmt: skip
def test_flags_without_effect_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as err:
        knowledge_graph.parse_args(flags)
    assert err.value.code == 2
    flag, setting = message.split(": ")
    expected = f"knowledge_graph.py: error: {flag} has no effect with {setting}"
    assert capsys.readouterr().err.splitlines()[-1] == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], (None, 1.0, "pykeen")),
        (["--loss", "nssa", "--margin", "9", "--adversarial-temperature", "0.5"],
         (9.0, 0.5, "pykeen")),
        (["--loss", "margin", "--margin", "2"], (2.0, 1.0, "pykeen")),
        (["--loss", "softmax", "--adversarial-temperature", "3"],
         (None, 3.0, "pykeen")),
        (["--model", "rotate", "--rotate-variant", "sun"], (None, 1.0, "sun")),
    ],
)  # fmt: skip
def test_flags_pass_where_they_have_an_effect(flags, expected):
    args = knowledge_graph.parse_args(flags)
    assert (args.margin, args.adversarial_temperature, args.rotate_variant) == expected


def test_report_expands_a_quoted_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    args = knowledge_graph.parse_args(["--report", "~/r.json"])
    assert args.report == str(tmp_path / "r.json")


def test_run_time_errors_exit_1_in_one_line(tmp_path, monkeypatch, capsys):
    # Usage errors exit 2 (argparse); an error while running exits 1, in one
    # line, as in the other examples; JAXNS_DEBUG=1 shows the traceback.
    monkeypatch.delenv("JAXNS_DEBUG", raising=False)
    missing = tmp_path / "missing"
    with pytest.raises(SystemExit) as err:
        knowledge_graph.main(["--dataset", str(missing), "--no-progress"])
    assert err.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"knowledge_graph.py: error: load_triples: '{missing}'")
    monkeypatch.setenv("JAXNS_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="is neither one of"):
        knowledge_graph.main(["--dataset", str(missing), "--no-progress"])
