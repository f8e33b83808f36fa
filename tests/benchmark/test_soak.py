"""`bench soak --quick` end to end: its keys and their sense, never its timing (the machine is shared)."""
from __future__ import annotations

import math

import pytest

from benchmarks import soak

pytestmark = pytest.mark.slow

KEYS = ("rss_start_mb", "rss_end_mb", "rss_slope_mb_per_h", "query_p95_first_ms", "query_p95_last_ms", "snapshot_mb")


def test_quick_soak_reports_memory_growth_query_latency_and_snapshot_size():
    result = soak.run(quick=True)
    assert all(key in result for key in KEYS)
    assert all(math.isfinite(result[key]) for key in KEYS)
    assert 0.0 < result["rss_start_mb"] and 0.0 < result["rss_end_mb"]
    assert 0.0 < result["query_p95_first_ms"] and 0.0 < result["query_p95_last_ms"]
    assert 0.0 < result["query_p95_aged_ms"] and 0.0 < result["query_p95_young_ms"]
    # The run is the simulated time it says, at 1 Hz: a frame per simulated second but for the robot's drives.
    assert result["simulated_hours"] >= soak.QUICK_HOURS
    assert 0.5 * soak.QUICK_HOURS * 3600 < result["frames"] <= soak.QUICK_HOURS * 3600 + 1
    assert result["frames_rejected"] == 0  # stamps on the simulator's clock are never ahead of it
    assert result["household_changes"] > 0 and result["objects"] > 0  # the home was lived in and seen
    assert 0 < result["short_term_units"] <= soak.STM_CAPACITY
    assert 0.0 < result["snapshot_mb"] < 100.0  # a saved memory of one small home
