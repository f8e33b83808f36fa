"""The planner node through the real memory nodes and the embedded simulator, over real Fast DDS.

The simulator bridge, both memory nodes and the planner run composed by ``memory_nodes.tools.stack``
in their own context; the test drives them from a client node as a user would, through the
``execute_skill`` and ``execute_task`` actions and the memory services, and checks the outcome
against the simulator's ground truth.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
from action_msgs.msg import GoalStatus  # noqa: E402
from chat_server import ChatServer  # noqa: E402
from memory_client import Client  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from waits import until  # noqa: E402

from embodied_memory.action import ExecuteTask, Skill  # noqa: E402
from embodied_memory.msg import GraphUpdate, ObjectNode  # noqa: E402
from embodied_memory.srv import GetSnapshot, MarkMissing  # noqa: E402
from memory_nodes import calls  # noqa: E402
from memory_nodes.node_support import Spinner  # noqa: E402
from memory_nodes.planner_adapters import RosMemory  # noqa: E402
from memory_nodes.planner_node import PlannerNode  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402
from planners.interfaces import by_id  # noqa: E402
from sim.home.placement import find_spot  # noqa: E402
from sim.tasks import holds, parse_goal  # noqa: E402
from tests.planners.chat_server import RAW, Server, completion  # noqa: E402

pytestmark = pytest.mark.ros
SEED = 3  # a living room and a bathroom: a newspaper on the coffee table, a vase on a shelf, a television
TIMEOUT = 30.0
Error = ExecuteTask.Result


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory):
    s = stack.start(["sim_bridge", "long_term_memory", "short_term_memory", "planner"], overrides={
        "sim_bridge": {"seed": SEED, "rate_hz": 5.0},
        "long_term_memory": {"memory_dir": str(tmp_path_factory.mktemp("memory")), "snapshot_interval_s": 0.0,
                             "text_index": "none", "marker_rate_hz": 0.0},
        "short_term_memory": {"consolidate_interval_s": 0.2},
        "planner": {"refresh_timeout_s": 1.0}})
    yield s
    s.shutdown()


class User(Client):
    """The memory test client, also sending skills and tasks as a user of the robot would."""

    def __init__(self) -> None:
        super().__init__()
        self.skills = ActionClient(self.node, Skill, "execute_skill")
        self.tasks: dict[str, ActionClient] = {}

    def send(self, client: ActionClient, goal: Any, feedback: list[Any]) -> Any:
        """The goal handle (accepted or not), sent as the planner sends skills: the server check is a hint."""
        calls.ready_or_not(lambda t: client.wait_for_server(timeout_sec=t), TIMEOUT)
        handle = calls.send_goal(client, goal, self.wait, TIMEOUT, lambda f: feedback.append(f.feedback))
        assert handle is not None, f"{client._action_name} never answered the goal"
        return handle

    def finish(self, handle: Any) -> tuple[Any, int]:
        """(result, final goal status)."""
        done = calls.goal_result(handle, self.wait, 120.0)
        assert done is not None, "the goal never finished"
        return done.result, done.status

    def task(self, instruction: str, goals: tuple[str, ...] = (), action: str = "execute_task") -> tuple[Any, list]:
        feedback: list[Any] = []
        if action not in self.tasks:
            self.tasks[action] = ActionClient(self.node, ExecuteTask, action)
        handle = self.send(self.tasks[action],
                           ExecuteTask.Goal(instruction=instruction, goal_conditions=list(goals)), feedback)
        assert handle.accepted
        result, _ = self.finish(handle)
        return result, feedback

    def skill(self, skill: str, object_id: str) -> Any:
        handle = self.send(self.skills, Skill.Goal(skill=skill, object_id=object_id), [])
        return self.finish(handle)[0]

    def snapshot(self) -> Any:
        return self.call(GetSnapshot, "memory/get_snapshot").snapshot

    def went_missing(self) -> set[str]:
        """Memory ids some graph update reported missing."""
        return {o.id for u in self.updates for o in u.upserted_objects if o.status == ObjectNode.STATUS_MISSING}


@pytest.fixture(scope="module")
def user(nodes: stack.Stack):
    """The robot has toured every piece of furniture, so memory knows the home."""
    u = User()
    world = nodes.nodes["sim_bridge"]._world
    for e in sorted((e for e in world.home if e.kind.layer == "furniture"), key=lambda e: (e.room, e.object_id)):
        assert u.skill("GoToObject", e.object_id).success
    needed = {"Newspaper", "Vase", "Television", "Sofa", "CoffeeTable"}
    assert u.spin_until(lambda: needed <= {o.label for o in u.snapshot().upserted_objects}, timeout=10.0)
    yield u
    u.close()


def truth(nodes: stack.Stack, goal: str) -> bool:
    bridge = nodes.nodes["sim_bridge"]
    conditions, problems = parse_goal(goal)
    assert conditions and not problems
    with bridge._lock:
        return all(holds(c, bridge._world.object_states()) for c in conditions)


def memory_object(user: User, label: str) -> tuple[Any, set[str]]:
    """The one memory node of ``label`` and the labels of what memory says holds it (ON or IN)."""
    snapshot = user.snapshot()
    [obj] = [o for o in snapshot.upserted_objects if o.label == label]
    labels = {o.id: o.label for o in snapshot.upserted_objects}
    return obj, {labels[r.object_id] for r in snapshot.added_relations
                 if r.subject_id == obj.id and r.predicate in ("ON", "IN")}


@pytest.mark.parametrize("instruction, goals, check", [
    ("put the newspaper on the sofa", (), "ON(Newspaper, Sofa)"),
    ("", ("TOGGLEON(Television)",), "TOGGLEON(Television)"),
])
def test_the_symbolic_planner_completes_scripted_tasks(nodes, user, instruction, goals, check) -> None:
    result, feedback = user.task(instruction, goals)
    assert result.success, result.error_message
    assert result.error_code == Error.NONE and result.replans == 0 and result.steps > 0
    assert result.model_calls == 0 and result.duration_s > 0.0
    assert truth(nodes, check)
    statuses = [f.status for f in feedback]
    assert statuses[0] == "planning" and "executing" in statuses and statuses[-1] == "succeeded"


def test_a_moved_object_is_found_and_memory_ends_up_right(nodes, user) -> None:
    bridge = nodes.nodes["sim_bridge"]
    world = bridge._world
    toilet = next(e for e in world.home if e.object_type == "Toilet")
    assert user.skill("GoToObject", toilet.object_id).success  # the robot looks away, into the bathroom
    vase, holders = memory_object(user, "Vase")
    assert holders == {"Shelf"}
    with bridge._lock:  # someone puts the vase on the sofa, out of the robot's sight
        entity = world.home[vase.external_id]
        sofa = next(e for e in world.home if e.object_type == "Sofa")
        world.effects.place(entity, sofa, *find_spot(sofa, entity.size, world.home), "household:test")
    handled = nodes.nodes["long_term_memory"].traffic
    seen = handled()["frames_handled"]
    assert user.spin_until(lambda: handled()["frames_handled"] >= seen + 5)  # frames of the bathroom go by
    assert memory_object(user, "Vase")[1] == holders  # memory still believes the shelf

    result, feedback = user.task("put the vase on the coffee table")
    assert result.success, result.error_message
    assert result.replans == 1 and "replanning" in [f.status for f in feedback]
    assert vase.id in user.went_missing()  # looked at the shelf and found it gone
    assert truth(nodes, "ON(Vase, CoffeeTable)")
    now, holders = memory_object(user, "Vase")  # the same memory node, relocated
    assert now.id == vase.id and now.status != ObjectNode.STATUS_MISSING
    assert holders == {"CoffeeTable"}
    with bridge._lock:
        centre = world.home[vase.external_id].center
    assert math.dist((now.centroid.x, now.centroid.y, now.centroid.z), centre) < 0.15


def test_a_correction_for_an_object_out_of_sight_reaches_long_term_memory(nodes, user) -> None:
    """The planner's view follows graph updates (one snapshot to start, one after a skipped number)
    and its correction goes through long-term memory: fusion cannot have made it (the camera does
    not see the object), so a node that ignored it would leave the object visible."""
    in_view = nodes.nodes["sim_bridge"].with_world(lambda w: set(w.render().external_ids.values()))
    unseen = next(o for o in user.snapshot().upserted_objects if o.layer == "object"
                  and o.status != ObjectNode.STATUS_MISSING and o.external_id not in in_view)
    node = Node("correcting_planner", context=nodes.context)
    spinner = Spinner(nodes.context)
    spinner.add(node)
    try:
        view = RosMemory(node, ReentrantCallbackGroup(), TIMEOUT, 5.0)
        assert not by_id(view.objects())[unseen.id].missing and view.snapshots == 1
        view.mark_missing(unseen.id)
        assert by_id(view.objects())[unseen.id].missing and view.snapshots == 1  # the update came, no snapshot
        [held] = [o for o in user.snapshot().upserted_objects if o.id == unseen.id]
        assert held.status == ObjectNode.STATUS_MISSING  # long-term memory holds the correction
        view.mark_missing("obj_9999")  # memory has no such object: a warning, not a failed task
        assert user.call(MarkMissing, "memory/mark_missing", object_id="obj_9999").error_code == \
            MarkMissing.Response.NOT_FOUND

        skipped = view.last_sequence + 5  # an update numbered past the next: the view starts again
        bogus = user.node.create_publisher(GraphUpdate, "memory/graph_updates", 10)
        assert user.spin_until(lambda: bogus.get_subscription_count() >= 3)
        bogus.publish(GraphUpdate(sequence=skipped))
        assert user.spin_until(lambda: view.last_sequence == skipped)
        assert by_id(view.objects())[unseen.id].missing and view.snapshots == 2
    finally:
        spinner.shutdown()
        node.destroy_node()


@pytest.mark.parametrize("instruction", ["", "   ", "sing a song"])
def test_an_empty_or_nonsense_instruction_is_refused_without_moving(nodes, user, instruction) -> None:
    agent = nodes.nodes["sim_bridge"]._world.agent
    before = (agent.pose, agent.distance, agent.held)
    result, _ = user.task(instruction)
    assert not result.success and result.error_code == Error.INVALID_INSTRUCTION and result.error_message
    assert result.steps == 0 and (agent.pose, agent.distance, agent.held) == before


@pytest.mark.parametrize("instruction, goals", [("turn on the television " * 5000, ()),
                                                ("", ("TOGGLEON(Television)",) * 5000),
                                                ("", ("TOGGLEON(" + "x" * 100_000 + ")",))])
def test_an_oversized_task_is_refused_without_moving(nodes, user, instruction, goals) -> None:
    agent = nodes.nodes["sim_bridge"]._world.agent
    before = (agent.pose, agent.distance, agent.held)
    result, _ = user.task(instruction, goals)
    assert result.error_code == Error.INVALID_INSTRUCTION and result.error_message.startswith("request_too_large")
    assert result.steps == 0 and (agent.pose, agent.distance, agent.held) == before


@pytest.mark.parametrize("skill, object_id", [("GoToObject", "Sofa" * 10_000), ("x" * 10_000, "")])
def test_an_oversized_skill_is_refused(nodes, user, skill, object_id) -> None:
    result = user.skill(skill, object_id)
    assert not result.success and result.error_code == Skill.Result.UNKNOWN_OBJECT
    assert result.error_message.startswith("request_too_large")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def another_planner(nodes: stack.Stack, name: str, remaps: tuple[str, ...] = (),
                    ready: Callable[[PlannerNode], bool] = lambda planner: True, **params: Any) -> Iterator[str]:
    """A second planner beside the stack's, its action renamed; yields the action's name once ``ready(planner)``."""
    rules = [f"__node:={name}", f"execute_task:={name}/execute_task", *remaps]
    planner = PlannerNode(context=nodes.context, cli_args=["--ros-args", *(a for r in rules for a in ("-r", r))],
                          parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    spinner = Spinner(nodes.context)
    spinner.add(planner)
    try:
        assert until(lambda: ready(planner)), f"{name} never got ready"
        yield f"{name}/execute_task"
    finally:
        spinner.shutdown()
        planner.destroy_node()


@pytest.mark.parametrize("backend, options, reason", [
    ("openai", {"base_url": f"http://127.0.0.1:{_closed_port()}/v1", "timeout_s": 2.0}, "chat completion"),
    ("transformers", {"model_path": "/nonexistent/model"}, "no model at"),
])
def test_an_unavailable_backend_answers_with_a_clear_error_and_keeps_serving(nodes, user, backend, options, reason):
    with another_planner(nodes, f"planner_{backend}", backend=backend, **options) as action:
        for _ in range(2):
            result, _ = user.task("turn on the television", action=action)
            assert result.error_code == Error.BACKEND_UNAVAILABLE and reason in result.error_message
            assert result.steps == 0


def plan_for_the_television(body: dict) -> str:
    """A plan that turns the television on, by the memory id the prompt shows for it."""
    found = re.search(r"name: (obj_\d+), type: Television", json.dumps(body))
    tv = found.group(1) if found else "Television"
    return f"GoToObject({tv})\nToggleObjectOn({tv})\nDone"


def test_the_camera_image_goes_to_a_vision_backend(nodes, user) -> None:
    from PIL import Image

    server = ChatServer(plan_for_the_television)
    try:
        with another_planner(nodes, "planner_vlm", backend="openai", base_url=server.url, send_images=True,
                             max_crops=2, service_timeout_s=120.0,  # the first subgraph loads a tokenizer
                             ready=lambda p: p._runner.camera._color is not None) as action:  # a camera image came
            result, _ = user.task("turn on the television", action=action)
    finally:
        server.close()
    assert server.bodies, result.error_message
    content = server.bodies[0]["messages"][1]["content"]
    text, images = content[0]["text"], [part["image_url"]["url"] for part in content[1:]]
    assert images and all(url.startswith("data:image/png;base64,") for url in images)
    view = Image.open(io.BytesIO(base64.b64decode(images[0].split(",", 1)[1])))
    intrinsics = nodes.nodes["sim_bridge"]._world.renderer.intrinsics
    assert view.mode == "RGB" and view.size == (intrinsics.width, intrinsics.height)
    captions = re.search(r"<<<DATA-\w+ attached_images\n(.*?)\nDATA-\w+>>>", text, re.DOTALL)
    assert captions is not None and len(captions.group(1).splitlines()) == len(images)
    assert "current camera view" in captions.group(1).splitlines()[0]


def test_absent_memory_services_end_the_task_with_a_clear_error(nodes, user) -> None:
    remaps = ("memory/get_snapshot:=nowhere/get_snapshot",)  # as if the memory node were not running
    with another_planner(nodes, "planner_alone", remaps, service_timeout_s=0.5) as action:
        result, _ = user.task("turn on the television", action=action)
    assert result.error_code == Error.EXECUTION_FAILED and "is not available" in result.error_message


def test_an_absent_skill_server_ends_the_task_with_a_clear_error_and_a_cancel_still_wins(nodes, user) -> None:
    remaps = ("execute_skill:=nowhere/execute_skill",)  # as if the robot's bridge were not running
    with another_planner(nodes, "planner_no_robot", remaps, service_timeout_s=1.0) as action:
        result, _ = user.task("turn off the television", action=action)
        assert result.error_code == Error.EXECUTION_FAILED and "execute_skill is not available" in result.error_message
        assert result.duration_s > 0  # the time it waited is reported
    # The cancel ends the planner's wait for the server: a wait far longer than the test waits for the result.
    with another_planner(nodes, "planner_waits", remaps, service_timeout_s=600.0) as action:
        feedback: list[Any] = []
        user.tasks[action] = ActionClient(user.node, ExecuteTask, action)
        handle = user.send(user.tasks[action], ExecuteTask.Goal(instruction="turn off the television"), feedback)
        assert handle.accepted
        assert user.spin_until(lambda: any(f.status == "executing" for f in feedback), timeout=120.0)
        user.spin_until(handle.cancel_goal_async().done, timeout=120.0)  # while the planner waits
        result, status = user.finish(handle)
    assert status == GoalStatus.STATUS_CANCELED and result.error_code == Error.CANCELED
    assert truth(nodes, "TOGGLEON(Television)")  # nothing reached the robot


@contextlib.contextmanager
def robot_held(nodes: stack.Stack) -> Iterator[None]:
    """The simulated robot busy for the block: the bridge's skills (and frames) wait for its end."""
    holding, release = threading.Event(), threading.Event()

    def hold(_world: Any) -> None:
        holding.set()
        release.wait(300.0)

    thread = threading.Thread(target=nodes.nodes["sim_bridge"].with_world, args=(hold,), daemon=True)
    thread.start()
    holding.wait(60.0)
    try:
        yield
    finally:
        release.set()
        thread.join(60.0)


def test_cancel_stops_the_task_and_the_node_serves_the_next(nodes, user) -> None:
    tasks = user.tasks.setdefault("execute_task", ActionClient(user.node, ExecuteTask, "execute_task"))
    feedback: list[Any] = []
    with robot_held(nodes):  # the first skill waits for the robot, so the task is surely still running
        handle = user.send(tasks, ExecuteTask.Goal(instruction="put the newspaper on the coffee table"), feedback)
        assert handle.accepted
        assert user.spin_until(lambda: any(f.status == "executing" for f in feedback), timeout=120.0)
        second = user.send(tasks, ExecuteTask.Goal(instruction="turn off the television"), [])
        assert not second.accepted  # one body, one task at a time
        user.spin_until(handle.cancel_goal_async().done, timeout=120.0)
    result, status = user.finish(handle)
    assert status == GoalStatus.STATUS_CANCELED and result.error_code == Error.CANCELED
    assert not truth(nodes, "ON(Newspaper, CoffeeTable)")

    result, _ = user.task("put the newspaper on the coffee table")
    assert result.success, result.error_message
    assert truth(nodes, "ON(Newspaper, CoffeeTable)")


def test_every_parameter_in_the_yaml_is_declared_and_described(nodes) -> None:
    planner = nodes.nodes["planner"]
    params = yaml.safe_load(Path(stack.DEFAULT_PARAMS).read_text())["planner"]["ros__parameters"]
    assert [p for p in params if not planner.has_parameter(p)] == []
    for name in params:
        assert planner.describe_parameter(name).description, f"planner.{name} has no description"


@pytest.mark.parametrize("instruction, words", [
    ("the television, please", "NO_VERB: no known verb says what to do"),
    ("put the flurble on the sofa", "no known object"),
    ("turn on the television and " * 4000, "request_too_large: instruction has 108000 characters"),  # 100 kB
])
def test_a_bad_instruction_gets_a_clear_error_and_nothing_moves(nodes, user, instruction, words) -> None:
    with another_planner(nodes, "planner_patient", service_timeout_s=TIMEOUT) as action:
        result, _ = user.task(instruction, action=action)
    assert result.error_code == Error.INVALID_INSTRUCTION and words in result.error_message
    assert result.steps == 0 and len(result.error_message) <= 2100


def _television_plan(body: dict) -> str:
    """A plan to turn on the television the prompt shows, as JSON (what a model would write)."""
    user_text = body["messages"][1]["content"]
    found = re.search(r"name: (obj_\d+), type: Television", user_text)
    assert found is not None, "the prompt does not show the television"
    steps = [{"skill": s, "argument": found.group(1)} for s in ("GoToObject", "ToggleObjectOn")]
    return json.dumps({"steps": steps, "done": True})


@pytest.mark.parametrize("bad, reason", [
    ((RAW, b"garbage, not HTTP\r\n"), "3 attempts"),
    ((RAW, b""), "3 attempts"),  # closes the connection without a word
    ((200, b"<html>busy</html>"), "not JSON"),
    ((200, {"choices": [{"message": {"content": "Sure! I will gladly turn it on."}}]}), "SYNTAX"),
    ("sleep", "timed out"),
])
def test_a_server_that_misbehaves_gets_a_clear_error_and_the_node_plans_once_it_recovers(
        nodes, user, bad, reason) -> None:
    healthy = threading.Event()

    def reply(body: dict) -> tuple[int, object]:
        if healthy.is_set():
            return 200, completion(_television_plan(body))
        if bad == "sleep":
            time.sleep(2.0)
            return 200, completion("GoToObject(nowhere)")
        return bad

    with Server(reply) as server, another_planner(nodes, "planner_server", backend="openai", base_url=server.url,
                                                  timeout_s=0.5, max_corrections=1,
                                                  service_timeout_s=TIMEOUT) as action:
        result, _ = user.task("turn on the television", action=action)
        code = Error.PLAN_INVALID if reason == "SYNTAX" else Error.BACKEND_UNAVAILABLE
        assert result.error_code == code and reason in result.error_message and result.steps == 0
        healthy.set()
        result, _ = user.task("turn on the television", action=action)
    assert result.success, result.error_message
    assert result.model_calls >= 1 and result.tokens_in == 321 * result.model_calls
    assert truth(nodes, "TOGGLEON(Television)")
