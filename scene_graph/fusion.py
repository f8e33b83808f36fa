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
4. **Associate** each observation with a remembered object of the same label whose box overlaps,
   then **merge** (bounded voxel cloud, box refit) or **create**. An object's centroid is the
   centre of its fitted box, not the mean of its points: the points are surfaces, and their mean
   is pulled towards whichever faces the camera happened to see most. A pickupable object
   re-observed elsewhere while its old place was seen empty is *relocated*: it keeps its id and
   moves, so memory never holds one object in two places (whichever of the two events comes first).

Everything inside one frame is a single graph transaction, hence one delta.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.graph import SceneGraph
from scene_graph.ontology import canonical_type, layer_of
from scene_graph.records import MISSING, MOVED, VISIBLE, ObjectNode, OrientedBox

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
    missing_below: float = 0.6


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


@dataclass(frozen=True, eq=False)
class Observation:
    """One instance of one frame in world coordinates, ready to associate."""

    label: str
    layer: str
    points: np.ndarray  # (n, 3) float32, voxel-downsampled
    bounds: OrientedBox  # axis-aligned, for association; an oriented fit is made only when needed
    external_id: str = ""


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
    """Integrates frames into a :class:`SceneGraph` and keeps counters of what happened."""

    def __init__(self, graph: SceneGraph, config: FusionConfig = FusionConfig()) -> None:
        self.graph = graph
        self.config = config
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
        result: dict[str, list[str]] = {"created": [], "merged": [], "relocated": [], "missing": []}
        with self.graph.transaction(frame.stamp):
            newly_missing = self._negative_evidence(frame, labels, result)
            self._associate(observations, frame.stamp, result)
            for object_id in newly_missing:
                self._resolve_move(object_id, result)
        for key in ("created", "merged", "relocated", "missing"):
            self._counts[key] += len(result[key])
        return FrameReport(True, "", *(tuple(result[k]) for k in ("created", "merged", "relocated", "missing")),
                           skipped=tuple(skipped))

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
            members = order[start : start + count]
            keep = _depth_inliers(z[members])
            if np.count_nonzero(keep) < cfg.min_points:
                skipped.append((inst, TOO_FEW_POINTS))
                continue
            layer = layer_of(label)
            voxel = cfg.furniture_voxel if layer == "furniture" else cfg.object_voxel
            points = voxel_downsample(world[members[keep]].astype(np.float32), voxel)
            lo, hi = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
            bounds = OrientedBox(tuple((lo + hi) / 2), tuple(np.maximum(hi - lo, 0.01)), 0.0)
            observations.append(Observation(label, layer, points, bounds, frame.external_ids.get(inst, "")))
        return observations, skipped

    # ------------------------------------------------------------------ negative evidence
    def _negative_evidence(self, frame: RGBDFrame, labels: dict[int, str], result: dict[str, list[str]]) -> list[str]:
        """Lower confidence of objects the view shows to be absent; returns ids newly marked missing."""
        cfg = self.config
        candidates = self.graph.objects(include_missing=False)
        if not candidates:
            return []
        k = frame.intrinsics
        pose = np.asarray(frame.T_world_camera, dtype=float)
        rotation, origin = pose[:3, :3], pose[:3, 3]
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
        cfg = self.config
        stored = self.graph.points(node.id)
        if len(stored) == 0:
            return False
        step = max(1, len(stored) // cfg.evidence_points)
        camera = (stored[::step].astype(np.float64) - origin) @ rotation
        camera = camera[camera[:, 2] > cfg.min_depth]
        k = frame.intrinsics
        u = np.rint(k.fx * camera[:, 0] / camera[:, 2] + k.cx).astype(np.int64)
        v = np.rint(k.fy * camera[:, 1] / camera[:, 2] + k.cy).astype(np.int64)
        inside = (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
        u, v, expected = u[inside], v[inside], camera[inside, 2]
        seen = frame.depth[v, u].astype(np.float64)
        valid = np.isfinite(seen) & (seen > 0)
        beyond = valid & (seen > expected + cfg.surface_tolerance)
        level = valid & (np.abs(seen - expected) <= cfg.surface_tolerance)
        pixel_labels = [labels.get(int(i), "") for i in frame.instance_ids[v, u]]
        other = np.array([lab not in ("", node.label) for lab in pixel_labels], dtype=bool)
        # A surface at the expected depth supports presence unless another object's label owns it
        # (an unlabelled pixel may be this object missed by the detector).
        support = int(np.count_nonzero(level & ~other))
        against = int(np.count_nonzero(beyond) + np.count_nonzero(level & other))
        decisive = support + against
        return decisive >= cfg.min_evidence and against >= cfg.absent_share * decisive

    # ------------------------------------------------------------------ association
    def _associate(self, observations: list[Observation], stamp: float, result: dict[str, list[str]]) -> None:
        cfg = self.config
        pairs = []
        for n, obs in enumerate(observations):
            lo_o, hi_o = obs.bounds.aabb()
            for node in self.graph.objects_near_box(obs.bounds, cfg.association_margin):
                if node.label == obs.label:
                    lo_n, hi_n = node.box.aabb()
                    score = _overlap(lo_o, hi_o, lo_n, hi_n, cfg.association_margin)
                    if score >= cfg.min_overlap:
                        pairs.append((score, n, node.id))
        used_obs: set[int] = set()
        used_nodes: set[str] = set()
        for score, n, object_id in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if n in used_obs or object_id in used_nodes:
                continue
            used_obs.add(n)
            used_nodes.add(object_id)
            self._merge(object_id, observations[n], stamp)
            result["merged"].append(object_id)
        for n, obs in enumerate(observations):
            if n in used_obs:
                continue
            moved = self._missing_twin(obs.label, exclude=used_nodes) if obs.layer == "object" else None
            if moved is not None:
                self._relocate(moved, obs.points, fit_box(obs.points), stamp, obs.external_id)
                used_nodes.add(moved.id)
                result["relocated"].append(moved.id)
            else:
                result["created"].append(self._create(obs, stamp))

    def _merge(self, object_id: str, obs: Observation, stamp: float) -> None:
        cfg = self.config
        node = self.graph.get_object(object_id)
        assert node is not None
        voxel = cfg.furniture_voxel if node.layer == "furniture" else cfg.object_voxel
        points = voxel_downsample(np.concatenate([obs.points, self.graph.points(object_id)]), voxel)
        if len(points) > cfg.max_points:
            points = points[:: int(np.ceil(len(points) / cfg.max_points))]
        # Refit only when the new view reaches beyond the known box: the steady state of a robot
        # looking at what it already knows then costs no box search at all.
        grows = not np.all(node.box.contains(obs.points, margin=voxel))
        box = fit_box(points) if grows else node.box
        self.graph.upsert_object(replace(
            node, centroid=box.center, box=box, last_seen=stamp,
            observation_count=node.observation_count + 1,
            confidence=node.confidence + cfg.confidence_gain * (1.0 - node.confidence),
            status=VISIBLE, external_id=obs.external_id or node.external_id,
        ), points)

    def _create(self, obs: Observation, stamp: float) -> str:
        box = fit_box(obs.points)
        node = ObjectNode(
            id=self.graph.new_object_id(), label=obs.label, layer=obs.layer, centroid=box.center, box=box,
            first_seen=stamp, last_seen=stamp, last_changed=stamp, observation_count=1,
            confidence=self.config.initial_confidence, status=VISIBLE, external_id=obs.external_id,
        )
        self.graph.upsert_object(node, obs.points)
        return node.id

    def _missing_twin(self, label: str, exclude: set[str]) -> Optional[ObjectNode]:
        """The most recently seen missing object of this label: the one that probably moved here."""
        missing = [o for o in self.graph.objects() if o.status == MISSING and o.label == label and o.id not in exclude]
        return max(missing, key=lambda o: (o.last_seen, o.id)) if missing else None

    def _relocate(self, node: ObjectNode, points: np.ndarray, box: OrientedBox, stamp: float, external_id: str,
                  extra_count: int = 1, confidence: Optional[float] = None) -> None:
        self.graph.upsert_object(replace(
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
        newcomers = [
            o for o in self.graph.objects(include_missing=False)
            if o.label == node.label and o.first_seen > node.last_seen
        ]
        if not newcomers:
            return
        here = np.asarray(node.centroid)
        twin = min(newcomers, key=lambda o: (float(np.linalg.norm(np.asarray(o.centroid) - here)), o.id))
        points = self.graph.points(twin.id)
        self.graph.remove_object(twin.id, twin.last_seen)
        merged_states = replace(node, states=tuple(sorted({**dict(node.states), **dict(twin.states)}.items())))
        self._relocate(merged_states, points, twin.box, twin.last_seen, twin.external_id,
                       extra_count=twin.observation_count, confidence=twin.confidence)
        result["relocated"].append(object_id)
        for key in ("created", "merged"):
            if twin.id in result[key]:
                result[key].remove(twin.id)


def _depth_inliers(z: np.ndarray) -> np.ndarray:
    """Drop flying pixels at instance edges: depths far from the instance's median (robust MAD)."""
    median = np.median(z)
    spread = max(0.1, 4.0 * 1.4826 * float(np.median(np.abs(z - median))))
    return np.abs(z - median) <= spread


def _overlap(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray, margin: float) -> float:
    """Intersection over the smaller volume of two grown AABBs: partial views still match whole objects."""
    lo_a, hi_a, lo_b, hi_b = lo_a - margin, hi_a + margin, lo_b - margin, hi_b + margin
    inter = np.prod(np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0.0, None))
    smaller = min(np.prod(hi_a - lo_a), np.prod(hi_b - lo_b))
    return float(inter / smaller) if smaller > 0 else 0.0
