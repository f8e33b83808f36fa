"""The perception models: each preset's rates are what it claims, a seed repeats exactly, oracle
changes nothing, and every runtime's frames pass the model (HomeWorld.render)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.synthetic import CAMERA, make_frame, orbit, solid
from scene_graph.frames import CameraIntrinsics
from scene_graph.ontology import look_alikes
from scene_graph.outcomes import SkillCode
from sim.home.generate import generate_home
from sim.home.home import REACH
from sim.home.household import Household
from sim.home.world import HomeWorld
from sim.perception import HARSH, ORACLE, PRESETS, REALISTIC, TRACK_PREFIX, Perception, preset
from sim.records import Action

TABLE = solid("DiningTable", 1, (0.0, 0.0), (1.4, 0.9, 0.75))
MUG = solid("Mug", 4, (-0.2, -0.1), (0.09, 0.09, 0.1), base_z=0.75)
BOOK = solid("Book", 5, (0.3, 0.1), (0.25, 0.2, 0.05), base_z=0.75)  # no look-alike of Mug's group
VIEW = orbit((0.0, 0.0, 0.75), 1.2, 1.4, 1, start_deg=-120)[0]
FRAME = make_frame([TABLE, MUG, BOOK], CAMERA, VIEW, 0.0)
SMALL = make_frame([TABLE, MUG, BOOK], CameraIntrinsics.from_fov(80, 60, 70.0), VIEW, 0.0)  # rates: many frames


def test_oracle_is_identity():
    perception = Perception(ORACLE, seed=3)
    assert perception.perceive(FRAME) is FRAME
    assert perception.resolve("Mug|4") == "Mug|4" and perception.rename("Mug|4") == "Mug|4"


def test_harsh_doubles_every_rate_of_realistic():
    assert HARSH.miss_rate == 2 * REALISTIC.miss_rate and HARSH.confusion_rate == 2 * REALISTIC.confusion_rate
    assert HARSH.depth_noise == 2 * REALISTIC.depth_noise and HARSH.drift_m == 2 * REALISTIC.drift_m
    assert HARSH.false_positives == 2 * REALISTIC.false_positives and not HARSH.report_household
    assert set(PRESETS) == {"oracle", "realistic", "harsh"}
    with pytest.raises(ValueError, match="unknown perception model"):
        preset("perfect")


def test_a_seed_repeats_exactly_and_another_seed_differs():
    def run(seed):
        p = Perception(REALISTIC, seed)
        return [p.perceive(replace(FRAME, stamp=float(n))) for n in range(5)]

    a, b, c = run(7), run(7), run(8)
    for x, y in zip(a, b):
        assert np.array_equal(x.depth, y.depth) and np.array_equal(x.instance_ids, y.instance_ids)
        assert x.labels == y.labels and x.external_ids == y.external_ids
        assert np.array_equal(x.T_world_camera, y.T_world_camera)
    assert any(not np.array_equal(x.depth, z.depth) for x, z in zip(a, c))


@pytest.mark.parametrize("config", [REALISTIC, HARSH], ids=lambda c: c.name)
def test_rates_over_many_frames_are_what_the_preset_claims(config):
    n = 1000
    misses = replace(ORACLE, name="miss", miss_rate=config.miss_rate, reissue_ids=True)
    p = Perception(misses, seed=1)
    detected = sum(4 in p.perceive(SMALL).labels for _ in range(n))  # the mug: near, whole, large enough
    assert abs((1 - detected / n) - config.miss_rate) < 4 * np.sqrt(config.miss_rate * (1 - config.miss_rate) / n)

    labels = replace(ORACLE, name="labels", confusion_rate=config.confusion_rate,
                     random_confusion_rate=config.random_confusion_rate)
    p = Perception(labels, seed=2)
    seen = [p.perceive(SMALL).labels[4] for _ in range(n)]
    alike = sum(label in look_alikes("Mug") for label in seen) / n
    other = sum(label not in look_alikes("Mug") and label != "Mug" for label in seen) / n
    assert abs(alike - config.confusion_rate) < 4 * np.sqrt(config.confusion_rate / n)
    assert other < config.random_confusion_rate + 4 * np.sqrt(config.random_confusion_rate / n)

    ghosts = replace(ORACLE, name="ghosts", false_positives=config.false_positives)
    p = Perception(ghosts, seed=3)
    extra = sum(len(p.perceive(SMALL).labels) - len(SMALL.labels) for _ in range(n)) / n
    assert abs(extra - config.false_positives) < 4 * np.sqrt(config.false_positives / n)

    noise = replace(ORACLE, name="noise", depth_noise=config.depth_noise)
    p = Perception(noise, seed=4)
    out = p.perceive(SMALL)
    valid = SMALL.depth > 0
    z = SMALL.depth[valid]
    normalised = (out.depth[valid] - z) / (config.depth_noise * z * z)
    assert abs(float(np.std(normalised)) - 1.0) < 0.05

    drift = replace(ORACLE, name="drift", drift_m=config.drift_m, drift_yaw=config.drift_yaw,
                    drift_pull=config.drift_pull)
    p = Perception(drift, seed=5)
    xs = [p.perceive(SMALL).T_world_camera[0, 3] - SMALL.T_world_camera[0, 3] for _ in range(3000)]
    stationary = config.drift_m / np.sqrt(1 - (1 - config.drift_pull) ** 2)  # the random walk's spread
    assert abs(float(np.std(xs[500:])) / stationary - 1.0) < 0.35


def test_tracks_are_never_the_simulators_ids_and_are_reissued_after_a_lost_track():
    p = Perception(replace(ORACLE, name="tracks", reissue_ids=True, track_patience=2), seed=0)
    first = p.perceive(FRAME).external_ids[4]
    assert first.startswith(TRACK_PREFIX) and p.perceive(FRAME).external_ids[4] == first
    assert p.resolve(first) == "Mug|4" and p.rename("Mug|4") == first
    away = replace(FRAME, instance_ids=np.where(FRAME.instance_ids == 4, 0, FRAME.instance_ids),
                   labels={i: name for i, name in FRAME.labels.items() if i != 4})
    for _ in range(4):
        p.perceive(away)
    again = p.perceive(FRAME).external_ids[4]
    assert again != first and again.startswith(TRACK_PREFIX) and p.resolve(again) == "Mug|4"


def test_every_frame_of_the_world_passes_its_perception_model_and_skills_take_track_ids():
    world = HomeWorld(generate_home(2, n_rooms=2), perception=Perception(REALISTIC, seed=0))
    views = world.look_around()
    names = {name for frame in views for name in frame.external_ids.values()}
    assert names and all(name.startswith(TRACK_PREFIX) for name in names)
    assert world.render() is world.render()  # one view, one perceived frame
    track = next(iter(names))
    target = world.perception.resolve(track)
    assert target in world.home.entities
    result = world.step(Action("GoToObject", track))
    assert result.success, result.error
    oracle = HomeWorld(generate_home(2, n_rooms=2))
    assert all(not name.startswith(TRACK_PREFIX) for name in oracle.render().external_ids.values())


def _tracked_world() -> tuple[HomeWorld, dict[str, str]]:
    """A world whose tracker reissues ids but never misses; the names of the first look-around."""
    world = HomeWorld(generate_home(2, n_rooms=2), perception=Perception(replace(ORACLE, name="tracks",
                                                                               reissue_ids=True), seed=0))
    names = {world.perception.resolve(n): n for f in world.look_around() for n in f.external_ids.values()}
    return world, names


def test_a_tracked_object_moved_unseen_is_looked_for_where_the_robot_last_saw_it():
    world, names = _tracked_world()
    home = world.home
    thing = next(e for e in home if e.object_id in names and e.kind.pickupable and e.parent is not None
                 and e.room == home.start_room.room_id)
    was, room = thing.center, thing.room
    far = next(h for h in home if h.room != room and h.receptacle is not None
               and h.receptacle.mode == "surface" and Household(("Alice",), seed=0).move_to(
                   world, "Alice", home[thing.object_id], h))
    assert math.dist(was, thing.center) > 0.5 and thing.room == far.room != room
    seen_at = world.perception.last_place(names[thing.object_id])
    result = world.step(Action("GoToObject", names[thing.object_id]))
    # A robot drives to where it believes the thing is, looks, and does not find it there.
    assert not result.success and result.code == SkillCode.NOT_VISIBLE and "not where it was last seen" in result.error
    assert result.distance > 0 and math.dist((world.agent.pose.x, world.agent.pose.y), seen_at[:2]) < REACH + 0.5
    assert world.step(Action("GoToObject", thing.object_type)).success  # a search by type still finds it


def test_what_the_robot_put_somewhere_itself_it_finds_there():
    world, names = _tracked_world()
    home = world.home
    thing = next(e for e in home if e.object_id in names and e.kind.pickupable and e.parent is not None
                 and world.step(Action("GoToObject", names[e.object_id])).success
                 and world.step(Action("PickupObject", names[e.object_id])).success)
    track = names[thing.object_id]
    host = next(h for h in home if h.object_id in names and h.receptacle is not None
                and h.receptacle.mode == "surface" and h.object_id != thing.parent and h.room != thing.room
                and world.step(Action("GoToObject", names[h.object_id])).success
                and world.step(Action("PutObject", names[h.object_id])).success)
    assert home[thing.object_id].parent == host.object_id
    assert world.perception.last_place(track) == home[thing.object_id].center
    world.step(Action("Explore", home.start_room.room_id))
    assert world.step(Action("GoToObject", track)).success
