"""The short-term memory node: recent observations and state changes, served by recency or relevance.

State changes (``state_changes``) and what long-term memory just saw (``memory/graph_updates``)
fill a bounded ``scene_graph.short_term.ShortTermMemory``; confirmed changes are consolidated by
publishing them on ``memory/confirmed_changes``, which the long-term node applies. The hit rate
(KARMA's MHR: queried objects found in short-term memory / queried objects) is published.
"""
from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from std_msgs.msg import Float32

from embodied_memory.msg import GraphUpdate, StateChange
from embodied_memory.srv import QueryShortTerm
from memory_nodes.conversions import (
    ConversionError,
    from_time,
    state_to_text,
    to_time,
    unit_from_state_change,
    unit_to_msg,
)
from memory_nodes.node_support import (
    AdmissionParams,
    BadInput,
    ConfigurationError,
    admit_objects,
    declare_all,
    declare_request_limits,
    diagnostics,
    parameter,
    spin_nodes,
)
from scene_graph.admission import check_change, check_request, check_stamp
from scene_graph.embeddings import EmbedderUnavailable
from scene_graph.ontology import ACTION_NAMES
from scene_graph.records import StateValue
from scene_graph.short_term import POLICIES, ShortTermMemory, observation_units

_DEFAULT_K = 5


class _ConfirmedChangePublisher:
    """The long-term memory as ``ShortTermMemory.consolidate`` sees it: a sink for confirmed states."""

    def __init__(self, node: Node, frame_id: str, traffic: Counter[str]) -> None:
        self._pub = node.create_publisher(StateChange, "memory/confirmed_changes", 100)
        self._frame_id = frame_id
        self._traffic = traffic

    def set_object_state(self, object_id: str, state: str, value: StateValue, stamp: float) -> bool:
        msg = StateChange(object_id=object_id, state=state, new_value=state_to_text(value), cause="short_term")
        msg.header.frame_id, msg.header.stamp = self._frame_id, to_time(stamp)
        self._traffic["consolidated"] += 1  # counted before sending: nothing downstream can be ahead of it
        self._pub.publish(msg)
        return True


@dataclass(frozen=True)
class ShortTermParams:
    """The short-term memory node's parameters (``config/memory.yaml``, section short_term_memory)."""

    capacity: int = parameter(10, "Units held (KARMA sweeps 5 to 25)", integer_range=(1, 100000))
    policy: str = parameter("fifo_merge", f"Replacement policy: {', '.join(POLICIES)}")
    confirm_after: int = parameter(2, "Agreeing reports that confirm a state change", integer_range=(1, 100))
    vouching_causes: tuple[str, ...] = parameter(ACTION_NAMES, "Causes whose changes are confirmed at once (the "
                                                 "robot's own successful skills)")
    consolidate_interval_s: float = parameter(1.0, "Seconds between consolidations into long-term memory",
                                              float_range=(0.05, 3600.0))
    world_frame: str = parameter("map", "Frame of positions")


class ShortTermMemoryNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("short_term_memory", **kwargs)
        params = self.params = declare_all(self, ShortTermParams)
        if params.policy not in POLICIES:
            raise ConfigurationError(f"policy must be one of {', '.join(POLICIES)}, not {params.policy!r}")
        self._limits = declare_request_limits(self)
        self._admission = declare_all(self, AdmissionParams).limits()  # the long-term node's rules, own bounds
        self.memory = ShortTermMemory(capacity=params.capacity, policy=params.policy,
                                      confirm_after=params.confirm_after)
        try:  # load the embedding model now rather than stall a query later
            self.memory.embedder.embed(["warm-up"])
        except EmbedderUnavailable as exc:
            self.get_logger().error(f"retrieval by instruction is off: {exc}")
        self._lock = threading.Lock()
        self._bad = BadInput(self)
        # Messages taken in, and how many of them the last consolidation had seen (:meth:`traffic`).
        self._traffic: Counter[str] = Counter()
        self._sink = _ConfirmedChangePublisher(self, params.world_frame, self._traffic)

        self.create_subscription(StateChange, "state_changes", self._on_change, 100)
        self.create_subscription(GraphUpdate, "memory/graph_updates", self._on_update, 100)
        self.create_service(QueryShortTerm, "memory/short_term/query", self._query)
        self._hit_rate_pub = self.create_publisher(Float32, "memory/short_term/hit_rate", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(params.consolidate_interval_s, self._consolidate)
        self.create_timer(1.0, self._report)
        self.get_logger().info(f"short-term memory: {params.policy}, capacity {params.capacity}")

    def traffic(self) -> dict[str, int]:
        """Messages so far, also in the diagnostics: ``changes_received``, ``updates_received``,
        ``inputs_consolidated`` (of those, what the last consolidation had seen) and ``consolidated``
        (confirmed changes sent to long-term memory)."""
        return {key: self._traffic[key]
                for key in ("changes_received", "updates_received", "inputs_consolidated", "consolidated")}

    def copy_memory(self) -> ShortTermMemory:
        """A copy of the buffer, for a harness that branches a run and comes back (the benchmark)."""
        with self._lock:
            return copy.deepcopy(self.memory)

    def counts(self) -> tuple[int, int]:
        """(hits, misses) of the queries so far, as the diagnostics report them."""
        with self._lock:
            return self.memory.hits, self.memory.misses

    def set_memory(self, memory: ShortTermMemory) -> None:
        """Continue from ``memory`` (a :meth:`copy_memory`)."""
        with self._lock:
            self.memory = memory

    def _on_change(self, msg: StateChange) -> None:
        self._traffic["changes_received"] += 1
        reason = check_change(msg.object_id, msg.object_type, msg.state, msg.new_value, from_time(msg.header.stamp),
                              self._now(), self._admission, (msg.position.x, msg.position.y, msg.position.z))
        if reason:
            self._bad.reject("state_changes", reason)
            return
        try:
            unit = unit_from_state_change(msg, self.params.vouching_causes)
        except (ConversionError, ValueError) as exc:
            self._bad.reject("state_changes", str(exc))
            return
        with self._lock:
            self.memory.add(unit)

    def _on_update(self, msg: GraphUpdate) -> None:
        self._traffic["updates_received"] += 1
        now, stamp = self._now(), from_time(msg.header.stamp)
        reason = check_stamp(stamp, now, self._admission)
        if reason:
            self._bad.reject("memory/graph_updates", reason)
            return
        objects, _ = admit_objects(msg.upserted_objects, now, self._admission, self._bad, "memory/graph_updates")
        with self._lock:
            for unit in observation_units(objects, from_time(msg.header.stamp)):
                self.memory.add(unit)

    def _consolidate(self) -> None:
        with self._lock:
            seen = self._traffic["changes_received"] + self._traffic["updates_received"]
            self.memory.consolidate(self._sink)
            self._traffic["inputs_consolidated"] = seen

    def _report(self) -> None:
        with self._lock:
            rate = self.memory.hit_rate
            values = {"units": len(self.memory), "capacity": self.memory.capacity, "hits": self.memory.hits,
                      "misses": self.memory.misses, "hit_rate": round(rate, 3), "rejected": self._bad.total,
                      **self.traffic()}
        self._hit_rate_pub.publish(Float32(data=float(rate)))
        level = DiagnosticStatus.WARN if values["rejected"] else DiagnosticStatus.OK
        self._diag_pub.publish(diagnostics(self, level, f"{values['units']} units", values))

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _query(self, request: QueryShortTerm.Request, response: QueryShortTerm.Response) -> QueryShortTerm.Response:
        """:meth:`ShortTermMemory.query`: the newest units for an empty instruction, else the most similar."""
        too_large = check_request(self._limits, texts=[("instruction", request.instruction)], k=request.k)
        if too_large:
            response.error_code, response.error_message = QueryShortTerm.Response.INVALID_REQUEST, too_large
            return response
        k = request.k or _DEFAULT_K
        try:
            with self._lock:
                scored = self.memory.query(request.instruction, k)
                response.hit_rate = float(self.memory.hit_rate)
        except Exception as exc:  # the embedding model failing to load, for one
            self.get_logger().error(f"short-term query failed: {exc!r}")
            response.error_code = QueryShortTerm.Response.INTERNAL_ERROR
            response.error_message = f"short-term query failed: {exc}"
            return response
        response.units = [unit_to_msg(u) for u, _ in scored]
        response.scores = [float(s) for _, s in scored]
        return response


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([ShortTermMemoryNode], args, "short_term_memory")
