"""The README's demo through the real nodes: explore, build memory, run tasks with and without
memory, save, draw; what it reports comes from what happened."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from memory_nodes.tools import cli  # noqa: E402
from memory_nodes.tools.node_demo import format_node_report, run_node_demo  # noqa: E402
from scene_graph.store import MemoryStore  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("node_demo")
    return out, run_node_demo(seed=3, rooms=2, out_dir=out)


def test_exploring_through_the_nodes_builds_and_saves_memory(demo):
    out, report = demo
    assert report.explore_skills >= 2 and report.explore_travel_m > 0
    assert report.objects_in_memory > 5 and report.relations > 0
    saved = MemoryStore(out / "memory").load("demo").graph
    assert len(saved) >= report.objects_in_memory  # the tasks may have shown it more
    assert report.map_png is not None and report.map_png.stat().st_size > 10_000


def test_the_same_tasks_ran_with_and_without_memory_and_the_table_says_what_happened(demo):
    _, report = demo
    assert report.with_memory and [r.instruction for r in report.with_memory] == \
        [r.instruction for r in report.without_memory]
    assert any(r.success for r in report.with_memory)
    assert all(r.skills > 0 for r in report.with_memory if r.success)
    table = format_node_report(report)
    for run in report.with_memory:
        assert run.instruction in table
    assert f"{sum(r.skills for r in report.with_memory)} skills" in table


def test_demo_command_ends_by_saying_how_to_query_and_view(monkeypatch, capsys, demo):
    out, report = demo
    monkeypatch.setattr("memory_nodes.tools.node_demo.run_node_demo", lambda seed, rooms, out_dir: report)
    assert cli.main(["demo", "--out", str(out)]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "embodied-memory query --memory" in printed and "rviz2 -d rviz/memory.rviz" in printed
