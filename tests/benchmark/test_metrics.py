"""Metrics are computed from task records, paired with the same task's no-memory run."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from benchmarks.suite.episode import TaskRecord
from benchmarks.suite.metrics import floors, goals, mean_ci, summarize


def record(seed: int, task: str, ablation: str, success: bool, explorations: int, sim_time: float,
           steps: int = 4, tokens: int = 100) -> TaskRecord:
    return TaskRecord(seed, 1, "Simple", task, ablation, success, float(success), ablation != "none",
                      1 if ablation != "none" else 0, 1, steps, explorations, 1.0, sim_time, 1, tokens, tokens // 2,
                      0.01)


def test_mean_ci_is_students_t_over_seeds() -> None:
    assert mean_ci([0.5])[0] == 0.5 and math.isnan(mean_ci([0.5])[1])
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and hi - m == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-3)
    assert mean_ci([1.0, math.nan, 3.0])[0] == 2.0


def test_sr_re_rt_and_mhr_come_from_the_records() -> None:
    records = []
    for seed in (0, 1):
        records += [record(seed, "a", "none", False, 4, 40.0), record(seed, "b", "none", True, 2, 20.0),
                    record(seed, "a", "both", True, 1, 30.0), record(seed, "b", "both", True, 0, 10.0)]
    summary = summarize(records, ["Simple"], ["none", "both"])
    both, none = summary["Simple"]["both"], summary["Simple"]["none"]
    assert (none["sr"], both["sr"]) == (0.5, 1.0)
    assert both["re"] == pytest.approx((6 - 1) / 6) and both["rt"] == pytest.approx((60 - 40) / 60)
    assert none["re"] == 0.0 and none["mhr"] == 0.0 and both["mhr"] == 1.0
    assert both["sr_ci"] == [1.0, 1.0] and both["n"] == 4
    assert summary["All"]["both"]["sr"] == 1.0


def test_goals_compare_full_memory_with_no_memory_and_prompts() -> None:
    summary = {"Composite": {"none": {"sr": 0.2}, "both": {"sr": 0.4}},
               "Complex": {"none": {"sr": 0.0}, "both": {"sr": 0.3}},
               "All": {"none": {"steps": 10.0}, "both": {"steps": 4.0, "tokens": 300, "graph_tokens": 30, "sr": 0.5},
                       "both_whole": {"tokens": 1000, "graph_tokens": 600, "sr": 0.5}}}
    rows = goals(summary)
    assert rows["SR Composite: full / no memory"]["value"] == 2.0
    assert rows["SR Complex: full / no memory"]["met"]  # from zero: infinitely better
    assert rows["steps: full / no memory"]["value"] == 0.4
    assert rows["tokens (memory text): task subgraph / whole graph"]["met"]
    assert not rows["tokens (whole prompt): task subgraph / whole graph"]["met"]
    assert math.isnan(rows["tokens (memory text): task subgraph / whole graph at the same calls"]["value"])
    summary["All"]["both"]["whole_graph_tokens"] = 1200
    aim = "tokens (memory text): task subgraph / whole graph at the same calls, aim"
    assert aim not in goals(summary)
    aimed = goals(summary, token_aim=0.05)[aim]
    assert aimed["value"] == 0.025 and aimed["target"] == "<= 0.05" and aimed["met"]
    assert not goals(summary, token_aim=0.02)[aim]["met"]


def test_floors_count_the_tasks_that_took_the_stairs() -> None:
    records = [replace(record(0, t, "both", True, 0, 1.0), floors=n) for t, n in (("a", 1), ("b", 3), ("c", 2))]
    records.append(replace(record(0, "d", "both", True, 0, 1.0), floors=3, trivial=True))
    records.append(replace(record(0, "e", "both", True, 0, 1.0), floors=3, task_set="Memory"))
    rows = floors(records, ["Simple"], ["both", "none"])
    assert list(rows) == ["both"]
    assert rows["both"] == {"n": 3, "mean_floors": 2.0, "took_stairs": pytest.approx(2 / 3)}
