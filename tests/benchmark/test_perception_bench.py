"""`embodied-memory bench perception --json`: one latency row per backend, beside the depth-mask path."""
from __future__ import annotations

import pytest

pytest.importorskip("transformers")


def test_bench_perception_reports_each_backend_and_the_depth_only_baseline():
    from benchmarks import perception

    report = perception.run(quick=True)
    rows = {row["backend"]: row for row in report["results"]}
    assert set(rows) == {"owlv2", "grounding_dino", "sam", "depth_mask"}
    for row in rows.values():
        assert 0 < row["median_ms"] <= row["p95_ms"]
    assert report["resolution"] == "320x240" and report["boxes_per_frame_median"] >= 1
    assert "depth_mask" in report["baseline"]
