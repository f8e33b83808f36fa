"""MemoryAccess and SkillExecutor over the in-process core and the embedded simulator.

The same pieces the demo wires (HomeWorld render -> Fusion -> SceneGraph, MemoryRetriever,
ShortTermMemory), so the planner runs end to end without ROS. The executor is the robot and the
memory nodes in one: after every skill it reports the state changes its own skill made to
short-term memory (vouched for: the skill succeeded), renders and fuses what the camera sees
(after Explore, every view of its look around the room), adds what each frame's graph update
says was seen, and consolidates confirmed changes into the scene graph, in the order and with
the units the nodes produce over ROS. Household changes are not reported: memory learns them
only by looking.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

from planners.images import PromptImage, camera_images
from planners.interfaces import KnownObject, SkillCode, SkillResult, SubgraphText, known_objects
from scene_graph.fusion import Fusion
from scene_graph.graph import SceneGraph
from scene_graph.long_term import STATUS, ChangeOutcome, InputOrder, apply_confirmed_change, integrate_in_order
from scene_graph.ontology import ACTION_NAMES
from scene_graph.records import MISSING, StateValue
from scene_graph.retrieval import MemoryRetriever
from scene_graph.serialize import task_subgraph
from scene_graph.short_term import ShortTermMemory, change_unit, observation_units
from sim.home.world import HomeWorld
from sim.records import Action, ActionResult


class ConfirmedChanges:
    """The scene graph as short-term memory's consolidation sink: each confirmed change goes the way
    the long-term node routes the short-term node's (:func:`scene_graph.long_term.apply_confirmed_change`)."""

    def __init__(self, graph: SceneGraph) -> None:
        self.graph = graph

    def set_object_state(self, object_id: str, state: str, value: StateValue, stamp: float) -> bool:
        return apply_confirmed_change(self.graph, object_id, state, value, stamp) is ChangeOutcome.APPLIED


class InProcessMemory:
    """Long- and short-term memory in this process; ``clock`` stamps corrections (simulated time)."""

    def __init__(self, graph: SceneGraph, short_term: ShortTermMemory, clock: Callable[[], float],
                 retriever: Optional[MemoryRetriever] = None) -> None:
        self.graph = graph
        self.stm = short_term
        self.clock = clock
        self.retriever = retriever

    def objects(self) -> list[KnownObject]:
        return known_objects(self.graph)

    def task_subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        relevant = None
        if self.retriever is not None and self.retriever.index is not None:
            relevant = lambda text: [s.node.id for s in self.retriever.text(text, k=5)]  # noqa: E731
        sub = task_subgraph(self.graph, instruction, budget_tokens=budget_tokens, relevant_ids=relevant)
        return SubgraphText(sub.text, sub.tokens, sub.object_ids)

    def short_term(self, instruction: str, k: int) -> list[str]:
        return [unit.describe() for unit, _ in self.stm.query(instruction, k)]

    def mark_missing(self, object_id: str) -> None:
        apply_confirmed_change(self.graph, object_id, STATUS, MISSING, self.clock())

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        self.graph.place_object(object_id, holder_id, inside, self.clock())

    def refresh(self) -> None:
        """Nothing to wait for: the executor fuses each frame before its skill returns."""


class HomeWorldExecutor:
    """Runs skills on a HomeWorld and keeps ``memory`` up to date with what the robot sees and does."""

    def __init__(self, world: HomeWorld, memory: InProcessMemory, fusion: Optional[Fusion] = None) -> None:
        self.world = world
        self.memory = memory
        self.fusion = fusion or world.perception.fusion(memory.graph)
        self.input = InputOrder()

    def look(self, around: bool = False) -> None:
        """Fuse the current camera frame, or every view of a turn on the spot, into long-term memory;
        what each frame's update says was seen enters short-term memory, as over ROS."""
        for frame in self.world.look_around() if around else [self.world.render()]:
            with self._observing():
                integrate_in_order(self.fusion, self.input, frame)

    def execute(self, skill: str, object_id: str) -> SkillResult:
        if skill not in ACTION_NAMES:
            return SkillResult(False, SkillCode.UNKNOWN_SKILL, f"unknown skill {skill!r}")
        result = self.world.step(Action(skill, object_id or None))
        self._report(result)  # before the frames, as the simulator bridge publishes them
        self.look(around=skill == "Explore" and result.success)
        with self._observing():  # the short-term node hears long-term memory's update of the consolidation too
            self.memory.stm.consolidate(ConfirmedChanges(self.memory.graph))
        return SkillResult(result.success, result.code, result.error, result.distance, result.steps)

    @contextmanager
    def _observing(self) -> Iterator[None]:
        """Every graph update made in the block, through the short-term node's filter
        (:func:`scene_graph.short_term.observation_units`), into short-term memory."""
        graph = self.memory.graph
        sequence = graph.sequence
        yield
        for delta in graph.deltas_since(sequence) or ():
            for unit in observation_units(delta.upserted_objects, delta.stamp):
                self.memory.stm.add(unit)

    def _report(self, result: ActionResult) -> None:
        """The skill's state changes into short-term memory as the simulator bridge and the
        short-term node pass them over ROS: under the simulator's ids, placed where each object is
        now, vouched for (the robot's own skill made them)."""
        for change, position in self.world.where_changed(result.changes):
            value = change.new if isinstance(change.new, (bool, str)) else ""  # a move's new place is its position
            self.memory.stm.add(change_unit(change.object_id, change.object_type, position or (0.0, 0.0, 0.0),
                                            change.stamp, change.state, value,
                                            change.cause.removeprefix("agent:") in ACTION_NAMES))

    def camera(self, shown: Sequence[KnownObject], max_crops: int = 2) -> list[PromptImage]:
        """The current camera view and crops of the shown objects in it, for VLM backends
        (``TaskRunner(camera=...)``, as the planner node's ``send_images``)."""
        frame = self.world.render()
        return camera_images(frame.color, frame.instance_ids, frame.external_ids, shown, max_crops)
