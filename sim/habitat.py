"""habitat-sim behind ``sim.interface.Simulator``: navigation and perception, no manipulation.

Habitat scenes come with instance-level semantic annotations but no object interaction, so only
GoToObject and Explore act; other skills fail with a clear message. Conversions (y-up to z-up,
OpenGL camera to optical frame, semantic ids to labels) are pure functions tested without
habitat-sim, which has no PyPI wheel and cannot be installed here.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.ontology import canonical_type
from scene_graph.outcomes import SkillCode
from sim.coords import habitat_camera_pose, habitat_to_world
from sim.interface import SimulatorUnavailable
from sim.records import Action, ActionResult, ObjectState, StateChange

INSTALL_HINT = ("habitat-sim is not available and has no PyPI wheel: install it with conda "
                "(`conda install habitat-sim -c conda-forge -c aihabitat`) or build it from source, and "
                "provide a scene with semantic annotations (for example HM3D-Semantics or Replica).")


def semantic_labels(objects: Iterable[Any]) -> dict[int, tuple[str, str]]:
    """Habitat SemanticObjects -> {semantic id: (label, habitat object id)}. The label is our
    type name when the category maps to one, else the category name as habitat has it."""
    out: dict[int, tuple[str, str]] = {}
    for obj in objects:
        if obj is None or obj.category is None:
            continue
        sid = getattr(obj, "semantic_id", None)
        if sid is None:
            sid = int(str(obj.id).rsplit("_", 1)[-1])
        category = obj.category.name()
        out[int(sid)] = (canonical_type(category) or category, str(obj.id))
    return out


def frame_from_observations(observations: Mapping[str, np.ndarray], sensor_position: Sequence[float],
                            sensor_rotation_wxyz: Sequence[float], hfov_deg: float,
                            labels: Mapping[int, tuple[str, str]], stamp: float = 0.0,
                            color_key: str = "color_sensor", depth_key: str = "depth_sensor",
                            semantic_key: str = "semantic_sensor") -> RGBDFrame:
    """Habitat's RGBA, depth and semantic observations -> our RGBDFrame; semantic id 0 and ids
    without a label are background."""
    depth = np.asarray(observations[depth_key], dtype=np.float32)
    h, w = depth.shape[:2]
    semantic = np.asarray(observations[semantic_key]).astype(np.int64)
    ids = np.where(np.isin(semantic, list(labels) or [-1]), semantic, 0).astype(np.int32)
    present = [int(i) for i in np.unique(ids) if i]
    color = np.ascontiguousarray(np.asarray(observations[color_key])[..., :3], dtype=np.uint8)
    return RGBDFrame(stamp=stamp, color=color,
                     depth=depth.reshape(h, w), instance_ids=ids, labels={i: labels[i][0] for i in present},
                     intrinsics=CameraIntrinsics.from_fov(w, h, hfov_deg),
                     T_world_camera=habitat_camera_pose(sensor_position, sensor_rotation_wxyz),
                     scores={i: 1.0 for i in present}, external_ids={i: labels[i][1] for i in present})


def object_states(objects: Iterable[Any]) -> list[ObjectState]:
    """Habitat's semantic objects (with axis-aligned boxes) as our records; they have no states."""
    out = []
    for obj in objects:
        if obj is None or obj.category is None:
            continue
        size = np.asarray(obj.aabb.sizes, dtype=float)
        category = obj.category.name()
        out.append(ObjectState(str(obj.id), canonical_type(category) or category,
                               habitat_to_world(obj.aabb.center), (float(size[2]), float(size[0]), float(size[1])),
                               0.0))
    return out


class HabitatSimulator:
    """Drives ``habitat_sim.Simulator`` with one RGB-D + semantic camera on the agent."""

    def __init__(self, scene: str, width: int = 320, height: int = 240, hfov: float = 90.0, camera_height: float = 1.5):
        try:
            import habitat_sim
        except ImportError as exc:
            raise SimulatorUnavailable(INSTALL_HINT) from exc
        self._hs = habitat_sim
        self.hfov = hfov
        sensors = []
        for uuid, kind in (("color_sensor", habitat_sim.SensorType.COLOR),
                           ("depth_sensor", habitat_sim.SensorType.DEPTH),
                           ("semantic_sensor", habitat_sim.SensorType.SEMANTIC)):
            spec = habitat_sim.CameraSensorSpec()
            spec.uuid, spec.sensor_type, spec.resolution = uuid, kind, [height, width]
            spec.position, spec.hfov = [0.0, camera_height, 0.0], hfov
            sensors.append(spec)
        backend = habitat_sim.SimulatorConfiguration()
        backend.scene_id = scene
        agent = habitat_sim.agent.AgentConfiguration(sensor_specifications=sensors)
        try:
            self.sim = habitat_sim.Simulator(habitat_sim.Configuration(backend, [agent]))
        except Exception as exc:
            raise SimulatorUnavailable(f"habitat-sim could not load {scene!r} ({exc}). {INSTALL_HINT}") from exc
        self.labels = semantic_labels(self.sim.semantic_scene.objects)
        self.clock = 0.0
        self._visited: list[np.ndarray] = []

    def reset(self, floor_plan: Optional[int] = None, seed: Optional[int] = None,
              required_types: Iterable[str] = ()) -> None:
        self.sim.reset()
        if seed is not None:
            self.sim.seed(seed)
        self._visited, self.clock = [], 0.0

    def _move_to(self, point: np.ndarray) -> float:
        agent = self.sim.get_agent(0)
        state = agent.get_state()
        path = self._hs.ShortestPath()
        path.requested_start, path.requested_end = state.position, point
        if not self.sim.pathfinder.find_path(path):
            return math.nan
        state.position = path.points[-1]
        agent.set_state(state)
        self._visited.append(np.asarray(path.points[-1]))
        return float(path.geodesic_distance)

    def step(self, action: Action) -> ActionResult:
        self.clock += 1.0
        if action.name == "GoToObject":
            target = next((o for o in self.sim.semantic_scene.objects if o is not None and action.object_id in
                           (str(o.id), o.category.name() if o.category else None,
                            canonical_type(o.category.name()) if o.category else None)), None)
            if target is None:
                return ActionResult(action, False, f"Object ID appears to be invalid: no object {action.object_id!r}",
                                    code=SkillCode.UNKNOWN_OBJECT)
            point = self.sim.pathfinder.snap_point(np.asarray(target.aabb.center))
        elif action.name == "Explore":
            point = self.sim.pathfinder.get_random_navigable_point()
        else:
            return ActionResult(action, False, f"{action.name}: habitat-sim has no object interaction "
                                               "(only GoToObject and Explore)", code=SkillCode.UNKNOWN_SKILL)
        distance = self._move_to(point)
        if math.isnan(distance):
            return ActionResult(action, False, "No navigable path found", code=SkillCode.NOT_REACHABLE)
        return ActionResult(action, True, "", distance, 0, 1.0)

    def render(self) -> RGBDFrame:
        obs = self.sim.get_sensor_observations()
        sensor = self.sim.get_agent(0).get_state().sensor_states["color_sensor"]
        q = sensor.rotation
        return frame_from_observations(obs, sensor.position, (q.w, q.x, q.y, q.z), self.hfov, self.labels, self.clock)

    def metadata(self) -> dict[str, Any]:
        """Habitat has no AI2-THOR metadata; objects are reported with their boxes only."""
        return {"sceneName": self.sim.config.sim_cfg.scene_id, "objects": []}

    def object_states(self) -> list[ObjectState]:
        return object_states(self.sim.semantic_scene.objects)

    def drain_events(self) -> list[StateChange]:
        return []  # nothing changes state in habitat-sim
