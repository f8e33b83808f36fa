"""memory_nodes.conversions: round trips between ROS messages and core records, and refusals."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
from geometry_msgs.msg import Pose  # noqa: E402

from memory_nodes import conversions as cv  # noqa: E402
from scene_graph.frames import CameraIntrinsics, RGBDFrame  # noqa: E402
from scene_graph.records import MISSING, GraphDelta, ObjectNode, OrientedBox, Relation  # noqa: E402


def _apple() -> ObjectNode:
    return ObjectNode(
        id="obj_0007", label="Apple", layer="object", centroid=(1.25, -0.5, 0.93),
        box=OrientedBox((1.25, -0.5, 0.93), (0.08, 0.09, 0.1), yaw=0.7), room_id="room_1",
        area_id="area_3", states=(("sliced", True), ("temperature", "cold")), first_seen=12.5,
        last_seen=101.25, last_changed=90.5, observation_count=14, confidence=0.75, status=MISSING,
        external_id="Apple|1",
    )


def test_object_round_trip_keeps_every_field():
    node = _apple()
    back = cv.object_from_msg(cv.object_to_msg(node))
    assert back.box.yaw == pytest.approx(node.box.yaw)
    assert back.box.center == pytest.approx(node.box.center)
    assert back.confidence == pytest.approx(node.confidence)
    for field in ("id", "label", "layer", "centroid", "room_id", "area_id", "states", "first_seen",
                  "last_seen", "last_changed", "observation_count", "status", "external_id"):
        assert getattr(back, field) == getattr(node, field), field


def test_object_with_mismatched_states_is_refused():
    msg = cv.object_to_msg(_apple())
    msg.state_values = ["true"]
    with pytest.raises(cv.ConversionError, match="2 state names but 1 values"):
        cv.object_from_msg(msg)


def test_relation_predicates_are_upper_case_on_the_wire():
    rel = Relation("obj_2", "on", "obj_1")
    msg = cv.relation_to_msg(rel)
    assert msg.predicate == msg.ON
    assert cv.relation_from_msg(msg) == rel


def test_delta_becomes_a_graph_update_with_its_sequence():
    delta = GraphDelta(sequence=42, stamp=3.5, upserted_objects=(_apple(),), removed_objects=("obj_1",),
                       added_relations=(Relation("obj_0007", "in", "obj_0002"),))
    msg = cv.delta_to_msg(delta, "map")
    assert msg.sequence == 42 and msg.header.frame_id == "map"
    assert cv.from_time(msg.header.stamp) == pytest.approx(3.5)
    assert [o.id for o in msg.upserted_objects] == ["obj_0007"]
    assert list(msg.removed_object_ids) == ["obj_1"]
    assert msg.added_relations[0].predicate == "IN"


@pytest.mark.parametrize("encoding,dtype,shape", [("rgb8", np.uint8, (4, 5, 3)), ("bgr8", np.uint8, (4, 5, 3)),
                                                  ("32FC1", np.float32, (4, 5)), ("16UC1", np.uint16, (4, 5)),
                                                  ("32SC1", np.int32, (4, 5))])
def test_image_round_trip(encoding, dtype, shape):
    array = (np.arange(np.prod(shape)) % 250).astype(dtype).reshape(shape)
    back = cv.image_to_array(cv.array_to_image(array, encoding))
    np.testing.assert_array_equal(back, array)


def test_bgr8_pixels_come_out_as_rgb_and_rgb_goes_out_as_bgr8():
    """Known bytes on the wire, so a conversion that drops the channel flip on both sides fails."""
    msg = cv.array_to_image(np.zeros((1, 2, 3), np.uint8), "bgr8")
    msg.data = bytes([255, 0, 0, 10, 20, 30])  # pixel 0 pure blue, pixel 1 B=10 G=20 R=30
    np.testing.assert_array_equal(cv.image_to_array(msg), [[[0, 0, 255], [30, 20, 10]]])
    red = np.array([[[255, 0, 0], [1, 2, 3]]], np.uint8)  # RGB: pure red, then R=1 G=2 B=3
    assert bytes(cv.array_to_image(red, "bgr8").data) == bytes([0, 0, 255, 3, 2, 1])
    assert bytes(cv.array_to_image(red, "rgb8").data) == bytes([255, 0, 0, 1, 2, 3])


def test_image_with_row_padding_is_read_correctly():
    array = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    msg = cv.array_to_image(array, "rgb8")
    msg.step = 8  # 6 bytes of pixels + 2 bytes of padding per row
    msg.data = array[0].tobytes() + b"\0\0" + array[1].tobytes() + b"\0\0"
    np.testing.assert_array_equal(cv.image_to_array(msg), array)


def test_bad_images_are_refused_with_a_reason():
    msg = cv.array_to_image(np.zeros((4, 5, 3), np.uint8), "rgb8")
    msg.encoding = "yuv422"
    with pytest.raises(cv.ConversionError, match="unsupported image encoding 'yuv422'"):
        cv.image_to_array(msg)
    msg = cv.array_to_image(np.zeros((4, 5, 3), np.uint8), "rgb8")
    msg.data = msg.data[:-1]
    with pytest.raises(cv.ConversionError, match="expected 60"):
        cv.image_to_array(msg)


def test_millimetre_depth_becomes_metres():
    mm = np.array([[1000, 1500], [0, 65535]], dtype=np.uint16)
    np.testing.assert_allclose(cv.depth_to_metres(cv.array_to_image(mm, "16UC1")), mm / 1000.0)


def test_pose_with_zero_quaternion_or_nan_is_refused():
    pose = Pose()
    pose.orientation.w = 0.0
    with pytest.raises(cv.ConversionError, match="quaternion"):
        cv.pose_to_matrix(pose)
    pose = Pose()
    pose.position.x = math.nan
    with pytest.raises(cv.ConversionError, match="not finite"):
        cv.pose_to_matrix(pose)


def test_box_orientation_with_a_zero_quaternion_is_refused():
    msg = cv.object_to_msg(_apple())
    q = msg.box_pose.orientation
    q.x = q.y = q.z = q.w = 0.0
    with pytest.raises(cv.ConversionError, match="quaternion"):
        cv.object_from_msg(msg)


def test_camera_offset_turns_roll_then_pitch_then_yaw_about_fixed_axes():
    T = cv.offset_to_matrix([0.1, 0.2, 0.3, math.pi / 2, 0.0, math.pi / 2])
    np.testing.assert_allclose(T[:3, 3], [0.1, 0.2, 0.3])
    np.testing.assert_allclose(T[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # yaw only moves x
    np.testing.assert_allclose(T[:3, :3] @ [0, 1, 0], [0, 0, 1], atol=1e-12)  # roll lifts y to z; yaw keeps z


def test_pose_matrix_matches_yaw():
    pose = cv.box_to_pose(OrientedBox((1.0, 2.0, 3.0), (1.0, 1.0, 1.0), yaw=math.pi / 2))
    T = cv.pose_to_matrix(pose)
    np.testing.assert_allclose(T[:3, 3], [1, 2, 3])
    np.testing.assert_allclose(T[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def _frame() -> RGBDFrame:
    intr = CameraIntrinsics.from_fov(8, 6, 90.0)
    ids = np.zeros((6, 8), np.int32)
    ids[1:3, 2:5] = 7
    return RGBDFrame(stamp=5.25, color=np.full((6, 8, 3), 9, np.uint8), depth=np.full((6, 8), 2.0, np.float32),
                     instance_ids=ids, labels={7: "Mug"}, intrinsics=intr, T_world_camera=np.eye(4),
                     scores={7: 0.5}, external_ids={7: "Mug|1"})


def test_frame_round_trip_through_messages():
    frame = _frame()
    color = cv.array_to_image(frame.color, "rgb8", "cam", frame.stamp)
    depth = cv.array_to_image(frame.depth, "32FC1", "cam", frame.stamp)
    info = cv.camera_info_from_intrinsics(frame.intrinsics, "cam", frame.stamp)
    back = cv.frame_from_msgs(color, depth, info, cv.instances_to_msg(frame), np.eye(4))
    np.testing.assert_array_equal(back.instance_ids, frame.instance_ids)
    np.testing.assert_array_equal(back.depth, frame.depth)
    assert back.labels == {7: "Mug"} and back.scores == {7: 0.5} and back.external_ids == {7: "Mug|1"}
    assert back.intrinsics == frame.intrinsics
    assert back.stamp == pytest.approx(5.25)


def test_frame_with_mismatched_sizes_is_refused():
    frame = _frame()
    color = cv.array_to_image(np.zeros((3, 4, 3), np.uint8), "rgb8")
    depth = cv.array_to_image(frame.depth, "32FC1")
    info = cv.camera_info_from_intrinsics(frame.intrinsics, "cam", 0.0)
    with pytest.raises(cv.ConversionError, match="image sizes differ: colour 4x3"):
        cv.frame_from_msgs(color, depth, info, cv.instances_to_msg(frame), np.eye(4))


def test_instances_with_missing_labels_are_refused():
    frame = _frame()
    msg = cv.instances_to_msg(frame)
    msg.labels = []
    with pytest.raises(cv.ConversionError, match="1 ids but 0 labels"):
        cv.frame_from_msgs(cv.array_to_image(frame.color, "rgb8"), cv.array_to_image(frame.depth, "32FC1"),
                           cv.camera_info_from_intrinsics(frame.intrinsics, "cam", 0.0), msg, np.eye(4))


def test_skill_codes_of_the_core_are_the_action_constants():
    from embodied_memory.action import Skill
    from scene_graph.outcomes import SkillCode
    constants = {name: getattr(Skill.Result, name) for name in dir(Skill.Result)
                 if name.isupper() and isinstance(getattr(Skill.Result, name), int)}
    assert constants == {code.name: code.value for code in SkillCode}


def test_skill_results_carry_the_simulator_code_both_ways():
    from embodied_memory.action import Skill
    from scene_graph.outcomes import SkillCode
    from sim.records import Action, ActionResult
    failed = ActionResult(Action("OpenObject", "Fridge|1"), False, "Fridge|1 is already open",
                          code=SkillCode.ALREADY_DONE)
    msg = cv.skill_result_to_msg(failed)
    assert (msg.success, msg.error_code, msg.error_message) == (False, Skill.Result.ALREADY_DONE, failed.error)
    back = cv.skill_result_from_msg(msg)
    assert (back.success, back.error_code, back.error_message) == (False, SkillCode.ALREADY_DONE, failed.error)
    newer = cv.skill_result_from_msg(Skill.Result(success=False, error_code=200, error_message="a newer robot's code"))
    assert newer.error_code == SkillCode.SKILL_FAILED and newer.error_message == "a newer robot's code"
