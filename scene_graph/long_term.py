"""Long-term memory as one object: graph, fusion, retrieval, prompts and named snapshots together.

The ROS node, the demo and the benchmarks all need the same assembly and the same rules for
loading (into the running graph, so deltas stay continuous), clearing and periodic saving; keeping
it here keeps the node a file of wiring. Not thread-safe: the owner serialises calls.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Optional, Sequence

from scene_graph.admission import AdmissionLimits, FrameAdmission, Inadmissible, check_layout, resume_stamp
from scene_graph.frames import RGBDFrame
from scene_graph.fusion import FrameReport, Fusion, FusionConfig
from scene_graph.graph import SceneGraph
from scene_graph.records import MISSING, AreaNode, GraphDelta, RoomNode, ScoredObject, StateValue
from scene_graph.retrieval import MemoryRetriever, NoTextIndex, ObjectIndex
from scene_graph.serialize import SubgraphPrompt, task_subgraph, whole_graph_text
from scene_graph.short_term import LOCATION_CHANGES
from scene_graph.store import SEQUENCE_LEASE, LoadedMemory, MemoryStore, NoSnapshot, PeriodicSnapshot
from scene_graph.tokens import count_tokens

log = logging.getLogger(__name__)


# A confirmed change whose state is STATUS and value MISSING is a correction: the object is not
# where memory says (the planner looked). Every other state is the object's own.
STATUS = "status"


class ChangeOutcome(Enum):
    """What long-term memory did with one confirmed change."""

    APPLIED = "applied"  # the object's state was set (or already held)
    MARKED_MISSING = "marked_missing"  # a correction: the object is missing now
    LOCATION_IGNORED = "location_ignored"  # where things are is perception's, never a reported change's
    UNSEEN_OBJECT = "unseen_object"  # ordinary: a skill changed what the camera never saw; dropped
    UNKNOWN_OBJECT = "unknown_object"  # a correction for an object memory does not hold: bad input


def apply_confirmed_change(graph: SceneGraph, object_id: str, state: str, value: StateValue,
                           stamp: float) -> ChangeOutcome:
    """Route one confirmed change (short-term memory's consolidation, or a correction) into ``graph``.

    ``object_id`` is a memory id or a source's external id for a state; a correction names a memory id.
    """
    if state == STATUS and value == MISSING:
        return ChangeOutcome.MARKED_MISSING if graph.mark_missing(object_id, stamp) else ChangeOutcome.UNKNOWN_OBJECT
    if state in LOCATION_CHANGES or state == STATUS:
        return ChangeOutcome.LOCATION_IGNORED
    if graph.set_state_of(object_id, state, value, stamp):
        return ChangeOutcome.APPLIED
    log.debug("long-term memory has no object %s; dropped %s=%r", object_id, state, value)
    return ChangeOutcome.UNSEEN_OBJECT


class InputOrder:
    """Memory's timeline: a frame is fused only if it is stamped after the last fused one (a repeat
    or an older frame is a replay, or a stream from another timeline).

    After a load or clear (:meth:`restart`), memory's time is the loaded memory's newest sighting,
    never ahead of the owner's clock: frames from then on are new (a simulator restored to an earlier
    moment, a bag played again), and a memory saved with a future stamp cannot make every real frame stale.
    """

    def __init__(self) -> None:
        self.last_stamp = -1.0

    def refusal(self, stamp: float) -> str:
        """Why a frame stamped ``stamp`` is refused; "" when it may be fused."""
        if stamp <= 0.0:
            return "zero stamp"
        if stamp <= self.last_stamp:
            return f"stale: stamp {stamp:.3f} is not after the last frame's"
        return ""

    def fused(self, stamp: float) -> None:
        self.last_stamp = stamp

    def restart(self, graph: SceneGraph, now: float = 0.0) -> None:
        """``now``: the owner's clock (0 when unknown: no cap)."""
        self.last_stamp = resume_stamp((o.last_seen for o in graph.objects()), now)


def integrate_in_order(fusion: Fusion, order: InputOrder, frame: RGBDFrame) -> FrameReport:
    """Fuse ``frame`` if :class:`InputOrder` allows it (refused frames change nothing)."""
    refusal = order.refusal(frame.stamp)
    if refusal:
        return FrameReport(False, refusal)
    report = fusion.integrate(frame)
    if report.accepted:
        order.fused(frame.stamp)
    return report


@dataclass(frozen=True)
class LongTermConfig:
    memory_dir: Path
    name: str = "default"  # the memory saved to periodically and loaded on start
    load_on_start: bool = True
    snapshot_interval: float = 300.0  # seconds between full snapshots; 0 disables saving
    journal_interval: float = 1.0  # seconds between journal appends (0: full snapshots only)
    journal_max_bytes: int = 64 << 20  # a longer journal is compacted into a full snapshot early
    keep_snapshots: int = 5
    budget_tokens: int = 1500  # default task-subgraph budget
    fusion: FusionConfig = FusionConfig()
    trust_external_ids: bool = True  # see Fusion: off for trackers that reissue ids after losing a track
    admission: AdmissionLimits = AdmissionLimits()


class LongTermMemory:
    """Everything the long-term memory node serves, without ROS."""

    def __init__(self, config: LongTermConfig, index: Optional[ObjectIndex] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` paces periodic saving (a simulation's clock for an accelerated run)."""
        self.config = config
        self.store = MemoryStore(config.memory_dir, keep=config.keep_snapshots)
        loaded: Optional[LoadedMemory] = None
        if config.load_on_start:  # the loaded graph becomes memory itself: nothing is built twice
            try:
                loaded = self.store.load(config.name)
            except NoSnapshot:
                log.info("no saved memory %r yet in %s: starting empty", config.name, self.store.root)
        self.graph = loaded.graph if loaded is not None else SceneGraph()
        self.fusion = Fusion(self.graph, config.fusion, trust_external_ids=config.trust_external_ids)
        self.admission = FrameAdmission(config.admission, config.fusion.max_depth)
        self.admission.set_layout(self.graph.rooms(), self.graph.areas())
        self.retriever = MemoryRetriever(self.graph, index)
        if loaded is not None and loaded.embeddings is not None:
            self.retriever.restore(*loaded.embeddings)
        self._periodic = PeriodicSnapshot(
            self.store, lambda: self.graph, config.snapshot_interval, config.name,
            embeddings=self.retriever.embeddings, clock=clock, journal_interval=config.journal_interval,
            journal_max_bytes=config.journal_max_bytes) if config.snapshot_interval > 0 else None
        self.input = InputOrder()  # a process that starts takes the stream as it comes, loaded or not
        self.loaded_from = loaded.path if loaded is not None else None
        self._leased = 0
        if self._periodic is not None:  # memory kept on disk: delta numbers continue across restarts
            self._leased = self.store.reserved_sequence(config.name)
            self.graph.continue_sequence(self._leased)
            self.graph.subscribe(self._renew_lease)
            self.graph.subscribe(self._periodic.record)
            if loaded is not None:
                self._periodic.continue_from(loaded)
        if loaded is not None:
            log.info("loaded memory %r (%d objects, %d deltas from its journal) from %s", config.name,
                     len(self.graph), loaded.replayed, loaded.path)

    # ------------------------------------------------------------------ updates
    def _renew_lease(self, delta: GraphDelta) -> None:
        if delta.sequence >= self._leased:
            try:
                self.store.reserve_sequence(self.config.name, delta.sequence + SEQUENCE_LEASE)
            except OSError as exc:  # a full disk must not stop fusion; the next delta tries again
                log.error("cannot record the sequence lease: %s", exc)
                return
            self._leased = delta.sequence + SEQUENCE_LEASE

    def subscribe(self, listener: Callable[[GraphDelta], None]) -> None:
        self.graph.subscribe(listener)

    def integrate(self, frame: RGBDFrame, now: float = 0.0) -> FrameReport:
        """Fuse a frame that passes admission (``now``: the owner's clock, 0 when unknown), in stamp
        order (:class:`InputOrder`)."""
        admitted, reason = self.admission.admit(frame, now)
        if admitted is None:
            return FrameReport(accepted=False, reason=reason)
        return integrate_in_order(self.fusion, self.input, admitted)

    def set_layout(self, rooms: Sequence[RoomNode], areas: Sequence[AreaNode], stamp: float = 0.0) -> None:
        """Replace rooms and areas; raises Inadmissible (memory unchanged) for absurd coordinates or names."""
        reason = check_layout(rooms, areas, self.config.admission)
        if reason:
            raise Inadmissible(self.admission.count(reason))
        self.graph.set_layout(rooms, areas, stamp)
        self.admission.set_layout(rooms, areas)

    def apply_confirmed_change(self, object_id: str, state: str, value: StateValue, stamp: float) -> ChangeOutcome:
        """:func:`apply_confirmed_change` on this memory."""
        return apply_confirmed_change(self.graph, object_id, state, value, stamp)

    def mark_missing(self, object_id: str, stamp: float) -> bool:
        """The correction "not where memory said" for memory id ``object_id``; False for an unknown id."""
        return self.apply_confirmed_change(object_id, STATUS, MISSING, stamp) is ChangeOutcome.MARKED_MISSING

    def place(self, object_id: str, holder_id: str, inside: bool, stamp: float) -> bool:
        """The robot's own news "I put it there" (:meth:`SceneGraph.place_object`); False for an unknown id."""
        return self.graph.place_object(object_id, holder_id, inside, stamp)

    def tick(self) -> Optional[Path]:
        """Journal append or full snapshot when due and memory changed; call from the owner's timer
        (at least as often as the journal interval)."""
        return self._periodic.tick() if self._periodic is not None else None

    def begin_tick(self) -> Optional[Callable[[], Path]]:
        """:meth:`tick` in two parts (:meth:`PeriodicSnapshot.begin`): call this with memory held still;
        run what it returns (a full snapshot's write, seconds at 10k objects) after letting go."""
        return self._periodic.begin() if self._periodic is not None else None

    def flush(self) -> Optional[Path]:
        """Make memory durable now if it changed (on shutdown: a journal append when there is a
        journal, else a full snapshot); periodic saving must be on."""
        return self._periodic.tick(force=True) if self._periodic is not None else None

    # ------------------------------------------------------------------ queries
    def query(self, text: str = "", label: str = "", room: str = "", near: Optional[Sequence[float]] = None,
              radius: float = 0.0, since: Optional[float] = None, k: int = 10, state: str = "") -> list[ScoredObject]:
        """As :meth:`MemoryRetriever.query`; raises NoTextIndex for text without an index."""
        return self.retriever.query(text=text, label=label, room=room, near=near, radius=radius, since=since, k=k,
                                    state=state)

    def task_subgraph(self, instruction: str, budget_tokens: int = 0,
                      relevant_ids: Sequence[str] = ()) -> SubgraphPrompt:
        """The task's part of memory as prompt text; free text is matched through the index if any."""
        def related(text: str) -> list[str]:
            hits = [s.node.id for s in self.retriever.text(text, k=5)] if self.retriever.index is not None else []
            return list(relevant_ids) + hits

        return task_subgraph(self.graph, instruction, budget_tokens=budget_tokens or self.config.budget_tokens,
                             relevant_ids=related)

    def whole_graph(self) -> SubgraphPrompt:
        """KARMA-style: the whole memory as text, for comparison with the task subgraph."""
        text = whole_graph_text(self.graph)
        return SubgraphPrompt(text, count_tokens(text), tuple(o.id for o in self.graph.objects()), (), False)

    # ------------------------------------------------------------------ persistence
    def names(self) -> list[str]:
        return self.store.names()

    def save(self, name: str = "") -> Path:
        """A full snapshot under ``name``; under the periodic name through the periodic saver, so that
        its journal follows the newest snapshot."""
        if self._periodic is not None and (name or self.config.name) == self.config.name:
            return self._periodic.save_now()
        return self.store.save(self.graph, name or self.config.name, self.retriever.embeddings())

    def load(self, name: str = "", now: float = 0.0) -> LoadedMemory:
        """Load the newest good snapshot of ``name`` into the running graph (one delta).

        Raises NoSnapshot when there is none and InvalidName for a name with a path in it; on any
        error the running memory is unchanged. The input restarts on the loaded memory's time
        (capped at ``now``, the owner's clock).
        """
        loaded = self._load(name)
        self.input.restart(self.graph, now)
        return loaded

    def _load(self, name: str) -> LoadedMemory:
        loaded = self.store.load(name or self.config.name)
        source = loaded.graph
        self.graph.continue_sequence(source.sequence)
        self.graph.replace_with_records(
            source.rooms(), source.areas(), source.objects(), source.relations(), source.geometry(),
            source.next_object_index, parents={o.id: source.parent(o.id) or "" for o in source.objects()})
        self.admission.set_layout(self.graph.rooms(), self.graph.areas())
        self.retriever.graph = self.graph  # rebuild the index from the new contents on next use
        if loaded.embeddings is not None:
            self.retriever.restore(*loaded.embeddings)
        if self._periodic is not None:  # the running memory is no longer its journal's snapshot plus deltas
            self._periodic.invalidate()
        log.info("loaded memory %r (%d objects) from %s", name or self.config.name, len(self.graph), loaded.path)
        return loaded

    def clear(self, stamp: float = 0.0, now: float = 0.0) -> None:
        """Forget every object; rooms and areas stay, saved memories stay on disk. The input restarts."""
        self.graph.clear_objects(stamp)
        self.input.restart(self.graph, now)


__all__ = ["STATUS", "ChangeOutcome", "InputOrder", "LongTermConfig", "LongTermMemory", "NoTextIndex",
           "apply_confirmed_change", "integrate_in_order"]
