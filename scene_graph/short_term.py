"""KARMA's short-term memory: a small buffer of recent object observations and state changes.

The buffer holds one unit per object id (a newer unit merges into the older one) and a
replacement policy decides what leaves when it is full. Policies are small classes behind one
protocol, keyed by object id, so their eviction order can be checked on scripted traces and the
benchmark can compare them on the same replayed trace. Retrieval ranks units by cosine similarity
between the instruction and each unit's text, as KARMA does; state changes that were confirmed
are written back to the long-term scene graph by :meth:`ShortTermMemory.consolidate`.
"""
from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional, Protocol, Sequence

import numpy as np

from scene_graph.embeddings import MiniLMEmbedder, TextEmbedder
from scene_graph.ontology import canonical_type
from scene_graph.records import VISIBLE, ObjectNode, StateValue
from scene_graph.serialize import instruction_types

log = logging.getLogger(__name__)

UNIT_KINDS = ("observation", "state_change")


@dataclass(frozen=True)
class MemoryUnit:
    """One observation of an object, or one change of its state made or seen by the robot."""

    object_id: str
    object_type: str
    position: tuple[float, float, float]
    stamp: float
    kind: str = "observation"
    state: tuple[tuple[str, StateValue], ...] = ()
    image_ref: Optional[str] = None
    text: Optional[str] = None
    receptacle: Optional[str] = None
    confirmed: bool = False  # the caller vouches for a state change (e.g. the skill reported success)

    def __post_init__(self) -> None:
        if self.kind not in UNIT_KINDS:
            raise ValueError(f"unit kind must be one of {UNIT_KINDS}, not {self.kind!r}")
        object.__setattr__(self, "position", tuple(float(v) for v in self.position))
        object.__setattr__(self, "state", tuple(sorted(((str(n), v) for n, v in self.state), key=lambda p: p[0])))

    def state_dict(self) -> dict[str, StateValue]:
        return dict(self.state)

    def describe(self) -> str:
        """Text to embed, e.g. "Apple sliced at (1.20, 0.30, 0.90) in Fridge" (``text`` wins if set)."""
        if self.text:
            return self.text
        words = " ".join(w for w in (_state_word(n, v) for n, v in self.state) if w)
        x, y, z = self.position
        where = f" in {self.receptacle}" if self.receptacle else ""
        return f"{self.object_type}{' ' + words if words else ''} at ({x:.2f}, {y:.2f}, {z:.2f}){where}"


LOCATION_CHANGES = ("position", "parent", "picked_up")
"""Changes of where an object is: perception owns them, memory never consolidates them as states."""


def change_unit(object_id: str, object_type: str, position: Sequence[float], stamp: float, state: str,
                value: StateValue, confirmed: bool, image_ref: Optional[str] = None) -> MemoryUnit:
    """A reported state change as a unit. A :data:`LOCATION_CHANGES` unit carries no state (a new
    parent becomes its receptacle). ``confirmed``: the reporter vouches for it (the robot's own
    skill succeeded)."""
    x, y, z = position
    return MemoryUnit(object_id, object_type, (x, y, z), stamp, kind="state_change",
                      state=() if state in LOCATION_CHANGES else ((state, value),), image_ref=image_ref,
                      receptacle=(str(value) or None) if state == "parent" else None, confirmed=confirmed)


def observation_units(objects: Iterable[ObjectNode], stamp: float) -> list[MemoryUnit]:
    """Units for what a graph update stamped ``stamp`` says the camera saw: visible objects last seen
    in that frame (not those an update only re-derived), in the update's order. Keyed by the
    source's id when they have one, so that they meet the state changes it reports under that id."""
    return [MemoryUnit(o.external_id or o.id, o.label, o.centroid, stamp, kind="observation", state=o.states)
            for o in objects if o.status == VISIBLE and o.last_seen >= stamp]


_BOOLEAN_WORDS = {"open": ("open", "closed"), "toggled": ("on", "off"), "dirty": ("dirty", "clean")}


def _state_word(name: str, value: StateValue) -> str:
    """KARMA-style state words; unremarkable states (not sliced, room temperature) say nothing."""
    if name in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[name][0 if value else 1]
    if name == "temperature":
        return "" if value == "room" else str(value)
    if isinstance(value, bool):
        return name.replace("_", " ") if value else ""
    return f"{name.replace('_', ' ')} {value}"


# --- replacement policies -------------------------------------------------------------------


class ReplacementPolicy(Protocol):
    """Decides which object id leaves a full buffer. Keys are object ids."""

    capacity: int

    def __len__(self) -> int: ...

    def contains(self, key: str) -> bool: ...

    def access(self, key: str) -> None:
        """A reference to ``key`` (a hit, or a miss when not resident: frequency policies count it)."""

    def insert(self, key: str) -> Optional[str]:
        """Admit a non-resident key; return the evicted key (possibly ``key`` itself) or None."""

    def evict(self) -> str:
        """Remove and return the policy's current victim."""


class _OrderedPolicy:
    """A policy whose victim is the head of one ordered dict; subclasses say how uses reorder it."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._order: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._order)

    def contains(self, key: str) -> bool:
        return key in self._order

    def access(self, key: str) -> None:
        """FIFO: uses do not reorder, so a merged unit keeps its place in the queue."""

    def insert(self, key: str) -> Optional[str]:
        if key in self._order:
            raise KeyError(f"{key!r} is already resident")
        victim = self.evict() if len(self._order) >= self.capacity else None
        self._order[key] = None
        return victim

    def evict(self) -> str:
        return self._order.popitem(last=False)[0]


class FifoMergePolicy(_OrderedPolicy):
    """KARMA's baseline: first in, first out; the buffer merges same-id units in place."""


class LruPolicy(_OrderedPolicy):
    """Least recently used leaves first."""

    def access(self, key: str) -> None:
        if key in self._order:
            self._order.move_to_end(key)


class LfuPolicy(_OrderedPolicy):
    """Least frequently used (since admission) leaves first; ties go to the least recently used."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._uses: dict[str, int] = {}

    def access(self, key: str) -> None:
        if key in self._order:
            self._uses[key] += 1
            self._order.move_to_end(key)

    def insert(self, key: str) -> Optional[str]:
        victim = super().insert(key)
        self._uses[key] = 1
        return victim

    def evict(self) -> str:
        victim = min(self._order, key=self._uses.__getitem__)  # first minimum = least recent
        del self._order[victim], self._uses[victim]
        return victim


class CountMinSketch:
    """Approximate reference counts in a few hashed rows of small saturating counters.

    Every ``sample_size`` increments all counters halve, so old popularity fades (TinyLFU's aging).
    Hashes come from blake2b, not ``hash()``, so counts are reproducible across processes.
    """

    def __init__(self, width: int, depth: int = 4, sample_size: int = 100, max_count: int = 15) -> None:
        self.width, self.depth, self.sample_size, self.max_count = width, depth, sample_size, max_count
        self._table = np.zeros((depth, width), dtype=np.uint8)
        self._additions = 0

    def _cells(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        h1, h2 = int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little") | 1
        return np.arange(self.depth), np.array([(h1 + i * h2) % self.width for i in range(self.depth)])

    def increment(self, key: str) -> None:
        rows, cols = self._cells(key)
        cells = self._table[rows, cols]
        self._table[rows, cols] = np.minimum(cells + 1, self.max_count)
        self._additions += 1
        if self._additions >= self.sample_size:
            self._table >>= 1
            self._additions //= 2

    def estimate(self, key: str) -> int:
        rows, cols = self._cells(key)
        return int(self._table[rows, cols].min())


class WTinyLfuPolicy:
    """W-TinyLFU: an LRU window in front of a segmented LRU, guarded by a frequency sketch.

    New keys enter the window. A key pushed out of the window competes with the main segment's
    victim (the probation LRU end) and is admitted only if the sketch says it is referenced more
    often, so a scan of one-off objects cannot flush frequently needed ones. A hit in probation
    promotes to protected; protected overflow demotes back to probation.
    """

    def __init__(
        self,
        capacity: int,
        window_fraction: float = 0.2,
        protected_fraction: float = 0.8,
        sample_factor: int = 10,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not 0.0 < window_fraction <= 1.0 or not 0.0 < protected_fraction <= 1.0:
            raise ValueError("window_fraction and protected_fraction must be in (0, 1]")
        self.capacity = capacity
        self.window_capacity = min(capacity, max(1, round(capacity * window_fraction)))
        self.main_capacity = capacity - self.window_capacity
        self.protected_capacity = min(self.main_capacity, max(1, round(self.main_capacity * protected_fraction)))
        self._window: OrderedDict[str, None] = OrderedDict()
        self._probation: OrderedDict[str, None] = OrderedDict()
        self._protected: OrderedDict[str, None] = OrderedDict()
        width = 1 << max(4, (4 * capacity - 1).bit_length())
        self.sketch = CountMinSketch(width, sample_size=sample_factor * capacity)

    def __len__(self) -> int:
        return len(self._window) + len(self._probation) + len(self._protected)

    def contains(self, key: str) -> bool:
        return key in self._window or key in self._probation or key in self._protected

    def access(self, key: str) -> None:
        self.sketch.increment(key)
        if key in self._window:
            self._window.move_to_end(key)
        elif key in self._protected:
            self._protected.move_to_end(key)
        elif key in self._probation:
            del self._probation[key]
            self._protected[key] = None
            if len(self._protected) > self.protected_capacity:
                self._probation[self._protected.popitem(last=False)[0]] = None

    def insert(self, key: str) -> Optional[str]:
        if self.contains(key):
            raise KeyError(f"{key!r} is already resident")
        self.sketch.increment(key)
        self._window[key] = None
        if len(self._window) <= self.window_capacity:
            return None
        candidate = self._window.popitem(last=False)[0]
        if self.main_capacity == 0:
            return candidate
        if len(self._probation) + len(self._protected) < self.main_capacity:
            self._probation[candidate] = None
            return None
        victim = next(iter(self._probation or self._protected))
        if self.sketch.estimate(candidate) <= self.sketch.estimate(victim):
            return candidate
        self.evict()
        self._probation[candidate] = None
        return victim

    def evict(self) -> str:
        for segment in (self._probation, self._protected, self._window):
            if segment:
                return segment.popitem(last=False)[0]
        raise KeyError("evict from an empty policy")


POLICIES: dict[str, type] = {
    "fifo_merge": FifoMergePolicy,
    "lru": LruPolicy,
    "lfu": LfuPolicy,
    "w_tinylfu": WTinyLfuPolicy,
}


def make_policy(name: str, capacity: int, **options: Any) -> ReplacementPolicy:
    """Build a replacement policy by name (see ``POLICIES``); options go to its constructor."""
    if name not in POLICIES:
        raise ValueError(f"unknown replacement policy {name!r}; choose one of {', '.join(POLICIES)}")
    return POLICIES[name](capacity, **options)


# --- the buffer -----------------------------------------------------------------------------


class StateSink(Protocol):
    """The part of the long-term scene graph that consolidation writes to."""

    def set_object_state(self, object_id: str, state: str, value: StateValue, stamp: float) -> bool: ...


@dataclass(frozen=True)
class PendingChange:
    """A reported state change not yet written to long-term memory, with its supporting reports."""

    value: StateValue
    stamp: float
    support: int
    vouched: bool


class ShortTermMemory:
    """Bounded buffer of :class:`MemoryUnit` keyed by object id, with retrieval and consolidation.

    A state change is confirmed once ``confirm_after`` reports agree on it (the change itself plus
    later observations or repeated changes showing the same value) or once the caller vouches for
    it; a later observation showing a different value cancels it.
    """

    def __init__(
        self,
        capacity: int = 10,
        policy: str = "fifo_merge",
        embedder: Optional[TextEmbedder] = None,
        confirm_after: int = 2,
        **policy_options: Any,
    ) -> None:
        self.policy_name = policy
        self._policy_options = policy_options
        self._policy = make_policy(policy, capacity, **policy_options)
        self._embedder = embedder
        self.confirm_after = confirm_after
        self._units: dict[str, MemoryUnit] = {}
        self._vectors: dict[str, tuple[str, np.ndarray]] = {}  # object id -> (text, embedding)
        self._pending: dict[tuple[str, str], PendingChange] = {}  # (object id, state name) -> change
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every unit, pending change and counter; the policy starts afresh."""
        self._policy = make_policy(self.policy_name, self.capacity, **self._policy_options)
        self._units.clear()
        self._vectors.clear()
        self._pending.clear()
        self.hits = self.misses = 0

    @property
    def capacity(self) -> int:
        return self._policy.capacity

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:  # lazily: buffering alone never loads the model
            self._embedder = MiniLMEmbedder()
        return self._embedder

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self._units

    def units(self) -> tuple[MemoryUnit, ...]:
        return tuple(self._units.values())

    def get(self, object_id: str) -> Optional[MemoryUnit]:
        """Peek without counting a hit or touching the policy."""
        return self._units.get(object_id)

    def add(self, unit: MemoryUnit) -> Optional[MemoryUnit]:
        """Buffer ``unit`` (merging into a resident unit of the same object); return what was evicted.

        W-TinyLFU may refuse a newcomer, so the returned unit can be ``unit`` itself.
        """
        self._track_state(unit)
        old = self._units.get(unit.object_id)
        if old is not None:
            self._units[unit.object_id] = _merge(old, unit)
            self._policy.access(unit.object_id)
            return None
        self._units[unit.object_id] = unit
        victim_id = self._policy.insert(unit.object_id)
        return self._forget(victim_id) if victim_id is not None else None

    def _forget(self, object_id: str) -> MemoryUnit:
        """Drop an evicted unit; its confirmed pending changes stay until consolidated."""
        self._vectors.pop(object_id, None)
        for key in [k for k in self._pending if k[0] == object_id]:
            if not self._is_confirmed(self._pending[key]):
                del self._pending[key]
        log.debug("short-term memory evicted %s", object_id)
        return self._units.pop(object_id)

    def _track_state(self, unit: MemoryUnit) -> None:
        for name, value in unit.state:
            key = (unit.object_id, name)
            pending = self._pending.get(key)
            if pending is not None and pending.value == value:
                self._pending[key] = replace(
                    pending, stamp=max(pending.stamp, unit.stamp), support=pending.support + 1,
                    vouched=pending.vouched or unit.confirmed,
                )
            elif unit.kind == "state_change":
                self._pending[key] = PendingChange(value, unit.stamp, 1, unit.confirmed)
            elif pending is not None and not pending.vouched:
                # A vouched change (the robot's own skill succeeded) stands: an observation that
                # disagrees before consolidation is memory's old belief echoed back, not news.
                log.debug("observation of %s cancels pending %s=%r", unit.object_id, name, pending.value)
                del self._pending[key]

    def _is_confirmed(self, change: PendingChange) -> bool:
        return change.vouched or change.support >= self.confirm_after

    def lookup(self, query: str) -> tuple[MemoryUnit, ...]:
        """Find units by object id, else by object type; counts one hit or miss for the hit rate."""
        if query in self._units:
            found: tuple[MemoryUnit, ...] = (self._units[query],)
        else:
            wanted = canonical_type(query)
            found = tuple(u for u in self._units.values() if u.object_type == (wanted or query))
            if not found and wanted is None:
                self._policy.access(query)  # an id that missed still counts for frequency policies
        if found:
            self.hits += 1
            for unit in found:
                self._policy.access(unit.object_id)
        else:
            self.misses += 1
        return found

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def retrieve(self, instruction: str, k: int = 3) -> list[tuple[MemoryUnit, float]]:
        """Top-``k`` units by cosine similarity to the instruction; each returned unit counts as used."""
        if k <= 0 or not self._units:
            return []
        units = list(self._units.values())
        texts = [u.describe() for u in units]
        stale = [i for i, (u, t) in enumerate(zip(units, texts)) if self._vectors.get(u.object_id, ("",))[0] != t]
        if stale:
            fresh = self.embedder.embed([texts[i] for i in stale])
            for i, vector in zip(stale, fresh):
                self._vectors[units[i].object_id] = (texts[i], vector)
        matrix = np.stack([self._vectors[u.object_id][1] for u in units])
        scores = matrix @ self.embedder.embed([instruction])[0]
        best = np.argsort(-scores, kind="stable")[:k]
        for i in best:
            self._policy.access(units[i].object_id)
        return [(units[i], float(scores[i])) for i in best]

    def query(self, instruction: str, k: int) -> list[tuple[MemoryUnit, float]]:
        """What a planner asks for, by the one rule both runtimes follow: an empty instruction gets
        the newest ``k`` units (score 1, nothing counted); otherwise each object type the instruction
        names is looked up first (a hit or a miss for the hit rate, a use for the policy), then the
        top-``k`` units by similarity are returned (:meth:`retrieve`)."""
        if not instruction.strip():
            return [(u, 1.0) for u in sorted(self._units.values(), key=lambda u: -u.stamp)[:k]]
        for object_type in instruction_types(instruction):
            self.lookup(object_type)
        return self.retrieve(instruction, k)

    def pending_changes(self) -> dict[tuple[str, str], PendingChange]:
        return dict(self._pending)

    def consolidate(self, graph: StateSink) -> int:
        """Write confirmed state changes to long-term memory; returns how many the graph accepted.

        Changes to objects the graph does not know are dropped (logged): the scene graph owns
        object identity, and retrying them forever would let the pending set grow without bound.
        """
        applied = 0
        for (object_id, name), change in list(self._pending.items()):
            if not self._is_confirmed(change):
                continue
            del self._pending[(object_id, name)]
            if graph.set_object_state(object_id, name, change.value, change.stamp):
                applied += 1
            else:  # ordinary: a skill changes what the camera never saw (a fridge cools what it holds)
                log.debug("long-term memory has no object %s; dropped %s=%r", object_id, name, change.value)
        return applied


def _merge(old: MemoryUnit, new: MemoryUnit) -> MemoryUnit:
    """The newer unit wins, but keeps state names and the image it does not report itself."""
    state = {**old.state_dict(), **new.state_dict()}
    return replace(new, state=tuple(state.items()), image_ref=new.image_ref or old.image_ref)
