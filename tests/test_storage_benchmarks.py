"""bench chaos and bench storage in quick mode: a real node killed (-9) and terminated at random
moments comes back with its memory every time; the storage figures cover what they claim (the
figures asserted are behaviour, never speed)."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from benchmarks import chaos, storage  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_kills_and_terminations_lose_nothing_beyond_one_journal_interval():
    result = chaos.run(quick=True, seed=1)
    assert result["kills"] == chaos.QUICK_KILLS and result["sigkill"] and result["sigterm"]
    assert result["loads_ok"] == result["kills"]
    assert result["corrupt_snapshots"] == 0
    assert result["max_objects_lost_sigterm"] == 0  # a clean shutdown saves everything
    # Nothing written is lost; how late the journal ran on this CPU is a figure, not a test.
    assert result["lost_only_unwritten_changes"] and result["sequence_monotonic"]
    assert result["final_objects"] > 0 and result["meets_goal"]


def test_storage_compares_both_formats_on_the_same_memory():
    result = storage.run(n_objects=300)
    assert result["objects"] == 300
    for version in ("v2", "v3"):
        assert set(result[version]) >= {"save_s", "load_s", "snapshot_mb", "node_ready_s", "incremental_save_s"}
    v3 = result["v3"]
    assert v3["journal_deltas_replayed"] == storage.APPENDS  # every append was read back
    assert v3["incremental_mb"] < v3["snapshot_mb"] / 10  # an append holds the change, not the memory
