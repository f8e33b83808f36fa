"""Secondary indexes of the scene graph: objects by label, room, external id, voted label, status,
and by the time they last changed; rooms by footprint; areas by room and position.

The graph updates these on every write of an object (:meth:`ObjectIndexes.replace`), so a lookup
costs what it returns, not the size of memory. Plain dicts of sets and a sorted list keep them
exact and simple; the spatial index over boxes is :mod:`scene_graph.spatial`.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
from scipy.spatial import cKDTree

from scene_graph.records import AreaNode, ObjectNode, RoomNode


def _add(index: dict[str, set[str]], key: str, object_id: str) -> None:
    index[key].add(object_id)


def _drop(index: dict[str, set[str]], key: str, object_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(object_id)
        if not members:
            del index[key]


def _unlist(timeline: list[tuple[float, str]], entry: tuple[float, str]) -> None:
    i = bisect.bisect_left(timeline, entry)
    if i < len(timeline) and timeline[i] == entry:
        del timeline[i]


def _voted_labels(node: ObjectNode) -> set[str]:
    return {node.label} | {label for label, _ in node.label_votes}


class ObjectIndexes:
    """Exact secondary indexes over object records, kept in step by :meth:`replace`."""

    def __init__(self) -> None:
        self.by_label: dict[str, set[str]] = defaultdict(set)
        self.by_room: dict[str, set[str]] = defaultdict(set)
        self.by_external: dict[str, set[str]] = defaultdict(set)
        self.by_vote: dict[str, set[str]] = defaultdict(set)  # every label with a vote (and the label itself)
        self.by_status: dict[str, set[str]] = defaultdict(set)
        self._timeline: list[tuple[float, str]] = []  # (last_changed, id), sorted
        self._label_timelines: dict[str, list[tuple[float, str]]] = defaultdict(list)  # the same per label

    def replace(self, old: Optional[ObjectNode], new: Optional[ObjectNode]) -> None:
        """Move one object's entries from its old record to its new one (None: absent)."""
        if old is not None and new is not None and old == new:
            return
        if old is not None:
            self._remove(old, keep_votes=_voted_labels(new) if new is not None else set())
        if new is not None:
            self._insert(new, old)

    def _remove(self, node: ObjectNode, keep_votes: set[str]) -> None:
        _drop(self.by_label, node.label, node.id)
        _drop(self.by_room, node.room_id, node.id)
        _drop(self.by_status, node.status, node.id)
        if node.external_id:
            _drop(self.by_external, node.external_id, node.id)
        for label in _voted_labels(node) - keep_votes:
            _drop(self.by_vote, label, node.id)
        _unlist(self._timeline, (node.last_changed, node.id))
        timeline = self._label_timelines.get(node.label)
        if timeline is not None:
            _unlist(timeline, (node.last_changed, node.id))
            if not timeline:
                del self._label_timelines[node.label]

    def _insert(self, node: ObjectNode, old: Optional[ObjectNode]) -> None:
        _add(self.by_label, node.label, node.id)
        _add(self.by_room, node.room_id, node.id)
        _add(self.by_status, node.status, node.id)
        if node.external_id:
            _add(self.by_external, node.external_id, node.id)
        for label in _voted_labels(node) - (_voted_labels(old) if old is not None else set()):
            _add(self.by_vote, label, node.id)
        bisect.insort(self._timeline, (node.last_changed, node.id))
        bisect.insort(self._label_timelines[node.label], (node.last_changed, node.id))

    def changed_since(self, stamp: float) -> list[str]:
        """Ids whose ``last_changed`` is at or after ``stamp``, oldest change first."""
        return [i for _, i in self._timeline[bisect.bisect_left(self._timeline, (stamp, "")):]]

    def count_changed_since(self, stamp: float) -> int:
        return len(self._timeline) - bisect.bisect_left(self._timeline, (stamp, ""))

    def newest(self, count: int, label: Optional[str] = None) -> list[str]:
        """The ``count`` most recently changed ids (of ``label`` when given), newest first (ties:
        smaller id first)."""
        timeline = self._timeline if label is None else self._label_timelines.get(label, [])
        # The list is ascending by (stamp, id): walk its runs of equal stamps from the end, each run
        # read forwards (ids ascending), until ``count`` are taken.
        found: list[str] = []
        end = len(timeline)
        while len(found) < count and end > 0:
            start = bisect.bisect_left(timeline, (timeline[end - 1][0], ""))
            found += [i for _, i in timeline[start : min(end, start + count - len(found))]]
            end = start
        return found

    def ids(self, index: Mapping[str, set[str]], keys: Iterable[str]) -> set[str]:
        """The union of ``index``'s members under ``keys``."""
        out: set[str] = set()
        for key in keys:
            out |= index.get(key, set())
        return out


class PlaceIndex:
    """Rooms by footprint bounds and areas by room and position, for placing an object in O(hits)."""

    def __init__(self, rooms: Sequence[RoomNode], polygons: Mapping[str, np.ndarray],
                 areas: Sequence[AreaNode]) -> None:
        self.room_ids = [r.id for r in rooms]
        self._polygons = [polygons[i] for i in self.room_ids]
        self._lo = np.array([p.min(axis=0) for p in self._polygons]).reshape(-1, 2)
        self._hi = np.array([p.max(axis=0) for p in self._polygons]).reshape(-1, 2)
        self.area_ids = [a.id for a in areas]
        self._area_xy = np.array([a.position[:2] for a in areas], dtype=float).reshape(-1, 2)
        self._area_tree = cKDTree(self._area_xy) if len(areas) else None
        by_room: dict[str, list[int]] = defaultdict(list)
        for n, area in enumerate(areas):
            by_room[area.room_id].append(n)
        self._room_areas = {room: np.asarray(rows, dtype=np.int64) for room, rows in by_room.items()}

    def candidate_rooms(self, xy: Sequence[float]) -> list[int]:
        """Positions (in layout order) of the rooms whose footprint bounds hold the point."""
        if not self.room_ids:
            return []
        x, y = float(xy[0]), float(xy[1])
        inside = (self._lo[:, 0] <= x) & (x <= self._hi[:, 0]) & (self._lo[:, 1] <= y) & (y <= self._hi[:, 1])
        return np.flatnonzero(inside).tolist()

    def polygon(self, position: int) -> np.ndarray:
        return self._polygons[position]

    def nearest_area(self, xy: np.ndarray, room_id: str) -> str:
        """Nearest area in ``room_id`` if it has any, else nearest overall; "" without areas.
        Ties go to the area listed first, as ``argmin`` gives."""
        if self._area_tree is None:
            return ""
        rows = self._room_areas.get(room_id) if room_id else None
        if rows is not None and len(rows):
            distances = np.linalg.norm(self._area_xy[rows] - xy, axis=1)
            return self.area_ids[int(rows[int(np.argmin(distances))])]
        distance, _ = self._area_tree.query(xy)
        # Among areas at exactly that distance, the first listed (argmin's rule) wins.
        tied = self._area_tree.query_ball_point(xy, float(distance) * (1 + 1e-12) + 1e-12)
        return self.area_ids[min(tied)] if tied else ""
