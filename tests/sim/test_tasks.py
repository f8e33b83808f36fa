"""KARMA task files: messy files parse with issues per task; goals latch over an episode."""
from __future__ import annotations

import json

import pytest

from sim.home.world import HomeWorld
from sim.records import Action, ObjectState
from sim.tasks import Condition, GoalTracker, TaskFileError, contradict, holds, load_tasks, parse_goal
from tests.sim.scenes import kitchen

MESSY = {
    "SimpleTasks": [
        {"FloorPlan": 1, "ID": 1,
         "Goal Condition": "ON(apple, table): 1, INSIDE(tomatoes, sink): 1, TOGGLEON(faucet): 1",
         "Instruction": "Place the apple on the table."},
        {"FloorPlan": "FloorPlan416", "ID": 2, "Goal Condition": "INSIDE(toilet paper, trash)", "Instruction": "x"},
        {"FloorPlan": 224, "ID": 3, "Goal Condition": "SWITCHON(lamp): 1, On(Lettuce, counter): 1, ON(desk): 1"},
    ],
    "complex": [
        {"FloorPlan": 227, "ID": 8,
         "Goal Condition": "INSIDE(keys, box): 1, STATE(laptop, desk): 1, INSIDE(laptop,cabinet)"},
        {"FloorPlan": 422, "ID": 11, "Goal Condition": ["ON(soapbar, cloth)", "ON(soapbar,(-1.7, 0.8, 0.3))"]},
        {"FloorPlan": 1, "ID": 12, "Goal Condition": {"STATE(potato, cooked)": 1, "INSIDE(potato, refrigerator)": 2}},
        {"FloorPlan": 2, "ID": 13, "Goal Condition": "ON(unicorn, table): 1, nonsense here"},
        "not a task",
    ],
}


def test_messy_file_parses_and_reports_issues_by_task(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(MESSY))
    parsed = load_tasks(path)
    sets = parsed.task_sets()
    assert len(sets["SimpleTasks"]) == 3 and len(sets["complex"]) == 4
    first = sets["SimpleTasks"][0]
    assert [c.predicate for c in first.conditions] == ["ON", "INSIDE", "TOGGLEON"]
    assert first.conditions[1].subject == ("Tomato",) and set(first.conditions[1].target) == {"Sink", "SinkBasin"}
    assert "CoffeeTable" in first.conditions[0].target  # "table" is generic
    assert sets["SimpleTasks"][1].floor_plan == 416
    assert sets["SimpleTasks"][1].conditions[0].target == ("GarbageCan",)
    third = sets["SimpleTasks"][2]
    assert [c.predicate for c in third.conditions] == ["TOGGLEON", "ON"]
    potato = sets["complex"][2].conditions
    assert potato[0].state == "cooked" and potato[1].count == 2 and potato[1].target == ("Fridge",)
    issues = {(i.task_set, i.task_id): i.reason for i in parsed.issues}
    assert "2 argument" in issues[("SimpleTasks", "3")]
    assert "unknown state 'desk'" in issues[("complex", "8")]
    assert "coordinates" in issues[("complex", "11")]
    assert ("complex", "#4") in issues
    reasons_13 = [i.reason for i in parsed.issues if i.task_id == "13"]
    assert any("unicorn" in r for r in reasons_13) and any("not a condition" in r for r in reasons_13)


def test_broken_json_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"SimpleTasks": [ {"ID": 1,, } ]')
    with pytest.raises(TaskFileError, match="not valid JSON .*line 1"):
        load_tasks(path)


def _obj(oid, parents=(), object_type=None, **states):
    return ObjectState(oid, object_type or oid.split("|")[0], (0.0, 0.0, 0.0), (0.1, 0.1, 0.1), 0.0, tuple(parents), (),
                       states)


def test_predicates_on_records():
    (on_table,), _ = parse_goal("ON(apple, table)")
    (sliced,), _ = parse_goal("STATE(apple, sliced)")
    (off,), _ = parse_goal("TOGGLEOFF(lamp)")
    apple = _obj("Apple|1", ["Plate|1", "DiningTable|1"], sliced=False)
    assert holds(on_table, [apple])  # the whole receptacle chain counts
    assert not holds(on_table, [_obj("Apple|1", ["CounterTop|1"])])
    assert not holds(sliced, [apple])
    assert holds(sliced, [_obj("Apple|1|AppleSliced_0", ["CounterTop|1"], "AppleSliced")])  # AI2-THOR's slices
    assert holds(off, [_obj("FloorLamp|1", toggled=False)]) and not holds(off, [_obj("FloorLamp|1", toggled=True)])
    two = Condition("ON", ("Apple",), ("DiningTable",), count=2)
    assert not holds(two, [apple]) and holds(two, [apple, _obj("Apple|2", ["DiningTable|1"])])


def test_subgoals_that_hold_at_different_times_all_count():
    home, t = kitchen()
    world = HomeWorld(home)
    conditions, problems = parse_goal("INSIDE(apple, fridge): 1, INSIDE(apple, trash): 1, STATE(apple, cold)")
    assert not problems
    tracker = GoalTracker(conditions)
    ordered = GoalTracker(conditions, ordered=True)

    def run(name, target):
        assert world.step(Action(name, target.object_id)).success, name
        for tr in (tracker, ordered):
            tr.update(world.object_states(), world.clock)

    run("GoToObject", t["apple"])
    run("PickupObject", t["apple"])
    run("GoToObject", t["fridge"])
    run("OpenObject", t["fridge"])
    run("PutObject", t["fridge"])
    assert tracker.achieved[0] is not None and tracker.achieved[1] is None
    run("CloseObject", t["fridge"])  # now cold
    run("OpenObject", t["fridge"])
    run("PickupObject", t["apple"])
    run("GoToObject", t["garbage"])
    run("PutObject", t["garbage"])
    assert tracker.done and ordered.done and tracker.progress == 1.0
    # The apple is no longer in the fridge, yet that subgoal stays achieved.
    assert not holds(conditions[0], world.object_states())
    assert tracker.achieved[0] < tracker.achieved[1]


def test_ordered_tracker_waits_for_earlier_subgoals():
    conditions, _ = parse_goal("STATE(apple, sliced), ON(apple, plate)")
    tracker = GoalTracker(conditions, ordered=True)
    tracker.update([_obj("Apple|1", ["Plate|1"], sliced=False)], 1.0)
    assert tracker.achieved == [None, None] and tracker.pending() == list(conditions)
    tracker.update([_obj("Apple|1", ["CounterTop|1"], sliced=True)], 2.0)
    assert tracker.achieved == [2.0, None] and not tracker.done


def test_contradicting_subgoals_are_met_in_the_files_order():
    """"On then off": a lamp off at the start meets TOGGLEOFF only after it was on."""
    conditions, _ = parse_goal("TOGGLEON(DeskLamp), TOGGLEOFF(DeskLamp), ON(Book, Desk), ON(Book, Shelf)")
    tracker = GoalTracker(conditions)
    lamp = _obj("DeskLamp|1", toggled=False)
    tracker.update([lamp, _obj("Book|1", ["Shelf|1"])], 0.0)
    assert tracker.achieved == [None, None, None, None]  # off and on the shelf, but not yet in order
    tracker.update([_obj("DeskLamp|1", toggled=True), _obj("Book|1", ["Desk|1"])], 1.0)
    assert tracker.achieved == [1.0, None, 1.0, None]
    tracker.update([lamp, _obj("Book|1", ["Shelf|1"])], 2.0)
    assert tracker.done and tracker.achieved == [1.0, 2.0, 1.0, 2.0]
    # Conditions that can hold together keep no order.
    assert not contradict(conditions[0], conditions[2]) and contradict(conditions[2], conditions[3])
