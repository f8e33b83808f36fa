"""Geometric relations between remembered objects: ON, IN (and its inverse CONTAINS), NEAR.

All tests work on gravity-aligned oriented boxes, so each is a footprint test in x/y plus an
interval test in z. The graph recomputes relations only for objects whose box changed, against
the few neighbours the graph's spatial index (:mod:`scene_graph.spatial`) returns, never all pairs per frame.

Precedence within a pair: IN beats ON (an apple on a fridge shelf is in the fridge), and NEAR is
only stated for pairs with neither, so a prompt never says "near" what it already says "on".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from scene_graph.ontology import OBJECT_TYPES
from scene_graph.records import CONTAINS, IN, NEAR, ON, ObjectNode, OrientedBox, Relation


@dataclass(frozen=True)
class RelationConfig:
    on_tolerance: float = 0.05  # |subject bottom - support top| allowed for ON (m)
    min_support_overlap: float = 0.5  # share of the subject's footprint over the support
    in_fraction: float = 0.6  # share of the subject's volume inside the container
    near_distance: float = 0.3  # largest gap between boxes for NEAR (m)

    @property
    def reach(self) -> float:
        """How far apart two boxes can be and still be related at all."""
        return max(self.near_distance, self.on_tolerance)


def footprint_overlap(a: OrientedBox, b: OrientedBox, samples: int = 5) -> float:
    """Share of a's footprint that lies over b's footprint (sampled on a grid)."""
    points = a.grid(samples)[: samples * samples]  # one z-slice of the grid is enough in 2D
    local = b.to_local(points)[:, :2]
    half = np.asarray(b.extent[:2]) / 2.0
    return float(np.mean(np.all(np.abs(local) <= half, axis=1)))


def inside_fraction(a: OrientedBox, b: OrientedBox, samples: int = 4) -> float:
    """Share of a's volume inside b."""
    return float(np.mean(b.contains(a.grid(samples))))


def aabb_gap(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray) -> np.ndarray:
    """Euclidean gap between axis-aligned boxes (0 when they touch or overlap); b may be stacked."""
    per_axis = np.maximum(0.0, np.maximum(lo_b - hi_a, lo_a - hi_b))
    return np.linalg.norm(per_axis, axis=-1)


def _can_contain(node: ObjectNode) -> bool:
    kind = OBJECT_TYPES.get(node.label)
    return kind.receptacle if kind is not None else True  # open-vocabulary labels: let geometry decide


def is_in(a: ObjectNode, b: ObjectNode, config: RelationConfig) -> bool:
    return (
        _can_contain(b)
        and b.box.volume > 1.5 * a.box.volume
        and inside_fraction(a.box, b.box) >= config.in_fraction
    )


def is_on(a: ObjectNode, b: ObjectNode, config: RelationConfig) -> bool:
    return (
        abs(a.box.z_min - b.box.z_max) <= config.on_tolerance
        and a.box.center[2] > b.box.center[2]
        and b.box.footprint_area >= 0.5 * a.box.footprint_area
        and footprint_overlap(a.box, b.box) >= config.min_support_overlap
    )


def relations_between(a: ObjectNode, b: ObjectNode, config: RelationConfig) -> list[Relation]:
    """Every relation between a and b, in both directions."""
    found: list[Relation] = []
    for s, o in ((a, b), (b, a)):
        if is_in(s, o, config):
            found += [Relation(s.id, IN, o.id), Relation(o.id, CONTAINS, s.id)]
    if found:
        return found
    for s, o in ((a, b), (b, a)):
        if is_on(s, o, config):
            found.append(Relation(s.id, ON, o.id))
    if found:
        return found
    lo_a, hi_a = a.box.aabb()
    lo_b, hi_b = b.box.aabb()
    if float(aabb_gap(lo_a, hi_a, lo_b, hi_b)) <= config.near_distance:
        found += [Relation(a.id, NEAR, b.id), Relation(b.id, NEAR, a.id)]
    return found


def relations_of(node: ObjectNode, neighbours: Iterable[ObjectNode], config: RelationConfig) -> set[Relation]:
    """All relations involving ``node`` given its candidate neighbours."""
    found: set[Relation] = set()
    for other in neighbours:
        if other.id != node.id:
            found.update(relations_between(node, other, config))
    return found
