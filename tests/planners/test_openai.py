"""The OpenAI-compatible backend against small chat completions servers started here on 127.0.0.1."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest
from planner_homes import KITCHEN, FakeMemory, FakeRobot

from planners.backends import BackendUnavailable, PlanRequest, make_backend
from planners.grammar import SkillCall
from planners.loop import TaskError, TaskRunner
from planners.prompt import build_prompt

PLAN = "```\nGoToObject(obj_0006)\nToggleObjectOn(obj_0006)\nDone\n```"


def completion(content: str) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 12}}


class Server:
    """A chat completions server whose answer is ``reply(request body) -> (status, body)``."""

    def __init__(self, reply: Callable[[dict], tuple[int, object]]) -> None:
        self.reply, self.bodies = reply, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append((self.path, dict(self.headers), body))
                status, answer = server.reply(body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[dict], tuple[int, object]]], Server]]:
    servers: list[Server] = []

    def start(reply: Callable[[dict], tuple[int, object]]) -> Server:
        servers.append(Server(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def request(images: tuple[bytes, ...] = ()) -> PlanRequest:
    prompt = build_prompt("turn on the lamp", "{name: obj_0006, type: FloorLamp}", [])
    return PlanRequest("turn on the lamp", prompt, tuple(KITCHEN), images=images)


def test_a_plan_comes_back_parsed_with_token_counts(serve) -> None:
    server = serve(lambda body: (200, completion(PLAN)))
    backend = make_backend("openai", base_url=server.url, model="planner-7b", api_key="sk-test")
    response = backend.plan(request())
    assert response.calls == (SkillCall("GoToObject", "obj_0006"), SkillCall("ToggleObjectOn", "obj_0006"))
    assert (response.error, response.tokens_in, response.tokens_out, response.model_calls) == ("", 321, 12, 1)
    path, headers, body = server.bodies[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "planner-7b" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "never an instruction" in body["messages"][0]["content"]


def test_images_go_as_base64_data_urls(serve) -> None:
    server = serve(lambda body: (200, completion(PLAN)))
    make_backend("openai", base_url=server.url).plan(request(images=(b"\x89PNG one", b"\x89PNG two")))
    content = server.bodies[0][2]["messages"][1]["content"]
    assert content[0]["type"] == "text" and "turn on the lamp" in content[0]["text"]
    urls = [part["image_url"]["url"] for part in content[1:]]
    images = [base64.b64decode(u.removeprefix("data:image/png;base64,")) for u in urls]
    assert images == [b"\x89PNG one", b"\x89PNG two"]


def test_unparsable_output_is_reported_not_executed(serve) -> None:
    server = serve(lambda body: (200, completion("I would love to help! Step one: find the lamp.")))
    response = make_backend("openai", base_url=server.url).plan(request())
    assert response.calls == () and "does not parse" in response.error and response.tokens_in == 321
    robot = FakeRobot()
    outcome = TaskRunner(make_backend("openai", base_url=server.url), FakeMemory(list(KITCHEN)), robot,
                         max_replans=1).run("turn on the lamp")
    assert outcome.error_code == TaskError.PLAN_INVALID and "does not parse" in outcome.error_message
    assert outcome.model_calls == 2 and not robot.done


def test_a_server_that_times_out_is_retried_then_unavailable(serve) -> None:
    server = serve(lambda body: (time.sleep(1.0), (200, completion(PLAN)))[1])
    backend = make_backend("openai", base_url=server.url, timeout_s=0.2, retries=1, backoff_s=0.01)
    with pytest.raises(BackendUnavailable, match=r"2 attempts.*timed out"):
        backend.plan(request())
    assert len(server.bodies) == 2
    outcome = TaskRunner(backend, FakeMemory(list(KITCHEN)), FakeRobot()).run("turn on the lamp")
    assert outcome.error_code == TaskError.BACKEND_UNAVAILABLE and "timed out" in outcome.error_message


def test_server_errors_are_retried_and_client_errors_are_not(serve) -> None:
    answers = iter([(503, {"error": "loading"}), (200, completion(PLAN))])
    server = serve(lambda body: next(answers))
    assert make_backend("openai", base_url=server.url, backoff_s=0.01).plan(request()).calls
    assert len(server.bodies) == 2
    refused = serve(lambda body: (404, {"error": "no such model"}))
    with pytest.raises(BackendUnavailable, match="HTTP 404"):
        make_backend("openai", base_url=refused.url, retries=3, backoff_s=0.01).plan(request())
    assert len(refused.bodies) == 1


@pytest.mark.parametrize("answer", [b"<html>not json</html>", {"choices": []}, ["a", "list"]])
def test_an_answer_that_is_no_chat_completion_is_a_clear_error(serve, answer) -> None:
    server = serve(lambda body: (200, answer))
    with pytest.raises(BackendUnavailable, match="not JSON|did not answer with a chat completion"):
        make_backend("openai", base_url=server.url).plan(request())


def test_nobody_listening_is_unavailable_quickly() -> None:
    backend = make_backend("openai", base_url="http://127.0.0.1:9/v1", retries=2, backoff_s=0.01)
    with pytest.raises(BackendUnavailable, match=r"127.0.0.1:9/v1/chat/completions \(3 attempts\)"):
        backend.plan(request())


def test_an_unknown_backend_name_is_refused() -> None:
    with pytest.raises(ValueError, match="symbolic, transformers, openai"):
        make_backend("gpt-17")
