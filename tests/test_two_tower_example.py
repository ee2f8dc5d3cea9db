# SPDX-License-Identifier: Apache-2.0
"""examples/two_tower.py on a tiny CSV written by the test (no MovieLens)."""

from __future__ import annotations

import json
import pathlib
import sys

import jax
import numpy as np
import pytest
import scipy.stats
from flax import nnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import two_tower  # noqa: E402
from helpers import assert_close  # noqa: E402

from jaxns import retrieval  # noqa: E402


def _csv(path: pathlib.Path) -> pathlib.Path:
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,rating,timestamp"]
    for u in range(30):
        for i in rng.choice(60, 12, replace=False):
            lines.append(f"u{u},i{(i + u) % 60},4,{rng.integers(1000)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _np_full_ranking(data, split, part, users, items, ks=(10, 20, 50)):
    """RecBole's full-ranking metrics by brute force in float64, from the rows.

    Relevant: a user's distinct items in ``part``; masked: the user's items in
    the earlier parts that are not relevant; every other item is ranked by
    score (ties to the lower id), averaged over the users with a relevant item.
    """
    code = ("train", "valid", "test").index(part)
    scores = np.asarray(users, np.float64) @ np.asarray(items, np.float64).T
    sums = {f"{m}@{k}": 0.0 for m in ("recall", "mrr", "ndcg", "hit", "precision")
            for k in ks}  # fmt: skip
    evaluated = np.unique(data.users[split.codes == code])
    for user in evaluated:
        mine = data.users == user
        relevant = set(data.items[mine & (split.codes == code)].tolist())
        masked = set(data.items[mine & (split.codes < code)].tolist()) - relevant
        ranked = [
            i for i in np.lexsort((np.arange(data.num_items), -scores[user]))
            if i not in masked
        ]  # fmt: skip
        # Fewer than k items left to rank: the missing places are misses.
        hits = np.zeros(max(len(ranked), max(ks)))
        hits[: len(ranked)] = [i in relevant for i in ranked]
        first = np.flatnonzero(hits)
        for k in ks:
            found = hits[:k].sum()
            gains = hits[:k] / np.log2(np.arange(2, k + 2))
            ideal = (1 / np.log2(np.arange(2, min(len(relevant), k) + 2))).sum()
            sums[f"recall@{k}"] += found / len(relevant)
            sums[f"precision@{k}"] += found / k
            sums[f"hit@{k}"] += float(found > 0)
            sums[f"mrr@{k}"] += 1 / (first[0] + 1) if found else 0.0
            sums[f"ndcg@{k}"] += gains.sum() / ideal
    return {name: total / evaluated.size for name, total in sums.items()}


@pytest.mark.parametrize(
    "flags",
    [
        ["--loss", "bpr"],
        ["--loss", "mixed", "--negatives", "8", "--normalize", "--split", "loo"],
        ["--loss", "sampled_softmax", "--sampler", "popularity", "--split", "temporal"],
    ],
)
def test_runs_and_reports(tmp_path, flags, capsys, monkeypatch):
    # The example's report against metrics recomputed from the trained model's
    # vectors by brute force (the rows and the split, not the library's task).
    fits, fit = [], two_tower.fit

    def recording_fit(args, data, split, **kwargs):
        fits.append((data, split, fit(args, data, split, **kwargs)))
        return fits[-1][2]

    monkeypatch.setattr(two_tower, "fit", recording_fit)
    report = tmp_path / "r.json"
    two_tower.main(
        [
            "--data", str(_csv(tmp_path / "x.csv")), "--epochs", "3",
            "--batch-size", "64", "--dim", "8", "--no-progress",
            "--no-compile-cache", "--report", str(report), *flags,
        ]
    )  # fmt: skip
    saved = json.loads(report.read_text())
    ((data, split, result),) = fits
    model = nnx.merge(result["trainer"].model_graphdef, result["best_state"])
    users = model.embed_queries(np.arange(data.num_users))
    items = model.embed_candidates(np.arange(data.num_items))
    for part in ("valid", "test"):
        expected = _np_full_ranking(data, split, part, users, items)
        assert set(saved[part]) == set(expected)
        assert_close(
            np.array([saved[part][name] for name in expected], np.float32),
            list(expected.values()),
            loose=True,
            err_msg=part,
        )
    assert saved["best_epoch"] >= 1 and saved["best_epoch"] <= saved["epochs"] <= 3
    assert "test " in capsys.readouterr().out


def test_split_file(tmp_path):
    data = _csv(tmp_path / "x.csv")
    rows = len(data.read_text().splitlines()) - 1
    codes = (np.arange(rows) % 10 == 0).astype(int) + (np.arange(rows) % 10 == 1) * 2
    (tmp_path / "s.txt").write_text("\n".join(map(str, codes)))
    out = two_tower.main(
        ["--data", str(data), "--split-file", str(tmp_path / "s.txt"), "--epochs",
         "1", "--dim", "4", "--no-progress", "--no-compile-cache"]
    )  # fmt: skip
    assert out["epochs"] == 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--data", "/nonexistent/u.data"],
            "two_tower: error: load_interactions: no such",
        ),
        (["--lr", "0"], "--lr: must be finite and > 0"),
        (["--lr", "nan"], "--lr: must be finite and > 0"),
        (["--report", "/nonexistent/dir/r.json"], "--report: cannot write"),
        (["--report", "."], "--report .: is a directory"),
        (
            ["--sampler", "popularity"],
            "--sampler popularity has no effect with --loss bpr",
        ),
        (["--alpha", "0.5"], "--alpha has no effect with --loss bpr"),
        (["--no-logq"], "--no-logq has no effect with --loss bpr"),
        (
            ["--loss", "in_batch", "--negatives", "8"],
            "--negatives has no effect with --loss in_batch",
        ),
        (
            ["--loss", "in_batch", "--sampler", "uniform"],
            "--sampler has no effect with --loss in_batch",
        ),
        (["--temperature", "0.1"], "--temperature has no effect with --loss bpr"),
        (
            ["--loss", "sampled_softmax", "--alpha", "0.5"],
            "--alpha has no effect with --sampler uniform",
        ),
        (
            ["--loss", "mixed", "--sampler", "uniform", "--alpha", "0.5"],
            "--alpha has no effect with --sampler uniform",
        ),
        (
            ["--loss", "in_batch", "--alpha", "0.5"],
            "--alpha has no effect with --sampler uniform",
        ),
    ],
)
def test_errors_are_one_line(flags, message, capsys):
    with pytest.raises(SystemExit) as err:
        two_tower.main(["--no-compile-cache", *flags])
    # Usage errors exit 2 (argparse); an error while running (reading the
    # data) exits 1.
    assert err.value.code == (1 if "load_interactions" in message else 2)
    text = capsys.readouterr().err
    assert message in text and "Traceback" not in text


def test_features_without_side_features_are_refused(tmp_path, capsys, monkeypatch):
    # A CSV has no side features: --features would train the plain model.
    monkeypatch.delenv("JAXNS_DEBUG", raising=False)
    path = _csv(tmp_path / "x.csv")
    with pytest.raises(SystemExit) as err:
        two_tower.main(["--data", str(path), "--features", "--no-compile-cache"])
    assert err.value.code == 1  # an error while running; usage errors exit 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"two_tower: error: --features: {path} has no categorical side features "
        "(fields shared by several users or items) to use"
    )
    monkeypatch.setenv("JAXNS_DEBUG", "1")  # the traceback, as --debug
    with pytest.raises(ValueError, match="no categorical side features"):
        two_tower.main(["--data", str(path), "--features", "--no-compile-cache"])


def test_report_under_a_quoted_tilde_lands_in_home(tmp_path, monkeypatch):
    # The check expanded ~, the write did not: the run failed after training.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    two_tower.main(
        ["--data", str(_csv(tmp_path / "x.csv")), "--epochs", "1", "--dim", "4",
         "--no-progress", "--no-compile-cache", "--report", "~/r.json"]
    )  # fmt: skip
    assert json.loads((home / "r.json").read_text())["epochs"] == 1


def test_mrr_at_10_equals_topk_metrics():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(40, 30)).astype(np.float32)
    relevant = rng.random((40, 30)) < 0.1
    relevant[0] = False  # a user without relevant items does not count
    exclude = (rng.random((40, 30)) < 0.3) & ~relevant
    expected = retrieval.topk_metrics(scores, relevant, exclude=exclude, ks=(10,))
    actual = two_tower.mrr_at_10(scores, relevant, exclude)
    assert_close(actual, expected["mrr@10"])


def test_host_negatives_are_uniform_over_the_unknown_items():
    # Three users over 6 items: user 0 knows {1, 4}, user 1 nothing, user 2
    # knows every item (no valid negative: its draws stay arbitrary items).
    known = np.zeros((3, 6), bool)
    known[0, [1, 4]] = True
    known[2] = True
    users = np.repeat(np.arange(3), 12000).reshape(3, 4000, 3)
    rng = np.random.default_rng(7)
    neg = two_tower.host_negatives(rng, known, users)
    assert neg.shape == users.shape and neg.dtype == np.int32
    assert ((neg >= 0) & (neg < 6)).all()
    for user, allowed in ((0, [0, 2, 3, 5]), (1, list(range(6))), (2, list(range(6)))):
        draws = neg[users == user]
        counts = np.bincount(draws, minlength=6)
        assert counts[np.setdiff1d(np.arange(6), allowed)].sum() == 0
        expected = np.full(len(allowed), draws.size / len(allowed))
        _, p = scipy.stats.chisquare(counts[allowed], expected)
        assert p > 1e-3, (user, counts)


def test_trainer_starts_from_the_host_tables(tmp_path):
    path = _csv(tmp_path / "x.csv")
    data = retrieval.load_interactions(path)
    split = retrieval.split_random(jax.random.key(0), data)
    args = two_tower.parse_args(["--data", str(path), "--dim", "8", "--seed", "3"])
    trainer = two_tower.Trainer(args, data, split)
    # PyTorch's xavier_normal_ per table, drawn by NumPy from the seed.
    rng = np.random.default_rng([3, 1])
    expected = [
        rng.normal(0, np.sqrt(2 / (n + 8)), (n, 8)) for n in (data.num_users, 60)
    ]
    carry, _ = trainer.init(trainer.tables)
    model = nnx.merge(trainer.model_graphdef, carry["best"])
    assert_close(model.query_tower.embedding.embedding[...], expected[0])
    assert_close(model.candidate_tower.embedding.embedding[...], expected[1])
    assert int(carry["epoch"]) == 0 and int(carry["best_score"]) == -1


def test_ignored_flags_pass_where_they_have_an_effect():
    args = two_tower.parse_args(["--loss", "bpr", "--negatives", "2"])
    assert (args.sampler, args.alpha, args.no_logq) == ("uniform", 1.0, False)
    args = two_tower.parse_args(
        ["--loss", "sampled_softmax", "--sampler", "popularity", "--alpha", "0.5",
         "--no-logq"]
    )  # fmt: skip
    assert (args.sampler, args.alpha, args.no_logq) == ("popularity", 0.5, True)
    args = two_tower.parse_args(["--loss", "in_batch", "--no-logq"])
    assert args.sampler == "uniform" and args.negatives is None
    assert args.temperature == 1.0
    args = two_tower.parse_args(["--loss", "in_batch", "--temperature", "0.2"])
    assert args.temperature == 0.2


def test_bpr_results_do_not_depend_on_epochs_per_call(tmp_path):
    path = _csv(tmp_path / "x.csv")
    data = retrieval.load_interactions(path)
    split = retrieval.split_random(jax.random.key(0), data)
    results = []
    for per_call in ("1", "3"):
        args = two_tower.parse_args(
            ["--data", str(path), "--dim", "8", "--epochs", "4", "--batch-size",
             "64", "--patience", "10", "--epochs-per-call", per_call,
             "--negatives", "2", "--no-progress", "--no-compile-cache"]
        )  # fmt: skip
        results.append(two_tower.fit(args, data, split, progress=False))
    one, three = results
    assert one["epochs"] == three["epochs"] == 4
    assert len(one["epoch_calls"]) == 4 and len(three["epoch_calls"]) == 2
    assert one["valid_mrr10_curve"] == three["valid_mrr10_curve"]
    assert one["test"] == three["test"]
    for a, b in zip(
        jax.tree.leaves(one["state"]), jax.tree.leaves(three["state"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
