"""The sim bridge node with real rclpy in-process: frames, skills, state changes, bad goals."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from waits import until  # noqa: E402

from embodied_memory.action import Skill  # noqa: E402
from embodied_memory.msg import InstanceSegmentation, StateChange  # noqa: E402
from memory_nodes import calls  # noqa: E402
from memory_nodes.conversions import matrix_to_pose, pose_to_matrix  # noqa: E402
from memory_nodes.sim_bridge_node import SimBridge  # noqa: E402
from scene_graph.ontology import OBJECT_TYPES  # noqa: E402
from sim.camera import camera_pose  # noqa: E402
from sim.home.world import LOOK_AROUND_VIEWS  # noqa: E402

pytestmark = pytest.mark.ros
DISCOVERY_TIMEOUT = 20.0

TOPICS = {"color": (Image, "camera/color/image_raw"), "depth": (Image, "camera/depth/image_raw"),
          "info": (CameraInfo, "camera/color/camera_info"), "instances": (InstanceSegmentation, "camera/instances"),
          "odom": (Odometry, "odom"), "pose": (PoseStamped, "camera/pose"), "changes": (StateChange, "state_changes")}


class Harness:
    """The bridge and a client node spun by one executor from the test's thread."""

    def __init__(self) -> None:
        self.bridge = SimBridge()
        self.client = Node("sim_bridge_test_client")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.bridge)
        self.executor.add_node(self.client)
        self.received: dict[str, list[Any]] = {key: [] for key in TOPICS}
        for key, (msg_type, topic) in TOPICS.items():
            self.client.create_subscription(msg_type, topic, self.received[key].append, 100)
        self.skills = ActionClient(self.client, Skill, "execute_skill")

    def spin_until(self, done: Callable[[], bool], timeout: float = DISCOVERY_TIMEOUT) -> bool:
        return until(done, timeout, step=lambda: self.executor.spin_once(timeout_sec=0.05))

    def run_skill(self, skill: str, object_id: str = "") -> tuple[Skill.Result, list[str]]:
        feedback: list[str] = []
        calls.ready_or_not(lambda t: self.skills.wait_for_server(timeout_sec=t), DISCOVERY_TIMEOUT)
        handle = calls.send_goal(self.skills, Skill.Goal(skill=skill, object_id=object_id), self.wait,
                                 DISCOVERY_TIMEOUT, lambda f: feedback.append(f.feedback.status))
        assert handle is not None and handle.accepted
        done = calls.goal_result(handle, self.wait, DISCOVERY_TIMEOUT)
        assert done is not None, f"{skill}({object_id}) never finished"
        self.spin_until(lambda: feedback[-1:] in (["succeeded"], ["failed"]))  # the last feedback may trail the result
        return done.result, feedback

    def wait(self, future: Any, timeout: float) -> bool:
        return self.spin_until(future.done, timeout)

    def close(self) -> None:
        self.executor.shutdown()
        self.client.destroy_node()
        self.bridge.destroy_node()


@pytest.fixture(scope="module")
def harness():
    rclpy.init()
    h = Harness()
    yield h
    h.close()
    rclpy.try_shutdown()


def test_matrix_to_pose_inverts_pose_to_matrix():
    for yaw, pitch in [(0.0, 0.3), (math.pi, 0.0), (-2.0, 1.2), (math.pi / 2, -0.4)]:
        T = camera_pose((1.0, -2.0, 1.5), yaw, pitch)
        assert np.allclose(pose_to_matrix(matrix_to_pose(T)), T, atol=1e-9)


def test_frames_agree_in_size_and_name_real_objects(harness):
    got = harness.received
    assert harness.spin_until(lambda: all(got[k] for k in ("color", "depth", "info", "instances", "odom", "pose")))
    color, depth, info, instances = got["color"][-1], got["depth"][-1], got["info"][-1], got["instances"][-1]
    assert (color.encoding, depth.encoding, instances.ids.encoding) == ("rgb8", "32FC1", "32SC1")
    sizes = {(m.width, m.height) for m in (color, depth, info, instances.ids)}
    assert len(sizes) == 1
    assert color.header.frame_id == depth.header.frame_id == instances.header.frame_id
    assert instances.labels and set(instances.labels) <= set(OBJECT_TYPES)
    assert len(instances.external_ids) == len(instances.labels) == len(instances.instance_ids)
    ids = np.frombuffer(bytes(instances.ids.data), np.int32)
    assert set(np.unique(ids)) - {0} <= set(instances.instance_ids)
    pose, odom = got["pose"][-1], got["odom"][-1]
    assert pose.header.frame_id == odom.header.frame_id == "map"
    assert odom.child_frame_id == color.header.frame_id
    assert pose.pose.position.z == pytest.approx(1.5)


def test_pickup_of_a_visible_object_succeeds_and_reports_state_changes(harness):
    assert harness.spin_until(lambda: bool(harness.received["instances"]))
    instances = harness.received["instances"][-1]
    target = next((oid for label, oid in zip(instances.labels, instances.external_ids)
                   if OBJECT_TYPES[label].pickupable), None)
    assert target, f"nothing pickupable in view: {list(instances.labels)}"

    result, _ = harness.run_skill("GoToObject", target)
    assert result.success, result.error_message
    assert result.distance >= 0.0
    result, feedback = harness.run_skill("PickupObject", target)
    assert result.success and result.error_code == Skill.Result.NONE, result.error_message
    assert feedback[0] == "accepted" and feedback[-1] == "succeeded"

    changes = harness.received["changes"]
    assert harness.spin_until(lambda: any(c.state == "picked_up" for c in changes))
    picked = next(c for c in changes if c.state == "picked_up")
    assert (picked.object_id, picked.cause, picked.new_value, picked.external) == (target, "PickupObject", "true", True)
    assert picked.header.frame_id == "map"


def test_explore_shows_a_reader_of_the_newest_frame_every_view_of_the_turn(harness):
    """At a publishing rate the turn's views go out one a tick, so a node that keeps only the newest
    frame (the perception node) sees each; published back to back, it would see only the last."""
    poses: list[PoseStamped] = []
    newest_only = harness.client.create_subscription(PoseStamped, "camera/pose", poses.append, 1)
    try:
        result, _ = harness.run_skill("Explore")
        assert result.success, result.error_message
        here = pose_to_matrix(poses[-1].pose)[:3, 3]  # the turn ends facing as it began
        forward = [pose_to_matrix(p.pose)[:3, 2] for p in poses if np.allclose(pose_to_matrix(p.pose)[:3, 3], here)]
        views = {round(math.degrees(math.atan2(f[1], f[0]))) % 360 for f in forward}
    finally:
        harness.client.destroy_subscription(newest_only)
    assert len(views) >= LOOK_AROUND_VIEWS - 1, views  # one may be overtaken on a stalled machine


def test_bad_goals_get_error_codes_and_the_node_keeps_serving(harness):
    result, feedback = harness.run_skill("Teleport", "Apple")
    assert not result.success and result.error_code == Skill.Result.UNKNOWN_SKILL
    assert "Teleport" in result.error_message and feedback[-1:] != ["succeeded"]

    result, _ = harness.run_skill("OpenObject", "NoSuchThing|+00.00|+00.00|+00.00")
    assert not result.success and result.error_code == Skill.Result.UNKNOWN_OBJECT

    result, _ = harness.run_skill("PutObject", "")
    assert not result.success and result.error_code == Skill.Result.SKILL_FAILED

    before = len(harness.received["color"])
    assert harness.spin_until(lambda: len(harness.received["color"]) > before + 2)
    result, _ = harness.run_skill("Explore")
    assert result.error_code in (Skill.Result.NONE, Skill.Result.SKILL_FAILED)
