"""The robot of one episode in this process: the embedded simulator, fusion, long- and short-term
memory, and a way to branch all of it so every ablation starts a task from the same moment.

The episode runner only talks to :class:`Env`; ``benchmarks.suite.ros_env.RosEnv`` implements the
same members over the real nodes (branching there saves memory and the simulator, and restores
them when the branch ends).
"""
from __future__ import annotations

import copy
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from typing import ContextManager, Iterable, Iterator, Optional, Protocol, Sequence

from benchmarks.stm import TraceEvent
from inprocess.runtime import HomeWorldExecutor, InProcessMemory
from planners.interfaces import KnownObject, MemoryAccess, SkillExecutor, SkillResult
from scene_graph.embeddings import MiniLMEmbedder
from scene_graph.graph import SceneGraph
from scene_graph.serialize import whole_graph_text
from scene_graph.short_term import ShortTermMemory
from sim.home.home import Home
from sim.home.household import Household
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld, WorldMoment
from sim.perception import Perception
from sim.records import ObjectState


class Env(Protocol):
    memory: MemoryAccess
    executor: SkillExecutor

    def clock(self) -> float: ...

    def truth(self) -> list[ObjectState]:
        """Ground truth for goal checking and for grading what memory retrieved."""

    def held_id(self) -> str:
        """Memory id of the object in the robot's hand ("" for none)."""

    def short_term_ids(self) -> set[str]: ...

    def short_term_counts(self) -> tuple[int, int]:
        """Short-term memory's (hits, misses) so far."""

    def whole_graph(self) -> str: ...

    def floors_visited(self) -> set[int]:
        """Floors of the rooms the robot passed since the task began, and the one it is on now."""

    def begin_task(self, needed_types: Sequence[str]) -> None:
        """A new task: exploration starts afresh; the needed types are short-term queries."""

    def advance(self, seconds: float) -> None: ...

    def tour(self) -> None:
        """Memory building: see :func:`tour`."""

    def branch(self) -> ContextManager["Env"]:
        """An Env at this moment whose actions leave this one as it was once the block ends."""


def resident_ids(unit_ids: set[str], objects: Iterable[KnownObject]) -> set[str]:
    """Memory ids of the objects with a unit in the short-term buffer, whose units name objects by
    the simulator's ids when they have one (as the state changes it receives do); a source id that
    two objects share names neither (``SceneGraph.resolve``)."""
    objects = list(objects)
    by_source = Counter(o.external_id for o in objects if o.external_id)
    return {o.id for o in objects if o.id in unit_ids
            or (o.external_id in unit_ids and by_source[o.external_id] == 1)}


def tour(home: Home, executor: SkillExecutor) -> None:
    """Visit every piece of furniture, opening what opens to see inside (and closing it again)."""
    for e in sorted((e for e in home if e.kind.layer == "furniture"), key=lambda e: (e.room, e.object_id)):
        if executor.execute("GoToObject", e.object_id).success and e.kind.openable and not e.states.get("open"):
            if executor.execute("OpenObject", e.object_id).success:
                executor.execute("CloseObject", e.object_id)


def visited_floors(world: HomeWorld) -> set[int]:
    home, pose = world.home, world.agent.pose
    return {home.layout.floor_of(r) for r in world.agent.visited_rooms} | {home.floor_at(pose.x, pose.y)}


def named_truth(world: HomeWorld) -> list[ObjectState]:
    """The simulator's truth under the names memory knows objects by (tracks under perception
    models that reissue ids), so that goals and retrieval are graded against memory's names."""
    name = world.perception.name_of
    return [replace(o, object_id=name(o.object_id), parents=tuple(map(name, o.parents)),
                    contents=tuple(map(name, o.contents))) for o in world.object_states()]


def held_node(world: HomeWorld, objects: Iterable[KnownObject], grasped: str = "") -> str:
    """Memory id of the object in the robot's hand ("" for none): the node whose name resolves to
    it, else the node still named ``grasped`` (the name the robot picked it up by, see
    :class:`Grasp`), else ``grasped`` itself: memory has no node for it, the hand is full all the same."""
    if not world.agent.held:
        return ""
    objects = list(objects)
    return next((o.id for o in objects if world.perception.resolve(o.external_id) == world.agent.held),
                next((o.id for o in objects if grasped and o.external_id == grasped), grasped))


class Grasp:
    """The name of what the robot last picked up and has not put down. A robot knows what is in its
    hand even when memory has lost track of it (its node folded into another, its track reissued
    while it was out of view); a task that starts with the hand full must know to free it."""

    def __init__(self) -> None:
        self.name = ""

    def note(self, skill: str, object_id: str, result: SkillResult) -> None:
        if result.success and skill == "PickupObject":
            self.name = object_id
        elif result.success and skill == "PutObject":
            self.name = ""


def copy_world(world: HomeWorld) -> HomeWorld:
    """An independent copy of a world (the renderer is rebuilt: its ray-casting scene cannot be copied)."""
    return WorldMoment(world.home, world.household, world.perception, world.agent, world.clock).world()


class _Observing:
    """The executor, recording what the camera saw after each skill for the replacement-policy sweep
    (the executor itself fills short-term memory, as the short-term node does over ROS)."""

    def __init__(self, env: "InProcessEnv") -> None:
        self.env = env
        self.inner = HomeWorldExecutor(env.world, env.memory)

    def execute(self, skill: str, object_id: str) -> SkillResult:
        before = self.env.world.clock
        result = self.inner.execute(skill, object_id)
        self.env.grasp.note(skill, object_id, result)
        for node in self.env.memory.graph.objects(layer="object", include_missing=False):
            if node.last_seen >= before:
                self.env.record(TraceEvent("observe", node.id, node.label))
        return result


class InProcessEnv:
    """One home with its household, a toured-or-not memory, and the trace of short-term traffic."""

    def __init__(self, world: HomeWorld, graph: SceneGraph, stm: ShortTermMemory,
                 trace: Optional[list[TraceEvent]] = None) -> None:
        self.world = world
        self.memory = InProcessMemory(graph, stm, lambda: world.clock)
        self.executor = _Observing(self)
        self.trace = trace  # None in forks: only the main timeline feeds the policy sweep
        self.grasp = Grasp()

    @classmethod
    def start(cls, home: Home, household_seed: int, stm_capacity: int = 10, policy: str = "fifo_merge",
              perception: str = "oracle") -> "InProcessEnv":
        world = HomeWorld(home, household=Household(seed=household_seed),
                          perception=Perception.named(perception, household_seed))
        graph = SceneGraph()
        graph.set_layout(*world_layout(world))
        return cls(world, graph, ShortTermMemory(stm_capacity, policy=policy, embedder=MiniLMEmbedder()), [])

    def record(self, event: TraceEvent) -> None:
        if self.trace is not None:
            self.trace.append(event)

    def clock(self) -> float:
        return self.world.clock

    def truth(self) -> list[ObjectState]:
        return named_truth(self.world)

    def held_id(self) -> str:
        return held_node(self.world, self.memory.objects(), self.grasp.name)

    def short_term_ids(self) -> set[str]:
        return resident_ids({u.object_id for u in self.memory.stm.units()}, self.memory.objects())

    def short_term_counts(self) -> tuple[int, int]:
        return self.memory.stm.hits, self.memory.stm.misses

    def whole_graph(self) -> str:
        return whole_graph_text(self.memory.graph)

    def floors_visited(self) -> set[int]:
        return visited_floors(self.world)

    def begin_task(self, needed_types: Sequence[str]) -> None:
        self.world.agent.visited_rooms = set()
        self.world.agent.trail = []
        for object_type in needed_types:
            self.record(TraceEvent("need", object_type, object_type))

    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)

    def tour(self) -> None:
        tour(self.world.home, self.executor)

    @contextmanager
    def branch(self) -> Iterator["InProcessEnv"]:
        """An independent copy: this env is untouched by construction."""
        branch = InProcessEnv(copy_world(self.world), copy.deepcopy(self.memory.graph), copy.deepcopy(self.memory.stm))
        branch.grasp.name = self.grasp.name
        yield branch

