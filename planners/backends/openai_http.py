"""Any OpenAI-compatible chat completions server (vLLM, Ollama, llama.cpp server, hosted APIs).

Plain HTTP through the standard library: a POST to ``{base_url}/chat/completions`` with the
system and user messages, camera images as base64 PNG data URLs for VLMs, a timeout per request
and bounded retries with backoff on connection errors, timeouts, 429 and 5xx. Other HTTP errors
and answers that are not a chat completion fail at once. Whatever the model writes must still
parse (planners.grammar): the runner reports output that does not as an invalid plan.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.error
import urllib.request
from typing import Any, Sequence

from planners.backends.base import Answer, BackendUnavailable, PlanRequest, PlanResponse, Question
from planners.prompt import Prompt
from scene_graph.tokens import count_tokens

log = logging.getLogger(__name__)
_CODE_BLOCK = re.compile(r"```[A-Za-z]*\n(.*?)```", re.DOTALL)


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
    """``base_url`` such as http://127.0.0.1:8000/v1; ``retries`` extra attempts after the first."""

    name = "openai"

    def __init__(self, base_url: str, model: str = "default", api_key: str = "", timeout_s: float = 30.0,
                 retries: int = 2, backoff_s: float = 0.5, max_tokens: int = 256) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens

    def _body(self, request: PlanRequest) -> dict[str, Any]:
        return {"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                "messages": messages(request.prompt, request.images)}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
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
                    return json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code != 429 and exc.code < 500:
                    break
            except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
                last = str(getattr(exc, "reason", exc))
            except json.JSONDecodeError:
                raise BackendUnavailable(f"{self.url} answered with something that is not JSON") from None
            log.warning("chat completion attempt %d of %d failed: %s", attempt + 1, self.retries + 1, last)
        raise BackendUnavailable(f"cannot get a chat completion from {self.url} ({attempt + 1} attempts): {last}")

    def _content(self, answer: dict[str, Any]) -> str:
        try:
            return str(answer["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise BackendUnavailable(f"{self.url} did not answer with a chat completion") from None

    def answer(self, question: Question) -> Answer:
        """What the model writes about the images (the caller parses and checks it)."""
        answer = self._post({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                             "messages": messages(question.prompt, question.images)})
        text = self._content(answer)
        usage = answer.get("usage") or {}
        return Answer(text, int(usage.get("prompt_tokens") or count_tokens(question.prompt.text)),
                      int(usage.get("completion_tokens") or count_tokens(text)))

    def plan(self, request: PlanRequest) -> PlanResponse:
        answer = self._post(self._body(request))
        text = self._content(answer)
        block = _CODE_BLOCK.search(text)
        usage = answer.get("usage") or {}
        tokens_in = int(usage.get("prompt_tokens") or count_tokens(request.prompt.text))
        tokens_out = int(usage.get("completion_tokens") or count_tokens(text))
        return PlanResponse.from_text(block.group(1) if block else text, tokens_in, tokens_out)
