"""AI2-THOR and habitat conversions on data shaped as those simulators return it."""
from __future__ import annotations

import builtins
import math
from types import SimpleNamespace

import numpy as np
import pytest

from scene_graph.outcomes import SkillCode
from sim import habitat, thor
from sim.coords import (
    habitat_camera_pose,
    habitat_to_world,
    thor_to_world,
    thor_yaw_to_world,
    world_to_thor,
    world_yaw_to_thor,
)
from sim.interface import SimulatorUnavailable
from sim.metadata import diff_states, object_from_metadata
from sim.records import Action
from sim.thor import InstanceRegistry, exploration_target, frame_from_event, nearest_pose, resolve_object, step_kwargs


def _thor_object(oid, otype, pos, parents=None, **extra):
    return {"objectId": oid, "objectType": otype, "position": pos, "rotation": {"x": 0, "y": 90.0, "z": 0},
            "visible": True, "pickupable": True, "isPickedUp": False, "openable": False, "isOpen": False,
            "sliceable": True, "isSliced": False, "cookable": True, "isCooked": False, "dirtyable": False,
            "isDirty": False, "toggleable": False, "isToggled": False, "canFillWithLiquid": False,
            "isFilledWithLiquid": False, "breakable": False, "isBroken": False, "canBeUsedUp": False,
            "isUsedUp": False, "temperature": "Cold", "receptacle": False, "receptacleObjectIds": None,
            "parentReceptacles": parents, "distance": 1.2,
            "axisAlignedBoundingBox": {"center": pos, "size": {"x": 0.1, "y": 0.2, "z": 0.3}, "cornerPoints": []},
            **extra}


THOR_META = {
    "agent": {"position": {"x": 1.0, "y": 0.9, "z": -2.0}, "rotation": {"x": 0, "y": 90.0, "z": 0},
              "cameraHorizon": 30.0},
    "cameraPosition": {"x": 1.0, "y": 1.575, "z": -2.0}, "fov": 90.0,
    "objects": [_thor_object("Apple|+01.20|+00.90|-00.45", "Apple", {"x": 1.2, "y": 0.9, "z": -0.45},
                             ["CounterTop|+01.00|+00.88|-00.50"]),
                _thor_object("Mug|-00.50|+00.90|+01.00", "Mug", {"x": -0.5, "y": 0.9, "z": 1.0})],
    "lastActionSuccess": True, "errorMessage": "",
}


def test_thor_axes_round_trip_and_handedness():
    p = {"x": 1.2, "y": 0.9, "z": -0.45}
    assert thor_to_world(p) == (1.2, -0.45, 0.9)  # height becomes z
    assert world_to_thor(thor_to_world(p)) == p
    # Unity yaw 0 faces +z (our +y), yaw 90 faces +x (our +x).
    assert math.isclose(thor_yaw_to_world(0.0), math.pi / 2) and abs(thor_yaw_to_world(90.0)) < 1e-12
    assert math.isclose(world_yaw_to_thor(thor_yaw_to_world(135.0)), 135.0)


def test_habitat_axes_and_camera():
    assert habitat_to_world((1.0, 2.0, -3.0)) == (3.0, -1.0, 2.0)  # -z forward -> +x, y up -> z
    T = habitat_camera_pose((0.0, 1.5, 0.0), (1.0, 0.0, 0.0, 0.0))  # identity: looking along -z
    np.testing.assert_allclose(T[:3, 2], [1, 0, 0], atol=1e-12)  # optical z -> world +x
    np.testing.assert_allclose(T[:3, 1], [0, 0, -1], atol=1e-12)  # optical y (down) -> world -z
    np.testing.assert_allclose(T[:3, 3], [0, 0, 1.5])
    assert np.isclose(np.linalg.det(T[:3, :3]), 1.0)


def test_thor_object_dict_to_record():
    rec = object_from_metadata(THOR_META["objects"][0])
    assert rec.position == (1.2, -0.45, 0.9) and rec.size == (0.1, 0.3, 0.2)
    assert rec.parents == ("CounterTop|+01.00|+00.88|-00.50",)
    assert rec.states["temperature"] == "cold" and rec.states["sliced"] is False and "dirty" not in rec.states
    assert abs(rec.yaw) < 1e-12 and rec.visible


def test_thor_frame_from_event_arrays():
    h, w = 4, 6
    seg = np.zeros((h, w, 3), dtype=np.uint8)
    seg[:2, :3] = (10, 20, 30)  # the apple
    seg[2:, :] = (200, 0, 5)  # a wall: not in metadata objects
    seg[:2, 3:] = (1, 2, 3)  # the mug
    colors = {(10, 20, 30): "Apple|+01.20|+00.90|-00.45", (200, 0, 5): "StandardWallSize|1|2",
              (1, 2, 3): "Mug|-00.50|+00.90|+01.00"}
    registry = InstanceRegistry()
    frame = frame_from_event(np.full((h, w, 3), 7, np.uint8), np.full((h, w), 2.5, np.float32), seg, colors,
                             THOR_META, registry, stamp=3.0)
    apple, mug = registry("Apple|+01.20|+00.90|-00.45"), registry("Mug|-00.50|+00.90|+01.00")
    assert frame.instance_ids.dtype == np.int32
    assert (frame.instance_ids[:2, :3] == apple).all() and (frame.instance_ids[:2, 3:] == mug).all()
    assert (frame.instance_ids[2:] == 0).all()
    assert frame.labels == {apple: "Apple", mug: "Mug"} and frame.external_ids[apple].startswith("Apple|")
    np.testing.assert_allclose(frame.T_world_camera[:3, 3], [1.0, -2.0, 1.575])
    forward = frame.T_world_camera[:3, 2]  # yaw 90 = +x, horizon 30 deg down
    np.testing.assert_allclose(forward, [math.cos(math.radians(30)), 0, -math.sin(math.radians(30))], atol=1e-9)
    assert frame.intrinsics.fy == pytest.approx(2.0)  # vertical fov 90 over 4 rows
    # Ids are stable across frames of one session.
    again = frame_from_event(np.zeros((h, w, 3), np.uint8), np.ones((h, w), np.float32), seg, colors, THOR_META,
                             registry)
    assert again.external_ids == frame.external_ids


def test_thor_action_mapping_and_helpers():
    assert step_kwargs(Action("PutObject", "Fridge|1")) == {"action": "PutObject", "objectId": "Fridge|1",
                                                            "forceAction": False}
    assert step_kwargs(Action("FillObject", "Mug|1"))["action"] == "FillObjectWithLiquid"
    poses = [{"x": 0.0, "y": 0.9, "z": 0.0, "rotation": 0, "horizon": 30},
             {"x": 1.0, "y": 0.9, "z": -1.75, "rotation": 90, "horizon": 0}]
    assert nearest_pose(poses, {"x": 1.0, "y": 0.9, "z": -2.0})["rotation"] == 90
    assert nearest_pose([], {"x": 0, "y": 0, "z": 0}) is None
    target = exploration_target([{"x": 0.0, "z": 0.0}, {"x": 3.0, "z": 0.0}, {"x": 9.0, "z": 0.0}],
                                [{"x": 0.0, "z": 0.0}], {"x": 0.0, "z": 0.0})
    assert target == {"x": 3.0, "z": 0.0}
    assert resolve_object(THOR_META, "mug") == "Mug|-00.50|+00.90|+01.00"
    assert resolve_object(THOR_META, "Unicorn") is None


def test_thor_error_messages_become_codes_once_in_the_adapter():
    assert thor.skill_code(True, "") == SkillCode.NONE
    assert thor.skill_code(False, "Object ID appears to be invalid.") == SkillCode.UNKNOWN_OBJECT
    assert thor.skill_code(False, "Mug|1 is not visible") == SkillCode.NOT_VISIBLE
    assert thor.skill_code(False, "Mug|1 is too far away to be picked up") == SkillCode.NOT_REACHABLE
    assert thor.skill_code(False, "Fridge|1 is already open") == SkillCode.ALREADY_DONE
    assert thor.skill_code(False, "Cannot open: it is locked") == SkillCode.SKILL_FAILED


def test_thor_state_diff_gives_changes():
    before = [object_from_metadata(o) for o in THOR_META["objects"]]
    moved = dict(THOR_META["objects"][0], isSliced=True, parentReceptacles=["Plate|1"],
                 axisAlignedBoundingBox={"center": {"x": 2.0, "y": 0.9, "z": -0.45},
                                         "size": {"x": 0.1, "y": 0.2, "z": 0.3}})
    after = [object_from_metadata(moved), before[1]]
    changes = diff_states(before, after, 4.0, "agent:SliceObject")
    assert {(c.state, c.new) for c in changes if c.state != "position"} == {("sliced", True), ("parent", "Plate|1")}
    assert any(c.state == "position" for c in changes) and all(c.stamp == 4.0 for c in changes)


def _block_import(monkeypatch, name):
    real = builtins.__import__

    def fake(mod, *args, **kwargs):
        if mod == name or mod.startswith(name + "."):
            raise ImportError(f"No module named {name!r}")
        return real(mod, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", fake)


def test_missing_ai2thor_is_one_clear_error(monkeypatch):
    _block_import(monkeypatch, "ai2thor")
    with pytest.raises(SimulatorUnavailable, match=r"pip install ai2thor.*display.*Vulkan.*build"):
        thor.ThorSimulator()


def test_missing_habitat_is_one_clear_error(monkeypatch):
    _block_import(monkeypatch, "habitat_sim")
    with pytest.raises(SimulatorUnavailable, match="no PyPI wheel.*conda"):
        habitat.HabitatSimulator("scene.glb")


def _semantic(oid, category, sid=None, center=(0.0, 0.5, -2.0)):
    aabb = SimpleNamespace(center=np.array(center), sizes=np.array([0.4, 1.0, 0.6]))
    cat = SimpleNamespace(name=lambda: category)
    return SimpleNamespace(id=oid, category=cat, aabb=aabb, **({"semantic_id": sid} if sid is not None else {}))


def test_habitat_observations_to_frame_and_records():
    objects = [_semantic("refrigerator_12", "refrigerator"), _semantic("chair_7", "chair", sid=7), None]
    labels = habitat.semantic_labels(objects)
    assert labels == {12: ("Fridge", "refrigerator_12"), 7: ("chair", "chair_7")}
    h, w = 3, 4
    semantic = np.zeros((h, w), dtype=np.uint32)
    semantic[0] = 12
    semantic[1] = 7
    semantic[2] = 99  # unlabelled instance -> background
    obs = {"color_sensor": np.full((h, w, 4), 9, np.uint8), "depth_sensor": np.full((h, w), 1.5, np.float32),
           "semantic_sensor": semantic}
    frame = habitat.frame_from_observations(obs, (0.0, 1.5, 0.0), (1.0, 0.0, 0.0, 0.0), 90.0, labels, 2.0)
    assert frame.color.shape == (h, w, 3) and (frame.instance_ids[2] == 0).all()
    assert frame.labels == {12: "Fridge", 7: "chair"} and frame.external_ids[12] == "refrigerator_12"
    record = habitat.object_states(objects)[0]
    assert record.object_type == "Fridge" and record.position == (2.0, -0.0, 0.5) and record.size == (0.6, 0.4, 1.0)
