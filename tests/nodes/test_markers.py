"""memory_nodes.markers: the scene graph as RViz markers, ids stable, deletions for what is gone."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("rclpy")
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from memory_nodes.conversions import from_time  # noqa: E402
from memory_nodes.markers import (  # noqa: E402
    NAMESPACES,
    PREDICATE_COLOURS,
    MarkerKey,
    MemoryView,
    build_markers,
    label_colour,
    label_text,
)
from memory_nodes.tools.demo import DemoRun  # noqa: E402
from scene_graph.graph import SceneGraph, grid_areas  # noqa: E402
from scene_graph.records import ObjectNode, OrientedBox, RoomNode  # noqa: E402

ROOMS = [RoomNode("Kitchen_0", "Kitchen", ((0, 0), (4, 0), (4, 4), (0, 4))),
         RoomNode("Bedroom_1", "Bedroom", ((4, 0), (8, 0), (8, 4), (4, 4)))]


def _object(object_id: str, label: str, layer: str, center: tuple[float, float, float],
            extent: tuple[float, float, float]) -> ObjectNode:
    return ObjectNode(object_id, label, layer, center, OrientedBox(center, extent, 0.3))


@pytest.fixture
def kitchen() -> SceneGraph:
    """Two rooms with areas, a table with an apple and a mug on it, a book across the house."""
    graph = SceneGraph()
    graph.set_layout(ROOMS, grid_areas(ROOMS, spacing=1.0))
    with graph.transaction(1.0):
        graph.upsert_object(_object("obj_0000", "DiningTable", "furniture", (2.0, 2.0, 0.375), (1.4, 0.9, 0.75)))
        graph.upsert_object(_object("obj_0001", "Apple", "object", (2.0, 2.0, 0.795), (0.08, 0.08, 0.09)))
        graph.upsert_object(_object("obj_0002", "Mug", "object", (2.2, 2.1, 0.8), (0.1, 0.1, 0.1)))
        graph.upsert_object(_object("obj_0003", "Book", "object", (6.0, 2.0, 0.02), (0.2, 0.15, 0.04)))
    graph.set_object_state("obj_0002", "filled", True, 2.0)
    return graph


def _boxes(array) -> list[Marker]:
    return [m for m in array.markers if m.type == Marker.CUBE and m.action == Marker.ADD]


def _by_ns(array, namespace: str) -> list[Marker]:
    return [m for m in array.markers if m.ns == namespace and m.action == Marker.ADD]


def test_one_box_per_object_in_its_layer_namespace(kitchen):
    array, _ = build_markers(kitchen, "map", 3.5)
    assert len(_boxes(array)) == len(kitchen.objects())
    assert {m.ns for m in _boxes(array)} == {"furniture", "objects"}
    assert len(_by_ns(array, "furniture")) == 1 and len(_by_ns(array, "objects")) == 3
    assert len(_by_ns(array, "labels")) == len(kitchen.objects())
    assert {m.ns for m in array.markers} == set(NAMESPACES)
    assert all(m.header.frame_id == "map" and from_time(m.header.stamp) == pytest.approx(3.5) for m in array.markers)
    clocked, _ = build_markers(kitchen, "map", Time(sec=7, nanosec=5))  # a node passes its clock's time
    assert all(m.header.stamp == Time(sec=7, nanosec=5) for m in clocked.markers)
    table = _by_ns(array, "furniture")[0]
    assert (table.scale.x, table.scale.y, table.scale.z) == pytest.approx((1.4, 0.9, 0.75))
    assert table.pose.orientation.z == pytest.approx(math.sin(0.15))


def test_marker_ids_are_unique_and_stable_across_calls_and_restarts(kitchen):
    first, published = build_markers(kitchen, "map", 1.0)
    second, again = build_markers(kitchen, "map", 2.0, published)
    restarted, _ = build_markers(kitchen, "map", 3.0)  # a new process starts from nothing
    keys = [(m.ns, m.id) for m in first.markers]
    assert len(keys) == len(set(keys))
    assert again == published
    assert [(m.ns, m.id) for m in second.markers] == keys
    assert [(m.ns, m.id) for m in restarted.markers] == keys
    assert not [m for m in second.markers if m.action == Marker.DELETE]


def test_a_removed_object_is_deleted_once(kitchen):
    _, published = build_markers(kitchen, "map", 1.0)
    book = {k.namespace: k.id for k in published if k.key == "obj_0003"}
    kitchen.remove_object("obj_0003", 5.0)
    array, now = build_markers(kitchen, "map", 5.0, published)
    deletes = {(m.ns, m.id) for m in array.markers if m.action == Marker.DELETE}
    assert deletes == {("objects", book["objects"]), ("labels", book["labels"])}
    assert not any(k.key == "obj_0003" for k in now)
    later, _ = build_markers(kitchen, "map", 6.0, now)
    assert not [m for m in later.markers if m.action == Marker.DELETE]


def test_an_id_taken_by_a_marker_being_deleted_is_not_reused(kitchen):
    _, published = build_markers(kitchen, "map", 1.0)
    apple = next(k for k in published if k.key == "obj_0001" and k.namespace == "objects")
    ghost = MarkerKey("objects", "obj_9999", apple.id)  # a gone object that happened to hash alike
    array, now = build_markers(kitchen, "map", 2.0, frozenset({ghost}))
    assert ("objects", apple.id) in {(m.ns, m.id) for m in array.markers if m.action == Marker.DELETE}
    new_apple = next(k for k in now if k.key == "obj_0001" and k.namespace == "objects")
    assert new_apple.id != apple.id


def test_relation_lines_match_the_relations_and_their_colours(kitchen):
    relations = kitchen.relations()
    assert {r.predicate for r in relations} >= {"on", "near"}
    array, _ = build_markers(kitchen, "map", 1.0)
    [lines] = _by_ns(array, "relations")
    assert lines.type == Marker.LINE_LIST
    assert len(lines.points) == len(lines.colors) == 2 * len(relations)
    assert [lines.colors[2 * i] for i in range(len(relations))] == [PREDICATE_COLOURS[r.predicate] for r in relations]


def test_rooms_and_areas_are_drawn(kitchen):
    array, _ = build_markers(kitchen, "map", 1.0)
    rooms = _by_ns(array, "rooms")
    outlines = [m for m in rooms if m.type == Marker.LINE_STRIP]
    assert len(outlines) == len(ROOMS) and all(len(m.points) == 5 for m in outlines)
    assert {m.text for m in rooms if m.type == Marker.TEXT_VIEW_FACING} == {r.id for r in ROOMS}
    areas = {m.type: m for m in _by_ns(array, "areas")}
    assert len(areas[Marker.SPHERE_LIST].points) == len(kitchen.areas())
    edges = {tuple(sorted((a.id, n))) for a in kitchen.areas() for n in a.neighbors}
    assert len(areas[Marker.LINE_LIST].points) == 2 * len(edges)


def test_missing_objects_are_faded_and_labels_carry_states(kitchen):
    kitchen.mark_missing("obj_0003", 4.0)
    array, _ = build_markers(kitchen, "map", 4.0)
    alpha = {m.text.split()[1]: m.color.a for m in _by_ns(array, "labels")}
    assert alpha["obj_0003"] < alpha["obj_0002"]
    assert label_text(kitchen.get_object("obj_0002")) == "Mug obj_0002\nfilled"
    assert label_text(kitchen.get_object("obj_0003")) == "Book obj_0003\nmissing"
    assert label_colour("Apple") == label_colour("Apple") != label_colour("Mug")


def test_an_empty_graph_draws_nothing_and_clearing_deletes_everything(kitchen):
    empty, nothing = build_markers(SceneGraph(), "map", 0.0)
    assert not empty.markers and nothing == frozenset()
    _, published = build_markers(kitchen, "map", 1.0)
    kitchen.clear_objects(2.0)
    array, now = build_markers(kitchen, "map", 2.0, published)
    assert {k.namespace for k in now} == {"rooms", "areas"}
    deleted = {(m.ns, m.id) for m in array.markers if m.action == Marker.DELETE}
    assert deleted == {(k.namespace, k.id) for k in published - now}


def test_a_toured_simulated_home_gives_a_sane_array(tmp_path):
    run = DemoRun(seed=3, rooms=3, out_dir=tmp_path)
    run.tour()
    array, published = build_markers(run.graph, "map", 60.0)
    objects = run.graph.objects()
    assert len(objects) > 10
    assert len(_boxes(array)) == len(objects) and len(published) == len(array.markers)
    for box in _boxes(array):
        p = box.pose.position
        assert all(math.isfinite(v) for v in (p.x, p.y, p.z))
        assert min(box.scale.x, box.scale.y, box.scale.z) > 0 and 0 < box.color.a <= 1
    [lines] = _by_ns(array, "relations")
    assert len(lines.points) == 2 * len(run.graph.relations())
    assert len(serialize_message(array)) > 0


def test_a_view_copied_out_of_the_graph_draws_what_the_graph_draws_and_later_changes_do_not_touch_it(kitchen):
    view = MemoryView.of(kitchen)
    from_graph, _ = build_markers(kitchen, "map", 1.0)
    for obj in kitchen.objects():  # the owner changes memory while the view is drawn
        kitchen.remove_object(obj.id, 2.0)
    from_view, _ = build_markers(view, "map", 1.0)
    assert [(m.ns, m.id, m.type, len(m.points)) for m in from_view.markers] == \
        [(m.ns, m.id, m.type, len(m.points)) for m in from_graph.markers]
