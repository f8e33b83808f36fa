"""The long-term memory: a layered 3D scene graph with sequence-numbered deltas.

Layers follow KARMA / Hydra: floor -> room -> area -> furniture -> object. In a building the root
holds one floor node per storey (the floors its rooms name) and rooms hang under theirs. Areas are patches of
reachable floor joined by "adjacent" edges where the robot can drive between them; every object
hangs under its container or support (IN beats ON) and otherwise under its nearest area. The
structure lives in a networkx MultiDiGraph (edge keys: "parent", "adjacent" and the relation
predicates); the records themselves are frozen dataclasses, and object geometry (downsampled
points) sits beside the graph so that copying a record never copies a point cloud.

Every mutation runs inside a transaction. When the outermost transaction ends with any change,
the sequence number goes up by one and one :class:`GraphDelta` is recorded (bounded history) and
handed to subscribers, so a frame of fusion becomes one delta, not fifty.

Lookups cost what they return, not the size of memory: every write of an object updates the
secondary indexes (label, room, external id, voted labels, status, time last changed:
:mod:`scene_graph.secondary`) and the spatial index over boxes and centroids
(:mod:`scene_graph.spatial`); rooms and areas are found through :class:`PlaceIndex`.
"""
from __future__ import annotations

import logging
from collections import defaultdict, deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import networkx as nx
import numpy as np

from scene_graph.records import (
    IN,
    MISSING,
    MOVED,
    ON,
    PREDICATES,
    AreaNode,
    GraphDelta,
    ObjectNode,
    OrientedBox,
    Relation,
    RoomNode,
    StateValue,
)
from scene_graph.relations import RelationConfig, relations_of
from scene_graph.secondary import ObjectIndexes, PlaceIndex
from scene_graph.spatial import SpatialIndex

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FLOOR = "floor"
PARENT, ADJACENT = "parent", "adjacent"


@dataclass
class _Pending:
    """Changes of the open transaction; opposite changes of one item cancel out."""

    stamp: float
    objects: dict[str, ObjectNode] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    added: set[Relation] = field(default_factory=set)
    dropped: set[Relation] = field(default_factory=set)
    layout: bool = False
    old_rooms: tuple[str, ...] = ()
    old_areas: tuple[str, ...] = ()

    def upsert(self, node: ObjectNode) -> None:
        self.removed.discard(node.id)
        self.objects[node.id] = node

    def remove(self, object_id: str) -> None:
        self.objects.pop(object_id, None)
        self.removed.add(object_id)

    def relate(self, relation: Relation, present: bool) -> None:
        gained, lost = (self.added, self.dropped) if present else (self.dropped, self.added)
        if relation in lost:
            lost.remove(relation)
        else:
            gained.add(relation)


def point_in_polygon(xy: Sequence[float], polygon: np.ndarray) -> bool:
    """Even-odd rule; points on an edge may fall either way."""
    x, y = float(xy[0]), float(xy[1])
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return bool(np.count_nonzero(crosses & (x < x_at)) % 2)


def grid_areas(
    rooms: Sequence[RoomNode],
    spacing: float = 1.0,
    is_free: Optional[Callable[[float, float], bool]] = None,
) -> list[AreaNode]:
    """Spread area nodes over each room's floor on a grid and join mutually reachable neighbours.

    ``is_free(x, y)`` says whether the robot can stand at a point (an occupancy map or the
    simulator's navmesh); it is also sampled along each candidate edge, which is how walls and
    doors enter: without it, rooms are only joined where their polygons touch.
    """
    free = is_free or (lambda x, y: True)
    polygons = [np.asarray(r.polygon, dtype=float) for r in rooms]

    def reachable(x: float, y: float) -> bool:
        return free(x, y) and any(point_in_polygon((x, y), p) for p in polygons)

    placed: list[tuple[str, float, float]] = []
    for room, polygon in zip(rooms, polygons):
        lo, hi = polygon.min(axis=0), polygon.max(axis=0)
        xs = np.arange(lo[0] + spacing / 2, hi[0], spacing)
        ys = np.arange(lo[1] + spacing / 2, hi[1], spacing)
        cells = [(x, y) for x in xs for y in ys if point_in_polygon((x, y), polygon) and free(x, y)]
        if not cells:  # a room smaller than the grid still gets one area at its centre
            cx, cy = polygon.mean(axis=0)
            cells = [(cx, cy)] if free(cx, cy) else []
        placed += [(room.id, float(x), float(y)) for x, y in cells]
    ids = [f"area_{i:03d}" for i in range(len(placed))]
    neighbours: dict[str, list[str]] = {i: [] for i in ids}
    xy = np.array([(x, y) for _, x, y in placed]).reshape(-1, 2)
    for i in range(len(placed)):
        close = np.nonzero(np.linalg.norm(xy - xy[i], axis=1) <= spacing * 1.01)[0]
        for j in close[close > i]:
            steps = np.linspace(0.0, 1.0, 7)[1:-1, None]
            along = xy[i] + steps * (xy[j] - xy[i])
            if all(reachable(float(x), float(y)) for x, y in along):
                neighbours[ids[i]].append(ids[j])
                neighbours[ids[j]].append(ids[i])
    return [
        AreaNode(area_id, room_id, (x, y, 0.0), tuple(sorted(neighbours[area_id])))
        for area_id, (room_id, x, y) in zip(ids, placed)
    ]


def _relation_key(relation: Relation) -> tuple[str, str, str]:
    """Relation order as a plain tuple: the dataclass's generated comparison costs seconds at 10k objects."""
    return relation.subject, relation.predicate, relation.object


class SequenceGap(ValueError):
    """A delta that does not follow the receiver's sequence number (:meth:`SceneGraph.apply`)."""


class SceneGraph:
    """Rooms, areas, objects and their relations, with deltas and JSON snapshots.

    ``move_threshold`` (m) is how far a box must drift from where its relations were last
    computed before they are recomputed: boxes grow by millimetres as views accumulate, and
    re-deriving relations for each of those would churn deltas for nothing.
    """

    def __init__(
        self,
        relation_config: RelationConfig = RelationConfig(),
        history: int = 1000,
        move_threshold: float = 0.02,
    ) -> None:
        self.relation_config = relation_config
        self.move_threshold = move_threshold
        self._g = nx.MultiDiGraph()
        self._g.add_node(FLOOR, layer="floor")
        self._objects: dict[str, ObjectNode] = {}
        self._points: dict[str, np.ndarray] = {}
        self._related_box: dict[str, OrientedBox] = {}
        self._index = SpatialIndex()
        self._relation_set: set[Relation] = set()  # every relation edge, for copies without a graph walk
        self._subjects: dict[tuple[str, str], set[str]] = defaultdict(set)  # (object, predicate) -> subjects
        self._by = ObjectIndexes()
        # Insertion rank of each object, the order of :meth:`objects` (a dict's), for index answers.
        self._rank: dict[str, int] = {}
        self._ranked: dict[int, str] = {}
        self._next_rank = 0
        self._rooms: dict[str, RoomNode] = {}
        self._floors: list[str] = []
        self._room_polygons: dict[str, np.ndarray] = {}
        self._areas: dict[str, AreaNode] = {}
        self._places = PlaceIndex([], {}, [])
        self._sequence = 0
        self._next_index = 0
        self._history: deque[GraphDelta] = deque(maxlen=history)
        self._pending: Optional[_Pending] = None
        self._listeners: list[Callable[[GraphDelta], None]] = []

    # ------------------------------------------------------------------ reading
    @property
    def sequence(self) -> int:
        return self._sequence

    @property
    def next_object_index(self) -> int:
        """The number :meth:`new_object_id` gives next (saved, so ids never repeat after a load)."""
        return self._next_index

    @property
    def nx_graph(self) -> nx.MultiDiGraph:
        """The structure itself, for analysis; mutate only through this class."""
        return self._g

    def get_object(self, object_id: str) -> Optional[ObjectNode]:
        return self._objects.get(object_id)

    def resolve(self, object_id: str) -> Optional[str]:
        """The memory id for ``object_id``: itself when memory knows it, else the one object that a
        source (the simulator, a tracker) reports under that external id; None when neither."""
        if object_id in self._objects:
            return object_id
        matches = self._by.by_external.get(object_id, set())
        return next(iter(matches)) if len(matches) == 1 else None

    def objects(self, layer: Optional[str] = None, include_missing: bool = True) -> list[ObjectNode]:
        return [
            o for o in self._objects.values()
            if (layer is None or o.layer == layer) and (include_missing or o.status != MISSING)
        ]

    def ids_with_label(self, label: str) -> set[str]:
        """Ids of objects whose (winning) label is ``label``."""
        return set(self._by.by_label.get(label, ()))

    def ids_with_labels(self, labels: Iterable[str]) -> set[str]:
        return self._by.ids(self._by.by_label, labels)

    def ids_in_rooms(self, room_ids: Iterable[str]) -> set[str]:
        return self._by.ids(self._by.by_room, room_ids)

    def ids_with_external(self, external_id: str) -> set[str]:
        return set(self._by.by_external.get(external_id, ())) if external_id else set()

    def ids_voted(self, labels: Iterable[str]) -> set[str]:
        """Ids of objects with a label vote for any of ``labels`` (their label counts as one)."""
        return self._by.ids(self._by.by_vote, labels)

    def ids_with_status(self, status: str) -> set[str]:
        return set(self._by.by_status.get(status, ()))

    def labels(self) -> list[str]:
        """Every (winning) label memory holds, sorted."""
        return sorted(self._by.by_label)

    def changed_since_ids(self, stamp: float) -> list[str]:
        """Ids of objects whose ``last_changed`` is at or after ``stamp``, oldest change first."""
        return self._by.changed_since(stamp)

    def count_changed_since(self, stamp: float) -> int:
        return self._by.count_changed_since(stamp)

    def newest_ids(self, count: int, label: Optional[str] = None) -> list[str]:
        """The ``count`` most recently changed object ids (of ``label`` when given), newest first (ties by id)."""
        return self._by.newest(count, label)

    def near_point(self, point: Sequence[float], radius: float) -> list[tuple[ObjectNode, float]]:
        """(object, distance) of every object whose centroid lies within ``radius`` of ``point``."""
        return [(self._objects[i], d) for i, d in self._index.near_point(point, radius)]

    def objects_in_ball(self, centre: Sequence[float] | np.ndarray, radius: float) -> list[ObjectNode]:
        """Objects whose centroid lies within ``radius`` of ``centre``, in :meth:`objects` order."""
        found = sorted(self._rank[i] for i, _ in self._index.near_point(centre, radius))
        return [self._objects[self._ranked[r]] for r in found]

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._objects

    def points(self, object_id: str) -> np.ndarray:
        """The object's downsampled surface points (n, 3), float32; empty if none were given."""
        return self._points.get(object_id, np.zeros((0, 3), dtype=np.float32))

    def geometry(self) -> dict[str, np.ndarray]:
        return dict(self._points)

    def rooms(self) -> list[RoomNode]:
        return list(self._rooms.values())

    def get_room(self, room_id: str) -> Optional[RoomNode]:
        return self._rooms.get(room_id)

    def floors(self) -> list[str]:
        """The floor nodes of a building, in the order its rooms name them ([] for one floor)."""
        return list(self._floors)

    def areas(self) -> list[AreaNode]:
        return list(self._areas.values())

    def get_area(self, area_id: str) -> Optional[AreaNode]:
        return self._areas.get(area_id)

    def relations(
        self, subject: Optional[str] = None, predicate: Optional[str] = None, object: Optional[str] = None
    ) -> list[Relation]:
        """Relations matching every given field, sorted."""
        if subject is not None:
            edges: Iterable = self._g.out_edges(subject, keys=True) if subject in self._g else ()
        elif object is not None:
            edges = self._g.in_edges(object, keys=True) if object in self._g else ()
        else:
            edges = self._g.edges(keys=True)
        return sorted(
            Relation(s, k, o) for s, o, k in edges
            if k in PREDICATES and (predicate is None or k == predicate) and (object is None or o == object)
        )

    def subjects_of(self, object_id: str, predicates: Sequence[str]) -> set[str]:
        """Ids related to ``object_id`` by any of ``predicates`` (what is in or on it), from an index
        kept with the relations: a question about what many holders hold costs what they hold."""
        found: set[str] = set()
        for predicate in predicates:
            found |= self._subjects.get((object_id, predicate), set())
        return found

    def relation_set(self) -> frozenset[Relation]:
        """Every relation, unsorted: a copy for a reader that must not hold the owner's lock while it works."""
        return frozenset(self._relation_set)

    def parent(self, node_id: str) -> Optional[str]:
        """The node one layer up (container, support, area, room or floor)."""
        for p, _, k in self._g.in_edges(node_id, keys=True) if node_id in self._g else ():
            if k == PARENT:
                return p
        return None

    def children(self, node_id: str) -> list[str]:
        return sorted(c for _, c, k in self._g.out_edges(node_id, keys=True) if k == PARENT) \
            if node_id in self._g else []

    def objects_near_box(self, box: OrientedBox, distance: float) -> list[ObjectNode]:
        """Objects whose bounds come within ``distance`` of the box's bounds (vectorised)."""
        return [self._objects[i] for i in self._index.within(box, distance)]

    def room_at(self, point: Sequence[float]) -> str:
        """Id of the first room (in layout order) whose polygon holds the point's x/y, "" when none does."""
        for position in self._places.candidate_rooms(point):
            if point_in_polygon(point, self._places.polygon(position)):
                return self._places.room_ids[position]
        return ""

    def nearest_area(self, point: Sequence[float], room_id: str = "") -> str:
        """Nearest area in ``room_id`` if it has any, else nearest overall; "" without areas."""
        return self._places.nearest_area(np.asarray(point[:2], dtype=float), room_id)

    # ------------------------------------------------------------------ deltas
    def subscribe(self, listener: Callable[[GraphDelta], None]) -> None:
        """Call ``listener`` with every committed delta (after the graph is consistent)."""
        self._listeners.append(listener)

    def deltas_since(self, sequence: int) -> Optional[list[GraphDelta]]:
        """Deltas after ``sequence``, or None when the history cannot bring that subscriber up to date
        (it is older than the bounded history, or ahead of this graph after a restart): take a snapshot."""
        if sequence == self._sequence:
            return []
        if sequence > self._sequence:
            return None
        if not self._history or self._history[0].sequence > sequence + 1:
            return None
        return [d for d in self._history if d.sequence > sequence]

    def apply(self, delta: GraphDelta) -> None:
        """Mirror another graph by its deltas (as Hydra's and Spark-DSG's receivers do): apply the
        delta numbered ``sequence + 1``, records as they are (nothing is recomputed), and take its
        number. Raises :class:`SequenceGap` for any other number: the mirror needs a snapshot."""
        if delta.sequence != self._sequence + 1:
            raise SequenceGap(f"delta {delta.sequence} does not follow {self._sequence}: take a snapshot")
        with self.transaction(delta.stamp):
            if delta.upserted_rooms or delta.removed_rooms or delta.upserted_areas or delta.removed_areas:
                removed = set(delta.removed_rooms) | set(delta.removed_areas)
                rooms = {r.id: r for r in self._rooms.values() if r.id not in removed}
                areas = {a.id: a for a in self._areas.values() if a.id not in removed}
                rooms.update((r.id, r) for r in delta.upserted_rooms)
                areas.update((a.id, a) for a in delta.upserted_areas)
                self.set_layout(list(rooms.values()), list(areas.values()), delta.stamp)
            for relation in delta.removed_relations:
                if self._g.has_edge(relation.subject, relation.object, key=relation.predicate):
                    self._unrelate(relation)
            for object_id in delta.removed_objects:
                self.remove_object(object_id, delta.stamp)
            for node in delta.upserted_objects:
                self._store(node, None)
                self._related_box[node.id] = node.box
            for relation in delta.added_relations:
                if relation.subject in self._objects and relation.object in self._objects:
                    self._relate(relation)
            touched = {n.id for n in delta.upserted_objects} | {
                i for r in delta.added_relations + delta.removed_relations for i in (r.subject, r.object)}
            for object_id in sorted(touched):
                self._refresh_parent(object_id)
        self._sequence = delta.sequence  # also when the delta changed nothing here

    @contextmanager
    def transaction(self, stamp: float) -> Iterator["SceneGraph"]:
        """Group mutations into one delta; nested transactions join the outermost one."""
        if self._pending is not None:
            yield self
            return
        self._pending = _Pending(stamp)
        try:
            yield self
        finally:
            pending, self._pending = self._pending, None
            self._commit(pending)

    def _commit(self, p: _Pending) -> None:
        delta = GraphDelta(
            sequence=self._sequence + 1,
            stamp=p.stamp,
            upserted_objects=tuple(p.objects[i] for i in sorted(p.objects)),
            removed_objects=tuple(sorted(p.removed)),
            added_relations=tuple(sorted(p.added, key=_relation_key)),
            removed_relations=tuple(sorted(p.dropped, key=_relation_key)),
            upserted_rooms=tuple(self._rooms.values()) if p.layout else (),
            removed_rooms=tuple(sorted(set(p.old_rooms) - set(self._rooms))),
            upserted_areas=tuple(self._areas.values()) if p.layout else (),
            removed_areas=tuple(sorted(set(p.old_areas) - set(self._areas))),
        )
        if delta.is_empty():
            return
        self._sequence = delta.sequence
        self._history.append(delta)
        for listener in self._listeners:
            try:
                listener(delta)
            except Exception:  # one broken subscriber must not stop memory from updating
                log.exception("graph delta listener failed")

    # ------------------------------------------------------------------ layout
    def set_layout(self, rooms: Sequence[RoomNode], areas: Sequence[AreaNode], stamp: float = 0.0) -> None:
        """Replace rooms and areas (from a simulator, a map or :func:`grid_areas`); objects re-attach."""
        with self.transaction(stamp):
            p = self._pending
            assert p is not None
            p.layout, p.old_rooms, p.old_areas = True, tuple(self._rooms), tuple(self._areas)
            self._g.remove_nodes_from(list(self._rooms) + list(self._areas) + self._floors)
            self._rooms = {r.id: r for r in rooms}
            self._floors = list(dict.fromkeys(r.floor for r in rooms if r.floor))
            for floor in self._floors:
                self._g.add_node(floor, layer="floor")
                self._g.add_edge(FLOOR, floor, key=PARENT)
            self._room_polygons = {r.id: np.asarray(r.polygon, dtype=float) for r in rooms}
            self._areas = {a.id: a for a in areas}
            self._places = PlaceIndex(list(self._rooms.values()), self._room_polygons, list(self._areas.values()))
            for room in rooms:
                self._g.add_node(room.id, layer="room")
                self._g.add_edge(room.floor or FLOOR, room.id, key=PARENT)
            for area in areas:
                self._g.add_node(area.id, layer="area")
                self._g.add_edge(area.room_id if area.room_id in self._rooms else FLOOR, area.id, key=PARENT)
                for other in area.neighbors:
                    if other in self._areas:
                        self._g.add_edge(area.id, other, key=ADJACENT)
            for node in list(self._objects.values()):
                self._store(self._placed(node, node.last_changed), self._points.get(node.id))
                self._refresh_parent(node.id)

    # ------------------------------------------------------------------ objects
    def new_object_id(self) -> str:
        object_id = f"obj_{self._next_index:04d}"
        self._next_index += 1
        return object_id

    def _placed(self, node: ObjectNode, last_changed: float) -> ObjectNode:
        room_id = self.room_at(node.centroid)
        return replace(node, room_id=room_id, area_id=self.nearest_area(node.centroid, room_id),
                       last_changed=last_changed)

    def _store(self, node: ObjectNode, points: Optional[np.ndarray]) -> None:
        if node.id not in self._g:
            self._g.add_node(node.id)
        self._g.nodes[node.id]["layer"] = node.layer
        old = self._objects.get(node.id)
        self._by.replace(old, node)
        if old is None:
            self._rank[node.id], self._ranked[self._next_rank] = self._next_rank, node.id
            self._next_rank += 1
        self._objects[node.id] = node
        if points is not None:
            self._points[node.id] = np.ascontiguousarray(points, dtype=np.float32)
        self._index.set(node.id, node.box, node.centroid)
        assert self._pending is not None
        self._pending.upsert(node)

    def _drifted(self, object_id: str, box: OrientedBox) -> bool:
        old = self._related_box.get(object_id)
        if old is None:
            return True
        shift = max(
            float(np.max(np.abs(np.subtract(old.center, box.center)))),
            float(np.max(np.abs(np.subtract(old.extent, box.extent)))),
        )
        return shift > self.move_threshold or abs(old.yaw - box.yaw) > 0.1

    def upsert_object(self, node: ObjectNode, points: Optional[np.ndarray] = None) -> ObjectNode:
        """Insert or replace an object; room, area and ``last_changed`` are the graph's to set.

        ``points`` replaces the stored geometry when given. Relations are recomputed only when the
        box drifted past ``move_threshold`` or the object went missing / came back.
        """
        with self.transaction(node.last_seen):
            old = self._objects.get(node.id)
            changed = (
                old is None or old.states != node.states or old.status != node.status
                or self._drifted(node.id, node.box)
            )
            stored = self._placed(node, node.last_seen if changed or old is None else old.last_changed)
            self._store(stored, points)
            went_missing = old is not None and (old.status == MISSING) != (stored.status == MISSING)
            if old is None or went_missing or self._drifted(node.id, node.box):
                self._refresh_relations(node.id)
            elif (old.room_id, old.area_id) != (stored.room_id, stored.area_id):
                self._refresh_parent(node.id)
            return stored

    def set_object_state(self, object_id: str, state: str, value: StateValue, stamp: float) -> bool:
        """Set one state (e.g. "open" True); False for an unknown id. A no-op change makes no delta."""
        node = self._objects.get(object_id)
        if node is None:
            return False
        if state in dict(node.states) and node.state(state) == value:
            return True
        with self.transaction(stamp):
            self._store(replace(node.with_state(state, value), last_changed=stamp), None)
        return True

    def set_state_of(self, object_id: str, state: str, value: StateValue, stamp: float) -> bool:
        """:meth:`set_object_state` for a memory id or a source's external id (:meth:`resolve`)."""
        resolved = self.resolve(object_id)
        return resolved is not None and self.set_object_state(resolved, state, value, stamp)

    def mark_missing(self, object_id: str, stamp: float) -> bool:
        """Expected but not seen: keep the node (it may come back) and drop its relations."""
        node = self._objects.get(object_id)
        if node is None:
            return False
        if node.status != MISSING:
            with self.transaction(stamp):
                self._store(replace(node, status=MISSING, last_changed=stamp), None)
                self._refresh_relations(object_id)
        return True

    def place_object(self, object_id: str, holder_id: str, inside: bool, stamp: float) -> bool:
        """The robot itself put ``object_id`` in (``inside``) or on ``holder_id``: its box moves there,
        centred, resting on the holder's bottom or top (where exactly, perception tells when it sees
        the object again), status "moved". Its stored points move with it, so a look at its old
        place is no evidence against it. False for an unknown id of either, or the two the same."""
        node, holder = self._objects.get(object_id), self._objects.get(holder_id)
        if node is None or holder is None or object_id == holder_id:
            return False
        host = holder.box
        extent = tuple(min(e, 0.9 * h) for e, h in zip(node.box.extent, host.extent)) if inside else node.box.extent
        z = host.z_min + 0.01 + extent[2] / 2.0 if inside else host.z_max + extent[2] / 2.0
        box = OrientedBox((host.center[0], host.center[1], z), extent, host.yaw)  # type: ignore[arg-type]
        shift = np.subtract(box.center, node.box.center)
        self.upsert_object(replace(node, centroid=box.center, box=box, status=MOVED, last_seen=stamp),
                           self.points(object_id) + shift.astype(np.float32))
        return True

    def remove_object(self, object_id: str, stamp: float = 0.0) -> bool:
        if object_id not in self._objects:
            return False
        with self.transaction(stamp):
            for relation in self._touching(object_id):
                self._unrelate(relation)
            children = [c for c in self.children(object_id) if c in self._objects]
            self._g.remove_node(object_id)
            self._by.replace(self._objects.pop(object_id), None)
            del self._ranked[self._rank.pop(object_id)]
            self._points.pop(object_id, None)
            self._related_box.pop(object_id, None)
            self._index.discard(object_id)
            assert self._pending is not None
            self._pending.remove(object_id)
            for child in children:
                self._refresh_parent(child)
        return True

    def clear_objects(self, stamp: float = 0.0) -> None:
        """Forget every object but keep rooms and areas."""
        with self.transaction(stamp):
            for object_id in list(self._objects):
                self.remove_object(object_id, stamp)

    # ------------------------------------------------------------------ relations and hierarchy
    def _touching(self, object_id: str) -> set[Relation]:
        out = {Relation(s, k, o) for s, o, k in self._g.out_edges(object_id, keys=True) if k in PREDICATES}
        into = {Relation(s, k, o) for s, o, k in self._g.in_edges(object_id, keys=True) if k in PREDICATES}
        return out | into

    def _relate(self, relation: Relation) -> None:
        self._g.add_edge(relation.subject, relation.object, key=relation.predicate)
        self._relation_set.add(relation)
        self._subjects[(relation.object, relation.predicate)].add(relation.subject)
        assert self._pending is not None
        self._pending.relate(relation, True)

    def _unrelate(self, relation: Relation) -> None:
        self._g.remove_edge(relation.subject, relation.object, key=relation.predicate)
        self._relation_set.discard(relation)
        subjects = self._subjects.get((relation.object, relation.predicate))
        if subjects is not None:
            subjects.discard(relation.subject)
            if not subjects:
                del self._subjects[(relation.object, relation.predicate)]
        assert self._pending is not None
        self._pending.relate(relation, False)

    def _refresh_relations(self, object_id: str) -> None:
        node = self._objects[object_id]
        new: set[Relation] = set()
        if node.status != MISSING:
            neighbours = (
                self._objects[i] for i in self._index.within(node.box, self.relation_config.reach)
                if i != object_id and self._objects[i].status != MISSING
            )
            new = relations_of(node, neighbours, self.relation_config)
        old = self._touching(object_id)
        for relation in old - new:
            self._unrelate(relation)
        for relation in new - old:
            self._relate(relation)
        self._related_box[object_id] = node.box
        touched = {object_id} | {i for r in old ^ new for i in (r.subject, r.object)}
        for i in sorted(touched):
            self._refresh_parent(i)

    def _holder(self, object_id: str) -> Optional[str]:
        """The container (smallest) or else the support (highest top) this object rests in/on."""
        out = [(o, k) for _, o, k in self._g.out_edges(object_id, keys=True) if k in (IN, ON)]
        containers = sorted((self._objects[o].box.volume, o) for o, k in out if k == IN)
        if containers:
            return containers[0][1]
        supports = sorted((-self._objects[o].box.z_max, o) for o, k in out if k == ON)
        return supports[0][1] if supports else None

    def _refresh_parent(self, object_id: str) -> None:
        node = self._objects.get(object_id)
        if node is None:
            return
        parent = self._holder(object_id)
        seen, up = {object_id}, parent
        while up is not None and up in self._objects:  # a cycle of holders would orphan a branch
            if up in seen:
                parent = None
                break
            seen.add(up)
            up = self._holder(up)
        parent = parent or node.area_id or node.room_id or FLOOR
        current = self.parent(object_id)
        if current == parent:
            return
        if current is not None:
            self._g.remove_edge(current, object_id, key=PARENT)
        self._g.add_edge(parent, object_id, key=PARENT)

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> dict[str, Any]:
        """The whole graph as JSON-able data (geometry separately: :meth:`geometry`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "sequence": self._sequence,
            "next_object_index": self._next_index,
            "rooms": [r.to_dict() for r in self._rooms.values()],
            "areas": [a.to_dict() for a in self._areas.values()],
            "objects": [self._objects[i].to_dict() for i in sorted(self._objects)],
            "relations": [[r.subject, r.predicate, r.object] for r in self.relations()],
        }

    @classmethod
    def from_snapshot(
        cls, data: Mapping[str, Any], geometry: Optional[Mapping[str, np.ndarray]] = None, **options: Any
    ) -> "SceneGraph":
        """Rebuild a graph exactly as snapshotted (relations are restored, not recomputed)."""
        graph = cls(**options)
        graph.replace_with_snapshot(data, geometry)
        graph._history.clear()
        graph._sequence = int(data["sequence"])
        return graph

    @classmethod
    def from_records(cls, rooms: Sequence[RoomNode], areas: Sequence[AreaNode], objects: Sequence[ObjectNode],
                     relations: Sequence[Relation], parents: Mapping[str, str], geometry: Mapping[str, np.ndarray],
                     sequence: int, next_object_index: int, **options: Any) -> "SceneGraph":
        """:meth:`from_snapshot` from records (a binary snapshot's decoded table)."""
        graph = cls(**options)
        graph._pending = _Pending(0.0)  # an open transaction never committed: a new graph owes no one a delta
        try:
            graph.replace_with_records(rooms, areas, objects, relations, geometry, next_object_index, parents=parents)
        finally:
            graph._pending = None
        graph._sequence = int(sequence)
        return graph

    def continue_object_index(self, index: int) -> None:
        """Make :meth:`new_object_id` continue at ``index`` when that is ahead (a journal's replay)."""
        self._next_index = max(self._next_index, int(index))

    def set_points(self, object_id: str, points: np.ndarray) -> None:
        """Replace an object's stored geometry (a journal's replay); geometry is not part of deltas."""
        if object_id in self._objects:
            self._points[object_id] = np.ascontiguousarray(points, dtype=np.float32)

    def continue_sequence(self, sequence: int) -> None:
        """Number the next delta after ``sequence`` when that is ahead (a saved memory's, a lease's):
        numbers never repeat across loads and restarts. Deltas from before the jump cannot be replayed."""
        if sequence > self._sequence:
            self._sequence = sequence
            self._history.clear()

    def replace_with_snapshot(
        self, data: Mapping[str, Any], geometry: Optional[Mapping[str, np.ndarray]] = None, stamp: float = 0.0
    ) -> None:
        """Swap this graph's contents for a snapshot's, as one delta under the next sequence number.

        Used to load a saved memory into a running graph: subscribers, fusion and retrieval stay
        attached, and a delta subscriber sees one complete update instead of a sequence reset.
        """
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"snapshot schema version {version!r}, this code reads {SCHEMA_VERSION}")
        self.replace_with_records(
            [RoomNode.from_dict(r) for r in data["rooms"]], [AreaNode.from_dict(a) for a in data["areas"]],
            [ObjectNode.from_dict(item) for item in data["objects"]],
            [Relation(s, p, o) for s, p, o in data["relations"]], geometry, int(data["next_object_index"]), stamp)

    def replace_with_records(
        self,
        rooms: Sequence[RoomNode],
        areas: Sequence[AreaNode],
        objects: Sequence[ObjectNode],
        relations: Sequence[Relation],
        geometry: Optional[Mapping[str, np.ndarray]] = None,
        next_object_index: int = 0,
        stamp: float = 0.0,
        parents: Optional[Mapping[str, str]] = None,
    ) -> None:
        """:meth:`replace_with_snapshot` from records (a binary snapshot's decoded table).

        ``parents`` (object id -> parent node, as :meth:`parent` gave when saved) skips recomputing
        the hierarchy; a parent that names no node here is recomputed instead.
        """
        geometry = geometry or {}
        known = {node.id for node in objects}
        for r in relations:  # check everything before touching the graph: a bad snapshot changes nothing
            if r.predicate not in PREDICATES or r.subject not in known or r.object not in known:
                raise ValueError(f"snapshot relation ({r.subject}, {r.predicate}, {r.object}) names an "
                                 "unknown predicate or object")
        with self.transaction(stamp):
            self.clear_objects(stamp)
            self.set_layout(rooms, areas, stamp)
            for node in objects:
                self._store(node, geometry.get(node.id))
                self._related_box[node.id] = node.box
            for r in relations:  # add_edge: networkx's add_edges_from is three times slower for multigraphs
                self._g.add_edge(r.subject, r.object, key=r.predicate)
                self._subjects[(r.object, r.predicate)].add(r.subject)
            assert self._pending is not None
            new, pending = set(relations), self._pending  # as _relate would record each, in bulk
            self._relation_set |= new
            pending.added |= new - pending.dropped
            pending.dropped -= new
            for object_id in sorted(self._objects):
                parent = parents.get(object_id) if parents is not None else None
                if parent is not None and parent in self._g and parent != object_id:
                    self._g.add_edge(parent, object_id, key=PARENT)
                else:
                    self._refresh_parent(object_id)
        self._next_index = max(self._next_index, next_object_index)
