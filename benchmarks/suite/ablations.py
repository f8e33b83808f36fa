"""Memory ablations as views: what the planner may read of one and the same robot memory.

Every ablation runs on a fork of the same robot at the same moment, so a task's no-memory run is
its exact baseline. What the robot perceives *during* the task is always readable (its eyes
work in every ablation); what differs is what it may remember from before the task:

- ``none``: nothing;
- ``ltm``: the long-term scene graph (the prompt without recent observations);
- ``stm``: only the objects resident in the short-term buffer (with what holds them);
- ``both``: everything, with the task subgraph in the prompt;
- ``both_whole``: everything, with the whole graph in the prompt (KARMA's prompt).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from benchmarks.stm import CAPACITIES, TraceEvent, replay
from planners.interfaces import KnownObject, MemoryAccess, SubgraphText, by_id
from scene_graph.short_term import POLICIES
from scene_graph.tokens import count_tokens


@dataclass(frozen=True)
class Ablation:
    name: str
    title: str
    long_term: bool
    short_term: bool
    whole_graph: bool = False


ABLATIONS = {a.name: a for a in (
    Ablation("none", "no memory", False, False),
    Ablation("ltm", "long-term only", True, False),
    Ablation("stm", "short-term only", False, True),
    Ablation("both", "both (task subgraph)", True, True),
    Ablation("both_whole", "both (whole graph)", True, True, whole_graph=True),
)}
BASELINE = "none"
FULL = "both"


class MemoryView:
    """MemoryAccess for one ablation over the robot's full memory.

    ``since`` is the task's start: objects seen after it are perception, not memory.
    """

    def __init__(self, memory: MemoryAccess, ablation: Ablation, since: float, held: str,
                 short_term_ids: Callable[[], set[str]], whole_graph: Callable[[], str]) -> None:
        self.memory = memory
        self.ablation = ablation
        self.since = since
        self.held = held
        self.short_term_ids = short_term_ids
        self.whole_graph = whole_graph
        self.graph_tokens = 0  # memory text put in prompts, the part SayPlan's 0.2x is about
        self.whole_graph_tokens = 0  # the whole graph at the same planner calls (subgraph ablations only)

    def objects(self) -> list[KnownObject]:
        everything = self.memory.objects()
        if self.ablation.long_term:
            return everything
        resident = self.short_term_ids() if self.ablation.short_term else set()
        known = by_id(everything)
        shown = {o.id for o in everything if o.last_seen >= self.since or o.id in resident or o.id == self.held}
        for object_id in list(shown):  # what holds a shown object is part of seeing it
            holder = known[object_id].holder
            while holder and holder in known and holder not in shown:
                shown.add(holder)
                holder = known[holder].holder
        return [o for o in everything if o.id in shown]

    def task_subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        sub = self._subgraph(instruction, budget_tokens)
        self.graph_tokens += sub.tokens
        if self.ablation.long_term and not self.ablation.whole_graph:  # what the subgraph was cut from
            self.whole_graph_tokens += count_tokens(self.whole_graph())
        return sub

    def _subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        if self.ablation.whole_graph:
            text = self.whole_graph()
            return SubgraphText(text, count_tokens(text), tuple(o.id for o in self.memory.objects()))
        if self.ablation.long_term:
            return self.memory.task_subgraph(instruction, budget_tokens)
        objects = self.objects()
        text = "\n".join(_line(o) for o in objects)
        return SubgraphText(text, count_tokens(text), tuple(o.id for o in objects))

    def short_term(self, instruction: str, k: int) -> list[str]:
        return self.memory.short_term(instruction, k) if self.ablation.short_term else []

    def mark_missing(self, object_id: str) -> None:
        self.memory.mark_missing(object_id)

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        self.memory.placed(object_id, holder_id, inside)

    def refresh(self) -> None:
        self.memory.refresh()


def _line(o: KnownObject) -> str:
    """KARMA's node line for an object the robot sees or recently saw."""
    fields = [f"name: {o.id}", f"type: {o.label}", f"room: {o.room_id}"]
    if o.holder:
        fields.append(f"{'in' if o.inside else 'on'}: {o.holder}")
    if o.states:
        fields.append("states: [" + ", ".join(f"{k}: {v}" for k, v in o.states) + "]")
    return "{" + ", ".join(fields) + "}"


def policy_sweep(traces: list[list[TraceEvent]]) -> dict[str, dict[int, float]]:
    """Short-term hit rate per policy and capacity, replaying the episodes' real traffic:
    every object the camera saw, and every object type a task needed."""
    out: dict[str, dict[int, float]] = {}
    for policy in POLICIES:
        out[policy] = {}
        for capacity in CAPACITIES:
            rates = [replay(t, policy, capacity) for t in traces if any(e.kind == "need" for e in t)]
            out[policy][capacity] = sum(rates) / len(rates) if rates else float("nan")
    return out
