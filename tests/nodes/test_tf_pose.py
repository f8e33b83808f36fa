"""``pose_source: tf`` from /tf and /tf_static alone, without tf2_ros (PyPI has none).

The simulator bridge publishes map -> odom on /tf_static and odom -> base_link -> camera optical
frame on /tf; the long-term node looks the camera up in that tree (pytransform3d when tf2_ros is
missing) and must put what it sees where the simulator has it. A wrong chain (an inverted link, a
missing static transform, the wrong stamp) puts objects in the wrong place or fuses nothing.
"""
from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from waits import until  # noqa: E402

from memory_nodes.tools import stack  # noqa: E402
from sim.records import Action  # noqa: E402

pytestmark = pytest.mark.ros


def test_tf_pose_source_builds_memory_in_the_right_place_without_tf2_ros(tmp_path):
    s = stack.start(["sim_bridge", "long_term_memory"], overrides={
        "sim_bridge": {"seed": 11, "rooms": 1, "rate_hz": 10.0},
        "long_term_memory": {"memory_dir": str(tmp_path), "pose_source": "tf", "text_index": "none",
                             "snapshot_interval_s": 0.0}})
    try:
        bridge, ltm = s.nodes["sim_bridge"], s.nodes["long_term_memory"]
        furniture = bridge.with_world(lambda w: sorted(
            e.object_id for e in w.home.entities.values() if e.kind.layer == "furniture"))
        for object_id in furniture[:3]:
            bridge.with_world(lambda w, target=object_id: w.step(Action("GoToObject", target)))
            done = ltm.diagnostic_values()["frames_integrated"]
            assert until(lambda n=done: ltm.diagnostic_values()["frames_integrated"] >= n + 5), ltm.diagnostic_values()
        values = ltm.diagnostic_values()
        assert not any(k.startswith("rejected[camera") for k in values), values
        truth = bridge.with_world(lambda w: {o.object_id: o.position for o in w.object_states()})
        objects = ltm.memory.graph.objects()
        assert len(objects) >= 3
        errors = [np.linalg.norm(np.subtract(o.centroid, truth[o.external_id])[:2])
                  for o in objects if o.external_id in truth]
        assert len(errors) >= 3 and float(np.median(errors)) < 0.3, errors
    finally:
        s.shutdown()
