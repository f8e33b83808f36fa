"""The long-term memory node: camera streams in; graph deltas, markers, diagnostics and services out.

Wiring only: matching streams is ``frame_sync``, messages are ``conversions``, the memory is
``scene_graph.long_term.LongTermMemory``. Camera callbacks and services share a single-threaded
executor (rclpy's multi-threaded one loses camera frames, see ``node_support.executor_for``); work
that takes long and can wait (embedding new object texts, saving, markers, diagnostics) runs in a
maintenance thread. One lock serialises access to the memory, so a query waits at most one
frame's fusion.
"""
from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from embodied_memory.msg import GraphUpdate, InstanceSegmentation, Layout, StateChange
from embodied_memory.srv import GetSnapshot, GetTaskSubgraph, ManageMemory, MarkMissing, PlaceObject, QueryObjects
from memory_nodes.conversions import (
    ConversionError,
    delta_to_msg,
    frame_from_msgs,
    from_time,
    layout_from_msg,
    layout_to_msg,
    object_to_msg,
    offset_to_matrix,
    pose_to_matrix,
    snapshot_to_msg,
    state_from_text,
)
from memory_nodes.frame_sync import ApproximateSync, PoseBuffer
from memory_nodes.markers import MemoryView, build_markers
from memory_nodes.node_support import (
    AdmissionParams,
    BadInput,
    ConfigurationError,
    declare_all,
    declare_request_limits,
    diagnostics,
    parameter,
    set_torch_threads,
    spin_nodes,
)
from planners.backends import BackendUnavailable
from planners.object_states import STATE_BACKENDS, StateEstimator, StateWorker, state_model
from scene_graph import embeddings
from scene_graph.admission import Inadmissible, check_change, check_request, check_stamp
from scene_graph.embeddings import EmbedderUnavailable
from scene_graph.fusion import FusionConfig
from scene_graph.long_term import ChangeOutcome, LongTermConfig, LongTermMemory
from scene_graph.records import GraphDelta
from scene_graph.retrieval import NoTextIndex
from scene_graph.store import InvalidName, NoSnapshot
from scene_graph.tokens import token_counter
from scene_graph.vector_index import TEXT_INDEXES, text_index

POSE_SOURCES = ("odometry", "pose", "tf")
_STREAMS = ("color", "depth", "info", "instances")
_LATENCY_WINDOW = 300
_MAX_WAITING = 5  # matched frames held for their pose
MARKER_SHARE = 0.25  # most of the maintenance thread's time that drawing markers may take


def default_memory_dir() -> Path:
    """$ROS_HOME/embodied_memory (ROS_HOME defaults to ~/.ros), where ROS keeps per-user state."""
    return Path(os.environ.get("ROS_HOME", Path.home() / ".ros")) / "embodied_memory"


@dataclass(frozen=True)
class LongTermParams:
    """The long-term memory node's parameters (``config/memory.yaml``, section long_term_memory)."""

    memory_dir: str = parameter("", "Folder of saved memories; empty: $ROS_HOME/embodied_memory")
    memory_name: str = parameter("default", "Memory loaded on start and saved to periodically")
    load_on_start: bool = parameter(True, "Load the newest good snapshot of memory_name on start")
    snapshot_interval_s: float = parameter(300.0, "Seconds between full snapshots (0: never save); changes in "
                                           "between go to the journal", float_range=(0.0, 86400.0))
    journal_interval_s: float = parameter(1.0, "Seconds between journal appends of the changes since the last save "
                                          "(0: no journal, full snapshots only); a kill -9 loses at most this much",
                                          float_range=(0.0, 3600.0))
    journal_max_mb: float = parameter(64.0, "A journal longer than this is compacted into a full snapshot early (MB)",
                                      float_range=(0.1, 10000.0))
    keep_snapshots: int = parameter(5, "Snapshots kept per memory name", integer_range=(1, 100))
    budget_tokens: int = parameter(1500, "Default token budget of the task subgraph", integer_range=(50, 100000))
    trust_external_ids: bool = parameter(True, "Associate by the instances' external ids (simulator objectIds, "
                                         "tracker ids) first; off for trackers that reissue ids")
    detector_input: bool = parameter(False, "Instances come from a detector (masks overrun edges, detections are "
                                     "missed), not from a simulator's exact ones: see FusionConfig.for_detector")
    support_layer_m: float = parameter(0.0, "Masks cut from boxes by depth take in the floor or table top at an "
                                       "object's foot: cut that lowest layer of an instance, this thick (m; 0: off)",
                                       float_range=(0.0, 0.2))
    workspace_margin_m: float = parameter(10.0, "Fused points must lie within the layout's bounds plus this "
                                          "margin (m)", float_range=(0.0, 1000.0))
    default_workspace_m: float = parameter(300.0, "Without a layout, fused points must lie within this distance "
                                           "of the origin per axis (m)", float_range=(1.0, 10000.0))
    fusion_stride: int = parameter(2, "Back-project every n-th pixel", integer_range=(1, 8))
    max_depth_m: float = parameter(8.0, "Depth beyond this is ignored (m)", float_range=(0.5, 50.0))
    min_score: float = parameter(0.3, "Instances scored below this are ignored", float_range=(0.0, 1.0))
    world_frame: str = parameter("map", "Fixed frame of memory (REP-105 map)")
    pose_source: str = parameter("odometry", "Camera pose from: odometry (nav_msgs/Odometry on 'odom'), pose "
                                 "(PoseStamped on 'camera/pose') or tf (/tf + /tf_static; tf2_ros where "
                                 "installed, else pytransform3d)")
    camera_frame: str = parameter("", "Camera optical frame looked up in TF (pose_source tf); empty: the depth "
                                  "image's frame_id")
    pose_tolerance_s: float = parameter(0.05, "Largest stamp gap between a frame and its pose (s)",
                                        float_range=(0.0, 1.0))
    camera_offset: tuple[float, ...] = parameter((0.0,) * 6, "Camera optical frame in the odometry/pose child "
                                                 "frame: [x, y, z, roll, pitch, yaw] (m, rad); zeros when the "
                                                 "pose is the camera's own")
    sync_slop_s: float = parameter(0.02, "Largest stamp spread of one matched colour/depth/info/instances set (s)",
                                   float_range=(0.0, 0.5))
    sync_queue_size: int = parameter(10, "Messages kept per stream while matching", integer_range=(1, 100))
    text_index: str = parameter("numpy", "Vector index for free-text queries: numpy (in memory), chroma "
                                "(persistent, in memory_dir, or a server with chroma_host) or none")
    chroma_host: str = parameter("", "Chroma server host (empty: a local persistent store)")
    chroma_port: int = parameter(8000, "Chroma server port", integer_range=(1, 65535))
    marker_rate_hz: float = parameter(2.0, "Marker publishing rate when memory changed and someone subscribes "
                                      "(0: off)", float_range=(0.0, 30.0))
    torch_threads: int = parameter(1, "CPU threads of the text model and torch's models in this process (0: "
                                   "their defaults): the text model embeds one short question at a time, which a "
                                   "second thread does not speed up and a busy CPU slows down several times",
                                   integer_range=(0, 256))
    state_backend: str = parameter("none", "Object states from a vision-language model: none | openai (any "
                                   "OpenAI-compatible server with image input) | transformers (local VLM folder)")
    state_model_path: str = parameter("", "state_backend transformers: folder of the VLM (LLaVA-, Idefics3/SmolVLM-"
                                      "style, save_pretrained layout); never downloaded")
    state_base_url: str = parameter("http://127.0.0.1:8000/v1", "state_backend openai: the server's base URL")
    state_model: str = parameter("default", "state_backend openai: model name the server expects")
    state_timeout_s: float = parameter(30.0, "state_backend openai: seconds per request", float_range=(0.1, 600.0))
    state_min_votes: int = parameter(2, "Agreeing answers (of the last 5 about an object) before a state enters "
                                     "memory", integer_range=(1, 5))
    state_objects_per_frame: int = parameter(2, "Objects of one frame asked about", integer_range=(1, 50))
    state_interval_s: float = parameter(10.0, "Least time between two questions about one object (s, stamps)",
                                        float_range=(0.0, 3600.0))

    def state_options(self) -> dict[str, Any]:
        if self.state_backend == "transformers":
            return {"model_path": self.state_model_path}
        return {"base_url": self.state_base_url, "model": self.state_model, "timeout_s": self.state_timeout_s,
                "api_key": os.environ.get("OPENAI_API_KEY", ""), "retries": 0}

    def memory_config(self, admission: AdmissionParams) -> LongTermConfig:
        fusion = FusionConfig(stride=self.fusion_stride, max_depth=self.max_depth_m, min_score=self.min_score,
                              support_layer=self.support_layer_m)
        memory_dir = Path(self.memory_dir).expanduser() if self.memory_dir else default_memory_dir()
        return LongTermConfig(
            memory_dir=memory_dir, name=self.memory_name, load_on_start=self.load_on_start,
            snapshot_interval=self.snapshot_interval_s, journal_interval=self.journal_interval_s,
            journal_max_bytes=int(self.journal_max_mb * (1 << 20)), keep_snapshots=self.keep_snapshots,
            budget_tokens=self.budget_tokens, trust_external_ids=self.trust_external_ids,
            admission=admission.limits(workspace_margin_m=self.workspace_margin_m,
                                       default_workspace_m=self.default_workspace_m),
            fusion=fusion.for_detector() if self.detector_input else fusion)

    def check(self) -> None:
        """Raise ConfigurationError for values that are each in range but name nothing."""
        if self.pose_source not in POSE_SOURCES:
            raise ConfigurationError(f"pose_source must be one of {', '.join(POSE_SOURCES)}, "
                                     f"not {self.pose_source!r}")
        if self.text_index not in TEXT_INDEXES:
            raise ConfigurationError(f"text_index must be one of {', '.join(TEXT_INDEXES)}, not {self.text_index!r}")
        if self.state_backend not in STATE_BACKENDS:
            raise ConfigurationError(f"state_backend must be one of {', '.join(STATE_BACKENDS)}, "
                                     f"not {self.state_backend!r}")


class LongTermMemoryNode(Node):
    events_executor = True  # the camera path's latency (node_support.executor_for)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("long_term_memory", **kwargs)
        params = self.params = declare_all(self, LongTermParams)
        params.check()
        config = params.memory_config(declare_all(self, AdmissionParams))
        self._world_frame, self._pose_source = params.world_frame, params.pose_source
        self._camera_frame = params.camera_frame
        self._pose_tolerance = params.pose_tolerance_s
        self._limits = declare_request_limits(self)
        try:
            self._camera_offset = offset_to_matrix(list(params.camera_offset))
        except ConversionError as exc:
            raise ConfigurationError(f"camera_offset: {exc}") from exc
        options = {"host": params.chroma_host, "port": params.chroma_port} if params.chroma_host else {
            "path": config.memory_dir / "chroma"}
        if params.state_backend == "transformers":
            set_torch_threads(params.torch_threads)  # a local VLM runs in this process
        else:
            embeddings.set_threads(params.torch_threads)  # torch is imported only if the text model needs it
        try:
            index = text_index(params.text_index, **(options if params.text_index == "chroma" else {}))
        except EmbedderUnavailable as exc:
            self.get_logger().error(f"free-text queries are off: {exc}")
            index = None
        self._lock = threading.Lock()
        self.memory = LongTermMemory(config, index)
        self.memory.retriever.embed_in_sync = False  # housekeeping embeds new documents outside the lock
        # The task-subgraph service counts tokens under the lock; the tokenizer's first load takes
        # seconds (tens on a busy machine), so it loads here, before any service answers.
        token_counter()

        self._bad = BadInput(self)
        self._sync = ApproximateSync(_STREAMS, params.sync_slop_s, params.sync_queue_size)
        self._poses = PoseBuffer()
        self._tf_buffer: Any = None  # memory_nodes.tf_buffer lookup when pose_source is tf
        self._waiting: deque[tuple[float, dict[str, Any]]] = deque()
        self._integrated = 0
        self._latency_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        # CPU time of this thread in fusion per frame (lock held): against wall latency, what the node
        # spends itself and what it waits for a core.
        self._fusion_cpu_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._marker_ids: frozenset = frozenset()
        self._marker_sequence = -1
        self._states: Optional[StateWorker] = None
        self.states_unavailable = ""
        if params.state_backend != "none":
            try:
                estimator = StateEstimator(state_model(params.state_backend, **params.state_options()),
                                           self._apply_state, params.state_min_votes,
                                           params.state_objects_per_frame, params.state_interval_s)
                self._states = StateWorker(estimator)
            except BackendUnavailable as exc:
                self.states_unavailable = str(exc)
                self.get_logger().error(f"object states from a VLM are off: {exc}")

        self._updates_pub = self.create_publisher(GraphUpdate, "memory/graph_updates", 500)
        # Messages handled (:meth:`traffic`): frame sets fused or rejected, updates sent, confirmed changes applied.
        self._traffic: Counter[str] = Counter()
        self._unseen_changes = 0  # confirmed state changes of objects memory has not seen (dropped)
        # Transient local: every array holds the whole memory, so RViz started later gets it at once.
        self._markers_pub = self.create_publisher(
            MarkerArray, "memory/markers", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.memory.subscribe(self._publish_delta)

        def sensor(msg_type: type, topic: str, handler: Callable[[Any], None]) -> None:
            self.create_subscription(msg_type, topic, handler, qos_profile_sensor_data)

        for stream, msg_type, topic in (("color", Image, "camera/color/image_raw"),
                                        ("depth", Image, "camera/depth/image_raw"),
                                        ("info", CameraInfo, "camera/color/camera_info"),
                                        ("instances", InstanceSegmentation, "camera/instances")):
            sensor(msg_type, topic, lambda msg, s=stream, t=topic: self._on_stream(s, t, msg))
        if self._pose_source == "odometry":
            sensor(Odometry, "odom", lambda msg: self._on_pose("odom", msg.header, msg.pose.pose))
        elif self._pose_source == "pose":
            sensor(PoseStamped, "camera/pose", lambda msg: self._on_pose("camera/pose", msg.header, msg.pose))
        else:
            self._start_tf()
        self.create_subscription(Layout, "layout", self._on_layout,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_subscription(StateChange, "memory/confirmed_changes", self._on_confirmed_change, 100)

        # Queries on nodes of their own (each spun by its own thread, :class:`_ServiceNode`): a slow one neither
        # delays the camera callbacks here nor the other queries. Manage stays: a load restarts the camera input.
        self.companion_nodes = tuple(
            _ServiceNode(self, name, srv_type, handler, kwargs.get("context"))
            for name, srv_type, handler in (("query_objects", QueryObjects, self._query),
                                            ("task_subgraph", GetTaskSubgraph, self._task_subgraph),
                                            ("get_snapshot", GetSnapshot, self._snapshot),
                                            ("mark_missing", MarkMissing, self._mark_missing),
                                            ("place_object", PlaceObject, self._place_object)))
        self.create_service(ManageMemory, "memory/manage", self._manage)

        self._marker_period = 1.0 / params.marker_rate_hz if params.marker_rate_hz > 0 else None
        self._stopping = threading.Event()
        self._maintenance = threading.Thread(target=self._maintain, name="long_term_memory-maintenance", daemon=True)
        self._maintenance.start()
        # What exists now (the loaded memory, the embedding model) lives as long as the node: out of the
        # garbage collector's scans, which otherwise walk it all every full collection while fusing
        # and answering (in process: fusion's CPU per frame 4.05 -> 3.66 ms with the model loaded).
        gc.freeze()
        source = f"loaded {self.memory.loaded_from}" if self.memory.loaded_from else "empty"
        self.get_logger().info(f"memory {config.name!r} in {config.memory_dir} ({source}, "
                               f"{len(self.memory.graph)} objects); pose from {self._pose_source}")

    def destroy_node(self) -> None:
        """A clean shutdown saves what arrived since the last periodic snapshot."""
        for companion in getattr(self, "companion_nodes", ()):
            companion.destroy_node()
        if not hasattr(self, "_maintenance"):  # construction failed: nothing to save
            super().destroy_node()
            return
        self._stopping.set()
        self._maintenance.join(timeout=30.0)
        if self._states is not None:
            self._states.stop()
        with self._lock:
            try:
                saved = self.memory.flush()
            except Exception as exc:
                self.get_logger().error(f"saving memory on shutdown failed: {exc}")
            else:
                if saved is not None:
                    self.get_logger().info(f"saved memory to {saved}")
        gc.unfreeze()  # frozen objects left to interpreter shutdown made the process exit with 1
        super().destroy_node()

    def _start_tf(self) -> None:
        from memory_nodes.tf_buffer import make_tf_lookup

        self._tf_buffer = make_tf_lookup(self, self._bad.reject, self._drain_waiting)

    # ------------------------------------------------------------------ input
    def _on_pose(self, topic: str, header: Any, pose: Any) -> None:
        if header.frame_id and header.frame_id != self._world_frame:
            self._bad.reject(topic, f"pose in frame {header.frame_id!r}, memory is in {self._world_frame!r}")
            return
        reason = check_stamp(from_time(header.stamp), self._now(), self.memory.config.admission)
        if reason:
            self._bad.reject(topic, reason)
            return
        try:
            self._poses.add(from_time(header.stamp), pose_to_matrix(pose) @ self._camera_offset)
        except ConversionError as exc:
            self._bad.reject(topic, str(exc))
            return
        self._drain_waiting()

    def _camera_pose(self, stamp: float, camera_frame: str, msg_stamp: Any) -> np.ndarray:
        if self._tf_buffer is None:
            pose = self._poses.lookup(stamp, self._pose_tolerance)
            if pose is None:
                raise ConversionError(f"no camera pose within {self._pose_tolerance} s of the frame")
            return pose
        return self._tf_buffer.matrix(self._world_frame, self._camera_frame or camera_frame, msg_stamp)

    def _on_stream(self, stream: str, topic: str, msg: Any) -> None:
        matched = self._sync.add(stream, from_time(msg.header.stamp), msg)
        if matched is None:
            return
        # A frame from the future would wait for a pose that never comes, holding up the frames behind it.
        reason = check_stamp(from_time(matched["depth"].header.stamp), self._now(), self.memory.config.admission)
        if reason:
            self._bad.reject("camera", self.memory.admission.count(reason))
            self._traffic["frames_handled"] += 1
            return
        self._waiting.append((time.perf_counter(), matched))
        self._drain_waiting()

    def _drain_waiting(self) -> None:
        """Integrate matched frames whose pose has arrived; a pose may trail its images by a little."""
        while self._waiting:
            received, matched = self._waiting[0]
            depth = matched["depth"]
            stamp = from_time(depth.header.stamp)
            try:
                pose = self._camera_pose(stamp, depth.header.frame_id, depth.header.stamp)
            except ConversionError as exc:
                newest = self._poses.newest
                gave_up = newest is not None and newest > stamp + self._pose_tolerance
                tf_final = self._tf_buffer is not None and not self._tf_buffer.may_arrive(depth.header.stamp)
                if not (gave_up or len(self._waiting) > _MAX_WAITING or tf_final):
                    return  # wait for the pose
                self._waiting.popleft()
                self._bad.reject("camera", str(exc))
                self._traffic["frames_handled"] += 1
                continue
            self._waiting.popleft()
            self._integrate(stamp, matched, pose, received)
            self._traffic["frames_handled"] += 1

    def _integrate(self, stamp: float, matched: dict[str, Any], pose: np.ndarray, received: float) -> None:
        try:
            frame = frame_from_msgs(matched["color"], matched["depth"], matched["info"], matched["instances"], pose)
        except ConversionError as exc:
            self._bad.reject("camera", str(exc))
            return
        with self._lock:
            cpu = time.thread_time()
            report = self.memory.integrate(frame, self._now())
            cpu = time.thread_time() - cpu
            seen = [self.memory.graph.get_object(i) for i in report.created + report.merged + report.relocated] \
                if self._states is not None and report.accepted else []
        if not report.accepted:
            self._bad.reject("camera", report.reason)
            return
        if self._states is not None:
            self._states.offer(self._states.estimator.jobs(frame, [n for n in seen if n is not None]))
        self._integrated += 1
        self._latency_ms.append((time.perf_counter() - received) * 1000.0)
        self._fusion_cpu_ms.append(cpu * 1000.0)

    def _apply_state(self, object_id: str, state: str, value: bool, stamp: float) -> None:
        """A state the VLM's votes decided, stamped with the frame it was seen in (estimator's thread)."""
        with self._lock:
            self.memory.apply_confirmed_change(object_id, state, value, stamp)

    def _on_layout(self, msg: Layout) -> None:
        try:
            rooms, areas = layout_from_msg(msg)
            with self._lock:
                self.memory.set_layout(rooms, areas, from_time(msg.header.stamp))
        except (ConversionError, Inadmissible) as exc:
            self._bad.reject("layout", str(exc))
            return
        self.get_logger().info(f"layout: {len(rooms)} rooms, {len(areas)} areas")

    def _on_confirmed_change(self, msg: StateChange) -> None:
        """Confirmed changes from short-term memory, or a correction (:meth:`LongTermMemory.apply_confirmed_change`)."""
        stamp = from_time(msg.header.stamp)
        reason = check_change(msg.object_id, msg.object_type, msg.state, msg.new_value, stamp, self._now(),
                              self.memory.config.admission, (msg.position.x, msg.position.y, msg.position.z))
        if reason:
            self._traffic["confirmed_handled"] += 1
            self._bad.reject("memory/confirmed_changes", reason)
            return
        with self._lock:
            try:
                outcome = self.memory.apply_confirmed_change(msg.object_id, msg.state, state_from_text(msg.new_value),
                                                             stamp)
            finally:
                self._traffic["confirmed_handled"] += 1
        if outcome is ChangeOutcome.UNSEEN_OBJECT:
            self._unseen_changes += 1
        elif outcome is ChangeOutcome.UNKNOWN_OBJECT:
            self._bad.reject("memory/confirmed_changes", f"unknown object: {msg.object_id!r}")

    # ------------------------------------------------------------------ output
    def _publish_delta(self, delta: GraphDelta) -> None:
        self._traffic["updates_published"] += 1
        self._updates_pub.publish(delta_to_msg(delta, self._world_frame))

    def _publish_markers(self) -> None:
        """Markers of the whole memory, drawn outside the lock from a copy taken under it: drawing
        thousands of objects takes long, and fusion and queries must not wait for it. Drawn only
        while someone subscribes (RViz, a view): at 10k objects a drawing is seconds of Python that
        holds the interpreter lock in turns with the service threads; a subscriber arriving later
        gets the memory as it is then."""
        if self._markers_pub.get_subscription_count() == 0:
            return
        with self._lock:
            if self.memory.graph.sequence == self._marker_sequence:
                return
            self._marker_sequence = self.memory.graph.sequence
            view = MemoryView.of(self.memory.graph)
        markers, self._marker_ids = build_markers(view, self._world_frame, self.get_clock().now().to_msg(),
                                                  self._marker_ids)
        self._markers_pub.publish(markers)

    def _maintain(self) -> None:
        """The maintenance thread: housekeeping once a second, saving at the journal interval (at most
        a second apart), markers at their rate, until stopped."""
        next_housekeeping = next_markers = next_save = time.monotonic()
        save_period = min(1.0, self.params.journal_interval_s) if self.params.journal_interval_s > 0 else 1.0
        while not self._stopping.is_set():
            now = time.monotonic()
            try:
                if now >= next_housekeeping:
                    next_housekeeping = now + 1.0
                    self._housekeeping()
                if now >= next_save:
                    next_save = now + save_period
                    self._save_when_due()
                if self._marker_period is not None and now >= next_markers:
                    self._publish_markers()
                    # Drawing takes at most MARKER_SHARE of the time: a large memory is drawn less often.
                    next_markers = now + max(self._marker_period, (time.monotonic() - now) / MARKER_SHARE)
            except Exception as exc:  # publishing after Ctrl-C shut the context down, or a bug: keep memory up
                if not self.context.ok():
                    return
                self.get_logger().error(f"maintenance failed: {exc!r}", throttle_duration_sec=30.0)
            wake = min(next_housekeeping, next_save,
                       next_markers if self._marker_period is not None else next_housekeeping)
            self._stopping.wait(max(0.0, wake - time.monotonic()))

    def _housekeeping(self) -> None:
        """Keep the text index in step, save when due, publish diagnostics.

        New object texts are embedded outside the lock: the model takes tens to hundreds of ms, and
        holding the lock meanwhile would stall fusion long enough to drop camera frames."""
        retriever = self.memory.retriever
        try:
            with self._lock:
                texts = retriever.texts_to_embed()
            if texts:
                vectors = retriever.index.embedder.embed(texts)
                with self._lock:
                    retriever.add_vectors(texts, vectors)
        except Exception as exc:  # the model failing must not stop memory; sync below embeds or reports
            self.get_logger().error(f"embedding object texts failed: {exc}", throttle_duration_sec=30.0)
        with self._lock:
            try:
                retriever.sync()
            except Exception as exc:  # a dead Chroma server must not stop memory
                self.get_logger().error(f"index sync failed: {exc}", throttle_duration_sec=30.0)
            values = self.diagnostic_values()
        level = DiagnosticStatus.WARN if values["rejected"] else DiagnosticStatus.OK
        self._diag_pub.publish(diagnostics(self, level, f"{values['objects']} objects", values))

    def _save_when_due(self) -> None:
        """Journal append or full snapshot (:meth:`LongTermMemory.begin_tick`): a full snapshot is copied
        under the lock and written after it, so fusion and queries do not wait for the disk. A full
        disk must not stop memory."""
        try:
            with self._lock:
                write = self.memory.begin_tick()
            if write is not None:
                write()
        except Exception as exc:
            self.get_logger().error(f"saving memory failed: {exc}", throttle_duration_sec=30.0)

    def traffic(self) -> dict[str, int]:
        """Messages handled so far, also in the diagnostics: ``frames_handled`` (frame sets fused or
        rejected), ``updates_published`` (graph updates), ``confirmed_handled`` (confirmed changes)."""
        return {key: self._traffic[key] for key in ("frames_handled", "updates_published", "confirmed_handled")}

    def diagnostic_values(self) -> dict[str, Any]:
        latency = sorted(self._latency_ms)
        values: dict[str, Any] = {
            "frames_matched": self._sync.counters.matched,
            "frames_integrated": self._integrated,
            "dropped": self._sync.counters.dropped,
            "rejected": self._bad.total,
            "changes_of_unseen_objects": self._unseen_changes,
            "objects": len(self.memory.graph),
            "sequence": self.memory.graph.sequence,
            "latency_median_ms": round(statistics.median(latency), 2) if latency else 0.0,
            "latency_p95_ms": round(latency[int(0.95 * (len(latency) - 1))], 2) if latency else 0.0,
            "fusion_cpu_median_ms": round(statistics.median(self._fusion_cpu_ms), 2) if self._fusion_cpu_ms else 0.0,
        }
        values.update(self.traffic())
        if self._states is not None or self.states_unavailable:
            counts = self._states.estimator.counts if self._states is not None else Counter()
            values.update({f"vlm_states[{k}]": counts[k] for k in ("asked", "answered", "bad_answer",
                                                                  "unavailable", "failed", "states_set")})
            values["vlm_states[skipped]"] = self._states.skipped if self._states is not None else 0
            values["vlm_states[error]"] = self.states_unavailable
        values.update({f"rejected[{k}]": v for k, v in sorted(self._bad.counts.items())})
        values.update({f"admission[{k}]": v for k, v in sorted(self.memory.admission.rejected.items())})
        values.update({f"skipped_instances[{k}]": v for k, v in self.memory.fusion.stats.skipped_instances})
        return values

    # ------------------------------------------------------------------ services
    def _query(self, request: QueryObjects.Request, response: QueryObjects.Response) -> QueryObjects.Response:
        R = QueryObjects.Response
        too_large = check_request(self._limits, texts=[("text", request.text)],
                                  names=[("label", request.label), ("room_id", request.room_id)], k=request.k)
        if too_large:
            response.error_code, response.error_message = R.INVALID_REQUEST, too_large
            return response
        near = (request.near.x, request.near.y, request.near.z) if request.use_near else None
        if near is not None and not (np.all(np.isfinite(near)) and np.isfinite(request.radius) and request.radius > 0):
            response.error_code, response.error_message = R.INVALID_REQUEST, "near needs a finite point and radius > 0"
            return response
        since = from_time(request.changed_since)
        try:
            self._embed_query(request.text)
            with self._lock:
                found = self.memory.query(text=request.text, label=request.label, room=request.room_id, near=near,
                                          radius=request.radius, since=since if since > 0 else None,
                                          k=request.k or 10)
                response.sequence = self.memory.graph.sequence
        except NoTextIndex as exc:
            response.error_code, response.error_message = R.NOT_READY, str(exc)
            return response
        except Exception as exc:
            return self._internal_error(response, "query", exc)
        response.objects = [object_to_msg(s.node) for s in found]
        response.scores = [float(s.score) for s in found]
        return response

    def _task_subgraph(self, request: GetTaskSubgraph.Request,
                       response: GetTaskSubgraph.Response) -> GetTaskSubgraph.Response:
        too_large = check_request(self._limits, texts=[("instruction", request.instruction)],
                                  ids=list(request.relevant_ids))
        if too_large:
            response.error_code, response.error_message = GetTaskSubgraph.Response.INVALID_REQUEST, too_large
            return response
        if not request.whole_graph and not request.instruction.strip() and not request.relevant_ids:
            response.error_code = GetTaskSubgraph.Response.INVALID_REQUEST
            response.error_message = "give an instruction, relevant_ids, or whole_graph"
            return response
        try:
            if not request.whole_graph:
                self._embed_query(request.instruction)
            with self._lock:
                prompt = (self.memory.whole_graph() if request.whole_graph else
                          self.memory.task_subgraph(request.instruction, request.budget_tokens,
                                                    list(request.relevant_ids)))
                response.sequence = self.memory.graph.sequence
        except Exception as exc:
            return self._internal_error(response, "task subgraph", exc)
        response.text, response.tokens = prompt.text, prompt.tokens
        response.object_ids, response.truncated = list(prompt.object_ids), prompt.truncated
        return response

    def _snapshot(self, request: GetSnapshot.Request, response: GetSnapshot.Response) -> GetSnapshot.Response:
        del request
        now = self.get_clock().now().nanoseconds * 1e-9
        with self._lock:
            graph = self.memory.graph
            response.snapshot = snapshot_to_msg(graph.objects(), graph.relations(), graph.sequence,
                                                self._world_frame, now)
            response.layout = layout_to_msg(graph.rooms(), graph.areas(), self._world_frame, now)
        return response

    def _manage(self, request: ManageMemory.Request, response: ManageMemory.Response) -> ManageMemory.Response:
        R = ManageMemory.Response
        try:
            with self._lock:
                if request.operation == ManageMemory.Request.SAVE:
                    response.path = str(self.memory.save(request.name))
                elif request.operation == ManageMemory.Request.LOAD:
                    response.path = str(self.memory.load(request.name, self._now()).path)
                    self._restart_input()
                elif request.operation == ManageMemory.Request.CLEAR:
                    self.memory.clear(self._now(), self._now())
                    self._restart_input()
                elif request.operation == ManageMemory.Request.LIST:
                    response.names = self.memory.names()
                else:
                    response.error_code = R.INVALID_REQUEST
                    response.error_message = f"unknown operation {request.operation}"
                response.object_count = len(self.memory.graph)
                response.sequence = self.memory.graph.sequence
        except InvalidName as exc:
            response.error_code, response.error_message = R.INVALID_REQUEST, str(exc)
        except NoSnapshot as exc:
            response.error_code, response.error_message = R.NOT_FOUND, str(exc)
        except Exception as exc:
            return self._internal_error(response, "memory operation", exc)
        return response

    def _mark_missing(self, request: MarkMissing.Request, response: MarkMissing.Response) -> MarkMissing.Response:
        """A planner's correction (:meth:`LongTermMemory.mark_missing`); its graph update goes out
        before the answer, numbered at most ``response.sequence``."""
        return self._correct(request.stamp, response, [("object_id", request.object_id)], "mark missing",
                             lambda stamp: self.memory.mark_missing(request.object_id, stamp))

    def _place_object(self, request: PlaceObject.Request, response: PlaceObject.Response) -> PlaceObject.Response:
        """The robot's own put (:meth:`LongTermMemory.place`), answered as :meth:`_mark_missing`."""
        if request.object_id and request.object_id == request.holder_id:
            response.error_code = response.INVALID_REQUEST
            response.error_message = f"{request.object_id!r} cannot be put in or on itself"
            return response
        return self._correct(request.stamp, response,
                             [("object_id", request.object_id), ("holder_id", request.holder_id)], "place object",
                             lambda stamp: self.memory.place(request.object_id, request.holder_id, request.inside,
                                                             stamp))

    def _correct(self, stamp_msg: Any, response: Any, names: list[tuple[str, str]], what: str,
                 apply: Callable[[float], bool]) -> Any:
        """One correction service's checks and answer: ``apply`` (under the lock) says whether memory
        knew the ids; the update goes out before the answer, numbered at most ``response.sequence``."""
        empty = [name for name, value in names if not value]
        if empty:
            response.error_code, response.error_message = response.INVALID_REQUEST, f"{empty[0]} is empty"
            return response
        stamp = from_time(stamp_msg) or self._now()
        invalid = (check_request(self._limits, names=names)
                   or check_stamp(stamp, self._now(), self.memory.config.admission))
        if invalid:
            response.error_code, response.error_message = response.INVALID_REQUEST, invalid
            return response
        try:
            with self._lock:
                known = apply(stamp)
                response.sequence = self.memory.graph.sequence
        except Exception as exc:
            return self._internal_error(response, what, exc)
        if not known:
            response.error_code = response.NOT_FOUND
            response.error_message = f"no object {' or '.join(repr(v) for _, v in names)} in memory"
        return response

    def _embed_query(self, text: str) -> None:
        """Run the embedding model on a request's text before taking the memory lock, so that fusion
        and other requests wait only for the search itself (the index keeps the vector)."""
        index = self.memory.retriever.index
        if text.strip() and index is not None:
            index.prepare_query(text)

    def _restart_input(self) -> None:
        """After a load or clear (memory restarted its own input order), poses and half-matched frames
        from before belong to another timeline."""
        self._poses = PoseBuffer()
        self._sync.clear()
        self._traffic["frames_handled"] += len(self._waiting)  # discarded with the old timeline
        self._waiting.clear()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _internal_error(self, response: Any, what: str, exc: Exception) -> Any:
        self.get_logger().error(f"{what} failed: {exc!r}")
        response.error_code, response.error_message = response.INTERNAL_ERROR, f"{what} failed: {exc}"
        return response


class _ServiceNode(Node):
    """One of the long-term memory's query services (query_objects, task_subgraph, get_snapshot,
    mark_missing) on a node of its own, which the memory node's spinner gives an events
    executor in a thread of its own (:class:`memory_nodes.node_support.Spinner`): the services run
    side by side, each one's requests in turn (a client resending to a slow service does not
    multiply its work); the memory node's lock serialises what touches memory. One executor per
    service rather than one multi-threaded executor for all: rclpy's multi-threaded dispatch took
    about 1 ms of a label query's 2.5 ms round trip (median, 10k objects)."""

    events_executor = True

    def __init__(self, memory: LongTermMemoryNode, name: str, srv_type: Any,
                 handler: Callable[[Any, Any], Any], context: Any = None) -> None:
        super().__init__(f"{memory.get_name()}_{name}", namespace=memory.get_namespace(), context=context,
                         start_parameter_services=False)
        self.create_service(srv_type, f"memory/{name}", handler)


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([LongTermMemoryNode], args, "long_term_memory")
