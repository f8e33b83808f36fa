"""KARMA's metrics from task records, per set and ablation, with 95% confidence intervals over seeds.

Trivial tasks (every condition held before the robot acted) are counted, not scored. Per seed: SR
is the share of tasks whose goal conditions were all met (under the run's scoring), SR final the
share whose conditions all held at the end (final-state scoring, from the same run); MRA the share whose
first plan saw a correctly remembered object for every condition; MHR needed types found in memory
over types needed; RE and RT the exploration actions and simulated time saved against the same
tasks' no-memory runs, as (baseline - ablation) / baseline over the seed's tasks. The interval is
Student's t over the per-seed values (none with a single seed).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

from scipy import stats

from benchmarks.suite.ablations import BASELINE, FULL
from benchmarks.suite.episode import INSTRUCTION, TaskRecord

METRICS = ("sr", "sr_final", "mra", "mhr", "re", "rt", "steps", "distance", "planner_calls", "tokens", "graph_tokens",
           "whole_graph_tokens", "wall_s", "model_calls", "tokens_out", "corrections")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high); NaNs are left out; the interval is NaN with fewer than two values."""
    xs = [v for v in values if not math.isnan(v)]
    if not xs:
        return math.nan, math.nan, math.nan
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, math.nan, math.nan
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    half = stats.t.ppf(0.5 + level / 2, len(xs) - 1) * sd / math.sqrt(len(xs))
    return m, m - half, m + half


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _saved(runs: Sequence[TaskRecord], base: dict[tuple, TaskRecord], field: Callable[[TaskRecord], float]) -> float:
    paired = [(field(base[_key(r)]), field(r)) for r in runs if _key(r) in base]
    total = sum(b for b, _ in paired)
    return _ratio(total - sum(x for _, x in paired), total)


def _key(r: TaskRecord) -> tuple:
    return (r.seed, r.floor_plan, r.task_set, r.task_id)


def seed_metrics(runs: Sequence[TaskRecord], base: dict[tuple, TaskRecord]) -> dict[str, float]:
    n = len(runs)
    return {
        "sr": sum(r.success for r in runs) / n,
        "sr_final": sum(r.final_state_success for r in runs) / n,
        "mra": sum(r.retrieved for r in runs) / n,
        "mhr": _ratio(sum(r.hits for r in runs), sum(r.queries for r in runs)),
        "re": _saved(runs, base, lambda r: r.explorations),
        "rt": _saved(runs, base, lambda r: r.sim_time),
        **{m: sum(getattr(r, m) for r in runs) / n for m in METRICS[6:]},
    }


def summarize(records: Sequence[TaskRecord], sets: Sequence[str], ablations: Sequence[str]) -> dict:
    """{set: {ablation: {metric: mean, metric_ci: [low, high], "n": scored tasks, "trivial": tasks left
    out}}} ("All" pools the sets)."""
    base = {_key(r): r for r in records if r.ablation == BASELINE}
    seeds = sorted({r.seed for r in records})
    out: dict[str, dict] = {}
    for task_set in (*sets, "All"):
        out[task_set] = {}
        for ablation in ablations:
            runs = [r for r in records if r.ablation == ablation and (task_set == "All" and r.task_set in sets
                                                                      or r.task_set == task_set)]
            trivial = sum(r.trivial for r in runs)
            runs = [r for r in runs if not r.trivial]
            per_seed = [seed_metrics(group, base) for s in seeds if (group := [r for r in runs if r.seed == s])]
            if not per_seed:
                continue
            row: dict = {"n": len(runs), "trivial": trivial}
            for metric in METRICS:
                m, lo, hi = mean_ci([p[metric] for p in per_seed])
                row[metric], row[f"{metric}_ci"] = m, [lo, hi]
            out[task_set][ablation] = row
    return out


def goals(summary: dict, token_aim: Optional[float] = None) -> dict[str, dict]:
    """KARMA's ablation targets against what this run measured; ``token_aim``: a stricter aim for the
    memory-text ratio than SayPlan's 0.2 (0.05 at building scale), reported as a row of its own."""
    def cell(task_set: str, ablation: str, metric: str) -> float:
        return summary.get(task_set, {}).get(ablation, {}).get(metric, math.nan)

    rows = {}
    for task_set, target in (("Composite", 1.3), ("Complex", 2.3)):
        full, none = cell(task_set, FULL, "sr"), cell(task_set, BASELINE, "sr")
        ratio = _ratio(full, none) if none or not full > 0 else math.inf
        rows[f"SR {task_set}: full / no memory"] = {"target": f">= {target}", "value": ratio, "met": ratio >= target}
    steps = _ratio(cell("All", FULL, "steps"), cell("All", BASELINE, "steps"))
    rows["steps: full / no memory"] = {"target": "<= 0.5", "value": steps, "met": steps <= 0.5}
    for metric, what in (("graph_tokens", "memory text"), ("tokens", "whole prompt")):
        tokens = _ratio(cell("All", FULL, metric), cell("All", "both_whole", metric))
        rows[f"tokens ({what}): task subgraph / whole graph"] = {"target": "<= 0.2", "value": tokens,
                                                                 "met": tokens <= 0.2}
    # The same ratio without a whole-graph run: each planner call's subgraph against the whole graph
    # it was cut from at that moment.
    same = _ratio(cell("All", FULL, "graph_tokens"), cell("All", FULL, "whole_graph_tokens"))
    rows["tokens (memory text): task subgraph / whole graph at the same calls"] = {
        "target": "<= 0.2", "value": same, "met": same <= 0.2}
    if token_aim is not None:
        rows["tokens (memory text): task subgraph / whole graph at the same calls, aim"] = {
            "target": f"<= {token_aim}", "value": same, "met": same <= token_aim}
    sr = cell("All", FULL, "sr") - cell("All", "both_whole", "sr")
    rows["SR: task subgraph - whole graph"] = {"target": ">= 0", "value": sr, "met": sr >= 0}
    return rows


def floors(records: Sequence[TaskRecord], sets: Sequence[str], ablations: Sequence[str]) -> dict[str, dict]:
    """Per ablation, over the scored tasks of ``sets``: how many floors the robot stood on per task,
    and the share of tasks in which it took the stairs."""
    out = {}
    for ablation in ablations:
        runs = [r for r in records if r.ablation == ablation and r.task_set in sets and not r.trivial]
        if runs:
            out[ablation] = {"n": len(runs), "mean_floors": sum(r.floors for r in runs) / len(runs),
                             "took_stairs": sum(r.floors > 1 for r in runs) / len(runs)}
    return out


def understanding(records: Sequence[TaskRecord], sets: Sequence[str]) -> dict[str, dict]:
    """Goal understanding per set ("All" pools them), once per task (the full-memory run): precision
    (derived goals meaning a gold one), recall (gold goals some derived goal means), the share of
    tasks whose derived goals meant exactly the gold ones, and of those not understood at all.
    Empty when the planner was handed the gold goals."""
    runs = [r for r in records if r.ablation == FULL and r.planner_input == INSTRUCTION]
    out: dict[str, dict] = {}
    for task_set in (*sets, "All"):
        group = [r for r in runs if r.task_set == task_set or (task_set == "All" and r.task_set in sets)]
        if group:
            out[task_set] = {
                "n": len(group),
                "precision": _ratio(sum(r.derived_hits for r in group), sum(len(r.derived) for r in group)),
                "recall": _ratio(sum(r.gold_hits for r in group), sum(len(r.gold) for r in group)),
                "exact": sum(r.derived_hits == len(r.derived) == r.gold_hits == len(r.gold)
                             for r in group) / len(group),
                "not_understood": sum(bool(r.understanding) for r in group) / len(group)}
    return out

