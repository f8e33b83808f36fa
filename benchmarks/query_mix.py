"""The mix of object queries the query benchmarks ask: by label, near a point, and free text.

Shared by ``bench query-service`` (through the service) and ``bench scale`` (in process), so both
measure the same kinds of question: a label memory holds, a point near a remembered object (1 m
radius), and an everyday sentence naming a remembered object with its room or holder.
"""
from __future__ import annotations

import random
from typing import Any

from scene_graph.descriptions import split_camel
from scene_graph.graph import SceneGraph
from scene_graph.records import IN, ON

KINDS = ("label", "near", "text")
RADIUS_M = 1.0
TEXT_TEMPLATES = ("where is the {thing}", "find a {thing} in the {room}", "the {thing} on the {holder}")


def make_queries(graph: SceneGraph, per_kind: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, fields) of ``per_kind`` queries of each kind, shuffled; fields as in QueryObjects."""
    rng = random.Random(seed)
    things = [o for o in graph.objects() if o.layer == "object"]
    rooms = {r.id: split_camel(r.kind) for r in graph.rooms()}
    holders = {r.subject: graph.get_object(r.object).label for r in graph.relations() if r.predicate in (IN, ON)}
    queries: list[tuple[str, dict[str, Any]]] = []
    for _ in range(per_kind):
        queries.append(("label", {"label": rng.choice(things).label}))
        x, y, z = rng.choice(things).centroid
        queries.append(("near", {"near": (x + rng.uniform(-0.5, 0.5), y + rng.uniform(-0.5, 0.5), z),
                                 "radius": RADIUS_M}))
        target = rng.choice(things)
        text = rng.choice(TEXT_TEMPLATES).format(thing=split_camel(target.label),
                                                 room=rooms.get(target.room_id, "house"),
                                                 holder=split_camel(holders.get(target.id, "Floor")))
        queries.append(("text", {"text": text}))
    rng.shuffle(queries)
    return queries
