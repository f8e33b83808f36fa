"""Furniture and objects of a generated home: axis-aligned boxes with AI2-THOR-style state.

An :class:`Entity` is the simulator's *mutable* model of one thing (records handed out are built
from it). Boxes stay axis-aligned (yaw 0 or 90 deg): enough for rooms built on a grid, and it
keeps support, containment and ray casting exact and cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from scene_graph.ontology import OBJECT_TYPES, ObjectType
from sim.records import StateValue

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Receptacle:
    """How a receptacle holds things.

    ``mode``: "surface" (on top), "inside" (on internal levels, hidden when closed) or "basin"
    (open top, contents at the bottom). ``levels`` are fractions of the height where contents
    rest; ``opening`` is the box face left out of the mesh when open ("front" faces the room,
    "top" is +z) - always left out for basins and open shelves.
    """

    mode: str
    levels: tuple[float, ...] = (1.0,)
    opening: Optional[str] = None


_SURFACE = Receptacle("surface")
RECEPTACLES: dict[str, Receptacle] = {
    "Fridge": Receptacle("inside", (0.04, 0.36, 0.68), "front"),
    "Cabinet": Receptacle("inside", (0.06, 0.5), "front"),
    "Microwave": Receptacle("inside", (0.1,), "front"),
    "Drawer": Receptacle("inside", (0.15,), "top"),
    "Box": Receptacle("inside", (0.1,), "top"),
    "Shelf": Receptacle("inside", (0.02, 0.36, 0.7), "front"),
    "SinkBasin": Receptacle("basin", (0.1,), "top"),
    "GarbageCan": Receptacle("basin", (0.1,), "top"),
    "Bathtub": Receptacle("basin", (0.15,), "top"),
    "Bowl": Receptacle("basin", (0.2,), "top"),
    "Pot": Receptacle("basin", (0.1,), "top"),
    "Pan": Receptacle("basin", (0.3,), "top"),
    "Mug": Receptacle("basin", (0.1,), "top"),
    "Cup": Receptacle("basin", (0.1,), "top"),
}


def receptacle_of(object_type: str) -> Optional[Receptacle]:
    kind = OBJECT_TYPES.get(object_type)
    if kind is None or not kind.receptacle:
        return None
    return RECEPTACLES.get(object_type, _SURFACE)


def default_states(kind: ObjectType) -> dict[str, StateValue]:
    """The states that apply to a type, at their AI2-THOR defaults."""
    states: dict[str, StateValue] = {"temperature": "room"}
    for flag, name in (("openable", "open"), ("sliceable", "sliced"), ("cookable", "cooked"),
                       ("toggleable", "toggled"), ("fillable", "filled"), ("breakable", "broken")):
        if getattr(kind, flag):
            states[name] = False
    if kind.dirtyable:
        states["dirty"] = False
    if kind.pickupable:
        states["cleaned"] = False
    if kind.name in ("ToiletPaper", "SoapBottle", "TissueBox", "Candle"):
        states["used_up"] = False
    return states


@dataclass
class Entity:
    """One piece of furniture or one object; ``center``/``size`` are world-axis box extents."""

    object_id: str
    object_type: str
    center: Vec3
    size: Vec3
    room: str
    facing: tuple[int, int] = (1, 0)  # unit axis the front faces (into the room)
    parent: Optional[str] = None
    states: dict[str, StateValue] = field(default_factory=dict)
    picked_up: bool = False
    level: int = 0  # index into the parent's Receptacle.levels

    @property
    def kind(self) -> ObjectType:
        return OBJECT_TYPES[self.object_type]

    @property
    def receptacle(self) -> Optional[Receptacle]:
        return receptacle_of(self.object_type)

    @property
    def lo(self) -> Vec3:
        return tuple(c - s / 2.0 for c, s in zip(self.center, self.size))  # type: ignore[return-value]

    @property
    def hi(self) -> Vec3:
        return tuple(c + s / 2.0 for c, s in zip(self.center, self.size))  # type: ignore[return-value]

    @property
    def yaw(self) -> float:
        """Yaw of the front, from ``facing``: the heading a person uses the thing from."""
        return math.atan2(self.facing[1], self.facing[0])

    def rest_height(self, level: int) -> float:
        """World z where contents at ``level`` rest."""
        recipe = self.receptacle
        if recipe is None or recipe.mode == "surface":
            return self.hi[2]
        return self.lo[2] + recipe.levels[min(level, len(recipe.levels) - 1)] * self.size[2]

    def level_clearance(self, level: int) -> float:
        """Free height above ``level`` (unbounded on a surface)."""
        recipe = self.receptacle
        if recipe is None or recipe.mode == "surface":
            return float("inf")
        if recipe.mode == "basin":
            return float("inf")  # things may stick out of a bowl
        top = recipe.levels[level + 1] if level + 1 < len(recipe.levels) else 0.97
        return (top - recipe.levels[level]) * self.size[2]


def overlap_2d(a_lo: Vec3, a_hi: Vec3, b_lo: Vec3, b_hi: Vec3, gap: float = 0.0) -> bool:
    """Whether two boxes' footprints overlap (closer than ``gap``)."""
    return (a_lo[0] < b_hi[0] + gap and b_lo[0] < a_hi[0] + gap
            and a_lo[1] < b_hi[1] + gap and b_lo[1] < a_hi[1] + gap)
