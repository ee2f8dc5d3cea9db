# SPDX-License-Identifier: Apache-2.0
"""Knowledge-graph link prediction: triple datasets, known-triple filters, ranks.

The application layer for knowledge graphs, with PyKEEN's conventions so that
results can be compared id for id and metric for metric:

* :func:`load_triples` reads ``train``/``valid``/``test`` label files (or the
  ConvE splits ``"nations"``, ``"umls"``, ``"kinships"``) into a
  :class:`TripleDataset` with ids assigned as PyKEEN assigns them (labels
  sorted; each split de-duplicated and sorted, as PyKEEN's ``np.unique``).
* :class:`KnownTriples` is a pytree built once on the host from true triples:
  exact membership of any batch of triples inside ``jit`` (filtered negatives
  for training) and the dense filter mask of a batch of link-prediction
  queries (filtered ranks for evaluation).
* :func:`ranks` and :func:`rank_metrics` are PyKEEN's
  ``RankBasedEvaluator(filtered=True)`` definitions (optimistic, pessimistic
  and realistic ranks; MRR, Hits@k and mean rank by the realistic rank), and
  :func:`evaluate` runs the whole protocol (both sides, filtered) on a split.

Scores follow :mod:`jaxns.scoring`: higher means more plausible.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import os
import pathlib
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks, datasets
from jaxns import losses as _losses
from jaxns import samplers as _samplers
from jaxns import scoring as _scoring

__all__ = [
    "KG_DATASETS",
    "LOSSES",
    "MODELS",
    "SAMPLERS",
    "KnownTriples",
    "Ranks",
    "Trainer",
    "TripleDataset",
    "corrupt_batch",
    "evaluate",
    "init_params",
    "known_triples",
    "load_triples",
    "make_trainer",
    "rank_metrics",
    "ranks",
    "score_triples",
    "slcwa_loss",
]

#: The named datasets :func:`load_triples` resolves: the ConvE splits
#: (Dettmers et al. 2018) as PyKEEN ships them.
KG_DATASETS = ("nations", "umls", "kinships")
_SPLITS = ("train", "valid", "test")

# SHA-256 of each split file. The files are byte-identical in PyKEEN's
# repository and wheel (pykeen/datasets/<name>/<split>.txt) and in the ConvE
# archives; the download takes them from PyKEEN's repository at a fixed tag.
_SHA256 = {
    "nations": {
        "train": "0830fa9da8e5bba2ccdaa45b7bdc9130451ba66b09ff2708f35fccaf82473e57",
        "valid": "2b337a62e51a2f45c283eac98a70d21b7e0e102136be1539b2a52c652a7b0530",
        "test": "3971085165b47b6aeaec68058c6d8d98b3005e929db81268410b95ae4db770ab",
    },
    "umls": {
        "train": "873ef4925516b83e7f6f8cc02b4be51d848828710a7f65a956f0ac4a9e452f35",
        "valid": "025c98f8a4891e2a6582ec5b40ee0d904031edad9c52554522f4b7904820c98e",
        "test": "a7eb529a3d2810fcc96341ccc97c625a5e202f8389673aa6bd317eeebbb79014",
    },
    "kinships": {
        "train": "738612111a6acf0e39662bde24c7e72a4d1edf20931beea077da367dda689731",
        "valid": "c56f8630a583178b1e569f11a64aa535ae1ce0b0912d8b1e24716be2b37f04da",
        "test": "05e5733265761d55be9c05bfaff5a8d0808df46f9c1e9d66cc3f2fe114e43d88",
    },
}
_URL = (
    "https://raw.githubusercontent.com/pykeen/pykeen/v1.11.1/src/pykeen/datasets/"
    "{name}/{split}.txt"
)
#: Environment variable naming a directory with ``<name>/<split>.txt`` files
#: (for example the ``pykeen/datasets`` folder of another environment).
KG_DATA_ENV = "JAXNS_KG_DATA"


# --------------------------------------------------------------------------
# datasets


@dataclasses.dataclass(frozen=True, eq=False)
class TripleDataset:
    """Train, validation and test triples with their label-to-id maps.

    Immutable: the maps are read-only views and the arrays are read-only.

    Attributes:
      name: the dataset name or the directory it was read from.
      entity_to_id: entity label -> id, ids ``0 .. num_entities - 1`` in
        sorted label order (PyKEEN's ``create_entity_mapping``).
      relation_to_id: relation label -> id, sorted likewise.
      train: ``int32[num_train, 3]`` (head, relation, tail), unique and sorted.
      valid: ``int32[num_valid, 3]``.
      test: ``int32[num_test, 3]``.
    """

    name: str
    entity_to_id: Mapping[str, int]
    relation_to_id: Mapping[str, int]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def num_entities(self) -> int:
        """The number of entities (those of the training split)."""
        return len(self.entity_to_id)

    @property
    def num_relations(self) -> int:
        """The number of relations (those of the training split)."""
        return len(self.relation_to_id)

    def __repr__(self) -> str:
        return (
            f"TripleDataset({self.name!r}, entities={self.num_entities}, "
            f"relations={self.num_relations}, train={len(self.train)}, "
            f"valid={len(self.valid)}, test={len(self.test)})"
        )


def _read_labels(path: pathlib.Path) -> list[tuple[str, str, str, int]]:
    """Tab-separated ``head, relation, tail`` lines with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM is dropped
    except FileNotFoundError:
        raise FileNotFoundError(f"load_triples: {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"load_triples: {path} is not UTF-8 text ({err})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines are skipped, as pandas.read_csv does
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(
                f"load_triples: {path} line {number}: expected 3 tab-separated "
                f"columns (head, relation, tail), got {len(fields)}: {line[:80]!r}"
            )
        rows.append((fields[0], fields[1], fields[2], number))
    if not rows:
        raise ValueError(f"load_triples: {path} holds no triples")
    return rows


def _map_split(rows, entity_to_id, relation_to_id, path) -> np.ndarray:
    out = np.empty((len(rows), 3), np.int64)
    for i, (h, r, t, number) in enumerate(rows):
        checks = (
            (h, entity_to_id, "entity"),
            (t, entity_to_id, "entity"),
            (r, relation_to_id, "relation"),
        )
        for label, table, what in checks:
            if label not in table:
                raise ValueError(
                    f"load_triples: {path} line {number}: {what} {label!r} does not "
                    "occur in the training split (PyKEEN drops such triples; fix "
                    "the file or add the triple to train.txt)"
                )
        out[i] = entity_to_id[h], relation_to_id[r], entity_to_id[t]
    return _frozen(np.unique(out, axis=0).astype(np.int32))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _from_directory(directory: pathlib.Path, name: str) -> TripleDataset:
    paths = {s: directory / f"{s}.txt" for s in _SPLITS}
    rows = {s: _read_labels(p) for s, p in paths.items()}
    train = rows["train"]
    # PyKEEN: sorted(set(heads) | set(tails)) and sorted relation labels.
    entities = sorted({h for h, _, _, _ in train} | {t for _, _, t, _ in train})
    relations = sorted({r for _, r, _, _ in train})
    entity_to_id = {label: i for i, label in enumerate(entities)}
    relation_to_id = {label: i for i, label in enumerate(relations)}
    splits = {
        s: _map_split(rows[s], entity_to_id, relation_to_id, paths[s]) for s in _SPLITS
    }
    return TripleDataset(
        name=name,
        entity_to_id=types.MappingProxyType(entity_to_id),
        relation_to_id=types.MappingProxyType(relation_to_id),
        **splits,
    )


def _pykeen_data_dir() -> pathlib.Path | None:
    """``pykeen/datasets`` of an installed PyKEEN, found without importing it."""
    try:
        spec = importlib.util.find_spec("pykeen")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "datasets"


def _verified(directory: pathlib.Path, name: str) -> bool:
    """Whether ``directory`` holds the three split files of ``name`` unchanged."""
    for split, digest in _SHA256[name].items():
        path = directory / f"{split}.txt"
        if not path.is_file():
            return False
        if datasets._file_digest(path, "sha256") != digest:
            warnings.warn(
                f"load_triples: {path} differs from the {name} split it should "
                "hold (SHA-256 mismatch); ignoring that copy",
                RuntimeWarning,
                stacklevel=3,
            )
            return False
    return True


def _resolve(name: str) -> pathlib.Path:
    cache = datasets.default_cache_dir() / "kg" / name
    candidates = [cache]
    if os.environ.get(KG_DATA_ENV):
        candidates.append(pathlib.Path(os.environ[KG_DATA_ENV]).expanduser() / name)
    pykeen = _pykeen_data_dir()
    if pykeen is not None:
        candidates.append(pykeen / name)
    for directory in candidates:
        if _verified(directory, name):
            return directory
    for split, digest in _SHA256[name].items():
        remote = datasets.RemoteFile(
            url=_URL.format(name=name, split=split),
            filename=f"{split}.txt",
            algorithm="sha256",
            digest=digest,
        )
        datasets.download(remote, cache_dir=cache)
    return cache


def load_triples(source: str | os.PathLike[str]) -> TripleDataset:
    """Loads a knowledge graph's train/valid/test triples with PyKEEN's ids.

    ``source`` is a directory holding ``train.txt``, ``valid.txt`` and
    ``test.txt`` (UTF-8, one triple a line, ``head<TAB>relation<TAB>tail``;
    blank lines and a leading byte-order mark are skipped), or one of
    :data:`KG_DATASETS`. Entity ids number the sorted labels of the training
    heads and tails, relation ids the sorted training relations (PyKEEN's
    ``TriplesFactory.from_path``), and each split is de-duplicated and sorted
    by id (PyKEEN's ``np.unique``), so results compare with PyKEEN's id for
    id.

    A name is resolved, in order, from ``<cache>/kg/<name>/``
    (:func:`jaxns.datasets.default_cache_dir`, ``$JAXNS_CACHE``), from
    ``$JAXNS_KG_DATA/<name>/``, from the data folder of an installed
    ``pykeen`` package (found without importing it), or by a download from
    PyKEEN's public repository into the cache. Every file is checked against
    its pinned SHA-256; a copy that differs is ignored (local folders) or
    deleted (the cache). The data's licence is unsettled, so jaxns does not
    ship it.

    Args:
      source: a directory, or ``"nations"``, ``"umls"`` or ``"kinships"``.

    Returns:
      A :class:`TripleDataset`.

    Raises:
      FileNotFoundError: a split file is missing.
      ValueError: a line without exactly three tab-separated columns, an
        empty split, or a valid/test entity or relation that the training
        split lacks (the message names the file and the line); a download
        that fails verification.
      OSError: a named dataset is found nowhere and cannot be downloaded.

    Examples:
      >>> import pathlib, tempfile
      >>> import jaxns
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (d / "train.txt").write_text("b\\tlikes\\ta\\na\\tlikes\\tc\\n")
      >>> _ = (d / "valid.txt").write_text("c\\tlikes\\ta\\n")
      >>> _ = (d / "test.txt").write_text("a\\tlikes\\tb\\n")
      >>> data = jaxns.kg.load_triples(d)
      >>> dict(data.entity_to_id), data.train.tolist()
      ({'a': 0, 'b': 1, 'c': 2}, [[0, 0, 2], [1, 0, 0]])

    References:
      Dettmers et al, `Convolutional 2D Knowledge Graph Embeddings
      <https://arxiv.org/abs/1707.01476>`_, 2018.
      Ali et al, `PyKEEN 1.0: A Python Library for Training and Evaluating
      Knowledge Graph Embeddings <https://jmlr.org/papers/v22/20-825.html>`_,
      2021.
    """
    if isinstance(source, str) and source in KG_DATASETS:
        return _from_directory(_resolve(source), source)
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            f"load_triples: source must be a directory path or one of "
            f"{KG_DATASETS}, got {type(source).__name__} {source!r}"
        )
    directory = pathlib.Path(source).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"load_triples: {str(source)!r} is neither one of {KG_DATASETS} nor a "
            "directory holding train.txt, valid.txt and test.txt"
        )
    return _from_directory(directory, str(source))


# --------------------------------------------------------------------------
# known triples


def _distinct_sorted_rows(
    triples: np.ndarray, columns: tuple[int, int, int], sizes: tuple[int, int, int]
) -> tuple[np.ndarray, int]:
    """The distinct rows of ``triples[:, columns]`` in lexicographic order, and
    the largest number of rows sharing their first two columns.

    Each row is one int64 key ``(a * n_b + b) * n_c + c`` (``sizes`` bound the
    columns), sorted as a plain integer array: ``np.unique(axis=0)`` and
    ``np.lexsort`` took about 10 s for 3M triples, the keys under 1 s. Rows
    whose keys could overflow int64 fall back to those."""
    t = triples[:, columns]
    n_a, n_b, n_c = sizes
    if not len(t):
        return t, 0
    if n_a * n_b * n_c >= 2**63:
        rows = np.unique(t, axis=0)
        _, counts = np.unique(rows[:, :2], axis=0, return_counts=True)
        return rows, int(counts.max())
    keys = _samplers._sorted_unique((t[:, 0] * n_b + t[:, 1]) * n_c + t[:, 2])
    pairs, c = np.divmod(keys, n_c)
    a, b = np.divmod(pairs, n_b)
    starts = np.flatnonzero(np.diff(pairs, prepend=-1))  # pairs are sorted
    widest = int(np.diff(np.append(starts, len(pairs))).max())
    return np.stack([a, b, c], axis=1), widest


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class KnownTriples:
    """A set of true triples for exact membership and filtering inside ``jit``.

    Built once on the host by :func:`known_triples`; passes into jitted code as
    an argument. Holds the unique triples twice, sorted by (head, relation,
    tail) and by (tail, relation, head); lookups are branch-free binary
    searches (``ceil(log2(n))`` gathers per query), so memory is ``O(n)`` and
    no dense ``entities x relations x entities`` table is built.

    Attributes:
      by_head: ``int32[n, 3]`` rows ``(h, r, t)`` in lexicographic order.
      by_tail: ``int32[n, 3]`` rows ``(t, r, h)`` in lexicographic order.
      num_entities: static.
      num_relations: static.
      max_tails: the most tails any ``(h, r)`` has (static).
      max_heads: the most heads any ``(r, t)`` has (static).
    """

    by_head: jax.Array
    by_tail: jax.Array
    num_entities: int = dataclasses.field(metadata=dict(static=True))
    num_relations: int = dataclasses.field(metadata=dict(static=True))
    max_tails: int = dataclasses.field(metadata=dict(static=True))
    max_heads: int = dataclasses.field(metadata=dict(static=True))

    def __repr__(self) -> str:
        return (
            f"KnownTriples(n={self.by_head.shape[0]}, entities={self.num_entities}, "
            f"relations={self.num_relations})"
        )

    def contains(self, triples: ArrayLike) -> jax.Array:
        """Whether each triple is in the set (exact).

        Args:
          triples: integer ``[..., 3]`` (head, relation, tail).

        Returns:
          ``bool[...]``.

        Raises:
          TypeError: for non-integer triples.
          ValueError: unless the last axis has size 3.

        Examples:
          >>> import jaxns
          >>> known = jaxns.kg.known_triples([[0, 0, 1], [2, 1, 0]], 3, 2)
          >>> known.contains([[0, 0, 1], [0, 0, 2], [2, 1, 0]]).tolist()
          [True, False, True]

        References:
          Bordes et al, `Translating Embeddings for Modeling Multi-relational
          Data <https://papers.nips.cc/paper/5071>`_, 2013 (the filtered
          setting).
        """
        fn = "KnownTriples.contains"
        triples = _checks.int_array(fn, "triples", triples)
        if triples.ndim < 1 or triples.shape[-1] != 3:
            raise ValueError(
                f"{fn}: triples must have shape [..., 3], got {triples.shape}."
            )
        with jax.named_scope("jaxns.kg.KnownTriples.contains"):
            t = _int32_queries(triples)
            query = (t[..., 0], t[..., 1], t[..., 2])
            n = self.by_head.shape[0]
            if n == 0:
                return jnp.zeros(t.shape[:-1], jnp.bool_)
            idx = _lower_bound(self.by_head, query)
            row = jnp.take(self.by_head, jnp.minimum(idx, max(n - 1, 0)), axis=0)
            same = (row[..., 0] == query[0]) & (row[..., 1] == query[1])
            return (idx < n) & same & (row[..., 2] == query[2])

    def filter_mask(self, triples: ArrayLike, side: str) -> jax.Array:
        """The known entities of each query: the set's answers to ``(h, r, ?)``.

        For ``side="tail"`` row ``i`` marks every ``t`` with
        ``(h_i, r_i, t)`` in the set, for ``side="head"`` every ``h`` with
        ``(h, r_i, t_i)`` in the set. Cost ``O(batch * (log n + max_tails))``
        plus the ``[batch, num_entities]`` output.

        Args:
          triples: integer ``[batch, 3]`` queries (the column being predicted
            is ignored).
          side: ``"head"`` or ``"tail"``, the column to predict.

        Returns:
          ``bool[batch, num_entities]``, True where the entity makes a known
          triple (including the query's own answer when it is in the set).

        Raises:
          TypeError: for non-integer triples.
          ValueError: for a bad shape or side.

        Examples:
          >>> import jaxns
          >>> known = jaxns.kg.known_triples([[0, 0, 1], [0, 0, 2], [2, 0, 1]], 3, 1)
          >>> known.filter_mask([[0, 0, 1]], "tail").astype(int).tolist()
          [[0, 1, 1]]
          >>> known.filter_mask([[0, 0, 1]], "head").astype(int).tolist()
          [[1, 0, 1]]

        References:
          Bordes et al, `Translating Embeddings for Modeling Multi-relational
          Data <https://papers.nips.cc/paper/5071>`_, 2013 (the filtered
          setting).
        """
        fn = "KnownTriples.filter_mask"
        side = _checks.choice(fn, "side", side, ("head", "tail"))
        triples = _checks.int_array(fn, "triples", triples, (None, 3))
        with jax.named_scope("jaxns.kg.KnownTriples.filter_mask"):
            t = _int32_queries(triples)
            if side == "tail":
                table, first, width = self.by_head, t[:, 0], self.max_tails
            else:
                table, first, width = self.by_tail, t[:, 2], self.max_heads
            rel = t[:, 1]
            lo = _lower_bound(table, (first, rel, jnp.zeros_like(rel)))
            end = jnp.full_like(rel, self.num_entities)
            hi = _lower_bound(table, (first, rel, end))
            batch, n = t.shape[0], table.shape[0]
            out = jnp.zeros((batch, self.num_entities), jnp.bool_)
            if width == 0 or n == 0:
                return out
            pos = lo[:, None] + jnp.arange(width, dtype=jnp.int32)[None, :]
            live = pos < hi[:, None]
            ids = jnp.take(table[:, 2], jnp.minimum(pos, n - 1))
            # Dead slots point past the last column and are dropped.
            ids = jnp.where(live, ids, self.num_entities)
            rows = jnp.broadcast_to(jnp.arange(batch)[:, None], ids.shape)
            return out.at[rows, ids].set(True, mode="drop")


def _int32_queries(triples: jax.Array) -> jax.Array:
    """Query ids as int32; an id outside the int32 range becomes -1.

    The set's ids are in ``[0, num_entities)``, so such a query matches no
    triple; a plain cast would wrap a 64-bit id (x64) onto another one
    (``2**32 + 1 -> 1``) and report a triple that is not in the set.
    """
    t = triples.astype(jnp.int32)
    if triples.dtype.itemsize > 4:
        fits = (triples >= 0) & (triples <= jnp.iinfo(jnp.int32).max)
        t = jnp.where(fits, t, -1)
    return t


def _lower_bound(table: jax.Array, query: tuple[jax.Array, ...]) -> jax.Array:
    """How many rows of the lexicographically sorted ``table`` are < ``query``.

    Branch-free binary search: one gather of a row per halving step.
    """
    n = table.shape[0]
    pos = jnp.zeros(query[0].shape, jnp.int32)
    if n == 0:
        return pos
    steps = n.bit_length()  # halvings from the largest power of two <= n

    def halve(i, pos):
        step = jnp.left_shift(jnp.int32(1), steps - 1 - i)
        cand = pos + step
        row = jnp.take(table, jnp.minimum(cand - 1, n - 1), axis=0)
        a, b, c = row[..., 0], row[..., 1], row[..., 2]
        less = (a < query[0]) | (
            (a == query[0]) & ((b < query[1]) | ((b == query[1]) & (c < query[2])))
        )
        return jnp.where(less & (cand <= n), cand, pos)

    # A rolled loop keeps the program (and its compile time) small.
    return jax.lax.fori_loop(0, steps, halve, pos)


def known_triples(
    triples: ArrayLike | Sequence[ArrayLike],
    num_entities: int,
    num_relations: int,
) -> KnownTriples:
    """Builds a :class:`KnownTriples` set from concrete triples (host side).

    Args:
      triples: concrete integer ``[n, 3]`` (head, relation, tail), or a list
        of such arrays whose union is taken (e.g. train, valid and test for
        filtered evaluation of the test split). Duplicates are fine.
      num_entities: the number of entities (ids must lie below it).
      num_relations: the number of relations.

    Returns:
      A :class:`KnownTriples`.

    Raises:
      TypeError: for traced or non-integer triples.
      ValueError: for a bad shape or ids out of range.

    Examples:
      >>> import jaxns
      >>> known = jaxns.kg.known_triples([[[0, 0, 1]], [[1, 0, 0], [0, 0, 1]]], 2, 1)
      >>> known
      KnownTriples(n=2, entities=2, relations=1)

    References:
      Bordes et al, `Translating Embeddings for Modeling Multi-relational Data
      <https://papers.nips.cc/paper/5071>`_, 2013 (the filtered setting).
    """
    fn = "kg.known_triples"
    e = _checks.size(fn, "num_entities", num_entities, minimum=1)
    r = _checks.size(fn, "num_relations", num_relations, minimum=1)
    parts = (
        list(triples)
        if isinstance(triples, list | tuple)
        and all(np.ndim(p) == 2 for p in triples)
        and len(triples) > 0
        else [triples]
    )
    arrays = []
    for i, part in enumerate(parts):
        arg = "triples" if len(parts) == 1 else f"triples[{i}]"
        a = _checks.concrete(fn, arg, part, why="the set is built on the host")
        if a.size == 0:
            a = a.reshape(0, 3).astype(np.int64)
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{fn}: {arg} must be an integer array, got {a.dtype}.")
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"{fn}: {arg} must have shape [n, 3], got {a.shape}.")
        bad = (a[:, [0, 2]] < 0) | (a[:, [0, 2]] >= e)
        if bad.any() or (a[:, 1] < 0).any() or (a[:, 1] >= r).any():
            raise ValueError(
                f"{fn}: {arg} has ids outside [0, {e}) (entities) or [0, {r}) "
                "(relations)."
            )
        arrays.append(a.astype(np.int64))
    all_triples = np.concatenate(arrays)
    if e > np.iinfo(np.int32).max - 1:
        raise ValueError(f"{fn}: num_entities {e} does not fit int32 ids.")
    by_head, max_tails = _distinct_sorted_rows(all_triples, (0, 1, 2), (e, r, e))
    by_tail, max_heads = _distinct_sorted_rows(all_triples, (2, 1, 0), (e, r, e))
    return KnownTriples(
        by_head=jnp.asarray(by_head, jnp.int32),
        by_tail=jnp.asarray(by_tail, jnp.int32),
        num_entities=e,
        num_relations=r,
        max_tails=max_tails,
        max_heads=max_heads,
    )


# --------------------------------------------------------------------------
# ranks and metrics


class Ranks(NamedTuple):
    """Ranks of the true answers, PyKEEN's three tie policies.

    Attributes:
      optimistic: ``int32[queries]``, ``1 + #{kept candidates scoring higher}``.
      pessimistic: ``int32[queries]``, ``1 + #{kept candidates scoring at
        least as high}``.
      realistic: ``float32[queries]``, the mean of the two (the expected rank
        under random tie breaking).
    """

    optimistic: jax.Array
    pessimistic: jax.Array
    realistic: jax.Array


def ranks(
    scores: ArrayLike, true_index: ArrayLike, *, where: ArrayLike | None = None
) -> Ranks:
    r"""Filtered optimistic, pessimistic and realistic ranks per query.

    With :math:`s^*` the score of the true entity and :math:`C` the kept
    candidates other than it (``where`` True; the true entity itself is always
    kept and never in :math:`C`):

    .. math:: r_{opt} = 1 + |\{c \in C: s_c > s^*\}|, \quad
       r_{pes} = 1 + |\{c \in C: s_c \ge s^*\}|, \quad
       r_{real} = (r_{opt} + r_{pes}) / 2

    exactly PyKEEN's ``RankBasedEvaluator(filtered=True)`` (which sets the
    filtered scores to NaN). A NaN candidate never counts as better. A NaN
    true score ranks below every non-NaN candidate and ties with the NaN ones
    (PyKEEN would give it the pessimistic rank 0 there).

    Args:
      scores: float ``[queries, entities]``, higher = more plausible.
      true_index: integer ``[queries]``, the column of the true entity.
      where: optional ``bool[queries, entities]``; False drops a candidate
        (known positives other than the true one, in the filtered setting).

    Returns:
      :class:`Ranks` with arrays of shape ``[queries]``.

    Raises:
      TypeError: for non-float scores, non-integer ``true_index`` or a
        non-bool ``where``.
      ValueError: for mismatched shapes.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> scores = jnp.array([[0.5, 2.0, 2.0, 1.0], [3.0, 1.0, jnp.nan, 1.0]])
      >>> r = jaxns.kg.ranks(scores, jnp.array([1, 1]))
      >>> r.optimistic.tolist(), r.pessimistic.tolist(), r.realistic.tolist()
      ([1, 2], [2, 3], [1.5, 2.5])
      >>> keep = jnp.array([[True, True, False, True], [False, True, True, True]])
      >>> jaxns.kg.ranks(scores, jnp.array([1, 1]), where=keep).realistic.tolist()
      [1.0, 1.5]

    References:
      Berrendorf et al, `On the Ambiguity of Rank-Based Evaluation of Entity
      Alignment or Link Prediction Methods <https://arxiv.org/abs/2002.06914>`_,
      2020.
    """
    fn = "kg.ranks"
    scores = _checks.float_array(fn, "scores", scores, ndim=2)
    true_index = _checks.int_array(fn, "true_index", true_index, (scores.shape[0],))
    where = _checks.mask(fn, "where", where, scores.shape, of="scores")
    with jax.named_scope("jaxns.kg.ranks"):
        if scores.dtype.itemsize < 4:
            scores = scores.astype(jnp.float32)
        cols = jnp.arange(scores.shape[1], dtype=jnp.int32)[None, :]
        others = cols != true_index.astype(jnp.int32)[:, None]
        if where is not None:
            others = others & where
        true = jnp.take_along_axis(scores, true_index[:, None], axis=1)
        nan_true, nan = jnp.isnan(true), jnp.isnan(scores)
        better = (scores > true) | (nan_true & ~nan)
        not_worse = (scores >= true) | nan_true
        opt = 1 + jnp.sum(better & others, axis=1, dtype=jnp.int32)
        pes = 1 + jnp.sum(not_worse & others, axis=1, dtype=jnp.int32)
        real = 0.5 * (opt + pes).astype(jnp.float32)
        return Ranks(opt, pes, real)


def rank_metrics(
    ranks: Ranks | ArrayLike, *, ks: Sequence[int] = (1, 3, 10)
) -> dict[str, jax.Array]:
    r"""MRR, Hits@k and mean rank of realistic ranks (PyKEEN's definitions).

    .. math:: \mathrm{MRR} = \frac{1}{n}\sum_i \frac{1}{r_i}, \qquad
       \mathrm{Hits@}k = \frac{1}{n}\sum_i [r_i \le k], \qquad
       \mathrm{MR} = \frac{1}{n}\sum_i r_i

    with :math:`r_i` the realistic (average) ranks, so a tie straddling
    :math:`k` counts by its averaged rank. Pool the head and tail ranks
    (concatenate them) for PyKEEN's ``"both"``.

    Args:
      ranks: a :class:`Ranks` (its ``realistic`` field is used) or float
        realistic ranks of any shape (all entries are pooled).
      ks: the cut-offs of Hits@k (Python ints >= 1).

    Returns:
      ``{"mrr", "mean_rank", "hits@k" for each k}``, float32 scalars
      (float64 for float64 ranks; NaN for no ranks).

    Raises:
      TypeError: for non-float ranks or non-int ``ks``.
      ValueError: for ``k < 1``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> m = jaxns.kg.rank_metrics(jnp.array([1.0, 2.5, 4.0]), ks=(1, 3))
      >>> {k: round(float(v), 4) for k, v in m.items()}
      {'mrr': 0.55, 'mean_rank': 2.5, 'hits@1': 0.3333, 'hits@3': 0.6667}

    References:
      Ali et al, `Bringing Light Into the Dark: A Large-scale Evaluation of
      Knowledge Graph Embedding Models Under a Unified Framework
      <https://arxiv.org/abs/2006.13365>`_, 2021.
    """
    fn = "kg.rank_metrics"
    if isinstance(ranks, Ranks):
        ranks = ranks.realistic
    r = _checks.float_array(fn, "ranks", ranks)
    ks = tuple(_checks.size(fn, "ks", k, minimum=1) for k in ks)
    with jax.named_scope("jaxns.kg.rank_metrics"):
        r = r.reshape(-1).astype(_checks.compute_dtype(r.dtype))
        out = {"mrr": jnp.mean(1.0 / r), "mean_rank": jnp.mean(r)}
        for k in ks:
            out[f"hits@{k}"] = jnp.mean((r <= k).astype(r.dtype))
        return out


# --------------------------------------------------------------------------
# evaluation


ScoreFn = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]


class _EqualPartial:
    """A ``functools.partial`` that equals (and hashes like) every partial of
    the same function with equal arguments: ``functools.partial`` compares by
    identity, so a fresh but equal partial per :func:`evaluate` call (the
    documented ``score_fn``) missed the jit cache and recompiled every time."""

    def __init__(self, fn: functools.partial, key: tuple) -> None:
        self.fn, self.key = fn, key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _EqualPartial) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _static_score_fn(score_fn: Any) -> Any:
    """``score_fn`` as a static jit argument: partials of hashable arguments
    by value (see :class:`_EqualPartial`), anything else as it is."""
    if not isinstance(score_fn, functools.partial):
        return score_fn
    key = (
        _static_score_fn(score_fn.func),
        score_fn.args,
        tuple(sorted(score_fn.keywords.items())),
    )
    try:
        hash(key)
    except TypeError:  # e.g. an array bound in the partial: by identity
        return score_fn
    return _EqualPartial(score_fn, key)


@functools.partial(jax.jit, static_argnames=("score_fn", "side"))
def _side_ranks(score_fn, params, triples, known, side):
    h, r, t = triples[:, 0:1], triples[:, 1:2], triples[:, 2:3]
    entities = jnp.arange(known.num_entities, dtype=jnp.int32)[None, :]
    if side == "tail":
        scores, column = score_fn(params, h, r, entities), triples[:, 2]
    else:
        scores, column = score_fn(params, entities, r, t), triples[:, 0]
    keep = ~known.filter_mask(triples, side)
    return ranks(scores, column, where=keep).realistic


def evaluate(
    score_fn: ScoreFn,
    params: Any,
    triples: ArrayLike,
    known: KnownTriples,
    *,
    batch_size: int = 1024,
    ks: Sequence[int] = (1, 3, 10),
) -> dict[str, dict[str, float]]:
    """Filtered link-prediction metrics on both sides, PyKEEN's protocol.

    For each triple ``(h, r, t)`` every entity is scored as the tail of
    ``(h, r, ?)`` and as the head of ``(?, r, t)``; the entities that make a
    triple in ``known`` (other than the true one) are filtered out, and
    :func:`ranks` gives the realistic rank. For the test split use
    ``known = known_triples([train, valid, test], ...)``, as PyKEEN's
    pipeline does.

    ``score_fn(params, heads, relations, tails)`` takes integer id arrays that
    broadcast against each other (``[q, 1]`` and ``[1, num_entities]``) and
    returns the broadcast scores. It must be hashable (a module-level function
    or a ``functools.partial`` of one): the ranking of one batch is compiled
    once per ``score_fn`` and reused on later calls; a new
    ``functools.partial`` of the same function with equal (hashable)
    arguments counts as the same ``score_fn``. A new ``lambda`` per call
    compiles anew each time.

    Args:
      score_fn: the model's scoring function (see above).
      params: a pytree of the model's parameters, passed to ``score_fn``.
      triples: concrete integer ``[n, 3]`` evaluation triples.
      known: the :class:`KnownTriples` to filter with.
      batch_size: queries scored at once (the last batch is padded).
      ks: the Hits@k cut-offs.

    Returns:
      ``{"head": metrics, "tail": metrics, "both": metrics}``, each the
      :func:`rank_metrics` dictionary as Python floats (NaN for no
      triples); ``"head"`` holds the ranks of predicting heads.

    Raises:
      TypeError: for non-integer triples.
      ValueError: for a bad shape, ids outside the entity or relation range
        of ``known`` or a non-positive batch size.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> def score(table, h, r, t):  # a toy model: entity ids as scores
      ...     return (t - h).astype(jnp.float32)
      >>> triples = jnp.array([[0, 0, 2], [1, 0, 2]])
      >>> known = jaxns.kg.known_triples(triples, 3, 1)
      >>> m = jaxns.kg.evaluate(score, None, triples, known)
      >>> m["tail"]["mrr"], m["head"]["mean_rank"]
      (1.0, 1.0)

    References:
      Ali et al, `Bringing Light Into the Dark: A Large-scale Evaluation of
      Knowledge Graph Embedding Models Under a Unified Framework
      <https://arxiv.org/abs/2006.13365>`_, 2021.
    """
    fn = "kg.evaluate"
    b = _checks.size(fn, "batch_size", batch_size, minimum=1)
    t = _checks.concrete(fn, "triples", triples)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"{fn}: triples must be an integer array, got {t.dtype}.")
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError(f"{fn}: triples must have shape [n, 3], got {t.shape}.")
    e = known.num_entities
    if t.size and (t[:, [0, 2]].min() < 0 or t[:, [0, 2]].max() >= e):
        raise ValueError(f"{fn}: triples have entity ids outside [0, {e}).")
    # A relation id past the table reads NaN or a clamped row: plausible ranks.
    _checks.values_in_range(
        fn, "triples[:, 1]", t[:, 1], 0, known.num_relations, what="relation ids"
    )
    n = t.shape[0]
    b = min(b, max(n, 1))
    padded = np.zeros((math.ceil(n / b) * b, 3), np.int32)
    padded[:n] = t
    out = {}
    static_fn = _static_score_fn(score_fn)
    with jax.named_scope("jaxns.kg.evaluate"):
        for side in ("head", "tail"):
            parts = [
                _side_ranks(
                    static_fn, params, jnp.asarray(padded[i : i + b]), known, side
                )  # fmt: skip
                for i in range(0, len(padded), b)
            ]
            # An empty split has no batch: no ranks, NaN metrics.
            out[side] = np.concatenate(
                [np.zeros(0, np.float32), *(np.asarray(p) for p in parts)]
            )[:n]
    out["both"] = np.concatenate([out["head"], out["tail"]])
    return {
        side: {k: float(v) for k, v in rank_metrics(jnp.asarray(r), ks=ks).items()}
        for side, r in out.items()
    }


# --------------------------------------------------------------------------
# negatives


SAMPLERS = ("basic", "bernoulli")


def corrupt_batch(
    key: ArrayLike,
    positives: ArrayLike,
    num_entities: int,
    *,
    num_negatives: int,
    sampler: str = "basic",
    head_prob: ArrayLike | None = None,
    num_valid: ArrayLike | None = None,
) -> jax.Array:
    """Negatives of a batch of positives, as PyKEEN's sLCWA samplers draw them.

    Every negative copies its positive and replaces one entity by a uniform
    draw among the ``num_entities - 1`` others (never the original).

    * ``sampler="basic"`` (PyKEEN's ``BasicNegativeSampler``): the ``B * K``
      negatives, laid out positive by positive, are split in two; the first
      ``ceil(B * K / 2)`` replace the head, the rest the tail. So the first
      half of the rows corrupt the head (with an even ``K``).
    * ``sampler="bernoulli"`` (``BernoulliNegativeSampler``, Wang et al.
      2014): each negative replaces the head with probability
      ``head_prob[relation]`` (:func:`jaxns.samplers.bernoulli_head_prob`),
      else the tail.

    Negatives may be true triples; mask them with
    :meth:`KnownTriples.contains` for filtered negatives.

    Args:
      key: a single typed PRNG key.
      positives: integer ``[batch, 3]`` (head, relation, tail).
      num_entities: ``n >= 2`` (Python int).
      num_negatives: ``K``, negatives per positive (Python int).
      sampler: ``"basic"`` or ``"bernoulli"``.
      head_prob: ``float[num_relations]``, required for ``"bernoulli"``.
      num_valid: for ``"basic"``, how many leading rows are real positives
        (a padded last batch splits its ``num_valid * K`` negatives as
        PyKEEN splits a short batch); default ``batch``. May be traced.

    Returns:
      ``int32[batch, K, 3]`` negatives.

    Raises:
      TypeError: for a non-typed key or non-integer positives.
      ValueError: for a key array, a bad shape, ``n < 2``, an unknown sampler
        or a missing ``head_prob``.

    Examples:
      >>> import jax, jax.numpy as jnp, jaxns
      >>> pos = jnp.array([[0, 0, 1], [2, 1, 3]])
      >>> neg = jaxns.kg.corrupt_batch(jax.random.key(0), pos, 5, num_negatives=2)
      >>> (neg[0, :, 0] != 0).tolist(), (neg[1, :, 2] != 3).tolist()
      ([True, True], [True, True])

    References:
      Bordes et al, `Translating Embeddings for Modeling Multi-relational Data
      <https://papers.nips.cc/paper/5071>`_, 2013.
      Wang et al, `Knowledge Graph Embedding by Translating on Hyperplanes
      <https://doi.org/10.1609/aaai.v28i1.8870>`_, 2014.
    """
    fn = "kg.corrupt_batch"
    key = _checks.key(fn, key)
    positives = _checks.int_array(fn, "positives", positives, (None, 3))
    n = _checks.size(fn, "num_entities", num_entities, minimum=2)
    k = _checks.size(fn, "num_negatives", num_negatives)
    sampler = _checks.choice(fn, "sampler", sampler, SAMPLERS)
    with jax.named_scope("jaxns.kg.corrupt_batch"):
        if sampler == "bernoulli":
            if head_prob is None:
                raise ValueError(f"{fn}: sampler='bernoulli' needs head_prob.")
            return _samplers.corrupt_triples(
                key, positives, n, num_negatives=k, mode="bernoulli",
                head_prob=head_prob,
            )  # fmt: skip
        p = positives.astype(jnp.int32)
        b = p.shape[0]
        valid = b if num_valid is None else jnp.asarray(num_valid, jnp.int32)
        flat = jnp.arange(b * k, dtype=jnp.int32).reshape(b, k)
        corrupt_head = flat < (valid * k + 1) // 2
        heads = jnp.broadcast_to(p[:, :1], (b, k))
        tails = jnp.broadcast_to(p[:, 2:], (b, k))
        original = jnp.where(corrupt_head, heads, tails)
        # PyKEEN's shift: draw from n - 1 values, skip the original.
        r = jax.random.randint(key, (b, k), 0, n - 1, jnp.int32)
        replacement = r + (r >= original).astype(jnp.int32)
        return jnp.stack(
            [
                jnp.where(corrupt_head, replacement, heads),
                jnp.broadcast_to(p[:, 1:2], (b, k)),
                jnp.where(corrupt_head, tails, replacement),
            ],
            axis=-1,
        )


# --------------------------------------------------------------------------
# losses with PyKEEN's reductions


LOSSES = ("nssa", "softplus", "margin", "bce", "softmax")


def slcwa_loss(
    pos_scores: ArrayLike,
    neg_scores: ArrayLike,
    *,
    loss: str = "nssa",
    margin: float | None = None,
    adversarial_temperature: float = 1.0,
    where: ArrayLike | None = None,
    valid: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    neg_log_q: ArrayLike | None = None,
) -> jax.Array:
    r"""One batch's training loss, reduced exactly as PyKEEN's sLCWA loop does.

    Built on the per-example losses of :mod:`jaxns.losses`:

    * ``"nssa"`` (``NSSALoss``, reduction ``"mean"``): half the sum of the
      mean positive term and the mean weighted negative term,
      ``0.5 * mean_b self_adversarial(s+, s-; gamma, alpha)``, i.e.
      :math:`\tfrac12\big(\overline{-\log\sigma(\gamma + s^+)} +
      \overline{\textstyle\sum_j w_j(-\log\sigma(-s^-_j - \gamma))}\big)`
      with ``w = softmax(alpha * s-)`` over the kept negatives, detached.
      Default margin 9.
    * ``"softplus"`` and ``"bce"`` (``SoftplusLoss``, ``BCEWithLogitsLoss``:
      the same function): the mean of ``softplus(-s+)`` and
      ``softplus(s-)`` over all positives and kept negatives pooled.
    * ``"margin"`` (``MarginRankingLoss``): the mean of
      ``max(0, gamma + s- - s+)`` over all kept (positive, negative) pairs.
      Default margin 1.
    * ``"softmax"`` (``CrossEntropyLoss``): the mean over rows of the
      cross-entropy of a softmax over the positive and its kept negatives,
      :func:`jaxns.losses.sampled_softmax`, the negatives' scores corrected
      by ``neg_log_q`` (the log expected count of each drawn entity; the
      positive is in the softmax exactly once, so its own is 0).
      ``adversarial_temperature`` multiplies the scores (a softmax inverse
      temperature); the margin is unused. Without ``neg_log_q`` and with
      ``adversarial_temperature=1`` this is PyKEEN's ``CrossEntropyLoss``
      in sLCWA; with ``adversarial_temperature=1 / tau`` it is its
      ``InfoNCELoss(margin=0, log_adversarial_temperature=log(tau))``, whose
      "temperature" divides. :func:`make_trainer` passes the uniform
      sampler's ``neg_log_q``, which PyKEEN does not apply.

    ``where`` drops negatives (filtered negatives; PyKEEN removes them from
    the batch) and ``valid`` drops whole rows (padding). One departure: a row
    whose negatives are all filtered contributes no negative term here, while
    PyKEEN's NSSA fills such a row with zero scores.

    Args:
      pos_scores: float ``[batch]``.
      neg_scores: float ``[batch, num_negatives]``.
      loss: one of :data:`LOSSES`.
      margin: ``gamma``; default 9 for ``"nssa"``, 1 for ``"margin"``, unused
        by the others.
      adversarial_temperature: ``alpha`` of ``"nssa"`` (an inverse softmax
        temperature).
      where: optional ``bool[batch, num_negatives]``, True keeps a negative.
      valid: optional ``bool[batch]``, True keeps a row.
      weights: optional float ``[batch]`` row weights (Sun et al.'s
        subsampling weights; not in PyKEEN): every mean becomes the weighted
        mean, each negative weighted by its positive's weight.
      neg_log_q: for ``"softmax"`` only, the negatives' log expected counts,
        a scalar or ``[batch, num_negatives]``; ``log(K / (n - 1))`` for
        ``K`` uniform draws with replacement among ``n - 1`` entities.
        Default: no correction.

    Returns:
      A float32 (float64 for float64 input) scalar.

    Raises:
      TypeError: for non-float scores or non-bool masks.
      ValueError: for mismatched shapes, an unknown loss, or a negative
        margin or temperature.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> pos, neg = jnp.zeros(2), jnp.zeros((2, 3))
      >>> round(float(jaxns.kg.slcwa_loss(pos, neg, loss="softplus")), 4)  # log 2
      0.6931
      >>> round(float(jaxns.kg.slcwa_loss(pos, neg, loss="nssa", margin=0.0)), 4)
      0.6931

    References:
      Sun et al, `RotatE: Knowledge Graph Embedding by Relational Rotation in
      Complex Space <https://arxiv.org/abs/1902.10197>`_, 2019.
      Ali et al, `Bringing Light Into the Dark: A Large-scale Evaluation of
      Knowledge Graph Embedding Models Under a Unified Framework
      <https://arxiv.org/abs/2006.13365>`_, 2021.
    """
    fn = "kg.slcwa_loss"
    loss = _checks.choice(fn, "loss", loss, LOSSES)
    (pos, neg), _ = _checks.floats(fn, pos_scores=pos_scores, neg_scores=neg_scores)
    if pos.ndim != 1 or neg.shape[:1] != pos.shape or neg.ndim != 2:
        raise ValueError(
            f"{fn}: pos_scores must be [batch] and neg_scores [batch, "
            f"num_negatives], got {pos.shape} and {neg.shape}."
        )
    where = _checks.mask(fn, "where", where, neg.shape)
    valid = _checks.mask(fn, "valid", valid, pos.shape, of="pos_scores")
    weights = _checks.weights(fn, "weights", weights, pos.shape)
    if margin is None:
        margin = 9.0 if loss == "nssa" else 1.0
    _checks.number(fn, "margin", margin, nonnegative=True)
    _checks.number(fn, "adversarial_temperature", adversarial_temperature,
                   nonnegative=True)  # fmt: skip
    with jax.named_scope("jaxns.kg.slcwa_loss"):
        rows = jnp.ones(pos.shape, jnp.bool_) if valid is None else valid
        w = jnp.ones(pos.shape, pos.dtype) if weights is None else weights
        w = jnp.where(rows, w.astype(pos.dtype), 0)
        keep = jnp.broadcast_to(rows[:, None], neg.shape)
        if where is not None:
            keep = keep & where
        live = jnp.sum(keep, axis=1).astype(pos.dtype)

        def mean(values, counts):
            return jnp.sum(w * values) / jnp.maximum(jnp.sum(w * counts), 1e-30)

        if loss == "nssa":
            per_row = _losses.self_adversarial(
                pos, neg, margin=margin, where=keep,
                adversarial_temperature=adversarial_temperature,
            )  # fmt: skip
            return 0.5 * mean(jnp.where(rows, per_row, 0), jnp.ones_like(w))
        if loss == "margin":
            per_row = _losses.margin_ranking(pos, neg, margin=margin, where=keep)
            return mean(per_row * live, live)
        if loss == "softmax":
            scale = jnp.asarray(adversarial_temperature, pos.dtype)
            log_q = {}
            if neg_log_q is not None:
                log_q = {
                    "pos_log_q": jnp.zeros_like(pos),
                    "neg_log_q": jnp.broadcast_to(
                        jnp.asarray(neg_log_q, pos.dtype), neg.shape
                    ),
                }
            per_row = _losses.sampled_softmax(
                scale * pos, scale * neg, where=keep, **log_q
            )
            return mean(jnp.where(rows, per_row, 0), jnp.ones_like(w))
        per_row = _losses.sgns(pos, neg, where=keep)  # softplus(-s+) + sum softplus(s-)
        return mean(jnp.where(rows, per_row, 0), 1 + live)


# --------------------------------------------------------------------------
# models and training


MODELS = ("transe", "distmult", "complex", "rotate")
#: PyKEEN's default regularisation weights (an L2 norm divided by sqrt(dim),
#: averaged over the rows a batch gathers): DistMult on relations, ComplEx on
#: entities and relations.
_REGULARIZATION = {"distmult": 0.1, "complex": 0.01}
#: The regularisers of :func:`make_trainer`.
REGULARIZERS = ("l2", "n3")


def _relation_width(model: str, dim: int, rotate_variant: str) -> int:
    return dim // 2 if model == "rotate" and rotate_variant == "sun" else dim


def score_triples(
    params: Mapping[str, jax.Array],
    heads: ArrayLike,
    relations: ArrayLike,
    tails: ArrayLike,
    *,
    model: str,
    rotate_variant: str = "pykeen",
) -> jax.Array:
    """Scores triples given by ids that broadcast against each other.

    ``params`` holds ``"entity"`` ``[num_entities, dim]`` and ``"relation"``
    ``[num_relations, width]`` tables (see :func:`init_params`); the model is
    :func:`jaxns.scoring.transe` (L1), :func:`~jaxns.scoring.distmult`,
    :func:`~jaxns.scoring.complex` or :func:`~jaxns.scoring.rotate`. Bind
    ``model`` with :func:`functools.partial` to get the ``score_fn`` of
    :func:`evaluate`.

    Args:
      params: ``{"entity": ..., "relation": ...}``.
      heads: integer head ids.
      relations: integer relation ids.
      tails: integer tail ids (the three broadcast, e.g. ``[q, 1]``, ``[q, 1]``
        and ``[1, num_entities]``).
      model: one of :data:`MODELS`.
      rotate_variant: ``"pykeen"`` or ``"sun"`` (see
        :func:`jaxns.scoring.rotate`).

    Returns:
      Float scores of the broadcast shape of the ids.

    Raises:
      ValueError: for an unknown model.
      TypeError: for non-integer ids.

    Examples:
      >>> import jax, jaxns
      >>> params = jaxns.kg.init_params(jax.random.key(0), "distmult", 5, 2, 4)
      >>> jaxns.kg.score_triples(params, [[0], [1]], [[0], [1]], [[0, 1, 2]],
      ...                        model="distmult").shape
      (2, 3)

    References:
      Ali et al, `Bringing Light Into the Dark: A Large-scale Evaluation of
      Knowledge Graph Embedding Models Under a Unified Framework
      <https://arxiv.org/abs/2006.13365>`_, 2021.
    """
    fn = "kg.score_triples"
    model = _checks.choice(fn, "model", model, MODELS)
    ids = [
        _checks.int_array(fn, a, x)
        for a, x in (("heads", heads), ("relations", relations), ("tails", tails))
    ]
    shape = jnp.broadcast_shapes(*(x.shape for x in ids))
    # Gather each id array at its own shape; the scorer broadcasts the rows.
    h, r, t = (
        jnp.take(params[table], x.reshape((1,) * (len(shape) - x.ndim) + x.shape),
                 axis=0)
        for table, x in zip(("entity", "relation", "entity"), ids, strict=True)
    )  # fmt: skip
    return _score(model, rotate_variant, h, r, t)


def _score(model, rotate_variant, h, r, t):
    if model == "transe":
        return _scoring.transe(h, r, t, norm=1)
    if model == "distmult":
        return _scoring.distmult(h, r, t)
    if model == "complex":
        return _scoring.complex(h, r, t)
    return _scoring.rotate(h, r, t, variant=rotate_variant)


def init_params(
    key: ArrayLike,
    model: str,
    num_entities: int,
    num_relations: int,
    dim: int,
    *,
    rotate_variant: str = "pykeen",
    normalize_entities: bool | None = None,
) -> dict[str, jax.Array]:
    """Initial entity and relation tables, drawn as PyKEEN 1.11 draws them.

    ``dim`` counts real numbers per entity (ComplEx and RotatE hold ``dim / 2``
    complex numbers, real parts first). With ``a = sqrt(6 / dim)``:

    * TransE: entities ``U(-a, a)`` then unit L2 rows; relations Glorot
      uniform then unit L2 rows.
    * DistMult: entities ``U(-a, a)`` (unit rows if ``normalize_entities``);
      relations Glorot normal then unit L2 rows.
    * ComplEx: every real number ``N(0, 1)``.
    * RotatE: entities ``U(-a, a)``; relations unit-modulus rotations with
      uniform phases (``variant="sun"``: the phases themselves).

    Args:
      key: a single typed PRNG key.
      model: one of :data:`MODELS`.
      num_entities: number of entities.
      num_relations: number of relations.
      dim: real numbers per entity (even for ComplEx and RotatE).
      rotate_variant: ``"pykeen"`` or ``"sun"``.
      normalize_entities: start from unit entity rows; default True for
        TransE only (PyKEEN's DistMult starts from unit rows too: pass True).

    Returns:
      ``{"entity": float32[num_entities, dim], "relation":
      float32[num_relations, width]}``, ``width = dim`` except ``dim / 2``
      for RotatE phases.

    Raises:
      TypeError: for a non-typed key or non-int sizes.
      ValueError: for a key array, an unknown model, non-positive sizes or an
        odd ``dim`` for a complex model.

    Examples:
      >>> import jax, jaxns
      >>> p = jaxns.kg.init_params(jax.random.key(0), "rotate", 10, 3, 8)
      >>> p["entity"].shape, p["relation"].shape
      ((10, 8), (3, 8))

    References:
      Glorot and Bengio, `Understanding the Difficulty of Training Deep
      Feedforward Neural Networks
      <https://proceedings.mlr.press/v9/glorot10a.html>`_, 2010.
    """
    fn = "kg.init_params"
    key = _checks.key(fn, key)
    model = _checks.choice(fn, "model", model, MODELS)
    rotate_variant = _checks.choice(
        fn, "rotate_variant", rotate_variant, _scoring.ROTATE_VARIANTS
    )
    e = _checks.size(fn, "num_entities", num_entities, minimum=1)
    r = _checks.size(fn, "num_relations", num_relations, minimum=1)
    d = _checks.size(fn, "dim", dim, minimum=1)
    if model in ("complex", "rotate") and d % 2:
        raise ValueError(f"{fn}: dim must be even for {model} (real, imag), got {d}.")
    if normalize_entities is None:
        normalize_entities = model == "transe"
    normalize_entities = _checks.flag(fn, "normalize_entities", normalize_entities)
    k_ent, k_rel = jax.random.split(key)
    with jax.named_scope("jaxns.kg.init_params"):
        if model == "complex":
            entity = jax.random.normal(k_ent, (e, d), jnp.float32)
            relation = jax.random.normal(k_rel, (r, d), jnp.float32)
        else:
            a = math.sqrt(6.0 / d)
            entity = jax.random.uniform(k_ent, (e, d), jnp.float32, -a, a)
            if model == "rotate":
                phase = jax.random.uniform(
                    k_rel, (r, d // 2), jnp.float32, 0.0, 2 * math.pi
                )
                if rotate_variant == "sun":
                    relation = phase - math.pi
                else:
                    relation = jnp.concatenate([jnp.cos(phase), jnp.sin(phase)], 1)
            elif model == "transe":
                b = math.sqrt(6.0 / (r + d))
                relation = jax.random.uniform(k_rel, (r, d), jnp.float32, -b, b)
                relation = _scoring.normalize(relation)
            else:
                std = math.sqrt(2.0 / (r + d))
                relation = std * jax.random.normal(k_rel, (r, d), jnp.float32)
                relation = _scoring.normalize(relation)
        if normalize_entities:
            entity = _scoring.normalize(entity)
        return {"entity": entity, "relation": relation}


def _constrain(params, model, rotate_variant, normalize_entities):
    """PyKEEN's constrainers, applied to every row after each update."""
    entity, relation = params["entity"], params["relation"]
    if normalize_entities:
        entity = _scoring.normalize(entity)
    if model == "rotate" and rotate_variant == "pykeen":
        d = relation.shape[1] // 2
        re, im = relation[:, :d], relation[:, d:]
        modulus = jnp.maximum(jnp.sqrt(re * re + im * im), jnp.finfo(jnp.float32).eps)
        relation = jnp.concatenate([re / modulus, im / modulus], 1)
    return {"entity": entity, "relation": relation}


# How each model scores a replaced entity e against the rest of its triple:
# score(h, r, e) = sim(q_tail, e) and score(e, r, t) = sim(q_head, e).
_SIMILARITY = {
    ("transe", "pykeen"): "l1",
    ("transe", "sun"): "l1",
    ("distmult", "pykeen"): "dot",
    ("distmult", "sun"): "dot",
    ("complex", "pykeen"): "dot",
    ("complex", "sun"): "dot",
    ("rotate", "pykeen"): "l2",
    ("rotate", "sun"): "moduli",
}


def _anchors(model, rotate_variant, h, r, t):
    """``(q_tail, q_head)`` with score(h, r, e) = sim(q_tail, e), etc."""
    if model == "transe":
        return h + r, t - r
    if model == "distmult":
        return h * r, r * t
    d = h.shape[-1] // 2
    h_re, h_im, t_re, t_im = h[:, :d], h[:, d:], t[:, :d], t[:, d:]
    if model == "complex":
        # Re(<h r, conj e>) = <hr_re, e_re> + <hr_im, e_im>, and
        # Re(<e, r conj t>) = <e_re, a_re> - <e_im, a_im> with a = r conj t.
        r_re, r_im = r[:, :d], r[:, d:]
        q_tail = jnp.concatenate(
            [h_re * r_re - h_im * r_im, h_re * r_im + h_im * r_re], 1
        )
        a_re = r_re * t_re + r_im * t_im
        a_im = r_im * t_re - r_re * t_im
        return q_tail, jnp.concatenate([a_re, -a_im], 1)
    if rotate_variant == "sun":
        cos, sin = jnp.cos(r), jnp.sin(r)
    else:
        cos, sin = r[:, :d], r[:, d:]
    # |h r - e| for the tail; |e r - t| = |e - t conj(r)| for a unit-modulus r
    # (PyKEEN's RotatEInteraction uses the same identity).
    q_tail = jnp.concatenate([h_re * cos - h_im * sin, h_re * sin + h_im * cos], 1)
    q_head = jnp.concatenate([t_re * cos + t_im * sin, t_im * cos - t_re * sin], 1)
    return q_tail, q_head


def _similarity_pairs(sim, q, x):
    diff = None if sim == "dot" else q - x
    if sim == "dot":
        return jnp.sum(q * x, axis=-1)
    if sim == "l1":
        return -jnp.sum(jnp.abs(diff), axis=-1)
    if sim == "l2":
        return -_scoring._safe_sqrt(jnp.sum(diff * diff, axis=-1))
    d = diff.shape[-1] // 2
    sq = diff[..., :d] ** 2 + diff[..., d:] ** 2
    return -jnp.sum(_scoring._safe_sqrt(sq), axis=-1)


@jax.custom_vjp
def _l1_negatives(q_row, q_other, table, ids, other, mixed_row):
    """``-||anchor - table[ids]||_1`` per negative, ``[B, K]``, for TransE.

    A negative's anchor is its row's ``q_row[b]``, or ``q_other[b]`` where
    ``other`` (``bool[B, K]``) is True, which the Basic sampler allows in one
    row at most: ``mixed_row`` (an int scalar; any row if none is mixed).
    The backward forms ``sign(anchor - row)`` once, scatter-adds it into
    ``table`` and sums it over each row for the anchors, correcting only the
    mixed row, instead of the two masked ``[B, K, d]`` reductions autodiff
    makes.
    """
    return _l1_negatives_fwd(q_row, q_other, table, ids, other, mixed_row)[0]


def _l1_anchor(q_row, q_other, other):
    return jnp.where(other[..., None], q_other[:, None], q_row[:, None])


def _l1_negatives_fwd(q_row, q_other, table, ids, other, mixed_row):
    diff = _l1_anchor(q_row, q_other, other) - jnp.take(table, ids, axis=0)
    scores = -jnp.sum(jnp.abs(diff), axis=-1)
    return scores, (q_row, q_other, table, ids, other, mixed_row)


def _l1_negatives_bwd(res, g):
    q_row, q_other, table, ids, other, mixed_row = res
    diff = _l1_anchor(q_row, q_other, other) - jnp.take(table, ids, axis=0)
    # d score / d row = sign(anchor - row) = -(d score / d anchor)
    # One buffer for both consumers (XLA would otherwise compute it twice).
    u = jax.lax.optimization_barrier(g[..., None] * jnp.sign(diff))
    g_table = jnp.zeros_like(table).at[ids].add(u)
    g_all = -jnp.sum(u, axis=1)
    m = mixed_row
    g_other_m = -jnp.sum(jnp.where(other[m][:, None], u[m], 0), axis=0)
    g_other = jnp.zeros_like(q_other).at[m].set(g_other_m)
    g_row = g_all.at[m].add(-g_other_m)
    return g_row, g_other, g_table, None, None, None


_l1_negatives.defvjp(_l1_negatives_fwd, _l1_negatives_bwd)


def _similarity_all(sim, q, table):
    """``sim`` of queries ``[..., D]`` against every row of ``table``: one GEMM."""
    dots = jnp.einsum("...d,ed->...e", q, table)
    if sim == "dot":
        return dots
    # ||q - e||^2 = ||q||^2 + ||e||^2 - 2 q.e, clamped at 0 against rounding.
    norms = jnp.sum(table * table, axis=-1).reshape((1,) * (q.ndim - 1) + (-1,))
    sq = jnp.sum(q * q, axis=-1, keepdims=True) + norms
    return -_scoring._safe_sqrt(jnp.maximum(sq - 2 * dots, 0))


def _n3(params, pos, keep_pos, complex_rows):
    """Mean over kept positives of ``sum |x_i|^3`` over their h, r, t rows.

    ``|x_i|`` is the modulus of a complex coordinate (real parts first) when
    ``complex_rows`` and the row is ``2 * (d / 2)`` wide like an entity row,
    else the absolute value of a real one. The rows are weighted by how often
    the batch uses them instead of gathered, so the gradient is dense (no
    scatter-add of gathered rows).
    """
    ent, rel = params["entity"], params["relation"]
    width = ent.shape[-1]

    def cubes(x):
        if complex_rows and x.shape[-1] == width:
            parts = x.reshape(x.shape[0], 2, width // 2)
            sq = jnp.sum(parts * parts, axis=1)
            # |z|^3 = sq^1.5; the epsilon keeps the gradient finite at 0
            return jnp.sum(sq * jnp.sqrt(sq + 1e-12), axis=-1)
        return jnp.sum(jnp.abs(x) ** 3, axis=-1)

    live = keep_pos.astype(ent.dtype)
    ent_uses = jnp.zeros(ent.shape[0], ent.dtype).at[pos[:, 0]].add(live)
    ent_uses = ent_uses.at[pos[:, 2]].add(live)
    rel_uses = jnp.zeros(rel.shape[0], rel.dtype).at[pos[:, 1]].add(live)
    total = ent_uses @ cubes(ent) + rel_uses @ cubes(rel)
    return total / jnp.maximum(jnp.sum(live), 1)


def _both_sides(key, pos, n, k):
    """``[2B, K, 3]``: rows ``:B`` replace the head, rows ``B:`` the tail."""
    b = pos.shape[0]
    original = jnp.concatenate([pos[:, 0], pos[:, 2]])[:, None]
    r = jax.random.randint(key, (2 * b, k), 0, n - 1, jnp.int32)
    replacement = r + (r >= original).astype(jnp.int32)
    head = (jnp.arange(2 * b) < b)[:, None]
    pos2 = jnp.concatenate([pos, pos])
    return jnp.stack(
        [
            jnp.where(head, replacement, pos2[:, :1]),
            jnp.broadcast_to(pos2[:, 1:2], (2 * b, k)),
            jnp.where(head, pos2[:, 2:], replacement),
        ],
        axis=-1,
    )


class Trainer(NamedTuple):
    """What :func:`make_trainer` returns.

    Attributes:
      init: ``init(key) -> (params, opt_state)``.
      train_epoch: jitted ``train_epoch(params, opt_state, key) -> (params,
        opt_state, mean_loss)``: one shuffled pass over the training triples,
        all batches in one ``lax.scan``; ``params`` and ``opt_state`` are
        donated.
      score_fn: ``score_fn(params, heads, relations, tails)`` for
        :func:`evaluate`.
      num_batches: batches per epoch (the last one may be short).
    """

    init: Callable[[jax.Array], tuple[Any, Any]]
    train_epoch: Callable[..., tuple[Any, Any, jax.Array]]
    score_fn: ScoreFn
    num_batches: int


def make_trainer(
    train: ArrayLike,
    num_entities: int,
    num_relations: int,
    *,
    model: str = "rotate",
    dim: int = 200,
    loss: str = "nssa",
    sampler: str = "basic",
    num_negatives: int = 64,
    batch_size: int = 256,
    learning_rate: float = 1e-2,
    margin: float | None = None,
    adversarial_temperature: float = 1.0,
    filtered_negatives: bool = False,
    rotate_variant: str = "pykeen",
    normalize_entities: bool | None = None,
    regularization: float | None = None,
    subsampling: bool = False,
    optimizer: Any = None,
    regularizer: str = "l2",
    both_sides: bool = False,
    init_scale: float = 1.0,
) -> Trainer:
    """Builds PyKEEN's sLCWA training loop as one jitted, scanned epoch.

    Each epoch shuffles the training triples and walks them in batches of
    ``batch_size`` (the last batch is short, as PyKEEN's ``drop_last=False``:
    it is padded and masked, so shapes stay static). Each batch draws
    ``num_negatives`` negatives per positive (:func:`corrupt_batch`), drops
    those that are training triples if ``filtered_negatives``
    (:class:`KnownTriples`), scores both with the model, takes
    :func:`slcwa_loss` plus PyKEEN's default regulariser, applies one Adam step
    (``optax.adam(learning_rate)``: torch's defaults) to the dense tables and
    then PyKEEN's constraints (unit entity rows for TransE or with
    ``normalize_entities``; unit-modulus RotatE relations). One default
    differs: PyKEEN's DistMult keeps unit entity rows, here only with
    ``normalize_entities=True``.

    Args:
      train: concrete integer training triples ``[n, 3]``.
      num_entities: number of entities.
      num_relations: number of relations.
      model: one of :data:`MODELS`.
      dim: real numbers per entity.
      loss: one of :data:`LOSSES`.
      sampler: ``"basic"`` or ``"bernoulli"``.
      num_negatives: negatives per positive.
      batch_size: positives per update.
      learning_rate: Adam's learning rate.
      margin: the loss margin (default 9 for NSSA, 1 for margin ranking).
      adversarial_temperature: NSSA's ``alpha``.
      filtered_negatives: drop negatives that are training triples.
      rotate_variant: ``"pykeen"`` or ``"sun"``.
      normalize_entities: renormalise entity rows after every update; default
        True for TransE only. PyKEEN's DistMult also keeps unit entity rows by
        default (``entity_constrainer=normalize``): pass True to match it.
      regularization: weight of the regulariser; default PyKEEN's (0.1 on
        DistMult relations, 0.01 on ComplEx, else 0) for ``"l2"``, 0 for
        ``"n3"``.
      subsampling: weight each positive by Sun et al.'s subsampling weight
        ``1 / sqrt(#(h, r) + #(r, t))`` (counts of training triples plus 4,
        as their code), normalised per batch (not in PyKEEN).
      optimizer: an Optax transformation to use instead of
        ``optax.adam(learning_rate)``.
      regularizer: ``"l2"``, PyKEEN's ``LpRegularizer`` (see
        ``regularization``), or ``"n3"`` (Lacroix et al. 2018, not in
        PyKEEN's sLCWA defaults): ``regularization`` times the batch mean of
        ``sum |x_i|^3`` over the positive's head, relation and tail rows,
        ``|x_i|`` the modulus of each complex coordinate for ComplEx and
        RotatE, of each real one otherwise.
      both_sides: every positive gets ``num_negatives`` negatives that
        replace its head and as many that replace its tail (uniform over the
        other entities; the batch is scored as ``2 * batch_size`` rows),
        instead of the ``sampler``'s one side per negative (not in PyKEEN).
      init_scale: multiplies the initial entity rows (and ComplEx's and
        DistMult's relation rows) of :func:`init_params`; a ComplEx started
        at ``N(0, 1)`` saturates a softmax over many negatives, Lacroix et
        al. start at ``1e-3`` times that.

    Returns:
      A :class:`Trainer`.

    Raises:
      TypeError: for bad argument types, or an ``optimizer`` without
        ``init`` and ``update``.
      ValueError: for unknown names, non-positive sizes, ``num_entities < 2``,
        a non-finite or non-positive learning rate, or a negative or
        non-finite ``margin`` or ``adversarial_temperature``.

    Examples:
      >>> import jax, jaxns
      >>> train = [[0, 0, 1], [1, 0, 2], [2, 1, 0], [3, 1, 1]]
      >>> t = jaxns.kg.make_trainer(train, 4, 2, model="transe", dim=8,
      ...                           num_negatives=4, batch_size=3)
      >>> params, state = t.init(jax.random.key(0))
      >>> params, state, loss = t.train_epoch(params, state, jax.random.key(1))
      >>> t.num_batches, bool(loss > 0)
      (2, True)

    References:
      Ali et al, `PyKEEN 1.0: A Python Library for Training and Evaluating
      Knowledge Graph Embeddings <https://jmlr.org/papers/v22/20-825.html>`_,
      2021.
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015.
    """
    import optax

    fn = "kg.make_trainer"
    model = _checks.choice(fn, "model", model, MODELS)
    loss = _checks.choice(fn, "loss", loss, LOSSES)
    sampler = _checks.choice(fn, "sampler", sampler, SAMPLERS)
    rotate_variant = _checks.choice(
        fn, "rotate_variant", rotate_variant, _scoring.ROTATE_VARIANTS
    )
    e = _checks.size(fn, "num_entities", num_entities, minimum=2)
    r = _checks.size(fn, "num_relations", num_relations, minimum=1)
    d = _checks.size(fn, "dim", dim, minimum=1)
    k = _checks.size(fn, "num_negatives", num_negatives, minimum=1)
    b = _checks.size(fn, "batch_size", batch_size, minimum=1)
    _checks.number(fn, "learning_rate", learning_rate, positive=True)
    _checks.flag(fn, "filtered_negatives", filtered_negatives)
    _checks.flag(fn, "subsampling", subsampling)
    _checks.flag(fn, "both_sides", both_sides)
    _checks.number(fn, "init_scale", init_scale, positive=True)
    # slcwa_loss's checks, here rather than at the first train_epoch.
    if margin is not None:
        _checks.number(fn, "margin", margin, nonnegative=True)
    _checks.number(
        fn, "adversarial_temperature", adversarial_temperature, nonnegative=True
    )
    if optimizer is not None:
        _checks.transformation(fn, "optimizer", optimizer)
    regularizer = _checks.choice(fn, "regularizer", regularizer, REGULARIZERS)
    if model in ("complex", "rotate") and d % 2:
        raise ValueError(f"{fn}: dim must be even for {model} (real, imag), got {d}.")
    triples = _checks.concrete(fn, "train", train)
    if not np.issubdtype(triples.dtype, np.integer) or triples.ndim != 2:
        raise TypeError(f"{fn}: train must be integer triples [n, 3].")
    known = known_triples(triples, e, r)  # also checks shapes and id ranges
    if normalize_entities is None:
        normalize_entities = model == "transe"
    normalize_entities = _checks.flag(fn, "normalize_entities", normalize_entities)
    if regularization is None:
        regularization = _REGULARIZATION.get(model, 0.0) if regularizer == "l2" else 0.0
    _checks.number(fn, "regularization", regularization, nonnegative=True)
    tx = optax.adam(learning_rate) if optimizer is None else optimizer
    head_prob = (
        _samplers.bernoulli_head_prob(triples, r) if sampler == "bernoulli" else None
    )
    n = triples.shape[0]
    num_batches = max(1, math.ceil(n / b))
    data = jnp.asarray(triples, jnp.int32)
    row_weights = None
    if subsampling:
        # Sun et al.'s reference code: counts of (h, r) and (r, t) start at 4.
        # One int64 key per pair (np.unique(axis=0) of rows: 25x slower).
        ids = np.asarray(triples, np.int64)
        _, hr_inv, hr_count = np.unique(
            ids[:, 0] * r + ids[:, 1], return_inverse=True, return_counts=True
        )
        _, rt_inv, rt_count = np.unique(
            ids[:, 1] * e + ids[:, 2], return_inverse=True, return_counts=True
        )
        total = hr_count[hr_inv.ravel()] + rt_count[rt_inv.ravel()] + 8
        row_weights = jnp.asarray(1.0 / np.sqrt(total), jnp.float32)
    expected_norm = math.sqrt(_relation_width(model, d, rotate_variant))
    sqrt_dim_complex = math.sqrt(d // 2) if model == "complex" else 1.0

    def l2_penalty(h, rel, t, keep_pos, keep_neg, neg_h, neg_t):
        # PyKEEN's LpRegularizer(p=2, normalize=True): mean of ||x|| / sqrt(d)
        # over the gathered rows, once for the positives and once for the
        # (kept) negatives.
        def mean_norm(x, mask, scale):
            norms = jnp.sqrt(jnp.sum(x * x, axis=-1)) / scale
            shape = jnp.broadcast_shapes(norms.shape, mask.shape)
            norms, mask = jnp.broadcast_to(norms, shape), jnp.broadcast_to(mask, shape)
            count = jnp.maximum(jnp.sum(mask), 1).astype(norms.dtype)
            return jnp.sum(jnp.where(mask, norms, 0)) / count

        if model == "distmult":
            return regularization * (
                mean_norm(rel[:, 0], keep_pos, expected_norm)
                + mean_norm(rel, keep_neg, expected_norm)
            )
        if model == "complex":
            # complex norms over dim / 2 complex numbers
            terms = [
                mean_norm(h[:, 0], keep_pos, sqrt_dim_complex),
                mean_norm(t[:, 0], keep_pos, sqrt_dim_complex),
                mean_norm(rel[:, 0], keep_pos, sqrt_dim_complex),
                mean_norm(neg_h, keep_neg, sqrt_dim_complex),
                mean_norm(neg_t, keep_neg, sqrt_dim_complex),
                mean_norm(rel, keep_neg, sqrt_dim_complex),
            ]
            return regularization * sum(terms)
        return jnp.float32(0)

    complex_rows = model in ("complex", "rotate")
    sim = _SIMILARITY[(model, rotate_variant)]
    # All-entity scoring turns the negatives into one GEMM and avoids XLA's
    # slow scatter-add of gathered rows; worth it while E is small next to K.
    dense = sim in ("dot", "l2") and e <= 16 * k

    def batch_loss(params, pos, neg, keep_pos, keep_neg, weights):
        ent, rel_table = params["entity"], params["relation"]
        h = jnp.take(ent, pos[:, 0], axis=0)
        rel = jnp.take(rel_table, pos[:, 1], axis=0)
        t = jnp.take(ent, pos[:, 2], axis=0)
        pos_scores = _score(model, rotate_variant, h, rel, t)
        # Each negative replaces exactly one side (never by the original).
        head_side = neg[..., 0] != pos[:, :1]
        ids = jnp.where(head_side, neg[..., 0], neg[..., 2])
        q_tail, q_head = _anchors(model, rotate_variant, h, rel, t)
        if dense:
            both = _similarity_all(sim, jnp.stack([q_tail, q_head], 1), ent)
            neg_scores = jnp.where(
                head_side,
                jnp.take_along_axis(both[:, 1], ids, axis=1),
                jnp.take_along_axis(both[:, 0], ids, axis=1),
            )
        elif sim == "l1" and sampler == "basic" and not both_sides:
            # The Basic sampler mixes sides in one row at most.
            row_head = head_side[:, 0]
            q_row = jnp.where(row_head[:, None], q_head, q_tail)
            q_other = jnp.where(row_head[:, None], q_tail, q_head)
            other = head_side != row_head[:, None]
            mixed_row = jnp.argmax(jnp.any(other, axis=1))
            neg_scores = _l1_negatives(q_row, q_other, ent, ids, other, mixed_row)
        else:
            anchor = jnp.where(head_side[..., None], q_head[:, None], q_tail[:, None])
            neg_scores = _similarity_pairs(sim, anchor, jnp.take(ent, ids, axis=0))
        value = slcwa_loss(
            pos_scores,
            neg_scores,
            loss=loss,
            margin=margin,
            adversarial_temperature=adversarial_temperature,
            where=keep_neg,
            valid=keep_pos,
            weights=weights,
            neg_log_q=math.log(k / (e - 1)) if loss == "softmax" else None,
        )
        if regularization and regularizer == "n3":
            value = value + regularization * _n3(params, pos, keep_pos, complex_rows)
        elif regularization:
            neg_h = jnp.take(ent, neg[..., 0], axis=0)
            neg_t = jnp.take(ent, neg[..., 2], axis=0)
            value = value + l2_penalty(
                h[:, None], rel[:, None], t[:, None], keep_pos, keep_neg, neg_h, neg_t
            )
        return value

    def init(key):
        params = init_params(
            key, model, e, r, d, rotate_variant=rotate_variant,
            normalize_entities=normalize_entities,
        )  # fmt: skip
        if init_scale != 1.0:
            params["entity"] = params["entity"] * jnp.float32(init_scale)
            if model in ("complex", "distmult"):
                params["relation"] = params["relation"] * jnp.float32(init_scale)
        with jax.numpy_dtype_promotion("standard"):
            return params, tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_epoch(params, opt_state, key):
        k_perm, k_neg = jax.random.split(key)
        order = jax.random.permutation(k_perm, n)
        order = jnp.concatenate(
            [order, jnp.zeros(num_batches * b - n, order.dtype)]
        ).reshape(num_batches, b)
        slots = jnp.arange(num_batches * b, dtype=jnp.int32).reshape(num_batches, b)

        def step(carry, xs):
            params, opt_state = carry
            index, rows, slot = xs
            pos = jnp.take(data, rows, axis=0)
            keep_pos = slot < n
            num_valid = jnp.minimum(n - index * b, b)
            weights = None if row_weights is None else jnp.take(row_weights, rows)
            if both_sides:
                neg = _both_sides(jax.random.fold_in(k_neg, index), pos, e, k)
                pos = jnp.concatenate([pos, pos])
                keep_pos = jnp.concatenate([keep_pos, keep_pos])
                if weights is not None:
                    weights = jnp.concatenate([weights, weights])
            else:
                neg = corrupt_batch(
                    jax.random.fold_in(k_neg, index), pos, e, num_negatives=k,
                    sampler=sampler, head_prob=head_prob, num_valid=num_valid,
                )  # fmt: skip
            keep_neg = jnp.broadcast_to(keep_pos[:, None], neg.shape[:2])
            if filtered_negatives:
                keep_neg = keep_neg & ~known.contains(neg)
            value, grads = jax.value_and_grad(batch_loss)(
                params, pos, neg, keep_pos, keep_neg, weights
            )
            # Optax is not written for strict dtype promotion (see jaxns.optim).
            with jax.numpy_dtype_promotion("standard"):
                updates, opt_state = tx.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
            params = _constrain(params, model, rotate_variant, normalize_entities)
            return (params, opt_state), value * num_valid.astype(value.dtype)

        batches = jnp.arange(num_batches, dtype=jnp.int32)
        (params, opt_state), losses = jax.lax.scan(
            step, (params, opt_state), (batches, order, slots)
        )
        return params, opt_state, jnp.sum(losses) / n

    score_fn = functools.partial(
        score_triples, model=model, rotate_variant=rotate_variant
    )
    return Trainer(init, train_epoch, score_fn, num_batches)
