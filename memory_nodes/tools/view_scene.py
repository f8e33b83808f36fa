"""Memory drawn in a viser scene, with a panel to query it and to scroll through its history.

ROS-free: the timeline (:mod:`memory_nodes.tools.view_timeline`) is filled by whichever source the
view runs on, and :meth:`MemoryView.refresh` redraws what changed since the last call. Rooms are
floor tiles, areas smaller tiles on them, furniture translucent boxes and objects solid boxes, both
coloured by type; missing objects are red wire boxes, moved ones wear an orange cage, and query
answers turn magenta. Queries go through :class:`scene_graph.retrieval.MemoryRetriever`, the code
behind ``embodied-memory query`` and the query service, over the state on screen.
"""
from __future__ import annotations

import colorsys
import logging
import math
import threading
import zlib
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional, Sequence

import numpy as np
import viser
from scipy.spatial import Delaunay

from memory_nodes.tools.view_timeline import MemoryState, MemoryTimeline, PoseSample, RobotTrack
from scene_graph.graph import point_in_polygon
from scene_graph.records import IN, MISSING, MOVED, NEAR, ON, AreaNode, ObjectNode, RoomNode
from scene_graph.retrieval import MemoryRetriever
from scene_graph.vector_index import NumpyVectorIndex

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]
HIGHLIGHT: RGB = (255, 0, 255)  # query answers; type colours keep clear of this hue
MISSING_COLOR: RGB = (220, 30, 30)
MOVED_COLOR: RGB = (255, 140, 0)
PATH_COLOR: RGB = (255, 120, 0)
RELATION_COLORS: dict[str, RGB] = {ON: (40, 160, 60), IN: (40, 90, 220), NEAR: (170, 170, 170)}
ROOM_COLORS: dict[str, RGB] = {"kitchen": (250, 236, 205), "livingroom": (222, 236, 250),
                               "bedroom": (232, 225, 248), "bathroom": (214, 244, 238)}
ROOM_DEFAULT: RGB = (236, 236, 236)
_MAX_HUE = 0.72  # blue-violet; magenta (0.83) stays the highlight's alone


def type_color(label: str, layer: str = "object") -> RGB:
    """A stable colour per object type (the same in every run and view); furniture paler."""
    hue = (zlib.crc32(label.encode()) % 1000) / 1000 * _MAX_HUE
    saturation, value = (0.35, 0.80) if layer == "furniture" else (0.85, 0.92)
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return (round(r * 255), round(g * 255), round(b * 255))


def object_caption(node: ObjectNode) -> str:
    """The label text: type, true or valued states, and a status other than visible."""
    states = [k if v is True else f"{k}={v}" for k, v in node.states if v is not False]
    text = node.label + (f" ({', '.join(states)})" if states else "")
    return text + (f" [{node.status}]" if node.status != "visible" else "")


def _yaw_wxyz(yaw: float) -> tuple[float, float, float, float]:
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def floor_mesh(polygon: Sequence[tuple[float, float]], z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles covering a room's outline: Delaunay triangles whose centre lies inside
    (exact for convex rooms and rooms made of rectangles, which is what maps give)."""
    xy = np.asarray(polygon, dtype=float)
    triangles = Delaunay(xy).simplices
    centres = xy[triangles].mean(axis=1)
    inside = np.array([point_in_polygon(c, xy) for c in centres], dtype=bool)
    vertices = np.column_stack([xy, np.full(len(xy), z)])
    return vertices.astype(np.float32), triangles[inside].astype(np.uint32)


def area_tile_size(areas: Sequence[AreaNode]) -> float:
    """The side of an area's tile: the spacing of neighbouring areas (1 m when none are joined)."""
    position = {a.id: a.position for a in areas}
    gaps = [math.dist(a.position[:2], position[n][:2]) for a in areas for n in a.neighbors if n in position]
    return float(min(gaps)) if gaps else 1.0


@dataclass
class ViewOptions:
    labels: bool = True
    near_relations: bool = False
    highlight: frozenset[str] = frozenset()


class MemoryScene:
    """Draws states into a viser scene, sending only what changed since the last draw."""

    def __init__(self, scene: viser.SceneApi) -> None:
        self._scene = scene
        self._drawn: dict[str, tuple[Any, Any]] = {}  # node name -> (signature, handle)

    def _put(self, name: str, signature: Any, draw: Callable[[], Any]) -> None:
        """Draw ``name`` now unless it is drawn with the same ``signature`` already."""
        old = self._drawn.get(name)
        if old is None or old[0] != signature:
            self._drawn[name] = (signature, draw())

    def _keep_only(self, prefix: str, names: set[str]) -> None:
        for name in [n for n in self._drawn if n.startswith(prefix) and n not in names]:
            self._drawn.pop(name)[1].remove()

    def draw_layout(self, rooms: Sequence[RoomNode], areas: Sequence[AreaNode]) -> None:
        names: set[str] = set()
        for room in rooms:
            if len(room.polygon) < 3:
                continue
            color = ROOM_COLORS.get(room.kind.lower(), ROOM_DEFAULT)
            vertices, faces = floor_mesh(room.polygon)
            # Flat names: viser nests "/a/b" in "/a"'s frame, and these are all placed in the world frame.
            name = f"/layout/room_{room.id}"
            names |= {name, name + "_outline", name + "_label"}
            self._put(name, (room, color), partial(self._scene.add_mesh_simple,
                name, vertices, faces, color=color, side="double", receive_shadow=False, cast_shadow=False))
            outline = np.asarray(room.polygon, dtype=np.float32)
            ring = np.stack([outline, np.roll(outline, -1, axis=0)], axis=1)
            segments = np.concatenate([ring, np.zeros((len(ring), 2, 1), dtype=np.float32) + 0.01], axis=2)
            self._put(name + "_outline", room, partial(self._scene.add_line_segments,
                name + "_outline", segments, (90, 90, 90), thickness=0.03))
            centre = outline.mean(axis=0)
            self._put(name + "_label", room, partial(self._scene.add_label,
                name + "_label", f"{room.kind} ({room.id})", position=(float(centre[0]), float(centre[1]), 0.05),
                anchor="center-center"))
        side = 0.85 * area_tile_size(areas)
        for area in areas:
            name = f"/layout/area_{area.id}"
            names.add(name)
            x, y, _ = area.position
            self._put(name, (area.position, side), partial(self._scene.add_box,
                name, (255, 255, 255), (side, side, 0.01), position=(x, y, 0.006), opacity=0.55,
                cast_shadow=False, receive_shadow=False))
        self._keep_only("/layout/", names)

    def draw_memory(self, state: Optional[MemoryState], options: ViewOptions) -> None:
        objects = dict(state.objects) if state is not None else {}
        names: set[str] = set()
        for node in objects.values():
            names |= self._draw_object(node, node.id in options.highlight, options.labels)
        self._keep_only("/memory/", names)
        relations = state.relations if state is not None else frozenset()
        for predicate, color in RELATION_COLORS.items():
            name = f"/relations/{predicate}"
            wanted = predicate != NEAR or options.near_relations
            pairs = sorted((r.subject, r.object) for r in relations if r.predicate == predicate and wanted
                           and r.subject in objects and r.object in objects)
            if not pairs:
                self._keep_only(name, set())
                continue
            segments = np.array([[objects[s].centroid, objects[o].centroid] for s, o in pairs], dtype=np.float32)
            self._put(name, (tuple(pairs), tuple(objects[i].centroid for p in pairs for i in p)),
                      partial(self._scene.add_line_segments, name, segments, color, thickness=0.015))

    def _draw_object(self, node: ObjectNode, highlighted: bool, labels: bool) -> set[str]:
        base = f"/memory/{node.id}"
        box = node.box
        wxyz = _yaw_wxyz(box.yaw)
        missing = node.status == MISSING
        color = HIGHLIGHT if highlighted else MISSING_COLOR if missing else type_color(node.label, node.layer)
        opacity = 0.45 if node.layer == "furniture" and not highlighted and not missing else None
        self._put(base, (box, color, missing, opacity), partial(self._scene.add_box,
            base, color, box.extent, wireframe=missing, opacity=opacity, wxyz=wxyz, position=box.center))
        names = {base}
        cage = MOVED_COLOR if node.status == MOVED else HIGHLIGHT if highlighted else None
        if cage is not None:
            name = base + "_cage"
            names.add(name)
            grown = tuple(e * 1.15 + 0.04 for e in box.extent)
            self._put(name, (box, cage), partial(self._scene.add_box,
                name, cage, grown, wireframe=True, wxyz=wxyz, position=box.center))
        if labels or highlighted:
            name = base + "_label"
            names.add(name)
            caption = object_caption(node)
            top = (box.center[0], box.center[1], box.z_max + 0.05)
            self._put(name, (caption, top), partial(self._scene.add_label,
                name, caption, position=top, anchor="bottom-center", font_screen_scale=0.8))
        return names

    def draw_robot(self, path: Sequence[PoseSample], latest: Optional[PoseSample]) -> None:
        """The robot at ``latest`` (axes: its pose as odometry gives it) over a base, and its path."""
        if latest is None:
            return
        x, y, _ = latest.position
        self._put("/robot", latest, partial(self._scene.add_frame,
            "/robot", wxyz=latest.wxyz, position=latest.position, axes_length=0.35, axes_radius=0.02))
        self._put("/robot_base", (x, y), partial(self._scene.add_box,
            "/robot_base", (60, 60, 60), (0.4, 0.4, 0.1), position=(x, y, 0.05)))
        points = np.array([[s.position[0], s.position[1], 0.03] for s in path], dtype=np.float32)
        if len(points) >= 2:
            segments = np.stack([points[:-1], points[1:]], axis=1)
            self._put("/robot_path", (len(points), path[-1].stamp), partial(self._scene.add_line_segments,
                "/robot_path", segments, PATH_COLOR, thickness=0.04))


@dataclass
class _Panel:
    text: Any
    label: Any
    room: Any
    k: Any
    answers: Any
    slider: Any
    follow: Any
    status: Any
    labels: Any
    near: Any
    camera: Any = None


@dataclass
class QueryAnswer:
    ids: frozenset[str]
    lines: list[str] = field(default_factory=list)


class MemoryView:
    """The whole page: scene, query panel, history slider and (live) camera image.

    Sources write the timeline and track under :attr:`lock`, then call :meth:`changed`;
    the owner's loop calls :meth:`refresh` to draw.
    """

    def __init__(self, server: viser.ViserServer, timeline: MemoryTimeline, track: RobotTrack,
                 title: str, camera: bool = False,
                 embeddings: Optional[dict[int, tuple[Sequence[str], np.ndarray]]] = None) -> None:
        self.server, self.timeline, self.track = server, timeline, track
        self.lock = threading.RLock()
        self._scene = MemoryScene(server.scene)
        self._embeddings = embeddings or {}
        self._embedder: Any = None
        self._options = ViewOptions()
        self._version = 0  # bumped by sources and GUI events
        self._drawn_version = -1
        self._image: Optional[np.ndarray] = None
        self._image_version = 0
        self._shown_image = 0
        self._framed = False
        server.scene.set_up_direction("+z")
        server.gui.configure_theme(control_width="medium", show_share_button=False)  # nothing leaves this machine
        gui = server.gui
        gui.add_markdown(f"**{title}**")
        with gui.add_folder("Query"):
            text = gui.add_text("Free text", "", hint="e.g. something cold to drink")
            label = gui.add_text("Label", "", hint="object type, e.g. Apple")
            room = gui.add_text("Room", "", hint="room id or kind, e.g. Kitchen")
            k = gui.add_number("Answers", 5, min=1, max=100, step=1, hint="at most this many (k)")
            find, clear = gui.add_button("Find"), gui.add_button("Clear")
            answers = gui.add_markdown("")
        with gui.add_folder("History"):
            slider = gui.add_slider("Sequence", min=0, max=1, step=1, initial_value=0)
            follow = gui.add_checkbox("Follow newest", True)
            status = gui.add_markdown("")
        with gui.add_folder("Show"):
            labels = gui.add_checkbox("Labels", True)
            near = gui.add_checkbox("'near' relations", False)
        self._panel = _Panel(text, label, room, k, answers, slider, follow, status, labels, near)
        if camera:
            with gui.add_folder("Camera"):
                self._panel.camera = gui.add_image(np.zeros((60, 80, 3), dtype=np.uint8), label="colour")
        find.on_click(lambda _: self._find())
        clear.on_click(lambda _: self._set_highlight(QueryAnswer(frozenset())))
        slider.on_update(self._on_slider)
        for box in (follow, labels, near):
            box.on_update(lambda _: self.changed())

    # ----------------------------------------------------------------- sources
    def changed(self) -> None:
        with self.lock:
            self._version += 1

    def set_image(self, image: np.ndarray) -> None:
        with self.lock:
            self._image = image
            self._image_version += 1

    # ----------------------------------------------------------------- GUI
    def _on_slider(self, event: Any) -> None:
        if event.client is not None:  # a person moved it: stop following the newest state
            self._panel.follow.value = False
        self.changed()

    def shown_state(self) -> Optional[MemoryState]:
        with self.lock:
            if self._panel.follow.value:
                return self.timeline.latest
            return self.timeline.at(int(self._panel.slider.value))

    def _retriever(self, state: MemoryState, text: bool) -> MemoryRetriever:
        with self.lock:
            rooms, areas = self.timeline.rooms, self.timeline.areas
        graph = state.graph(rooms, areas)
        if not text:
            return MemoryRetriever(graph)
        if self._embedder is None:
            from scene_graph.embeddings import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        retriever = MemoryRetriever(graph, NumpyVectorIndex(self._embedder))
        saved = self._embeddings.get(state.sequence)
        if saved is not None:
            retriever.restore(*saved)
        return retriever

    def query(self, text: str = "", label: str = "", room: str = "", k: int = 5) -> QueryAnswer:
        """Answer over the state on screen, as ``embodied-memory query`` would over a saved memory."""
        state = self.shown_state()
        if state is None:
            return QueryAnswer(frozenset(), ["memory is empty"])
        try:
            hits = self._retriever(state, bool(text)).query(text=text, label=label, room=room, k=k)
        except Exception as exc:  # the embedding model missing or failing: say so in the panel
            log.warning("query failed: %s", exc)
            return QueryAnswer(frozenset(), [f"query failed: {exc}"])
        lines = [f"{h.score:.2f} `{h.node.id}` {object_caption(h.node)} in {h.node.room_id or '?'}" for h in hits]
        return QueryAnswer(frozenset(h.node.id for h in hits), lines or ["no object matches"])

    def _find(self) -> None:
        p = self._panel
        self._set_highlight(self.query(p.text.value.strip(), p.label.value.strip(), p.room.value.strip(),
                                       int(p.k.value)))

    def _set_highlight(self, answer: QueryAnswer) -> None:
        self._panel.answers.content = "\n\n".join(answer.lines)
        with self.lock:
            self._options.highlight = answer.ids
        self.changed()

    def highlight(self, text: str = "", label: str = "", room: str = "", k: int = 5) -> QueryAnswer:
        """Query and highlight the answers, as the panel's Find button does."""
        p = self._panel
        p.text.value, p.label.value, p.room.value, p.k.value = text, label, room, k
        answer = self.query(text, label, room, k)
        self._set_highlight(answer)
        return answer

    # ----------------------------------------------------------------- drawing
    def refresh(self) -> bool:
        """Redraw what changed since the last call; True when anything was drawn."""
        p = self._panel
        with self.lock:
            version, image_version, image = self._version, self._image_version, self._image
            sequences = self.timeline.sequences()
            if sequences:
                bounds = (sequences[0], max(sequences[-1], sequences[0] + 1))
                if (p.slider.min, p.slider.max) != bounds:
                    p.slider.min, p.slider.max = bounds
                if p.follow.value:
                    p.slider.value = sequences[-1]
            state = self.shown_state()
            rooms, areas = self.timeline.rooms, self.timeline.areas
            # Scrolled back, the robot is where it was when that state was made; following, where it is now.
            until = None if p.follow.value or state is None else state.stamp
            path = self.track.until(until)
            robot = path[-1] if until is not None and path else self.track.latest
            self._options.labels, self._options.near_relations = p.labels.value, p.near.value
            options = ViewOptions(self._options.labels, self._options.near_relations, self._options.highlight)
        drew = False
        if not self._framed and (rooms or state is not None):
            self._framed = self.frame_camera()
        if version != self._drawn_version:
            self._drawn_version = version
            with self.server.atomic():
                self._scene.draw_layout(rooms, areas)
                self._scene.draw_memory(state, options)
                self._scene.draw_robot(path, robot)
            if state is not None:
                counts = {layer: sum(o.layer == layer for o in state.objects.values())
                          for layer in ("furniture", "object")}
                missing = sum(o.status == MISSING for o in state.objects.values())
                p.status.content = (f"sequence {state.sequence} (kept {sequences[0]}-{sequences[-1]}), "
                                    f"t = {state.stamp:.1f} s: {counts['furniture']} furniture, "
                                    f"{counts['object']} objects ({missing} missing), "
                                    f"{len(state.relations)} relations")
            drew = True
        if p.camera is not None and image is not None and image_version != self._shown_image:
            self._shown_image = image_version
            p.camera.image = image
            drew = True
        return drew

    def frame_camera(self) -> bool:
        """Point new clients' cameras at the whole home from above and to the south; False with nothing
        to frame yet."""
        with self.lock:
            rooms = self.timeline.rooms
            state = self.timeline.latest
        points = [p for r in rooms for p in r.polygon]
        if not points and state is not None:
            points = [o.centroid[:2] for o in state.objects.values()]
        if not points:
            return False
        xy = np.asarray(points, dtype=float)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        centre, span = (lo + hi) / 2, max(float((hi - lo).max()), 1.0)
        # Looking a little right of the centre puts the home left of the panel, which floats on the right.
        look_x = float(centre[0] + 0.15 * span)
        self.server.initial_camera.look_at = (look_x, float(centre[1]), 0.0)
        self.server.initial_camera.position = (look_x, float(centre[1] - 0.55 * span), float(0.5 * span + 1.5))
        return True
