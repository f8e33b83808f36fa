"""Records every simulator in ``sim`` speaks: actions, their results, object snapshots, changes.

They are frozen so that a result handed to memory or a ROS bridge cannot be changed behind its
back. AI2-THOR-shaped metadata dicts (``sim.metadata``) are the one deliberate exception, because
that shape is what we mirror.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

StateValue = Union[bool, str, float, None, tuple]

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
    old: StateValue
    new: StateValue
    stamp: float
    cause: str


@dataclass(frozen=True)
class ActionResult:
    """Outcome of one skill; ``error`` speaks AI2-THOR's language ("... is not visible")."""

    action: Action
    success: bool
    error: str = ""
    distance: float = 0.0  # metres travelled by this action
    steps: int = 0  # grid moves made by this action
    duration: float = 0.0  # simulated seconds the action took
    changes: tuple[StateChange, ...] = ()


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
    states: Mapping[str, StateValue] = field(default_factory=dict)
    picked_up: bool = False
    visible: bool = False
