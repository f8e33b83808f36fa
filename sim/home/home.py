"""A generated home: layout, furniture and objects, containment, and its navigation grid."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Iterator, Optional

from sim.coords import world_to_thor
from sim.home.entities import Entity, Vec3
from sim.home.layout import Layout, Room
from sim.home.navigation import NavGrid

REACH = 1.0  # metres from the robot's base to the nearest point of what it manipulates


def thor_object_id(object_type: str, center: Vec3) -> str:
    """AI2-THOR's objectId shape, "Apple|+01.20|+00.90|-00.45", from the position in THOR axes."""
    p = world_to_thor(center)
    return f"{object_type}|{p['x']:+06.2f}|{p['y']:+06.2f}|{p['z']:+06.2f}"


class IdMaker:
    """objectIds from the spawn position, kept unique within one home."""

    def __init__(self, taken: dict[str, Entity]):
        self.taken = taken

    def __call__(self, object_type: str, center: Vec3) -> str:
        base = thor_object_id(object_type, center)
        oid, n = base, 1
        while oid in self.taken:
            n += 1
            oid = f"{base}|{n}"
        return oid


@dataclass
class Home:
    """The mutable model of one home. ``version`` changes whenever anything visible changes
    place or shape, so renderers can reuse their acceleration structure until then."""

    seed: int
    layout: Layout
    entities: dict[str, Entity]
    nav: NavGrid
    floor_plan: Optional[int] = None
    version: int = 0
    _instance: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._instance = {oid: i + 1 for i, oid in enumerate(self.entities)}

    @property
    def rooms(self) -> tuple[Room, ...]:
        return self.layout.rooms

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities.values())

    def __getitem__(self, object_id: str) -> Entity:
        return self.entities[object_id]

    def instance_id(self, object_id: str) -> int:
        """Stable positive instance id of an object for the whole episode (0 is background)."""
        return self._instance[object_id]

    @property
    def floors(self) -> int:
        return self.layout.floor_count

    @property
    def start_room(self) -> Room:
        """Where the robot starts: the first room, of the top floor in a building."""
        return next(r for r in self.rooms if r.floor == self.floors - 1)

    def room_at(self, x: float, y: float) -> Optional[Room]:
        return next((r for r in self.rooms if r.contains(x, y)), None)

    def floor_at(self, x: float, y: float) -> int:
        """The floor of the room holding a point (floors lie side by side in the plane); 0 outside."""
        room = self.room_at(x, y)
        return room.floor if room is not None else 0

    def room(self, room_id: str) -> Room:
        return next(r for r in self.rooms if r.room_id == room_id)

    def children(self, object_id: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.parent == object_id]

    def descendants(self, object_id: str) -> list[Entity]:
        out, todo = [], [object_id]
        while todo:
            kids = self.children(todo.pop())
            out += kids
            todo += [k.object_id for k in kids]
        return out

    def ancestors(self, object_id: str) -> list[str]:
        """Receptacles holding an object, innermost first (AI2-THOR's parentReceptacles)."""
        out, parent = [], self.entities[object_id].parent
        while parent is not None:
            out.append(parent)
            parent = self.entities[parent].parent
        return out

    def rests_on_top(self, object_id: str) -> bool:
        """Whether an object stands on top of what holds it rather than in it (a drawer unit on a
        kitchen cabinet): a closed holder does not hide what stands on it."""
        e = self.entities[object_id]
        return e.parent is not None and e.lo[2] >= self.entities[e.parent].hi[2] - 1e-6

    def is_hidden(self, object_id: str) -> bool:
        """Inside a closed container or carried inside a held one: no camera sees it and no hand
        reaches it."""
        child = object_id
        for pid in self.ancestors(object_id):
            host = self.entities[pid]
            if host.picked_up:
                return True
            if host.receptacle and host.receptacle.mode == "inside" and host.states.get("open") is False \
                    and not self.rests_on_top(child):
                return True
            child = pid
        return False

    def horizontal_distance(self, x: float, y: float, object_id: str) -> float:
        e = self.entities[object_id]
        lo, hi = e.lo, e.hi
        return math.hypot(max(lo[0] - x, 0.0, x - hi[0]), max(lo[1] - y, 0.0, y - hi[1]))

    def of_type(self, object_type: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.object_type == object_type]

    def clone(self) -> "Home":
        return copy.deepcopy(self)
