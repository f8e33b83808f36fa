"""Deterministic memory builders shared by the store tests and the processes they kill."""
from __future__ import annotations

import numpy as np

from scene_graph.graph import SceneGraph, grid_areas
from scene_graph.records import ObjectNode, OrientedBox, RoomNode

ROOMS = [RoomNode("room_0", "Kitchen", ((0, 0), (5, 0), (5, 5), (0, 5))),
         RoomNode("room_1", "Bedroom", ((5, 0), (10, 0), (10, 5), (5, 5)))]
LABELS = ["Apple", "Mug", "Book", "Bowl", "CellPhone"]


def grow(graph: SceneGraph, step: int, points_per_object: int = 4000) -> None:
    """Mutation number ``step``: a new object with a point cloud, and every third step a state."""
    if step == 1:
        graph.set_layout(ROOMS, grid_areas(ROOMS, spacing=1.0))
    rng = np.random.default_rng(step)
    center = (float(step % 10) + 0.3, float(step // 10 % 5) + 0.4, 0.05)
    box = OrientedBox(center, (0.1, 0.1, 0.1), 0.1 * step)
    node = ObjectNode(graph.new_object_id(), LABELS[step % len(LABELS)], "object", center, box,
                      first_seen=float(step), last_seen=float(step))
    points = (rng.normal(size=(points_per_object, 3)) * 0.03 + center).astype(np.float32)
    graph.upsert_object(node, points)
    if step % 3 == 0:
        graph.set_object_state(node.id, "dirty", True, float(step))


def grown(steps: int) -> SceneGraph:
    graph = SceneGraph()
    for step in range(1, steps + 1):
        grow(graph, step)
    return graph
