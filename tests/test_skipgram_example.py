# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of examples/skipgram.py on small local corpora."""

import argparse
import collections
import importlib.util
import json
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_close

import jaxns

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def skipgram():
    spec = importlib.util.spec_from_file_location(
        "skipgram_example", ROOT / "examples" / "skipgram.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(600):
        topic = rng.integers(3)
        words = topic * 10 + rng.integers(0, 10, 10)
        lines.append(" ".join(f"w{i}" for i in words))
    path = tmp_path_factory.mktemp("corpus") / "topics.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _args(skipgram, corpus, *extra):
    return skipgram.parse_args(
        [
            "--corpus", str(corpus), "--epochs", "2", "--dim", "8", "--window", "2",
            "--batch-size", "64", "--chunk-size", "8", "--chunk-negatives", "8",
            "--steps-per-call", "4", "--min-count", "1", "--no-progress", *extra,
        ]
    )  # fmt: skip


@pytest.mark.parametrize("large", [[], ["--shuffle", "--max-row-rate", "0.05"]])
def test_resume_after_interruption_equals_uninterrupted_run(
    skipgram, corpus, tmp_path, large
):
    _, full, stats = skipgram.train(_args(skipgram, corpus, *large))
    assert not stats["interrupted"]
    ckpt = tmp_path / "ckpt"
    args = _args(skipgram, corpus, "--checkpoint", str(ckpt), *large)
    # Interrupt twice: once inside epoch 1, once inside epoch 2.
    _, _, s1 = skipgram.train(args, stop_after_calls=3)
    assert s1["interrupted"]
    _, _, s2 = skipgram.train(args, stop_after_calls=5)
    assert s2["interrupted"]
    _, resumed, s3 = skipgram.train(args)
    assert not s3["interrupted"]
    np.testing.assert_array_equal(np.asarray(resumed.input), np.asarray(full.input))
    np.testing.assert_array_equal(np.asarray(resumed.output), np.asarray(full.output))
    # A finished checkpoint trains nothing more.
    _, again, s4 = skipgram.train(args)
    np.testing.assert_array_equal(np.asarray(again.input), np.asarray(full.input))
    # Other settings refuse to resume from it.
    other = _args(skipgram, corpus, "--checkpoint", str(ckpt), "--seed", "7")
    with pytest.raises(ValueError, match="other settings"):
        skipgram.train(other)
    if large:  # the flags reach the trainer: each changes the result
        for flag in (large[:1], large[1:]):
            _, alone, _ = skipgram.train(_args(skipgram, corpus, *flag))
            assert not np.allclose(np.asarray(alone.input), np.asarray(full.input))


def test_checkpoint_of_another_corpus_is_refused(skipgram, corpus, tmp_path):
    """The same path with other contents (new words appended) must not resume."""
    text = tmp_path / "topics.txt"
    text.write_text(corpus.read_text())
    ckpt = tmp_path / "ckpt"
    args = _args(skipgram, text, "--checkpoint", str(ckpt))
    _, _, stats = skipgram.train(args, stop_after_calls=2)
    assert stats["interrupted"]
    extra = [" ".join(f"w{30 + (i + j) % 10}" for j in range(10)) for i in range(50)]
    with text.open("a") as f:
        f.write("\n".join(extra) + "\n")
    with pytest.raises(ValueError, match="another corpus"):
        skipgram.train(args)
    # Same words, other counts: refused too.
    text.write_text(corpus.read_text() + "w0 w1\n")
    with pytest.raises(ValueError, match="another corpus"):
        skipgram.train(args)


def test_checkpoint_arrays_of_other_shapes_are_refused(skipgram, corpus, tmp_path):
    ckpt = tmp_path / "ckpt"
    args = _args(skipgram, corpus, "--checkpoint", str(ckpt))
    vocab, params, stats = skipgram.train(args, stop_after_calls=1)
    raw = stats["raw_words"]
    wrong = params._replace(input=jnp.zeros((len(vocab) + 1, 8)))
    skipgram.save_checkpoint(ckpt, args, vocab, raw, wrong, (), 0, 1, 1.0)
    with pytest.raises(ValueError, match=r"leaf_0 has shape \(31, 8\), expected"):
        skipgram.train(args)


def test_finished_checkpoint_reports_complete_and_its_loss(
    skipgram, corpus, tmp_path, capsys
):
    ckpt, report = tmp_path / "ckpt", tmp_path / "report.json"
    flags = [
        "--corpus", str(corpus), "--epochs", "1", "--dim", "8", "--window", "2",
        "--batch-size", "64", "--chunk-size", "8", "--steps-per-call", "4",
        "--min-count", "1", "--no-progress", "--no-eval", "--no-compile-cache",
        "--checkpoint", str(ckpt), "--report", str(report),
    ]  # fmt: skip
    first = skipgram.main(flags)
    assert np.isfinite(first["final_loss"])
    capsys.readouterr()
    again = skipgram.main(flags)
    out = capsys.readouterr().out
    assert "the run is complete (1 epochs)" in out and "resuming" not in out
    assert again["final_loss"] == first["final_loss"]
    text = report.read_text()
    assert "NaN" not in text
    assert json.loads(text)["final_loss"] == first["final_loss"]


def test_report_is_strict_json_when_no_pair_can_be_scored(skipgram, corpus, tmp_path):
    # The corpus's words (w0, w1, ...) are in no similarity pair: the Spearman
    # scores are nan, written as null (NaN is not JSON).
    report = tmp_path / "report.json"
    stats = skipgram.main(
        ["--corpus", str(corpus), "--epochs", "1", "--dim", "8", "--min-count",
         "1", "--no-progress", "--no-compile-cache", "--report", str(report)]
    )  # fmt: skip
    assert np.isnan(stats["wordsim353"]) and np.isnan(stats["simlex999"])

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    saved = json.loads(report.read_text(), parse_constant=refuse)
    assert saved["wordsim353"] is None and saved["simlex999"] is None
    assert saved["analogy_questions"] == 0 and saved["vocab_size"] == 30


@pytest.mark.parametrize("binary", [False, True])
def test_saved_vectors_read_by_gensim_in_frequency_order(
    skipgram, corpus, tmp_path, binary
):
    gensim_models = pytest.importorskip("gensim.models")
    out = tmp_path / ("vectors.bin" if binary else "vectors.txt")
    flags = [
        "--corpus", str(corpus), "--epochs", "1", "--dim", "8", "--min-count", "1",
        "--batch-size", "64", "--chunk-size", "8", "--steps-per-call", "2",
        "--no-progress",
    ]  # fmt: skip
    stats = skipgram.main(
        [*flags, "--no-eval", "--save", str(out), "--no-compile-cache"]
        + ["--threads", "0"]
        + (["--binary"] if binary else [])
    )
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(out), binary=binary)
    # Rows in decreasing corpus frequency, ties in order of first appearance,
    # counted here independently of jaxns.
    tokens = corpus.read_text().split()
    counts = collections.Counter(tokens)
    first = {w: i for i, w in reversed(list(enumerate(tokens)))}
    expected = sorted(counts, key=lambda w: (-counts[w], first[w]))
    assert kv.index_to_key == expected and stats["vocab_size"] == len(expected)
    # The rows are the trained input vectors (training is deterministic).
    _, params, _ = skipgram.train(skipgram.parse_args([*flags, "--threads", "0"]))
    trained = np.asarray(params.input)
    assert kv.vectors.shape == trained.shape == (30, 8)
    if binary:
        np.testing.assert_array_equal(kv.vectors, trained)
    else:  # 9 significant digits round-trip float32
        np.testing.assert_allclose(kv.vectors, trained, rtol=1e-7, atol=0)


def _ones_probe():
    """An optimizer that makes every touched row's update ones: a row's change
    is minus the learning rate of each update that touched it."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(jnp.ones_like, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def test_learning_rate_decays_linearly_over_raw_words(skipgram, tmp_path, monkeypatch):
    """gensim's schedule: alpha = lr - (lr - min_lr) * words / (epochs * raw),
    words counting every raw word (also those below min_count)."""
    rng = np.random.default_rng(1)
    common = [f"c{i}" for i in range(30)] * 2  # each twice: kept at min_count 2
    rare = [f"r{i}" for i in range(20)]  # each once: dropped, but raw words
    words = list(rng.permutation(common + rare))
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(words[i : i + 10]) for i in range(0, 80, 10)))
    zeros = jaxns.word2vec.SkipGramParams  # tables start at 0: changes read back
    monkeypatch.setattr(
        jaxns.word2vec,
        "init_params",
        lambda key, v, d: zeros(jnp.zeros((v, d)), jnp.zeros((v, d))),
    )
    monkeypatch.setitem(skipgram.OPTIMIZERS, "probe", _ones_probe)
    epochs, lr, min_lr, window, batch, steps = 2, 0.05, 0.001, 1, 8, 2
    args = skipgram.parse_args(
        [
            "--corpus", str(path), "--epochs", str(epochs), "--dim", "2",
            "--window", str(window), "--batch-size", str(batch), "--chunk-size", "8",
            "--steps-per-call", str(steps), "--min-count", "2", "--sample", "0",
            "--lr", str(lr), "--min-lr", str(min_lr), "--optimizer", "probe",
            "--no-progress",
        ]
    )  # fmt: skip
    vocab, params, stats = skipgram.train(args)
    raw = stats["raw_words"]
    assert raw == 80 and len(vocab) == 30
    ids = vocab.encode([words[i : i + 10] for i in range(0, 80, 10)]).ids
    num_calls = -(-len(ids) // (batch * steps))
    expected = np.zeros(len(vocab))
    for epoch in range(epochs):
        for g in range(num_calls * steps):  # update g reads stream[g * batch :]
            call, i = divmod(g, steps)
            done = epoch * raw + raw * (call + i / steps) / num_calls
            alpha = lr - (lr - min_lr) * done / (epochs * raw)
            # stream position k + window holds token k
            lo, hi = g * batch - window, g * batch + batch + window
            touched = set(ids[max(lo, 0) : max(hi, 0)].tolist())
            expected[list(touched)] -= alpha
    assert_close(
        np.asarray(params.input), np.repeat(expected[:, None], 2, 1),
        loose=True,
    )  # fmt: skip


_BAD_OUTPUT = [
    ("save in a missing directory", ["--save", "{tmp}/no/such/dir/v.txt"],
     "--save .*: directory .* does not exist"),
    ("save onto a directory", ["--save", "{tmp}"], "--save .*: is a directory"),
    ("report in a missing directory", ["--report", "{tmp}/missing/r.json"],
     "--report .*does not exist"),
    ("checkpoint onto a file", ["--checkpoint", "{tmp}/file"],
     "--checkpoint .*: exists and is not a directory"),
    ("checkpoint under a file", ["--checkpoint", "{tmp}/file/sub"],
     "--checkpoint .*is not a directory"),
    ("lr nan", ["--lr", "nan"], "argument --lr: a learning rate must be finite"),
    ("lr inf", ["--lr", "inf"], "argument --lr: a learning rate must be finite"),
    ("lr negative", ["--lr", "-0.1"], "argument --lr: .* > 0, got '-0.1'"),
    ("lr zero", ["--lr", "0"], "argument --lr: .* > 0"),
    ("lr text", ["--lr", "fast"], "argument --lr: not a number: 'fast'"),
    ("min-lr zero", ["--min-lr", "0"], "argument --min-lr: .* > 0"),
    ("min-lr nan", ["--min-lr", "nan"], "argument --min-lr: .*finite"),
    ("max-row-rate zero", ["--max-row-rate", "0"], "argument --max-row-rate: .* > 0"),
    ("max-row-rate inf", ["--max-row-rate", "inf"],
     "argument --max-row-rate: .*finite"),
    ("chunk-size zero", ["--chunk-size", "0"], "--chunk-size must be >= 1"),
    ("chunk-size negative", ["--chunk-size", "-8"], "--chunk-size must be >= 1"),
    ("threads negative", ["--threads", "-1"], "--threads must be >= 0"),
    ("devices zero", ["--devices", "0"], "--devices must be >= 1"),
    ("merge-every zero", ["--devices", "2", "--merge-every", "0"],
     "--merge-every must be >= 1"),
    ("merge-every without devices", ["--merge-every", "4"],
     "--merge-every has no effect without --devices > 1"),
    ("merge-rows without devices", ["--merge-rows", "touched"],
     "--merge-rows has no effect without --devices > 1"),
    ("merge-rows unknown", ["--devices", "2", "--merge-rows", "some"],
     "argument --merge-rows: invalid choice: 'some'"),
    ("devices with adam", ["--devices", "2", "--optimizer", "adam"],
     "--devices > 1 needs --optimizer sgd"),
    ("devices with checkpoint", ["--devices", "2", "--checkpoint", "{tmp}/c"],
     "--checkpoint needs --devices 1"),
    ("min-n without subwords", ["--min-n", "2"],
     "--min-n has no effect without --subwords"),
    ("max-n without subwords", ["--max-n", "4"],
     "--max-n has no effect without --subwords"),
    ("buckets without subwords", ["--buckets", "100"],
     "--buckets has no effect without --subwords"),
    ("binary without save", ["--binary"], "--binary has no effect without --save"),
    ("checkpoint-every without checkpoint", ["--checkpoint-every", "5"],
     "--checkpoint-every has no effect without --checkpoint"),
    ("checkpoint-every nan", ["--checkpoint", "{tmp}/c", "--checkpoint-every",
     "nan"], "--checkpoint-every must be finite and >= 0, got nan"),
    ("checkpoint-every negative", ["--checkpoint", "{tmp}/c", "--checkpoint-every",
     "-5"], "--checkpoint-every must be finite and >= 0, got -5.0"),
]  # fmt: skip


@pytest.mark.parametrize(
    "flags,match", [c[1:] for c in _BAD_OUTPUT], ids=[c[0] for c in _BAD_OUTPUT]
)
def test_bad_flags_fail_before_training(
    skipgram, tmp_path, capsys, monkeypatch, flags, match
):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(skipgram, "train", lambda *a, **k: pytest.fail("trained"))
    flags = [f.format(tmp=tmp_path) for f in flags]
    with pytest.raises(SystemExit) as exit_info:
        skipgram.main(["--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(f"skipgram: error: {match}.*", err[-1]), err


def test_writable_outputs_pass_the_checks(skipgram, tmp_path):
    args = skipgram.parse_args(
        ["--save", str(tmp_path / "v.txt"), "--report", str(tmp_path / "r.json"),
         "--checkpoint", str(tmp_path / "new" / "ckpt")]
    )  # fmt: skip
    assert args.save.endswith("v.txt") and not (tmp_path / "new").exists()


def test_flags_pass_where_they_have_an_effect(skipgram, tmp_path):
    args = skipgram.parse_args([])
    assert (args.min_n, args.max_n, args.buckets) == (3, 6, 2_000_000)
    assert args.checkpoint_every == 60.0
    args = skipgram.parse_args(
        ["--subwords", "--min-n", "2", "--max-n", "4", "--buckets", "100",
         "--save", str(tmp_path / "v.bin"), "--binary",
         "--checkpoint", str(tmp_path / "c"), "--checkpoint-every", "0"]
    )  # fmt: skip
    assert (args.min_n, args.max_n, args.buckets) == (2, 4, 100)
    assert args.binary and args.checkpoint_every == 0.0


def test_benchmark_passes_the_example_only_flags_it_accepts(skipgram, monkeypatch):
    # benchmarks/skipgram_vs_gensim.py spells out every shared hyperparameter.
    spec = importlib.util.spec_from_file_location(
        "skipgram_vs_gensim", ROOT / "benchmarks" / "skipgram_vs_gensim.py"
    )
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec.loader.exec_module(bench)
    for subwords in (False, True):
        args = argparse.Namespace(**bench.example_defaults(), subwords=subwords)
        parsed = skipgram.parse_args(bench._common_flags(args))
        assert parsed.subwords == subwords
        assert (parsed.min_n, parsed.max_n, parsed.buckets) == (3, 6, 2_000_000)


def test_output_paths_expand_a_quoted_tilde(skipgram, tmp_path, monkeypatch):
    # The checks looked at ~/..., the writes at a folder named "~" in the
    # working directory (failing after training).
    monkeypatch.setenv("HOME", str(tmp_path))
    args = skipgram.parse_args(
        ["--subwords", "--save", "~/v.txt", "--report", "~/r.json",
         "--save-fasttext", "~/m.bin", "--checkpoint", "~/ckpt"]
    )  # fmt: skip
    assert (args.save, args.report, args.save_fasttext, args.checkpoint) == tuple(
        str(tmp_path / name) for name in ("v.txt", "r.json", "m.bin", "ckpt")
    )


def test_library_errors_print_one_line(skipgram, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXNS_DEBUG", raising=False)
    missing = tmp_path / "missing.txt"
    with pytest.raises(SystemExit) as exit_info:
        skipgram.main(["--corpus", str(missing), "--no-progress"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(
        f"skipgram: error: datasets.load_encoded_corpus: no such file: {missing}"
    )
    assert "Traceback" not in err[0]
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    with pytest.raises(SystemExit):
        skipgram.main(["--corpus", str(rare), "--no-progress"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        "skipgram: error: datasets.load_encoded_corpus: no word occurs"
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_exception(skipgram, tmp_path, monkeypatch, how):
    missing = tmp_path / "missing.txt"
    flags = ["--corpus", str(missing), "--no-progress"]
    if how == "flag":
        flags.append("--debug")
    else:
        monkeypatch.setenv("JAXNS_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        skipgram.main(flags)


def test_bad_corpus_errors_name_the_file(skipgram, tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        skipgram.train(_args(skipgram, missing))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt"):
        skipgram.train(_args(skipgram, empty))
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    with pytest.raises(ValueError, match="min_count=5"):
        skipgram.train(skipgram.parse_args(["--corpus", str(rare), "--no-progress"]))


def test_xla_threads_follow_nproc_then_the_cores_the_run_may_use(skipgram, monkeypatch):
    # The example keeps one compilation cache directory per XLA:CPU pool size
    # (the cache's key leaves the pool out); the size is what XLA would pick.
    monkeypatch.delenv("NPROC", raising=False)
    monkeypatch.setattr(skipgram.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert skipgram._xla_threads(1) == 1
    assert skipgram._xla_threads(2) == 2
    assert skipgram._xla_threads(8) == 3  # at most the cores it may use
    assert skipgram._xla_threads(0) == 3  # 0: all of them
    for nproc, threads in (("5", 5), (" 4", 4), ("0", 1), ("-2", 1)):
        monkeypatch.setenv("NPROC", nproc)  # an integer takes precedence
        assert skipgram._xla_threads(1) == threads, nproc
        assert skipgram._xla_threads(0) == threads, nproc
    for nproc in ("x", "3x", ""):  # not an integer: ignored, as by XLA
        monkeypatch.setenv("NPROC", nproc)
        assert skipgram._xla_threads(0) == 3, nproc
