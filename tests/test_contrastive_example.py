# SPDX-License-Identifier: Apache-2.0
"""Tests of examples/contrastive.py: augmentations, parse-time errors, tiny runs."""

import importlib.util
import json
import lzma
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import assert_close

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location(
        "contrastive_example", ROOT / "examples" / "contrastive.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_translate_by_whole_pixels_shifts_with_zero_fill(example):
    x = jnp.arange(64, dtype=jnp.float32).reshape(8, 8)
    out = example.translate(x, jnp.array([1.0, -2.0]))
    ref = np.zeros((8, 8))
    ref[1:, :6] = np.asarray(x)[:7, 2:]
    assert_close(out, ref, atol=1e-5)


def test_crop_keeps_the_image_inside_and_erasing_zeroes_a_small_box(example):
    x = jnp.ones((8, 8))
    keys = jax.random.split(jax.random.key(0), 64)
    crops = jax.vmap(example.crop_and_resize, (0, None))(keys, x)
    # A crop inside a constant image stays constant (no zero padding leaks in).
    assert_close(crops, np.ones((64, 8, 8)), atol=1e-5)
    erased = jax.vmap(lambda k: example.random_erase(k, x, p=1.0))(keys)
    zeros = np.asarray((erased == 0).sum((1, 2)))
    assert zeros.min() >= 1 and zeros.max() <= 9


def test_label_masks_are_stratified_and_nested(example):
    labels = np.repeat(np.arange(10), 50)
    masks = example.label_masks(labels)
    assert masks[0.01].sum() == 10  # at least one label per class
    assert masks[0.1].sum() == 50 and masks[1.0].all()
    assert (masks[0.01] <= masks[0.1]).all()
    assert np.bincount(labels[masks[0.1]]).tolist() == [5] * 10


def test_definitions_ship_with_unique_headwords(example):
    pairs = example.load_definitions(10**9)
    assert len(pairs) > 50_000
    assert len({w for w, _ in pairs}) == len(pairs)
    with lzma.open(example.DEFINITIONS, "rt") as f:
        assert f.readline().count("\t") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr", "0"], "--lr: must be finite and > 0"),
        (["--lr", "nan"], "--lr: must be finite and > 0"),
        (["--batch-size", "0"], "--batch-size: must be >= 1"),
        (["--loss", "clip"], "--loss clip is not a simclr loss"),
        (["--mode", "clip", "--plot", "x.png"], "--plot draws the simclr probe"),
        (["--report", "/nonexistent-dir/r.json"], "does not exist"),
        (["--pairs", "600"], "--pairs has no effect with --mode simclr"),
        (["--held-out", "60"], "--held-out has no effect with --mode simclr"),
        (["--mode", "clip", "--draws", "3"], "--draws has no effect with --mode clip"),
        (
            ["--mode", "clip", "--temperature", "0.1"],
            "--temperature has no effect with --loss clip siglip (they learn theirs)",
        ),
        (
            ["--loss", "siglip", "--temperature", "0.1"],
            "--temperature has no effect with --loss siglip",
        ),
        (
            ["--loss", "ntxent", "dcl", "--siglip-bias", "0"],
            "--siglip-bias has no effect with --loss ntxent dcl",
        ),
        (["--siglip-bias", "nan"], "--siglip-bias must be finite, got nan"),
    ],
)
def test_bad_arguments_fail_at_parse_time(example, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        example.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "contrastive.py: error:" in err and message in err


def test_library_errors_are_one_line(example, capsys, monkeypatch):
    monkeypatch.delenv("JAXNS_DEBUG", raising=False)
    argv = ["--mode", "clip", "--pairs", "50", "--held-out", "60"]
    with pytest.raises(SystemExit) as exc:
        example.main(argv)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("contrastive.py: error: --held-out 60") and "\n" not in err
    monkeypatch.setenv("JAXNS_DEBUG", "1")  # the traceback, as --debug
    with pytest.raises(ValueError, match="--held-out 60"):
        example.main(argv)


@pytest.fixture
def standard_promotion():
    # Optax's Adam bias correction raises a Python float to an int32 power,
    # which the suite's strict promotion forbids; the example itself is fine.
    with jax.numpy_dtype_promotion("standard"):
        yield


def test_tiny_runs_write_reports(example, tmp_path, standard_promotion):
    report = tmp_path / "simclr.json"
    plot = tmp_path / "probe.png"
    argv = ["--loss", "ntxent", "--epochs", "1", "--batch-size", "512",
            "--block-size", "256", "--no-progress", "--report", str(report),
            "--plot", str(plot), "--draws", "2"]  # fmt: skip
    out = example.main(argv)
    saved = json.loads(report.read_text())
    assert set(saved["linear_probe_accuracy"]) == {
        "raw pixels", "random encoder", "ntxent"
    }  # fmt: skip
    assert saved["settings"]["block_size"] == 256
    assert out["linear_probe_accuracy"]["raw pixels"]["1"] > 0.9
    assert plot.read_bytes()[:4] == b"\x89PNG"
    report = tmp_path / "clip.json"
    argv = ["--mode", "clip", "--loss", "siglip", "--pairs", "600", "--held-out",
            "100", "--epochs", "1", "--batch-size", "128", "--no-progress",
            "--report", str(report)]  # fmt: skip
    example.main(argv)
    saved = json.loads(report.read_text())
    assert 0 <= saved["retrieval"]["siglip"]["recall@1"] <= 1
    assert saved["held_out"] == 100


def test_clip_batch_larger_than_the_pairs_is_one_line(example, capsys):
    argv = ["--mode", "clip", "--pairs", "600", "--held-out", "100", "--epochs",
            "1", "--batch-size", "1024", "--no-progress"]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        example.main(argv)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "contrastive.py: error: --batch-size 1024 exceeds the 500 training pairs"
    )


def test_clip_mode_uses_the_siglip_bias(example, standard_promotion):
    argv = ["--mode", "clip", "--loss", "siglip", "--pairs", "300", "--held-out",
            "44", "--epochs", "1", "--batch-size", "128", "--no-progress"]  # fmt: skip
    losses = {}
    for bias in ("-10", "0"):
        out = example.main([*argv, "--siglip-bias", bias])
        losses[bias] = out["retrieval"]["siglip"]["final_loss"]
    default = example.main(argv)["retrieval"]["siglip"]["final_loss"]
    assert default == losses["-10"]  # the default is the paper's -10
    # Bias 0 makes every pair's logit larger by 10: a much larger loss.
    assert losses["0"] > losses["-10"] + 1, losses


def test_flags_pass_where_they_have_an_effect(example):
    args = example.parse_args([])
    assert (args.pairs, args.held_out, args.draws, args.siglip_bias) == (
        20000, 1000, example.DRAWS, -10.0
    )  # fmt: skip
    args = example.parse_args(
        ["--mode", "clip", "--pairs", "600", "--held-out", "60", "--siglip-bias", "-5"]
    )
    assert (args.pairs, args.held_out, args.siglip_bias) == (600, 60, -5.0)
    args = example.parse_args(["--loss", "siglip", "ntxent", "--temperature", "0.3"])
    assert args.temperature == 0.3 and args.draws == example.DRAWS


def test_output_paths_expand_a_quoted_tilde(example, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    args = example.parse_args(["--report", "~/r.json", "--plot", "~/p.png"])
    assert (args.report, args.plot) == (
        str(tmp_path / "r.json"),
        str(tmp_path / "p.png"),
    )
