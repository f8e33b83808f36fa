"""Geometric relations from boxes, and their incremental upkeep in the graph."""
from __future__ import annotations

from dataclasses import replace

from scene_graph.graph import SceneGraph
from scene_graph.records import CONTAINS, IN, NEAR, ON, ObjectNode, OrientedBox, Relation
from scene_graph.relations import RelationConfig, relations_between

CFG = RelationConfig()


def node(object_id: str, label: str, center, extent, yaw: float = 0.0, layer: str = "object") -> ObjectNode:
    box = OrientedBox(tuple(center), tuple(extent), yaw)
    return ObjectNode(object_id, label, layer, box.center, box)


TABLE = node("table", "DiningTable", (0, 0, 0.375), (1.4, 0.9, 0.75), layer="furniture")
FRIDGE = node("fridge", "Fridge", (3, 0, 0.9), (0.8, 0.7, 1.8), layer="furniture")


def test_mug_resting_on_table_is_on_it():
    mug = node("mug", "Mug", (0.3, 0.1, 0.80), (0.09, 0.09, 0.1))
    assert relations_between(mug, TABLE, CFG) == [Relation("mug", ON, "table")]


def test_on_respects_rotated_footprints():
    # Diagonal 0.7 m from the centre of a table rotated 45 degrees: inside its footprint.
    rotated = replace(TABLE, box=OrientedBox((0, 0, 0.375), (1.4, 0.9, 0.75), 0.785398))
    mug = node("mug", "Mug", (0.45, 0.45, 0.80), (0.09, 0.09, 0.1))
    assert Relation("mug", ON, "table") in relations_between(mug, rotated, CFG)
    outside = node("mug", "Mug", (0.45, -0.45, 0.80), (0.09, 0.09, 0.1))
    assert Relation("mug", ON, "table") not in relations_between(outside, rotated, CFG)


def test_floating_or_off_footprint_objects_are_not_on():
    floating = node("mug", "Mug", (0.3, 0.1, 0.95), (0.09, 0.09, 0.1))
    beside = node("mug", "Mug", (0.9, 0.0, 0.80), (0.09, 0.09, 0.1))
    assert all(r.predicate != ON for r in relations_between(floating, TABLE, CFG))
    assert all(r.predicate != ON for r in relations_between(beside, TABLE, CFG))


def test_apple_inside_fridge_is_in_and_contained():
    apple = node("apple", "Apple", (3.0, 0.0, 0.9), (0.08, 0.08, 0.09))
    assert set(relations_between(apple, FRIDGE, CFG)) == {Relation("apple", IN, "fridge"),
                                                          Relation("fridge", CONTAINS, "apple")}


def test_non_receptacle_does_not_contain():
    # A Television is not a receptacle in the ontology, so an overlapping remote is not "in" it.
    tv = node("tv", "Television", (0, 0, 1.0), (1.0, 0.3, 0.6), layer="furniture")
    remote = node("remote", "RemoteControl", (0, 0, 1.0), (0.05, 0.18, 0.02))
    assert all(r.predicate not in (IN, CONTAINS) for r in relations_between(remote, tv, CFG))


def test_near_is_symmetric_and_bounded():
    a = node("a", "Mug", (0.0, 0.0, 0.05), (0.1, 0.1, 0.1))
    b = node("b", "Cup", (0.3, 0.0, 0.05), (0.1, 0.1, 0.1))
    far = node("c", "Cup", (1.0, 0.0, 0.05), (0.1, 0.1, 0.1))
    assert set(relations_between(a, b, CFG)) == {Relation("a", NEAR, "b"), Relation("b", NEAR, "a")}
    assert relations_between(a, far, CFG) == []


def test_moving_an_object_replaces_its_relations_incrementally():
    graph = SceneGraph()
    graph.upsert_object(TABLE)
    graph.upsert_object(FRIDGE)
    mug = graph.upsert_object(node("mug", "Mug", (0.3, 0.1, 0.80), (0.09, 0.09, 0.1)))
    assert graph.relations(subject="mug") == [Relation("mug", ON, "table")]
    assert graph.parent("mug") == "table"
    graph.upsert_object(replace(mug, box=OrientedBox((3.0, 0.0, 0.9), (0.09, 0.09, 0.1)), centroid=(3.0, 0.0, 0.9)))
    assert graph.relations(subject="mug") == [Relation("mug", IN, "fridge")]
    assert Relation("mug", ON, "table") not in graph.relations()
    assert graph.relations(subject="fridge") == [Relation("fridge", CONTAINS, "mug")]
    assert graph.parent("mug") == "fridge"


def test_small_drift_does_not_recompute_relations():
    graph = SceneGraph(move_threshold=0.02)
    graph.upsert_object(TABLE)
    mug = graph.upsert_object(node("mug", "Mug", (0.3, 0.1, 0.80), (0.09, 0.09, 0.1)))
    before = graph.sequence
    nudged = replace(mug, box=OrientedBox((0.31, 0.1, 0.80), (0.09, 0.09, 0.1)), last_seen=5.0)
    stored = graph.upsert_object(nudged)
    assert graph.sequence == before + 1  # the record changed ...
    assert graph.deltas_since(before)[0].added_relations == ()  # ... but no relation churn
    assert stored.last_changed == mug.last_changed  # a sub-threshold nudge is not a "change"
