"""The OpenAI-compatible backend against small chat completions servers started here on 127.0.0.1."""
from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import pytest
from planner_homes import KITCHEN, FakeMemory, FakeRobot

from planners.backends import BackendUnavailable, PlanRequest, make_backend
from planners.grammar import SkillCall
from planners.loop import TaskError, TaskRunner
from planners.prompt import build_prompt
from tests.planners.chat_server import RAW, completion

PLAN = "```\nGoToObject(obj_0006)\nToggleObjectOn(obj_0006)\nDone\n```"


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
                         max_corrections=1).run("turn on the lamp")
    assert outcome.error_code == TaskError.PLAN_INVALID and "does not parse" in outcome.error_message
    assert (outcome.model_calls, outcome.corrections) == (2, 1) and not robot.done


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


JSON_PLAN = {"steps": [{"skill": "GoToObject", "argument": "obj_0006"},
                       {"skill": "ToggleObjectOn", "argument": "obj_0006"}], "done": True}
LAMP_PLAN = (SkillCall("GoToObject", "obj_0006"), SkillCall("ToggleObjectOn", "obj_0006"))


def test_the_plan_is_asked_for_under_a_json_schema_of_known_skills_and_shown_objects(serve) -> None:
    server = serve(lambda body: (200, completion(json.dumps(JSON_PLAN))))
    req = replace(request(), shown=("obj_0006", "obj_0003"))
    response = make_backend("openai", base_url=server.url).plan(req)
    assert response.calls == LAMP_PLAN and response.text.endswith("Done") and response.error == ""
    form = server.bodies[0][2]["response_format"]
    assert form["type"] == "json_schema" and form["json_schema"]["strict"] is True
    steps = form["json_schema"]["schema"]["properties"]["steps"]["items"]["anyOf"]
    on_object, explore = (s["properties"] for s in steps)
    assert "ToggleObjectOn" in on_object["skill"]["enum"] and "Teleport" not in on_object["skill"]["enum"]
    assert {"obj_0006", "obj_0003"} <= set(on_object["argument"]["enum"])
    assert "" not in on_object["argument"]["enum"]  # a skill on an object always names one
    assert "obj_0001" not in on_object["argument"]["enum"]  # memory the prompt does not show is not offered
    assert explore["skill"]["enum"] == ["Explore"] and {"", "room_0"} <= set(explore["argument"]["enum"])
    assert "JSON" in server.bodies[0][2]["messages"][0]["content"]


def test_a_search_plan_in_json_does_not_claim_the_task_done(serve) -> None:
    server = serve(lambda body: (200, completion(json.dumps({"steps": [{"skill": "Explore", "argument": ""}],
                                                             "done": False}))))
    response = make_backend("openai", base_url=server.url).plan(request())
    assert response.calls == (SkillCall("Explore"),) and not response.text.endswith("Done")


def llama_cpp_python_dialect(body: dict) -> tuple[int, object]:
    """Like llama-cpp-python's server: response_format only as json_object with a schema, and its
    validation errors answered as HTTP 500."""
    form = body.get("response_format", {}).get("type")
    if form not in (None, "json_object"):
        return 500, {"error": {"message": "1 validation error: {'type': 'literal_error', 'loc': ('body', "
                               "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
                               "type": "internal_server_error"}}
    return 200, completion(json.dumps(JSON_PLAN))


def test_auto_steps_down_to_the_dialect_the_server_speaks_once(serve) -> None:
    server = serve(llama_cpp_python_dialect)
    backend = make_backend("openai", base_url=server.url)
    assert backend.plan(request()).calls == LAMP_PLAN
    assert backend.plan(request()).calls == LAMP_PLAN
    forms = [b["response_format"]["type"] for _, _, b in server.bodies]
    assert forms == ["json_schema", "json_object", "json_object"] and backend.structured == "json_object"
    assert "properties" in server.bodies[1][2]["response_format"]["schema"]


def test_a_server_without_structured_output_gets_plain_text(serve) -> None:
    server = serve(lambda body: (400, {"error": "unsupported"}) if "response_format" in body
                   else (200, completion(PLAN)))
    backend = make_backend("openai", base_url=server.url, backoff_s=0.01)
    assert backend.plan(request()).calls == LAMP_PLAN and backend.structured == "off"
    assert len(server.bodies) == 3 and "JSON" not in server.bodies[2][2]["messages"][0]["content"]
    ignoring = serve(lambda body: (200, completion(PLAN)))  # takes response_format, answers text anyway
    assert make_backend("openai", base_url=ignoring.url).plan(request()).calls == LAMP_PLAN


def test_structured_output_can_be_pinned_or_turned_off(serve) -> None:
    server = serve(llama_cpp_python_dialect)
    with pytest.raises(BackendUnavailable, match="refused the request: HTTP 500.*response_format"):
        make_backend("openai", base_url=server.url, structured="json_schema").plan(request())
    make_backend("openai", base_url=server.url, structured="off").plan(request())
    assert "response_format" not in server.bodies[-1][2]
    with pytest.raises(ValueError, match="structured must be one of"):
        make_backend("openai", base_url=server.url, structured="grammar")


@pytest.mark.parametrize("content", ['{"steps": [{"skill": 3}], "done": true}', '{"steps": "GoToObject"}',
                                     '{"steps": [{"skill": "Teleport", "argument": "moon"}], "done": true}'])
def test_json_of_the_wrong_shape_is_reported_as_a_plan_that_does_not_parse(serve, content) -> None:
    server = serve(lambda body: (200, completion(content)))
    response = make_backend("openai", base_url=server.url).plan(request())
    assert response.calls == () and "does not parse" in response.error


@pytest.mark.parametrize("answer, why", [
    ((RAW, b"SSH-2.0-OpenSSH_9.2\r\n"), "not HTTP"),
    ((RAW, b""), "closes the connection"),
    ((RAW, b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"choices\": ["), "closes mid-answer"),
    ((200, b"\xff\xfe\x00garbage"), "bytes that are not text"),
])
def test_a_server_speaking_garbage_is_unavailable_with_the_reason(serve, answer, why) -> None:
    server = serve(lambda body: answer)
    backend = make_backend("openai", base_url=server.url, retries=1, backoff_s=0.01)
    with pytest.raises(BackendUnavailable, match="attempts|not JSON") as caught:
        backend.plan(request())
    assert server.url in str(caught.value), why
    outcome = TaskRunner(backend, FakeMemory(list(KITCHEN)), FakeRobot()).run("turn on the lamp")
    assert outcome.error_code == TaskError.BACKEND_UNAVAILABLE and outcome.error_message


def test_an_answer_too_large_is_refused_and_usage_garbage_is_counted_here(serve) -> None:
    huge = serve(lambda body: (200, completion("x" * 2000)))
    with pytest.raises(BackendUnavailable, match="more than 1000 bytes"):
        make_backend("openai", base_url=huge.url, max_answer_bytes=1000).plan(request())
    odd = serve(lambda body: (200, {**completion(PLAN), "usage": {"prompt_tokens": "many", "completion_tokens": -3}}))
    response = make_backend("openai", base_url=odd.url).plan(request())
    assert response.calls == LAMP_PLAN and response.tokens_in > 50 and response.tokens_out > 5
