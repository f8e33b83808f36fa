"""Triangle soup of a home: every wall, floor, piece of furniture and object as boxes.

One merged mesh (rather than one geometry per box) lets a single ray cast return a primitive id
that a lookup table turns into an instance id and a colour, and makes a rebuild after a change a
few numpy concatenations. Containers leave out the face they are open on, so their contents show.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from sim.home.entities import Entity
from sim.home.home import Home

# Unit cube corners and its 12 triangles, two per face, faces ordered -x +x -y +y -z +z.
_CORNERS = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float32)
_TRIS = np.array([
    [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # -x, +x
    [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # -y, +y
    [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # -z, +z
], dtype=np.int64)
_FACE_OF_TRI = np.repeat(np.arange(6), 2)
_FACE_INDEX = {"-x": 0, "+x": 1, "-y": 2, "+y": 3, "-z": 4, "+z": 5}

_STRUCTURE_COLOURS = {"wall": (0.86, 0.83, 0.76), "ceiling": (0.95, 0.95, 0.95)}
_FLOOR_COLOURS = {"Kitchen": (0.72, 0.70, 0.66), "LivingRoom": (0.62, 0.45, 0.30),
                  "Bedroom": (0.55, 0.42, 0.32), "Bathroom": (0.78, 0.82, 0.85)}
COLOURS = {
    "Fridge": (0.88, 0.89, 0.90), "CounterTop": (0.35, 0.33, 0.32), "Cabinet": (0.60, 0.45, 0.28),
    "Drawer": (0.66, 0.50, 0.32), "Sink": (0.55, 0.55, 0.58), "SinkBasin": (0.80, 0.82, 0.85),
    "StoveBurner": (0.10, 0.10, 0.10), "Microwave": (0.20, 0.20, 0.22), "GarbageCan": (0.25, 0.35, 0.25),
    "DiningTable": (0.55, 0.38, 0.22), "CoffeeTable": (0.50, 0.35, 0.20), "Sofa": (0.30, 0.35, 0.55),
    "Bed": (0.85, 0.85, 0.92), "Apple": (0.80, 0.10, 0.10), "Tomato": (0.90, 0.20, 0.10),
    "Lettuce": (0.40, 0.75, 0.25), "Bread": (0.80, 0.60, 0.30), "Egg": (0.95, 0.92, 0.85),
    "Potato": (0.70, 0.55, 0.35), "Knife": (0.75, 0.75, 0.78), "Faucet": (0.70, 0.70, 0.72),
}
_DIRT = np.array([0.35, 0.25, 0.12], dtype=np.float32)


def type_colour(object_type: str) -> np.ndarray:
    """A fixed colour per type: hand-picked for common ones, else derived from the name."""
    if object_type in COLOURS:
        return np.array(COLOURS[object_type], dtype=np.float32)
    h = hashlib.md5(object_type.encode()).digest()
    return np.array([0.25 + 0.65 * b / 255.0 for b in h[:3]], dtype=np.float32)


def entity_colour(e: Entity) -> np.ndarray:
    """Type colour changed by state, so a camera can tell dirty, cooked and switched-on things."""
    c = type_colour(e.object_type)
    if e.states.get("dirty"):
        c = 0.45 * c + 0.55 * _DIRT
    if e.states.get("cooked"):
        c = c * np.array([0.7, 0.5, 0.35], dtype=np.float32)
    if e.states.get("sliced"):
        c = 0.6 * c + 0.4
    if e.states.get("toggled"):
        c = np.minimum(c + 0.3, 1.0)
    return c.astype(np.float32)


@dataclass(frozen=True)
class Soup:
    vertices: np.ndarray  # (V, 3) float32
    triangles: np.ndarray  # (T, 3) uint32
    instance: np.ndarray  # (T,) int32, 0 for walls, floors and ceilings
    colour: np.ndarray  # (T, 3) float32 in [0, 1]


def _open_faces(e: Entity) -> list[str]:
    recipe = e.receptacle
    if recipe is None or recipe.opening is None:
        return []
    if recipe.mode == "inside" and e.kind.openable and not e.states.get("open"):
        return []
    if recipe.opening == "top":
        return ["+z"]
    fx, fy = e.facing
    return [("+" if fx + fy > 0 else "-") + ("x" if fx else "y")]


def _shelf_boards(e: Entity) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner boards of open-fronted containers, so their levels show when open."""
    recipe = e.receptacle
    if recipe is None or recipe.opening != "front" or len(recipe.levels) < 2 or _open_faces(e) == []:
        return []
    lo, hi = np.array(e.lo), np.array(e.hi)
    boards = []
    for level in recipe.levels[1:]:
        z = lo[2] + level * e.size[2]
        boards.append((np.array([lo[0], lo[1], z - 0.01]), np.array([hi[0], hi[1], z])))
    return boards


def build_soup(home: Home, floor: int = 0) -> Soup:
    """The triangles of one floor: its walls, floors and ceilings and what stands in its rooms."""
    boxes: list[tuple[np.ndarray, np.ndarray]] = []
    omit: list[list[str]] = []
    inst: list[int] = []
    cols: list[np.ndarray] = []
    kind_of_room = {r.room_id: r.kind for r in home.rooms}
    for slab in home.layout.slabs:
        if slab.floor != floor:
            continue
        boxes.append((np.array(slab.lo), np.array(slab.hi)))
        omit.append([])
        inst.append(0)
        if slab.part == "floor":
            room = home.room_at((slab.lo[0] + slab.hi[0]) / 2, (slab.lo[1] + slab.hi[1]) / 2)
            ground = _FLOOR_COLOURS[kind_of_room[room.room_id]] if room else (0.5, 0.5, 0.5)
            cols.append(np.array(ground, dtype=np.float32))
        else:
            cols.append(np.array(_STRUCTURE_COLOURS[slab.part], dtype=np.float32))
    for e in home:
        if e.picked_up or home.is_hidden(e.object_id) or home.floor_at(*e.center[:2]) != floor:
            continue
        iid, colour = home.instance_id(e.object_id), entity_colour(e)
        boxes.append((np.array(e.lo), np.array(e.hi)))
        omit.append(_open_faces(e))
        inst.append(iid)
        cols.append(colour)
        for board in _shelf_boards(e):
            boxes.append(board)
            omit.append([])
            inst.append(iid)
            cols.append(colour)
    return _assemble(boxes, omit, inst, cols)


def _assemble(boxes: list[tuple[np.ndarray, np.ndarray]], omit: list[list[str]], inst: list[int],
              cols: list[np.ndarray]) -> Soup:
    n = len(boxes)
    lo = np.array([b[0] for b in boxes], dtype=np.float32)
    hi = np.array([b[1] for b in boxes], dtype=np.float32)
    verts = (lo[:, None, :] + _CORNERS[None] * (hi - lo)[:, None, :]).reshape(-1, 3)
    tris = (_TRIS[None] + 8 * np.arange(n)[:, None, None]).reshape(-1, 3)
    keep = np.ones((n, 12), dtype=bool)
    for k, faces in enumerate(omit):
        for face in faces:
            keep[k, _FACE_OF_TRI == _FACE_INDEX[face]] = False
    kept = keep.ravel()
    instance = np.repeat(np.array(inst, dtype=np.int32), 12)[kept]
    colour = np.repeat(np.array(cols, dtype=np.float32), 12, axis=0)[kept]
    return Soup(verts, tris[kept].astype(np.uint32), instance, colour)
