"""The robot of one episode through the real ROS 2 nodes: the same members as ``env.InProcessEnv``.

The simulator bridge (around the episode's world) and the long- and short-term memory nodes run
in this process, composed as ``embodied-memory up`` composes them, on a DDS domain of their own.
The benchmark reaches them only as the planner node does: memory through its services and graph
updates (``RosMemory``), skills through the ``execute_skill`` action (``RosSkillExecutor``).
Ground truth for grading, and the household's time between tasks, come from the simulator itself.

Branching (one run per ablation from the same moment) saves long-term memory through its manage
service and copies the simulator and the short-term buffer; when the branch ends all three are
restored. Settings that make this compute what the in-process env computes: frames only after
skills, with simulated time still between them (``rate_hz`` 0); the household's changes not
reported (memory learns them by looking, as in process); no free-text index (generated
instructions name object types); consolidation every 50 ms; and after each skill a wait until all
it set off went through the nodes (:meth:`RosEnv.settle`, which counts messages rather than time).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.publisher import Publisher

from benchmarks.stm import TraceEvent
from benchmarks.suite.env import Grasp, copy_world, held_node, named_truth, resident_ids, tour, visited_floors
from embodied_memory.srv import GetSnapshot, GetTaskSubgraph, ManageMemory, QueryShortTerm
from memory_nodes.long_term_node import LongTermMemoryNode
from memory_nodes.planner_adapters import CallFailed, RosMemory, RosSkillExecutor, call_service
from memory_nodes.short_term_node import ShortTermMemoryNode
from memory_nodes.sim_bridge_node import SimBridge
from memory_nodes.tools import stack
from planners.interfaces import SkillResult
from sim.home.home import Home
from sim.home.household import Household
from sim.home.world import HomeWorld
from sim.perception import Perception
from sim.records import ObjectState

SERVICE_TIMEOUT_S = 30.0  # a busy 2-core machine running two episodes
SKILL_TIMEOUT_S = 60.0
REFRESH_TIMEOUT_S = 1.0  # the planner's wait for a missing-object correction to come back
SETTLE_TIMEOUT_S = 10.0
_BRANCH = "branch"


def _publisher(node: Node, topic: str) -> Publisher:
    """``node``'s publisher on ``topic`` (relative to its namespace)."""
    name = node.resolve_topic_name(topic)
    return next(p for p in node.publishers if p.topic_name == name)


def domain_id() -> int:
    """1..100 from this process id, never the domain the process itself was given (the tests')."""
    candidate = 1 + (os.getpid() + 50) % 100
    return candidate if str(candidate) != os.environ.get("ROS_DOMAIN_ID") else 1 + candidate % 100


class _Memory(RosMemory):
    """RosMemory with nothing left for the task runner's refresh to wait for: the executor already
    waited until memory took in all the skill set off (:meth:`RosEnv.settle`), as the in-process
    executor fuses each frame before its skill returns."""

    def refresh(self) -> None:
        pass


class _Observing:
    """The executor, recording what the camera saw after each skill for the replacement-policy sweep
    (short-term memory itself is fed by the short-term node from the graph updates)."""

    def __init__(self, env: "RosEnv", inner: RosSkillExecutor) -> None:
        self.env = env
        self.inner = inner

    def execute(self, skill: str, object_id: str) -> SkillResult:
        before = self.env.clock()
        result = self.inner.execute(skill, object_id)
        self.env.grasp.note(skill, object_id, result)
        self.env.settle()
        if self.env.trace is not None:
            for o in self.env.memory.objects():
                if o.layer == "object" and not o.missing and o.last_seen >= before:
                    self.env.record(TraceEvent("observe", o.id, o.label))
        return result


class RosEnv:
    """One home with its household behind the simulator bridge, and memory in the nodes."""

    def __init__(self, nodes: stack.Stack, bridge: SimBridge, client: Node, memory_dir: Path,
                 stm_capacity: int) -> None:
        self.nodes = nodes
        self.bridge = bridge
        self.memory_dir = memory_dir
        self.stm_capacity = stm_capacity
        self.trace: Optional[list[TraceEvent]] = []  # None inside a branch: only the main timeline feeds the sweep
        self._lost = (0, 0, 0, 0, 0, 0)  # messages that never arrived (settle)
        group = MutuallyExclusiveCallbackGroup()
        self.memory = _Memory(client, group, SERVICE_TIMEOUT_S, REFRESH_TIMEOUT_S)
        self.executor = _Observing(self, RosSkillExecutor(client, group, SERVICE_TIMEOUT_S, SKILL_TIMEOUT_S))
        self.grasp = Grasp()
        self._snapshot = client.create_client(GetSnapshot, "memory/get_snapshot", callback_group=group)
        self._manage = client.create_client(ManageMemory, "memory/manage", callback_group=group)
        self._subgraph = client.create_client(GetTaskSubgraph, "memory/task_subgraph", callback_group=group)
        self._recent = client.create_client(QueryShortTerm, "memory/short_term/query", callback_group=group)

    @classmethod
    def start(cls, home: Home, household_seed: int, stm_capacity: int = 10, policy: str = "fifo_merge",
              perception: str = "oracle") -> "RosEnv":
        world = HomeWorld(home, household=Household(seed=household_seed),
                          perception=Perception.named(perception, household_seed))
        memory_dir = Path(tempfile.mkdtemp(prefix="benchmark-nodes-"))
        nodes = stack.start(["long_term_memory", "short_term_memory"], domain_id=domain_id(), overrides={
            "long_term_memory": {"memory_dir": str(memory_dir), "load_on_start": False, "snapshot_interval_s": 0.0,
                                 "text_index": "none", "marker_rate_hz": 0.0,
                                 **world.perception.memory_parameters()},
            "short_term_memory": {"capacity": stm_capacity, "policy": policy, "consolidate_interval_s": 0.05}})
        try:
            params = stack.parameters_for("sim_bridge", stack.read_params(stack.DEFAULT_PARAMS),
                                          {"rate_hz": 0.0, "report_household": False, "household": True,
                                           "perception": perception})
            bridge = SimBridge(world=world, context=nodes.context, parameter_overrides=params)
            nodes.nodes["sim_bridge"] = bridge
            client = Node("benchmark", context=nodes.context)
            nodes.nodes["benchmark"] = client
            env = cls(nodes, bridge, client, memory_dir, stm_capacity)
            for node in (bridge, client):
                nodes.spinner.add(node)
            env._wait_for_layout()
            env._wait_for_matches()
            env.settle(timeout_s=2.0, warn=False)  # what went before the matches (the layout's update) is lost
        except BaseException:
            nodes.shutdown()
            shutil.rmtree(memory_dir, ignore_errors=True)
            raise
        return env

    def close(self) -> None:
        self.nodes.shutdown()
        shutil.rmtree(self.memory_dir, ignore_errors=True)

    def __enter__(self) -> "RosEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_for_layout(self) -> None:
        """Until memory has the rooms the bridge publishes (latched), so room ids match from the start."""
        deadline = time.monotonic() + SERVICE_TIMEOUT_S
        while time.monotonic() < deadline:
            if call_service(self._snapshot, GetSnapshot.Request(), SERVICE_TIMEOUT_S).layout.rooms:
                return
            time.sleep(0.1)
        raise CallFailed("long-term memory never received the simulator's layout")

    def _wait_for_matches(self) -> None:
        """Until every publisher whose messages :meth:`settle` counts reaches its subscribers, so that
        none is lost to discovery."""
        ltm, stm, bridge = self._long_term_node(), self._short_term_node(), self.bridge
        topics = ((bridge, "camera/color/image_raw", 1), (bridge, "camera/depth/image_raw", 1),
                  (bridge, "camera/color/camera_info", 2), (bridge, "camera/instances", 1), (bridge, "odom", 1),
                  (bridge, "state_changes", 1), (ltm, "memory/graph_updates", 2), (stm, "memory/confirmed_changes", 1))
        expected = [(_publisher(node, topic), n) for node, topic, n in topics]
        deadline = time.monotonic() + SERVICE_TIMEOUT_S
        while any(pub.get_subscription_count() < n for pub, n in expected):
            if time.monotonic() > deadline:
                raise CallFailed("the memory nodes never discovered each other's topics")
            time.sleep(0.01)

    def _counts(self) -> tuple[int, ...]:
        """Messages sent and taken in along the pipeline, upstream first."""
        b, ltm, stm = self.bridge.traffic(), self._long_term_node().traffic(), self._short_term_node().traffic()
        return (b["frames_published"], ltm["frames_handled"], b["changes_published"], stm["changes_received"],
                ltm["updates_published"], stm["updates_received"], stm["inputs_consolidated"],
                stm["consolidated"], ltm["confirmed_handled"], self._long_term_node().memory.graph.sequence,
                self.memory.last_sequence)

    @staticmethod
    def _backlog(c: tuple[int, ...]) -> tuple[int, ...]:
        """What is on its way: frame sets not yet fused, state changes and graph updates not yet in
        short-term memory, its input not yet consolidated, confirmed changes not yet applied, graph
        updates not yet in the planner's view."""
        return c[0] - c[1], c[2] - c[3], c[4] - c[5], c[3] + c[5] - c[6], c[7] - c[8], c[9] - c[10]

    def settle(self, timeout_s: float = SETTLE_TIMEOUT_S, warn: bool = True) -> None:
        """Until all the last skill set off went through the nodes: nothing on its way, and no count
        moved between two looks 5 ms apart.

        Camera topics are best effort: messages still missing after ``timeout_s`` are taken as lost
        (with a warning) and not waited for again; one that turns up later is no longer lost."""
        deadline, previous = time.monotonic() + timeout_s, None
        while True:
            counts = self._counts()
            backlog = self._backlog(counts)
            self._lost = tuple(min(lost, max(now, 0)) for lost, now in zip(self._lost, backlog))
            if counts == previous and backlog == self._lost:
                return
            if time.monotonic() > deadline:
                self._lost = backlog[:3] + (0,) + backlog[4:]  # consolidation is never lost, only late
                if warn:
                    self.bridge.get_logger().warning(f"memory did not settle within {timeout_s:g} s "
                                                     f"(backlog {backlog}); going on")
                return
            previous = counts
            time.sleep(0.005)

    # ------------------------------------------------------------------ Env
    def record(self, event: TraceEvent) -> None:
        if self.trace is not None:
            self.trace.append(event)

    def clock(self) -> float:
        return self.bridge.with_world(lambda w: w.clock)

    def truth(self) -> list[ObjectState]:
        return self.bridge.with_world(named_truth)

    def held_id(self) -> str:
        objects = self.memory.objects()
        return self.bridge.with_world(lambda w: held_node(w, objects, self.grasp.name))

    def short_term_ids(self) -> set[str]:
        response = call_service(self._recent, QueryShortTerm.Request(k=self.stm_capacity), SERVICE_TIMEOUT_S)
        return resident_ids({u.object_id for u in response.units}, self.memory.objects())

    def short_term_counts(self) -> tuple[int, int]:
        return self._short_term_node().counts()

    def whole_graph(self) -> str:
        return call_service(self._subgraph, GetTaskSubgraph.Request(whole_graph=True), SERVICE_TIMEOUT_S).text

    def floors_visited(self) -> set[int]:
        return self.bridge.with_world(visited_floors)

    def begin_task(self, needed_types: Sequence[str]) -> None:
        def forget_visits(world: HomeWorld) -> None:
            world.agent.visited_rooms = set()
            world.agent.trail = []

        self.bridge.with_world(forget_visits)
        for object_type in needed_types:
            self.record(TraceEvent("need", object_type, object_type))

    def advance(self, seconds: float) -> None:
        self.bridge.advance(seconds)

    def tour(self) -> None:
        tour(self.bridge.with_world(lambda w: w.home), self.executor)

    @contextmanager
    def branch(self) -> Iterator["RosEnv"]:
        """Run on the same nodes, then put memory, simulator and short-term buffer back as they were."""
        self._call_manage(ManageMemory.Request.SAVE)
        world = self.bridge.with_world(copy_world)
        short_term = self._short_term_node().copy_memory()
        trace, self.trace = self.trace, None
        grasped = self.grasp.name
        try:
            yield self
        finally:
            self.trace = trace
            self.grasp.name = grasped
            self.bridge.replace_world(world)
            self._call_manage(ManageMemory.Request.LOAD)
            self.settle()
            self._short_term_node().set_memory(short_term)

    def _call_manage(self, operation: int) -> Any:
        # Not resent: a second load arriving late would restart memory's input under the next skill.
        return call_service(self._manage, ManageMemory.Request(operation=operation, name=_BRANCH), SERVICE_TIMEOUT_S,
                            resend=False)

    def _long_term_node(self) -> LongTermMemoryNode:
        node = self.nodes.nodes["long_term_memory"]
        assert isinstance(node, LongTermMemoryNode)
        return node

    def _short_term_node(self) -> ShortTermMemoryNode:
        node = self.nodes.nodes["short_term_memory"]
        assert isinstance(node, ShortTermMemoryNode)
        return node
