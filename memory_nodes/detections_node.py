"""Detections from the detector a robot already runs (``vision_msgs/Detection2DArray``) become
``camera/instances`` for the long-term node.

Each detection's mask comes from an aligned instance image when the detector publishes one
(``masks_topic``: pixel value k + 1 is detection k), else from depth inside its box
(``perception.depth_mask``). Detections, depth and masks are matched by stamp; the output carries
the detections' stamp and the depth image's frame. Logic lives in ``perception`` and
``memory_nodes.conversions``; this file is wiring.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from embodied_memory.msg import InstanceSegmentation
from memory_nodes.conversions import (
    ConversionError,
    depth_to_metres,
    detections_from_msg,
    from_time,
    image_to_array,
    instance_image_to_msg,
)
from memory_nodes.frame_sync import ApproximateSync
from memory_nodes.node_support import BadInput, declare_all, diagnostics, parameter, spin_nodes
from perception.backends import PerceptionInputError
from perception.depth_mask import RELATIVE_STEP, depth_masks
from perception.instances import compose_instances


@dataclass(frozen=True)
class DetectionsParams:
    """The detections adapter's parameters (``config/memory.yaml``, section detections_to_instances)."""

    masks_topic: str = parameter("", "Aligned instance image of the detections (mono8/mono16/32SC1, pixel k+1 = "
                                 "detection k); empty: masks from depth inside each box")
    class_names: str = parameter("", "Comma-separated names for numeric class ids (COCO order for a COCO "
                                 "detector); empty: class ids are names already")
    min_score: float = parameter(0.3, "Detections scored below this are dropped", float_range=(0.0, 1.0))
    depth_step: float = parameter(RELATIVE_STEP, "Largest depth jump between neighbours of one surface, as a "
                                  "fraction of depth (depth masks)", float_range=(0.005, 0.5))
    sync_slop_s: float = parameter(0.02, "Largest stamp spread of matched detections/depth/masks (s)",
                                   float_range=(0.0, 0.5))


class DetectionsToInstances(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("detections_to_instances", **kwargs)
        params = self.params = declare_all(self, DetectionsParams)
        masks_topic, names = params.masks_topic, params.class_names
        self._class_names = [n.strip() for n in names.split(",")] if names.strip() else []
        self._min_score, self._depth_step = params.min_score, params.depth_step
        streams = ("detections", "depth", "masks") if masks_topic else ("detections", "depth")
        self._sync = ApproximateSync(streams, params.sync_slop_s, 10)
        self._bad = BadInput(self)
        self.published = 0
        self._pub = self.create_publisher(InstanceSegmentation, "camera/instances", 5)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        for stream, msg_type, topic in (("detections", Detection2DArray, "detections"),
                                        ("depth", Image, "camera/depth/image_raw"),
                                        ("masks", Image, masks_topic)):
            if stream in streams:
                self.create_subscription(msg_type, topic, lambda m, s=stream: self._on(s, m), qos_profile_sensor_data)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on(self, stream: str, msg: Any) -> None:
        matched = self._sync.add(stream, from_time(msg.header.stamp), msg)
        if matched is not None:
            self._convert(matched["detections"], matched["depth"], matched.get("masks"))

    def _convert(self, detections_msg: Detection2DArray, depth_msg: Image, masks_msg: Optional[Image]) -> None:
        try:
            detections = [d for d in detections_from_msg(detections_msg, self._class_names)
                          if d.score >= self._min_score]
            depth = depth_to_metres(depth_msg)
            if masks_msg is not None:
                ids = image_to_array(masks_msg)
                if ids.ndim != 2 or ids.shape != depth.shape:
                    raise ConversionError(f"masks must be a one-channel image of the depth's size, got {ids.shape}")
                masks = [ids == k + 1 for k in range(len(detections))]
            else:
                masks = depth_masks(depth, detections, self._depth_step)
            image = compose_instances(detections, masks, depth.shape, depth)
        except (ConversionError, PerceptionInputError) as exc:
            self._bad.reject("detections", str(exc))
            return
        self.published += 1
        self._pub.publish(instance_image_to_msg(image, depth_msg.header.frame_id,
                                                from_time(detections_msg.header.stamp)))

    def _publish_diagnostics(self) -> None:
        values = {"published": self.published, "matched": self._sync.counters.matched,
                  "dropped": self._sync.counters.dropped, "rejected": self._bad.total,
                  **{f"rejected[{k}]": v for k, v in sorted(self._bad.counts.items())}}
        level = DiagnosticStatus.WARN if self._bad.total else DiagnosticStatus.OK
        self._diag_pub.publish(diagnostics(self, level, f"{self.published} frames", values))


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([DetectionsToInstances], args, "detections_to_instances")
