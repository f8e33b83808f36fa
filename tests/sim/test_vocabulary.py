"""Every object word of a task file resolves to ontology types, and homes hold what tasks name."""
from __future__ import annotations

import pytest

from benchmarks.suite.generate import SUITES, generate_suite, home_for, task_needs
from benchmarks.suite.run import runnable
from planners.instructions import understand
from scene_graph.ontology import OBJECT_TYPES, instruction_objects, matching_types
from scene_graph.usual_places import HOME_OF
from sim.home.world import HomeWorld
from sim.records import Action
from sim.tasks import parse_tasks

# Words as people write task files: synonyms, plurals, spaces and case; each with a type it must reach.
WORDS = {
    "trash": "GarbageCan", "garbage can": "GarbageCan", "Trash Cans": "GarbageCan", "waste bin": "GarbageCan",
    "counter": "CounterTop", "countertops": "CounterTop", "kitchen counter": "CounterTop",
    "keys": "KeyChain", "key chain": "KeyChain", "keychains": "KeyChain", "key ring": "KeyChain",
    "ladles": "Ladle", "scoop": "Ladle", "scoops": "Ladle", "watch": "Watch", "wristwatches": "Watch",
    "pen": "Pen", "pens": "Pen", "cloth": "Cloth", "cloths": "Cloth", "rags": "Cloth",
    "toiletries": "SoapBottle", "drawer": "Drawer", "drawers": "Drawer", "knives": "Knife",
    "shelves": "Shelf", "bookcases": "Shelf", "glasses": "Cup", "dishes": "Plate", "boxes": "Box",
    "tomatoes": "Tomato", "potatoes": "Potato", "loaves": "Bread", "fridge": "Fridge", "refrigerators": "Fridge",
    "cupboards": "Cabinet", "nightstands": "SideTable", "couches": "Sofa", "tv": "Television",
    "remotes": "RemoteControl", "phones": "CellPhone", "tables": "DiningTable", "desk lamps": "DeskLamp",
    "lights": "FloorLamp", "sinks": "SinkBasin", "frying pans": "Pan", "saucepans": "Pot", "tissues": "TissueBox",
    "toilet rolls": "ToiletPaper", "cushions": "Pillow", "laptops": "Laptop", "cutlery": "Fork",
    "vegetables": "Potato", "CDs": "CD", "alarm clocks": "AlarmClock", "salt": "SaltShaker",
}


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_every_object_the_generated_suites_name_is_understood(suite: str) -> None:
    """Plain names resolve by the vocabulary alone; the referring expressions the generator also
    uses ("the round red or green fruit") resolve through offline understanding, which grounds them."""
    spec = SUITES[suite]
    for seed in spec.seeds:
        parsed = parse_tasks(generate_suite(spec, seed))
        assert parsed.issues == ()
        for task in parsed.tasks:
            named = {t for goal in understand(task.instruction) for group in (goal.subject, goal.target) for t in group}
            found, unknown = instruction_objects(task.instruction)
            if not unknown:
                named |= {t for _, types in found for t in types}
            for group in (g for c in task.conditions for g in (c.subject, c.target) if g):
                assert set(group) & named, (task.instruction, group)  # the instruction names the goal's objects


def test_a_task_file_of_synonyms_and_plurals_resolves_every_word() -> None:
    assert len(WORDS) >= 40
    entries = [{"FloorPlan": "FloorPlan1", "ID": n, "Goal Condition": f"ON({word}, {word})",
                "Instruction": f"Put the {word} next to the {word}."} for n, word in enumerate(WORDS)]
    parsed = parse_tasks({"Simple": entries})
    assert parsed.issues == ()
    for task, (word, wanted) in zip(parsed.tasks, WORDS.items()):
        assert wanted in task.conditions[0].subject and wanted in task.conditions[0].target, word
        found, unknown = instruction_objects(task.instruction)
        assert unknown == [] and all(wanted in types for _, types in found), word
    assert all(matching_types(w) for w in WORDS) and all(t in OBJECT_TYPES for w in WORDS for t in matching_types(w))


def test_a_word_naming_nothing_is_reported_and_its_task_not_run() -> None:
    parsed = parse_tasks({"Simple": [
        {"FloorPlan": "FloorPlan401", "ID": "a", "Goal Condition": "INSIDE(unicorn, Cabinet)",
         "Instruction": "Put the unicorn in the cabinet."},
        {"FloorPlan": "FloorPlan401", "ID": "b", "Goal Condition": "INSIDE(toiletries, Cabinet)",
         "Instruction": "Put the toiletries in the cabinet, then fetch the gizmo."},
        {"FloorPlan": "FloorPlan999", "ID": "c", "Goal Condition": "ON(Apple, CounterTop)", "Instruction": ""}]})
    tasks, not_run = runnable(parsed)
    assert [t.task_id for t in tasks] == ["b"]
    assert not_run[0] == {"task_set": "Simple", "task_id": "a", "reason": "unknown object 'unicorn'"}
    assert not_run[1]["task_id"] == "c" and "FloorPlan999" in not_run[1]["reason"]
    assert instruction_objects(tasks[0].instruction)[1] == ["gizmo"]


def test_the_home_of_a_floor_plan_holds_what_its_tasks_name_in_its_main_room_and_in_sight() -> None:
    parsed = parse_tasks({"Simple": [
        {"FloorPlan": "FloorPlan301", "ID": "a", "Goal Condition": "ON(keys, side table), INSIDE(apple, drawer)",
         "Instruction": "Put the keys on the nightstand and the apple in a drawer, then turn on the desk lamp."},
        {"FloorPlan": "FloorPlan301", "ID": "b", "Goal Condition": "INSIDE(toiletries, garbage can)",
         "Instruction": "Throw the toiletries in the trash."}]})
    needs = [g for t in parsed.tasks for g in task_needs(t)]
    home = home_for(301, needs)
    main = home.rooms[0]
    assert main.kind == "Bedroom"
    for group in needs:
        holders = [e for e in home if e.object_type in group]
        assert holders, group
        if OBJECT_TYPES[group[0]].pickupable:
            placed = [e for e in holders if e.room == main.room_id]
            assert placed, group  # in the room kind the FloorPlan's number implies
            # on a surface in the open, or in the container where it usually lives
            assert any(home[e.parent].receptacle.mode != "inside"
                       or home[e.parent].object_type in HOME_OF[e.object_type]
                       for e in placed), group
            reached = HomeWorld(home).step(Action("GoToObject", group[0]))  # the nearest one
            assert reached.success, reached.error
