# SPDX-License-Identifier: Apache-2.0
r"""Recommender retrieval: interaction data, splits, negatives, full-ranking metrics.

The third application: user-item interactions in, the field's protocol out.

* **Data** (:func:`load_interactions`): MovieLens-100k's ``u.data`` (with
  ``u.user``/``u.item`` side features), RecBole's atomic files (``.inter`` with
  a typed header, ``.user``/``.item``) and a CSV with named columns, as an
  immutable :class:`Interactions` with dense 0-based ``int32`` ids. The name
  ``"movielens-100k"`` resolves from the jaxns cache directory, from an
  installed RecBole (its wheel ships the dataset; found without importing
  RecBole), or from GroupLens' official zip, verified by its SHA-256.
  MovieLens's terms forbid redistribution: jaxns ships none of it.
* **Splits** (:class:`Split`, one code per interaction row: 0 train, 1 valid,
  2 test): RecBole's default random split (:func:`split_random`), leave-one-out
  by time (:func:`split_leave_one_out`), a global temporal split
  (:func:`split_temporal`) and a split made by another tool
  (:func:`split_from_codes`, :func:`load_split`).
* **Negatives**: RecBole's BPR sampler, one uniform item redrawn while it is one
  of the user's training items, drawn exactly and without a loop
  (:func:`sample_negatives` on :class:`UserItems`).
* **Objectives** (:class:`Objective`): BPR, sampled softmax with a uniform or
  popularity proposal and logQ correction, in-batch softmax with logQ from item
  frequencies, mixed negatives (Yang et al. 2020), optional hard negatives.
* **Evaluation** with RecBole's definitions: :func:`topk_metrics` on dense
  ``[users, items]`` arrays and :func:`evaluate_ranking` over a whole
  :class:`RankingTask` (every item scored for every user with items in the
  evaluated part, earlier parts' items masked).

Everything that runs on arrays works under ``jit``; data loading and splitting
run once on the host with NumPy.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import math
import os
import pathlib
import types
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxns import _checks, datasets, losses, samplers

__all__ = [
    "METRICS",
    "MOVIELENS_100K",
    "OBJECTIVES",
    "Feature",
    "Interactions",
    "Objective",
    "RankingTask",
    "Split",
    "UserItems",
    "epoch_batches",
    "evaluate_ranking",
    "item_counts",
    "load_interactions",
    "load_split",
    "objective",
    "ranking_task",
    "sample_negatives",
    "split_from_codes",
    "split_leave_one_out",
    "split_random",
    "split_temporal",
    "topk_metrics",
    "user_items",
]

METRICS = ("recall", "mrr", "ndcg", "hit", "precision")
OBJECTIVES = ("bpr", "sampled_softmax", "in_batch", "mixed")
PARTS = ("train", "valid", "test")

# GroupLens' official archive; its SHA-256 and size as independent public
# projects pin them (TensorFlow Datasets' url_checksums among them).
MOVIELENS_100K = datasets.RemoteFile(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    filename="ml-100k.zip",
    algorithm="sha256",
    digest="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    size=4_924_029,
)
_NAMES = ("movielens-100k",)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Feature:
    """One categorical side feature of users or items.

    Attributes:
      codes: ``int32[num_entities, width]`` vocabulary indices, ``-1`` where
        absent (padding of multi-valued fields, entities without a row in the
        feature file). ``width`` is 1 for single-valued fields.
      vocabulary: the category names, ``vocabulary[c]`` for code ``c``.
    """

    codes: np.ndarray
    vocabulary: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Interactions:
    """An immutable table of user-item interactions with dense 0-based ids.

    Ids are assigned in order of first appearance in the interaction file. Rows
    keep the file's order, so a split given as one code per row of the file
    (:func:`split_from_codes`) applies directly. Arrays are read-only.

    Attributes:
      users: ``int32[num_rows]`` user ids.
      items: ``int32[num_rows]`` item ids.
      ratings: ``float32[num_rows]`` or ``None``.
      timestamps: ``float64[num_rows]`` or ``None``.
      user_to_id: the file's user tokens to ids (read-only mapping).
      item_to_id: the file's item tokens to ids (read-only mapping).
      user_features: feature name to :class:`Feature` over users.
      item_features: feature name to :class:`Feature` over items.
      source: where the data came from (a path, or a description).
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None
    timestamps: np.ndarray | None
    user_to_id: Mapping[str, int]
    item_to_id: Mapping[str, int]
    user_features: Mapping[str, Feature]
    item_features: Mapping[str, Feature]
    source: str

    @property
    def num_users(self) -> int:
        return len(self.user_to_id)

    @property
    def num_items(self) -> int:
        return len(self.item_to_id)

    @property
    def num_rows(self) -> int:
        return int(self.users.shape[0])

    def __repr__(self) -> str:
        return (
            f"Interactions({self.num_rows} rows, {self.num_users} users, "
            f"{self.num_items} items, source={self.source!r})"
        )


def _frozen(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    x.setflags(write=False)
    return x


class _Tokens:
    """Dense ids in order of first appearance."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        ids = self.ids
        return np.fromiter(
            (ids.setdefault(t, len(ids)) for t in tokens), np.int32, len(tokens)
        )


def _build(
    source: str,
    users: Sequence[str],
    items: Sequence[str],
    ratings: Sequence[float] | None,
    timestamps: Sequence[float] | None,
    user_rows: dict[str, dict[str, list[str]]] | None = None,
    item_rows: dict[str, dict[str, list[str]]] | None = None,
) -> Interactions:
    if not users:
        raise ValueError(f"load_interactions: {source} holds no interactions.")
    u, i = _Tokens(), _Tokens()
    user_ids, item_ids = u.encode(users), i.encode(items)
    return Interactions(
        users=_frozen(user_ids),
        items=_frozen(item_ids),
        ratings=None if ratings is None else _frozen(np.asarray(ratings, np.float32)),
        timestamps=(
            None if timestamps is None else _frozen(np.asarray(timestamps, np.float64))
        ),
        user_to_id=types.MappingProxyType(u.ids),
        item_to_id=types.MappingProxyType(i.ids),
        user_features=_features(u.ids, user_rows),
        item_features=_features(i.ids, item_rows),
        source=source,
    )


def _features(
    token_to_id: Mapping[str, int], rows: dict[str, dict[str, list[str]]] | None
) -> Mapping[str, Feature]:
    """``rows[field][token] = [values]`` to one :class:`Feature` per field."""
    out: dict[str, Feature] = {}
    for field, by_token in (rows or {}).items():
        vocab: dict[str, int] = {}
        width = max((len(v) for v in by_token.values()), default=1) or 1
        codes = np.full((len(token_to_id), width), -1, np.int32)
        for token, values in by_token.items():
            row = token_to_id.get(token)
            if row is None:
                continue  # an entity without interactions
            for j, value in enumerate(values):
                codes[row, j] = vocab.setdefault(value, len(vocab))
        out[field] = Feature(_frozen(codes), tuple(vocab))
    return types.MappingProxyType(out)


def _bad_line(path: Any, lineno: int, message: str) -> ValueError:
    return ValueError(f"load_interactions: {path}, line {lineno}: {message}")


def _number(path: Any, lineno: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad_line(path, lineno, f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _bad_line(path, lineno, f"{column} {text!r} is not finite")
    return value


def _read_text(path: pathlib.Path, *, encoding: str = "utf-8") -> str:
    """``path``'s text; for UTF-8, a leading byte-order mark is dropped."""
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    try:
        return path.read_bytes().decode(codec)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"load_interactions: {path} is not {encoding} text ({err})."
        ) from None


def _lines(text: str) -> list[str]:
    r"""Lines ended by ``\n``, ``\r\n`` or ``\r``, as Python's text files and
    pandas (RecBole's reader) split them. ``str.splitlines`` also splits at
    U+2028, U+0085 (Latin-1 byte 0x85), form feeds, ... inside a field."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


# ------------------------------------------------------------- MovieLens-100k


def _read_ml100k_ratings(text: str, path: Any):
    users, items, ratings, times = [], [], [], []
    for lineno, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise _bad_line(
                path,
                lineno,
                f"expected 4 tab-separated fields (user, item, rating, "
                f"timestamp), got {len(fields)}",
            )
        users.append(fields[0].strip())
        items.append(fields[1].strip())
        ratings.append(_number(path, lineno, "rating", fields[2]))
        times.append(_number(path, lineno, "timestamp", fields[3]))
    return users, items, ratings, times


def _read_ml100k_users(text: str, path: Any) -> dict[str, dict[str, list[str]]]:
    fields = ("age", "gender", "occupation", "zip_code")
    rows: dict[str, dict[str, list[str]]] = {f: {} for f in fields}
    for lineno, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 5:
            raise _bad_line(
                path, lineno, f"expected 5 '|'-separated fields, got {len(parts)}"
            )
        for name, value in zip(fields, parts[1:], strict=True):
            rows[name][parts[0]] = [value]
    return rows


def _read_ml100k_items(
    text: str, path: Any, genres: list[str] | None
) -> dict[str, dict[str, list[str]]]:
    rows: dict[str, dict[str, list[str]]] = {"title": {}, "release_year": {}}
    rows["genre"] = {}
    for lineno, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 6:
            raise _bad_line(
                path,
                lineno,
                f"expected at least 6 '|'-separated fields, got {len(parts)}",
            )
        flags = parts[5:]
        names = genres if genres and len(genres) == len(flags) else None
        item = parts[0]
        rows["title"][item] = [parts[1]]
        year = parts[2].rsplit("-", 1)[-1]
        rows["release_year"][item] = [year] if year else []
        rows["genre"][item] = [
            names[j] if names else f"genre_{j}"
            for j, flag in enumerate(flags)
            if flag.strip() == "1"
        ]
    return rows


def _read_ml100k_genres(text: str) -> list[str]:
    out = []
    for line in _lines(text):
        if "|" in line:
            out.append(line.split("|")[0])
    return out


def _load_ml100k(files: Mapping[str, Any], source: str) -> Interactions:
    """``files[name]`` -> ``(text, label)`` for u.data and optional extras."""
    text, label = files["u.data"]
    users, items, ratings, times = _read_ml100k_ratings(text, label)
    user_rows = item_rows = None
    if "u.user" in files:
        user_rows = _read_ml100k_users(*files["u.user"])
    if "u.item" in files:
        genres = (
            _read_ml100k_genres(files["u.genre"][0]) if "u.genre" in files else None
        )
        item_rows = _read_ml100k_items(*files["u.item"], genres)
    return _build(source, users, items, ratings, times, user_rows, item_rows)


def _ml100k_dir(directory: pathlib.Path) -> Interactions:
    files = {}
    for name in ("u.data", "u.user", "u.item", "u.genre"):
        path = directory / name
        if path.exists():
            # u.item and u.genre are Latin-1 (accented titles).
            enc = "utf-8" if name in ("u.data", "u.user") else "latin-1"
            files[name] = (_read_text(path, encoding=enc), path)
    return _load_ml100k(files, str(directory / "u.data"))


def _ml100k_zip(path: pathlib.Path) -> Interactions:
    files = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = {pathlib.PurePosixPath(n).name: n for n in archive.namelist()}
            if "u.data" not in names:
                raise ValueError(f"load_interactions: {path} holds no u.data.")
            for name in ("u.data", "u.user", "u.item", "u.genre"):
                if name in names:
                    enc = "utf-8-sig" if name in ("u.data", "u.user") else "latin-1"
                    where = f"{path}:{names[name]}"
                    try:
                        raw = archive.read(names[name]).decode(enc)
                    except UnicodeDecodeError as err:
                        raise ValueError(
                            f"load_interactions: {where} is not utf-8 text ({err})."
                        ) from None
                    files[name] = (raw, where)
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"load_interactions: {path} is not a zip file ({err})."
        ) from None
    return _load_ml100k(files, str(path))


# ------------------------------------------------------------- RecBole atomic


def _atomic_header(path: pathlib.Path, line: str) -> list[tuple[str, str]]:
    out = []
    for column in line.rstrip("\r\n").split("\t"):
        name, sep, kind = column.partition(":")
        if not sep or kind not in ("token", "token_seq", "float", "float_seq"):
            raise _bad_line(
                path,
                1,
                f"header column {column!r} must be name:type with type one of "
                "token, token_seq, float, float_seq (RecBole's atomic files)",
            )
        out.append((name, kind))
    return out


def _read_atomic(path: pathlib.Path) -> tuple[list[tuple[str, str]], list[Any]]:
    text = _read_text(path)
    lines = _lines(text)
    if not lines:
        raise ValueError(f"load_interactions: {path} is empty.")
    header = _atomic_header(path, lines[0])
    rows = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise _bad_line(
                path,
                lineno,
                f"expected {len(header)} tab-separated fields, got {len(fields)}",
            )
        rows.append((lineno, fields))
    return header, rows


def _atomic_side(path: pathlib.Path, id_field: str) -> dict[str, dict[str, list[str]]]:
    header, numbered = _read_atomic(path)
    rows = [fields for _, fields in numbered]
    names = [name for name, _ in header]
    if id_field not in names:
        raise _bad_line(path, 1, f"header has no {id_field} column")
    key = names.index(id_field)
    out: dict[str, dict[str, list[str]]] = {}
    for j, (name, kind) in enumerate(header):
        if j == key or kind not in ("token", "token_seq"):
            continue  # float fields are not categorical features
        out[name] = {
            r[key]: (r[j].split(" ") if kind == "token_seq" else [r[j]]) for r in rows
        }
        for values in out[name].values():
            values[:] = [v for v in values if v]
    return out


def _load_atomic(path: pathlib.Path) -> Interactions:
    header, numbered = _read_atomic(path)
    rows = [fields for _, fields in numbered]
    names = [name for name, _ in header]
    for needed in ("user_id", "item_id"):
        if needed not in names:
            raise _bad_line(path, 1, f"header has no {needed} column")
    col = {name: j for j, name in enumerate(names)}
    users = [r[col["user_id"]] for r in rows]
    items = [r[col["item_id"]] for r in rows]
    extra = {}
    for name in ("rating", "timestamp"):
        if name in col:
            extra[name] = [_number(path, n, name, r[col[name]]) for n, r in numbered]
    user_rows = item_rows = None
    if path.with_suffix(".user").exists():
        user_rows = _atomic_side(path.with_suffix(".user"), "user_id")
    if path.with_suffix(".item").exists():
        item_rows = _atomic_side(path.with_suffix(".item"), "item_id")
    return _build(
        str(path),
        users,
        items,
        extra.get("rating"),
        extra.get("timestamp"),
        user_rows,
        item_rows,
    )


# ---------------------------------------------------------------------- CSV

_CSV_COLUMNS = {
    "user": ("user_id", "user", "userid", "user id"),
    "item": ("item_id", "item", "itemid", "movie_id", "movieid", "item id"),
    "rating": ("rating", "ratings", "score"),
    "timestamp": ("timestamp", "time", "ts", "unixtime"),
}


def _load_csv(path: pathlib.Path) -> Interactions:
    text = _read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"load_interactions: {path} is empty.") from None
    norm = [h.strip().split(":")[0].lower() for h in header]
    col: dict[str, int] = {}
    for role, aliases in _CSV_COLUMNS.items():
        for j, name in enumerate(norm):
            if name in aliases:
                col[role] = j
                break
    for role in ("user", "item"):
        if role not in col:
            raise _bad_line(
                path,
                1,
                f"the header {header} names no {role} column (one of "
                f"{_CSV_COLUMNS[role]})",
            )
    users, items = [], []
    values: dict[str, list[float]] = {
        r: [] for r in ("rating", "timestamp") if r in col
    }
    for lineno, row in enumerate(reader, 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _bad_line(
                path, lineno, f"expected {len(header)} fields, got {len(row)}"
            )
        users.append(row[col["user"]].strip())
        items.append(row[col["item"]].strip())
        for role, out in values.items():
            out.append(_number(path, lineno, role, row[col[role]]))
    return _build(
        str(path), users, items, values.get("rating"), values.get("timestamp")
    )


# ------------------------------------------------------------ name resolution


def _recbole_ml100k() -> pathlib.Path | None:
    """RecBole's copy, found without importing RecBole (which needs torch)."""
    try:
        spec = importlib.util.find_spec("recbole")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = pathlib.Path(location, "dataset_example", "ml-100k", "ml-100k.inter")
        if path.exists():
            return path
    return None


def _how_to_get(cache: pathlib.Path) -> str:
    return (
        "MovieLens-100k is not available offline, and jaxns does not ship it "
        "(its terms forbid redistribution). Any one of these makes it "
        f"available: download {MOVIELENS_100K.url} and put it at "
        f"{cache / MOVIELENS_100K.filename} (sha256 {MOVIELENS_100K.digest}); "
        "or `pip install --no-deps recbole` (its wheel ships the dataset); "
        "or set JAXNS_CACHE to a directory whose movielens-100k/ folder holds "
        "ml-100k.zip (or its extracted ml-100k/ folder)."
    )


def _download_movielens(cache: pathlib.Path) -> pathlib.Path:
    try:
        return datasets.download(MOVIELENS_100K, cache_dir=cache)
    except OSError as err:
        # download()'s own message repeats the URL and a shorter advice.
        reason = err.__cause__ if err.__cause__ is not None else err
        raise FileNotFoundError(
            f"load_interactions: could not download {MOVIELENS_100K.url} "
            f"({reason}). " + _how_to_get(cache)
        ) from None


def _resolve_movielens(download: bool) -> Interactions:
    cache = datasets.default_cache_dir() / "movielens-100k"
    extracted = cache / "ml-100k"
    if (extracted / "u.data").exists():
        return _ml100k_dir(extracted)
    archive = cache / MOVIELENS_100K.filename
    if archive.exists():
        problem = datasets._verify(archive, MOVIELENS_100K)
        if problem is None:
            return _ml100k_zip(archive)
        if download:
            # download() deletes the corrupt copy (with a warning) and refetches.
            return _ml100k_zip(_download_movielens(cache))
        # Without leave to download, the copy is neither deleted nor replaced.
        warnings.warn(
            f"load_interactions: cached {archive} is corrupt ({problem}); "
            "ignoring it (download=False).",
            RuntimeWarning,
            stacklevel=3,
        )
    recbole = _recbole_ml100k()
    if recbole is not None:
        return _load_atomic(recbole)
    if not download:
        raise FileNotFoundError(f"load_interactions: {_how_to_get(cache)}")
    return _ml100k_zip(_download_movielens(cache))


def load_interactions(
    source: str | os.PathLike[str], *, download: bool = True
) -> Interactions:
    """Reads user-item interactions (and side features) into :class:`Interactions`.

    ``source`` is one of:

    * ``"movielens-100k"``: 943 users, 1,682 items, 100,000 ratings, from (in
      this order) ``<cache>/movielens-100k/ml-100k/u.data``,
      ``<cache>/movielens-100k/ml-100k.zip`` (``<cache>`` is
      :func:`jaxns.datasets.default_cache_dir`, ``$JAXNS_CACHE``), an installed
      ``recbole`` package's ``dataset_example/ml-100k`` (located with
      :func:`importlib.util.find_spec`, never imported), or GroupLens' official
      zip, downloaded once and verified against its pinned SHA-256 (with
      ``download=True``). Without any of them the error says how to get it;
      MovieLens's terms forbid redistributing it, so jaxns ships none of it.
      A cached zip is checked against the same SHA-256: a corrupt one is
      replaced by a fresh download with ``download=True``, and with
      ``download=False`` it is ignored with a :class:`RuntimeWarning` (kept,
      and no URL is ever opened).
    * MovieLens-100k's ``u.data`` (tab-separated user, item, rating, timestamp;
      ``u.user`` and ``u.item``/``u.genre`` beside it give the features age,
      gender, occupation, zip_code and title, release_year, genre), the
      directory holding it, or the GroupLens zip.
    * RecBole's atomic ``.inter`` file (typed header such as
      ``user_id:token item_id:token rating:float timestamp:float``, tab
      separated); ``.user``/``.item`` files with the same stem give the
      ``token`` and ``token_seq`` fields as features.
    * Any other file: a CSV with a header naming a user column (``user_id``,
      ``user``, ``userId``), an item column (``item_id``, ``item``,
      ``movieId``) and optionally ``rating`` and ``timestamp`` (delimiter
      sniffed among ``, ; tab |``).

    Text files are UTF-8 (``u.item`` and ``u.genre``: Latin-1); a leading
    byte-order mark, as Excel's "CSV UTF-8" writes, is dropped.

    Args:
      source: ``"movielens-100k"`` or a path.
      download: whether ``"movielens-100k"`` may be downloaded when it is
        found nowhere locally (or its cached zip is corrupt). ``False`` never
        opens a URL.

    Returns:
      An :class:`Interactions` with rows in file order.

    Raises:
      FileNotFoundError: a missing path, or MovieLens-100k not available
        (the message says how to get it).
      ValueError: a malformed file; the message names the file and the line.

    Examples:
      >>> import pathlib, tempfile
      >>> import jaxns
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.inter"
      >>> _ = path.write_text(
      ...     "user_id:token\\titem_id:token\\trating:float\\ttimestamp:float\\n"
      ...     "u1\\ti9\\t5\\t100\\nu2\\ti9\\t3\\t90\\nu1\\ti7\\t4\\t120\\n")
      >>> data = jaxns.retrieval.load_interactions(path)
      >>> data
      Interactions(3 rows, 2 users, 2 items, source=...)
      >>> data.users.tolist(), data.items.tolist(), dict(data.item_to_id)
      ([0, 1, 0], [0, 0, 1], {'i9': 0, 'i7': 1})

    References:
      Harper and Konstan, `The MovieLens Datasets: History and Context
      <https://doi.org/10.1145/2827872>`_, 2015.
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    if isinstance(source, str) and source in _NAMES:
        return _resolve_movielens(
            _checks.flag("load_interactions", "download", download)
        )
    if not isinstance(source, str | os.PathLike):
        raise TypeError(
            f"load_interactions: source must be a path or one of {_NAMES}, got "
            f"{type(source).__name__}."
        )
    path = pathlib.Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"load_interactions: no such file: {path} (names: {', '.join(_NAMES)})."
        )
    if path.is_dir():
        if (path / "u.data").exists():
            return _ml100k_dir(path)
        inter = sorted(path.glob("*.inter"))
        if len(inter) == 1:
            return _load_atomic(inter[0])
        raise ValueError(
            f"load_interactions: directory {path} holds neither u.data nor exactly "
            f"one .inter file."
        )
    if path.name == "u.data":
        return _ml100k_dir(path.parent)
    if path.suffix == ".inter":
        return _load_atomic(path)
    if path.suffix == ".zip":
        return _ml100k_zip(path)
    return _load_csv(path)


# ---------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Split:
    """Which part each interaction row belongs to.

    Attributes:
      codes: ``int8[num_rows]``, 0 train, 1 valid, 2 test, in the row order
        of the :class:`Interactions` (the file's order). Read-only.
    """

    codes: np.ndarray

    def rows(self, part: str) -> np.ndarray:
        """Row indices of ``"train"``, ``"valid"`` or ``"test"``, ascending."""
        code = PARTS.index(_checks.choice("Split.rows", "part", part, PARTS))
        return np.flatnonzero(self.codes == code)

    @property
    def sizes(self) -> tuple[int, int, int]:
        counts = np.bincount(self.codes.astype(np.int64), minlength=3)
        return int(counts[0]), int(counts[1]), int(counts[2])

    def __repr__(self) -> str:
        train, valid, test = self.sizes
        return f"Split(train={train}, valid={valid}, test={test})"


def _interactions(fn: str, data: Any) -> Interactions:
    return _checks.instance(
        fn, "data", data, Interactions, "an Interactions (from load_interactions)"
    )


def _split_ratios(fn: str, ratios: Any) -> tuple[float, float, float]:
    if not isinstance(ratios, Sequence) or len(ratios) != 3:
        raise TypeError(
            f"{fn}: ratios must be a sequence of 3 numbers (train, valid, test), "
            f"got {ratios!r}."
        )
    values = tuple(
        float(_checks.number(fn, "ratios", r, nonnegative=True)) for r in ratios
    )
    if not values[0] > 0:
        raise ValueError(f"{fn}: ratios[0] (train) must be > 0, got {ratios!r}.")
    total = sum(values)
    return values[0] / total, values[1] / total, values[2] / total


def _part_counts(total: int, ratios: tuple[float, float, float]) -> list[int]:
    """RecBole's ``_calcu_split_ids``: later parts rounded down, a part whose
    share is below one row gets one row while the first part keeps two."""
    counts = [int(r * total) for r in ratios]
    counts[0] = total - sum(counts[1:])
    for i in range(1, len(ratios)):
        if counts[0] <= 1:
            break
        if 0 < ratios[-i] * total < 1:
            counts[-i] += 1
            counts[0] -= 1
    return counts


def _codes_in_order(order: np.ndarray, group: np.ndarray | None, ratios) -> np.ndarray:
    """Codes for rows taken in ``order``; per group when ``group`` is given."""
    n = order.shape[0]
    codes = np.empty(n, np.int8)
    if group is None:
        counts = _part_counts(n, ratios)
        codes[order] = np.repeat(np.arange(3, dtype=np.int8), counts)
        return codes
    g = group[order]
    by_group = np.argsort(g, kind="stable")  # each group's rows in `order`
    sorted_g = g[by_group]
    starts = np.flatnonzero(np.r_[True, sorted_g[1:] != sorted_g[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    cache: dict[int, tuple[int, int]] = {}
    first = np.empty(len(sizes), np.int64)
    second = np.empty(len(sizes), np.int64)
    for j, size in enumerate(sizes.tolist()):
        if size not in cache:
            c = _part_counts(size, ratios)
            cache[size] = (c[0], c[0] + c[1])
        first[j], second[j] = cache[size]
    first, second = np.repeat(first, sizes), np.repeat(second, sizes)
    part = (rank >= first).astype(np.int8) + (rank >= second).astype(np.int8)
    codes[order[by_group]] = part
    return codes


def _split(codes: np.ndarray) -> Split:
    return Split(_frozen(codes.astype(np.int8)))


def split_random(
    key: ArrayLike, data: Interactions, *, ratios: Sequence[float] = (0.8, 0.1, 0.1)
) -> Split:
    """RecBole's default split: ``RS [0.8, 0.1, 0.1]``, random order, by user.

    Exactly RecBole's rules (``Dataset.build`` with ``order: RO``,
    ``group_by: user``): the whole table is shuffled once, then each user's rows,
    in that shuffled order, give the first ``n - int(r_valid n) - int(r_test
    n)`` to train, the next ``int(r_valid n)`` to valid and the rest to test. A
    part whose share is below one row (``0 < r n < 1``) gets one row as long as
    train keeps at least two (test first, then valid). The permutation comes
    from ``key`` (RecBole's comes from torch; for RecBole's very rows, export
    its split and use :func:`split_from_codes`).

    Args:
      key: a single typed key.
      data: the interactions.
      ratios: ``(train, valid, test)`` shares, normalised here.

    Returns:
      A :class:`Split`.

    Raises:
      TypeError: a non-typed key or a non-:class:`Interactions`.
      ValueError: negative ratios or a zero train share.

    Examples:
      >>> import jax, numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.zeros(20, np.int32), items=np.arange(20, dtype=np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"u": 0},
      ...     item_to_id={str(i): i for i in range(20)}, user_features={},
      ...     item_features={}, source="toy")
      >>> jaxns.retrieval.split_random(jax.random.key(0), data)
      Split(train=16, valid=2, test=2)

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "split_random"
    key = _checks.key(fn, key)
    data = _interactions(fn, data)
    ratios = _split_ratios(fn, ratios)
    order = np.asarray(jax.random.permutation(key, data.num_rows))
    return _split(_codes_in_order(order, data.users, ratios))


def _time_order(fn: str, data: Interactions) -> np.ndarray:
    if data.timestamps is None:
        raise ValueError(
            f"{fn}: {data.source} has no timestamps; use split_random or a split "
            "file instead."
        )
    return np.argsort(data.timestamps, kind="stable")  # ties keep file order


def split_leave_one_out(data: Interactions) -> Split:
    """Leave-one-out by time: each user's last row is test, the one before valid.

    RecBole's ``LS: valid_and_test`` with ``order: TO``: rows are sorted by
    timestamp (ties keep the file's order); a user with at least three rows
    gives the latest to test and the second latest to valid, a user with two
    rows gives one to train and one to test, a user with one row keeps it in
    train.

    Args:
      data: the interactions, with timestamps.

    Returns:
      A :class:`Split`.

    Raises:
      TypeError: a non-:class:`Interactions`.
      ValueError: data without timestamps.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([0, 0, 0, 1, 1], np.int32),
      ...     items=np.array([0, 1, 2, 0, 1], np.int32), ratings=None,
      ...     timestamps=np.array([3.0, 1.0, 2.0, 5.0, 4.0]),
      ...     user_to_id={"a": 0, "b": 1}, item_to_id={"x": 0, "y": 1, "z": 2},
      ...     user_features={}, item_features={}, source="toy")
      >>> jaxns.retrieval.split_leave_one_out(data).codes.tolist()
      [2, 0, 1, 2, 0]

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "split_leave_one_out"
    data = _interactions(fn, data)
    order = _time_order(fn, data)
    g = data.users[order]
    by_user = np.argsort(g, kind="stable")
    sorted_g = g[by_user]
    n = order.shape[0]
    starts = np.flatnonzero(np.r_[True, sorted_g[1:] != sorted_g[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank_from_end = np.repeat(starts + sizes, sizes) - np.arange(n) - 1
    size = np.repeat(sizes, sizes)
    held = np.minimum(2, size - 1)  # rows held out per user (RecBole's rule)
    part = np.where(rank_from_end < held, np.where(rank_from_end == 0, 2, 1), 0)
    codes = np.empty(n, np.int8)
    codes[order[by_user]] = part
    return _split(codes)


def split_temporal(
    data: Interactions, *, ratios: Sequence[float] = (0.8, 0.1, 0.1)
) -> Split:
    """A global temporal split: the earliest rows train, the latest test.

    Rows are sorted by timestamp over the whole table (ties keep the file's
    order) and cut with RecBole's counts (``order: TO``, ``group_by: none``):
    ``int(r_valid n)`` rows to valid, ``int(r_test n)`` to test, the rest (the
    earliest) to train. Users and items of valid/test may be absent from train.

    Args:
      data: the interactions, with timestamps.
      ratios: ``(train, valid, test)`` shares, normalised here.

    Returns:
      A :class:`Split`.

    Raises:
      TypeError: a non-:class:`Interactions`.
      ValueError: data without timestamps, negative ratios.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.zeros(10, np.int32), items=np.arange(10, dtype=np.int32),
      ...     ratings=None, timestamps=np.arange(10.0)[::-1].copy(),
      ...     user_to_id={"u": 0}, item_to_id={str(i): i for i in range(10)},
      ...     user_features={}, item_features={}, source="toy")
      >>> jaxns.retrieval.split_temporal(data).codes.tolist()
      [2, 1, 0, 0, 0, 0, 0, 0, 0, 0]

    References:
      Sun et al, `Are We Evaluating Rigorously? Benchmarking Recommendation for
      Reproducible Evaluation and Fair Comparison
      <https://doi.org/10.1145/3383313.3412489>`_, 2020.
    """
    fn = "split_temporal"
    data = _interactions(fn, data)
    ratios = _split_ratios(fn, ratios)
    return _split(_codes_in_order(_time_order(fn, data), None, ratios))


def split_from_codes(data: Interactions, codes: ArrayLike) -> Split:
    """A split made by another tool: one code per row of the source file.

    Codes are in the file's row order (the order of ``data``'s rows): 0 train,
    1 valid, 2 test. This is how a model is evaluated on exactly the split
    another library used (``benchmarks/retrieval_vs_recbole.py`` exports
    RecBole's).

    Args:
      data: the interactions the codes refer to.
      codes: integer ``[num_rows]`` with values in ``{0, 1, 2}``.

    Returns:
      A :class:`Split`.

    Raises:
      TypeError: non-integer codes.
      ValueError: a length other than ``data.num_rows`` or a code outside
        ``{0, 1, 2}``.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.zeros(3, np.int32), items=np.arange(3, dtype=np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"u": 0},
      ...     item_to_id={"a": 0, "b": 1, "c": 2}, user_features={},
      ...     item_features={}, source="toy")
      >>> jaxns.retrieval.split_from_codes(data, [0, 2, 1])
      Split(train=1, valid=1, test=1)

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "split_from_codes"
    data = _interactions(fn, data)
    c = np.asarray(_checks.concrete(fn, "codes", codes))
    if not np.issubdtype(c.dtype, np.integer):
        raise TypeError(f"{fn}: codes must be integers 0/1/2, got dtype {c.dtype}.")
    if c.shape != (data.num_rows,):
        raise ValueError(
            f"{fn}: codes must have one entry per interaction row, shape "
            f"({data.num_rows},), got {c.shape}."
        )
    bad = np.flatnonzero((c < 0) | (c > 2))
    if bad.size:
        raise ValueError(
            f"{fn}: codes must be 0 (train), 1 (valid) or 2 (test); row "
            f"{int(bad[0])} has {int(c[bad[0]])}."
        )
    return _split(c)


def load_split(path: str | os.PathLike[str], data: Interactions) -> Split:
    """Reads a split file: one code per interaction row (0 train, 1 valid, 2 test).

    The file holds ``data.num_rows`` integers separated by whitespace or commas
    (one per line is usual), in the order of the interaction file's rows.

    Args:
      path: the split file (a leading ``~`` is expanded, as in
        :func:`load_interactions`).
      data: the interactions it refers to.

    Returns:
      A :class:`Split`.

    Raises:
      FileNotFoundError: a missing file.
      ValueError: a token that is not 0, 1 or 2 (naming the line), or a count
        other than ``data.num_rows``.

    Examples:
      >>> import pathlib, tempfile
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.zeros(3, np.int32), items=np.arange(3, dtype=np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"u": 0},
      ...     item_to_id={"a": 0, "b": 1, "c": 2}, user_features={},
      ...     item_features={}, source="toy")
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "split.txt"
      >>> _ = path.write_text("0\\n0\\n2\\n")
      >>> jaxns.retrieval.load_split(path, data)
      Split(train=2, valid=0, test=1)

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "load_split"
    data = _interactions(fn, data)
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{fn}: no such file: {path}")
    codes = []
    for lineno, line in enumerate(_lines(_read_text(path)), 1):
        for token in line.replace(",", " ").split():
            if token not in ("0", "1", "2"):
                raise ValueError(
                    f"{fn}: {path}, line {lineno}: {token!r} is not a split code "
                    "(0 train, 1 valid, 2 test)."
                )
            codes.append(int(token))
    if len(codes) != data.num_rows:
        raise ValueError(
            f"{fn}: {path} holds {len(codes)} codes, but {data.source} has "
            f"{data.num_rows} interaction rows (one code per row, in file order)."
        )
    return _split(np.asarray(codes, np.int8))


def _split_of(fn: str, data: Interactions, split: Any) -> Split:
    """``split`` as a :class:`Split` with one code per row of ``data``."""
    _checks.instance(fn, "split", split, Split, "a Split (from split_random, ...)")
    if split.codes.shape != (data.num_rows,):
        raise ValueError(
            f"{fn}: split has {split.codes.shape[0]} codes for {data.num_rows} rows."
        )
    return split


def _rows(fn: str, data: Interactions, split: Split, parts: str | Sequence[str]):
    # One name is one part: "test" means ("test",), not its letters.
    names = [parts] if isinstance(parts, str) else _checks.strings(fn, "parts", parts)
    codes = [PARTS.index(_checks.choice(fn, "parts", p, PARTS)) for p in names]
    return np.flatnonzero(np.isin(split.codes, codes))


def item_counts(
    data: Interactions, split: Split, *, parts: str | Sequence[str] = ("train",)
) -> np.ndarray:
    """How often each item occurs in the given parts (popularity).

    Args:
      data: the interactions.
      split: the split.
      parts: the parts to count, default the training part; one name such
        as ``"test"`` is the same as ``("test",)``.

    Returns:
      ``int64[num_items]`` counts.

    Raises:
      TypeError: wrong argument types.
      ValueError: an unknown part name.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.zeros(3, np.int32), items=np.array([1, 1, 0], np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"u": 0},
      ...     item_to_id={"a": 0, "b": 1}, user_features={}, item_features={},
      ...     source="toy")
      >>> split = jaxns.retrieval.split_from_codes(data, [0, 0, 2])
      >>> jaxns.retrieval.item_counts(data, split).tolist()
      [0, 2]

    References:
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
    """
    fn = "item_counts"
    data = _interactions(fn, data)
    split = _split_of(fn, data, split)
    rows = _rows(fn, data, split, parts)
    return np.bincount(data.items[rows], minlength=data.num_items).astype(np.int64)


# ---------------------------------------------------------------------------
# Known items and RecBole's negative sampler
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class UserItems:
    """Each user's set of items, as sorted rows of a CSR matrix (a pytree).

    Attributes:
      offsets: ``int32[num_users + 1]``; user ``u``'s items are
        ``items[offsets[u]:offsets[u + 1]]``, sorted and distinct.
      items: ``int32[nnz + 1]``, the last entry a sentinel ``num_items``.
      gaps: ``int32[nnz + 1]``, ``items[j] - (j - offsets[u])`` within each
        row: the number of items *not* in the set below ``items[j]``
        (non-decreasing within a row), for exact draws from the complement.
      num_items: the item vocabulary size (static).
      max_degree: the largest set (static; bounds the binary searches).
    """

    offsets: jax.Array
    items: jax.Array
    gaps: jax.Array
    num_items: int
    max_degree: int

    def degree(self, users: ArrayLike) -> jax.Array:
        """``int32`` number of items of each user (shape of ``users``)."""
        # int32 before ``+ 1``: uint8 user 255 + 1 wrapped to user 0.
        users = _checks.int_array("UserItems.degree", "users", users)
        users = users.astype(jnp.int32)
        return self.offsets[users + 1] - self.offsets[users]

    def contains(self, users: ArrayLike, items: ArrayLike) -> jax.Array:
        """Whether ``items[i]`` is in ``users[i]``'s set (binary search).

        Args:
          users: integer user ids.
          items: integer item ids, the shape of ``users`` (or broadcastable).

        Returns:
          ``bool`` array of the broadcast shape.

        Examples:
          >>> import numpy as np
          >>> import jaxns
          >>> data = jaxns.retrieval.Interactions(
          ...     users=np.array([0, 0, 1], np.int32),
          ...     items=np.array([2, 0, 1], np.int32), ratings=None,
          ...     timestamps=None, user_to_id={"a": 0, "b": 1},
          ...     item_to_id={"x": 0, "y": 1, "z": 2}, user_features={},
          ...     item_features={}, source="toy")
          >>> known = jaxns.retrieval.user_items(data)
          >>> known.contains(np.array([0, 0, 1]), np.array([0, 1, 1])).tolist()
          [True, False, True]

        References:
          Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit
          Feedback <https://arxiv.org/abs/1205.2618>`_, 2009.
        """
        fn = "UserItems.contains"
        users = _checks.int_array(fn, "users", users)
        items = _checks.int_array(fn, "items", items)
        with jax.named_scope("jaxns.retrieval.UserItems.contains"):
            users, items = jnp.broadcast_arrays(users, items)
            if items.dtype != self.items.dtype:
                # int8 or int64 ids against the int32 rows: compare in the
                # default int (explicitly, for strict dtype promotion).
                items = items.astype(jax.dtypes.canonicalize_dtype(jnp.int64))
            lo, hi = self._search(self.items, users, items, strict=True)
            return (lo < hi) & (self.items[lo].astype(items.dtype) == items)

    def _search(self, values, users, x, *, strict: bool):
        """Within each user's row of ``values``: first index with value >= x
        (``strict``) or > x; returns (index, row end)."""
        users = users.astype(jnp.int32)  # ``users + 1`` must not wrap (uint8 255)
        lo = self.offsets[users]
        end = self.offsets[users + 1]

        def halve(_, bounds):
            lo, hi = bounds
            live = lo < hi
            mid = (lo + hi) // 2
            v = values[mid].astype(x.dtype)
            right = (v < x) if strict else (v <= x)
            return jnp.where(live & right, mid + 1, lo), jnp.where(
                live & ~right, mid, hi
            )

        # A rolled loop: unrolled, the ten dependent gathers of a MovieLens
        # search took XLA:CPU ~5 s to compile (a BPR epoch's whole compile
        # time fell from 6.6 s to 1.0 s); the rolled search runs ~40 us slower
        # per batch of 2048, a few percent of a training step.
        steps = max(1, int(self.max_degree).bit_length())
        lo, _ = jax.lax.fori_loop(0, steps, halve, (lo, end))
        return lo, end


jax.tree_util.register_dataclass(
    UserItems,
    data_fields=["offsets", "items", "gaps"],
    meta_fields=["num_items", "max_degree"],
)


def user_items(
    data: Interactions,
    split: Split | None = None,
    *,
    parts: str | Sequence[str] = ("train",),
) -> UserItems:
    """Each user's items in the given parts of a split (all rows without one).

    Args:
      data: the interactions.
      split: optional split; with it only the rows of ``parts`` count.
      parts: the parts to collect (default the training part); one name such
        as ``"test"`` is the same as ``("test",)``.

    Returns:
      A :class:`UserItems` (a pytree, pass it into ``jit``).

    Raises:
      TypeError: wrong argument types.
      ValueError: an unknown part.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([1, 0, 1, 1], np.int32),
      ...     items=np.array([3, 0, 1, 3], np.int32), ratings=None,
      ...     timestamps=None, user_to_id={"a": 0, "b": 1},
      ...     item_to_id={str(i): i for i in range(4)}, user_features={},
      ...     item_features={}, source="toy")
      >>> known = jaxns.retrieval.user_items(data)
      >>> known.offsets.tolist(), known.items.tolist()
      ([0, 1, 3], [0, 1, 3, 4])

    References:
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
    """
    fn = "user_items"
    data = _interactions(fn, data)
    if split is None:
        rows = np.arange(data.num_rows)
    else:
        rows = _rows(fn, data, _split_of(fn, data, split), parts)
    return _csr(data.users[rows], data.items[rows], data.num_users, data.num_items)


def _to_device(x: np.ndarray) -> jax.Array:
    """A host array on the default device. ``jax.device_put`` copies it without
    compiling anything (``jnp.asarray`` compiles a small program per shape)."""
    return jax.device_put(np.ascontiguousarray(x))


def _csr(users: np.ndarray, items: np.ndarray, num_users: int, num_items: int):
    pairs = samplers._sorted_unique(
        users.astype(np.int64) * num_items + items.astype(np.int64)
    )
    u, i = pairs // num_items, pairs % num_items
    degree = np.bincount(u, minlength=num_users)
    offsets = np.r_[0, np.cumsum(degree)].astype(np.int32)
    within = np.arange(pairs.size) - np.repeat(offsets[:-1], degree)
    items_out = np.r_[i, num_items].astype(np.int32)
    gaps = np.r_[i - within, num_items].astype(np.int32)
    return UserItems(
        offsets=_to_device(offsets),
        items=_to_device(items_out),
        gaps=_to_device(gaps),
        num_items=int(num_items),
        max_degree=int(degree.max(initial=0)),
    )


def _uniform_below(key: jax.Array, n: jax.Array, bound: int) -> jax.Array:
    """``int32`` uniform in ``[0, n)`` per element of ``n`` (``1 <= n <= bound``).

    For ``bound <= 2**16``: the remainder of a uniform 64-bit integer
    ``2**32 * w0 + w1`` (two words of one ``jax.random.bits`` draw) modulo
    ``n``, computed exactly in 32-bit arithmetic as
    ``((w0 % n) * (2**32 % n) + w1 % n) % n`` (every product stays below
    ``2**32``): each value's probability is within ``2**-64`` of ``1 / n``.
    It replaces ``jax.random.randint`` (the same kind of draw) because
    XLA:CPU compiles it in two thirds of the time (one threefry hash instead
    of two, no bounds handling). Larger bounds use ``jax.random.randint``.
    """
    if bound > 1 << 16:
        return jax.random.randint(key, n.shape, 0, n, jnp.int32)
    w = jax.random.bits(key, (2, *n.shape), jnp.uint32)
    n = n.astype(jnp.uint32)
    two32 = (jnp.uint32(0) - n) % n  # 2**32 mod n
    r = ((w[0] % n) * two32 % n + w[1] % n) % n
    return r.astype(jnp.int32)


def sample_negatives(
    key: ArrayLike, known: UserItems, users: ArrayLike, num_negatives: int = 1
) -> jax.Array:
    """RecBole's BPR negatives: uniform items, never one of the user's known items.

    RecBole draws a uniform item and redraws it while it is one of the user's
    training items; the result is uniform over the items the user does not
    know. This draws from that distribution exactly, without a loop: ``r`` is
    uniform in ``[0, n)``, ``n = num_items - degree(u)`` (up to 65,536 items
    the remainder of a random 64-bit integer modulo ``n``, computed exactly in
    32-bit arithmetic: each value's probability is within ``2**-64`` of
    ``1 / n``; beyond, ``jax.random.randint``) and maps to the ``r``-th unknown
    item, ``r + #{j : gaps_j <= r}``, by a binary search in the user's sorted
    row (O(log degree) per draw, fixed shapes). Draws are independent (with
    replacement).

    .. warning:: A user who knows every item has no valid negative; the draws
       of such a user are arbitrary items (RecBole raises instead).

    Args:
      key: a single typed key.
      known: the users' known items (:func:`user_items` of the training part).
      users: integer user ids ``[...]``.
      num_negatives: negatives per user, a Python int ``>= 1`` (static).

    Returns:
      ``int32[..., num_negatives]`` item ids.

    Raises:
      TypeError: a non-typed key, non-integer users or a non-:class:`UserItems`.
      ValueError: a key array or ``num_negatives < 1``.

    Examples:
      >>> import jax, numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([0, 0], np.int32), items=np.array([0, 2], np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"a": 0},
      ...     item_to_id={"x": 0, "y": 1, "z": 2, "w": 3}, user_features={},
      ...     item_features={}, source="toy")
      >>> known = jaxns.retrieval.user_items(data)
      >>> neg = jaxns.retrieval.sample_negatives(
      ...     jax.random.key(0), known, np.zeros(1000, np.int32))
      >>> neg.shape, sorted(set(neg[:, 0].tolist()))
      ((1000, 1), [1, 3])

    References:
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "sample_negatives"
    key = _checks.key(fn, key)
    if not isinstance(known, UserItems):
        raise TypeError(
            f"{fn}: known must be a UserItems (from user_items), got "
            f"{type(known).__name__}."
        )
    users = _checks.int_array(fn, "users", users)
    k = _checks.size(fn, "num_negatives", num_negatives, minimum=1)
    with jax.named_scope("jaxns.retrieval.sample_negatives"):
        users = jnp.broadcast_to(users[..., None], (*users.shape, k)).astype(jnp.int32)
        free = jnp.maximum(known.num_items - known.degree(users), 1)
        r = _uniform_below(key, free, known.num_items)
        # The r-th item outside the sorted set e is r + #{j : e_j - j <= r}.
        lo, _ = known._search(known.gaps, users, r, strict=False)
        out = r + (lo - known.offsets[users])
        return jnp.minimum(out, known.num_items - 1)


# ---------------------------------------------------------------------------
# Full-ranking metrics (RecBole's definitions)
# ---------------------------------------------------------------------------


def _metrics_from_hits(
    hits: jax.Array, num_relevant: jax.Array, ks: tuple[int, ...]
) -> dict[str, jax.Array]:
    """Per-user metrics from ``hits [users, max(ks)]`` (rank order) and ``n``."""
    kmax = hits.shape[-1]
    h = hits.astype(jnp.float32)
    positions = jnp.arange(1, kmax + 1, dtype=jnp.float32)
    discount = 1.0 / jnp.log2(positions + 1.0)
    num_hits = jnp.cumsum(h, axis=-1)
    dcg = jnp.cumsum(h * discount[None, :], axis=-1)
    ideal = jnp.cumsum(discount)
    # 1/rank of the first hit within the top j: the running max of h / rank.
    reciprocal = jax.lax.cummax(h / positions[None, :], axis=1)
    n = num_relevant.astype(jnp.float32)
    out = {}
    for k in ks:
        hk = num_hits[..., k - 1]
        depth = jnp.clip(jnp.minimum(num_relevant, k), 1, kmax) - 1
        out[f"recall@{k}"] = hk / jnp.maximum(n, 1.0)
        out[f"mrr@{k}"] = reciprocal[..., k - 1]
        out[f"ndcg@{k}"] = dcg[..., k - 1] / ideal[depth]
        out[f"hit@{k}"] = (hk > 0).astype(jnp.float32)
        out[f"precision@{k}"] = hk / k
    return out


def _diverged_to_nan(
    per_user: dict[str, jax.Array], scores: jax.Array
) -> dict[str, jax.Array]:
    """NaN metrics for the rows whose (unmasked) scores hold a NaN.

    ``top_k`` sorts NaN first, so a diverged model's ranking is its ties'
    order (the lowest ids): plausible, even perfect, numbers instead of NaN.
    """
    diverged = jnp.any(jnp.isnan(scores), axis=-1)
    return {k: jnp.where(diverged, jnp.nan, v) for k, v in per_user.items()}


def _ordered(metrics: dict[str, jax.Array], ks: tuple[int, ...]) -> dict:
    return {f"{m}@{k}": metrics[f"{m}@{k}"] for m in METRICS for k in ks}


def topk_metrics(
    scores: ArrayLike,
    relevant: ArrayLike,
    *,
    exclude: ArrayLike | None = None,
    ks: Sequence[int] = (10, 20, 50),
) -> dict[str, jax.Array]:
    r"""Full-ranking top-k metrics with RecBole's definitions, averaged over users.

    Each row (a user) ranks all items by score, excluded items removed
    (``jax.lax.top_k``; ties go to the lower item id). With binary relevance,
    ``n`` the user's relevant items and ``rank`` 1-based:

    * Recall@k ``= hits / n``; Precision@k ``= hits / k``;
      Hit@k ``= 1[hits > 0]``;
    * MRR@k ``= 1 / rank`` of the first hit (0 without a hit in the top k);
    * NDCG@k ``= sum_{hits} 1/log2(rank + 1)`` divided by the ideal DCG
      ``sum_{j=1}^{min(n, k)} 1/log2(j + 1)``.

    Means are over the users with at least one relevant item (others are
    ignored, as RecBole evaluates only users with items in the evaluated part).
    An item both relevant and excluded counts in ``n`` but cannot be a hit.
    A user whose scores (excluded items aside) hold a NaN, as a diverged
    model's do, gets NaN metrics, so the means are NaN: ``top_k`` ranks NaN
    first and would report the order of the ties.
    Jittable (``ks`` static); one ``top_k`` serves every k.

    Args:
      scores: float ``[users, items]``.
      relevant: bool ``[users, items]``.
      exclude: optional bool ``[users, items]``, True removes an item from the
        ranking (the user's training items, say).
      ks: cut-offs, Python ints ``1 <= k <= items`` (static under ``jit``).

    Returns:
      A dict ``{"recall@10": ..., "mrr@10": ..., "ndcg@10": ..., "hit@10":
      ..., "precision@10": ..., ...}`` of ``float32`` scalars (every metric
      for every k; NaN when no user has a relevant item, or a relevant
      user's scores hold a NaN).

    Raises:
      TypeError: non-float scores, non-bool masks, non-int ks.
      ValueError: mismatched shapes, a k above the number of items.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxns
      >>> scores = jnp.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.6]])
      >>> relevant = jnp.array([[False, False, True, True], [True, False, False,
      ...                       False]])
      >>> exclude = jnp.array([[True, False, False, False], [False] * 4])
      >>> m = jaxns.retrieval.topk_metrics(scores, relevant, exclude=exclude,
      ...                                  ks=(2,))
      >>> {k: round(float(v), 4) for k, v in m.items()}
      {'recall@2': 0.5, 'mrr@2': 0.5, 'ndcg@2': 0.5, 'hit@2': 0.5, 'precision@2': 0.5}

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
      Järvelin and Kekäläinen, `Cumulated Gain-Based Evaluation of IR
      Techniques <https://doi.org/10.1145/582415.582418>`_, 2002.
    """
    fn = "topk_metrics"
    scores = _checks.float_array(fn, "scores", scores, ndim=2)
    relevant = _checks.mask(fn, "relevant", relevant, scores.shape, of="scores")
    exclude = _checks.mask(fn, "exclude", exclude, scores.shape, of="scores")
    if relevant is None:
        raise TypeError(f"{fn}: relevant must be a boolean array, got None.")
    ks = _checks.sorted_sizes(
        fn, "ks", ks, maximum=scores.shape[1], maximum_is="the number of items"
    )
    with jax.named_scope("jaxns.retrieval.topk_metrics"):
        work = scores.astype(_checks.compute_dtype(scores.dtype))
        rankable = relevant
        if exclude is not None:
            work = jnp.where(exclude, -jnp.inf, work)
            rankable = relevant & ~exclude
        _, top = jax.lax.top_k(work, ks[-1])
        hits = jnp.take_along_axis(rankable, top, axis=1)
        n = jnp.sum(relevant, axis=1, dtype=jnp.int32)
        per_user = _diverged_to_nan(_metrics_from_hits(hits, n, ks), work)
        live = n > 0
        count = jnp.sum(live, dtype=jnp.float32)
        means = {
            k: jnp.sum(jnp.where(live, v, 0.0)) / count for k, v in per_user.items()
        }
        return _ordered(means, ks)


@dataclasses.dataclass(frozen=True, eq=False)
class RankingTask:
    """The users, relevant items and masked items of one evaluated part (a pytree).

    Attributes:
      users: ``int32[num_eval_users]``, the users with items in the part.
      relevant: ``int32[num_eval_users, max_relevant]``, each user's distinct
        items in the part, padded with ``num_items``.
      exclude: ``int32[num_eval_users, max_excluded]``, items of the earlier
        parts that are not relevant, padded with ``num_items``.
      num_items: the item vocabulary size (static).
      part: ``"valid"`` or ``"test"`` (static).
      num_user_ids: the user vocabulary size (static), the rows
        :func:`evaluate_ranking` needs in ``user_embeddings``; ``None`` for a
        task built by hand without it (then only ids below the table's rows
        are checked, and only outside ``jit``). :attr:`num_users` is the
        number of *evaluated* users.
    """

    users: jax.Array
    relevant: jax.Array
    exclude: jax.Array
    num_items: int
    part: str
    num_user_ids: int | None = None

    @property
    def num_users(self) -> int:
        return int(self.users.shape[0])


jax.tree_util.register_dataclass(
    RankingTask,
    data_fields=["users", "relevant", "exclude"],
    meta_fields=["num_items", "part", "num_user_ids"],
)


def _padded_rows(users: np.ndarray, items: np.ndarray, order: np.ndarray, pad: int):
    """Rows of ``items`` per entry of ``order`` (sorted distinct user ids)."""
    pairs = samplers._sorted_unique(users.astype(np.int64) * (pad + 1) + items)
    u, i = pairs // (pad + 1), pairs % (pad + 1)
    slot = np.searchsorted(order, u)
    degree = np.bincount(slot, minlength=order.size)
    width = max(int(degree.max(initial=0)), 1)
    start = np.r_[0, np.cumsum(degree)[:-1]]
    col = np.arange(pairs.size) - np.repeat(start, degree)
    out = np.full((order.size, width), pad, np.int32)
    out[slot, col] = i
    return out


def ranking_task(data: Interactions, split: Split, part: str = "test") -> RankingTask:
    """RecBole's full-ranking protocol for one part of a split.

    Every user with at least one row in ``part`` is evaluated against every
    item. Relevant: the user's distinct items in ``part``. Masked: the user's
    items in the earlier parts (train for ``"valid"``, train and valid for
    ``"test"``) that are not relevant (RecBole removes the positives from the
    history it masks).

    Args:
      data: the interactions.
      split: the split.
      part: ``"valid"`` or ``"test"``.

    Returns:
      A :class:`RankingTask` for :func:`evaluate_ranking`.

    Raises:
      TypeError: wrong argument types.
      ValueError: an unknown part, or a part without rows.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([0, 0, 0, 1], np.int32),
      ...     items=np.array([0, 1, 2, 2], np.int32), ratings=None,
      ...     timestamps=None, user_to_id={"a": 0, "b": 1},
      ...     item_to_id={"x": 0, "y": 1, "z": 2}, user_features={},
      ...     item_features={}, source="toy")
      >>> split = jaxns.retrieval.split_from_codes(data, [0, 1, 2, 0])
      >>> task = jaxns.retrieval.ranking_task(data, split, "test")
      >>> task.users.tolist(), task.relevant.tolist(), task.exclude.tolist()
      ([0], [[2]], [[0, 1]])

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "ranking_task"
    data = _interactions(fn, data)
    split = _split_of(fn, data, split)
    _checks.choice(fn, "part", part, ("valid", "test"))
    code = PARTS.index(part)
    rows = np.flatnonzero(split.codes == code)
    if rows.size == 0:
        raise ValueError(f"{fn}: the {part} part of the split has no rows.")
    users = samplers._sorted_unique(data.users[rows])
    pad = data.num_items
    relevant = _padded_rows(data.users[rows], data.items[rows], users, pad)
    before = np.flatnonzero(split.codes < code)
    before = before[np.isin(data.users[before], users)]
    pair = data.users.astype(np.int64) * (pad + 1) + data.items
    before = before[~np.isin(pair[before], pair[rows])]
    if before.size:
        exclude = _padded_rows(data.users[before], data.items[before], users, pad)
    else:
        exclude = np.full((users.size, 1), pad, np.int32)
    return RankingTask(
        users=_to_device(users.astype(np.int32)),
        relevant=_to_device(relevant),
        exclude=_to_device(exclude),
        num_items=int(data.num_items),
        part=part,
        num_user_ids=int(data.num_users),
    )


def evaluate_ranking(
    task: RankingTask,
    user_embeddings: ArrayLike,
    item_embeddings: ArrayLike,
    *,
    ks: Sequence[int] = (10, 20, 50),
    batch_size: int | None = None,
) -> dict[str, jax.Array]:
    """Full-ranking metrics of dot-product scores over a whole evaluated part.

    Scores ``user_embeddings[u] . item_embeddings[i]`` for every evaluated user
    and every item, masks the task's excluded items, takes one ``top_k`` and
    averages RecBole's metrics (see :func:`topk_metrics`) over the task's
    users. Users are processed ``batch_size`` at a time with ``lax.map`` (all
    at once by default), so memory is ``O(batch_size * num_items)``. Jittable
    (``ks`` and ``batch_size`` static): jit it once, call it every epoch.

    Args:
      task: from :func:`ranking_task`.
      user_embeddings: float ``[num_user_ids, dim]`` indexed by user id: one
        row per user of the data (``task.num_user_ids``).
      item_embeddings: float ``[num_items, dim]``.
      ks: cut-offs (static).
      batch_size: users per batch (static), or ``None`` for all at once.

    Returns:
      A dict of ``float32`` scalars like :func:`topk_metrics` (NaN when an
      evaluated user's scores hold a NaN).

    Raises:
      TypeError: non-float embeddings or a non-:class:`RankingTask`.
      ValueError: mismatched widths, user or item counts, bad ks or batch
        size.

    Examples:
      >>> import jax.numpy as jnp, numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([0, 0, 1, 1], np.int32),
      ...     items=np.array([0, 1, 2, 1], np.int32), ratings=None,
      ...     timestamps=None, user_to_id={"a": 0, "b": 1},
      ...     item_to_id={"x": 0, "y": 1, "z": 2}, user_features={},
      ...     item_features={}, source="toy")
      >>> split = jaxns.retrieval.split_from_codes(data, [0, 2, 0, 2])
      >>> task = jaxns.retrieval.ranking_task(data, split, "test")
      >>> popularity = jnp.array([[1.0], [2.0], [1.0]])  # train counts + 1
      >>> m = jaxns.retrieval.evaluate_ranking(task, jnp.ones((2, 1)), popularity,
      ...                                      ks=(1,))
      >>> float(m["hit@1"]), float(m["ndcg@1"])
      (1.0, 1.0)

    References:
      Zhao et al, `RecBole: Towards a Unified, Comprehensive and Efficient
      Framework for Recommendation Algorithms
      <https://arxiv.org/abs/2011.01731>`_, 2021.
    """
    fn = "evaluate_ranking"
    if not isinstance(task, RankingTask):
        raise TypeError(
            f"{fn}: task must be a RankingTask (from ranking_task), got "
            f"{type(task).__name__}."
        )
    (users_e, items_e), _ = _checks.floats(
        fn, user_embeddings=user_embeddings, item_embeddings=item_embeddings
    )
    if users_e.ndim != 2 or items_e.ndim != 2 or users_e.shape[1] != items_e.shape[1]:
        raise ValueError(
            f"{fn}: user_embeddings [num_users, dim] and item_embeddings "
            f"[num_items, dim] must share dim, got {users_e.shape} and "
            f"{items_e.shape}."
        )
    if items_e.shape[0] != task.num_items:
        raise ValueError(
            f"{fn}: item_embeddings has {items_e.shape[0]} rows, the task "
            f"{task.num_items} items."
        )
    # A missing user row would be clamped by the gather to another user's.
    if task.num_user_ids is not None:
        if users_e.shape[0] != task.num_user_ids:
            raise ValueError(
                f"{fn}: user_embeddings has {users_e.shape[0]} rows, the task "
                f"{task.num_user_ids} users."
            )
    elif not isinstance(task.users, jax.core.Tracer) and task.num_users:
        top = int(np.max(np.asarray(task.users)))
        if top >= users_e.shape[0]:
            raise ValueError(
                f"{fn}: user_embeddings has {users_e.shape[0]} rows, but the "
                f"task evaluates user {top}."
            )
    ks = _checks.sorted_sizes(
        fn, "ks", ks, maximum=task.num_items, maximum_is="the number of items"
    )
    num = task.num_users
    size = (
        num
        if batch_size is None
        else _checks.size(fn, "batch_size", batch_size, minimum=1)
    )
    size = min(size, num)
    with jax.named_scope("jaxns.retrieval.evaluate_ranking"):
        batches = -(-num // size)
        padded = batches * size

        def pad(x, value):
            return jnp.pad(x, [(0, padded - num)] + [(0, 0)] * (x.ndim - 1),
                           constant_values=value)  # fmt: skip

        users = pad(task.users, 0).reshape(batches, size)
        relevant = pad(task.relevant, task.num_items).reshape(batches, size, -1)
        exclude = pad(task.exclude, task.num_items).reshape(batches, size, -1)
        real = (jnp.arange(padded) < num).reshape(batches, size)
        n_items = task.num_items

        def one(args):
            u, rel, exc, keep = args
            scores = users_e[u] @ items_e.T
            rows = jnp.arange(size)[:, None]
            scores = scores.at[rows, exc].set(-jnp.inf, mode="drop")
            dense = (
                jnp.zeros((size, n_items), bool).at[rows, rel].set(True, mode="drop")
            )
            _, top = jax.lax.top_k(scores, ks[-1])
            hits = jnp.take_along_axis(dense, top, axis=1)
            n = jnp.sum(rel < n_items, axis=1, dtype=jnp.int32)
            per_user = _diverged_to_nan(_metrics_from_hits(hits, n, ks), scores)
            # Padding rows (copies of user 0) add nothing, NaN or not.
            return {k: jnp.sum(jnp.where(keep, v, 0.0)) for k, v in per_user.items()}

        sums = jax.lax.map(one, (users, relevant, exclude, real))
        return _ordered({k: jnp.sum(v) / num for k, v in sums.items()}, ks)


# ---------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------


def epoch_batches(
    key: ArrayLike, num_rows: int, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    """One epoch of shuffled training rows, as fixed-shape batches.

    A random permutation of ``range(num_rows)`` cut into
    ``ceil(num_rows / batch_size)`` batches; the last batch is padded with row
    0 and marked invalid (RecBole's last batch is simply smaller; a fixed
    shape lets one ``lax.scan`` run the whole epoch).

    Args:
      key: a single typed key.
      num_rows: rows in the epoch (static).
      batch_size: rows per batch (static).

    Returns:
      ``(rows, valid)``: ``int32[num_batches, batch_size]`` row indices and
      ``bool[num_batches, batch_size]``, False on padding.

    Raises:
      TypeError: a non-typed key or non-int sizes.
      ValueError: a key array, ``num_rows < 1`` or ``batch_size < 1``.

    Examples:
      >>> import jax
      >>> import jaxns
      >>> rows, valid = jaxns.retrieval.epoch_batches(jax.random.key(0), 5, 2)
      >>> rows.shape, valid.tolist()
      ((3, 2), [[True, True], [True, True], [True, False]])

    References:
      Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit Feedback
      <https://arxiv.org/abs/1205.2618>`_, 2009.
    """
    fn = "epoch_batches"
    key = _checks.key(fn, key)
    n = _checks.size(fn, "num_rows", num_rows, minimum=1)
    b = _checks.size(fn, "batch_size", batch_size, minimum=1)
    with jax.named_scope("jaxns.retrieval.epoch_batches"):
        steps = -(-n // b)
        perm = jax.random.permutation(key, n).astype(jnp.int32)
        rows = jnp.pad(perm, (0, steps * b - n)).reshape(steps, b)
        valid = (jnp.arange(steps * b) < n).reshape(steps, b)
        return rows, valid


@dataclasses.dataclass(frozen=True, eq=False)
class Objective:
    """A retrieval objective and its negatives (a pytree; see :func:`objective`).

    Training a two-tower model is two calls per batch: ``negatives`` draws the
    ids to contrast against (with an explicit key), the caller embeds them with
    its towers, and ``loss`` returns per-example losses from the embeddings.

    Attributes:
      kind: one of :data:`OBJECTIVES` (static).
      num_negatives: negatives per positive (BPR) or shared by the batch
        (sampled softmax, mixed) (static).
      temperature: logits are divided by it (softmax objectives; static).
      log_q_correction: whether logits are corrected by ``log Q`` (static).
      num_hard_negatives: keep only this many highest-scoring negatives per
        row, or ``None`` (static).
      known: each user's training items (BPR's sampler).
      sampler: the proposal of sampled negatives (sampled softmax, mixed).
      item_log_q: ``float32[num_items]`` log frequency of each item among
        the training positives: the proposal of in-batch negatives.
    """

    kind: str
    num_negatives: int
    temperature: float
    log_q_correction: bool
    num_hard_negatives: int | None
    known: UserItems | None
    sampler: samplers.Sampler | None
    item_log_q: jax.Array

    def negatives(
        self, key: ArrayLike, users: ArrayLike, items: ArrayLike
    ) -> jax.Array:
        """Draws the negative ids of a batch.

        Args:
          key: a single typed key.
          users: integer ``[batch]`` user ids.
          items: integer ``[batch]`` positive item ids.

        Returns:
          ``int32``: ``[batch, num_negatives]`` per positive (``"bpr"``:
          RecBole's sampler, never a training item of the user);
          ``[num_negatives]`` shared by the batch (``"sampled_softmax"``,
          ``"mixed"``); ``[0]`` for ``"in_batch"``.

        Raises:
          TypeError: a non-typed key or non-integer ids.

        Examples:
          >>> import jax, numpy as np
          >>> import jaxns
          >>> data = jaxns.retrieval.Interactions(
          ...     users=np.array([0, 1], np.int32), items=np.array([0, 1], np.int32),
          ...     ratings=None, timestamps=None, user_to_id={"a": 0, "b": 1},
          ...     item_to_id={str(i): i for i in range(5)}, user_features={},
          ...     item_features={}, source="toy")
          >>> split = jaxns.retrieval.split_from_codes(data, [0, 0])
          >>> obj = jaxns.retrieval.objective("sampled_softmax", data, split,
          ...                                 num_negatives=3)
          >>> obj.negatives(jax.random.key(0), np.array([0, 1]), np.array([0, 1])).shape
          (3,)

        References:
          Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
          Networks in Recommendations
          <https://doi.org/10.1145/3366424.3386195>`_, 2020.
        """
        fn = "Objective.negatives"
        key = _checks.key(fn, key)
        users = _checks.int_array(fn, "users", users, ndim=1)
        _checks.int_array(fn, "items", items, shape=users.shape)
        with jax.named_scope("jaxns.retrieval.Objective.negatives"):
            if self.kind == "bpr":
                return sample_negatives(key, self.known, users, self.num_negatives)
            if self.kind == "in_batch":
                return jnp.zeros((0,), jnp.int32)
            return self.sampler.sample(key, (self.num_negatives,))

    def loss(
        self,
        query: ArrayLike,
        positives: ArrayLike,
        negatives: ArrayLike,
        item_ids: ArrayLike,
        negative_ids: ArrayLike,
        *,
        where: ArrayLike | None = None,
    ) -> jax.Array:
        r"""Per-example losses of a batch from the towers' embeddings.

        * ``"bpr"``: ``softplus(s- - s+)`` averaged over the row's negatives
          (:func:`jaxns.losses.bpr`), dot-product scores.
        * ``"sampled_softmax"``: softmax over the positive and the shared
          negatives, logits ``s / temperature - log E`` with ``E`` the
          expected count under the proposal (:func:`jaxns.losses.sampled_softmax`),
          accidental hits (a negative equal to the row's positive) masked.
        * ``"in_batch"``: the batch's other positives as negatives, minus
          ``log q`` of each item's training frequency (Yi et al. 2019;
          :func:`jaxns.losses.in_batch_softmax`), duplicates masked by id.
        * ``"mixed"``: in-batch plus the shared sampled negatives, every column
          corrected by the mixture's expected count
          ``batch * q_freq(j) + num_negatives * q_sampler(j)``
          (Yang et al. 2020).

        Args:
          query: float ``[batch, dim]`` user embeddings.
          positives: float ``[batch, dim]`` embeddings of the positive items.
          negatives: float embeddings of ``negative_ids``: ``[batch,
            num_negatives, dim]`` (BPR), ``[num_negatives, dim]`` (shared),
            ``[0, dim]`` (in-batch).
          item_ids: integer ``[batch]`` positive item ids.
          negative_ids: the ids from :meth:`negatives`.
          where: optional bool ``[batch]``; False rows (padding) give 0 and
            are nobody's negative.

        Returns:
          ``[batch]`` losses in the embeddings' dtype (computed in float32 or
          wider).

        Raises:
          TypeError: non-float embeddings or non-integer ids.
          ValueError: mismatched shapes.

        Examples:
          >>> import jax, jax.numpy as jnp, numpy as np
          >>> import jaxns
          >>> data = jaxns.retrieval.Interactions(
          ...     users=np.array([0, 1], np.int32), items=np.array([0, 1], np.int32),
          ...     ratings=None, timestamps=None, user_to_id={"a": 0, "b": 1},
          ...     item_to_id={str(i): i for i in range(5)}, user_features={},
          ...     item_features={}, source="toy")
          >>> split = jaxns.retrieval.split_from_codes(data, [0, 0])
          >>> obj = jaxns.retrieval.objective("bpr", data, split)
          >>> users, items = np.array([0, 1]), np.array([0, 1])
          >>> neg = obj.negatives(jax.random.key(0), users, items)
          >>> q = jnp.zeros((2, 4))
          >>> loss = obj.loss(q, jnp.zeros((2, 4)), jnp.zeros((2, 1, 4)), items, neg)
          >>> [round(x, 4) for x in loss.tolist()]
          [0.6931, 0.6931]

        References:
          Rendle et al, `BPR: Bayesian Personalized Ranking from Implicit
          Feedback <https://arxiv.org/abs/1205.2618>`_, 2009.
          Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus
          Item Recommendations <https://doi.org/10.1145/3298689.3346996>`_,
          2019.
          Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
          Networks in Recommendations
          <https://doi.org/10.1145/3366424.3386195>`_, 2020.
        """
        fn = "Objective.loss"
        (q, p, n), out_dtype = _checks.floats(
            fn, query=query, positives=positives, negatives=negatives
        )
        _checks.check_shape(fn, "query", q, ("batch", "dim"))
        _checks.same_shape(fn, "query", q, "positives", p)
        batch, dim = q.shape
        item_ids = _checks.int_array(fn, "item_ids", item_ids, shape=(batch,))
        negative_ids = _checks.int_array(fn, "negative_ids", negative_ids)
        where = _checks.mask(fn, "where", where, (batch,), of="the batch")
        expected = negative_ids.shape + (dim,)
        if n.shape != expected:
            raise ValueError(
                f"{fn}: negatives must be the embeddings of negative_ids, shape "
                f"{expected}, got {n.shape}."
            )
        with jax.named_scope(f"jaxns.retrieval.Objective.loss.{self.kind}"):
            out = self._loss(q, p, n, item_ids, negative_ids, where)
            out = out if where is None else jnp.where(where, out, 0.0)
            return out.astype(out_dtype)

    def _loss(self, q, p, n, item_ids, negative_ids, where):
        t = self.temperature
        hard = self.num_hard_negatives
        if self.kind == "bpr":
            pos = jnp.sum(q * p, axis=-1)
            neg = jnp.einsum("bd,bkd->bk", q, n)
            if hard is not None and hard < neg.shape[-1]:
                neg = jax.lax.top_k(neg, hard)[0]
            return losses.bpr(pos, neg)
        batch = q.shape[0]
        if self.kind == "sampled_softmax":
            k = self.num_negatives
            pos = jnp.sum(q * p, axis=-1) / t
            neg = (q @ n.T) / t
            keep = ~samplers.accidental_hits(item_ids, negative_ids)
            pos_lq = neg_lq = None
            if self.log_q_correction:
                # In the logits' dtype: the hard-negative ranking below
                # subtracts it from float64 logits under x64 (strict promotion).
                count = samplers.log_expected_count
                pos_lq = count(self.sampler, item_ids, k).astype(pos.dtype)
                neg_lq = jnp.broadcast_to(
                    count(self.sampler, negative_ids, k).astype(neg.dtype), neg.shape
                )
            if hard is not None and hard < k:
                corrected = neg if neg_lq is None else neg - neg_lq
                idx = samplers.hard_negatives(corrected, hard, where=keep)
                neg = jnp.take_along_axis(neg, idx, axis=1)
                keep = jnp.take_along_axis(keep, idx, axis=1)
                if neg_lq is not None:
                    neg_lq = jnp.take_along_axis(neg_lq, idx, axis=1)
            return losses.sampled_softmax(
                pos, neg, pos_log_q=pos_lq, neg_log_q=neg_lq, where=keep
            )
        columns = None if where is None else where
        if self.kind == "in_batch":
            mask = (
                None if columns is None else jnp.broadcast_to(columns, (batch, batch))
            )
            return losses.in_batch_softmax(
                q,
                p,
                temperature=t,
                candidate_log_q=(
                    self.item_log_q[item_ids] if self.log_q_correction else None
                ),
                candidate_ids=item_ids,
                num_hard_negatives=hard,
                where=mask,
            )
        # mixed: in-batch columns drawn by frequency, extra columns by the sampler
        k = self.num_negatives
        cand_lq = extra_lq = None
        if self.log_q_correction:
            cand_lq = self._mixture_log_q(item_ids, batch, k)
            extra_lq = self._mixture_log_q(negative_ids, batch, k)
        mask = None
        if columns is not None:
            cols = jnp.concatenate([columns, jnp.ones((k,), bool)])
            mask = jnp.broadcast_to(cols, (batch, batch + k))
        return losses.in_batch_softmax(
            q,
            p,
            temperature=t,
            candidate_log_q=cand_lq,
            candidate_ids=item_ids,
            extra_candidates=n,
            extra_log_q=extra_lq,
            extra_ids=negative_ids,
            num_hard_negatives=hard,
            where=mask,
        )

    def _mixture_log_q(self, ids, batch: int, k: int) -> jax.Array:
        # log(B q_freq(j) + K q_sampler(j)), computed in log space.
        a = math.log(batch) + self.item_log_q[ids]
        b = math.log(k) + self.sampler.log_prob(ids)
        return jnp.logaddexp(a, b)


jax.tree_util.register_dataclass(
    Objective,
    data_fields=["known", "sampler", "item_log_q"],
    meta_fields=[
        "kind",
        "num_negatives",
        "temperature",
        "log_q_correction",
        "num_hard_negatives",
    ],
)


def objective(
    kind: str,
    data: Interactions,
    split: Split,
    *,
    num_negatives: int | None = None,
    sampler: str = "uniform",
    power: float = 1.0,
    log_q_correction: bool = True,
    temperature: float = 1.0,
    num_hard_negatives: int | None = None,
) -> Objective:
    """Builds a retrieval :class:`Objective` from the training part of a split.

    * ``"bpr"``: one negative per positive by default, uniform over the items
      the user has not trained on (RecBole's sampler, :func:`sample_negatives`).
    * ``"sampled_softmax"``: ``num_negatives`` (default 64) negatives shared by
      the batch from ``sampler`` (``"uniform"``, or ``"popularity"``: training
      counts to the power ``power``), with logQ correction.
    * ``"in_batch"``: the batch's positives as negatives, logQ from the training
      frequency of each item.
    * ``"mixed"``: in-batch plus ``num_negatives`` (default 64) shared sampled
      negatives (Yang et al. 2020), logQ of the mixture.

    Args:
      kind: one of :data:`OBJECTIVES`.
      data: the interactions.
      split: the split; only its training part is used.
      num_negatives: see above (static).
      sampler: ``"uniform"`` or ``"popularity"`` (sampled and mixed negatives).
      power: exponent of the popularity proposal (RecBole's ``alpha``).
      log_q_correction: subtract ``log Q`` from the softmax logits.
      temperature: softmax temperature ``> 0``.
      num_hard_negatives: keep only the hardest negatives per row.

    Returns:
      An :class:`Objective`.

    Raises:
      TypeError: wrong argument types.
      ValueError: an unknown kind or sampler, non-positive sizes or
        temperature, a training part without rows.

    Examples:
      >>> import numpy as np
      >>> import jaxns
      >>> data = jaxns.retrieval.Interactions(
      ...     users=np.array([0, 1, 1], np.int32), items=np.array([0, 1, 0], np.int32),
      ...     ratings=None, timestamps=None, user_to_id={"a": 0, "b": 1},
      ...     item_to_id={"x": 0, "y": 1}, user_features={}, item_features={},
      ...     source="toy")
      >>> split = jaxns.retrieval.split_from_codes(data, [0, 0, 0])
      >>> obj = jaxns.retrieval.objective("in_batch", data, split, temperature=0.1)
      >>> [round(x, 4) for x in obj.item_log_q.tolist()]  # log(2/3), log(1/3)
      [-0.4055, -1.0986]

    References:
      Yi et al, `Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
      Recommendations <https://doi.org/10.1145/3298689.3346996>`_, 2019.
      Yang et al, `Mixed Negative Sampling for Learning Two-tower Neural
      Networks in Recommendations <https://doi.org/10.1145/3366424.3386195>`_,
      2020.
    """
    fn = "objective"
    kind = _checks.choice(fn, "kind", kind, OBJECTIVES)
    data = _interactions(fn, data)
    split = _split_of(fn, data, split)
    sampler = _checks.choice(fn, "sampler", sampler, ("uniform", "popularity"))
    power = float(_checks.number(fn, "power", power, nonnegative=True))
    log_q_correction = _checks.flag(fn, "log_q_correction", log_q_correction)
    temperature = float(_checks.number(fn, "temperature", temperature, positive=True))
    default = 1 if kind == "bpr" else 64
    k = _checks.size(
        fn, "num_negatives", default if num_negatives is None else num_negatives,
        minimum=1,
    )  # fmt: skip
    hard = _checks.optional_size(
        fn, "num_hard_negatives", num_hard_negatives, minimum=1
    )
    counts = item_counts(data, split).astype(np.float64)
    if not counts.sum() > 0:
        raise ValueError(f"{fn}: the training part of the split has no rows.")
    with np.errstate(divide="ignore"):
        log_freq = np.log(counts / counts.sum())
    log_freq = np.maximum(log_freq, np.log(np.finfo(np.float32).tiny))
    proposal = None
    if kind in ("sampled_softmax", "mixed"):
        if sampler == "uniform":
            proposal = samplers.uniform(data.num_items)
        else:
            proposal = samplers.unigram(counts, power=power)
    return Objective(
        kind=kind,
        num_negatives=k,
        temperature=temperature,
        log_q_correction=log_q_correction,
        num_hard_negatives=hard,
        known=user_items(data, split) if kind == "bpr" else None,
        sampler=proposal,
        item_log_q=_to_device(log_freq.astype(np.float32)),
    )
