"""Mapping quality: memory built from toured homes, graded against the simulator's ground truth.

For every generated home (``HOMES`` seeds x ``RUNS`` perception seeds, 2-6 rooms) the robot
tours the home (Explore each room, then GoToObject every piece of furniture, opening and closing
what opens, as the task benchmark's tour does), the household acts for ``HOUSEHOLD_SECONDS``, and
the robot tours again. Every frame passes the world's perception model (``sim.perception``)
before it reaches memory; the skills' own state changes are applied as short-term consolidation
applies them (named by track). Household changes are never told: memory learns them by looking.

Graded per perception preset (``oracle`` is the ceiling); for the robot front end (``front_end``:
the exact frames' boxes from a perfect box detector, a test double, then the perception node's own
IoU tracker and depth masks, and fusion as a detector's input sets it, trusting no ids); and, on the very
same ``realistic`` frames, for a naive baseline written here: label-and-distance nearest-neighbour association, no
label votes, no negative evidence. Only confirmed nodes are graded (``Fusion.confirmed``: seen
at least twice), the baseline's likewise. Ground truth is every object or piece of furniture that showed
at least ``VISIBLE_PIXELS`` pixels in some frame as rendered (before perception), at its final
place; an object seen only in the first tour that the household then moved to a place the second
tour never saw is left out (nothing could know where it went).

Metrics: a memory node matches a ground-truth entity of its type or a look-alike within
``MATCH_M`` metres, one to one (optimal assignment on distance). ``duplicate_rate``: ground-truth
entities that, besides their matched node, are the nearest compatible entity within ``MATCH_M`` of
an unmatched node / entities. ``label_accuracy``:
matched nodes whose label is exactly the true type. Relations: (child, parent) pairs of on/in
between matched nodes against the simulator's innermost receptacle. ``state_accuracy``: of the
states memory holds for matched nodes, the share equal to the truth. ``moved_recall``: objects the
household moved (> ``MOVED_M``) that memory has matched at their new place.

    python -m benchmarks.mapping [--quick | --held-out] [--detector owlv2|grounding_dino --detector-model DIR]
                                 [--masks sam --mask-model DIR]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks.sim_boxes import SimulatorBoxes
from memory_nodes.robot_parameters import robot_fusion_parameters
from perception.backends import (
    DETECTORS,
    MASKERS,
    SCORE_THRESHOLD,
    TEXT_THRESHOLD,
    DepthMasker,
    Detector,
    Masker,
    ModelUnavailable,
    make_detector,
    make_masker,
)
from perception.depth_mask import RELATIVE_STEP
from perception.pipeline import Segmenter, default_vocabulary
from scene_graph.frames import RGBDFrame
from scene_graph.fusion import Fusion
from scene_graph.graph import SceneGraph
from scene_graph.ontology import look_alikes
from scene_graph.records import IN, ON
from sim.home.generate import generate_home
from sim.home.household import Household
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld
from sim.perception import Perception, PerceptionConfig, PlaceOf, preset
from sim.records import Action, ObjectState, StateChange

log = logging.getLogger(__name__)

HOMES, RUNS, QUICK_HOMES, QUICK_RUNS = 5, 2, 2, 1
HELD_OUT = range(5, 14)
HOUSEHOLD_SECONDS = 900.0
VISIBLE_PIXELS = 40
MATCH_M = 0.3
MOVED_M = 0.3
PRESETS = ("oracle", "realistic", "harsh")
FRONT_END = "front_end"
GOALS = {"f1": (">=", 0.90), "duplicate_rate": ("<=", 0.03), "label_accuracy": (">=", 0.95),
         "centroid_median_m": ("<=", 0.05), "moved_recall": (">=", 0.8)}
GOAL_OVER_BASELINE_F1 = 0.15


class _Witness(Perception):
    """The world's perception model, noting what each frame showed before perception touched it."""

    def __init__(self, config: PerceptionConfig, seed: int) -> None:
        super().__init__(config, seed)
        self.seen: set[str] = set()

    def perceive(self, frame: RGBDFrame, place_of: Optional[PlaceOf] = None) -> RGBDFrame:
        counts = np.bincount(frame.instance_ids.ravel().astype(np.int64))
        self.seen |= {name for i, name in frame.external_ids.items() if i < len(counts) and counts[i] >= VISIBLE_PIXELS}
        return super().perceive(frame, place_of)


class FrontEnd(_Witness):
    """Exact frames through the robot's perception front end: boxes, tracker, masks (also the
    in-process side of the perception node's test). The boxes are the simulator's, perfect for every
    instance the grading counts as visible (a test double), and the masks depth masks, unless a
    ``detector`` or ``masker`` is given: a user's own models, as :meth:`FrontEndModels.load` loads them."""

    def __init__(self, seed: int, detector: Optional[Detector] = None, masker: Optional[Masker] = None) -> None:
        super().__init__(preset("oracle"), seed)
        self.boxes = SimulatorBoxes(min_pixels=VISIBLE_PIXELS)
        self.segmenter = Segmenter(detector or self.boxes, masker or DepthMasker())

    def perceive(self, frame: RGBDFrame, place_of: Optional[PlaceOf] = None) -> RGBDFrame:
        frame = super().perceive(frame, place_of)
        self.boxes.frame = frame
        found = self.segmenter.segment(frame.color, frame.depth)
        return replace(frame, instance_ids=found.ids, labels=found.labels, scores=found.scores,
                       external_ids=found.external_ids)

    def memory_parameters(self) -> dict[str, bool | float | str]:
        return dict(robot_fusion_parameters(depth_masks=isinstance(self.segmenter.masker, DepthMasker)))


@dataclass(frozen=True)
class FrontEndModels:
    """The models the front end runs instead of its defaults (``bench mapping --detector ...``):
    ``detector`` "boxes" is the simulator's boxes, ``masks`` "depth" the depth masks; the others load
    from local folders as the perception node loads them, with its default thresholds."""

    detector: str = "boxes"
    detector_model: str = ""
    masks: str = "depth"
    mask_model: str = ""

    def load(self) -> tuple[Optional[Detector], Optional[Masker]]:
        """(detector, masker), None for a default; raises ModelUnavailable naming the missing folder."""
        detector = None if self.detector == "boxes" else make_detector(
            self.detector, self.detector_model, default_vocabulary(), SCORE_THRESHOLD, TEXT_THRESHOLD)
        masker = None if self.masks == "depth" else make_masker(self.masks, self.mask_model, RELATIVE_STEP)
        return detector, masker


@dataclass
class _NaiveNode:
    label: str
    centroid: np.ndarray
    count: int = 1


class NaiveMap:
    """The baseline: one node per (label, place). Each instance's centroid (median-filtered
    back-projected pixels) joins the nearest node of the same label within ``radius``, else
    starts a new node. No votes, no negative evidence, no geometry beyond a point."""

    def __init__(self, radius: float = MATCH_M / 2, stride: int = 2) -> None:
        self.radius = radius
        self.stride = stride
        self.nodes: list[_NaiveNode] = []

    def integrate(self, frame: RGBDFrame) -> None:
        s, k = self.stride, frame.intrinsics
        ids = frame.instance_ids[::s, ::s]
        depth = frame.depth[::s, ::s]
        rows, cols = np.nonzero((ids != 0) & (depth > 0.1) & (depth < 8.0))
        z = depth[rows, cols].astype(np.float64)
        camera = np.stack([(cols * s - k.cx) / k.fx * z, (rows * s - k.cy) / k.fy * z, z], axis=1)
        pose = np.asarray(frame.T_world_camera, dtype=float)
        world = camera @ pose[:3, :3].T + pose[:3, 3]
        instance = ids[rows, cols]
        for inst, label in frame.labels.items():
            members = instance == inst
            if np.count_nonzero(members) < 6 or frame.scores.get(inst, 1.0) < 0.3:
                continue
            zs = z[members]
            keep = np.abs(zs - np.median(zs)) <= max(0.1, 4.0 * 1.4826 * float(np.median(np.abs(zs - np.median(zs)))))
            points = world[members][keep]
            center = (points.min(axis=0) + points.max(axis=0)) / 2.0
            near = [(float(np.linalg.norm(n.centroid - center)), i) for i, n in enumerate(self.nodes)
                    if n.label == label]
            best = min(near, default=None)
            if best is not None and best[0] <= self.radius:
                node = self.nodes[best[1]]
                node.centroid = (node.centroid * node.count + center) / (node.count + 1)
                node.count += 1
            else:
                self.nodes.append(_NaiveNode(label, center))


@dataclass(frozen=True)
class _Node:
    """A memory node as graded: memory's id, label, centroid, states and (child -> parent) relation."""

    id: str
    label: str
    centroid: tuple[float, float, float]
    states: tuple = ()
    parent: str = ""
    views: int = 1


@dataclass
class _Run:
    """One home under one perception model: the memory it built and the truth it is graded on."""

    truth: list[ObjectState]
    seen: set[str]
    moved: set[str]
    nodes: list[_Node] = field(default_factory=list)
    naive: list[_Node] = field(default_factory=list)


def _compatible(label: str, truth: str) -> bool:
    return label == truth or label in look_alikes(truth)


def _fused_nodes(fusion: Fusion) -> list[_Node]:
    """Memory's confirmed, not-missing nodes."""
    graph, out = fusion.graph, []
    for node in graph.objects(include_missing=False):
        if not fusion.confirmed(node):
            continue
        parents = [r.object for r in graph.relations(subject=node.id) if r.predicate in (ON, IN)]
        out.append(_Node(node.id, node.label, node.centroid, node.states, parents[0] if parents else "",
                         node.observation_count))
    return out


def _apply(graph: SceneGraph, changes: tuple[StateChange, ...]) -> None:
    """The robot's own changes, as short-term consolidation writes them (by the name memory holds)."""
    for change in changes:
        if change.state in ("position", "parent", "picked_up") or change.new is None or isinstance(change.new, tuple):
            continue
        graph.set_state_of(change.object_id, change.state, change.new, change.stamp)


def _tour(world: HomeWorld, fusion: Fusion, naive: Optional[NaiveMap]) -> None:
    def see(frames: list[RGBDFrame]) -> None:
        for frame in frames:
            fusion.integrate(frame)
            if naive is not None:
                naive.integrate(frame)

    for room in world.home.rooms:
        result = world.step(Action("Explore", room.room_id))
        _apply(fusion.graph, result.changes)
        if result.success:
            see(world.look_around())
    furniture = sorted((e for e in world.home if e.kind.layer == "furniture"), key=lambda e: (e.room, e.object_id))
    for e in furniture:
        result = world.step(Action("GoToObject", e.object_id))
        if not result.success:
            continue
        see([world.render()])
        if e.kind.openable and not e.states.get("open"):
            opened = world.step(Action("OpenObject", e.object_id))
            _apply(fusion.graph, opened.changes)
            if opened.success:
                see([world.render()])
                closed = world.step(Action("CloseObject", e.object_id))
                _apply(fusion.graph, closed.changes)
                see([world.render()])


def run_home(seed: int, rooms: int, perception: str, perception_seed: int, with_naive: bool,
             models: tuple[Optional[Detector], Optional[Masker]] = (None, None)) -> _Run:
    """``models``: the front end's (detector, masker), None for its defaults."""
    witness = (FrontEnd(perception_seed, *models) if perception == FRONT_END
               else _Witness(preset(perception), perception_seed))
    world = HomeWorld(generate_home(seed, n_rooms=rooms), household=Household(seed=seed), perception=witness)
    graph = SceneGraph()
    graph.set_layout(*world_layout(world))
    fusion = witness.fusion(graph)
    naive = NaiveMap() if with_naive else None
    _tour(world, fusion, naive)
    first_seen, before = set(witness.seen), {o.object_id: o for o in world.object_states()}
    witness.seen = set()
    world.advance(HOUSEHOLD_SECONDS)
    world.drain_events()  # nobody tells memory what the household did
    _tour(world, fusion, naive)
    truth = world.object_states()
    moved = {o.object_id for o in truth if o.object_id in before
             and math.dist(o.position, before[o.object_id].position) > MOVED_M}
    seen = witness.seen | (first_seen - moved)
    out = _Run([o for o in truth if o.object_id in seen and not o.picked_up], seen, moved & witness.seen,
               _fused_nodes(fusion))
    if naive is not None:
        out.naive = [_Node(f"naive_{i}", n.label, tuple(float(v) for v in n.centroid), views=n.count)
                     for i, n in enumerate(naive.nodes) if n.count >= fusion.config.confirm_views]
    return out


def _match(nodes: list[_Node], truth: list[ObjectState]) -> dict[int, int]:
    """Node index -> truth index, one to one, minimising total distance among compatible pairs."""
    if not nodes or not truth:
        return {}
    a = np.array([n.centroid for n in nodes])
    b = np.array([o.position for o in truth])
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    ok = (dist <= MATCH_M) & np.array([[_compatible(n.label, o.object_type) for o in truth] for n in nodes])
    cost = np.where(ok, dist, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return {int(r): int(c) for r, c in zip(rows, cols) if ok[r, c]}


@dataclass
class _Tally:
    nodes: int = 0
    truth: int = 0
    matched: int = 0
    duplicates: int = 0
    labels_right: int = 0
    errors: list[float] = field(default_factory=list)
    relations_memory: int = 0
    relations_right: int = 0
    relations_truth: int = 0
    relations_found: int = 0
    states: int = 0
    states_right: int = 0
    moved: int = 0
    moved_found: int = 0

    def add(self, nodes: list[_Node], run: _Run) -> None:
        truth = run.truth
        match = _match(nodes, truth)
        self.nodes += len(nodes)
        self.truth += len(truth)
        self.matched += len(match)
        by_truth = {t: n for n, t in match.items()}
        doubled = set()
        for n, node in enumerate(nodes):
            if n in match:
                continue
            close = [(math.dist(node.centroid, o.position), t) for t, o in enumerate(truth)
                     if _compatible(node.label, o.object_type) and math.dist(node.centroid, o.position) <= MATCH_M]
            if close and min(close)[1] in by_truth:
                doubled.add(min(close)[1])
        self.duplicates += len(doubled)
        truth_of = {nodes[n].id: truth[t].object_id for n, t in match.items()}
        for n, t in match.items():
            node, o = nodes[n], truth[t]
            self.labels_right += node.label == o.object_type
            self.errors.append(math.dist(node.centroid, o.position))
            if node.parent and node.parent in truth_of:
                self.relations_memory += 1
                self.relations_right += bool(o.parents) and truth_of[node.parent] == o.parents[0]
            for name, value in node.states:
                if name in o.states:
                    self.states += 1
                    self.states_right += o.states[name] == value
        present = {o.object_id for t, o in enumerate(truth) if t in by_truth}
        for t, o in enumerate(truth):
            if o.parents and o.parents[0] in present and t in by_truth:
                self.relations_truth += 1
                node = nodes[by_truth[t]]
                self.relations_found += bool(node.parent) and truth_of.get(node.parent) == o.parents[0]
        moved = [t for t, o in enumerate(truth) if o.object_id in run.moved]
        self.moved += len(moved)
        self.moved_found += sum(1 for t in moved if t in by_truth)

    def figures(self) -> dict[str, Optional[float]]:
        precision = self.matched / self.nodes if self.nodes else 0.0
        recall = self.matched / self.truth if self.truth else 0.0
        ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
        return {
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "duplicate_rate": ratio(self.duplicates, self.truth),
            "label_accuracy": ratio(self.labels_right, self.matched),
            "centroid_median_m": round(float(np.median(self.errors)), 4) if self.errors else None,
            "centroid_p95_m": round(float(np.percentile(self.errors, 95)), 4) if self.errors else None,
            "relation_precision": ratio(self.relations_right, self.relations_memory),
            "relation_recall": ratio(self.relations_found, self.relations_truth),
            "state_accuracy": ratio(self.states_right, self.states),
            "moved_recall": ratio(self.moved_found, self.moved),
            "nodes": self.nodes, "truth_objects": self.truth, "moved_objects": self.moved,
        }


def grade(fusion: Fusion, truth: list[ObjectState], seen: set[str]) -> dict[str, Optional[float]]:
    """One memory's figures, graded as the benchmark grades: ``truth`` is the world's objects, of
    which those in ``seen`` (shown at least ``VISIBLE_PIXELS`` pixels) and not held count."""
    tally = _Tally()
    tally.add(_fused_nodes(fusion), _Run([o for o in truth if o.object_id in seen and not o.picked_up], seen, set()))
    return tally.figures()


def meets_goal(key: str, value: Optional[float]) -> bool:
    """Whether a figure meets its goal in :data:`GOALS`."""
    op, bound = GOALS[key]
    return value is not None and (value >= bound if op == ">=" else value <= bound)


def homes(quick: bool, held_out: bool = False) -> list[tuple[int, int, int]]:
    """(home seed, rooms, perception seed) of every run: rooms cycle through 2-6. ``held_out``: the
    homes after the benchmark's own (HELD_OUT), one run each, which no rule of the depth masks was
    tuned on."""
    if held_out:
        return [(home, 2 + home % 5, 0) for home in HELD_OUT]
    n_homes, n_runs = (QUICK_HOMES, QUICK_RUNS) if quick else (HOMES, RUNS)
    return [(home, 2 + home % 5, run) for home in range(n_homes) for run in range(n_runs)]


def run(quick: bool = False, held_out: bool = False, front_end: FrontEndModels = FrontEndModels()) -> dict[str, Any]:
    models = front_end.load()
    tallies = {name: _Tally() for name in (*PRESETS, FRONT_END, "naive")}
    for seed, rooms, perception_seed in homes(quick, held_out):
        for name in (*PRESETS, FRONT_END):
            result = run_home(seed, rooms, name, perception_seed, with_naive=name == "realistic", models=models)
            tallies[name].add(result.nodes, result)
            if name == "realistic":
                tallies["naive"].add(result.naive, result)
            log.info("home %d (%d rooms) run %d %s done", seed, rooms, perception_seed, name)
    out: dict[str, Any] = {name: tally.figures() for name, tally in tallies.items()}
    realistic = out["realistic"]
    goals = {}
    for key, (op, bound) in GOALS.items():
        goals[key] = {"goal": f"{op} {bound}", "value": realistic[key], "met": meets_goal(key, realistic[key])}
    margin = round(realistic["f1"] - out["naive"]["f1"], 4)
    goals["f1_over_naive"] = {"goal": f">= {GOAL_OVER_BASELINE_F1}", "value": margin,
                              "met": margin >= GOAL_OVER_BASELINE_F1}
    out["goals_realistic"] = goals
    out["front_end_vs_realistic"] = {key: {"front_end": out[FRONT_END][key], "realistic": realistic[key]}
                                     for key in GOALS}
    out["front_end_models"] = {"detector": front_end.detector, "masks": front_end.masks}
    out["naive"]["baseline"] = ("label-and-distance nearest-neighbour association on the realistic frames; "
                                "no votes, no negative evidence, no relations or states")
    out["runs"] = [{"home_seed": s, "rooms": r, "perception_seed": p} for s, r, p in homes(quick, held_out)]
    out["household_seconds"] = HOUSEHOLD_SECONDS
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()  # --held-out has its own homes and runs
    which.add_argument("--quick", action="store_true")
    which.add_argument("--held-out", action="store_true",
                       help="the nine homes after the benchmark's own, one run each")
    parser.add_argument("--detector", default="boxes", choices=("boxes", *DETECTORS),
                        help="the front end's detector: the simulator's boxes (default) or your own weights")
    parser.add_argument("--detector-model", default="", help="local folder of the detector (save_pretrained layout)")
    parser.add_argument("--masks", default="depth", choices=MASKERS, help="the front end's masks (default depth)")
    parser.add_argument("--mask-model", default="", help="local folder of SAM (--masks sam)")
    args = parser.parse_args()
    models = FrontEndModels(args.detector, args.detector_model, args.masks, args.mask_model)
    try:
        print(json.dumps(run(args.quick, args.held_out, models), indent=2))
    except ModelUnavailable as exc:
        parser.error(str(exc))
