"""One home's day: build memory, then run every scored task once per ablation from the same moment.

The day: a tour (exploration), household time, the Memory tasks with household time in between,
a longer gap ("this morning" becomes "now"), then the scored tasks. Before each scored task the
robot branches once per ablation; the full-memory run is the one the day continues from.
Everything a :class:`TaskRecord` holds is measured from what happened: the skills sent, the
simulated clock, the planner's requests, and the simulator's ground truth.

Scoring (``SCORINGS``): ``karma`` counts a goal condition once it has held at some moment of the
task, checked before the robot acts and after every skill (``sim.tasks.GoalTracker``; a condition
contradicting an earlier one, such as "on" then "off", counts only after it), as KARMA scores its
sequences of subgoals; ``final-state`` counts the conditions holding when the task ends. Either
way a task whose conditions all hold before the robot acts is ``trivial``: reported, never a
success. Every record also says whether its conditions held at the end, so one run gives both
scorings side by side (the planner acts the same under either: scoring is read, never steered).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from benchmarks.stm import TraceEvent
from benchmarks.suite.ablations import ABLATIONS, FULL, Ablation, MemoryView
from benchmarks.suite.env import Env
from benchmarks.suite.generate import MEMORY_SET
from planners.backends import BackendConfig, PlanRequest, PlanResponse, make_backend
from planners.backends.base import PlannerBackend
from planners.grounding import NotUnderstood
from planners.instructions import understand
from planners.interfaces import KnownObject, SkillExecutor, SkillResult, by_id
from planners.loop import TaskError, TaskRunner
from scene_graph.goals import means
from scene_graph.ontology import canonical_type
from scene_graph.tokens import count_tokens
from sim.records import ObjectState
from sim.tasks import Condition, GoalTracker, Task, holds

KARMA, FINAL_STATE = "karma", "final-state"
SCORINGS = (KARMA, FINAL_STATE)
# What the planner is handed: the task's instruction only (its goals are derived; the gold goal
# conditions only score, as in KARMA), or the gold goal conditions themselves.
INSTRUCTION, GOALS = "instruction", "goals"
PLANNER_INPUTS = (INSTRUCTION, GOALS)


@dataclass(frozen=True)
class DayPlan:
    """Simulated seconds of household life at each point of the day."""

    after_tour: float = 600.0
    between_memory_tasks: float = 300.0
    before_tasks: float = 1800.0
    between_tasks: float = 180.0


@dataclass(frozen=True)
class TaskRecord:
    seed: int
    floor_plan: int
    task_set: str
    task_id: str
    ablation: str
    success: bool  # every goal condition met (never for a trivial task)
    progress: float  # share of goal conditions met, under ``scoring``
    retrieved: bool  # MRA: the first plan saw, for every condition, a correctly remembered object
    hits: int  # MHR: needed object types present in memory at the first plan ...
    queries: int  # ... out of the types needed
    steps: int
    explorations: int  # Explore calls and searches by type
    distance: float  # metres driven
    sim_time: float  # simulated seconds the task took
    planner_calls: int
    tokens: int  # prompt tokens (counted from the prompts built, whatever the backend)
    graph_tokens: int  # of which memory text (subgraph or whole graph)
    wall_s: float
    error: str = ""  # the planner's reason when the task ended in failure
    trivial: bool = False  # every condition held before the robot acted: not scored
    scoring: str = KARMA
    met: tuple[tuple[str, int], ...] = ()  # (condition, skills done when first met; 0: before acting)
    failure: str = ""  # why the task failed: the planner's reason, else the conditions not met
    failure_code: str = ""  # TRIVIAL, GOALS_NOT_MET, or the planner's TaskError name; "" on success
    final_state_success: bool = False  # every condition holds when the task ends (either scoring's run)
    floors: int = 1  # floors the robot stood on during the task (more than 1: it took the stairs)
    whole_graph_tokens: int = 0  # the whole graph's tokens at the same planner calls (subgraph ablations)
    planner_input: str = GOALS
    gold: tuple[str, ...] = ()  # the task's goal conditions
    derived: tuple[str, ...] = ()  # the goals understood from the instruction (planner_input "instruction")
    derived_hits: int = 0  # derived goals that mean a gold one
    gold_hits: int = 0  # gold goals some derived goal means
    understanding: str = ""  # why the instruction was not understood (a NotUnderstood code), "" if it was
    model_calls: int = 0  # requests the backend made of a model (0 for the symbolic planner)
    tokens_out: int = 0  # tokens the model wrote, as the backend counted them (a server's usage)
    corrections: int = 0  # invalid plans sent back to the model with the validator's objection


def derive(task: Task) -> tuple[tuple[str, ...], int, int, str]:
    """(derived goals, derived hits, gold hits, not-understood code) for the task's instruction,
    understood as the planner understands it."""
    try:
        derived = understand(task.instruction)
    except NotUnderstood as exc:
        return (), 0, 0, exc.code
    return (tuple(c.text for c in derived), sum(any(means(d, g) for g in task.conditions) for d in derived),
            sum(any(means(d, g) for d in derived) for g in task.conditions), "")


class _Metered:
    """The backend, counting calls and prompt tokens and keeping the first request."""

    def __init__(self, inner: PlannerBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.tokens = 0
        self.first: Optional[PlanRequest] = None

    def plan(self, request: PlanRequest) -> PlanResponse:
        self.calls += 1
        self.tokens += count_tokens(request.prompt.text)
        self.first = self.first or request
        return self.inner.plan(request)


class _Counting:
    """The executor, counting skills, exploration and distance; ``after(skills)`` runs after each skill."""

    def __init__(self, inner: SkillExecutor, after: Callable[[int], object] = lambda n: None) -> None:
        self.inner = inner
        self.after = after
        self.skills = 0
        self.explorations = 0
        self.distance = 0.0

    def execute(self, skill: str, object_id: str) -> SkillResult:
        if skill == "Explore" or (skill == "GoToObject" and canonical_type(object_id) == object_id):
            self.explorations += 1
        result = self.inner.execute(skill, object_id)
        self.skills += 1
        self.distance += result.distance
        self.after(self.skills)
        return result


def needed_types(conditions: Sequence[Condition]) -> list[str]:
    return list(dict.fromkeys(t for c in conditions for t in c.types))


def _graded(conditions: Sequence[Condition], objects: Sequence[KnownObject], truth: Sequence[ObjectState],
            held: str) -> tuple[bool, int, int]:
    """(every condition had a correctly remembered object, hits, queries) for the first plan's memory.

    A subject is correctly remembered when memory holds it where it really is (same holder, or in
    hand); targets are furniture, so knowing one is enough.
    """
    known = by_id(objects)
    real = {o.object_id: o for o in truth}
    present = [o for o in objects if not o.missing]

    def right(o: KnownObject) -> bool:
        actual = real.get(o.external_id)
        if actual is None:
            return False
        holder = known[o.holder].external_id if o.holder in known else ""
        return o.id == held or (actual.parents[:1] == ((holder,) if holder else ()))

    hits = queries = 0
    retrieved = True
    for c in conditions:
        subjects = [o for o in present if o.label in c.subject]
        groups = [bool(subjects)] + ([any(o.label in c.target for o in present)] if c.target else [])
        hits += sum(groups)
        queries += len(groups)
        retrieved &= all(groups) and any(right(o) for o in subjects)
    return retrieved, hits, queries


SYMBOLIC = BackendConfig()
# KARMA's protocol: the planner writes one plan, which runs to its end or its first failure.
OPEN_LOOP = {"max_replans": 0, "max_search_plans": 0}


def run_task(env: Env, task: Task, ablation: Ablation, seed: int, backend: Optional[PlannerBackend] = None,
             open_loop: bool = False, scoring: str = KARMA, planner_input: str = INSTRUCTION,
             max_corrections: int = 2) -> TaskRecord:
    """One task under ``ablation`` planned by ``backend`` (default: the symbolic planner);
    ``open_loop``: one plan, no replanning and no search (KARMA's protocol), else the closed loop
    with its search for what memory lacks; ``scoring``: one of ``SCORINGS`` (see the module's
    docstring); ``planner_input``: one of ``PLANNER_INPUTS``; ``max_corrections``: invalid plans in
    a row sent back to the model."""
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}: expected one of {SCORINGS}")
    if planner_input not in PLANNER_INPUTS:
        raise ValueError(f"unknown planner input {planner_input!r}: expected one of {PLANNER_INPUTS}")
    conditions = task.conditions
    env.begin_task(needed_types(conditions))
    start, held, truth, floors = env.clock(), env.held_id(), env.truth(), env.floors_visited()
    tracker = GoalTracker(conditions)
    tracker.update(truth, 0)
    trivial = tracker.done if scoring == KARMA else all(holds(c, truth) for c in conditions)
    view = MemoryView(env.memory, ablation, start, held, env.short_term_ids, env.whole_graph)
    metered = _Metered(backend or make_backend("symbolic"))
    # Final-state scoring reads the truth once at the end; only KARMA's needs it after every skill.
    counting = _Counting(env.executor, (lambda n: tracker.update(env.truth(), n)) if scoring == KARMA
                         else (lambda n: None))
    runner = TaskRunner(metered, view, counting, max_corrections=max_corrections, **(OPEN_LOOP if open_loop else {}))
    runner.held = held
    wall = time.perf_counter()
    outcome = runner.run(task.instruction, [c.text for c in conditions] if planner_input == GOALS else [])
    wall = time.perf_counter() - wall
    final = env.truth()
    final_state_success = all(holds(c, final) for c in conditions) and not trivial
    if scoring == FINAL_STATE:
        tracker.achieved = [counting.skills if holds(c, final) else None for c in conditions]
    met = tuple((c.text, int(a)) for c, a in zip(conditions, tracker.achieved) if a is not None)
    success = tracker.done and not trivial
    failure, code = "", ""
    if trivial:
        failure, code = "trivial: every goal condition held before the robot acted", "TRIVIAL"
    elif not success and outcome.error_code != TaskError.NONE:
        failure, code = outcome.error_message, outcome.error_code.name
    elif not success:
        failure, code = "goal conditions not met: " + ", ".join(c.text for c in tracker.pending()), "GOALS_NOT_MET"
    retrieved, hits, queries = (_graded(conditions, metered.first.objects, truth, held) if metered.first
                                else (False, 0, sum(1 + bool(c.target) for c in conditions)))
    return TaskRecord(seed, task.floor_plan or 0, task.task_set, task.task_id, ablation.name,
                      success, tracker.progress, retrieved, hits, queries, outcome.steps,
                      counting.explorations, counting.distance, env.clock() - start, metered.calls,
                      metered.tokens, view.graph_tokens, wall, outcome.error_message, trivial, scoring, met, failure,
                      code, final_state_success, len(floors | env.floors_visited()), view.whole_graph_tokens,
                      planner_input, tuple(c.text for c in conditions),
                      *(derive(task) if planner_input == INSTRUCTION else ((), 0, 0, "")),
                      outcome.model_calls, outcome.tokens_out, outcome.corrections)


def run_episode(env: Env, tasks: Sequence[Task], seed: int, ablations: Sequence[str],
                day: DayPlan = DayPlan(), backend: BackendConfig = SYMBOLIC, open_loop: bool = False,
                scoring: str = KARMA, planner_input: str = INSTRUCTION, max_corrections: int = 2
                ) -> tuple[list[TaskRecord], list[TraceEvent]]:
    """Every task of one home (Memory tasks first), each scored task once per ablation, planned by
    one ``backend`` built for the episode (a model loads once; a server's dialect is learnt once);
    ``open_loop`` applies to the scored tasks (the day's Memory tasks always run in the closed loop)."""
    planner = backend.make()
    records: list[TaskRecord] = []
    env.tour()
    env.advance(day.after_tour)
    memory = [t for t in tasks if t.task_set == MEMORY_SET and t.conditions]
    for task in memory:
        records.append(run_task(env, task, ABLATIONS[FULL], seed, planner, scoring=scoring,
                                planner_input=planner_input, max_corrections=max_corrections))
        env.advance(day.between_memory_tasks)
    env.advance(day.before_tasks)
    for task in (t for t in tasks if t.task_set != MEMORY_SET and t.conditions):
        for name in ablations:
            if name != FULL:
                with env.branch() as branch:
                    records.append(run_task(branch, task, ABLATIONS[name], seed, planner, open_loop, scoring,
                                            planner_input, max_corrections))
        records.append(run_task(env, task, ABLATIONS[FULL], seed, planner, open_loop, scoring, planner_input,
                                max_corrections))
        env.advance(day.between_tasks)
    return records, env.trace or []
