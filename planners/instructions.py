"""A small instruction grammar: everyday requests to KARMA-style goal conditions.

"put the apple in the fridge", "slice the bread", "turn on the lamp", "bring me the mug",
"heat the potato and then put it on the table": each clause becomes one
:class:`scene_graph.goals.Condition` (plus ``HOLD``, this planner's own "have it in hand"), so typed
instructions and task files' goal conditions reach the symbolic planner in one shape.
"""
from __future__ import annotations

import re
from typing import Sequence

from planners.backends.base import InvalidInstruction
from scene_graph.goals import STATE_WORDS, Condition, parse_goal
from scene_graph.ontology import matching_types

HOLD = "HOLD"
_CLAUSES = re.compile(r"\s*(?:,|;|\.|\band then\b|\bthen\b|\band\b)\s*")
_POLITE = re.compile(r"^(?:(?:please|robot|can you|could you|would you|now)\s+)+|\s+please$")
_ARTICLES = re.compile(r"\b(?:the|a|an|some|my|your|me|please|it|up)\b")
_TOGGLE = [(re.compile(r"^(?:turn|switch)\s+(on|off)\s+(.+)$"), 1, 2),
           (re.compile(r"^(?:turn|switch)\s+(.+?)\s+(on|off)$"), 2, 1)]
_PLACE = re.compile(r"^(?:put|place|move|store|take|bring|carry|drop|set|return)\s+(.+?)\s+"
                    r"(into|inside|in|onto|on top of|on)\s+(.+)$")
_HOLD = re.compile(r"^(?:bring|fetch|get|grab|pick|hand|give|carry|take)\s+(.+)$")
_VERBS = {"slice": "sliced", "cut": "sliced", "chop": "sliced", "heat": "hot", "warm": "hot",
          "microwave": "hot", "cook": "cooked", "cool": "cold", "chill": "cold", "clean": "clean",
          "wash": "clean", "rinse": "clean", "fill": "filled", "open": "open", "close": "closed", "shut": "closed"}


def object_types(phrase: str) -> tuple[str, ...]:
    """The types the first object word of a phrase may denote; two-word names win ("tv remote")."""
    words = re.findall(r"[a-z]+", _ARTICLES.sub(" ", phrase.lower()))
    for i, word in enumerate(words):
        for candidate in ([word + words[i + 1]] if i + 1 < len(words) else []) + [word]:
            types = matching_types(candidate)
            if types:
                return types
    return ()


def _types(phrase: str, clause: str) -> tuple[str, ...]:
    types = object_types(phrase)
    if not types:
        raise InvalidInstruction(f"no known object in {clause!r}")
    return types


def _clause(clause: str, previous: tuple[str, ...]) -> Condition:
    subject = lambda phrase: _types(phrase, clause) if object_types(phrase) or not previous else previous  # noqa: E731
    for pattern, state_group, object_group in _TOGGLE:
        m = pattern.match(clause)
        if m:
            predicate = "TOGGLEON" if m.group(state_group) == "on" else "TOGGLEOFF"
            return Condition(predicate, subject(m.group(object_group)), (), "toggled", predicate == "TOGGLEON", 1,
                             clause)
    m = _PLACE.match(clause)
    if m:
        predicate = "INSIDE" if m.group(2) in ("into", "inside", "in") else "ON"
        return Condition(predicate, subject(m.group(1)), _types(m.group(3), clause), text=clause)
    verb, _, rest = clause.partition(" ")
    if verb in _VERBS and rest:
        state, value = STATE_WORDS[_VERBS[verb]]
        return Condition("STATE", subject(rest), (), state, value, 1, clause)
    m = _HOLD.match(clause)
    if m:
        return Condition(HOLD, subject(m.group(1)), text=clause)
    raise InvalidInstruction(f"cannot tell what to do in {clause!r}")


def goals_from_instruction(instruction: str) -> list[Condition]:
    """One condition per clause; "it" refers to the previous clause's object."""
    clauses = [_POLITE.sub("", c) for c in _CLAUSES.split(instruction.lower().strip()) if c]
    clauses = [c for c in clauses if c]
    if not clauses:
        raise InvalidInstruction("the instruction is empty")
    goals: list[Condition] = []
    for clause in clauses:
        goals.append(_clause(clause, goals[-1].subject if goals else ()))
    return goals


def goals_for(instruction: str, goal_conditions: Sequence[str]) -> list[Condition]:
    """Goal conditions when given (they are exact), else the instruction's."""
    if not goal_conditions:
        return goals_from_instruction(instruction)
    conditions, problems = parse_goal(list(goal_conditions))
    if problems:
        raise InvalidInstruction("; ".join(f"{text!r}: {why}" for text, why in problems))
    return conditions
