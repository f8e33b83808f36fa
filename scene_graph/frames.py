"""One posed RGB-D frame with instance segmentation: the unit that perception hands to memory.

Simulators, bag replay and the ROS conversions all produce this record, so fusion has exactly one
input shape. Conventions (REP-103): world frame metres, right-handed, z up; the camera pose is
``T_world_camera``, a 4x4 transform from the camera *optical* frame (x right, y down, z forward)
to the world frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels, as in sensor_msgs/CameraInfo's K matrix."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, horizontal_fov_deg: float) -> "CameraIntrinsics":
        """Square pixels, principal point at the image centre."""
        f = (width / 2.0) / np.tan(np.radians(horizontal_fov_deg) / 2.0)
        return cls(width, height, float(f), float(f), (width - 1) / 2.0, (height - 1) / 2.0)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class RGBDFrame:
    """A posed colour + depth + instance-id frame.

    ``instance_ids`` is an int32 image where 0 means "no instance"; ``labels`` and ``scores``
    describe the ids that appear in it. Depth is float32 metres; 0, NaN and inf mean "no return".
    ``external_ids`` optionally names the source's own id for an instance (a simulator objectId, a
    tracker id); memory acts on it, and fusion associates by it when told to trust it.
    """

    stamp: float
    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) float32 metres
    instance_ids: np.ndarray  # (H, W) int32
    labels: dict[int, str]
    intrinsics: CameraIntrinsics
    T_world_camera: np.ndarray  # (4, 4) float64
    scores: dict[int, float] = field(default_factory=dict)
    external_ids: dict[int, str] = field(default_factory=dict)
    frame_id: str = "camera_optical"
