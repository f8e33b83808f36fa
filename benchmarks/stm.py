"""Short-term memory hit rate per replacement policy and capacity, on a replayed household trace.

KARMA sweeps the buffer from 5 to 25 units and finds that hit rate grows with capacity and that
W-TinyLFU beats FIFO-with-merge. This replays one synthetic but household-shaped trace through
every policy: the robot stays in a room for a while and glances at nearby objects (locality),
a few routine objects are needed again and again (hot set), and now and then it scans a
cabinet or a shelf and sees many objects it will never need (one-off scans, which flush
recency-only policies). Each "need" is a lookup that hits or misses; the robot then goes to the
object and observes it whatever the outcome, so the trace is the same for every policy.

Run: ``embodied-memory bench stm --json`` or ``python -m benchmarks.stm``.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass

from scene_graph.ontology import OBJECT_TYPES, ROOM_KINDS
from scene_graph.short_term import POLICIES, MemoryUnit, ShortTermMemory

CAPACITIES = [5, 10, 15, 20, 25]
HOT_TYPES = ("Mug", "Apple", "Knife", "CellPhone", "RemoteControl", "KeyChain")


@dataclass(frozen=True)
class TraceEvent:
    kind: str  # "observe" or "need"
    object_id: str
    object_type: str


def make_trace(steps: int, seed: int) -> list[TraceEvent]:
    """A robot's day: room stays, local glances, routine needs and one-off scans."""
    rng = random.Random(seed)
    home = {
        room: [f"{t}|{room}|{n}" for t in sorted(OBJECT_TYPES)
               if OBJECT_TYPES[t].pickupable and room in OBJECT_TYPES[t].rooms for n in range(2)]
        for room in ROOM_KINDS
    }
    everything = [o for objects in home.values() for o in objects]
    hot = [o for o in everything if o.split("|")[0] in HOT_TYPES and o.endswith("|0")]
    room = "Kitchen"
    recent: list[str] = []
    scans = 0
    trace: list[TraceEvent] = []

    def event(kind: str, object_id: str) -> None:
        trace.append(TraceEvent(kind, object_id, object_id.split("|")[0]))
        if kind == "observe":
            recent.append(object_id)
            del recent[:-8]

    for _ in range(steps):
        if rng.random() < 0.08:
            room = rng.choice(ROOM_KINDS)
        focus = home[room][: max(3, len(home[room]) // 3)] if rng.random() < 0.7 else home[room]
        for object_id in rng.sample(focus, k=min(len(focus), rng.randint(1, 2))):
            event("observe", object_id)
        if rng.random() < 0.06:  # open a drawer or sweep a shelf: objects never needed again
            scans += 1
            for n in range(rng.randint(5, 10)):
                event("observe", f"Box|scan{scans}|{n}")
        if rng.random() < 0.35:
            draw = rng.random()
            wanted = rng.choice(hot) if draw < 0.5 else rng.choice(recent) if draw < 0.8 else rng.choice(everything)
            event("need", wanted)
            event("observe", wanted)
    return trace


def replay(trace: list[TraceEvent], policy: str, capacity: int) -> float:
    stm = ShortTermMemory(capacity, policy=policy)
    for stamp, e in enumerate(trace):
        if e.kind == "need":
            stm.lookup(e.object_id)
        else:
            stm.add(MemoryUnit(e.object_id, e.object_type, (0.0, 0.0, 0.0), float(stamp)))
    return stm.hit_rate


def run(quick: bool = False) -> dict:
    seeds = [0] if quick else [0, 1, 2]
    steps = 600 if quick else 2000
    traces = [make_trace(steps, seed) for seed in seeds]
    policies = list(POLICIES)
    hit_rate = {
        p: [round(sum(replay(t, p, c) for t in traces) / len(traces), 4) for c in CAPACITIES] for p in policies
    }
    baseline = hit_rate["fifo_merge"]
    return {
        "benchmark": "stm",
        "policies": policies,
        "capacities": CAPACITIES,
        "hit_rate": hit_rate,
        "ratio_vs_fifo_merge": {p: [round(h / b, 3) if b else None for h, b in zip(rates, baseline)]
                                for p, rates in hit_rate.items()},
        "trace": {
            "seeds": seeds,
            "steps_per_trace": steps,
            "events_per_trace": round(sum(len(t) for t in traces) / len(traces)),
            "needs_per_trace": round(sum(e.kind == "need" for t in traces for e in t) / len(traces)),
            "description": "synthetic household day: room stays with local glances, 6 hot routine objects, "
                           "one-off drawer/shelf scans",
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
