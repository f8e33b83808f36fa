"""`embodied-memory up --robot`: the robot bring-up without ros2 launch, here without any model."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from memory_nodes.tools import cli  # noqa: E402

pytestmark = pytest.mark.ros


def test_robot_bringup_runs_memory_on_tf_and_says_why_perception_is_idle(tmp_path, capfd):
    code = cli.main(["up", "--robot", "--duration", "3",
                     "--set", f"perception.detector_model={tmp_path / 'no-model'}",
                     "--set", f"long_term_memory.memory_dir={tmp_path / 'memory'}",
                     "--set", "long_term_memory.text_index=none"])
    err = capfd.readouterr().err
    assert code == cli.EXIT_OK, err
    assert "perception publishes nothing: detector_model: no model folder" in err
    assert "pose from tf" in err and "[planner]" in err
