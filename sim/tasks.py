"""KARMA task files: tolerant parsing, goal predicates, and tracking of subgoals over an episode.

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

from scene_graph.ontology import matching_types
from sim.records import ChangeValue, ObjectState

PREDICATES = {"ON": "ON", "INSIDE": "INSIDE", "IN": "INSIDE", "STATE": "STATE",
              "TOGGLEON": "TOGGLEON", "SWITCHON": "TOGGLEON", "TURNON": "TOGGLEON",
              "TOGGLEOFF": "TOGGLEOFF", "SWITCHOFF": "TOGGLEOFF", "TURNOFF": "TOGGLEOFF"}
STATE_WORDS: dict[str, tuple[str, ChangeValue]] = {
    **{w: ("sliced", True) for w in ("sliced", "slice", "cut", "chopped")},
    **{w: ("cleaned", True) for w in ("clean", "cleaned", "washed", "rinsed")},
    "dirty": ("dirty", True),
    **{w: ("cooked", True) for w in ("cooked", "cook", "fried", "boiled", "toasted")},
    **{w: ("filled", True) for w in ("filled", "full", "fill", "filledwithwater", "filledwithliquid")},
    "empty": ("filled", False),
    **{w: ("temperature", "hot") for w in ("hot", "heated", "heat", "warm", "melted", "microwaved")},
    **{w: ("temperature", "cold") for w in ("cold", "cooled", "cool", "chilled", "frozen")},
    **{w: ("open", True) for w in ("open", "opened")}, "closed": ("open", False),
    **{w: ("toggled", True) for w in ("on", "toggledon", "switchedon", "turnedon")},
    **{w: ("toggled", False) for w in ("off", "toggledoff", "switchedoff", "turnedoff")},
    "broken": ("broken", True), **{w: ("used_up", True) for w in ("usedup", "used", "empty_roll")},
}
_CALL = re.compile(r"([A-Za-z_]+)\s*\(")
_COUNT = re.compile(r"\s*:\s*([A-Za-z0-9.]+)")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Condition:
    predicate: str  # ON, INSIDE, STATE, TOGGLEON or TOGGLEOFF
    subject: tuple[str, ...]  # object types any of which satisfies the first argument
    target: tuple[str, ...] = ()  # receptacle types for ON / INSIDE
    state: str = ""  # STATE's state name (scene_graph.ontology.STATE_NAMES)
    value: ChangeValue = None
    count: int = 1
    text: str = ""  # as written in the file

    @property
    def types(self) -> tuple[str, ...]:
        """The types a scene needs for this condition: the first of subject and target."""
        return tuple(group[0] for group in (self.subject, self.target) if group)


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


# --- goal conditions ---------------------------------------------------------------------------

def parse_goal(goal: Any) -> tuple[list[Condition], list[tuple[str, str]]]:
    """Conditions from a goal given as a string, dict or list; plus (text, reason) problems."""
    conditions: list[Condition] = []
    problems: list[tuple[str, str]] = []
    if isinstance(goal, str):
        _parse_string(goal, conditions, problems)
    elif isinstance(goal, dict):
        for key, value in goal.items():
            if "(" in str(key):
                _parse_string(f"{key}: {value}", conditions, problems)
            elif isinstance(value, (list, tuple)):
                rows = value if value and isinstance(value[0], (list, tuple)) else [value]
                for row in rows:
                    _add(str(key), [str(a) for a in row], 1, f"{key}{tuple(row)}", conditions, problems)
            else:
                problems.append((f"{key}: {value}", "cannot read this entry"))
    elif isinstance(goal, (list, tuple)):
        if goal and all(isinstance(g, str) for g in goal) and str(goal[0]).upper() in PREDICATES and "(" not in goal[0]:
            _add(goal[0], list(goal[1:]), 1, str(goal), conditions, problems)
        else:
            for item in goal:
                found, more = parse_goal(item)
                conditions += found
                problems += more
    else:
        problems.append((repr(goal), "goal condition is neither text, an object nor a list"))
    return conditions, problems


def _parse_string(text: str, conditions: list[Condition], problems: list[tuple[str, str]]) -> None:
    pos = 0
    while True:
        m = _CALL.search(text, pos)
        if m is None:
            break
        _junk(text[pos:m.start()], problems)
        depth, end = 0, m.end() - 1
        for end in range(m.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        if depth != 0:
            problems.append((text[m.start():].strip(), "unbalanced parentheses"))
            return
        args = _split_args(text[m.end():end])
        count_text, pos = "1", end + 1
        c = _COUNT.match(text, pos)
        if c:
            count_text, pos = c.group(1), c.end()
        source = text[m.start():pos].strip()
        if not re.fullmatch(r"\d+", count_text):
            problems.append((source, f"count {count_text!r} is not a whole number"))
        elif int(count_text) == 0:
            problems.append((source, "count 0 (a negated condition) is not supported"))
        else:
            _add(m.group(1), args, int(count_text), source, conditions, problems)
    _junk(text[pos:], problems)


def _junk(between: str, problems: list[tuple[str, str]]) -> None:
    rest = between.strip(" ,;\n\t")
    if rest and rest.lower() not in ("and", "then"):
        problems.append((rest, "not a condition"))


def _split_args(inner: str) -> list[str]:
    args, depth, cur = [], 0, ""
    for ch in inner:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(cur)
            cur = ""
        else:
            cur += ch
    args.append(cur)
    return [a.strip().strip("'\"") for a in args if a.strip()]


def _add(name: str, args: list[str], count: int, source: str,
         conditions: list[Condition], problems: list[tuple[str, str]]) -> None:
    predicate = PREDICATES.get(re.sub(r"[^A-Z]", "", name.upper()))
    if predicate is None:
        problems.append((source, f"unknown predicate {name!r}"))
        return
    wanted = 2 if predicate in ("ON", "INSIDE", "STATE") else 1
    if len(args) != wanted:
        problems.append((source, f"{predicate} takes {wanted} argument(s), got {len(args)}"))
        return
    if any(a.startswith(("(", "[")) or _NUMBER.match(a) for a in args):
        problems.append((source, "coordinates are not supported as an argument"))
        return
    subject = matching_types(args[0])
    if not subject:
        problems.append((source, f"unknown object {args[0]!r}"))
        return
    if predicate == "STATE":
        state = STATE_WORDS.get(re.sub(r"[^a-z]", "", args[1].lower()))
        if state is None:
            problems.append((source, f"unknown state {args[1]!r}"))
            return
        conditions.append(Condition("STATE", subject, (), state[0], state[1], count, source))
    elif predicate in ("ON", "INSIDE"):
        target = matching_types(args[1])
        if not target:
            problems.append((source, f"unknown object {args[1]!r}"))
            return
        conditions.append(Condition(predicate, subject, target, count=count, text=source))
    else:
        conditions.append(Condition(predicate, subject, (), "toggled", predicate == "TOGGLEON", count, source))


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


class GoalTracker:
    """Which subgoals have held so far in an episode; call ``update`` after every step."""

    def __init__(self, conditions: Iterable[Condition], ordered: bool = False):
        self.conditions = tuple(conditions)
        self.ordered = ordered
        self.achieved: list[Optional[float]] = [None] * len(self.conditions)

    def update(self, objects: Sequence[ObjectState], stamp: float = 0.0) -> list[Condition]:
        """Check the current state; returns the conditions achieved for the first time now."""
        new = []
        for i, condition in enumerate(self.conditions):
            if self.achieved[i] is not None:
                continue
            if self.ordered and any(a is None for a in self.achieved[:i]):
                break
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
