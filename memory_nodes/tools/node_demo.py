"""The demo through the real nodes: what memory buys a robot, shown on the embedded simulator.

With memory: the robot tours a home (Explore each room, then a closer look at each piece of
furniture, opening what opens) while the long-term node fuses the camera stream; meanwhile a
household member moves something in front of it. Then comes "this morning" (the robot is told to
put something away) and a move while it is elsewhere, which leaves memory wrong. The planner node
then carries out tasks chosen where memory matters (:mod:`memory_nodes.tools.demo_story`). Without
memory: a fresh stack whose memory starts empty carries out the same tasks from the same moment of
the same world. Every step goes over ROS 2 topics, services and actions; the harness reads the
simulator's ground truth only to stage the household's moves and to grade.

Each run lives in a process of its own whose output (the nodes' logs) goes to a file; the parent
shows progress bars from what the run reports.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import cv2
import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future
from tqdm import tqdm

from embodied_memory.action import ExecuteTask, Skill
from embodied_memory.srv import GetSnapshot, GetTaskSubgraph, ManageMemory
from memory_nodes import calls
from memory_nodes.conversions import delta_from_msg
from memory_nodes.planner_adapters import graph_from_snapshot
from memory_nodes.tools import stack
from memory_nodes.tools.demo_pictures import GrowthRecorder, evenly, save_growth_strip, save_paths_map
from memory_nodes.tools.demo_story import (
    FINDABLE_M2,
    MEMORY_WRONG,
    ChosenTask,
    Morning,
    Move,
    Story,
    choose_tasks,
    footprint,
    hidden,
    on_surfaces,
    stash,
    surfaces,
)
from planners.interfaces import KnownObject, known_objects
from scene_graph.descriptions import split_camel as word
from scene_graph.goals import parse_goal
from scene_graph.ontology import OBJECT_TYPES
from sim.home.generate import generate_home
from sim.home.household import Household
from sim.home.meshes import type_colour
from sim.home.world import HomeWorld, WorldMoment
from sim.records import Action
from sim.tasks import holds
from sim.topdown import draw_map, map_frame

log = logging.getLogger(__name__)
TIMEOUT = 30.0
WARM_UP_TIMEOUT = 120.0  # the first text query loads the embedding model: long on a busy 2-core machine
SETTLE_TIMEOUT = 10.0
PERCEPTION_NOTE = {"oracle": "oracle (the simulator's perfect instance masks)",
                   "realistic": "realistic (a detector's misses, confusions and false positives, bled masks, "
                                "depth noise, odometry drift, reissued track ids)",
                   "harsh": "harsh (realistic's error rates doubled)"}


@dataclass
class TaskRun:
    instruction: str
    success: bool = False
    skills: int = 0
    replans: int = 0
    travel_m: float = 0.0
    seconds: float = 0.0
    error: str = ""


@dataclass
class NodeDemoReport:
    rooms: int = 0
    perception: str = "realistic"
    explore_skills: int = 0
    explore_travel_m: float = 0.0
    objects_in_memory: int = 0
    relations: int = 0
    story: Story = field(default_factory=Story)
    tasks: list[ChosenTask] = field(default_factory=list)
    with_memory: list[TaskRun] = field(default_factory=list)
    without_memory: list[TaskRun] = field(default_factory=list)
    repairs: dict[int, str] = field(default_factory=dict)  # task index -> how the closed loop repaired memory
    memory_dir: Optional[Path] = None
    map_png: Optional[Path] = None
    log_files: list[Path] = field(default_factory=list)
    task_path: list[tuple[float, float]] = field(default_factory=list)  # with memory, tasks only
    growth: list[Any] = field(default_factory=list)  # memory's states during the run (MemoryState)
    pictures: list[Path] = field(default_factory=list)
    moment: bytes = b""  # the pickled WorldMoment the tasks start from


# ----------------------------------------------------------------------------- progress
class Progress:
    """The child's side of the progress bars: phases and steps, sent to the parent."""

    def __init__(self, messages: Any) -> None:
        self._messages = messages

    def phase(self, name: str, total: int) -> None:
        self._messages.put(("phase", name, total))

    def step(self, note: str = "") -> None:
        self._messages.put(("step", note))


def _child(function: Callable[..., Any], args: tuple, messages: Any, inbox: Any, log_file: Path,
           verbose: bool, domain_id: int) -> None:
    """Run ``function(*args, inbox, progress)`` on ROS domain ``domain_id``, with this process's output
    (the nodes' logs) in ``log_file``."""
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)  # before rclpy starts: the two runs must not hear each other
    if not verbose:
        sink = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        os.close(sink)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
                        force=True)
    try:
        messages.put(("done", function(*args, inbox, Progress(messages))))
    except BaseException:  # noqa: BLE001 - the parent reports it; a child has nobody else to tell
        messages.put(("error", traceback.format_exc()))


class ChildRun:
    """``function(*args, inbox, progress)`` in a fresh process; :meth:`send` puts into its inbox and
    :meth:`follow` shows its progress as bars until it returns.

    A process of its own per run: a second stack in the same process inherited DDS state from the
    first (goals answered by the dead planner), and a fresh process is what a user gets. Both runs'
    processes start at once, so the second one's nodes load while the first one tours."""

    def __init__(self, function: Callable[..., Any], *args: Any, log_file: Path, domain_id: int,
                 verbose: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self.log_file = log_file
        self._messages, self._inbox = context.Queue(), context.Queue()
        self._process = context.Process(target=_child, daemon=True, args=(
            function, args, self._messages, self._inbox, log_file, verbose, domain_id))
        self._process.start()

    def send(self, item: Any) -> None:
        self._inbox.put(item)

    def follow(self) -> Any:
        bar: Optional[tqdm] = None
        try:
            while True:
                try:
                    kind, *payload = self._messages.get(timeout=1.0)
                except queue.Empty:
                    if not self._process.is_alive():
                        raise RuntimeError(f"the demo's run ended without a result (exit code "
                                           f"{self._process.exitcode}); see {self.log_file}") from None
                    continue
                if kind == "phase":
                    if bar is not None:
                        bar.close()
                    bar = tqdm(total=payload[1], desc=payload[0], unit="step", dynamic_ncols=True,
                               bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}{postfix}")
                elif kind == "step" and bar is not None:
                    bar.set_postfix_str(payload[0], refresh=False)
                    bar.update(1)
                elif kind == "error":
                    raise RuntimeError(f"the demo failed (the nodes' log: {self.log_file}):\n{payload[0]}")
                elif kind == "done":
                    return payload[0]
        finally:
            if bar is not None:
                bar.close()

    def stop(self) -> None:
        self._process.join(timeout=30.0)
        if self._process.is_alive():
            self._process.kill()


# ----------------------------------------------------------------------------- the user's side
class DemoClient:
    """The user's side of the stack: skill and task action clients and the memory services."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node("demo_client", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.skills = ActionClient(self.node, Skill, "execute_skill")
        self.tasks = ActionClient(self.node, ExecuteTask, "execute_task")

    def spin_until(self, done: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def _wait(self, future: Future, timeout: float) -> bool:
        return self.spin_until(future.done, timeout)

    def _goal(self, client: ActionClient, goal: Any, timeout: float) -> Any:
        calls.ready_or_not(lambda t: client.wait_for_server(timeout_sec=t), TIMEOUT)
        handle = calls.send_goal(client, goal, self._wait, TIMEOUT)
        if handle is None:
            raise RuntimeError(f"no {client._action_name} action server answered")
        if not handle.accepted:
            raise RuntimeError(f"{client._action_name} refused the goal")
        result = calls.goal_result(handle, self._wait, timeout)
        if result is None:
            raise RuntimeError(f"{client._action_name} did not finish in {timeout:.0f} s")
        return result.result

    def skill(self, name: str, object_id: str = "") -> Skill.Result:
        return self._goal(self.skills, Skill.Goal(skill=name, object_id=object_id), TIMEOUT)

    def task(self, instruction: str, goal: str = "") -> ExecuteTask.Result:
        conditions = [goal] if goal else []
        return self._goal(self.tasks, ExecuteTask.Goal(instruction=instruction, goal_conditions=conditions), 600.0)

    def call(self, srv_type: Any, service: str, timeout: float = TIMEOUT, **fields: Any) -> Any:
        client = self.node.create_client(srv_type, service)
        try:
            calls.ready_or_not(lambda t: client.wait_for_service(timeout_sec=t), timeout)
            response = calls.call(client, srv_type.Request(**fields), self._wait, timeout)
            if response is None:
                raise RuntimeError(f"no {service} service answered")
            return response
        finally:
            self.node.destroy_client(client)

    def __enter__(self) -> "DemoClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class Robot:
    """One running stack and its client, as the demo's harness uses them."""

    def __init__(self, running: stack.Stack, client: DemoClient) -> None:
        self.running, self.client = running, client
        self.bridge: Any = running.nodes["sim_bridge"]
        self._memory_node: Any = running.nodes["long_term_memory"]
        self._lost = 0  # camera frame sets taken as lost (best-effort topics)

    def world(self, use: Callable[[HomeWorld], Any]) -> Any:
        return self.bridge.with_world(use)

    def settle(self) -> None:
        """Until memory has handled every frame the last skill published (those still missing after
        a generous limit are taken as lost and not waited for again)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            backlog = self.bridge.traffic()["frames_published"] - self._memory_node.traffic()["frames_handled"]
            if backlog <= self._lost:
                self._lost = max(backlog, 0)
                return
            if time.monotonic() > deadline:
                self._lost = backlog
                return
            time.sleep(0.01)

    def skill(self, name: str, object_id: str = "") -> bool:
        success = bool(self.client.skill(name, object_id).success)
        self.settle()
        return success

    def objects(self) -> list[KnownObject]:
        response = self.client.call(GetSnapshot, "memory/get_snapshot")
        return known_objects(graph_from_snapshot(delta_from_msg(response.snapshot), response.layout))

    def warm_up(self) -> None:
        """One text query, so that loading the embedding model is not charged to the first task."""
        self.client.call(GetTaskSubgraph, "memory/task_subgraph", timeout=WARM_UP_TIMEOUT,
                         instruction="warm-up", budget_tokens=100)

    def run(self, task: ChosenTask, path: list[tuple[float, float]]) -> TaskRun:
        """Carry out ``task``; its path is added to ``path``. Success is the planner's and the truth's."""
        def begin(world: HomeWorld) -> float:
            # Each task explores afresh, as the benchmark's do: Explore's "rooms visited" is not memory.
            world.agent.visited_rooms = set()
            world.agent.trail = [world.agent.trail[-1]] if world.agent.trail else []
            return world.agent.distance

        before = self.world(begin)
        result = self.client.task(task.instruction, task.goal)
        self.settle()
        conditions, _ = parse_goal(task.goal)
        reached = self.world(lambda w: all(holds(c, w.object_states()) for c in conditions))
        path += self.world(lambda w: list(w.agent.trail))
        return TaskRun(task.instruction, bool(result.success) and reached, result.steps, result.replans,
                       self.world(lambda w: w.agent.distance) - before, result.duration_s, result.error_message)


def _start(seed: int, rooms: int, perception: str, memory_dir: Path, name: str) -> stack.Stack:
    # rate_hz 0: frames after skills only, and simulated time stands still between them (reproducible,
    # and no CPU spent rendering a robot that stands still).
    return stack.start(["sim_bridge", "long_term_memory", "short_term_memory", "planner"], overrides={
        "sim_bridge": {"seed": seed, "rooms": rooms, "rate_hz": 0.0, "perception": perception},
        "long_term_memory": {"memory_dir": str(memory_dir), "memory_name": name, "load_on_start": False},
        "planner": {"service_timeout_s": TIMEOUT}})


# ----------------------------------------------------------------------------- the story
def _entity(world: HomeWorld, o: KnownObject) -> Any:
    """The simulator's object behind a memory node (None for one perception made up)."""
    truth = world.perception.resolve(o.external_id)
    return world.home[truth] if truth and truth in world.home.entities else None


def _truly_inside(world: HomeWorld, o: KnownObject, objects: list[KnownObject]) -> bool:
    """Whether the simulator agrees that ``o`` is inside the container memory puts it in."""
    holder = next((h for h in objects if h.id == o.holder), None)
    e, box = _entity(world, o), _entity(world, holder) if holder is not None else None
    return e is not None and box is not None and box.object_id in world.home.ancestors(e.object_id)


def _household_move(robot: Robot, household: Household, thing: KnownObject, dest: KnownObject) -> bool:
    """A household member puts ``thing`` on ``dest`` in the simulator (False when it cannot)."""
    def move(world: HomeWorld) -> bool:
        e, host = _entity(world, thing), _entity(world, dest)
        return e is not None and host is not None and household.move_to(world, household.members[0], e, host)
    return bool(robot.world(move))


def memory_knows(objects: list[KnownObject], label: str, holder_label: str) -> bool:
    """Whether memory holds one ``label`` (not missing), on or in a ``holder_label``."""
    by_id = {o.id: o for o in objects}
    found = [o for o in objects if o.label == label and not o.missing]
    return len(found) == 1 and found[0].holder in by_id and by_id[found[0].holder].label == holder_label


def _watch_a_move(robot: Robot, household: Household, here: KnownObject, used: list[str]) -> Optional[Move]:
    """At ``here``: someone moves an object from it to another surface of the room, in front of the
    robot, which looks at the place it left and then at where it went. The move counts when memory
    followed it (perception may have missed it); the object is ``used`` either way."""
    objects = robot.objects()
    by_id = {o.id: o for o in objects}
    on_here = [o for o in on_surfaces(objects, used)
               if by_id[o.holder].label == here.label and by_id[o.holder].room_id == here.room_id]
    for thing in on_here:
        for dest in (s for s in surfaces(objects) if s.room_id == here.room_id and s.label != here.label):
            if _household_move(robot, household, thing, dest):
                used.append(thing.label)
                robot.skill("GoToObject", here.external_id or here.label)
                robot.skill("GoToObject", dest.external_id or dest.label)
                if not memory_knows(robot.objects(), thing.label, dest.label):
                    return None
                return Move(household.members[0], thing.id, thing.label, here.label, dest.id, dest.label, True)
    return None


def tour(robot: Robot, rooms: int, household: Household, used: list[str],
         progress: Progress) -> tuple[int, Optional[Move]]:
    """Visit every room, then look closer at each piece of furniture memory saw, opening what opens.
    At pieces with something on it that fits elsewhere in the room, a household member moves that
    thing while the robot watches, until memory followed one move. Returns (skills, that move)."""
    progress.phase("tour: exploring the rooms", rooms)
    count = 0
    for _ in range(rooms):
        count += 1
        robot.skill("Explore")
        progress.step()
    furniture = sorted((o for o in robot.objects() if o.layer == "furniture" and not o.missing),
                       key=lambda o: (o.room_id, o.label, o.id))
    progress.phase("tour: a closer look at each piece of furniture", len(furniture))
    watched: Optional[Move] = None
    for piece in furniture:
        count += 1
        note = piece.label
        if robot.skill("GoToObject", piece.external_id or piece.label):
            kind = OBJECT_TYPES.get(piece.label)
            if kind is not None and kind.openable:
                count += 2
                if robot.skill("OpenObject", piece.external_id or piece.label):
                    robot.skill("CloseObject", piece.external_id or piece.label)
            if watched is None and kind is not None and kind.receptacle and not kind.openable:
                moves = len(used)
                watched = _watch_a_move(robot, household, piece, used)
                if len(used) > moves:
                    count += 2
                    note = (f"{household.members[0]} moves the {word(used[-1])} in front of the robot"
                            f"{'' if watched else ' (memory missed it)'}")
        progress.step(note)
    return count, watched


def _seen_again(world: HomeWorld, o: KnownObject) -> bool:
    """Whether the robot could see ``o`` again, its containers opened (tried on a copy of the world):
    a small thing at the bottom of a low cabinet is out of sight of the 1.5 m camera from every place
    within reach, so a task to fetch it from there would test the simulator, not memory."""
    world = WorldMoment.of(world).world()
    e = _entity(world, o)
    if e is None:
        return False
    for holder in world.home.ancestors(e.object_id):
        if world.home[holder].kind.openable:
            world.effects.set_state(world.home[holder], "open", True, "check")
    return world.step(Action("GoToObject", e.object_id)).success


def this_morning(robot: Robot, used: list[str], progress: Progress, tries: int = 5) -> Optional[Morning]:
    """The robot is told to put something away in a container and close it (its own skills, so
    short-term memory holds the change). It counts when memory knows where the thing is now and the
    robot could see it there again; else the next candidate is tried, up to ``tries``. None when
    nothing fits."""
    progress.phase("this morning: the robot puts something away", tries)
    for _ in range(tries):
        found = stash(robot.objects(), used)
        if found is None:
            break
        thing, box = found
        used.append(thing.label)
        instruction = f"put the {word(thing.label)} in the {word(box.label)} and then close the {word(box.label)}"
        done = bool(robot.client.task(instruction).success)
        robot.settle()
        known = done and memory_knows(robot.objects(), thing.label, box.label)
        if known and robot.world(lambda w, thing=thing: _seen_again(w, thing)):
            progress.step(instruction)
            return Morning(thing.label, box.label, instruction)
        why = "out of sight there" if known else "memory lost track of it" if done else "failed"
        progress.step(f"{instruction}: {why}")
    return None


def move_while_away(robot: Robot, household: Household, used: list[str], here: str) -> Optional[Move]:
    """Someone moves an object memory knows (on a surface, or inside a container) to a room the robot
    (in ``here``) does not see: memory is now wrong about it. It goes to a surface of a kind of room
    it belongs in (a person puts a salt shaker on a table, not on a bed), in its own room if it can
    (the apple taken out of the fridge is left on the counter)."""
    objects = robot.objects()
    by_id = {o.id: o for o in objects}
    # Things a search finds again first, then those in other rooms than the robot's (it has not looked
    # since it moved away; it sees the place empty only when it comes back).
    # Things on surfaces or seen inside containers (someone takes the bowl out of the cabinet).
    things = sorted(on_surfaces(objects, used) + hidden(objects, used),
                    key=lambda o: (footprint(o.label) < FINDABLE_M2, o.room_id == here))
    for thing in things:
        source = by_id[thing.holder]
        dests = [s for s in surfaces(objects, exclude_rooms=[here]) if s.label != source.label
                 and set(OBJECT_TYPES[s.label].rooms) & set(OBJECT_TYPES[thing.label].rooms)]
        for dest in sorted(dests, key=lambda s: s.room_id != thing.room_id):
            if _household_move(robot, household, thing, dest):
                used.append(thing.label)
                return Move(household.members[-1], thing.id, thing.label, source.label, dest.id, dest.label, False)
    return None


def _repair(away: Move, run: TaskRun) -> str:
    """What the closed loop did about memory being wrong, from the task's result."""
    thing = word(away.thing_label)
    if not run.replans:
        return (f"memory said the {thing} was at the {word(away.source_label)}; no step failed, so the loop "
                f"had nothing to repair{'' if run.success else ', and the task failed'}")
    return (f"memory said the {thing} was at the {word(away.source_label)}; a step failed, so the "
            f"loop marked it missing, searched and planned again ({run.replans} replans): "
            f"{'it found the ' + thing + ' and finished' if run.success else 'NOT repaired: ' + run.error}")


def run_tasks(robot: Robot, tasks: list[ChosenTask], progress: Progress, title: str,
              path: list[tuple[float, float]]) -> list[TaskRun]:
    progress.phase(title, len(tasks))
    runs = []
    for task in tasks:
        runs.append(robot.run(task, path))
        progress.step(f"{'ok' if runs[-1].success else 'FAILED'}: {task.instruction}")
    return runs


# ----------------------------------------------------------------------------- the two runs
def _with_memory(seed: int, rooms: int, perception: str, out_dir: Path, inbox: Any,
                 progress: Progress) -> NodeDemoReport:
    memory_dir = out_dir / "memory"
    report = NodeDemoReport(rooms=rooms, perception=perception, memory_dir=memory_dir)
    progress.phase("starting the nodes, loading the embedding model", 1)
    with _start(seed, rooms, perception, memory_dir, "demo") as running, DemoClient() as client:
        robot = Robot(running, client)
        memory = running.nodes["long_term_memory"].memory
        growth = GrowthRecorder(lambda: memory.graph)
        memory.subscribe(growth)
        household = Household(("Alice", "Bob"), seed=seed)
        robot.warm_up()
        progress.step()
        used: list[str] = []  # labels of the objects the story touched
        report.explore_skills, watched = tour(robot, rooms, household, used, progress)
        report.explore_travel_m = robot.world(lambda w: w.agent.distance)
        morning = this_morning(robot, used, progress)
        here = robot.world(lambda w: w.home.room_at(w.agent.pose.x, w.agent.pose.y))
        away = move_while_away(robot, household, used, here.room_id if here is not None else "")
        report.story = Story(watched, morning, away)
        objects = robot.objects()
        report.objects_in_memory = sum(not o.missing for o in objects)
        report.relations = len(client.call(GetSnapshot, "memory/get_snapshot").snapshot.added_relations)
        report.tasks = choose_tasks(objects, report.story, used,
                                    lambda o: robot.world(lambda w: _truly_inside(w, o, objects)))
        log.info("the story: %s; hidden candidates (label, confirmed): %s; tasks: %s", report.story,
                 [(o.label, robot.world(lambda w, o=o: _truly_inside(w, o, objects))) for o in hidden(objects, used)],
                 report.tasks)
        report.moment = pickle.dumps(robot.world(WorldMoment.of))
        report.with_memory = run_tasks(robot, report.tasks, progress, "tasks with memory", report.task_path)
        for i, (task, run) in enumerate(zip(report.tasks, report.with_memory)):
            if task.kind == MEMORY_WRONG and away is not None:
                report.repairs[i] = _repair(away, run)
        report.growth = evenly(growth.states(), 6)
        client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.SAVE, name="demo")
        report.map_png = save_memory_map(robot.world(lambda w: w), objects, out_dir / "memory_map.png", running)
    return report


def _without_memory(seed: int, rooms: int, perception: str, out_dir: Path, inbox: Any,
                    progress: Progress) -> tuple[list[TaskRun], list[tuple[float, float]]]:
    """Start fresh nodes and wait (``inbox``) for the moment and the tasks; None instead: stop."""
    with _start(seed, rooms, perception, out_dir / "scratch", "no_memory") as running, DemoClient() as client:
        robot = Robot(running, client)
        robot.warm_up()
        job = inbox.get()
        if job is None:
            return [], []
        moment, tasks = job
        robot.bridge.replace_world(pickle.loads(moment).world())
        path: list[tuple[float, float]] = []
        return run_tasks(robot, tasks, progress, "the same tasks without memory", path), path


def save_memory_map(world: HomeWorld, objects: list[KnownObject], out: Path, running: stack.Stack) -> Path:
    """The home's top-down map with the memory drawn over it: object boxes in their label's colour
    (grey when missing), and a line from each object to what holds it."""
    graph = running.nodes["long_term_memory"].memory.graph
    img = draw_map(world)
    _, px = map_frame(world.home)
    centres = {}
    for o in objects:
        node = graph.get_object(o.id)
        if node is None:
            continue
        (x, y, _), (sx, sy, _) = node.box.center, node.box.extent
        centres[o.id] = px(x, y)
        (cx, cy), (wx, _) = px(x, y), px(x + sx, y)
        scale = wx - cx
        corners = cv2.boxPoints(((cx, cy), (sx * scale, sy * scale), 0.0)).astype(np.int32)
        colour = (150, 150, 150) if o.missing else tuple(int(c) for c in type_colour(o.label) * 255)
        cv2.polylines(img, [corners], True, colour, 2 if o.layer == "object" else 1, cv2.LINE_AA)
    for o in objects:
        if o.holder in centres and o.id in centres:
            cv2.line(img, centres[o.id], centres[o.holder], (30, 120, 30), 1, cv2.LINE_AA)
    if not cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {out}")
    return out


def _free_domains(count: int) -> list[int]:
    """``count`` ROS domain ids in 1..100, none the one this process was given (another stack may use it)."""
    given = os.environ.get("ROS_DOMAIN_ID", "")
    pool = [d for d in range(1, 101) if str(d) != given]
    return random.Random(os.getpid()).sample(pool, count)


def run_node_demo(seed: int, rooms: int, out_dir: Path, perception: str = "realistic",
                  verbose: bool = False) -> NodeDemoReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    domains = _free_domains(2)
    without = ChildRun(_without_memory, seed, rooms, perception, out_dir, domain_id=domains[1],
                       log_file=out_dir / "nodes_without_memory.log", verbose=verbose)
    try:
        with_memory = ChildRun(_with_memory, seed, rooms, perception, out_dir, domain_id=domains[0],
                               log_file=out_dir / "nodes.log", verbose=verbose)
        try:
            report: NodeDemoReport = with_memory.follow()
        finally:
            with_memory.stop()
        without.send((report.moment, report.tasks))
        report.without_memory, without_path = without.follow()
    except BaseException:
        without.send(None)
        raise
    finally:
        without.stop()
    report.log_files = [out_dir / "nodes.log", out_dir / "nodes_without_memory.log"]
    home = generate_home(seed, n_rooms=rooms)  # the home the bridge generated, for the pictures
    report.pictures = [save_paths_map(home, report.task_path, without_path, out_dir / "paths.png"),
                       save_growth_strip(home, report.growth, out_dir / "memory_growing.png")]
    return report


# ----------------------------------------------------------------------------- the table
def _saved(with_memory: float, without: float) -> str:
    return f"{100.0 * (1.0 - with_memory / without):.0f}%" if without > 0 else "n/a"


def format_node_report(report: NodeDemoReport) -> str:
    lines = [f"perception: {PERCEPTION_NOTE.get(report.perception, report.perception)}",
             f"tour: {report.rooms} rooms, {report.explore_skills} skills, {report.explore_travel_m:.1f} m; "
             f"{report.objects_in_memory} objects and {report.relations} relations in memory", ""]
    width = max([len(r.instruction) for r in report.with_memory] + [30])
    cell = lambda r: f"{'ok' if r.success else 'FAIL':4s} {r.skills:3d} skills {r.travel_m:5.1f} m {r.seconds:5.1f} s"  # noqa: E731
    lines.append(f"{'task':{width}s}  {'with memory':>31s}  {'without memory':>31s}")
    for i, (task, mine, theirs) in enumerate(zip(report.tasks, report.with_memory, report.without_memory)):
        lines.append(f"{mine.instruction:{width}s}  {cell(mine):>31s}  {cell(theirs):>31s}")
        lines.append(f"  why: {task.reason}")
        if i in report.repairs:
            lines.append(f"  closed loop: {report.repairs[i]}")
    if report.with_memory:
        total = lambda runs, key: sum(getattr(r, key) for r in runs)  # noqa: E731
        a, b = report.with_memory, report.without_memory
        ok = lambda runs: f"{sum(r.success for r in runs)}/{len(runs)} ok"  # noqa: E731
        totals = lambda runs: (f"{ok(runs):7s} {total(runs, 'skills'):3d} skills {total(runs, 'travel_m'):5.1f} m "  # noqa: E731
                               f"{total(runs, 'seconds'):5.1f} s")
        lines.append(f"{'total':{width}s}  {totals(a):>31s}  {totals(b):>31s}")
        skills, metres, seconds = ((total(a, key), total(b, key)) for key in ("skills", "travel_m", "seconds"))
        lines.append(f"memory saved {_saved(*skills)} of the skills ({skills[0]} vs {skills[1]}), "
                     f"{_saved(*metres)} of the distance ({metres[0]:.1f} m vs {metres[1]:.1f} m) and "
                     f"{_saved(*seconds)} of the time ({seconds[0]:.1f} s vs {seconds[1]:.1f} s)")
    else:
        lines.append("no task qualified: memory held no object that fits the story's rules")
    lines += ["", f"memory saved in {report.memory_dir} (name 'demo'); the nodes' logs: "
              f"{', '.join(map(str, report.log_files))}"]
    return "\n".join(lines)
