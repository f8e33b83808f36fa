"""The demo's task-choosing rules: every chosen task has a reason of a known kind, from what memory holds."""
from __future__ import annotations

from memory_nodes.tools.demo_story import (
    FINDABLE_M2,
    HIDDEN,
    MEMORY_WRONG,
    REASON_KINDS,
    THIS_MORNING,
    WATCHED,
    Morning,
    Move,
    Story,
    choose_tasks,
    hidden,
    on_surfaces,
    stash,
    target_surface,
)
from planners.interfaces import KnownObject
from scene_graph.descriptions import split_camel
from scene_graph.ontology import OBJECT_TYPES


def _memory() -> list[KnownObject]:
    """A kitchen and a living room as memory holds them after the story below."""
    return [
        KnownObject("f1", "Fridge", "furniture", "Fridge|1", "kitchen", (("open", True),)),  # shut, memory can't tell
        KnownObject("f2", "CounterTop", "furniture", "CounterTop|1", "kitchen"),
        KnownObject("f3", "DiningTable", "furniture", "DiningTable|1", "kitchen"),
        KnownObject("f4", "CoffeeTable", "furniture", "CoffeeTable|1", "living"),
        KnownObject("f5", "Sofa", "furniture", "Sofa|1", "living"),
        KnownObject("o1", "Egg", "object", "Egg|1", "kitchen", holder="f1", inside=True),  # seen in the fridge
        KnownObject("o2", "Apple", "object", "Apple|1", "kitchen", holder="f1", inside=True),  # put away this morning
        KnownObject("o3", "Mug", "object", "Mug|1", "kitchen", holder="f2"),  # moved in front of the robot
        KnownObject("o4", "Book", "object", "Book|1", "living", holder="f4"),  # really on the dining table now
        KnownObject("o5", "Pen", "object", "Pen|1", "living", holder="f4"),
        KnownObject("o6", "Bowl", "object", "Bowl|1", "kitchen", holder="f2"),  # two bowls: "the bowl" is ambiguous
        KnownObject("o7", "Bowl", "object", "Bowl|2", "kitchen", holder="f3"),
        KnownObject("o8", "Tomato", "object", "Tomato|1", "kitchen", holder="f1", inside=True),
        KnownObject("o9", "Tomato", "object", "Tomato|2", "kitchen", holder="f2"),
    ]


def _story() -> Story:
    return Story(watched=Move("Alice", "o3", "Mug", "DiningTable", "f2", "CounterTop", True),
                 morning=Morning("Apple", "Fridge", "put the apple in the fridge and then close the fridge"),
                 away=Move("Bob", "o4", "Book", "CoffeeTable", "f3", "DiningTable", False))


def test_every_chosen_task_has_a_reason_of_a_known_kind_and_a_goal_no_one_reached_yet():
    tasks = choose_tasks(_memory(), _story())
    assert [t.kind for t in tasks] == [MEMORY_WRONG, HIDDEN, WATCHED, THIS_MORNING]
    assert all(t.kind in REASON_KINDS and t.reason for t in tasks)
    by_kind = {t.kind: t for t in tasks}
    assert by_kind[HIDDEN].goal.startswith("ON(Egg, ") and "inside the fridge" in by_kind[HIDDEN].reason
    assert "while the robot watched" in by_kind[WATCHED].reason
    assert "I put in the fridge this morning" in by_kind[THIS_MORNING].instruction
    assert "while the robot was away" in by_kind[MEMORY_WRONG].reason
    # No task brings a moved object to where it was moved from or to (the goal could hold already).
    target = {t.kind: t.goal.split(", ")[1].rstrip(")") for t in tasks}
    assert target[WATCHED] not in ("DiningTable", "CounterTop")
    assert target[MEMORY_WRONG] not in ("CoffeeTable", "DiningTable")


def test_a_kind_whose_event_did_not_happen_is_left_out():
    assert [t.kind for t in choose_tasks(_memory(), Story())] == [HIDDEN]
    assert [t.kind for t in choose_tasks(_memory(), Story(morning=_story().morning))] == [HIDDEN, THIS_MORNING]


def test_hidden_means_seen_inside_a_container_and_unique():
    # The fridge counts although memory believes it open (a camera does not see a door shut); the tomato
    # does not: memory knows two.
    assert [o.label for o in hidden(_memory())] == ["Apple", "Egg"]
    assert [o.label for o in hidden(_memory(), used=["Apple"])] == ["Egg"]


def test_things_to_move_or_put_away_are_unique_and_on_surfaces():
    assert [o.label for o in on_surfaces(_memory())] == ["Book", "Mug", "Pen"]  # largest first
    assert [o.label for o in on_surfaces(_memory(), min_footprint=FINDABLE_M2)] == ["Book", "Mug"]  # a pen is not
    thing, box = stash(_memory(), used=["Book"])
    assert (thing.label, box.label) == ("Mug", "Fridge")  # a container that fits it
    assert stash(_memory(), used=["Mug"]) is None  # books and pens do not go in the fridge


def test_a_target_is_a_surface_of_the_things_kind_of_room_where_it_is_not_yet():
    assert target_surface(_memory(), "Egg").label == "DiningTable"  # the largest surface where eggs belong
    mug = target_surface(_memory(), "Mug")
    assert mug.label != "CounterTop" and set(OBJECT_TYPES[mug.label].rooms) & set(OBJECT_TYPES["Mug"].rooms)
    assert target_surface(_memory(), "Mug", exclude=[mug.label]).label not in (mug.label, "CounterTop")
    assert target_surface(_memory(), "Pen").label != "CoffeeTable"


def test_types_are_said_as_words():
    assert split_camel("DiningTable") == "dining table" and split_camel("TVStand") == "tv stand"
    assert split_camel("Apple") == "apple"
