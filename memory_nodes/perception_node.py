"""The perception node: colour (+ depth) in, ``camera/instances`` out, for robots with no segmenter.

It keeps only the newest colour and depth images and segments at its own rate (``rate_hz``), so a
slow model skips frames instead of queueing them; each output carries its colour image's stamp
and frame, which the long-term node matches with the same colour, depth and camera info. Models
and rules live in ``perception`` (ROS-free); this file is wiring. A model that cannot load is one
clear error naming the parameter and folder; the node keeps running and its diagnostics say why
it publishes nothing.
"""
from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from embodied_memory.msg import InstanceSegmentation
from memory_nodes.conversions import ConversionError, depth_to_metres, from_time, image_to_array, instance_image_to_msg
from memory_nodes.node_support import BadInput, declare_all, diagnostics, parameter, set_torch_threads, spin_nodes
from perception.backends import (
    DETECTORS,
    MASKERS,
    SCORE_THRESHOLD,
    TEXT_THRESHOLD,
    Detector,
    ModelUnavailable,
    PerceptionInputError,
    make_detector,
    make_masker,
)
from perception.depth_mask import RELATIVE_STEP
from perception.pipeline import Segmenter, default_vocabulary
from perception.tracker import IouTracker

_LATEST_ONLY = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
_LATENCY_WINDOW = 100
_DEPTH_WAIT_S = 0.5  # how long a colour image waits for its depth image


@dataclass(frozen=True)
class PerceptionParams:
    """The perception node's parameters (``config/memory.yaml``, section perception)."""

    detector_backend: str = parameter("owlv2", f"Open-vocabulary detector: {' | '.join(DETECTORS)}")
    detector_model: str = parameter("", "Local folder of the detector's weights and processor (save_pretrained "
                                    "layout, e.g. a copy of google/owlv2-base-patch16-ensemble); never downloaded")
    mask_backend: str = parameter("depth", f"Masks from boxes: {' | '.join(MASKERS)} (depth: largest "
                                  "depth-coherent segment in each box, no model)")
    mask_model: str = parameter("", "Local folder of the SAM weights and processor (mask_backend sam)")
    vocabulary: str = parameter("", "Comma-separated words to detect; empty: the ontology's object types in words")
    score_threshold: float = parameter(SCORE_THRESHOLD, "Detections scored below this are dropped",
                                       float_range=(0.0, 1.0))
    text_threshold: float = parameter(TEXT_THRESHOLD, "Grounding DINO: score a phrase needs to name a box",
                                      float_range=(0.0, 1.0))
    rate_hz: float = parameter(5.0, "Segmentation rate (Hz) on the newest frame", float_range=(0.1, 60.0))
    sync_slop_s: float = parameter(0.02, "Largest stamp gap between a colour image and its depth (s)",
                                   float_range=(0.0, 0.5))
    depth_step: float = parameter(RELATIVE_STEP, "Largest depth jump within one surface, as a fraction of depth "
                                  "(depth masks)", float_range=(0.005, 0.5))
    track_max_misses: int = parameter(5, "Frames a track may go unseen before its id is retired",
                                      integer_range=(0, 1000))
    torch_threads: int = parameter(0, "CPU threads of the models (0: torch's default); 1 keeps a shared CPU's "
                                   "other work from stalling them", integer_range=(0, 256))


class PerceptionNode(Node):
    """``detector``: use this detector instead of the one the parameters name (a test double or a
    harness's own model), behind the same interface."""

    def __init__(self, detector: Optional[Detector] = None, **kwargs: Any) -> None:
        super().__init__("perception", **kwargs)
        params = self.params = declare_all(self, PerceptionParams)
        self._slop = params.sync_slop_s
        set_torch_threads(params.torch_threads)

        self._bad = BadInput(self)
        self._color: Optional[tuple[Image, float]] = None  # the newest colour image and when it came
        self._depths: deque[Image] = deque(maxlen=5)
        self.frames_in = self.segmented = self.skipped = 0
        self._latency_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self.unavailable = ""
        self.segmenter: Optional[Segmenter] = None
        words = params.vocabulary
        vocabulary = [w.strip() for w in words.split(",") if w.strip()] if words.strip() else default_vocabulary()
        try:
            detector = detector or make_detector(params.detector_backend, params.detector_model, vocabulary,
                                                 params.score_threshold, params.text_threshold)
            self.segmenter = Segmenter(detector, make_masker(params.mask_backend, params.mask_model,
                                                             params.depth_step),
                                       IouTracker(max_misses=params.track_max_misses))
        except (ModelUnavailable, PerceptionInputError) as exc:
            self.unavailable = str(exc)
            self.get_logger().error(f"perception publishes nothing: {exc}")

        self._pub = self.create_publisher(InstanceSegmentation, "camera/instances", 5)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(Image, "camera/color/image_raw", self._on_color, _LATEST_ONLY)
        self.create_subscription(Image, "camera/depth/image_raw", lambda m: self._depths.append(m), _LATEST_ONLY)
        self.create_timer(1.0 / params.rate_hz, self._segment_newest)
        self.create_timer(1.0, self._publish_diagnostics)
        if self.segmenter is not None:
            self.get_logger().info(f"segmenting with {self.segmenter.detector.name} + "
                                   f"{self.segmenter.masker.name} at up to {params.rate_hz:g} Hz")

    def _on_color(self, msg: Image) -> None:
        self.frames_in += 1
        if self._color is not None:
            self.skipped += 1  # replaced before it was segmented: the newest frame wins
        self._color = (msg, time.monotonic())

    def _depth_for(self, stamp: float) -> Optional[Image]:
        near = [d for d in self._depths if abs(from_time(d.header.stamp) - stamp) <= self._slop]
        return min(near, key=lambda d: abs(from_time(d.header.stamp) - stamp)) if near else None

    def _depth_may_come(self, stamp: float, received: float) -> bool:
        """A colour image's depth may trail it a little; none newer yet, and not waited too long."""
        newest = max((from_time(d.header.stamp) for d in self._depths), default=None)
        return (newest is None or newest < stamp) and time.monotonic() - received < _DEPTH_WAIT_S

    def _segment_newest(self) -> None:
        if self._color is None or self.segmenter is None:
            return
        color, received = self._color
        stamp = from_time(color.header.stamp)
        depth_msg = self._depth_for(stamp)
        if depth_msg is None and self._depth_may_come(stamp, received):
            return  # its depth image is on the way
        self._color = None
        started = time.perf_counter()
        try:
            rgb = image_to_array(color)
            if rgb.ndim != 3:
                raise ConversionError(f"colour must be rgb8 or bgr8, got {color.encoding!r}")
            if depth_msg is None and self.segmenter.masker.name == "depth":
                raise PerceptionInputError(f"no depth image within {self._slop} s of the colour frame: depth "
                                           "masks need the camera's depth (or mask_backend sam)")
            depth = depth_to_metres(depth_msg) if depth_msg is not None else None
            image = self.segmenter.segment(rgb, depth)
        except (ConversionError, PerceptionInputError) as exc:
            self._bad.reject("camera", str(exc))
            return
        self._latency_ms.append((time.perf_counter() - started) * 1000.0)
        self.segmented += 1
        self._pub.publish(instance_image_to_msg(image, color.header.frame_id, stamp))

    def diagnostic_values(self) -> dict[str, Any]:
        latency = sorted(self._latency_ms)
        values: dict[str, Any] = {
            "frames_in": self.frames_in, "frames_segmented": self.segmented, "frames_skipped": self.skipped,
            "rejected": self._bad.total, "model_error": self.unavailable,
            "latency_median_ms": round(statistics.median(latency), 1) if latency else 0.0}
        values.update({f"rejected[{k}]": v for k, v in sorted(self._bad.counts.items())})
        return values

    def _publish_diagnostics(self) -> None:
        values = self.diagnostic_values()
        if self.unavailable:
            level, message = DiagnosticStatus.ERROR, f"no model: {self.unavailable}"
        else:
            level = DiagnosticStatus.WARN if self._bad.total else DiagnosticStatus.OK
            message = f"{self.segmented} frames segmented"
        self._diag_pub.publish(diagnostics(self, level, message, values))


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([PerceptionNode], args, "perception")
