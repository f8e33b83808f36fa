"""The simulator's ground truth as a detector would report it: upright boxes, class words, track ids."""
from __future__ import annotations

import re

import numpy as np

from perception.records import Detection
from scene_graph.frames import RGBDFrame


def words(type_name: str) -> str:
    """ "CoffeeMachine" -> "coffee machine", as an open-vocabulary detector's class name."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type_name).lower()


def true_detections(frame: RGBDFrame, min_pixels: int = 100) -> list[Detection]:
    """One box per instance with at least ``min_pixels`` pixels; the track id is the simulator's id."""
    out = []
    for instance, label in sorted(frame.labels.items()):
        ys, xs = np.nonzero(frame.instance_ids == instance)
        if xs.size >= min_pixels:
            out.append(Detection((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)),
                                 words(label), 0.9, frame.external_ids.get(instance, "")))
    return out
