"""Generated suites are KARMA task files whose goals parse and can be checked in their homes."""
from __future__ import annotations

import json
import re

from benchmarks.suite.generate import (
    MEMORY_SET,
    SETS,
    SUITES,
    SuiteSpec,
    by_floor_plan,
    generate_home_tasks,
    generate_suite,
    home_for,
    write_suite,
)
from planners.instructions import understand
from scene_graph.goals import format_condition
from sim.home.world import HomeWorld
from sim.tasks import holds, load_tasks, parse_goal


def test_a_suite_file_parses_without_issues_and_every_task_has_conditions(tmp_path) -> None:
    [path] = write_suite(SuiteSpec("test", (4,), (1, 2), 2), tmp_path)
    data = json.loads(path.read_text())
    assert list(data) == [MEMORY_SET, *SETS]
    parsed = load_tasks(path)
    assert parsed.issues == ()
    assert all(t.conditions and t.instruction for t in parsed.tasks)
    assert {t.floor_plan for t in parsed.tasks} == {1, 2}
    for entry in (e for entries in data.values() for e in entries):
        assert set(entry) == {"FloorPlan", "ID", "Goal Condition", "Instruction"}
    episodes = by_floor_plan(parsed.tasks)
    assert all(tasks[0].task_set == MEMORY_SET for tasks in episodes.values())


def test_goals_are_checkable_in_the_home_they_were_written_for() -> None:
    sets = generate_home_tasks(seed=0, floor_plan=2, per_set=3)
    world = HomeWorld(home_for(2))
    present = {e.object_type for e in world.home}
    states = world.object_states()
    for name, entries in sets.items():
        assert entries, name
        for entry in entries:
            conditions, problems = parse_goal(entry["Goal Condition"])
            assert conditions and not problems
            assert all(set(c.types) <= present for c in conditions)
            if name != MEMORY_SET:
                assert not all(holds(c, states) for c in conditions), entry  # there is something to do


def test_complex_tasks_need_what_a_memory_task_hid() -> None:
    sets = generate_home_tasks(seed=1, floor_plan=3, per_set=2)
    for memory, later in zip(sets[MEMORY_SET], sets["Complex"]):
        [stored] = parse_goal(memory["Goal Condition"])[0]
        assert stored.predicate == "INSIDE"
        assert stored.subject[0] in later["Goal Condition"]
        assert re.search(r"\b(I|you|we) (put|left|stored)\b", later["Instruction"])


def test_instructions_are_written_in_many_phrasings_and_mean_their_goals() -> None:
    """Every goal kind has at least 5 wordings; the offline understanding derives the gold goals."""
    entries = [e for seed in (0, 1) for s in generate_suite(SUITES["default"], seed).values() for e in s]
    by_goal_kind: dict[str, set[str]] = {}
    for e in entries:
        kind = re.sub(r"\(.*?\)", "", e["Goal Condition"])  # "STATE, ON"
        by_goal_kind.setdefault(kind, set()).add(e["Instruction"].split()[0])
    counts = {kind: sum(re.sub(r"\(.*?\)", "", e["Goal Condition"]) == kind for e in entries) for kind in by_goal_kind}
    assert all(len(openings) >= 3 for kind, openings in by_goal_kind.items() if counts[kind] >= 8), by_goal_kind

    def gold(entry: dict) -> list[str]:
        return [format_condition(c) for c in parse_goal(entry["Goal Condition"])[0]]

    wrong = [(e["Instruction"], gold(e)) for e in entries if [c.text for c in understand(e["Instruction"])] != gold(e)]
    assert len(wrong) <= 0.05 * len(entries), wrong


def test_generation_is_reproducible() -> None:
    assert generate_home_tasks(2, 1, 2) == generate_home_tasks(2, 1, 2)
    assert generate_home_tasks(2, 1, 2) != generate_home_tasks(3, 1, 2)


def test_the_full_suite_has_at_least_100_tasks_per_set_over_at_least_20_homes() -> None:
    spec = SUITES["full"]
    assert len(spec.floor_plans) >= 20
    sets = [generate_suite(spec, seed) for seed in spec.seeds]
    for name in SETS:
        entries = [e for s in sets for e in s[name]]
        assert len(entries) >= 100, name
        assert len({e["FloorPlan"] for e in entries}) >= 20, name


def test_the_building_suite_has_at_least_30_scored_tasks_in_three_buildings() -> None:
    spec = SUITES["building"]
    assert len(spec.floor_plans) * spec.per_set * len(SETS) >= 30
    home = home_for(spec.floor_plans[0])
    assert (home.floors, len(home.rooms)) == (3, 36)
    sets = generate_home_tasks(seed=0, floor_plan=spec.floor_plans[0], per_set=spec.per_set)
    assert [len(sets[name]) for name in SETS] == [spec.per_set] * len(SETS)
    assert all(e["FloorPlan"] == f"FloorPlan{spec.floor_plans[0]}" for entries in sets.values() for e in entries)
    assert all(parse_goal(e["Goal Condition"])[0] for entries in sets.values() for e in entries)
