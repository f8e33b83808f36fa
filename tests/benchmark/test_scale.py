"""`bench scale`: the tiled building-sized memory, and a quick run's figures (keys and sanity, never timing)."""
from __future__ import annotations

import math

import numpy as np

from benchmarks.scale import QUICK_SIZES, run
from benchmarks.synthetic import HOME_SPACING_M, tiled_home


def test_a_tiled_memory_is_copies_of_one_home_side_by_side():
    graph, first = tiled_home(650)
    assert len(graph) == 650 and len(first) == 300 and len(graph.rooms()) == 18
    one, two = graph.get_object("obj_00007"), graph.get_object("obj_00307")
    assert one is not None and two is not None and one.label == two.label
    assert np.allclose(np.subtract(two.centroid, one.centroid), (HOME_SPACING_M, 0.0, 0.0))
    assert graph.room_at(two.centroid) == two.room_id != one.room_id
    assert len(graph.points(two.id)) > 0
    assert {r.predicate for r in graph.relations(subject="obj_00307")} == \
        {r.predicate for r in graph.relations(subject="obj_00007")}


def test_a_quick_run_reports_every_figure_for_every_size():
    result = run(quick=True)
    assert result["sizes"] == list(QUICK_SIZES)
    keys = ("fusion_median_ms", "fusion_p95_ms", "query_label_p95_ms", "query_near_p95_ms", "query_text_p95_ms",
            "save_s", "load_s", "snapshot_mb", "rss_mb", "baseline_fusion_median_ms", "fusion_ratio_to_300")
    for size, entry in zip(QUICK_SIZES, result["per_size"]):
        assert all(math.isfinite(entry[k]) and entry[k] > 0 for k in keys), entry
        assert size <= entry["objects"] <= size + 40  # the kitchen's objects were fused in
        assert entry["fusion_p95_ms"] >= entry["fusion_median_ms"]
    small, large = result["per_size"]
    assert large["snapshot_mb"] > small["snapshot_mb"] and large["rooms"] > small["rooms"]
    assert set(result["meets_goals"]) == {"fusion_median_ms", "fusion_p95_ms", "fusion_ratio_largest_to_300",
                                          "query_label_p95_ms", "query_near_p95_ms", "query_text_p95_ms"}
