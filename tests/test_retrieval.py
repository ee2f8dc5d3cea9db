# SPDX-License-Identifier: Apache-2.0
"""jaxns.retrieval: readers, splits, RecBole's sampler, metrics, objectives.

Every file here is written by the test itself; no MovieLens data is used.
"""

from __future__ import annotations

import hashlib
import math
import pathlib
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close
from scipy import stats

from jaxns import retrieval

# ---------------------------------------------------------------------------
# tiny files
# ---------------------------------------------------------------------------

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n"
U_USER = "196|49|M|writer|55105\n186|39|F|executive|00000\n"
U_GENRE = "unknown|0\nAction|1\nComedy|2\n\n"
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0|1\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://y|0|1|1\n"
    "377|Heavyweights (1994)|01-Jan-1994||http://z|0|0|1\n"
)
INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "u1\ti1\t5\t10\nu2\ti2\t3\t20\nu1\ti3\t4\t30\n"
)


def _ml100k(directory: pathlib.Path) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "u.data").write_text(U_DATA)
    (directory / "u.user").write_text(U_USER)
    (directory / "u.genre").write_text(U_GENRE)
    (directory / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    return directory


def test_movielens_files(tmp_path):
    data = retrieval.load_interactions(_ml100k(tmp_path) / "u.data")
    assert data.users.tolist() == [0, 1, 0]
    assert data.items.tolist() == [0, 1, 2]
    assert data.users.dtype == np.int32 and data.items.dtype == np.int32
    assert data.ratings.tolist() == [3.0, 3.0, 1.0]
    assert data.timestamps.tolist() == [881250949.0, 891717742.0, 878887116.0]
    assert dict(data.user_to_id) == {"196": 0, "186": 1}
    assert dict(data.item_to_id) == {"242": 0, "302": 1, "377": 2}
    gender = data.user_features["gender"]
    assert gender.codes.tolist() == [[0], [1]] and gender.vocabulary == ("M", "F")
    genre = data.item_features["genre"]
    assert genre.vocabulary == ("Comedy", "Action")
    assert genre.codes.tolist() == [[0, -1], [1, 0], [0, -1]]
    assert data.item_features["release_year"].vocabulary == ("1997", "1994")
    # the directory and the zip read the same
    same = retrieval.load_interactions(tmp_path)
    assert same.items.tolist() == data.items.tolist()
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("u.data", "u.user", "u.item", "u.genre"):
            z.write(tmp_path / name, f"ml-100k/{name}")
    zipped = retrieval.load_interactions(archive)
    assert zipped.item_features["genre"].codes.tolist() == genre.codes.tolist()


def test_data_is_immutable(tmp_path):
    data = retrieval.load_interactions(_ml100k(tmp_path))
    with pytest.raises(ValueError):
        data.users[0] = 5
    with pytest.raises(TypeError):
        data.user_to_id["new"] = 3
    with pytest.raises(AttributeError):
        data.users = None


def test_recbole_atomic_files(tmp_path):
    (tmp_path / "toy.inter").write_text(INTER)
    (tmp_path / "toy.user").write_text(
        "user_id:token\tage:token\tw:float\nu2\t30\t1.5\n"
    )
    (tmp_path / "toy.item").write_text(
        "item_id:token\tclass:token_seq\ni1\tA B\ni3\tB\ni2\t\n"
    )
    data = retrieval.load_interactions(tmp_path / "toy.inter")
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 1, 2]
    assert data.timestamps.tolist() == [10.0, 20.0, 30.0]
    assert set(data.user_features) == {"age"}  # float fields are not categorical
    assert data.user_features["age"].codes.tolist() == [[-1], [0]]
    cls = data.item_features["class"]
    assert cls.vocabulary == ("A", "B")
    assert cls.codes.tolist() == [[0, 1], [-1, -1], [1, -1]]


def test_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("userId,movieId,rating,timestamp\n7,a,4.5,3\n8,b,1,2\n7,b,2,1\n")
    data = retrieval.load_interactions(path)
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 1, 1]
    assert data.ratings.tolist() == [4.5, 1.0, 2.0]
    plain = tmp_path / "y.csv"
    plain.write_text("user,item\n1,2\n")
    only = retrieval.load_interactions(plain)
    assert only.ratings is None and only.timestamps is None


def _write_source(directory: pathlib.Path, kind: str, bom: tuple[str, ...]):
    """A tiny source of ``kind``; the files named in ``bom`` start with U+FEFF."""
    directory.mkdir()

    def put(name: str, text: str, encoding: str = "utf-8") -> None:
        mark = b"\xef\xbb\xbf" if name in bom else b""
        (directory / name).write_bytes(mark + text.encode(encoding))

    if kind == "inter":
        put("toy.inter", INTER)
        put("toy.user", "user_id:token\tage:token\nu2\t30\n")
        return directory / "toy.inter"
    if kind == "csv":
        put("x.csv", "userId,movieId,rating\n7,a,4.5\n8,b,1\n")
        return directory / "x.csv"
    put("u.data", U_DATA)
    put("u.user", U_USER)
    put("u.genre", U_GENRE)
    put("u.item", U_ITEM, "latin-1")
    if kind == "zip":
        with zipfile.ZipFile(directory / "ml-100k.zip", "w") as z:
            for name in ("u.data", "u.user", "u.item", "u.genre"):
                z.write(directory / name, f"ml-100k/{name}")
        return directory / "ml-100k.zip"
    return directory if kind == "dir" else directory / "u.data"


@pytest.mark.parametrize(
    ("kind", "bom"),
    [
        ("u.data", ("u.data",)),
        ("u.data", ("u.user",)),
        ("dir", ("u.data", "u.user")),
        ("zip", ("u.data", "u.user")),
        ("inter", ("toy.inter",)),
        ("inter", ("toy.user",)),
        ("csv", ("x.csv",)),
    ],
)
def test_readers_drop_a_utf8_byte_order_mark(tmp_path, kind, bom):
    # Excel's "CSV UTF-8" export and many Windows tools write U+FEFF first.
    want = retrieval.load_interactions(_write_source(tmp_path / "plain", kind, ()))
    got = retrieval.load_interactions(_write_source(tmp_path / "bom", kind, bom))
    assert got.users.tolist() == want.users.tolist()
    assert got.items.tolist() == want.items.tolist()
    assert got.ratings.tolist() == want.ratings.tolist()
    assert dict(got.user_to_id) == dict(want.user_to_id)
    assert dict(got.item_to_id) == dict(want.item_to_id)
    assert set(got.user_features) == set(want.user_features)
    for name, feature in want.user_features.items():
        assert got.user_features[name].vocabulary == feature.vocabulary
        assert got.user_features[name].codes.tolist() == feature.codes.tolist()


@pytest.mark.parametrize("char", ["\u2028", "\x85", "\x0c", "\x1e"])
def test_line_breaks_are_newlines_only_as_in_text_files(tmp_path, char):
    """U+2028, NEL (Latin-1 byte 0x85), form feed and record separator inside
    a field: Python's text files and pandas (RecBole's reader) keep them in
    the field; str.splitlines broke the line and the loader refused the file."""
    (tmp_path / "a.inter").write_text(
        "user_id:token\titem_id:token\r\nu1\ti1\r\nu2\ti2\r\n"
    )
    (tmp_path / "a.item").write_text(
        f"item_id:token\ttitle:token_seq\ni1\tOne{char}Two x\ni2\ty\n"
    )
    data = retrieval.load_interactions(tmp_path / "a.inter")
    title = data.item_features["title"]
    assert title.vocabulary == (f"One{char}Two", "x", "y")
    assert title.codes.tolist() == [[0, 1], [2, -1]]
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t10\t4\t5\r\n2\t20\t3\t6\n")
    (folder / "u.user").write_text(f"1|24|M|tech{char}nician|1\r\n2|5|F|x|2\n")
    if char != "\u2028":  # u.item is Latin-1
        item = f"10|A{char}B (1995)|01-Jan-1995||x|1\r\n20|C (1994)|||y|0\n"
        (folder / "u.item").write_bytes(item.encode("latin-1"))
    movies = retrieval.load_interactions(folder)
    assert movies.items.tolist() == [0, 1]
    jobs = movies.user_features["occupation"].vocabulary
    assert jobs == (f"tech{char}nician", "x")
    if char != "\u2028":
        titles = movies.item_features["title"].vocabulary
        assert titles == (f"A{char}B (1995)", "C (1994)")


def test_load_split_drops_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes("0, 2\n1\n".encode("utf-8-sig"))
    assert retrieval.load_split(path, _data([0, 1, 0])).codes.tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("u.data", "1\t2\t3\n", "u.data, line 1: expected 4 tab-separated"),
        ("u.data", "1\t2\t3\t4\n1\t2\tx\t4\n", "u.data, line 2: rating 'x'"),
        ("u.data", "1\t2\t3\tnan\n", "line 1: timestamp 'nan' is not finite"),
        ("a.inter", "user_id\titem_id\n1\t2\n", "a.inter, line 1: header column"),
        ("a.inter", "user_id:token\titem_id:token\n1\t2\n\n3\n", "line 4: expected 2"),
        ("a.inter", "user_id:token\tr:float\n1\t2\n", "line 1: header has no item_id"),
        ("b.csv", "who,what\n1,2\n", "b.csv, line 1: the header"),
        ("b.csv", "user,item,rating\n1,2,3\n1,2\n", "b.csv, line 3: expected 3"),
        ("b.csv", "", "is empty"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        retrieval.load_interactions(tmp_path / name)


def test_non_utf8_member_of_a_zip_names_the_member(tmp_path):
    """u.data that is not UTF-8 inside ml-100k.zip: a ValueError naming the
    archive and its member, as for a folder (it was a raw UnicodeDecodeError)."""
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-100k/u.data", b"1\t2\t3\t4\n\xff\xfe\t2\t3\t4\n")
    with pytest.raises(ValueError, match=r"ml-100k.zip:ml-100k/u.data is not utf-8"):
        retrieval.load_interactions(archive)
    (tmp_path / "u.data").write_bytes(b"1\t2\t3\t4\n\xff\xfe\t2\t3\t4\n")
    with pytest.raises(ValueError, match=r"u.data is not utf-8 text"):
        retrieval.load_interactions(tmp_path)


def test_missing_and_wrong_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        retrieval.load_interactions(tmp_path / "nope.csv")
    with pytest.raises(TypeError, match="source must be a path"):
        retrieval.load_interactions(3)
    with pytest.raises(ValueError, match="neither u.data"):
        retrieval.load_interactions(tmp_path)
    (tmp_path / "u.data").write_text("")
    with pytest.raises(ValueError, match="holds no interactions"):
        retrieval.load_interactions(tmp_path)


def test_movielens_name_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path))
    _ml100k(tmp_path / "movielens-100k" / "ml-100k")
    data = retrieval.load_interactions("movielens-100k", download=False)
    assert data.num_rows == 3 and "genre" in data.item_features


def test_movielens_name_from_recbole_without_importing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path / "empty-cache"))
    package = tmp_path / "site" / "recbole"
    example = package / "dataset_example" / "ml-100k"
    example.mkdir(parents=True)
    # Importing this package would fail: the resolver must not import it.
    (package / "__init__.py").write_text("raise ImportError('needs torch')\n")
    (example / "ml-100k.inter").write_text(INTER)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    data = retrieval.load_interactions("movielens-100k", download=False)
    assert data.num_rows == 3 and data.source.endswith("ml-100k.inter")


def test_movielens_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path))
    monkeypatch.setattr(retrieval, "_recbole_ml100k", lambda: None)
    with pytest.raises(FileNotFoundError) as err:
        retrieval.load_interactions("movielens-100k", download=False)
    text = str(err.value)
    assert retrieval.MOVIELENS_100K.url in text
    assert "pip install --no-deps recbole" in text
    assert str(tmp_path / "movielens-100k" / "ml-100k.zip") in text
    # The advice about JAXNS_CACHE names the layout the loader reads.
    advice = text[text.index("JAXNS_CACHE") :]
    assert "movielens-100k/ folder holds ml-100k.zip" in advice


def _no_network(monkeypatch):
    def urlopen(url, *args, **kwargs):
        pytest.fail(f"download=False opened {url}")

    monkeypatch.setattr(retrieval.datasets.urllib.request, "urlopen", urlopen)


@pytest.mark.parametrize("with_recbole", [False, True])
def test_movielens_offline_ignores_a_corrupt_cached_zip(
    tmp_path, monkeypatch, with_recbole
):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path))
    _no_network(monkeypatch)
    archive = tmp_path / "movielens-100k" / "ml-100k.zip"
    archive.parent.mkdir()
    archive.write_bytes(b"PK\x03\x04 truncated partial download")
    inter = tmp_path / "recbole" / "ml-100k.inter"
    inter.parent.mkdir()
    inter.write_text(INTER)
    monkeypatch.setattr(
        retrieval, "_recbole_ml100k", lambda: inter if with_recbole else None
    )
    with pytest.warns(RuntimeWarning, match="corrupt .*ignoring it"):
        if with_recbole:
            data = retrieval.load_interactions("movielens-100k", download=False)
            assert data.num_rows == 3 and data.source == str(inter)
        else:
            with pytest.raises(FileNotFoundError, match="pip install --no-deps"):
                retrieval.load_interactions("movielens-100k", download=False)
    # Kept as it was: download=False neither deletes nor replaces it.
    assert archive.read_bytes() == b"PK\x03\x04 truncated partial download"


@pytest.mark.parametrize("download", [False, True])
def test_movielens_verified_cached_zip_is_read_without_network(
    tmp_path, monkeypatch, download
):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path))
    _no_network(monkeypatch)
    monkeypatch.setattr(retrieval, "_recbole_ml100k", lambda: pytest.fail("recbole"))
    source = _write_source(tmp_path / "src", "zip", ())
    archive = tmp_path / "movielens-100k" / "ml-100k.zip"
    archive.parent.mkdir()
    archive.write_bytes(source.read_bytes())
    pinned = retrieval.datasets.RemoteFile(
        url="https://example.invalid/ml-100k.zip",
        filename="ml-100k.zip",
        algorithm="sha256",
        digest=hashlib.sha256(archive.read_bytes()).hexdigest(),
        size=archive.stat().st_size,
    )
    monkeypatch.setattr(retrieval, "MOVIELENS_100K", pinned)
    data = retrieval.load_interactions("movielens-100k", download=download)
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 1, 2]


def test_corrupt_cached_zip_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNS_CACHE", str(tmp_path))
    cache = tmp_path / "movielens-100k"
    cache.mkdir()
    (cache / "ml-100k.zip").write_bytes(b"not the archive")
    monkeypatch.setattr(
        retrieval.datasets.urllib.request,
        "urlopen",
        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")),
    )
    with pytest.warns(RuntimeWarning, match="corrupt"):
        with pytest.raises(OSError, match="could not download") as err:
            retrieval.load_interactions("movielens-100k")
    assert not (cache / "ml-100k.zip").exists()
    # The reason once, then how to get the data: no nested repeat of the URL.
    text = str(err.value)
    assert text.count(retrieval.MOVIELENS_100K.url) == 2  # failed, and advice
    assert "(offline)" in text and "download: could not" not in text


# ---------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------


def _data(users, items=None, timestamps=None) -> retrieval.Interactions:
    users = np.asarray(users, np.int32)
    items = np.arange(users.size, dtype=np.int32) if items is None else items
    items = np.asarray(items, np.int32)
    return retrieval.Interactions(
        users=users,
        items=items,
        ratings=None,
        timestamps=None if timestamps is None else np.asarray(timestamps, float),
        user_to_id={str(u): u for u in range(int(users.max()) + 1)},
        item_to_id={str(i): i for i in range(int(items.max()) + 1)},
        user_features={},
        item_features={},
        source="test",
    )


def _recbole_counts(n: int, ratios=(0.8, 0.1, 0.1)) -> list[int]:
    """RecBole's per-group counts, written out from its documented rules."""
    valid, test = int(ratios[1] * n), int(ratios[2] * n)
    train = n - valid - test
    if train > 1 and 0 < ratios[2] * n < 1:
        test, train = test + 1, train - 1
    if train > 1 and 0 < ratios[1] * n < 1:
        valid, train = valid + 1, train - 1
    return [train, valid, test]


@pytest.mark.parametrize("seed", [0, 1])
def test_split_random_follows_recbole_rules(seed):
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 3, 5, 9, 10, 11, 19, 20, 37]
    users = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    data = _data(users)
    key = jax.random.key(seed)
    split = retrieval.split_random(key, data)
    # Brute force: shuffle once, walk each user's rows in shuffled order.
    order = np.asarray(jax.random.permutation(key, users.size))
    seen: dict[int, list[int]] = {}
    for row in order.tolist():
        seen.setdefault(int(users[row]), []).append(row)
    expected = np.empty(users.size, np.int8)
    for rows in seen.values():
        train, valid, _ = _recbole_counts(len(rows))
        for j, row in enumerate(rows):
            expected[row] = 0 if j < train else 1 if j < train + valid else 2
    np.testing.assert_array_equal(split.codes, expected)
    assert split.codes.dtype == np.int8
    for u, size in enumerate(sizes):
        got = np.bincount(split.codes[users == u], minlength=3).tolist()
        assert got == _recbole_counts(size), (size, got)
    assert _recbole_counts(2) == [1, 0, 1] and _recbole_counts(5) == [3, 1, 1]


def test_split_random_other_ratios_and_rows():
    data = _data(np.zeros(10, np.int32))
    split = retrieval.split_random(jax.random.key(3), data, ratios=(2, 1, 1))
    assert split.sizes == (6, 2, 2)
    assert sorted(
        np.r_[split.rows("train"), split.rows("valid"), split.rows("test")]
    ) == list(range(10))


def test_split_leave_one_out():
    # user 0: 4 rows (times 5, 1, 9, 3; a tie below), user 1: two rows, user 2: one
    data = _data([0, 0, 1, 0, 2, 1, 0], timestamps=[5.0, 1.0, 7.0, 9.0, 2.0, 7.0, 5.0])
    split = retrieval.split_leave_one_out(data)
    # user 0 by time (ties keep file order): rows 1, 0, 6, 3 -> valid row 6, test 3
    # user 1: rows 2, 5 (tie, file order) -> train 2, test 5; user 2: train
    assert split.codes.tolist() == [0, 0, 0, 2, 0, 2, 1]


def test_split_temporal():
    data = _data(np.arange(20) % 3, timestamps=np.r_[np.arange(10, 20), np.arange(10)])
    split = retrieval.split_temporal(data)
    # by time: rows 10..19 (t 0..9), then rows 0..9 (t 10..19); int(0.1 * 20) = 2
    # rows each for valid and test, the latest to test
    expected = np.zeros(20, np.int8)
    expected[[6, 7]] = 1
    expected[[8, 9]] = 2
    np.testing.assert_array_equal(split.codes, expected)


def test_split_without_timestamps():
    with pytest.raises(ValueError, match="has no timestamps"):
        retrieval.split_leave_one_out(_data([0, 1]))


def test_split_from_codes_and_file(tmp_path):
    data = _data([0, 1, 0])
    assert retrieval.split_from_codes(data, np.array([0, 1, 2])).sizes == (1, 1, 1)
    path = tmp_path / "s.txt"
    path.write_text("0, 2\n1\n")
    assert retrieval.load_split(path, data).codes.tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("codes", "error", "message"),
    [
        ([0, 1], ValueError, "one entry per interaction row"),
        ([0, 1, 3], ValueError, "row 2 has 3"),
        ([0.0, 1.0, 2.0], TypeError, "must be integers"),
    ],
)
def test_split_from_codes_rejects(codes, error, message):
    with pytest.raises(error, match=message):
        retrieval.split_from_codes(_data([0, 1, 0]), np.array(codes))


def test_load_split_expands_a_tilde(tmp_path, monkeypatch):
    """A path "~/s.txt" is read from the home, as load_interactions reads one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "s.txt").write_text("0\n2\n1\n")
    split = retrieval.load_split("~/s.txt", _data([0, 1, 0]))
    assert split.codes.tolist() == [0, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [("0\n1\n", "holds 2 codes, but test has 3"), ("0\n1\nx\n", "line 3: 'x'")],
)
def test_load_split_rejects(tmp_path, text, message):
    path = tmp_path / "s.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        retrieval.load_split(path, _data([0, 1, 0]))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda d: retrieval.split_random(0, d), TypeError, "typed key"),
        (lambda d: retrieval.split_random(jax.random.key(0), "x"), TypeError, "data"),
        (
            lambda d: retrieval.split_random(jax.random.key(0), d, ratios=(0, 1, 1)),
            ValueError,
            "train",
        ),
        (
            lambda d: retrieval.split_temporal(d, ratios=(1, -1, 1)),
            ValueError,
            ">= 0",
        ),
        (
            lambda d: retrieval.Split(np.zeros(3, np.int8)).rows("dev"),
            ValueError,
            "part",
        ),
    ],
)
def test_split_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(_data([0, 1, 0], timestamps=[1, 2, 3]))


def _parts_problem():
    users = [0, 1, 0, 2, 1, 2, 0]
    items = [3, 0, 1, 3, 2, 2, 3]
    codes = [0, 2, 2, 1, 0, 2, 1]
    data = _data(users, items)
    return data, retrieval.split_from_codes(data, codes), users, items, codes


@pytest.mark.parametrize(
    "parts", ["test", ("test",), ["valid", "test"], "valid", ("train", "valid")]
)
def test_parts_one_name_or_several(parts):
    data, split, users, items, codes = _parts_problem()
    names = (parts,) if isinstance(parts, str) else parts
    keep = [c in [retrieval.PARTS.index(p) for p in names] for c in codes]
    # Independent reference: Python counting and sets over the kept rows.
    counts = [0] * data.num_items
    sets = [set() for _ in range(data.num_users)]
    for u, i, k in zip(users, items, keep, strict=True):
        if k:
            counts[i] += 1
            sets[u].add(i)
    assert retrieval.item_counts(data, split, parts=parts).tolist() == counts
    known = retrieval.user_items(data, split, parts=parts)
    offsets, flat = known.offsets.tolist(), known.items.tolist()
    got = [flat[offsets[u] : offsets[u + 1]] for u in range(data.num_users)]
    assert got == [sorted(x) for x in sets]


@pytest.mark.parametrize(
    ("parts", "error", "message"),
    [
        ("tset", ValueError, "parts must be one of .*got 'tset'"),
        ("", ValueError, "parts must be one of"),
        (("test", "dev"), ValueError, "got 'dev'"),
        (3, TypeError, "parts must be a sequence of str, got int 3"),
        (("test", 1), TypeError, "parts\\[1\\] must be a str"),
        (b"test", TypeError, "parts must be a sequence of str"),
    ],
)
@pytest.mark.parametrize("function", [retrieval.item_counts, retrieval.user_items])
def test_parts_bad_values(function, parts, error, message):
    data, split, *_ = _parts_problem()
    with pytest.raises(error, match=message):
        function(data, split, parts=parts)


# ---------------------------------------------------------------------------
# RecBole's negative sampler
# ---------------------------------------------------------------------------


def test_negatives_enumerate_the_complement():
    """Every r in [0, I - m) maps to a distinct item outside the user's set:
    the same distribution as RecBole's redraw (uniform over the complement)."""
    num_items = 13
    known_sets = [[0, 1, 2], [12], [3, 5, 7, 8, 9], [], list(range(1, 13))]
    users = np.concatenate([[u] * len(s) for u, s in enumerate(known_sets)])
    items = np.concatenate([s for s in known_sets])
    data = _data(users.astype(np.int32), items.astype(np.int32))
    data = retrieval.Interactions(
        **{**data.__dict__, "item_to_id": {str(i): i for i in range(num_items)}}
    )
    known = retrieval.user_items(data)
    for u, excluded in enumerate(known_sets):
        free = num_items - len(excluded)
        r = jnp.arange(free, dtype=jnp.int32)
        lo, _ = known._search(known.gaps, jnp.full_like(r, u), r, strict=False)
        mapped = np.asarray(r + (lo - known.offsets[u]))
        complement = [i for i in range(num_items) if i not in excluded]
        assert mapped.tolist() == complement
        # RecBole's redraw: P(j) = sum_t (m/I)^t / I = 1 / (I - m) for j outside
        m = len(excluded)
        redraw = sum((m / num_items) ** t for t in range(2000)) / num_items
        assert math.isclose(redraw, 1.0 / free, rel_tol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_negatives_chi_squared(seed):
    num_items = 11
    data = _data(np.array([0, 0, 0, 1], np.int32), np.array([2, 3, 9, 10], np.int32))
    known = retrieval.user_items(data)
    users = np.array([0] * 50_000 + [1] * 50_000, np.int32)
    neg = np.asarray(retrieval.sample_negatives(jax.random.key(seed), known, users, 2))
    assert neg.shape == (100_000, 2) and neg.dtype == np.int32
    for u, excluded in [(0, [2, 3, 9]), (1, [10])]:
        draws = neg[users == u].ravel()
        assert not np.isin(draws, excluded).any()
        counts = np.bincount(draws, minlength=num_items)
        counts = np.delete(counts, excluded)
        assert stats.chisquare(counts).pvalue > 1e-3
    # contains() agrees with the sets
    assert np.asarray(
        known.contains(np.array([0, 0, 1]), np.array([9, 4, 10]))
    ).tolist() == [
        True,
        False,
        True,
    ]


def test_negatives_jit_and_bad_inputs():
    data = _data(np.array([0, 1], np.int32), np.array([0, 1], np.int32))
    known = retrieval.user_items(data)
    users = np.array([0, 1, 1], np.int32)
    f = jax.jit(retrieval.sample_negatives, static_argnums=3)
    key = jax.random.key(4)
    np.testing.assert_array_equal(
        f(key, known, users, 3), retrieval.sample_negatives(key, known, users, 3)
    )
    with pytest.raises(ValueError, match="Use jax.vmap"):
        retrieval.sample_negatives(jax.random.split(key, 2), known, users)
    with pytest.raises(TypeError, match="UserItems"):
        retrieval.sample_negatives(key, "x", users)
    with pytest.raises(ValueError, match="num_negatives must be >= 1"):
        retrieval.sample_negatives(key, known, users, 0)
    with pytest.raises(TypeError, match="integer"):
        retrieval.sample_negatives(key, known, users.astype(float))


@pytest.mark.parametrize(
    "user_dtype, item_dtype, x64",
    [
        (np.int8, np.int8, False),
        (np.uint8, np.int16, False),
        (np.int32, np.uint8, False),
        (np.int64, np.int64, True),
        (np.int32, np.int64, True),
    ],
)
def test_contains_takes_ids_of_any_integer_dtype(user_dtype, item_dtype, x64):
    """Brute force over every (user, item): the answer does not depend on the
    ids' dtype (under strict promotion int8 or int64 ids met the int32 rows)."""
    sets = [[0, 3, 4], [], [1, 2, 3, 4, 5], [5]]
    users = np.concatenate([[u] * len(s) for u, s in enumerate(sets)])
    data = _data(users, np.concatenate(sets))
    known = retrieval.user_items(data)
    u, i = np.meshgrid(np.arange(len(sets)), np.arange(7), indexing="ij")
    expected = [[item in s for item in range(7)] for s in sets]
    with jax.enable_x64(x64):
        got = known.contains(u.astype(user_dtype), i.astype(item_dtype))
        jitted = jax.jit(known.contains)(u.astype(user_dtype), i.astype(item_dtype))
    assert np.asarray(got).tolist() == expected
    assert np.asarray(jitted).tolist() == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_degree_and_contains_of_the_last_user_of_a_small_dtype(dtype):
    """The largest id of uint8 (255) or int8 (127): ``users + 1`` wrapped
    (degree -510, known items not found) or overflowed."""
    num_users = int(np.iinfo(dtype).max) + 1
    sets = [[u % 4] for u in range(num_users - 1)] + [[0, 1, 2]]
    users = np.concatenate([[u] * len(s) for u, s in enumerate(sets)])
    known = retrieval.user_items(_data(users, np.concatenate(sets)))
    ids = np.arange(num_users - 3, num_users)
    degree = [len(sets[u]) for u in ids]
    assert np.asarray(known.degree(ids.astype(dtype))).tolist() == degree
    u, i = np.meshgrid(ids, np.arange(4), indexing="ij")
    got = known.contains(u.astype(dtype), i.astype(dtype))
    assert np.asarray(got).tolist() == [[i in sets[u] for i in range(4)] for u in ids]


# ---------------------------------------------------------------------------
# metrics: brute-force float64 NumPy evaluator
# ---------------------------------------------------------------------------


def _reference(scores, relevant, exclude, ks):
    """RecBole's metrics, one user at a time, in float64."""
    out = {f"{m}@{k}": [] for m in retrieval.METRICS for k in ks}
    for s, rel, exc in zip(scores, relevant, exclude, strict=True):
        n = int(rel.sum())
        if n == 0:
            continue
        s = np.where(exc, -np.inf, s.astype(np.float64))
        ranking = np.argsort(-s, kind="stable")
        for k in ks:
            top = ranking[:k]
            hits = [bool(rel[i] and not exc[i]) for i in top]
            h = sum(hits)
            first = next((j + 1 for j, x in enumerate(hits) if x), None)
            dcg = sum(1 / math.log2(j + 2) for j, x in enumerate(hits) if x)
            idcg = sum(1 / math.log2(j + 2) for j in range(min(n, k)))
            out[f"recall@{k}"].append(h / n)
            out[f"precision@{k}"].append(h / k)
            out[f"hit@{k}"].append(float(h > 0))
            out[f"mrr@{k}"].append(0.0 if first is None else 1 / first)
            out[f"ndcg@{k}"].append(dcg / idcg)
    return {name: float(np.mean(v)) for name, v in out.items()}


def _problem(seed, users=40, items=30):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(users, items)).astype(np.float32)
    # 0 to 25 relevant items per user: fewer than k for many, none for some
    counts = rng.integers(0, 26, size=users)
    relevant = np.zeros((users, items), bool)
    for u, c in enumerate(counts):
        relevant[u, rng.choice(items, c, replace=False)] = True
    exclude = (rng.random((users, items)) < 0.3) & ~relevant
    exclude[0, :] = ~relevant[0]  # a user with fewer rankable items than k
    return scores, relevant, exclude


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_exclude", [True, False])
def test_topk_metrics_match_bruteforce(seed, with_exclude):
    scores, relevant, exclude = _problem(seed)
    if not with_exclude:
        exclude = np.zeros_like(relevant)
    ks = (1, 5, 10, 20)
    got = retrieval.topk_metrics(
        scores, relevant, exclude=exclude if with_exclude else None, ks=ks
    )
    want = _reference(scores, relevant, exclude, ks)
    assert list(got) == list(want)
    for name, value in got.items():
        assert value.dtype == jnp.float32
        assert_close(value, want[name], loose=True, err_msg=name)
    jitted = jax.jit(retrieval.topk_metrics, static_argnames="ks")(
        scores, relevant, exclude=exclude if with_exclude else None, ks=ks
    )
    for name in got:
        assert_close(jitted[name], got[name], loose=True)


def test_topk_metrics_relevant_but_excluded_counts_but_never_hits():
    scores = np.array([[3.0, 2.0, 1.0]], np.float32)
    relevant = np.array([[True, False, True]])
    exclude = np.array([[True, False, False]])
    m = retrieval.topk_metrics(scores, relevant, exclude=exclude, ks=(2,))
    assert_close(m["recall@2"], 0.5)  # n = 2, item 2 is a hit at rank 2
    assert_close(m["mrr@2"], 0.5)


def test_topk_metrics_of_nan_scores_are_nan_not_the_ties_order():
    """A diverged model's NaN scores: top_k ranks NaN first (all-NaN rows in
    id order, recall 1.0 when the first ids are relevant); the metrics are
    NaN instead. A NaN at an excluded item or in a user without relevant
    items changes nothing."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(6, 8)).astype(np.float32)
    relevant = rng.random((6, 8)) < 0.3
    relevant[:, :2] = True  # the first ids: what the ties' order would hit
    relevant[5] = False
    exclude = (rng.random((6, 8)) < 0.3) & ~relevant
    ks = (2, 5)
    want = _reference(scores, relevant, exclude, ks)
    diverged = scores.copy()
    diverged[1, 4] = np.nan
    got = retrieval.topk_metrics(diverged, relevant, exclude=exclude, ks=ks)
    assert all(np.isnan(float(v)) for v in got.values())
    harmless = scores.copy()
    harmless[np.nonzero(exclude)] = np.nan
    harmless[5] = np.nan
    got = retrieval.topk_metrics(harmless, relevant, exclude=exclude, ks=ks)
    for name, value in got.items():
        assert_close(value, want[name], loose=True, err_msg=name)


@pytest.mark.parametrize("batch_size", [None, 2])
def test_evaluate_ranking_of_nan_embeddings_is_nan(batch_size):
    """An evaluated user's NaN vector gives NaN metrics (its ranking was the
    ties' id order); a NaN row of a user who is not evaluated (padding copies
    row 0) changes nothing."""
    users = np.array([1, 1, 2, 2, 3, 3], np.int32)
    items = np.array([0, 1, 0, 1, 2, 0], np.int32)
    data = _data(users, items)
    split = retrieval.split_from_codes(data, [2, 0, 2, 0, 2, 0])
    task = retrieval.ranking_task(data, split, "test")
    rng = np.random.default_rng(0)
    ue = rng.normal(size=(4, 2)).astype(np.float32)
    ie = rng.normal(size=(3, 2)).astype(np.float32)
    rel = np.zeros((4, 3), bool)
    hist = np.zeros((4, 3), bool)
    for u, i, code in zip(users, items, split.codes, strict=True):
        (rel if code == 2 else hist)[u, i] = True
    want = _reference(ue @ ie.T, rel, hist & ~rel, (1, 2))
    ue[0] = np.nan  # user 0 has no test rows
    got = retrieval.evaluate_ranking(task, ue, ie, ks=(1, 2), batch_size=batch_size)
    for name, value in got.items():
        assert_close(value, want[name], loose=True, err_msg=name)
    ue[2] = np.nan
    got = retrieval.evaluate_ranking(task, ue, ie, ks=(1, 2), batch_size=batch_size)
    assert all(np.isnan(float(v)) for v in got.values())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scores": np.zeros((2, 3), np.int32)}, TypeError, "floating-point"),
        ({"relevant": np.zeros((2, 3), np.int32)}, TypeError, "boolean mask"),
        ({"relevant": np.zeros((2, 4), bool)}, ValueError, "shape"),
        ({"exclude": np.zeros((3, 3), bool)}, ValueError, "shape"),
        ({"ks": (4,)}, ValueError, "<= the number of items 3"),
        ({"ks": (0,)}, ValueError, ">= 1"),
        ({"ks": (1.5,)}, TypeError, "int"),
        ({"scores": np.zeros(3, np.float32)}, ValueError, "2-D"),
    ],
)
def test_topk_metrics_bad_inputs(kwargs, error, message):
    args = {
        "scores": np.zeros((2, 3), np.float32),
        "relevant": np.zeros((2, 3), bool),
        "ks": (1,),
    }
    args.update(kwargs)
    with pytest.raises(error, match=message):
        retrieval.topk_metrics(
            args["scores"], args["relevant"], exclude=args.get("exclude"), ks=args["ks"]
        )


@pytest.mark.parametrize("batch_size", [None, 7, 64])
def test_evaluate_ranking_is_recbole_protocol(batch_size):
    rng = np.random.default_rng(5)
    num_users, num_items, dim = 25, 40, 6
    users = rng.integers(0, num_users, 600).astype(np.int32)
    items = rng.integers(0, num_items, 600).astype(np.int32)
    data = _data(users, items)
    data = retrieval.Interactions(
        **{
            **data.__dict__,
            "user_to_id": {str(u): u for u in range(num_users)},
            "item_to_id": {str(i): i for i in range(num_items)},
        }
    )
    split = retrieval.split_random(jax.random.key(1), data)
    ue = rng.normal(size=(num_users, dim)).astype(np.float32)
    ie = rng.normal(size=(num_items, dim)).astype(np.float32)
    scores = ue @ ie.T
    for part, earlier in (("valid", [0]), ("test", [0, 1])):
        task = retrieval.ranking_task(data, split, part)
        got = jax.jit(retrieval.evaluate_ranking, static_argnames=("ks", "batch_size"))(
            task, ue, ie, ks=(5, 10), batch_size=batch_size
        )
        # RecBole's protocol written out: users with rows in the part; history =
        # earlier parts' items minus the positives
        rel = np.zeros((num_users, num_items), bool)
        hist = np.zeros((num_users, num_items), bool)
        for row, code in enumerate(split.codes):
            if code == retrieval.PARTS.index(part):
                rel[users[row], items[row]] = True
            elif code in earlier:
                hist[users[row], items[row]] = True
        hist &= ~rel
        want = _reference(scores, rel, hist, (5, 10))
        for name, value in got.items():
            assert_close(value, want[name], loose=True, err_msg=f"{part} {name}")
        assert task.num_users == int(rel.any(1).sum())


def test_ranking_task_bad_inputs():
    data = _data([0, 1, 0])
    split = retrieval.split_from_codes(data, [0, 0, 1])
    with pytest.raises(ValueError, match="test part of the split has no rows"):
        retrieval.ranking_task(data, split, "test")
    with pytest.raises(ValueError, match="part must be one of"):
        retrieval.ranking_task(data, split, "train")
    task = retrieval.ranking_task(data, split, "valid")
    with pytest.raises(ValueError, match="item_embeddings has 2 rows"):
        retrieval.evaluate_ranking(task, jnp.ones((2, 3)), jnp.ones((2, 3)), ks=(1,))
    with pytest.raises(TypeError, match="RankingTask"):
        retrieval.evaluate_ranking("x", jnp.ones((2, 3)), jnp.ones((3, 3)))


def _three_user_task():
    # user u's only test item is item u; train rows give every user history.
    data = _data([0, 0, 1, 1, 2, 2], [0, 1, 2, 1, 0, 2])
    data = retrieval.Interactions(
        **{**data.__dict__, "user_to_id": {"a": 0, "b": 1, "c": 2, "d": 3}}
    )
    split = retrieval.split_from_codes(data, [2, 0, 0, 2, 0, 2])
    return data, retrieval.ranking_task(data, split)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (1, "user_embeddings has 1 rows, the task 4 users"),
        (3, "user_embeddings has 3 rows, the task 4 users"),  # user 3: no rows
        (5, "user_embeddings has 5 rows, the task 4 users"),
    ],
)
def test_evaluate_ranking_checks_user_rows(rows, message):
    data, task = _three_user_task()
    assert task.num_user_ids == data.num_users == 4 and task.num_users == 3
    with pytest.raises(ValueError, match=message):
        retrieval.evaluate_ranking(task, jnp.eye(rows, 3), jnp.eye(3), ks=(1,))
    # Under jit too: the count is a static field of the task.
    with pytest.raises(ValueError, match=message):
        jax.jit(retrieval.evaluate_ranking, static_argnames="ks")(
            task, jnp.eye(rows, 3), jnp.eye(3), ks=(1,)
        )


def test_evaluate_ranking_user_rows_give_each_user_their_own_scores():
    _, task = _three_user_task()
    # User u's row scores item u highest, and item u is u's test item.
    users = jnp.eye(4, 3)
    got = retrieval.evaluate_ranking(task, users, jnp.eye(3), ks=(1,))
    assert float(got["hit@1"]) == 1.0 and float(got["mrr@1"]) == 1.0
    # The RecBole protocol written out in NumPy for another user table.
    rng = np.random.default_rng(0)
    ue = rng.normal(size=(4, 3)).astype(np.float32)
    ie = rng.normal(size=(3, 3)).astype(np.float32)
    rel = np.zeros((4, 3), bool)
    hist = np.zeros((4, 3), bool)
    rel[[0, 1, 2], [0, 1, 2]] = True
    hist[[0, 1, 2], [1, 2, 0]] = True
    want = _reference((ue @ ie.T)[:3], rel[:3], hist[:3], (1, 2))
    got = retrieval.evaluate_ranking(task, ue, ie, ks=(1, 2))
    for name, value in got.items():
        assert_close(value, want[name], loose=True, err_msg=name)


def test_evaluate_ranking_hand_built_task_checks_user_ids():
    _, task = _three_user_task()
    hand = retrieval.RankingTask(
        users=task.users,
        relevant=task.relevant,
        exclude=task.exclude,
        num_items=task.num_items,
        part=task.part,
    )
    assert hand.num_user_ids is None
    with pytest.raises(ValueError, match="has 2 rows, but the task evaluates user 2"):
        retrieval.evaluate_ranking(hand, jnp.eye(2, 3), jnp.eye(3), ks=(1,))
    got = retrieval.evaluate_ranking(hand, jnp.eye(3), jnp.eye(3), ks=(1,))
    assert float(got["hit@1"]) == 1.0


# ---------------------------------------------------------------------------
# objectives: values and query gradients against float64 NumPy references
# ---------------------------------------------------------------------------


def _objective_problem(kind, **kwargs):
    rng = np.random.default_rng(11)
    num_users, num_items = 6, 9
    users = np.repeat(np.arange(num_users), 4).astype(np.int32)
    items = rng.integers(0, num_items, users.size).astype(np.int32)
    items[:num_items] = np.arange(num_items)  # every item trains
    data = _data(users, items)
    split = retrieval.split_from_codes(data, np.zeros(users.size, np.int8))
    obj = retrieval.objective(kind, data, split, **kwargs)
    return obj, data, split, rng


def _softmax_rows(z, live):
    """Per row: loss logsumexp(live z) - z[label], grad softmax - onehot."""
    z = np.where(live, z, -np.inf)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    lse = np.log(e.sum(1)) + m[:, 0]
    return lse, e / e.sum(1, keepdims=True)


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("bpr", {"num_negatives": 3}),
        ("sampled_softmax", {"num_negatives": 5, "temperature": 0.5}),
        ("sampled_softmax", {"num_negatives": 5, "sampler": "popularity"}),
        ("sampled_softmax", {"num_negatives": 5, "log_q_correction": False}),
        ("in_batch", {"temperature": 0.2}),
        ("in_batch", {"log_q_correction": False}),
        ("mixed", {"num_negatives": 4, "sampler": "popularity", "power": 0.5}),
    ],
)
def test_objective_value_and_gradient(kind, kwargs):
    obj, data, split, rng = _objective_problem(kind, **kwargs)
    batch, dim = 5, 3
    users = np.array([0, 1, 2, 3, 3], np.int32)
    items = np.array([1, 4, 4, 0, 7], np.int32)  # a duplicate positive id
    where = np.array([True, True, True, True, False])
    q = rng.normal(size=(batch, dim))
    table = rng.normal(size=(data.num_items, dim))
    neg_ids = np.asarray(obj.negatives(jax.random.key(2), users, items))
    p, n = table[items], table[neg_ids]

    def f(query):
        return obj.loss(
            query.astype(jnp.float32),
            p.astype(np.float32),
            n.astype(np.float32),
            items,
            neg_ids,
            where=where,
        )

    loss = f(jnp.asarray(q))
    grad = jax.grad(lambda x: f(x).sum())(jnp.asarray(q, jnp.float32))
    t = obj.temperature
    k = obj.num_negatives
    freq = np.bincount(data.items, minlength=data.num_items) / data.num_rows
    if kind == "bpr":
        assert neg_ids.shape == (batch, 3)
        known = retrieval.user_items(data, split)
        assert not np.asarray(known.contains(users[:, None], neg_ids)).any()
        diff = np.einsum("bd,bkd->bk", q, n) - (q * p).sum(1)[:, None]
        ref = np.logaddexp(0, diff).mean(1)
        sig = 1 / (1 + np.exp(-diff))
        ref_grad = np.einsum("bk,bkd->bd", sig, n - p[:, None, :]) / 3
    else:
        if kind == "sampled_softmax":
            assert neg_ids.shape == (k,)
            cands = np.concatenate(
                [p[:, None, :], np.broadcast_to(n, (batch, k, dim))], 1
            )
            ids = np.concatenate(
                [items[:, None], np.broadcast_to(neg_ids, (batch, k))], 1
            )
            z = np.einsum("bd,bcd->bc", q, cands) / t
            if obj.log_q_correction:
                prob = np.asarray(obj.sampler.probs(), np.float64)
                z = z - np.log(k * prob[ids])
            live = np.ones_like(z, bool)
            live[:, 1:] = ids[:, 1:] != items[:, None]
        else:
            cand_ids = items if kind == "in_batch" else np.r_[items, neg_ids]
            cand_emb = p if kind == "in_batch" else np.concatenate([p, n])
            z = q @ cand_emb.T / t
            if kind == "in_batch" and obj.log_q_correction:
                z = z - np.log(freq[cand_ids])[None, :]
            if kind == "mixed":
                prob = np.asarray(obj.sampler.probs(), np.float64)
                z = z - np.log(batch * freq[cand_ids] + k * prob[cand_ids])[None, :]
            live = cand_ids[None, :] != items[:, None]
            live[np.arange(batch), np.arange(batch)] = True
            live[:, :batch] &= where[None, :]  # padding is nobody's negative
            live[np.arange(batch), np.arange(batch)] = True
            # put the positive first for the shared reference below
            order = [
                np.r_[i, np.delete(np.arange(z.shape[1]), i)] for i in range(batch)
            ]
            z = np.stack([z[i, o] for i, o in enumerate(order)])
            live = np.stack([live[i, o] for i, o in enumerate(order)])
            cands = np.stack([cand_emb[o] for o in order])
        lse, soft = _softmax_rows(z, live)
        ref = lse - z[:, 0]
        onehot = np.zeros_like(soft)
        onehot[:, 0] = 1
        ref_grad = np.einsum("bc,bcd->bd", soft - onehot, cands) / t
    ref = np.where(where, ref, 0.0)
    ref_grad = np.where(where[:, None], ref_grad, 0.0)
    assert_close(loss, ref, rtol=1e-5, atol=1e-5)
    assert_close(grad, ref_grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["bpr", "sampled_softmax", "in_batch", "mixed"])
def test_objective_loss_returns_the_embeddings_dtype(kind):
    """bfloat16 embeddings: computed in float32 (the same numbers as float32
    embeddings of the same values), returned in bfloat16 like every loss."""
    obj, data, _, rng = _objective_problem(kind, num_negatives=3)
    users = np.array([0, 1, 2, 3], np.int32)
    items = np.array([1, 4, 4, 0], np.int32)
    neg_ids = obj.negatives(jax.random.key(3), users, items)
    table = jnp.asarray(rng.normal(size=(data.num_items, 3)), jnp.bfloat16)
    q = jnp.asarray(rng.normal(size=(4, 3)), jnp.bfloat16)
    args = (q, table[items], table[neg_ids])
    half = obj.loss(*args, items, neg_ids)
    full = obj.loss(*(x.astype(jnp.float32) for x in args), items, neg_ids)
    assert half.dtype == jnp.bfloat16 and full.dtype == jnp.float32
    assert_close(half, np.asarray(full, np.float64))


def test_objective_hard_negatives_keep_the_hardest():
    obj, data, _, rng = _objective_problem("sampled_softmax", num_negatives=6)
    hard, _, _, _ = _objective_problem(
        "sampled_softmax", num_negatives=6, num_hard_negatives=2
    )
    q = jnp.asarray(rng.normal(size=(2, 3)), jnp.float32)
    items = np.array([0, 1], np.int32)
    ids = np.arange(2, 8, dtype=np.int32)
    table = jnp.asarray(rng.normal(size=(data.num_items, 3)), jnp.float32)
    full = obj.loss(q, table[items], table[ids], items, ids)
    top = hard.loss(q, table[items], table[ids], items, ids)
    assert np.all(np.asarray(top) < np.asarray(full))  # fewer terms in the sum


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_objective_hard_negatives_with_log_q_in_float64(sampler):
    """x64 and float64 embeddings: the hardest corrected negatives, against a
    float64 NumPy reference (the logQ subtraction met float32 counts)."""
    obj, data, _, rng = _objective_problem(
        "sampled_softmax",
        num_negatives=6,
        num_hard_negatives=2,
        sampler=sampler,
        temperature=0.5,
    )
    q = rng.normal(size=(3, 4))
    table = rng.normal(size=(data.num_items, 4))
    items = np.array([0, 3, 5], np.int32)
    ids = np.array([3, 1, 2, 8, 6, 4], np.int32)  # 3 is row 1's positive
    with jax.enable_x64(True):
        loss = obj.loss(q, table[items], table[ids], items, ids)
    assert loss.dtype == jnp.float64
    log_e = np.log(6 * np.asarray(obj.sampler.probs(), np.float64))
    pos = (q * table[items]).sum(1) / 0.5 - log_e[items]
    neg = q @ table[ids].T / 0.5 - log_e[ids][None, :]
    ref = []
    for row in range(3):
        live = neg[row][ids != items[row]]
        hardest = np.sort(live)[-2:]
        ref.append(np.logaddexp.reduce(np.r_[pos[row], hardest]) - pos[row])
    # The samplers' log expected counts are float32 (1e-7 relative).
    assert_close(loss, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "warp"}, ValueError, "kind must be one of"),
        ({"sampler": "zipf"}, ValueError, "sampler must be one of"),
        ({"temperature": 0.0}, ValueError, "temperature must be finite and > 0"),
        ({"num_negatives": 0}, ValueError, "num_negatives must be >= 1"),
        ({"log_q_correction": 1}, TypeError, "bool"),
    ],
)
def test_objective_bad_arguments(kwargs, error, message):
    data = _data([0, 1], [0, 1])
    split = retrieval.split_from_codes(data, [0, 0])
    args = {"kind": "sampled_softmax", **kwargs}
    with pytest.raises(error, match=message):
        retrieval.objective(args.pop("kind"), data, split, **args)


def test_epoch_batches_cover_every_row_once():
    rows, valid = retrieval.epoch_batches(jax.random.key(0), 11, 4)
    assert rows.shape == (3, 4) and int(valid.sum()) == 11
    assert sorted(np.asarray(rows)[np.asarray(valid)].tolist()) == list(range(11))


def test_uniform_below_is_the_remainder_of_a_64_bit_draw():
    # The 32-bit arithmetic against Python's exact integers, on the same words.
    key = jax.random.key(5)
    n = np.array([1, 2, 3, 1000, 1682, 40961, 65535, 65536] * 125, np.int32)
    r = np.asarray(retrieval._uniform_below(key, jnp.asarray(n), 1 << 16))
    w = np.asarray(jax.random.bits(key, (2, n.size), jnp.uint32)).astype(object)
    expected = [(int(a) << 32 | int(b)) % int(m) for a, b, m in zip(*w, n, strict=True)]
    assert r.dtype == np.int32 and r.tolist() == expected


@pytest.mark.parametrize("n", [3, 7, 1000])
def test_uniform_below_chi_squared(n):
    r = retrieval._uniform_below(
        jax.random.key(n), jnp.full((200_000,), n, jnp.int32), 1 << 16
    )
    counts = np.bincount(np.asarray(r), minlength=n)
    assert counts.size == n
    assert stats.chisquare(counts).pvalue > 1e-3
