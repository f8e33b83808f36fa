"""The closed loop: prompt -> plan -> validate -> execute step by step -> correct memory -> replan.

The robot goes where *memory* says an object is: for an object memory places in or on something,
GoToObject first drives to that holder and looks. If perception then finds the object gone
(fusion marks it missing), or a later skill fails because the object is not there (unknown id,
not visible, out of reach), memory was wrong: the runner marks the object missing, searches so
perception can find it elsewhere (fusion relocates a missing object it sees again), and asks the
backend for a new plan. Plans may take a container to be open only if this task opened it: a
camera does not see a door shut, so memory's "open" goes stale.

When memory lacks something, a backend plans a *search*: a plan that ends by looking (Explore, or
opening a container without claiming with ``Done`` to finish the task). Perception fuses what the
robot sees after every skill, so the runner simply asks again. Searching is the normal way to
work without memory, not a failure, so search plans are bounded by ``max_search_plans`` and leave
``max_replans`` to real failures.

A plan that fails to parse or to validate never reaches the robot: it goes back to the backend
with the validator's objection (its code and short text) for up to ``max_corrections`` corrections
in a row (SayPlan's verifier loop), counted apart from replans; a plan still invalid after them
ends the task with PLAN_INVALID. Every way out ends in a :class:`TaskOutcome` carrying one of
ExecuteTask's error codes; nothing raises, and bad input (empty instruction, unreachable backend,
output that does not parse) leaves memory untouched.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Callable, Optional, Sequence

from planners.backends.base import (
    BackendUnavailable,
    ImplausibleGoal,
    InvalidInstruction,
    PlannerBackend,
    PlanRequest,
    PlanResponse,
)
from planners.grammar import DONE, SkillCall
from planners.images import PromptImage
from planners.interfaces import KnownObject, MemoryAccess, SkillCode, SkillExecutor, by_id
from planners.prompt import build_prompt
from planners.validate import IssueCode, is_container, validate_plan
from scene_graph.outcomes import NOT_THERE, UNUSABLE

log = logging.getLogger(__name__)

_LOOKED = "the plan searched: memory lacked something the task needs; plan again with what the robot saw"


class TaskError(IntEnum):
    """ExecuteTask.Result error codes."""

    NONE = 0
    INVALID_INSTRUCTION = 1
    BACKEND_UNAVAILABLE = 2
    PLAN_INVALID = 3
    EXECUTION_FAILED = 4
    CANCELED = 5


@dataclass(frozen=True)
class StepRecord:
    call: SkillCall  # as planned (memory ids)
    sent: str  # the object_id the Skill action got
    success: bool
    error: str = ""


@dataclass(frozen=True)
class Feedback:
    step: int
    skill: str
    status: str  # planning, executing, succeeded, failed, replanning, correcting


@dataclass(frozen=True)
class TaskOutcome:
    success: bool
    error_code: TaskError
    error_message: str
    steps: int
    replans: int
    model_calls: int
    tokens_in: int
    tokens_out: int
    duration_s: float
    trace: tuple[StepRecord, ...]
    searches: int = 0  # search plans run (not counted in replans)
    corrections: int = 0  # invalid plans sent back to the backend with the validator's objection


@dataclass
class _Episode:
    start: float
    on_feedback: Optional[Callable[[Feedback], None]]
    replans: int = 0
    searches: int = 0
    corrections: int = 0
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    trace: list[StepRecord] = field(default_factory=list)
    opened: dict[str, bool] = field(default_factory=dict)  # memory id -> open, as this task's skills left it
    unusable: set[str] = field(default_factory=set)  # memory ids a skill could not use (no clear view, no room)

    def charge(self, response: PlanResponse) -> None:
        self.model_calls += response.model_calls
        self.tokens_in += response.tokens_in
        self.tokens_out += response.tokens_out

    def known(self, objects: list[KnownObject]) -> list[KnownObject]:
        """Memory as plans may assume it: a container is open only if this task opened it.

        A camera does not see a door shut, so memory goes on believing open a container someone
        closed since, and a plan that does not open it fails; opening one that is open costs a
        step ("already open"). What this task opened or closed itself holds (memory may not have
        learnt it: a skill whose effect already held changed nothing), so a search never opens
        the same container twice. Objects a skill could not use this task are left out, so the
        next plan takes another of their kind, or searches for one.
        """
        return [_with_open(o, self.opened.get(o.id)) if o.id in self.opened
                or (o.state("open") is True and is_container(o.label)) else o
                for o in objects if o.id not in self.unusable]

    def notify(self, skill: str, status: str) -> None:
        if self.on_feedback is not None:
            self.on_feedback(Feedback(len(self.trace), skill, status))

    def finish(self, code: TaskError, message: str = "") -> TaskOutcome:
        outcome = TaskOutcome(code == TaskError.NONE, code, message, len(self.trace), self.replans,
                              self.model_calls, self.tokens_in, self.tokens_out,
                              time.perf_counter() - self.start, tuple(self.trace), self.searches, self.corrections)
        log.info("task %s: %s steps, %d replans, %d searches, %d corrections, %d model calls, %d/%d tokens, %.2f s %s",
                 code.name, outcome.steps, outcome.replans, outcome.searches, outcome.corrections,
                 outcome.model_calls, outcome.tokens_in, outcome.tokens_out, outcome.duration_s, message)
        return outcome


class _Canceled(Exception):
    pass


class TaskRunner:
    """Carries out instructions with ``backend`` on ``executor``, reading and correcting ``memory``.

    ``camera`` (optional), given the objects the prompt shows, returns the images a VLM backend
    gets: the current camera view and crops of some of those objects (:func:`planners.images.camera_images`;
    none while no image has arrived); their captions go into the prompt as fenced data. ``held`` (the memory id
    of what the hand holds) carries over from one task to the next, as the robot's hand does.
    ``max_search_plans`` bounds the search plans of one task (a whole home's rooms and containers
    fit in the default); 0 turns searching off. ``max_corrections`` bounds the invalid plans in a
    row sent back to the backend with the validator's objection.
    """

    def __init__(self, backend: PlannerBackend, memory: MemoryAccess, executor: SkillExecutor,
                 max_replans: int = 5, budget_tokens: int = 600, short_term_k: int = 5,
                 camera: Optional[Callable[[Sequence[KnownObject]], Sequence[PromptImage]]] = None,
                 max_search_plans: int = 40, max_corrections: int = 2) -> None:
        self.backend = backend
        self.memory = memory
        self.executor = executor
        self.max_replans = max_replans
        self.max_search_plans = max_search_plans
        self.max_corrections = max_corrections
        self.budget_tokens = budget_tokens
        self.short_term_k = short_term_k
        self.camera = camera
        self.held = ""
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop before the next step or plan (a skill already running is the executor's to stop)."""
        self._cancel.set()

    def run(self, instruction: str, goal_conditions: Sequence[str] = (),
            on_feedback: Optional[Callable[[Feedback], None]] = None) -> TaskOutcome:
        self._cancel.clear()
        ep = _Episode(time.perf_counter(), on_feedback)
        if not any(c.isalpha() for c in instruction) and not goal_conditions:
            return ep.finish(TaskError.INVALID_INSTRUCTION, "the instruction is empty")
        try:
            return self._loop(ep, instruction, goal_conditions)
        except _Canceled:
            return ep.finish(TaskError.CANCELED, "canceled")

    def _loop(self, ep: _Episode, instruction: str, goal_conditions: Sequence[str]) -> TaskOutcome:
        """Plan, check, execute, and plan again after a search or a failure, within the bounds."""
        feedback = ""
        corrections = 0  # in a row, for the plan being written
        while True:
            self._check_cancel()
            ep.notify("", "planning")
            objects = ep.known(self.memory.objects())
            # Built outside the try: memory's failures are not the backend's.
            request = self._request(instruction, goal_conditions, objects, feedback)
            try:
                response = self.backend.plan(request)
            except BackendUnavailable as exc:
                return ep.finish(TaskError.BACKEND_UNAVAILABLE, str(exc))
            except ImplausibleGoal as exc:
                return ep.finish(TaskError.PLAN_INVALID, str(exc))
            except InvalidInstruction as exc:
                return ep.finish(TaskError.INVALID_INSTRUCTION, str(exc))
            except Exception as exc:  # noqa: BLE001 - a backend's bug ends this task, not the node or the run
                log.exception("the planner backend failed")
                return ep.finish(TaskError.PLAN_INVALID, f"the planner backend failed: {exc!r}")
            ep.charge(response)
            refused = _objection(response, objects, self.held)
            if refused:
                if corrections >= self.max_corrections:
                    return ep.finish(TaskError.PLAN_INVALID, refused)
                corrections += 1
                ep.corrections += 1
                feedback = f"the plan was refused before the robot moved: {refused}; write the whole plan again"
                ep.notify("", "correcting")
                continue
            corrections = 0
            outcome, problem = self._carry_out(ep, response, by_id(objects))
            if outcome is not None:
                return outcome
            if not problem:
                feedback = _LOOKED
                continue
            if ep.replans >= self.max_replans:
                return ep.finish(TaskError.EXECUTION_FAILED, problem)
            ep.replans += 1
            feedback = problem
            ep.notify("", "replanning")

    def _carry_out(self, ep: _Episode, response: PlanResponse,
                   objects: dict[str, KnownObject]) -> tuple[Optional[TaskOutcome], str]:
        """Execute a valid plan: (the outcome if the task ends here, why to plan again; "" after a search)."""
        searching = _searches(response, objects)
        if searching and ep.searches >= self.max_search_plans:
            why = (f"{ep.searches} searches did not find what the task needs" if self.max_search_plans else
                   "memory lacks what the task needs, and searching is off")
            return ep.finish(TaskError.EXECUTION_FAILED, why), ""
        ep.searches += searching
        problem = self._execute(ep, response.calls, objects)
        if problem is None:
            return (None if searching else ep.finish(TaskError.NONE)), ""
        if ep.trace[-1].call.skill == "Explore" and not ep.trace[-1].success:
            return ep.finish(TaskError.EXECUTION_FAILED, problem), problem  # nowhere left to look
        return None, problem

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise _Canceled()

    def _request(self, instruction: str, goal_conditions: Sequence[str], objects: list[KnownObject],
                 feedback: str) -> PlanRequest:
        sub = self.memory.task_subgraph(instruction, self.budget_tokens)
        recent = self.memory.short_term(instruction, self.short_term_k)
        known = by_id(objects)
        images = list(self.camera([known[i] for i in sub.object_ids if i in known])) if self.camera else []
        prompt = build_prompt(instruction, sub.text, recent, goal_conditions, self.held, feedback,
                              images=[image.caption for image in images])
        return PlanRequest(instruction, prompt, tuple(objects), sub.object_ids, tuple(goal_conditions),
                           self.held, tuple(image.png for image in images))

    def _execute(self, ep: _Episode, calls: Sequence[SkillCall], objects: dict[str, KnownObject]) -> Optional[str]:
        """Run the plan; None when it completed, else why the loop must plan again."""
        for call in calls:
            self._check_cancel()
            ep.notify(str(call), "executing")
            failure = self._step(ep, call, objects)
            ep.notify(str(call), "failed" if failure else "succeeded")
            if failure:
                return failure
        return None

    def _step(self, ep: _Episode, call: SkillCall, objects: dict[str, KnownObject]) -> str:
        """One plan step; "" on success, else the failure (memory corrected when it was wrong)."""
        target = objects.get(call.target)
        if call.skill == "GoToObject" and target is not None and target.holder in objects:
            # Go where memory says: to the holder (unless the robot stands there, having looked),
            # and look before approaching the object itself.
            holder = objects[target.holder]
            there = _last_went_to(ep.trace) == holder.id
            error, code = ("", SkillCode.NONE) if there else self._skill(ep, call, holder)
            if error:
                return self._failed(ep, holder, call.target, error, code)
            now = by_id(self.memory.objects()).get(target.id)
            if now is None or now.missing:
                return self._wrong(ep, target, f"{target.id} ({target.label}) is not where memory said")
        error, code = self._skill(ep, call, target)
        if error:
            return self._failed(ep, target, call.target, error, code)
        if call.skill == "PickupObject":
            self.held = call.target
            # No longer where memory saw it: missing, it is relocated where the camera next sees it
            # (after the put), as any missing object seen again, not remembered in two places.
            if target is not None:
                self.memory.mark_missing(target.id)
        elif call.skill == "PutObject":
            put, self.held = self.held, ""
            now = by_id(self.memory.objects()).get(put)
            if target is not None and now is not None and now.missing:  # the camera did not see it there
                self.memory.placed(put, target.id, is_container(target.label))
        elif call.skill in ("OpenObject", "CloseObject"):
            ep.opened[call.target] = call.skill == "OpenObject"
        return ""

    def _failed(self, ep: _Episode, failed: Optional[KnownObject], wanted: str, why: str, code: SkillCode) -> str:
        """Why to plan again after a skill on ``failed`` (on the way to ``wanted``) failed with ``code``.

        Memory was wrong about the object: correct it and search. Memory was right but the object
        cannot serve (no clear view of it, no room in it): the next plans leave ``wanted`` out.
        """
        if code in NOT_THERE and failed is not None:
            return self._wrong(ep, failed, why)
        if code in UNUSABLE:
            ep.unusable.add(wanted)
            return f"{why}; {wanted} is left out of the next plans"
        return why

    def _skill(self, ep: _Episode, call: SkillCall, target: Optional[KnownObject]) -> tuple[str, SkillCode]:
        """Execute on the robot: ("", NONE) on success, else (why, the result's code)."""
        sent = (target.external_id or target.label) if target is not None else call.target
        result = self.executor.execute(call.skill, sent)
        self.memory.refresh()
        # ALREADY_DONE: what this step wanted already holds (memory did not know the state).
        success = result.success or result.error_code == SkillCode.ALREADY_DONE
        ep.trace.append(StepRecord(call, sent, success, result.error_message))
        if success:
            return "", SkillCode.NONE
        if result.error_code == SkillCode.CANCELED:
            raise _Canceled()
        return f"{call} failed: {result.error_message or 'no reason given'}", result.error_code

    def _wrong(self, ep: _Episode, target: KnownObject, why: str) -> str:
        """Memory was wrong about ``target``: mark it missing and search, so perception can find it.

        The search is GoToObject by type (the robot's own object search: in the simulators, the
        nearest object of that type), else Explore(); fusion relocates a missing object it sees again.
        With ``max_search_plans`` 0 searching is off (KARMA's open loop) and the failure stands.
        """
        self.memory.mark_missing(target.id)
        if not self.max_search_plans:
            return why
        log.info("memory was wrong: %s; searching", why)
        for skill, argument in (("GoToObject", target.label), ("Explore", "")):
            result = self.executor.execute(skill, argument)
            self.memory.refresh()
            ep.trace.append(StepRecord(SkillCall(skill, argument), argument, result.success, result.error_message))
            if result.success:
                return why
        return f"{why}; the search failed: {result.error_message}"


def _objection(response: PlanResponse, objects: Sequence[KnownObject], held: str) -> str:
    """Why the plan may not run, as "CODE: text" ("" when it parses and validates)."""
    if response.error:
        return f"{IssueCode.SYNTAX.value}: {response.error}"
    issue = validate_plan(response.calls, objects, held)
    return f"{issue.code.value}: {issue}" if issue is not None else ""


def _last_went_to(trace: Sequence[StepRecord]) -> str:
    """What the robot last drove to, as the step named it (a memory id; "" after Explore)."""
    for step in reversed(trace):
        if step.success and step.call.skill in ("GoToObject", "Explore"):
            return step.call.target if step.call.skill == "GoToObject" else ""
    return ""


def _with_open(o: KnownObject, value: Optional[bool]) -> KnownObject:
    """``o`` with its "open" state set to ``value`` (None: not known)."""
    states = {name: v for name, v in o.states if name != "open"}
    if value is not None:
        states["open"] = value
    return replace(o, states=tuple(sorted(states.items())))


def _searches(response: PlanResponse, objects: dict[str, KnownObject]) -> bool:
    """Whether the plan only looks for something, so the task goes on after it: it ends exploring,
    or it ends opening a container without claiming with ``Done`` to finish the task."""
    if not response.calls:
        return False
    last = response.calls[-1]
    if last.skill == "Explore":
        return True
    target = objects.get(last.target)
    return last.skill == "OpenObject" and target is not None and is_container(target.label) \
        and not response.text.rstrip().endswith(DONE)
