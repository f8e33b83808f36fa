"""Vector indexes: numpy baseline, Chroma on disk (and after reopening), Chroma as a server."""
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

from scene_graph.embeddings import embed
from scene_graph.vector_index import (
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
    index.upsert(ids, ["x"] * n, embeddings=rng.standard_normal((n, 8)).astype(np.float32))
    assert index.count() == n
    index.delete(ids[:-3])
    assert index.count() == 3


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
