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
    """Paint each detection's mask with ids 1..n. Where masks overlap, the nearer object wins (the
    smaller one when there is no depth): it occludes the other, as a cup on a table does."""
    if len(masks) != len(detections):
        raise ValueError(f"{len(detections)} detections but {len(masks)} masks")
    ids = np.zeros(shape, dtype=np.int32)
    labels: dict[int, str] = {}
    scores: dict[int, float] = {}
    external: dict[int, str] = {}

    def order_key(i: int) -> float:
        mask = masks[i]
        if depth is not None and mask.any():
            values = depth[mask]
            values = values[np.isfinite(values) & (values > 0)]
            if values.size:
                return -float(np.median(values))  # far first, near painted last
        return -float(mask.sum())  # large first, small painted last

    for i in sorted(range(len(detections)), key=order_key):
        mask = masks[i]
        if mask.shape != shape:
            raise ValueError(f"mask {i} is {mask.shape[1]}x{mask.shape[0]}, the image {shape[1]}x{shape[0]}")
        if not mask.any():
            continue
        ids[mask] = i + 1
    for i, detection in enumerate(detections):
        if np.any(ids == i + 1):
            labels[i + 1] = memory_label(detection.label)
            scores[i + 1] = float(detection.score)
            external[i + 1] = detection.track_id
    return InstanceImage(ids, labels, scores, external if any(external.values()) else {})
