"""The benchmark through the real ROS 2 nodes computes what it computes in process.

The node mode reaches memory only through services and topics and the robot only through the
skill action; branching for ablations goes through the manage service. So a task run both ways
from the same moment must end the same way, and its metrics must come from what happened.
"""
from __future__ import annotations

import json

import pytest

pytest.importorskip("rclpy")
from benchmarks.suite import run_task_file  # noqa: E402
from benchmarks.suite.ablations import ABLATIONS  # noqa: E402
from benchmarks.suite.env import InProcessEnv  # noqa: E402
from benchmarks.suite.episode import TaskRecord, run_task  # noqa: E402
from benchmarks.suite.generate import home_for  # noqa: E402
from benchmarks.suite.ros_env import RosEnv  # noqa: E402
from sim.tasks import Task, parse_goal  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FLOOR_PLAN = 1  # the tour sees a tomato in the closed fridge
GOAL = "ON(Tomato, CounterTop)"


def _task() -> Task:
    conditions, problems = parse_goal(GOAL)
    assert not problems
    return Task("Simple", "t", FLOOR_PLAN, "put the tomato on the counter", tuple(conditions))


def _runs(env) -> tuple[dict[str, TaskRecord], set[str], tuple[set[str], tuple[int, int]]]:
    """After the tour: the task with each kind of memory, each on a branch, then with both on the
    main line; what the short-term buffer held after the tour, and what it held and its hits and
    misses after the main-line task (its queries looked up, used and evicted units by the policy)."""
    env.tour()
    fridge = next(e for e in env.truth() if e.object_type == "Fridge")
    tomato = next(e for e in env.truth() if e.object_type == "Tomato")
    assert tomato.parents[:1] == (fridge.object_id,) and not dict(fridge.states).get("open")
    resident = env.short_term_ids()
    records = {}
    for name in ("none", "stm", "both"):
        with env.branch() as branch:
            records[name] = run_task(branch, _task(), ABLATIONS[name], seed=0)
    clock = env.clock()
    records["main"] = run_task(env, _task(), ABLATIONS["both"], seed=0)
    assert records["main"].sim_time > 0 and env.clock() == pytest.approx(clock + records["main"].sim_time)
    # By the simulator's ids: memory ids of objects first seen in a branch differ between the modes
    # (a branch is a copy in process, a save and load through the nodes).
    after = env.short_term_ids()
    return records, resident, ({o.external_id for o in env.memory.objects() if o.id in after}, env.short_term_counts())


# The default policy ignores uses; LRU with a small buffer evicts by them, so the two runtimes agree
# only if their queries count and use units alike (ShortTermMemory.query).
@pytest.mark.parametrize("policy, capacity", [("fifo_merge", 10), ("lru", 4)])
def test_a_task_through_the_nodes_ends_as_it_does_in_process_and_memory_saves_steps(policy: str,
                                                                                    capacity: int) -> None:
    in_process, resident, after = _runs(InProcessEnv.start(home_for(FLOOR_PLAN), household_seed=0,
                                                           stm_capacity=capacity, policy=policy))
    with RosEnv.start(home_for(FLOOR_PLAN), household_seed=0, stm_capacity=capacity, policy=policy) as env:
        through_nodes, resident_through_nodes, after_through_nodes = _runs(env)
    # Short-term memory is filled alike: the skills' state changes, then each frame's graph update.
    assert resident and resident_through_nodes == resident
    assert sum(after[1]) > 0 and after_through_nodes == after
    for name, record in through_nodes.items():
        expected = in_process[name]
        assert (record.success, record.steps, record.explorations, record.retrieved, record.hits) == \
            (expected.success, expected.steps, expected.explorations, expected.retrieved, expected.hits), name
        assert record.sim_time == pytest.approx(expected.sim_time)
        assert record.distance == pytest.approx(expected.distance)
    with_memory, without = through_nodes["both"], through_nodes["none"]
    # The branch left nothing behind: the main line repeats the "both" run exactly.
    assert (through_nodes["main"].steps, through_nodes["main"].sim_time) == (with_memory.steps, with_memory.sim_time)
    assert with_memory.success and with_memory.retrieved and with_memory.explorations == 0
    # The tomato is in the closed fridge: without memory the robot has to search for it.
    assert without.steps > with_memory.steps and without.explorations > 0 and not without.retrieved


def test_the_entry_point_runs_a_task_file_through_the_nodes(tmp_path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"simple": [{"FloorPlan": f"FloorPlan{FLOOR_PLAN}", "ID": 1,
                                            "Goal Condition": "On(Tomato, CounterTop): 1",
                                            "Instruction": "Put the tomato on the counter"}]}))
    result = run_task_file(path, out_dir=tmp_path / "out", ablations=("none", "both"), workers=1, nodes=True)
    assert result["mode"] == "nodes"
    assert {(t["task_id"], t["ablation"]) for t in result["tasks"]} == {("1", "none"), ("1", "both")}
    both = next(t for t in result["tasks"] if t["ablation"] == "both")
    assert both["success"] and both["steps"] > 0 and both["planner_calls"] >= 1 and both["tokens"] > 0
    assert result["sets"]["simple"]["both"]["sr"] == 1.0
