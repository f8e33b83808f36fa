"""The home's floors, rooms and reachable floor as memory's floor, room and area layers.

A robot gets these from its map; with the embedded simulator they come from the generated home,
so the sim bridge (which publishes them), the in-process demo, the planner tests and the task
benchmark all build memory's layout the same way. In a building every room names its floor
(``floor_<k>``) and the areas at the two ends of each flight of stairs are adjacent, so the area
graph joins the floors where the robot can climb between them.
"""
from __future__ import annotations

import math
from dataclasses import replace

from scene_graph.graph import grid_areas
from scene_graph.records import AreaNode, RoomNode
from sim.home.world import HomeWorld


def floor_id(floor: int) -> str:
    return f"floor_{floor}"


def world_layout(world: HomeWorld, area_size: float = 1.0) -> tuple[list[RoomNode], list[AreaNode]]:
    """Rooms as rectangles, areas on a grid of ``area_size`` metres over the navigable cells."""
    home = world.home
    building = home.floors > 1
    rooms = [RoomNode(r.room_id, r.kind, ((r.x0, r.y0), (r.x1, r.y0), (r.x1, r.y1), (r.x0, r.y1)),
                      floor_id(r.floor) if building else "")
             for r in home.rooms]
    nav = home.nav
    areas = {a.id: a for a in grid_areas(rooms, area_size, lambda x, y: nav.is_free(nav.cell(x, y)))}
    for portal in home.layout.portals:
        ends = [min((a for a in areas.values() if a.room_id == room_id), key=lambda a: math.dist(a.position[:2], xy),
                    default=None) for room_id, xy in zip(portal.room_ids, (portal.a, portal.b))]
        lower, upper = ends
        if lower is None or upper is None:
            continue  # a stair room without areas (all furniture): nothing in memory to join
        areas[lower.id] = replace(lower, neighbors=tuple(sorted({*lower.neighbors, upper.id})))
        areas[upper.id] = replace(upper, neighbors=tuple(sorted({*upper.neighbors, lower.id})))
    return rooms, list(areas.values())
