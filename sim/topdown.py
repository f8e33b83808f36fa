"""A top-down map of a home: rooms, doors, furniture, objects, the robot and its path.

Plain numpy + OpenCV (headless) so it works wherever the simulator does; north (+y) is up.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import cv2
import numpy as np

from sim.home.home import Home
from sim.home.meshes import type_colour

_ROOM_RGB = {"Kitchen": (250, 236, 200), "LivingRoom": (214, 234, 248), "Bedroom": (232, 218, 239),
             "Bathroom": (208, 240, 230)}
_MARGIN = 20


def map_frame(home: Home,
              scale: float = 60.0) -> tuple[tuple[int, int, int], Callable[[float, float], tuple[int, int]]]:
    """The image shape of the home's map and the world (x, y) -> pixel function, for overlays."""
    x0, y0 = min(r.x0 for r in home.rooms), min(r.y0 for r in home.rooms)
    width, depth = max(r.x1 for r in home.rooms) - x0, max(r.y1 for r in home.rooms) - y0
    height = int(depth * scale) + 2 * _MARGIN

    def px(x: float, y: float) -> tuple[int, int]:
        return int(round(_MARGIN + (x - x0) * scale)), int(round(height - _MARGIN - (y - y0) * scale))

    return (height, int(width * scale) + 2 * _MARGIN, 3), px


def draw_map(world_or_home, path: Optional[Sequence[tuple[float, float]]] = None, scale: float = 60.0) -> np.ndarray:
    """RGB uint8 image. Accepts a ``HomeWorld`` (draws its robot and trail) or a ``Home``;
    ``path`` overrides the trail (metres, world x/y)."""
    home: Home = getattr(world_or_home, "home", world_or_home)
    agent = getattr(world_or_home, "agent", None)
    if path is None and agent is not None:
        path = agent.trail
    shape, px = map_frame(home, scale)
    img = np.full(shape, 255, np.uint8)

    for room in home.rooms:
        cv2.rectangle(img, px(room.x0, room.y0), px(room.x1, room.y1), _ROOM_RGB[room.kind], -1)
    for slab in home.layout.slabs:
        if slab.part == "wall":
            cv2.rectangle(img, px(slab.lo[0], slab.lo[1]), px(slab.hi[0], slab.hi[1]), (60, 60, 60), -1)
    for e in home:
        on_furniture = e.parent is not None and home[e.parent].kind.layer == "furniture"
        if e.kind.layer != "furniture" or on_furniture and e.object_type != "Microwave":
            continue
        colour = tuple(int(c) for c in type_colour(e.object_type) * 200)
        cv2.rectangle(img, px(e.lo[0], e.lo[1]), px(e.hi[0], e.hi[1]), colour, -1)
        cv2.rectangle(img, px(e.lo[0], e.lo[1]), px(e.hi[0], e.hi[1]), (90, 90, 90), 1)
    for e in home:
        if e.kind.layer == "furniture" and e.parent is not None:
            cv2.rectangle(img, px(e.lo[0], e.lo[1]), px(e.hi[0], e.hi[1]), (70, 70, 70), 1)
    for e in home:
        if e.kind.pickupable and not e.picked_up:
            colour = tuple(int(c) for c in type_colour(e.object_type) * 255)
            hidden = home.is_hidden(e.object_id)
            cv2.circle(img, px(*e.center[:2]), 3, colour, 1 if hidden else -1, cv2.LINE_AA)
    for e in home:
        if e.kind.layer == "furniture" and e.parent is None and max(e.size[:2]) >= 0.5:
            x, y = px(*e.center[:2])
            cv2.putText(img, e.object_type, (x - 4 * len(e.object_type) // 2, y + 3), cv2.FONT_HERSHEY_PLAIN,
                        0.7, (20, 20, 20), 1, cv2.LINE_AA)
    for room in home.rooms:
        x, y = px(room.x0 + 0.15, room.y1 - 0.35)
        cv2.putText(img, room.room_id, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 30, 140), 1, cv2.LINE_AA)
    if path is not None and len(path) >= 2:
        pts = np.array([px(x, y) for x, y in path], np.int32)
        cv2.polylines(img, [pts], False, (220, 40, 40), 2, cv2.LINE_AA)
    if agent is not None:
        pose = agent.pose
        x, y = px(pose.x, pose.y)
        tip = (int(x + 14 * math.cos(pose.yaw)), int(y - 14 * math.sin(pose.yaw)))
        cv2.circle(img, (x, y), 7, (200, 30, 30), -1, cv2.LINE_AA)
        cv2.arrowedLine(img, (x, y), tip, (120, 0, 0), 2, cv2.LINE_AA, tipLength=0.4)
    return img


def save_map(world_or_home, out: Union[str, Path], path: Optional[Sequence[tuple[float, float]]] = None,
             scale: float = 60.0) -> Path:
    """Write the map as PNG; returns the path written."""
    out = Path(out)
    if not cv2.imwrite(str(out), cv2.cvtColor(draw_map(world_or_home, path, scale), cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {out}")
    return out
