"""Room layout: rectangular rooms tiled on a small grid, joined by doors, enclosed by walls.

Rooms occupy cells of a 3 x 2 grid whose column widths and row depths are drawn from the seed, so
neighbouring rooms share a whole wall. Rooms are added by growing from the first room, and every
added room gets a door to the room it grew from: a spanning tree, hence every room is reachable.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from scene_graph.ontology import ROOM_KINDS

GRID = 0.25  # every wall and door lies on this lattice, which the navigation grid shares
WALL_THICKNESS = 0.1
WALL_HEIGHT = 2.5
DOOR_WIDTH = 1.0
_COLS, _ROWS = 3, 2


@dataclass(frozen=True)
class Room:
    room_id: str
    kind: str
    x0: float
    y0: float
    x1: float
    y1: float

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


@dataclass(frozen=True)
class Layout:
    rooms: tuple[Room, ...]
    doors: tuple[Door, ...]
    slabs: tuple[Slab, ...]


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


def _grow_cells(rng: random.Random, n_rooms: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Cells in order of addition and the tree edges (index pairs) that joined them."""
    cells = [(rng.randrange(_COLS), rng.randrange(_ROWS))]
    edges: list[tuple[int, int]] = []
    while len(cells) < n_rooms:
        options = []
        for i, (c, r) in enumerate(cells):
            for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                cell = (c + dc, r + dr)
                if 0 <= cell[0] < _COLS and 0 <= cell[1] < _ROWS and cell not in cells:
                    options.append((i, cell))
        parent, cell = rng.choice(options)
        edges.append((parent, len(cells)))
        cells.append(cell)
    return cells, edges


def generate_layout(rng: random.Random, n_rooms: int, main_kind: str) -> Layout:
    if not 1 <= n_rooms <= _COLS * _ROWS:
        raise ValueError(f"n_rooms must be 1..{_COLS * _ROWS}, got {n_rooms}")
    widths = [rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)) for _ in range(_COLS)]
    depths = [rng.choice((3.0, 3.5, 4.0, 4.5, 5.0)) for _ in range(_ROWS)]
    xs = [sum(widths[:i]) for i in range(_COLS + 1)]
    ys = [sum(depths[:i]) for i in range(_ROWS + 1)]
    cells, tree = _grow_cells(rng, n_rooms)
    kinds = _room_kinds(rng, n_rooms, main_kind)
    rooms = [Room(f"{kind}_{i}", kind, xs[c], ys[r], xs[c + 1], ys[r + 1])
             for i, (kind, (c, r)) in enumerate(zip(kinds, cells))]
    connected = set(tree)
    for a in range(n_rooms):  # a few extra doors make loops, as real homes have
        for b in range(a + 1, n_rooms):
            adjacent = abs(cells[a][0] - cells[b][0]) + abs(cells[a][1] - cells[b][1]) == 1
            if adjacent and (a, b) not in connected and (b, a) not in connected and rng.random() < 0.3:
                connected.add((a, b))
    doors = tuple(_door(rng, rooms[a], rooms[b], cells[a], cells[b]) for a, b in sorted(connected))
    return Layout(tuple(rooms), doors, _slabs(rooms, cells, doors, xs, ys))


def _door(rng: random.Random, ra: Room, rb: Room, ca: tuple[int, int], cb: tuple[int, int]) -> Door:
    if ca[1] == cb[1]:  # side by side: the shared wall runs along y at one x
        x = ra.x1 if ca[0] < cb[0] else ra.x0
        y = _snap(rng.uniform(ra.y0 + 0.9, ra.y1 - 0.9))
        return Door((ra.room_id, rb.room_id), x, y, along_x=False)
    y = ra.y1 if ca[1] < cb[1] else ra.y0
    x = _snap(rng.uniform(ra.x0 + 0.9, ra.x1 - 0.9))
    return Door((ra.room_id, rb.room_id), x, y, along_x=True)


def _wall_pieces(fixed: float, start: float, end: float, along_x: bool, gaps: list[float]) -> list[Slab]:
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
            pieces.append(Slab((a - half, fixed - half, 0.0), (b + half, fixed + half, WALL_HEIGHT), "wall"))
        else:
            pieces.append(Slab((fixed - half, a - half, 0.0), (fixed + half, b + half, WALL_HEIGHT), "wall"))
    return pieces


def _slabs(rooms: list[Room], cells: list[tuple[int, int]], doors: tuple[Door, ...],
           xs: list[float], ys: list[float]) -> tuple[Slab, ...]:
    occupied = set(cells)
    slabs: list[Slab] = []
    for room in rooms:
        slabs.append(Slab((room.x0, room.y0, -0.05), (room.x1, room.y1, 0.0), "floor"))
        slabs.append(Slab((room.x0, room.y0, WALL_HEIGHT), (room.x1, room.y1, WALL_HEIGHT + 0.05), "ceiling"))
    # Each grid line segment between two cells gets one wall if either side is a room.
    for c in range(_COLS + 1):
        for r in range(_ROWS):
            if (c - 1, r) in occupied or (c, r) in occupied:
                gaps = [d.y for d in doors if not d.along_x and abs(d.x - xs[c]) < 1e-6 and ys[r] < d.y < ys[r + 1]]
                slabs += _wall_pieces(xs[c], ys[r], ys[r + 1], False, gaps)
    for r in range(_ROWS + 1):
        for c in range(_COLS):
            if (c, r - 1) in occupied or (c, r) in occupied:
                gaps = [d.x for d in doors if d.along_x and abs(d.y - ys[r]) < 1e-6 and xs[c] < d.x < xs[c + 1]]
                slabs += _wall_pieces(ys[r], xs[c], xs[c + 1], True, gaps)
    return tuple(slabs)
