"""Camera images for vision-language models: PNG encoding, object crops, and their captions.

A VLM sees the current camera image and, where it helps, crops of the objects the prompt names.
A crop is found from the frame's instance image (the pixels of the instance whose source id is
the object's ``external_id``), so it needs no camera pose, or from a box in pixels. Captions name
what each image shows; they carry memory's labels, so prompts fence them as data.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from planners.interfaces import KnownObject

CAMERA = "the current camera view"


@dataclass(frozen=True)
class PromptImage:
    png: bytes
    caption: str  # what it shows: CAMERA, or "obj_0007 (Apple)"


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 RGB image as PNG (Pillow, which transformers' image processors need too)."""
    from PIL import Image

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"an image must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="PNG")
    return out.getvalue()


def crop(rgb: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.15,
         min_side: int = 8) -> np.ndarray | None:
    """The box (x0, y0, x1, y1 pixels) grown by ``margin`` of its size on each side (context helps a
    VLM tell a sliced apple from a red ball), clipped to the image; None when under ``min_side``."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    c0, r0 = max(int(np.floor(x0 - dx)), 0), max(int(np.floor(y0 - dy)), 0)
    c1, r1 = min(int(np.ceil(x1 + dx)), w), min(int(np.ceil(y1 + dy)), h)
    if c1 - c0 < min_side or r1 - r0 < min_side:
        return None
    return rgb[r0:r1, c0:c1]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """The pixel box (x1/y1 exclusive) of a boolean mask; None when it is empty."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)


def camera_images(rgb: np.ndarray, instance_ids: np.ndarray | None, external_ids: Mapping[int, str],
                  objects: Sequence[KnownObject], max_crops: int) -> list[PromptImage]:
    """The camera image, then crops of up to ``max_crops`` of ``objects`` (in their order) that the
    frame's instance image shows, matched by the object's ``external_id``."""
    images = [PromptImage(png_bytes(rgb), CAMERA)]
    if instance_ids is None or max_crops <= 0:
        return images
    instance_of = {source: instance for instance, source in external_ids.items() if source}
    for o in objects:
        instance = instance_of.get(o.external_id) if o.external_id else None
        box = mask_box(instance_ids == instance) if instance is not None else None
        part = crop(rgb, box) if box is not None else None
        if part is not None:
            images.append(PromptImage(png_bytes(part), f"{o.id} ({o.label})"))
            if len(images) > max_crops:
                break
    return images
