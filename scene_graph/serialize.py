"""Memory as prompt text: the whole graph (KARMA style) or a task-relevant subgraph within a budget.

Both use one line per node in KARMA's format, e.g. ``{name: area_003, type: Area, room: room_0,
contains: [obj_0000], adjacent nodes: [area_002], position: [2.34, 1.00, 0.00]}``, so a planner
sees the same shape whichever it gets. The subgraph follows SayPlan's idea of showing only what
the task touches: the objects the instruction names (through
:func:`ontology.canonical_type`, or ids from a free-text retriever), the containers and supports
they sit in or on, and their rooms; nothing else.

Every name and value is written through :func:`plain_line`: labels come from perception and
peers on the network, and a label with a line break or a Unicode separator in it must not become
a line of its own in a prompt.

Tokens are counted by a real tokenizer (:func:`scene_graph.tokens.count_tokens`: the loaded
model's own, else SmolLM2's), so budgets and figures are in tokens a model actually reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from scene_graph.graph import SceneGraph
from scene_graph.ontology import canonical_type
from scene_graph.records import IN, MISSING, ON, AreaNode, ObjectNode, RoomNode
from scene_graph.tokens import count_tokens


def plain_line(text: object) -> str:
    """``text`` as one line of printable characters: control, format (bidi overrides, zero-width)
    and line or paragraph separator characters (U+2028, U+2029) become spaces."""
    text = str(text)
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def _fmt_position(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def _fmt_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def room_line(room: RoomNode) -> str:
    floor = f", floor: {room.floor}" if room.floor else ""
    return plain_line(f"{{name: {room.id}, type: Room, kind: {room.kind}{floor}}}")


def floor_line(floor: str, graph: SceneGraph) -> str:
    return plain_line(f"{{name: {floor}, type: Floor, rooms: [{', '.join(graph.children(floor))}]}}")


def area_line(graph: SceneGraph, area: AreaNode) -> str:
    contains = [c for c in graph.children(area.id) if graph.get_object(c) is not None]
    return plain_line(f"{{name: {area.id}, type: Area, room: {area.room_id}, contains: [{', '.join(contains)}], "
                      f"adjacent nodes: [{', '.join(area.neighbors)}], position: {_fmt_position(area.position)}}}")


def object_line(graph: SceneGraph, node: ObjectNode) -> str:
    """One object: where it is (room, area, what it is in/on), its states and, if odd, its status."""
    fields = [f"name: {node.id}", f"type: {node.label}"]
    if node.room_id:
        fields.append(f"room: {node.room_id}")
    if node.area_id:
        fields.append(f"area: {node.area_id}")
    for predicate in (IN, ON):
        holders = [r.object for r in graph.relations(subject=node.id, predicate=predicate)]
        if holders:
            fields.append(f"{predicate}: {', '.join(holders)}")
    if node.states:
        fields.append("states: [" + ", ".join(f"{k}: {_fmt_value(v)}" for k, v in node.states) + "]")
    if node.status != "visible":
        fields.append(f"status: {node.status}")
    fields.append(f"position: {_fmt_position(node.centroid)}")
    return plain_line("{" + ", ".join(fields) + "}")


def whole_graph_text(graph: SceneGraph) -> str:
    """Every room, area and object, one line each: the baseline prompt a KARMA-style planner gets."""
    lines = [floor_line(f, graph) for f in graph.floors()]
    lines += [room_line(r) for r in graph.rooms()]
    lines += [area_line(graph, a) for a in graph.areas()]
    lines += [object_line(graph, o) for o in sorted(graph.objects(), key=lambda o: (o.layer != "furniture", o.id))]
    return "\n".join(lines)


def instruction_types(text: str) -> list[str]:
    """Object types named in an instruction, in order; two-word names ("tv remote") win over parts."""
    words = re.findall(r"[A-Za-z]+", text)
    found: list[str] = []
    i = 0
    while i < len(words):
        pair = canonical_type(words[i] + words[i + 1]) if i + 1 < len(words) else None
        single = canonical_type(words[i])
        if pair is not None:
            found.append(pair)
            i += 2
            continue
        if single is not None:
            found.append(single)
        i += 1
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class SubgraphPrompt:
    text: str
    tokens: int
    object_ids: tuple[str, ...]  # every object shown, targets and their holders
    target_types: tuple[str, ...]
    truncated: bool  # True when the budget cut off relevant objects


def _holders(graph: SceneGraph, object_id: str) -> list[str]:
    """Everything the object is in or on, and what those are in or on, transitively (breadth first):
    each object line names its holders, so the prompt must show them too."""
    found: list[str] = []
    frontier = [object_id]
    while frontier:
        current = frontier.pop(0)
        for relation in graph.relations(subject=current):
            if relation.predicate in (IN, ON) and relation.object not in found and relation.object != object_id:
                found.append(relation.object)
                frontier.append(relation.object)
    return found


def _interleave(groups: Iterable[list[str]]) -> list[str]:
    """Round-robin over groups so a tight budget still shows one instance of every named type."""
    queues = [list(g) for g in groups]
    out: list[str] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return list(dict.fromkeys(out))


def task_subgraph(
    graph: SceneGraph,
    instruction: str = "",
    targets: Sequence[str] = (),
    budget_tokens: int = 2000,
    relevant_ids: Optional[Callable[[str], Sequence[str]]] = None,
) -> SubgraphPrompt:
    """The objects a task names, their containers/supports and rooms, within ``budget_tokens``.

    ``targets`` are extra type names or words; ``relevant_ids(instruction)`` (e.g. a vector-index
    query) adds objects for free text that names no known type, after the named ones.
    """
    types = list(dict.fromkeys([canonical_type(t) or t for t in targets] + instruction_types(instruction)))
    rank = lambda o: (o.status == MISSING, -o.confidence, o.id)  # noqa: E731
    groups = [[o.id for o in sorted((o for o in graph.objects() if o.label == t), key=rank)] for t in types]
    if relevant_ids is not None and instruction:
        groups.append([i for i in relevant_ids(instruction) if graph.get_object(i) is not None])
    shown: list[str] = []
    rooms: list[str] = []
    lines: list[str] = []
    used = 0
    truncated = False
    for object_id in _interleave(groups):
        if object_id in shown:
            continue
        new_ids = [i for i in [object_id] + _holders(graph, object_id) if i not in shown]
        nodes = [node for node in map(graph.get_object, new_ids) if node is not None]
        new_rooms = [r for r in dict.fromkeys(n.room_id for n in nodes if n.room_id) if r not in rooms]
        block = [room_line(room) for r in new_rooms if (room := graph.get_room(r)) is not None]
        block += [object_line(graph, n) for n in reversed(nodes)]  # holders before what they hold
        cost = count_tokens("\n".join(block)) + 1
        if used + cost > budget_tokens:
            truncated = True
            break
        used += cost
        shown += new_ids
        rooms += new_rooms
        lines += block
    text = "\n".join(lines)
    return SubgraphPrompt(text, count_tokens(text), tuple(shown), tuple(types), truncated)
