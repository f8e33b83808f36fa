"""Entry points: run a generated suite or any task file in KARMA's format, in-process or through
the real ROS 2 nodes (``nodes=True``: ``ros_env.RosEnv``).

Episodes (one home and one seed each) are independent, so they run in worker processes (each on
a DDS domain of its own in node mode); a progress bar on stderr counts finished episodes.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from benchmarks.stm import TraceEvent
from benchmarks.suite.ablations import ABLATIONS, policy_sweep
from benchmarks.suite.env import InProcessEnv
from benchmarks.suite.episode import DayPlan, TaskRecord, run_episode
from benchmarks.suite.generate import MEMORY_SET, SETS, SUITES, by_floor_plan, home_for, write_suite
from benchmarks.suite.metrics import goals, mean_ci, summarize
from benchmarks.suite.report import markdown, write_csv, write_plots
from sim.perception import PRESETS as PERCEPTION_PRESETS
from sim.tasks import TaskFile, load_tasks

Episode = tuple[Path, int, int]  # task file, seed, floor plan


def _progress(done: int, total: int, start: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    elapsed = time.perf_counter() - start
    eta = elapsed / done * (total - done) if done else 0.0
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} episodes, "
                     f"{elapsed:.0f} s elapsed, ~{eta:.0f} s left")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _episode(job: tuple[Path, int, int, tuple[str, ...], DayPlan, bool, bool, str]
             ) -> tuple[list[TaskRecord], list[TraceEvent]]:
    path, seed, floor_plan, ablations, day, nodes, open_loop, perception = job
    tasks = by_floor_plan(load_tasks(path).tasks)[floor_plan]
    home = home_for(floor_plan, [t for task in tasks for t in task.required_types])
    if not nodes:
        return run_episode(InProcessEnv.start(home, seed, perception=perception), tasks, seed, ablations, day, open_loop=open_loop)
    from benchmarks.suite.ros_env import RosEnv  # rclpy only when asked for

    with RosEnv.start(home, seed, perception=perception) as env:
        return run_episode(env, tasks, seed, ablations, day, open_loop=open_loop)


def run_episodes(jobs: Sequence[Episode], ablations: Sequence[str], workers: int, day: DayPlan = DayPlan(),
                 nodes: bool = False, open_loop: bool = False, perception: str = "oracle"
                 ) -> tuple[list[TaskRecord], dict[int, list[list[TraceEvent]]]]:
    """Records of every episode, and the short-term traces per seed."""
    records: list[TaskRecord] = []
    traces: dict[int, list[list[TraceEvent]]] = {}
    full = [(path, seed, plan, tuple(ablations), day, nodes, open_loop, perception) for path, seed, plan in jobs]
    start = time.perf_counter()
    _progress(0, len(full), start)
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results: Iterable = pool.map(_episode, full)
            for n, (job, (found, trace)) in enumerate(zip(full, results), 1):
                records += found
                traces.setdefault(job[1], []).append(trace)
                _progress(n, len(full), start)
    else:
        for n, job in enumerate(full, 1):
            found, trace = _episode(job)
            records += found
            traces.setdefault(job[1], []).append(trace)
            _progress(n, len(full), start)
    return records, traces


def _sweep(traces: dict[int, list[list[TraceEvent]]]) -> dict[str, dict[int, dict]]:
    per_seed = [policy_sweep(t) for t in traces.values()]
    if not per_seed:
        return {}
    return {p: {c: dict(zip(("mean", "ci"), _split(mean_ci([s[p][c] for s in per_seed])))) for c in per_seed[0][p]}
            for p in per_seed[0]}


def _split(triple: tuple[float, float, float]) -> tuple[float, list[float]]:
    return triple[0], [triple[1], triple[2]]


def _result(records: list[TaskRecord], traces: dict, sets: Sequence[str], ablations: Sequence[str]) -> dict:
    summary = summarize(records, sets, ablations)
    return {"sets": summary, "goals": goals(summary), "stm_sweep": _sweep(traces)}


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
              perception: str = "oracle") -> dict:
    """Generate suite ``suite`` ("tiny", "default", "full"), run it, write tables and plots to ``out_dir``;
    ``nodes``: through the real ROS 2 nodes instead of in this process; ``open_loop``: KARMA's
    protocol (one plan per task, no replanning or search) instead of the closed loop; ``perception``:
    the simulator's perception model (``sim.perception``) every frame passes.

    Returns per set and ablation ``sr``, ``mra``, ``mhr``, ``re``, ``rt``, ``steps``, ``tokens``
    (each with ``<metric>_ci``), KARMA's goals, the short-term policy sweep and the files written;
    with ``json_out`` the result is also printed as JSON on stdout.
    """
    spec = SUITES[suite]
    if seeds is not None:
        spec = type(spec)(spec.name, tuple(seeds), spec.floor_plans, spec.per_set)
    files = write_suite(spec, out_dir / "tasks")
    jobs = [(path, seed, plan) for path, seed in zip(files, spec.seeds) for plan in spec.floor_plans]
    records, traces = run_episodes(jobs, ablations, _workers(workers), nodes=nodes, open_loop=open_loop,
                                   perception=perception)
    result = {"suite": spec.name, "mode": _mode(nodes), "protocol": _protocol(open_loop), "perception": perception,
              "seeds": list(spec.seeds),
              "floor_plans": list(spec.floor_plans),
              **_result(records, traces, SETS, ablations)}
    result["files"] = [str(p) for p in files + _write(result, records, out_dir)]
    if json_out:
        print(json.dumps(_plain(result), indent=1))
    return result


def run_task_file(path: Union[str, Path], seeds: Sequence[int] = (0,), json_out: bool = False,
                  out_dir: Path = Path("benchmark_output"), ablations: Sequence[str] = tuple(ABLATIONS),
                  workers: Optional[int] = None, nodes: bool = False, open_loop: bool = False,
                  perception: str = "oracle") -> dict:
    """Run any task file in KARMA's format: one episode per FloorPlan and seed (a ``Memory`` set, if
    present, runs first and is not scored). Reports per task and per set, and the conditions the
    parser could not understand (tasks left with no condition are not run)."""
    path = Path(path)
    parsed: TaskFile = load_tasks(path)
    sets = [s for s in parsed.task_sets() if s != MEMORY_SET]
    plans = sorted(by_floor_plan(parsed.tasks))
    jobs = [(path, seed, plan) for seed in seeds for plan in plans]
    records, traces = run_episodes(jobs, ablations, _workers(workers), nodes=nodes, open_loop=open_loop,
                                   perception=perception)
    result = {"file": str(path), "mode": _mode(nodes), "protocol": _protocol(open_loop), "perception": perception,
              "seeds": list(seeds),
              "floor_plans": plans, **_result(records, traces, sets, ablations),
              "tasks": [_plain(r.__dict__) for r in records],
              "not_run": [t.task_id for t in parsed.tasks if not t.conditions],
              "issues": [i.__dict__ for i in parsed.issues]}
    result["files"] = [str(p) for p in _write(result, records, out_dir)]
    if json_out:
        print(json.dumps(_plain(result), indent=1))
    return result


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
    parser.add_argument("--perception", choices=list(PERCEPTION_PRESETS), default="oracle",
                        help="what the camera, detector and tracker make of every frame (sim/perception.py): "
                        "oracle (perfect), realistic, harsh (default: oracle)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run_arguments(args: argparse.Namespace) -> dict:
    """Run what :func:`add_arguments`' options ask for."""
    if args.tasks:
        return run_task_file(args.tasks, args.seeds or (0,), args.json, args.out, workers=args.workers,
                             nodes=args.nodes, open_loop=args.open_loop, perception=args.perception)
    return run_suite(args.suite, args.seeds, args.json, args.out, workers=args.workers, nodes=args.nodes,
                     open_loop=args.open_loop, perception=args.perception)
