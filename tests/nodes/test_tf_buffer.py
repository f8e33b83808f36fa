"""The TF buffer used without tf2_ros: chains, interpolation in time, and clear refusals."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
from memory_nodes.conversions import ConversionError  # noqa: E402
from memory_nodes.tf_buffer import TfBuffer  # noqa: E402

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
# The optical frame (z forward, x right, y down) on a base facing +x: z_cam = x_base, x_cam = -y_base.
OPTICAL = np.array([0.0, 0.0, 1.2, 0.5, -0.5, 0.5, -0.5])


def _yaw(x: float, y: float, yaw: float) -> np.ndarray:
    return np.array([x, y, 0.0, math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


@pytest.fixture
def tree() -> TfBuffer:
    b = TfBuffer()
    b.add("map", "odom", 0.0, np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), static=True)
    b.add("/base_link", "camera_optical", 0.0, OPTICAL, static=True)  # a leading slash is the same frame
    b.add("odom", "base_link", 10.0, _yaw(0.0, 0.0, 0.0), static=False)
    b.add("odom", "base_link", 11.0, _yaw(2.0, 0.0, math.pi / 2), static=False)
    return b


def test_a_chain_through_static_and_moving_links_interpolates_in_time(tree):
    T = tree.matrix("map", "camera_optical", 10.5)
    assert np.allclose(T[:3, 3], [2.0, 0.0, 1.2], atol=1e-6)  # map->odom x+1, base halfway at x=1
    forward = T[:3, 2]  # the optical axis: halfway between +x and +y
    assert np.allclose(forward, [math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0], atol=1e-6)
    inverse = tree.matrix("camera_optical", "map", 10.5)
    assert np.allclose(inverse @ T, np.eye(4), atol=1e-9)


def test_stamps_outside_the_samples_unknown_frames_and_bad_rotations_are_refused(tree):
    with pytest.raises(ConversionError, match="outside the buffered samples"):
        tree.matrix("map", "camera_optical", 11.5)
    assert tree.may_arrive(11.5) and not tree.may_arrive(10.5)
    with pytest.raises(ConversionError, match="no TF names frame 'gripper'"):
        tree.matrix("map", "gripper", 10.5)
    with pytest.raises(ConversionError, match="zero rotation"):
        tree.add("odom", "base_link", 12.0, np.zeros(7), static=False)
    with pytest.raises(ConversionError, match="back in time"):
        tree.add("odom", "base_link", 10.5, _yaw(0.0, 0.0, 0.0), static=False)


def test_old_samples_leave_the_cache():
    b = TfBuffer(cache_s=2.0)
    b.add("map", "base_link", 0.0, IDENTITY, static=False)
    for t in (1.0, 2.0, 3.0):
        b.add("map", "base_link", t, IDENTITY, static=False)
    assert np.allclose(b.matrix("map", "base_link", 1.5), np.eye(4))
    with pytest.raises(ConversionError):
        b.matrix("map", "base_link", 0.5)
