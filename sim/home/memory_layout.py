"""The home's rooms and reachable floor as memory's room and area layers.

A robot gets these from its map; with the embedded simulator they come from the generated home,
so the sim bridge (which publishes them), the in-process demo, the planner tests and the task
benchmark all build memory's layout the same way.
"""
from __future__ import annotations

from scene_graph.graph import grid_areas
from scene_graph.records import AreaNode, RoomNode
from sim.home.world import HomeWorld


def world_layout(world: HomeWorld, area_size: float = 1.0) -> tuple[list[RoomNode], list[AreaNode]]:
    """Rooms as rectangles, areas on a grid of ``area_size`` metres over the navigable cells."""
    rooms = [RoomNode(r.room_id, r.kind, ((r.x0, r.y0), (r.x1, r.y0), (r.x1, r.y1), (r.x0, r.y1)))
             for r in world.home.rooms]
    nav = world.home.nav
    return rooms, grid_areas(rooms, area_size, lambda x, y: nav.is_free(nav.cell(x, y)))
