"""What the planner needs from memory and from the robot, as two small Protocols.

The planner core never imports rclpy: the ROS node implements these over the memory services and
the Skill action, ``inprocess.runtime`` implements them over the in-process core and the
embedded simulator. Records are frozen so a plan cannot change memory behind its back.

Object ids: plans name objects by **memory id** (``obj_0007``), the id the prompt shows. Only
the runner turns one into what the Skill action takes: the object's ``external_id`` (the
simulator's objectId or a tracker id) when memory has one, else its label (a type name, which
GoToObject resolves to the nearest object of that type).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol, Sequence

from scene_graph.outcomes import SkillCode
from scene_graph.records import IN, MISSING, ObjectNode, StateValue

if TYPE_CHECKING:
    from scene_graph.graph import SceneGraph

__all__ = ["KnownObject", "MemoryAccess", "SkillCode", "SkillExecutor", "SkillResult", "SubgraphText", "by_id"]


@dataclass(frozen=True)
class KnownObject:
    """One object as the planner sees it: a memory node plus what holds it.

    ``holder`` is the memory id of the innermost container or support ("" for none) and
    ``inside`` says whether it is a container (IN) rather than a support (ON).
    """

    id: str
    label: str
    layer: str = "object"
    external_id: str = ""
    room_id: str = ""
    states: tuple[tuple[str, StateValue], ...] = ()
    status: str = "visible"
    holder: str = ""
    inside: bool = False
    last_seen: float = 0.0

    @classmethod
    def from_node(cls, node: ObjectNode, holder: str = "", inside: bool = False) -> "KnownObject":
        return cls(node.id, node.label, node.layer, node.external_id, node.room_id, node.states, node.status,
                   holder, inside, node.last_seen)

    def state(self, name: str) -> Optional[StateValue]:
        return dict(self.states).get(name)

    @property
    def missing(self) -> bool:
        return self.status == MISSING


@dataclass(frozen=True)
class SubgraphText:
    """The task-relevant part of long-term memory as prompt text (GetTaskSubgraph's answer)."""

    text: str
    tokens: int
    object_ids: tuple[str, ...]


@dataclass(frozen=True)
class SkillResult:
    """Skill.Result as a record; the planner decides on ``error_code``, never on the message."""

    success: bool
    error_code: SkillCode = SkillCode.NONE
    error_message: str = ""
    distance: float = 0.0
    steps: int = 0


class MemoryAccess(Protocol):
    def objects(self) -> list[KnownObject]:
        """Every object memory holds, missing ones included (status says which)."""

    def task_subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        """The part of long-term memory the instruction needs, within a token budget."""

    def short_term(self, instruction: str, k: int) -> list[str]:
        """The top-k short-term entries for the instruction, one line each."""

    def mark_missing(self, object_id: str) -> None:
        """The robot looked and the object was not where memory said."""

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        """The robot put the object in (``inside``) or on the holder, and perception did not see it there."""

    def refresh(self) -> None:
        """Return once perception has fused what the robot sees now (called after every skill)."""


class SkillExecutor(Protocol):
    def execute(self, skill: str, object_id: str) -> SkillResult:
        """Run one skill on the robot; ``object_id`` as the Skill action takes it."""


def by_id(objects: Sequence[KnownObject]) -> dict[str, KnownObject]:
    return {o.id: o for o in objects}


def known_objects(graph: SceneGraph) -> list[KnownObject]:
    """Every object of a scene graph with its holder (also usable on a graph rebuilt from a snapshot)."""
    out = []
    for node in graph.objects():
        parent = graph.parent(node.id)
        holder = parent if parent is not None and graph.get_object(parent) is not None else ""
        inside = bool(holder) and bool(graph.relations(subject=node.id, predicate=IN, object=holder))
        out.append(KnownObject.from_node(node, holder, inside))
    return out
