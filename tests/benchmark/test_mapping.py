"""The mapping benchmark's grading: one-to-one matching by type or look-alike within 0.3 m,
duplicates, labels, relations and moved objects (no simulator needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.mapping import NaiveMap, _Node, _Run, _Tally
from benchmarks.synthetic import CAMERA, make_frame, orbit, solid
from sim.records import ObjectState

REPO = Path(__file__).resolve().parents[2]


def state(object_id: str, kind: str, at: tuple[float, float, float], parents: tuple[str, ...] = ()) -> ObjectState:
    return ObjectState(object_id, kind, at, (0.1, 0.1, 0.1), 0.0, parents=parents)


def test_grading_counts_matches_duplicates_labels_relations_and_moves():
    truth = [state("Table|1", "DiningTable", (0.0, 0.0, 0.4)), state("Mug|1", "Mug", (0.2, 0.0, 0.8), ("Table|1",)),
             state("Apple|1", "Apple", (2.0, 0.0, 0.8))]
    nodes = [_Node("t", "DiningTable", (0.0, 0.05, 0.4)),
             _Node("m", "Cup", (0.22, 0.0, 0.8), parent="t"),  # a look-alike's label: matched, label wrong
             _Node("m2", "Mug", (0.3, 0.05, 0.8)),  # a second node of the mug: a duplicate
             _Node("g", "Book", (5.0, 5.0, 0.8))]  # nothing there
    tally = _Tally()
    tally.add(nodes, _Run(truth, {"Table|1", "Mug|1", "Apple|1"}, moved={"Apple|1"}))
    f = tally.figures()
    assert (f["precision"], round(f["recall"], 4)) == (0.5, 0.6667)
    assert f["duplicate_rate"] == round(1 / 3, 4) and f["label_accuracy"] == 0.5
    assert (f["relation_precision"], f["relation_recall"]) == (1.0, 1.0)
    assert f["moved_recall"] == 0.0 and f["moved_objects"] == 1


def test_the_naive_baseline_makes_a_new_node_for_a_new_label_at_the_same_place():
    table = solid("DiningTable", 1, (0.0, 0.0), (1.4, 0.9, 0.75))
    mug = solid("Mug", 4, (-0.3, -0.1), (0.09, 0.09, 0.1), base_z=0.75)
    naive = NaiveMap()
    for n, pose in enumerate(orbit((0.0, 0.0, 0.75), 1.8, 1.5, 3, start_deg=-130, span_deg=40)):
        frame = make_frame([table, mug], CAMERA, pose, float(n))
        naive.integrate(frame if n != 1 else type(frame)(**{**frame.__dict__, "labels": {1: "DiningTable", 4: "Cup"}}))
    assert sorted(node.label for node in naive.nodes) == ["Cup", "DiningTable", "Mug"]
    assert next(node for node in naive.nodes if node.label == "Mug").count == 2


def test_the_front_end_turns_exact_frames_into_tracked_depth_masked_detections():
    from benchmarks.mapping import FrontEnd
    from scene_graph.ontology import canonical_type
    from sim.home.generate import generate_home
    from sim.home.world import HomeWorld
    from sim.records import Action

    front = FrontEnd(seed=0)
    world = HomeWorld(generate_home(3, n_rooms=2), seed=3, perception=front)
    furniture = sorted(e.object_id for e in world.home if e.kind.layer == "furniture")
    assert world.step(Action("GoToObject", furniture[0])).success
    frames = [world.render(), world.render()]
    assert front.seen  # the witness still notes what the exact frame showed
    for frame in frames:
        assert frame.labels and not set(frame.external_ids.values()) & set(world.home.entities)  # no simulator ids
        assert all(canonical_type(label) for label in frame.labels.values())  # words fusion reads as types
        assert set(frame.labels) == set(int(i) for i in frame.instance_ids.ravel() if i)
    assert frames[0].external_ids == frames[1].external_ids  # the tracker keeps ids on a still view
    assert front.memory_parameters() == {"trust_external_ids": False, "detector_input": True, "support_layer_m": 0.03}


def test_the_front_end_runs_a_users_own_models_from_their_folders(tmp_path):
    pytest.importorskip("transformers")
    from benchmarks.mapping import FrontEnd, FrontEndModels
    from benchmarks.tiny_models import build_owlv2, build_sam
    from perception.pipeline import default_vocabulary
    from sim.home.generate import generate_home
    from sim.home.world import HomeWorld

    models = FrontEndModels("owlv2", str(build_owlv2(tmp_path / "owlv2", default_vocabulary())),
                            "sam", str(build_sam(tmp_path / "sam")))
    front = FrontEnd(0, *models.load())
    assert (front.segmenter.detector.name, front.segmenter.masker.name) == ("owlv2", "sam")
    assert front.memory_parameters()["support_layer_m"] == 0.0  # SAM's masks leave no table top to cut
    frame = HomeWorld(generate_home(3, n_rooms=2), seed=3, perception=front).render()
    assert set(frame.labels) == set(int(i) for i in frame.instance_ids.ravel() if i)


def test_the_mapping_benchmark_names_the_missing_model_folder_and_stops():
    result = subprocess.run([sys.executable, "-m", "benchmarks.mapping", "--quick", "--masks", "sam"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 2 and "mask_model" in result.stderr and "no model folder" in result.stderr


def test_the_held_out_homes_are_not_the_benchmarks_own():
    from benchmarks.mapping import homes

    own = {seed for seed, _, _ in homes(False)} | {seed for seed, _, _ in homes(True)}
    held_out = homes(False, held_out=True)
    assert len(held_out) >= 9 and not own & {seed for seed, _, _ in held_out}
    assert {rooms for _, rooms, _ in held_out} == {2, 3, 4, 5, 6}
