"""Fuse posed RGB-D instance frames into the long-term scene graph.

One :meth:`Fusion.integrate` call per frame:

1. **Validate** the frame as a whole (sizes, intrinsics, a rigid finite pose, some valid depth).
   A bad frame is rejected with a reason, counted, and memory is not touched.
2. **Back-project** every ``stride``-th pixel once for the whole image (one matrix product), group
   the points by instance id, drop unlabelled / empty / tiny / low-score instances with a counted
   reason, filter depth outliers per instance and voxel-downsample.
3. **Negative evidence**, before association: a remembered object whose stored surface points
   project into the view, are not occluded, and meet either free space (the depth goes on behind
   them) or another labelled surface, loses confidence and is marked missing when it drops low
   enough. Doing this first lets step 4 recognise an object that left its place in this frame.
4. **Associate** each observation with a remembered object, then **merge** (bounded voxel cloud,
   box refit), **relocate** or **create**. An object's centroid is the centre of its fitted box,
   not the mean of its points: the points are surfaces, and their mean is pulled towards whichever
   faces the camera happened to see most.
5. **Fold** same-label furniture that step 4 left as two interpenetrating nodes into one.

Everything inside one frame is a single graph transaction, hence one delta.

How association decides that an observation is a remembered object:

* **External ids first** (``trust_external_ids``, on by default). When the source names its
  instances (a simulator objectId, a re-identifying tracker's id: ``RGBDFrame.external_ids``), the
  same non-empty id with the same label *is* the same object, wherever it is now: an overlapping
  box merges, anything else relocates the node there (same id, status "moved", geometry replaced,
  relations recomputed), so memory never keeps the object at its old place. Two different
  non-empty ids are two objects: they are never merged, folded or taken for one that moved, and a
  remembered object whose place now shows another id of its label counts as gone from there. Turn
  it off for sources whose ids are not stable identities (a tracker that issues a new id whenever
  it loses a track): memory then keeps ids only as hints for acting on the object.
* **Geometry** for everything else, labels a soft factor: overlapping boxes (intersection over the
  smaller box) with a label the node's votes support (its own or a look-alike's), or, for an
  object under any other label, boxes that are nearly one (IoU): a detector's wrong label then
  merges into the right object. Each node keeps a **label distribution** (``label_votes``: the
  detectors' scores summed per label) and shows its winner, so a consistent relabel wins over time
  and consolidation follows the vote. Object nodes whose labels agree and whose boxes are mostly
  one are folded, as furniture is (below).
* **Robot input** (:meth:`FusionConfig.for_detector`): masks that bleed over edges are trimmed,
  negative evidence forgives a few cm of pose drift, and a place must be seen empty twice. Masks
  cut from boxes by depth also take in the floor or table top at the object's foot; with
  ``support_layer`` set, that lowest layer is cut (``_standing_part``). A node
  seen once that the next look at its place refutes is dropped as a false detection; a node is
  *confirmed* (:meth:`Fusion.confirmed`) once seen twice or once confidently.
* **Nothing new on another object's surface.** An observation that would make a new object
  while most of its points lie on the stored surface of a remembered object of another label is
  that object's pixels, taken by a box drawn around something behind or beside it; it is skipped
  with a counted reason (``on_another_object``), when memory holds one of its own label right
  beside it (the one the box was drawn around; without it, the observation is a thing lying there,
  keys on a book). Receptacles are exempt: what lies in a bowl or a drawer is close to its
  surface; so is an observation a trusted id names.
* **Without ids, a move is only believed once the old place is seen empty.** A pickupable object
  re-observed elsewhere while its old place was seen empty is relocated, whichever of the two
  events comes first; until the old place is viewed again a newly seen same-label object is a new
  node. A shortcut such as "the only apple memory knows about" was considered and rejected: a
  second, never-seen apple is exactly as likely, and merging it would make memory lose a real
  apple, which is worse than a short-lived duplicate that the next look at the old place folds.
* **Furniture is one node however it is seen.** A large piece is often seen in parts (a side,
  then the front; a fridge closed, then open with its door swung out, or only that door from the
  door's side) whose boxes barely overlap. With ids, a view of a named piece that touches its box
  or, together with it, still fits the piece's type (1.5 x its typical size) is more of the piece,
  never the piece moved. Without ids, an unmatched furniture view whose own pixels show the
  surface of a same-label piece next to it (at the depth memory expects), or, for a piece that
  opens, hide it (its door in front of it), is that piece. Last, furniture being solid, two
  same-label furniture boxes that interpenetrate (half the smaller one inside the larger) are
  folded into the older node as soon as a view makes them meet. Without ids, parts that no view
  has yet joined (a bed seen one end at a time past the pillows on it, a fridge first met as
  nothing but its open door seen from behind) are two nodes until one does. Pieces that only touch
  (a row of cabinets, adjacent burners) stay apart.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.graph import SceneGraph
from scene_graph.image_segments import central_segment
from scene_graph.ontology import OBJECT_TYPES, canonical_type, layer_of, look_alikes
from scene_graph.records import MISSING, MOVED, VISIBLE, ObjectNode, OrientedBox
from scene_graph.relations import aabb_gap

log = logging.getLogger(__name__)

# Frame-level rejection reasons.
SIZE_MISMATCH = "size_mismatch"
BAD_INSTANCE_IMAGE = "bad_instance_image"
BAD_INTRINSICS = "bad_intrinsics"
NON_FINITE_POSE = "non_finite_pose"
NON_RIGID_POSE = "non_rigid_pose"
NON_FINITE_STAMP = "non_finite_stamp"
NO_VALID_DEPTH = "no_valid_depth"
# Instance-level skip reasons (the rest of the frame is still used).
UNLABELLED = "unlabelled_instance"
EMPTY_MASK = "empty_mask"
TOO_FEW_POINTS = "too_few_points"
LOW_SCORE = "low_score"
ON_ANOTHER_OBJECT = "on_another_object"  # at association: it would be new, on another's surface


@dataclass(frozen=True)
class FusionConfig:
    stride: int = 2  # back-project every stride-th pixel in u and v
    min_depth: float = 0.1
    max_depth: float = 8.0
    object_voxel: float = 0.015
    furniture_voxel: float = 0.04
    max_points: int = 1500  # per object, after merging
    min_points: int = 6  # valid strided pixels for an instance to count
    min_score: float = 0.3
    association_margin: float = 0.03  # boxes grown by this before overlap (m)
    min_overlap: float = 0.2  # intersection / smaller volume
    surface_tolerance: float = 0.04  # depth agreement for "the surface is there" (m)
    evidence_points: int = 48  # stored points tested per object for negative evidence
    min_evidence: int = 8
    absent_share: float = 0.7  # share of decisive points that must say "gone"
    initial_confidence: float = 0.5
    confidence_gain: float = 0.5  # confidence += gain * (1 - confidence) per observation
    confidence_decay: float = 0.5  # confidence *= decay per contradicting view
    missing_below: float = 0.6  # one view of the place seen empty; a detector's input: two (for_detector)
    drop_bled_edges: bool = False  # a detector's masks: drop edge pixels bled onto the background (_bled)
    bleed_jump: float = 0.05  # an edge pixel this much (m) behind its own instance's neighbour is background
    bleed_jump_per_m2: float = 0.02  # ... plus this times depth squared (depth noise grows so)
    support_layer: float = 0.0  # masks cut from boxes by depth: cut the surface objects stand on, this thick (m)
    support_share: float = 0.15  # ... when that lowest layer holds at least this share of the points
    alike_weight: float = 0.7  # a look-alike's vote counts this much towards a label
    label_agreement: float = 0.5  # label support at which geometry alone decides association
    cross_label_iou: float = 0.5  # IoU at which an observation of an unrelated label is still the object
    pose_tolerance: float = 0.0  # pose error negative evidence forgives: it looks this far around (m)
    max_window_px: int = 4  # largest half-window that tolerance becomes in the image
    fold_inside: float = 0.5  # share of the smaller same-label furniture box inside the larger to fold
    furniture_part_gap: float = 0.1  # a view of a named piece this close to its box is more of it (m)
    confirm_views: int = 2  # observations before a node is confirmed (see :meth:`Fusion.confirmed`)
    confirm_score: float = 0.75  # ... or one detection at least this confident
    claimed_share: float = 0.8  # share of a new object's points on another's surface that makes them its
    claimed_gap: float = 0.1  # ... when one of its own label is remembered this close (m)


    def for_detector(self) -> "FusionConfig":
        """This configuration for a real robot's input rather than a simulator's exact instances and
        poses: masks that overrun edges, a few cm of odometry drift, and detections that are
        sometimes missed, so a place must be seen empty twice (confidence halves per view) before
        its object counts as missing."""
        return replace(self, drop_bled_edges=True, missing_below=min(self.missing_below, 0.3),
                       pose_tolerance=max(self.pose_tolerance, 0.05))


@dataclass(frozen=True)
class FusionStats:
    """Counters since construction; ``rejected`` / ``skipped`` are sorted (reason, count) pairs."""

    frames: int = 0
    accepted: int = 0
    rejected: tuple[tuple[str, int], ...] = ()
    skipped_instances: tuple[tuple[str, int], ...] = ()
    created: int = 0
    merged: int = 0
    relocated: int = 0
    marked_missing: int = 0
    folded: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class FrameReport:
    """What one frame did; ``skipped`` pairs an instance id with the reason it was not used."""

    accepted: bool
    reason: str = ""
    created: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()
    relocated: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    folded: tuple[str, ...] = ()  # nodes folded into another one (and removed)
    dropped: tuple[str, ...] = ()  # nodes seen once that the next view of their place refuted (removed)


@dataclass(frozen=True, eq=False)
class Observation:
    """One instance of one frame in world coordinates, ready to associate."""

    label: str
    layer: str
    points: np.ndarray  # (n, 3) float32, voxel-downsampled
    bounds: OrientedBox  # axis-aligned, for association; an oriented fit is made only when needed
    external_id: str = ""
    instance: int = 0  # its id in the frame's instance image
    score: float = 1.0  # the detector's confidence in the label: the weight of its vote


def voxel_downsample(points: np.ndarray, voxel: float) -> np.ndarray:
    """Keep the first point in each voxel (callers put the newest points first)."""
    if len(points) == 0:
        return points
    keys = np.floor(points / voxel).astype(np.int64) + (1 << 20)
    packed = (keys[:, 0] << 42) | (keys[:, 1] << 21) | keys[:, 2]
    _, first = np.unique(packed, return_index=True)
    return points[np.sort(first)]


_COARSE = np.radians(np.arange(0.0, 90.0, 5.0))
_FINE = np.radians(np.arange(-4.0, 5.0, 1.0))


def _tightest_yaw(xy: np.ndarray, angles: np.ndarray) -> float:
    c, s = np.cos(angles), np.sin(angles)
    along, across = xy @ np.stack([c, s]), xy @ np.stack([-s, c])
    areas = np.ptp(along, axis=0) * np.ptp(across, axis=0)
    return float(angles[int(np.argmin(areas))])


def fit_box(points: np.ndarray, min_extent: float = 0.01) -> OrientedBox:
    """Gravity-aligned minimum-footprint box: coarse-to-fine search of yaw in [0, 90) degrees."""
    xy = points[:, :2] - points[:, :2].mean(axis=0)
    yaw = _tightest_yaw(xy, _COARSE)
    yaw = _tightest_yaw(xy, yaw + _FINE) % (np.pi / 2)
    c, s = np.cos(yaw), np.sin(yaw)
    along, across = xy @ np.array([c, s]), xy @ np.array([-s, c])
    mid_a, mid_c = (along.max() + along.min()) / 2, (across.max() + across.min()) / 2
    center_xy = points[:, :2].mean(axis=0) + mid_a * np.array([c, s]) + mid_c * np.array([-s, c])
    z_lo, z_hi = float(points[:, 2].min()), float(points[:, 2].max())
    extent = (max(float(np.ptp(along)), min_extent), max(float(np.ptp(across)), min_extent),
              max(z_hi - z_lo, min_extent))
    return OrientedBox((float(center_xy[0]), float(center_xy[1]), (z_lo + z_hi) / 2), extent, float(yaw))


def validate_frame(frame: RGBDFrame) -> str:
    """The reason a frame cannot be used at all, or "" when it can."""
    k = frame.intrinsics
    shape = (k.height, k.width)
    if not np.isfinite(frame.stamp):
        return NON_FINITE_STAMP
    if not (k.width > 0 and k.height > 0 and np.all(np.isfinite([k.fx, k.fy, k.cx, k.cy])) and k.fx > 0 and k.fy > 0):
        return BAD_INTRINSICS
    if frame.depth.shape != shape or frame.instance_ids.shape != shape or frame.color.shape[:2] != shape:
        return SIZE_MISMATCH
    if not np.issubdtype(frame.instance_ids.dtype, np.integer):
        return BAD_INSTANCE_IMAGE
    pose = np.asarray(frame.T_world_camera, dtype=float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        return NON_FINITE_POSE
    rotation = pose[:3, :3]
    if (
        not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6)
        or not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3)
        or np.linalg.det(rotation) < 0.0
    ):
        return NON_RIGID_POSE
    return ""


class Fusion:
    """Integrates frames into a :class:`SceneGraph` and keeps counters of what happened.

    ``trust_external_ids``: associate by the source's instance ids first (module docstring).
    """

    def __init__(self, graph: SceneGraph, config: FusionConfig = FusionConfig(),
                 trust_external_ids: bool = True) -> None:
        self.graph = graph
        self.config = config
        self.trust_external_ids = trust_external_ids
        self._by_external: dict[str, str] = {}  # external id -> object id, valid at _external_seen
        self._external_seen: tuple[int, int] = (-1, -1)  # (id(graph), sequence) the map reflects
        self._counts: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self._rays: dict[tuple[CameraIntrinsics, int], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def stats(self) -> FusionStats:
        c = self._counts
        return FusionStats(
            frames=c["frames"], accepted=c["accepted"],
            rejected=tuple(sorted(self._rejected.items())), skipped_instances=tuple(sorted(self._skipped.items())),
            created=c["created"], merged=c["merged"], relocated=c["relocated"], marked_missing=c["missing"],
            folded=c["folded"], dropped=c["dropped"],
        )

    def integrate(self, frame: RGBDFrame) -> FrameReport:
        self._counts["frames"] += 1
        reason = validate_frame(frame)
        depth = frame.depth[:: self.config.stride, :: self.config.stride]
        if not reason:
            with np.errstate(invalid="ignore"):
                if not np.any(np.isfinite(depth) & (depth > self.config.min_depth)):
                    reason = NO_VALID_DEPTH
        if reason:
            self._rejected[reason] += 1
            log.warning("frame at %.3f rejected: %s", frame.stamp, reason)
            return FrameReport(accepted=False, reason=reason)
        self._counts["accepted"] += 1
        labels = {int(i): canonical_type(name) or name for i, name in frame.labels.items()}
        observations, skipped = self._observe(frame, labels)
        for _, why in skipped:
            self._skipped[why] += 1
        result: dict[str, list[str]] = {key: [] for key in _OUTCOMES}
        with self.graph.transaction(frame.stamp):
            newly_missing = self._negative_evidence(frame, labels, result)
            self._associate(observations, frame, result)
            for object_id in newly_missing:
                self._resolve_move(object_id, result)
            self._fold_furniture(result["merged"] + result["created"] + result["relocated"], frame.stamp, result)
        self._external_seen = (id(self.graph), self.graph.sequence)  # the map followed every change of ours
        for key in _OUTCOMES:
            self._counts[key] += len(result[key])
        created, merged, relocated, missing = (tuple(result[k]) for k in _OUTCOMES[:4])
        return FrameReport(True, "", created, merged, relocated, missing, skipped=tuple(skipped),
                           folded=tuple(result["folded"]), dropped=tuple(result["dropped"]))

    # ------------------------------------------------------------------ back-projection
    def _ray_factors(self, k: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
        """(u - cx) / fx per strided column and (v - cy) / fy per strided row, cached per camera."""
        key = (k, self.config.stride)
        if key not in self._rays:
            s = self.config.stride
            self._rays[key] = ((np.arange(0, k.width, s) - k.cx) / k.fx, (np.arange(0, k.height, s) - k.cy) / k.fy)
        return self._rays[key]

    def _observe(self, frame: RGBDFrame, labels: dict[int, str]) -> tuple[list[Observation], list[tuple[int, str]]]:
        cfg = self.config
        ids = frame.instance_ids[:: cfg.stride, :: cfg.stride]
        depth = frame.depth[:: cfg.stride, :: cfg.stride]
        with np.errstate(invalid="ignore"):
            usable = (ids != 0) & np.isfinite(depth) & (depth > cfg.min_depth) & (depth < cfg.max_depth)
        if cfg.drop_bled_edges:
            with np.errstate(invalid="ignore"):
                valid_depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)
            usable &= ~_bled(ids, valid_depth, cfg.bleed_jump, cfg.bleed_jump_per_m2)
        rows, cols = np.nonzero(usable)
        z = depth[rows, cols].astype(np.float64)
        x_factor, y_factor = self._ray_factors(frame.intrinsics)
        camera = np.stack([x_factor[cols] * z, y_factor[rows] * z, z], axis=1)
        pose = np.asarray(frame.T_world_camera, dtype=float)
        world = camera @ pose[:3, :3].T + pose[:3, 3]
        instance = ids[rows, cols]
        order = np.argsort(instance, kind="stable")
        found, starts, counts = np.unique(instance[order], return_index=True, return_counts=True)

        skipped: list[tuple[int, str]] = []
        present = set(int(i) for i in found)
        for missing_id in sorted(set(labels) - present):
            skipped.append((missing_id, EMPTY_MASK if not np.any(ids == missing_id) else TOO_FEW_POINTS))
        observations = []
        for inst, start, count in zip(found, starts, counts):
            inst = int(inst)
            label = labels.get(inst)
            why = ""
            if label is None:
                why = UNLABELLED
            elif count < cfg.min_points:
                why = TOO_FEW_POINTS
            elif frame.scores.get(inst, 1.0) < cfg.min_score:
                why = LOW_SCORE
            if why:
                skipped.append((inst, why))
                continue
            assert label is not None  # narrowing: an unlabelled instance was skipped above
            members = order[start : start + count]
            keep = _depth_inliers(z[members])
            if cfg.support_layer > 0 and np.count_nonzero(keep) >= cfg.min_points:
                kept = members[keep]
                keep[keep] = _standing_part(rows[kept], cols[kept], world[kept, 2], cfg.support_layer,
                                            cfg.support_share)
            if np.count_nonzero(keep) < cfg.min_points:
                skipped.append((inst, TOO_FEW_POINTS))
                continue
            layer = layer_of(label)
            voxel = cfg.furniture_voxel if layer == "furniture" else cfg.object_voxel
            points = voxel_downsample(world[members[keep]].astype(np.float32), voxel)
            lo, hi = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
            bounds = OrientedBox(tuple((lo + hi) / 2), tuple(np.maximum(hi - lo, 0.01)), 0.0)
            observations.append(Observation(label, layer, points, bounds, frame.external_ids.get(inst, "") or "", inst,
                                            float(frame.scores.get(inst, 1.0))))
        return observations, skipped

    # ------------------------------------------------------------------ negative evidence
    def _negative_evidence(self, frame: RGBDFrame, labels: dict[int, str], result: dict[str, list[str]]) -> list[str]:
        """Lower confidence of objects the view shows to be absent; returns ids newly marked missing."""
        cfg = self.config
        k = frame.intrinsics
        pose = np.asarray(frame.T_world_camera, dtype=float)
        rotation, origin = pose[:3, :3], pose[:3, 3]
        centre, radius = _view_ball(k, rotation, origin, cfg.max_depth)
        candidates = [o for o in self.graph.objects_in_ball(centre, radius) if o.status != MISSING]
        if not candidates:
            return []
        centroids = (np.array([o.centroid for o in candidates]) - origin) @ rotation
        depth_ok = (centroids[:, 2] > cfg.min_depth) & (centroids[:, 2] < cfg.max_depth)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = k.fx * centroids[:, 0] / centroids[:, 2] + k.cx
            v = k.fy * centroids[:, 1] / centroids[:, 2] + k.cy
        near_view = (depth_ok & (u > -0.25 * k.width) & (u < 1.25 * k.width)
                     & (v > -0.25 * k.height) & (v < 1.25 * k.height))
        newly_missing = []
        for index in np.nonzero(near_view)[0]:
            node = candidates[index]
            verdict = self._absent(node, frame, labels, rotation, origin)
            if not verdict:
                continue
            if node.observation_count <= 1 and not (self.trust_external_ids and node.external_id):
                # Seen once and refuted by the next look at its place: a false detection, not a memory.
                self.graph.remove_object(node.id, frame.stamp)
                result["dropped"].append(node.id)
                continue
            confidence = node.confidence * cfg.confidence_decay
            if confidence < cfg.missing_below:
                self.graph.upsert_object(replace(node, confidence=confidence, status=MISSING))
                result["missing"].append(node.id)
                newly_missing.append(node.id)
            else:
                self.graph.upsert_object(replace(node, confidence=confidence))
        return newly_missing

    def _absent(self, node: ObjectNode, frame: RGBDFrame, labels: dict[int, str],
                rotation: np.ndarray, origin: np.ndarray) -> bool:
        """Whether the view shows the node gone: most of its decisive stored points see through to
        something behind, or onto another object's surface.

        A point supports presence when any pixel within ``pose_tolerance`` of where it projects
        shows a surface at its depth that is not someone else's (an unlabelled pixel may be this
        object missed by the detector; a look-alike's label may be this object mislabelled), so a
        few cm of pose drift or a missed detection never reads as "gone"; and a point whose own
        pixel shows a surface in front of it is hidden (a closed door a few cm before it), whatever
        lies around it at its depth. A node seen only once gets neither benefit of the doubt:
        nothing vouches for it yet (given the second, a detector's one-off false positives that
        something then hid stayed: ``realistic`` duplicates 0.002 -> 0.006 on ``bench mapping``).
        """
        cfg = self.config
        u, v, expected = self._project(node, frame, rotation, origin)
        if len(u) == 0:
            return False
        k = frame.intrinsics
        reach = np.clip(np.ceil(k.fx * cfg.pose_tolerance / expected), 0, cfg.max_window_px).astype(np.int64)
        r = int(reach.max())
        grid_u, grid_v = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1))
        du, dv = grid_u.ravel(), grid_v.ravel()
        within = (np.abs(du)[None, :] <= reach[:, None]) & (np.abs(dv)[None, :] <= reach[:, None])
        uu = np.clip(u[:, None] + du[None, :], 0, k.width - 1)
        vv = np.clip(v[:, None] + dv[None, :], 0, k.height - 1)
        seen = frame.depth[vv, uu].astype(np.float64)
        valid = np.isfinite(seen) & (seen > 0)
        level = valid & (np.abs(seen - expected[:, None]) <= cfg.surface_tolerance) & within
        own = node.external_id if self.trust_external_ids else ""
        pixel_ids = frame.instance_ids[vv, uu]
        verdicts = {int(i): self._someone_else(node, own, labels.get(int(i), ""), frame.external_ids.get(int(i), ""))
                    for i in np.unique(pixel_ids[level])}
        other = np.zeros(pixel_ids.shape, dtype=bool)
        for i, is_other in verdicts.items():
            if is_other:
                other |= pixel_ids == i
        tentative = node.observation_count <= 1 and not own
        if tentative:
            other |= pixel_ids == 0
        supported = np.any(level & ~other, axis=1)
        c = r * (2 * r + 1) + r  # the centre of the window: the pixel the point projects to
        in_view = valid[:, c] & (tentative | (seen[:, c] >= expected - cfg.surface_tolerance))
        against = ~supported & in_view & ((seen[:, c] > expected + cfg.surface_tolerance)
                                          | np.any(level & other, axis=1))
        support, refute = int(np.count_nonzero(supported)), int(np.count_nonzero(against))
        decisive = support + refute
        return decisive >= cfg.min_evidence and refute >= cfg.absent_share * decisive

    def _project(self, node: ObjectNode, frame: RGBDFrame, rotation: np.ndarray,
                 origin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel column, row and expected depth of up to ``evidence_points`` of the node's stored
        points that fall inside the image in front of the camera."""
        cfg = self.config
        stored = self.graph.points(node.id)
        step = max(1, len(stored) // cfg.evidence_points)
        camera = (stored[::step].astype(np.float64) - origin) @ rotation
        camera = camera[camera[:, 2] > cfg.min_depth]
        k = frame.intrinsics
        u = np.rint(k.fx * camera[:, 0] / camera[:, 2] + k.cx).astype(np.int64)
        v = np.rint(k.fy * camera[:, 1] / camera[:, 2] + k.cy).astype(np.int64)
        inside = (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
        return u[inside], v[inside], camera[inside, 2]

    def _shows_part_of(self, frame: RGBDFrame, obs: Observation, node: ObjectNode) -> int:
        """How many of the node's sampled points this observation's own pixels show at the expected
        depth (a view of more of the same surface, e.g. its side as well as its front) or, for a
        piece that opens, hide (its door swung out in front of it). Hiding alone is not enough for
        other furniture: a chair pushed against another can hide it."""
        tolerance = self.config.surface_tolerance
        pose = np.asarray(frame.T_world_camera, dtype=float)
        u, v, expected = self._project(node, frame, pose[:3, :3], pose[:3, 3])
        seen = frame.depth[v, u].astype(np.float64)
        ours = (frame.instance_ids[v, u] == obs.instance) & np.isfinite(seen) & (seen <= expected + tolerance)
        kind = OBJECT_TYPES.get(node.label)
        if kind is None or not kind.openable:
            ours &= seen >= expected - tolerance
        return int(np.count_nonzero(ours))

    def _someone_else(self, node: ObjectNode, external_id: str, pixel_label: str,
                      pixel_external_id: Optional[str]) -> bool:
        """Whether a pixel belongs to another object than this node (with this trusted id): an
        unlabelled pixel does not; a pixel of a label the node's votes support (itself or a
        look-alike) only when trusted ids say it is another one."""
        if not pixel_label:
            return False
        if pixel_label == node.label or label_support(node, pixel_label, self.config.alike_weight) > 0.0:
            return bool(external_id and pixel_external_id and pixel_external_id != external_id)
        return True

    # ------------------------------------------------------------------ association
    def _associate(self, observations: list[Observation], frame: RGBDFrame, result: dict[str, list[str]]) -> None:
        cfg, stamp = self.config, frame.stamp
        used_obs: set[int] = set()
        used_nodes: set[str] = set()
        if self.trust_external_ids:
            for n, obs in enumerate(observations):
                node = self._node_named(obs.external_id, obs.label)
                if node is None or node.id in used_nodes:
                    continue
                used_obs.add(n)
                used_nodes.add(node.id)
                if self._overlap_score(obs, node) >= cfg.min_overlap or self._another_part(obs, node):
                    self._merge(node.id, obs, stamp)
                    result["merged"].append(node.id)
                else:  # the same object, somewhere else now: move it rather than remember it twice
                    self._relocate(_voted(node, obs.label, obs.score), obs.points, fit_box(obs.points), stamp,
                                   obs.external_id,
                                   confidence=max(node.confidence, cfg.initial_confidence))
                    result["relocated"].append(node.id)
        pairs = []
        for n, obs in enumerate(observations):
            if n in used_obs:
                continue
            for node in self.graph.objects_near_box(obs.bounds, cfg.association_margin):
                if node.layer == obs.layer and node.id not in used_nodes and self._may_be_one(obs.external_id, node):
                    score = self._match_score(obs, node)
                    if score > 0.0:
                        pairs.append((score, n, node.id))
        for _score, n, object_id in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if n in used_obs or object_id in used_nodes:
                continue
            used_obs.add(n)
            used_nodes.add(object_id)
            self._merge(object_id, observations[n], stamp)
            result["merged"].append(object_id)
        for n, obs in enumerate(observations):
            if n in used_obs:
                continue
            piece = self._piece_shown(frame, obs, used_nodes) if obs.layer == "furniture" else None
            moved = self._missing_twin(obs, exclude=used_nodes) if obs.layer == "object" else None
            if piece is not None:
                self._merge(piece.id, obs, stamp)
                used_nodes.add(piece.id)
                result["merged"].append(piece.id)
            elif moved is not None:
                self._relocate(_voted(moved, obs.label, obs.score), obs.points, fit_box(obs.points), stamp,
                               obs.external_id)
                used_nodes.add(moved.id)
                result["relocated"].append(moved.id)
            elif obs.layer == "object" and self._surface_of_another(obs):
                self._skipped[ON_ANOTHER_OBJECT] += 1
            else:
                result["created"].append(self._create(obs, stamp))

    def _surface_of_another(self, obs: Observation) -> bool:
        """Whether a would-be new object lies on the stored surface of a remembered object of
        another label (``claimed_share`` of its points within two voxels of that one's points)
        while memory holds one of its own label right beside it (``claimed_gap``): the pixels are
        the other object's, taken by a box drawn around the remembered one behind or beside it (a
        roll of paper behind a bottle, whose box holds the bottle), so they would make that one
        twice. Without such a neighbour the observation is a thing lying there (keys on a book).
        Receptacles are not such owners (what lies in a bowl or a drawer is close to its
        surface), nor a type the ontology does not know, nor furniture; and a trusted id names an
        object of its own."""
        cfg = self.config
        if self.trust_external_ids and obs.external_id:
            return False
        if not any(o.layer == "object" and o.status != MISSING and self._agrees(o, obs.label)
                   for o in self.graph.objects_near_box(obs.bounds, cfg.claimed_gap)):
            return False
        for node in self.graph.objects_near_box(obs.bounds, 0.0):
            if node.layer != "object" or node.status == MISSING or self._agrees(node, obs.label):
                continue
            kind = OBJECT_TYPES.get(node.label)
            if kind is None or kind.receptacle:
                continue
            distance, _ = cKDTree(self.graph.points(node.id)).query(
                obs.points, distance_upper_bound=2 * cfg.object_voxel)
            if np.count_nonzero(np.isfinite(distance)) >= cfg.claimed_share * len(obs.points):
                return True
        return False

    def _overlap_score(self, obs: Observation, node: ObjectNode) -> float:
        return _overlap(*obs.bounds.aabb(), *node.box.aabb(), self.config.association_margin)

    def _match_score(self, obs: Observation, node: ObjectNode) -> float:
        """How well an observation fits a remembered node of its layer, 0 for not at all.

        Geometry first: boxes must overlap (intersection over the smaller box, for partial
        views). Labels are a soft factor: a label the node's votes support (itself or a look-alike)
        needs only that overlap; any other label needs the boxes to be nearly one (IoU), so a
        mislabelled view of an object still merges into it while an apple on a plate stays an
        apple. Furniture is never taken for a piece of another kind: a sink sits inside a counter.
        """
        cfg = self.config
        lo_a, hi_a = obs.bounds.aabb()
        lo_b, hi_b = node.box.aabb()
        smaller = _overlap(lo_a, hi_a, lo_b, hi_b, cfg.association_margin)
        if smaller < cfg.min_overlap:
            return 0.0
        support = 1.0 if obs.label == node.label else label_support(node, obs.label, cfg.alike_weight)
        if support >= cfg.label_agreement:
            return smaller * (0.5 + 0.5 * support)
        if obs.layer == "furniture" or _iou(lo_a, hi_a, lo_b, hi_b, cfg.association_margin) < cfg.cross_label_iou:
            return 0.0
        return 0.5 * smaller

    def _piece_shown(self, frame: RGBDFrame, obs: Observation, exclude: set[str]) -> Optional[ObjectNode]:
        """The remembered same-label piece of furniture next to this observation whose own surface
        the observation's pixels show or hide (see :meth:`_shows_part_of`), if any."""
        best, most = None, self.config.min_evidence - 1
        for node in self.graph.objects_near_box(obs.bounds, self.config.furniture_part_gap):
            if node.label == obs.label and node.id not in exclude and self._may_be_one(obs.external_id, node):
                shown = self._shows_part_of(frame, obs, node)
                if shown > most:
                    best, most = node, shown
        return best

    def _another_part(self, obs: Observation, node: ObjectNode) -> bool:
        """A view of a named piece of furniture that does not overlap its remembered box shows more
        of the piece (its other end, its swung-out door), not the piece moved, when it touches the
        box or when both together still fit the piece's type (1.5 x its typical size)."""
        if node.layer != "furniture":
            return False
        if float(aabb_gap(*obs.bounds.aabb(), *node.box.aabb())) <= self.config.furniture_part_gap:
            return True
        kind = OBJECT_TYPES.get(node.label)
        if kind is None:
            return False
        both = fit_box(np.concatenate([obs.points, self.graph.points(node.id)]))
        return bool(np.all(np.sort(both.extent) <= 1.5 * np.sort(kind.size)))

    def _agrees(self, node: ObjectNode, label: str) -> bool:
        """Whether the node's label votes support ``label`` (itself or a look-alike) enough."""
        return (label == node.label
                or label_support(node, label, self.config.alike_weight) >= self.config.label_agreement)

    def _same_kind(self, a: ObjectNode, b: ObjectNode) -> bool:
        """Furniture: the same label. Objects: either node's votes support the other's label."""
        if a.layer == "furniture":
            return a.label == b.label
        return self._agrees(a, b.label) or self._agrees(b, a.label)

    def confirmed(self, node: ObjectNode) -> bool:
        """Whether a node has been seen often enough, or confidently enough, to report as a fact: a
        detector's false positive is rarely confident and rarely repeats at one place, and a
        once-seen node that the next look refutes is dropped (negative evidence)."""
        return (node.observation_count >= self.config.confirm_views
                or bool(self.trust_external_ids and node.external_id)
                or sum(weight for _, weight in node.label_votes) >= self.config.confirm_score)

    def _may_be_one(self, external_id: str, node: ObjectNode) -> bool:
        """False when trusted ids say these are two objects (both named, differently)."""
        return not (self.trust_external_ids and external_id and node.external_id and external_id != node.external_id)

    def _node_named(self, external_id: str, label: str) -> Optional[ObjectNode]:
        """The remembered object with this external id and label, if any."""
        if not external_id:
            return None
        if self._external_seen != (id(self.graph), self.graph.sequence):  # changed by someone else: re-read
            self._by_external = {}
            self._external_seen = (id(self.graph), self.graph.sequence)
        if self._by_external.get(external_id, "") not in self.graph:  # the latest seen under that id wins
            named = [self.graph.get_object(i) for i in self.graph.ids_with_external(external_id)]
            latest = max((n for n in named if n is not None), key=lambda o: (o.last_seen, o.id), default=None)
            if latest is None:
                return None
            self._by_external[external_id] = latest.id
        node = self.graph.get_object(self._by_external[external_id])
        return node if node is not None and node.external_id == external_id and node.label == label else None

    def _write(self, node: ObjectNode, points: Optional[np.ndarray]) -> None:
        """Write a node, keeping the external id map in step with this frame's own changes."""
        self.graph.upsert_object(node, points)
        if node.external_id:
            self._by_external[node.external_id] = node.id

    def _merge(self, object_id: str, obs: Observation, stamp: float) -> None:
        cfg = self.config
        node = self.graph.get_object(object_id)
        assert node is not None
        voxel = cfg.furniture_voxel if node.layer == "furniture" else cfg.object_voxel
        points = self._union(obs.points, self.graph.points(object_id), voxel)
        # Refit only when the new view reaches beyond the known box: the steady state of a robot
        # looking at what it already knows then costs no box search at all.
        grows = not np.all(node.box.contains(obs.points, margin=voxel))
        box = fit_box(points) if grows else node.box
        self._write(replace(
            _voted(node, obs.label, obs.score), centroid=box.center, box=box, last_seen=stamp,
            observation_count=node.observation_count + 1,
            confidence=node.confidence + cfg.confidence_gain * (1.0 - node.confidence),
            status=VISIBLE, external_id=obs.external_id or node.external_id,
        ), points)

    def _union(self, newer: np.ndarray, older: np.ndarray, voxel: float) -> np.ndarray:
        """Both clouds in one bounded voxel cloud (the newer points win a shared voxel)."""
        points = voxel_downsample(np.concatenate([newer, older]), voxel)
        if len(points) > self.config.max_points:
            points = points[:: int(np.ceil(len(points) / self.config.max_points))]
        return points

    def _create(self, obs: Observation, stamp: float) -> str:
        box = fit_box(obs.points)
        node = ObjectNode(
            id=self.graph.new_object_id(), label=obs.label, layer=obs.layer, centroid=box.center, box=box,
            first_seen=stamp, last_seen=stamp, last_changed=stamp, observation_count=1,
            confidence=self.config.initial_confidence, status=VISIBLE, external_id=obs.external_id,
            label_votes=((obs.label, obs.score),),
        )
        self._write(node, obs.points)
        return node.id

    def _missing_twin(self, obs: Observation, exclude: set[str]) -> Optional[ObjectNode]:
        """The most recently seen missing object of this label: the one that probably moved here."""
        # Only nodes with a vote for the label or a look-alike can agree with it (label_support).
        voted = self.graph.ids_voted((obs.label, *look_alikes(obs.label)))
        nodes = (self.graph.get_object(i) for i in self.graph.ids_with_status(MISSING) & voted)
        missing = [o for o in nodes if o is not None and self._agrees(o, obs.label)
                   and o.id not in exclude and self._may_be_one(obs.external_id, o)]
        return max(missing, key=lambda o: (o.last_seen, o.id)) if missing else None

    def _relocate(self, node: ObjectNode, points: np.ndarray, box: OrientedBox, stamp: float, external_id: str,
                  extra_count: int = 1, confidence: Optional[float] = None) -> None:
        self._write(replace(
            node, centroid=box.center, box=box, last_seen=stamp, status=MOVED,
            observation_count=node.observation_count + extra_count,
            confidence=self.config.initial_confidence if confidence is None else confidence,
            external_id=external_id or node.external_id,
        ), points)

    def _resolve_move(self, object_id: str, result: dict[str, list[str]]) -> None:
        """An object just went missing: if a same-label object appeared elsewhere since it was last
        seen, that one is this one having moved, so fold it into the older id."""
        node = self.graph.get_object(object_id)
        if node is None or node.status != MISSING or node.layer != "object":
            return
        # Candidates: the objects changed since it was last seen (a newcomer was first seen after,
        # so changed after) or those of a label it agrees with, whichever are fewer.
        by_label = self.graph.ids_with_labels([label for label in self.graph.labels() if self._agrees(node, label)])
        recent_count = self.graph.count_changed_since(node.last_seen)
        pool = self.graph.changed_since_ids(node.last_seen) if recent_count < len(by_label) else by_label
        newcomers = [
            o for o in (self.graph.get_object(i) for i in pool)
            if o is not None and o.status != MISSING and o.layer == "object" and self._agrees(node, o.label)
            and o.first_seen > node.last_seen and self._may_be_one(o.external_id, node)
        ]
        if not newcomers:
            return
        here = np.asarray(node.centroid)
        twin = min(newcomers, key=lambda o: (float(np.linalg.norm(np.asarray(o.centroid) - here)), o.id))
        points = self.graph.points(twin.id)
        self._absorb(twin, result)
        merged_states = replace(_pooled(node, twin),
                                states=tuple(sorted({**dict(node.states), **dict(twin.states)}.items())))
        self._relocate(merged_states, points, twin.box, twin.last_seen, twin.external_id,
                       extra_count=twin.observation_count, confidence=twin.confidence)
        result["relocated"].append(object_id)

    def _absorb(self, gone: ObjectNode, result: dict[str, list[str]]) -> None:
        """Remove a node that turned out to be another one; this frame's report no longer names it."""
        self.graph.remove_object(gone.id, gone.last_seen)
        for key in ("created", "merged", "relocated"):
            if gone.id in result[key]:
                result[key].remove(gone.id)

    # ------------------------------------------------------------------ furniture folding
    def _fold_furniture(self, touched: list[str], stamp: float, result: dict[str, list[str]]) -> None:
        """Fold same-label furniture whose boxes interpenetrate into the older node (module docstring),
        and likewise two object nodes whose labels agree (votes, look-alikes) and whose boxes are
        mostly one: the duplicate a mislabelled or drifted view left, once a view joins them."""
        cfg = self.config
        for object_id in dict.fromkeys(touched):
            node = self.graph.get_object(object_id)
            if node is not None and node.layer == "object" and self.trust_external_ids and node.external_id:
                continue  # trusted ids already tell named objects apart, and name duplicates one
            while node is not None:
                voxel = cfg.furniture_voxel if node.layer == "furniture" else cfg.object_voxel
                other = next((o for o in self.graph.objects_near_box(node.box, voxel)
                              if o.id != node.id and o.layer == node.layer and self._same_kind(node, o)
                              and self._may_be_one(o.external_id, node)
                              and _inside_share(node.box, o.box, voxel) >= cfg.fold_inside), None)
                if other is None:
                    break
                keep, gone = sorted((node, other), key=lambda o: (o.first_seen, o.id))
                points = self._union(self.graph.points(gone.id), self.graph.points(keep.id), voxel)
                box = fit_box(points)
                self._absorb(gone, result)
                newer = max((keep, gone), key=lambda o: (o.last_seen, o.id))
                self._write(replace(
                    _pooled(keep, gone), centroid=box.center, box=box, last_seen=newer.last_seen, status=newer.status,
                    observation_count=keep.observation_count + gone.observation_count,
                    confidence=max(keep.confidence, gone.confidence),
                    states=tuple(sorted({**dict(gone.states), **dict(keep.states)}.items())),
                    external_id=keep.external_id or gone.external_id,
                ), points)
                result["folded"].append(gone.id)
                if keep.id not in result["merged"] + result["created"] + result["relocated"]:
                    result["merged"].append(keep.id)
                node = self.graph.get_object(keep.id)


_OUTCOMES = ("created", "merged", "relocated", "missing", "folded", "dropped")


def _view_ball(k: CameraIntrinsics, rotation: np.ndarray, origin: np.ndarray,
               max_depth: float) -> tuple[np.ndarray, float]:
    """A ball (world centre, radius) holding every point that negative evidence may test: in front of
    the camera up to ``max_depth`` and projecting within a quarter image beyond each edge. The
    pyramid's smallest enclosing ball along the optical axis; memory outside it is never looked at."""
    ax = max(abs(-0.25 * k.width - k.cx), abs(1.25 * k.width - k.cx)) / k.fx
    ay = max(abs(-0.25 * k.height - k.cy), abs(1.25 * k.height - k.cy)) / k.fy
    spread = ax * ax + ay * ay  # squared tangent of the far corners' angle off the axis
    along = min(max_depth, max_depth * (1.0 + spread) / 2.0)
    radius = max(along, float(np.sqrt((max_depth - along) ** 2 + max_depth * max_depth * spread)))
    return origin + rotation[:, 2] * along, radius * (1.0 + 1e-9) + 1e-6


def _inside_share(a: OrientedBox, b: OrientedBox, margin: float) -> float:
    """Share of the smaller box's volume inside the larger one grown by ``margin`` (sampled)."""
    small, large = (a, b) if a.volume <= b.volume else (b, a)
    return float(np.mean(large.contains(small.grid(4), margin=margin)))


def _depth_inliers(z: np.ndarray) -> np.ndarray:
    """Drop flying pixels at instance edges: depths far from the instance's median (robust MAD)."""
    median = np.median(z)
    spread = max(0.1, 4.0 * 1.4826 * float(np.median(np.abs(z - median))))
    return np.abs(z - median) <= spread


def _standing_part(rows: np.ndarray, cols: np.ndarray, height: np.ndarray, layer: float,
                   min_share: float) -> np.ndarray:
    """Of an instance's pixels (image ``rows``, ``cols``; world ``height``, z up), those of the object
    itself when its mask took in the surface it stands on; all of them otherwise.

    A mask cut from a box by depth, and often a detector's own mask, takes in the floor or table top
    around the object's foot, which is continuous in depth with it, and through that surface often a
    wall or a neighbour too. In the world frame the surface is the instance's lowest layer and holds a
    large share of its pixels, where a right mask's lowest layer is a thin strip of a face. When that
    layer holds at least ``min_share`` of the pixels and a tenth stay above it, it is cut, and of
    what the cut leaves apart in the image the segment at the mask's middle is the object. A flat
    object (a book on a table, a rug) lies all in its lowest layer and is kept whole."""
    inside = height <= np.percentile(height, 1) + layer
    share = np.count_nonzero(inside) / height.size
    if share < min_share or share > 0.9:
        return np.ones(height.size, dtype=bool)
    r0, c0 = int(rows.min()), int(cols.min())
    grid = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
    grid[rows[~inside] - r0, cols[~inside] - c0] = True
    segments, count = ndimage.label(grid)
    best = central_segment(segments, count)
    return segments[rows - r0, cols - c0] == best if best else np.ones(height.size, dtype=bool)


def _overlap(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray, margin: float) -> float:
    """Intersection over the smaller volume of two grown AABBs: partial views still match whole objects."""
    lo_a, hi_a, lo_b, hi_b = lo_a - margin, hi_a + margin, lo_b - margin, hi_b + margin
    inter = np.prod(np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0.0, None))
    smaller = min(np.prod(hi_a - lo_a), np.prod(hi_b - lo_b))
    return float(inter / smaller) if smaller > 0 else 0.0


def _iou(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray, margin: float) -> float:
    """Intersection over union of two grown AABBs."""
    lo_a, hi_a, lo_b, hi_b = lo_a - margin, hi_a + margin, lo_b - margin, hi_b + margin
    inter = float(np.prod(np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0.0, None)))
    union = float(np.prod(hi_a - lo_a) + np.prod(hi_b - lo_b)) - inter
    return inter / union if union > 0 else 0.0


def label_votes(node: ObjectNode) -> dict[str, float]:
    """The node's label distribution (a node made without votes has one vote for its label)."""
    return dict(node.label_votes) if node.label_votes else {node.label: 1.0}


def label_support(node: ObjectNode, label: str, alike_weight: float) -> float:
    """Share of the node's votes that speak for ``label``, a look-alike's vote counting ``alike_weight``."""
    votes = label_votes(node)
    total = sum(votes.values())
    if total <= 0.0:
        return 0.0
    return (votes.get(label, 0.0) + alike_weight * sum(votes.get(a, 0.0) for a in look_alikes(label))) / total


def _with_votes(node: ObjectNode, votes: dict[str, float]) -> ObjectNode:
    """The node with these votes and their winner as its label (ties: the current label, then by name)."""
    winner = max(votes, key=lambda name: (round(votes[name], 9), name == node.label, name))
    return replace(node, label=winner, label_votes=tuple(sorted((k, round(v, 6)) for k, v in votes.items())))


def _voted(node: ObjectNode, label: str, score: float) -> ObjectNode:
    """The node after one more observation labelled ``label`` with detector score ``score``."""
    votes = label_votes(node)
    votes[label] = votes.get(label, 0.0) + max(float(score), 0.0)
    return _with_votes(node, votes)


def _pooled(keep: ObjectNode, gone: ObjectNode) -> ObjectNode:
    """``keep`` with the votes of a node found to be the same object added to its own."""
    votes = label_votes(keep)
    for name, weight in label_votes(gone).items():
        votes[name] = votes.get(name, 0.0) + weight
    return _with_votes(keep, votes)


def _bled(ids: np.ndarray, depth: np.ndarray, jump: float, per_m2: float) -> np.ndarray:
    """Pixels at a mask's edge that lie well behind a neighbour of their own instance and at the
    depth of the background just outside the mask: a mask bled onto what is behind the object
    (detectors' masks overrun edges by a pixel or two). A face seen edge-on also lies behind its
    neighbour, but not at the background's depth, so it stays. ``depth`` is 0 where invalid."""
    out = np.zeros(ids.shape, dtype=bool)
    noise = per_m2 * depth * depth
    for axis in (0, 1):
        for shift in (1, -1):
            neighbour_id = np.roll(ids, shift, axis=axis)
            neighbour_depth = np.roll(depth, shift, axis=axis)
            outside_id = np.roll(ids, -shift, axis=axis)
            outside_depth = np.roll(depth, -shift, axis=axis)
            behind = (neighbour_id == ids) & (neighbour_depth > 0) & (depth - neighbour_depth > jump + noise)
            background = ((outside_id != ids) & (outside_depth > 0)
                          & (np.abs(depth - outside_depth) <= 0.3 * jump + noise))
            out |= behind & background
    return out
