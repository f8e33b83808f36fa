"""A mask for a detection box from depth alone, for robots without a mask model.

Inside the box, neighbouring pixels belong together when their depths differ by less than a
fraction of their distance; at a jump the farther pixel is cut, so the object in front keeps its
outline. Of the connected segments, the object is the one that covers most of the middle of the
box (its central half in each direction): a detector centres its box on the object, while the
background, often the larger segment, crowds the box's edges. When nothing valid lies in the
middle, the largest segment is taken.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from perception.records import Detection


def box_pixels(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box as integer pixel bounds clipped to an image of ``shape`` (H, W); may be empty."""
    h, w = shape
    x0, y0, x1, y1 = box
    return (int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.floor(y0), 0, h)),
            int(np.clip(np.ceil(x1), 0, w)), int(np.clip(np.ceil(y1), 0, h)))


def depth_mask(depth: np.ndarray, box: tuple[float, float, float, float], relative_step: float = 0.04,
               min_pixels: int = 4) -> np.ndarray:
    """Boolean (H, W) mask of the object in ``box``; all False when the box holds no usable depth.

    ``depth`` is metres, with 0, NaN and inf meaning no return; ``relative_step`` is the largest
    depth jump between neighbours, as a fraction of their depth, within one surface."""
    mask = np.zeros(depth.shape, dtype=bool)
    x0, y0, x1, y1 = box_pixels(box, depth.shape)
    if x1 <= x0 or y1 <= y0:
        return mask
    crop = np.asarray(depth[y0:y1, x0:x1], dtype=np.float32)
    valid = np.isfinite(crop) & (crop > 0)
    keep = valid.copy()
    z = np.where(valid, crop, np.inf)
    for axis in (0, 1):
        a, b = (z[:-1], z[1:]) if axis == 0 else (z[:, :-1], z[:, 1:])
        with np.errstate(invalid="ignore"):
            jump = np.abs(a - b) > relative_step * np.minimum(a, b)
        far_first = jump & (a > b)
        far_second = jump & (b > a)
        if axis == 0:
            keep[:-1] &= ~far_first
            keep[1:] &= ~far_second
        else:
            keep[:, :-1] &= ~far_first
            keep[:, 1:] &= ~far_second
    segments, count = ndimage.label(keep)
    if count == 0:
        return mask
    sizes = np.bincount(segments.ravel(), minlength=count + 1)
    sizes[0] = 0
    h, w = crop.shape
    middle = segments[h // 4: h - h // 4 or h, w // 4: w - w // 4 or w]
    in_middle = np.bincount(middle.ravel(), minlength=count + 1)
    in_middle[0] = 0
    best = int(np.argmax(in_middle)) if in_middle.any() else int(np.argmax(sizes))
    if sizes[best] < min_pixels:
        return mask
    mask[y0:y1, x0:x1] = segments == best
    return mask


def depth_masks(depth: np.ndarray, detections: list[Detection], relative_step: float = 0.04) -> list[np.ndarray]:
    """:func:`depth_mask` for each detection's box."""
    return [depth_mask(depth, d.box, relative_step) for d in detections]
