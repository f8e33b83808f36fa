"""Text-query latency and recall of the Chroma index against exact brute force, at 1k-100k objects.

Both indexes hold the SAME vectors, so the only difference is the search. Object texts are made
from the ontology (type, state, receptacle, room). Embedding 100k texts with MiniLM on two CPU
cores takes many minutes, so a few thousand distinct texts are embedded for real and each object
gets its text's vector plus a small random per-object perturbation (renormalised): objects that
read alike (two mugs in two sinks) sit close but not on top of each other, as real ones do.
Queries are real instruction embeddings. The vectors live in a temporary folder for the run only.

Run: ``embodied-memory bench query --json`` or ``python -m benchmarks.query``.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from scene_graph.embeddings import MiniLMEmbedder
from scene_graph.ontology import OBJECT_TYPES
from scene_graph.vector_index import DEFAULT_HNSW, ChromaVectorIndex, NumpyVectorIndex

log = logging.getLogger(__name__)

K = 10
PERTURBATION = 0.3  # per-object noise norm before renormalising: cosine to its text's vector ~0.96
STATE_WORDS = ("", "sliced", "cooked", "dirty", "clean", "open", "closed", "on", "off", "filled", "broken")
RECEPTACLES = sorted(n for n, t in OBJECT_TYPES.items() if t.receptacle and t.layer == "furniture")
QUERY_TEMPLATES = (
    "bring me the {state} {type}",
    "where is the {type} I left on the {receptacle}?",
    "put the {type} in the {receptacle}",
    "find a {state} {type} in the {room}",
)


def _object_texts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct object descriptions, each a plausible type/state/receptacle/room combination."""
    objects = sorted(n for n, t in OBJECT_TYPES.items() if t.layer == "object")
    texts: set[str] = set()
    while len(texts) < n:
        name = objects[rng.integers(len(objects))]
        state = STATE_WORDS[rng.integers(len(STATE_WORDS))]
        receptacle = RECEPTACLES[rng.integers(len(RECEPTACLES))]
        room = OBJECT_TYPES[name].rooms[rng.integers(len(OBJECT_TYPES[name].rooms))]
        texts.add(f"{name}{' ' + state if state else ''} on the {receptacle} in the {room}")
    return sorted(texts)


def _queries(n: int, rng: np.random.Generator) -> list[str]:
    objects = sorted(n for n, t in OBJECT_TYPES.items() if t.layer == "object")
    return [
        QUERY_TEMPLATES[i % len(QUERY_TEMPLATES)].format(
            type=objects[rng.integers(len(objects))].lower(),
            state=STATE_WORDS[1 + rng.integers(len(STATE_WORDS) - 1)],
            receptacle=RECEPTACLES[rng.integers(len(RECEPTACLES))].lower(),
            room=("kitchen", "living room", "bedroom", "bathroom")[rng.integers(4)],
        )
        for i in range(n)
    ]


def _object_vectors(base: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for ``n`` objects composed from the embedded texts; returns (text index, vectors)."""
    which = np.arange(n) % len(base) if n <= len(base) else rng.integers(len(base), size=n)
    noise = rng.standard_normal((n, base.shape[1])).astype(np.float32)
    noise *= PERTURBATION / np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = base[which] + noise
    return which, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _latencies_ms(index, queries: np.ndarray) -> tuple[list[float], list[list[str]]]:
    for q in queries[:5]:  # warm caches and lazy initialisation out of the measurement
        index.query(q, K)
    times, results = [], []
    for q in queries:
        start = time.perf_counter()
        hits = index.query(q, K)
        times.append((time.perf_counter() - start) * 1e3)
        results.append([i for i, _ in hits])
    return times, results


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def run(quick: bool = False) -> dict:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    distinct, n_queries = (1_000, 100) if quick else (3_000, 200)
    rng = np.random.default_rng(7)
    embedder = MiniLMEmbedder()
    texts = _object_texts(distinct, rng)
    query_texts = _queries(n_queries, rng)

    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        cache = Path(tmp) / "text_embeddings.npy"
        start = time.perf_counter()
        np.save(cache, embedder.embed(texts))
        embed_s = time.perf_counter() - start
        query_vectors = embedder.embed(query_texts)
        embed_one_ms = []
        for text in query_texts[:50]:
            start = time.perf_counter()
            embedder.embed([text])
            embed_one_ms.append((time.perf_counter() - start) * 1e3)
        base = np.load(cache, mmap_mode="r")

        result: dict = {
            "benchmark": "query",
            "sizes": sizes,
            "k": K,
            "p50_ms": [], "p95_ms": [], "baseline_p50_ms": [], "baseline_p95_ms": [],
            "speedup_p95": [], "recall_at_10": [], "chroma_build_s": [],
        }
        for n in sizes:
            which, vectors = _object_vectors(np.asarray(base), n, rng)
            ids = [f"obj{i}" for i in range(n)]
            object_texts = [texts[t] for t in which]
            exact = NumpyVectorIndex()
            exact.upsert(ids, object_texts, embeddings=vectors)
            start = time.perf_counter()
            chroma = ChromaVectorIndex(path=Path(tmp) / "chroma", collection=f"bench-{n}")
            chroma.upsert(ids, object_texts, embeddings=vectors)
            result["chroma_build_s"].append(round(time.perf_counter() - start, 2))
            chroma_ms, chroma_top = _latencies_ms(chroma, query_vectors)
            exact_ms, exact_top = _latencies_ms(exact, query_vectors)
            recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(chroma_top, exact_top)])
            result["p50_ms"].append(_p(chroma_ms, 50))
            result["p95_ms"].append(_p(chroma_ms, 95))
            result["baseline_p50_ms"].append(_p(exact_ms, 50))
            result["baseline_p95_ms"].append(_p(exact_ms, 95))
            result["speedup_p95"].append(round(_p(exact_ms, 95) / max(_p(chroma_ms, 95), 1e-6), 2))
            result["recall_at_10"].append(round(float(recall), 4))
            log.info("query bench n=%d: chroma p95 %.2f ms, numpy p95 %.2f ms, recall@10 %.3f",
                     n, result["p95_ms"][-1], result["baseline_p95_ms"][-1], recall)

    result.update(
        hnsw=DEFAULT_HNSW,
        queries=n_queries,
        embed_query_p95_ms=_p(embed_one_ms, 95),
        notes=(
            f"{distinct} distinct object texts embedded with MiniLM ({embed_s:.1f} s); each object's vector is "
            f"its text's vector plus a random perturbation of norm {PERTURBATION}, renormalised. "
            "p95_ms/baseline_p95_ms time the index search of a precomputed query vector (Chroma HNSW vs exact "
            "numpy brute force over the same vectors); a text query adds embed_query_p95_ms to both."
        ),
    )
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(run(), indent=2))
