# SPDX-License-Identifier: Apache-2.0
"""The benchmark runner's bookkeeping: ratios, the RESULTS.md splice, the plots.

The timings themselves are not tested (speed lives in benchmarks/); what is
tested is that the runner turns records into the right ratios, the report into
the right markdown, and a result file into three PNGs.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
import run  # noqa: E402


def _records():
    return {
        "losses": {
            "status": "ok",
            "script": "losses.py",
            "records": [
                {"group": "sgns", "label": "jaxns shared", "median_s": 0.002},
                {"group": "sgns", "label": "jaxns per-example", "median_s": 0.004},
                {"group": "sgns", "label": "naive JAX", "median_s": 0.050},
                {"group": "sgns", "label": "PyTorch", "median_s": 0.009},
                {"group": "other", "label": "PyTorch", "median_s": 1.0},
                {"group": "sgns", "label": "quality", "score": 0.5},
            ],
        }
    }


def test_ratios_take_the_best_jaxns_row_per_group():
    rows = run.ratios(_records())
    got = {(r["group"], r["against"]): r["speedup"] for r in rows}
    # 50 ms / 2 ms and 9 ms / 2 ms; the group without a jaxns row is skipped,
    # and so is a record without a time.
    assert got == pytest.approx({("sgns", "naive JAX"): 25.0, ("sgns", "PyTorch"): 4.5})
    assert {r["jaxns"] for r in rows} == {"jaxns shared"}


def _run_json(tmp_path):
    result = {
        "suite": "quick",
        "device_kind": "cpu",
        "device_count": 1,
        "backend": "cpu",
        "platform": "test",
        "cpu_count": 2,
        "versions": {"jax": "0", "jaxlib": "0", "optax": "0", "python": "3"},
        "date": "2026-01-01T00:00:00+00:00",
        "limits": {
            "measured_triad": {"bandwidth": 1e10},
            "peak": {"bandwidth": 1e10, "source": "STREAM-like triad"},
        },
        "kernels": [
            {
                "kernel": "alias draws",
                "size": {"vocab": v, "draws": 1000},
                "median_s": 1e-3,
                "bytes": 12e3,
                "flops": 0.0,
                "bandwidth": 12e6,
                "flop_rate": 0.0,
                "fraction_of_peak_bandwidth": 12e-4,
            }
            for v in (10, 100)
        ]
        + [
            {
                "kernel": "sgns step",
                "size": {"batch": b, "pairs": b},
                "median_s": 1e-3,
                "bytes": 1e6,
                "flops": 1e6,
                "bandwidth": 1e9,
                "flop_rate": 1e9,
                "fraction_of_peak_bandwidth": 0.1,
            }
            for b in (16, 32)
        ],
        "benchmarks": _records(),
        "ratios": run.ratios(_records()),
    }
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(result))
    return path, result


def test_report_replaces_only_the_marked_block(tmp_path):
    path, result = _run_json(tmp_path)
    md = tmp_path / "RESULTS.md"
    md.write_text("# Results\n\nhand-written analysis\n")
    report.main([str(path), "--results-md", str(md)])
    first = md.read_text()
    assert first.startswith("# Results\n\nhand-written analysis\n")
    assert "| losses | sgns | jaxns shared | naive JAX | 25.00x |" in first
    assert "| alias draws | vocab=10, draws=1,000 | 1.000 |" in first
    # Regenerating replaces the block instead of appending a second one.
    md.write_text(first + "\nnotes after the block\n")
    report.main([str(path), "--results-md", str(md)])
    second = md.read_text()
    assert second.count(report.BEGIN) == 1
    assert second.endswith("notes after the block\n")


def test_plot_writes_three_pngs(tmp_path):
    path, _ = _run_json(tmp_path)
    out = tmp_path / "plots"
    subprocess.run(
        [sys.executable, str(BENCH / "plot.py"), str(path), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    for name in ("speedup.png", "roofline.png", "scaling.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_peaks_match_device_kinds():
    assert run.peak_for("NVIDIA H200")["bandwidth"] == 4.8e12
    assert run.peak_for("NVIDIA H100 80GB HBM3")["bandwidth"] == 3.35e12
    assert run.peak_for("TPU v5 lite")["name"] == "TPU v5 lite"
    assert run.peak_for("cpu") is None


def _kg_result(train_seconds):
    side = {"mrr": 0.4, "hits@1": 0.2, "hits@10": 0.9}
    return {
        "positives_per_second": 1000.0 / train_seconds,
        "steady_positives_per_second": 2000.0 / train_seconds,
        "train_seconds": train_seconds,
        "wall_seconds": train_seconds + 3.0,
        "cpu_seconds": train_seconds + 2.0,
        "both": side,
        "head": side,
        "tail": side,
    }


def test_kg_records_pair_jaxns_and_pykeen_per_configuration(
    tmp_path, monkeypatch, capsys
):
    import kg_vs_pykeen

    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("JAXNS_BENCH_RECORD", str(record))
    monkeypatch.setattr(kg_vs_pykeen, "_train_size", lambda dataset: 1000)
    seconds = {"rotate": (2.0, 9.0), "transe": (1.0, 3.0)}
    monkeypatch.setattr(
        kg_vs_pykeen, "_jaxns", lambda a, c, t: _kg_result(seconds[c][0])
    )
    monkeypatch.setattr(
        kg_vs_pykeen, "_pykeen", lambda a, c, p, n: _kg_result(seconds[c][1])
    )
    kg_vs_pykeen.main(
        ["--quick", "--configs", "rotate", "transe", "--pykeen-python", "py"]
    )
    records = [json.loads(line) for line in record.read_text().splitlines()]
    assert {(r["group"], r["label"]) for r in records} == {
        ("kg rotate", "jaxns"),
        ("kg rotate", "PyKEEN"),
        ("kg transe", "jaxns"),
        ("kg transe", "PyKEEN"),
    }
    assert {r["dataset"] for r in records} == {"nations"}
    rows = run.ratios({"kg": {"records": records}})
    got = {(r["group"], r["jaxns"], r["against"]): r["speedup"] for r in rows}
    assert got == pytest.approx(
        {("kg rotate", "jaxns", "PyKEEN"): 4.5, ("kg transe", "jaxns", "PyKEEN"): 3.0}
    )
    assert "4.5x" in capsys.readouterr().out


def test_kg_without_pykeen_prints_jaxns_alone(tmp_path, monkeypatch, capsys):
    import kg_vs_pykeen

    monkeypatch.setenv("JAXNS_BENCH_RECORD", str(tmp_path / "records.jsonl"))
    monkeypatch.setattr(kg_vs_pykeen, "_train_size", lambda dataset: 1000)
    monkeypatch.setattr(kg_vs_pykeen, "_pykeen_python", lambda requested: None)
    monkeypatch.setattr(kg_vs_pykeen, "_jaxns", lambda a, c, t: _kg_result(2.0))
    kg_vs_pykeen.main(["--quick"])
    out = capsys.readouterr().out
    assert "PyKEEN: not installed" in out and "nan" not in out
    lines = {line[:28].strip(): line[28:].split() for line in out.splitlines()}
    assert lines["MRR both"] == ["-", "0.400"]
    assert lines["Hits@10 both"] == ["-", "0.900"]
    assert lines["positives/s (train loop)"] == ["-", "500"]


def test_kg_reports_a_missing_data_set_and_records_nothing(
    tmp_path, monkeypatch, capsys
):
    import kg_vs_pykeen

    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("JAXNS_BENCH_RECORD", str(record))
    kg_vs_pykeen.main(["--quick", "--dataset", str(tmp_path / "absent")])
    assert "not available" in capsys.readouterr().out
    assert not record.exists()


def test_every_script_has_a_quick_mode():
    for name, (script, quick, _) in run.SCRIPTS.items():
        assert (BENCH / script).exists(), name
        assert quick == ["--quick"], name
        assert '"--quick"' in (BENCH / script).read_text(), name


def test_cpu_only_scripts_are_skipped_on_accelerators_unless_named():
    for name in run.CPU_ONLY:
        assert name in run.SCRIPTS
        assert run.skip_reason(name, "cpu", False) is None
        assert run.skip_reason(name, "cpu", True) is None
        assert "host CPU" in run.skip_reason(name, "gpu", False)
        assert run.skip_reason(name, "tpu", True) is None
    assert run.skip_reason("skipgram", "gpu", False) is None


def _record_script_calls(monkeypatch) -> dict:
    """Replaces the runner's subprocess call: each script's arguments land in
    the returned dict, keyed by the script's file name."""
    calls = {}

    def fake_run(cmd, **kwargs):
        calls[pathlib.Path(cmd[1]).name] = cmd[2:]
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    return calls


def test_peer_pythons_reach_only_the_scripts_that_compare_with_them(monkeypatch):
    calls = _record_script_calls(monkeypatch)
    peers = {"torch": "/venv/torch/python", "pykeen": None, "recbole": "/rb/python"}
    for name in ("contrastive", "kg", "retrieval", "losses"):
        assert run.run_script(name, "quick", 60.0, {}, peers)["status"] == "ok"
    assert calls["contrastive.py"] == [
        "--quick",
        "--torch-python",
        "/venv/torch/python",
    ]
    assert calls["kg_vs_pykeen.py"] == ["--quick"]
    assert calls["retrieval_vs_recbole.py"] == [
        "--quick",
        "--recbole-python",
        "/rb/python",
    ]
    assert calls["losses.py"] == ["--quick"]
    # Each peer option is a real option of the script it is passed to.
    for peer, names in run.PEER_PYTHONS.items():
        for name in names:
            text = (BENCH / run.SCRIPTS[name][0]).read_text()
            assert f'"--{peer}-python"' in text, (peer, name)


def test_accelerator_arguments_reach_only_their_scripts(monkeypatch):
    calls = _record_script_calls(monkeypatch)
    for name in ("skipgram", "losses"):
        assert run.run_script(name, "full", 60.0, {}, None, True)["status"] == "ok"
    assert calls["skipgram_vs_gensim.py"] == ["--repeats", "1", "--large-updates"]
    assert calls["losses.py"] == []
    run.run_script("skipgram", "full", 60.0, {}, None, False)
    assert calls["skipgram_vs_gensim.py"] == ["--repeats", "1"]
    # Each accelerator option is a real option of its script.
    for name, extra in run.ACCELERATOR_ARGS.items():
        text = (BENCH / run.SCRIPTS[name][0]).read_text()
        for arg in extra:
            assert f'"{arg}"' in text, (name, arg)


def _tiny_interactions():
    import numpy as np

    from jaxns import retrieval

    return retrieval.Interactions(
        users=np.array([0, 0, 0, 1, 1, 1], np.int32),
        items=np.array([0, 1, 2, 0, 1, 2], np.int32),
        ratings=None,
        timestamps=None,
        user_to_id={"a": 0, "b": 1},
        item_to_id={"x": 0, "y": 1, "z": 2},
        user_features={},
        item_features={},
        source="toy",
    )


def test_retrieval_records_pair_jaxns_and_recbole(tmp_path, monkeypatch):
    import retrieval_vs_recbole as bench

    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("JAXNS_BENCH_RECORD", str(record))
    monkeypatch.setattr(
        bench.retrieval, "load_interactions", lambda name: _tiny_interactions()
    )
    metrics = {m: 0.25 for m in bench.AT10}
    recbole = {
        "split_codes": [0, 0, 2, 0, 1, 2],
        "test": metrics,
        "epochs": 3,
        "epoch_seconds": [0.4, 0.6, 0.5],
        "eval_seconds": [0.2, 0.2],
        "fit_seconds": 10.0,
    }
    monkeypatch.setattr(bench, "run_recbole", lambda args, data: recbole)
    ours = {
        "epochs": 3,
        "best_epoch": 2,
        "fit_seconds": 2.0,
        "test": metrics,
        "epoch_seconds": 0.1,
        "eval_seconds": 0.05,
    }
    monkeypatch.setattr(bench, "jaxns_run", lambda *a, **k: ours)
    # The example's fresh-process fits need the real data: faked here.
    monkeypatch.setattr(bench, "example_twice", lambda source, split: [3.0, 2.5])
    report = bench.main(["--recbole-python", "py", "--no-ablation"])
    assert report["split_sizes"] == (3, 1, 2)
    assert report["example_fit_seconds"] == [3.0, 2.5]
    records = [json.loads(line) for line in record.read_text().splitlines()]
    rows = run.ratios({"retrieval": {"records": records}})
    got = {(r["group"], r["jaxns"], r["against"]): r["speedup"] for r in rows}
    assert got == pytest.approx(
        {
            ("retrieval BPR epoch", "jaxns", "RecBole"): 5.0,
            ("retrieval full-ranking eval", "jaxns", "RecBole"): 4.0,
            ("retrieval whole fit", "jaxns", "RecBole"): 5.0,
        }
    )


def test_retrieval_compares_the_means_of_both_sides_seeds(
    tmp_path, monkeypatch, capsys
):
    import retrieval_vs_recbole as bench

    monkeypatch.setattr(
        bench.retrieval, "load_interactions", lambda name: _tiny_interactions()
    )

    def run(seed, fit, value):
        return {
            "seed": seed, "epochs": 4, "best_epoch": 2, "fit_seconds": fit,
            "test": {m: value for m in bench.AT10},
            "epoch_seconds": 0.1, "eval_seconds": 0.05,
        }  # fmt: skip

    seeds = [run(2020, 10.0, 0.30), run(2021, 14.0, 0.20), run(2022, 12.0, 0.40)]
    recbole = {
        **seeds[0],
        "seeds": seeds,
        "split_codes": [0, 0, 2, 0, 1, 2],
        "epoch_seconds": [0.4, 0.6, 0.5],
        "eval_seconds": [0.2, 0.2],
    }
    monkeypatch.setattr(bench, "run_recbole", lambda args, data: recbole)
    ours = {2020: run(2020, 2.0, 0.25), 2021: run(2021, 4.0, 0.35)}
    monkeypatch.setattr(
        bench, "jaxns_run", lambda flags, data, split, *, seed, **k: ours[seed]
    )
    monkeypatch.setattr(bench, "example_twice", lambda source, split: [3.0, 2.5])
    report = bench.main(
        ["--recbole-python", "py", "--no-ablation", "--recbole-seeds", "3",
         "--bpr-seeds", "2"]
    )  # fmt: skip
    means = report["bpr_means"]
    assert means["RecBole"]["test"]["mrr@10"] == pytest.approx(0.30)
    assert means["jaxns"]["test"]["mrr@10"] == pytest.approx(0.30)
    out = capsys.readouterr().out
    # standard deviations: RecBole's of (0.3, 0.2, 0.4), jaxns's of (0.25, 0.35)
    assert "RecBole sd" in out and f"{np.std([0.3, 0.2, 0.4]):.4f}" in out
    assert "jaxns sd" in out and "0.0500" in out
    assert "diff of means" in out
    # whole fits: medians 12 vs 3 s (4.0x), slowest 14 vs 4 s (3.5x)
    assert "4.0x" in out and "3.5x" in out


def test_retrieval_reports_missing_data_and_records_nothing(
    tmp_path, monkeypatch, capsys
):
    import retrieval_vs_recbole as bench

    def missing(name):
        raise FileNotFoundError("load_interactions: not here")

    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("JAXNS_BENCH_RECORD", str(record))
    monkeypatch.setattr(bench.retrieval, "load_interactions", missing)
    assert bench.main(["--quick"]) == {}
    assert "movielens-100k: not available" in capsys.readouterr().out
    assert not record.exists()


_FAKE_PYTHON = """\
import json, os, pathlib, shutil, sys

# A bare machine's python: pip only records what it is asked to install, the
# runner writes the canned result file, and flax, gensim and matplotlib fail to
# import until the bench extra has been "installed".
here = pathlib.Path(__file__).parent
args = sys.argv[1:]
with open(here / "calls.jsonl", "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["-m", "pip"]:
    if any(a.startswith("matplotlib") for a in args):
        (here / "installed").touch()
    sys.exit(0)
if args and args[0].endswith("run.py"):
    shutil.copy(here / "result.json", args[args.index("--out") + 1])
    sys.exit(0)
env = dict(os.environ)
if not (here / "installed").exists():
    env["PYTHONPATH"] = str(here / "bare") + os.pathsep + env.get("PYTHONPATH", "")
os.execve(REAL, [REAL, *args], env)
"""

_BARE_SITE = """\
import importlib.abc, sys


class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("flax", "gensim", "matplotlib"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Missing())
"""


def test_accelerator_script_installs_the_bench_extra_before_plotting(tmp_path):
    # benchmarks/accelerator.sh on a machine with JAX but without the bench
    # extra: it installs the extra's requirements (read from pyproject.toml)
    # after JAX and before the plots, which then come out.
    path, _ = _run_json(tmp_path)
    (tmp_path / "result.json").write_text(path.read_text())
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "sitecustomize.py").write_text(_BARE_SITE)
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nREAL = {sys.executable!r}\n" + _FAKE_PYTHON)
    fake.chmod(0o755)
    out = tmp_path / "out dir"
    proc = subprocess.run(
        ["bash", str(BENCH / "accelerator.sh")],
        env={**os.environ, "PYTHON": str(fake), "OUT": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [
        json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()
    ]
    pips = [i for i, c in enumerate(calls) if c[:2] == ["-m", "pip"]]
    plot = [i for i, c in enumerate(calls) if c and c[0].endswith("plot.py")]
    assert len(pips) == 1 and len(plot) == 1, calls
    assert pips[0] < plot[0]
    for package in ("flax", "gensim", "matplotlib"):
        assert any(a.startswith(package) for a in calls[pips[0]]), calls[pips[0]]
    for name in ("speedup.png", "roofline.png", "scaling.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    path, _ = _run_json(tmp_path)
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "sitecustomize.py").write_text(_BARE_SITE)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "plot.py"), str(path), "-o", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "bare")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("plot.py: error: matplotlib is not installed")
    assert proc.stderr.count("\n") == 1 and "[bench]" in proc.stderr


@pytest.mark.parametrize("script", ["plot.py", "report.py"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("{", "{path} is not JSON: Expecting property name"),
        ("[1, 2]", "{path} is not a result file of benchmarks/run.py"),
        ('{"suite": "quick"}', "{path} is not a result file of benchmarks/run.py"),
    ],
)
def test_plot_and_report_refuse_a_bad_result_file_in_one_line(
    tmp_path, script, content, message
):
    path = tmp_path / "results" / "cpu.json"  # as the README's glob, unmatched
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)
    md = tmp_path / "RESULTS.md"
    extra = ["--results-md", str(md)] if script == "report.py" else ["-o", str(md)]
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), str(path), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and not md.exists()
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{script}: error: " + message.format(path=path)), line


def test_sharding_help_states_its_whole_first_sentence():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "sharding.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    # The description was the docstring's first line, cut after "and".
    assert "word2vec against gensim's worker threads." in " ".join(proc.stdout.split())
