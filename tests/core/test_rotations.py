"""scene_graph.rotations: known rotations in ROS's quaternion order and REP-103's roll/pitch/yaw order."""
from __future__ import annotations

import math

import numpy as np
import pytest

from scene_graph.rotations import (
    matrix_to_quaternion,
    quaternion_to_matrix,
    quaternion_to_yaw,
    rpy_to_matrix,
    yaw_to_quaternion,
)

S = math.sqrt(0.5)


def test_a_quarter_turn_about_z_in_x_y_z_w_order():
    np.testing.assert_allclose(yaw_to_quaternion(math.pi / 2), (0.0, 0.0, S, S), atol=1e-12)
    R = quaternion_to_matrix((0.0, 0.0, S, S))
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    assert math.isclose(quaternion_to_yaw((0.0, 0.0, S, S)), math.pi / 2)


def test_quaternions_are_normalised_and_zero_or_nan_is_refused():
    np.testing.assert_allclose(quaternion_to_matrix((0.0, 0.0, 0.0, 5.0)), np.eye(3), atol=1e-12)
    for bad in ((0.0, 0.0, 0.0, 0.0), (math.nan, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0)):
        with pytest.raises(ValueError):
            quaternion_to_matrix(bad)
        with pytest.raises(ValueError):
            quaternion_to_yaw(bad)


def test_roll_pitch_yaw_apply_roll_first_about_fixed_axes():
    # Rz(yaw) Ry(pitch) Rx(roll): a camera pitched down by 90 degrees looks along -z.
    np.testing.assert_allclose(rpy_to_matrix(0.0, math.pi / 2, 0.0) @ [1, 0, 0], [0, 0, -1], atol=1e-12)
    R = rpy_to_matrix(math.pi / 2, 0.0, math.pi / 2)
    np.testing.assert_allclose(R @ [0, 1, 0], [0, 0, 1], atol=1e-12)  # in the other order y would go to -x
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_matrix_and_quaternion_round_trip_for_any_rotation():
    rng = np.random.default_rng(0)
    for q in rng.normal(size=(50, 4)):
        R = quaternion_to_matrix(q)
        np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-12)
        assert np.isclose(np.linalg.norm(matrix_to_quaternion(R)), 1.0)
