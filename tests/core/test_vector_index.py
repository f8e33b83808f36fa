"""Vector indexes: numpy baseline, Chroma on disk (and after reopening) with its exact in-memory
mirror, Chroma as a server."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scene_graph import vector_index as vi
from scene_graph.embeddings import embed
from scene_graph.vector_index import (
    EXACT,
    HNSW,
    ChromaVectorIndex,
    NumpyVectorIndex,
    VectorIndexError,
    make_vector_index,
)

OBJECTS = [
    ("Apple|1", "Apple sliced in Fridge", "Kitchen"),
    ("Apple|2", "Apple on DiningTable", "Kitchen"),
    ("Knife|1", "Knife on CounterTop", "Kitchen"),
    ("Bread|1", "Bread on CounterTop", "Kitchen"),
    ("Mug|1", "Mug dirty in Sink", "Kitchen"),
    ("Mug|2", "Mug on CoffeeTable", "LivingRoom"),
    ("Television|1", "Television on on TVStand", "LivingRoom"),
    ("RemoteControl|1", "RemoteControl on Sofa", "LivingRoom"),
    ("Book|1", "Book open on Desk", "Bedroom"),
    ("Pillow|1", "Pillow on Bed", "Bedroom"),
    ("AlarmClock|1", "AlarmClock on SideTable", "Bedroom"),
    ("Towel|1", "Towel on Bathtub", "Bathroom"),
    ("SoapBar|1", "SoapBar on CounterTopBathroom", "Bathroom"),
    ("ToiletPaper|1", "ToiletPaper on Toilet", "Bathroom"),
]
IDS = [o[0] for o in OBJECTS]
TEXTS = [o[1] for o in OBJECTS]
META = [{"room": o[2], "type": o[0].split("|")[0]} for o in OBJECTS]
QUERIES = ["slice the apple", "watch the tv", "a towel after a bath", "a cup of coffee", "read a book in bed"]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return embed(TEXTS)


@pytest.fixture(scope="module")
def query_vectors() -> np.ndarray:
    return embed(QUERIES)


def _filled(index, vectors: np.ndarray):
    index.upsert(IDS, TEXTS, META, embeddings=vectors)
    return index


def _top_ids(index, query_vectors: np.ndarray, k: int = 5, where=None) -> list[list[str]]:
    return [[i for i, _ in index.query(q, k, where=where)] for q in query_vectors]


def test_numpy_index_text_query_and_updates(vectors: np.ndarray) -> None:
    index = _filled(NumpyVectorIndex(), vectors)
    assert index.count() == len(IDS)
    hits = index.query("something sharp to cut with", 3)
    assert hits[0][0] == "Knife|1"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.query("a mug", 2, where={"room": "LivingRoom"})[0][0] == "Mug|2"
    assert {i for i, _ in index.query("anything", 20, where={"room": "Bathroom", "type": "Towel"})} == {"Towel|1"}

    index.upsert(["Knife|1"], ["Pillow on Sofa"])  # same id: replaced, not added
    assert index.count() == len(IDS)
    assert index.query("something sharp to cut with", 1)[0][0] != "Knife|1"

    index.delete(["Apple|1", "no-such-id", "Pillow|1"])
    assert index.count() == len(IDS) - 2
    assert "Apple|1" not in {i for i, _ in index.query("apple", 20)}
    np.testing.assert_allclose(index.get_embeddings(["Towel|1", "Book|1"]), vectors[[11, 8]], atol=1e-6)
    with pytest.raises(VectorIndexError, match="Apple\\|1"):
        index.get_embeddings(["Apple|1"])


def test_chroma_matches_numpy_top_k(tmp_path: Path, vectors: np.ndarray, query_vectors: np.ndarray) -> None:
    chroma = _filled(ChromaVectorIndex(path=tmp_path / "db"), vectors)
    exact = _filled(NumpyVectorIndex(), vectors)
    assert _top_ids(chroma, query_vectors) == _top_ids(exact, query_vectors)
    for q in query_vectors:
        for (a, sa), (b, sb) in zip(chroma.query(q, 5), exact.query(q, 5)):
            assert a == b and sa == pytest.approx(sb, abs=1e-4)
    kitchen = {"room": "Kitchen", "type": "Mug"}
    assert _top_ids(chroma, query_vectors, 3, kitchen) == _top_ids(exact, query_vectors, 3, kitchen) == [["Mug|1"]] * 5
    assert chroma.query("slice the apple", 1)[0][0] == "Apple|1"
    np.testing.assert_allclose(chroma.get_embeddings(IDS[::-1]), vectors[::-1], atol=1e-6)
    chroma.delete(["Apple|1"])
    assert chroma.count() == len(IDS) - 1


def test_chroma_persists_across_reopening(
    tmp_path: Path, vectors: np.ndarray, query_vectors: np.ndarray, python: str, child_env: dict[str, str]
) -> None:
    folder = tmp_path / "db"
    _filled(ChromaVectorIndex(path=folder), vectors).delete(["Pillow|1"])
    # A fresh process, so nothing can come from Chroma's in-process client cache.
    reader = (
        "import json, sys, numpy as np\n"
        "from scene_graph.vector_index import make_vector_index\n"
        "index = make_vector_index('chroma', path=sys.argv[1])\n"
        "queries = np.array(json.loads(sys.stdin.read()), dtype=np.float32)\n"
        "print(json.dumps({'count': index.count(), 'top': [[i for i, _ in index.query(q, 5)] for q in queries]}))\n"
    )
    out = subprocess.run(
        [python, "-c", reader, str(folder)], input=json.dumps(query_vectors.tolist()),
        capture_output=True, text=True, env=child_env, timeout=120, check=True,
    )
    reopened = json.loads(out.stdout.strip().splitlines()[-1])
    exact = _filled(NumpyVectorIndex(), vectors)
    exact.delete(["Pillow|1"])
    assert reopened == {"count": len(IDS) - 1, "top": _top_ids(exact, query_vectors)}


def test_chroma_upsert_beyond_max_batch(tmp_path: Path) -> None:
    index = ChromaVectorIndex(path=tmp_path / "db")
    n = index.max_batch + 500  # more than one Chroma batch (5461 in chromadb 1.5)
    rng = np.random.default_rng(0)
    ids = [f"obj{i}" for i in range(n)]
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    index.upsert(ids, ["x"] * n, [{"even": i % 2 == 0} for i in range(n)], embeddings=vectors)
    assert index.count() == n
    reopened = ChromaVectorIndex(path=tmp_path / "db")  # the mirror is read back in pages
    assert reopened.count() == n
    np.testing.assert_allclose(reopened.get_embeddings(ids[-2:] + ids[:1]),
                               vectors[[-2, -1, 0]] / np.linalg.norm(vectors[[-2, -1, 0]], axis=1, keepdims=True),
                               atol=1e-6)
    assert {i for i, _ in reopened.query(vectors[1], 50, where={"even": False})} <= set(ids[1::2])
    index.delete(ids[:-3])
    assert index.count() == 3
    assert ChromaVectorIndex(path=tmp_path / "db").count() == 3


class _HnswSpy:
    """Wraps a Chroma collection's query (its HNSW search) and counts the calls."""

    def __init__(self, query) -> None:
        self.query, self.calls = query, 0

    def __call__(self, **kwargs):
        self.calls += 1
        return self.query(**kwargs)


def _spy_on_hnsw(index: ChromaVectorIndex, monkeypatch) -> _HnswSpy:
    spy = _HnswSpy(index._collection.query)
    monkeypatch.setattr(index._collection, "query", spy)
    return spy


def test_local_chroma_answers_from_its_exact_mirror_as_numpy_does(
    tmp_path: Path, vectors: np.ndarray, query_vectors: np.ndarray, monkeypatch
) -> None:
    chroma = _filled(ChromaVectorIndex(path=tmp_path / "db"), vectors)
    exact = _filled(NumpyVectorIndex(), vectors)
    hnsw = _spy_on_hnsw(chroma, monkeypatch)
    assert chroma.route() == (EXACT, None)
    for where in (None, {"room": "Kitchen"}, {"room": "Kitchen", "type": "Mug"}, {"room": "Attic"}):
        for q in list(query_vectors) + [3.0 * query_vectors[0]]:  # scores are cosines whatever the norm
            got, want = chroma.query(q, 4, where=where), exact.query(q, 4, where=where)
            assert [i for i, _ in got] == [i for i, _ in want]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    assert chroma.query("slice the apple", 1)[0][0] == "Apple|1"
    # Upserts and deletes keep the mirror in step with Chroma; reopening rebuilds it from disk.
    for index in (chroma, exact):
        index.upsert(["Knife|1", "Lamp|1"], ["Pillow on Sofa", "Lamp on Desk"],
                     [{"room": "LivingRoom", "type": "Pillow"}, {"room": "Bedroom", "type": "Lamp"}],
                     embeddings=embed(["Pillow on Sofa", "Lamp on Desk"]))
        index.delete(["Apple|1", "no-such-id"])
    reopened = ChromaVectorIndex(path=tmp_path / "db")
    hnsw_reopened = _spy_on_hnsw(reopened, monkeypatch)
    for index in (chroma, reopened):
        assert index.count() == exact.count() == len(IDS)
        assert _top_ids(index, query_vectors, 6) == _top_ids(exact, query_vectors, 6)
        assert _top_ids(index, query_vectors, 3, {"room": "LivingRoom"}) == \
            _top_ids(exact, query_vectors, 3, {"room": "LivingRoom"})
        np.testing.assert_allclose(index.get_embeddings(["Lamp|1", "Towel|1"]),
                                   exact.get_embeddings(["Lamp|1", "Towel|1"]), atol=1e-6)
    assert hnsw.calls == hnsw_reopened.calls == 0
    assert chroma._collection.count() == len(IDS)


def test_chroma_routes_large_searches_to_hnsw_and_few_candidates_to_the_mirror(
    tmp_path: Path, vectors: np.ndarray, query_vectors: np.ndarray, monkeypatch
) -> None:
    chroma = _filled(ChromaVectorIndex(path=tmp_path / "db", exact_below=3), vectors)
    exact = _filled(NumpyVectorIndex(), vectors)
    hnsw = _spy_on_hnsw(chroma, monkeypatch)
    assert chroma.route()[0] == HNSW
    assert _top_ids(chroma, query_vectors) == _top_ids(exact, query_vectors)
    assert hnsw.calls == len(query_vectors)
    kitchen = {"room": "Kitchen"}  # five candidates: more than exact_below
    assert chroma.route(kitchen)[0] == HNSW
    assert _top_ids(chroma, query_vectors, 3, kitchen) == _top_ids(exact, query_vectors, 3, kitchen)
    assert hnsw.calls == 2 * len(query_vectors)
    for few in ({"room": "LivingRoom"}, {"room": "Bathroom", "type": "Towel"}, {"room": "Attic"}):
        path, rows = chroma.route(few)
        assert path == EXACT and rows is not None and len(rows) <= 3
        assert _top_ids(chroma, query_vectors, 3, few) == _top_ids(exact, query_vectors, 3, few)
    assert hnsw.calls == 2 * len(query_vectors)
    assert chroma.route({"room": {"$ne": "Kitchen"}})[0] == HNSW  # operators are Chroma's to evaluate
    assert ChromaVectorIndex(path=tmp_path / "db", exact_below=0).route() == (HNSW, None)


def test_mirror_filters_like_chroma_bool_is_not_one(tmp_path: Path, monkeypatch) -> None:
    metadatas = [{"flag": True}, {"flag": 1}, {"flag": 1.0}, {"other": 1}, None]
    ids = ["bool", "int", "float", "other", "none"]
    expected = [(True, {"bool"}), (1, {"int", "float"}), (1.0, {"int", "float"})]  # not a dict: True == 1
    folder = tmp_path / "db"
    hnsw_only = ChromaVectorIndex(path=folder, exact_below=0)
    hnsw_only.upsert(ids, ["x"] * 5, metadatas, embeddings=np.eye(5, dtype=np.float32) + 0.1)
    mirrored = ChromaVectorIndex(path=folder)
    for value, want in expected:
        for index in (hnsw_only, mirrored):
            assert {i for i, _ in index.query(np.ones(5), 5, where={"flag": value})} == want


def test_exact_product_is_the_same_whole_or_in_one_thread_blocks() -> None:
    rng = np.random.default_rng(3)
    n, dim = 2 * vi.ONE_THREAD_ELEMENTS // 96 + 7, 96  # a bit over two one-thread blocks
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    ids = [f"o{i}" for i in range(n)]
    exact = NumpyVectorIndex()
    exact.upsert(ids, ids, embeddings=vectors)
    mirror = vi._ExactMirror()
    mirror.put(ids, vi._unit_rows(vectors), None)
    planner = mirror._planner
    queries = rng.standard_normal((10, dim)).astype(np.float32)
    for way in (vi.WHOLE, vi.BLOCKED):
        planner._choose = lambda way=way: way
        for q in queries:
            got, want = mirror.search(q, 10), exact.query(q, 10)
            assert [i for i, _ in got] == [i for i, _ in want]
            np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_product_planner_follows_the_faster_way_and_keeps_checking_the_other() -> None:
    planner = vi._ProductPlanner(window=5, explore=4)
    assert [planner._choose() for _ in range(1)] == [vi.WHOLE]  # nothing measured yet: try both
    planner._recent[vi.WHOLE].extend([2e-6, 3e-6, 2e-6])
    assert planner._choose() == vi.BLOCKED
    planner._recent[vi.BLOCKED].extend([1e-7, 1e-7, 5e-5])  # one outlier does not move the median
    planner._count = 0
    picks = [planner._choose() for _ in range(8)]
    assert picks == [vi.BLOCKED] * 3 + [vi.WHOLE] + [vi.BLOCKED] * 3 + [vi.WHOLE]
    planner._recent[vi.WHOLE].extend([5e-8] * 5)  # the machine went idle: whole is faster again
    assert planner._choose() == vi.WHOLE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_cli() -> str | None:
    beside_python = Path(sys.executable).with_name("chroma")
    return shutil.which("chroma") or (str(beside_python) if beside_python.exists() else None)


def test_chroma_server_answers_like_numpy(
    tmp_path: Path, vectors: np.ndarray, query_vectors: np.ndarray, child_env: dict[str, str]
) -> None:
    cli = _chroma_cli()
    if cli is None:
        pytest.skip("the `chroma` CLI (from the chromadb package) is not installed")
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [cli, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=child_env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                index = make_vector_index("chroma", host="127.0.0.1", port=port)
                break
            except VectorIndexError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma server did not come up: {(tmp_path / 'server.log').read_text()[-2000:]}")
                time.sleep(0.3)
        _filled(index, vectors)
        assert index.count() == len(IDS)
        exact = _filled(NumpyVectorIndex(), vectors)
        assert _top_ids(index, query_vectors) == _top_ids(exact, query_vectors)
        assert index.query("slice the apple", 1, where={"room": "Kitchen"})[0][0] == "Apple|1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_unreachable_server_fails_fast_naming_it() -> None:
    port = _free_port()
    with pytest.raises(VectorIndexError, match=f"127.0.0.1:{port}"):
        make_vector_index("chroma", host="127.0.0.1", port=port)


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(VectorIndexError, match="unknown vector index kind 'faiss'.*numpy, chroma"):
        make_vector_index("faiss")


def test_numpy_index_scores_each_distinct_vector_once_and_answers_as_a_scan_of_every_object() -> None:
    """Objects sharing a vector (the same document) share a row; top k, scores, filters, deletes
    and an object moving to another vector give what a product over every object's row gives."""
    rng = np.random.default_rng(2)
    base = rng.normal(size=(6, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ids = [f"o{n:03d}" for n in range(60)]
    which = rng.integers(0, len(base), len(ids))
    meta = [{"room": "kitchen" if n % 3 else "hall"} for n in range(len(ids))]
    index = NumpyVectorIndex()
    index.upsert(ids, [""] * len(ids), meta, embeddings=base[which])
    assert len(index._store) == len(base) and index.count() == len(ids)
    index.delete(ids[:5])
    index.upsert(ids[5:10], [""] * 5, meta[5:10], embeddings=base[(which[5:10] + 1) % len(base)])
    which[5:10] = (which[5:10] + 1) % len(base)
    live = ids[5:]
    rows = base[which[5:]]
    for query in rng.normal(size=(8, 16)).astype(np.float32):
        unit = query / np.linalg.norm(query)
        for where, k in ((None, 7), ({"room": "hall"}, 4), ({"room": "kitchen"}, 30), ({"room": "attic"}, 3)):
            scores = rows @ unit
            keep = [n for n, i in enumerate(live) if where is None or meta[ids.index(i)] == where]
            expected = sorted(((live[n], float(scores[n])) for n in keep), key=lambda p: -p[1])[:k]
            got = index.query(query, k, where=where)
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-6)
            assert {i for i, _ in got} <= {live[n] for n in keep} and len(got) == len(expected)
            cut = expected[-1][1] if expected else None  # below the ties at the cut, the same objects
            assert {i for i, s in got if s > cut + 1e-6} == {i for i, s in expected if s > cut + 1e-6}
    assert np.allclose(index.get_embeddings(ids[5:7]), base[which[5:7]])
    with pytest.raises(VectorIndexError):
        index.get_embeddings(ids[:1])
