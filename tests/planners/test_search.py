"""Searching without memory on the embedded simulator: explore rooms, open containers, find the object."""
from __future__ import annotations

from collections import Counter

import pytest
from planner_homes import new_home, toured_home

from planners.backends import make_backend
from planners.loop import TaskError, TaskOutcome, TaskRunner


def opened(outcome: TaskOutcome) -> list[str]:
    return [s.call.target for s in outcome.trace if s.call.skill == "OpenObject" and s.success]


@pytest.mark.parametrize("thing, kind, container", [
    ("tomato", "Tomato", "Fridge"),
    ("knife", "Knife", "Drawer"),  # in the drawer standing on a closed kitchen cabinet
])
def test_without_memory_the_robot_opens_containers_until_it_finds_the_object(thing, kind, container) -> None:
    world, memory, robot = new_home()
    assert not memory.objects()
    things = [e for e in world.home if e.object_type == kind]
    assert things and all(world.home.is_hidden(e.object_id) for e in things)  # all shut away
    outcome = TaskRunner(make_backend("symbolic"), memory, robot, max_replans=0).run(f"bring me the {thing}")
    assert outcome.success, (outcome.error_message, outcome.trace)
    assert world.home[world.agent.held].object_type == kind
    labels = {o.id: o.label for o in memory.objects()}
    assert [labels[i] for i in opened(outcome)][-1] == container and outcome.searches >= len(opened(outcome))

    _, toured, toured_robot = toured_home()
    remembered = TaskRunner(make_backend("symbolic"), toured, toured_robot).run(f"bring me the {thing}")
    assert remembered.success and remembered.searches == 0
    assert outcome.steps > remembered.steps


def test_a_search_for_what_the_home_lacks_opens_every_container_once_and_ends() -> None:
    world, memory, robot = new_home()
    assert not any(e.object_type == "Spatula" for e in world.home)
    outcome = TaskRunner(make_backend("symbolic"), memory, robot, max_replans=0).run("bring me the spatula")
    assert outcome.error_code == TaskError.EXECUTION_FAILED and "Nothing left to explore" in outcome.error_message
    assert opened(outcome) and max(Counter(opened(outcome)).values()) == 1
    closed = [o for o in memory.objects() if o.label in ("Fridge", "Cabinet", "Drawer", "Microwave")
              and o.state("open") is not True]
    assert not closed  # every kitchen container the robot saw was searched
    assert outcome.replans == 0 and outcome.searches <= 40


def test_the_search_bound_stops_a_search_early() -> None:
    _, memory, robot = new_home()
    outcome = TaskRunner(make_backend("symbolic"), memory, robot, max_search_plans=2).run("bring me the spatula")
    assert outcome.error_code == TaskError.EXECUTION_FAILED and outcome.searches == 2
    assert "2 searches did not find" in outcome.error_message
    assert outcome.trace[0].call.skill == "Explore"  # memory was empty: look around first
    assert sum(s.call.skill in ("Explore", "OpenObject") for s in outcome.trace) == 2  # one look per search plan
