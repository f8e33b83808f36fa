"""Detections and their masks become the instance image memory fuses."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from perception.records import Detection, InstanceImage
from scene_graph.image_segments import box_pixels, span
from scene_graph.ontology import canonical_type

# The least share of its detector's score a mask keeps, however little of its box it spans: with
# memory's min_score of 0.3, the thinnest mask then drops only detections scored below 0.43 (the
# compose test holds the two together).
SPAN_FLOOR = 0.7


def memory_label(word: str) -> str:
    """A detector's class name in memory's words: the ontology's type when it names one
    ("coffee machine" -> CoffeeMachine), else the name as it came (open vocabulary)."""
    return canonical_type(word) or word.strip()


def compose_instances(detections: Sequence[Detection], masks: Sequence[np.ndarray], shape: tuple[int, int],
                      depth: Optional[np.ndarray] = None) -> InstanceImage:
    """Give each detection's mask the id i + 1. A pixel two masks claim goes to the one whose depth
    (its mask's median) the pixel's depth is nearest, relative to it: a watch lying on a table takes
    its own pixels, though the table as a whole is nearer the camera, and a cup in front of a shelf
    takes the pixels where it hides the shelf. Without depth there, the smaller mask wins.

    Each instance's score is its detector's times how far its mask, as composed, spans the box
    (:func:`scene_graph.image_segments.span`, at least ``SPAN_FLOOR``): a detector draws its box
    tight around what it saw, so a mask that reaches across a strip of the box is more likely a
    neighbour or a part of it, and memory should not take one such view for a fact (fusion
    confirms a node from one view only at a high score; a second view still confirms it)."""
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
    present = np.bincount(ids.ravel(), minlength=len(detections) + 1) > 0
    for i, detection in enumerate(detections):
        if present[i + 1]:
            labels[i + 1] = memory_label(detection.label)
            x0, y0, x1, y1 = box_pixels(detection.box, shape)
            scores[i + 1] = float(detection.score) * max(SPAN_FLOOR, span(ids[y0:y1, x0:x1] == i + 1))
            external[i + 1] = detection.track_id
    return InstanceImage(ids, labels, scores, external if any(external.values()) else {})
