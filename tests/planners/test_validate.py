"""Plans checked against memory before the robot moves."""
from __future__ import annotations

from dataclasses import replace

import pytest
from planner_homes import KITCHEN

from planners.grammar import parse_plan
from planners.validate import validate_plan


def issue(plan: str, objects=KITCHEN, held: str = "") -> str:
    found = validate_plan(parse_plan(plan), objects, held)
    return str(found) if found else ""


def test_a_careful_plan_is_valid() -> None:
    plan = """GoToObject(obj_0004)
PickupObject(obj_0004)
GoToObject(obj_0003)
SliceObject(obj_0003)
GoToObject(obj_0001)
OpenObject(obj_0001)
GoToObject(obj_0005)
CloseObject(obj_0001)
Explore()
GoToObject(Potato)"""
    assert issue(plan) == ""


@pytest.mark.parametrize("plan, expected", [
    ("GoToObject(obj_0042)", "step 1 GoToObject(obj_0042): obj_0042 is not in memory"),
    ("GoToObject(Unicorn)", "not in memory"),
    ("PickupObject(obj_0003)", "not within reach: GoToObject first"),
    ("GoToObject(obj_0003)\nPickupObject(obj_0003)\nGoToObject(obj_0008)\nPickupObject(obj_0008)",
     "step 4 PickupObject(obj_0008): the hand already holds obj_0003"),
    ("GoToObject(obj_0001)\nPutObject(obj_0001)", "the hand holds nothing"),
    ("GoToObject(obj_0003)\nPickupObject(obj_0003)\nGoToObject(obj_0001)\nPutObject(obj_0001)",
     "obj_0001 is closed: OpenObject(obj_0001) first"),
    ("GoToObject(obj_0001)\nPickupObject(obj_0005)", "inside closed obj_0001: OpenObject(obj_0001) first"),
    ("GoToObject(obj_0003)\nSliceObject(obj_0003)", "needs a Knife or ButterKnife in hand"),
    ("GoToObject(obj_0001)\nPickupObject(obj_0001)", "Fridge does not support PickupObject"),
    ("GoToObject(obj_0003)\nPickupObject(obj_0003)\nExplore()\nPutObject(obj_0002)", "not within reach"),
])
def test_implausible_steps_are_caught(plan: str, expected: str) -> None:
    assert expected in issue(plan)


def test_a_missing_object_cannot_be_used_unless_it_is_in_hand() -> None:
    objects = [replace(o, status="missing") if o.id == "obj_0003" else o for o in KITCHEN]
    assert "missing" in issue("GoToObject(obj_0003)", objects)
    assert issue("GoToObject(obj_0007)\nHeatObject(obj_0003)", objects, held="obj_0003") == ""


def test_unknown_open_state_gets_the_benefit_of_the_doubt() -> None:
    objects = [replace(o, states=()) if o.id == "obj_0001" else o for o in KITCHEN]
    assert issue("GoToObject(obj_0001)\nPickupObject(obj_0005)", objects) == ""


def test_what_is_already_in_hand_needs_no_trip() -> None:
    assert issue("GoToObject(obj_0002)\nPutObject(obj_0002)", held="obj_0003") == ""
    assert issue("GoToObject(obj_0003)", held="obj_0003") != ""


def test_putting_down_what_memory_no_longer_holds_empties_the_hand() -> None:
    """The held object's node was folded into another while in hand: the put is still plausible."""
    assert issue("GoToObject(obj_0002)\nPutObject(obj_0002)\nPickupObject(obj_0004)", held="obj_0099") == ""
