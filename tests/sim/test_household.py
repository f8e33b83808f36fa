"""Household members change the home on a seeded schedule, and say so."""
from __future__ import annotations

from sim.home.generate import generate_home
from sim.home.household import Household
from sim.home.world import HomeWorld
from sim.records import Action


def _run(seed):
    world = HomeWorld(generate_home(4, n_rooms=4), household=Household(("Alice", "Bob"), seed=seed, mean_interval=30.0))
    events = world.advance(1800.0)
    return world, events


def test_schedule_is_reproducible_and_causes_are_named():
    _, a = _run(1)
    _, b = _run(1)
    _, c = _run(2)
    assert a and a == b and a != c
    assert all(e.cause in ("household:Alice", "household:Bob") for e in a)
    assert all(0.0 < e.stamp <= 1800.0 for e in a)
    assert [e.stamp for e in a] == sorted(e.stamp for e in a)


def test_objects_move_so_memory_goes_stale():
    world, events = _run(3)
    moved = {e.object_id for e in events if e.state == "parent"}
    assert moved
    for oid in moved:
        last = [e for e in events if e.object_id == oid and e.state == "parent"][-1]
        assert world.home[oid].parent == last.new  # events tell the truth about the final place
    assert {e.state for e in events} & {"dirty", "toggled", "open"}


def test_household_acts_during_an_episode_but_never_on_what_the_robot_holds():
    world = HomeWorld(generate_home(4, n_rooms=4), household=Household(seed=5, mean_interval=2.0))
    target = next(e for e in world.home if e.kind.pickupable and not world.home.is_hidden(e.object_id))
    assert world.step(Action("GoToObject", target.object_id)).success
    world.drain_events()
    assert world.step(Action("PickupObject", target.object_id)).success
    world.advance(600.0)
    events = world.drain_events()
    assert any(e.cause.startswith("household:") for e in events)
    assert not any(e.object_id == target.object_id and e.cause.startswith("household:") for e in events)
    assert world.agent.held == target.object_id
