"""Spatial index over remembered objects: boxes near a box, centroids near a point or in a ball.

The truth is kept in flat arrays, one slot per object (axis-aligned bounds and centroid), written on
every change. Searches go through scipy's ``cKDTree`` over the centroids, built lazily from those
arrays. Why a k-d tree that is rebuilt rather than an incrementally updated structure (an R-tree,
open3d's KD-tree): scipy is already a dependency, ``cKDTree`` builds 30,000 points in a few
milliseconds and answers a ball query in microseconds, and memory changes in small bursts (a
frame's merges touch tens of objects out of thousands). So the tree is rebuilt only after
``rebuild_after`` slots changed; until then a changed slot is masked out of the tree's answers and
checked directly in a short vectorised pass over the changed slots. Answers are always exact:
every candidate is checked against the current arrays before it is returned.

A box query ("bounds within d of this box") becomes a ball query on centroids: two boxes whose
bounds come within d have centroids at most d plus each one's *reach* apart (half the diagonal of
its bounds plus how far its centroid sits from their centre). Objects are binned by reach (powers
of two) with one tree per bin, so a rare huge box widens the search only for its own bin.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from scipy.spatial import cKDTree

from scene_graph.records import OrientedBox
from scene_graph.relations import aabb_gap

_SMALLEST_BIN = 0.125  # reach (m) of the first bin; each next bin doubles it
_BINS = 8


class SpatialIndex:
    """Slots of object bounds and centroids with lazily rebuilt per-reach-bin k-d trees.

    Slots of removed ids are reused, so the arrays stay as large as the most objects ever held.
    """

    def __init__(self, rebuild_after: int = 256) -> None:
        self.rebuild_after = rebuild_after
        self._slot: dict[str, int] = {}
        self._ids: list[Optional[str]] = []
        self._free: list[int] = []
        self._lo = np.full((0, 3), np.inf)
        self._hi = np.full((0, 3), -np.inf)
        self._centroid = np.full((0, 3), np.inf)
        # Trees: (slots, tree, largest reach in the bin) per non-empty bin, as of the last build.
        self._trees: list[tuple[np.ndarray, cKDTree, float]] = []
        self._stale = np.zeros(0, dtype=bool)  # slot changed since the last build
        self._changed = np.zeros(16, dtype=np.int64)  # the stale slots, first ``_n_changed`` entries
        self._n_changed = 0
        self._built = False
        self.rebuilds = 0  # how often the trees were built (for tests and benchmarks)

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._slot

    # ------------------------------------------------------------------ writing
    def set(self, object_id: str, box: OrientedBox, centroid: Sequence[float]) -> None:
        """Insert or move an object; an unchanged box and centroid cost one comparison."""
        lo, hi = box.aabb()
        slot = self._slot.get(object_id)
        if slot is None:
            slot = self._free.pop() if self._free else self._grow()
            self._slot[object_id] = slot
            self._ids[slot] = object_id
        elif (np.array_equal(self._lo[slot], lo) and np.array_equal(self._hi[slot], hi)
              and np.array_equal(self._centroid[slot], centroid)):
            return
        self._lo[slot], self._hi[slot], self._centroid[slot] = lo, hi, centroid
        self._mark(slot)

    def discard(self, object_id: str) -> None:
        slot = self._slot.pop(object_id, None)
        if slot is not None:
            self._ids[slot] = None
            self._lo[slot], self._hi[slot], self._centroid[slot] = np.inf, -np.inf, np.inf
            self._free.append(slot)
            self._mark(slot)

    def _grow(self) -> int:
        slot = len(self._ids)
        if slot >= self._lo.shape[0]:
            extra = max(16, slot)
            self._lo = np.vstack([self._lo, np.full((extra, 3), np.inf)])
            self._hi = np.vstack([self._hi, np.full((extra, 3), -np.inf)])
            self._centroid = np.vstack([self._centroid, np.full((extra, 3), np.inf)])
            self._stale = np.concatenate([self._stale, np.zeros(extra, dtype=bool)])
        self._ids.append(None)
        return slot

    def _mark(self, slot: int) -> None:
        if not self._stale[slot]:
            self._stale[slot] = True
            if self._n_changed == len(self._changed):
                self._changed = np.concatenate([self._changed, np.zeros_like(self._changed)])
            self._changed[self._n_changed] = slot
            self._n_changed += 1

    # ------------------------------------------------------------------ trees
    def _reach(self, slots: np.ndarray) -> np.ndarray:
        lo, hi = self._lo[slots], self._hi[slots]
        centre = (lo + hi) / 2.0
        return np.linalg.norm(hi - lo, axis=1) / 2.0 + np.linalg.norm(self._centroid[slots] - centre, axis=1)

    def _fresh(self) -> None:
        """Rebuild the trees when never built or when more slots changed since than ``rebuild_after``
        or an eighth of all objects (so rebuilding costs O(log n) per change, amortised)."""
        if self._built and self._n_changed <= max(self.rebuild_after, len(self._slot) // 8):
            return
        live = np.fromiter(self._slot.values(), dtype=np.int64, count=len(self._slot))
        self._trees = []
        if len(live):
            reach = self._reach(live)
            bins = np.clip(np.ceil(np.log2(np.maximum(reach, 1e-9) / _SMALLEST_BIN)), 0, _BINS - 1).astype(int)
            for b in np.unique(bins):
                members = live[bins == b]
                self._trees.append((members, cKDTree(self._centroid[members]), float(reach[bins == b].max())))
        self._stale[self._changed[: self._n_changed]] = False
        self._n_changed = 0
        self._built = True
        self.rebuilds += 1

    def _ball(self, centre: np.ndarray, radius: float, widen: bool) -> np.ndarray:
        """Live slots whose centroid may lie within ``radius`` of ``centre`` (plus each bin's reach
        when ``widen``): the trees' hits that did not change since the build, and every changed slot."""
        self._fresh()
        found = [self._changed[: self._n_changed]]  # removed slots hold infinite bounds: never within
        for members, tree, reach in self._trees:
            hits = tree.query_ball_point(centre, radius + (reach if widen else 0.0))
            if hits:
                slots = members[np.asarray(hits, dtype=np.int64)]
                found.append(slots[~self._stale[slots]])
        return np.concatenate(found)

    # ------------------------------------------------------------------ reading
    def within(self, box: OrientedBox, distance: float) -> list[str]:
        """Ids whose bounds are within ``distance`` of ``box``'s bounds (including touching), in slot order."""
        lo, hi = box.aabb()
        centre = (lo + hi) / 2.0
        candidates = self._ball(centre, distance + float(np.linalg.norm(hi - lo)) / 2.0, widen=True)
        if not len(candidates):
            return []
        candidates = np.unique(candidates)
        gaps = aabb_gap(lo, hi, self._lo[candidates], self._hi[candidates])
        return [self._ids[s] for s in candidates[gaps <= distance]]

    def near_point(self, point: Sequence[float] | np.ndarray, radius: float) -> list[tuple[str, float]]:
        """(id, centroid distance) of every object whose centroid lies within ``radius`` of ``point``."""
        here = np.asarray(point, dtype=float)
        candidates = self._ball(here, radius, widen=False)
        if not len(candidates):
            return []
        candidates = np.unique(candidates)
        distances = np.linalg.norm(self._centroid[candidates] - here, axis=1)
        keep = distances <= radius
        return [(self._ids[s], float(d)) for s, d in zip(candidates[keep], distances[keep])]
