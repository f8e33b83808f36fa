"""bench chaos in quick mode: a real node killed (-9) and terminated at random moments comes back
with its memory every time (the figures are behaviour, never speed)."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from benchmarks import chaos  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_kills_and_terminations_lose_nothing_beyond_one_journal_interval():
    result = chaos.run(quick=True, seed=1)
    assert result["kills"] == chaos.QUICK_KILLS and result["sigkill"] and result["sigterm"]
    assert result["loads_ok"] == result["kills"]
    assert result["corrupt_snapshots"] == 0
    assert result["max_objects_lost_sigterm"] == 0  # a clean shutdown saves everything
    assert result["lost_within_one_journal_interval"] and result["sequence_monotonic"]
    assert result["final_objects"] > 0 and result["meets_goal"]
