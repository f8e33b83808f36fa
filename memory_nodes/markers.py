"""The scene graph as a visualization_msgs/MarkerArray for RViz (a pure function, no node).

Every call draws the whole graph, so the last array alone shows memory as it is (a
transient-local publisher can serve a late RViz with one message), and it deletes what the
previous call drew that is gone. Each layer has its own namespace, which RViz lists as a check box:
``rooms`` (floor outlines and names), ``areas`` (area points and navigable adjacency),
``furniture`` and ``objects`` (boxes coloured by class), ``labels`` (class, id and states) and
``relations`` (one line list, coloured by predicate).

Marker ids come from a hash of what a marker draws (the object id, for objects), so they survive
restarts; the rare hash collision within a namespace is resolved by probing, and the caller hands
back what it published so that an id, once given, stays with its object.
"""
from __future__ import annotations

import colorsys
import hashlib
from typing import Iterable, NamedTuple, Sequence, Union

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from memory_nodes.conversions import box_to_pose, to_time
from scene_graph.graph import SceneGraph
from scene_graph.records import CONTAINS, IN, MISSING, NEAR, ON, VISIBLE, AreaNode, ObjectNode, Relation, RoomNode

ROOMS, AREAS, FURNITURE, OBJECTS, LABELS, RELATIONS = "rooms", "areas", "furniture", "objects", "labels", "relations"
NAMESPACES = (ROOMS, AREAS, FURNITURE, OBJECTS, LABELS, RELATIONS)

PREDICATE_COLOURS = {
    ON: ColorRGBA(r=0.2, g=0.8, b=0.2, a=1.0),
    IN: ColorRGBA(r=0.2, g=0.45, b=1.0, a=1.0),
    CONTAINS: ColorRGBA(r=1.0, g=0.6, b=0.1, a=1.0),
    NEAR: ColorRGBA(r=0.6, g=0.6, b=0.6, a=0.6),
}
_BOX_ALPHA = {FURNITURE: 0.35, OBJECTS: 0.9}  # furniture see-through, so what is inside shows
_MISSING_FADE = 0.3  # alpha factor for objects memory expected but did not see
_MIN_SIZE = 0.01  # m; RViz refuses zero scales
_ID_SPACE = 2**31  # Marker.id is int32; ids stay non-negative


class MarkerKey(NamedTuple):
    """One published marker: its namespace, what it draws (object/room id or a layer part), its id."""

    namespace: str
    key: str
    id: int


class MemoryView(NamedTuple):
    """What the markers draw, copied out of a graph: taking it costs a few list copies under the
    owner's lock, and drawing then runs without the lock (thousands of markers take long)."""

    objects: list[ObjectNode]
    relations: list[Relation]
    rooms: list[RoomNode]
    areas: list[AreaNode]

    @classmethod
    def of(cls, graph: SceneGraph) -> "MemoryView":
        return cls(graph.objects(), list(graph.relation_set()),
                   graph.rooms(), graph.areas())


def build_markers(
    memory: Union[SceneGraph, MemoryView], frame_id: str, stamp: Union[float, Time],
    previous: frozenset[MarkerKey] = frozenset()
) -> tuple[MarkerArray, frozenset[MarkerKey]]:
    """Draw ``memory`` (a graph, or a view of one taken under its owner's lock); ``previous`` is
    what the last call returned (empty at first).

    ``stamp`` is seconds (memory's time) or a node clock's Time message. Returns the array
    (DELETEs for markers drawn before and gone now, then every marker as ADD) and what it
    published, to pass to the next call.
    """
    view = memory if isinstance(memory, MemoryView) else MemoryView.of(memory)
    header = Header(frame_id=frame_id, stamp=stamp if isinstance(stamp, Time) else to_time(stamp))
    objects = {o.id: o for o in view.objects}
    drawn = [
        *_room_markers(view.rooms),
        *_area_markers(view.areas),
        *(m for o in objects.values() for m in _object_markers(o)),
        *_relation_markers(sorted(view.relations), objects),
    ]
    ids = _IdAllocator(previous)
    published: set[MarkerKey] = set()
    for key, marker in drawn:
        marker.header, marker.action = header, Marker.ADD
        marker.id = ids.assign(marker.ns, key)
        published.add(MarkerKey(marker.ns, key, marker.id))
    gone = sorted(previous - published)
    deletes = [Marker(header=header, ns=k.namespace, id=k.id, action=Marker.DELETE) for k in gone]
    return MarkerArray(markers=deletes + [m for _, m in drawn]), frozenset(published)


def label_colour(label: str, alpha: float = 1.0) -> ColorRGBA:
    """A colour per class that is the same in every run (hashed hue, not Python's salted hash)."""
    hue = _digest(label) / 2**32
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.95)
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


class _IdAllocator:
    """Stable, collision-free ids per namespace: reuse the previous id, else hash and probe."""

    def __init__(self, previous: frozenset[MarkerKey]) -> None:
        self._known = {(k.namespace, k.key): k.id for k in previous}
        # Ids of markers about to be deleted stay taken, so a DELETE never hits a new marker.
        self._taken = {(k.namespace, k.id) for k in previous}

    def assign(self, namespace: str, key: str) -> int:
        known = self._known.get((namespace, key))
        if known is not None:
            return known
        marker_id = _digest(key) % _ID_SPACE
        while (namespace, marker_id) in self._taken:
            marker_id = (marker_id + 1) % _ID_SPACE
        self._taken.add((namespace, marker_id))
        self._known[(namespace, key)] = marker_id
        return marker_id


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def _point(x: float, y: float, z: float) -> Point:
    return Point(x=float(x), y=float(y), z=float(z))


def _room_markers(rooms: Sequence[RoomNode]) -> Iterable[tuple[str, Marker]]:
    outline_colour = ColorRGBA(r=0.85, g=0.85, b=0.85, a=0.8)
    for room in rooms:
        corners = [_point(x, y, 0.01) for x, y in room.polygon]
        yield room.id, Marker(ns=ROOMS, type=Marker.LINE_STRIP, points=corners + corners[:1],
                              scale=Vector3(x=0.04), color=outline_colour)
        cx = sum(x for x, _ in room.polygon) / len(room.polygon)
        cy = sum(y for _, y in room.polygon) / len(room.polygon)
        name = Marker(ns=ROOMS, type=Marker.TEXT_VIEW_FACING, text=room.id, scale=Vector3(z=0.35),
                      color=outline_colour)
        name.pose.position = _point(cx, cy, 2.6)  # above the furniture
        yield f"{room.id}/name", name


def _area_markers(areas: Sequence[AreaNode]) -> Iterable[tuple[str, Marker]]:
    if not areas:
        return
    colour = ColorRGBA(r=0.3, g=0.8, b=0.9, a=0.8)
    yield "points", Marker(ns=AREAS, type=Marker.SPHERE_LIST, points=[_point(*a.position) for a in areas],
                           scale=Vector3(x=0.12, y=0.12, z=0.12), color=colour)
    where = {a.id: a.position for a in areas}
    edges = [(where[a.id], where[n]) for a in areas for n in a.neighbors if a.id < n and n in where]
    if edges:
        yield "adjacency", Marker(ns=AREAS, type=Marker.LINE_LIST, scale=Vector3(x=0.02), color=colour,
                                  points=[_point(*p) for edge in edges for p in edge])


def _object_markers(node: ObjectNode) -> Iterable[tuple[str, Marker]]:
    namespace = FURNITURE if node.layer == "furniture" else OBJECTS
    fade = _MISSING_FADE if node.status == MISSING else 1.0
    size = Vector3(**{axis: max(float(v), _MIN_SIZE) for axis, v in zip("xyz", node.box.extent)})
    yield node.id, Marker(ns=namespace, type=Marker.CUBE, pose=box_to_pose(node.box), scale=size,
                          color=label_colour(node.label, _BOX_ALPHA[namespace] * fade))
    height = 0.12 if namespace == FURNITURE else 0.08
    label = Marker(ns=LABELS, type=Marker.TEXT_VIEW_FACING, text=label_text(node), scale=Vector3(z=height),
                   color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=fade))
    label.pose.position = _point(node.box.center[0], node.box.center[1], node.box.z_max + 0.05 + height)
    yield node.id, label


def label_text(node: ObjectNode) -> str:
    """Class and id ("Apple obj_0007"), then a line of states: true flags by name, others as name=value."""
    states = [name if value is True else f"{name}={value}" for name, value in node.states if value is not False]
    if node.status != VISIBLE:
        states.append(node.status)
    return f"{node.label} {node.id}" + (f"\n{', '.join(states)}" if states else "")


def _relation_markers(relations: Sequence[Relation], objects: dict[str, ObjectNode]) -> Iterable[tuple[str, Marker]]:
    drawable = [r for r in relations if r.subject in objects and r.object in objects]
    if not drawable:
        return
    white = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    ends = [(end, PREDICATE_COLOURS.get(r.predicate, white)) for r in drawable for end in (r.subject, r.object)]
    yield "lines", Marker(ns=RELATIONS, type=Marker.LINE_LIST, scale=Vector3(x=0.015), color=white,
                          points=[_point(*objects[end].box.center) for end, _ in ends],
                          colors=[colour for _, colour in ends])
