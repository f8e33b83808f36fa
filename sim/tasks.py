"""KARMA task files: tolerant parsing, goal predicates, and tracking of subgoals over an episode.
The goal grammar itself (:class:`Condition`, :func:`parse_goal`) is ``scene_graph.goals``.

A file maps task-set names to lists of ``{"FloorPlan", "ID", "Goal Condition", "Instruction"}``.
The public files are messy (``On(...)``, plurals and everyday names, missing ``: 1``, stray
coordinates, goals as a string, dict or list), so each condition is parsed on its own: what
cannot be understood becomes a :class:`TaskIssue` naming its task, and the rest of the file
still loads. Only invalid JSON is fatal (:class:`TaskFileError`).

Semantics: ON(a, b) and INSIDE(a, b) hold when some ``a`` has a ``b`` among its receptacles
(AI2-THOR's parentReceptacles, the whole chain); STATE(a, s) when some ``a`` is in state ``s``;
TOGGLEON / SWITCHON(a) when some ``a`` is on; TOGGLEOFF(a) when every ``a`` is off. A count
``: n`` asks for n distinct objects. Subgoals are latched: one counts once it has held after
some step of the episode (optionally only after the ones before it, ``ordered=True``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from scene_graph.goals import Condition, parse_goal
from sim.records import ChangeValue, ObjectState


@dataclass(frozen=True)
class Task:
    task_set: str
    task_id: str
    floor_plan: Optional[int]
    instruction: str
    conditions: tuple[Condition, ...]

    @property
    def required_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for c in self.conditions for t in c.types))


@dataclass(frozen=True)
class TaskIssue:
    task_set: str
    task_id: str
    text: str
    reason: str


@dataclass(frozen=True)
class TaskFile:
    tasks: tuple[Task, ...]
    issues: tuple[TaskIssue, ...]

    def task_sets(self) -> dict[str, list[Task]]:
        out: dict[str, list[Task]] = {}
        for t in self.tasks:
            out.setdefault(t.task_set, []).append(t)
        return out


class TaskFileError(ValueError):
    """The file cannot be read at all (not JSON, or not a task structure)."""


# --- reading files -----------------------------------------------------------------------------

def load_tasks(path: Union[str, Path]) -> TaskFile:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_tasks(data)


def _key(entry: dict, *names: str) -> Any:
    norm = {re.sub(r"[^a-z]", "", str(k).lower()): v for k, v in entry.items()}
    return next((norm[n] for n in names if n in norm), None)


def parse_tasks(data: Any) -> TaskFile:
    """Tasks from decoded JSON: {set: [task, ...]}, a bare list of tasks, or a single task."""
    if isinstance(data, dict) and _key(data, "goalcondition", "goalconditions", "goal") is not None:
        groups = {"tasks": [data]}
    elif isinstance(data, dict):
        groups = data
    elif isinstance(data, list):
        groups = {"tasks": data}
    else:
        raise TaskFileError(f"expected an object of task sets or a list of tasks, got {type(data).__name__}")
    tasks: list[Task] = []
    issues: list[TaskIssue] = []
    for set_name, entries in groups.items():
        if not isinstance(entries, list):
            issues.append(TaskIssue(str(set_name), "", repr(entries)[:80], "task set is not a list"))
            continue
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict):
                issues.append(TaskIssue(str(set_name), f"#{n}", repr(entry)[:80], "task is not an object"))
                continue
            task, found = _parse_task(str(set_name), n, entry)
            issues += found
            if task is not None:
                tasks.append(task)
    return TaskFile(tuple(tasks), tuple(issues))


def _parse_task(set_name: str, n: int, entry: dict) -> tuple[Optional[Task], list[TaskIssue]]:
    raw_id = _key(entry, "id", "taskid")
    task_id = str(raw_id) if raw_id is not None else f"#{n}"
    issues: list[TaskIssue] = []
    floor_plan = None
    raw_plan = _key(entry, "floorplan", "scene")
    if raw_plan is not None:
        digits = re.search(r"\d+", str(raw_plan))
        if digits:
            floor_plan = int(digits.group())
        else:
            issues.append(TaskIssue(set_name, task_id, str(raw_plan), "FloorPlan is not a number"))
    goal = _key(entry, "goalcondition", "goalconditions", "goal")
    if goal is None:
        issues.append(TaskIssue(set_name, task_id, "", "no Goal Condition"))
        return None, issues
    conditions, problems = parse_goal(goal)
    issues += [TaskIssue(set_name, task_id, text, reason) for text, reason in problems]
    instruction = str(_key(entry, "instruction", "instructions", "task") or "").strip()
    return Task(set_name, task_id, floor_plan, instruction, tuple(conditions)), issues


# --- checking ----------------------------------------------------------------------------------

def _base_type(object_type: str) -> str:
    """AI2-THOR replaces a sliced Apple by "AppleSliced" pieces and an egg by "EggCracked"."""
    for suffix in ("Sliced", "Cracked"):
        if object_type.endswith(suffix) and len(object_type) > len(suffix):
            return object_type[: -len(suffix)]
    return object_type


def _state(o: ObjectState, name: str) -> ChangeValue:
    if name == "sliced" and o.object_type.endswith("Sliced"):
        return True
    return o.states.get(name)


def holds(condition: Condition, objects: Sequence[ObjectState]) -> bool:
    by_id = {o.object_id: o for o in objects}
    subjects = [o for o in objects if _base_type(o.object_type) in condition.subject]
    if condition.predicate in ("ON", "INSIDE"):
        def type_of(oid: str) -> str:
            return by_id[oid].object_type if oid in by_id else oid.split("|")[0]
        hits = [o for o in subjects if any(type_of(p) in condition.target for p in o.parents)]
    elif condition.predicate == "TOGGLEOFF":
        return bool(subjects) and all(not _state(o, "toggled") for o in subjects)
    else:
        hits = [o for o in subjects if _state(o, condition.state) == condition.value]
    return len(hits) >= condition.count


def contradict(a: Condition, b: Condition) -> bool:
    """Whether ``a`` and ``b`` ask one kind of object for two things it cannot be at once (on and
    off, hot and cold, here and there): a task file listing both means one after the other."""
    if not set(a.subject) & set(b.subject):
        return False
    if a.predicate in ("ON", "INSIDE") and b.predicate in ("ON", "INSIDE"):
        return not set(a.target) & set(b.target)
    return bool(a.state) and a.state == b.state and a.value != b.value


class GoalTracker:
    """Which subgoals have held so far in an episode, and when; call ``update`` after every step.

    A subgoal counts once it has held at some moment (KARMA's scoring). One that contradicts an
    earlier subgoal of the list counts only once that earlier one has been met (``ordered=True``:
    every subgoal waits for all earlier ones).
    """

    def __init__(self, conditions: Iterable[Condition], ordered: bool = False):
        self.conditions = tuple(conditions)
        self.ordered = ordered
        self.achieved: list[Optional[float]] = [None] * len(self.conditions)
        self.after = [[j for j in range(i) if ordered or contradict(self.conditions[j], c)]
                      for i, c in enumerate(self.conditions)]

    def update(self, objects: Sequence[ObjectState], stamp: float = 0.0) -> list[Condition]:
        """Check the current state; returns the conditions achieved for the first time now."""
        new = []
        for i, condition in enumerate(self.conditions):
            if self.achieved[i] is not None or any(self.achieved[j] is None for j in self.after[i]):
                continue
            if holds(condition, objects):
                self.achieved[i] = stamp
                new.append(condition)
        return new

    @property
    def done(self) -> bool:
        return all(a is not None for a in self.achieved)

    @property
    def progress(self) -> float:
        return sum(a is not None for a in self.achieved) / len(self.achieved) if self.achieved else 1.0

    def pending(self) -> list[Condition]:
        return [c for c, a in zip(self.conditions, self.achieved) if a is None]
