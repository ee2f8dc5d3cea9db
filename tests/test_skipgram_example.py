# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of examples/skipgram.py on small local corpora."""

import importlib.util
import pathlib

import numpy as np
import pytest

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


def test_resume_after_interruption_equals_uninterrupted_run(skipgram, corpus, tmp_path):
    _, full, stats = skipgram.train(_args(skipgram, corpus))
    assert not stats["interrupted"]
    ckpt = tmp_path / "ckpt"
    args = _args(skipgram, corpus, "--checkpoint", str(ckpt))
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
    with pytest.raises(SystemExit, match="other settings"):
        skipgram.train(other)


def test_main_saves_vectors_gensim_can_read(skipgram, corpus, tmp_path):
    out = tmp_path / "vectors.bin"
    stats = skipgram.main(
        [
            "--corpus", str(corpus), "--epochs", "1", "--dim", "8", "--min-count", "1",
            "--batch-size", "64", "--chunk-size", "8", "--steps-per-call", "2",
            "--no-progress", "--no-eval", "--save", str(out), "--binary",
            "--no-compile-cache", "--threads", "0",
        ]
    )  # fmt: skip
    words, vectors = jaxns.wordvectors.load_word2vec_format(out, binary=True)
    assert len(words) == stats["vocab_size"] == 30 and vectors.shape == (30, 8)
    assert np.all(np.isfinite(vectors))


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
