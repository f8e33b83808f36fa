"""Pinhole camera on a mobile base: the pose convention every simulator here renders with.

The base frame is REP-103 (x forward, y left, z up); the camera looks along the base's x axis,
pitched down by ``pitch`` radians, and reports the OPTICAL frame (x right, y down, z forward)
as ``scene_graph.frames`` requires.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scene_graph.frames import CameraIntrinsics
from scene_graph.rotations import rpy_to_matrix

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_HFOV_DEG = 320, 240, 90.0
DEFAULT_CAMERA_HEIGHT = 1.5  # metres above the floor, roughly a person's eye or a Stretch head
DEFAULT_PITCH = math.radians(20.0)

# Columns: the optical x (right), y (down), z (forward) axes expressed in the base frame.
_BASE_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def default_intrinsics(width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                       hfov_deg: float = DEFAULT_HFOV_DEG) -> CameraIntrinsics:
    return CameraIntrinsics.from_fov(width, height, hfov_deg)


def camera_pose(position: tuple[float, float, float], yaw: float, pitch: float) -> np.ndarray:
    """T_world_camera for a camera at ``position`` facing ``yaw`` and pitched ``pitch`` down."""
    T = np.eye(4)
    T[:3, :3] = rpy_to_matrix(0.0, pitch, yaw) @ _BASE_FROM_OPTICAL  # +pitch about y tips x downwards
    T[:3, 3] = position
    return T


@dataclass(frozen=True)
class AgentPose:
    """Where the robot stands and looks: base x, y, yaw (rad) and camera pitch (rad, + down)."""

    x: float
    y: float
    yaw: float = 0.0
    pitch: float = DEFAULT_PITCH
    camera_height: float = DEFAULT_CAMERA_HEIGHT

    @property
    def camera_position(self) -> tuple[float, float, float]:
        return (self.x, self.y, self.camera_height)

    def T_world_camera(self) -> np.ndarray:
        return camera_pose(self.camera_position, self.yaw, self.pitch)
