"""Query-service round trip with 10k objects in memory, from another process, against in-process queries.

What does asking memory cost a robot's other nodes? The long-term memory node runs in its own
process with a saved 10k-object memory, loaded on start as on a robot; this process calls
``memory/query_objects`` with a mix of label, near + radius and free-text queries (k = 10), and
answers each same query with ``scene_graph.long_term.LongTermMemory`` loaded from the same
snapshot in this process (the baseline: no ROS), the two alternating first from one query to the
next so that machine noise hits both alike. The difference is what the service adds: request and
response (de)serialisation, DDS, the node's executor. A few queries of each kind go first,
untimed, on both sides (the embedding model is slow on the first texts of each length).

The memory: ``synthetic_home(10000)`` takes minutes, so the 300-object synthetic home is
replicated with new ids, each copy shifted by a few centimetres, relations included, into one
snapshot that ``SceneGraph.from_snapshot`` restores without recomputing relations. It is saved
with the embeddings of its object documents (computed once per distinct document), so neither
side re-embeds 10k objects on load.

    python -m benchmarks.query_service [--quick]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from geometry_msgs.msg import Point

from benchmarks.node_process import memory_node
from benchmarks.query_mix import KINDS, make_queries
from benchmarks.synthetic import synthetic_home
from embodied_memory.srv import QueryObjects
from scene_graph.embeddings import MiniLMEmbedder, one_question_at_a_time
from scene_graph.graph import SceneGraph
from scene_graph.long_term import LongTermConfig, LongTermMemory
from scene_graph.retrieval import object_document
from scene_graph.store import MemoryStore
from scene_graph.vector_index import make_vector_index

N_OBJECTS = 10_000
BASE_OBJECTS = 300
SHIFT_M = 0.05  # largest per-copy offset along x and y
K = 10


def replicated_memory(n_objects: int = N_OBJECTS, seed: int = 0) -> SceneGraph:
    """A ``n_objects`` memory made of shifted copies of the synthetic home's objects and relations."""
    data = synthetic_home(BASE_OBJECTS, seed)[0].snapshot()
    base, rng = data["objects"], np.random.default_rng(seed)
    objects: list[dict[str, Any]] = []
    relations: list[list[str]] = []
    for copy in range(-(-n_objects // len(base))):
        dx, dy = rng.uniform(-SHIFT_M, SHIFT_M, 2) if copy else (0.0, 0.0)
        first = copy * len(base)
        ids = {o["id"]: f"obj_{first + i:04d}" for i, o in enumerate(base[: n_objects - first])}
        for o in base[: len(ids)]:
            (x, y, z), box = o["centroid"], o["box"]
            objects.append(dict(o, id=ids[o["id"]], centroid=[x + dx, y + dy, z],
                                box=dict(box, center=[box["center"][0] + dx, box["center"][1] + dy, box["center"][2]])))
        relations += [[ids[s], p, ids[t]] for s, p, t in data["relations"] if s in ids and t in ids]
    return SceneGraph.from_snapshot(dict(data, objects=objects, relations=relations, next_object_index=len(objects)))


def save_with_embeddings(graph: SceneGraph, folder: Path) -> int:
    """Save ``graph`` as memory "default" with every object's document embedding; returns the number
    of distinct documents (copies read alike, so few are embedded)."""
    nodes = graph.objects()
    documents = [object_document(graph, node) for node in nodes]
    distinct = sorted(set(documents))
    vectors = MiniLMEmbedder().embed(distinct)
    row = {d: i for i, d in enumerate(distinct)}
    MemoryStore(folder).save(graph, "default",
                             embeddings=([n.id for n in nodes], vectors[[row[d] for d in documents]], documents))
    return len(distinct)


def _request(fields: dict[str, Any]) -> QueryObjects.Request:
    request = QueryObjects.Request(text=fields.get("text", ""), label=fields.get("label", ""), k=K)
    if "near" in fields:
        request.use_near, request.radius = True, fields["radius"]
        request.near = Point(x=fields["near"][0], y=fields["near"][1], z=fields["near"][2])
    return request


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def _measure(sides: dict[str, Callable[[dict[str, Any]], list[str]]], queries: list[tuple[str, dict[str, Any]]]
             ) -> tuple[dict[str, dict[str, list[float]]], list[float], int]:
    """Each query on both sides, the first side alternating: per side and kind the latencies (ms),
    per query the service's extra time over the baseline (ms), and how many answers agreed."""
    times: dict[str, dict[str, list[float]]] = {side: {kind: [] for kind in KINDS} for side in sides}
    differences: list[float] = []
    agree = 0
    for n, (kind, fields) in enumerate(queries):
        found, took = {}, {}
        for side in (("service", "baseline") if n % 2 else ("baseline", "service")):
            begin = time.perf_counter()
            found[side] = sides[side](fields)
            took[side] = (time.perf_counter() - begin) * 1000.0
            times[side][kind].append(took[side])
        differences.append(took["service"] - took["baseline"])
        agree += found["service"] == found["baseline"]
    return times, differences, agree


def run(quick: bool = False) -> dict[str, Any]:
    per_kind, warm_up = (10, 2) if quick else (100, 5)
    with tempfile.TemporaryDirectory(prefix="bench-query-service-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        graph = replicated_memory()
        distinct = save_with_embeddings(graph, folder)
        build_s = time.perf_counter() - start
        queries, warm_up_queries = make_queries(graph, per_kind, seed=1), make_queries(graph, warm_up, seed=2)
        size = {"objects_in_memory": len(graph), "relations": len(graph.relations()), "distinct_documents": distinct}
        del graph  # the baseline's heap holds one memory, as the node's does (garbage collection scans it all)
        one_question_at_a_time()  # the baseline embeds questions on one thread, as the node does by default
        index = make_vector_index("numpy")
        index.embedder.embed(["warm-up"])
        memory = LongTermMemory(LongTermConfig(memory_dir=folder, snapshot_interval=0.0), index)
        start = time.perf_counter()
        with memory_node(folder, "query_service_client") as session:
            ready_s = time.perf_counter() - start
            client = session.node.create_client(QueryObjects, "memory/query_objects")

            def service(fields: dict[str, Any]) -> list[str]:
                response = session.call(client, _request(fields))
                if response.error_code != QueryObjects.Response.NONE:
                    raise RuntimeError(f"query {fields} failed: {response.error_message}")
                return [o.id for o in response.objects]

            def in_process(fields: dict[str, Any]) -> list[str]:
                return [s.node.id for s in memory.query(k=K, **fields)]

            sides: dict[str, Callable[[dict[str, Any]], list[str]]] = {"service": service, "baseline": in_process}
            for _, fields in warm_up_queries:
                for answer in sides.values():
                    answer(fields)
            times, differences, agree = _measure(sides, queries)
    result: dict[str, Any] = {**size, "k": K, "queries": len(queries)}
    for side, prefix in (("service", ""), ("baseline", "baseline_")):
        every = [t for kind in KINDS for t in times[side][kind]]
        result[f"{prefix}p50_ms"], result[f"{prefix}p95_ms"] = _p(every, 50), _p(every, 95)
        for kind in KINDS:
            result[f"{prefix}{kind}_p50_ms"] = _p(times[side][kind], 50)
            result[f"{prefix}{kind}_p95_ms"] = _p(times[side][kind], 95)
    result.update(
        baseline="the same queries answered in this process by LongTermMemory loaded from the same snapshot",
        service_overhead_median_ms=round(float(np.median(differences)), 3),
        answers_agree=round(agree / len(queries), 4),
        build_memory_s=round(build_s, 1),
        node_ready_s=round(ready_s, 1),
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
