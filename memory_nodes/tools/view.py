"""``embodied-memory view``: memory in a browser, from a saved memory folder or live from the nodes.

A saved folder needs no ROS: its kept snapshots are the history. Live, a node of its own follows
``memory/graph_updates`` (asking ``memory/get_snapshot`` on joining and whenever a sequence number
is skipped), ``layout``, ``odom`` and ``camera/color/image_raw``. Both fill the same timeline, and
:class:`memory_nodes.tools.view_scene.MemoryView` draws it with viser on 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import viser

from memory_nodes.tools.view_scene import MemoryView
from memory_nodes.tools.view_timeline import MemoryState, MemoryTimeline, RobotTrack
from scene_graph.store import MemoryStore

log = logging.getLogger(__name__)

REFRESH_S = 0.1  # how often the page is brought up to date


def load_saved(timeline: MemoryTimeline, root: Path, name: str) -> dict[int, tuple[Any, np.ndarray]]:
    """Fill the timeline from every kept snapshot of a saved memory; returns their embeddings by sequence."""
    embeddings: dict[int, tuple[Any, np.ndarray]] = {}
    loaded = MemoryStore(root).load_all(name)
    for memory in loaded:
        graph = memory.graph
        stamp = max((o.last_seen for o in graph.objects()), default=0.0)
        timeline.add_state(MemoryState.of_graph(graph, stamp))
        if memory.embeddings is not None:
            embeddings[graph.sequence] = memory.embeddings
    newest = loaded[-1].graph
    timeline.set_layout(newest.rooms(), newest.areas())
    return embeddings


def serve(view: MemoryView, stop: threading.Event) -> None:
    """Keep the page up to date until ``stop``."""
    while not stop.is_set():
        view.refresh()
        stop.wait(REFRESH_S)


def run(args: argparse.Namespace) -> int:
    """Serve the view until Ctrl-C or SIGTERM; returns the exit code."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    timeline, track = MemoryTimeline(), RobotTrack()
    embeddings = {} if args.live else load_saved(timeline, Path(args.memory), args.name)  # fails before serving
    server = viser.ViserServer(host=args.host, port=args.port, verbose=False)
    try:
        if args.live:
            from memory_nodes.tools.view_live import LiveView

            view = MemoryView(server, timeline, track, "Memory (live)", camera=True)
            with LiveView(view):
                return _serve(server, view, stop, "live from the memory nodes")
        view = MemoryView(server, timeline, track, f"Memory {args.name!r}", embeddings=embeddings)
        return _serve(server, view, stop, f"memory {args.name!r} from {Path(args.memory).resolve()} "
                      f"({len(timeline.sequences())} snapshots)")
    finally:
        server.stop()


def _serve(server: viser.ViserServer, view: MemoryView, stop: threading.Event, what: str) -> int:
    view.refresh()
    print(f"memory view of {what}: open http://{server.get_host()}:{server.get_port()}/ (Ctrl-C ends it)",
          flush=True)
    try:
        serve(view, stop)
    except KeyboardInterrupt:
        pass
    return 0
