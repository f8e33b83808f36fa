"""The plan language: one skill call per line, ``Skill(argument)``, optionally closed by ``Done``.

Strict on purpose: whatever a model writes must parse into calls of known skills with one plain
argument (a memory id such as ``obj_0007``, a type name, or a room for Explore), or the whole
plan is refused with every offending line named. The same table drives the prompt's skill API
and the enumeration of valid calls that constrained decoding chooses from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from planners.interfaces import KnownObject
from scene_graph.ontology import ACTION_NAMES, OBJECT_TYPES

DONE = "Done"
_LINE = re.compile(r"([A-Za-z]+)\(\s*([A-Za-z0-9_.|:+-]*)\s*\)")

# skill -> (ontology flag the target needs, or "" for any object; what the skill does)
SKILLS: dict[str, tuple[str, str]] = {
    "GoToObject": ("", "drive to an object or piece of furniture"),
    "PickupObject": ("pickupable", "pick up an object within reach; the hand holds one object"),
    "PutObject": ("receptacle", "put the held object in/on this receptacle (open a closed one first)"),
    "OpenObject": ("openable", "open a fridge, cabinet, drawer, microwave, ..."),
    "CloseObject": ("openable", "close it again"),
    "SliceObject": ("sliceable", "slice it; needs a Knife or ButterKnife in hand"),
    "ToggleObjectOn": ("toggleable", "switch it on"),
    "ToggleObjectOff": ("toggleable", "switch it off"),
    "CleanObject": ("pickupable", "wash it; a sink must be within reach"),
    "HeatObject": ("pickupable", "heat it; a microwave or stove burner must be within reach"),
    "CoolObject": ("pickupable", "chill it; a fridge must be within reach"),
    "FillObject": ("fillable", "fill it with water; a sink or coffee machine must be within reach"),
    "Explore": ("", "look around an unvisited room (argument: a room id or kind, or nothing)"),
}
if set(SKILLS) != set(ACTION_NAMES):
    raise ImportError("the plan language must offer exactly the robot's skills")


@dataclass(frozen=True)
class SkillCall:
    skill: str
    target: str = ""

    def __str__(self) -> str:
        return f"{self.skill}({self.target})"


class PlanSyntaxError(ValueError):
    """Lines of a plan that do not parse; ``problems`` holds (line number, line, reason)."""

    def __init__(self, problems: Sequence[tuple[int, str, str]]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"line {n} {text[:60]!r}: {why}" for n, text, why in self.problems[:5]))


def parse_plan(text: str) -> list[SkillCall]:
    """Skill calls of ``text``; raises PlanSyntaxError naming every line that does not parse."""
    calls: list[SkillCall] = []
    problems: list[tuple[int, str, str]] = []
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for i, (n, line) in enumerate(lines):
        if line == DONE:
            if i != len(lines) - 1:
                problems.append((n, line, f"{DONE} must be the last line"))
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append((n, line, "not of the form Skill(argument)"))
        elif match.group(1) not in SKILLS:
            problems.append((n, line, f"unknown skill {match.group(1)!r}"))
        elif not match.group(2) and match.group(1) != "Explore":
            problems.append((n, line, f"{match.group(1)} needs an argument"))
        else:
            calls.append(SkillCall(match.group(1), match.group(2)))
    if problems:
        raise PlanSyntaxError(problems)
    if not lines:
        raise PlanSyntaxError([(1, "", "the plan is empty")])
    return calls


def format_plan(calls: Iterable[SkillCall]) -> str:
    return "\n".join([str(c) for c in calls] + [DONE])


def applies(skill: str, label: str) -> bool:
    """Whether ``skill`` makes sense on an object of type ``label`` (any skill on an unknown type
    but GoToObject does not)."""
    flag = SKILLS[skill][0]
    if not flag:
        return True
    kind = OBJECT_TYPES.get(label)
    return kind is not None and bool(getattr(kind, flag))


def valid_calls(objects: Iterable[KnownObject], rooms: Iterable[str] = ()) -> list[SkillCall]:
    """Every call the grammar allows on these objects (missing ones left out) and rooms."""
    calls = [SkillCall("Explore")] + [SkillCall("Explore", r) for r in dict.fromkeys(rooms) if r]
    for obj in objects:
        if not obj.missing:
            calls += [SkillCall(s, obj.id) for s in SKILLS if s != "Explore" and applies(s, obj.label)]
    return calls
