"""One interface for every planner backend: a request in, a plan (and what it cost) out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from planners.grammar import PlanSyntaxError, SkillCall, parse_plan
from planners.interfaces import KnownObject
from planners.prompt import Prompt


class BackendUnavailable(RuntimeError):
    """The backend cannot plan here (model missing, server unreachable); the message says why."""


class InvalidInstruction(ValueError):
    """The instruction asks for nothing a plan can do; the message says what was not understood."""


class ImplausibleGoal(InvalidInstruction):
    """The goal asks for a step no robot can take (pick up a floor lamp); the message names it."""


@dataclass(frozen=True)
class PlanRequest:
    instruction: str
    prompt: Prompt
    objects: tuple[KnownObject, ...]  # everything memory holds, for planning and validation
    shown: tuple[str, ...] = ()  # memory ids the prompt shows: what a model may name
    goal_conditions: tuple[str, ...] = ()
    held: str = ""  # memory id of the object in hand
    images: tuple[bytes, ...] = ()  # PNG camera images, for VLMs


@dataclass(frozen=True)
class PlanResponse:
    text: str
    calls: tuple[SkillCall, ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    error: str = ""  # why ``text`` did not parse; "" when it did

    @classmethod
    def from_text(cls, text: str, tokens_in: int, tokens_out: int, model_calls: int = 1) -> "PlanResponse":
        try:
            calls, error = tuple(parse_plan(text)), ""
        except PlanSyntaxError as exc:
            calls, error = (), f"model output does not parse: {exc}"
        return cls(text, calls, tokens_in, tokens_out, model_calls, error)


class PlannerBackend(Protocol):
    name: str

    def plan(self, request: PlanRequest) -> PlanResponse:
        """A plan for the request; raises BackendUnavailable or InvalidInstruction."""


@dataclass(frozen=True)
class Question:
    """A question about images whose answer is one ``name: value`` line per field, each value one of
    that field's options (a model server writes it; a local model chooses it token by token)."""

    prompt: Prompt
    images: tuple[bytes, ...]  # PNG
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # (name, allowed values)


@dataclass(frozen=True)
class Answer:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0


class VisualAnswerer(Protocol):
    """A backend that looks at images: the OpenAI-compatible backend, the local transformers VLM."""

    name: str

    def answer(self, question: Question) -> Answer:
        """The model's answer; raises BackendUnavailable when it cannot be asked."""
