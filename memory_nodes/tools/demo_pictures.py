"""The demo's pictures: both robots' task paths on the home's map, and memory growing, frame by frame.

Drawn with matplotlib on its Agg canvas. Labels of furniture are placed where they overlap no other
label (each tries a few spots around its piece, measured with the renderer) and left out otherwise,
so a crowded kitchen stays readable.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from memory_nodes.tools.view_scene import ROOM_COLORS, ROOM_DEFAULT, type_color
from memory_nodes.tools.view_timeline import MemoryState, MemoryTimeline
from scene_graph.graph import SceneGraph
from scene_graph.records import GraphDelta

T = TypeVar("T")
WITH_MEMORY, WITHOUT_MEMORY = "#1f6fd1", "#e0701b"
_OFFSETS = [(0, 0), (0, 9), (0, -9), (14, 0), (-14, 0), (0, 18), (0, -18)]  # points around a piece


def _rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    return (color[0] / 255, color[1] / 255, color[2] / 255)


def _draw_home(axes: Axes, home: Any, furniture: bool = True) -> list[tuple[float, float, str, float]]:
    """Rooms, walls and (optionally) furniture; returns label candidates (x, y, text, size)."""
    for room in home.rooms:
        axes.add_patch(Rectangle((room.x0, room.y0), room.x1 - room.x0, room.y1 - room.y0, linewidth=0,
                                 facecolor=_rgb(ROOM_COLORS.get(room.kind.lower(), ROOM_DEFAULT))))
    for slab in home.layout.slabs:
        if slab.part == "wall":
            axes.add_patch(Rectangle(slab.lo[:2], slab.hi[0] - slab.lo[0], slab.hi[1] - slab.lo[1], linewidth=0,
                                     facecolor="0.35"))
    labels = []
    if furniture:
        for entity in home:
            if entity.kind.layer != "furniture" or entity.parent is not None:
                continue
            (x0, y0), (x1, y1) = entity.lo[:2], entity.hi[:2]
            axes.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="0.86", edgecolor="0.6", linewidth=0.6))
            labels.append(((x0 + x1) / 2, (y0 + y1) / 2, entity.object_type, (x1 - x0) * (y1 - y0)))
    x0, y0 = min(r.x0 for r in home.rooms), min(r.y0 for r in home.rooms)
    x1, y1 = max(r.x1 for r in home.rooms), max(r.y1 for r in home.rooms)
    axes.set_xlim(x0 - 0.2, x1 + 0.2)
    axes.set_ylim(y0 - 0.2, y1 + 0.2)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    return labels


def place_labels(figure: Figure, axes: Axes, candidates: Sequence[tuple[float, float, str, float]],
                 fontsize: float = 6.5) -> list[Any]:
    """Label the biggest pieces first, each at the first spot around it that overlaps no placed label."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    placed: list[Any] = []
    boxes: list[Any] = []
    for x, y, text, _ in sorted(candidates, key=lambda c: -c[3]):
        for dx, dy in _OFFSETS:
            label = axes.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha="center",
                                  va="center", fontsize=fontsize, color="0.15")
            box = label.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in boxes):
                placed.append(label)
                boxes.append(box)
                break
            label.remove()
    return placed


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure).print_png(path)
    return path


def save_paths_map(home: Any, with_memory: Sequence[tuple[float, float]],
                   without_memory: Sequence[tuple[float, float]], out: Path) -> Path:
    """The map with the task phase's path of the robot with memory and of the one without."""
    figure = Figure(figsize=(8, 8 * _aspect(home) + 0.9), dpi=110, layout="constrained")
    axes = figure.subplots()
    candidates = _draw_home(axes, home)
    for path, color, name in ((without_memory, WITHOUT_MEMORY, "without memory"),
                              (with_memory, WITH_MEMORY, "with memory")):
        if len(path) >= 2:
            xs, ys = zip(*path)
            axes.plot(xs, ys, color=color, linewidth=2.2, solid_capstyle="round",
                      label=f"{name}: {_length(path):.1f} m")
            axes.plot(xs[0], ys[0], "o", color=color, markersize=6)
    place_labels(figure, axes, candidates)
    axes.set_title("The same tasks from the same start", fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncols=2, frameon=False, fontsize=9)
    return _save(figure, out)


def save_growth_strip(home: Any, states: Sequence[MemoryState], out: Path) -> Path:
    """One small map per state: what memory held (boxes in their type's colour) as it grew."""
    figure = Figure(figsize=(3.2 * max(1, len(states)), 3.2 * _aspect(home) + 0.4), dpi=100, layout="constrained")
    panels = figure.subplots(1, max(1, len(states)), squeeze=False)[0]
    for axes, state in zip(panels, states):
        _draw_home(axes, home, furniture=False)
        for node in sorted(state.objects.values(), key=lambda o: o.layer != "furniture"):
            (cx, cy, _), (ex, ey, _) = node.box.center, node.box.extent
            axes.add_patch(Rectangle((cx - ex / 2, cy - ey / 2), ex, ey, angle=0.0, linewidth=0.4,
                                     facecolor=_rgb(type_color(node.label, node.layer)), edgecolor="0.3"))
        count = {layer: sum(o.layer == layer for o in state.objects.values()) for layer in ("furniture", "object")}
        axes.set_title(f"t = {state.stamp:.0f} s: {count['furniture']} furniture, {count['object']} objects",
                       fontsize=8)
    return _save(figure, out)


def _aspect(home: Any) -> float:
    """Depth over width of the home's outline."""
    width = max(r.x1 for r in home.rooms) - min(r.x0 for r in home.rooms)
    return (max(r.y1 for r in home.rooms) - min(r.y0 for r in home.rooms)) / max(width, 1e-6)


def _length(path: Sequence[tuple[float, float]]) -> float:
    return sum(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 for (x0, y0), (x1, y1) in zip(path, path[1:]))


def evenly(items: Sequence[T], frames: int) -> list[T]:
    """``frames`` items spread evenly over the list (first and last included)."""
    if len(items) <= frames:
        return list(items)
    return [items[round(i * (len(items) - 1) / (frames - 1))] for i in range(frames)]


class GrowthRecorder:
    """Every state memory passes through, as a delta listener of its graph (``graph()``: the current one)."""

    def __init__(self, graph: Callable[[], SceneGraph]) -> None:
        self._graph = graph
        self._timeline = MemoryTimeline()
        self._lock = threading.Lock()  # the memory's thread adds, the demo's reads

    def __call__(self, delta: GraphDelta) -> None:
        with self._lock:
            if not self._timeline.apply(delta):  # the first one heard (listeners run once the graph committed)
                self._timeline.add_state(MemoryState.of_graph(self._graph(), delta.stamp))

    def states(self) -> list[MemoryState]:
        with self._lock:
            return self._timeline.states()
