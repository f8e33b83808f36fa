"""`bench load --quick` end to end: its keys and their sense, never its timing (the machine is shared)."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("rclpy")
from benchmarks import load  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_quick_load_reports_calls_failures_latencies_and_ingest():
    result = load.run(quick=True)
    assert 0 < result["calls"] <= load.CLIENTS * load.CLIENT_HZ * load.QUICK_SECONDS + load.CLIENTS
    assert 0 <= result["failed"] <= result["calls"]
    if result["failed"] < result["calls"]:
        assert 0.0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert 0.0 <= result["ingest_processed_fraction"] <= 1.0
    assert result["frames_published"] > 0
    assert math.isfinite(result["baseline_p95_ms"])


def test_requests_alternate_between_both_services_and_slow_instructions_are_new_and_capped():
    kinds = {load.request_for(c, 0)[0] for c in range(load.CLIENTS)}
    assert kinds == {"query_objects", "task_subgraph"}
    first, second = (load.request_for(1, n, slow=True)[1].instruction for n in (0, 1))
    assert first != second and len(first) == load.LONG_CHARS
