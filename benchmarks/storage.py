"""Saving and loading memory at 10,000 objects: the binary snapshot with its journal vs the former
JSON (version 2) snapshot, side by side on the same memory in the same run.

The memory is ``benchmarks.query_service.replicated_memory`` (shifted copies of the synthetic
home's objects and relations) with ``POINTS`` float32 surface points per object (fusion keeps up
to 1,500; small objects at its 1.5 cm voxel keep a few hundred) and a 384-dimensional embedding
per object, as the node saves them. Figures:

- ``save_s`` / ``load_s`` / ``snapshot_mb``: a full snapshot, written and read back (median of ``REPEAT``);
- ``incremental_save_s``: one journal interval of ingest, ``FRAMES`` frames of fusion each updating
  ``PER_FRAME`` objects (boxes, points, a state), appended to the journal; the version 2 store has
  no journal, so its incremental save is a full one;
- ``load_with_journal_s``: a load that replays ``APPENDS`` such appends after the snapshot;
- ``load_arrays_s``: the part of a version 3 load that reads, verifies and unpacks the arrays,
  against the rest (building the graph): what lazy loading of geometry and embeddings could save;
- ``node_ready_s``: a long-term memory node process started on the snapshot until it answers a
  query, with the free-text index and markers off: start-up plus loading, not the embedding model
  or the first MarkerArray of the whole memory (which holds the node's lock for seconds at 10k).

    python -m benchmarks.storage [--quick]
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.query_service import replicated_memory
from scene_graph.graph import SceneGraph
from scene_graph.store import MemoryStore, PeriodicSnapshot, verified

N_OBJECTS, QUICK_OBJECTS = 10_000, 2_000
POINTS = 300
DIM = 384
FRAMES, PER_FRAME = 30, 18  # one second of a 30 Hz camera seeing 18 objects
JITTER_M = 0.001  # box refinement per observation
APPENDS = 20
REPEAT = 3
GOAL_LOAD_S, GOAL_INCREMENTAL_S = 2.0, 0.2


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _median(action: Callable[[], Any]) -> float:
    return statistics.median(_timed(action)[0] for _ in range(REPEAT))


def memory(n_objects: int, seed: int = 0) -> tuple[SceneGraph, tuple[list[str], np.ndarray, list[str]]]:
    """The replicated memory with points, and its embeddings (ids, vectors, documents)."""
    graph = replicated_memory(n_objects, seed)
    rng = np.random.default_rng(seed)
    for node in graph.objects():
        graph.set_points(node.id, (rng.normal(size=(POINTS, 3)) * 0.05 + node.centroid).astype(np.float32))
    ids = [o.id for o in graph.objects()]
    vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32)
    return graph, (ids, vectors, [f"a {graph.get_object(i).label}" for i in ids])


def one_interval(graph: SceneGraph, rng: np.random.Generator, stamp: float) -> None:
    """``FRAMES`` deltas as fusion makes them: ``PER_FRAME`` objects in view re-observed (their boxes
    refined by millimetres, new points, seen again)."""
    ids = [o.id for o in graph.objects()]
    in_view = rng.choice(ids, PER_FRAME, replace=False)  # a camera dwells on one view for a second
    for frame in range(FRAMES):
        with graph.transaction(stamp + frame):
            for object_id in in_view:
                node = graph.get_object(str(object_id))
                assert node is not None
                center = tuple(float(c) for c in np.add(node.box.center, rng.normal(size=3) * JITTER_M))
                moved = replace(node, centroid=center, box=replace(node.box, center=center),
                                last_seen=stamp + frame, observation_count=node.observation_count + 1)
                graph.upsert_object(moved, (rng.normal(size=(POINTS, 3)) * 0.05 + center).astype(np.float32))


def _snapshot_mb(path: Path) -> float:
    return (path.stat().st_size + path.with_suffix(".npz").stat().st_size) / 1e6


def _load_arrays(path: Path) -> None:
    _, blob = verified(path)
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        for key in npz.files:
            npz[key]


def node_ready_s(folder: Path) -> float:
    """Seconds from starting the node process on ``folder`` (memory "default") until it answers."""
    from benchmarks.node_process import memory_node  # rclpy only for this figure
    start = time.perf_counter()
    with memory_node(folder, "storage_client", {"text_index": "none", "marker_rate_hz": 0.0,
                                                       "snapshot_interval_s": 0.0}):
        return time.perf_counter() - start


def run(quick: bool = False, n_objects: int = 0) -> dict[str, Any]:
    n_objects = n_objects or (QUICK_OBJECTS if quick else N_OBJECTS)
    graph, embeddings = memory(n_objects)
    rng = np.random.default_rng(1)
    figures: dict[str, Any] = {"objects": len(graph), "relations": len(graph.relations()), "points_per_object": POINTS,
                               "embedding_dim": DIM}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        for version, label in ((2, "v2"), (3, "v3")):
            store = MemoryStore(Path(tmp) / label, keep=REPEAT + 1)
            save_s = _median(lambda: store.save(graph, "m", embeddings, version=version))  # noqa: B023
            load_s = _median(lambda: store.load("m"))  # noqa: B023
            newest = store.snapshots("m")[0]
            figures[label] = {"save_s": round(save_s, 3), "load_s": round(load_s, 3),
                              "snapshot_mb": round(_snapshot_mb(newest), 2)}
            node_folder = Path(tmp) / f"node-{label}"
            MemoryStore(node_folder).save(graph, "default", embeddings, version=version)
            figures[label]["node_ready_s"] = round(node_ready_s(node_folder), 2)
        # The journal: appends of one interval each, then a load that replays them.
        store = MemoryStore(Path(tmp) / "journal", keep=2)
        clock = [0.0]
        periodic = PeriodicSnapshot(store, lambda: graph, interval=1e9, name="m", embeddings=lambda: embeddings,
                                    clock=lambda: clock[0], journal_interval=1.0, journal_max_bytes=1 << 40)
        graph.subscribe(periodic.record)
        journal = periodic.tick().with_suffix(".wal")  # the full snapshot the journal follows
        appends, sizes = [], []
        for n in range(APPENDS):
            one_interval(graph, rng, 1000.0 + n * FRAMES)
            clock[0] += 1.0
            before = journal.stat().st_size
            appends.append(_timed(periodic.tick)[0])
            sizes.append((journal.stat().st_size - before) / 1e6)
        load_journal_s, loaded = _timed(lambda: store.load("m"))
        arrays_s = _median(lambda: _load_arrays(loaded.path))
        v2_incremental_s = _median(lambda: MemoryStore(Path(tmp) / "v2").save(graph, "m", embeddings, version=2))
    figures["v3"].update(
        incremental_save_s=round(statistics.median(appends), 4),
        incremental_save_max_s=round(max(appends), 4),
        incremental_mb=round(statistics.median(sizes), 3),
        load_with_journal_s=round(load_journal_s, 3),
        journal_deltas_replayed=loaded.replayed,
        load_arrays_s=round(arrays_s, 3),
        load_build_s=round(figures["v3"]["load_s"] - arrays_s, 3))
    figures["v2"]["incremental_save_s"] = round(v2_incremental_s, 3)
    v2, v3 = figures["v2"], figures["v3"]
    figures.update(
        baseline="version 2: the graph as JSON beside an npz of geometry and embeddings, no journal",
        load_ratio_v3_to_v2=round(v3["load_s"] / v2["load_s"], 3),
        save_ratio_v3_to_v2=round(v3["save_s"] / v2["save_s"], 3),
        incremental_ratio_v3_to_v2=round(v3["incremental_save_s"] / v2["incremental_save_s"], 4),
        size_ratio_v3_to_v2=round(v3["snapshot_mb"] / v2["snapshot_mb"], 3),
        goal_load_s=GOAL_LOAD_S, goal_incremental_save_s=GOAL_INCREMENTAL_S,
        meets_goal=v3["load_s"] <= GOAL_LOAD_S and v3["incremental_save_s"] <= GOAL_INCREMENTAL_S)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--objects", type=int, default=0)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.quick, arguments.objects), indent=2))
