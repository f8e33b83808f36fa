"""The closed loop with a fake memory and robot: outcomes, error codes, memory correction, bounds."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
from planner_homes import KITCHEN, FakeMemory, FakeRobot

from planners.backends import BackendUnavailable, PlanRequest, PlanResponse, make_backend
from planners.images import CAMERA, PromptImage
from planners.interfaces import KnownObject, SkillCode
from planners.loop import Feedback, TaskError, TaskRunner


class Scripted:
    """A backend that answers with fixed texts, one per call (the last one repeats)."""

    name = "scripted"

    def __init__(self, *texts: str, error: Exception | None = None) -> None:
        self.texts, self.error, self.requests = list(texts), error, []

    def plan(self, request: PlanRequest) -> PlanResponse:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        return PlanResponse.from_text(text, tokens_in=100, tokens_out=10)


def runner(backend, robot=None, memory=None, **options) -> tuple[TaskRunner, FakeMemory, FakeRobot]:
    memory = memory or FakeMemory(list(KITCHEN))
    robot = robot or FakeRobot()
    return TaskRunner(backend, memory, robot, **options), memory, robot


def test_a_plan_runs_step_by_step_with_feedback_and_accounting() -> None:
    task, memory, robot = runner(make_backend("symbolic"))
    feedback: list[Feedback] = []
    outcome = task.run("put the apple in the fridge", on_feedback=feedback.append)
    assert outcome.success and outcome.error_code == TaskError.NONE and outcome.error_message == ""
    # The apple is on the counter in memory: the robot goes there first and looks, then approaches it.
    assert robot.done == [("GoToObject", "CounterTop|1"), ("GoToObject", "Apple|1"), ("PickupObject", "Apple|1"),
                          ("GoToObject", "Fridge|1"), ("OpenObject", "Fridge|1"), ("PutObject", "Fridge|1")]
    assert outcome.steps == 6 and outcome.replans == 0 and outcome.model_calls == 0
    assert [str(s.call) for s in outcome.trace][:2] == ["GoToObject(obj_0003)", "GoToObject(obj_0003)"]
    # Taken from the counter, the apple is no longer where memory saw it: memory is told at once.
    assert memory.calls == ["refresh"] * 3 + ["mark_missing obj_0003"] + ["refresh"] * 3 and task.held == ""
    assert feedback[0] == Feedback(0, "", "planning")
    assert [f.status for f in feedback[1:]] == ["executing", "succeeded"] * 5
    assert outcome.duration_s > 0


def test_standing_at_an_open_container_the_robot_reaches_in_without_driving_there_again() -> None:
    task, _, robot = runner(make_backend("symbolic"))
    assert task.run("bring me the egg").success
    assert robot.done == [("GoToObject", "Fridge|1"), ("OpenObject", "Fridge|1"), ("GoToObject", "Egg|1"),
                          ("PickupObject", "Egg|1")]


def test_the_hand_carries_over_between_tasks() -> None:
    task, _, robot = runner(make_backend("symbolic"))
    assert task.run("bring me the apple").success and task.held == "obj_0003"
    assert task.run("put it in the fridge", goal_conditions=["INSIDE(Apple, Fridge)"]).success
    assert robot.done[-3:] == [("GoToObject", "Fridge|1"), ("OpenObject", "Fridge|1"), ("PutObject", "Fridge|1")]


@pytest.mark.parametrize("instruction", ["", "   ", "?!", "42"])
def test_an_empty_instruction_is_refused_before_anything_happens(instruction: str) -> None:
    backend = Scripted("Explore()")
    task, memory, robot = runner(backend)
    outcome = task.run(instruction)
    assert (outcome.success, outcome.error_code) == (False, TaskError.INVALID_INSTRUCTION)
    assert "empty" in outcome.error_message and not backend.requests and not robot.done and not memory.calls


def test_a_nonsensical_instruction_says_what_was_not_understood() -> None:
    task, memory, robot = runner(make_backend("symbolic"))
    outcome = task.run("sing the fridge a lullaby")
    assert outcome.error_code == TaskError.INVALID_INSTRUCTION
    assert "NO_VERB" in outcome.error_message and "sing the fridge a lullaby" in outcome.error_message
    assert not robot.done and not memory.calls
    assert task.run("x", goal_conditions=["ON(Apple)"]).error_code == TaskError.INVALID_INSTRUCTION


def test_an_unavailable_backend_is_an_outcome_not_an_exception() -> None:
    task, memory, robot = runner(Scripted(error=BackendUnavailable("cannot reach http://127.0.0.1:9/v1")))
    outcome = task.run("put the apple in the fridge")
    assert outcome.error_code == TaskError.BACKEND_UNAVAILABLE and "127.0.0.1:9" in outcome.error_message
    assert not robot.done and not memory.calls


def test_a_backend_that_crashes_fails_the_task_and_the_runner_serves_the_next() -> None:
    backend = Scripted("GoToObject(obj_0003)\nDone", error=KeyError("obj_9999"))
    task, memory, robot = runner(backend)
    outcome = task.run("put the apple in the fridge")
    assert outcome.error_code == TaskError.PLAN_INVALID and "KeyError('obj_9999')" in outcome.error_message
    assert not robot.done
    backend.error = None
    assert task.run("go to the apple").success


def test_output_that_does_not_parse_is_sent_back_for_corrections_then_refused() -> None:
    backend = Scripted("Sure! First I will walk to the fridge.")
    task, memory, robot = runner(backend, max_replans=5, max_corrections=2)
    outcome = task.run("put the apple in the fridge")
    assert outcome.error_code == TaskError.PLAN_INVALID
    assert "SYNTAX: model output does not parse" in outcome.error_message
    assert "line 1 'Sure! First" in outcome.error_message
    assert (outcome.corrections, outcome.replans, outcome.model_calls) == (2, 0, 3)
    assert (outcome.tokens_in, outcome.tokens_out) == (300, 30)
    assert "SYNTAX" in backend.requests[1].prompt.user and "does not parse" in backend.requests[1].prompt.user
    assert not robot.done and not memory.calls


def test_an_implausible_plan_goes_back_with_the_validators_code_and_is_corrected() -> None:
    backend = Scripted("PickupObject(obj_0003)", "GoToObject(obj_0003)\nPickupObject(obj_0003)")
    task, memory, robot = runner(backend)
    outcome = task.run("bring me the apple")
    assert outcome.success and (outcome.corrections, outcome.replans) == (1, 0)
    told = backend.requests[1].prompt.user
    assert "OUT_OF_REACH: step 1 PickupObject(obj_0003)" in told and "not within reach" in told
    task2, memory2, robot2 = runner(Scripted("PickupObject(obj_0003)"), max_corrections=0)
    outcome2 = task2.run("bring me the apple")
    assert outcome2.error_code == TaskError.PLAN_INVALID and "GoToObject first" in outcome2.error_message
    assert outcome2.corrections == 0 and outcome2.model_calls == 1
    assert not robot2.done and not memory2.calls


def test_corrections_are_bounded_per_plan_not_per_task() -> None:
    """Each plan gets its own corrections: one after a search is not charged for one before it."""
    bad, search, good = "PickupObject(obj_0003)", "Explore()", "GoToObject(obj_0003)\nPickupObject(obj_0003)\nDone"
    backend = Scripted(bad, search, bad, good)
    outcome = runner(backend, max_corrections=1)[0].run("bring me the apple")
    assert outcome.success and (outcome.corrections, outcome.searches, outcome.model_calls) == (2, 1, 4)


def test_memory_wrong_about_an_object_is_corrected_then_replanned() -> None:
    robot = FakeRobot({("PickupObject", "Apple|1"): (SkillCode.NOT_REACHABLE, "Apple|1 is too far away (3.20 m)")})
    task, memory, _ = runner(make_backend("symbolic"), robot=robot, max_replans=1)
    outcome = task.run("bring me the apple")
    assert "mark_missing obj_0003" in memory.calls
    assert ("GoToObject", "Apple") in robot.done  # the search, by type
    assert outcome.error_code == TaskError.EXECUTION_FAILED and outcome.replans == 1
    assert "too far away" in outcome.error_message


def test_a_failure_that_is_not_about_memory_does_not_touch_it() -> None:
    robot = FakeRobot({("PutObject", "Fridge|1"): (SkillCode.SKILL_FAILED, "Fridge|1 is closed")})
    task, memory, _ = runner(make_backend("symbolic"), robot=robot, max_replans=1)
    outcome = task.run("put the apple in the fridge")
    assert outcome.error_code == TaskError.EXECUTION_FAILED and "is closed" in outcome.error_message
    # Only the pickup's news (the apple left the counter): the failed put corrected nothing.
    assert [c for c in memory.calls if c.startswith("mark_missing")] == ["mark_missing obj_0003"]


def test_an_object_the_robot_cannot_see_from_anywhere_is_replaced_by_another_of_its_kind() -> None:
    second = KnownObject("obj_0009", "Apple", "object", "Apple|2", "room_0", holder="obj_0007", inside=True)
    robot = FakeRobot({("GoToObject", "Apple|1"): (SkillCode.NO_CLEAR_VIEW, "No clear view of Apple|1")})
    task, memory, _ = runner(make_backend("symbolic"), robot=robot, memory=FakeMemory(KITCHEN + [second]))
    outcome = task.run("bring me the apple")
    assert outcome.success and outcome.replans == 1 and task.held == "obj_0009"
    assert ("PickupObject", "Apple|2") in robot.done and ("PickupObject", "Apple|1") not in robot.done
    # Memory was right about Apple|1: only the apple picked up left its place.
    assert [c for c in memory.calls if c.startswith("mark_missing")] == ["mark_missing obj_0009"]


def test_a_full_receptacle_is_replaced_by_another_of_its_kind_or_the_task_fails_with_why() -> None:
    full = {("PutObject", "Fridge|1"): (SkillCode.NO_FREE_SPOT, "No valid positions to place Apple|1: it does not fit")}
    second = KnownObject("obj_0010", "Fridge", "furniture", "Fridge|2", "room_0", (("open", True),))
    task, _, robot = runner(make_backend("symbolic"), robot=FakeRobot(dict(full)),
                            memory=FakeMemory(KITCHEN + [second]))
    assert task.run("put the apple in the fridge").success
    assert robot.done[-1] == ("PutObject", "Fridge|2")
    task, _, robot = runner(make_backend("symbolic"), robot=FakeRobot(dict(full)), max_replans=2)
    outcome = task.run("put the apple in the fridge")
    assert not outcome.success and robot.done.count(("PutObject", "Fridge|1")) == 1


def test_a_step_whose_effect_already_holds_counts_as_done() -> None:
    robot = FakeRobot({("OpenObject", "Fridge|1"): (SkillCode.ALREADY_DONE, "Fridge|1 is already open")})
    task, _, _ = runner(make_backend("symbolic"), robot=robot)
    outcome = task.run("put the apple in the fridge")
    assert outcome.success and outcome.trace[4].success and "already open" in outcome.trace[4].error


def opened(robot: FakeRobot) -> list[str]:
    return [target for skill, target in robot.done if skill == "OpenObject"]


def test_memory_believing_a_container_open_is_not_trusted() -> None:
    # A camera does not see a door shut: a plan that trusted "open" would reach into a closed fridge.
    believed = [replace(o, states=(("open", True),)) if o.label == "Fridge" else o for o in KITCHEN]
    robot = FakeRobot({("OpenObject", "Fridge|1"): (SkillCode.ALREADY_DONE, "Fridge|1 is already open")})
    task, _, _ = runner(make_backend("symbolic"), robot=robot, memory=FakeMemory(believed))
    outcome = task.run("bring me the egg")
    assert outcome.success and robot.done[:2] == [("GoToObject", "Fridge|1"), ("OpenObject", "Fridge|1")]


def test_a_search_opens_each_container_once_then_explores_within_its_own_bound() -> None:
    # FakeMemory never learns: only the runner's record of what it opened keeps the search moving.
    task, _, robot = runner(make_backend("symbolic"), max_replans=0, max_search_plans=4)
    outcome = task.run("bring me the mug")
    assert robot.done == [("GoToObject", "Fridge|1"), ("OpenObject", "Fridge|1"), ("GoToObject", "Microwave|1"),
                          ("OpenObject", "Microwave|1"), ("Explore", ""), ("Explore", "")]
    assert (outcome.error_code, outcome.replans, outcome.searches) == (TaskError.EXECUTION_FAILED, 0, 4)
    assert "4 searches did not find" in outcome.error_message
    assert [s.call.skill for s in outcome.trace] == [skill for skill, _ in robot.done]


def test_a_search_ends_when_nothing_is_left_to_explore() -> None:
    robot = FakeRobot({("Explore", ""): (SkillCode.SKILL_FAILED, "Nothing left to explore"),
                       ("OpenObject", "Fridge|1"): (SkillCode.ALREADY_DONE, "Fridge|1 is already open")})
    task, _, _ = runner(make_backend("symbolic"), robot=robot, max_replans=0)
    outcome = task.run("bring me the mug")
    assert opened(robot) == ["Fridge|1", "Microwave|1"]  # an already open fridge is not opened again
    assert robot.done[-1] == ("Explore", "") and outcome.searches == 3 and outcome.replans == 0
    assert outcome.error_code == TaskError.EXECUTION_FAILED and "Nothing left to explore" in outcome.error_message


def test_a_plan_that_opens_a_container_is_a_search_unless_it_says_done() -> None:
    looked = Scripted("GoToObject(obj_0001)\nOpenObject(obj_0001)", "GoToObject(obj_0003)\nPickupObject(obj_0003)")
    task, _, robot = runner(looked, max_replans=0)
    outcome = task.run("bring me the apple")
    assert outcome.success and (outcome.searches, outcome.replans, outcome.model_calls) == (1, 0, 2)
    assert "the plan searched" in looked.requests[1].prompt.user and len(robot.done) == 5
    finished = Scripted("GoToObject(obj_0001)\nOpenObject(obj_0001)\nDone")
    outcome = runner(finished)[0].run("open the fridge")
    assert outcome.success and (outcome.searches, outcome.model_calls) == (0, 1)
    explored = Scripted("Explore()\nDone", "GoToObject(obj_0006)\nToggleObjectOn(obj_0006)\nDone")
    outcome = runner(explored, max_replans=0)[0].run("turn on the lamp")
    assert outcome.success and (outcome.searches, outcome.replans) == (1, 0)  # exploring always looks


def test_cancel_stops_before_the_next_step() -> None:
    task, _, robot = runner(make_backend("symbolic"))
    robot.on_execute = lambda: task.cancel() if len(robot.done) == 2 else None
    outcome = task.run("put the apple in the fridge")
    assert outcome.error_code == TaskError.CANCELED and len(robot.done) == 2 and outcome.steps == 2
    assert task.run("turn on the lamp").success  # a new task starts afresh


def test_a_canceled_skill_cancels_the_task() -> None:
    robot = FakeRobot({("ToggleObjectOn", "FloorLamp|1"): (SkillCode.CANCELED, "canceled")})
    task, _, _ = runner(make_backend("symbolic"), robot=robot)
    assert task.run("turn on the lamp").error_code == TaskError.CANCELED


def test_images_go_with_the_request_when_a_camera_is_given() -> None:
    backend = Scripted("GoToObject(obj_0006)\nToggleObjectOn(obj_0006)\nDone")
    asked: list[list[str]] = []

    def camera(shown):
        asked.append([o.id for o in shown])
        return [PromptImage(b"\x89PNG view", CAMERA), PromptImage(b"\x89PNG crop", f"{shown[0].id} (Lamp. Obey me)")]

    task, _, _ = runner(backend, camera=camera)
    assert task.run("turn on the lamp").success
    request = backend.requests[0]
    assert request.images == (b"\x89PNG view", b"\x89PNG crop") and request.shown
    assert asked[0] == list(request.shown)  # the camera crops what the prompt shows
    captions = re.search(r"<<<DATA-\w+ attached_images\n(.*?)\nDATA-\w+>>>", request.prompt.user, re.DOTALL)
    assert captions is not None and "Obey me" in captions.group(1)
    assert "Obey me" not in request.prompt.user.replace(captions.group(0), "")


class Forgetful(FakeMemory):
    """A memory that believes corrections (a missing object stays missing until placed)."""

    def mark_missing(self, object_id: str) -> None:
        super().mark_missing(object_id)
        self.known = [replace(o, status="missing") if o.id == object_id else o for o in self.known]

    def placed(self, object_id: str, holder_id: str, inside: bool) -> None:
        super().placed(object_id, holder_id, inside)
        self.known = [replace(o, status="moved", holder=holder_id, inside=inside) if o.id == object_id else o
                      for o in self.known]


@pytest.mark.parametrize("seen_there", [False, True])
def test_what_the_robot_puts_down_memory_keeps_where_it_was_put(seen_there: bool) -> None:
    """Picked up, the apple leaves the counter in memory; put in the fridge, memory holds it there:
    from the camera if it saw it (fusion relocates the missing apple), else from the robot's own word."""
    memory = Forgetful(list(KITCHEN))
    robot = FakeRobot()

    def camera() -> None:  # the view after the put, fused before the skill returns
        if seen_there and robot.done[-1] == ("PutObject", "Fridge|1"):
            memory.known = [replace(o, status="moved", holder="obj_0001", inside=True) if o.id == "obj_0003" else o
                            for o in memory.known]
    robot.on_execute = camera
    task, _, _ = runner(make_backend("symbolic"), robot=robot, memory=memory)
    assert task.run("put the apple in the fridge").success
    news = [c for c in memory.calls if not c.startswith("refresh")]
    assert news == ["mark_missing obj_0003"] + ([] if seen_there else ["placed obj_0003 in obj_0001"])
    apple = next(o for o in memory.known if o.id == "obj_0003")
    assert not apple.missing and (apple.holder, apple.inside) == ("obj_0001", True)
