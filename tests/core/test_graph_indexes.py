"""The scene graph's secondary and spatial indexes agree with a scan of memory after every kind of change."""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.synthetic import CAMERA, kitchen_scene, kitchen_views, look_at, make_frame
from scene_graph.fusion import Fusion, _view_ball
from scene_graph.graph import SceneGraph, grid_areas
from scene_graph.records import MISSING, ObjectNode, OrientedBox, RoomNode
from scene_graph.relations import aabb_gap
from scene_graph.spatial import SpatialIndex

LABELS = ("Apple", "Mug", "Bowl", "Fridge", "CounterTop")


def _node(graph: SceneGraph, rng: random.Random, stamp: float) -> ObjectNode:
    size = (rng.uniform(0.05, 2.5), rng.uniform(0.05, 1.0), rng.uniform(0.05, 1.5))
    centre = (rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(0, 2))
    box = OrientedBox(centre, size, rng.uniform(0, 3))
    label = rng.choice(LABELS)
    return ObjectNode(graph.new_object_id(), label, "object", centre, box, first_seen=stamp, last_seen=stamp,
                      external_id=f"{label}|{rng.randint(0, 30)}" if rng.random() < 0.5 else "",
                      label_votes=((label, 1.0), (rng.choice(LABELS), 0.5)))


def _scan_within(graph: SceneGraph, box: OrientedBox, distance: float) -> set[str]:
    lo, hi = box.aabb()
    return {o.id for o in graph.objects() if float(aabb_gap(lo, hi, *o.box.aabb())) <= distance}


def _check(graph: SceneGraph, rng: random.Random) -> None:
    objects = graph.objects()
    assert graph.relation_set() == set(graph.relations())
    for label in LABELS:
        assert graph.ids_with_label(label) == {o.id for o in objects if o.label == label}
        assert graph.ids_voted([label]) == {o.id for o in objects if label in {o.label, *dict(o.label_votes)}}
    for room in {o.room_id for o in objects} | {"room_0", "nowhere"}:
        assert graph.ids_in_rooms([room]) == {o.id for o in objects if o.room_id == room}
    for status in ("visible", MISSING):
        assert graph.ids_with_status(status) == {o.id for o in objects if o.status == status}
    for external in {o.external_id for o in objects if o.external_id}:
        assert graph.ids_with_external(external) == {o.id for o in objects if o.external_id == external}
    stamp = rng.uniform(0, 60)
    assert graph.changed_since_ids(stamp) == [o.id for o in sorted(objects, key=lambda o: (o.last_changed, o.id))
                                              if o.last_changed >= stamp]
    newest = sorted(objects, key=lambda o: (-o.last_changed, o.id))[:7]
    assert graph.newest_ids(7) == [o.id for o in newest]
    for label in LABELS:
        of_label = sorted((o for o in objects if o.label == label), key=lambda o: (-o.last_changed, o.id))[:5]
        assert graph.newest_ids(5, label) == [o.id for o in of_label]
    for _ in range(10):
        probe = OrientedBox((rng.uniform(-20, 20), rng.uniform(-20, 20), 1.0), (1.0, 0.5, 0.5), 0.3)
        distance = rng.uniform(0.0, 3.0)
        assert {o.id for o in graph.objects_near_box(probe, distance)} == _scan_within(graph, probe, distance)
        point, radius = probe.center, rng.uniform(0.5, 6.0)
        expected = {o.id for o in objects if np.linalg.norm(np.subtract(o.centroid, point)) <= radius}
        assert {o.id for o, _ in graph.near_point(point, radius)} == expected
        assert [o.id for o in graph.objects_in_ball(point, radius)] == [o.id for o in objects if o.id in expected]


@pytest.mark.parametrize("rebuild_after", [4, 1000])
def test_indexes_follow_add_remove_move_state_missing(rebuild_after: int) -> None:
    rng = random.Random(rebuild_after)
    graph = SceneGraph()
    graph._index = SpatialIndex(rebuild_after=rebuild_after)  # small: trees rebuilt while changes go on
    rooms = [RoomNode(f"room_{i}", "Kitchen", ((x, -20.0), (x + 20.0, -20.0), (x + 20.0, 20.0), (x, 20.0)))
             for i, x in enumerate((-20.0, 0.0))]
    graph.set_layout(rooms, grid_areas(rooms, spacing=5.0))
    stamp = 0.0
    for step in range(300):
        stamp += 0.2
        ids = [o.id for o in graph.objects()]
        action = rng.random()
        if action < 0.45 or len(ids) < 5:
            graph.upsert_object(_node(graph, rng, stamp))
        elif action < 0.6:
            graph.remove_object(rng.choice(ids), stamp)
        elif action < 0.8:  # moved far: an index that kept the old place would answer wrongly
            node = graph.get_object(rng.choice(ids))
            assert node is not None
            centre = (rng.uniform(-20, 20), rng.uniform(-20, 20), 1.0)
            graph.upsert_object(replace(node, centroid=centre, box=replace(node.box, center=centre), last_seen=stamp,
                                        label=rng.choice(LABELS)))
        elif action < 0.9:
            graph.set_object_state(rng.choice(ids), "open", rng.random() < 0.5, stamp)
        else:
            graph.mark_missing(rng.choice(ids), stamp)
        if step % 25 == 0:
            _check(graph, rng)
    _check(graph, rng)
    if rebuild_after == 4:
        assert graph._index.rebuilds > 10


def test_indexes_follow_fusion_merges_and_a_snapshot_load() -> None:
    rng = random.Random(3)
    graph = SceneGraph()
    graph._index = SpatialIndex(rebuild_after=2)
    fusion = Fusion(graph)
    scene = kitchen_scene(12)
    for n, pose in enumerate(kitchen_views(6)):
        fusion.integrate(make_frame(scene, CAMERA, pose, float(n + 1)))
        _check(graph, rng)
    assert fusion.stats.merged > 0
    restored = SceneGraph.from_snapshot(graph.snapshot(), graph.geometry())
    _check(restored, rng)
    assert restored.ids_with_label("Fridge") == graph.ids_with_label("Fridge") != set()


def test_room_and_area_lookup_follow_the_layout() -> None:
    graph = SceneGraph()
    rooms = [RoomNode(f"room_{i}", "Bedroom", ((10.0 * i, 0.0), (10.0 * i + 10, 0.0), (10.0 * i + 10, 10.0),
                                                (10.0 * i, 10.0))) for i in range(30)]
    areas = grid_areas(rooms, spacing=2.0)
    graph.set_layout(rooms, areas)
    for x in (0.5, 55.0, 299.0):
        assert graph.room_at((x, 5.0, 0.0)) == f"room_{int(x // 10)}"
        room = graph.room_at((x, 5.0, 0.0))
        mine = [a for a in areas if a.room_id == room]
        nearest = min(mine, key=lambda a: np.hypot(a.position[0] - x, a.position[1] - 5.0))
        assert graph.nearest_area((x, 5.0, 0.0), room) == nearest.id
    assert graph.room_at((-5.0, 5.0, 0.0)) == ""
    overall = min(areas, key=lambda a: np.hypot(a.position[0] + 5.0, a.position[1] - 5.0))
    assert graph.nearest_area((-5.0, 5.0, 0.0)) == overall.id


def test_the_view_ball_holds_every_point_negative_evidence_may_test() -> None:
    """Fusion asks the spatial index only for objects in this ball: a point it missed that projects
    within a quarter image of the view, closer than max_depth, would escape negative evidence."""
    rng = np.random.default_rng(0)
    k = CAMERA
    for eye, target in (((0, 0, 1.5), (3, 1, 0.5)), ((5, -2, 0.3), (5, 8, 2.0)), ((1, 1, 1), (1.2, 1.1, -3))):
        pose = look_at(eye, target)
        centre, radius = _view_ball(k, pose[:3, :3], pose[:3, 3], max_depth=8.0)
        u = rng.uniform(-0.25 * k.width, 1.25 * k.width, 5000)
        v = rng.uniform(-0.25 * k.height, 1.25 * k.height, 5000)
        z = rng.uniform(0.0, 8.0, 5000)
        camera = np.stack([(u - k.cx) / k.fx * z, (v - k.cy) / k.fy * z, z], axis=1)
        world = camera @ pose[:3, :3].T + pose[:3, 3]
        assert np.all(np.linalg.norm(world - centre, axis=1) <= radius)
        assert radius < 8.0 * 2  # and it is no whole-memory query


def test_indexed_queries_answer_as_a_scan_of_memory_does() -> None:
    """Label, room, time and place filters (alone and together) through the indexes give the answer
    that filtering every remembered object gives; without filters, the most recently changed."""
    from benchmarks.synthetic import synthetic_home
    from scene_graph.retrieval import MemoryRetriever

    graph, _ = synthetic_home(300, seed=1)
    for n, node in enumerate(graph.objects()[::7]):
        graph.set_object_state(node.id, "dirty", True, 2.0 + n)
    retriever = MemoryRetriever(graph)
    objects = graph.objects()
    kitchen = {r.id for r in graph.rooms() if r.kind == "Kitchen"}
    point = objects[40].centroid

    def scan(label: str = "", room: str = "", since: float | None = None, near: bool = False) -> list[str]:
        found = []
        for o in objects:
            distance = float(np.linalg.norm(np.subtract(o.centroid, point)))
            if ((not label or o.label == label) and (not room or o.room_id in kitchen)
                    and (since is None or o.last_changed >= since) and (not near or distance <= 2.0)):
                found.append((-(1.0 - distance / 2.0) if near else -1.0, -o.last_changed, o.id))
        return [i for *_, i in sorted(found)][:10]

    for fields in ({"label": "Apple"}, {"room": "kitchen"}, {"since": 20.0}, {"near": True},
                   {"label": "CounterTop", "room": "kitchen"}, {"near": True, "since": 5.0}, {}):
        asked = dict(fields, near=point, radius=2.0) if fields.get("near") else fields
        answer = [s.node.id for s in retriever.query(k=10, **asked)]
        assert answer == scan(**fields), fields
        assert answer
