"""Reproducible homes from a seed, and AI2-THOR-numbered FloorPlans.

A FloorPlan number picks the main room kind the way AI2-THOR numbers its scenes (1-30 kitchens,
201-230 living rooms, 301-330 bedrooms, 401-430 bathrooms) and seeds everything else, so
"FloorPlan 1" is always the same home. Tasks can require object types; those are then added to
the main room (AI2-THOR's scene of that number holds everything its tasks name), where a search
finds them: on their usual places or in the open.

Buildings (:func:`generate_building`; FloorPlans 501-530, a numbering AI2-THOR leaves free) have
three floors of twelve rooms joined by stairs, the kitchen on the ground floor first; the robot
starts on the top floor.
"""
from __future__ import annotations

import logging
import math
import random
from dataclasses import replace
from typing import Callable, Iterable, Optional

import numpy as np

from scene_graph.ontology import OBJECT_TYPES, ROOM_KINDS
from sim.home.entities import Entity
from sim.home.furnish import ROOM_FURNITURE, Furnisher
from sim.home.home import REACH, Home, IdMaker
from sim.home.layout import Layout, generate_building_layout, generate_layout
from sim.home.navigation import NavGrid
from sim.home.stock import stock_room

log = logging.getLogger(__name__)

_FLOOR_PLAN_KINDS = {0: "Kitchen", 2: "LivingRoom", 3: "Bedroom", 4: "Bathroom", 5: "Kitchen"}
BUILDING_PLANS = range(501, 531)
BUILDING_FLOORS, BUILDING_COLS, BUILDING_ROWS = 3, 4, 3  # SayPlan's scale: 3 floors, 36 rooms
_ATTEMPTS = 40


def floor_plan_kind(number: int) -> str:
    kind = _FLOOR_PLAN_KINDS.get(number // 100)
    if kind is None or not 1 <= number % 100 <= 99 or (number // 100 == 5 and number not in BUILDING_PLANS):
        raise ValueError(f"FloorPlan{number} is not in AI2-THOR's numbering (1-30, 201-230, 301-330, 401-430) "
                         f"nor a building (501-530)")
    return kind


def floor_plan_home(number: int, required_types: Iterable[str] = ()) -> Home:
    """The home of FloorPlan ``number``: its main room kind per AI2-THOR, 1-4 rooms in all; 501-530
    are buildings of three floors."""
    kind = floor_plan_kind(number)
    if number in BUILDING_PLANS:
        home = generate_building(10_000 + number, main_kind=kind, required_types=required_types)
    else:
        home = generate_home(seed=10_000 + number, n_rooms=1 + number % 4, main_kind=kind,
                             required_types=required_types)
    home.floor_plan = number
    return home


def generate_home(seed: int, n_rooms: Optional[int] = None, main_kind: Optional[str] = None,
                  required_types: Iterable[str] = ()) -> Home:
    """A home with 1-6 rooms, identical for identical arguments, every room and piece reachable."""
    pick = random.Random(seed)
    n_rooms = n_rooms or pick.randint(1, 6)
    kind = main_kind or pick.choice(ROOM_KINDS)
    return _generate(seed, lambda rng: generate_layout(rng, n_rooms, kind), required_types,
                     f"{n_rooms} rooms")


def generate_building(seed: int, floors: int = BUILDING_FLOORS, cols: int = BUILDING_COLS, rows: int = BUILDING_ROWS,
                      main_kind: str = "Kitchen", required_types: Iterable[str] = ()) -> Home:
    """A building of ``floors`` floors of ``cols`` x ``rows`` rooms joined by stairs, identical for
    identical arguments, every room and piece reachable; the robot starts on the top floor."""
    return _generate(seed, lambda rng: generate_building_layout(rng, floors, cols, rows, main_kind), required_types,
                     f"{floors} floors of {cols} x {rows} rooms")


def _generate(seed: int, make_layout: Callable[[random.Random], Layout], required_types: Iterable[str],
              what: str) -> Home:
    required = tuple(dict.fromkeys(required_types))
    unknown = [t for t in required if t not in OBJECT_TYPES]
    if unknown:
        raise ValueError(f"unknown object types required: {unknown}")
    for attempt in range(_ATTEMPTS):
        rng = random.Random(f"{seed}:{attempt}")
        layout = make_layout(rng)
        entities = _populate(rng, layout, required)
        nav = _navigation(layout, entities)
        try:
            layout = _stairs(layout, nav)
        except ValueError as exc:
            log.debug("home seed %s attempt %s rejected: %s", seed, attempt, exc)
            continue
        home = Home(seed, layout, entities, nav)
        problem = _problem(home, required)
        if problem is None:
            return home
        log.debug("home seed %s attempt %s rejected: %s", seed, attempt, problem)
    raise RuntimeError(f"no valid home for seed {seed} with {what} and {required} after {_ATTEMPTS} attempts")


def _populate(rng: random.Random, layout: Layout, required: tuple[str, ...]) -> dict[str, Entity]:
    entities: dict[str, Entity] = {}
    make_id = IdMaker(entities)
    main = layout.rooms[0]
    furniture_parts = {"SinkBasin": "Sink", "Faucet": "Sink", "StoveBurner": "CounterTop", "Microwave": "CounterTop",
                       "Drawer": "Cabinet", "Television": "TVStand"}
    standard = {p.object_type for p in ROOM_FURNITURE[main.kind]}
    extra = tuple(dict.fromkeys(furniture_parts.get(t, t) for t in required
                                if OBJECT_TYPES[t].layer == "furniture" and furniture_parts.get(t, t) not in standard))
    furnisher = Furnisher(rng, make_id, entities)
    for room in layout.rooms:
        doors = [d for d in layout.doors if room.room_id in d.rooms]
        furnisher.furnish(room, doors, extra if room is main else ())
    for room in layout.rooms:
        mine = tuple(t for t in required if OBJECT_TYPES[t].pickupable) if room is main else ()
        stock_room(rng, room, entities, make_id, mine)
    return entities


def _navigation(layout: Layout, entities: dict[str, Entity]) -> NavGrid:
    obstacles = [(s.lo[0], s.lo[1], s.hi[0], s.hi[1]) for s in layout.slabs if s.part == "wall"]
    obstacles += [(e.lo[0], e.lo[1], e.hi[0], e.hi[1]) for e in entities.values()
                  if e.kind.layer == "furniture" and e.parent is None]
    return NavGrid.build(((r.x0, r.y0, r.x1, r.y1) for r in layout.rooms), obstacles)


def _stairs(layout: Layout, nav: NavGrid) -> Layout:
    """Link each flight of stairs on the grid from the free cell of its room nearest the room's
    centre, and move the portal's ends there. ValueError when a stair room has no free floor."""
    portals = []
    for portal in layout.portals:
        ends = []
        for room_id in portal.room_ids:
            room = next(r for r in layout.rooms if r.room_id == room_id)
            cells = [c for c in nav.free_cells() if room.contains(*nav.center(c))]
            if not cells:
                raise ValueError(f"stair room {room_id} has no free floor")
            ends.append(min(cells, key=lambda c: math.dist(nav.center(c), room.center)))
        nav.link(ends[0], ends[1], portal.length)
        portals.append(replace(portal, a=nav.center(ends[0]), b=nav.center(ends[1])))
    return replace(layout, portals=tuple(portals))


def _problem(home: Home, required: tuple[str, ...]) -> Optional[str]:
    """Why a home is unusable, or None. Pockets cut off by furniture are removed from the grid."""
    labels = home.nav.components()
    if labels.max() == 0:
        return "no free space"
    main = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    home.nav.free = labels == main
    for room in home.rooms:
        i0, j0 = home.nav.cell(room.x0, room.y0)
        i1, j1 = home.nav.cell(room.x1, room.y1)
        if not home.nav.free[i0:i1, j0:j1].any():
            return f"{room.room_id} unreachable"
    centers = np.array([home.nav.center(c) for c in home.nav.free_cells()])

    def gap(e: Entity) -> float:
        """Horizontal distance from the nearest free cell to ``e``."""
        dx = np.maximum(np.maximum(e.lo[0] - centers[:, 0], centers[:, 0] - e.hi[0]), 0.0)
        dy = np.maximum(np.maximum(e.lo[1] - centers[:, 1], centers[:, 1] - e.hi[1]), 0.0)
        return float(np.hypot(dx, dy).min())

    for e in home:
        if e.kind.layer == "furniture" and gap(e) > REACH * 0.8:
            return f"{e.object_id} out of reach"
    present = {e.object_type for e in home}
    missing = [t for t in required if t not in present]
    if missing:
        return f"missing {missing}"
    # What a task names must be within an arm's reach of the floor (GoToObject stands within 0.9 reach).
    stranded = [t for t in required if OBJECT_TYPES[t].pickupable
                and all(gap(e) > REACH * 0.9 for e in home if e.object_type == t)]
    return f"no {stranded} within reach" if stranded else None
