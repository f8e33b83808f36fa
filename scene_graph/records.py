"""Immutable records of long-term memory: what the graph stores, publishes and snapshots.

Every record is a frozen dataclass of plain values (floats, strings, tuples) so that the ROS
conversions can map each one field-for-field onto a message, snapshots can serialise them without
guessing, and a record handed to a caller can never change memory behind the graph's back.
Units follow REP-103: metres, radians, world frame z up.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional, Union

import numpy as np

Vec3 = tuple[float, float, float]
StateValue = Union[bool, str]

# Object status: seen where memory expects it / expected in view but not seen / re-found elsewhere.
VISIBLE, MISSING, MOVED = "visible", "missing", "moved"
STATUSES = (VISIBLE, MISSING, MOVED)

# Relation predicates. CONTAINS is stored explicitly as the inverse of IN so that both directions
# are one edge lookup away.
ON, IN, NEAR, CONTAINS = "on", "in", "near", "contains"
PREDICATES = (ON, IN, NEAR, CONTAINS)


def _vec3(values: Any) -> Vec3:
    x, y, z = (float(v) for v in values)
    return (x, y, z)


@dataclass(frozen=True)
class OrientedBox:
    """A gravity-aligned box: centre, full extent along its own axes, and yaw about world z.

    Boxes only rotate about z because support (ON) and containment (IN) are defined along gravity,
    and household objects rest upright; this keeps every relation test a 2D footprint test plus an
    interval test in z. A ROS message carries it as a pose (yaw quaternion) plus a size vector.
    """

    center: Vec3
    extent: Vec3
    yaw: float = 0.0

    @property
    def z_min(self) -> float:
        return self.center[2] - self.extent[2] / 2.0

    @property
    def z_max(self) -> float:
        return self.center[2] + self.extent[2] / 2.0

    @property
    def volume(self) -> float:
        return float(self.extent[0] * self.extent[1] * self.extent[2])

    @property
    def footprint_area(self) -> float:
        return float(self.extent[0] * self.extent[1])

    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """World points (n, 3) in the box frame (origin at the centre, axes along the box)."""
        return (np.asarray(points, dtype=float) - np.asarray(self.center)) @ self.rotation()

    def to_world(self, local: np.ndarray) -> np.ndarray:
        return np.asarray(local, dtype=float) @ self.rotation().T + np.asarray(self.center)

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Boolean mask of the points inside the box grown by ``margin`` on every side."""
        half = np.asarray(self.extent) / 2.0 + margin
        return np.all(np.abs(self.to_local(points)) <= half, axis=-1)

    def corners(self) -> np.ndarray:
        """The 8 corners (8, 3) in world coordinates."""
        signs = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
        return self.to_world(signs * np.asarray(self.extent))

    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds (min, max) in the world frame: a box turned by yaw about z reaches
        |cos| * x/2 + |sin| * y/2 along world x (and the mirror along y), exactly its corners' bounds."""
        c, s = abs(np.cos(self.yaw)), abs(np.sin(self.yaw))
        ex, ey, ez = self.extent
        half = np.array([c * ex + s * ey, s * ex + c * ey, ez]) / 2.0
        center = np.asarray(self.center, dtype=float)
        return center - half, center + half

    def grid(self, n: int) -> np.ndarray:
        """n x n x n cell-centre samples of the box volume, for overlap fractions."""
        ticks = (np.arange(n) + 0.5) / n - 0.5
        local = np.stack(np.meshgrid(ticks, ticks, ticks, indexing="ij"), axis=-1).reshape(-1, 3)
        return self.to_world(local * np.asarray(self.extent))

    def to_dict(self) -> dict[str, Any]:
        return {"center": list(self.center), "extent": list(self.extent), "yaw": self.yaw}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OrientedBox":
        return cls(_vec3(data["center"]), _vec3(data["extent"]), float(data["yaw"]))


@dataclass(frozen=True)
class ObjectNode:
    """One remembered object or piece of furniture.

    ``id`` is memory's own stable name ("obj_0007"); ``external_id`` is the source's id (a
    simulator objectId or a tracker id): the skill layer acts on it, and fusion trusts it for
    association when ``Fusion(trust_external_ids=True)``. ``states`` is a
    sorted tuple of (name, value) pairs so that records compare and hash by value.
    ``last_changed`` moves only when position, states or status change, which is what "changed
    since" queries ask about; ``last_seen`` moves on every observation. ``label_votes`` is the
    label distribution behind ``label``: (label, summed detector score) pairs, sorted by label;
    ``label`` is its winner (fusion keeps them in step).
    """

    id: str
    label: str
    layer: str
    centroid: Vec3
    box: OrientedBox
    room_id: str = ""
    area_id: str = ""
    states: tuple[tuple[str, StateValue], ...] = ()
    first_seen: float = 0.0
    last_seen: float = 0.0
    last_changed: float = 0.0
    observation_count: int = 1
    confidence: float = 1.0
    status: str = VISIBLE
    external_id: str = ""
    label_votes: tuple[tuple[str, float], ...] = ()

    def state(self, name: str, default: Optional[StateValue] = None) -> Optional[StateValue]:
        for key, value in self.states:
            if key == name:
                return value
        return default

    def with_state(self, name: str, value: StateValue) -> "ObjectNode":
        states = dict(self.states)
        states[name] = value
        return replace(self, states=tuple(sorted(states.items())))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "label": self.label, "layer": self.layer, "centroid": list(self.centroid),
            "box": self.box.to_dict(), "room_id": self.room_id, "area_id": self.area_id,
            "states": [[k, v] for k, v in self.states], "first_seen": self.first_seen,
            "last_seen": self.last_seen, "last_changed": self.last_changed,
            "observation_count": self.observation_count, "confidence": self.confidence,
            "status": self.status, "external_id": self.external_id,
            "label_votes": [[k, v] for k, v in self.label_votes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ObjectNode":
        return cls(
            id=str(data["id"]), label=str(data["label"]), layer=str(data["layer"]),
            centroid=_vec3(data["centroid"]), box=OrientedBox.from_dict(data["box"]),
            room_id=str(data["room_id"]), area_id=str(data["area_id"]),
            states=tuple((str(k), v) for k, v in data["states"]),
            first_seen=float(data["first_seen"]), last_seen=float(data["last_seen"]),
            last_changed=float(data["last_changed"]), observation_count=int(data["observation_count"]),
            confidence=float(data["confidence"]), status=str(data["status"]),
            external_id=str(data["external_id"]),
            label_votes=tuple((str(k), float(v)) for k, v in data.get("label_votes", ())),
        )


@dataclass(frozen=True)
class RoomNode:
    """A room: its kind (ontology.ROOM_KINDS or free text), its floor polygon (x, y) in metres, and
    in a building the id of the floor (storey) it is on ("" in a home of one floor)."""

    id: str
    kind: str
    polygon: tuple[tuple[float, float], ...]
    floor: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "polygon": [list(p) for p in self.polygon]}
        if self.floor:
            out["floor"] = self.floor
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RoomNode":
        return cls(str(data["id"]), str(data["kind"]), tuple((float(x), float(y)) for x, y in data["polygon"]),
                   str(data.get("floor", "")))


@dataclass(frozen=True)
class AreaNode:
    """A patch of reachable floor (KARMA's area node); ``neighbors`` are mutually navigable areas."""

    id: str
    room_id: str
    position: Vec3
    neighbors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "room_id": self.room_id, "position": list(self.position),
                "neighbors": list(self.neighbors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AreaNode":
        return cls(str(data["id"]), str(data["room_id"]), _vec3(data["position"]),
                   tuple(str(n) for n in data["neighbors"]))


@dataclass(frozen=True, order=True)
class Relation:
    """``subject predicate object``, e.g. Relation("obj_0002", "on", "obj_0001")."""

    subject: str
    predicate: str
    object: str


@dataclass(frozen=True)
class GraphDelta:
    """Everything one committed mutation changed, under one sequence number.

    A subscriber that holds sequence N and receives N+1 applies the delta; one that sees a gap asks
    for the deltas since N, or a full snapshot when the bounded history no longer reaches back.
    Records are complete (upsert semantics), so applying a delta never needs the old value.
    """

    sequence: int
    stamp: float
    upserted_objects: tuple[ObjectNode, ...] = ()
    removed_objects: tuple[str, ...] = ()
    added_relations: tuple[Relation, ...] = ()
    removed_relations: tuple[Relation, ...] = ()
    upserted_rooms: tuple[RoomNode, ...] = ()
    removed_rooms: tuple[str, ...] = ()
    upserted_areas: tuple[AreaNode, ...] = ()
    removed_areas: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not any((self.upserted_objects, self.removed_objects, self.added_relations,
                        self.removed_relations, self.upserted_rooms, self.removed_rooms,
                        self.upserted_areas, self.removed_areas))


@dataclass(frozen=True)
class ScoredObject:
    """A query answer: the object and how well it matched (1.0 for exact filters)."""

    node: ObjectNode
    score: float = 1.0
