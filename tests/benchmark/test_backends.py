"""The benchmark with a model backend: options as the planner node takes them, and the accounting
of model calls, tokens and corrections in every record (against a chat completions test double)."""
from __future__ import annotations

import argparse
import json

import pytest

from benchmarks.suite import run_task_file
from benchmarks.suite.run import Planner, add_arguments, planner_of
from planners.backends import BackendConfig
from tests.planners.chat_server import Server, completion

# A plan naming an object no memory holds: refused by the validator every time.
WRONG = json.dumps({"steps": [{"skill": "GoToObject", "argument": "obj_9999"},
                              {"skill": "PickupObject", "argument": "obj_9999"}], "done": True})


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_backend_options_are_the_planner_nodes() -> None:
    assert planner_of(parse()) == Planner(BackendConfig("symbolic"), 2)
    chosen = planner_of(parse("--backend", "openai", "--base-url", "http://127.0.0.1:8080/v1", "--model", "smol",
                              "--timeout-s", "7", "--structured-output", "json_object", "--max-corrections", "4"))
    assert chosen.backend == BackendConfig("openai", base_url="http://127.0.0.1:8080/v1", model="smol",
                                           timeout_s=7.0, structured="json_object")
    assert chosen.max_corrections == 4
    assert chosen.record() == {"backend": "openai", "model": "smol", "max_corrections": 4,
                               "planner_input": "instruction"}
    assert planner_of(parse("--backend", "transformers", "--model-path", "/models/x")).record()["model"] == "/models/x"
    with pytest.raises(SystemExit):
        parse("--backend", "gpt-17")
    with pytest.raises(ValueError, match="--max-corrections"):
        planner_of(parse("--max-corrections", "-1"))


def test_records_count_model_calls_tokens_and_corrections_of_a_model_backend(tmp_path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"Simple": [{"FloorPlan": "FloorPlan1", "ID": 1, "Goal Condition": "ON(Apple, Plate)",
                                            "Instruction": "put the apple on the plate"}]}))
    with Server(lambda body: (200, completion(WRONG, prompt_tokens=500, completion_tokens=7))) as server:
        planner = Planner(BackendConfig("openai", base_url=server.url, model="planner-test", timeout_s=10.0), 1)
        result = run_task_file(path, out_dir=tmp_path / "out", ablations=("none", "both"), workers=1,
                               planner=planner)
        asked = len(server.bodies)
    assert (result["backend"], result["model"], result["max_corrections"]) == ("openai", "planner-test", 1)
    assert len(result["tasks"]) == 2
    for task in result["tasks"]:
        assert task["failure_code"] == "PLAN_INVALID" and "NOT_IN_MEMORY" in task["error"]
        assert (task["model_calls"], task["corrections"], task["tokens_out"]) == (2, 1, 14)
        assert task["planner_calls"] == 2 and task["tokens"] > 0 and task["steps"] == 0
    assert asked == 4  # two tasks, each a plan and one correction
    assert result["sets"]["Simple"]["both"]["corrections"] == 1.0
    assert "Planner: openai, model planner-test." in (tmp_path / "out" / "results.md").read_text()
