"""What the browser view shows, without ROS or a browser: memory by sequence number, and the robot's path.

Both sources of the view feed this: a saved memory folder (its kept snapshots) and the live nodes
(a GetSnapshot for a late joiner, then every ``memory/graph_updates`` delta). Each state is the
whole memory after one sequence number, so the view can scroll back through history; states
share their unchanged records, so keeping a few thousand costs references, not copies.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from scene_graph.graph import SCHEMA_VERSION, SceneGraph
from scene_graph.records import AreaNode, GraphDelta, ObjectNode, Relation, RoomNode


@dataclass(frozen=True)
class MemoryState:
    """Memory's objects and relations as of ``sequence`` (``stamp``: when that change happened)."""

    sequence: int
    stamp: float
    objects: Mapping[str, ObjectNode]
    relations: frozenset[Relation]

    @classmethod
    def of_graph(cls, graph: SceneGraph, stamp: float = 0.0) -> "MemoryState":
        return cls(graph.sequence, stamp, {o.id: o for o in graph.objects()}, frozenset(graph.relations()))

    def apply(self, delta: GraphDelta) -> "MemoryState":
        """The state after ``delta`` (records are complete, so an upsert replaces)."""
        objects = dict(self.objects)
        for object_id in delta.removed_objects:
            objects.pop(object_id, None)
        objects.update((o.id, o) for o in delta.upserted_objects)
        relations = (self.relations - set(delta.removed_relations)) | set(delta.added_relations)
        return MemoryState(delta.sequence, delta.stamp, objects, frozenset(relations))

    def graph(self, rooms: Sequence[RoomNode] = (), areas: Sequence[AreaNode] = ()) -> SceneGraph:
        """This state as a SceneGraph, through the same path as a saved memory's load, so the project's
        query code (:class:`scene_graph.retrieval.MemoryRetriever`) answers over it."""
        known = set(self.objects)
        return SceneGraph.from_snapshot({
            "schema_version": SCHEMA_VERSION, "sequence": self.sequence, "next_object_index": 0,
            "rooms": [r.to_dict() for r in rooms], "areas": [a.to_dict() for a in areas],
            "objects": [self.objects[i].to_dict() for i in sorted(self.objects)],
            "relations": [[r.subject, r.predicate, r.object] for r in sorted(self.relations)
                          if r.subject in known and r.object in known],
        })


class MemoryTimeline:
    """The last ``keep`` states of memory, by sequence number, plus the layout (rooms and areas).

    The layout has no sequence of its own on the topics (it comes on ``layout`` or with a
    snapshot), so every state is drawn with the newest layout.
    """

    def __init__(self, keep: int = 5000) -> None:
        self._states: deque[MemoryState] = deque(maxlen=keep)
        self.rooms: tuple[RoomNode, ...] = ()
        self.areas: tuple[AreaNode, ...] = ()
        self.gaps = 0  # deltas that did not follow the newest state (a snapshot must fill them)

    @property
    def latest(self) -> Optional[MemoryState]:
        return self._states[-1] if self._states else None

    def sequences(self) -> list[int]:
        return [s.sequence for s in self._states]

    def states(self) -> list[MemoryState]:
        return list(self._states)

    def set_layout(self, rooms: Iterable[RoomNode], areas: Iterable[AreaNode]) -> None:
        self.rooms, self.areas = tuple(rooms), tuple(areas)

    def add_state(self, state: MemoryState) -> None:
        """A complete state (a snapshot); one older than the newest is dropped with the history after
        it only when memory went back (a restart or a load under a lower sequence)."""
        while self._states and self._states[-1].sequence >= state.sequence:
            self._states.pop()
        self._states.append(state)

    def apply(self, delta: GraphDelta) -> bool:
        """Apply the next delta; False when it does not follow the newest state (no state yet, or a
        gap): the caller then asks for a snapshot. A delta already applied is ignored (True)."""
        if delta.upserted_rooms or delta.upserted_areas or delta.removed_rooms or delta.removed_areas:
            self.set_layout(delta.upserted_rooms or self.rooms, delta.upserted_areas or self.areas)
        latest = self.latest
        if latest is not None and delta.sequence <= latest.sequence:
            return True
        if latest is None or delta.sequence != latest.sequence + 1:
            self.gaps += 1
            return False
        self._states.append(latest.apply(delta))
        return True

    def at(self, sequence: int) -> Optional[MemoryState]:
        """The newest state at or before ``sequence`` (the oldest kept one if all are later)."""
        found = None
        for state in self._states:
            if state.sequence > sequence:
                break
            found = state
        return found or (self._states[0] if self._states else None)


@dataclass(frozen=True)
class PoseSample:
    stamp: float
    position: tuple[float, float, float]
    wxyz: tuple[float, float, float, float]


class RobotTrack:
    """The robot's poses, thinned to one every ``spacing`` metres (plus the newest), at most ``keep``."""

    def __init__(self, spacing: float = 0.05, keep: int = 20000) -> None:
        self.spacing = spacing
        self._samples: deque[PoseSample] = deque(maxlen=keep)
        self.latest: Optional[PoseSample] = None

    def add(self, sample: PoseSample) -> bool:
        """Record a pose; True when it moved the path (not just the newest pose)."""
        if not all(math.isfinite(v) for v in sample.position + sample.wxyz):
            return False
        self.latest = sample
        if self._samples and math.dist(self._samples[-1].position[:2], sample.position[:2]) < self.spacing:
            return False
        self._samples.append(sample)
        return True

    def until(self, stamp: Optional[float] = None) -> list[PoseSample]:
        """The path up to ``stamp`` (all of it with None)."""
        return [s for s in self._samples if stamp is None or s.stamp <= stamp]
