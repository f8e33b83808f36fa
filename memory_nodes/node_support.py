"""What every node of the package does the same way: declare parameters, count bad input, run.

Parameters are declared with a description and a range so ``ros2 param describe`` documents them;
bad input is logged with throttling and counted per reason, so one broken publisher at 30 Hz
neither floods the log nor goes unnoticed in diagnostics.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional, Sequence, TypeVar

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.action import GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.context import Context
from rclpy.exceptions import InvalidParameterTypeException, ParameterException
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node

from embodied_memory.msg import ObjectNode as ObjectNodeMsg
from memory_nodes.conversions import object_from_msg
from memory_nodes.dds_profile import use_package_profile
from scene_graph import embeddings
from scene_graph.admission import BAD_OBJECT, AdmissionLimits, RequestLimits, check_object
from scene_graph.records import ObjectNode

_LOG_EVERY_S = 5.0


def executor_threads() -> int:
    """Threads for a multi-threaded executor: at least 4, so that a callback waiting on a service or action
    (the planner's) never holds the only thread, even on a one-CPU machine."""
    return max(4, os.cpu_count() or 1)


class ConfigurationError(ValueError):
    """Parameters that are each valid but do not work together (or name something absent)."""


def declare(node: Node, name: str, default: Any, description: str,
            integer_range: Optional[tuple[int, int]] = None,
            float_range: Optional[tuple[float, float]] = None,
            read_only: bool = True) -> Any:
    """Declare one parameter with its documentation and range; returns its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if integer_range is not None:
        descriptor.integer_range = [IntegerRange(from_value=integer_range[0], to_value=integer_range[1], step=1)]
    if float_range is not None:
        descriptor.floating_point_range = [FloatingPointRange(from_value=float_range[0],
                                                              to_value=float_range[1], step=0.0)]
    try:
        return node.declare_parameter(name, default, descriptor).value
    except InvalidParameterTypeException:
        if not isinstance(default, float):
            raise
    # "30" for a float parameter in YAML or on the command line means 30.0, not an error: read the
    # value as given (dynamically typed), then declare the parameter again as the float it is.
    given = node.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True)).value
    node.undeclare_parameter(name)
    if isinstance(given, bool) or not isinstance(given, int):
        raise ConfigurationError(f"parameter {name!r} must be a number, not {given!r}")
    return node.declare_parameter(name, float(given), descriptor, ignore_override=True).value


def parameter(default: Any, description: str, integer_range: Optional[tuple[int, int]] = None,
              float_range: Optional[tuple[float, float]] = None) -> Any:
    """A field of a node's parameter dataclass (:func:`declare_all`): default, description, range.
    A list parameter has a tuple default (frozen records hold no lists)."""
    return field(default=default, metadata={"description": description, "integer_range": integer_range,
                                            "float_range": float_range})


P = TypeVar("P")


def declare_all(node: Node, params: type[P]) -> P:
    """Declare every field of the frozen dataclass ``params`` as a parameter of ``node`` (as
    navigation2's nodes declare theirs) and return the values as one record."""
    values = {}
    for f in fields(params):  # type: ignore[arg-type]
        listed = isinstance(f.default, tuple)
        value = declare(node, f.name, list(f.default) if listed else f.default, f.metadata["description"],
                        f.metadata["integer_range"], f.metadata["float_range"])
        values[f.name] = tuple(value) if listed else value
    return params(**values)


_LIMITS = RequestLimits()


@dataclass(frozen=True)
class RequestLimitParams:
    """The request size caps every serving node declares beside its own record (each node's section
    of the YAML sets them); defaults from :class:`scene_graph.admission.RequestLimits`."""

    max_request_text_chars: int = parameter(_LIMITS.max_text_chars, "Longest query text, instruction or goal "
                                            "condition accepted; longer requests get INVALID_REQUEST",
                                            integer_range=(1, 1_000_000))
    max_request_ids: int = parameter(_LIMITS.max_ids, "Most ids in one request", integer_range=(1, 100_000))
    max_request_id_chars: int = parameter(_LIMITS.max_id_chars, "Longest id, label, room or skill name in a "
                                          "request", integer_range=(1, 10_000))
    max_goal_conditions: int = parameter(_LIMITS.max_goal_conditions, "Most goal conditions of one task",
                                         integer_range=(0, 10_000))
    max_request_results: int = parameter(_LIMITS.max_results, "Largest k of a query", integer_range=(1, 1_000_000))

    def limits(self) -> RequestLimits:
        return RequestLimits(self.max_request_text_chars, self.max_request_ids, self.max_request_id_chars,
                             self.max_goal_conditions, self.max_request_results)


def declare_request_limits(node: Node) -> RequestLimits:
    """Declare :class:`RequestLimitParams` on ``node`` and return the caps."""
    return declare_all(node, RequestLimitParams).limits()


_ADMISSION = AdmissionLimits()


@dataclass(frozen=True)
class AdmissionParams:
    """The bounds on untrusted records that every node keeping them declares beside its own record
    (each node's section of the YAML sets them); defaults from :class:`scene_graph.admission.AdmissionLimits`.
    Geometry bounds that need a layout stay with the long-term node."""

    max_future_s: float = parameter(_ADMISSION.max_future_s, "Input stamped further ahead of the node's clock is "
                                    "rejected (s)", float_range=(0.0, 3600.0))
    max_label_chars: int = parameter(_ADMISSION.max_label_chars, "Longest label, id, state name or value accepted "
                                     "(one printable line)", integer_range=(1, 1024))

    def limits(self, **geometry: float) -> AdmissionLimits:
        return AdmissionLimits(max_future_s=self.max_future_s, max_label_chars=self.max_label_chars, **geometry)


class BadInput:
    """Counts rejected input per topic and reason; logs each reason at most every few seconds."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.counts: Counter[str] = Counter()

    def reject(self, topic: str, reason: str) -> None:
        key = f"{topic}: {reason.split(':')[0]}"  # group by the reason's head, not its numbers
        self.counts[key] += 1
        self._node.get_logger().warning(f"rejected {topic} input: {reason}", throttle_duration_sec=_LOG_EVERY_S)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def admit_objects(msgs: Sequence[ObjectNodeMsg], now: float, limits: AdmissionLimits, bad: BadInput,
                  topic: str) -> tuple[list[ObjectNode], list[str]]:
    """Object records from a peer (graph updates, snapshots) through the rule fusion's own records
    meet (``check_object``): the admitted records, and the ids of the refused ones, each counted in
    ``bad`` under ``topic``. A record that does not even convert is refused the same way."""
    kept: list[ObjectNode] = []
    refused: list[str] = []
    for msg in msgs:
        try:
            node = object_from_msg(msg)
            reason = check_object(node, now, limits)
        except ValueError as exc:  # ConversionError included
            reason = f"{BAD_OBJECT}: {exc}"
        if reason:
            bad.reject(topic, reason)
            refused.append(msg.id)
        else:
            kept.append(node)
    return kept, refused


def diagnostics(node: Node, level: bytes, message: str, values: dict[str, Any]) -> DiagnosticArray:
    """One node's status as a DiagnosticArray (hardware_id = the node's name)."""
    status = DiagnosticStatus(level=level, name=node.get_fully_qualified_name(), message=message,
                              hardware_id=node.get_name())
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    array = DiagnosticArray(status=[status])
    array.header.stamp = node.get_clock().now().to_msg()
    return array


class SingleGoal:
    """One goal of an action server at a time: a robot has one body.

    The goal is claimed once its acceptance has gone out (``on_accepted``), not when it is accepted
    (``on_goal``): rclpy drops a goal whose acceptance it could not send, which would otherwise hold
    the claim for ever, and a client resends such a goal (:mod:`memory_nodes.calls`). A copy that
    arrives while the first is claimed is rejected, so a goal resent to a slow server runs once.
    The execute callback calls :meth:`owns` first (two goals accepted at the same moment on a
    multi-threaded executor: the second is aborted) and :meth:`release` last."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._lock = threading.Lock()
        self._owner: Optional[bytes] = None

    def on_goal(self, goal: Any) -> GoalResponse:
        with self._lock:
            if self._owner is None:
                return GoalResponse.ACCEPT
        self._node.get_logger().warning("rejected a goal: another one is running")
        return GoalResponse.REJECT

    def on_accepted(self, handle: ServerGoalHandle) -> None:
        with self._lock:
            if self._owner is None:
                self._owner = bytes(handle.goal_id.uuid)
        handle.execute()

    def owns(self, handle: ServerGoalHandle) -> bool:
        with self._lock:
            return self._owner == bytes(handle.goal_id.uuid)

    def release(self, handle: ServerGoalHandle) -> None:
        with self._lock:
            if self._owner == bytes(handle.goal_id.uuid):
                self._owner = None


def set_torch_threads(threads: int) -> None:
    """CPU threads of torch's models and of the sentence-embedding model in this process (0: leave
    the defaults). Process-wide; it imports torch, so call it only where a torch model runs (a node
    that only embeds text calls ``embeddings.set_threads``)."""
    embeddings.set_threads(threads)
    if threads:
        try:
            import torch
        except ImportError:
            return  # no torch model can load either; their loaders say why
        torch.set_num_threads(threads)


def executor_for(node: Node, context: Optional[Context] = None) -> Executor:
    """A single-threaded executor, unless the node waits on services or actions inside its own
    callbacks (class attribute ``waits_in_callbacks``), which only a multi-threaded one allows, or
    asks for rclpy's events executor (class attribute ``events_executor``).

    rclpy's MultiThreadedExecutor loses most of a 30 Hz camera stream: measured here, 9 to 56 of 150
    frame sets reached subscriptions whose callbacks did nothing (any callback group), against 150
    of 150 on a SingleThreadedExecutor. So sensor nodes never get one. The events executor
    (``rclpy.experimental``: a queue of events in C++ instead of a wait set rebuilt in Python at
    every spin) serves the memory node's camera path: with it, ``bench ingest`` measured latency
    median 7.1-7.5 ms and p95 10.3-11.5 against 8.0 and 14.4 single-threaded, and the node's fusion
    CPU per frame 3.8 against 4.9 ms. It is experimental in rclpy, so only nodes that ask get it; a
    callback's exception still reaches :class:`Spinner`, as with the others."""
    if getattr(node, "waits_in_callbacks", False):
        return MultiThreadedExecutor(num_threads=executor_threads(), context=context)
    if getattr(node, "events_executor", False):
        return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


class Spinner:
    """Spins nodes, each on an executor of its own (:func:`executor_for`) in a thread of its own.

    A callback that raises is logged with its traceback and counted in :attr:`errors` (per node
    name); the node goes on serving. rclpy's own ``spin()`` would end the thread instead, leaving a
    node that is still discovered but never answers again."""

    def __init__(self, context: Optional[Context] = None) -> None:
        self.context = context
        self.errors: Counter[str] = Counter()
        self._stop = threading.Event()
        self._executors: list[Executor] = []
        self._threads: list[threading.Thread] = []

    def add(self, node: Node) -> None:
        """Start spinning ``node`` now, and its ``companion_nodes`` (if any) each on an executor of its own."""
        for companion in getattr(node, "companion_nodes", ()):
            self.add(companion)
        executor = executor_for(node, self.context)
        executor.add_node(node)
        thread = threading.Thread(target=self._spin, args=(executor, node), name=f"spin-{node.get_name()}",
                                  daemon=True)
        self._executors.append(executor)
        self._threads.append(thread)
        thread.start()

    def wait(self, duration: Optional[float] = None) -> None:
        """Block until the context shuts down (rclpy's Ctrl-C handler does that) or ``duration`` s."""
        deadline = None if duration is None else time.monotonic() + duration
        context = self.context or rclpy.get_default_context()
        while context.ok() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)

    def shutdown(self) -> None:
        """Stop every executor and join its thread; rclpy must not be torn down under a spinning one."""
        self._stop.set()
        for executor in self._executors:
            executor.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self._executors.clear()
        self._threads.clear()

    def _spin(self, executor: Executor, node: Node) -> None:
        name = node.get_name()
        while not self._stop.is_set() and executor.context.ok():
            try:
                executor.spin_once(timeout_sec=0.2)
            except ExternalShutdownException:
                return
            except Exception:  # noqa: BLE001 - any callback's bug: report it, keep the node serving
                if self._stop.is_set():
                    return  # rclpy tearing the executor down under us
                self.errors[name] += 1
                node.get_logger().error(f"a callback raised (error {self.errors[name]} of this node), the node "
                                        f"goes on:\n{traceback.format_exc()}", throttle_duration_sec=_LOG_EVERY_S)
                time.sleep(0.05)  # an error that repeats at once must not take a whole core


def _interrupt(signum: int, frame: Any) -> None:
    del signum, frame
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Make SIGINT (Ctrl-C) and SIGTERM (what systemd and docker send) stop the main thread, so the
    nodes are destroyed and memory is saved. Call it after rclpy.init: rclpy's own Ctrl-C handler
    shuts down only its default context, and a stack on a context of its own would spin on."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def spin_nodes(factories: Sequence[Callable[[], Node]], args: Optional[list[str]] = None,
               logger_name: str = "embodied_memory") -> int:
    """Init rclpy, build the nodes and spin them (:class:`Spinner`) until shutdown.

    Exit code 1 with one line when a parameter is rejected (no traceback), 0 otherwise.
    """
    use_package_profile()
    rclpy.init(args=args)
    nodes: list[Node] = []
    spinner = Spinner()
    try:
        for factory in factories:
            nodes.append(factory())
            spinner.add(nodes[-1])
        spinner.wait()
    except KeyboardInterrupt:
        pass
    except (ParameterException, ConfigurationError) as exc:  # a rejected or inconsistent parameter: say which
        rclpy.logging.get_logger(logger_name).fatal(str(exc))
        return 1
    finally:
        spinner.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
