"""Soak: four simulated hours of a home at 1 Hz, accelerated: does memory grow, or slow down, with time?

**In process, not through the nodes.** The nodes stamp and admit frames on the wall clock (a frame
stamped ahead of the node's clock is refused), so four simulated hours through them would take four
hours. Here the code the nodes run is driven on the simulator's clock instead, as fast as it goes:
``LongTermMemory`` (admission, fusion, the retriever with the numpy vector index and MiniLM texts,
the periodic journal and snapshots, paced by simulated time), ``ShortTermMemory`` fed as the
short-term node feeds it (the household's reported changes, unvouched; what each graph update says
was seen) and consolidated into long-term memory every simulated second, as the short-term node's
timer does. What is not exercised: DDS, message conversion, executors.

Each simulated second the household may act (``sim.home.household``, on average once a minute), the
camera (160x120: the soak measures growth, not per-frame cost) renders one frame and memory fuses
it, new object texts are embedded, and the journal or snapshot is written when due; every minute
the robot goes to another piece of furniture. Every :data:`QUERY_PERIOD_S` simulated seconds a
fixed set of queries (label, near, free text, task subgraph, short-term) is timed. The embedding
model and the tokenizer are loaded before the run starts (untimed), and torch runs on one thread
(``embeddings.one_question_at_a_time``, as the query tools do).

Figures: resident memory (RSS of this process) from the end of the first window (the embedding
model loaded, the home seen once) to the end, and its slope per *simulated* hour by least squares;
query p95 over the first and the last window (an eighth of the run each); the newest snapshot's size.
Baseline, side by side: the first window's memory is saved, reloaded at the end, and the same queries
alternate between it and the aged memory, so machine noise hits both alike (``aged_to_young_p95_ratio``).

    python -m benchmarks.soak [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from inprocess.runtime import ConfirmedChanges
from scene_graph.embeddings import one_question_at_a_time
from scene_graph.frames import CameraIntrinsics
from scene_graph.long_term import LongTermConfig, LongTermMemory
from scene_graph.ontology import ACTION_NAMES
from scene_graph.records import GraphDelta
from scene_graph.short_term import ShortTermMemory, change_unit, observation_units
from scene_graph.vector_index import make_vector_index
from sim.home.generate import generate_home
from sim.home.household import Household
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld
from sim.records import Action

SEED, ROOMS = 4, 3
HOURS, QUICK_HOURS = 4.0, 0.1
QUERY_PERIOD_S, QUICK_QUERY_PERIOD_S = 60.0, 10.0
ROBOT_PERIOD_S = 60.0  # the robot goes to another piece of furniture this often
RSS_PERIOD_S = 60.0
CAMERA = CameraIntrinsics.from_fov(160, 120, 90.0)
STM_CAPACITY = 10  # the short-term node's default
YOUNG = "young"  # the first window's memory, the baseline's
BASELINE_ROUNDS, QUICK_BASELINE_ROUNDS = 100, 20


def _rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _p95(values: list[float]) -> float:
    return round(float(np.percentile(values, 95)), 2) if values else float("nan")


def _query_set(memory: LongTermMemory, stm: ShortTermMemory, robot: tuple[float, float, float]
               ) -> dict[str, Callable[[], Any]]:
    """The timed queries: what a planner and an operator ask, all kinds the long-term node serves."""
    return {"label": lambda: memory.query(label="Mug", k=10),
            "near": lambda: memory.query(near=robot, radius=2.0, k=10),
            "text": lambda: memory.query(text="something to drink from", k=10),
            "task_subgraph": lambda: memory.task_subgraph("put the mug in the sink"),
            "short_term": lambda: stm.query("wash the dishes", 5)}


def _timed(queries: dict[str, Callable[[], Any]]) -> list[float]:
    times = []
    for run in queries.values():
        begin = time.perf_counter()
        run()
        times.append((time.perf_counter() - begin) * 1000.0)
    return times


def _embed_new(memory: LongTermMemory) -> None:
    """What the long-term node's housekeeping does every second: embed new object texts, sync the index."""
    retriever = memory.retriever
    texts = retriever.texts_to_embed()
    if texts:
        retriever.add_vectors(texts, retriever.index.embedder.embed(texts))
    retriever.sync()


@dataclass
class _Run:
    """The soak's state: world, both memories, and what was measured (stamped in simulated seconds)."""

    world: HomeWorld
    memory: LongTermMemory
    stm: ShortTermMemory
    furniture: list[str]
    rng: random.Random
    rss: list[tuple[float, float]] = field(default_factory=list)
    queries: list[tuple[float, float]] = field(default_factory=list)
    next_move: float = 0.0
    frames: int = 0
    rejected: int = 0
    household_changes: int = 0

    def observe(self, delta: GraphDelta) -> None:
        """The short-term node's graph-update subscription."""
        for unit in observation_units(delta.upserted_objects, delta.stamp):
            self.stm.add(unit)

    def second(self, query_period: float) -> None:
        """One simulated second (or a robot move) of the home, the camera and both memories."""
        world = self.world
        before = world.clock
        if before >= self.next_move:
            world.step(Action("GoToObject", self.rng.choice(self.furniture)))  # its travel time passes
            self.next_move = world.clock + ROBOT_PERIOD_S
        else:
            world.advance(1.0)
        for change, position in world.where_changed(world.drain_events()):  # as the simulator bridge reports
            value = change.new if isinstance(change.new, (bool, str)) else ""
            self.stm.add(change_unit(change.object_id, change.object_type, position or (0.0, 0.0, 0.0),
                                     change.stamp, change.state, value,
                                     change.cause.removeprefix("agent:") in ACTION_NAMES))
            self.household_changes += 1
        now = world.clock
        report = self.memory.integrate(replace(world.render(), stamp=now), now)
        self.frames += 1
        self.rejected += not report.accepted
        _embed_new(self.memory)
        self.stm.consolidate(ConfirmedChanges(self.memory.graph))
        self.memory.tick()
        if int(now // RSS_PERIOD_S) > int(before // RSS_PERIOD_S):
            self.rss.append((now, _rss_mb()))
        if int(now // query_period) > int(before // query_period):
            pose = world.agent.pose
            robot = (pose.x, pose.y, 0.8)
            self.queries += [(now, ms) for ms in _timed(_query_set(self.memory, self.stm, robot))]


def _aged_vs_young(memory: LongTermMemory, folder: Path, stm: ShortTermMemory, robot: tuple[float, float, float],
                   rounds: int) -> tuple[list[float], list[float]]:
    """The same queries alternating between the aged memory and the first window's, reloaded (ms)."""
    young = LongTermMemory(LongTermConfig(memory_dir=folder, name=YOUNG, snapshot_interval=0.0),
                           make_vector_index("numpy"))
    aged_queries, young_queries = _query_set(memory, stm, robot), _query_set(young, stm, robot)
    aged: list[float] = []
    old: list[float] = []
    for _ in range(rounds):
        aged += _timed(aged_queries)
        old += _timed(young_queries)
    return aged, old


def run(quick: bool = False) -> dict[str, Any]:
    hours = QUICK_HOURS if quick else HOURS
    query_period = QUICK_QUERY_PERIOD_S if quick else QUERY_PERIOD_S
    end, window = hours * 3600.0, hours * 3600.0 / 8
    one_question_at_a_time()  # as the query tools: one short text at a time, torch's threads only contend
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        folder = Path(tmp)
        world = HomeWorld(generate_home(SEED, n_rooms=ROOMS), intrinsics=CAMERA,
                          household=Household(seed=SEED, mean_interval=60.0))
        memory = LongTermMemory(LongTermConfig(memory_dir=folder), make_vector_index("numpy"),
                                clock=lambda: world.clock)  # journal each second, snapshot each 5 min: simulated
        memory.set_layout(*world_layout(world))
        furniture = sorted(e.object_id for e in world.home.entities.values() if e.kind.layer == "furniture")
        soak = _Run(world, memory, ShortTermMemory(capacity=STM_CAPACITY), furniture, random.Random(SEED))
        memory.subscribe(soak.observe)
        _timed(_query_set(memory, soak.stm, (0.0, 0.0, 0.8)))  # load the embedding model and tokenizer, untimed
        wall = time.perf_counter()
        while world.clock < window:
            soak.second(query_period)
        memory.save(YOUNG)
        rss_start = _rss_mb()
        soak.rss.append((world.clock, rss_start))
        while world.clock < end:
            soak.second(query_period)
        rss_end = _rss_mb()
        soak.rss.append((world.clock, rss_end))
        soaked_s = time.perf_counter() - wall
        newest = memory.save()
        snapshot_mb = sum(p.stat().st_size for p in newest.parent.glob(newest.stem + ".*")) / 1e6
        pose = world.agent.pose
        aged, young = _aged_vs_young(memory, folder, soak.stm, (pose.x, pose.y, 0.8),
                                     QUICK_BASELINE_ROUNDS if quick else BASELINE_ROUNDS)
        objects, simulated = len(memory.graph), world.clock
    hours_axis = np.array([t for t, _ in soak.rss]) / 3600.0
    slope = float(np.polyfit(hours_axis, [mb for _, mb in soak.rss], 1)[0]) if len(soak.rss) > 1 else float("nan")
    first = [ms for t, ms in soak.queries if t <= window]
    last = [ms for t, ms in soak.queries if t > end - window]
    return {
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_slope_mb_per_h": round(slope, 2),
        "query_p95_first_ms": _p95(first),
        "query_p95_last_ms": _p95(last),
        "query_p95_last_to_first": round(_p95(last) / _p95(first), 2) if first and last else None,
        "snapshot_mb": round(snapshot_mb, 3),
        "simulated_hours": round(simulated / 3600.0, 2),
        "frames": soak.frames,
        "frames_rejected": soak.rejected,
        "household_changes": soak.household_changes,
        "objects": objects,
        "short_term_units": len(soak.stm),
        "queries_timed": len(soak.queries),
        "wall_s": round(soaked_s, 1),
        "speedup": round(simulated / soaked_s, 1),
        "rss_from": "the end of the first window (model loaded, home seen) to the end; slope per simulated hour",
        "baseline": "the first window's memory reloaded; the same queries alternate between it and the aged one",
        "query_p95_aged_ms": _p95(aged),
        "query_p95_young_ms": _p95(young),
        "aged_to_young_p95_ratio": round(_p95(aged) / _p95(young), 2) if aged and young else None,
        "path": "in process (scene_graph + short-term code the nodes run), not through the nodes",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))
