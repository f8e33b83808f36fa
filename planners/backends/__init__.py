"""Planner backends behind one interface; ``make_backend`` builds one by name.

- ``symbolic``: goal conditions and a small instruction grammar to skills (offline default);
- ``transformers``: a local causal LM from a path, decoding constrained to valid plans; a folder
  holding a vision-language model (LLaVA-, Idefics3/SmolVLM-style) loads the VLM backend, which
  also reads the camera images;
- ``openai``: any OpenAI-compatible chat completions server.
"""
from __future__ import annotations

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

__all__ = ["BACKENDS", "Answer", "BackendUnavailable", "InvalidInstruction", "PlanRequest", "PlanResponse",
           "PlannerBackend", "Question", "VisualAnswerer", "make_backend", "sees_images"]


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
