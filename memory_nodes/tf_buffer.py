"""Transforms from /tf and /tf_static, with tf2_ros where a ROS install has it and without it elsewhere.

Without tf2_ros (PyPI has none), a :class:`TfListener` subscribes to ``/tf`` and ``/tf_static``
itself and keeps the frame tree in pytransform3d's ``TemporalTransformManager``, which finds the
chain (map -> odom -> base_link -> camera optical frame) and interpolates each moving link at the
requested stamp. As in tf2, a moving link answers only within the span of its samples (the last
``cache_s`` seconds): a later stamp waits for the next message, an older one is an error.
:func:`make_tf_lookup` picks the implementation; both answer ``matrix(target, source, stamp)``
with a 4x4 transform that maps ``source`` coordinates into ``target``.
"""
from __future__ import annotations

import bisect
from collections import deque
from typing import Any, Callable, Optional

import numpy as np
from pytransform3d.transform_manager import StaticTransform, TemporalTransformManager, TimeVaryingTransform
from pytransform3d.transformations import pq_slerp, transform_from_pq
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from memory_nodes.conversions import ConversionError, from_time, pose_to_matrix


def _frame(name: str) -> str:
    return name.lstrip("/")


class _Samples(TimeVaryingTransform):
    """One moving link's recent samples, interpolated as tf2 does: position linearly, rotation by
    slerp (pytransform3d's ``pq_slerp``); a stamp outside the samples is a ValueError."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, np.ndarray]] = deque()

    def as_matrix(self, query_time: float) -> np.ndarray:
        times = [t for t, _ in self.samples]
        i = bisect.bisect_left(times, query_time)
        if i < len(times) and times[i] == query_time:
            return transform_from_pq(self.samples[i][1])
        if i == 0 or i == len(times):
            raise ValueError(f"samples span {times[0]:.3f} to {times[-1]:.3f} s")
        (t0, a), (t1, b) = self.samples[i - 1], self.samples[i]
        return transform_from_pq(pq_slerp(a, b, (query_time - t0) / (t1 - t0)))

    def check_transforms(self) -> "_Samples":
        return self


class TfBuffer:
    """The frame tree over time. ``add`` one transform (parent <- child at a stamp), ``matrix`` looks up."""

    def __init__(self, cache_s: float = 10.0) -> None:
        self.cache_s = cache_s
        self._manager = TemporalTransformManager(strict_check=False, check=False)
        self._links: dict[tuple[str, str], _Samples] = {}

    def add(self, parent: str, child: str, stamp: float, pq: np.ndarray, static: bool) -> None:
        """``pq``: the child frame in the parent frame as (x, y, z, qw, qx, qy, qz)."""
        parent, child = _frame(parent), _frame(child)
        if not parent or not child or parent == child:
            raise ConversionError(f"transform {parent!r} -> {child!r} needs two different frame names")
        if not np.all(np.isfinite(pq)) or np.linalg.norm(pq[3:]) < 1e-9:
            raise ConversionError(f"transform {parent!r} -> {child!r} is not finite or has a zero rotation")
        pq = np.concatenate([pq[:3], pq[3:] / np.linalg.norm(pq[3:])])
        key = (parent, child)
        if static:
            self._links.pop(key, None)
            self._manager.add_transform(child, parent, StaticTransform(transform_from_pq(pq)))
            return
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = _Samples()
            self._manager.add_transform(child, parent, link)
        samples = link.samples
        if samples and stamp <= samples[-1][0]:
            if stamp == samples[-1][0]:
                return  # the same sample again
            raise ConversionError(f"transform {parent!r} -> {child!r} went back in time")
        samples.append((stamp, pq))
        while samples[0][0] < stamp - self.cache_s:
            samples.popleft()

    def matrix(self, target: str, source: str, stamp: float) -> np.ndarray:
        """4x4 transform taking ``source`` coordinates into ``target`` at ``stamp``; ConversionError if
        the frames are not connected or a moving link has no samples around ``stamp``."""
        target, source = _frame(target), _frame(source)
        if target == source:
            return np.eye(4)
        unknown = [f for f in (target, source) if f not in self._manager.nodes]
        if unknown:
            raise ConversionError(f"no transform {target} -> {source}: no TF names frame {unknown[0]!r} yet")
        try:
            return np.asarray(self._manager.get_transform_at_time(source, target, stamp))
        except KeyError as exc:
            raise ConversionError(f"no transform {target} -> {source}: frames not connected ({exc})") from exc
        except ValueError as exc:
            raise ConversionError(f"no transform {target} -> {source} at {stamp:.3f}: outside the buffered "
                                  f"samples ({exc})") from exc

    def may_arrive(self, stamp: float) -> bool:
        """Whether newer samples could still answer ``stamp``: no moving link heard yet (TF starting
        up), or some moving link trails it."""
        return not self._links or any(link.samples[-1][0] < stamp for link in self._links.values())


def transform_to_pq(transform: Any) -> np.ndarray:
    """geometry_msgs/Transform as (x, y, z, qw, qx, qy, qz)."""
    t, q = transform.translation, transform.rotation
    return np.array([t.x, t.y, t.z, q.w, q.x, q.y, q.z], dtype=float)


class TfListener:
    """Fills a :class:`TfBuffer` from ``/tf`` and ``/tf_static``; bad transforms go to ``reject``."""

    def __init__(self, node: Node, reject: Callable[[str, str], None], on_update: Optional[Callable[[], None]] = None,
                 cache_s: float = 10.0) -> None:
        from tf2_msgs.msg import TFMessage

        self.buffer = TfBuffer(cache_s)
        self._reject, self._on_update = reject, on_update
        node.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False, "/tf"), 100)
        latched = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True, "/tf_static"), latched)

    def _on_tf(self, msg: Any, static: bool, topic: str) -> None:
        for t in msg.transforms:
            try:
                self.buffer.add(t.header.frame_id, t.child_frame_id, from_time(t.header.stamp),
                                transform_to_pq(t.transform), static)
            except ConversionError as exc:
                self._reject(topic, str(exc))
        if self._on_update is not None:
            self._on_update()

    def matrix(self, target: str, source: str, stamp: Any) -> np.ndarray:
        return self.buffer.matrix(target, source, from_time(stamp))

    def may_arrive(self, stamp: Any) -> bool:
        return self.buffer.may_arrive(from_time(stamp))


class Tf2Lookup:
    """The same lookups through tf2_ros (a full ROS install)."""

    def __init__(self, node: Node) -> None:
        from tf2_ros import Buffer, TransformListener

        self._buffer = Buffer()
        self._listener = TransformListener(self._buffer, node)

    def matrix(self, target: str, source: str, stamp: Any) -> np.ndarray:
        try:
            t = self._buffer.lookup_transform(target, source, Time.from_msg(stamp)).transform
        except Exception as exc:  # tf2 raises several lookup/extrapolation exception types
            raise ConversionError(f"no transform {target} -> {source!r}: {exc}") from exc
        from geometry_msgs.msg import Pose

        pose = Pose()
        pose.position.x, pose.position.y, pose.position.z = t.translation.x, t.translation.y, t.translation.z
        pose.orientation = t.rotation
        return pose_to_matrix(pose)

    def may_arrive(self, stamp: Any) -> bool:
        del stamp
        return False


def make_tf_lookup(node: Node, reject: Callable[[str, str], None],
                   on_update: Optional[Callable[[], None]] = None) -> "Tf2Lookup | TfListener":
    """tf2_ros where installed, else :class:`TfListener` on /tf and /tf_static."""
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        node.get_logger().info("tf2_ros is not installed: TF from /tf and /tf_static through pytransform3d")
        return TfListener(node, reject, on_update)
    return Tf2Lookup(node)
