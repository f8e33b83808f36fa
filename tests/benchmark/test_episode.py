"""One task run per ablation from the same moment, and what the records say about it."""
from __future__ import annotations

import json

import pytest

from benchmarks.suite.ablations import ABLATIONS
from benchmarks.suite.env import InProcessEnv
from benchmarks.suite.episode import FINAL_STATE, GOALS, KARMA, TaskRecord, run_task
from benchmarks.suite.generate import home_for
from sim.tasks import Task, load_tasks, parse_goal

FLOOR_PLAN = 1  # the tour sees a tomato in the closed fridge


@pytest.fixture(scope="module")
def toured() -> InProcessEnv:
    env = InProcessEnv.start(home_for(FLOOR_PLAN), household_seed=0)
    env.tour()
    return env


def run_branch(env: InProcessEnv, goal: Task, ablation: str, open_loop: bool = False,
               scoring: str = KARMA) -> TaskRecord:
    with env.branch() as branch:
        return run_task(branch, goal, ABLATIONS[ablation], seed=0, open_loop=open_loop, scoring=scoring,
                        planner_input=GOALS)


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
        record = run_task(env, task("ON(Tomato, CounterTop)"), ABLATIONS["stm"], seed=0, planner_input=GOALS)
    assert record.queries == 2 and record.hits <= 2


def test_sequential_subgoals_succeed_under_karmas_scoring_and_fail_on_the_final_state(toured, tmp_path) -> None:
    """A task file of subgoals that contradict each other at the end: on then off, here then there."""
    path = tmp_path / "sequences.json"
    path.write_text(json.dumps({"Composite": [
        {"FloorPlan": f"FloorPlan{FLOOR_PLAN}", "ID": "tv", "Goal Condition": "TOGGLEON(TV), TOGGLEOFF(TV)",
         "Instruction": "Turn on the TV, then turn it off again."},
        {"FloorPlan": f"FloorPlan{FLOOR_PLAN}", "ID": "tomato",
         "Goal Condition": "ON(tomato, counter), ON(tomato, side table)",
         "Instruction": "Put the tomato on the counter, then move it to the side table."}]}))
    parsed = load_tasks(path)
    assert not parsed.issues and len(parsed.tasks) == 2
    for task_ in parsed.tasks:
        karma = run_branch(toured, task_, "both", scoring=KARMA)
        final = run_branch(toured, task_, "both", scoring=FINAL_STATE)
        assert karma.success and karma.progress == 1.0 and not karma.trivial and karma.scoring == KARMA
        assert [text for text, _ in karma.met] == [c.text for c in task_.conditions]
        first, second = (when for _, when in karma.met)
        assert 0 < first < second <= karma.steps  # met in the file's order, counted in skills
        assert not final.success and final.progress == 0.5 and final.scoring == FINAL_STATE
        assert "not met" in final.failure and task_.conditions[0].text in final.failure
        assert (karma.failure_code, final.failure_code) == ("", "GOALS_NOT_MET")


def test_a_task_already_done_before_the_robot_acts_is_trivial_not_a_success(toured) -> None:
    fridge = next(e for e in toured.world.home if e.object_type == "Fridge")
    inside = next(e.object_type for e in toured.world.home.descendants(fridge.object_id))
    for scoring in (KARMA, FINAL_STATE):
        record = run_branch(toured, task(f"INSIDE({inside}, Fridge)"), "both", scoring=scoring)
        assert record.trivial and not record.success and record.progress == 1.0
        assert "trivial" in record.failure and record.failure_code == "TRIVIAL"
    assert run_branch(toured, task(f"INSIDE({inside}, Fridge)"), "both").met[0][1] == 0  # before acting


def test_an_implausible_goal_fails_the_task_with_a_planning_error(toured) -> None:
    record = run_branch(toured, task("ON(Television, CounterTop)"), "both")
    assert not record.success and record.steps == 0
    assert "PickupObject" in record.error and "AssertionError" not in record.error
    assert record.failure_code == "PLAN_INVALID"


def test_from_the_instruction_the_planner_derives_the_goals_and_the_record_grades_them(toured) -> None:
    conditions, _ = parse_goal("ON(Tomato, CounterTop), TOGGLEON(Television)")
    said = Task("Simple", "t", FLOOR_PLAN, "Could you put the tomato on the worktop and switch the telly on?",
                tuple(conditions))
    with toured.branch() as branch:
        record = run_task(branch, said, ABLATIONS["both"], seed=0)  # the default: the instruction only
    assert record.planner_input == "instruction" and record.success
    assert record.gold == ("ON(Tomato, CounterTop)", "TOGGLEON(Television)")
    assert record.derived == ("ON(Tomato, CounterTop)", "TOGGLEON(Television)")
    assert (record.derived_hits, record.gold_hits, record.understanding) == (2, 2, "")


def test_an_instruction_not_understood_fails_the_task_naming_the_clause(toured) -> None:
    conditions, _ = parse_goal("ON(Tomato, CounterTop)")
    said = Task("Simple", "t", FLOOR_PLAN, "Put the tomato on the counter and then juggle", tuple(conditions))
    with toured.branch() as branch:
        record = run_task(branch, said, ABLATIONS["both"], seed=0)
    assert not record.success and record.steps == 0
    assert record.failure_code == "INVALID_INSTRUCTION" and "juggle" in record.failure
    assert record.derived == () and record.understanding == "NO_VERB"


def test_a_task_that_starts_with_the_hand_full_frees_it_though_memory_lost_what_it_holds(toured) -> None:
    """An earlier task left something in the hand and memory has since lost its node (folded away, a
    track reissued): the robot still knows its hand is full and puts it down before fetching."""
    with toured.branch() as env:
        held = next(o for o in env.memory.objects() if o.layer == "object" and o.label != "Tomato"
                    and env.executor.execute("GoToObject", o.external_id).success
                    and env.executor.execute("PickupObject", o.external_id).success)
        env.memory.graph.remove_object(held.id)
        assert env.world.agent.held and env.held_id()
        record = run_task(env, task("ON(Tomato, CounterTop)"), ABLATIONS["both"], seed=0, planner_input=GOALS)
    assert record.success, record.failure
    assert "hand is full" not in record.failure
