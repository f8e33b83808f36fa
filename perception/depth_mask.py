"""A mask for a detection box from depth alone, for robots without a mask model.

Inside the box, neighbouring pixels belong together when their depths differ by less than a
fraction of their distance; at a jump the farther pixel is cut, so the object in front keeps its
outline. The floor, a wall or a table top is continuous in depth with what stands on or before it
and would join it, so first the frame's large planes are found (:func:`structure_planes`) and, in
each box, the pixels of a plane that lies mostly outside the box, or that shows just outside its
edges, are cut: the surface runs on past the object, a face of the object does not. A pixel lies
on a plane only if it is near it *and* its surface faces the plane's way: a plane carried on
through the room crosses other surfaces in strips (the line where a counter front's plane meets a
fridge's side), and those pixels belong to the surfaces they lie on. Of the connected segments
left, the object is the one at the middle of the box
(:func:`scene_graph.image_segments.central_segment`). A face of the object can still be coplanar
with a surface that runs on past the box (a tissue box flush with the counter's front, a fridge
with the cabinets beside it); the cut then leaves only a part of the object, or a neighbour, and
that no longer spans the box, which a detector draws tight around the object: the segment before
the cut is taken instead when it spans the box better. What remains of the surface at the
object's foot (within the plane's thickness) fusion cuts, as it knows which way is up
(``FusionConfig.support_layer``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import ndimage

from perception.records import Detection
from scene_graph.image_segments import box_pixels, central_segment, span

RELATIVE_STEP = 0.04  # default largest depth jump between neighbours of one surface, as a fraction of depth
RING = 3  # pixels around a box where a surface running on past it shows
RING_SHARE = 0.25  # share of that band a plane must hold to count as running on past the box
FLUSH_SHARE = 0.1  # below this share of the box's pixels off the surrounding planes, the thing is flush with one
SPAN = 0.7  # share of its box's width and height a mask reaches across for the cut to be the whole object
FACING = 0.9  # |cos| of the angle between a pixel's surface and a plane (about 25 degrees) to lie on it


def depth_mask(depth: np.ndarray, box: tuple[float, float, float, float], relative_step: float = RELATIVE_STEP,
               min_pixels: int = 4, planes: Optional[np.ndarray] = None) -> np.ndarray:
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
    found: Optional[np.ndarray] = None
    if planes is not None:
        off_structure = keep & ~_beyond_box(planes, (x0, y0, x1, y1))
        # A flat thing (a fork, a card on a table) lies within the surface's plane: the cut would leave
        # nothing of it, and the box's depth segment around it is the better mask.
        if np.count_nonzero(off_structure) >= max(min_pixels, FLUSH_SHARE * np.count_nonzero(keep)):
            found = _middle_segment(off_structure)
            if span(found) < SPAN:  # only then is the segment before the cut worth finding
                whole = _middle_segment(keep)
                found = found if span(found) >= span(whole) else whole
    if found is None:
        found = _middle_segment(keep)
    if np.count_nonzero(found) < min_pixels:
        return mask
    mask[y0:y1, x0:x1] = found
    return mask


def _middle_segment(keep: np.ndarray) -> np.ndarray:
    """The connected segment of ``keep`` at the middle of the crop (all False when there is none)."""
    segments, count = ndimage.label(keep)
    best = central_segment(segments, count)
    return segments == best if best else np.zeros_like(keep)


PLANE_TRIALS = 200  # RANSAC hypotheses per plane
PLANE_PROBES = 1000  # points that score each hypothesis


def structure_planes(depth: np.ndarray, threshold: float = 0.03, max_planes: int = 4, min_share: float = 0.08,
                     stride: int = 4) -> np.ndarray:
    """Per pixel, which of the frame's large planes (1..n; 0: none) it lies on: the floor, walls,
    large table tops. Found by RANSAC on points back-projected with nominal intrinsics: the camera's
    true ones are not needed, as any pinhole back-projection is a linear map of the true points and
    so keeps planes planes. ``threshold`` is the plane's thickness (m); a plane must hold
    ``min_share`` of the valid pixels. The search is seeded, so a frame always gets the same planes."""
    h, w = depth.shape
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth) & (depth > 0)
    v, u = np.mgrid[0:h, 0:w]
    z = np.where(valid, depth, 0.0).astype(np.float64)
    points = np.stack([(u - w / 2) / w * z, (v - h / 2) / w * z, z], axis=-1)
    planes = np.zeros((h, w), dtype=np.int32)
    sample = np.zeros_like(valid)
    sample[::stride, ::stride] = valid[::stride, ::stride]
    total = int(np.count_nonzero(sample))
    if total < 30:
        return planes
    free = sample.copy()
    rng = np.random.default_rng(0)
    facing = surface_normals(points, valid)
    unknown = ~np.isfinite(facing[..., 0])
    for index in range(1, max_planes + 1):
        if np.count_nonzero(free) < max(30, min_share * total):
            break
        found = _dominant_plane(points[free], threshold, min_share * total, rng)
        if found is None:
            break
        normal, offset = found
        on_plane = valid & (planes == 0) & (np.abs(points @ normal + offset) <= threshold)
        with np.errstate(invalid="ignore"):  # of those near the plane, the ones that face its way
            on_plane[on_plane] = unknown[on_plane] | (np.abs(facing[on_plane] @ normal) >= FACING)
        planes[on_plane] = index
        free &= ~on_plane
    return planes


def surface_normals(points: np.ndarray, valid: np.ndarray, relative_step: float = 0.08) -> np.ndarray:
    """Unit surface normal (float32) per pixel of an (H, W, 3) point image, from the neighbours on
    either side; NaN at the border, next to a pixel without depth and across a depth jump (a rim or
    an edge, where the neighbours lie on two surfaces and their normal belongs to neither)."""
    p = points.astype(np.float32)
    ax, ay, az = (p[1:-1, 2:, k] - p[1:-1, :-2, k] for k in range(3))  # along the row
    bx, by, bz = (p[2:, 1:-1, k] - p[:-2, 1:-1, k] for k in range(3))  # down the column
    normal = np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)
    length = np.sqrt(np.einsum("ijk,ijk->ij", normal, normal))
    limit = relative_step * p[1:-1, 1:-1, 2]
    smooth = (valid[1:-1, 2:] & valid[1:-1, :-2] & valid[2:, 1:-1] & valid[:-2, 1:-1] & valid[1:-1, 1:-1]
              & (np.abs(az) <= limit) & (np.abs(bz) <= limit) & (length > 0))
    out = np.full(points.shape, np.nan, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:-1, 1:-1] = np.where(smooth[..., None], normal / length[..., None], np.nan)
    return out


def _dominant_plane(points: np.ndarray, threshold: float, min_inliers: float,
                    rng: np.random.Generator) -> Optional[tuple[np.ndarray, float]]:
    """(unit normal, offset) of the plane through most of ``points`` (RANSAC, then a least-squares
    fit to its inliers), or None when it holds fewer than ``min_inliers``. Written here rather than
    taken from open3d: its ``segment_plane`` runs in parallel threads and finds different planes
    from one run to the next, and scikit-learn's RANSAC fits one hypothesis per Python call (over
    ten times slower here); all hypotheses are scored at once here on a seeded sample."""
    a, b, c = (points[k] for k in rng.integers(0, len(points), size=(3, PLANE_TRIALS)))
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    proper = lengths > 1e-12  # three points on a line span no plane
    if not proper.any():
        return None
    normals = normals[proper] / lengths[proper, None]
    offsets = -np.einsum("ij,ij->i", normals, a[proper])
    probes = points[rng.integers(0, len(points), size=min(len(points), PLANE_PROBES))]
    scores = np.count_nonzero(np.abs(probes @ normals.T + offsets) <= threshold, axis=0)
    best = int(np.argmax(scores))
    inliers = points[np.abs(points @ normals[best] + offsets[best]) <= threshold]
    if len(inliers) < max(min_inliers, 3):
        return None
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][-1]
    return normal, -float(normal @ centre)


def _beyond_box(planes: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of the box (as a crop) on a plane that lies mostly outside it, or that runs on past
    the box's edge (in a band of ``RING`` pixels just outside it, where the image goes on): the
    surface the object stands on or in front of, not a face of the object. The second test keeps a
    close-up's wall or floor out although most of it is inside a box that fills the view."""
    x0, y0, x1, y1 = box
    crop = planes[y0:y1, x0:x1]
    count = int(planes.max()) + 1
    inside = np.bincount(crop.ravel(), minlength=count)
    outside = np.bincount(planes.ravel(), minlength=count) - inside
    h, w = planes.shape
    ring = planes[max(0, y0 - RING):min(h, y1 + RING), max(0, x0 - RING):min(w, x1 + RING)]
    past = np.bincount(ring.ravel(), minlength=count) - inside
    band = max(1, ring.size - crop.size)
    beyond = (outside >= inside) | (past >= RING_SHARE * band)
    beyond[0] = False
    return beyond[crop]


def depth_masks(depth: np.ndarray, detections: list[Detection],
                relative_step: float = RELATIVE_STEP) -> list[np.ndarray]:
    """:func:`depth_mask` for each detection's box."""
    planes = structure_planes(depth) if detections else None
    return [depth_mask(depth, d.box, relative_step, planes=planes) for d in detections]
