"""The ROS benchmarks run end to end in quick mode and report sane figures (never judged on speed)."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("rclpy")
from benchmarks import ingest, query_service  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_ingest_reports_what_came_back_through_the_node():
    result = ingest.run(quick=True)
    assert result["frames_published"] > 0
    assert 0.0 <= result["processed_fraction"] <= 1.0
    assert result["processed_fraction"] > 0.0, "no graph update came back from the node"
    assert 0.0 < result["latency_median_ms"] <= result["latency_p95_ms"]
    assert result["publish_rate_hz"] > 0
    assert 0.0 < result["baseline_fusion_median_ms"] <= result["baseline_fusion_p95_ms"]
    assert result["baseline_frames_with_update_fraction"] == 1.0
    assert math.isfinite(result["latency_to_baseline_ratio"])


def test_every_frame_set_a_camera_publishes_from_one_process_reaches_the_node_in_another():
    """At 10 Hz a loaded machine keeps up; what is lost is lost in transport or in the executor.
    Before the package's Fast DDS profile and single-threaded sensor executor, about half of the
    colour and depth images of a one-participant camera never arrived and the node's
    multi-threaded executor dropped most of the rest (0.1-0.4 of frames processed)."""
    result = ingest.run(quick=True, rate_hz=10.0)
    assert result["node_rejected"] == 0 and result["node_dropped"] == 0
    assert result["node_frames_integrated"] == result["node_frames_matched"]
    assert result["processed_fraction"] >= 0.9, result


def test_query_service_round_trips_against_the_same_memory_in_process():
    result = query_service.run(quick=True)
    assert result["objects_in_memory"] == query_service.N_OBJECTS
    for prefix in ("", "baseline_"):
        assert 0.0 < result[f"{prefix}p50_ms"] <= result[f"{prefix}p95_ms"]
        for kind in query_service.KINDS:
            assert 0.0 < result[f"{prefix}{kind}_p50_ms"] <= result[f"{prefix}{kind}_p95_ms"]
    assert result["answers_agree"] == 1.0, "the service answered differently from the same memory in process"
