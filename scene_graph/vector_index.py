"""A vector index over object texts: Chroma (HNSW, on disk or a server) or a brute-force baseline.

Both implementations answer the same five calls, so retrieval code, tests and the query benchmark
can swap one for the other. Scores are cosine similarities (higher is better). Embeddings are
always computed here (or passed in) and handed to Chroma ready-made: Chroma's own default
embedding function downloads an ONNX model, which fails on an offline robot.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Protocol, Sequence, Union

import numpy as np

from scene_graph.embeddings import MiniLMEmbedder, TextEmbedder

log = logging.getLogger(__name__)

Metadata = Mapping[str, Union[str, int, float, bool]]
QueryInput = Union[str, np.ndarray, Sequence[float]]

DEFAULT_CHROMA_PATH = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "embodied_memory" / "chroma"
# benchmarks/query.py at 100k objects: Chroma's defaults (ef 100, M 16) gave recall@10 0.96, at the edge of
# the 0.95 goal; these give 0.995 for ~1.5x build time and the same sub-3 ms p95 query.
DEFAULT_HNSW = {"ef_construction": 200, "ef_search": 128, "max_neighbors": 32}


class VectorIndexError(RuntimeError):
    """Unknown index kind, unreachable server or unknown ids; the message names the cause."""


class VectorIndex(Protocol):
    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Optional[Sequence[Optional[Metadata]]] = None,
        embeddings: Optional[np.ndarray] = None,
    ) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, text_or_vector: QueryInput, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray: ...


class _EmbeddingIndex:
    """What both indexes share: turning texts or given vectors into unit float32 rows."""

    def __init__(self, embedder: Optional[TextEmbedder]) -> None:
        self._embedder = embedder

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:  # lazily, so index-only use never loads the model
            self._embedder = MiniLMEmbedder()
        return self._embedder

    def _rows(self, ids: Sequence[str], texts: Sequence[str], embeddings: Optional[np.ndarray]) -> np.ndarray:
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one upsert")
        rows = self.embedder.embed(texts) if embeddings is None else _unit_rows(embeddings)
        if rows.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but {rows.shape[0]} embeddings")
        return rows

    def _query_vector(self, text_or_vector: QueryInput) -> np.ndarray:
        if isinstance(text_or_vector, str):
            return self.embedder.embed([text_or_vector])[0]
        return _unit_rows(np.asarray(text_or_vector))[0]


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _matches(metadata: Optional[Metadata], where: Metadata) -> bool:
    return metadata is not None and all(metadata.get(key) == value for key, value in where.items())


class NumpyVectorIndex(_EmbeddingIndex):
    """Exact brute-force search in memory: the benchmark's baseline and a dependency-free fallback."""

    def __init__(self, embedder: Optional[TextEmbedder] = None) -> None:
        super().__init__(embedder)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._metadatas: list[Optional[Metadata]] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)  # capacity rows; first len(_ids) in use

    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Optional[Sequence[Optional[Metadata]]] = None,
        embeddings: Optional[np.ndarray] = None,
    ) -> None:
        rows = self._rows(ids, texts, embeddings)
        metadatas = metadatas if metadatas is not None else [None] * len(ids)
        self._reserve(len(self._ids) + len(ids), rows.shape[1])
        for object_id, row, metadata in zip(ids, rows, metadatas):
            index = self._row_of.get(object_id)
            if index is None:
                index = len(self._ids)
                self._ids.append(object_id)
                self._metadatas.append(None)
                self._row_of[object_id] = index
            self._matrix[index] = row
            self._metadatas[index] = dict(metadata) if metadata is not None else None

    def _reserve(self, rows: int, dim: int) -> None:
        if self._ids and dim != self._matrix.shape[1]:
            raise ValueError(f"embeddings have {dim} dimensions, the index holds {self._matrix.shape[1]}")
        if self._matrix.shape[0] >= rows and self._matrix.shape[1] == dim:
            return
        grown = np.zeros((max(rows, 2 * self._matrix.shape[0], 64), dim), dtype=np.float32)
        if self._ids:
            grown[: len(self._ids)] = self._matrix[: len(self._ids)]
        self._matrix = grown

    def delete(self, ids: Sequence[str]) -> None:
        """Remove ids (unknown ones are ignored); the last row fills each hole to stay compact."""
        for object_id in ids:
            index = self._row_of.pop(object_id, None)
            if index is None:
                continue
            last = len(self._ids) - 1
            if index != last:
                moved = self._ids[last]
                self._ids[index], self._metadatas[index] = moved, self._metadatas[last]
                self._matrix[index] = self._matrix[last]
                self._row_of[moved] = index
            self._ids.pop()
            self._metadatas.pop()

    def query(self, text_or_vector: QueryInput, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]:
        if k <= 0 or not self._ids:
            return []
        scores = self._matrix[: len(self._ids)] @ self._query_vector(text_or_vector)
        candidates = np.arange(len(self._ids))
        if where:
            candidates = np.array([i for i, m in enumerate(self._metadatas) if _matches(m, where)], dtype=np.int64)
            scores = scores[candidates]
        if len(candidates) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            candidates, scores = candidates[top], scores[top]
        order = np.argsort(-scores, kind="stable")
        return [(self._ids[candidates[i]], float(scores[i])) for i in order]

    def count(self) -> int:
        return len(self._ids)

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self._row_of]
        if missing:
            raise VectorIndexError(f"unknown ids: {missing[:5]}")
        return self._matrix[[self._row_of[i] for i in ids]].copy()


class ChromaVectorIndex(_EmbeddingIndex):
    """Chroma collection in cosine space (HNSW): a local folder by default, a server when given a host."""

    def __init__(
        self,
        path: Union[str, Path, None] = None,
        host: Optional[str] = None,
        port: int = 8000,
        collection: str = "objects",
        hnsw: Optional[Mapping[str, int]] = None,
        embedder: Optional[TextEmbedder] = None,
    ) -> None:
        super().__init__(embedder)
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if host is not None:
            try:
                self._client = chromadb.HttpClient(host=host, port=port, settings=settings)
                self._client.heartbeat()
            except Exception as exc:  # chromadb raises ValueError, httpx errors, ... for the same cause
                raise VectorIndexError(f"no Chroma server reachable at {host}:{port}: {exc}") from exc
            self.location = f"http://{host}:{port}"
        else:
            folder = Path(path) if path is not None else DEFAULT_CHROMA_PATH
            folder.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(folder), settings=settings)
            self.location = str(folder)
        config = {"hnsw": {"space": "cosine", **DEFAULT_HNSW, **(hnsw or {})}}
        # embedding_function=None: vectors always come from us (see module docstring).
        self._collection = self._client.get_or_create_collection(
            collection, configuration=config, embedding_function=None
        )
        self.max_batch = self._client.get_max_batch_size()
        log.info("chroma collection %r at %s (%d items)", collection, self.location, self.count())

    def _chunks(self, n: int) -> Iterator[slice]:
        for start in range(0, n, self.max_batch):
            yield slice(start, min(n, start + self.max_batch))

    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Optional[Sequence[Optional[Metadata]]] = None,
        embeddings: Optional[np.ndarray] = None,
    ) -> None:
        rows = self._rows(ids, texts, embeddings)
        for part in self._chunks(len(ids)):
            self._collection.upsert(
                ids=list(ids[part]),
                embeddings=rows[part],
                documents=list(texts[part]),
                metadatas=None if metadatas is None else [dict(m) if m else None for m in metadatas[part]],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for part in self._chunks(len(ids)):
            self._collection.delete(ids=list(ids[part]))

    def query(self, text_or_vector: QueryInput, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        vector = self._query_vector(text_or_vector)
        result = self._collection.query(
            query_embeddings=vector[None, :], n_results=k, where=_chroma_where(where), include=["distances"]
        )
        # Chroma's cosine distance is 1 - cosine similarity.
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def count(self) -> int:
        return self._collection.count()

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray:
        found: dict[str, np.ndarray] = {}
        for part in self._chunks(len(ids)):
            got = self._collection.get(ids=list(ids[part]), include=["embeddings"])
            found.update(zip(got["ids"], got["embeddings"]))
        missing = [i for i in ids if i not in found]
        if missing:
            raise VectorIndexError(f"unknown ids: {missing[:5]}")
        return np.array([found[i] for i in ids], dtype=np.float32).reshape(len(ids), -1)


def _chroma_where(where: Optional[Metadata]) -> Optional[dict[str, Any]]:
    """Equality filter in Chroma's syntax, which wants ``$and`` once there are two keys."""
    if not where:
        return None
    clauses = [{key: value} for key, value in where.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


INDEX_KINDS = ("numpy", "chroma")


def make_vector_index(kind: str, **options: Any) -> VectorIndex:
    """Build an index by name: ``numpy`` or ``chroma`` (options as for the class; ``host`` -> server)."""
    if kind == "numpy":
        return NumpyVectorIndex(**options)
    if kind == "chroma":
        return ChromaVectorIndex(**options)
    raise VectorIndexError(f"unknown vector index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
