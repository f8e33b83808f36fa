"""Memories and robots for planner tests: a generated home toured by the robot, and plain fakes."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from inprocess.runtime import HomeWorldExecutor, InProcessMemory
from planners.interfaces import KnownObject, SkillCode, SkillResult, SubgraphText
from scene_graph.goals import parse_goal
from scene_graph.graph import SceneGraph
from scene_graph.short_term import ShortTermMemory
from sim.home.generate import generate_home
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld
from sim.tasks import holds

SEED = 3  # a kitchen, bedroom and living room; the tour sees a tomato in the fridge, mugs, a book, lamps
STOCK = ("Apple", "Bread", "Knife", "Mug", "Potato", "FloorLamp", "Tomato")


class WordEmbedder:
    """Bag-of-words vectors: short-term retrieval without loading MiniLM."""

    dim = 64

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


def new_home(seed: int = SEED) -> tuple[HomeWorld, InProcessMemory, HomeWorldExecutor]:
    """A generated home and a robot whose memory holds nothing yet but the floor plan."""
    world = HomeWorld(generate_home(seed, n_rooms=3, main_kind="Kitchen", required_types=STOCK))
    graph = SceneGraph()
    graph.set_layout(*world_layout(world))
    memory = InProcessMemory(graph, ShortTermMemory(10, embedder=WordEmbedder()), lambda: world.clock)
    return world, memory, HomeWorldExecutor(world, memory)


def toured_home(seed: int = SEED) -> tuple[HomeWorld, InProcessMemory, HomeWorldExecutor]:
    """The robot visits every piece of furniture (opening and closing what opens), building memory."""
    world, memory, robot = new_home(seed)
    furniture = sorted((e for e in world.home if e.kind.layer == "furniture"), key=lambda e: (e.room, e.object_id))
    for e in furniture:
        if robot.execute("GoToObject", e.object_id).success and e.kind.openable and not e.states.get("open"):
            if robot.execute("OpenObject", e.object_id).success:
                robot.execute("CloseObject", e.object_id)
    return world, memory, robot


def goal_holds(world: HomeWorld, goal: str) -> bool:
    conditions, problems = parse_goal(goal)
    assert conditions and not problems
    return all(holds(c, world.object_states()) for c in conditions)


@dataclass
class FakeMemory:
    """A memory of a few objects that records every call that would change it."""

    known: list[KnownObject]
    calls: list[str] = field(default_factory=list)

    def objects(self) -> list[KnownObject]:
        return list(self.known)

    def task_subgraph(self, instruction: str, budget_tokens: int) -> SubgraphText:
        lines = [f"{{name: {o.id}, type: {o.label}}}" for o in self.known]
        return SubgraphText("\n".join(lines), 10 * len(lines), tuple(o.id for o in self.known))

    def short_term(self, instruction: str, k: int) -> list[str]:
        return []

    def mark_missing(self, object_id: str) -> None:
        self.calls.append(f"mark_missing {object_id}")

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        self.calls.append(f"placed {object_id} {'in' if inside else 'on'} {holder_id}")

    def refresh(self) -> None:
        self.calls.append("refresh")


@dataclass
class FakeRobot:
    """Succeeds at everything except the scripted failures {(skill, object_id): (code, message)}."""

    failures: dict = field(default_factory=dict)
    done: list[tuple[str, str]] = field(default_factory=list)
    on_execute: Optional[object] = None

    def execute(self, skill: str, object_id: str) -> SkillResult:
        self.done.append((skill, object_id))
        if self.on_execute is not None:
            self.on_execute()
        code, message = self.failures.get((skill, object_id), (SkillCode.NONE, ""))
        return SkillResult(code == SkillCode.NONE, code, message)


KITCHEN = [
    KnownObject("obj_0001", "Fridge", "furniture", "Fridge|1", "room_0", (("open", False),)),
    KnownObject("obj_0002", "CounterTop", "furniture", "CounterTop|1", "room_0"),
    KnownObject("obj_0003", "Apple", "object", "Apple|1", "room_0", holder="obj_0002"),
    KnownObject("obj_0004", "Knife", "object", "Knife|1", "room_0", holder="obj_0002"),
    KnownObject("obj_0005", "Egg", "object", "Egg|1", "room_0", holder="obj_0001", inside=True),
    KnownObject("obj_0006", "FloorLamp", "furniture", "FloorLamp|1", "room_0"),
    KnownObject("obj_0007", "Microwave", "furniture", "Microwave|1", "room_0"),
    KnownObject("obj_0008", "Bread", "object", "Bread|1", "room_0", holder="obj_0002"),
]
