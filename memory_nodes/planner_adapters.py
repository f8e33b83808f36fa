"""The planner core's two Protocols over ROS: memory services and topics, and the Skill action.

``planners.loop.TaskRunner`` calls these from inside the ExecuteTask execute callback, so each
call blocks that executor thread while other threads deliver the answer. That is why the
clients and subscriptions take their own callback group and the node must spin on a
MultiThreadedExecutor (a service call from a callback deadlocks otherwise). Every wait has a
timeout and fails with :class:`CallFailed` naming what did not answer.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Optional, Sequence

from builtin_interfaces.msg import Time
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.callback_groups import CallbackGroup
from rclpy.client import Client
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from embodied_memory.action import Skill
from embodied_memory.msg import GraphUpdate, InstanceSegmentation, Layout
from embodied_memory.msg import MemoryUnit as MemoryUnitMsg
from embodied_memory.srv import GetSnapshot, GetTaskSubgraph, MarkMissing, PlaceObject, QueryShortTerm
from memory_nodes import calls
from memory_nodes.calls import wait_done
from memory_nodes.conversions import (
    ConversionError,
    delta_from_msg,
    from_time,
    image_to_array,
    layout_from_msg,
    skill_result_from_msg,
    state_from_text,
    to_time,
)
from memory_nodes.node_support import BadInput, admit_objects
from planners.images import PromptImage, camera_images
from planners.interfaces import KnownObject, SkillCode, SkillResult, SubgraphText, known_objects
from scene_graph.admission import AdmissionLimits
from scene_graph.graph import SCHEMA_VERSION, SceneGraph, SequenceGap
from scene_graph.records import MISSING, GraphDelta
from scene_graph.short_term import MemoryUnit

_HELD_UPDATES = 1000  # graph updates kept while the view waits for its snapshot
_DEFAULT_ADMISSION = AdmissionLimits()


class CallFailed(RuntimeError):
    """A memory service or the skill action is absent, silent past its timeout, or answered an error."""


# ----------------------------------------------------------------------------- conversions
def graph_from_snapshot(snapshot: GraphDelta, layout: Layout) -> SceneGraph:
    """GetSnapshot's answer (as a delta) as a SceneGraph, through the same path as a saved memory's load."""
    rooms, areas = layout_from_msg(layout)
    return SceneGraph.from_snapshot({
        "schema_version": SCHEMA_VERSION, "sequence": snapshot.sequence, "next_object_index": 0,
        "rooms": [r.to_dict() for r in rooms], "areas": [a.to_dict() for a in areas],
        "objects": [o.to_dict() for o in snapshot.upserted_objects],
        "relations": [[r.subject, r.predicate, r.object] for r in snapshot.added_relations],
    })


def unit_from_msg(msg: MemoryUnitMsg) -> MemoryUnit:
    """The inverse of ``conversions.unit_to_msg``."""
    return MemoryUnit(msg.object_id, msg.object_type, (msg.position.x, msg.position.y, msg.position.z),
                      from_time(msg.stamp), msg.kind,
                      tuple((n, state_from_text(v)) for n, v in zip(msg.state_names, msg.state_values)),
                      msg.image_ref or None, msg.text or None, msg.receptacle or None, msg.confirmed)


# ----------------------------------------------------------------------------- waiting
def call_service(client: Client, request: Any, timeout_s: float, resend: bool = True,
                 accept: Sequence[int] = ()) -> Any:
    """One service call (resent while unanswered unless not ``resend``, :mod:`memory_nodes.calls`);
    absent servers, timeouts and error codes other than ``accept`` become CallFailed.

    Whether the graph shows a server is a hint, not a gate (:func:`memory_nodes.calls.ready_or_not`):
    a request that may be resent goes out even when the check says no, and the answer decides.
    """
    start = time.monotonic()
    if not calls.ready_or_not(lambda t: client.wait_for_service(timeout_sec=t), timeout_s, resend):
        raise CallFailed(f"service {client.srv_name} is not available (waited {timeout_s:g} s): "
                         "is its memory node running?")
    response = calls.call(client, request, wait_done, timeout_s, resend)
    if response is None:
        waited = time.monotonic() - start
        if resend and not client.service_is_ready():
            raise CallFailed(f"service {client.srv_name} is not available (waited {waited:.1f} s): "
                             "is its memory node running?")
        raise CallFailed(f"service {client.srv_name} did not answer within {waited:.1f} s"
                         f"{'' if resend else ' (the request may have run)'}")
    if response.error_code != 0 and response.error_code not in accept:
        raise CallFailed(f"service {client.srv_name} failed: {response.error_message}")
    return response


# ----------------------------------------------------------------------------- camera
class RosCamera:
    """The newest colour image (and, for crops, the instance image of the same stamp) as prompt
    images for backends that read images: the ``camera`` of :class:`planners.loop.TaskRunner`.

    Only the newest message of each is kept. An image that cannot be used is counted through
    ``reject`` and the plan goes without images.
    """

    def __init__(self, node: Node, group: CallbackGroup, max_crops: int,
                 reject: Callable[[str, str], None]) -> None:
        self._max_crops = max_crops
        self._reject = reject
        self._lock = threading.Lock()
        self._color: Optional[Image] = None
        self._instances: Optional[InstanceSegmentation] = None
        node.create_subscription(Image, "camera/color/image_raw", self._keep("_color"), qos_profile_sensor_data,
                                 callback_group=group)
        if max_crops:
            node.create_subscription(InstanceSegmentation, "camera/instances", self._keep("_instances"),
                                     qos_profile_sensor_data, callback_group=group)

    def _keep(self, slot: str) -> Callable[[Any], None]:
        def keep(msg: Any) -> None:
            with self._lock:
                setattr(self, slot, msg)
        return keep

    def __call__(self, shown: Sequence[KnownObject]) -> list[PromptImage]:
        with self._lock:
            color, instances = self._color, self._instances
        if color is None:
            return []
        try:
            rgb = image_to_array(color)
            if rgb.ndim != 3:
                raise ConversionError(f"colour must be rgb8 or bgr8, got {color.encoding!r}")
            ids, external = None, {}
            if instances is not None and instances.header.stamp == color.header.stamp:
                ids = image_to_array(instances.ids)
                if ids.shape != rgb.shape[:2]:
                    raise ConversionError(f"instance image is {ids.shape[1]}x{ids.shape[0]}, colour "
                                          f"{rgb.shape[1]}x{rgb.shape[0]}")
                external = dict(zip((int(i) for i in instances.instance_ids), instances.external_ids))
            return camera_images(rgb, ids, external, shown, self._max_crops)
        except ConversionError as exc:
            self._reject("camera/color/image_raw", str(exc))
            return []


# ----------------------------------------------------------------------------- memory
class RosMemory:
    """MemoryAccess over the long- and short-term memory nodes.

    The planner's view of long-term memory is a mirror (a :class:`SceneGraph`) fed by
    ``memory/graph_updates``: GetSnapshot is called only to start it and when an update's sequence
    number skips one (as Hydra's and Spark-DSG's receivers do). It also watches the camera
    (``camera/color/camera_info``: one per frame, small) so that :meth:`refresh` can wait until
    memory has fused what the robot sees now.
    """

    def __init__(self, node: Node, group: CallbackGroup, timeout_s: float, refresh_timeout_s: float,
                 limits: AdmissionLimits = _DEFAULT_ADMISSION, bad: Optional[BadInput] = None) -> None:
        self._node = node
        self._limits = limits
        self.bad = bad if bad is not None else BadInput(node)  # objects refused, per reason
        self._timeout_s = timeout_s
        self._refresh_timeout_s = refresh_timeout_s
        self._snapshot = node.create_client(GetSnapshot, "memory/get_snapshot", callback_group=group)
        self._subgraph = node.create_client(GetTaskSubgraph, "memory/task_subgraph", callback_group=group)
        self._recent = node.create_client(QueryShortTerm, "memory/short_term/query", callback_group=group)
        self._mark = node.create_client(MarkMissing, "memory/mark_missing", callback_group=group)
        self._place = node.create_client(PlaceObject, "memory/place_object", callback_group=group)
        node.create_subscription(CameraInfo, "camera/color/camera_info", self._on_frame, qos_profile_sensor_data,
                                 callback_group=group)
        node.create_subscription(GraphUpdate, "memory/graph_updates", self._on_update, 500, callback_group=group)
        self._changed = threading.Condition()
        self._frames = 0  # camera frames seen
        self._frame_stamp = 0.0  # of the latest frame
        self._update_stamp = 0.0  # of the latest graph update
        self._fused = 0  # frames seen when memory had fused the latest of them
        self._refreshed = 0  # frames seen when the last refresh returned
        self._mirror: Optional[SceneGraph] = None  # None: the next read takes a snapshot
        self._held: deque[GraphDelta] = deque(maxlen=_HELD_UPDATES)  # updates received while there is none
        self.last_sequence = -1  # of the latest graph update received
        self.snapshots = 0  # GetSnapshot calls: one at start, one per skipped sequence number

    def _on_frame(self, msg: CameraInfo) -> None:
        # The latest stamps, not the largest: a simulator restored to an earlier moment goes back in
        # time (and a loaded memory's update is stamped 0).
        with self._changed:
            self._frames += 1
            self._frame_stamp = from_time(msg.header.stamp)
            if self._update_stamp >= self._frame_stamp:  # memory's update overtook the frame here
                self._fused = self._frames
            self._changed.notify_all()

    def _admitted(self, msg: GraphUpdate, source: str) -> GraphDelta:
        """An update or snapshot as a delta of the objects :func:`admit_objects` admits (the rest counted
        under ``source``): a refused object leaves the view with the relations that name it, so no NaN
        position, absurd size or multi-line label a remote memory sends reaches a plan. Empties
        ``msg.upserted_objects`` (the message is this callback's own)."""
        objects, msg.upserted_objects = msg.upserted_objects, []
        delta = delta_from_msg(msg)
        now = self._node.get_clock().now().nanoseconds * 1e-9
        kept, refused = admit_objects(objects, now, self._limits, self.bad, source)
        if not refused:
            return replace(delta, upserted_objects=tuple(kept))
        gone = set(refused)
        return replace(delta, upserted_objects=tuple(kept), removed_objects=delta.removed_objects + tuple(refused),
                       added_relations=tuple(r for r in delta.added_relations
                                             if r.subject not in gone and r.object not in gone))

    def _on_update(self, msg: GraphUpdate) -> None:
        try:
            delta = self._admitted(msg, "memory/graph_updates")
        except ValueError as exc:  # ConversionError included: the mirror cannot follow, so start again
            self._node.get_logger().warning(f"graph update {msg.sequence} does not load ({exc}); resynchronising")
            delta = None
        with self._changed:
            self._update_stamp = from_time(msg.header.stamp)
            if self._update_stamp >= self._frame_stamp:
                self._fused = self._frames
            self.last_sequence = msg.sequence
            if delta is None:
                self._mirror = None
                self._held.clear()
            elif self._mirror is None:
                self._held.append(delta)
            elif delta.sequence > self._mirror.sequence:  # older ones are in the mirror already
                try:
                    self._mirror.apply(delta)
                except SequenceGap as exc:
                    self._node.get_logger().info(f"{exc}: the planner's memory view resynchronises")
                    self._mirror = None
                    self._held.append(delta)
            self._changed.notify_all()

    def _view(self) -> SceneGraph:
        """The mirror, started (or restarted after a gap) from a snapshot plus the updates held since.
        Call with ``_changed`` held; the snapshot call releases it while it waits."""
        if self._mirror is not None:
            return self._mirror
        self._changed.release()
        try:
            response = call_service(self._snapshot, GetSnapshot.Request(), self._timeout_s)
            self.snapshots += 1
            try:
                graph = graph_from_snapshot(self._admitted(response.snapshot, "memory/get_snapshot"), response.layout)
            except ValueError as exc:  # ConversionError included
                raise CallFailed(f"service {self._snapshot.srv_name} answered a snapshot that does not load: "
                                 f"{exc}") from exc
        finally:
            self._changed.acquire()
        held = sorted((d for d in self._held if d.sequence > graph.sequence), key=lambda d: d.sequence)
        self._held.clear()
        for delta in held:
            try:
                graph.apply(delta)
            except SequenceGap:  # one was lost on the way: the view stands at the last it could follow,
                break  # and the next update that does not follow it starts it again
        self._mirror = graph
        return graph

    @property
    def sequence(self) -> int:
        """The sequence number of the planner's view (-1 before it started)."""
        with self._changed:
            return self._mirror.sequence if self._mirror is not None else -1

    def objects(self) -> list[KnownObject]:
        with self._changed:
            return known_objects(self._view())

    def task_subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        if not instruction.strip():  # goal conditions alone: the service wants an instruction
            return SubgraphText("", 0, ())
        response = call_service(self._subgraph, GetTaskSubgraph.Request(instruction=instruction,
                                                                        budget_tokens=budget_tokens), self._timeout_s)
        return SubgraphText(response.text, response.tokens, tuple(response.object_ids))

    def short_term(self, instruction: str, k: int) -> list[str]:
        response = call_service(self._recent, QueryShortTerm.Request(instruction=instruction, k=k), self._timeout_s)
        try:
            return [unit_from_msg(u).describe() for u in response.units]
        except ValueError as exc:  # a unit kind this code does not know
            raise CallFailed(f"service {self._recent.srv_name} answered a unit that does not load: {exc}") from exc

    def mark_missing(self, object_id: str) -> None:
        """Correct long-term memory (``memory/mark_missing``), then wait until the view holds the
        correction's update, so the next read (and the next frame) cannot overtake it."""
        with self._changed:
            node = self._mirror.get_object(object_id) if self._mirror is not None else None
            if node is not None and node.status == MISSING:
                return
        self._correct(self._mark, MarkMissing.Request(object_id=object_id, stamp=self._stamp()),
                      f"marking {object_id} missing")

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        """Tell long-term memory the robot put ``object_id`` in or on ``holder_id``
        (``memory/place_object``), then wait for its update as :meth:`mark_missing` does."""
        self._correct(self._place, PlaceObject.Request(object_id=object_id, holder_id=holder_id, inside=inside,
                                                       stamp=self._stamp()), f"placing {object_id} at {holder_id}")

    def _stamp(self) -> Time:
        """A correction's stamp: the latest camera frame's (memory's timeline), else the node's clock."""
        with self._changed:
            stamp = self._frame_stamp or self._node.get_clock().now().nanoseconds * 1e-9
        return to_time(stamp)

    def _correct(self, client: Client, request: Any, what: str) -> None:
        """Send a correction, then wait until the view holds its update, so that the next read (and
        the next frame) cannot overtake it. An id memory forgot meanwhile only earns a warning."""
        not_found = client.srv_type.Response.NOT_FOUND
        response = call_service(client, request, self._timeout_s, accept=(not_found,))
        if response.error_code == not_found:  # forgotten meanwhile: nothing to correct
            self._node.get_logger().warning(f"{what}: {response.error_message}")
            return
        with self._changed:
            if not self._changed.wait_for(lambda: self._mirror is None or self._mirror.sequence >= response.sequence,
                                          self._refresh_timeout_s):
                self._node.get_logger().warning(f"the update {what} did not arrive within "
                                                f"{self._refresh_timeout_s:g} s; the next read takes a snapshot")
                self._mirror = None

    def refresh(self) -> None:
        """Wait until a camera frame came after the last refresh and memory fused the latest frame.

        Bounded by ``refresh_timeout_s``: a frame that changes nothing in memory publishes no update.
        """
        with self._changed:
            fused = self._changed.wait_for(lambda: self._frames > self._refreshed and self._fused == self._frames,
                                           self._refresh_timeout_s)
            self._refreshed = self._frames
        if not fused:
            self._node.get_logger().debug(f"memory reported nothing new within {self._refresh_timeout_s:g} s")


# ----------------------------------------------------------------------------- robot
class RosSkillExecutor:
    """SkillExecutor over the ``execute_skill`` action; :meth:`cancel` stops the skill under way, or
    ends the wait for a skill server that does not answer (a robot's bridge not running)."""

    def __init__(self, node: Node, group: CallbackGroup, timeout_s: float, skill_timeout_s: float) -> None:
        self._client = ActionClient(node, Skill, "execute_skill", callback_group=group)
        self._timeout_s = timeout_s
        self._skill_timeout_s = skill_timeout_s
        self._running: Optional[ClientGoalHandle] = None
        self._canceled = threading.Event()
        self._wake = threading.Event()  # the current wait for the server's answer

    def _wait_unless_canceled(self, future: Any, timeout_s: float) -> bool:
        """:func:`wait_done` that :meth:`cancel` cuts short."""
        wake = self._wake = threading.Event()
        future.add_done_callback(lambda _: wake.set())
        if not self._canceled.is_set():
            wake.wait(timeout_s)
        return bool(future.done())

    def execute(self, skill: str, object_id: str) -> SkillResult:
        start = time.monotonic()
        calls.ready_or_not(lambda t: self._client.wait_for_server(timeout_sec=t), self._timeout_s)
        what = f"execute_skill {skill}({object_id})"
        handle = calls.send_goal(self._client, Skill.Goal(skill=skill, object_id=object_id),
                                 self._wait_unless_canceled, self._timeout_s, stop=self._canceled.is_set)
        if handle is None:
            waited = time.monotonic() - start
            if self._canceled.is_set():
                raise CallFailed(f"{what}: canceled after waiting {waited:.1f} s for the skill server")
            if not self._client.server_is_ready():
                raise CallFailed(f"action execute_skill is not available (waited {waited:.1f} s): "
                                 "is the robot or simulator bridge running?")
            raise CallFailed(f"{what} did not answer within {waited:.1f} s")
        if not handle.accepted:
            return SkillResult(False, SkillCode.SKILL_FAILED, f"{what} was rejected")
        self._running = handle
        try:
            response = calls.goal_result(handle, wait_done, self._skill_timeout_s)
            if response is None:
                handle.cancel_goal_async()
                raise CallFailed(f"{what} did not finish within {self._skill_timeout_s:g} s")
        finally:
            self._running = None
        return skill_result_from_msg(response.result)

    def start_task(self) -> None:
        """Forget the cancel of an earlier task (call before a new one starts)."""
        self._canceled.clear()

    def cancel(self) -> None:
        self._canceled.set()
        self._wake.set()
        running = self._running
        if running is not None:
            running.cancel_goal_async()
