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


def test_query_service_round_trips_against_the_same_memory_in_process():
    result = query_service.run(quick=True)
    assert result["objects_in_memory"] == query_service.N_OBJECTS
    for prefix in ("", "baseline_"):
        assert 0.0 < result[f"{prefix}p50_ms"] <= result[f"{prefix}p95_ms"]
        for kind in query_service.KINDS:
            assert 0.0 < result[f"{prefix}{kind}_p50_ms"] <= result[f"{prefix}{kind}_p95_ms"]
    assert result["answers_agree"] == 1.0, "the service answered differently from the same memory in process"
