"""The view's live source: a node that follows memory's deltas, the layout, odometry and the camera.

On joining, and whenever a delta skips a sequence number, it asks ``memory/get_snapshot`` (from a
thread of its own, so the subscriptions keep flowing) and then replays the deltas that arrived
meanwhile. Bad messages are logged, counted and dropped; the view keeps what it had.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Optional

import numpy as np
import rclpy
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image

from embodied_memory.msg import GraphUpdate, Layout
from embodied_memory.srv import GetSnapshot
from memory_nodes import calls
from memory_nodes.conversions import (
    ConversionError,
    from_time,
    image_to_array,
    layout_from_msg,
    object_from_msg,
    relation_from_msg,
)
from memory_nodes.dds_profile import use_package_profile
from memory_nodes.node_support import BadInput, Spinner
from memory_nodes.tools.view_scene import MemoryView
from memory_nodes.tools.view_timeline import MemoryState, PoseSample
from scene_graph.records import GraphDelta

SNAPSHOT_TIMEOUT_S = 10.0  # one GetSnapshot attempt (resent meanwhile, memory_nodes.calls)
IMAGE_EVERY_S = 0.5  # camera images go to the page at most this often (each goes to every browser)
IMAGE_WIDTH = 320  # and this wide at most
_BUFFERED = 2000  # deltas kept while a snapshot is on its way


def delta_from_msg(msg: GraphUpdate) -> GraphDelta:
    """The inverse of ``conversions.delta_to_msg``."""
    return GraphDelta(sequence=msg.sequence, stamp=from_time(msg.header.stamp),
                      upserted_objects=tuple(object_from_msg(o) for o in msg.upserted_objects),
                      removed_objects=tuple(msg.removed_object_ids),
                      added_relations=tuple(relation_from_msg(r) for r in msg.added_relations),
                      removed_relations=tuple(relation_from_msg(r) for r in msg.removed_relations))


def preview(image: np.ndarray, width: int = IMAGE_WIDTH) -> np.ndarray:
    """An RGB uint8 copy at most ``width`` wide (every n-th pixel: a preview, not a measurement)."""
    step = max(1, int(np.ceil(image.shape[1] / width)))
    small = image[::step, ::step]
    if small.ndim == 2:
        small = np.repeat(small[:, :, None], 3, axis=2)
    if small.dtype != np.uint8:  # mono16 and the like: stretch to 8 bits
        small = (255.0 * small / max(float(small.max()), 1e-9)).astype(np.uint8)
    return np.ascontiguousarray(small[:, :, :3])


class MemoryViewNode(Node):
    def __init__(self, view: MemoryView, **kwargs: Any) -> None:
        super().__init__("memory_view", **kwargs)
        self._view = view
        self._bad = BadInput(self)
        self._pending: deque[GraphDelta] = deque(maxlen=_BUFFERED)
        self._want_snapshot = threading.Event()
        self._want_snapshot.set()
        self._stop = threading.Event()
        self._last_image = 0.0
        self._snapshot_client = self.create_client(GetSnapshot, "memory/get_snapshot")
        self.create_subscription(GraphUpdate, "memory/graph_updates", self._on_update, 500)
        self.create_subscription(Layout, "layout", self._on_layout,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_subscription(Odometry, "odom", self._on_odom, 10)
        self.create_subscription(Image, "camera/color/image_raw", self._on_image, qos_profile_sensor_data)
        self._fetcher = threading.Thread(target=self._fetch_snapshots, name="view-snapshot", daemon=True)
        self._fetcher.start()

    def stop(self) -> None:
        self._stop.set()
        self._want_snapshot.set()
        self._fetcher.join(timeout=SNAPSHOT_TIMEOUT_S + 5)

    # ----------------------------------------------------------------- memory
    def _on_update(self, msg: GraphUpdate) -> None:
        try:
            delta = delta_from_msg(msg)
        except (ConversionError, ValueError) as exc:
            self._bad.reject("memory/graph_updates", str(exc))
            return
        view = self._view
        with view.lock:
            self._pending.append(delta)
            if not view.timeline.apply(delta):
                self._want_snapshot.set()
        view.changed()

    def _fetch_snapshots(self) -> None:
        while not self._stop.is_set():
            self._want_snapshot.wait()
            if self._stop.is_set():
                return
            response = calls.call(self._snapshot_client, GetSnapshot.Request(), calls.wait_done, SNAPSHOT_TIMEOUT_S)
            if response is None or response.error_code != GetSnapshot.Response.NONE:
                reason = "no answer" if response is None else response.error_message
                self.get_logger().warning(f"memory/get_snapshot: {reason}; asking again",
                                          throttle_duration_sec=30.0)
                self._stop.wait(1.0)
                continue
            try:
                self._apply_snapshot(response)
            except (ConversionError, ValueError) as exc:
                self._bad.reject("memory/get_snapshot", str(exc))
                self._stop.wait(1.0)

    def _apply_snapshot(self, response: GetSnapshot.Response) -> None:
        snapshot = response.snapshot
        objects = {o.id: o for o in map(object_from_msg, snapshot.upserted_objects)}
        relations = frozenset(map(relation_from_msg, snapshot.added_relations))
        rooms, areas = layout_from_msg(response.layout)
        # Memory's own time (its deltas and odometry are on the robot's clock; the snapshot's header is not).
        stamp = max((o.last_seen for o in objects.values()), default=0.0)
        view = self._view
        with view.lock:
            self._want_snapshot.clear()
            view.timeline.add_state(MemoryState(snapshot.sequence, stamp, objects, relations))
            if rooms:
                view.timeline.set_layout(rooms, areas)
            for delta in sorted(self._pending, key=lambda d: d.sequence):
                if not view.timeline.apply(delta):
                    self._want_snapshot.set()  # still a gap: the history did not reach back
                    break
        view.changed()

    def _on_layout(self, msg: Layout) -> None:
        try:
            rooms, areas = layout_from_msg(msg)
        except ConversionError as exc:
            self._bad.reject("layout", str(exc))
            return
        with self._view.lock:
            self._view.timeline.set_layout(rooms, areas)
        self._view.changed()

    # ----------------------------------------------------------------- robot
    def _on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        sample = PoseSample(from_time(msg.header.stamp), (p.x, p.y, p.z), (q.w, q.x, q.y, q.z))
        with self._view.lock:
            self._view.track.add(sample)
        self._view.changed()

    def _on_image(self, msg: Image) -> None:
        now = time.monotonic()
        if now - self._last_image < IMAGE_EVERY_S:
            return
        self._last_image = now
        try:
            image = preview(image_to_array(msg))
        except ConversionError as exc:
            self._bad.reject("camera/color/image_raw", str(exc))
            return
        self._view.set_image(image)


class LiveView:
    """rclpy in a context of its own with the view's node spinning; a context manager."""

    def __init__(self, view: MemoryView, domain_id: Optional[int] = None) -> None:
        self._view, self._domain_id = view, domain_id
        self._context: Optional[Context] = None
        self._spinner: Optional[Spinner] = None
        self.node: Optional[MemoryViewNode] = None

    def __enter__(self) -> "LiveView":
        use_package_profile()
        self._context = Context()
        rclpy.init(context=self._context, domain_id=self._domain_id)
        self.node = MemoryViewNode(self._view, context=self._context)
        self._spinner = Spinner(self._context)
        self._spinner.add(self.node)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.node is not None:
            self.node.stop()
        if self._spinner is not None:
            self._spinner.shutdown()
        if self.node is not None:
            self.node.destroy_node()
        if self._context is not None:
            rclpy.try_shutdown(context=self._context)
