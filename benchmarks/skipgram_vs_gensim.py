# SPDX-License-Identifier: Apache-2.0
"""Skip-gram word vectors: jaxns (examples/skipgram.py) vs gensim, side by side.

Both train on the same corpus with the same hyperparameters, gensim with
``workers`` equal to the cores. The hyperparameter defaults are the example's
own (``examples/skipgram.py``, which follows gensim's skip-gram defaults), read
from its argument parser, so the two cannot drift apart. Each runs in its own
fresh process, so the whole-process wall time from interpreter start to saved
vectors (imports, corpus reading, vocabulary, compilation and training) is
what a user waits for. Both vector files are then
scored by the same evaluation code (jaxns.evaluation): WordSim-353 and
SimLex-999 Spearman, Google analogy accuracy (3CosAdd over the 300,000 most
frequent words, gensim's ``evaluate_word_analogies`` default).

    python benchmarks/skipgram_vs_gensim.py                  # built-in corpus
    python benchmarks/skipgram_vs_gensim.py --corpus text8 --repeats 1
    python benchmarks/skipgram_vs_gensim.py --corpus debian   # 6.4M held-out tokens
    python benchmarks/skipgram_vs_gensim.py --quick          # smoke run
    python benchmarks/skipgram_vs_gensim.py --model cbow     # CBOW (sg=0)
    python benchmarks/skipgram_vs_gensim.py --subwords       # fastText vs FastText
    python benchmarks/skipgram_vs_gensim.py --large-updates  # 16k centres per update

``--large-updates`` trains jaxns with ``LARGE_UPDATES``, the flags that keep
gensim's quality with 16,384 centres per update (a size that fills an
accelerator; ``benchmarks/run.py`` passes it when JAX runs on one).

Raw words/s counts every word of the corpus (also those below min_count),
once per epoch, divided by the training time, as gensim reports it. Every
number is also recorded through ``benchmarks/_timing.py`` (``record``) for
``benchmarks/run.py``. Without gensim installed, jaxns runs alone and gensim's
column says "not installed".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _timing  # noqa: E402

# 16,384 centres per update with gensim's quality (benchmarks/RESULTS.md, "Large
# updates"): each epoch's sentences shuffled, each row's summed learning rate
# per update capped, twice gensim's starting rate (jaxns only; the built-in
# corpus gives ~60 such updates an epoch, too few at 0.025); 4 updates per
# call, so an epoch's last call pads little.
LARGE_UPDATES = (
    "--batch-size 16384 --steps-per-call 4 --max-row-rate 0.2 --shuffle --lr 0.05"
)

# The hyperparameters both libraries share; their defaults come from the example.
SHARED = {
    "corpus": str, "model": str, "epochs": int, "dim": int, "window": int,
    "negatives": int, "min_count": int, "sample": float, "lr": float,
    "min_lr": float, "seed": int, "min_n": int, "max_n": int, "buckets": int,
}  # fmt: skip
SUBWORD_ONLY = ("min_n", "max_n", "buckets")  # with --subwords only


def example_defaults() -> dict:
    """The shared hyperparameters' defaults, from ``examples/skipgram.py``."""
    spec = importlib.util.spec_from_file_location(
        "skipgram_example", ROOT / "examples" / "skipgram.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defaults = module.parse_args([])
    return {name: getattr(defaults, name) for name in SHARED}


def _cache_dir() -> pathlib.Path:
    """``jaxns.datasets.default_cache_dir()``, without importing JAX."""
    if os.environ.get("JAXNS_CACHE"):
        return pathlib.Path(os.environ["JAXNS_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "jaxns"
    return pathlib.Path.home() / ".cache" / "jaxns"


def _gensim_sentences(corpus: str) -> list[list[str]]:
    """The corpus as gensim reads it, without importing jaxns (and so JAX)."""
    if corpus in ("builtin", "debian"):
        if corpus == "builtin":
            path = ROOT / "jaxns" / "data" / "wordnet_glosses.txt.xz"
        else:  # where jaxns.datasets.default_cache_dir() puts it
            path = _cache_dir() / "debian_english.txt.xz"
        with lzma.open(path, "rt", encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]
    if corpus == "text8":  # a zip; JAX's import cost is noise at this size
        import jaxns.datasets

        return jaxns.datasets.load_corpus("text8")
    from gensim.models.word2vec import LineSentence

    return list(LineSentence(corpus))


def run_gensim(args: argparse.Namespace) -> None:
    """Runs inside a child process: train gensim, save vectors, write stats."""
    t0 = time.perf_counter()
    from gensim.models import FastText, Word2Vec

    sentences = _gensim_sentences(args.corpus)
    raw = sum(map(len, sentences))
    t_build = time.perf_counter()
    subwords = (
        dict(min_n=args.min_n, max_n=args.max_n, bucket=args.buckets)
        if args.subwords
        else {}
    )
    model = (FastText if args.subwords else Word2Vec)(
        **subwords,
        sg=int(args.model == "skipgram"),
        vector_size=args.dim,
        window=args.window,
        negative=args.negatives,
        min_count=args.min_count,
        sample=args.sample,
        alpha=args.lr,
        min_alpha=args.min_lr,
        workers=args.workers,
        seed=args.seed,
    )
    model.build_vocab(sentences)
    t_train = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    train_seconds = time.perf_counter() - t_train
    if args.subwords:
        from gensim.models.fasttext import save_facebook_model

        save_facebook_model(model, args.save)
    else:
        model.wv.save_word2vec_format(args.save)
    stats = {
        "raw_words": raw,
        "vocab_size": len(model.wv),
        "train_seconds": train_seconds,
        "words_per_second": raw * args.epochs / train_seconds,
        "vocab_seconds": t_train - t_build,
        "in_process_seconds": time.perf_counter() - t0,
    }
    pathlib.Path(args.report).write_text(json.dumps(stats))


def _common_flags(args: argparse.Namespace) -> list[str]:
    """Every shared hyperparameter spelt out, so no child relies on a default."""
    flags = []
    for name in SHARED:
        if name == "seed" or (name in SUBWORD_ONLY and not args.subwords):
            continue  # the seed is set per run; the example refuses n-gram flags
        flags += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.subwords:
        flags.append("--subwords")
    return flags


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _evaluate(path: str, subwords: bool) -> dict:
    import jaxns

    oov_vector = None
    if subwords:  # both sides wrote Facebook fastText's .bin
        model = jaxns.wordvectors.load_fasttext_format(path)
        words, vectors, oov_vector = model.words, model.vectors, model.__getitem__
    else:
        words, vectors = jaxns.wordvectors.load_word2vec_format(path)
    out = {}
    for name in ("wordsim353", "simlex999"):
        pairs = jaxns.datasets.load_similarity(name)
        out[name] = float(
            jaxns.evaluation.word_similarity(vectors, words, pairs).spearman
        )
        if oov_vector is not None:
            out[f"{name}_all"] = float(
                jaxns.evaluation.word_similarity(
                    vectors, words, pairs, oov_vector=oov_vector
                ).spearman
            )
    questions = jaxns.datasets.load_analogies("google")
    result = jaxns.evaluation.analogy(vectors, words, questions)
    out["analogy"] = float(result.accuracy)
    # The Google set's semantic sections come first; syntactic ones are gram*.
    for kind, is_kind in (("semantic", False), ("syntactic", True)):
        parts = [
            s for n, s in result.per_section.items() if n.startswith("gram") == is_kind
        ]
        total = sum(s.total for s in parts)
        out[kind] = sum(s.correct for s in parts) / total if total else 0.0
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The gensim child gets every value spelt out: it must not import the
    # example (and with it JAX) just for defaults, or its wall time would grow.
    child = "--run-gensim" in argv
    defaults = {} if child else example_defaults()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, kind in SHARED.items():
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=defaults.get(name),
            help=None if child else f"default {defaults[name]!r}, as the example",
        )
    p.add_argument(
        "--subwords", action="store_true",
        help="fastText: gensim's FastText vs jaxns --subwords; both write "
        "Facebook fastText's .bin, scored also on all pairs (unseen words from "
        "their n-grams)",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=3, help="runs per library")
    p.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat")
    p.add_argument(
        "--jaxns-flags", default="", help="extra flags for examples/skipgram.py"
    )
    p.add_argument(
        "--large-updates",
        action="store_true",
        help=f"jaxns trains with {LARGE_UPDATES} (for accelerators)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="jaxns compiles afresh in every run (no persistent compilation cache)",
    )
    p.add_argument("--run-gensim", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--report", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run_gensim:
        run_gensim(args)
        return
    if args.quick:
        args.epochs, args.repeats = 1, 1
    try:
        import gensim

        gensim_version = gensim.__version__
        libraries = ("gensim", "jaxns")
    except ImportError:
        gensim_version = None
        libraries = ("jaxns",)
        print("gensim: not installed (pip install -e '.[bench]'); jaxns alone")

    # Removed when the run ends, also when it fails (fastText's .bin files
    # take 800 MB each).
    tmp_dir = tempfile.TemporaryDirectory(prefix="jaxns-bench-")
    tmp = pathlib.Path(tmp_dir.name)
    rows = {"gensim": [], "jaxns": []}
    group = f"word vectors {args.model} {args.corpus} {args.epochs} epochs"
    if args.large_updates:
        group += ", jaxns 16k centres per update"
    for r in range(args.repeats):
        for lib in libraries:
            suffix = ".bin" if args.subwords else ".txt"
            save, report = tmp / f"{lib}{r}{suffix}", tmp / f"{lib}{r}.json"
            seed = str(args.seed + r)
            if lib == "gensim":
                cmd = [sys.executable, __file__, "--run-gensim", *_common_flags(args)]
                cmd += ["--workers", str(args.workers), "--seed", seed]
            else:
                cmd = [sys.executable, "examples/skipgram.py", *_common_flags(args)]
                cmd += ["--seed", seed, "--no-eval", "--no-progress"]
                cmd += LARGE_UPDATES.split() if args.large_updates else []
                cmd += args.jaxns_flags.split()
                cmd += ["--no-compile-cache"] if args.cold else []
            # jaxns writes the word2vec file with --save, the .bin otherwise
            flag = "--save-fasttext" if args.subwords and lib == "jaxns" else "--save"
            wall = _timed([*cmd, flag, str(save), "--report", str(report)])
            stats = json.loads(report.read_text())
            stats["wall"] = wall
            stats.update(_evaluate(str(save), args.subwords))
            save.unlink()  # fastText's .bin files take 800 MB each
            rows[lib].append(stats)
            _timing.record(
                group,
                lib,
                seconds=wall,
                work={"raw_words": stats["raw_words"] * args.epochs},
                train_seconds=stats["train_seconds"],
                words_per_second=stats["words_per_second"],
                wordsim353=stats["wordsim353"],
                simlex999=stats["simlex999"],
                analogy=stats["analogy"],
                run=r,
            )
            print(
                f"  run {r + 1} {lib:>6}: {stats['words_per_second']:>12,.0f} words/s"
                f"  wall {wall:6.1f} s  ws353 {stats['wordsim353']:.3f}"
                f"  simlex {stats['simlex999']:.3f}  analogy {stats['analogy']:.3f}"
                f" (sem {stats['semantic']:.3f} syn {stats['syntactic']:.3f})",
                flush=True,
            )

    def med(lib, key):
        if not rows[lib]:
            return None
        return statistics.median(s[key] for s in rows[lib])

    def cell(value, fmt):
        return f"{'not installed':>12}" if value is None else fmt.format(value)

    print()
    print(
        f"corpus {args.corpus}: {rows['jaxns'][0]['raw_words']:,} raw words, "
        f"{args.epochs} epochs, dim {args.dim}, window {args.window}, "
        f"{args.negatives} negatives, {args.model}; median of {args.repeats} run(s)"
    )
    print(
        f"{_timing.device_line()}, {os.cpu_count()} cores; "
        + (
            f"gensim {gensim_version} with {args.workers} workers; "
            if gensim_version
            else "gensim not installed; "
        )
        + "jaxns "
        + ("compiling afresh each run" if args.cold else "with its compilation cache")
    )
    # The last column: jaxns's speed-up (gensim's time over jaxns's, jaxns's
    # words/s over gensim's), and for scores jaxns minus gensim.
    header = f"{'':28}{'gensim':>12}{'jaxns':>12}{'speed-up/diff':>14}"
    print(header)
    print("-" * len(header))
    for key, label, fmt in (
        ("words_per_second", "train raw words/s", "{:>12,.0f}"),
        ("train_seconds", "train seconds", "{:>12.1f}"),
        ("wall", "wall seconds to vectors", "{:>12.1f}"),
    ):
        g, j = med("gensim", key), med("jaxns", key)
        ratio = (
            ""
            if g is None
            else f"{j / g if key == 'words_per_second' else g / j:>13.2f}x"
        )
        print(f"{label:28}" + cell(g, fmt) + cell(j, fmt) + ratio)
    scores = [
        ("wordsim353", "WordSim-353 Spearman"),
        ("simlex999", "SimLex-999 Spearman"),
        ("analogy", "analogy accuracy"),
    ]
    scores += [
        ("semantic", "  semantic sections"),
        ("syntactic", "  syntactic sections"),
    ]
    if args.subwords:
        scores += [
            ("wordsim353_all", "WordSim-353, all pairs"),
            ("simlex999_all", "SimLex-999, all pairs"),
        ]
    for key, label in scores:
        g, j = med("gensim", key), med("jaxns", key)
        diff = "" if g is None else f"{j - g:>+13.3f}"
        print(f"{label:28}" + cell(g, "{:>12.3f}") + cell(j, "{:>12.3f}") + diff)
    if args.repeats > 1 and all(rows.get(lib) for lib in ("gensim", "jaxns")):
        print(f"means over {args.repeats} runs:")
        keys = ["wordsim353", "simlex999", "analogy", "semantic", "syntactic"]
        keys += ["wordsim353_all", "simlex999_all"] if args.subwords else []
        for key in keys:
            g, j = (
                statistics.mean(s[key] for s in rows[lib])
                for lib in ("gensim", "jaxns")
            )
            print(f"  {key:26}{g:>12.3f}{j:>12.3f}{j - g:>+13.3f}")
    print(
        "(speed ratios > 1 favour jaxns; the last column of scores is jaxns - gensim)"
    )


if __name__ == "__main__":
    main()
