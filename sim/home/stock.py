"""Pickupable objects: which ones a room kind holds and where people usually keep them."""
from __future__ import annotations

import random
from typing import Callable, Optional

from scene_graph.ontology import OBJECT_TYPES
from scene_graph.usual_places import HOME_OF
from sim.home.entities import Entity, Vec3, default_states
from sim.home.layout import Room
from sim.home.placement import find_spot

_COUNTS = {"Kitchen": (14, 22), "LivingRoom": (6, 11), "Bedroom": (6, 10), "Bathroom": (5, 8)}
# Containers first, so food can land in a bowl and a spoon in a mug.
_ORDER = ("Bowl", "Plate", "Pot", "Pan", "Mug", "Cup", "Box")


def pickupables_for(kind: str) -> list[str]:
    return [t.name for t in OBJECT_TYPES.values() if t.pickupable and kind in t.rooms]


def place_object(rng: random.Random, object_type: str, room: Room, entities: dict[str, Entity],
                 make_id: Callable[[str, Vec3], str], hosts: Optional[list[Entity]] = None,
                 required: bool = False) -> Optional[Entity]:
    """Put a new object of ``object_type`` on a fitting receptacle of ``room`` (usual ones first).

    A ``required`` object (one a task names) goes to a usual place or, failing that, to any open
    receptacle it fits, never shut away where nobody would look for it."""
    kind = OBJECT_TYPES[object_type]
    candidates = hosts if hosts is not None else [e for e in entities.values() if e.room == room.room_id]
    usual = HOME_OF.get(object_type, ())
    ranked = sorted((e for e in candidates if e.receptacle is not None and e.object_id in entities),
                    key=lambda e: (usual.index(e.object_type) if e.object_type in usual else len(usual), rng.random()))
    for host in ranked:
        if host.object_type not in usual and rng.random() < 0.7 and not required:
            continue  # unusual places only now and then
        if required and host.object_type not in usual and host.receptacle and host.receptacle.mode == "inside":
            continue
        spot = find_spot(host, kind.size, entities.values(), rng=rng)
        if spot is None:
            continue
        center, size, level = spot
        entity = Entity(make_id(object_type, center), object_type, center, size, room.room_id, host.facing,
                        host.object_id, default_states(kind), level=level)
        entities[entity.object_id] = entity
        return entity
    return None


def stock_room(rng: random.Random, room: Room, entities: dict[str, Entity],
               make_id: Callable[[str, Vec3], str], required: tuple[str, ...] = ()) -> None:
    pool = pickupables_for(room.kind)
    chosen = [(t, True) for t in required] + [(rng.choice(pool), False)
                                              for _ in range(rng.randint(*_COUNTS[room.kind]))]
    chosen.sort(key=lambda c: _ORDER.index(c[0]) if c[0] in _ORDER else len(_ORDER))
    for object_type, needed in chosen:
        entity = place_object(rng, object_type, room, entities, make_id, required=needed)
        if entity is not None and entity.kind.dirtyable and rng.random() < 0.25:
            entity.states["dirty"] = True
