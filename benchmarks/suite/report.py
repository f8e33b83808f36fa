"""Tables (markdown, CSV) and plots (PNG) of a suite run.

matplotlib is not part of the stack, so plots are drawn with Pillow: grouped bars with 95%
intervals as whiskers, and lines; plain but exact.
"""
from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from benchmarks.suite.ablations import ABLATIONS
from benchmarks.suite.episode import TaskRecord
from benchmarks.suite.metrics import METRICS

_COLOURS = [(90, 90, 90), (52, 120, 190), (230, 140, 40), (60, 160, 80), (170, 70, 160), (200, 60, 60)]
_W, _H, _PAD = 760, 420, 60


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
    lines = [f"Run {result.get('mode', 'in-process')}, {result.get('protocol', 'closed loop')}. "
             f"Perception: {result.get('perception', 'oracle')}.", ""]
    for task_set, rows in result["sets"].items():
        lines += [f"### {task_set}", "", "| ablation | n | " + " | ".join(cols) + " |",
                  "|---|---" + "|---" * len(cols) + "|"]
        for name, row in rows.items():
            digits = {"tokens": 0, "graph_tokens": 0, "distance": 1, "steps": 1, "wall_s": 3}
            cells = [fmt(row[c], row[f"{c}_ci"], digits.get(c, 2)) for c in cols]
            lines.append(f"| {ABLATIONS[name].title} | {row['n']} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### KARMA's targets", "", "| comparison | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {k} | {g['target']} | {fmt(g['value'])} | {'yes' if g['met'] else 'no'} |"
              for k, g in result["goals"].items()]
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


def _axes(title: str, ylabel: str, top: float) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(img)
    draw.text((_PAD, 12), title, fill="black")
    draw.text((6, _PAD - 24), ylabel, fill="black")
    for i in range(6):
        value = top * i / 5
        y = _y(value, top)
        draw.line([(_PAD, y), (_W - 20, y)], fill=(225, 225, 225))
        draw.text((8, y - 6), f"{value:.2f}", fill="black")
    draw.line([(_PAD, _PAD), (_PAD, _H - _PAD), (_W - 20, _H - _PAD)], fill="black")
    return img, draw


def _y(value: float, top: float) -> float:
    return _H - _PAD - (value / top) * (_H - 2 * _PAD) if top else _H - _PAD


def _legend(draw: ImageDraw.ImageDraw, names: Sequence[str]) -> None:
    for i, name in enumerate(names):
        x = _PAD + 10 + i * 130
        draw.rectangle([x, _H - 22, x + 10, _H - 12], fill=_COLOURS[i % len(_COLOURS)])
        draw.text((x + 14, _H - 24), name, fill="black")


def bar_plot(path: Path, title: str, groups: Sequence[str], series: Sequence[str],
             values: dict[tuple[str, str], tuple[float, float, float]], ylabel: str) -> Path:
    """Grouped bars: ``values[(group, series)] = (mean, low, high)``; whiskers show the interval."""
    finite = [v for triple in values.values() for v in triple if not math.isnan(v)]
    top = max([1e-9] + finite) * 1.1
    low = min([0.0] + finite)
    img, draw = _axes(title, ylabel, top)
    slot = (_W - _PAD - 30) / max(1, len(groups))
    width = slot * 0.8 / max(1, len(series))
    for g, group in enumerate(groups):
        x0 = _PAD + 10 + g * slot
        draw.text((x0 + slot * 0.3, _H - _PAD + 6), group, fill="black")
        for s, name in enumerate(series):
            mean, lo, hi = values.get((group, name), (math.nan,) * 3)
            if math.isnan(mean):
                continue
            x = x0 + s * width
            draw.rectangle([x, _y(max(mean, 0.0), top), x + width - 2, _y(0.0, top)], fill=_COLOURS[s % len(_COLOURS)])
            if not math.isnan(lo):
                mid = x + width / 2
                draw.line([(mid, _y(max(lo, low, 0.0), top)), (mid, _y(hi, top))], fill="black", width=2)
    _legend(draw, series)
    img.save(path)
    return path


def line_plot(path: Path, title: str, xs: Sequence[float], lines: dict[str, Sequence[float]], ylabel: str) -> Path:
    top = max([1e-9] + [v for ys in lines.values() for v in ys if not math.isnan(v)]) * 1.1
    img, draw = _axes(title, ylabel, top)
    span = max(xs) - min(xs) or 1.0
    px = lambda x: _PAD + 20 + (x - min(xs)) / span * (_W - _PAD - 60)  # noqa: E731
    for x in xs:
        draw.text((px(x) - 6, _H - _PAD + 6), str(x), fill="black")
    for i, (name, ys) in enumerate(lines.items()):
        points = [(px(x), _y(y, top)) for x, y in zip(xs, ys) if not math.isnan(y)]
        colour = _COLOURS[i % len(_COLOURS)]
        draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    _legend(draw, list(lines))
    img.save(path)
    return path


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
