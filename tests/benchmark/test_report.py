"""The suite's plots: matplotlib figures with every series in its colour, whiskers only where known."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from benchmarks.suite.report import _COLOURS, bar_plot, line_plot


def _pixels_of(path, colour: str) -> int:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    want = np.round(np.asarray(to_rgb(colour)) * 255).astype(int)
    return int(np.count_nonzero(np.abs(image - want).max(axis=2) <= 3))


def test_bar_plot_draws_each_series_and_tolerates_unknown_intervals(tmp_path):
    values = {("Simple", "none"): (0.5, 0.4, 0.6), ("Simple", "both"): (0.8, math.nan, math.nan),
              ("Complex", "none"): (0.2, 0.1, 0.3)}  # ("Complex", "both") was never measured
    path = bar_plot(tmp_path / "sr.png", "SR", ["Simple", "Complex"], ["none", "both"], values, "SR")
    assert Image.open(path).size == (760, 420)
    none, both = _pixels_of(path, _COLOURS[0]), _pixels_of(path, _COLOURS[1])
    # Bar areas follow the values: none's two bars (0.5 + 0.2) against both's one (0.8), plus legend swatches.
    assert none > 1000 and both > 1000
    assert both / none == pytest.approx(0.8 / 0.7, rel=0.15)


def test_line_plot_draws_every_line(tmp_path):
    path = line_plot(tmp_path / "hit.png", "hit rate", [5, 10, 20], {"lru": [0.2, 0.4, 0.5], "lfu": [0.3, 0.5, 0.6]},
                     "hit rate")
    assert _pixels_of(path, _COLOURS[0]) > 100 and _pixels_of(path, _COLOURS[1]) > 100
