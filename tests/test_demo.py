"""The README's demo end to end: tour, household changes, memory update, save, query."""
from __future__ import annotations

import io

import pytest

from memory_nodes.tools import cli
from memory_nodes.tools.demo import DemoRun, run_demo
from memory_nodes.tools.saved_query import Filters, SavedMemory, serve
from scene_graph.store import MemoryStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(seed=1, rooms=2, out_dir=out, household_seconds=1800.0)


def test_a_tour_of_a_static_home_remembers_each_object_once(tmp_path):
    run = DemoRun(seed=1, rooms=2, out_dir=tmp_path)
    run.tour()
    run.summarise()
    report = run.report
    assert report.frames > 10
    assert report.objects_found >= report.objects_in_home // 2
    assert report.remembered_twice == 0
    assert report.objects_in_memory == report.objects_found
    assert report.relations > 0


def test_after_household_changes_memory_still_points_at_real_objects(demo):
    _, report = demo
    assert report.objects_found >= report.objects_in_home // 2
    # Only objects the household moved can be remembered twice (old place not seen again).
    assert report.remembered_twice <= report.household_changes


def test_household_changes_reach_memory(demo):
    _, report = demo
    assert report.household_changes > 0
    assert report.memory_updates > 0


def test_saved_memory_loads_back_identical(demo):
    out, report = demo
    loaded = MemoryStore(out / "memory").load("demo")
    assert loaded.path == report.snapshot
    assert len(loaded.graph.objects(layer="object", include_missing=False)) == report.objects_in_memory
    assert len(loaded.graph.relations()) == report.relations
    assert loaded.embeddings is not None
    assert report.map_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_query_command_answers_from_the_saved_memory(demo, capsys):
    out, _ = demo
    assert cli.main(["query", "--memory", str(out / "memory"), "--name", "demo", "--label", "Sofa"]) == cli.EXIT_OK
    source, *lines = capsys.readouterr().out.strip().splitlines()
    assert source == f"# from saved memory {report_snapshot(out)}"
    assert lines and all("Sofa" in line for line in lines)
    assert cli.main(["query", "--memory", str(out / "memory"), "--name", "demo", "a place to sit", "-k", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def report_snapshot(out):
    return MemoryStore(out / "memory").load("demo").path


def test_a_query_session_answers_each_line_and_says_from_where(demo):
    out, _ = demo
    memory = SavedMemory(out / "memory", "demo")
    answers = io.StringIO()
    asked = serve(memory, Filters(k=2), io.StringIO("a couch to relax on\n\nwhere can I sit\n"), answers)
    text = answers.getvalue()
    assert asked == 2 and text.startswith(f"# answering from saved memory {report_snapshot(out)}")
    hits = {}
    for block in text.split("\n? ")[1:]:
        question, *lines = block.strip().splitlines()
        hits[question] = lines
    assert list(hits) == ["a couch to relax on", "where can I sit"] and all(len(h) == 2 for h in hits.values())
    assert "Sofa" in hits["a couch to relax on"][0]
    assert any(seat in hits["where can I sit"][0] for seat in ("Sofa", "ArmChair", "Bed"))


def test_query_refuses_a_path_as_a_name(demo, capsys):
    out, _ = demo
    assert cli.main(["query", "--memory", str(out / "memory"), "--name", "../etc"]) == cli.EXIT_FAILED
    assert "invalid memory name" in capsys.readouterr().err
