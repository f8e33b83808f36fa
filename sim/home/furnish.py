"""Furniture for each room kind: big pieces against walls or in the middle, parts on top.

Pieces keep a door's approach free and stay apart from each other; whether every piece can
actually be reached is checked afterwards on the navigation grid (``sim.home.generate``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional

from scene_graph.ontology import OBJECT_TYPES
from sim.home.entities import Entity, Vec3, default_states, overlap_2d
from sim.home.layout import DOOR_WIDTH, WALL_THICKNESS, Door, Room

IdMaker = Callable[[str, Vec3], str]


@dataclass(frozen=True)
class Piece:
    """A piece of furniture a room kind may have. ``size`` is (along the wall, depth, height)."""

    object_type: str
    place: str = "wall"  # "wall" or "center"
    count: tuple[int, int] = (1, 1)
    chance: float = 1.0
    size: Optional[Vec3] = None


ROOM_FURNITURE: dict[str, tuple[Piece, ...]] = {
    "Kitchen": (
        Piece("Fridge"), Piece("CounterTop", count=(2, 3)), Piece("Sink", size=(0.8, 0.6, 0.7)),
        Piece("Cabinet", count=(2, 3), size=(0.6, 0.5, 0.65)), Piece("GarbageCan"),
        Piece("DiningTable", "center", chance=0.6), Piece("Shelf", chance=0.3),
    ),
    "LivingRoom": (
        Piece("Sofa"), Piece("CoffeeTable", "center"), Piece("TVStand"), Piece("SideTable", count=(1, 2)),
        Piece("ArmChair", chance=0.5), Piece("Shelf", chance=0.7), Piece("FloorLamp", chance=0.7),
        Piece("Desk", chance=0.3), Piece("GarbageCan", chance=0.5),
    ),
    "Bedroom": (
        Piece("Bed", size=(1.6, 2.0, 0.6)), Piece("SideTable", count=(1, 2)), Piece("Dresser"),
        Piece("Desk", chance=0.6), Piece("Shelf", chance=0.5), Piece("FloorLamp", chance=0.4),
        Piece("GarbageCan", chance=0.5),
    ),
    "Bathroom": (
        Piece("Toilet"), Piece("CounterTopBathroom"), Piece("Bathtub", size=(1.6, 0.8, 0.6)),
        Piece("Cabinet", size=(0.6, 0.45, 0.8)), Piece("GarbageCan"), Piece("Shelf", chance=0.3),
    ),
}

_DOOR_KEEP_OUT = 1.1  # metres kept free in front of a door, both sides


class Furnisher:
    """Places the furniture of one room; ``entities`` collects the result across rooms."""

    def __init__(self, rng: random.Random, make_id: IdMaker, entities: dict[str, Entity]):
        self.rng = rng
        self.make_id = make_id
        self.entities = entities

    def furnish(self, room: Room, doors: list[Door], extra: tuple[str, ...] = ()) -> None:
        """Place the room kind's pieces plus ``extra`` furniture types (required by a task)."""
        placed: list[Entity] = []
        keep_out = [_door_zone(d) for d in doors]
        pieces = list(ROOM_FURNITURE[room.kind]) + [Piece(t) for t in extra]
        for piece in pieces:
            if self.rng.random() > piece.chance:
                continue
            for _ in range(self.rng.randint(*piece.count)):
                size = piece.size or OBJECT_TYPES[piece.object_type].size
                spot = (self._center_spot(room, size, placed) if piece.place == "center"
                        else self._wall_spot(room, size, placed, keep_out))
                if spot is None:
                    continue
                center, world_size, facing = spot
                host = self._add(piece.object_type, center, world_size, room, facing)
                placed.append(host)
                self._add_parts(host, room)

    def _add(self, object_type: str, center: Vec3, size: Vec3, room: Room,
             facing: tuple[int, int], parent: Optional[str] = None) -> Entity:
        entity = Entity(self.make_id(object_type, center), object_type, center, size, room.room_id,
                        facing, parent, default_states(OBJECT_TYPES[object_type]))
        self.entities[entity.object_id] = entity
        return entity

    def _on_top(self, host: Entity, object_type: str, size: Vec3, room: Room,
                offset: tuple[float, float] = (0.0, 0.0), back: float = 0.0) -> Entity:
        """A part resting on ``host``, shifted by ``offset`` (sideways, towards the front) or ``back``."""
        fx, fy = host.facing
        rx, ry = -fy, fx  # sideways along the host's front
        w, d = (size[0], size[1]) if fx == 0 else (size[1], size[0])
        cx = host.center[0] + rx * offset[0] + fx * offset[1] - fx * back
        cy = host.center[1] + ry * offset[0] + fy * offset[1] - fy * back
        return self._add(object_type, (cx, cy, host.hi[2] + size[2] / 2.0), (w, d, size[2]), room,
                         host.facing, host.object_id)

    def _add_parts(self, host: Entity, room: Room) -> None:
        """Composite furniture, as AI2-THOR models it: basins, faucets, burners, drawers, TVs."""
        t, rng = host.object_type, self.rng
        along = host.size[0] if host.facing[0] == 0 else host.size[1]
        depth = host.size[1] if host.facing[0] == 0 else host.size[0]
        if t in ("Sink", "CounterTopBathroom"):
            self._on_top(host, "SinkBasin", (0.5, 0.4, 0.2), room, offset=(0.0, 0.05))
            self._on_top(host, "Faucet", (0.2, 0.08, 0.25), room, back=depth / 2.0 - 0.06)
        elif t == "CounterTop" and not any(e.object_type == "StoveBurner" for e in self.entities.values()
                                           if e.room == room.room_id):
            n = rng.choice((2, 4))
            for i in range(n):
                self._on_top(host, "StoveBurner", (0.25, 0.25, 0.03), room,
                             offset=((i % 2 - 0.5) * 0.35, (i // 2 - 0.5) * 0.28 if n == 4 else 0.0))
        elif t == "CounterTop" and not any(e.object_type == "Microwave" for e in self.entities.values()
                                           if e.room == room.room_id):
            self._on_top(host, "Microwave", (0.5, 0.4, 0.3), room, offset=(along / 2.0 - 0.3, 0.0), back=0.05)
            if rng.random() < 0.5:
                self._on_top(host, "Toaster", (0.28, 0.18, 0.2), room, offset=(-along / 2.0 + 0.2, 0.0), back=0.1)
        elif t == "CounterTop" and rng.random() < 0.6:
            self._on_top(host, "CoffeeMachine", (0.3, 0.3, 0.4), room, offset=(along / 2.0 - 0.2, 0.0), back=0.1)
        elif t == "Cabinet" and room.kind == "Kitchen":
            self._on_top(host, "Drawer", (along, depth, 0.25), room)
        elif t == "SideTable" and room.kind == "Bedroom" and rng.random() < 0.6:
            self._on_top(host, "Drawer", (along - 0.04, depth - 0.04, 0.25), room)
        elif t == "TVStand":
            self._on_top(host, "Television", (1.0, 0.1, 0.6), room, back=depth / 2.0 - 0.1)
        elif t == "Desk" and rng.random() < 0.6:
            self._on_top(host, "DeskLamp", (0.2, 0.2, 0.45), room, offset=(along / 2.0 - 0.15, 0.0), back=0.1)

    def _wall_spot(self, room: Room, size: Vec3, placed: list[Entity],
                   keep_out: list[tuple[Vec3, Vec3]]) -> Optional[tuple[Vec3, Vec3, tuple[int, int]]]:
        w, d, h = size
        inset = WALL_THICKNESS / 2.0 + 0.01
        for _ in range(60):
            side = self.rng.randrange(4)
            if side in (0, 1):  # south / north wall: runs along x
                if room.x1 - room.x0 - 2 * inset < w:
                    continue
                x = self.rng.uniform(room.x0 + inset + w / 2, room.x1 - inset - w / 2)
                y = room.y0 + inset + d / 2 if side == 0 else room.y1 - inset - d / 2
                facing, world = (0, 1) if side == 0 else (0, -1), (w, d, h)
            else:  # west / east wall: runs along y
                if room.y1 - room.y0 - 2 * inset < w:
                    continue
                y = self.rng.uniform(room.y0 + inset + w / 2, room.y1 - inset - w / 2)
                x = room.x0 + inset + d / 2 if side == 2 else room.x1 - inset - d / 2
                facing, world = (1, 0) if side == 2 else (-1, 0), (d, w, h)
            center = (round(x, 2), round(y, 2), h / 2.0)
            if self._free(center, world, placed, keep_out, gap=0.02):
                return center, world, facing
        return None

    def _center_spot(self, room: Room, size: Vec3,
                     placed: list[Entity]) -> Optional[tuple[Vec3, Vec3, tuple[int, int]]]:
        cx, cy = room.center
        for _ in range(30):
            world = size if self.rng.random() < 0.5 else (size[1], size[0], size[2])
            center = (round(cx + self.rng.uniform(-0.5, 0.5), 2), round(cy + self.rng.uniform(-0.5, 0.5), 2),
                      size[2] / 2)
            lo = (center[0] - world[0] / 2, center[1] - world[1] / 2, 0.0)
            hi = (center[0] + world[0] / 2, center[1] + world[1] / 2, size[2])
            if lo[0] - room.x0 < 0.8 or room.x1 - hi[0] < 0.8 or lo[1] - room.y0 < 0.8 or room.y1 - hi[1] < 0.8:
                continue
            if self._free(center, world, placed, [], gap=0.8):
                return center, world, (1, 0)
        return None

    @staticmethod
    def _free(center: Vec3, size: Vec3, placed: list[Entity], keep_out: list[tuple[Vec3, Vec3]], gap: float) -> bool:
        lo = tuple(c - s / 2 for c, s in zip(center, size))
        hi = tuple(c + s / 2 for c, s in zip(center, size))
        if any(overlap_2d(lo, hi, e.lo, e.hi, gap) for e in placed):  # type: ignore[arg-type]
            return False
        return not any(overlap_2d(lo, hi, zlo, zhi) for zlo, zhi in keep_out)  # type: ignore[arg-type]


def _door_zone(door: Door) -> tuple[Vec3, Vec3]:
    half = DOOR_WIDTH / 2.0 + 0.15
    if door.along_x:
        return (door.x - half, door.y - _DOOR_KEEP_OUT, 0.0), (door.x + half, door.y + _DOOR_KEEP_OUT, 3.0)
    return (door.x - _DOOR_KEEP_OUT, door.y - half, 0.0), (door.x + _DOOR_KEEP_OUT, door.y + half, 3.0)
