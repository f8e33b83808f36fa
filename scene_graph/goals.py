"""The goal grammar every layer shares: KARMA-style goal conditions and the words they use.

``ON(a, b)``, ``INSIDE(a, b)``, ``STATE(a, s)``, ``TOGGLEON(a)``, ``TOGGLEOFF(a)``, each with an
optional count ``: n``, written as a string, dict or list as the public task files do. Each
condition is parsed on its own: what cannot be understood becomes a (text, reason) problem and
the rest still parses. Checking a condition against a simulator's objects lives in ``sim.tasks``;
the planner turns instructions into the same :class:`Condition` (``planners.instructions``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from scene_graph.ontology import matching_types
from scene_graph.records import StateValue

PREDICATES = {"ON": "ON", "INSIDE": "INSIDE", "IN": "INSIDE", "STATE": "STATE",
              "TOGGLEON": "TOGGLEON", "SWITCHON": "TOGGLEON", "TURNON": "TOGGLEON",
              "TOGGLEOFF": "TOGGLEOFF", "SWITCHOFF": "TOGGLEOFF", "TURNOFF": "TOGGLEOFF"}
STATE_WORDS: dict[str, tuple[str, StateValue]] = {
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
# (state, value) -> the word KARMA's files write it with
_STATE_TEXT: dict[tuple[str, StateValue], str] = {
    ("sliced", True): "sliced", ("cleaned", True): "clean", ("dirty", True): "dirty", ("cooked", True): "cooked",
    ("filled", True): "filled", ("filled", False): "empty", ("temperature", "hot"): "hot",
    ("temperature", "cold"): "cold", ("open", True): "open", ("open", False): "closed", ("toggled", True): "on",
    ("toggled", False): "off", ("broken", True): "broken", ("used_up", True): "usedup"}
_CALL = re.compile(r"([A-Za-z_]+)\s*\(")
_COUNT = re.compile(r"\s*:\s*([A-Za-z0-9.]+)")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Condition:
    predicate: str  # ON, INSIDE, STATE, TOGGLEON or TOGGLEOFF
    subject: tuple[str, ...]  # object types any of which satisfies the first argument
    target: tuple[str, ...] = ()  # receptacle types for ON / INSIDE
    state: str = ""  # STATE's state name (scene_graph.ontology.STATE_NAMES)
    value: Optional[StateValue] = None
    count: int = 1
    text: str = ""  # as written in the file

    @property
    def types(self) -> tuple[str, ...]:
        """The types a scene needs for this condition: the first of subject and target."""
        return tuple(group[0] for group in (self.subject, self.target) if group)


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


def format_condition(condition: Condition) -> str:
    """A condition in KARMA's goal-condition syntax ("INSIDE(Apple, Fridge)", "STATE(Mug, clean): 2"),
    each argument its first type; :func:`parse_goal` reads it back."""
    args = [condition.subject[0]] + ([condition.target[0]] if condition.target else [])
    if condition.predicate == "STATE":
        value = condition.value if condition.value is not None else True
        args.append(_STATE_TEXT.get((condition.state, value), condition.state))
    count = f": {condition.count}" if condition.count != 1 else ""
    return f"{condition.predicate}({', '.join(args)}){count}"


def means(derived: Condition, gold: Condition) -> bool:
    """Whether a derived condition asks for what a gold one does: the same predicate, state, value
    and count, with the gold's types among the derived ones (a derived "table" means any table)."""
    return (derived.predicate, derived.state, derived.value, derived.count) == \
        (gold.predicate, gold.state, gold.value, gold.count) and gold.subject[0] in derived.subject \
        and (not gold.target or gold.target[0] in derived.target)

