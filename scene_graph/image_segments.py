"""Which of an image region's connected segments is the object: the one at the region's middle.

A detector centres its box on the object, while what else a box or a loose mask takes in (the
background, a wall, the floor) crowds its edges; and it draws the box tight around what it saw, so
a mask that reaches across only part of its box is probably not all of that. Shared by the depth
masks of perception, by its instance image and tracker, and by fusion's cut of the surface an
object stands on.
"""
from __future__ import annotations

import numpy as np


def box_pixels(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box as integer pixel bounds clipped to an image of ``shape`` (H, W); may be empty."""
    h, w = shape
    x0, y0, x1, y1 = box
    return (int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.floor(y0), 0, h)),
            int(np.clip(np.ceil(x1), 0, w)), int(np.clip(np.ceil(y1), 0, h)))


def central_segment(segments: np.ndarray, count: int) -> int:
    """The label (1..count) of ``segments`` (as ``scipy.ndimage.label`` gives them, 0 = none) that
    covers most of the region's central half in each direction; the largest when none reaches the
    middle; 0 when there are no segments."""
    if count == 0:
        return 0
    h, w = segments.shape
    middle = segments[h // 4: h - h // 4 or h, w // 4: w - w // 4 or w]
    in_middle = np.bincount(middle.ravel(), minlength=count + 1)
    in_middle[0] = 0
    if in_middle.any():
        return int(np.argmax(in_middle))
    sizes = np.bincount(segments.ravel(), minlength=count + 1)
    sizes[0] = 0
    return int(np.argmax(sizes))


def span(segment: np.ndarray) -> float:
    """How far across its region (a boolean crop) a segment reaches: the smaller of its extent's
    shares of the crop's height and width (1.0 for anything that touches all four sides)."""
    rows, cols = np.flatnonzero(segment.any(axis=1)), np.flatnonzero(segment.any(axis=0))
    if not rows.size:
        return 0.0
    return min((rows[-1] - rows[0] + 1) / segment.shape[0], (cols[-1] - cols[0] + 1) / segment.shape[1])
