"""Scene graph structure: layers, areas, rooms, states, deltas and snapshots."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from scene_graph.graph import FLOOR, SceneGraph, SequenceGap, grid_areas
from scene_graph.records import IN, MISSING, MOVED, ON, ObjectNode, OrientedBox, Relation, RoomNode

KITCHEN = RoomNode("room_0", "Kitchen", ((0, 0), (4, 0), (4, 4), (0, 4)))
HALL = RoomNode("room_1", "LivingRoom", ((4, 0), (8, 0), (8, 4), (4, 4)))


def obj(graph: SceneGraph, label: str, center, extent, layer: str = "object", stamp: float = 1.0) -> ObjectNode:
    box = OrientedBox(tuple(center), tuple(extent))
    return graph.upsert_object(ObjectNode(graph.new_object_id(), label, layer, box.center, box,
                                          first_seen=stamp, last_seen=stamp),
                               points=np.asarray([center], dtype=np.float32))


@pytest.fixture
def home() -> SceneGraph:
    graph = SceneGraph()
    graph.set_layout([KITCHEN, HALL], grid_areas([KITCHEN, HALL], spacing=1.0))
    obj(graph, "DiningTable", (1.5, 1.5, 0.375), (1.4, 0.9, 0.75), layer="furniture")
    obj(graph, "Mug", (1.7, 1.6, 0.80), (0.09, 0.09, 0.1))
    obj(graph, "Sofa", (6.0, 2.0, 0.4), (2.0, 0.9, 0.8), layer="furniture")
    return graph


def test_layers_from_floor_to_object(home: SceneGraph):
    table, mug, sofa = home.get_object("obj_0000"), home.get_object("obj_0001"), home.get_object("obj_0002")
    assert (table.room_id, sofa.room_id) == ("room_0", "room_1")
    assert home.parent("obj_0001") == "obj_0000"  # object under its support
    assert home.parent("obj_0000") == table.area_id  # furniture under its nearest area
    area = home.get_area(table.area_id)
    assert area.room_id == "room_0" and home.parent(area.id) == "room_0" and home.parent("room_0") == FLOOR
    assert np.linalg.norm(np.subtract(area.position[:2], (1.5, 1.5))) <= np.sqrt(0.5) + 1e-9
    assert mug.area_id == table.area_id


def test_areas_cover_rooms_with_navigable_adjacency():
    wall_with_door = lambda x, y: not (abs(x - 4.0) < 0.05 and not 1.0 < y < 2.0)  # noqa: E731
    areas = grid_areas([KITCHEN, HALL], spacing=1.0, is_free=wall_with_door)
    assert len(areas) == 32
    by_id = {a.id: a for a in areas}
    for a in areas:
        for n in a.neighbors:
            assert a.id in by_id[n].neighbors  # mutual
    crossings = {(a.id, n) for a in areas for n in a.neighbors if a.room_id != by_id[n].room_id}
    # Only the row of areas at y = 1.5 passes the door.
    assert {by_id[a].position[1] for a, _ in crossings} == {1.5}


def test_set_object_state(home: SceneGraph):
    seq = home.sequence
    assert home.set_object_state("obj_0001", "dirty", True, 7.0) is True
    assert home.get_object("obj_0001").state("dirty") is True
    assert home.get_object("obj_0001").last_changed == 7.0
    assert home.sequence == seq + 1
    assert home.set_object_state("obj_0001", "dirty", True, 8.0) is True
    assert home.sequence == seq + 1  # no change, no delta
    assert home.set_object_state("obj_9999", "dirty", True, 8.0) is False


def test_mark_missing_drops_relations_and_remove_cleans_up(home: SceneGraph):
    assert Relation("obj_0001", ON, "obj_0000") in home.relations()
    assert home.mark_missing("obj_0001", 3.0)
    assert home.get_object("obj_0001").status == MISSING
    assert home.relations(subject="obj_0001") == []
    assert home.mark_missing("nope", 3.0) is False
    assert home.remove_object("obj_0000")
    assert home.get_object("obj_0000") is None and "obj_0000" not in home.nx_graph
    assert home.relations(object="obj_0000") == []
    assert home.remove_object("obj_0000") is False


def test_what_the_robot_put_down_moves_in_or_onto_its_holder_with_its_points(home: SceneGraph):
    cabinet = obj(home, "Cabinet", (6.0, 3.5, 0.45), (0.6, 0.5, 0.9), layer="furniture")
    assert home.mark_missing("obj_0001", 3.0) and home.relations(subject="obj_0001") == []
    assert home.place_object("obj_0001", cabinet.id, True, 4.0)
    mug = home.get_object("obj_0001")
    assert mug.status == MOVED and mug.last_seen == 4.0 and mug.room_id == "room_1"
    assert home.parent("obj_0001") == cabinet.id and Relation("obj_0001", IN, cabinet.id) in home.relations()
    assert cabinet.box.z_min < mug.box.z_min < mug.box.z_max < cabinet.box.z_max
    assert np.allclose(home.points("obj_0001"), [mug.centroid], atol=1e-6)  # its old place says nothing now
    assert home.place_object("obj_0001", "obj_0000", False, 5.0)  # back on the table, on its top
    assert Relation("obj_0001", ON, "obj_0000") in home.relations() and home.parent("obj_0001") == "obj_0000"
    assert not home.place_object("nope", "obj_0000", False, 6.0)
    assert not home.place_object("obj_0001", "nope", True, 6.0)
    assert not home.place_object("obj_0001", "obj_0001", False, 6.0)


def test_deltas_carry_sequence_numbers_and_bounded_history():
    graph = SceneGraph(history=3)
    seqs = []
    graph.subscribe(lambda d: seqs.append(d.sequence))
    for i in range(5):
        obj(graph, "Apple", (i, 0, 0.05), (0.08, 0.08, 0.09))
    assert graph.sequence == 5 and seqs == [1, 2, 3, 4, 5]
    recent = graph.deltas_since(3)
    assert [d.sequence for d in recent] == [4, 5]
    assert recent[0].upserted_objects[0].id == "obj_0003"
    assert graph.deltas_since(5) == []
    assert graph.deltas_since(1) is None  # history lost: take a snapshot
    assert graph.deltas_since(9) is None  # subscriber ahead of a restarted memory: take a snapshot


def test_transaction_groups_changes_into_one_delta():
    graph = SceneGraph()
    with graph.transaction(2.0):
        table = obj(graph, "DiningTable", (0, 0, 0.375), (1.4, 0.9, 0.75), layer="furniture")
        mug = obj(graph, "Mug", (0.2, 0, 0.80), (0.09, 0.09, 0.1))
    assert graph.sequence == 1
    delta = graph.deltas_since(0)[0]
    assert {o.id for o in delta.upserted_objects} == {table.id, mug.id}
    assert delta.added_relations == (Relation(mug.id, ON, table.id),)
    with graph.transaction(3.0):
        graph.remove_object(mug.id)
        graph.upsert_object(mug)  # removed and re-added: relation churn cancels out
    assert graph.deltas_since(1)[0].added_relations == ()
    assert graph.deltas_since(1)[0].removed_relations == ()


def test_snapshot_round_trip_is_identical_and_json_able(home: SceneGraph):
    home.set_object_state("obj_0001", "temperature", "hot", 4.0)
    data = json.loads(json.dumps(home.snapshot()))
    copy = SceneGraph.from_snapshot(data, home.geometry())
    assert copy.snapshot() == home.snapshot()
    assert copy.sequence == home.sequence
    assert copy.parent("obj_0001") == "obj_0000"
    np.testing.assert_array_equal(copy.points("obj_0001"), home.points("obj_0001"))
    assert copy.new_object_id() == home.new_object_id()
    with pytest.raises(ValueError, match="schema"):
        SceneGraph.from_snapshot({**data, "schema_version": 99})


def _structure(graph: SceneGraph) -> tuple:
    snapshot = graph.snapshot()
    del snapshot["next_object_index"]  # the source's id counter: a mirror never makes objects
    return snapshot, {o.id: graph.parent(o.id) for o in graph.objects()}


def test_a_mirror_fed_by_deltas_equals_its_source_and_refuses_a_gap(home: SceneGraph):
    mirror = SceneGraph.from_snapshot(home.snapshot())
    home.subscribe(mirror.apply)
    book = obj(home, "Book", (1.3, 1.4, 0.80), (0.2, 0.15, 0.05), stamp=2.0)  # on the table
    home.set_object_state("obj_0001", "dirty", True, 3.0)
    home.upsert_object(replace_box(home.get_object("obj_0001"), (6.0, 2.0, 0.85)))  # the mug onto the sofa
    home.mark_missing(book.id, 4.0)
    home.remove_object("obj_0002", 5.0)  # the sofa, with what it held
    home.set_layout([KITCHEN], grid_areas([KITCHEN], spacing=1.0), 6.0)
    assert mirror.sequence == home.sequence and _structure(mirror) == _structure(home)
    assert mirror.get_object(book.id).status == MISSING
    later = SceneGraph.from_snapshot(home.snapshot())
    obj(home, "Apple", (1.0, 1.0, 0.8), (0.08, 0.08, 0.08), stamp=7.0)
    obj(home, "Pear", (1.1, 1.0, 0.8), (0.08, 0.08, 0.08), stamp=8.0)
    with pytest.raises(SequenceGap):
        later.apply(home.deltas_since(home.sequence - 1)[0])  # it missed the apple
    assert later.sequence == home.sequence - 2 and later.get_object("obj_0004") is None


def replace_box(node: ObjectNode, center) -> ObjectNode:
    box = OrientedBox(tuple(center), node.box.extent)
    return replace(node, centroid=box.center, box=box, last_seen=4.0)
