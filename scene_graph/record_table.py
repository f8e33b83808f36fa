"""The scene graph as flat numpy arrays: the record table of a binary (version 3) snapshot.

JSON spends most of a 10,000-object load parsing text and building dicts; here every object is a
row of a few arrays, and every string (ids, labels, rooms, states, external ids, parents) is an
index into one table of distinct strings, stored once as UTF-8 bytes plus offsets, so repeated
labels cost four bytes each and any string round-trips exactly. Variable-length fields (states,
label votes, points) are a flat array plus per-object offsets. Only numpy is needed, arrays are
saved with ``allow_pickle=False``, and rooms and areas (a few hundred records) stay in the
snapshot's JSON manifest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from scene_graph.graph import SceneGraph
from scene_graph.records import PREDICATES, ObjectNode, OrientedBox, Relation

# Columns of the "object_strings" and "object_floats" arrays, in order.
STRING_COLUMNS = ("id", "label", "layer", "room_id", "area_id", "status", "external_id", "parent")
FLOAT_COLUMNS = ("cx", "cy", "cz", "bx", "by", "bz", "ex", "ey", "ez", "yaw",
                 "first_seen", "last_seen", "last_changed", "confidence")
_FALSE, _TRUE, _TEXT = 0, 1, 2  # state value kinds


class StringTable:
    """Distinct strings in first-seen order; :meth:`code` numbers them."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        return self._codes.setdefault(text, len(self._codes))

    def codes(self, texts: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.code(t) for t in texts), dtype=np.int32, count=len(texts))

    def arrays(self) -> dict[str, np.ndarray]:
        encoded = [t.encode("utf-8", "surrogatepass") for t in self._codes]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        return {"string_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                "string_offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)}


def decode_strings(data: bytes, offsets: np.ndarray) -> list[str]:
    bounds = offsets.tolist()
    return [data[a:b].decode("utf-8", "surrogatepass") for a, b in zip(bounds[:-1], bounds[1:])]


def _ragged_offsets(lengths: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64))]).astype(np.int64)


def encode_graph(graph: SceneGraph, strings: StringTable) -> dict[str, np.ndarray]:
    """Objects, relations, parents and geometry of ``graph`` as arrays (strings coded in ``strings``)."""
    objects = sorted(graph.objects(), key=lambda o: o.id)
    row = {o.id: i for i, o in enumerate(objects)}
    columns = [[o.id for o in objects], [o.label for o in objects], [o.layer for o in objects],
               [o.room_id for o in objects], [o.area_id for o in objects], [o.status for o in objects],
               [o.external_id for o in objects], [graph.parent(o.id) or "" for o in objects]]
    object_strings = np.stack([strings.codes(c) for c in columns], axis=1) if objects \
        else np.zeros((0, len(STRING_COLUMNS)), dtype=np.int32)
    floats = np.array([(*o.centroid, *o.box.center, *o.box.extent, o.box.yaw, o.first_seen, o.last_seen,
                        o.last_changed, o.confidence) for o in objects], dtype=np.float64)
    floats = floats.reshape(-1, len(FLOAT_COLUMNS))
    states = [s for o in objects for s in o.states]
    votes = [v for o in objects for v in o.label_votes]
    relations = graph.relations()
    predicate = {p: i for i, p in enumerate(PREDICATES)}
    geometry = graph.geometry()
    owners = sorted(geometry)
    return {
        "object_strings": object_strings,
        "object_floats": floats,
        "observation_count": np.array([o.observation_count for o in objects], dtype=np.int64),
        "state_offsets": _ragged_offsets([len(o.states) for o in objects]),
        "state_names": strings.codes([k for k, _ in states]),
        "state_kinds": np.array([_TEXT if not isinstance(v, bool) else _TRUE if v else _FALSE for _, v in states],
                                dtype=np.int8),
        "state_texts": strings.codes(["" if isinstance(v, bool) else str(v) for _, v in states]),
        "vote_offsets": _ragged_offsets([len(o.label_votes) for o in objects]),
        "vote_labels": strings.codes([k for k, _ in votes]),
        "vote_scores": np.array([s for _, s in votes], dtype=np.float64),
        "relations": np.array([(row[r.subject], predicate[r.predicate], row[r.object]) for r in relations],
                              dtype=np.int32).reshape(-1, 3),
        "point_owners": np.array([row[i] for i in owners if i in row], dtype=np.int32),
        "point_offsets": _ragged_offsets([len(geometry[i]) for i in owners if i in row]),
        "points": np.concatenate([geometry[i] for i in owners if i in row]).astype(np.float32).reshape(-1, 3)
        if owners else np.zeros((0, 3), dtype=np.float32),
    }


@dataclass(frozen=True)
class DecodedTable:
    """What :func:`decode_graph` read: records ready for :meth:`SceneGraph.replace_with_records`."""

    objects: list[ObjectNode]
    relations: list[Relation]
    parents: dict[str, str]


def decode_graph(arrays: Mapping[str, np.ndarray], strings: Sequence[str]) -> DecodedTable:
    """The inverse of :func:`encode_graph`; ValueError for tables whose parts disagree."""
    codes = arrays["object_strings"]
    floats = arrays["object_floats"]
    n = len(codes)
    if codes.shape != (n, len(STRING_COLUMNS)) or floats.shape != (n, len(FLOAT_COLUMNS)) \
            or len(arrays["observation_count"]) != n:
        raise ValueError("record table columns disagree in length")
    if n and (codes.min() < 0 or codes.max() >= len(strings)):
        raise ValueError("record table names a string it does not hold")
    text = [[strings[c] for c in column] for column in codes.T.tolist()]
    ids, labels, layers, rooms, areas, statuses, externals, parents = text
    states = _ragged(arrays["state_offsets"], n, [
        (strings[k], bool(kind) if kind != _TEXT else strings[t]) for k, kind, t in zip(
            arrays["state_names"].tolist(), arrays["state_kinds"].tolist(), arrays["state_texts"].tolist())])
    votes = _ragged(arrays["vote_offsets"], n, [
        (strings[k], s) for k, s in zip(arrays["vote_labels"].tolist(), arrays["vote_scores"].tolist())])
    counts = arrays["observation_count"].tolist()
    objects = []
    for i, f in enumerate(floats.tolist()):
        box = OrientedBox((f[3], f[4], f[5]), (f[6], f[7], f[8]), f[9])
        objects.append(ObjectNode(
            id=ids[i], label=labels[i], layer=layers[i], centroid=(f[0], f[1], f[2]), box=box, room_id=rooms[i],
            area_id=areas[i], states=states[i], first_seen=f[10], last_seen=f[11], last_changed=f[12],
            observation_count=counts[i], confidence=f[13], status=statuses[i], external_id=externals[i],
            label_votes=votes[i]))
    rel = arrays["relations"]
    if rel.size and (rel.min() < 0 or rel[:, [0, 2]].max() >= n or rel[:, 1].max() >= len(PREDICATES)):
        raise ValueError("record table relation names an object or predicate it does not hold")
    relations = [Relation(ids[s], PREDICATES[p], ids[o]) for s, p, o in rel.tolist()]
    return DecodedTable(objects, relations, {i: p for i, p in zip(ids, parents) if p})


def _ragged(offsets: np.ndarray, n: int, items: list) -> list[tuple]:
    bounds = offsets.tolist()
    if len(bounds) != n + 1 or bounds[-1] != len(items):
        raise ValueError("record table offsets disagree with their items")
    return [tuple(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def decode_geometry(arrays: Mapping[str, np.ndarray], ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Object id -> points (views into one float32 array)."""
    owners, offsets, points = arrays["point_owners"], arrays["point_offsets"], arrays["points"]
    bounds = offsets.tolist()
    if len(bounds) != len(owners) + 1 or bounds[-1] != len(points) or (owners.size and owners.max() >= len(ids)):
        raise ValueError("geometry offsets disagree with the points or objects")
    return {ids[o]: points[a:b] for o, a, b in zip(owners.tolist(), bounds[:-1], bounds[1:])}

