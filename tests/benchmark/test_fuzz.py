"""`bench fuzz --quick` end to end: hypothesis cases through real rclpy into the running nodes."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("hypothesis")
from benchmarks import fuzz  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_quick_fuzz_crashes_nothing_admits_no_bad_input_and_leaves_the_nodes_serving():
    result = fuzz.run(quick=True)
    assert result["cases"] == fuzz.QUICK_CASES
    faults = {k: result[k] for k in ("accepted_bad_requests", "bad_frames_fused", "memory_faults")}
    assert result["bad_cases"] > 0 and result["rejected"] == result["bad_cases"], faults
    assert result["crashes"] == 0, result
    assert result["accepted_bad"] == 0, result
    assert result["clean_frames_fused"] > 0, "no clean frame reached memory: the oracle saw nothing"
    assert result["still_serving"], result
