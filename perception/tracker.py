"""A per-frame tracker: keeps an id on an object across frames where it can, as real trackers do.

Detections are matched to tracks of the same label by box overlap (IoU) and colour appearance
(a small colour histogram), one to one with the Hungarian method. A track missed for more than
``max_misses`` frames is dropped; the object, when it comes back, gets a new id. Memory therefore
must not trust these ids as lasting names (``trust_external_ids`` off).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from perception.records import Detection
from scene_graph.image_segments import box_pixels

_BINS = 4  # per channel: coarse enough to survive lighting changes


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def colour_histogram(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Normalised joint RGB histogram of the box (zeros for an empty box)."""
    x0, y0, x1, y1 = box_pixels(box, rgb.shape[:2])
    pixels = rgb[y0:y1, x0:x1].reshape(-1, 3)
    if pixels.size == 0:
        return np.zeros(_BINS ** 3)
    q = (pixels.astype(np.int32) * _BINS) // 256
    hist = np.bincount((q[:, 0] * _BINS + q[:, 1]) * _BINS + q[:, 2], minlength=_BINS ** 3).astype(float)
    return hist / hist.sum()


@dataclass
class _Track:
    id: str
    label: str
    box: tuple[float, float, float, float]
    appearance: np.ndarray
    misses: int = 0


class IouTracker:
    """``update(rgb, detections)`` returns the detections with ``track_id`` set."""

    def __init__(self, min_iou: float = 0.3, appearance_weight: float = 0.3, max_misses: int = 5) -> None:
        self.min_iou = min_iou
        self.appearance_weight = appearance_weight
        self.max_misses = max_misses
        self._tracks: list[_Track] = []
        self._issued = 0

    def update(self, rgb: np.ndarray, detections: Sequence[Detection]) -> list[Detection]:
        looks = [colour_histogram(rgb, d.box) for d in detections]
        cost = np.full((len(self._tracks), len(detections)), np.inf)
        for t, track in enumerate(self._tracks):
            for d, detection in enumerate(detections):
                overlap = iou(track.box, detection.box)
                if track.label != detection.label or overlap < self.min_iou:
                    continue
                similarity = float(np.minimum(track.appearance, looks[d]).sum())  # histogram intersection
                cost[t, d] = 1.0 - ((1.0 - self.appearance_weight) * overlap + self.appearance_weight * similarity)
        matched: dict[int, int] = {}
        if cost.size and np.isfinite(cost).any():
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
            matched = {int(d): int(t) for t, d in zip(rows, cols) if np.isfinite(cost[t, d])}
        out: list[Detection] = []
        seen: set[int] = set()
        for d, detection in enumerate(detections):
            if d in matched:
                track = self._tracks[matched[d]]
                track.box, track.appearance, track.misses = detection.box, looks[d], 0
                seen.add(matched[d])
            else:
                self._issued += 1
                track = _Track(f"track-{self._issued}", detection.label, detection.box, looks[d])
                self._tracks.append(track)
                seen.add(len(self._tracks) - 1)
            out.append(dataclasses.replace(detection, track_id=track.id))
        for t, track in enumerate(self._tracks):
            if t not in seen:
                track.misses += 1
        self._tracks = [t for t in self._tracks if t.misses <= self.max_misses]
        return out
