"""Text-query latency and recall of the Chroma index against exact brute force, at 1k-100k objects.

Both indexes hold the SAME vectors, so the only difference is the search. Object texts are made
from the ontology (type, state, receptacle, room). Embedding 100k texts with MiniLM on two CPU
cores takes many minutes, so a few thousand distinct texts are embedded for real and each object
gets its text's vector plus a small random per-object perturbation (renormalised): objects that
read alike (two mugs in two sinks) sit close but not on top of each other, as real ones do.
Queries are real instruction embeddings. The vectors live in a temporary folder for the run only.

Three searches answer every query, their order cycling through all permutations so that machine
noise hits all alike: our index (``ChromaVectorIndex``, reopened from disk: its exact in-memory
mirror up to ``exact_below`` objects, HNSW above; ``path`` says which answered), the baseline
(``NumpyVectorIndex``: plain numpy brute force over the same vectors) and, for reference, Chroma's
HNSW alone on the same collection. ``recall_at_10`` is our index's top 10 against the baseline's.

Run: ``embodied-memory bench query --json`` or ``python -m benchmarks.query``.
"""
from __future__ import annotations

import itertools
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from scene_graph.embeddings import MiniLMEmbedder
from scene_graph.ontology import OBJECT_TYPES
from scene_graph.vector_index import DEFAULT_HNSW, EXACT_BELOW, ChromaVectorIndex, NumpyVectorIndex, VectorIndex

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


def _latencies_ms(
    indexes: dict[str, VectorIndex], queries: np.ndarray, rounds: int
) -> dict[str, tuple[list[float], list[list[str]]]]:
    """Per index: the latency (ms) of each of ``rounds`` passes over the queries, and the top-K ids
    of each query. Each query goes to every index in turn, in an order that cycles through all
    permutations, so that each index runs first, last and after each other one equally often and
    a burst of machine load (or a search's threads winding down) hits every index alike."""
    orders = list(itertools.permutations(indexes))
    for q in queries[:5]:  # warm caches and lazy initialisation out of the measurement
        for index in indexes.values():
            index.query(q, K)
    out: dict[str, tuple[list[float], list[list[str]]]] = {name: ([], []) for name in indexes}
    for n, q in enumerate(list(queries) * rounds):
        for name in orders[n % len(orders)]:
            start = time.perf_counter()
            hits = indexes[name].query(q, K)
            out[name][0].append((time.perf_counter() - start) * 1e3)
            if n < len(queries):
                out[name][1].append([i for i, _ in hits])
    return out


def _recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)])), 4)


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def run(quick: bool = False) -> dict:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    distinct, n_queries, rounds = (1_000, 100, 2) if quick else (3_000, 200, 3)
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
            "speedup_p95": [], "recall_at_10": [], "path": [],
            "hnsw_p95_ms": [], "hnsw_recall_at_10": [], "chroma_build_s": [], "open_s": [],
        }
        for n in sizes:
            which, vectors = _object_vectors(np.asarray(base), n, rng)
            ids = [f"obj{i}" for i in range(n)]
            object_texts = [texts[t] for t in which]
            exact = NumpyVectorIndex()
            exact.upsert(ids, object_texts, embeddings=vectors)
            folder, collection = Path(tmp) / "chroma", f"bench-{n}"
            start = time.perf_counter()
            ChromaVectorIndex(path=folder, collection=collection).upsert(ids, object_texts, embeddings=vectors)
            result["chroma_build_s"].append(round(time.perf_counter() - start, 2))
            start = time.perf_counter()
            ours = ChromaVectorIndex(path=folder, collection=collection)  # reopened: the mirror is rebuilt from disk
            result["open_s"].append(round(time.perf_counter() - start, 2))
            hnsw = ChromaVectorIndex(path=folder, collection=collection, exact_below=0)
            timed = _latencies_ms({"ours": ours, "baseline": exact, "hnsw": hnsw}, query_vectors, rounds)
            (ours_ms, ours_top), (exact_ms, exact_top), (hnsw_ms, hnsw_top) = (
                timed["ours"], timed["baseline"], timed["hnsw"])
            result["p50_ms"].append(_p(ours_ms, 50))
            result["p95_ms"].append(_p(ours_ms, 95))
            result["baseline_p50_ms"].append(_p(exact_ms, 50))
            result["baseline_p95_ms"].append(_p(exact_ms, 95))
            result["speedup_p95"].append(round(_p(exact_ms, 95) / max(_p(ours_ms, 95), 1e-6), 2))
            result["recall_at_10"].append(_recall(ours_top, exact_top))
            result["path"].append(ours.route()[0])
            result["hnsw_p95_ms"].append(_p(hnsw_ms, 95))
            result["hnsw_recall_at_10"].append(_recall(hnsw_top, exact_top))
            log.info("query bench n=%d (%s): p95 %.3f ms, numpy p95 %.3f ms, hnsw p95 %.3f ms, recall@10 %.3f",
                     n, result["path"][-1], result["p95_ms"][-1], result["baseline_p95_ms"][-1],
                     result["hnsw_p95_ms"][-1], result["recall_at_10"][-1])
            del ours, hnsw, exact  # free this size's in-memory copies before building the next size

    result.update(
        hnsw=DEFAULT_HNSW,
        exact_below=EXACT_BELOW,
        queries=n_queries,
        timings_per_size=n_queries * rounds,
        embed_query_p95_ms=_p(embed_one_ms, 95),
        notes=(
            f"{distinct} distinct object texts embedded with MiniLM ({embed_s:.1f} s); each object's vector is "
            f"its text's vector plus a random perturbation of norm {PERTURBATION}, renormalised. "
            "p95_ms/baseline_p95_ms/hnsw_p95_ms time the search of a precomputed query vector by our index "
            "(path: its exact mirror or HNSW), plain numpy brute force, and Chroma's HNSW alone, over the same "
            "vectors, queries interleaved; a text query adds embed_query_p95_ms to each."
        ),
    )
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(run(), indent=2))
