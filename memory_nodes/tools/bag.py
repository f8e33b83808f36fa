"""Record topics into rosbag2 folders (MCAP) and play them back, with real rclpy and ``rosbags``.

Messages stay serialized end to end: subscriptions hand over raw CDR bytes, the bag stores them
with their receive time, and playback publishes the same bytes on publishers of the recorded type.
Each topic's connection carries its full message definition and type hash (``bag_types``), so
``ros2 bag`` and any MCAP reader decode the bag without this package. The ``embodied-memory bag``
subcommands live in ``bag_cli``.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.typesys import TypesysError

from memory_nodes.tools.bag_types import UnknownType, import_type, new_typestore, register_type

LOG = logging.getLogger(__name__)
EXCLUDED = frozenset({"/rosout", "/parameter_events"})
QUEUE_DEPTH = 100  # per topic, both ways: 3 s of a 30 Hz camera
REDISCOVER_S = 1.0
_CORRUPT = (ReaderError, ValueError, OverflowError)  # what rosbags raises on damaged storage


class BagError(RuntimeError):
    """A bag or topic problem the user can fix; the message is one sentence."""


@dataclass
class RecordSummary:
    folder: Path
    counts: dict[str, int] = field(default_factory=dict)  # topic -> messages written
    types: dict[str, str] = field(default_factory=dict)  # topic -> pkg/msg/Name
    skipped: dict[str, str] = field(default_factory=dict)  # topic -> why it was not recorded
    bytes: int = 0
    duration_s: float = 0.0

    @property
    def messages(self) -> int:
        return sum(self.counts.values())


@dataclass
class PlaySummary:
    counts: dict[str, int] = field(default_factory=dict)  # topic -> messages published
    skipped: dict[str, str] = field(default_factory=dict)  # topic -> why it was not played
    loops: int = 0
    duration_s: float = 0.0


def _absolute(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _qos(reliable: bool, latched: bool) -> QoSProfile:
    return QoSProfile(depth=QUEUE_DEPTH,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def _bag_qos(profile: QoSProfile) -> Qos:
    def span(d: Duration) -> QosTime:
        return QosTime(*divmod(d.nanoseconds, 10**9))
    return Qos(QosHistory(int(profile.history)), profile.depth, QosReliability(int(profile.reliability)),
               QosDurability(int(profile.durability)), span(profile.deadline), span(profile.lifespan),
               QosLiveliness(int(profile.liveliness)), span(profile.liveliness_lease_duration),
               profile.avoid_ros_namespace_conventions)


@contextmanager
def _ros_node(name: str) -> Iterator[tuple[Node, SingleThreadedExecutor]]:
    """A node in a context of its own, so callers with rclpy already initialised are unaffected."""
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C stays KeyboardInterrupt
    node = Node(name, context=context, enable_rosout=False, start_parameter_services=False)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield node, executor
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


class _Recorder:
    def __init__(self, node: Node, writer: Writer, summary: RecordSummary, wanted: Optional[set[str]]) -> None:
        self._node, self._writer, self._summary, self._wanted = node, writer, summary, wanted
        self._store = new_typestore()
        self._subscriptions: dict[str, Any] = {}

    def topics(self) -> list[str]:
        """The topics subscribed so far."""
        return list(self._subscriptions)

    def discover(self) -> None:
        for topic, types in self._node.get_topic_names_and_types():
            if topic in self._subscriptions or topic in self._summary.skipped:
                continue
            if self._wanted is None:
                if topic in EXCLUDED or any(part.startswith("_") for part in topic.split("/")):
                    continue  # hidden topics (actions, services) are recorded only when named
            elif topic not in self._wanted:
                continue
            try:
                self._subscribe(topic, types)
            except (UnknownType, OSError, TypesysError) as exc:
                self._summary.skipped[topic] = str(exc)
                LOG.warning("not recording %s: %s", topic, exc)

    def _subscribe(self, topic: str, types: list[str]) -> None:
        publishers: list[TopicEndpointInfo] = self._node.get_publishers_info_by_topic(topic)
        if not publishers:
            return  # subscribers only: wait for a publisher to learn its QoS
        msgtype = types[0]
        if len(types) > 1:
            LOG.warning("%s carries several types %s; recording %s only", topic, types, msgtype)
        msg_class = import_type(msgtype)
        register_type(self._store, msgtype)
        live = {str(p.topic_type_hash) for p in publishers if p.topic_type == msgtype}
        if live and self._store.hash_rihs01(msgtype) not in live:
            LOG.warning("%s: the definition of %s differs from its publishers' (type hash %s)",
                        topic, msgtype, ", ".join(sorted(live)))
        connection = self._writer.add_connection(topic, msgtype, typestore=self._store,
                                                 offered_qos_profiles=[_bag_qos(p.qos_profile) for p in publishers])
        qos = _qos(all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers),
                   all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers))
        self._summary.types[topic], self._summary.counts[topic] = msgtype, 0
        self._subscriptions[topic] = self._node.create_subscription(
            msg_class, topic, lambda data, info: self._write(connection, data, info), qos, raw=True)
        LOG.info("recording %s (%s)", topic, msgtype)

    def _write(self, connection: Connection, data: bytes, info: Any) -> None:
        self._writer.write(connection, info.get("received_timestamp") or time.time_ns(), data)
        self._summary.counts[connection.topic] += 1
        self._summary.bytes += len(data)


def record(folder: str | Path, topics: Optional[Sequence[str]] = None, duration_s: Optional[float] = None,
           max_messages: Optional[int] = None, stop_event: Optional[threading.Event] = None) -> RecordSummary:
    """Record topics (default: every topic, found as they appear) into a new rosbag2 MCAP folder.

    Stops after duration_s, after max_messages, when stop_event is set (the messages already
    delivered are recorded first), or on KeyboardInterrupt (re-raised); the bag is closed and valid
    in every case.
    """
    folder = Path(folder)
    if folder.exists():
        raise BagError(f"{folder} already exists; recording never overwrites, choose a new folder")
    summary = RecordSummary(folder)
    writer = Writer(folder, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
    try:
        writer.open()
    except (WriterError, OSError) as exc:
        raise BagError(f"cannot create {folder}: {exc}") from None
    LOG.info("recording to %s%s", folder, f" for {duration_s:g} s" if duration_s is not None else "")
    start = time.monotonic()
    try:
        with _ros_node("bag_recorder") as (node, executor):
            recorder = _Recorder(node, writer, summary, None if topics is None else {_absolute(t) for t in topics})
            next_scan = start
            while not (stop_event is not None and stop_event.is_set()):
                now = time.monotonic()
                if (duration_s is not None and now - start >= duration_s) or \
                        (max_messages is not None and summary.messages >= max_messages):
                    break
                if now >= next_scan:
                    recorder.discover()
                    next_scan = now + REDISCOVER_S
                executor.spin_once(timeout_sec=0.05)
            if stop_event is not None and stop_event.is_set():  # Ctrl-C: keep what was delivered before it
                taken = -1
                while summary.messages != taken:
                    taken = summary.messages
                    for _ in recorder.topics():
                        executor.spin_once(timeout_sec=0.0)
    finally:
        writer.close()
        summary.duration_s = time.monotonic() - start
    return summary


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _open_reader(folder: str | Path) -> Reader:
    try:
        reader = Reader(Path(folder))
        reader.open()
    except (FileNotFoundError, *_CORRUPT) as exc:
        raise BagError(f"{folder} is not a readable rosbag2 bag: {_first_line(exc)}") from None
    return reader


def play(folder: str | Path, rate: float = 1.0, topics: Optional[Sequence[str]] = None, loop: bool = False,
         start_offset: float = 0.0, wait_for_subscribers: float = 0.0,
         stop_event: Optional[threading.Event] = None) -> PlaySummary:
    """Publish a bag's messages with their recorded spacing divided by rate (0 or inf: no waiting).

    start_offset skips that many seconds from the bag's start; wait_for_subscribers waits up to that
    many seconds for every topic to have a subscriber first. Topics whose type is not installed are
    skipped with a warning. Stops at the end (or, with loop, when stop_event is set).
    """
    if math.isnan(rate) or rate < 0:
        raise BagError(f"rate must be 0 (as fast as possible) or positive, not {rate}")
    stop = stop_event or threading.Event()
    summary = PlaySummary()
    reader = _open_reader(folder)
    try:
        in_bag = {c.topic for c in reader.connections}
        wanted = in_bag if topics is None else {_absolute(t) for t in topics}
        if missing := wanted - in_bag:
            raise BagError(f"{folder} has no topic {', '.join(sorted(missing))}; it has {', '.join(sorted(in_bag))}")
        with _ros_node("bag_player") as (node, _):
            publishers: dict[str, Any] = {}
            for conn in reader.connections:
                if conn.topic not in wanted or conn.topic in publishers or conn.topic in summary.skipped:
                    continue
                try:
                    msg_class = import_type(conn.msgtype)
                except UnknownType as exc:
                    summary.skipped[conn.topic] = str(exc)
                    LOG.warning("not playing %s: %s", conn.topic, exc)
                    continue
                offered = conn.ext.offered_qos_profiles if isinstance(conn.ext, ConnectionExtRosbag2) else []
                qos = _qos(all(q.reliability != QosReliability.BEST_EFFORT for q in offered),
                           bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered))
                publishers[conn.topic] = node.create_publisher(msg_class, conn.topic, qos)
                summary.counts[conn.topic] = 0
            if not publishers:
                raise BagError(f"no topic of {folder} can be played: {'; '.join(summary.skipped.values())}")
            deadline = time.monotonic() + wait_for_subscribers
            while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in publishers.values()):
                if stop.wait(0.05):
                    break
            connections = [c for c in reader.connections if c.topic in publishers]
            begin = reader.start_time + int(start_offset * 1e9)
            started = time.monotonic()
            try:
                while not stop.is_set():
                    summary.loops += 1
                    t0, published = time.monotonic(), sum(summary.counts.values())
                    for conn, stamp, data in reader.messages(connections, start=begin):
                        if 0 < rate < math.inf:
                            delay = t0 + (stamp - begin) / 1e9 / rate - time.monotonic()
                            if delay > 0 and stop.wait(delay):
                                break
                        publishers[conn.topic].publish(bytes(data))
                        summary.counts[conn.topic] += 1
                    if not loop or sum(summary.counts.values()) == published:
                        break  # played once, or nothing to loop over
            except _CORRUPT as exc:
                raise BagError(f"{folder} is corrupt: {_first_line(exc)}") from None
            finally:
                summary.duration_s = time.monotonic() - started
            for publisher in publishers.values():  # deliver what is queued before the node goes
                publisher.wait_for_all_acked(Duration(seconds=2))
    finally:
        reader.close()
    return summary
