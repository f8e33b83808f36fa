"""Rotations for every layer, through scipy's ``Rotation``: quaternions in ROS order (x, y, z, w),
roll/pitch/yaw applied as Rz Ry Rx (REP-103's fixed-axis convention), and yaw about +z.

One module so that the simulators, the conversions and the nodes cannot disagree about a sign.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

Quaternion = tuple[float, float, float, float]  # x, y, z, w


def _rotation(xyzw: Sequence[float]) -> Rotation:
    q = np.asarray(xyzw, dtype=float)
    norm = float(np.linalg.norm(q))
    if q.shape != (4,) or not math.isfinite(norm) or norm < 1e-9:
        raise ValueError("orientation quaternion is zero or not finite")
    return Rotation.from_quat(q / norm)


def quaternion_to_matrix(xyzw: Sequence[float]) -> np.ndarray:
    """3x3 rotation of a quaternion (normalised here); ValueError when it is zero or not finite."""
    return _rotation(xyzw).as_matrix()


def matrix_to_quaternion(rotation: np.ndarray) -> Quaternion:
    """(x, y, z, w) of a 3x3 rotation matrix."""
    x, y, z, w = Rotation.from_matrix(np.asarray(rotation, dtype=float)[:3, :3]).as_quat()
    return float(x), float(y), float(z), float(w)


def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """3x3 rotation Rz(yaw) Ry(pitch) Rx(roll): roll first, about the fixed x, y, z axes."""
    return Rotation.from_euler("xyz", [roll, pitch, yaw]).as_matrix()


def yaw_to_quaternion(yaw: float) -> Quaternion:
    """(x, y, z, w) of a rotation by ``yaw`` radians about +z."""
    x, y, z, w = Rotation.from_euler("z", yaw).as_quat()
    return float(x), float(y), float(z), float(w)


def quaternion_to_yaw(xyzw: Sequence[float]) -> float:
    """The yaw (about +z, radians in [-pi, pi]) of a quaternion's Rz Ry Rx decomposition; ValueError
    when it is zero or not finite."""
    return float(_rotation(xyzw).as_euler("ZYX")[0])
