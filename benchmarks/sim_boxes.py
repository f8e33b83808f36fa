"""The simulator's ground truth as a detector would report it: upright boxes, class words, track ids.

``SimulatorBoxes`` is a test double behind ``perception.backends.Detector``: a perfect box detector
for the frames the simulator rendered. With it, the rest of the robot front end (the tracker, the
depth masks, fusion) is measured on its own, without a detector's misses and confusions.
"""
from __future__ import annotations

import numpy as np

from perception.records import Detection
from scene_graph.descriptions import split_camel
from scene_graph.frames import RGBDFrame


def true_detections(frame: RGBDFrame, min_pixels: int = 100) -> list[Detection]:
    """One box per instance with at least ``min_pixels`` pixels; the track id is the simulator's id."""
    out = []
    for instance, label in sorted(frame.labels.items()):
        ys, xs = np.nonzero(frame.instance_ids == instance)
        if xs.size >= min_pixels:
            out.append(Detection((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)),
                                 split_camel(label), 0.9, frame.external_ids.get(instance, "")))
    return out


class SimulatorBoxes:
    """Test double of ``perception.backends.Detector`` for one frame at a time: ``frame`` is the
    rendered frame whose image ``detect`` is next given; the boxes carry no simulator ids, as a
    detector's do not."""

    name = "simulator_boxes_test_double"

    def __init__(self, min_pixels: int = 200) -> None:
        self.min_pixels = min_pixels
        self.frame: RGBDFrame | None = None

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if self.frame is None or self.frame.color is not rgb:
            return []
        return [Detection(d.box, d.label, d.score) for d in true_detections(self.frame, self.min_pixels)]
