"""GoToObject and Explore: drive along shortest grid paths and account for every metre."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from scene_graph.ontology import canonical_type
from scene_graph.outcomes import SkillCode
from sim.camera import AgentPose
from sim.home.entities import Entity
from sim.home.home import REACH
from sim.home.navigation import Cell
from sim.home.skills import SkillError, aim
from sim.records import Action

if TYPE_CHECKING:
    from sim.home.world import HomeWorld

_CANDIDATES = 64  # stand points tried for a clear view, nearest first
_EXPLORED_RADIUS = 1.5  # metres around a visited point that count as explored
_MOVED_M = 0.5  # an object this far from where the robot last saw it is not to be seen from there


def _resolve(world: "HomeWorld", ref: str, dist: np.ndarray) -> Entity:
    """An objectId, or a type name meaning the nearest reachable object of that type."""
    home = world.home
    if ref in home.entities:
        return home.entities[ref]
    name = canonical_type(ref)
    same = [e for e in home if name and e.object_type == name and e.object_id != world.agent.held]
    if not same:
        raise SkillError(SkillCode.UNKNOWN_OBJECT, f"Object ID appears to be invalid: no object {ref!r}")
    return min(same, key=lambda e: _best_distance(world, e, dist))


def _stand_cells(world: "HomeWorld", e: Entity, dist: np.ndarray) -> list[Cell]:
    """Reachable free cells within reach of ``e``, nearest (by path) first."""
    return _cells_near(world, e.lo, e.hi, dist)


def _cells_near(world: "HomeWorld", lo: Sequence[float], hi: Sequence[float], dist: np.ndarray) -> list[Cell]:
    """Reachable free cells within reach of the box ``lo``-``hi``, nearest (by path) first."""
    nav = world.home.nav
    cells = np.argwhere(nav.free & np.isfinite(dist))
    centers = (cells + 0.5) * nav.resolution + np.asarray(nav.origin)
    dx = np.maximum(np.maximum(lo[0] - centers[:, 0], centers[:, 0] - hi[0]), 0.0)
    dy = np.maximum(np.maximum(lo[1] - centers[:, 1], centers[:, 1] - hi[1]), 0.0)
    near = cells[np.hypot(dx, dy) <= REACH * 0.9]
    order = np.argsort(dist[near[:, 0], near[:, 1]], kind="stable")
    return [(int(i), int(j)) for i, j in near[order]]


def _best_distance(world: "HomeWorld", e: Entity, dist: np.ndarray) -> float:
    cells = _stand_cells(world, e, dist)
    return float(dist[cells[0]]) if cells else math.inf


def _visible_owner(world: "HomeWorld", e: Entity) -> Entity:
    """What a camera can see of ``e``: itself, or the closed container it is in."""
    for pid in [e.object_id] + world.home.ancestors(e.object_id):
        if not world.home.is_hidden(pid):
            return world.home[pid]
    return e


def go_to_object(world: "HomeWorld", action: Action, last_place: Optional[Sequence[float]] = None) -> None:
    """Drive to the nearest place within reach that has a clear view of the target (or of the closed
    container it is in); with none among the nearest places, fail without moving.

    ``last_place``: where the robot last saw the target (a tracked object's; None for an objectId,
    which names the object wherever it is). A robot can only drive to where it believes a thing
    is: if the thing has moved since, the robot goes there, looks, and the skill fails NOT_VISIBLE.
    """
    if not action.object_id:
        raise SkillError(SkillCode.SKILL_FAILED, "GoToObject needs an objectId or object type")
    nav, agent = world.home.nav, world.agent
    start = nav.nearest_free(agent.pose.x, agent.pose.y)
    assert start is not None  # narrowing: the robot always stands on a home's free grid
    dist, prev = nav.dijkstra(start)
    e = _resolve(world, action.object_id, dist)
    if e.object_id == agent.held:
        raise SkillError(SkillCode.SKILL_FAILED, f"{e.object_id} is already in hand")
    if last_place is not None and math.dist(e.center, last_place) > _MOVED_M:
        _look_at(world, last_place, start, dist, prev)
        raise SkillError(SkillCode.NOT_VISIBLE, f"{e.object_type} is not where it was last seen "
                         f"({last_place[0]:.2f}, {last_place[1]:.2f})")
    cells = _stand_cells(world, e, dist)
    if not cells:
        raise SkillError(SkillCode.NOT_REACHABLE, f"No reachable position near {e.object_id}")
    seen = _visible_owner(world, e)
    chosen = next((c for c in cells[:_CANDIDATES] if world.renderer.line_of_sight(
        world.home, (*nav.center(c), agent.pose.camera_height), seen.object_id)), None)
    if chosen is None:  # arriving where the target cannot be seen would only fail the next skill
        # Not NOT_VISIBLE: the object is where memory says; this home hides it from every stand
        raise SkillError(SkillCode.NO_CLEAR_VIEW, f"No clear view of {seen.object_id} from any of the "
                         f"{min(len(cells), _CANDIDATES)} places within reach of it")
    _drive_facing(world, start, chosen, prev, seen.center)


def _look_at(world: "HomeWorld", place: Sequence[float], start: Cell, dist: np.ndarray, prev: np.ndarray) -> None:
    """Drive to the nearest place within reach of ``place`` and face it (staying put when none is)."""
    cells = _cells_near(world, place, place, dist)
    if cells:
        _drive_facing(world, start, cells[0], prev, place)


def _drive_facing(world: "HomeWorld", start: Cell, goal: Cell, prev: np.ndarray, target: Sequence[float]) -> None:
    """Drive from ``start`` to ``goal`` along the shortest path and end facing ``target`` (x, y, z)."""
    x, y = world.home.nav.center(goal)
    yaw, pitch = aim(x, y, world.agent.pose.camera_height, (target[0], target[1], target[2]))
    world.drive(world.home.nav.path(start, goal, prev), yaw, pitch)


def explore(world: "HomeWorld", action: Action) -> None:
    """Go to the nearest room not yet visited (or the named room/kind); once every room has
    been visited, to the nearest place farther than 1.5 m from anywhere visited."""
    nav, agent, home = world.home.nav, world.agent, world.home
    start = nav.nearest_free(agent.pose.x, agent.pose.y)
    assert start is not None  # narrowing: the robot always stands on a home's free grid
    dist, prev = nav.dijkstra(start)
    rooms = [r for r in home.rooms if action.object_id in (None, "", r.room_id, r.kind)]
    if not rooms:
        raise SkillError(SkillCode.SKILL_FAILED, f"No room called {action.object_id!r}")
    fresh = [r for r in rooms if r.room_id not in agent.visited_rooms] or (rooms if action.object_id else [])
    goal: Optional[Cell] = None
    if fresh:
        best = math.inf
        reachable = np.argwhere(nav.free & np.isfinite(dist))
        centers = (reachable + 0.5) * nav.resolution + np.asarray(nav.origin)
        for room in fresh:
            inside = ((centers[:, 0] >= room.x0) & (centers[:, 0] <= room.x1)
                      & (centers[:, 1] >= room.y0) & (centers[:, 1] <= room.y1))
            if not inside.any():
                continue
            cx, cy = room.center
            k = int(np.argmin(np.where(inside, np.hypot(centers[:, 0] - cx, centers[:, 1] - cy), np.inf)))
            cell = (int(reachable[k][0]), int(reachable[k][1]))
            if dist[cell] < best:
                best, goal = float(dist[cell]), cell
    else:
        visited = np.array(agent.trail) if agent.trail else np.zeros((0, 2))
        unexplored = [c for c in nav.free_cells() if np.isfinite(dist[c]) and (
            len(visited) == 0 or np.min(np.hypot(*(visited - nav.center(c)).T)) > _EXPLORED_RADIUS)]
        if unexplored:
            goal = min(unexplored, key=lambda c: dist[c])
    if goal is None:
        raise SkillError(SkillCode.SKILL_FAILED, "Nothing left to explore")
    path = nav.path(start, goal, prev)
    yaw = agent.pose.yaw
    if len(path) >= 2:
        (ax, ay), (bx, by) = nav.center(path[-2]), nav.center(path[-1])
        yaw = math.atan2(by - ay, bx - ax)
    world.drive(path, yaw, AgentPose(0, 0).pitch)
