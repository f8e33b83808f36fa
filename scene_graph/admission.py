"""Admission of untrusted input into memory: stamps, poses, intrinsics, labels and scores.

Everything a camera, a pose source or any peer on the network sends is checked here before it can
change memory, because a single bad value does lasting damage: a frame stamped years ahead makes
every real frame look stale, a pose at 1e300 m or a focal length of 1e-30 px puts NaN or absurd
centroids into saved memory, a NaN score passes any ``score < min_score`` test, and a label is
text that ends up in prompts. Pure functions over core records, so the node and any other owner
apply the same rules; each rejection has a short code (the part before ':') for counting.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

import numpy as np

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.records import AreaNode, ObjectNode, RoomNode

FUTURE_STAMP = "future_stamp"
OUTSIDE_WORKSPACE = "outside_workspace"
ABSURD_INTRINSICS = "absurd_intrinsics"
BAD_LABEL = "bad_label"
BAD_SCORE = "bad_score"
BAD_LAYOUT = "bad_layout"
BAD_CHANGE = "bad_change"
BAD_OBJECT = "bad_object"


class Inadmissible(ValueError):
    """Input that must not enter memory; the message starts with its code."""


@dataclass(frozen=True)
class AdmissionLimits:
    """Bounds on untrusted input; defaults fit any household robot and camera."""

    max_future_s: float = 1.0  # a stamp this far ahead of the clock is rejected
    max_label_chars: int = 64
    workspace_margin_m: float = 10.0  # around the layout's bounds
    default_workspace_m: float = 300.0  # half-extent around the origin while no layout is known
    max_coordinate_m: float = 10000.0  # no layout or pose coordinate beyond this
    max_image_side: int = 8192
    min_fov_deg: float = 1.0  # per axis: below this the focal length is absurdly long
    max_fov_deg: float = 170.0  # per axis: beyond this back-projection throws points far away


@dataclass(frozen=True)
class Workspace:
    """An axis-aligned box (metres, world frame) every fused point must lie in."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]

    def contains(self, points: np.ndarray) -> bool:
        pts = np.asarray(points, dtype=float).reshape(-1, 3)
        return bool(np.all(np.isfinite(pts)) and np.all(pts >= self.low) and np.all(pts <= self.high))


def workspace_for(rooms: Sequence[RoomNode], areas: Sequence[AreaNode], limits: AdmissionLimits) -> Workspace:
    """The layout's bounds plus the margin (z from the floor to a few storeys), else a box around the origin."""
    xy = [p for room in rooms for p in room.polygon] + [a.position[:2] for a in areas]
    if not xy:
        d = limits.default_workspace_m
        return Workspace((-d, -d, -d), (d, d, d))
    m = limits.workspace_margin_m
    coords = np.asarray(xy, dtype=float)
    z = [a.position[2] for a in areas] or [0.0]
    low = (*(coords.min(axis=0) - m), min(z) - m)
    high = (*(coords.max(axis=0) + m), max(z) + m)
    return Workspace(tuple(float(v) for v in low), tuple(float(v) for v in high))  # type: ignore[arg-type]


def check_layout(rooms: Sequence[RoomNode], areas: Sequence[AreaNode], limits: AdmissionLimits) -> str:
    """Why a layout is unusable, or "": finite coordinates within ``max_coordinate_m``, clean names."""
    values = [v for room in rooms for p in room.polygon for v in p] + [v for a in areas for v in a.position]
    if not all(math.isfinite(v) and abs(v) <= limits.max_coordinate_m for v in values):
        return f"{BAD_LAYOUT}: coordinates must be finite and within {limits.max_coordinate_m} m"
    for text in [r.id for r in rooms] + [r.kind for r in rooms] + [a.id for a in areas]:
        reason = check_label(text, limits)
        if reason:
            return f"{BAD_LAYOUT}: {reason}"
    return ""


def check_stamp(stamp: float, now: float, limits: AdmissionLimits) -> str:
    """Why ``stamp`` is not admissible against the clock reading ``now``, or "".

    A clock that reads zero has not started (simulated time before the first /clock): nothing to
    compare against, so only finiteness is checked.
    """
    if not math.isfinite(stamp):
        return f"{FUTURE_STAMP}: stamp is not finite"
    if now > 0.0 and stamp > now + limits.max_future_s:
        return f"{FUTURE_STAMP}: stamp {stamp:.3f} is {stamp - now:.3f} s ahead of the clock"
    return ""


def resume_stamp(last_seen: Iterable[float], now: float) -> float:
    """The stamp a restarted input stream must follow: the newest of memory's, never ahead of ``now``
    (a memory saved with a stamp from the future must not make every real frame look stale)."""
    newest = max((s for s in last_seen if math.isfinite(s)), default=-1.0)
    return min(newest, now) if now > 0.0 else newest


def check_label(label: str, limits: AdmissionLimits) -> str:
    """Why ``label`` is not a usable name, or "": non-empty, one printable line, not too long."""
    if not isinstance(label, str) or not label.strip():
        return f"{BAD_LABEL}: empty"
    if len(label) > limits.max_label_chars:
        return f"{BAD_LABEL}: {len(label)} characters, at most {limits.max_label_chars}"
    if not label.isprintable():  # control characters, line and paragraph separators
        return f"{BAD_LABEL}: not one printable line"
    return ""


def _finite_within(values: Sequence[float], limits: AdmissionLimits) -> bool:
    return all(math.isfinite(v) and abs(v) <= limits.max_coordinate_m for v in values)


def check_change(object_id: str, object_type: str, state: str, value: str, stamp: float, now: float,
                 limits: AdmissionLimits, position: Sequence[float] = (0.0, 0.0, 0.0)) -> str:
    """Why a reported state change must not enter memory, or "": a stamp ahead of the clock, a
    position that is not finite or absurdly far, or a name or value that is not one short printable
    line (a location change may clear its value). These words reach prompts and stay in memory."""
    reason = check_stamp(stamp, now, limits)
    if reason:
        return reason
    if not _finite_within(position, limits):
        return f"{BAD_CHANGE}: position must be finite and within {limits.max_coordinate_m} m"
    words = [("object_id", object_id), ("state", state)] + ([("object_type", object_type)] if object_type else [])
    if value or state not in ("position", "parent", "picked_up"):
        words.append(("value", value))
    for name, text in words:
        why = check_label(text, limits)
        if why:
            return f"{BAD_CHANGE}: {name}: {why}"
    return ""


def check_object(node: ObjectNode, now: float, limits: AdmissionLimits) -> str:
    """Why an object record from a peer (a graph update) must not be kept, or "": the same rules
    as for what fusion makes (finite geometry, clean label and states, no stamp ahead of the clock)."""
    geometry = [*node.centroid, *node.box.center, *node.box.extent]
    if not _finite_within(geometry, limits):
        return f"{BAD_OBJECT}: geometry must be finite and within {limits.max_coordinate_m} m"
    for text in [node.id, node.label] + [w for name, value in node.states for w in (name, str(value))]:
        why = check_label(text, limits)
        if why:
            return f"{BAD_OBJECT}: {why}"
    for stamp in (node.first_seen, node.last_seen, node.last_changed):
        reason = check_stamp(stamp, now, limits)
        if reason:
            return f"{BAD_OBJECT}: {reason}"
    return ""


def check_intrinsics(k: CameraIntrinsics, limits: AdmissionLimits) -> str:
    """Why a camera model is absurd, or "": sizes, fields of view and principal point within reason."""
    if not (0 < k.width <= limits.max_image_side and 0 < k.height <= limits.max_image_side):
        return f"{ABSURD_INTRINSICS}: image {k.width}x{k.height}"
    values = (k.fx, k.fy, k.cx, k.cy)
    if not all(math.isfinite(v) for v in values) or k.fx <= 0.0 or k.fy <= 0.0:
        return f"{ABSURD_INTRINSICS}: focal lengths must be finite and positive"
    for size, focal in ((k.width, k.fx), (k.height, k.fy)):
        fov = math.degrees(2.0 * math.atan2(size / 2.0, focal))
        if not limits.min_fov_deg <= fov <= limits.max_fov_deg:
            return f"{ABSURD_INTRINSICS}: field of view {fov:.3g} deg outside [{limits.min_fov_deg}, " \
                   f"{limits.max_fov_deg}]"
    if not (-k.width <= k.cx <= 2 * k.width and -k.height <= k.cy <= 2 * k.height):
        return f"{ABSURD_INTRINSICS}: principal point ({k.cx:.1f}, {k.cy:.1f}) far outside the image"
    return ""


def frustum_corners(frame: RGBDFrame, max_depth: float) -> np.ndarray:
    """World points bounding every point the frame can back-project (depth up to ``max_depth``).

    Back-projection is linear in the pixel for a fixed depth and linear in depth along a ray, so the
    image corners at the nearest and farthest usable depth span all of them."""
    k = frame.intrinsics
    pose = np.asarray(frame.T_world_camera, dtype=float)
    if pose.shape != (4, 4):
        return np.full((1, 3), np.nan)
    with np.errstate(invalid="ignore"):
        depth = frame.depth[np.isfinite(frame.depth) & (frame.depth > 0.0)]
    far = float(min(depth.max(), max_depth)) if depth.size else 0.0
    us = np.array([0.0, k.width - 1.0])
    vs = np.array([0.0, k.height - 1.0])
    corners = [((u - k.cx) / k.fx * z, (v - k.cy) / k.fy * z, z) for u in us for v in vs for z in (0.0, far)]
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(corners) @ pose[:3, :3].T + pose[:3, 3]


class FrameAdmission:
    """Checks frames before fusion and keeps the rejection counts per code.

    A frame with an absurd camera or pose is rejected whole; an instance with a bad label or score
    is dropped from the frame (its label removed, so fusion skips it) and the rest is used.
    """

    def __init__(self, limits: AdmissionLimits = AdmissionLimits(), max_depth: float = 8.0) -> None:
        self.limits = limits
        self.max_depth = max_depth
        self.workspace = workspace_for((), (), limits)
        self.rejected: Counter[str] = Counter()

    def set_layout(self, rooms: Sequence[RoomNode], areas: Sequence[AreaNode]) -> None:
        self.workspace = workspace_for(rooms, areas, self.limits)

    def count(self, reason: str) -> str:
        if reason:
            self.rejected[reason.split(":")[0]] += 1
        return reason

    def admit(self, frame: RGBDFrame, now: float = 0.0) -> tuple[Optional[RGBDFrame], str]:
        """(the frame to fuse, "") or (None, the reason it was rejected)."""
        reason = check_stamp(frame.stamp, now, self.limits) or check_intrinsics(frame.intrinsics, self.limits)
        if not reason:
            corners = frustum_corners(frame, self.max_depth)
            # The camera must stand in the workspace and its view be finite; the view itself may look
            # past the margin (a long room seen diagonally at max_depth reaches ~1.3 x max_depth away).
            if not (np.all(np.isfinite(corners)) and self.workspace.contains(corners[0])):
                reason = f"{OUTSIDE_WORKSPACE}: the camera stands outside {self.workspace.low}..{self.workspace.high}"
        if reason:
            return None, self.count(reason)
        bad: set[int] = set()
        for inst, label in frame.labels.items():
            why = check_label(label, self.limits)
            score = frame.scores.get(inst, 1.0)
            if not why and not (isinstance(score, (int, float)) and math.isfinite(score) and 0.0 <= score <= 1.0):
                why = f"{BAD_SCORE}: {score!r}"
            if why:
                self.count(why)
                bad.add(inst)
        if bad:
            frame = replace(frame, labels={i: v for i, v in frame.labels.items() if i not in bad},
                            scores={i: v for i, v in frame.scores.items() if i not in bad})
        return frame, ""


# ------------------------------------------------------------------ requests
REQUEST_TOO_LARGE = "request_too_large"


@dataclass(frozen=True)
class RequestLimits:
    """Sizes of service and action requests: untrusted text costs embedding, prompt and planning time."""

    max_text_chars: int = 2000  # query text, instruction, one goal condition
    max_ids: int = 200  # ids in one request (relevant_ids)
    max_id_chars: int = 128  # one id, label, room or skill name
    max_goal_conditions: int = 32
    max_results: int = 1000  # k


def check_request(limits: RequestLimits, texts: Sequence[tuple[str, str]] = (),
                  names: Sequence[tuple[str, str]] = (), ids: Sequence[str] = (), k: int = 0,
                  goal_conditions: Sequence[str] = ()) -> str:
    """Why a request is too large, or "": ``texts`` and ``names`` are (field, value) pairs."""
    for field_name, text in texts:
        if len(text) > limits.max_text_chars:
            return f"{REQUEST_TOO_LARGE}: {field_name} has {len(text)} characters, at most {limits.max_text_chars}"
    for field_name, name in names:
        if len(name) > limits.max_id_chars:
            return f"{REQUEST_TOO_LARGE}: {field_name} has {len(name)} characters, at most {limits.max_id_chars}"
    if len(ids) > limits.max_ids or any(len(i) > limits.max_id_chars for i in ids):
        return f"{REQUEST_TOO_LARGE}: at most {limits.max_ids} ids of at most {limits.max_id_chars} characters"
    if k > limits.max_results:
        return f"{REQUEST_TOO_LARGE}: k is {k}, at most {limits.max_results}"
    if len(goal_conditions) > limits.max_goal_conditions or any(
            len(c) > limits.max_text_chars for c in goal_conditions):
        return f"{REQUEST_TOO_LARGE}: at most {limits.max_goal_conditions} goal conditions of at most " \
               f"{limits.max_text_chars} characters"
    return ""
