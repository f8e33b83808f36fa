"""Records every simulator in ``sim`` speaks: actions, their results, object snapshots, changes.

They are frozen so that a result handed to memory or a ROS bridge cannot be changed behind its
back. AI2-THOR-shaped metadata dicts (``sim.metadata``) are the one deliberate exception, because
that shape is what we mirror.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Union

from scene_graph.outcomes import SkillCode
from scene_graph.records import StateValue

# What a simulator's change carries: a state's value, a position (x, y, z), a number or nothing.
ChangeValue = Union[StateValue, float, None, tuple]

@dataclass(frozen=True)
class Action:
    """One skill call.

    ``object_id`` is an AI2-THOR-style objectId or, for GoToObject, also a bare type name
    ("Apple"), which goes to the nearest object of that type as KARMA's GoToObject does. As in
    AI2-THOR, PutObject's ``object_id`` is the *receptacle*: the held object is implied.
    Explore's ``object_id`` is an optional room id or room kind ("Kitchen").
    """

    name: str
    object_id: Optional[str] = None


@dataclass(frozen=True)
class StateChange:
    """One observed change of one object, emitted by skills and by household members.

    ``state`` is a name from ``scene_graph.ontology.STATE_NAMES`` or "position", "parent",
    "picked_up"; ``cause`` is "agent:<Skill>" or "household:<member>".
    """

    object_id: str
    object_type: str
    state: str
    old: ChangeValue
    new: ChangeValue
    stamp: float
    cause: str


@dataclass(frozen=True)
class ActionResult:
    """Outcome of one skill: ``code`` says what went wrong, ``error`` says it to a person in AI2-THOR's
    words ("... is not visible")."""

    action: Action
    success: bool
    error: str = ""
    distance: float = 0.0  # metres travelled by this action
    steps: int = 0  # grid moves made by this action
    duration: float = 0.0  # simulated seconds the action took
    changes: tuple[StateChange, ...] = ()
    code: SkillCode = SkillCode.NONE


@dataclass(frozen=True)
class ObjectState:
    """One object as any simulator reports it, in our z-up world frame (REP-103, metres).

    ``parents`` lists the receptacles holding it, innermost first; ``states`` has one entry per
    name in STATE_NAMES that applies to the object.
    """

    object_id: str
    object_type: str
    position: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float  # radians about z, counter-clockwise from +x
    parents: tuple[str, ...] = ()
    contents: tuple[str, ...] = ()
    states: Mapping[str, ChangeValue] = field(default_factory=dict)
    picked_up: bool = False
    visible: bool = False


def where_changed(changes: Sequence[StateChange],
                  objects: Iterable[ObjectState]) -> list[tuple[StateChange, Optional[tuple[float, float, float]]]]:
    """Each change with the place it is reported at: a "position" change's new position, else where
    the object is now among ``objects`` (None when it is not there). The one rule for the simulator
    bridge's messages and the in-process robot's short-term units."""
    positions = {o.object_id: o.position for o in objects}
    placed: list[tuple[StateChange, Optional[tuple[float, float, float]]]] = []
    for change in changes:
        new = change.new
        if change.state == "position" and isinstance(new, tuple) and len(new) == 3:
            placed.append((change, (float(new[0]), float(new[1]), float(new[2]))))
        else:
            placed.append((change, positions.get(change.object_id)))
    return placed
