"""Fusion of rendered RGB-D instance frames into memory (scenes from benchmarks/synthetic.py, and the
embedded simulator's homes)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.synthetic import CAMERA, SceneObject, look_at, make_frame, orbit, shell, solid
from scene_graph import fusion as F
from scene_graph.frames import CameraIntrinsics
from scene_graph.fusion import Fusion, fit_box, voxel_downsample
from scene_graph.graph import SceneGraph
from scene_graph.records import CONTAINS, IN, MISSING, ON, VISIBLE, OrientedBox, Relation

TABLE = solid("DiningTable", 1, (0.0, 0.0), (1.4, 0.9, 0.75))
FRIDGE = shell("Fridge", 2, (2.2, 0.3), (0.8, 0.7, 1.8), shelf_heights=(0.45,))  # open side faces -y
APPLE_ON_TABLE = solid("Apple", 3, (0.25, 0.1), (0.08, 0.08, 0.09), base_z=0.75)
APPLE_IN_FRIDGE = solid("Apple", 3, (2.2, 0.3), (0.08, 0.08, 0.09), base_z=0.45 * 1.8 + 0.015)
MUG = solid("Mug", 4, (-0.3, -0.1), (0.09, 0.09, 0.1), base_z=0.75)
BOTH_VIEWS = orbit((1.1, 0.1, 0.7), radius=2.8, height=1.6, count=5, start_deg=-130, span_deg=80)
TABLE_VIEWS = orbit((0.0, 0.0, 0.75), radius=1.8, height=1.5, count=3, start_deg=-130, span_deg=60)
FRIDGE_VIEWS = orbit((2.2, 0.3, 0.9), radius=1.8, height=1.4, count=3, start_deg=-110, span_deg=40)


_FRAMES: dict = {}


def frame_of(objects, pose, stamp: float):
    """Rendered frames are cached per scene and pose: several tests replay the same views."""
    key = (tuple(objects), pose.tobytes())
    if key not in _FRAMES:
        _FRAMES[key] = make_frame(objects, CAMERA, pose, 0.0)
    return replace(_FRAMES[key], stamp=stamp)


def fuse(fusion: Fusion, objects, poses, t0: float) -> list[F.FrameReport]:
    return [fusion.integrate(frame_of(objects, pose, t0 + i)) for i, pose in enumerate(poses)]


def test_three_objects_from_ten_poses_fuse_into_three():
    objects = [solid("GarbageCan", 1, (0.5, 0.3), (0.35, 0.35, 0.5)),
               solid("Box", 2, (-0.4, 0.4), (0.3, 0.25, 0.2), yaw=0.4),
               solid("Vase", 3, (0.0, -0.5), (0.12, 0.12, 0.25))]
    graph = SceneGraph()
    fusion = Fusion(graph)
    deltas = []
    graph.subscribe(deltas.append)
    fuse(fusion, objects, orbit((0.0, 0.0, 0.2), 2.0, 1.4, 10), 0.0)
    assert [d.sequence for d in deltas] == list(range(1, 11))  # one delta per frame
    assert len(deltas[0].upserted_objects) == 3
    remembered = graph.objects()
    assert sorted(o.label for o in remembered) == ["Box", "GarbageCan", "Vase"]
    for truth in objects:
        (node,) = [o for o in remembered if o.label == truth.label]
        assert np.linalg.norm(np.subtract(node.centroid, truth.truth_center)) < 0.03
        assert np.allclose(sorted(node.box.extent), sorted(truth.parts[0].extent), atol=0.03)
        assert node.observation_count == 10 and node.status == "visible"
        assert node.external_id == truth.external_id
    assert fusion.stats.created == 3 and fusion.stats.merged == 27 and fusion.stats.accepted == 10


def test_mug_on_table_gets_on_relation():
    graph = SceneGraph()
    fuse(Fusion(graph), [TABLE, MUG], TABLE_VIEWS, 0.0)
    (mug,) = [o for o in graph.objects() if o.label == "Mug"]
    (table,) = [o for o in graph.objects() if o.label == "DiningTable"]
    assert graph.relations(subject=mug.id) == [Relation(mug.id, ON, table.id)]


def _apple(graph: SceneGraph):
    apples = [o for o in graph.objects() if o.label == "Apple"]
    assert len(apples) == 1, apples  # never remembered in two places
    return apples[0]


@pytest.mark.parametrize("order", ["same_frames", "fridge_first"])
def test_apple_moved_into_fridge_is_in_fridge_once(order: str):
    """Without ids (geometry only), a move is believed once the old place is seen empty."""
    graph = SceneGraph()
    fusion = Fusion(graph, trust_external_ids=False)
    fuse(fusion, [TABLE, FRIDGE, APPLE_ON_TABLE, MUG], BOTH_VIEWS, 0.0)
    before = _apple(graph)
    (table,) = [o for o in graph.objects() if o.label == "DiningTable"]
    (fridge,) = [o for o in graph.objects() if o.label == "Fridge"]
    assert Relation(before.id, ON, table.id) in graph.relations()

    moved_scene = [TABLE, FRIDGE, APPLE_IN_FRIDGE, MUG]
    if order == "same_frames":
        reports = fuse(fusion, moved_scene, BOTH_VIEWS, 10.0)
    else:  # the apple is found in the fridge before the table is seen empty
        reports = fuse(fusion, moved_scene, FRIDGE_VIEWS, 10.0)
        assert any(r.created for r in reports)  # a new apple for now ...
        reports += fuse(fusion, moved_scene, TABLE_VIEWS, 20.0)
    assert any(before.id in r.missing for r in reports)
    after = _apple(graph)
    assert after.id == before.id  # the same apple, relocated
    assert after.status in ("moved", "visible")
    assert np.linalg.norm(np.subtract(after.centroid, APPLE_IN_FRIDGE.truth_center)) < 0.05
    relations = graph.relations()
    assert Relation(after.id, IN, fridge.id) in relations
    assert Relation(fridge.id, CONTAINS, after.id) in relations
    assert Relation(after.id, ON, table.id) not in relations
    assert graph.parent(after.id) == fridge.id
    assert fusion.stats.relocated >= 1


def _assert_in_fridge(graph: SceneGraph, apple_id: str) -> None:
    (table,) = [o for o in graph.objects() if o.label == "DiningTable"]
    (fridge,) = [o for o in graph.objects() if o.label == "Fridge"]
    apple = graph.get_object(apple_id)
    assert np.linalg.norm(np.subtract(apple.centroid, APPLE_IN_FRIDGE.truth_center)) < 0.05
    assert Relation(apple_id, IN, fridge.id) in graph.relations()
    assert Relation(apple_id, ON, table.id) not in graph.relations()
    assert graph.parent(apple_id) == fridge.id


def test_object_seen_elsewhere_under_its_external_id_moves_at_once():
    graph = SceneGraph()
    fusion = Fusion(graph)  # trusts external ids by default
    fuse(fusion, [TABLE, FRIDGE, APPLE_ON_TABLE, MUG], BOTH_VIEWS, 0.0)
    before = _apple(graph)
    # Only the fridge is looked at: the table, where the apple was, is never seen again.
    reports = fuse(fusion, [TABLE, FRIDGE, APPLE_IN_FRIDGE, MUG], FRIDGE_VIEWS, 10.0)
    assert reports[0].relocated == (before.id,)
    assert not any(r.created for r in reports)
    after = _apple(graph)
    assert after.id == before.id and after.external_id == APPLE_IN_FRIDGE.external_id
    assert after.status == VISIBLE and after.observation_count == before.observation_count + len(reports)
    _assert_in_fridge(graph, before.id)
    assert fusion.stats.relocated == 1


def test_two_external_ids_are_two_objects_even_in_one_place():
    """A second apple put where the first one stood is not the first one: it neither takes over the
    first one's node nor hides that the first one left; the first one is found in the fridge."""
    other_apple = replace(APPLE_ON_TABLE, instance_id=7, external_id="Apple|7")
    graph = SceneGraph()
    fusion = Fusion(graph)
    fuse(fusion, [TABLE, FRIDGE, APPLE_ON_TABLE, MUG], BOTH_VIEWS, 0.0)
    first = _apple(graph)
    reports = fuse(fusion, [TABLE, FRIDGE, other_apple, MUG], TABLE_VIEWS, 10.0)
    assert any(first.id in r.missing for r in reports)
    assert not any(first.id in r.merged + r.relocated for r in reports)
    reports = fuse(fusion, [TABLE, FRIDGE, other_apple, APPLE_IN_FRIDGE, MUG], FRIDGE_VIEWS, 20.0)
    assert reports[0].relocated == (first.id,) and not any(r.created for r in reports)
    apples = {o.external_id: o for o in graph.objects() if o.label == "Apple"}
    assert sorted(apples) == ["Apple|3", "Apple|7"]
    assert apples["Apple|3"].id == first.id
    _assert_in_fridge(graph, first.id)
    assert np.linalg.norm(np.subtract(apples["Apple|7"].centroid, APPLE_ON_TABLE.truth_center)) < 0.05


def test_unobserved_object_outside_view_is_not_marked_missing():
    graph = SceneGraph()
    fusion = Fusion(graph)
    fuse(fusion, [TABLE, FRIDGE, APPLE_ON_TABLE, MUG], BOTH_VIEWS, 0.0)
    fuse(fusion, [TABLE, FRIDGE, MUG], FRIDGE_VIEWS, 10.0)  # apple gone, but the table is not in view
    assert _apple(graph).status != MISSING


def test_occluded_object_is_not_marked_missing():
    graph = SceneGraph()
    fusion = Fusion(graph)
    views = orbit((0.0, 0.0, 0.75), radius=1.8, height=1.0, count=3, start_deg=-100, span_deg=20)
    fuse(fusion, [TABLE, APPLE_ON_TABLE], views, 0.0)
    seen = _apple(graph)
    screen = solid("Box", 9, (0.25, -0.45), (0.4, 0.05, 0.6), base_z=0.75)  # between camera and apple
    reports = fuse(fusion, [TABLE, APPLE_ON_TABLE, screen], views, 10.0)
    assert all(seen.id not in r.merged for r in reports)  # really hidden
    assert _apple(graph).status != MISSING
    assert _apple(graph).confidence == seen.confidence


ROLL_BESIDE = solid("ToiletPaper", 8, (0.22, -0.2), (0.1, 0.1, 0.11), base_z=0.75)


@pytest.mark.parametrize("holder, roll, trusted, made", [
    ("SoapBottle", True, False, 0), ("Bowl", True, False, 1), ("SoapBottle", True, True, 1),
    ("SoapBottle", False, False, 1)])
def test_a_box_around_something_behind_another_object_makes_no_object_of_its_surface(
        holder: str, roll: bool, trusted: bool, made: int):
    """A detector's box for a roll of paper beside a bottle, half hidden behind it, holds the bottle,
    so the roll's mask is a strip of the bottle: that strip does not make the remembered roll twice.
    It is a new object on a bowl (an apple in it), under an id memory trusts, and when no roll is
    remembered beside the bottle (a thing lying on another, keys on a book)."""
    graph = SceneGraph()
    fusion = Fusion(graph, F.FusionConfig().for_detector(), trust_external_ids=trusted)
    front = solid(holder, 6, (0.1, -0.2), (0.12, 0.12, 0.25), base_z=0.75)
    scene = [TABLE, front, ROLL_BESIDE] if roll else [TABLE, front]
    fuse(fusion, scene, TABLE_VIEWS, 0.0)
    (node,) = [o for o in graph.objects() if o.label == holder]
    rolls = len([o for o in graph.objects() if o.label == "ToiletPaper"])
    assert rolls == int(roll)
    frame = frame_of(scene, TABLE_VIEWS[1], 10.0)
    rows, cols = np.nonzero(frame.instance_ids == 6)
    strip = frame.instance_ids.copy()
    strip[rows[cols < np.median(cols)], cols[cols < np.median(cols)]] = 9  # its left half, under another label
    report = fusion.integrate(replace(frame, instance_ids=strip, labels={**frame.labels, 9: "ToiletPaper"},
                                      scores={**frame.scores, 9: 0.9},
                                      external_ids={9: "ToiletPaper|9"} if trusted else {}))
    assert len([o for o in graph.objects() if o.label == "ToiletPaper"]) == rolls + made
    assert graph.get_object(node.id).label == holder
    assert dict(fusion.stats.skipped_instances).get(F.ON_ANOTHER_OBJECT, 0) == 1 - made
    assert len(report.created) == made


def test_an_object_hidden_close_behind_another_keeps_its_confidence():
    """An apple seen twice, then hidden by something 6 cm before it (as a closing cabinet door hides a
    plate at its front): around its points pose tolerance finds the table's pixels at its depth,
    but each point's own pixel shows a surface in front of it, so the view says nothing of it."""
    graph = SceneGraph()
    fusion = Fusion(graph, F.FusionConfig().for_detector(), trust_external_ids=False)
    first = frame_of([TABLE, APPLE_ON_TABLE], TABLE_VIEWS[1], 0.0)
    fusion.integrate(first)
    fusion.integrate(replace(first, stamp=1.0))
    seen = _apple(graph)
    assert seen.observation_count == 2
    apple = first.instance_ids == APPLE_ON_TABLE.instance_id
    door = replace(first, stamp=2.0, instance_ids=np.where(apple, 7, first.instance_ids),
                   depth=np.where(apple, first.depth - 0.06, first.depth), labels={**first.labels, 7: "Box"})
    fusion.integrate(door)
    assert _apple(graph).confidence == seen.confidence and _apple(graph).status != MISSING


# ------------------------------------------------------------------ furniture
FRIDGE_SIZE = (0.8, 0.7, 1.8)
CLOSED_FRIDGE = solid("Fridge", 2, (2.2, 0.3), FRIDGE_SIZE)
# Open: the body shows its inside, and the door, hinged on the left front edge, stands out 90 degrees.
_DOOR = OrientedBox((2.2 - 0.4 - 0.02, 0.3 - 0.35 - 0.4, 0.9), (0.04, 0.8, 1.8))
_BODY = shell("Fridge", 2, (2.2, 0.3), FRIDGE_SIZE, shelf_heights=(0.45,))
OPEN_FRIDGE = SceneObject("Fridge", 2, _BODY.parts + (_DOOR,), CLOSED_FRIDGE.external_id)
COUNTER = solid("CounterTop", 5, (1.2, 0.3), (1.0, 0.6, 0.9))
FRIDGE_SIDES = {
    "front": orbit((2.2, 0.3, 0.9), 2.2, 1.5, 3, start_deg=-110, span_deg=40),
    "hinge side": orbit((2.2, 0.3, 0.9), 2.0, 1.5, 2, start_deg=-150, span_deg=30),
    "close up": [look_at((2.2, -0.9, 1.2), (2.2, 0.3, 0.9))],
    "door side": [look_at((1.0, -0.45, 1.2), (2.4, -0.45, 0.9)), look_at((1.2, -1.4, 1.2), (1.9, -0.2, 0.9))],
    "behind the door": [look_at((1.1, -1.9, 1.3), (2.0, 0.0, 0.9))],
}


def _open_and_close(fusion: Fusion, views, states) -> int:
    """Look at the fridge from ``views`` in each state; the most Fridge nodes memory held after any frame."""
    most, stamp = 0, 0.0
    for state in states:
        for pose in views:
            fusion.integrate(frame_of([COUNTER, OPEN_FRIDGE if state == "open" else CLOSED_FRIDGE], pose, stamp))
            stamp += 1.0
            most = max(most, len([o for o in fusion.graph.objects() if o.label == "Fridge"]))
    return most


@pytest.mark.parametrize("trust_ids", [True, False], ids=["ids", "geometry"])
@pytest.mark.parametrize("side", sorted(FRIDGE_SIDES))
def test_opening_and_closing_a_fridge_never_splits_it(side: str, trust_ids: bool):
    """The open fridge's box grows by its swung-out door, and from the door side the door alone may
    hide the body: still one node after every frame, by id or by geometry."""
    fusion = Fusion(SceneGraph(), trust_external_ids=trust_ids)
    assert _open_and_close(fusion, FRIDGE_SIDES[side], ["closed", "open", "closed", "open", "closed"]) == 1
    (fridge,) = [o for o in fusion.graph.objects() if o.label == "Fridge"]
    assert fridge.status == VISIBLE and fusion.stats.relocated == 0
    first_seen_open = Fusion(SceneGraph(), trust_external_ids=trust_ids)
    most = _open_and_close(first_seen_open, FRIDGE_SIDES[side], ["open", "closed", "open", "closed"])
    # Without ids, a fridge first met as nothing but its open door seen from behind may be two
    # nodes for one frame, until a view shows door and body together.
    assert most == 1 or (not trust_ids and side == "door side" and first_seen_open.stats.folded == 1)
    assert len([o for o in first_seen_open.graph.objects() if o.label == "Fridge"]) == 1


SOFA = solid("Sofa", 1, (0.0, 0.0), (2.4, 0.9, 0.8))
TWO_CABINETS = [solid("Cabinet", 2, (-0.3, 2.0), (0.6, 0.5, 0.8)), solid("Cabinet", 3, (0.3, 2.0), (0.6, 0.5, 0.8))]
TWO_BURNERS = [solid("StoveBurner", 4, (1.5, 2.0), (0.25, 0.25, 0.03), base_z=0.9),
               solid("StoveBurner", 5, (1.8, 2.0), (0.25, 0.25, 0.03), base_z=0.9)]
SOFA_ENDS_THEN_ALL = [look_at((-1.0, -1.0, 1.0), (-0.9, 0.0, 0.4)), look_at((1.0, -1.0, 1.0), (0.9, 0.0, 0.4)),
                      look_at((0.0, -3.5, 1.6), (0.0, 0.5, 0.4)), look_at((0.5, 0.6, 1.7), (0.3, 2.0, 0.6)),
                      look_at((1.6, 0.9, 1.6), (1.65, 2.0, 0.9))]


@pytest.mark.parametrize("trust_ids", [True, False], ids=["ids", "geometry"])
def test_furniture_seen_in_parts_is_one_node_and_touching_neighbours_stay_apart(trust_ids: bool):
    """Close up, the sofa is first seen one end at a time (boxes that do not overlap): with ids the
    second end is more of the same sofa (not the sofa moved); without, the two nodes are folded as
    soon as a view shows them interpenetrating. Cabinets side by side and burners 5 cm apart are
    never merged."""
    fusion = Fusion(SceneGraph(), trust_external_ids=trust_ids)
    reports = fuse(fusion, [SOFA, *TWO_CABINETS, *TWO_BURNERS], SOFA_ENDS_THEN_ALL, 0.0)
    count = {label: len([o for o in fusion.graph.objects() if o.label == label])
             for label in ("Sofa", "Cabinet", "StoveBurner")}
    assert count == {"Sofa": 1, "Cabinet": 2, "StoveBurner": 2}
    (sofa,) = [o for o in fusion.graph.objects() if o.label == "Sofa"]
    assert sorted(sofa.box.extent)[-1] == pytest.approx(2.4, abs=0.06)
    assert fusion.stats.relocated == 0
    if trust_ids:
        assert sum(len(r.created) for r in reports) == 5 and fusion.stats.folded == 0
    else:
        assert reports[1].created and reports[2].folded == reports[1].created


def test_touring_a_home_with_the_simulator_ids_never_holds_one_thing_twice(tmp_path):
    """The embedded simulator's objectIds, through a whole tour that opens and closes everything:
    after every frame, every remembered node is a different real object."""
    from memory_nodes.tools.demo import DemoRun

    run = DemoRun(seed=2, rooms=2, out_dir=tmp_path)
    integrate = run.fusion.integrate
    problems: list[tuple[float, str]] = []

    def integrate_and_check(frame):
        report = integrate(frame)
        named = [o.external_id for o in run.graph.objects()]
        if len(set(named)) != len(named) or "" in named:
            problems.append((frame.stamp, f"two nodes for one id: {sorted(named)}"))
        furniture = {o.id for o in run.graph.objects(layer="furniture")}
        problems.extend((frame.stamp, f"furniture {i} taken for moved") for i in report.relocated if i in furniture)
        return report

    run.fusion.integrate = integrate_and_check
    run.tour()
    assert run.report.frames > 20 and not problems


# ------------------------------------------------------------------ bad input
def _good_frame():
    return frame_of([TABLE, MUG], TABLE_VIEWS[0], 50.0)


def _bad_pose(scale: float = 1.0, value: float = 0.0):
    pose = TABLE_VIEWS[0].copy()
    pose[:3, :3] *= scale
    pose[0, 3] += value
    return pose


BAD_FRAMES = {
    F.SIZE_MISMATCH: lambda f: replace(f, depth=f.depth[:-1]),
    F.BAD_INTRINSICS: lambda f: replace(f, intrinsics=CameraIntrinsics(320, 240, 0.0, 1.0, 160, 120)),
    F.NON_FINITE_POSE: lambda f: replace(f, T_world_camera=_bad_pose(value=np.nan)),
    F.NON_RIGID_POSE: lambda f: replace(f, T_world_camera=_bad_pose(scale=1.5)),
    F.NON_FINITE_STAMP: lambda f: replace(f, stamp=float("inf")),
    F.BAD_INSTANCE_IMAGE: lambda f: replace(f, instance_ids=f.instance_ids.astype(np.float32)),
    F.NO_VALID_DEPTH: lambda f: replace(f, depth=np.full_like(f.depth, np.nan)),
}


@pytest.mark.parametrize("reason", sorted(BAD_FRAMES))
def test_bad_frames_are_rejected_with_reason_and_memory_unchanged(reason: str):
    graph = SceneGraph()
    fusion = Fusion(graph)
    fuse(fusion, [TABLE, MUG], TABLE_VIEWS, 0.0)
    before, seq = graph.snapshot(), graph.sequence
    report = fusion.integrate(BAD_FRAMES[reason](_good_frame()))
    assert (report.accepted, report.reason) == (False, reason)
    assert dict(fusion.stats.rejected) == {reason: 1}
    assert graph.snapshot() == before and graph.sequence == seq


@pytest.mark.parametrize("depth_value", [0.0, np.inf, -1.0])
def test_frames_without_any_usable_depth_are_rejected(depth_value: float):
    fusion = Fusion(SceneGraph())
    frame = _good_frame()
    report = fusion.integrate(replace(frame, depth=np.full_like(frame.depth, depth_value)))
    assert report.reason == F.NO_VALID_DEPTH and len(fusion.graph) == 0


def test_bad_instances_are_skipped_with_reason_and_memory_unchanged():
    graph = SceneGraph()
    fusion = Fusion(graph)
    fuse(fusion, [TABLE, MUG], TABLE_VIEWS, 0.0)
    before, seq = graph.snapshot(), graph.sequence
    frame = _good_frame()
    cases = {
        F.UNLABELLED: replace(frame, labels={}),
        F.EMPTY_MASK: replace(frame, labels={77: "Apple"}, instance_ids=np.zeros_like(frame.instance_ids)),
        F.LOW_SCORE: replace(frame, scores={1: 0.05, 4: 0.05}),
    }
    for reason, bad in cases.items():
        report = fusion.integrate(bad)
        assert report.accepted and report.skipped and {why for _, why in report.skipped} == {reason}
        assert not report.created and not report.merged and not report.missing
    tiny = np.zeros_like(frame.instance_ids)
    tiny[100, 100] = 5
    report = fusion.integrate(replace(frame, labels={5: "Apple"}, instance_ids=tiny))
    assert report.skipped == ((5, F.TOO_FEW_POINTS),)
    assert graph.snapshot() == before and graph.sequence == seq
    assert dict(fusion.stats.skipped_instances) == {
        F.UNLABELLED: 2, F.EMPTY_MASK: 1, F.LOW_SCORE: 2, F.TOO_FEW_POINTS: 1}


# ------------------------------------------------------------------ helpers
def test_fit_box_recovers_rotated_box():
    rng = np.random.default_rng(0)
    local = rng.uniform(-0.5, 0.5, size=(2000, 3)) * [1.0, 0.4, 0.2]
    yaw = np.radians(30.0)
    c, s = np.cos(yaw), np.sin(yaw)
    world = local @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + [1.0, 2.0, 0.5]
    box = fit_box(world)
    assert abs(box.yaw - yaw) < np.radians(1.5)
    assert np.allclose(box.extent, [1.0, 0.4, 0.2], atol=0.02)
    assert np.allclose(box.center, [1.0, 2.0, 0.5], atol=0.02)


def test_voxel_downsample_keeps_one_point_per_voxel_first_wins():
    points = np.array([[0.001, 0.001, 0.001], [0.002, 0.002, 0.002], [0.5, 0.5, 0.5]], dtype=np.float32)
    out = voxel_downsample(points, 0.01)
    np.testing.assert_array_equal(out, points[[0, 2]])
