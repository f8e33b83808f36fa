"""Where the robot can stand and how far it has to drive: an occupancy grid with shortest paths.

The grid shares the 0.25 m lattice of the walls, so every door is exactly two cells wide. A cell
is free when a robot of radius ``AGENT_RADIUS`` centred there touches no wall and no furniture.
Moves go to the 8 neighbours without cutting corners; Dijkstra gives exact grid path lengths.
Links (:meth:`NavGrid.link`) join two distant cells at a fixed cost: the stairs between the floors
of a building, which the shortest paths, their lengths and the connected components all take.
"""
from __future__ import annotations

import heapq
import math
from typing import Iterable, Optional, Sequence

import numpy as np

from sim.home.layout import GRID

AGENT_RADIUS = 0.2
Cell = tuple[int, int]
_MOVES = [(1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
          (1, 1, math.sqrt(2)), (1, -1, math.sqrt(2)), (-1, 1, math.sqrt(2)), (-1, -1, math.sqrt(2))]


class NavGrid:
    def __init__(self, free: np.ndarray, origin: tuple[float, float] = (0.0, 0.0), resolution: float = GRID):
        self.free = free
        self.origin = origin
        self.resolution = resolution
        self.links: dict[Cell, dict[Cell, float]] = {}

    def link(self, a: Cell, b: Cell, cost: float) -> None:
        """A two-way edge between free cells ``a`` and ``b`` costing ``cost`` metres."""
        if not (self.is_free(a) and self.is_free(b)):
            raise ValueError(f"a link needs two free cells, got {a} and {b}")
        self.links.setdefault(a, {})[b] = cost
        self.links.setdefault(b, {})[a] = cost

    def length(self, path: Sequence[Cell]) -> float:
        """Metres along a path of cells: grid steps by distance, links by their cost."""
        total = 0.0
        for a, b in zip(path, path[1:]):
            cost = self.links.get(a, {}).get(b)
            total += cost if cost is not None else math.dist(self.center(a), self.center(b))
        return total

    @classmethod
    def build(cls, rooms: Iterable[tuple[float, float, float, float]],
              obstacles: Iterable[tuple[float, float, float, float]], resolution: float = GRID) -> "NavGrid":
        """From room rectangles (x0, y0, x1, y1) and obstacle footprints of the same form."""
        rooms = list(rooms)
        nx = int(round(max(r[2] for r in rooms) / resolution))
        ny = int(round(max(r[3] for r in rooms) / resolution))
        xs = (np.arange(nx) + 0.5) * resolution
        ys = (np.arange(ny) + 0.5) * resolution
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        inside = np.zeros((nx, ny), dtype=bool)
        for x0, y0, x1, y1 in rooms:
            inside |= (X > x0) & (X < x1) & (Y > y0) & (Y < y1)
        for x0, y0, x1, y1 in obstacles:
            # Distance from the cell centre to the rectangle, compared with the robot's radius.
            dx = np.maximum(np.maximum(x0 - X, X - x1), 0.0)
            dy = np.maximum(np.maximum(y0 - Y, Y - y1), 0.0)
            inside &= np.hypot(dx, dy) >= AGENT_RADIUS
        return cls(inside, (0.0, 0.0), resolution)

    def cell(self, x: float, y: float) -> Cell:
        return (int(math.floor((x - self.origin[0]) / self.resolution)),
                int(math.floor((y - self.origin[1]) / self.resolution)))

    def center(self, cell: Cell) -> tuple[float, float]:
        return (self.origin[0] + (cell[0] + 0.5) * self.resolution, self.origin[1] + (cell[1] + 0.5) * self.resolution)

    def is_free(self, cell: Cell) -> bool:
        i, j = cell
        return 0 <= i < self.free.shape[0] and 0 <= j < self.free.shape[1] and bool(self.free[i, j])

    def free_cells(self) -> list[Cell]:
        return [(int(i), int(j)) for i, j in np.argwhere(self.free)]

    def nearest_free(self, x: float, y: float) -> Optional[Cell]:
        cells = np.argwhere(self.free)
        if len(cells) == 0:
            return None
        centers = (cells + 0.5) * self.resolution + np.asarray(self.origin)
        k = int(np.argmin(np.hypot(centers[:, 0] - x, centers[:, 1] - y)))
        return (int(cells[k][0]), int(cells[k][1]))

    def dijkstra(self, start: Cell) -> tuple[np.ndarray, np.ndarray]:
        """Grid path length in metres from ``start`` to every cell (inf if unreachable), and the
        predecessor of each cell as a flat index (-1 for none)."""
        nx, ny = self.free.shape
        dist = np.full((nx, ny), np.inf)
        prev = np.full(nx * ny, -1, dtype=np.int64)
        if not self.is_free(start):
            return dist, prev
        dist[start] = 0.0
        heap = [(0.0, start)]
        free = self.free
        while heap:
            d, (i, j) = heapq.heappop(heap)
            if d > dist[i, j]:
                continue
            for di, dj, cost in _MOVES:
                a, b = i + di, j + dj
                if not (0 <= a < nx and 0 <= b < ny and free[a, b]):
                    continue
                if di and dj and not (free[i + di, j] and free[i, j + dj]):
                    continue  # no corner cutting
                nd = d + cost * self.resolution
                if nd < dist[a, b]:
                    dist[a, b] = nd
                    prev[a * ny + b] = i * ny + j
                    heapq.heappush(heap, (nd, (a, b)))
            for (a, b), cost in self.links.get((i, j), {}).items():
                if free[a, b] and d + cost < dist[a, b]:
                    dist[a, b] = d + cost
                    prev[a * ny + b] = i * ny + j
                    heapq.heappush(heap, (d + cost, (a, b)))
        return dist, prev

    def path(self, start: Cell, goal: Cell, prev: Optional[np.ndarray] = None) -> list[Cell]:
        """Cells from ``start`` to ``goal`` inclusive ([] if unreachable)."""
        if prev is None:
            _, prev = self.dijkstra(start)
        ny = self.free.shape[1]
        flat, out = goal[0] * ny + goal[1], []
        while flat != -1:
            out.append((flat // ny, flat % ny))
            if out[-1] == tuple(start):
                return out[::-1]
            flat = int(prev[flat])
        return []

    def components(self) -> np.ndarray:
        """Label image of the 8-connected free components (0 = blocked)."""
        labels = np.zeros(self.free.shape, dtype=np.int32)
        n = 0
        for cell in self.free_cells():
            if labels[cell]:
                continue
            n += 1
            dist, _ = self.dijkstra(cell)
            labels[np.isfinite(dist)] = n
        return labels


def path_length(points: Sequence[tuple[float, float]]) -> float:
    return float(sum(math.dist(a, b) for a, b in zip(points, points[1:])))
