"""Crash-safe snapshots: atomic saves, kill -9 survival, fallback past broken files, safe names."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from memory_fixtures import grow, grown

from scene_graph.graph import SceneGraph
from scene_graph.records import ObjectNode, OrientedBox
from scene_graph.store import InvalidName, MemoryStore, NoSnapshot, PeriodicSnapshot, _digest

HERE = Path(__file__).resolve().parent

CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from memory_fixtures import grow
from scene_graph.graph import SceneGraph
from scene_graph.store import MemoryStore
store = MemoryStore(sys.argv[1], keep=3)
graph = SceneGraph()
step = 0
while True:
    step += 1
    grow(graph, step)
    store.save(graph, "home", meta={"step": step})
    print(step, flush=True)
"""


def assert_same(a: SceneGraph, b: SceneGraph) -> None:
    assert a.snapshot() == b.snapshot()
    assert a.geometry().keys() == b.geometry().keys()
    for object_id, points in a.geometry().items():
        np.testing.assert_array_equal(points, b.geometry()[object_id])


def test_save_and_load_round_trip_with_embeddings(tmp_path: Path):
    store = MemoryStore(tmp_path)
    graph = grown(4)
    vectors = np.eye(4, 8, dtype=np.float32)
    store.save(graph, "home", embeddings=(["obj_0000", "obj_0001", "obj_0002", "obj_0003"], vectors),
               meta={"note": "x"})
    loaded = store.load("home")
    assert_same(loaded.graph, graph)
    assert loaded.meta == {"note": "x"}
    assert loaded.embeddings[0] == ("obj_0000", "obj_0001", "obj_0002", "obj_0003")
    np.testing.assert_array_equal(loaded.embeddings[1], vectors)
    assert store.names() == ["home"]


def test_keeps_only_the_last_n(tmp_path: Path):
    store = MemoryStore(tmp_path, keep=2)
    graph = SceneGraph()
    for step in range(1, 5):
        grow(graph, step, points_per_object=10)
        store.save(graph, "home")
    assert [p.name for p in store.snapshots("home")] == ["snap-00000004.json", "snap-00000003.json"]
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == [
        "snap-00000003.json", "snap-00000003.npz", "snap-00000004.json", "snap-00000004.npz"]


@pytest.mark.parametrize("victim", ["json", "npz"])
def test_truncated_snapshot_falls_back_to_previous(tmp_path: Path, victim: str, caplog):
    store = MemoryStore(tmp_path)
    graph = SceneGraph()
    grow(graph, 1)
    store.save(graph, "home")
    good = graph.snapshot()
    grow(graph, 2)
    newest = store.save(graph, "home")
    target = newest.with_suffix(f".{victim}")
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="scene_graph.store"):
        loaded = store.load("home")
    assert loaded.graph.snapshot() == good
    assert any(newest.name in r.getMessage() for r in caplog.records)


def test_no_usable_snapshot_raises(tmp_path: Path):
    store = MemoryStore(tmp_path)
    with pytest.raises(NoSnapshot):
        store.load("home")
    path = store.save(grown(1), "home")
    doc = json.loads(path.read_text())
    doc["schema_version"] = 999  # a graph schema this code does not read, with a manifest that verifies
    doc["manifest_sha256"] = _digest({k: v for k, v in doc.items() if k != "manifest_sha256"})
    path.write_text(json.dumps(doc))
    assert store.is_good(path)
    with pytest.raises(NoSnapshot):
        store.load("home")


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "a\\b", "", ".", "..", ".hidden", "x" * 65, "a..b"])
def test_names_are_confined_to_the_memory_folder(tmp_path: Path, name: str):
    store = MemoryStore(tmp_path / "mem")
    with pytest.raises(InvalidName, match="invalid memory name"):
        store.save(SceneGraph(), name)
    with pytest.raises(InvalidName):
        store.load(name)
    assert not (tmp_path / "x").exists() and not (tmp_path / "mem").exists()


def test_periodic_snapshot_saves_on_interval_when_changed(tmp_path: Path):
    now = [0.0]
    graph = SceneGraph()
    periodic = PeriodicSnapshot(MemoryStore(tmp_path), lambda: graph, interval=10.0, name="home",
                                clock=lambda: now[0])
    grow(graph, 1, points_per_object=5)
    assert periodic.tick() is not None
    grow(graph, 2, points_per_object=5)
    now[0] = 5.0
    assert periodic.tick() is None  # too soon
    now[0] = 11.0
    assert periodic.tick() is not None
    now[0] = 30.0
    assert periodic.tick() is None  # nothing changed
    assert MemoryStore(tmp_path).load("home").graph.sequence == graph.sequence


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.029])
def test_memory_survives_kill_9_mid_run(tmp_path: Path, python: str, child_env: dict, delay: float):
    child = subprocess.Popen([python, "-c", CHILD, str(tmp_path), str(HERE)], env=child_env,
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if int(line) >= 4:
                break
        time.sleep(delay)  # land the kill at different points of a save
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    loaded = MemoryStore(tmp_path, keep=3).load("home")
    step = loaded.meta["step"]
    assert step >= 4
    assert_same(loaded.graph, grown(step))


def test_crash_between_geometry_and_commit_keeps_previous(tmp_path: Path, monkeypatch):
    store = MemoryStore(tmp_path)
    graph = grown(1)
    store.save(graph, "home")
    good = graph.snapshot()
    grow(graph, 2)
    real_replace = os.replace

    def dies_on_json(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("simulated power loss")
        real_replace(src, dst)

    monkeypatch.setattr("scene_graph.store.os.replace", dies_on_json)
    with pytest.raises(OSError):
        store.save(graph, "home")
    monkeypatch.undo()
    assert store.load("home").graph.snapshot() == good
    assert not [p for p in (tmp_path / "home").iterdir() if p.name.endswith(".tmp")]
    store.save(graph, "home")  # the next save commits and prunes the orphaned geometry file
    assert store.load("home").graph.snapshot() == graph.snapshot()
    names = sorted(p.name for p in (tmp_path / "home").iterdir())
    assert all(n.replace(".npz", ".json") in names for n in names if n.endswith(".npz"))


# ------------------------------------------------------------------ issue 14: snapshots are never lost
def _saved(tmp_path: Path, count: int, keep: int = 5) -> tuple[MemoryStore, SceneGraph, list[Path]]:
    store, graph, paths = MemoryStore(tmp_path, keep=keep), SceneGraph(), []
    for step in range(1, count + 1):
        grow(graph, step, points_per_object=10)
        paths.append(store.save(graph, "home"))
    return store, graph, paths


def test_when_every_json_is_corrupt_nothing_is_deleted(tmp_path: Path):
    store, _, paths = _saved(tmp_path, 5)
    for path in paths:
        path.write_bytes(path.read_bytes()[:100])
    before = sorted(p.name for p in (tmp_path / "home").iterdir())
    with pytest.raises(NoSnapshot):
        store.load("home")
    store._prune("home")
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == before
    # The node then starts empty and saves: the damaged snapshots, npz halves included, all stay.
    for _ in range(6):
        store.save(SceneGraph(), "home")
    left = {p.name for p in (tmp_path / "home").iterdir()}
    assert {p.name for p in paths} | {p.with_suffix(".npz").name for p in paths} <= left


def test_a_tampered_v2_graph_does_not_verify(tmp_path: Path):
    store, graph, paths = _saved(tmp_path, 2)
    paths.append(store.save(graph, "home", version=2))
    doc = json.loads(paths[-1].read_text())
    doc["graph"]["objects"][0]["label"] = "Knife"
    paths[-1].write_text(json.dumps(doc))
    assert not store.is_good(paths[-1]) and store.is_good(paths[1])
    assert store.load("home").path == paths[1]


def test_a_v3_snapshot_with_a_changed_byte_or_manifest_does_not_verify(tmp_path: Path, caplog):
    store, graph, paths = _saved(tmp_path, 3)
    arrays = paths[-1].with_suffix(".npz")
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped in the middle of the record table or points
    arrays.write_bytes(bytes(data))
    doc = json.loads(paths[-2].read_text())
    doc["layout"]["rooms"][0]["kind"] = "Garage"  # the manifest changed, its checksum not
    paths[-2].write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="scene_graph.store"):
        assert store.load("home").path == paths[0]
    assert not store.is_good(paths[-1]) and not store.is_good(paths[-2])
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "array file checksum mismatch" in messages and "manifest checksum mismatch" in messages


def test_a_home_with_relations_round_trips_through_the_binary_table(tmp_path: Path):
    from benchmarks.synthetic import synthetic_home
    graph = synthetic_home(150)[0]
    assert len(graph.relations()) > 50
    store = MemoryStore(tmp_path)
    store.save(graph, "home")
    loaded = store.load("home").graph
    assert_same(loaded, graph)
    assert [loaded.parent(o.id) for o in graph.objects()] == [graph.parent(o.id) for o in graph.objects()]
    assert [loaded.children(a.id) for a in graph.areas()] == [graph.children(a.id) for a in graph.areas()]


def test_version_2_snapshots_still_load(tmp_path: Path):
    store = MemoryStore(tmp_path)
    graph = grown(5)
    vectors = np.arange(20, dtype=np.float32).reshape(5, 4)
    ids = [o.id for o in graph.objects()]
    path = store.save(graph, "home", embeddings=(ids, vectors, ["doc"] * 5), version=2)
    assert json.loads(path.read_text())["store_version"] == 2 and "graph" in json.loads(path.read_text())
    loaded = store.load("home")
    assert_same(loaded.graph, graph)
    assert loaded.embeddings[0] == tuple(ids) and loaded.embeddings[2] == ("doc",) * 5
    np.testing.assert_array_equal(loaded.embeddings[1], vectors)
    grow(graph, 6)
    newer = store.save(graph, "home")  # a folder of v2 snapshots carries on in version 3
    assert json.loads(newer.read_text())["store_version"] == 3 and store.load("home").path == newer


def test_the_binary_table_keeps_every_field_and_the_hierarchy(tmp_path: Path):
    graph = grown(7)
    first = graph.objects()[0]
    box = OrientedBox((1.0, 1.0, 0.9), (0.2, 0.03, 0.02), 0.4)
    odd = ObjectNode("obj_0100", "Knife", "object", (1.0, 1.0, 0.9), box,
                     states=(("sliced", False), ("temperature", "hot")), observation_count=7, confidence=0.25,
                     status="moved", external_id="Knife|+01.00|ü", label_votes=(("Fork", 0.5), ("Knife", 1.75)))
    graph.upsert_object(odd)
    store = MemoryStore(tmp_path)
    store.save(graph, "home", embeddings=([first.id], np.ones((1, 3), dtype=np.float32), ["x"]))
    loaded = store.load("home")
    assert_same(loaded.graph, graph)
    assert loaded.graph.get_object("obj_0100") == graph.get_object("obj_0100")
    assert [loaded.graph.parent(o.id) for o in graph.objects()] == [graph.parent(o.id) for o in graph.objects()]
    assert loaded.graph.next_object_index == graph.next_object_index
    assert loaded.embeddings[0] == (first.id,) and loaded.embeddings[2] == ("x",)


def test_a_stray_file_neither_stops_saving_nor_causes_deletions(tmp_path: Path):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "snap-99999999.json").write_text("{}")
    (folder / "snap-notes.json").write_text("{}")
    store, graph, paths = _saved(tmp_path, 7, keep=3)
    assert paths[0].name == "snap-100000000.json" and paths[-1].name == "snap-100000006.json"
    assert store.load("home").graph.sequence == graph.sequence
    left = sorted(p.name for p in folder.iterdir())
    assert "snap-99999999.json" in left and "snap-notes.json" in left
    assert [p.name for p in store.snapshots("home") if store.is_good(p)] == [p.name for p in paths[-3:][::-1]]


def test_the_newest_good_snapshot_is_never_deleted(tmp_path: Path):
    store, graph, paths = _saved(tmp_path, 1, keep=1)
    for number in (2, 3):  # newer snapshots whose geometry is damaged (a bad disk, a copy cut short)
        newer = paths[0].with_name(f"snap-{number:08d}.json")
        newer.write_bytes(paths[0].read_bytes())
        newer.with_suffix(".npz").write_bytes(b"garbage")
    store._prune("home")
    assert paths[0].exists() and store.load("home").path == paths[0]


def test_delta_numbers_continue_after_a_kill(tmp_path: Path):
    from scene_graph.long_term import LongTermConfig, LongTermMemory
    config = LongTermConfig(memory_dir=tmp_path, name="home", snapshot_interval=3600.0)
    first = LongTermMemory(config)
    for step in range(1, 4):
        grow(first.graph, step, points_per_object=10)
    first.flush()
    for step in range(4, 9):  # changes after the last save, lost by a kill -9
        grow(first.graph, step, points_per_object=10)
    last = first.graph.sequence
    second = LongTermMemory(config)  # no flush: the first process was killed
    assert len(second.graph) == 3 and second.graph.sequence > last
