"""``embodied-memory view`` opened in headless Chromium: on a saved memory, with a query, and live.

Each test shoots the page once the panel says what memory holds, and looks for the boxes in the
picture by their colour (viser shades faces, so colours are matched by hue). Skipped only where
no Chromium is installed (scripts/run-tests.sh installs Debian's where apt is available as root).
"""
from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

viser = pytest.importorskip("viser")

from browser import Browser, find_chromium, hue_pixels  # noqa: E402

from memory_nodes.tools.view import load_saved  # noqa: E402
from memory_nodes.tools.view_scene import HIGHLIGHT, MemoryView, type_color  # noqa: E402
from memory_nodes.tools.view_timeline import MemoryTimeline, RobotTrack  # noqa: E402
from scene_graph.store import MemoryStore  # noqa: E402

CHROMIUM = find_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium; "
                                 "scripts/run-tests.sh installs it where apt is available as root)")]
PANEL_WIDTH = 360  # viser's control panel floats on the right; the scene is left of it
STATUS = re.compile(r"sequence (\d+) .*?: (\d+) furniture, (\d+) objects")


def scene_part(image: np.ndarray) -> np.ndarray:
    """The 3D view without the panel (blue buttons) and the axes gizmo in the bottom left corner."""
    scene = image[:, : image.shape[1] - PANEL_WIDTH].copy()
    scene[-110:, :110] = 255
    return scene


@pytest.fixture(scope="module")
def saved_memory(tmp_path_factory) -> Path:
    """Memory a robot built on the embedded simulator, touring a two-room home, saved along the way."""
    from memory_nodes.tools.demo import DemoRun

    out = tmp_path_factory.mktemp("view")
    run = DemoRun(seed=3, rooms=2, out_dir=out)
    store = MemoryStore(out / "memory")
    furniture = sorted((e for e in run.world.home.entities.values() if e.kind.layer == "furniture"),
                       key=lambda e: (e.room, e.object_id))
    for n, entity in enumerate(furniture):
        run.act("GoToObject", entity.object_id)
        if entity.kind.openable:
            run.act("OpenObject", entity.object_id)
        if n % 5 == 4:
            store.save(run.graph, "demo")
    store.save(run.graph, "demo")
    return out / "memory"


def _biggest_object_label(memory: Path) -> str:
    graph = MemoryStore(memory).load("demo").graph
    biggest = max(graph.objects(layer="object", include_missing=False), key=lambda o: o.box.footprint_area)
    return biggest.label


class ViewProcess:
    """``embodied-memory view ...`` as a child process; the URL is what it prints."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "memory_nodes.tools.cli", "view", *args, "--port", "0"],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def url(self, timeout_s: float = 120.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
            if found:
                return found.group(1)
        raise AssertionError("the view did not start:\n" + "".join(self.output))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def _status(browser: Browser) -> tuple[int, int, int]:
    found = STATUS.search(browser.text())
    return tuple(int(g) for g in found.groups()) if found else (0, 0, 0)  # type: ignore[return-value]


def _keep(image: np.ndarray, path: Path) -> None:
    """Keep the screenshot beside the test's files, for a person to look at."""
    from PIL import Image

    Image.fromarray(image).save(path)


def test_saved_memory_in_the_browser_shows_its_boxes(saved_memory, child_env, tmp_path):
    graph = MemoryStore(saved_memory).load("demo").graph
    label = _biggest_object_label(saved_memory)
    view = ViewProcess([str(saved_memory), "--name", "demo"], child_env)
    try:
        url = view.url()
        with Browser(CHROMIUM) as browser:
            browser.open(url)
            assert browser.wait_for_text(f"sequence {graph.sequence} ", timeout_s=60), browser.text()
            browser.dismiss_notifications()
            image = browser.settled_screenshot()
            text = browser.text()
    finally:
        assert view.stop() == 0
    _keep(image, tmp_path / "saved.png")
    objects = graph.objects(layer="object")
    assert f"{len(graph.objects(layer='furniture'))} furniture, {len(objects)} objects" in text
    assert hue_pixels(scene_part(image), type_color(label)) > 20, "no pixels of the biggest object's box colour"
    assert hue_pixels(scene_part(image), HIGHLIGHT) < 5  # nothing asked yet, nothing highlighted


@pytest.fixture
def view_in_process(saved_memory) -> Iterator[MemoryView]:
    server = viser.ViserServer(host="127.0.0.1", port=0, verbose=False)
    timeline = MemoryTimeline()
    embeddings = load_saved(timeline, saved_memory, "demo")
    view = MemoryView(server, timeline, RobotTrack(), "Memory 'demo'", embeddings=embeddings)
    view.refresh()
    try:
        yield view
    finally:
        server.stop()


def test_a_query_turns_its_answers_magenta_in_the_picture(view_in_process):
    view = view_in_process
    state = view.timeline.latest
    assert state is not None
    biggest = max((o for o in state.objects.values() if o.layer == "object"), key=lambda o: o.box.footprint_area)
    url = f"http://127.0.0.1:{view.server.get_port()}/"
    with Browser(CHROMIUM) as browser:
        browser.open(url)
        assert browser.wait_for_text("sequence", timeout_s=60)
        browser.dismiss_notifications()
        before = scene_part(browser.settled_screenshot())
        answer = view.highlight(label=biggest.label)
        view.refresh()
        assert browser.wait_for_text(biggest.id, timeout_s=30), browser.text()  # the answers are listed
        after = scene_part(browser.settled_screenshot())
    assert biggest.id in answer.ids
    assert hue_pixels(before, HIGHLIGHT) < 5
    assert hue_pixels(after, HIGHLIGHT) > 30, "the answer's box did not turn magenta"
    assert hue_pixels(after, type_color(biggest.label)) < hue_pixels(before, type_color(biggest.label))


@pytest.mark.ros
def test_live_view_follows_the_nodes(tmp_path, child_env):
    pytest.importorskip("rclpy")
    stack = subprocess.Popen([sys.executable, "-m", "memory_nodes.tools.cli", "up", "--sim",
                              "--set", "sim_bridge.rooms=2", "--set", f"long_term_memory.memory_dir={tmp_path}"],
                             env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    view = ViewProcess(["--live"], child_env)
    try:
        url = view.url()
        with Browser(CHROMIUM) as browser:
            browser.open(url)
            # The stack loads its embedding model first (tens of seconds on a loaded machine), then fuses frames.
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and _status(browser)[1] + _status(browser)[2] == 0:
                assert stack.poll() is None, f"the stack ended: {stack.stderr.read() if stack.stderr else ''}"
                time.sleep(1.0)
            sequence, furniture, objects = _status(browser)
            assert furniture + objects > 0, browser.text()
            browser.dismiss_notifications()
            image = browser.settled_screenshot()
            has_camera = browser.call("Runtime.evaluate", returnByValue=True,
                                      expression="document.querySelectorAll('img').length")["result"]["value"]
    finally:
        view_code = view.stop()
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()
    _keep(image, tmp_path / "live.png")
    assert view_code == 0, "".join(view.output)
    assert sequence > 0
    labels = _labels_in(tmp_path)  # what memory held, as the stack saved it on shutdown
    assert labels, f"the stack saved no memory in {tmp_path}"
    shown = sum(hue_pixels(scene_part(image), type_color(label, layer)) for label, layer in labels)
    assert shown > 20, f"no pixels of the colours of {labels}"
    assert has_camera >= 1  # the camera image is in the panel


def _labels_in(memory_dir: Path) -> list[tuple[str, str]]:
    try:
        graph = MemoryStore(memory_dir).load("default").graph
    except LookupError:
        return []
    return sorted({(o.label, o.layer) for o in graph.objects()})
