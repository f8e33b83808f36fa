"""Tables (markdown, CSV) and plots (PNG) of a suite run.

Plots are matplotlib figures drawn on its Agg canvas (no display, no global pyplot state): grouped
bars with 95% intervals as whiskers, and lines.
"""
from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmarks.suite.ablations import ABLATIONS
from benchmarks.suite.episode import TaskRecord
from benchmarks.suite.metrics import METRICS

_COLOURS = ["#5a5a5a", "#3478be", "#e68c28", "#3ca050", "#aa46a0", "#c83c3c"]


def fmt(value: float, ci: Sequence[float] = (), digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = "inf" if math.isinf(value) else f"{value:.{digits}f}"
    if ci and not any(math.isnan(c) for c in ci):
        text += f" ± {(ci[1] - ci[0]) / 2:.{digits}f}"
    return text


def markdown(result: dict) -> str:
    """The run's tables: metrics per set and ablation, KARMA's goals, the policy sweep."""
    cols = METRICS
    lines = [f"Run {result.get('mode', 'in-process')}, {result.get('protocol', 'closed loop')}, "
             f"{result.get('scoring', 'karma')} scoring, planner input: {result.get('planner_input', 'goals')} "
             "(n counts scored tasks; trivial ones, whose conditions held before the robot acted, are left out). "
             f"Perception: {result.get('perception', 'oracle')}. Planner: {result.get('backend', 'symbolic')}"
             + (f", model {result['model']}" if result.get("model") else "") + ".", ""]
    for task_set, rows in result["sets"].items():
        lines += [f"### {task_set}", "", "| ablation | n | trivial | " + " | ".join(cols) + " |",
                  "|---|---|---" + "|---" * len(cols) + "|"]
        for name, row in rows.items():
            digits = {"tokens": 0, "graph_tokens": 0, "whole_graph_tokens": 0, "tokens_out": 0, "distance": 1,
                      "steps": 1, "wall_s": 3}
            cells = [fmt(row[c], row[f"{c}_ci"], digits.get(c, 2)) for c in cols]
            lines.append(f"| {ABLATIONS[name].title} | {row['n']} | {row.get('trivial', 0)} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### KARMA's targets", "", "| comparison | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {k} | {g['target']} | {fmt(g['value'])} | {'yes' if g['met'] else 'no'} |"
              for k, g in result["goals"].items()]
    if result.get("floors"):
        lines += ["", "### Floors (buildings)", "", "| ablation | n | floors stood on per task | took the stairs |",
                  "|---|---|---|---|"]
        lines += [f"| {ABLATIONS[name].title} | {row['n']} | {fmt(row['mean_floors'])} | {fmt(row['took_stairs'])} |"
                  for name, row in result["floors"].items()]
    if result.get("understanding"):
        lines += ["", "### Goal understanding (goals derived from the instruction vs the gold ones, once per task)",
                  "",
                  "| set | n | precision | recall | exact | not understood |", "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {u['n']} | {fmt(u['precision'])} | {fmt(u['recall'])} | {fmt(u['exact'])} | "
                  f"{fmt(u['not_understood'])} |" for name, u in result["understanding"].items()]
    sweep = result.get("stm_sweep", {})
    if sweep:
        capacities = list(next(iter(sweep.values())))
        lines += ["", "### Short-term hit rate by policy and capacity", "",
                  "| policy | " + " | ".join(str(c) for c in capacities) + " |", "|---" * (len(capacities) + 1) + "|"]
        lines += [f"| {p} | " + " | ".join(fmt(v["mean"], v["ci"]) for v in row.values()) + " |"
                  for p, row in sweep.items()]
    return "\n".join(lines) + "\n"


def write_csv(result: dict, records: Sequence[TaskRecord], out_dir: Path) -> list[Path]:
    records_csv, summary_csv, sweep_csv = out_dir / "tasks.csv", out_dir / "summary.csv", out_dir / "stm_sweep.csv"
    with records_csv.open("w", newline="") as f:
        fields = [x.name for x in dataclasses.fields(TaskRecord)]
        writer = csv.writer(f)
        writer.writerow(fields)
        writer.writerows([getattr(r, x) for x in fields] for r in records)
    with summary_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["set", "ablation", "n", "metric", "mean", "ci_low", "ci_high"])
        for task_set, rows in result["sets"].items():
            for name, row in rows.items():
                writer.writerows([task_set, name, row["n"], m, row[m], *row[f"{m}_ci"]] for m in METRICS)
    with sweep_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["policy", "capacity", "hit_rate", "ci_low", "ci_high"])
        for policy, row in result.get("stm_sweep", {}).items():
            writer.writerows([policy, c, v["mean"], *v["ci"]] for c, v in row.items())
    return [records_csv, summary_csv, sweep_csv]


def _figure(title: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.6, 4.2), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", color="0.9")
    axes.set_axisbelow(True)
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure).print_png(path)
    return path


def bar_plot(path: Path, title: str, groups: Sequence[str], series: Sequence[str],
             values: dict[tuple[str, str], tuple[float, float, float]], ylabel: str) -> Path:
    """Grouped bars: ``values[(group, series)] = (mean, low, high)``; whiskers show the interval."""
    figure, axes = _figure(title, ylabel)
    width = 0.8 / max(1, len(series))
    for s, name in enumerate(series):
        rows = [(g, *values[(group, name)]) for g, group in enumerate(groups)
                if (group, name) in values and not math.isnan(values[(group, name)][0])]
        if not rows:
            continue
        xs = [g - 0.4 + (s + 0.5) * width for g, *_ in rows]
        means = [max(mean, 0.0) for _, mean, _, _ in rows]
        # Whiskers where the interval is known (NaN draws none); clipped at zero like the bars.
        below = [math.nan if math.isnan(lo) else max(mean - max(lo, 0.0), 0.0) for _, mean, lo, _ in rows]
        above = [math.nan if math.isnan(hi) else max(hi - mean, 0.0) for _, mean, _, hi in rows]
        axes.bar(xs, means, width * 0.95, label=name, color=_COLOURS[s % len(_COLOURS)],
                 yerr=[below, above], capsize=3, error_kw={"elinewidth": 1.2})
    axes.set_xticks(range(len(groups)), groups)
    axes.set_ylim(bottom=0.0)
    if axes.get_legend_handles_labels()[0]:  # no bars at all (every value unknown): no legend to draw
        axes.legend(ncols=min(len(series), 6), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1),
                    frameon=False)
    return _save(figure, path)


def line_plot(path: Path, title: str, xs: Sequence[float], lines: dict[str, Sequence[float]], ylabel: str) -> Path:
    figure, axes = _figure(title, ylabel)
    for i, (name, ys) in enumerate(lines.items()):
        axes.plot(xs, ys, marker="o", linewidth=2, label=name, color=_COLOURS[i % len(_COLOURS)])
    axes.set_xticks(list(xs))
    axes.set_ylim(bottom=0.0)
    axes.legend(fontsize=8, frameon=False)
    return _save(figure, path)


def write_plots(result: dict, out_dir: Path) -> list[Path]:
    """SR per set per ablation; exploration saved; short-term hit rate against capacity."""
    sets = [s for s in result["sets"] if s != "All"]
    ablations = list(next(iter(result["sets"].values())))

    def triples(metric: str, names: Sequence[str]) -> dict:
        return {(s, a): (row[metric], *row[f"{metric}_ci"]) for s in sets for a, row in result["sets"][s].items()
                if a in names}

    paths = [bar_plot(out_dir / "sr.png", "Success rate per task set and memory ablation (95% CI over seeds)",
                      sets, ablations, triples("sr", ablations), "SR")]
    saving = [a for a in ablations if a != "none"]
    paths.append(bar_plot(out_dir / "exploration_saved.png",
                          "Exploration saved against no memory (RE), per task set", sets, saving,
                          triples("re", saving), "RE"))
    sweep = result.get("stm_sweep", {})
    if sweep:
        capacities = list(next(iter(sweep.values())))
        paths.append(line_plot(out_dir / "hit_rate.png", "Short-term hit rate vs capacity, real episode traces",
                               capacities, {p: [row[c]["mean"] for c in capacities] for p, row in sweep.items()},
                               "hit rate"))
    return paths
