"""Approximate-time matching of a camera's streams (colour, depth, info, instances) and pose lookup.

``message_filters`` is not on PyPI, and the policy matters for what memory counts as dropped, so
both are written here, free of rclpy: stamps are float seconds and messages are opaque.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np


@dataclass
class SyncCounters:
    matched: int = 0
    dropped: int = 0  # left unmatched: overflowed a queue, or older than a matched set


class ApproximateSync:
    """Emit one message per stream when all their stamps lie within ``slop`` seconds.

    Each stream keeps at most ``queue_size`` messages. On every arrival the newest complete set is
    searched: the pivot is the oldest of the streams' newest stamps, each stream contributes its
    message closest to the pivot, and the set is taken when all are within ``slop`` of it.
    Everything at or before a taken set is discarded (counted as dropped unless it was taken).
    """

    def __init__(self, streams: Sequence[str], slop: float, queue_size: int) -> None:
        if slop < 0 or queue_size < 1:
            raise ValueError("slop must be >= 0 and queue_size >= 1")
        self.streams = tuple(streams)
        self.slop, self.queue_size = slop, queue_size
        self._queues: dict[str, deque[tuple[float, Any]]] = {s: deque() for s in self.streams}
        self.counters = SyncCounters()

    def clear(self) -> None:
        """Forget queued messages (not counted as dropped: the caller discards a timeline)."""
        for queue in self._queues.values():
            queue.clear()

    def add(self, stream: str, stamp: float, message: Any) -> Optional[dict[str, Any]]:
        """Queue ``message``; return {stream: message} when it completes a set, else None."""
        queue = self._queues[stream]
        if len(queue) >= self.queue_size:
            queue.popleft()
            self.counters.dropped += 1
        queue.append((stamp, message))
        if any(not q for q in self._queues.values()):
            return None
        pivot = min(q[-1][0] for q in self._queues.values())
        chosen: dict[str, tuple[float, Any]] = {}
        for name, q in self._queues.items():
            best = min(q, key=lambda item: abs(item[0] - pivot))
            if abs(best[0] - pivot) > self.slop:
                return None
            chosen[name] = best
        for name, q in self._queues.items():
            while q and q[0][0] <= chosen[name][0]:
                item = q.popleft()
                if item is not chosen[name]:
                    self.counters.dropped += 1
        self.counters.matched += 1
        return {name: item[1] for name, item in chosen.items()}


class PoseBuffer:
    """Recent camera poses (4x4 world-from-camera) by stamp, for frames that arrive after them."""

    def __init__(self, capacity: int = 200) -> None:
        self._stamps: list[float] = []
        self._poses: list[np.ndarray] = []
        self.capacity = capacity

    def add(self, stamp: float, T_world_camera: np.ndarray) -> None:
        """Poses usually arrive in order; an out-of-order one is inserted in place."""
        index = bisect.bisect_right(self._stamps, stamp)
        self._stamps.insert(index, stamp)
        self._poses.insert(index, T_world_camera)
        if len(self._stamps) > self.capacity:
            del self._stamps[0], self._poses[0]

    def lookup(self, stamp: float, tolerance: float) -> Optional[np.ndarray]:
        """The pose nearest ``stamp`` if one lies within ``tolerance`` seconds, else None."""
        if not self._stamps:
            return None
        index = bisect.bisect_left(self._stamps, stamp)
        candidates = [i for i in (index - 1, index) if 0 <= i < len(self._stamps)]
        best = min(candidates, key=lambda i: abs(self._stamps[i] - stamp))
        return self._poses[best] if abs(self._stamps[best] - stamp) <= tolerance else None

    @property
    def newest(self) -> Optional[float]:
        return self._stamps[-1] if self._stamps else None

    def __len__(self) -> int:
        return len(self._stamps)
