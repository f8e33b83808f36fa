"""Users bring their own recordings: a bag of the simulator's topics, replayed faster than recorded
into a fresh long-term memory node, builds the same memory the live run built."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from waits import until  # noqa: E402

from memory_nodes.tools import bag, stack  # noqa: E402

pytestmark = pytest.mark.ros

CAMERA_TOPICS = ["/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info",
                 "/camera/instances", "/odom", "/layout"]


def test_recorded_sim_run_replayed_at_double_speed_builds_the_same_memory(tmp_path):
    live = stack.start(["sim_bridge", "long_term_memory"], overrides={
        "sim_bridge": {"seed": 5, "rate_hz": 10.0},
        "long_term_memory": {"memory_dir": str(tmp_path / "live"), "text_index": "none"}})
    try:
        # A count of messages, not a time: the layout and 20 frame sets of five messages each, however
        # slowly a loaded machine delivers them (the time is only a generous limit).
        summary = bag.record(tmp_path / "run", topics=CAMERA_TOPICS, max_messages=1 + 5 * 20, duration_s=300.0)
        live_labels = sorted(o.label for o in live.nodes["long_term_memory"].memory.graph.objects())
    finally:
        live.shutdown()
    assert summary.counts["/camera/instances"] >= 10 and summary.counts["/layout"] == 1
    assert live_labels

    replay = stack.start(["long_term_memory"], overrides={
        "long_term_memory": {"memory_dir": str(tmp_path / "replay"), "text_index": "none"}})
    try:
        node = replay.nodes["long_term_memory"]
        played = bag.play(tmp_path / "run", rate=2.0, wait_for_subscribers=10.0)
        assert played.counts["/camera/instances"] == summary.counts["/camera/instances"]
        played_frames = played.counts["/camera/instances"]
        assert until(lambda: node.diagnostic_values()["frames_integrated"] >= played_frames - 2, 120.0)
        # The same kinds of objects (a frame lost on a loaded machine may merge or split a few boxes).
        assert {o.label for o in node.memory.graph.objects()} == set(live_labels)
        assert len(node.memory.graph.rooms()) > 0  # the latched layout was recorded and replayed
    finally:
        replay.shutdown()
