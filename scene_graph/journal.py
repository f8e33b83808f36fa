"""Write-ahead journal of graph deltas: a save costs what changed since the last one.

Each snapshot ``snap-<n>`` may be followed by a journal ``snap-<n>.wal``: the deltas committed
after that snapshot, appended in batches (one batch per journal interval, its deltas merged into
their net effect by :func:`merge_deltas`) and fsynced, so a kill -9 loses at most the batch not yet
written. A batch is one record::

    magic "EMJ1" | payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload
    payload = JSON length (u32 LE) | JSON {"deltas": [...], "points": [[id, n], ...], "next_object_index": i}
              | float32 points

Geometry is not part of deltas; a batch carries the latest points of the objects its deltas
touched, as they were when it was written. A batch is all or nothing: reading stops at the first
record that is short, has a wrong magic or fails its checksum (a write torn by a kill), and
everything before it is replayed; the writer truncates such a tail before appending again.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from scene_graph.records import AreaNode, GraphDelta, ObjectNode, Relation, RoomNode

log = logging.getLogger(__name__)

MAGIC = b"EMJ1"
_HEADER = struct.Struct("<4sII")
_LENGTH = struct.Struct("<I")
SUFFIX = ".wal"


def _relations(items: Sequence[Relation]) -> list[list[str]]:
    return [[r.subject, r.predicate, r.object] for r in items]


def delta_to_dict(delta: GraphDelta) -> dict[str, Any]:
    return {
        "sequence": delta.sequence, "stamp": delta.stamp,
        "upserted_objects": [o.to_dict() for o in delta.upserted_objects],
        "removed_objects": list(delta.removed_objects),
        "added_relations": _relations(delta.added_relations),
        "removed_relations": _relations(delta.removed_relations),
        "upserted_rooms": [r.to_dict() for r in delta.upserted_rooms], "removed_rooms": list(delta.removed_rooms),
        "upserted_areas": [a.to_dict() for a in delta.upserted_areas], "removed_areas": list(delta.removed_areas),
    }


def delta_from_dict(data: Mapping[str, Any]) -> GraphDelta:
    return GraphDelta(
        sequence=int(data["sequence"]), stamp=float(data["stamp"]),
        upserted_objects=tuple(ObjectNode.from_dict(o) for o in data["upserted_objects"]),
        removed_objects=tuple(str(i) for i in data["removed_objects"]),
        added_relations=tuple(Relation(str(s), str(p), str(o)) for s, p, o in data["added_relations"]),
        removed_relations=tuple(Relation(str(s), str(p), str(o)) for s, p, o in data["removed_relations"]),
        upserted_rooms=tuple(RoomNode.from_dict(r) for r in data["upserted_rooms"]),
        removed_rooms=tuple(str(i) for i in data["removed_rooms"]),
        upserted_areas=tuple(AreaNode.from_dict(a) for a in data["upserted_areas"]),
        removed_areas=tuple(str(i) for i in data["removed_areas"]),
    )


def merge_deltas(deltas: Sequence[GraphDelta]) -> GraphDelta:
    """One delta with the net effect of ``deltas`` applied in order, numbered as the last: replaying a
    journal then costs the objects it touched, not the frames that touched them (a camera re-observes
    the same objects thirty times a second). Within one delta removed and upserted records never
    overlap; across deltas the later one wins and opposite relation changes cancel."""
    objects: dict[str, ObjectNode] = {}
    removed: set[str] = set()
    added: set[Relation] = set()
    dropped: set[Relation] = set()
    rooms: Optional[tuple[RoomNode, ...]] = None  # a layout change carries the whole layout
    areas: tuple[AreaNode, ...] = ()
    gone_rooms: set[str] = set()
    gone_areas: set[str] = set()
    for delta in deltas:
        if delta.upserted_rooms or delta.removed_rooms or delta.upserted_areas or delta.removed_areas:
            rooms, areas = delta.upserted_rooms, delta.upserted_areas
            gone_rooms |= set(delta.removed_rooms)
            gone_areas |= set(delta.removed_areas)
        for relation in delta.removed_relations:
            (added.remove if relation in added else dropped.add)(relation)
        for object_id in delta.removed_objects:
            objects.pop(object_id, None)
            removed.add(object_id)
        for node in delta.upserted_objects:
            removed.discard(node.id)
            objects[node.id] = node
        for relation in delta.added_relations:
            (dropped.remove if relation in dropped else added.add)(relation)
    final_rooms = {r.id for r in rooms or ()}
    final_areas = {a.id for a in areas}
    return GraphDelta(
        sequence=deltas[-1].sequence, stamp=deltas[-1].stamp,
        upserted_objects=tuple(objects[i] for i in sorted(objects)), removed_objects=tuple(sorted(removed)),
        added_relations=tuple(sorted(added, key=_relation_key)),
        removed_relations=tuple(sorted(dropped, key=_relation_key)),
        upserted_rooms=rooms or (), removed_rooms=tuple(sorted(gone_rooms - final_rooms)),
        upserted_areas=areas if rooms is not None else (), removed_areas=tuple(sorted(gone_areas - final_areas)))


def _relation_key(relation: Relation) -> tuple[str, str, str]:
    return relation.subject, relation.predicate, relation.object


@dataclass(frozen=True)
class Batch:
    """The deltas of one journal interval and the latest points of the objects they touched."""

    deltas: tuple[GraphDelta, ...]
    geometry: Mapping[str, np.ndarray]
    next_object_index: int  # so ids handed out after a replay never repeat


def encode_batch(batch: Batch) -> bytes:
    """One framed, checksummed record."""
    owners = sorted(batch.geometry)
    points = [np.ascontiguousarray(batch.geometry[i], dtype=np.float32).reshape(-1, 3) for i in owners]
    document = json.dumps({"deltas": [delta_to_dict(d) for d in batch.deltas],
                           "points": [[i, len(p)] for i, p in zip(owners, points)],
                           "next_object_index": batch.next_object_index}, separators=(",", ":")).encode()
    payload = b"".join([_LENGTH.pack(len(document)), document, *(p.tobytes() for p in points)])
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> Batch:
    (length,) = _LENGTH.unpack_from(payload)
    document = json.loads(payload[_LENGTH.size:_LENGTH.size + length])
    flat = np.frombuffer(payload, dtype=np.float32, offset=_LENGTH.size + length).reshape(-1, 3)
    geometry: dict[str, np.ndarray] = {}
    start = 0
    for object_id, count in document["points"]:
        geometry[str(object_id)] = flat[start:start + int(count)]
        start += int(count)
    if start != len(flat):
        raise ValueError("journal batch points disagree with their counts")
    return Batch(tuple(delta_from_dict(d) for d in document["deltas"]), geometry, int(document["next_object_index"]))


@dataclass(frozen=True)
class JournalRead:
    """What a journal held: the batches that verify, in order, and where the good part ends."""

    batches: tuple[Batch, ...]
    good_length: int  # bytes; the writer truncates to this before appending
    torn: bool  # bytes after good_length were dropped (a torn or damaged tail)


def read_journal(path: Path) -> JournalRead:
    """Every batch up to the first record that does not verify; a missing file is an empty journal."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return JournalRead((), 0, False)
    batches: list[Batch] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        payload = data[offset + _HEADER.size:end]
        if magic != MAGIC or end > len(data) or zlib.crc32(payload) != crc:
            break
        try:
            batches.append(_decode_payload(payload))
        except (ValueError, KeyError, TypeError) as exc:  # verified bytes that do not decode: stop here too
            log.warning("journal %s: record at byte %d does not decode: %s", path, offset, exc)
            break
        offset = end
    torn = offset < len(data)
    if torn:
        log.warning("journal %s: dropped %d bytes after byte %d (a torn or damaged last record)",
                    path, len(data) - offset, offset)
    return JournalRead(tuple(batches), offset, torn)


class JournalWriter:
    """Appends batches to one journal file, each written and fsynced before :meth:`append` returns."""

    def __init__(self, path: Path, good_length: int = 0) -> None:
        self.path = path
        existed = path.exists()
        self._handle = open(path, "r+b" if existed else "wb")  # noqa: SIM115 (kept open across appends)
        self._handle.truncate(good_length)  # a torn tail would hide every record appended after it
        self._handle.seek(good_length)
        self.size = good_length
        if not existed:
            os.fsync(self._handle.fileno())
            fsync_dir(path.parent)

    def append(self, batch: Batch) -> int:
        """Write one batch durably; returns its size in bytes."""
        record = encode_batch(batch)
        try:
            self._handle.write(record)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:  # a full disk: cut the partial record so later appends stay readable
            self._handle.truncate(self.size)
            self._handle.seek(self.size)
            raise
        self.size += len(record)
        return len(record)

    def close(self) -> None:
        self._handle.close()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
