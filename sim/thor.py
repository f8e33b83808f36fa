"""AI2-THOR behind ``sim.interface.Simulator``.

Everything that turns AI2-THOR's outputs into ours is a pure function here (tested on dicts and
arrays shaped like AI2-THOR's), so only ``ThorSimulator`` itself needs Unity. AI2-THOR cannot
start without a display or Vulkan and a downloaded build; that case raises one
:class:`SimulatorUnavailable` saying so.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.ontology import canonical_type
from scene_graph.outcomes import SkillCode
from sim.camera import camera_pose
from sim.coords import thor_to_world, thor_yaw_to_world
from sim.interface import SimulatorUnavailable
from sim.metadata import diff_states, objects_from_metadata
from sim.records import Action, ActionResult, ObjectState, StateChange

log = logging.getLogger(__name__)

INSTALL_HINT = ("AI2-THOR is not available: `pip install ai2thor`. It also needs an X display, or Vulkan "
                "for platform=CloudRendering, and downloads a Unity build (about 1 GB) on first use, so "
                "the first run needs network access.")
# Our skills that AI2-THOR has under the same or another name (objectId is passed through).
THOR_ACTIONS = {
    "PickupObject": "PickupObject", "PutObject": "PutObject", "OpenObject": "OpenObject",
    "CloseObject": "CloseObject", "SliceObject": "SliceObject", "ToggleObjectOn": "ToggleObjectOn",
    "ToggleObjectOff": "ToggleObjectOff", "CleanObject": "CleanObject", "FillObject": "FillObjectWithLiquid",
}
_MACROS = {"HeatObject": "put it in a Microwave and ToggleObjectOn", "CoolObject": "put it in a Fridge and close it"}


class InstanceRegistry:
    """Stable positive instance ids for AI2-THOR objectIds over a session (0 stays background)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def __call__(self, object_id: str) -> int:
        return self._ids.setdefault(object_id, len(self._ids) + 1)


def pack_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 colours -> one int per pixel, so colours can be looked up as keys."""
    image = image.astype(np.int64)
    return (image[..., 0] << 16) | (image[..., 1] << 8) | image[..., 2]


def instance_image(segmentation: np.ndarray, color_to_object_id: Mapping[Any, str],
                   objects: Mapping[str, str], registry: InstanceRegistry) -> np.ndarray:
    """AI2-THOR's instance_segmentation_frame -> int32 ids. Colours of things that are not
    objects in the metadata (walls, floor, ceiling) map to 0, as in the embedded simulator."""
    packed = pack_rgb(segmentation)
    out = np.zeros(packed.shape, dtype=np.int32)
    for colour, object_id in color_to_object_id.items():
        if object_id not in objects:
            continue
        r, g, b = (int(c) for c in colour)
        out[packed == ((r << 16) | (g << 8) | b)] = registry(object_id)
    return out


def intrinsics_from_metadata(metadata: Mapping[str, Any], width: int, height: int) -> CameraIntrinsics:
    """Unity's ``fov`` is vertical; pixels are square."""
    fy = (height / 2.0) / math.tan(math.radians(float(metadata.get("fov", 90.0))) / 2.0)
    return CameraIntrinsics(width, height, fy, fy, (width - 1) / 2.0, (height - 1) / 2.0)


def pose_from_metadata(metadata: Mapping[str, Any]) -> np.ndarray:
    """T_world_camera (optical) from the agent's yaw, camera horizon and camera position."""
    agent = metadata["agent"]
    camera = metadata.get("cameraPosition") or {**agent["position"], "y": agent["position"]["y"] + 0.675}
    return camera_pose(thor_to_world(camera), thor_yaw_to_world(float(agent["rotation"]["y"])),
                       math.radians(float(agent.get("cameraHorizon", 0.0))))


def frame_from_event(frame: np.ndarray, depth: np.ndarray, segmentation: np.ndarray,
                     color_to_object_id: Mapping[Any, str], metadata: Mapping[str, Any],
                     registry: InstanceRegistry, stamp: float = 0.0) -> RGBDFrame:
    """An AI2-THOR event's arrays and metadata -> our RGBDFrame."""
    objects = {o["objectId"]: o["objectType"] for o in metadata.get("objects", [])}
    ids = instance_image(segmentation, color_to_object_id, objects, registry)
    present = {int(i) for i in np.unique(ids) if i}
    by_id = {registry(oid): oid for oid in objects if registry(oid) in present}
    h, w = depth.shape
    return RGBDFrame(stamp=stamp, color=np.ascontiguousarray(frame[..., :3], dtype=np.uint8),
                     depth=np.asarray(depth, dtype=np.float32), instance_ids=ids,
                     labels={i: objects[oid] for i, oid in by_id.items()},
                     intrinsics=intrinsics_from_metadata(metadata, w, h), T_world_camera=pose_from_metadata(metadata),
                     scores={i: 1.0 for i in by_id}, external_ids=by_id)


def step_kwargs(action: Action) -> dict[str, Any]:
    """``controller.step`` arguments for skills AI2-THOR has natively."""
    kwargs: dict[str, Any] = {"action": THOR_ACTIONS[action.name], "objectId": action.object_id}
    if action.name == "FillObject":
        kwargs["fillLiquid"] = "water"
    if action.name == "PutObject":
        kwargs["forceAction"] = False
    return kwargs


def nearest_pose(poses: Sequence[Mapping[str, Any]], position: Mapping[str, float]) -> Optional[Mapping[str, Any]]:
    """Of GetInteractablePoses' answers, the one closest to the agent on the floor plane."""
    if not poses:
        return None
    return min(poses, key=lambda p: math.hypot(p["x"] - position["x"], p["z"] - position["z"]))


def exploration_target(reachable: Sequence[Mapping[str, float]], visited: Sequence[Mapping[str, float]],
                       position: Mapping[str, float], radius: float = 1.5) -> Optional[Mapping[str, float]]:
    """The nearest reachable position farther than ``radius`` from everywhere visited."""
    fresh = [p for p in reachable if all(math.hypot(p["x"] - v["x"], p["z"] - v["z"]) > radius for v in visited)]
    return min(fresh, key=lambda p: math.hypot(p["x"] - position["x"], p["z"] - position["z"])) if fresh else None


# AI2-THOR reports failures in prose only; this adapter reads each kind once into a code.
_THOR_FAILURES = ((re.compile(r"appears to be invalid", re.I), SkillCode.UNKNOWN_OBJECT),
                  (re.compile(r"not visible", re.I), SkillCode.NOT_VISIBLE),
                  (re.compile(r"too far|no reachable position", re.I), SkillCode.NOT_REACHABLE),
                  (re.compile(r"no valid positions to place", re.I), SkillCode.NO_FREE_SPOT),
                  (re.compile(r"is already (open|closed|on|off|sliced)\b"), SkillCode.ALREADY_DONE))


def skill_code(success: bool, error: str, otherwise: SkillCode = SkillCode.SKILL_FAILED) -> SkillCode:
    """AI2-THOR's ``lastActionSuccess`` and ``errorMessage`` as a :class:`SkillCode`."""
    if success:
        return SkillCode.NONE
    return next((code for words, code in _THOR_FAILURES if words.search(error)), otherwise)


def resolve_object(metadata: Mapping[str, Any], ref: str) -> Optional[str]:
    """An objectId as given, or the nearest object whose type is ``ref`` (KARMA's GoToObject)."""
    objects = metadata.get("objects", [])
    if any(o["objectId"] == ref for o in objects):
        return ref
    name = canonical_type(ref)
    same = [o for o in objects if o["objectType"] == name]
    return min(same, key=lambda o: o.get("distance", 0.0))["objectId"] if same else None


class ThorSimulator:
    """Drives ``ai2thor.controller.Controller``; skills map to AI2-THOR actions."""

    def __init__(self, floor_plan: int = 1, width: int = 320, height: int = 240, fov: float = 90.0,
                 **controller_kwargs: Any):
        try:
            from ai2thor.controller import Controller
        except ImportError as exc:
            raise SimulatorUnavailable(INSTALL_HINT) from exc
        try:
            self.controller = Controller(scene=f"FloorPlan{floor_plan}", width=width, height=height,
                                         fieldOfView=fov, renderDepthImage=True,
                                         renderInstanceSegmentation=True, **controller_kwargs)
        except Exception as exc:  # Unity build download, display or Vulkan missing
            raise SimulatorUnavailable(f"AI2-THOR could not start ({exc}). {INSTALL_HINT}") from exc
        self.registry = InstanceRegistry()
        self.clock = 0.0
        self._events: list[StateChange] = []
        self._visited: list[Mapping[str, float]] = []
        self._last = self.controller.last_event
        self._objects = objects_from_metadata(self._last.metadata)

    def reset(self, floor_plan: Optional[int] = None, seed: Optional[int] = None,
              required_types: Iterable[str] = ()) -> None:
        self._last = self.controller.reset(scene=f"FloorPlan{floor_plan or 1}")
        self.registry = InstanceRegistry()
        self._objects = objects_from_metadata(self._last.metadata)
        self._visited, self._events, self.clock = [], [], 0.0

    def _run(self, **kwargs: Any) -> Any:
        self._last = self.controller.step(**kwargs)
        return self._last

    def step(self, action: Action) -> ActionResult:
        start = dict(self._last.metadata["agent"]["position"])
        if action.name in _MACROS:
            return ActionResult(action, False, f"{action.name} is not an AI2-THOR action: {_MACROS[action.name]}",
                                code=SkillCode.UNKNOWN_SKILL)
        if action.name == "GoToObject":
            event = self._go_to(action)
        elif action.name == "Explore":
            event = self._explore()
        elif action.name in THOR_ACTIONS:
            event = self._run(**step_kwargs(action))
        else:
            return ActionResult(action, False, f"Unknown action {action.name!r}", code=SkillCode.UNKNOWN_SKILL)
        if event is None:
            error = self._last.metadata.get("errorMessage") or "no position found"
            return ActionResult(action, False, error, code=skill_code(False, error, SkillCode.NOT_REACHABLE))
        end = event.metadata["agent"]["position"]
        self._visited.append(end)
        distance = math.hypot(end["x"] - start["x"], end["z"] - start["z"])
        self.clock += 1.0
        objects = objects_from_metadata(event.metadata)
        changes = diff_states(self._objects, objects, self.clock, f"agent:{action.name}")
        self._objects = objects
        self._events += changes
        meta = event.metadata
        success, error = bool(meta["lastActionSuccess"]), meta.get("errorMessage") or ""
        return ActionResult(action, success, error, distance, 0, 1.0, tuple(changes), skill_code(success, error))

    def _go_to(self, action: Action) -> Any:
        object_id = resolve_object(self._last.metadata, action.object_id or "")
        if object_id is None:
            return None
        poses = self._run(action="GetInteractablePoses", objectId=object_id).metadata.get("actionReturn") or []
        pose = nearest_pose(poses, self._last.metadata["agent"]["position"])
        if pose is None:
            return None
        return self._run(action="TeleportFull", x=pose["x"], y=pose["y"], z=pose["z"],
                         rotation={"x": 0, "y": pose["rotation"], "z": 0}, horizon=pose["horizon"],
                         standing=pose.get("standing", True))

    def _explore(self) -> Any:
        reachable = self._run(action="GetReachablePositions").metadata.get("actionReturn") or []
        target = exploration_target(reachable, self._visited, self._last.metadata["agent"]["position"])
        if target is None:
            return None
        return self._run(action="Teleport", position=target)

    def render(self) -> RGBDFrame:
        e = self._last
        return frame_from_event(e.frame, e.depth_frame, e.instance_segmentation_frame, e.color_to_object_id,
                                e.metadata, self.registry, self.clock)

    def metadata(self) -> dict[str, Any]:
        return dict(self._last.metadata)

    def object_states(self) -> list[ObjectState]:
        return list(self._objects)

    def drain_events(self) -> list[StateChange]:
        out, self._events = self._events, []
        return out
