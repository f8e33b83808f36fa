"""Is a plan plausible against memory? Checked before the robot moves, and step by step while a
model decodes (so constrained decoding only ever writes plausible plans).

A :class:`PlanState` replays the plan on what memory knows: which objects exist, what the hand
holds, what is within reach after the last GoToObject, and which containers are open. Unknown
states are given the benefit of the doubt (memory may never have seen a fridge opened); states
memory knows are not. Every objection carries a code (:class:`IssueCode`) besides its text, so a
model asked to correct its plan (the runner's verifier loop) is told what kind of step was wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Optional, Sequence

from planners.grammar import SkillCall, applies
from planners.interfaces import KnownObject, by_id
from scene_graph.ontology import OBJECT_TYPES, canonical_type
from scene_graph.records import VISIBLE

KNIVES = ("Knife", "ButterKnife")


class IssueCode(str, Enum):
    """Why a plan is refused before the robot moves."""

    SYNTAX = "SYNTAX"  # the text is not one Skill(argument) per line
    NOT_IN_MEMORY = "NOT_IN_MEMORY"  # no object by that name
    MISSING = "MISSING"  # memory no longer knows where it is
    UNSUPPORTED = "UNSUPPORTED"  # the object does not afford the skill
    HELD = "HELD"  # driving to the object in hand
    OUT_OF_REACH = "OUT_OF_REACH"  # no GoToObject to it first
    INSIDE_CLOSED = "INSIDE_CLOSED"  # in a closed container: open it first
    HAND_FULL = "HAND_FULL"
    HAND_EMPTY = "HAND_EMPTY"
    INTO_ITSELF = "INTO_ITSELF"
    CLOSED = "CLOSED"  # putting into a closed container
    NEEDS_KNIFE = "NEEDS_KNIFE"


@dataclass(frozen=True)
class Objection:
    """Why one call is implausible: a code to decide on and a short text for people and models."""

    code: IssueCode
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class PlanIssue:
    step: int  # 1-based
    call: SkillCall
    objection: Objection

    @property
    def code(self) -> IssueCode:
        return self.objection.code

    @property
    def reason(self) -> str:
        return self.objection.text

    def __str__(self) -> str:
        return f"step {self.step} {self.call}: {self.reason}"


def is_container(label: str) -> bool:
    """Receptacles one opens before reaching inside (fridge, cabinet, drawer, microwave, box)."""
    kind = OBJECT_TYPES.get(label)
    return kind is not None and kind.openable and kind.receptacle


@dataclass
class PlanState:
    objects: dict[str, KnownObject]
    held: str = ""
    near: set[str] = field(default_factory=set)
    opened: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def start(cls, objects: Sequence[KnownObject], held: str = "") -> "PlanState":
        return cls(by_id(objects), held)

    def is_open(self, object_id: str) -> Optional[bool]:
        if object_id in self.opened:
            return self.opened[object_id]
        value = self.objects[object_id].state("open")
        return value if isinstance(value, bool) else None

    def closed_holder(self, object_id: str) -> str:
        """The container memory knows to be closed around this object, "" when none."""
        obj = self.objects[object_id]
        if obj.inside and obj.holder in self.objects and is_container(self.objects[obj.holder].label) \
                and self.is_open(obj.holder) is False:
            return obj.holder
        return ""

    def _reach(self, object_id: str) -> set[str]:
        """What is within reach at an object: it, what holds it, and what it holds."""
        out, up = {object_id}, self.objects[object_id].holder
        while up in self.objects and up not in out:
            out.add(up)
            up = self.objects[up].holder
        grew = True
        while grew:
            below = {o.id for o in self.objects.values() if o.holder in out} - out
            out |= below
            grew = bool(below)
        return out

    def check(self, call: SkillCall) -> Optional[Objection]:
        """Why ``call`` is implausible now (None when it is plausible)."""
        if call.skill == "Explore":
            return None
        obj = self.objects.get(call.target)
        if obj is None:
            if call.skill == "GoToObject" and canonical_type(call.target):
                return None  # a type memory does not hold: going there explores
            return Objection(IssueCode.NOT_IN_MEMORY, f"{call.target} is not in memory")
        if obj.missing and call.target != self.held:
            return Objection(IssueCode.MISSING, f"{call.target} is missing: memory no longer knows where it is")
        if not applies(call.skill, obj.label):
            return Objection(IssueCode.UNSUPPORTED, f"{obj.label} does not support {call.skill}")
        if call.skill == "GoToObject":
            return Objection(IssueCode.HELD, "held in hand") if call.target == self.held else None
        if call.target != self.held and call.target not in self.near:
            return Objection(IssueCode.OUT_OF_REACH, f"{call.target} is not within reach: GoToObject first")
        hidden = self.closed_holder(call.target)
        if hidden and call.target != self.held:
            return Objection(IssueCode.INSIDE_CLOSED,
                             f"{call.target} is inside closed {hidden}: OpenObject({hidden}) first")
        if call.skill == "PickupObject" and self.held:
            return Objection(IssueCode.HAND_FULL, f"the hand already holds {self.held}")
        if call.skill == "PutObject":
            if not self.held:
                return Objection(IssueCode.HAND_EMPTY, "the hand holds nothing to put")
            if call.target == self.held:
                return Objection(IssueCode.INTO_ITSELF, "cannot put an object into itself")
            if is_container(obj.label) and self.is_open(call.target) is False:
                return Objection(IssueCode.CLOSED, f"{call.target} is closed: OpenObject({call.target}) first")
        if call.skill == "SliceObject" and (not self.held or self.objects[self.held].label not in KNIVES):
            return Objection(IssueCode.NEEDS_KNIFE, "slicing needs a Knife or ButterKnife in hand")
        return None

    def apply(self, call: SkillCall) -> None:
        if call.skill == "Explore":
            self.near = set()
        elif call.skill == "GoToObject":
            same = [o.id for o in self.objects.values() if o.label == canonical_type(call.target)]
            self.near = set().union(*(self._reach(i) for i in ([call.target] if call.target in self.objects else same)))
        elif call.skill == "PickupObject":
            self.held = call.target
            self.objects[call.target] = replace(self.objects[call.target], holder="", inside=False)
        elif call.skill == "PutObject":
            host = self.objects[call.target]
            # The plan knows where it put the object, even one memory had lost while it was in hand;
            # one memory no longer holds at all (folded into another node) just leaves the hand.
            if self.held in self.objects:
                self.objects[self.held] = replace(self.objects[self.held], holder=call.target,
                                                  inside=is_container(host.label), status=VISIBLE)
                self.near.add(self.held)
            self.held = ""
        elif call.skill in ("OpenObject", "CloseObject"):
            self.opened[call.target] = call.skill == "OpenObject"


def validate_plan(calls: Sequence[SkillCall], objects: Sequence[KnownObject], held: str = "") -> Optional[PlanIssue]:
    """The first implausible step of the plan, or None when every step is plausible."""
    state = PlanState.start(objects, held)
    for step, call in enumerate(calls, 1):
        objection = state.check(call)
        if objection is not None:
            return PlanIssue(step, call, objection)
        state.apply(call)
    return None
