"""Room layout: rectangular rooms tiled on a small grid, joined by doors, enclosed by walls.

Rooms occupy cells of a 3 x 2 grid whose column widths and row depths are drawn from the seed, so
neighbouring rooms share a whole wall. Rooms are added by growing from the first room, and every
added room gets a door to the room it grew from: a spanning tree, hence every room is reachable.

A building (:func:`generate_building_layout`) has several floors of a larger grid, all rooms of one
footprint. Floors are laid out side by side along x in one plane (each floor its own walled
block, ``FLOOR_GAP`` apart), not stacked in z: everything that works in the plane (navigation,
room lookup, areas) stays two-dimensional, a camera sees only its own floor, and what joins two
floors is a :class:`Portal` (stairs) in the same room of each floor, a navigation edge that costs
``STAIR_LENGTH`` metres.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from scene_graph.ontology import ROOM_KINDS

GRID = 0.25  # every wall and door lies on this lattice, which the navigation grid shares
WALL_THICKNESS = 0.1
WALL_HEIGHT = 2.5
DOOR_WIDTH = 1.0
_COLS, _ROWS = 3, 2
FLOOR_GAP = 2.0  # metres of nothing between the blocks of two floors in the plane
STOREY_HEIGHT = 3.0  # a floor's elevation is its index times this (a label: the plane has no z offset)
STAIR_LENGTH = 6.0  # metres a flight of stairs costs the robot: about 3 m up over 5 m of run


@dataclass(frozen=True)
class Room:
    room_id: str
    kind: str
    x0: float
    y0: float
    x1: float
    y1: float
    floor: int = 0

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


@dataclass(frozen=True)
class Door:
    rooms: tuple[str, str]
    x: float
    y: float
    along_x: bool  # the wall it pierces runs along x (so one passes through it along y)


@dataclass(frozen=True)
class Slab:
    """A static box (wall, floor or ceiling) given by its min and max corners."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    part: str  # "wall", "floor" or "ceiling"
    floor: int = 0  # the storey it belongs to


@dataclass(frozen=True)
class Portal:
    """Stairs between two floors: the robot enters at ``a`` on ``floors[0]`` and leaves at ``b`` on
    ``floors[1]`` (or the other way), in ``room_ids`` (the stair room of each floor)."""

    kind: str
    a: tuple[float, float]
    b: tuple[float, float]
    floors: tuple[int, int]
    room_ids: tuple[str, str]
    length: float = STAIR_LENGTH


@dataclass(frozen=True)
class Layout:
    rooms: tuple[Room, ...]
    doors: tuple[Door, ...]
    slabs: tuple[Slab, ...]
    portals: tuple[Portal, ...] = ()

    @property
    def floor_count(self) -> int:
        return 1 + max((r.floor for r in self.rooms), default=0)

    def floor_of(self, room_id: str) -> int:
        return next(r.floor for r in self.rooms if r.room_id == room_id)


def _snap(v: float) -> float:
    return round(v / GRID) * GRID


def _room_kinds(rng: random.Random, n_rooms: int, main_kind: str) -> list[str]:
    """The main kind first, then every other kind once before any repeats."""
    others = [k for k in ROOM_KINDS if k != main_kind]
    rng.shuffle(others)
    kinds = [main_kind] + others
    while len(kinds) < n_rooms:
        kinds.append(rng.choice(("Bedroom", "Bathroom", "LivingRoom")))
    return kinds[:n_rooms]


def _grow_cells(rng: random.Random, n_rooms: int, cols: int, rows: int
                ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Cells in order of addition and the tree edges (index pairs) that joined them."""
    cells = [(rng.randrange(cols), rng.randrange(rows))]
    edges: list[tuple[int, int]] = []
    while len(cells) < n_rooms:
        options = []
        for i, (c, r) in enumerate(cells):
            for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                cell = (c + dc, r + dr)
                if 0 <= cell[0] < cols and 0 <= cell[1] < rows and cell not in cells:
                    options.append((i, cell))
        parent, cell = rng.choice(options)
        edges.append((parent, len(cells)))
        cells.append(cell)
    return cells, edges


def generate_layout(rng: random.Random, n_rooms: int, main_kind: str) -> Layout:
    if not 1 <= n_rooms <= _COLS * _ROWS:
        raise ValueError(f"n_rooms must be 1..{_COLS * _ROWS}, got {n_rooms}")
    xs, ys = _lines(rng, _COLS, _ROWS)
    rooms, doors, slabs, _ = _storey(rng, n_rooms, main_kind, xs, ys, _COLS, _ROWS)
    return Layout(tuple(rooms), tuple(doors), tuple(slabs))


def generate_building_layout(rng: random.Random, floors: int, cols: int, rows: int, main_kind: str) -> Layout:
    """``floors`` storeys of ``cols`` x ``rows`` rooms each over one footprint, side by side along x;
    the main kind is the first room of the ground floor. Stairs join the room in the same cell of each floor
    to the next; their ends start at the room centres (the home moves them to free floor once
    furniture stands)."""
    if floors < 1 or cols < 1 or rows < 1:
        raise ValueError(f"a building needs at least one floor, column and row, got {floors}, {cols}, {rows}")
    xs, ys = _lines(rng, cols, rows)
    stair_cell = (rng.randrange(cols), rng.randrange(rows))
    step = _snap(xs[-1] + FLOOR_GAP)
    rooms: list[Room] = []
    doors: list[Door] = []
    slabs: list[Slab] = []
    stair_rooms: list[Room] = []
    for floor in range(floors):
        kind = main_kind if floor == 0 else rng.choice(ROOM_KINDS)
        shifted = [x + floor * step for x in xs]
        mine, their_doors, their_slabs, cells = _storey(rng, cols * rows, kind, shifted, ys, cols, rows,
                                                        floor, len(rooms))
        stair_rooms.append(mine[cells.index(stair_cell)])
        rooms += mine
        doors += their_doors
        slabs += their_slabs
    portals = tuple(Portal("stairs", lower.center, upper.center, (k, k + 1), (lower.room_id, upper.room_id))
                    for k, (lower, upper) in enumerate(zip(stair_rooms, stair_rooms[1:])))
    return Layout(tuple(rooms), tuple(doors), tuple(slabs), portals)


def _lines(rng: random.Random, cols: int, rows: int) -> tuple[list[float], list[float]]:
    """The x of each column's walls and the y of each row's, from widths and depths drawn from the seed."""
    widths = [rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)) for _ in range(cols)]
    depths = [rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)) for _ in range(rows)]
    return [sum(widths[:i]) for i in range(cols + 1)], [sum(depths[:i]) for i in range(rows + 1)]


def _storey(rng: random.Random, n_rooms: int, main_kind: str, xs: list[float], ys: list[float], cols: int,
            rows: int, floor: int = 0, first: int = 0
            ) -> tuple[list[Room], list[Door], tuple[Slab, ...], list[tuple[int, int]]]:
    """One floor's rooms (numbered from ``first``), doors, slabs, and each room's grid cell."""
    cells, tree = _grow_cells(rng, n_rooms, cols, rows)
    kinds = _room_kinds(rng, n_rooms, main_kind)
    rooms = [Room(f"{kind}_{first + i}", kind, xs[c], ys[r], xs[c + 1], ys[r + 1], floor)
             for i, (kind, (c, r)) in enumerate(zip(kinds, cells))]
    connected = set(tree)
    for a in range(n_rooms):  # a few extra doors make loops, as real homes have
        for b in range(a + 1, n_rooms):
            adjacent = abs(cells[a][0] - cells[b][0]) + abs(cells[a][1] - cells[b][1]) == 1
            if adjacent and (a, b) not in connected and (b, a) not in connected and rng.random() < 0.3:
                connected.add((a, b))
    doors = [_door(rng, rooms[a], rooms[b], cells[a], cells[b]) for a, b in sorted(connected)]
    return rooms, doors, _slabs(rooms, cells, doors, xs, ys, cols, rows, floor), cells


def _door(rng: random.Random, ra: Room, rb: Room, ca: tuple[int, int], cb: tuple[int, int]) -> Door:
    if ca[1] == cb[1]:  # side by side: the shared wall runs along y at one x
        x = ra.x1 if ca[0] < cb[0] else ra.x0
        y = _snap(rng.uniform(ra.y0 + 0.9, ra.y1 - 0.9))
        return Door((ra.room_id, rb.room_id), x, y, along_x=False)
    y = ra.y1 if ca[1] < cb[1] else ra.y0
    x = _snap(rng.uniform(ra.x0 + 0.9, ra.x1 - 0.9))
    return Door((ra.room_id, rb.room_id), x, y, along_x=True)


def _wall_pieces(fixed: float, start: float, end: float, along_x: bool, gaps: list[float],
                 floor: int = 0) -> list[Slab]:
    """A wall on the line (x or y = ``fixed``) from ``start`` to ``end`` with door ``gaps``."""
    cuts = [start]
    for g in sorted(gaps):
        cuts += [g - DOOR_WIDTH / 2.0, g + DOOR_WIDTH / 2.0]
    cuts.append(end)
    half = WALL_THICKNESS / 2.0
    pieces = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        if b - a <= 1e-6:
            continue
        if along_x:
            pieces.append(Slab((a - half, fixed - half, 0.0), (b + half, fixed + half, WALL_HEIGHT), "wall", floor))
        else:
            pieces.append(Slab((fixed - half, a - half, 0.0), (fixed + half, b + half, WALL_HEIGHT), "wall", floor))
    return pieces


def _slabs(rooms: list[Room], cells: list[tuple[int, int]], doors: Sequence[Door], xs: list[float],
           ys: list[float], cols: int = _COLS, rows: int = _ROWS, floor: int = 0) -> tuple[Slab, ...]:
    occupied = set(cells)
    slabs: list[Slab] = []
    for room in rooms:
        slabs.append(Slab((room.x0, room.y0, -0.05), (room.x1, room.y1, 0.0), "floor", floor))
        slabs.append(Slab((room.x0, room.y0, WALL_HEIGHT), (room.x1, room.y1, WALL_HEIGHT + 0.05), "ceiling", floor))
    # Each grid line segment between two cells gets one wall if either side is a room.
    for c in range(cols + 1):
        for r in range(rows):
            if (c - 1, r) in occupied or (c, r) in occupied:
                gaps = [d.y for d in doors if not d.along_x and abs(d.x - xs[c]) < 1e-6 and ys[r] < d.y < ys[r + 1]]
                slabs += _wall_pieces(xs[c], ys[r], ys[r + 1], False, gaps, floor)
    for r in range(rows + 1):
        for c in range(cols):
            if (c, r - 1) in occupied or (c, r) in occupied:
                gaps = [d.x for d in doors if d.along_x and abs(d.y - ys[r]) < 1e-6 and xs[c] < d.x < xs[c + 1]]
                slabs += _wall_pieces(ys[r], xs[c], xs[c + 1], True, gaps, floor)
    return tuple(slabs)
