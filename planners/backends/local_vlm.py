"""A local vision-language model (transformers' image-text-to-text classes: LLaVA-style,
Idefics3/SmolVLM-style) that plans and answers questions about images.

Weights and processor load from a local folder with ``AutoModelForImageTextToText`` and
``AutoProcessor`` (``local_files_only``: never downloaded). The prompt goes through the
processor's chat template with one image slot per attached image, after the text, as the
OpenAI-compatible backend sends them; the processor turns the images into the model's pixel inputs,
which the first forward pass takes. Plans are then decoded in the same constrained trie as the
text-only backend (:mod:`planners.backends.local_lm`), so they are valid and plausible whatever the
model; answers to a :class:`Question` are chosen, field by field, among the allowed values.
"""
from __future__ import annotations

import functools
import io
import json
import logging
from pathlib import Path
from typing import Any, Sequence

from planners.backends.base import Answer, BackendUnavailable, PlanRequest, Question
from planners.backends.local_lm import _HINT, TransformersBackend, _Decoder
from planners.prompt import Prompt
from scene_graph.tokens import HuggingFaceCounter, use_tokenizer

log = logging.getLogger(__name__)


def is_vision_model(model_path: str) -> bool:
    """Whether the folder holds a vision-language model (its config has a vision tower)."""
    config = Path(model_path) / "config.json"
    try:
        return "vision_config" in json.loads(config.read_text())
    except (OSError, ValueError):
        return False


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[Any, Any]:
    """Processor and model, once per process."""
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as exc:
        raise BackendUnavailable(f"the transformers VLM backend needs transformers and Pillow: {_HINT} ({exc})") \
            from exc
    try:
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        raise BackendUnavailable(f"cannot load a vision-language model from {path}: {exc}") from exc
    model.eval()
    log.info("loaded %s from %s", type(model).__name__, path)
    return processor, model


class TransformersVLMBackend(TransformersBackend):
    """``model_path``: a folder saved with ``save_pretrained`` (model and processor)."""

    def __init__(self, model_path: str, max_steps: int = 8, gguf_file: str = "") -> None:
        if gguf_file:
            raise BackendUnavailable("a GGUF vision-language model runs in llama.cpp's server: use the openai "
                                     "backend with its base URL")
        path = Path(model_path)
        if not path.is_dir():
            raise BackendUnavailable(f"no model at {path}")
        self.processor, self.model = _load(str(path))
        self.tokenizer = self.processor.tokenizer
        use_tokenizer(HuggingFaceCounter(self.tokenizer, f"{type(self.tokenizer).__name__} of {path.name}"))
        self.max_steps = max_steps

    def _chat(self, prompt: Prompt, images: int) -> str:
        user = [{"type": "text", "text": prompt.user}] + [{"type": "image"}] * images
        chat = [{"role": "system", "content": [{"type": "text", "text": prompt.system}]},
                {"role": "user", "content": user}]
        if getattr(self.processor, "chat_template", None):
            return str(self.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))
        return prompt.text + "\n" + getattr(self.processor, "image_token", "<image>") * images + "\n"

    def _model_inputs(self, prompt: Prompt, images: Sequence[bytes]) -> tuple[list[int], dict[str, Any]]:
        from PIL import Image, UnidentifiedImageError

        try:
            pictures = [Image.open(io.BytesIO(png)).convert("RGB") for png in images]
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"an attached image is not a readable PNG: {exc}") from exc
        batch = dict(self.processor(text=self._chat(prompt, len(pictures)), images=pictures or None,
                                    return_tensors="pt"))
        ids = batch.pop("input_ids")[0].tolist()
        batch.pop("attention_mask", None)
        return ids, batch

    def _inputs(self, request: PlanRequest) -> tuple[list[int], dict[str, Any]]:
        return self._model_inputs(request.prompt, request.images)

    def answer(self, question: Question) -> Answer:
        """One ``name: value`` line per field, each value the allowed one the model prefers."""
        ids, first_inputs = self._model_inputs(question.prompt, question.images)
        decoder = _Decoder(self.model, ids, first_inputs)
        lines = []
        for name, values in question.fields:
            decoder.pending += self.tokenizer(f"{name}:", add_special_tokens=False).input_ids
            options = self.tokenizer([f" {v}\n" for v in values], add_special_tokens=False).input_ids
            lines.append(f"{name}: {decoder.choose({tuple(seq): v for seq, v in zip(options, values)})}")
        return Answer("\n".join(lines), len(ids), decoder.generated)
