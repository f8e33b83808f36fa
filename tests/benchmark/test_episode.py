"""One task run per ablation from the same moment, and what the records say about it."""
from __future__ import annotations

import pytest

from benchmarks.suite.ablations import ABLATIONS
from benchmarks.suite.env import InProcessEnv
from benchmarks.suite.episode import TaskRecord, run_task
from benchmarks.suite.generate import home_for
from sim.tasks import Task, parse_goal

FLOOR_PLAN = 1  # the tour sees a tomato in the closed fridge


@pytest.fixture(scope="module")
def toured() -> InProcessEnv:
    env = InProcessEnv.start(home_for(FLOOR_PLAN), household_seed=0)
    env.tour()
    return env


def run_branch(env: InProcessEnv, goal: Task, ablation: str, open_loop: bool = False) -> TaskRecord:
    with env.branch() as branch:
        return run_task(branch, goal, ABLATIONS[ablation], seed=0, open_loop=open_loop)


def task(goal: str) -> Task:
    conditions, problems = parse_goal(goal)
    assert not problems
    return Task("Simple", "t", FLOOR_PLAN, goal, tuple(conditions))


def test_an_object_in_the_closed_fridge_needs_memory(toured) -> None:
    fridge = next(e for e in toured.world.home if e.object_type == "Fridge")
    assert any(e.object_type == "Tomato" for e in toured.world.home.descendants(fridge.object_id))
    assert not fridge.states["open"]
    goal = task("ON(Tomato, CounterTop)")
    with_memory = run_branch(toured, goal, "both")
    without = run_branch(toured, goal, "none")
    assert with_memory.success and with_memory.retrieved and with_memory.explorations == 0
    assert with_memory.hits == with_memory.queries == 2
    assert with_memory.steps >= 4  # to the fridge, open it, pick up, to the counter, put
    assert with_memory.distance > 0 and with_memory.sim_time > 0
    # Without memory the robot must search rooms and open containers until it sees the tomato.
    assert not without.retrieved and without.hits == 0
    assert without.explorations > with_memory.explorations
    assert without.steps > with_memory.steps and without.planner_calls > with_memory.planner_calls


def test_in_karmas_open_loop_only_memory_finds_what_is_out_of_sight(toured) -> None:
    goal = task("ON(Tomato, CounterTop)")
    with_memory = run_branch(toured, goal, "both", open_loop=True)
    without = run_branch(toured, goal, "none", open_loop=True)
    assert with_memory.success and with_memory.planner_calls == 1  # one plan, carried out
    assert with_memory.steps == run_branch(toured, goal, "both").steps
    # Without memory the one plan could only have been a search, which the protocol does not allow.
    assert not without.success and without.planner_calls == 1
    assert without.steps == without.explorations == 0
    assert "search" in without.error


def test_branches_start_from_the_same_moment_and_do_not_touch_the_original(toured) -> None:
    clock, objects = toured.clock(), len(toured.memory.graph.objects())
    before = {o.object_id: o.parents for o in toured.truth()}
    run_branch(toured, task("ON(Tomato, CounterTop)"), "both")
    assert toured.clock() == clock and len(toured.memory.graph.objects()) == objects
    assert {o.object_id: o.parents for o in toured.truth()} == before


def test_prompts_cost_what_they_would_cost_and_the_subgraph_is_smaller(toured) -> None:
    goal = task("STATE(Tomato, sliced)")
    sub = run_branch(toured, goal, "both")
    whole = run_branch(toured, goal, "both_whole")
    assert sub.success == whole.success and sub.steps == whole.steps  # the symbolic planner ignores the text
    assert 0 < sub.graph_tokens < whole.graph_tokens and sub.tokens < whole.tokens


def test_short_term_only_sees_no_more_than_the_buffer_holds(toured) -> None:
    with toured.branch() as env:
        resident = env.short_term_ids()
        assert 0 < len(resident) <= env.memory.stm.capacity
        record = run_task(env, task("ON(Tomato, CounterTop)"), ABLATIONS["stm"], seed=0)
    assert record.queries == 2 and record.hits <= 2
