"""The entry points end to end: a tiny suite, and a messy task file in KARMA's format."""
from __future__ import annotations

import json

from PIL import Image

from benchmarks.suite import run_suite, run_task_file
from benchmarks.suite.ablations import ABLATIONS


def test_the_tiny_suite_reports_every_metric_per_set_and_ablation(tmp_path) -> None:
    result = run_suite("tiny", out_dir=tmp_path, workers=1)
    assert (result["mode"], result["protocol"], result["scoring"], result["perception"]) == (
        "in-process", "closed loop", "karma", "oracle")
    text = (tmp_path / "results.md").read_text()
    assert "Run in-process, closed loop, karma scoring" in text and "Perception: oracle." in text
    for task_set in ("Simple", "Composite", "Complex", "All"):
        for name in ABLATIONS:
            row = result["sets"][task_set][name]
            for metric in ("sr", "mra", "mhr", "re", "rt", "steps", "tokens"):
                assert metric in row and len(row[f"{metric}_ci"]) == 2
            assert 0.0 <= row["sr"] <= 1.0
    assert result["sets"]["All"]["none"]["mra"] == 0.0  # nothing remembered before the task
    assert set(result["stm_sweep"]) == {"fifo_merge", "lru", "lfu", "w_tinylfu"}
    names = {p.rsplit("/", 1)[-1] for p in result["files"]}
    assert {"results.md", "results.json", "tasks.csv", "summary.csv", "stm_sweep.csv", "sr.png",
            "exploration_saved.png", "hit_rate.png", "tasks_seed0.json"} <= names
    assert Image.open(tmp_path / "sr.png").size[0] > 100
    assert "| both (task subgraph) |" in (tmp_path / "results.md").read_text()
    assert json.loads((tmp_path / "results.json").read_text())["suite"] == "tiny"


def test_a_task_file_reports_per_task_and_what_it_could_not_understand(tmp_path, capsys) -> None:
    path = tmp_path / "karma.json"
    path.write_text(json.dumps({"composite": [
        {"FloorPlan": "FloorPlan1", "ID": 1, "Goal Condition": "On(Tomato, CounterTop): 1, Fly(Tomato)",
         "Instruction": "Put the tomato on the counter and make it fly"},
        {"FloorPlan": "FloorPlan1", "ID": 2, "Goal Condition": "levitate", "Instruction": "?"}]}))
    result = run_task_file(path, json_out=True, out_dir=tmp_path / "out", ablations=("none", "both"), workers=1)
    assert {i["text"] for i in result["issues"]} >= {"Fly(Tomato)", "levitate"}
    assert result["not_run"] == [{"task_set": "composite", "task_id": "2", "reason": "no goal condition understood"}]
    assert {(t["task_id"], t["ablation"]) for t in result["tasks"]} == {("1", "none"), ("1", "both")}
    by_ablation = {t["ablation"]: t for t in result["tasks"]}
    assert by_ablation["none"]["memory_changed"] is None
    assert by_ablation["both"]["memory_changed"] == (by_ablation["both"]["success"] != by_ablation["none"]["success"])
    for t in result["tasks"]:  # the condition understood, met after some skill or named in the failure
        assert t["scoring"] == "karma" and (t["met"] == [["On(Tomato, CounterTop): 1", t["met"][0][1]]]
                                            if t["success"] else "On(Tomato, CounterTop)" in t["failure"] or t["error"])
    assert set(result["sets"]["composite"]) == {"none", "both"}
    assert json.loads(capsys.readouterr().out)["file"] == str(path)
