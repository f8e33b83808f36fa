"""Memory at building scale: per-frame fusion, queries, save and load as memory grows to 30,000 objects.

Memory grows as a robot covers more of a building, so the memories are copies of the 300-object
synthetic home (rooms, areas, objects with surface points, relations) laid side by side 20 m apart
(:func:`benchmarks.synthetic.tiled_home`): the density of any one place stays a home's, and what
should not grow with memory is the cost of working at one place. At each size:

* **fusion**: the same rendered kitchen frames (``kitchen_scene``, 18 small objects, standing in
  the first home's kitchen) fused twice over, so first sight and steady re-observation both count;
  the baseline is the same frames fused into a fresh 300-object memory in lock-step, frame by frame,
  so machine noise hits both alike, and ``fusion_ratio_to_300`` is their ratio of medians.
* **queries** in process (``MemoryRetriever`` with the numpy vector index and BM25, as the node
  runs it): label, near point (1 m) and free text (query embedding included), k = 10, the query
  mix of ``bench query-service``; each query alternates with the same query on the 300-object
  memory (the baseline). Object documents are embedded once per distinct text. The query texts are
  embedded before the timing (as ``bench query`` does): the model's time does not depend on memory
  and, on a loaded 2-core machine, swamps everything else; ``embed_query_p95_ms`` reports it, and
  a text query through the service costs the two together.
* **save / load** through ``MemoryStore`` as the node saves (with the text embeddings), the
  snapshot's size on disk, and the resident memory of this process after building that size.

Every time is also taken as CPU time of this process (``*_cpu_ms``): on a machine shared with other
work, wall time measures the queue for a core as much as the code.

    python -m benchmarks.scale [--quick]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.query_mix import KINDS, make_queries
from benchmarks.synthetic import CAMERA, kitchen_scene, kitchen_views, make_frame, tiled_home
from scene_graph.embeddings import MiniLMEmbedder, one_question_at_a_time
from scene_graph.frames import RGBDFrame
from scene_graph.fusion import Fusion
from scene_graph.graph import SceneGraph
from scene_graph.retrieval import MemoryRetriever
from scene_graph.store import MemoryStore
from scene_graph.vector_index import NumpyVectorIndex

log = logging.getLogger(__name__)

SIZES, QUICK_SIZES = (300, 3_000, 10_000, 30_000), (100, 600)
BASE = 300
K = 10
GOALS = {"fusion_median_ms": 15.0, "fusion_p95_ms": 30.0, "fusion_ratio_largest_to_300": 1.5,
         "query_label_p95_ms": 2.0, "query_near_p95_ms": 2.0, "query_text_p95_ms": 10.0}


def _rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), MB."""
    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


class _Timer:
    """Wall and CPU milliseconds of one call, appended per key."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, key: str, work: Callable[..., Any], *args: Any) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        work(*args)
        self.cpu.setdefault(key, []).append((time.process_time() - cpu) * 1000.0)
        self.wall.setdefault(key, []).append((time.perf_counter() - wall) * 1000.0)


class _KnownQueries:
    """The embedder with the benchmark's query texts embedded beforehand (a text embedder)."""

    def __init__(self, embedder: MiniLMEmbedder) -> None:
        self.dim = embedder.dim
        self._embedder = embedder
        self._known: dict[str, np.ndarray] = {}

    def learn(self, texts: Sequence[str]) -> None:
        """Embed these query texts now, outside any timing."""
        new = sorted(set(texts) - set(self._known))
        if new:
            self._known.update(zip(new, self._embedder.embed(new)))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if all(t in self._known for t in texts):
            return np.stack([self._known[t] for t in texts])
        return self._embedder.embed(texts)


def _fuse_side_by_side(frames: list[RGBDFrame], passes: int, memories: dict[str, SceneGraph]) -> _Timer:
    """Per-frame fusion time (ms) into each memory, the memories taking turns going first."""
    fusers = {name: Fusion(graph) for name, graph in memories.items()}
    timer = _Timer()
    order = list(memories)
    for p in range(passes):
        for n, frame in enumerate(frames):
            stamped = replace(frame, stamp=frame.stamp + 100.0 * (p + 1))
            for name in order if n % 2 else reversed(order):
                timer(name, fusers[name].integrate, stamped)
    return timer


def _retriever(graph: SceneGraph, embedder: _KnownQueries, cache: dict[str, np.ndarray]) -> MemoryRetriever:
    """A retriever over ``graph`` with every document embedded (each distinct text once, cached)."""
    retriever = MemoryRetriever(graph, NumpyVectorIndex(embedder))
    texts = retriever.texts_to_embed()
    new = [t for t in texts if t not in cache]
    if new:
        cache.update(zip(new, embedder.embed(new)))
    retriever.add_vectors(texts, np.stack([cache[t] for t in texts]))
    retriever.sync()
    return retriever


def _ask(retriever: MemoryRetriever) -> Callable[[dict[str, Any]], list[str]]:
    return lambda fields: [s.node.id for s in retriever.query(k=K, **fields)]


def _query_side_by_side(sides: dict[str, Callable[[dict[str, Any]], list[str]]],
                        queries: list[tuple[str, dict[str, Any]]]) -> _Timer:
    """Per query kind and side (``memory/label`` ...) the latency, the sides taking turns going first."""
    timer = _Timer()
    order = list(sides)
    for n, (kind, fields) in enumerate(queries):
        for side in order if n % 2 else reversed(order):
            timer(f"{side}/{kind}", sides[side], fields)
    return timer


def _save_load(graph: SceneGraph, retriever: MemoryRetriever) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        store = MemoryStore(Path(tmp))
        start = time.perf_counter()
        path = store.save(graph, "scale", retriever.embeddings())
        save_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in path.parent.iterdir() if p.stem == path.stem)
        start = time.perf_counter()
        loaded = store.load("scale")
        load_s = time.perf_counter() - start
        if len(loaded.graph) != len(graph):
            raise RuntimeError(f"loaded {len(loaded.graph)} objects, saved {len(graph)}")
    return {"save_s": round(save_s, 3), "load_s": round(load_s, 3), "snapshot_mb": round(size / 1e6, 2)}


def run(quick: bool = False, only: Sequence[int] = ()) -> dict[str, Any]:
    """The figures at each size (``only``: just these sizes, each still against the 300-object baseline)."""
    sizes = tuple(only) or (QUICK_SIZES if quick else SIZES)
    views, passes, per_kind = (6, 1, 10) if quick else (24, 2, 100)
    scene = kitchen_scene(small_objects=18)
    frames = [make_frame(scene, CAMERA, pose, float(i)) for i, pose in enumerate(kitchen_views(views))]
    one_question_at_a_time()  # questions embed on one thread, as the memory node does by default
    model = MiniLMEmbedder()
    embedder = _KnownQueries(model)
    cache: dict[str, np.ndarray] = {}
    base_graph, _ = tiled_home(BASE)
    base_retriever = _retriever(base_graph, embedder, cache)
    embed_timer = _Timer()
    for _, fields in make_queries(base_graph, 50, seed=3):
        if "text" in fields:
            embed_timer("embed", model.embed, [fields["text"]])
    results = []
    for size in sizes:
        graph, _ = tiled_home(size)
        rss = _rss_mb()
        queries, warm_up = make_queries(graph, per_kind, seed=1), make_queries(graph, 3, seed=2)  # before fusion
        embedder.learn([f["text"] for _, f in queries + warm_up if "text" in f])
        fused = _fuse_side_by_side(frames, passes, {"memory": graph, "baseline": tiled_home(BASE)[0]})
        retriever = _retriever(graph, embedder, cache)
        for _, fields in warm_up:  # untimed: first calls fill caches
            _ask(retriever)(fields)
            _ask(base_retriever)(fields)
        asked = _query_side_by_side({"memory": _ask(retriever), "baseline": _ask(base_retriever)}, queries)
        entry: dict[str, Any] = {"objects": len(graph), "rooms": len(graph.rooms())}
        for prefix, side in (("", "memory"), ("baseline_", "baseline")):
            for unit, times in (("ms", fused.wall[side]), ("cpu_ms", fused.cpu[side])):
                entry[f"{prefix}fusion_median_{unit}"] = round(float(np.median(times)), 3)
                entry[f"{prefix}fusion_p95_{unit}"] = _p(times, 95)
        entry["fusion_ratio_to_300"] = round(entry["fusion_median_ms"] / entry["baseline_fusion_median_ms"], 3)
        entry["fusion_cpu_ratio_to_300"] = round(entry["fusion_median_cpu_ms"] / entry["baseline_fusion_median_cpu_ms"],
                                                 3)
        for kind in KINDS:
            for prefix, side in (("", "memory"), ("baseline_", "baseline")):
                entry[f"{prefix}query_{kind}_p95_ms"] = _p(asked.wall[f"{side}/{kind}"], 95)
                entry[f"{prefix}query_{kind}_p95_cpu_ms"] = _p(asked.cpu[f"{side}/{kind}"], 95)
        entry.update(_save_load(graph, retriever))
        entry["rss_mb"] = rss
        log.info("scale %d: %s", size, entry)
        results.append(entry)
        del graph, retriever
    largest = results[-1]
    first = results[0]
    ratio = round(largest["fusion_median_ms"] / first["fusion_median_ms"], 3)
    return {
        "sizes": list(sizes),
        "frames": len(frames) * passes,
        "queries_per_kind": per_kind,
        "k": K,
        "per_size": results,
        "fusion_ratio_largest_to_smallest": ratio,
        "embed_query_p95_ms": _p(embed_timer.wall["embed"], 95),
        "embed_query_p95_cpu_ms": _p(embed_timer.cpu["embed"], 95),
        "baseline": f"the same frames and queries on a {BASE}-object memory, interleaved in the same run",
        "goals": GOALS,
        "meets_goals": {
            "fusion_median_ms": all(r["fusion_median_ms"] <= GOALS["fusion_median_ms"] for r in results),
            "fusion_p95_ms": all(r["fusion_p95_ms"] <= GOALS["fusion_p95_ms"] for r in results),
            "fusion_ratio_largest_to_300": largest["fusion_ratio_to_300"] <= GOALS["fusion_ratio_largest_to_300"],
            **{key: largest[key] <= GOALS[key] for key in ("query_label_p95_ms", "query_near_p95_ms",
                                                            "query_text_p95_ms")},
        },
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=(), help="only these memory sizes (objects)")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.sizes), indent=2))
