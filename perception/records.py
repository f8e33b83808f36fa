"""The records perception passes around: a detection in an image, and one frame's instance image."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One detected object: a box in pixels (x0, y0, x1, y1; x1/y1 exclusive), what it is, how sure.

    ``track_id`` is the source's id for the object across frames (a tracker's), or empty."""

    box: tuple[float, float, float, float]
    label: str
    score: float
    track_id: str = ""

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


@dataclass(frozen=True)
class InstanceImage:
    """Instances of one frame: an int32 id image (0 = none) and, per id, label, score and track id."""

    ids: np.ndarray
    labels: dict[int, str] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)
    external_ids: dict[int, str] = field(default_factory=dict)
