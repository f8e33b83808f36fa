"""Skills on a hand-built kitchen: preconditions fail with a code (and AI2-THOR's words), effects happen."""
from __future__ import annotations

import numpy as np
import pytest

from scene_graph.outcomes import SkillCode
from sim.home.generate import floor_plan_home
from sim.home.world import SPEED, HomeWorld
from sim.records import Action
from sim.tasks import holds, parse_goal
from tests.sim.scenes import add, kitchen, on


@pytest.fixture
def scene():
    home, things = kitchen()
    return HomeWorld(home), things


def do(world, name, target=None):
    return world.step(Action(name, target.object_id if hasattr(target, "object_id") else target))


def test_go_to_object_moves_along_a_counted_path(scene):
    world, t = scene
    start = (world.agent.pose.x, world.agent.pose.y)
    result = do(world, "GoToObject", t["fridge"])
    assert result.success and result.steps > 0
    assert result.distance >= np.hypot(world.agent.pose.x - start[0], world.agent.pose.y - start[1]) - 1e-9
    assert world.agent.distance == pytest.approx(result.distance)
    assert world.home.horizontal_distance(world.agent.pose.x, world.agent.pose.y, t["fridge"].object_id) <= 1.0
    assert t["fridge"].object_id in world.render().external_ids.values()


def test_go_to_object_by_type_and_unknown_id(scene):
    world, t = scene
    went = do(world, "GoToObject", "apple")
    assert went.success and went.code == SkillCode.NONE
    assert not do(world, "GoToObject", "Apple|+09.99|+00.00|+00.00").success
    unicorn = do(world, "GoToObject", "Unicorn")
    assert unicorn.code == SkillCode.UNKNOWN_OBJECT and "invalid" in unicorn.error


def test_pickup_needs_reach_and_a_free_hand(scene):
    world, t = scene
    do(world, "GoToObject", t["cabinet"])
    far = do(world, "PickupObject", t["apple"])
    assert not far.success and far.code == SkillCode.NOT_REACHABLE and "too far" in far.error
    do(world, "GoToObject", t["apple"])
    assert do(world, "PickupObject", t["apple"]).success
    assert world.agent.held == t["apple"].object_id and t["apple"].picked_up and t["apple"].parent is None
    full = do(world, "PickupObject", t["knife"])
    assert not full.success and full.code == SkillCode.SKILL_FAILED and "hand is full" in full.error
    assert do(world, "PickupObject", t["counter"]).code == SkillCode.INVALID_OBJECT  # furniture: not pickupable


def test_put_into_closed_fridge_fails_then_succeeds_when_open(scene):
    world, t = scene
    do(world, "GoToObject", t["apple"])
    do(world, "PickupObject", t["apple"])
    do(world, "GoToObject", t["fridge"])
    closed = do(world, "PutObject", t["fridge"])
    assert not closed.success and "closed" in closed.error
    assert do(world, "OpenObject", t["fridge"]).success
    assert do(world, "OpenObject", t["fridge"]).code == SkillCode.ALREADY_DONE
    put = do(world, "PutObject", t["fridge"])
    assert put.success and world.agent.held is None
    assert t["apple"].parent == t["fridge"].object_id
    assert {"parent", "position", "picked_up"} <= {c.state for c in put.changes}
    assert do(world, "CloseObject", t["fridge"]).success
    assert t["apple"].states["temperature"] == "cold"  # a closed fridge chills
    frame = world.render()
    assert world.home.instance_id(t["apple"].object_id) not in np.unique(frame.instance_ids)
    hidden = do(world, "PickupObject", t["apple"])
    assert not hidden.success and hidden.code == SkillCode.NOT_VISIBLE and "not visible" in hidden.error


def test_put_needs_something_in_hand_and_a_receptacle(scene):
    world, t = scene
    do(world, "GoToObject", t["apple"])
    assert "not holding" in do(world, "PutObject", t["counter"]).error
    do(world, "PickupObject", t["knife"])
    not_receptacle = do(world, "PutObject", t["apple"])
    assert not_receptacle.code == SkillCode.INVALID_OBJECT and "not a receptacle" in not_receptacle.error


def test_slice_needs_a_knife_in_hand(scene):
    world, t = scene
    do(world, "GoToObject", t["apple"])
    no_knife = do(world, "SliceObject", t["apple"])
    assert not no_knife.success and "Knife" in no_knife.error
    assert do(world, "PickupObject", t["knife"]).success
    sliced = do(world, "SliceObject", t["apple"])
    assert sliced.success and t["apple"].states["sliced"]
    assert [(c.state, c.old, c.new, c.cause) for c in sliced.changes] == [("sliced", False, True, "agent:SliceObject")]
    again = do(world, "SliceObject", t["apple"])
    assert again.code == SkillCode.ALREADY_DONE and "already sliced" in again.error
    mug = do(world, "SliceObject", t["mug"])
    assert mug.code == SkillCode.INVALID_OBJECT and "not sliceable" in mug.error


def test_microwave_heats_and_cooks_what_is_inside_when_on(scene):
    world, t = scene
    do(world, "GoToObject", t["egg"])
    do(world, "OpenObject", t["fridge"])
    assert do(world, "PickupObject", t["egg"]).success
    do(world, "GoToObject", t["microwave"])
    assert "closed" in do(world, "PutObject", t["microwave"]).error
    do(world, "OpenObject", t["microwave"])
    assert do(world, "PutObject", t["microwave"]).success
    do(world, "CloseObject", t["microwave"])
    assert t["egg"].states["cooked"] is False
    assert do(world, "ToggleObjectOn", t["microwave"]).success
    assert t["egg"].states["cooked"] and t["egg"].states["temperature"] == "hot"
    on_again = do(world, "ToggleObjectOn", t["microwave"])
    assert on_again.code == SkillCode.ALREADY_DONE and "already on" in on_again.error
    assert "not toggleable" in do(world, "ToggleObjectOn", t["counter"]).error


def test_faucet_washes_what_lies_in_the_basin(scene):
    world, t = scene
    do(world, "GoToObject", t["mug"])
    do(world, "PickupObject", t["mug"])
    do(world, "GoToObject", t["basin"])
    assert do(world, "PutObject", t["basin"]).success
    assert t["mug"].states["dirty"]
    do(world, "GoToObject", t["faucet"])
    assert do(world, "ToggleObjectOn", t["faucet"]).success
    assert not t["mug"].states["dirty"] and t["mug"].states["cleaned"] and t["mug"].states["filled"]


def test_macro_skills_need_their_appliance(scene):
    world, t = scene
    do(world, "GoToObject", t["apple"])
    do(world, "PickupObject", t["apple"])
    assert "Sink" in do(world, "CleanObject", t["apple"]).error
    assert "Fridge" in do(world, "CoolObject", t["apple"]).error
    do(world, "GoToObject", t["sink"])
    assert do(world, "CleanObject", t["apple"]).success and t["apple"].states["cleaned"]
    do(world, "GoToObject", t["burner"])
    assert do(world, "HeatObject", t["apple"]).success
    assert t["apple"].states["temperature"] == "hot" and t["apple"].states["cooked"]
    do(world, "GoToObject", t["fridge"])
    assert do(world, "CoolObject", t["apple"]).success and t["apple"].states["temperature"] == "cold"
    assert "not fillable" in do(world, "FillObject", t["apple"]).error


def test_a_drawer_standing_on_a_closed_cabinet_is_on_it_not_inside_it(scene):
    world, t = scene
    cabinet = t["cabinet"]
    drawer = add(world.home, "Drawer", (3.0, 0.3, cabinet.hi[2] + 0.125), (0.6, 0.5, 0.25), parent=cabinet,
                 facing=(0, 1))
    spoon, bowl = on(world.home, "Spoon", drawer), on(world.home, "Bowl", cabinet)
    assert cabinet.states["open"] is False and drawer.states["open"] is False
    assert not world.home.is_hidden(drawer.object_id)  # the closed cabinet does not hide what stands on it
    assert world.home.is_hidden(spoon.object_id) and world.home.is_hidden(bowl.object_id)
    do(world, "GoToObject", drawer)
    assert world.home.instance_id(drawer.object_id) in np.unique(world.render().instance_ids)
    assert do(world, "OpenObject", drawer).success
    assert "not visible" in do(world, "PickupObject", bowl).error  # the cabinet's own contents stay shut away
    truth = world.object_states()
    assert all(holds(parse_goal(g)[0][0], truth) for g in ("ON(Drawer, Cabinet)", "INSIDE(Spoon, Drawer)"))
    assert do(world, "PickupObject", spoon).success  # the open drawer's contents are in reach


def test_explore_visits_new_places_until_none_are_left():
    from tests.sim.scenes import room_home
    world = HomeWorld(room_home(6.0, 4.0))
    seen = 0
    for _ in range(20):
        result = world.step(Action("Explore"))
        if not result.success:
            assert "Nothing left" in result.error
            break
        assert result.distance > 0
        seen += 1
    else:
        pytest.fail("exploration never ended")
    assert seen >= 2


def test_explore_ends_with_a_look_around_the_room():
    from sim.home.generate import generate_home
    world = HomeWorld(generate_home(5, n_rooms=4))
    result = world.step(Action("Explore"))
    assert result.success and result.duration > result.distance / SPEED + 1.0  # driving, then turning
    pose, here = world.agent.pose, world.render()
    views = world.look_around()
    assert len(views) == 4 and world.agent.pose == pose
    assert np.array_equal(views[-1].instance_ids, here.instance_ids)  # ending as it started
    assert len({tuple(np.round(v.T_world_camera[:3, 2], 6)) for v in views}) == 4  # four headings
    seen = set().union(*(v.external_ids.values() for v in views))
    assert len(seen) > len(set(here.external_ids.values()))


def test_explore_goes_to_an_unvisited_room_first():
    from sim.home.generate import generate_home
    world = HomeWorld(generate_home(5, n_rooms=4))
    before = set(world.agent.visited_rooms)
    assert world.step(Action("Explore")).success
    room = world.home.room_at(world.agent.pose.x, world.agent.pose.y)
    assert room.room_id not in before
    assert world.step(Action("Explore", "Bathroom")).success
    assert world.home.room_at(world.agent.pose.x, world.agent.pose.y).kind == "Bathroom"


def test_unknown_action_fails_cleanly(scene):
    world, _ = scene
    result = world.step(Action("Teleport", None))
    assert not result.success and result.code == SkillCode.UNKNOWN_SKILL and "Unknown action" in result.error


@pytest.mark.parametrize("floor_plan", [2, 5, 301])
def test_after_go_to_object_the_target_is_in_sight_or_the_skill_says_why(floor_plan):
    world = HomeWorld(floor_plan_home(floor_plan, ("Apple", "Mug", "KeyChain")))
    failures = 0
    for e in list(world.home):
        start = (world.agent.pose.x, world.agent.pose.y)
        result = do(world, "GoToObject", e)
        if not result.success:
            failures += 1
            assert "No clear view" in result.error or "No reachable position" in result.error
            assert (world.agent.pose.x, world.agent.pose.y) == start  # a failed GoToObject does not move
            continue
        # the target, or the closed container it is in
        seen = next(p for p in [e.object_id] + world.home.ancestors(e.object_id) if not world.home.is_hidden(p))
        assert world.renderer.line_of_sight(world.home, world.agent.pose.camera_position, seen), e.object_id
    assert failures < len(world.home.entities) / 10


def test_put_on_a_crowded_receptacle_takes_another_free_spot_or_says_it_does_not_fit(scene):
    world, t = scene
    pot = on(world.home, "Pot", t["counter"], (3.7, 3.55))
    burner = t["burner"]
    for thing in (t["apple"], t["mug"]):
        assert do(world, "GoToObject", thing).success and do(world, "PickupObject", thing).success
        assert do(world, "GoToObject", burner).success
        assert do(world, "PutObject", burner).success
    apple, mug = world.home[t["apple"].object_id], world.home[t["mug"].object_id]
    assert apple.parent == mug.parent == burner.object_id
    assert not all(apple.lo[i] < mug.hi[i] and mug.lo[i] < apple.hi[i] for i in range(2))  # side by side
    assert do(world, "GoToObject", pot).success and do(world, "PickupObject", pot).success
    assert do(world, "GoToObject", burner).success
    result = do(world, "PutObject", burner)
    assert not result.success and "does not fit" in result.error and "level" in result.error
    assert world.agent.held == pot.object_id  # nothing lost: the pot stays in hand




def test_a_change_is_placed_at_its_new_position_else_where_the_object_is_now(scene):
    from sim.records import where_changed
    world, t = scene
    do(world, "GoToObject", t["apple"])
    picked = do(world, "PickupObject", t["apple"])
    do(world, "GoToObject", t["fridge"])
    opened = do(world, "OpenObject", t["fridge"])
    put = do(world, "PutObject", t["fridge"])
    changes = picked.changes + opened.changes + put.changes
    placed = dict(((c.object_id, c.state), where) for c, where in where_changed(changes, world.object_states()))
    now = {o.object_id: o.position for o in world.object_states()}
    moved = next(c for c in put.changes if c.state == "position")
    assert placed[(moved.object_id, "position")] == moved.new
    assert placed[(t["fridge"].object_id, "open")] == now[t["fridge"].object_id]
    assert all(where == c.new if c.state == "position" else where is None  # unknown objects: no place
               for c, where in where_changed(changes, []))
