"""The one place where simulator frames meet ours.

Our world frame is REP-103: right-handed, x forward/east, y left/north, z up, metres, yaw
counter-clockwise about +z from +x.

AI2-THOR (Unity) is left-handed and y-up: x right, y up, z forward. We map
``world = (thor.x, thor.z, thor.y)``: swapping two axes flips handedness, which is exactly the
left-to-right-handed change needed. A Unity yaw ``rotation.y`` turns clockwise seen from above
and 0 faces +z (our +y), so ``world_yaw = 90 deg - thor_yaw``. ``cameraHorizon`` is degrees
below the horizon, the same sign as our ``pitch``.

Habitat-sim is right-handed and y-up with -z forward (OpenGL). We map
``world = (-hab.z, -hab.x, hab.y)``, a proper rotation (det +1).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from scene_graph.rotations import quaternion_to_matrix

Vec3 = tuple[float, float, float]


def thor_to_world(p: Mapping[str, float]) -> Vec3:
    """AI2-THOR {x, y, z} (y up, left-handed) -> our (x, y, z) (z up)."""
    return (float(p["x"]), float(p["z"]), float(p["y"]))


def world_to_thor(p: Sequence[float]) -> dict[str, float]:
    """Our (x, y, z) -> AI2-THOR {x, y, z}; the inverse of :func:`thor_to_world`."""
    return {"x": float(p[0]), "y": float(p[2]), "z": float(p[1])}


def thor_size_to_world(s: Mapping[str, float]) -> Vec3:
    """Box extents are axis permutations only, with no sign."""
    return (float(s["x"]), float(s["z"]), float(s["y"]))


def thor_yaw_to_world(thor_yaw_deg: float) -> float:
    """Unity yaw (degrees, clockwise from +z) -> our yaw (radians, counter-clockwise from +x)."""
    return math.atan2(math.sin(math.radians(90.0 - thor_yaw_deg)), math.cos(math.radians(90.0 - thor_yaw_deg)))


def world_yaw_to_thor(yaw: float) -> float:
    """Our yaw (radians) -> Unity yaw in degrees within [0, 360)."""
    return (90.0 - math.degrees(yaw)) % 360.0


_HAB_TO_WORLD = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# OpenGL camera (x right, y up, -z forward) -> optical (x right, y down, z forward).
_GL_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])


def habitat_to_world(p: Sequence[float]) -> Vec3:
    """Habitat (x, y, z) (y up, -z forward) -> our (x, y, z) (z up)."""
    x, y, z = (float(v) for v in p)
    return (-z, -x, y)


def habitat_camera_pose(position: Sequence[float], rotation_wxyz: Sequence[float]) -> np.ndarray:
    """T_world_camera (optical frame) of a habitat sensor given its pose in habitat's frame."""
    T = np.eye(4)
    w, x, y, z = rotation_wxyz  # habitat (Magnum) writes the scalar first
    T[:3, :3] = _HAB_TO_WORLD @ quaternion_to_matrix((x, y, z, w)) @ _GL_TO_OPTICAL
    T[:3, 3] = habitat_to_world(position)
    return T


def base_under_camera(T_world_camera: np.ndarray) -> np.ndarray:
    """The robot base (REP-105 base_link) a camera rides on: on the floor below it, facing where it looks.

    The simulated robot is a camera on a mast; a robot's TF tree still wants the base in between
    (map -> odom -> base_link -> camera), so the base is the camera's ground point, turned to the
    heading of the camera's optical axis (z)."""
    T = np.asarray(T_world_camera, dtype=float)
    forward = T[:3, 2]
    yaw = math.atan2(forward[1], forward[0])
    base = np.eye(4)
    base[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    base[:2, 3] = T[:2, 3]
    return base
