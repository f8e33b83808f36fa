"""Kill and signal chaos: kill -9 and SIGTERM of a real long-term memory node at random moments of
ingest and saving, restarted each time; nothing on disk may be lost beyond one journal interval.

Each cycle starts the node (its own process, on 127.0.0.1 only) on the same memory folder with
short save intervals (full snapshots every ``SNAPSHOT_S``, journal appends every ``JOURNAL_S``),
streams a simulated home's camera tour into it, and after a random time sends SIGKILL or SIGTERM
(in turn; every other SIGKILL waits for a snapshot's temporary file to appear, to land mid-write).
Every pass of the tour is shifted by ``SHIFT_M`` with its own external ids, so memory keeps
gaining objects and a lost change shows as a lost object. The node's graph updates tell which
objects it held and the highest sequence number it published before the signal; after the
restart its full snapshot (``memory/get_snapshot``) tells what came back. Per cycle:

- the restart answers with the memory it had on disk (``loads_ok``; an empty answer while the
  folder holds a good snapshot is a failed load);
- objects held before the signal and missing after it (``max_objects_lost``), compared with the
  objects the node created in the last two journal intervals before the signal (the loss bound:
  one interval of changes not yet appended, plus up to one period of the save timer), or, when the
  last write to the folder is older (a busy CPU delays the journal timer), since one interval
  before that write; ``max_last_write_age_s`` reports how late the writes ran;
- after the restart no sequence number at or below one published before (``sequence_monotonic``);
- every snapshot in the folder verifies (``corrupt_snapshots`` counts those that did not at any check).

    python -m benchmarks.chaos [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions

from benchmarks.ingest import _TOPICS, _messages, _stamp, tour_frames
from benchmarks.node_process import Session, domain_id, memory_node
from embodied_memory.msg import GraphUpdate
from embodied_memory.srv import GetSnapshot
from scene_graph.frames import RGBDFrame
from scene_graph.store import MemoryStore, NoSnapshot

KILLS, QUICK_KILLS = 30, 4
SNAPSHOT_S, JOURNAL_S = 2.0, 0.25
RATE_HZ = 15.0
SHIFT_M = 20.0  # one tour pass to the next: a fresh copy of the home, on a grid of
GRID = 14  # x GRID copies (then the passes start over), all inside the default 300 m workspace
MID_WRITE_S = 6.0  # every other SIGKILL waits up to this long more for a snapshot being written
STREAM_S = (0.5, 4.0)  # the signal lands after a uniform random time of streaming in this range
NAME = "default"


def tour_messages(tour: list[RGBDFrame], position: int) -> dict[str, Any]:
    """Frame ``position`` of an endless tour whose pass ``copy`` is seen ``copy * SHIFT_M`` further
    along x, its objects under their own external ids (built per frame: a few ms)."""
    copy, frame = position // len(tour) % (GRID * GRID), tour[position % len(tour)]
    offset = np.eye(4)
    offset[:2, 3] = (copy % GRID * SHIFT_M, copy // GRID * SHIFT_M)
    return _messages(replace(frame, T_world_camera=offset @ frame.T_world_camera,
                             external_ids={k: f"{v}#{copy}" for k, v in frame.external_ids.items()}))


@dataclass
class Watch:
    """What the node published in one cycle: objects held, when each appeared, the highest sequence."""

    held: set[str] = field(default_factory=set)
    created: dict[str, float] = field(default_factory=dict)  # object id -> monotonic time first seen
    sequences: list[int] = field(default_factory=list)

    def on_update(self, msg: GraphUpdate) -> None:
        self.sequences.append(int(msg.sequence))
        for node in msg.upserted_objects:
            if node.id not in self.held:
                self.held.add(node.id)
                self.created.setdefault(node.id, time.monotonic())
        self.held.difference_update(msg.removed_object_ids)


def _snapshot(session: Session) -> tuple[set[str], int]:
    client = session.node.create_client(GetSnapshot, "memory/get_snapshot")
    try:
        response = session.call(client, GetSnapshot.Request(), timeout=60.0)
    finally:
        session.node.destroy_client(client)
    return {o.id for o in response.snapshot.upserted_objects}, int(response.snapshot.sequence)


def _bad_snapshots(folder: Path) -> set[str]:
    store = MemoryStore(folder)
    return {p.name for p in store.snapshots(NAME) if not store.is_good(p)}


def _writing(folder: Path) -> bool:
    """A snapshot part is being written (its temporary file exists)."""
    try:
        return any(name.endswith(".tmp") for name in os.listdir(folder))
    except FileNotFoundError:
        return False


def _last_write_age(folder: Path) -> float:
    """Seconds since anything in the memory's folder was last written (inf before the first write)."""
    try:
        times = [p.stat().st_mtime for p in folder.iterdir()]
    except FileNotFoundError:
        return float("inf")
    return time.time() - max(times) if times else float("inf")


def _cycle(session: Session, publishers: dict[str, Any], tour: list[RGBDFrame], position: int, sig: int,
           stream_s: float, mid_write: Path | None, folder: Path) -> tuple[int, float, float]:
    """Stream from tour frame ``position`` for ``stream_s`` (then, with ``mid_write``, until a snapshot
    is being written in that folder, for at most MID_WRITE_S more) and send ``sig``; returns the
    next position, the monotonic time of the signal and how long before it memory was last written."""
    session.spin_until(lambda: all(p.get_subscription_count() for p in publishers.values()), timeout=30.0)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < stream_s + (MID_WRITE_S if mid_write is not None else 0.0):
        due = start + n / RATE_HZ
        caught = False
        while (wait := due - time.monotonic()) > 0:
            session.executor.spin_once(timeout_sec=min(wait, 0.001))
            if mid_write is not None and time.monotonic() - start >= stream_s and _writing(mid_write):
                caught = True
                break
        if caught:
            break
        msgs = tour_messages(tour, position + n)
        _stamp(msgs, time.time_ns() // 1_000_000 * 1_000_000)
        for key, msg in msgs.items():  # pose first, as the node expects
            publishers[key].publish(msg)
        n += 1
    session.executor.spin_once(timeout_sec=0.0)
    age = _last_write_age(folder)
    signalled = time.monotonic()
    os.kill(session.process.pid, sig)
    # Updates on their way until the process is gone (SIGTERM saves first) count as published before.
    deadline = time.monotonic() + 30.0
    while session.process.poll() is None and time.monotonic() < deadline:
        session.executor.spin_once(timeout_sec=0.05)
    session.process.wait(timeout=10.0)
    for _ in range(5):
        session.executor.spin_once(timeout_sec=0.02)
    return position + n, signalled, age


def run(quick: bool = False, kills: int = 0, seed: int = 0) -> dict[str, Any]:
    """``kills`` cycles (default 30, quick 4), SIGKILL and SIGTERM in turn, each at a random moment."""
    kills = kills or (QUICK_KILLS if quick else KILLS)
    rng = random.Random(seed)
    tour = tour_frames(rooms=2)
    params = {"snapshot_interval_s": SNAPSHOT_S, "journal_interval_s": JOURNAL_S, "text_index": "none",
              "marker_rate_hz": 0.0}
    results: list[dict[str, Any]] = []
    ever_bad: set[str] = set()  # snapshots that did not verify at some check: corrupt ones
    position, before_held, before_sequence = 0, set(), 0
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        folder = Path(tmp)
        for cycle in range(kills + 1):  # the last start only checks what the last signal left
            sig = (signal.SIGKILL, signal.SIGTERM)[cycle % 2]
            with memory_node(folder, "chaos_camera", params) as session:
                objects, sequence = _snapshot(session)
                if cycle:
                    good_before = any(MemoryStore(folder).is_good(p) for p in MemoryStore(folder).snapshots(NAME))
                    last = results[-1]
                    last.update(
                        load_ok=bool(objects) or not good_before,
                        objects_after=len(objects),
                        objects_lost=len(before_held - objects),
                        sequence_after=sequence,
                        sequence_monotonic=sequence >= before_sequence)
                if cycle == kills:
                    break
                watch = Watch(held=set(objects))
                session.node.create_subscription(GraphUpdate, "memory/graph_updates", watch.on_update, 1000)
                context = Context()
                rclpy.init(context=context, domain_id=domain_id(), signal_handler_options=SignalHandlerOptions.NO)
                camera = Node("chaos_publisher", context=context)
                try:
                    publishers = {key: camera.create_publisher(msg_type, topic, qos_profile_sensor_data)
                                  for key, (msg_type, topic) in _TOPICS.items()}
                    mid_write = folder / NAME if sig == signal.SIGKILL and cycle % 4 == 2 else None
                    position, signalled, age = _cycle(session, publishers, tour, position, sig,
                                                      rng.uniform(*STREAM_S), mid_write, folder / NAME)
                finally:
                    camera.destroy_node()
                    rclpy.try_shutdown(context=context)
                if cycle and any(s <= before_sequence for s in watch.sequences):
                    results[-1]["sequence_monotonic"] = False  # the restart reused a number
                # What may be lost: changes since the last write to disk (a busy CPU delays the journal
                # timer; its lag is reported) or in the last two intervals, whichever reaches back further.
                since = signalled - max(2 * JOURNAL_S, min(age, 3600.0) + JOURNAL_S)
                window = [i for i, t in watch.created.items() if t > since and i in watch.held]
                strict = [i for i, t in watch.created.items() if t > signalled - 2 * JOURNAL_S and i in watch.held]
                before_held = set(watch.held)
                before_sequence = max(watch.sequences, default=sequence)
                leftovers = [p.name for p in (folder / NAME).iterdir() if p.name.endswith(".tmp")] \
                    if (folder / NAME).is_dir() else []
                bad = _bad_snapshots(folder)
                ever_bad |= bad
                results.append({"signal": signal.Signals(sig).name, "held": len(before_held),
                                "last_write_age_s": round(min(age, 3600.0), 3),
                                "created_in_loss_window": len(window), "created_in_two_intervals": len(strict),
                                "killed_mid_write": bool(leftovers)})
        try:
            final = MemoryStore(folder).load(NAME)
            final_objects = len(final.graph)
        except NoSnapshot:
            final_objects = 0
    lost = [r["objects_lost"] for r in results]
    def within(key: str) -> bool:
        return all(r["objects_lost"] <= (0 if r["signal"] == "SIGTERM" else r[key]) for r in results)

    return {
        "kills": len(results),
        "sigkill": sum(r["signal"] == "SIGKILL" for r in results),
        "sigterm": sum(r["signal"] == "SIGTERM" for r in results),
        "killed_mid_write": sum(r["killed_mid_write"] for r in results),
        "loads_ok": sum(r["load_ok"] for r in results),
        "corrupt_snapshots": len(ever_bad),
        "max_objects_lost": max(lost, default=0),
        "max_last_write_age_s": max((r["last_write_age_s"] for r in results), default=0.0),
        "max_objects_lost_sigterm": max((r["objects_lost"] for r in results if r["signal"] == "SIGTERM"), default=0),
        "max_created_in_loss_window": max((r["created_in_loss_window"] for r in results), default=0),
        "lost_only_unwritten_changes": within("created_in_loss_window"),
        "lost_within_one_journal_interval": within("created_in_two_intervals"),  # holds when the CPU keeps up
        "sequence_monotonic": all(r["sequence_monotonic"] for r in results),
        "final_objects": final_objects,
        "journal_interval_s": JOURNAL_S,
        "snapshot_interval_s": SNAPSHOT_S,
        "loss_window_s": 2 * JOURNAL_S,
        "meets_goal": not ever_bad and all(r["load_ok"] for r in results) and within("created_in_two_intervals")
        and all(r["sequence_monotonic"] for r in results),
        "cycles": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kills", type=int, default=0)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.quick, arguments.kills), indent=2))
