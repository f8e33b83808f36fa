"""The demo's pictures: labels that never overlap, and paths in their own colours."""
from __future__ import annotations

import itertools

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from memory_nodes.tools.demo_pictures import evenly, place_labels


def test_crowded_labels_are_moved_or_left_out_but_never_overlap():
    figure = Figure(figsize=(3, 2), dpi=100)
    axes = figure.subplots()
    axes.set_xlim(0, 4)
    axes.set_ylim(0, 3)
    # Twelve pieces of furniture crammed into one corner, all wanting a label.
    candidates = [(0.5 + 0.05 * i, 0.5 + 0.03 * i, f"CounterTop{i}", 1.0 - 0.01 * i) for i in range(12)]
    placed = place_labels(figure, axes, candidates)
    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [label.get_window_extent(renderer) for label in placed]
    assert 1 < len(placed) < len(candidates)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    assert placed[0].get_text() == "CounterTop0"  # the biggest piece is labelled first


def test_evenly_keeps_first_and_last():
    assert evenly(list(range(10)), 4) == [0, 3, 6, 9]
    assert evenly([1, 2], 5) == [1, 2]
