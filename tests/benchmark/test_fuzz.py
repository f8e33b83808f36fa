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


def test_request_cases_are_judged_on_what_a_ros_string_carries():
    """A ROS string ends at its first NUL: a 5,000-character query with a NUL at 10 arrives valid.
    The full run once counted 13 such cases as bad requests accepted."""
    from hypothesis import given, settings

    from benchmarks import fuzz_cases

    @settings(max_examples=300, database=None, deadline=None)
    @given(fuzz_cases.query_cases(), fuzz_cases.subgraph_cases())
    def check(query, subgraph):
        assert all("\x00" not in query.fields[k] for k in ("text", "label", "room"))
        assert "\x00" not in subgraph.fields["instruction"] and all("\x00" not in i for i in subgraph.fields["ids"])

    check()
    assert fuzz_cases.wire("ab\x00cd") == "ab"
