"""A robot's own detector: vision_msgs/Detection2DArray (boxes only) + depth builds memory.

The detections are the simulator's true boxes with class names in words ("coffee machine"); masks
come from depth inside each box. Memory must hold the seen objects under the ontology's types
near their true places, and a bad detection message is counted without stopping the stream.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from scene_stream import known_scene  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

from benchmarks.sim_boxes import true_detections  # noqa: E402
from memory_nodes.conversions import detections_to_msg, frame_to_msgs  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402

pytestmark = pytest.mark.ros


def test_a_detection_stream_with_boxes_only_builds_memory(tmp_path):
    scene = known_scene()
    s = stack.start(["detections_to_instances", "long_term_memory"], overrides={
        "long_term_memory": {"memory_dir": str(tmp_path), "text_index": "none", "snapshot_interval_s": 0.0}})
    client = Client()
    detections_pub = client.node.create_publisher(Detection2DArray, "detections", 10)
    try:
        adapter, ltm = s.nodes["detections_to_instances"], s.nodes["long_term_memory"]
        assert client.spin_until(lambda: client.node.count_subscribers("detections") > 0
                                 and client.node.count_subscribers("camera/instances") > 0)
        broken = Detection2DArray()
        broken.detections = detections_to_msg(true_detections(scene.frames[0]), "", 0.0).detections
        broken.detections[0].results = []
        sent = 0

        def publish(frame: Any, bad: bool) -> None:
            client.stamp += 0.1
            msgs = frame_to_msgs(dataclasses.replace(frame, stamp=client.stamp), "map")
            odom = Odometry(header=msgs.pose.header, child_frame_id=frame.frame_id)
            odom.pose.pose = msgs.pose.pose
            for key, msg in (("odom", odom), ("color", msgs.color), ("depth", msgs.depth), ("info", msgs.info)):
                client.pubs[key].publish(msg)
            detections = detections_to_msg(true_detections(frame), frame.frame_id, client.stamp)
            if bad:
                broken.header = detections.header
                detections = broken
            detections_pub.publish(detections)

        for rounds in range(3):  # each frame once the adapter has handled the one before
            for frame in scene.frames:
                bad = rounds == 1 and sent % 4 == 0
                client.deliver(lambda frame=frame, bad=bad: publish(frame, bad),
                               lambda: adapter.published + adapter._bad.total)
                sent += 1
        assert client.spin_until(lambda: ltm.diagnostic_values()["frames_integrated"] >= adapter.published - 1,
                                 timeout=60.0)
        assert adapter._bad.counts["detections: detection 0 has no class hypothesis"] >= 1
        objects = ltm.memory.graph.objects()
        by_external = {o.external_id: o for o in objects}
        seen = [eid for eid in scene.seen if eid in by_external]
        assert len(seen) >= 0.7 * len(scene.seen), (len(seen), len(scene.seen))
        for eid in seen:
            assert by_external[eid].label == scene.seen[eid]  # "coffee machine" became CoffeeMachine
        errors = [np.linalg.norm(np.subtract(by_external[e].centroid, scene.positions[e])[:2]) for e in seen]
        assert float(np.median(errors)) < 0.3, errors
    finally:
        client.close()
        s.shutdown()
