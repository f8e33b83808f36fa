"""Perception models: what a real camera, detector and tracker make of a rendered frame.

The simulator renders perfect frames (exact depth, exact instance masks, the true type of every
object and its persistent objectId). No robot gets that. A :class:`Perception` turns each rendered
frame into what a RealSense-class camera plus an open-vocabulary detector and a tracker give, at
the one place every runtime shares (``HomeWorld.render``), so memory in process and memory behind
the ROS bridge see the very same frames.

Presets by name (:func:`preset`): ``oracle`` (the frame untouched: the ceiling, and today's
behaviour), ``realistic`` and ``harsh`` (every rate of ``realistic`` doubled). Every rate is a
field of :class:`PerceptionConfig`; one seeded generator drives all of them, so the same seed and
the same sequence of frames give the same output, bit for bit.

What ``realistic`` does to a frame, in order:

1. **Misses**: each instance is detected with a probability that falls with distance, with
   occlusion (its visible area against the area its type's typical size would cover at that
   depth) and with small apparent size. A missed instance's pixels become "no instance".
2. **Labels**: a detected object takes a look-alike's label (``LOOK_ALIKES`` of the ontology:
   Mug/Cup, Apple/Tomato, ...) at ``confusion_rate``, any other type of its layer at
   ``random_confusion_rate``; scores are drawn as a detector's are (lower when wrong).
3. **Masks**: at ``mask_edge_rate`` an instance's mask is eroded, or bled 1-2 px into the
   background around it.
4. **False positives**: spurious small detections of random object types on real surfaces.
5. **Depth**: Gaussian noise with sigma ``depth_noise * z^2``; holes at depth edges and on dark or
   shiny (near-black, near-white) pixels.
6. **Odometry**: the reported camera pose is off by a seeded random walk in x, y and yaw, pulled
   back a little each frame (a localiser's corrections keep it bounded).
7. **Track ids**: per-track ids (``track_000012``), never the simulator's objectIds; an object not
   detected for more than ``track_patience`` frames, or at an id switch, gets a new one.

Skills act on the names memory holds, so :meth:`Perception.resolve` maps a track id back to the
object the tracker followed (a real robot re-detects the object where memory says it is), and
:meth:`Perception.rename` names a skill's own changes by the track of the object it touched.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from scene_graph.frames import RGBDFrame
from scene_graph.fusion import Fusion, FusionConfig
from scene_graph.graph import SceneGraph
from scene_graph.ontology import OBJECT_TYPES, look_alikes

log = logging.getLogger(__name__)

TRACK_PREFIX = "track_"
PlaceOf = Callable[[str], Optional[Sequence[float]]]  # a simulator object's position (None: none)
_OBJECT_TYPES = tuple(sorted(n for n, t in OBJECT_TYPES.items() if t.layer == "object"))
_FURNITURE_TYPES = tuple(sorted(n for n, t in OBJECT_TYPES.items() if t.layer == "furniture"))


@dataclass(frozen=True)
class PerceptionConfig:
    """Every rate of a perception model. Probabilities are per detection unless said otherwise."""

    name: str = "oracle"
    miss_rate: float = 0.0  # misses of a near, unoccluded, large-enough instance
    miss_per_metre: float = 0.0  # extra miss probability per metre beyond ``near_m``
    near_m: float = 1.0  # range within which distance costs nothing (m)
    small_area_px: float = 0.0  # apparent area (px) below which detection falls linearly to 0
    occluded_below: float = 0.0  # visible share of the expected area below which detection falls
    confusion_rate: float = 0.0  # a look-alike's label instead of the true one
    random_confusion_rate: float = 0.0  # any other type of the same layer
    false_positives: float = 0.0  # mean spurious detections per frame (Poisson)
    mask_edge_rate: float = 0.0  # a mask eroded or bled into the background by 1-2 px
    depth_noise: float = 0.0  # sigma of depth noise is depth_noise * z^2 (m, z in m)
    edge_hole_rate: float = 0.0  # depth holes at depth discontinuities (per edge pixel)
    dark_hole_rate: float = 0.0  # depth holes on near-black or near-white pixels (per pixel)
    drift_m: float = 0.0  # sigma of the odometry random walk per frame in x and y (m)
    drift_yaw: float = 0.0  # sigma of the odometry random walk per frame in yaw (rad)
    drift_pull: float = 0.0  # share of the accumulated drift a localiser corrects per frame
    id_switch_rate: float = 0.0  # a tracked object gets a new track id anyway
    track_patience: int = 3  # frames an object may go undetected before its track is lost
    reissue_ids: bool = False  # per-track ids instead of the simulator's objectIds
    report_household: bool = True  # household changes are told to memory (oracle only)

    @property
    def is_identity(self) -> bool:
        """Whether frames pass untouched (``oracle``)."""
        return self == replace(ORACLE, name=self.name)

    def scaled(self, factor: float, name: str) -> "PerceptionConfig":
        """The same model with every rate times ``factor`` (probabilities capped at 1)."""
        rates = {f.name: min(1.0, getattr(self, f.name) * factor) if f.name.endswith("rate")
                 else getattr(self, f.name) * factor
                 for f in fields(self) if f.name in _SCALED}
        return replace(self, name=name, **rates)


_SCALED = ("miss_rate", "miss_per_metre", "confusion_rate", "random_confusion_rate", "false_positives",
           "mask_edge_rate", "depth_noise", "edge_hole_rate", "dark_hole_rate", "drift_m", "drift_yaw",
           "id_switch_rate")

ORACLE = PerceptionConfig()
REALISTIC = PerceptionConfig(
    name="realistic", miss_rate=0.08, miss_per_metre=0.06, near_m=1.5, small_area_px=60.0,
    occluded_below=0.3, confusion_rate=0.10, random_confusion_rate=0.01, false_positives=0.15,
    mask_edge_rate=0.5, depth_noise=0.0025, edge_hole_rate=0.3, dark_hole_rate=0.2,
    drift_m=0.002, drift_yaw=0.0007, drift_pull=0.05, id_switch_rate=0.02, track_patience=3,
    reissue_ids=True, report_household=False,
)
HARSH = REALISTIC.scaled(2.0, "harsh")
PRESETS = {c.name: c for c in (ORACLE, REALISTIC, HARSH)}


def preset(name: str) -> PerceptionConfig:
    """The named model; a clear error for an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"unknown perception model {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


class Perception:
    """A perception model with its state: the random generator, the odometry error and the tracks."""

    def __init__(self, config: PerceptionConfig = ORACLE, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.reset()

    @classmethod
    def named(cls, name: str, seed: int = 0) -> "Perception":
        return cls(preset(name), seed)

    @property
    def name(self) -> str:
        return self.config.name

    def reset(self) -> None:
        """Back to the state after construction: a new episode repeats exactly."""
        self._rng = np.random.default_rng(self.seed)
        self._drift = np.zeros(3)  # x, y, yaw error of the reported pose
        self._frame_index = 0
        self._tracks: dict[str, tuple[str, int]] = {}  # object id -> (track id, last frame detected)
        self._followed: dict[str, str] = {}  # track id -> object id
        self._places: dict[str, tuple[float, ...]] = {}  # track id -> where its object was last detected
        self._next_track = 0

    def fusion(self, graph: SceneGraph) -> Fusion:
        """Fusion set up for what this source gives (see :meth:`memory_parameters`)."""
        settings = self.memory_parameters()
        config = FusionConfig().for_detector() if settings["detector_input"] else FusionConfig()
        config = replace(config, support_layer=float(settings["support_layer_m"]))
        return Fusion(graph, config, trust_external_ids=bool(settings["trust_external_ids"]))

    def memory_parameters(self) -> dict[str, bool | float | str]:
        """The long-term memory parameters this source needs: its ids trusted only when they are the
        simulator's; fusion set for a detector's faults unless the frames are exact (oracle); its
        masks are the simulator's, so no support surface to cut."""
        return {"trust_external_ids": not self.config.reissue_ids, "detector_input": not self.config.is_identity,
                "support_layer_m": 0.0}

    # ------------------------------------------------------------------ names for skills
    def resolve(self, name: Optional[str]) -> Optional[str]:
        """The simulator's object behind a track id (any other name is returned unchanged)."""
        return self._followed.get(name, name) if name else name

    def last_place(self, name: Optional[str]) -> Optional[tuple[float, ...]]:
        """Where the object behind track ``name`` was when last detected under it, or put there by the
        robot itself (None for any other name): all a robot knows of where to find it."""
        return self._places.get(name) if name else None

    def carried(self, object_id: str, place: Sequence[float]) -> None:
        """The robot itself moved ``object_id`` to ``place``: it knows where the thing is now."""
        track = self._tracks.get(object_id)
        if track is not None:
            self._places[track[0]] = tuple(float(v) for v in place)

    def rename(self, object_id: str) -> str:
        """The track id an object is known by now (its objectId when ids are not reissued)."""
        if not self.config.reissue_ids:
            return object_id
        track = self._tracks.get(object_id)
        return track[0] if track is not None else self._new_track(object_id)

    def name_of(self, object_id: str) -> str:
        """The name memory knows an object by now (its track, else its objectId); no side effects,
        for graders that compare memory with the simulator's truth."""
        track = self._tracks.get(object_id)
        return track[0] if track is not None and self.config.reissue_ids else object_id

    def _new_track(self, object_id: str) -> str:
        track = f"{TRACK_PREFIX}{self._next_track:06d}"
        self._next_track += 1
        self._tracks[object_id] = (track, self._frame_index)
        self._followed[track] = object_id
        return track

    # ------------------------------------------------------------------ frames
    def perceive(self, frame: RGBDFrame, place_of: Optional[PlaceOf] = None) -> RGBDFrame:
        """What the camera, detector and tracker report for this rendered frame; ``place_of`` gives
        a simulator object's position, remembered per track for :meth:`last_place`."""
        cfg = self.config
        if cfg.is_identity:
            return frame
        self._frame_index += 1
        rng = self._rng
        depth = frame.depth.astype(np.float32, copy=True)
        ids = frame.instance_ids.astype(np.int32, copy=True)
        labels: dict[int, str] = {}
        scores: dict[int, float] = {}
        external: dict[int, str] = {}
        present = sorted(frame.labels)
        k = frame.intrinsics
        for inst in present:
            mask = frame.instance_ids == inst
            area = int(np.count_nonzero(mask))
            if area == 0:
                continue
            truth = frame.labels[inst]
            with np.errstate(invalid="ignore"):
                z = float(np.median(frame.depth[mask]))
            if rng.random() >= self._detection_probability(truth, area, z, k.fx, k.fy):
                ids[mask] = 0
                continue
            label, score = self._label(truth)
            labels[inst], scores[inst] = label, score
            source = frame.external_ids.get(inst, "")
            external[inst] = self._track(source) if cfg.reissue_ids and source else source
            place = place_of(source) if place_of is not None and cfg.reissue_ids and source else None
            if place is not None:
                self._places[external[inst]] = tuple(float(v) for v in place)
        ids = self._edit_masks(ids, depth, labels)
        ids, labels, scores, external = self._false_positives(ids, depth, labels, scores, external)
        depth = self._corrupt_depth(depth, frame.color)
        pose = self._drifted(np.asarray(frame.T_world_camera, dtype=float))
        return replace(frame, depth=depth, instance_ids=ids, labels=labels, scores=scores,
                       external_ids=external, T_world_camera=pose)

    def _detection_probability(self, label: str, area: int, z: float, fx: float, fy: float) -> float:
        cfg = self.config
        p = 1.0 - cfg.miss_rate
        if np.isfinite(z) and z > 0:
            p *= max(0.0, 1.0 - cfg.miss_per_metre * max(0.0, z - cfg.near_m))
            kind = OBJECT_TYPES.get(label)
            if kind is not None and kind.layer == "object" and cfg.occluded_below > 0:
                a, b = sorted(kind.size)[1:]
                expected = fx * fy * a * b / (z * z)
                visible = min(1.0, area / max(expected, 1.0))
                p *= min(1.0, visible / cfg.occluded_below)
        if cfg.small_area_px > 0:
            p *= min(1.0, area / cfg.small_area_px)
        return p

    def _label(self, truth: str) -> tuple[str, float]:
        cfg, rng = self.config, self._rng
        draw = rng.random()
        alikes = look_alikes(truth)
        if alikes and draw < cfg.confusion_rate:
            return str(rng.choice(alikes)), float(rng.uniform(0.35, 0.8))
        if draw >= 1.0 - cfg.random_confusion_rate:
            pool = _FURNITURE_TYPES if OBJECT_TYPES.get(truth) and OBJECT_TYPES[truth].layer == "furniture" \
                else _OBJECT_TYPES
            others = [t for t in pool if t != truth]
            return str(rng.choice(others)), float(rng.uniform(0.3, 0.6))
        return truth, float(rng.uniform(0.55, 0.98))

    def _track(self, object_id: str) -> str:
        """The object's track id, a new one when its track was lost or switched."""
        known = self._tracks.get(object_id)
        if (known is None or self._frame_index - known[1] > self.config.track_patience + 1
                or self._rng.random() < self.config.id_switch_rate):
            return self._new_track(object_id)
        self._tracks[object_id] = (known[0], self._frame_index)
        return known[0]

    def _edit_masks(self, ids: np.ndarray, depth: np.ndarray, labels: dict[int, str]) -> np.ndarray:
        """Erode some masks, bleed others 1-2 px into the background (pixels of no instance)."""
        cfg, rng = self.config, self._rng
        out = ids.copy()
        h, w = ids.shape
        for inst in sorted(labels):
            if rng.random() >= cfg.mask_edge_rate:
                continue
            width = int(rng.integers(1, 3))
            bleed = bool(rng.random() < 0.5)
            rows, cols = np.nonzero(ids == inst)
            if len(rows) == 0:
                continue
            r0, r1 = max(0, rows.min() - 3), min(h, rows.max() + 4)
            c0, c1 = max(0, cols.min() - 3), min(w, cols.max() + 4)
            crop = (ids[r0:r1, c0:c1] == inst).astype(np.uint8)
            kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
            if bleed:
                grown = cv2.dilate(crop, kernel).astype(bool) & (ids[r0:r1, c0:c1] == 0)
                out[r0:r1, c0:c1][grown] = inst
            else:
                kept = cv2.erode(crop, kernel).astype(bool)
                lost = crop.astype(bool) & ~kept
                if np.count_nonzero(kept) > 0:
                    out[r0:r1, c0:c1][lost] = 0
        return out

    def _false_positives(self, ids: np.ndarray, depth: np.ndarray, labels: dict[int, str], scores: dict[int, float],
                         external: dict[int, str]) -> tuple[np.ndarray, dict, dict, dict]:
        """Small spurious detections of random object types on surfaces of no instance."""
        cfg, rng = self.config, self._rng
        count = int(rng.poisson(cfg.false_positives)) if cfg.false_positives > 0 else 0
        if count == 0:
            return ids, labels, scores, external
        h, w = ids.shape
        free_rows, free_cols = np.nonzero((ids == 0) & (depth > 0))
        next_id = int(max(ids.max(), max(labels, default=0))) + 1
        for _ in range(count):
            if len(free_rows) == 0:
                break
            at = int(rng.integers(len(free_rows)))
            side = int(rng.integers(5, 13))
            r, c = int(free_rows[at]), int(free_cols[at])
            block = ids[r:min(h, r + side), c:min(w, c + side)]
            block[block == 0] = next_id
            labels[next_id] = str(rng.choice(_OBJECT_TYPES))
            scores[next_id] = float(rng.uniform(0.3, 0.6))
            if cfg.reissue_ids:
                external[next_id] = f"{TRACK_PREFIX}{self._next_track:06d}"
                self._next_track += 1  # a track of nothing: skills cannot resolve it
            next_id += 1
        return ids, labels, scores, external

    def _corrupt_depth(self, depth: np.ndarray, color: np.ndarray) -> np.ndarray:
        cfg, rng = self.config, self._rng
        valid = depth > 0
        if cfg.depth_noise > 0:
            noise = rng.standard_normal(depth.shape).astype(np.float32)
            depth = np.where(valid, depth + cfg.depth_noise * depth * depth * noise, depth).astype(np.float32)
        edges = np.zeros_like(valid)
        jump_x = np.abs(np.diff(depth, axis=1)) > 0.1
        jump_y = np.abs(np.diff(depth, axis=0)) > 0.1
        edges[:, 1:] |= jump_x
        edges[1:, :] |= jump_y
        luminance = color.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        dark_or_shiny = (luminance < 35.0) | (luminance > 235.0)
        draw = rng.random(depth.shape)
        holes = (edges & (draw < cfg.edge_hole_rate)) | (dark_or_shiny & (draw < cfg.dark_hole_rate))
        depth[holes] = 0.0
        return depth

    def _drifted(self, pose: np.ndarray) -> np.ndarray:
        """The pose as odometry reports it: off by the current random-walk error."""
        cfg, rng = self.config, self._rng
        step = rng.standard_normal(3) * np.array([cfg.drift_m, cfg.drift_m, cfg.drift_yaw])
        self._drift = self._drift * (1.0 - cfg.drift_pull) + step
        dx, dy, dyaw = self._drift
        c, s = np.cos(dyaw), np.sin(dyaw)
        out = pose.copy()
        out[:3, :3] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ pose[:3, :3]
        out[:3, 3] = pose[:3, 3] + np.array([dx, dy, 0.0])
        return out

    @property
    def drift(self) -> tuple[float, float, float]:
        """The current x, y, yaw error of reported poses."""
        return tuple(float(v) for v in self._drift)  # type: ignore[return-value]
