"""The write-ahead journal: incremental saves, replay on load, torn and damaged records, kill -9."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from memory_fixtures import grow
from test_store import HERE, assert_same

from scene_graph.graph import SceneGraph
from scene_graph.journal import read_journal
from scene_graph.long_term import LongTermConfig, LongTermMemory
from scene_graph.store import MemoryStore, PeriodicSnapshot

CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from memory_fixtures import grow
from scene_graph.graph import SceneGraph
from scene_graph.store import MemoryStore, PeriodicSnapshot
graph = SceneGraph()
periodic = PeriodicSnapshot(MemoryStore(sys.argv[1], keep=3), lambda: graph, interval=float(sys.argv[3]),
                            name="home", journal_interval=1e-9)
graph.subscribe(periodic.record)
step = 0
while True:
    step += 1
    grow(graph, step, points_per_object=500)
    periodic.tick()
    print(step, flush=True)
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def journaled(tmp_path: Path, steps: int, interval: float = 100.0) -> tuple[SceneGraph, PeriodicSnapshot, Clock]:
    """A graph saved once in full, then ``steps`` more mutations journaled one batch each."""
    clock, graph = Clock(), SceneGraph()
    periodic = PeriodicSnapshot(MemoryStore(tmp_path), lambda: graph, interval=interval, name="home",
                                clock=clock, journal_interval=1.0)
    graph.subscribe(periodic.record)
    for step in range(1, 31):
        grow(graph, step, points_per_object=200)
    assert periodic.tick() is not None and periodic.tick() is None  # the full snapshot; nothing new after
    for step in range(31, 31 + steps):
        clock.now += 1.0
        grow(graph, step, points_per_object=200)
        path = periodic.tick()
        assert path is not None and path.suffix == ".wal"
    return graph, periodic, clock


def test_an_incremental_save_writes_only_the_change(tmp_path: Path):
    graph, periodic, clock = journaled(tmp_path, 1)
    folder = tmp_path / "home"
    snapshot, journal = folder / "snap-00000001.npz", folder / "snap-00000001.wal"
    size = journal.stat().st_size
    files = sorted(p.name for p in folder.iterdir())
    clock.now += 1.0
    graph.set_object_state("obj_0002", "open", True, 99.0)
    assert periodic.tick() == journal
    assert sorted(p.name for p in folder.iterdir()) == files  # no new snapshot
    batches = read_journal(journal).batches
    last = batches[-1]
    assert [d.sequence for d in last.deltas] == [graph.sequence]
    assert [o.id for o in last.deltas[0].upserted_objects] == ["obj_0002"]
    assert list(last.geometry) == ["obj_0002"]  # the points of what changed, nothing else
    appended = journal.stat().st_size - size
    assert appended < snapshot.stat().st_size / 10


def test_load_replays_the_journal(tmp_path: Path):
    graph, _, _ = journaled(tmp_path, 5)
    graph.mark_missing("obj_0003", 50.0)  # after the last append: not on disk
    loaded = MemoryStore(tmp_path).load("home")
    assert loaded.replayed == 5 and not loaded.journal_torn  # one merged delta per append
    assert len(loaded.graph) == 35
    assert loaded.graph.get_object("obj_0003").status != "missing"
    assert loaded.graph.sequence == graph.sequence - 1
    expected = SceneGraph()
    for step in range(1, 36):
        grow(expected, step, points_per_object=200)
    assert_same(loaded.graph, expected)


@pytest.mark.parametrize("cut", [1, 7, 13, 100])
def test_a_torn_last_record_is_dropped_and_the_next_append_is_readable(tmp_path: Path, cut: int):
    graph, periodic, clock = journaled(tmp_path, 4)
    journal = tmp_path / "home" / "snap-00000001.wal"
    data = journal.read_bytes()
    periodic._close_journal()  # the writer was killed mid-append: its last record is cut short
    journal.write_bytes(data[:-cut])
    loaded = MemoryStore(tmp_path).load("home")
    assert loaded.journal_torn and len(loaded.graph) == 33
    # The restarted writer continues after the good part; what it appends is read back.
    memory = LongTermMemory(LongTermConfig(memory_dir=tmp_path, name="home", snapshot_interval=3600.0,
                                           journal_interval=1e-9))
    assert len(memory.graph) == 33
    grow(memory.graph, 34, points_per_object=200)
    assert memory.tick() == journal
    again = MemoryStore(tmp_path).load("home")
    assert not again.journal_torn and len(again.graph) == 34
    assert_same(again.graph, memory.graph)


def test_a_damaged_record_stops_the_replay_there(tmp_path: Path):
    journaled(tmp_path, 4)
    journal = tmp_path / "home" / "snap-00000001.wal"
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x40  # a bit flipped inside the second or third record
    journal.write_bytes(bytes(data))
    loaded = MemoryStore(tmp_path).load("home")
    assert loaded.journal_torn and 31 <= len(loaded.graph) <= 32


def test_a_full_snapshot_starts_a_new_journal_and_prunes_old_ones(tmp_path: Path):
    graph, periodic, clock = journaled(tmp_path, 2, interval=5.0)
    for step in range(33, 45):
        clock.now += 1.0
        grow(graph, step, points_per_object=50)
        periodic.tick()
    folder = tmp_path / "home"
    names = sorted(p.name for p in folder.iterdir())
    assert "snap-00000003.json" in names and "snap-00000003.wal" in names
    store = MemoryStore(tmp_path, keep=1)
    store._prune("home")
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("snap-")) == [
        "snap-00000003.json", "snap-00000003.npz", "snap-00000003.wal"]
    assert_same(store.load("home").graph, graph)


def test_sequence_numbers_continue_across_a_restart_with_a_journal(tmp_path: Path):
    config = LongTermConfig(memory_dir=tmp_path, name="home", snapshot_interval=3600.0, journal_interval=1e-9)
    first = LongTermMemory(config)
    for step in range(1, 6):
        grow(first.graph, step, points_per_object=10)
        first.tick()
    last = first.graph.sequence
    second = LongTermMemory(config)
    assert len(second.graph) == 5 and second.graph.sequence >= last
    grow(second.graph, 6, points_per_object=10)
    second.tick()
    assert second.graph.sequence > last
    assert MemoryStore(tmp_path).load("home").graph.sequence == second.graph.sequence  # replayed to the last
    third = LongTermMemory(config)
    assert len(third.graph) == 6 and third.graph.sequence >= second.graph.sequence


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.011])
@pytest.mark.parametrize("interval", [1e9, 0.05])  # journal only / full snapshots in between
def test_kill_9_loses_at_most_the_batch_being_written(tmp_path: Path, python: str, child_env: dict,
                                                      delay: float, interval: float):
    child = subprocess.Popen([python, "-c", CHILD, str(tmp_path), str(HERE), str(interval)], env=child_env,
                             stdout=subprocess.PIPE, text=True)
    durable = 0
    try:
        for line in child.stdout:
            durable = int(line)  # every step printed was appended and fsynced
            if durable >= 12:
                break
        time.sleep(delay)  # land the kill at different points of an append or a save
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    loaded = MemoryStore(tmp_path, keep=3).load("home")
    steps = len(loaded.graph)
    assert steps >= durable
    expected = SceneGraph()
    for step in range(1, steps + 1):
        grow(expected, step, points_per_object=500)
    assert_same(loaded.graph, expected)
    assert loaded.graph.sequence == expected.sequence
    np.testing.assert_array_equal(loaded.graph.points("obj_0000"), expected.points("obj_0000"))


def test_changes_made_while_a_snapshot_is_written_go_to_its_journal(tmp_path: Path):
    graph, periodic, clock = journaled(tmp_path, 1, interval=5.0)
    clock.now += 10.0
    grow(graph, 32, points_per_object=200)
    write = periodic.begin()  # the full snapshot is copied now and written later, without the graph
    assert write is not None and periodic.begin() is None  # one write at a time
    grow(graph, 33, points_per_object=200)  # fusion goes on meanwhile
    path = write()
    assert path.name == "snap-00000002.json"
    assert len(MemoryStore(tmp_path).load("home").graph) == 32  # the snapshot holds what was copied
    clock.now += 1.0
    assert periodic.tick() == path.with_suffix(".wal")
    loaded = MemoryStore(tmp_path).load("home")
    assert loaded.path == path and loaded.replayed >= 1
    assert_same(loaded.graph, graph)


def test_a_memory_replaced_while_a_snapshot_is_written_takes_a_full_snapshot_next(tmp_path: Path):
    graph, periodic, clock = journaled(tmp_path, 1, interval=5.0)
    clock.now += 10.0
    grow(graph, 32, points_per_object=200)
    write = periodic.begin()
    periodic.invalidate()  # a LOAD replaced memory meanwhile
    write()
    grow(graph, 33, points_per_object=200)
    clock.now += 1.0
    assert periodic.tick().suffix == ".json"  # not an append to the journal of a memory that is gone


def test_merged_deltas_have_the_net_effect_of_each_in_turn():
    """Moves that make and break relations, removals, a state, a correction and a new layout, merged
    into one delta and applied to the start: the same graph as applying them one by one."""
    from dataclasses import replace

    from benchmarks.synthetic import synthetic_home
    from scene_graph.graph import grid_areas
    from scene_graph.journal import merge_deltas
    from scene_graph.records import RoomNode

    graph = synthetic_home(80)[0]
    start = SceneGraph.from_snapshot(graph.snapshot(), graph.geometry())
    deltas = []
    graph.subscribe(deltas.append)
    objects = [o for o in graph.objects() if o.layer == "object"]
    for n, node in enumerate(objects[:12]):  # back and forth: relations broken, then made again
        far = replace(node.box, center=(node.box.center[0] + 3.0, node.box.center[1], 2.5))
        graph.upsert_object(replace(node, centroid=far.center, box=far, last_seen=100.0 + n))
        if n % 2:
            graph.upsert_object(replace(node, last_seen=200.0 + n))
    graph.remove_object(objects[12].id, 300.0)
    graph.set_object_state(objects[13].id, "open", True, 301.0)
    graph.mark_missing(objects[14].id, 302.0)
    rooms = [RoomNode("room_9", "Garage", ((0, 0), (20, 0), (20, 14), (0, 14)))]
    graph.set_layout(rooms, grid_areas(rooms, spacing=3.0), 303.0)
    merged = merge_deltas(deltas)
    start.continue_sequence(merged.sequence - 1)
    start.apply(merged)
    assert start.snapshot() == graph.snapshot()
    assert [start.parent(o.id) for o in graph.objects()] == [graph.parent(o.id) for o in graph.objects()]


def test_a_save_by_hand_under_the_periodic_name_keeps_the_journal_behind_the_newest_snapshot(tmp_path: Path):
    config = LongTermConfig(memory_dir=tmp_path, name="home", snapshot_interval=3600.0, journal_interval=1e-9)
    memory = LongTermMemory(config)
    for step in range(1, 4):
        grow(memory.graph, step, points_per_object=10)
        memory.tick()
    saved = memory.save()  # the SAVE service
    grow(memory.graph, 4, points_per_object=10)
    assert memory.tick() == saved.with_suffix(".wal")
    loaded = MemoryStore(tmp_path).load("home")
    assert loaded.path == saved and len(loaded.graph) == 4
