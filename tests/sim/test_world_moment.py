"""A world's moment pickles, so another process (the demo's run without memory) starts from it."""
from __future__ import annotations

import pickle

from sim.home.generate import generate_home
from sim.home.world import HomeWorld, WorldMoment
from sim.perception import Perception
from sim.records import Action


def test_a_moment_rebuilds_the_same_world_and_shares_nothing_with_it():
    world = HomeWorld(generate_home(1, n_rooms=2), perception=Perception.named("realistic", 1))
    assert world.step(Action("Explore", "")).success
    moment = pickle.loads(pickle.dumps(WorldMoment.of(world)))
    copy = moment.world()
    assert (copy.agent.pose, copy.agent.held, copy.clock) == (world.agent.pose, world.agent.held, world.clock)
    assert {e.object_id: e.center for e in copy.home} == {e.object_id: e.center for e in world.home}
    assert copy.perception.name == "realistic"
    assert copy.step(Action("Explore", "")).success  # the copy moves on; the original stays
    assert copy.agent.distance > world.agent.distance
    assert moment.world().agent.pose == world.agent.pose  # and the moment itself is untouched
