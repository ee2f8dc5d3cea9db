# SPDX-License-Identifier: Apache-2.0
"""Train word2vec skip-gram vectors (SGNS) with jaxns and Optax.

Runs with no arguments on the built-in WordNet gloss corpus:

    python examples/skipgram.py

and on any local text file (one sentence per line) or text8:

    python examples/skipgram.py --corpus text8 --save vectors.txt

Defaults follow gensim's skip-gram (dim 100, window 5, 5 negatives,
min_count 5, sample 1e-3, learning rate 0.025 decaying linearly to 1e-4 over
all raw words, 5 epochs). Negatives come from
``jaxns.samplers.unigram(counts, power=0.75)``; the learning rate is an Optax
schedule of the raw words processed; one jitted call runs many updates.
``--checkpoint DIR`` saves the state periodically; rerunning with the same
directory resumes exactly where it stopped. ``--devices 2`` trains two
replicas side by side (one host device per core on CPU) whose changes are
summed every ``--merge-every`` calls (``jaxns.word2vec.make_replica_trainer``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import pathlib
import pkgutil
import sys
import tempfile
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxns

OPTIMIZERS = {
    # Without learning rate: the schedule is applied by the trainer.
    "sgd": None,
    "adagrad": lambda: optax.scale_by_rss(initial_accumulator_value=0.0),
    "adam": optax.scale_by_adam,
}
SHOW_NEIGHBOURS = ("king", "water", "run", "good", "music", "france")


def _accelerator_plugin_installed() -> bool:
    """Whether JAX may find a GPU/TPU (PJRT plugins register under
    ``jax_plugins``; TPUs use libtpu), without starting a backend."""
    if importlib.util.find_spec("libtpu") is not None:
        return True
    if importlib.metadata.entry_points(group="jax_plugins"):
        return True
    try:
        import jax_plugins
    except ImportError:
        return False
    return any(True for _ in pkgutil.iter_modules(jax_plugins.__path__))


def _xla_threads(threads: int) -> int:
    """The threads XLA:CPU's pool gets when the backend starts in this run:
    ``NPROC`` if it is an integer (it takes precedence; below 1 gives 1),
    else the cores the process may use, at most ``threads`` of them (0:
    all)."""
    try:
        return max(int(os.environ.get("NPROC", "")), 1)
    except ValueError:
        pass  # unset or not an integer: XLA ignores it too
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return min(threads, cores) if threads > 0 else cores


def _rate(text: str) -> float:
    """argparse type of --lr and --min-lr: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"a learning rate must be finite and > 0, got {text!r}"
        )
    return value


def _writable_file(p: argparse.ArgumentParser, flag: str, path: str) -> None:
    """Fails at parse time, not after training, if ``path`` cannot be written."""
    target = pathlib.Path(path).expanduser()
    if target.is_dir():
        p.error(f"{flag} {path}: is a directory; give a file name")
    parent = target.parent
    if not parent.is_dir():
        p.error(f"{flag} {path}: directory {parent} does not exist")
    try:  # os.access is not enough (read-only mounts, root)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        p.error(f"{flag} {path}: cannot write in {parent} ({err.strerror})")


def _writable_directory(p: argparse.ArgumentParser, flag: str, path: str) -> None:
    """``path`` is a writable directory or can be created as one."""
    target = pathlib.Path(path).expanduser()
    if target.exists() and not target.is_dir():
        p.error(f"{flag} {path}: exists and is not a directory")
    existing = target
    while not existing.exists():  # created on the first save
        existing = existing.parent
    if not existing.is_dir():
        p.error(f"{flag} {path}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        p.error(f"{flag} {path}: cannot write in {existing} ({err.strerror})")


def _duplicate_rows(value: str) -> str | int:
    """argparse type of --duplicate-rows: sum, mean or an integer >= 1."""
    if value in ("sum", "mean"):
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise argparse.ArgumentTypeError(f"sum, mean or an integer >= 1, got {value!r}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="skipgram", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--corpus", default="builtin", help="builtin, text8, debian or a path"
    )
    p.add_argument(
        "--model",
        choices=jaxns.word2vec.MODELS,
        default="skipgram",
        help="skipgram (the default) or cbow (gensim's sg=0, cbow_mean=1)",
    )
    p.add_argument(
        "--subwords",
        action="store_true",
        help="fastText: a word's input vector is the mean of its own and its "
        "character n-grams' hashed rows (vectors for unseen words too)",
    )
    p.add_argument("--min-n", type=int, help="shortest n-gram (--subwords; 3)")
    p.add_argument("--max-n", type=int, help="longest n-gram (--subwords; 6)")
    p.add_argument("--buckets", type=int, help="n-gram rows (--subwords; 2,000,000)")
    p.add_argument(
        "--subword-rows",
        type=int,
        help="with --subwords: input rows gathered per update (blocks with "
        "more take further passes; the result does not depend on it). Default: "
        "the expected rows of a block of this corpus, rounded up to 256",
    )
    p.add_argument(
        "--save-fasttext",
        help="with --subwords: also write Facebook fastText's .bin model here "
        "(gensim.models.fasttext.load_facebook_model reads it)",
    )
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--lr", type=_rate, default=0.025)
    p.add_argument("--min-lr", type=_rate, default=1e-4)
    p.add_argument(
        "--batch-size", type=int, default=128, help="centre words per update"
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=16,
        help="consecutive centre words sharing one draw of negatives",
    )
    p.add_argument(
        "--chunk-negatives",
        type=int,
        default=16,
        help="negatives drawn per chunk (weighted negatives/chunk-negatives); "
        "8 train skip-gram and CBOW 1.1-1.3x as fast but lose ~0.02 analogy "
        "accuracy",
    )
    p.add_argument("--steps-per-call", type=int, default=128)
    p.add_argument(
        "--keep-hits",
        action="store_true",
        help="keep negatives equal to the pair's centre word (word2vec.c and "
        "gensim skip them, the default); about 10%% faster for skip-gram, "
        "not for CBOW or fastText",
    )
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    p.add_argument(
        "--duplicate-rows",
        type=_duplicate_rows,
        default="sum",
        help="combine a row's gradients within one update: sum (word2vec's "
        "first order), mean, or an integer c: min(1, c/n) times the sum of n "
        "(keeps a large --batch-size stable, e.g. 8)",
    )
    p.add_argument(
        "--max-row-rate",
        type=_rate,
        default=None,
        help="cap the learning rate a row receives in one update in total "
        "(n row gradients move it by min(n * lr, this) times their mean); keeps "
        "a large --batch-size stable, e.g. 0.2",
    )
    p.add_argument(
        "--shuffle",
        action="store_true",
        help="put each epoch's sentences in a random order, so that a large "
        "--batch-size draws its centres from all over the corpus",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save", help="write the vectors here (word2vec text format)")
    p.add_argument("--binary", action="store_true", help="--save in binary format")
    p.add_argument("--checkpoint", help="directory for periodic checkpoints")
    p.add_argument(
        "--checkpoint-every",
        type=float,
        help="seconds between --checkpoint saves (default 60)",
    )
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation")
    p.add_argument(
        "--full-loss",
        action="store_true",
        help="compute the loss on every call and report the mean of the last "
        "8 calls; by default only the calls that report it compute it (every "
        "8th call and an epoch's last), the others skip it (15-22%% faster for "
        "skip-gram on CPU; the same vectors)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--report", help="also write the summary as JSON here")
    p.add_argument(
        "--debug",
        action="store_true",
        help="show Python tracebacks of errors (also JAXNS_DEBUG=1)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="cores XLA may use on CPU (0: all). Default 1 without an accelerator "
        "plugin: the training ops are small, handing them between XLA's threads "
        "costs more than it gains, and one core trains fastest "
        "(see benchmarks/RESULTS.md)",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="train this many replicas side by side, one per device (on CPU one "
        "host device per core, which also sets --threads), each on its own "
        "blocks of the stream, their changes summed every --merge-every calls "
        "(jaxns.word2vec.make_replica_trainer)",
    )
    p.add_argument(
        "--merge-every",
        type=int,
        default=None,
        help="calls of --devices replicas between two merges (default 8)",
    )
    p.add_argument(
        "--merge-rows",
        choices=("auto", "touched", "all"),
        default=None,
        help="what a merge of --devices replicas exchanges: the rows the "
        "replicas wrote since the last merge ('touched'), whole tables "
        "('all'), or whichever moves fewer bytes (default 'auto')",
    )
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep compiled XLA programs in the jaxns cache directory",
    )
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 0:
        p.error("--threads must be >= 0 (0: all cores)")
    if args.devices < 1:
        p.error("--devices must be >= 1")
    if args.merge_every is not None and args.merge_every < 1:
        p.error("--merge-every must be >= 1")
    if args.devices > 1 and args.optimizer != "sgd":
        p.error("--devices > 1 needs --optimizer sgd (replicas merge the tables only)")
    if args.devices > 1 and args.checkpoint:
        p.error("--checkpoint needs --devices 1 (replicas differ between merges)")
    if args.threads is None:
        plugin = _accelerator_plugin_installed()
        args.threads = 0 if plugin else args.devices
    for name in (
        "epochs", "dim", "window", "negatives", "min_count", "batch_size",
        "chunk_size",
    ):  # fmt: skip
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.batch_size % args.chunk_size:
        p.error("--batch-size must be a multiple of --chunk-size")
    # Flags that would change nothing are refused, not silently dropped.
    needs = (
        ("--min-n", args.min_n is not None, "--subwords", args.subwords),
        ("--max-n", args.max_n is not None, "--subwords", args.subwords),
        ("--buckets", args.buckets is not None, "--subwords", args.subwords),
        ("--binary", args.binary, "--save", args.save),
        (
            "--checkpoint-every",
            args.checkpoint_every is not None,
            "--checkpoint",
            args.checkpoint,
        ),
        (
            "--merge-every",
            args.merge_every is not None,
            "--devices > 1",
            args.devices > 1,
        ),
        (
            "--merge-rows",
            args.merge_rows is not None,
            "--devices > 1",
            args.devices > 1,
        ),
    )
    for flag, given, needed, present in needs:
        if given and not present:
            p.error(f"{flag} has no effect without {needed}")
    defaults = {
        "min_n": 3, "max_n": 6, "buckets": 2_000_000, "checkpoint_every": 60.0,
        "merge_every": 8, "merge_rows": "auto",
    }  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not (math.isfinite(args.checkpoint_every) and args.checkpoint_every >= 0):
        p.error(
            f"--checkpoint-every must be finite and >= 0, got {args.checkpoint_every}"
        )
    if args.subwords and (args.min_n < 1 or args.max_n < 0 or args.buckets < 0):
        p.error("--min-n must be >= 1, --max-n and --buckets >= 0")
    if args.save_fasttext and not args.subwords:
        p.error("--save-fasttext needs --subwords")
    if args.subword_rows is not None and (not args.subwords or args.subword_rows < 1):
        p.error("--subword-rows needs --subwords and must be >= 1")
    # Output locations are checked now: a bad path must not cost a training run;
    # a quoted ~ is expanded once, so that the check and the writes agree.
    for name in ("save", "report", "save_fasttext", "checkpoint"):
        if getattr(args, name):
            setattr(args, name, os.path.expanduser(getattr(args, name)))
    for flag, path in (
        ("--save", args.save),
        ("--report", args.report),
        ("--save-fasttext", args.save_fasttext),
    ):
        if path:
            _writable_file(p, flag, path)
    if args.checkpoint:
        _writable_directory(p, "--checkpoint", args.checkpoint)
    return args


# --------------------------------------------------------------------------
# checkpoints: one .npz written atomically; keys and subsampling are derived
# from (seed, epoch, step) alone, so a resumed run repeats nothing and skips
# nothing.

_CONFIG_KEYS = (
    "corpus", "epochs", "dim", "window", "negatives", "min_count", "sample", "lr",
    "min_lr", "batch_size", "chunk_size", "chunk_negatives", "steps_per_call",
    "optimizer", "seed", "keep_hits", "model", "subwords", "min_n", "max_n",
    "buckets", "duplicate_rows", "shuffle", "max_row_rate",
)  # fmt: skip


def _fingerprint(args: argparse.Namespace, vocab, raw: int) -> str:
    """The settings and the corpus they read: the corpus *path* alone would
    resume (and save vectors under the wrong words) after the file changed.
    The vocabulary (words and counts) and the raw word count stand for the
    corpus: hashing them is cheap, hashing the whole corpus is not."""
    config = {k: getattr(args, k) for k in _CONFIG_KEYS}
    digest = hashlib.sha256("\n".join(vocab.words).encode())
    digest.update(np.asarray(vocab.counts, dtype="<i8").tobytes())
    config["vocabulary"] = digest.hexdigest()
    config["raw_words"] = int(raw)
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def save_checkpoint(
    directory, args, vocab, raw, params, opt_state, epoch, call, loss
) -> None:
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree.leaves((params, opt_state))
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    tmp = directory / "checkpoint.tmp.npz"
    np.savez(
        tmp,
        fingerprint=np.array(_fingerprint(args, vocab, raw)),
        epoch=np.array(epoch),
        call=np.array(call),
        loss=np.array(loss, dtype=np.float64),
        **arrays,
    )
    os.replace(tmp, directory / "checkpoint.npz")


def load_checkpoint(directory, args, vocab, raw, params, opt_state):
    """``(params, opt_state, epoch, call, loss)`` saved in ``directory``, or
    None when there is no checkpoint; ValueError when it belongs to other
    settings, another corpus or holds arrays of other shapes."""
    path = pathlib.Path(directory) / "checkpoint.npz"
    if not path.exists():
        return None
    refuse = (
        f"checkpoint {path} was written with other settings or another corpus; "
        "use another --checkpoint directory or the same flags and corpus"
    )
    with np.load(path) as data:
        if str(data["fingerprint"]) != _fingerprint(args, vocab, raw):
            raise ValueError(refuse)
        expected = jax.tree.leaves((params, opt_state))
        treedef = jax.tree.structure((params, opt_state))
        names = [f"leaf_{i}" for i in range(len(expected))]
        if any(name not in data.files for name in names):
            raise ValueError(f"{refuse} (it holds other arrays)")
        leaves = []
        for name, like in zip(names, expected, strict=True):
            stored = data[name]
            if stored.shape != like.shape:
                raise ValueError(
                    f"{refuse} ({name} has shape {stored.shape}, expected {like.shape})"
                )
            leaves.append(jnp.asarray(stored, dtype=like.dtype))
        params, opt_state = jax.tree.unflatten(treedef, leaves)
        loss = float(data["loss"]) if "loss" in data.files else float("nan")
        return params, opt_state, int(data["epoch"]), int(data["call"]), loss


# --------------------------------------------------------------------------


class _Progress:
    """tqdm when available and wanted, else one line per ~10 s."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.total = total
        self.last = 0.0
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="w", unit_scale=True, smoothing=0.1)
            except ImportError:
                pass

    def update(self, done: int, words: int, rate: float, loss: float, lr: float):
        # The loss is read from the device every few calls; until the first
        # read there is none to show (``loss`` is NaN then, not a diverged run).
        shown = f"{loss:.3f}" if math.isfinite(loss) else "-"
        if self.bar is not None:
            self.bar.update(words)
            self.bar.set_postfix(loss=shown, lr=f"{lr:.5f}", refresh=False)
        elif time.perf_counter() - self.last > 10:
            self.last = time.perf_counter()
            print(
                f"  {done / self.total:6.1%}  {rate:,.0f} words/s  loss {shown}"
                f"  lr {lr:.5f}",
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _compile(
    trainers,
    vocab_size: int,
    dim: int,
    num_tokens: int,
    input_rows: int,
    num_sentences: int | None = None,
):
    """Ahead-of-time compiles the epoch's stream builder (the first
    trainer's) and every trainer's ``train``: ``(make_stream, *trains)``."""
    trainer = trainers[0]
    ints = jax.ShapeDtypeStruct((num_tokens,), jnp.int32)
    keep = jax.ShapeDtypeStruct((vocab_size,), jnp.float32)
    key = jax.eval_shape(lambda: jax.random.key(0))
    # A sentence is at most one run of the stream: --shuffle sorts only them.
    bound = num_sentences if trainer.shuffle else None
    make_stream = jax.jit(functools.partial(trainer.stream, max_sentences=bound))
    stream = jax.eval_shape(make_stream, key, ints, ints, keep)
    table = jax.ShapeDtypeStruct((vocab_size, dim), jnp.float32)
    inputs = jax.ShapeDtypeStruct((input_rows, dim), jnp.float32)
    params = jaxns.word2vec.SkipGramParams(inputs, table)
    opt_state = jax.eval_shape(trainer.init, params)
    built = [make_stream.lower(key, ints, ints, keep).compile()]
    for t in trainers:
        lowered = t.train.lower(key, params, opt_state, stream, 0, (0.0, 1.0))
        built.append(lowered.compile())
    return tuple(built)


def train(args: argparse.Namespace, *, stop_after_calls: int | None = None):
    """Trains and returns ``(vocab, params, stats)``.

    ``stop_after_calls`` interrupts the run after that many jitted calls (after
    checkpointing), as a crash would; the tests use it to check resumption.
    """
    t_start = time.perf_counter()
    phases = {}  # seconds per phase of the set-up, for --report
    # The set-up makes many objects (the subword table's lists) that hold no
    # cycles: Python's cyclic collector would rescan them over and over.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        # One pass over the file: each word is looked up once, to count it and
        # to encode it, while the next block is decompressed in a thread.
        vocab, corpus = jaxns.datasets.load_encoded_corpus(
            args.corpus, min_count=args.min_count
        )
        phases["corpus"] = time.perf_counter() - t_start
        raw = corpus.num_raw_words
        num_tokens = len(corpus.ids)

        sampler = jaxns.samplers.unigram(vocab.counts, power=0.75)
        keep_prob = jnp.asarray(jaxns.text.keep_probability(vocab.counts, args.sample))
        schedule = optax.linear_schedule(args.lr, args.min_lr, args.epochs * raw)

        def learning_rate(words: float) -> float:  # the schedule's value, for display
            return args.lr + (args.min_lr - args.lr) * min(
                words / (args.epochs * raw), 1.0
            )

        make_opt = OPTIMIZERS[args.optimizer]
        subwords = compact = None
        if args.subwords:
            # Training only reaches the buckets the vocabulary's n-grams use
            # (~110k of 2M on the built-in corpus): train those rows, renumbered
            # (the same vectors, ~1.2x faster), and put them back at the end.
            compact = jaxns.subwords.compact_table(
                jaxns.subwords.subword_table(
                    vocab.words,
                    min_n=args.min_n,
                    max_n=args.max_n,
                    num_buckets=args.buckets,
                )
            )
            subwords = compact.table
        input_rows = len(compact.rows) if args.subwords else len(vocab)
        subword_rows = args.subword_rows
        linear = (
            make_opt is None
            and args.duplicate_rows == "sum"
            and args.max_row_rate is None
        )
        if args.subwords and subword_rows is None and linear:
            # The rows a block of kept tokens holds on average: blocks repeat
            # words (gathered once), so few need a second pass.
            subword_rows = jaxns.subwords.rows_per_block(
                subwords,
                vocab.counts * np.asarray(keep_prob),
                batch_size=args.batch_size,
                window=args.window,
                multiple=256,
            )
        if args.devices > 1:
            mesh = jax.sharding.Mesh(np.array(jax.devices()[: args.devices]), ("data",))
            make = functools.partial(
                jaxns.word2vec.make_replica_trainer,
                mesh=mesh,
                merge_every=args.merge_every,
                merge_rows=args.merge_rows,
            )
        else:
            make = jaxns.word2vec.make_trainer
        options = dict(
            learning_rate=schedule,
            optimizer=None if make_opt is None else make_opt(),
            window=args.window,
            num_negatives=args.negatives,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            negatives_per_chunk=args.chunk_negatives,
            steps_per_call=args.steps_per_call,
            skip_hits=not args.keep_hits,
            model=args.model,
            subwords=subwords,
            subword_rows=subword_rows,
            duplicate_rows=args.duplicate_rows,
            shuffle=args.shuffle,
            max_row_rate=args.max_row_rate,
            # On CPU, LLVM's lighter optimisation compiles faster and runs as fast.
            compiler_options=(
                {"xla_backend_optimization_level": 1}
                if jax.default_backend() == "cpu"
                else None
            ),
        )
        trainer = make(sampler, **options)
        # The calls whose loss is not read skip it (its softplus of every
        # score); both trainers take the same params and state.
        quiet = (
            trainer if args.full_loss else make(sampler, compute_loss=False, **options)
        )
        block = trainer.block_size
        # Every shape is known now: compile the training step in the background
        # while the tables are initialised.
        pool = concurrent.futures.ThreadPoolExecutor(1)

        num_sentences = max(corpus.num_sentences, 1)

        def compile_in_background():
            t0 = time.perf_counter()
            trainers = [trainer] if quiet is trainer else [trainer, quiet]
            compiled = _compile(
                trainers, len(vocab), args.dim, num_tokens, input_rows,
                num_sentences,
            )  # fmt: skip
            phases["compile_thread"] = time.perf_counter() - t0  # overlapped
            return compiled if quiet is not trainer else (*compiled, compiled[1])

        compiling = pool.submit(compile_in_background)
        pool.shutdown(wait=False)
    finally:
        if gc_was_enabled:
            gc.enable()
    print(
        f"corpus {args.corpus}: {raw:,} words, {num_tokens:,} in a vocabulary "
        f"of {len(vocab):,}"
    )
    init_key, key = jax.random.split(jax.random.key(args.seed))
    if args.subwords:
        params = jaxns.word2vec.init_subword_params(
            init_key, len(vocab), args.buckets, args.dim, rows=compact.rows
        )
    else:
        params = jaxns.word2vec.init_params(init_key, len(vocab), args.dim)
    opt_state = trainer.init(params)
    epoch0, call0 = 0, 0
    # The loss of the last read; a finished checkpoint keeps its final loss.
    last_loss = float("nan")
    if args.checkpoint:
        restored = load_checkpoint(args.checkpoint, args, vocab, raw, params, opt_state)
        if restored is not None:
            params, opt_state, epoch0, call0, last_loss = restored
            if epoch0 >= args.epochs:
                print(
                    f"checkpoint {args.checkpoint}: the run is complete "
                    f"({args.epochs} epochs); nothing left to train"
                )
            else:
                print(
                    f"resuming from {args.checkpoint}: epoch {epoch0 + 1}, step {call0}"
                )

    ids = jnp.asarray(corpus.ids)
    sentence_ids = jnp.asarray(corpus.sentence_ids)

    t_wait = time.perf_counter()
    make_stream, train_step, quiet_step = compiling.result()
    phases["compile_wait"] = time.perf_counter() - t_wait
    progress = _Progress(args.epochs * raw, enabled=not args.no_progress)
    progress.bar and progress.bar.update(epoch0 * raw)
    t_train = time.perf_counter()
    words_done = 0
    calls_done = 0
    # Device scalars of the calls since the last read; summing them with JAX
    # ops here would dispatch (and first compile) extra work every call.
    pending: list = []
    last_save = time.perf_counter()
    interrupted = False
    first_call_seconds = 0.0
    for epoch in range(epoch0, args.epochs):
        epoch_key = jax.random.fold_in(key, epoch)
        stream = make_stream(
            jax.random.fold_in(epoch_key, 0), ids, sentence_ids, keep_prob
        )
        num_calls = stream.num_calls(block)
        train_key = jax.random.fold_in(epoch_key, 1)
        start_call = call0 if epoch == epoch0 else 0
        for call in range(start_call, num_calls):
            p0, p1 = jaxns.word2vec.call_progress(epoch, call, num_calls, raw)
            read = call % 8 == 7 or call == num_calls - 1
            step = train_step if read else quiet_step  # the same updates
            params, opt_state, loss, pairs = step(
                train_key, params, opt_state, stream, call * block, (p0, p1)
            )
            if read or args.full_loss:
                pending.append((loss, pairs))
            calls_done += 1
            if calls_done == 1:
                jax.block_until_ready(loss)
                first_call_seconds = time.perf_counter() - t_train
            words = round(p1) - round(p0)
            words_done += words
            if read:
                # Reading the loss waits for the device; do it now and then.
                losses, counts = np.asarray(jax.device_get(pending)).T
                pending = []
                last_loss = float(losses.sum()) / max(float(counts.sum()), 1.0)
                if not math.isfinite(last_loss):
                    raise FloatingPointError(
                        f"the loss became {last_loss} in epoch {epoch + 1}; "
                        "the updates of frequent words diverged. Use a smaller "
                        "--batch-size or --lr (a small vocabulary needs both)."
                    )
            elapsed = time.perf_counter() - t_train
            progress.update(
                round(p1),
                words,
                words_done / max(elapsed, 1e-9),
                last_loss,
                learning_rate(p1),
            )
            stopping = stop_after_calls is not None and calls_done >= stop_after_calls
            due = time.perf_counter() - last_save > args.checkpoint_every
            if args.checkpoint and (due or stopping):
                save_checkpoint(
                    args.checkpoint, args, vocab, raw, params, opt_state, epoch,
                    call + 1, last_loss,
                )  # fmt: skip
                last_save = time.perf_counter()
            if stopping:
                interrupted = True
                break
        if interrupted:
            break
        if args.checkpoint:
            save_checkpoint(
                args.checkpoint, args, vocab, raw, params, opt_state, epoch + 1, 0,
                last_loss,
            )  # fmt: skip
    jax.block_until_ready(params)
    progress.close()
    train_time = time.perf_counter() - t_train
    subword_table = None
    if args.subwords:  # the full table: the unused buckets as initialised
        full = jaxns.word2vec.init_subword_params(
            init_key, len(vocab), args.buckets, args.dim
        )
        full = compact.expand(params.input, full.input, donate=True)
        params = params._replace(input=full)
        subword_table = compact  # SubwordVectors maps it to the full rows
    stats = {
        "raw_words": raw,
        "vocab_size": len(vocab),
        "train_seconds": train_time,
        "words_per_second": words_done / max(train_time, 1e-9),
        # None (JSON null) when no loss was read: JSON has no NaN.
        "final_loss": last_loss if math.isfinite(last_loss) else None,
        "setup_seconds": t_train - t_start,
        "setup_phases": phases,
        "first_call_seconds": first_call_seconds,
        "interrupted": interrupted,
        # Each word's rows of the full input table (not part of the report).
        "subword_table": subword_table,
    }
    return vocab, params, stats


def evaluate(words: Sequence[str], vectors: np.ndarray, oov_vector=None) -> dict:
    """WordSim-353 and SimLex-999 Spearman, Google analogy accuracy; with
    ``oov_vector`` (subword models) also the similarity over all pairs."""
    results = {}
    for name in ("wordsim353", "simlex999"):
        pairs = jaxns.datasets.load_similarity(name)
        r = jaxns.evaluation.word_similarity(vectors, words, pairs)
        results[name] = float(r.spearman)
        results[f"{name}_oov"] = int(r.num_oov)
        if oov_vector is not None:
            r = jaxns.evaluation.word_similarity(
                vectors, words, pairs, oov_vector=oov_vector
            )
            results[f"{name}_all"] = float(r.spearman)
    a = jaxns.evaluation.analogy(
        vectors, words, jaxns.datasets.load_analogies("google")
    )
    results["analogy"] = float(a.accuracy)
    results["analogy_questions"] = int(a.total)
    results["analogy_skipped"] = int(a.skipped)
    return results


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except Exception as err:  # the library's message, as argparse prints its own
        if args.debug or os.environ.get("JAXNS_DEBUG"):
            raise
        text = err.args[0] if isinstance(err, KeyError) and err.args else err
        message = " ".join(str(text).split())  # one line
        print(
            f"skipgram: error: {message} (--debug or JAXNS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None


def run(args: argparse.Namespace) -> dict:
    """Trains, saves, evaluates and prints the summary; returns the stats."""
    t0 = time.perf_counter()
    if args.devices > 1 and not _accelerator_plugin_installed():
        try:  # one host device per core; only before JAX's backend starts
            jax.config.update("jax_num_cpu_devices", args.devices)
        except RuntimeError:
            pass  # started already (another run in this process): checked below
    if args.threads > 0 and hasattr(os, "sched_setaffinity"):
        # XLA sizes its thread pool by, and its threads inherit, the affinity
        # in force when the backend starts; Python itself keeps every core.
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(cores)[: args.threads])
        jax.devices()
        os.sched_setaffinity(0, cores)
    if not args.no_compile_cache:
        # Reruns skip the ~2 s compilation of the training step. XLA:CPU
        # splits a program's loops for the pool it was compiled under, and
        # the cache's key leaves the pool out: one directory per pool size.
        threads = _xla_threads(args.threads)
        cache = jaxns.datasets.default_cache_dir() / "xla" / f"threads-{threads}"
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    if len(jax.devices()) < args.devices:
        raise ValueError(
            f"--devices {args.devices}: JAX has {len(jax.devices())} device(s) "
            "(it started before this run could add host devices)"
        )
    shown = f"{args.devices} x " if args.devices > 1 else ""
    print(f"jaxns {jaxns.__version__} on {shown}{jax.devices()[0].device_kind}")
    vocab, params, stats = train(args)
    subword_table = stats.pop("subword_table", None)
    vectors = oov_vector = None
    if args.subwords and (args.save or not args.no_eval):
        # Composed only when asked for: the .bin file holds the tables.
        subword_vectors = jaxns.wordvectors.SubwordVectors.from_input_table(
            vocab.words, np.asarray(params.input), min_n=args.min_n,
            max_n=args.max_n, subwords=subword_table,
        )  # fmt: skip
        vectors, oov_vector = subword_vectors.vectors, subword_vectors.__getitem__
    elif not args.subwords:
        vectors = np.asarray(params.input)
    if args.save_fasttext:
        jaxns.wordvectors.save_fasttext_format(
            args.save_fasttext, vocab.words, vocab.counts, np.asarray(params.input),
            np.asarray(params.output), min_n=args.min_n, max_n=args.max_n,
            model=args.model, window=args.window, epochs=args.epochs,
            min_count=args.min_count, num_negatives=args.negatives,
            sample=args.sample,
        )  # fmt: skip
        print(f"saved the fastText model to {args.save_fasttext}")
    if args.save:
        jaxns.wordvectors.save_word2vec_format(
            args.save, vocab.words, vectors, binary=args.binary
        )
        print(f"saved {len(vocab):,} vectors to {args.save}")
    stats["wall_seconds_to_vectors"] = time.perf_counter() - t0
    final_loss = stats["final_loss"]
    shown = "-" if final_loss is None else f"{final_loss:.4f}"
    print(
        f"trained {args.epochs} epochs in {stats['train_seconds']:.1f} s: "
        f"{stats['words_per_second']:,.0f} raw words/s, final loss "
        f"{shown} (wall {stats['wall_seconds_to_vectors']:.1f} s)"
    )
    if not args.no_eval:
        results = evaluate(vocab.words, vectors, oov_vector)
        stats.update(results)
        print(
            f"WordSim-353 Spearman {results['wordsim353']:.3f} | "
            f"SimLex-999 Spearman {results['simlex999']:.3f} | "
            f"analogy accuracy {results['analogy']:.3f} "
            f"({results['analogy_questions']:,} questions, "
            f"{results['analogy_skipped']:,} skipped)"
        )
        if oov_vector is not None:
            print(
                "all pairs, unseen words from their n-grams: WordSim-353 "
                f"{results['wordsim353_all']:.3f} | SimLex-999 "
                f"{results['simlex999_all']:.3f}"
            )
        queries = [w for w in SHOW_NEIGHBOURS if w in vocab]
        neighbours = jaxns.evaluation.nearest_neighbors(
            vectors, vocab.words, queries, k=5
        )
        for q, nn in zip(queries, neighbours, strict=True):
            print(f"  {q:>8}: " + ", ".join(w for w, _ in nn))
    if args.report:
        # Strict JSON: a score without a pair to score (nan) is written as null.
        text = json.dumps(_finite_or_none(stats), indent=2, allow_nan=False)
        pathlib.Path(args.report).write_text(text)
    return stats


def _finite_or_none(value):
    """``value`` with every NaN or infinite float (nested) replaced by None."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    main(sys.argv[1:])
