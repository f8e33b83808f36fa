"""One frame through perception: detect, mask, track, compose the instance image."""
from __future__ import annotations

from typing import Optional

import numpy as np

from perception.backends import Detector, Masker, PerceptionInputError
from perception.instances import compose_instances
from perception.records import Detection, InstanceImage
from perception.tracker import IouTracker
from scene_graph.descriptions import split_camel
from scene_graph.ontology import OBJECT_TYPES


def default_vocabulary() -> list[str]:
    """The ontology's object types in words a detector reads: "CoffeeMachine" -> "coffee machine"."""
    return [split_camel(name) for name in OBJECT_TYPES]


class Segmenter:
    """detector + masker + tracker. ``segment`` takes RGB (H, W, 3 uint8) and depth (H, W metres)
    or None, and returns the frame's instances (the detections kept are in :attr:`last_detections`)."""

    def __init__(self, detector: Detector, masker: Masker, tracker: Optional[IouTracker] = None,
                 max_detections: int = 50) -> None:
        self.detector, self.masker = detector, masker
        self.tracker = tracker or IouTracker()
        self.max_detections = max_detections
        self.last_detections: list[Detection] = []

    def segment(self, rgb: np.ndarray, depth: Optional[np.ndarray]) -> InstanceImage:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise PerceptionInputError(f"colour must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        if depth is not None and depth.shape != rgb.shape[:2]:
            raise PerceptionInputError(f"depth is {depth.shape[1]}x{depth.shape[0]}, colour "
                                       f"{rgb.shape[1]}x{rgb.shape[0]}: register depth to colour")
        detections = sorted(self.detector.detect(rgb), key=lambda d: -d.score)[: self.max_detections]
        detections = self.tracker.update(rgb, detections)
        masks = self.masker.masks(rgb, depth, detections)
        self.last_detections = detections
        return compose_instances(detections, masks, rgb.shape[:2], depth)
