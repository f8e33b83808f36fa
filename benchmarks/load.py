"""Load: 4 asynchronous clients at 50 Hz each on query_objects and task_subgraph while the camera streams at 30 Hz.

The long-term memory node runs in its own process (``benchmarks.node_process``) on 127.0.0.1; this
process plays the camera (the ingest benchmark's tour of a simulated home, wall-clock stamps) and
four clients. Each client sends on its own 50 Hz schedule without waiting for earlier answers, as
independent robot components would; clients 0 and 2 ask ``query_objects`` (by label, and by free
text), 1 and 3 ask ``task_subgraph`` for an instruction. A call is failed when it errs or is not
answered within :data:`ANSWER_TIMEOUT_S`; latency runs from sending to the answer's callback. A
frame counts as processed when a graph update stamped like it comes back.

Baseline, side by side: the same requests answered in this process by ``LongTermMemory`` holding the
same frames, one after another, so the ratio is what the node, DDS and concurrency add.

    python -m benchmarks.load [--quick]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rclpy.publisher import Publisher

from benchmarks.ingest import RATE_HZ, _messages, _ms_key, _publishers, _stamp, tour_frames
from benchmarks.node_process import Session, memory_node
from embodied_memory.msg import GraphUpdate
from embodied_memory.srv import GetTaskSubgraph, QueryObjects
from scene_graph.long_term import LongTermConfig, LongTermMemory
from scene_graph.vector_index import make_vector_index

CLIENTS, CLIENT_HZ = 4, 50.0
SECONDS, QUICK_SECONDS = 60.0, 5.0
ANSWER_TIMEOUT_S = 5.0
WARM_UP_S = 3.0  # the camera streams (objects are created) and every kind of call is made once, untimed
LABELS = ("Fridge", "Apple", "Mug", "Bed", "Sofa", "Cabinet", "Plate", "Television")
TEXTS = ("where is the apple", "something to sit on", "a cold drink", "the mug on the table")
CLIENT_KINDS = ("query_objects label", "task_subgraph", "query_objects text", "task_subgraph")
LONG_CHARS = 2000  # the request cap (RequestLimits.max_text_chars)
INSTRUCTIONS = ("put the apple in the fridge", "bring a mug to the sofa", "open the cabinet and take the plate",
                "turn on the television")


def long_instruction(n: int) -> str:
    """A different instruction of about :data:`LONG_CHARS` characters each time (no cache helps)."""
    words = " ".join(f"then put object {n}-{i} in the fridge" for i in range(LONG_CHARS // 30))
    return words[:LONG_CHARS]


def request_for(client: int, n: int, slow: bool = False) -> tuple[str, Any]:
    """The ``n``-th request of client ``client``: (service, request); ``slow``: the task_subgraph
    clients send long instructions, new each time."""
    if client % 2 == 1:
        instruction = long_instruction(client * 1_000_000 + n) if slow else INSTRUCTIONS[n % len(INSTRUCTIONS)]
        return "task_subgraph", GetTaskSubgraph.Request(instruction=instruction)
    if client == 0:
        return "query_objects", QueryObjects.Request(label=LABELS[n % len(LABELS)], k=10)
    return "query_objects", QueryObjects.Request(text=TEXTS[n % len(TEXTS)], k=10)


class _Load:
    """The camera and the clients on one schedule in this thread, answers on its executor."""

    def __init__(self, session: Session, camera: dict[str, Publisher], frames: list[Any], slow: bool) -> None:
        self.session = session
        self.slow = slow
        self.camera = camera
        self.frames = [_messages(f) for f in frames]
        node = session.node
        self.services = {"query_objects": node.create_client(QueryObjects, "memory/query_objects"),
                         "task_subgraph": node.create_client(GetTaskSubgraph, "memory/task_subgraph")}
        self.updates: set[int] = set()
        node.create_subscription(GraphUpdate, "memory/graph_updates",
                                 lambda m: self.updates.add(_ms_key(m.header.stamp.sec, m.header.stamp.nanosec)), 1000)
        self.latencies: list[float] = []
        self.per_client: dict[int, list[float]] = {c: [] for c in range(CLIENTS)}
        self.failed = 0
        self.pending: dict[int, tuple[float, Any]] = {}

    def ready(self) -> bool:
        return (all(c.wait_for_service(timeout_sec=10.0) for c in self.services.values())
                and self.session.spin_until(lambda: all(p.get_subscription_count() for p in self.camera.values()),
                                            30.0))

    def _answered(self, key: int, sent: float, future: Any, timed: bool) -> None:
        self.pending.pop(key, None)
        response = future.result()
        if not timed:
            return
        if response is None or response.error_code != 0:
            self.failed += 1
        else:
            took = (time.perf_counter() - sent) * 1000.0
            self.latencies.append(took)
            self.per_client[key // 10_000_000].append(took)

    def run(self, seconds: float, timed: bool) -> tuple[set[int], int]:
        """Stream and call for ``seconds``; returns the frame stamps (ms) published and the calls sent."""
        start, start_ns = time.monotonic(), time.time_ns()
        frame_period, call_period = 1.0 / RATE_HZ, 1.0 / CLIENT_HZ
        next_frame, next_call = 0, [c / (CLIENTS * CLIENT_HZ) for c in range(CLIENTS)]  # staggered clients
        calls = [0] * CLIENTS
        published: set[int] = set()
        while (now := time.monotonic() - start) < seconds:
            if now >= next_frame * frame_period:
                stamp_ms = (start_ns + round(next_frame * frame_period * 1e9)) // 1_000_000
                msgs = self.frames[next_frame % len(self.frames)]
                _stamp(msgs, stamp_ms * 1_000_000)
                for key in ("odom", "color", "depth", "info", "instances"):
                    self.camera[key].publish(msgs[key])
                published.add(stamp_ms)
                next_frame += 1
            for c in range(CLIENTS):
                if now >= next_call[c]:
                    service, request = request_for(c, calls[c], self.slow)
                    key = c * 10_000_000 + calls[c]
                    sent = time.perf_counter()
                    future = self.services[service].call_async(request)
                    self.pending[key] = (sent, future)
                    future.add_done_callback(lambda f, k=key, s=sent: self._answered(k, s, f, timed))
                    calls[c] += 1
                    next_call[c] += call_period
            due = min(next_frame * frame_period, *next_call) - (time.monotonic() - start)
            self.session.executor.spin_once(timeout_sec=max(0.0, due))
        return published, sum(calls)

    def drain(self, timed: bool) -> None:
        """Wait for the answers still out; those not in within the timeout failed."""
        self.session.spin_until(lambda: not self.pending, ANSWER_TIMEOUT_S)
        if timed:
            self.failed += len(self.pending)
        for client in self.services.values():
            for _, future in self.pending.values():
                client.remove_pending_request(future)
        self.pending.clear()
        self.session.spin_until(lambda: False, 1.0)  # the last graph updates


def _baseline(frames: list[Any], n: int, slow: bool) -> list[float]:
    """The same requests answered in this process, one after another, by memory holding the tour (ms)."""
    with tempfile.TemporaryDirectory(prefix="bench-load-baseline-") as tmp:
        memory = LongTermMemory(LongTermConfig(memory_dir=Path(tmp), snapshot_interval=0.0),
                                make_vector_index("numpy"))
        for i, frame in enumerate(frames):
            memory.integrate(replace(frame, stamp=1.0 + i / RATE_HZ))
        retriever = memory.retriever
        retriever.add_vectors(texts := retriever.texts_to_embed(), retriever.index.embedder.embed(texts))
        retriever.sync()
        answer: dict[str, Callable[[Any], Any]] = {
            "query_objects": lambda r: memory.query(text=r.text, label=r.label, k=r.k),
            "task_subgraph": lambda r: memory.task_subgraph(r.instruction)}
        times = []
        for k in range(n):
            service, request = request_for(k % CLIENTS, k // CLIENTS, slow)
            begin = time.perf_counter()
            answer[service](request)
            times.append((time.perf_counter() - begin) * 1000.0)
    return times


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def run(quick: bool = False, slow: bool = False) -> dict[str, Any]:
    """The benchmark; ``slow``: the task_subgraph clients send long, new instructions (does one slow
    kind of request hold up the other clients and the camera?)."""
    seconds = QUICK_SECONDS if quick else SECONDS
    frames = tour_frames()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, \
            memory_node(Path(tmp), "load_clients") as session, _publishers() as camera:
        load = _Load(session, camera, frames, slow)
        if not load.ready():
            raise RuntimeError("the memory node's services or camera subscriptions never matched")
        load.run(WARM_UP_S, timed=False)
        load.drain(timed=False)
        begin = time.monotonic()
        published, calls = load.run(seconds, timed=True)
        elapsed = time.monotonic() - begin
        load.drain(timed=True)
    processed = len(published & load.updates) / len(published)
    baseline = _baseline(frames, 40 if quick else 400, slow)
    p95 = _p(load.latencies, 95)
    return {
        "calls": calls,
        "failed": load.failed,
        "p50_ms": _p(load.latencies, 50),
        "p95_ms": p95,
        "p99_ms": _p(load.latencies, 99),
        "ingest_processed_fraction": round(processed, 4),
        "answered_per_s": round(len(load.latencies) / elapsed, 1),
        "p95_ms_per_client": {f"{c}:{CLIENT_KINDS[c]}": _p(t, 95) for c, t in load.per_client.items()},
        "slow_requests": slow,
        "seconds": seconds,
        "clients": CLIENTS,
        "client_hz": CLIENT_HZ,
        "camera_hz": RATE_HZ,
        "frames_published": len(published),
        "baseline": "the same requests one after another in this process on LongTermMemory holding the tour",
        "baseline_p50_ms": _p(baseline, 50),
        "baseline_p95_ms": _p(baseline, 95),
        "p95_to_baseline_ratio": round(p95 / _p(baseline, 95), 2) if baseline else None,
        "latency_mean_ms": round(statistics.fmean(load.latencies), 2) if load.latencies else float("nan"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--slow", action="store_true", help="task_subgraph clients send long, new instructions")
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.slow), indent=2))
