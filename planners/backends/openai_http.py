"""Any OpenAI-compatible chat completions server (vLLM, Ollama, llama.cpp server, hosted APIs).

Plain HTTP through the standard library: a POST to ``{base_url}/chat/completions`` with the
system and user messages, camera images as base64 PNG data URLs for VLMs, a timeout per request
and bounded retries with backoff on connection errors, timeouts, 429 and 5xx. Other HTTP errors
and answers that are not a chat completion fail at once, as does an answer larger than
``max_answer_bytes``.

Structured output: the plan is asked for as JSON (``{"steps": [{"skill", "argument"}], "done"}``)
under a JSON schema whose skills and arguments are enumerated from the request, so a server that
constrains decoding (vLLM, llama.cpp, Ollama) can only write calls of known skills on objects the
prompt shows. Servers speak two dialects: OpenAI's ``response_format`` ``json_schema`` (vLLM,
Ollama, llama.cpp's own server) and ``json_object`` with a ``schema`` (llama-cpp-python's server).
``structured="auto"`` tries them in that order and falls back to plain text when the server
refuses the request (HTTP 400 or 422, or an error that names ``response_format``: llama-cpp-python
answers its validation errors with HTTP 500), once per backend. Whatever comes back, JSON or text, must
still parse (planners.grammar) and validate: the runner sends it back otherwise.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any, Sequence

from planners.backends.base import Answer, BackendUnavailable, PlanRequest, PlanResponse, Question
from planners.grammar import DONE, SKILLS
from planners.prompt import Prompt
from scene_graph.tokens import count_tokens

log = logging.getLogger(__name__)
_CODE_BLOCK = re.compile(r"```[A-Za-z]*\n(.*?)```", re.DOTALL)
_FORMATS = {"auto": ("json_schema", "json_object", "off"), "json_schema": ("json_schema",),
            "json_object": ("json_object",), "off": ("off",)}
_REFUSED = (400, 422)  # the server does not take the request as sent (e.g. an unknown response_format)
_JSON_RULE = ("Write the plan as one JSON object: \"steps\", the skill calls in order, each "
              "{\"skill\": ..., \"argument\": ...} (argument \"\" for none), and \"done\": true when the plan "
              "finishes the task, false when it only searches.")


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status} {detail}")
        self.status = status


def plan_schema(request: PlanRequest, max_steps: int = 8) -> dict[str, Any]:
    """The JSON schema of a plan for this request: a skill on one of the objects the prompt shows
    (all present objects when it shows none), or Explore on a room id or nothing. Skills other than
    Explore always take an object, so a grammar-constrained model cannot write one without it."""
    shown = set(request.shown)
    ids = sorted({o.id for o in request.objects if not o.missing and (not shown or o.id in shown)}
                 | ({request.held} if request.held else set()))
    rooms = sorted({o.room_id for o in request.objects if o.room_id} | {""})

    def step(skills: list[str], arguments: list[str]) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["skill", "argument"],
                "properties": {"skill": {"type": "string", "enum": skills},
                               "argument": {"type": "string", "enum": arguments}}}

    steps = [step(["Explore"], rooms)]
    if ids:
        steps.insert(0, step([name for name in SKILLS if name != "Explore"], ids))
    return {"type": "object", "additionalProperties": False, "required": ["steps", "done"],
            "properties": {"steps": {"type": "array", "items": {"anyOf": steps}, "maxItems": max_steps},
                           "done": {"type": "boolean"}}}


def plan_text(content: str) -> str:
    """The plan language from a model's answer: JSON as the schema asks turned into lines, a fenced
    code block's body, or the text itself (which then parses or is reported as it is)."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        lines = []
        for step in data["steps"]:
            if not (isinstance(step, dict) and isinstance(step.get("skill"), str)
                    and isinstance(step.get("argument", ""), str)):
                return content
            lines.append(f"{step['skill']}({step.get('argument', '')})")
        return "\n".join(lines + ([DONE] if data.get("done") is True else []))
    block = _CODE_BLOCK.search(content)
    return block.group(1) if block else content


def _error_text(exc: urllib.error.HTTPError) -> str:
    """The start of an error answer's body ("" when it cannot be read)."""
    try:
        return exc.read(4096).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _count(value: Any, fallback: str) -> int:
    """A usage figure from the server, else the prompt or answer counted here."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else count_tokens(fallback)


def messages(prompt: Prompt, images: Sequence[bytes]) -> list[dict[str, Any]]:
    """System and user messages; images go after the user's text as base64 PNG data URLs
    (OpenAI content parts, which vLLM, Ollama and llama.cpp's server read too)."""
    user: Any = prompt.user
    if images:
        user = [{"type": "text", "text": prompt.user}] + [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}
            for png in images]
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


class OpenAIBackend:
    """``base_url`` such as http://127.0.0.1:8000/v1; ``retries`` extra attempts after the first;
    ``structured``: auto | json_schema | json_object | off (see the module's docstring)."""

    name = "openai"

    def __init__(self, base_url: str, model: str = "default", api_key: str = "", timeout_s: float = 30.0,
                 retries: int = 2, backoff_s: float = 0.5, max_tokens: int = 256, structured: str = "auto",
                 max_answer_bytes: int = 1_000_000) -> None:
        if structured not in _FORMATS:
            raise ValueError(f"structured must be one of {', '.join(_FORMATS)}, not {structured!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.max_answer_bytes = max_answer_bytes
        self.formats = list(_FORMATS[structured])  # the first is what the next request asks for

    def _body(self, request: PlanRequest, form: str) -> dict[str, Any]:
        prompt = request.prompt
        if form != "off":
            prompt = replace(prompt, system=prompt.system + "\n" + _JSON_RULE)
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                                "messages": messages(prompt, request.images)}
        if form == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "plan", "strict": True, "schema": plan_schema(request)}}
        elif form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": plan_schema(request)}
        return body

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, data, headers),
                                            timeout=self.timeout_s) as answer:
                    raw = answer.read(self.max_answer_bytes + 1)
                if len(raw) > self.max_answer_bytes:
                    raise BackendUnavailable(f"{self.url} answered with more than {self.max_answer_bytes} bytes")
                return json.loads(raw)
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                detail = _error_text(exc)
                if exc.code in _REFUSED or (exc.code >= 500 and "response_format" in detail):
                    raise _Refused(exc.code, f"{exc.reason}: {detail[:200]}") from None
                if exc.code != 429 and exc.code < 500:
                    break
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # refused, reset, closed mid-answer, timed out, or not HTTP at all
                last = str(getattr(exc, "reason", exc)) or type(exc).__name__
            except ValueError:  # not JSON, or not even text
                raise BackendUnavailable(f"{self.url} answered with something that is not JSON") from None
            log.warning("chat completion attempt %d of %d failed: %s", attempt + 1, self.retries + 1, last)
        raise BackendUnavailable(f"cannot get a chat completion from {self.url} ({attempt + 1} attempts): {last}")

    def _content(self, answer: Any) -> str:
        try:
            text = answer["choices"][0]["message"].get("content") or ""  # no content: an empty plan, reported
        except (KeyError, IndexError, TypeError, AttributeError):
            text = None
        if not isinstance(text, str):
            raise BackendUnavailable(f"{self.url} did not answer with a chat completion")
        return text

    def answer(self, question: Question) -> Answer:
        """What the model writes about the images (the caller parses and checks it)."""
        answer = self._post({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                             "messages": messages(question.prompt, question.images)})
        text = self._content(answer)
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        return Answer(text, _count(usage.get("prompt_tokens"), question.prompt.text),
                      _count(usage.get("completion_tokens"), text))

    def _complete(self, request: PlanRequest) -> Any:
        """The server's answer, stepping down the forms of structured output it refuses."""
        while True:
            form = self.formats[0]
            try:
                return self._post(self._body(request, form))
            except _Refused as exc:
                if len(self.formats) == 1:
                    raise BackendUnavailable(f"{self.url} refused the request: {exc}") from None
                self.formats.pop(0)
                log.info("%s refused response format %s (%s); asking with %s from now on", self.url, form, exc,
                         self.formats[0])

    def plan(self, request: PlanRequest) -> PlanResponse:
        answer = self._complete(request)
        text = self._content(answer)
        usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
        return PlanResponse.from_text(plan_text(text), _count(usage.get("prompt_tokens"), request.prompt.text),
                                      _count(usage.get("completion_tokens"), text))

    @property
    def structured(self) -> str:
        """The form the next request asks for (auto settles on one after the first refusal)."""
        return self.formats[0]
