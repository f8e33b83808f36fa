"""Detections and their masks become the instance image memory fuses."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from perception.records import Detection, InstanceImage
from scene_graph.ontology import canonical_type


def memory_label(word: str) -> str:
    """A detector's class name in memory's words: the ontology's type when it names one
    ("coffee machine" -> CoffeeMachine), else the name as it came (open vocabulary)."""
    return canonical_type(word) or word.strip()


def compose_instances(detections: Sequence[Detection], masks: Sequence[np.ndarray], shape: tuple[int, int],
                      depth: Optional[np.ndarray] = None) -> InstanceImage:
    """Give each detection's mask the id i + 1. A pixel two masks claim goes to the one whose depth
    (its mask's median) the pixel's depth is nearest, relative to it: a watch lying on a table takes
    its own pixels, though the table as a whole is nearer the camera, and a cup in front of a shelf
    takes the pixels where it hides the shelf. Without depth there, the smaller mask wins."""
    if len(masks) != len(detections):
        raise ValueError(f"{len(detections)} detections but {len(masks)} masks")
    for i, mask in enumerate(masks):
        if mask.shape != shape:
            raise ValueError(f"mask {i} is {mask.shape[1]}x{mask.shape[0]}, the image {shape[1]}x{shape[0]}")
    ids = np.zeros(shape, dtype=np.int32)
    best = np.full(shape, np.inf)
    total = float(shape[0] * shape[1])
    for i, mask in enumerate(masks):
        pixels = np.flatnonzero(mask)
        if not pixels.size:
            continue
        area = pixels.size / total  # in (0, 1]: breaks ties, and decides where there is no depth
        cost = np.full(pixels.size, 1.0 + area)
        if depth is not None:
            here = depth.ravel()[pixels]
            with np.errstate(invalid="ignore"):
                valid = np.isfinite(here) & (here > 0)
            if valid.any():
                median = float(np.median(here[valid]))
                cost[valid] = np.abs(here[valid] - median) / median + 1e-3 * area
        wins = cost < best.ravel()[pixels]
        ids.ravel()[pixels[wins]] = i + 1
        best.ravel()[pixels[wins]] = cost[wins]
    labels: dict[int, str] = {}
    scores: dict[int, float] = {}
    external: dict[int, str] = {}
    for i, detection in enumerate(detections):
        if np.any(ids == i + 1):
            labels[i + 1] = memory_label(detection.label)
            scores[i + 1] = float(detection.score)
            external[i + 1] = detection.track_id
    return InstanceImage(ids, labels, scores, external if any(external.values()) else {})
