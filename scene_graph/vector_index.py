"""A vector index over object texts: Chroma (HNSW, on disk or a server) or a brute-force baseline.

Both implementations answer the same five calls, so retrieval code, tests and the query benchmark
can swap one for the other. Scores are cosine similarities (higher is better). Embeddings are
always computed here (or passed in) and handed to Chroma ready-made: Chroma's own default
embedding function downloads an ONNX model, which fails on an offline robot.

A local Chroma index also keeps an exact in-memory mirror of its vectors (see
:class:`ChromaVectorIndex`): below a few tens of thousands of objects, and whenever a filter leaves
few candidates, one matrix-vector product answers faster than HNSW and exactly; Chroma stays the
persistent store and answers the large unfiltered searches.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Protocol, Sequence, Union, cast

import numpy as np

from scene_graph.embeddings import MiniLMEmbedder, TextEmbedder

if TYPE_CHECKING:
    from chromadb.api.collection_configuration import CreateCollectionConfiguration
    from chromadb.api.types import Metadata as ChromaMetadata

log = logging.getLogger(__name__)

Metadata = Mapping[str, Union[str, int, float, bool]]
QueryInput = Union[str, np.ndarray, Sequence[float]]

DEFAULT_CHROMA_PATH = (Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
                       / "embodied_memory" / "chroma")
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

    def query(self, text_or_vector: QueryInput, k: int,
              where: Optional[Metadata] = None) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray: ...

    @property
    def embedder(self) -> TextEmbedder: ...

    def prepare_query(self, text: str) -> None: ...


_QUERY_CACHE = 256  # query texts whose embeddings are kept (a planner asks about one task many times)


class _EmbeddingIndex:
    """What both indexes share: turning texts or given vectors into unit float32 rows, and
    remembering the embeddings of recent query texts."""

    def __init__(self, embedder: Optional[TextEmbedder]) -> None:
        self._embedder = embedder
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()  # a node embeds queries in several threads

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:  # lazily, so index-only use never loads the model
            self._embedder = MiniLMEmbedder()
        return self._embedder

    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Optional[Sequence[Optional[Metadata]]] = None,
        embeddings: Optional[np.ndarray] = None,
    ) -> None:
        """Insert or replace (same id) objects; texts are embedded here unless ``embeddings`` are given."""
        self._put(ids, self._vectors(ids, texts, embeddings), texts, metadatas)

    def _put(self, ids: Sequence[str], rows: np.ndarray, texts: Sequence[str],
             metadatas: Optional[Sequence[Optional[Metadata]]]) -> None:
        raise NotImplementedError

    def _vectors(self, ids: Sequence[str], texts: Sequence[str], embeddings: Optional[np.ndarray]) -> np.ndarray:
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one upsert")
        rows = self.embedder.embed(texts) if embeddings is None else _unit_rows(embeddings)
        if rows.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but {rows.shape[0]} embeddings")
        return rows

    def prepare_query(self, text: str) -> None:
        """Embed a query text now, so that a query with it later runs no model: an owner can embed
        outside a lock that the query itself must hold."""
        self._query_vector(text)

    def _query_vector(self, text_or_vector: QueryInput) -> np.ndarray:
        if not isinstance(text_or_vector, str):
            return _unit_rows(np.asarray(text_or_vector))[0]
        with self._queries_lock:
            vector = self._queries.get(text_or_vector)
            if vector is not None:
                self._queries.move_to_end(text_or_vector)
                return vector
        vector = self.embedder.embed([text_or_vector])[0]
        with self._queries_lock:
            self._queries[text_or_vector] = vector
            if len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _matches(metadata: Optional[Metadata], where: Metadata) -> bool:
    return metadata is not None and all(metadata.get(key) == value for key, value in where.items())


class _Rows:
    """Ids, metadata and unit vectors as the rows of one preallocated contiguous float32 matrix.

    Rows ``[0, len)`` are the live ones: a deleted row is filled with the last one, so a search is
    one product over a prefix of the matrix with no copy.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.metadatas: list[Optional[dict[str, Any]]] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)  # capacity rows; first len(ids) in use

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, ids: Sequence[str], rows: np.ndarray,
            metadatas: Optional[Sequence[Optional[Mapping[str, Any]]]]) -> None:
        """Insert or replace (same id) rows; ``rows`` are unit vectors."""
        metadatas = metadatas if metadatas is not None else [None] * len(ids)
        self._reserve(len(self.ids) + len(ids), rows.shape[1])
        for object_id, row, metadata in zip(ids, rows, metadatas):
            index = self.row_of.get(object_id)
            if index is None:
                index = len(self.ids)
                self.ids.append(object_id)
                self.metadatas.append(None)
                self.row_of[object_id] = index
            self.matrix[index] = row
            self._set_metadata(index, dict(metadata) if metadata is not None else None)

    def _set_metadata(self, index: int, metadata: Optional[dict[str, Any]]) -> None:
        self.metadatas[index] = metadata

    def _reserve(self, rows: int, dim: int) -> None:
        if self.ids and dim != self.matrix.shape[1]:
            raise ValueError(f"embeddings have {dim} dimensions, the index holds {self.matrix.shape[1]}")
        if self.matrix.shape[0] >= rows and self.matrix.shape[1] == dim:
            return
        grown = np.zeros((max(rows, 2 * self.matrix.shape[0], 64), dim), dtype=np.float32)
        if self.ids:
            grown[: len(self.ids)] = self.matrix[: len(self.ids)]
        self.matrix = grown
        self._resized(grown.shape[0])

    def _resized(self, capacity: int) -> None:
        """Hook: the matrix now has ``capacity`` rows."""

    def remove(self, ids: Sequence[str]) -> None:
        """Remove ids (unknown ones are ignored); the last row fills each hole to stay compact."""
        for object_id in ids:
            index = self.row_of.pop(object_id, None)
            if index is None:
                continue
            last = len(self.ids) - 1
            if index != last:
                moved = self.ids[last]
                self.ids[index] = moved
                self.matrix[index] = self.matrix[last]
                self.row_of[moved] = index
                self._set_metadata(index, self.metadatas[last])
            self.ids.pop()
            self.metadatas.pop()

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self.row_of]
        if missing:
            raise VectorIndexError(f"unknown ids: {missing[:5]}")
        return self.matrix[[self.row_of[i] for i in ids]].reshape(len(ids), -1).copy()


class NumpyVectorIndex(_EmbeddingIndex):
    """Exact brute-force search in memory: the benchmark's baseline and a dependency-free fallback.

    Deliberately plain: score every distinct vector, expand the best to their objects in score
    order, filter metadata in Python. Objects with the same vector share one row: a document says
    what a thing is, its states, holder and room, not which thing it is, so a building's memory
    holds many objects per document (every chair of the offices, every bed of a ward) and a search
    scores each document once; with every vector distinct it is the plain scan. The one concession
    is how the product runs (:class:`_ProductPlanner`): this is the node's default index, and a
    threaded product on a busy machine waits for its slowest thread.
    """

    def __init__(self, embedder: Optional[TextEmbedder] = None) -> None:
        super().__init__(embedder)
        self._store = _Rows()  # one row per distinct vector, named by its digest
        self._key_of: dict[str, str] = {}  # object id -> its vector's digest
        self._members: dict[str, dict[str, None]] = {}  # digest -> the objects with that vector, in order
        self._metadata: dict[str, Optional[dict[str, Any]]] = {}
        self._planner = _ProductPlanner()

    def _put(self, ids: Sequence[str], rows: np.ndarray, texts: Sequence[str],
             metadatas: Optional[Sequence[Optional[Metadata]]]) -> None:
        new: dict[str, np.ndarray] = {}
        for n, object_id in enumerate(ids):
            key = hashlib.blake2b(rows[n].tobytes(), digest_size=16).hexdigest()
            metadata = metadatas[n] if metadatas is not None else None
            self._metadata[object_id] = dict(metadata) if metadata else None
            old = self._key_of.get(object_id)
            if old == key:
                continue
            if old is not None:
                self._leave(object_id, old)
            if key not in self._members and key not in new:
                new[key] = rows[n]
            self._members.setdefault(key, {})[object_id] = None
            self._key_of[object_id] = key
        if new:
            self._store.put(list(new), np.stack(list(new.values())), None)

    def _leave(self, object_id: str, key: str) -> None:
        members = self._members[key]
        del members[object_id]
        if not members:
            del self._members[key]
            self._store.remove([key])

    def delete(self, ids: Sequence[str]) -> None:
        """Remove ids (unknown ones are ignored)."""
        for object_id in ids:
            key = self._key_of.pop(object_id, None)
            if key is not None:
                self._leave(object_id, key)
                del self._metadata[object_id]

    def query(self, text_or_vector: QueryInput, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]:
        store = self._store
        n = len(store)
        if k <= 0 or n == 0:
            return []
        rows = store.matrix[:n]
        scores = self._planner.product(rows, self._query_vector(text_or_vector).astype(rows.dtype),
                                       np.empty(n, dtype=rows.dtype))
        m = k  # the best m distinct vectors, more while their objects do not make k
        while True:
            top = np.argpartition(-scores, m - 1)[:m] if m < n else np.arange(n)
            found: list[tuple[str, float]] = []
            for row in top[np.argsort(-scores[top], kind="stable")].tolist():
                score = float(scores[row])
                for object_id in self._members[store.ids[row]]:
                    if where is None or _matches(self._metadata[object_id], where):
                        found.append((object_id, score))
                        if len(found) == k:
                            return found
            if m >= n:
                return found
            m *= 4

    def count(self) -> int:
        return len(self._key_of)

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self._key_of]
        if missing:
            raise VectorIndexError(f"unknown ids: {missing[:5]}")
        return self._store.vectors([self._key_of[i] for i in ids])


def _value_key(value: Any) -> tuple[bool, Any]:
    return (isinstance(value, bool), value)  # True == 1 in Python, but not in a metadata filter


# numpy's OpenBLAS runs a float32 matrix-vector product of up to 1024 x 384 elements on one
# thread and a larger one on every core (measured: the cut-off lies below 1200 x 384). Threads win
# on an idle machine (10k x 384 on 2 cores: ~0.12 ms against ~0.25 ms); on a busy one (a robot
# runs many processes) a threaded product waits for its slowest thread, and its p95 went from
# ~0.4 to ~8 ms while one-thread blocks stayed under 1 ms. A product this small stays on one thread:
ONE_THREAD_ELEMENTS = 1024 * 384
WHOLE, BLOCKED = "whole", "blocked"


class _ProductPlanner:
    """Computes ``matrix @ vector`` whole (BLAS may use every core) or in one-thread blocks,
    whichever recent timings (median seconds per row of each way) say is faster now; every
    ``explore``-th large product tries the other way, so a change in machine load is noticed."""

    def __init__(self, window: int = 9, explore: int = 32) -> None:
        self._recent: dict[str, deque[float]] = {WHOLE: deque(maxlen=window), BLOCKED: deque(maxlen=window)}
        self._explore = explore
        self._count = 0

    def product(self, matrix: np.ndarray, vector: np.ndarray, out: np.ndarray) -> np.ndarray:
        n, dim = matrix.shape
        block = max(1, ONE_THREAD_ELEMENTS // max(dim, 1))
        if n <= block:
            return np.matmul(matrix, vector, out=out)
        way = self._choose()
        start = time.perf_counter()
        if way == WHOLE:
            np.matmul(matrix, vector, out=out)
        else:
            for first in range(0, n, block):
                np.matmul(matrix[first : first + block], vector, out=out[first : first + block])
        self._recent[way].append((time.perf_counter() - start) / n)
        return out

    def _choose(self) -> str:
        self._count += 1
        for way in (WHOLE, BLOCKED):
            if len(self._recent[way]) < 3:
                return way
        whole, blocked = (sorted(self._recent[w])[len(self._recent[w]) // 2] for w in (WHOLE, BLOCKED))
        best, other = (WHOLE, BLOCKED) if whole <= blocked else (BLOCKED, WHOLE)
        return other if self._count % self._explore == 0 else best


class _ExactMirror(_Rows):
    """The in-memory copy of a local Chroma collection, searched exactly.

    Metadata values are also kept as integer code columns (-1 = key absent), so an equality filter
    is one vectorised comparison per key instead of a Python loop over every object.
    """

    def __init__(self) -> None:
        super().__init__()
        self._codes: dict[str, np.ndarray] = {}
        self._code_of: dict[str, dict[tuple[bool, Any], int]] = {}
        self._scores = np.zeros(0, dtype=np.float32)  # one query's scores, reused: no per-query allocation
        self._planner = _ProductPlanner()

    def _resized(self, capacity: int) -> None:
        self._scores = np.zeros(capacity, dtype=np.float32)
        for key, column in self._codes.items():
            grown = np.full(capacity, -1, dtype=np.int32)
            grown[: len(column)] = column[:capacity]
            self._codes[key] = grown

    def _set_metadata(self, index: int, metadata: Optional[dict[str, Any]]) -> None:
        super()._set_metadata(index, metadata)
        for column in self._codes.values():
            column[index] = -1
        for key, value in (metadata or {}).items():
            if key not in self._codes:
                self._codes[key] = np.full(self.matrix.shape[0], -1, dtype=np.int32)
            codes = self._code_of.setdefault(key, {})
            self._codes[key][index] = codes.setdefault(_value_key(value), len(codes))

    def candidates(self, where: Metadata) -> Optional[np.ndarray]:
        """Rows whose metadata has every ``key: value`` of ``where``; None for anything but plain
        equality (Chroma operators), which the caller leaves to Chroma."""
        n = len(self.ids)
        mask = np.ones(n, dtype=bool)
        for key, value in where.items():
            if key.startswith("$") or isinstance(value, (Mapping, list, tuple)):
                return None
            code = self._code_of.get(key, {}).get(_value_key(value))
            if code is None:
                return np.zeros(0, dtype=np.int64)
            mask &= self._codes[key][:n] == code
        return np.flatnonzero(mask)

    def search(self, vector: np.ndarray, k: int, rows: Optional[np.ndarray] = None) -> list[tuple[str, float]]:
        """Exact top ``k`` by cosine among all rows, or among ``rows``; ``vector`` (float32) need not be unit."""
        n = len(self.ids)
        norm = float(np.sqrt(vector @ vector))
        if n == 0 or norm == 0.0 or (rows is not None and len(rows) == 0):
            return []
        product = self._planner.product
        if rows is None:
            scores = product(self.matrix[:n], vector, self._scores[:n])
        elif 4 * len(rows) < n:  # few candidates: gather them rather than score everything
            scores = product(self.matrix[rows], vector, self._scores[: len(rows)])
        else:
            scores = product(self.matrix[:n], vector, self._scores[:n])[rows]
        m = len(scores)
        top = np.argpartition(scores, m - k)[m - k :] if m > k else np.arange(m)
        top = top[np.argsort(-scores[top], kind="stable")]
        hits = top if rows is None else rows[top]
        return [(self.ids[h], s / norm) for h, s in zip(hits.tolist(), scores[top].tolist())]


# Measured on 2 cores (benchmarks/query.py): an exact search over 384-dim rows takes ~0.3-0.6 ms at
# 10k rows and ~0.7-1.5 ms at 30k; a Chroma HNSW query ~1-2.5 ms at any size (much of it client
# overhead), ~2.5-6 ms at 100k where brute force takes 7-20 ms.
EXACT_BELOW = 30_000
HNSW, EXACT = "hnsw", "exact"


class ChromaVectorIndex(_EmbeddingIndex):
    """Chroma collection in cosine space (HNSW): a local folder by default, a server when given a host.

    A local index also mirrors every vector in memory (ids + a unit float32 matrix, kept in step by
    upsert and delete and rebuilt from Chroma on open) and answers a query exactly with numpy when
    the collection has at most ``exact_below`` rows, or when a metadata filter leaves at most that
    many candidates; HNSW answers the rest. The mirror costs 4 bytes per dimension per object
    (1.5 KB for MiniLM). ``exact_below=0`` turns it off. A server never gets a mirror: other
    clients may write to it. Like Chroma's own client, one index object serves one caller at a time.
    """

    def __init__(
        self,
        path: Union[str, Path, None] = None,
        host: Optional[str] = None,
        port: int = 8000,
        collection: str = "objects",
        hnsw: Optional[Mapping[str, int]] = None,
        embedder: Optional[TextEmbedder] = None,
        exact_below: int = EXACT_BELOW,
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
        config = cast("CreateCollectionConfiguration", {"hnsw": {"space": "cosine", **DEFAULT_HNSW, **(hnsw or {})}})
        # embedding_function=None: vectors always come from us (see module docstring).
        self._collection = self._client.get_or_create_collection(
            collection, configuration=config, embedding_function=None
        )
        self.max_batch = self._client.get_max_batch_size()
        self.exact_below = max(0, int(exact_below)) if host is None else 0
        self._mirror = _ExactMirror() if self.exact_below > 0 else None
        if self._mirror is not None:
            self._load_mirror()
        log.info("chroma collection %r at %s (%d items)", collection, self.location, self.count())

    def _chunks(self, n: int) -> Iterator[slice]:
        for start in range(0, n, self.max_batch):
            yield slice(start, min(n, start + self.max_batch))

    def _load_mirror(self) -> None:
        assert self._mirror is not None
        total = self._collection.count()
        for part in self._chunks(total):
            got = self._collection.get(limit=part.stop - part.start, offset=part.start,
                                       include=["embeddings", "metadatas"])
            if len(got["ids"]):
                self._mirror.put(got["ids"], _unit_rows(np.asarray(got["embeddings"])), got["metadatas"])
        if len(self._mirror) != total:  # a writer raced the paging; never answer from a partial copy
            raise VectorIndexError(f"read {len(self._mirror)} of {total} vectors from {self.location}")

    def _put(self, ids: Sequence[str], rows: np.ndarray, texts: Sequence[str],
             metadatas: Optional[Sequence[Optional[Metadata]]]) -> None:
        for part in self._chunks(len(ids)):
            metas = None if metadatas is None else [dict(m) if m else None for m in metadatas[part]]
            # Chroma takes None for "no metadata" (its validate_metadata), though its type says otherwise.
            self._collection.upsert(ids=list(ids[part]), embeddings=rows[part], documents=list(texts[part]),
                                    metadatas=cast("Optional[list[ChromaMetadata]]", metas))
            if self._mirror is not None:  # after Chroma accepted the batch, so both hold the same
                self._mirror.put(ids[part], rows[part], metas)

    def delete(self, ids: Sequence[str]) -> None:
        for part in self._chunks(len(ids)):
            self._collection.delete(ids=list(ids[part]))
            if self._mirror is not None:
                self._mirror.remove(ids[part])

    def route(self, where: Optional[Metadata] = None) -> tuple[str, Optional[np.ndarray]]:
        """Which search answers a query with this filter: (EXACT, candidate rows or None for all) or
        (HNSW, None)."""
        mirror = self._mirror
        if mirror is None:
            return HNSW, None
        rows = mirror.candidates(where) if where else None
        if where and rows is None:
            return HNSW, None
        if len(mirror) <= self.exact_below or (rows is not None and len(rows) <= self.exact_below):
            return EXACT, rows
        return HNSW, None

    def query(self, text_or_vector: QueryInput, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        path, rows = self.route(where)
        if path == EXACT:
            assert self._mirror is not None
            # No normalising copy of a given vector: search divides the k scores by its norm instead.
            raw = self._query_vector(text_or_vector) if isinstance(text_or_vector, str) else text_or_vector
            return self._mirror.search(np.asarray(raw, dtype=np.float32).reshape(-1), k, rows)
        vector = self._query_vector(text_or_vector)
        result = self._collection.query(
            query_embeddings=vector[None, :], n_results=k, where=_chroma_where(where), include=["distances"]
        )
        distances = result["distances"]
        assert distances is not None  # asked for in include
        # Chroma's cosine distance is 1 - cosine similarity.
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances[0])]

    def count(self) -> int:
        return len(self._mirror) if self._mirror is not None else self._collection.count()

    def get_embeddings(self, ids: Sequence[str]) -> np.ndarray:
        if self._mirror is not None:
            return self._mirror.vectors(ids)
        found: dict[str, np.ndarray] = {}
        for part in self._chunks(len(ids)):
            got = self._collection.get(ids=list(ids[part]), include=["embeddings"])
            vectors = got["embeddings"]
            if vectors is None:  # asked for in include: a server that omits them is broken
                raise VectorIndexError("the Chroma server returned no embeddings for get(include=['embeddings'])")
            found.update(zip(got["ids"], map(np.asarray, vectors)))
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


TEXT_INDEXES = INDEX_KINDS + ("none",)
_WARM_UP_TEXTS = ("warm-up", "a red apple on the kitchen counter top near the sink",
                  " ".join(["a clean white ceramic mug in the open cabinet"] * 4))


def text_index(kind: str, **options: Any) -> Optional[VectorIndex]:
    """The free-text index a memory is configured with (``none``: None), its embedding model loaded
    now: loading it later would stall the first query for seconds. Texts of several lengths, as the
    first embedding of each new length is much slower. Raises EmbedderUnavailable without the model
    (memory then serves everything but free text)."""
    if kind == "none":
        return None
    index = make_vector_index(kind, **options)
    index.embedder.embed(list(_WARM_UP_TEXTS))
    return index
