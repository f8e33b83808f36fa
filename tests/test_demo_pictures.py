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


def test_the_pictures_are_readable_sizes_and_show_the_paths_and_what_memory_held(tmp_path):
    import numpy as np
    from matplotlib.colors import to_rgb
    from PIL import Image

    from memory_nodes.tools.demo_pictures import WITH_MEMORY, WITHOUT_MEMORY, save_growth_strip, save_paths_map
    from memory_nodes.tools.view_scene import type_color
    from memory_nodes.tools.view_timeline import MemoryState
    from scene_graph.records import ObjectNode, OrientedBox
    from sim.home.generate import generate_home

    home = generate_home(3, n_rooms=2)
    room = home.rooms[0]
    (x0, y0), (x1, y1) = (room.x0 + 0.3, room.y0 + 0.3), (room.x1 - 0.3, room.y1 - 0.3)
    short, long = [(x0, y0), (x1, y0)], [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]
    paths = Image.open(save_paths_map(home, short, long, tmp_path / "paths.png"))
    assert min(paths.size) >= 400
    pixels = np.asarray(paths.convert("RGB")).astype(int)
    for colour in (WITH_MEMORY, WITHOUT_MEMORY):  # each path in its own colour
        want = np.round(np.asarray(to_rgb(colour)) * 255).astype(int)
        assert np.count_nonzero(np.abs(pixels - want).max(axis=2) <= 6) > 200, colour

    fridge = ObjectNode("obj_1", "Fridge", "furniture", (x0, y0, 0.9), OrientedBox((x0, y0, 0.9), (0.8, 0.8, 1.8)))
    states = [MemoryState(0, 0.0, {}, frozenset()), MemoryState(1, 5.0, {"obj_1": fridge}, frozenset())]
    strip = Image.open(save_growth_strip(home, states, tmp_path / "growing.png"))
    assert strip.size[0] > 1.5 * strip.size[1] and min(strip.size) >= 150
    frames = np.asarray(strip.convert("RGB")).astype(int)
    assert len(np.unique(frames.reshape(-1, 3), axis=0)) > 20  # not blank
    fill = np.asarray(type_color("Fridge", "furniture"))
    right = frames[:, frames.shape[1] // 2:]  # the fridge appears in the second frame only
    assert np.count_nonzero(np.abs(right - fill).max(axis=2) <= 3) > 50
    assert np.count_nonzero(np.abs(frames[:, :frames.shape[1] // 2] - fill).max(axis=2) <= 3) == 0
