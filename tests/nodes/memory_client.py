"""A test node in its own rclpy context that plays a robot's camera and a memory user."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import rclpy
import waits
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from scene_stream import SceneStream
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from embodied_memory.msg import GraphUpdate, InstanceSegmentation, StateChange
from memory_nodes import calls
from memory_nodes.conversions import frame_to_msgs

TIMEOUT = 20.0
RESEND_S = 3.0  # longer than the long-term node's diagnostics period (1 s)
DELIVER_TIMEOUT = 120.0


class Client:
    """A test node in its own context: publishes the camera stream, calls services, records outputs."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node("memory_test_client", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        pub = self.node.create_publisher
        self.pubs = {"color": pub(Image, "camera/color/image_raw", 10),
                     "depth": pub(Image, "camera/depth/image_raw", 10),
                     "info": pub(CameraInfo, "camera/color/camera_info", 10),
                     "instances": pub(InstanceSegmentation, "camera/instances", 10), "odom": pub(Odometry, "odom", 10),
                     "changes": pub(StateChange, "state_changes", 10)}
        self.updates: list[GraphUpdate] = []
        self.markers: list[MarkerArray] = []
        self.updates_sub = self.node.create_subscription(GraphUpdate, "memory/graph_updates", self.updates.append, 1000)
        self.node.create_subscription(MarkerArray, "memory/markers", self.markers.append, 10)
        self.diagnostics: dict[str, dict[str, str]] = {}  # node name -> its latest values
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.stamp = 0.0

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.hardware_id] = {v.key: v.value for v in status.values}

    def spin_until(self, done: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        return waits.until(done, timeout, step=lambda: self.executor.spin_once(timeout_sec=0.05))

    def wait(self, future: Any, timeout: float) -> bool:
        """``memory_nodes.calls.Waiter`` for this client: spin until the future is done."""
        return self.spin_until(future.done, timeout)

    def call(self, srv_type: Any, service: str, timeout: float = TIMEOUT, **fields: Any) -> Any:
        """Call a service, resending a request lost to a server still being discovered."""
        client = self.node.create_client(srv_type, service)
        try:
            calls.ready_or_not(lambda t: client.wait_for_service(timeout_sec=t), timeout)
            response = calls.call(client, srv_type.Request(**fields), self.wait, timeout)
            assert response is not None, f"{service} never answered"
            return response
        finally:
            self.node.destroy_client(client)

    def publish_frame(self, frame: Any, stamp: float, **broken: Any) -> None:
        """Pose first, then the images, as a robot's drivers usually deliver them; ``broken`` replaces
        any of the messages by a bad one."""
        msgs = frame_to_msgs(dataclasses.replace(frame, stamp=stamp), "map")
        odom = Odometry(header=msgs.pose.header, child_frame_id=frame.frame_id)
        odom.pose.pose = msgs.pose.pose
        parts = {"odom": odom, "color": msgs.color, "depth": msgs.depth, "info": msgs.info,
                 "instances": msgs.instances, **broken}
        for key, msg in parts.items():
            self.pubs[key].publish(msg)
        self.executor.spin_once(timeout_sec=0.0)

    def deliver(self, publish: Callable[[], None], handled: Callable[[], int],
                timeout: float = DELIVER_TIMEOUT) -> None:
        """``publish()`` until the node's ``handled()`` count goes past where it was: camera topics are best
        effort, so a message lost (to discovery, to a full queue) is sent again after :data:`RESEND_S`."""
        before = handled()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publish()
            if self.spin_until(lambda: handled() > before, timeout=RESEND_S):
                return
        raise AssertionError(f"not handled after {timeout:g} s (count stayed at {before})")

    def send_frames(self, scene: SceneStream, handled: Callable[[], int], rounds: int = 3) -> int:
        """Every frame of the scene ``rounds`` times, each once the node has handled the one before (a
        count of frames, not a time); stamps keep increasing. Returns the number of frames sent."""
        for frame in scene.frames * rounds:
            def publish(frame: Any = frame) -> None:
                self.stamp += 0.1
                self.publish_frame(frame, self.stamp)
            self.deliver(publish, handled)
        return len(scene.frames) * rounds

    def frames_handled(self) -> int:
        """The long-term node's ``frames_handled`` from its latest /diagnostics (also across processes)."""
        values = self.diagnostics.get("long_term_memory", {})
        return int(values.get("frames_handled", 0))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
