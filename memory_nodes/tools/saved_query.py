"""Answer questions from a saved memory: once (`embodied-memory query TEXT`) or as a session
(`--serve`: one question per line on stdin, answers on stdout), without ROS.

Loading the embedding model takes seconds; a session loads it once, so each further question is
answered in milliseconds. Questions come one at a time, so the model runs on one thread
(``embeddings.one_question_at_a_time``: on a busy machine torch's default threads made each
question take seconds). Every answer says where it came from: the snapshot file read.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, TextIO

from scene_graph.embeddings import one_question_at_a_time
from scene_graph.records import ScoredObject
from scene_graph.retrieval import MemoryRetriever
from scene_graph.store import MemoryStore
from scene_graph.vector_index import NumpyVectorIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filters:
    label: str = ""
    room: str = ""
    state: str = ""
    near: Optional[Sequence[float]] = None
    radius: float = 1.0
    since: Optional[float] = None
    k: int = 10


class SavedMemory:
    """A saved memory loaded for questions; raises InvalidName or NoSnapshot like the store."""

    def __init__(self, folder: Path, name: str, text_index: bool = True) -> None:
        loaded = MemoryStore(folder).load(name)
        self.source = loaded.path
        if text_index:
            one_question_at_a_time()
        self.retriever = MemoryRetriever(loaded.graph, NumpyVectorIndex() if text_index else None)
        if text_index and loaded.embeddings is not None:
            self.retriever.restore(*loaded.embeddings)

    def warm_up(self) -> None:
        """Load the model and build the indexes now, so the first question is as fast as the rest."""
        self.retriever.query(text="warm up", k=1)

    def ask(self, text: str, filters: Filters) -> list[ScoredObject]:
        return self.retriever.query(text=text, label=filters.label, room=filters.room, state=filters.state,
                                    near=filters.near, radius=filters.radius, since=filters.since, k=filters.k)


def format_hits(hits: Sequence[ScoredObject]) -> list[str]:
    lines = []
    for hit in hits:
        node = hit.node
        x, y, z = node.centroid
        states = ", ".join(f"{k}={v}" for k, v in node.states)
        lines.append(f"{hit.score:5.2f}  {node.id}  {node.label:16s} {node.room_id:14s} ({x:.2f}, {y:.2f}, {z:.2f})"
                     f"  {node.status}{'  ' + states if states else ''}")
    return lines or ["no object matches"]


def answer_once(memory: SavedMemory, text: str, filters: Filters, out: Optional[TextIO] = None) -> None:
    out = out or sys.stdout  # looked up now, not at import: a caller may have replaced it
    out.write(f"# from saved memory {memory.source}\n")
    out.write("\n".join(format_hits(memory.ask(text, filters))) + "\n")


def serve(memory: SavedMemory, filters: Filters, source: Optional[TextIO] = None, out: Optional[TextIO] = None) -> int:
    """Answer each non-empty line of ``source`` (stdin) until it ends; each answer ends with a blank
    line. Returns how many questions were answered."""
    source, out = source or sys.stdin, out or sys.stdout
    memory.warm_up()
    out.write(f"# answering from saved memory {memory.source}; one question per line, end with Ctrl-D\n")
    out.flush()
    answered = 0
    for line in source:
        question = line.strip()
        if not question:
            continue
        out.write(f"? {question}\n" + "\n".join(format_hits(memory.ask(question, filters))) + "\n\n")
        out.flush()
        answered += 1
    return answered
