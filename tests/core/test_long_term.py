"""Long-term memory's rules that both runtimes call: routing confirmed changes, stamp order, restart."""
from __future__ import annotations

from dataclasses import replace

from benchmarks.synthetic import CAMERA, make_frame, orbit, solid
from scene_graph.graph import SceneGraph
from scene_graph.long_term import (
    STATUS,
    ChangeOutcome,
    InputOrder,
    LongTermConfig,
    LongTermMemory,
    apply_confirmed_change,
)
from scene_graph.records import MISSING, VISIBLE, ObjectNode, OrientedBox

FRIDGE = solid("Fridge", 1, (0.0, 0.0), (0.8, 0.7, 1.8))
VIEWS = orbit((0.0, 0.0, 0.9), radius=2.5, height=1.5, count=2, start_deg=-120, span_deg=40)


def _graph() -> SceneGraph:
    graph = SceneGraph()
    graph.upsert_object(ObjectNode("obj_1", "Fridge", "furniture", (0.0, 0.0, 0.9),
                                   OrientedBox((0.0, 0.0, 0.9), (0.8, 0.7, 1.8)), external_id="Fridge|1"))
    return graph


def test_confirmed_changes_are_routed_by_one_rule() -> None:
    graph = _graph()
    assert apply_confirmed_change(graph, "Fridge|1", "open", True, 2.0) is ChangeOutcome.APPLIED  # by source id
    assert graph.get_object("obj_1").state("open") is True
    assert apply_confirmed_change(graph, "Fridge|1", "parent", "CounterTop|1", 2.0) is ChangeOutcome.LOCATION_IGNORED
    assert apply_confirmed_change(graph, "obj_1", STATUS, "moved", 2.0) is ChangeOutcome.LOCATION_IGNORED
    assert graph.get_object("obj_1").status == VISIBLE
    assert apply_confirmed_change(graph, "Egg|1", "cooked", True, 2.0) is ChangeOutcome.UNSEEN_OBJECT
    assert apply_confirmed_change(graph, "obj_9", STATUS, MISSING, 3.0) is ChangeOutcome.UNKNOWN_OBJECT
    assert apply_confirmed_change(graph, "obj_1", STATUS, MISSING, 3.0) is ChangeOutcome.MARKED_MISSING
    assert graph.get_object("obj_1").status == MISSING


def test_input_order_refuses_repeats_and_restarts_on_memory_time() -> None:
    order = InputOrder()
    assert order.refusal(0.0) == "zero stamp" and order.refusal(1.0) == ""
    order.fused(5.0)
    assert order.refusal(5.0).startswith("stale") and order.refusal(4.0).startswith("stale")
    order.restart(_graph())  # the graph's newest sighting (0): earlier frames are new again
    assert order.refusal(4.0) == ""


def test_long_term_memory_fuses_in_order_and_restarts_after_load_and_clear(tmp_path) -> None:
    memory = LongTermMemory(LongTermConfig(tmp_path, load_on_start=False, snapshot_interval=0.0))
    first = make_frame([FRIDGE], CAMERA, VIEWS[0], 10.0)
    assert memory.integrate(first).accepted
    repeat = memory.integrate(replace(first, stamp=10.0))
    assert not repeat.accepted and repeat.reason.startswith("stale")
    memory.save("here")
    assert memory.integrate(make_frame([FRIDGE], CAMERA, VIEWS[1], 20.0)).accepted
    memory.load("here")  # back to the moment of the save: a frame after it is new
    assert memory.input.last_stamp == 10.0
    assert memory.integrate(make_frame([FRIDGE], CAMERA, VIEWS[1], 15.0)).accepted
    memory.clear(16.0)
    assert memory.input.last_stamp == -1.0 and memory.integrate(replace(first, stamp=11.0)).accepted
    assert memory.mark_missing(memory.graph.objects()[0].id, 12.0) and not memory.mark_missing("obj_404", 12.0)
