"""Finding a free spot for a box on or in a receptacle.

Shared by home generation, the agent's PutObject and household members, so that all three obey
the same fit rules: the footprint fits the receptacle's inner area (either way round), the
height fits under the next shelf, and nothing overlaps what already rests on that level.
"""
from __future__ import annotations

import random
from typing import Iterable, Optional

import numpy as np

from sim.home.entities import Entity, Vec3

_STEP = 0.05
_GAP = 0.01


def inner_margin(host: Entity) -> float:
    recipe = host.receptacle
    return 0.02 if recipe is None or recipe.mode == "surface" else min(0.04, 0.12 * min(host.size[:2]))


def find_spot(host: Entity, size: Vec3, siblings: Iterable[Entity], *,
              near: Optional[tuple[float, float]] = None,
              rng: Optional[random.Random] = None) -> Optional[tuple[Vec3, Vec3, int]]:
    """(center, size as placed, level) for a box of ``size`` on ``host``, or None if it cannot fit.

    With ``near`` the spot closest to that point wins (an agent puts things down at the near
    edge); with ``rng`` a random free spot (a generated home looks less regular).
    """
    recipe = host.receptacle
    if recipe is None:
        return None
    occupied = [s for s in siblings if s.parent == host.object_id and not s.picked_up]
    margin = inner_margin(host)
    lo, hi = host.lo, host.hi
    levels = list(range(len(recipe.levels)))
    if rng is not None:
        rng.shuffle(levels)
    for level in levels:
        if size[2] > host.level_clearance(level):
            continue
        blockers = [s for s in occupied if s.level == level]
        for w, d in ((size[0], size[1]), (size[1], size[0])):
            spot = _free_xy(lo, hi, margin, w, d, blockers, near, rng)
            if spot is not None:
                z = host.rest_height(level) + size[2] / 2.0
                return (float(spot[0]), float(spot[1]), z), (w, d, size[2]), level
    return None


def _free_xy(lo: Vec3, hi: Vec3, margin: float, w: float, d: float, blockers: list[Entity],
             near: Optional[tuple[float, float]], rng: Optional[random.Random]) -> Optional[np.ndarray]:
    x0, x1 = lo[0] + margin + w / 2.0, hi[0] - margin - w / 2.0
    y0, y1 = lo[1] + margin + d / 2.0, hi[1] - margin - d / 2.0
    if x0 > x1 + 1e-9 or y0 > y1 + 1e-9:
        return None
    xs = np.linspace(x0, x1, max(1, int((x1 - x0) / _STEP) + 1))
    ys = np.linspace(y0, y1, max(1, int((y1 - y0) / _STEP) + 1))
    cand = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    ok = np.ones(len(cand), dtype=bool)
    for b in blockers:
        blo, bhi = b.lo, b.hi
        ok &= ~((cand[:, 0] - w / 2 < bhi[0] + _GAP) & (cand[:, 0] + w / 2 > blo[0] - _GAP)
                & (cand[:, 1] - d / 2 < bhi[1] + _GAP) & (cand[:, 1] + d / 2 > blo[1] - _GAP))
    cand = cand[ok]
    if len(cand) == 0:
        return None
    if near is not None:
        return cand[int(np.argmin(np.hypot(cand[:, 0] - near[0], cand[:, 1] - near[1])))]
    if rng is not None:
        return cand[rng.randrange(len(cand))]
    return cand[len(cand) // 2]
