"""Crash-safe persistence of memory: atomic snapshots plus a journal, keep the last N, load the newest good one.

A snapshot is two files in ``<root>/<name>/``: ``snap-<n>.npz`` and ``snap-<n>.json``. Version 3
(written now) keeps the whole graph in the npz as a binary record table (:mod:`record_table`:
object columns, relations as index triples, geometry and embeddings as float32 arrays) and only
the manifest in the JSON: version, sequence, layout (rooms and areas), SHA-256 of the npz and of
the manifest itself. Versions 1 and 2 (the graph as JSON beside an npz of geometry) still load.
Each part is written to a temporary file in the same folder, fsynced and renamed over its final
name, npz first; the JSON is the commit record, so a kill -9 at any moment leaves either a
complete snapshot or none. A snapshot is good only when every part verifies. Loading walks
snapshots newest first and skips, with a logged reason, any that does not.

A snapshot may be followed by its journal ``snap-<n>.wal`` (:mod:`journal`): the deltas committed
since, appended in checksummed batches. A load replays the journal of the snapshot it loads up to
its first record that does not verify (a torn tail is dropped, never loaded). With the journal a
kill -9 loses at most one journal interval, and a save between full snapshots costs what changed.

Cleanup deletes only good snapshots (with their journals) older than the newest ``keep`` good
ones, and leftovers of killed writers older than the newest good one: a snapshot that does not
verify (damaged, of another version, a foreign file that happens to match the pattern) is never
deleted, so nothing is lost when all of them fail to load. Numbers have any number of digits and
are compared as numbers, so no count and no stray file stops saving.

Sequence numbers of graph deltas never repeat across restarts: a small lease file records a
number ahead of the graph's, rewritten every :data:`SEQUENCE_LEASE` deltas, and a restarted
memory continues after it (a kill -9 loses the last deltas, not their numbers).

Names come from users (services, CLI), so they are confined to the memory folder: one path
component of letters, digits, ``_``, ``-`` and ``.``; no separators, no ``..``, no absolute paths.
"""
from __future__ import annotations

import gc
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from scene_graph.graph import SCHEMA_VERSION, SceneGraph
from scene_graph.journal import SUFFIX as JOURNAL_SUFFIX
from scene_graph.journal import Batch, JournalRead, JournalWriter, fsync_dir, merge_deltas, read_journal
from scene_graph.record_table import StringTable, decode_geometry, decode_graph, decode_strings, encode_graph
from scene_graph.records import AreaNode, GraphDelta, RoomNode

log = logging.getLogger(__name__)

FORMAT = "embodied-memory-snapshot"
STORE_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)  # version 1 had no graph checksum; 1 and 2 keep the graph as JSON
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PART = re.compile(r"^snap-(\d{1,30})\.(json|npz|wal)$")
_LEASE_FILE = "sequence.json"
SEQUENCE_LEASE = 1000  # deltas numbered per lease write

# (ids, vectors) or (ids, vectors, document texts): with texts, a load can tell which vectors
# still fit their objects' documents (see MemoryRetriever.restore).
Embeddings = Union[tuple[Sequence[str], np.ndarray], tuple[Sequence[str], np.ndarray, Sequence[str]]]


class InvalidName(ValueError):
    """A memory name that would leave the memory folder or is not a single plain component."""


class NoSnapshot(LookupError):
    """No loadable snapshot exists under a name."""


@dataclass(frozen=True)
class LoadedMemory:
    graph: SceneGraph  # the snapshot with its journal replayed
    path: Path
    meta: Mapping[str, Any]
    embeddings: Optional[tuple]  # (ids, vectors) or (ids, vectors, texts), as saved
    journal_length: int = 0  # bytes of the snapshot's journal that verified and were replayed
    replayed: int = 0  # deltas replayed from the journal
    journal_torn: bool = False  # a damaged or torn tail of the journal was dropped


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe single folder name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidName(
            f"invalid memory name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit, without '..' or path separators"
        )
    return name


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def _number(path: Path) -> int:
    match = _PART.match(path.name)
    return int(match.group(1)) if match else -1


def _savez(arrays: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _embedding_arrays(embeddings: Optional[Embeddings], strings: Optional[StringTable]) -> dict[str, np.ndarray]:
    """Embeddings as arrays; ids and texts coded in ``strings`` (version 3) or as numpy strings (version 2)."""
    if embeddings is None:
        return {}
    def text(values: Sequence[str]) -> np.ndarray:
        return strings.codes(list(values)) if strings is not None else np.array(list(values), dtype=str)
    # A copy: a snapshot may be written after the index has moved on.
    arrays = {"embedding_ids": text(embeddings[0]), "embeddings": np.array(embeddings[1], dtype=np.float32)}
    if len(embeddings) > 2:
        arrays["embedding_texts"] = text(embeddings[2])
    return arrays


def _pack_v2(graph: SceneGraph, embeddings: Optional[Embeddings]) -> bytes:
    geometry = graph.geometry()
    ids = sorted(geometry)
    arrays: dict[str, np.ndarray] = {
        "ids": np.array(ids, dtype=str),
        "offsets": np.cumsum([0] + [len(geometry[i]) for i in ids]).astype(np.int64),
        "points": np.concatenate([geometry[i] for i in ids]).astype(np.float32) if ids
        else np.zeros((0, 3), dtype=np.float32),
        **_embedding_arrays(embeddings, None),
    }
    return _savez(arrays)


def _unpack_v2(data: bytes) -> tuple[dict[str, np.ndarray], Optional[tuple]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        ids, offsets, points = npz["ids"], npz["offsets"], npz["points"]
        geometry = {str(i): points[offsets[n]: offsets[n + 1]] for n, i in enumerate(ids)}
        embeddings: Optional[tuple] = None
        if "embeddings" in npz.files:
            embeddings = (tuple(str(i) for i in npz["embedding_ids"]), npz["embeddings"])
            if "embedding_texts" in npz.files:
                embeddings += (tuple(str(t) for t in npz["embedding_texts"]),)
    return geometry, embeddings


def _read_v3(document: Mapping[str, Any], blob: bytes,
             graph_options: Mapping[str, Any]) -> tuple[SceneGraph, Optional[tuple]]:
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"snapshot schema version {document.get('schema_version')!r}, "
                         f"this code reads {SCHEMA_VERSION}")
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    strings = decode_strings(arrays["string_bytes"].tobytes(), arrays["string_offsets"])
    table = decode_graph(arrays, strings)
    geometry = decode_geometry(arrays, [o.id for o in table.objects])
    layout = document["layout"]
    graph = SceneGraph.from_records(
        [RoomNode.from_dict(r) for r in layout["rooms"]], [AreaNode.from_dict(a) for a in layout["areas"]],
        table.objects, table.relations, table.parents, geometry, int(document["sequence"]),
        int(document["next_object_index"]), **graph_options)
    embeddings: Optional[tuple] = None
    if "embeddings" in arrays:
        embeddings = (tuple(strings[i] for i in arrays["embedding_ids"].tolist()), arrays["embeddings"])
        if "embedding_texts" in arrays:
            embeddings += (tuple(strings[i] for i in arrays["embedding_texts"].tolist()),)
    return graph, embeddings


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a load builds tens of thousands of records: it
    would otherwise traverse all of them again and again (a third to half of a 10k-object load)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def verified(path: Path) -> tuple[dict[str, Any], bytes]:
    """The snapshot's document and its npz, if every part matches the manifest; else ValueError."""
    document = json.loads(path.read_bytes())
    if not isinstance(document, dict) or document.get("format") != FORMAT \
            or document.get("store_version") not in _READABLE_VERSIONS:
        raise ValueError(f"not a {FORMAT} file of version {_READABLE_VERSIONS}")
    version = document["store_version"]
    part = document["arrays" if version >= 3 else "geometry"]
    if part["file"] != path.with_suffix(".npz").name:
        raise ValueError(f"manifest names another array file: {part['file']!r}")
    blob = path.with_suffix(".npz").read_bytes()
    if hashlib.sha256(blob).hexdigest() != part["sha256"]:
        raise ValueError("array file checksum mismatch")
    if version >= 3:
        body = {k: v for k, v in document.items() if k != "manifest_sha256"}
        if _digest(body) != document["manifest_sha256"]:
            raise ValueError("manifest checksum mismatch")
    elif version == 2 and _digest(document["graph"]) != document["graph_sha256"]:
        raise ValueError("graph checksum mismatch")
    return document, blob


def replay(graph: SceneGraph, journal: JournalRead) -> int:
    """Apply a journal's batches to the graph of its snapshot, merged into one delta (:func:`merge_deltas`)
    numbered as the last; returns the number of deltas replayed.

    Deltas the graph already holds are skipped; a jump in numbers (a restart continued after its
    sequence lease) is taken as it came, since records are only ever appended whole."""
    deltas = [d for batch in journal.batches for d in batch.deltas if d.sequence > graph.sequence]
    if deltas:
        merged = merge_deltas(deltas)
        graph.continue_sequence(merged.sequence - 1)
        graph.apply(merged)
    for batch in journal.batches:
        for object_id, points in batch.geometry.items():  # later batches hold later points
            graph.set_points(object_id, points)
        graph.continue_object_index(batch.next_object_index)
    return len(deltas)


@dataclass(frozen=True)
class PreparedSnapshot:
    """Everything a snapshot holds, copied out of the graph (:func:`prepare`)."""

    version: int
    sequence: int
    document: dict[str, Any]  # manifest fields known before writing (version 2: with the graph)
    arrays: dict[str, np.ndarray]  # version 3: the record table, geometry and embeddings
    blob: bytes = b""  # version 2: the npz of geometry and embeddings


def prepare(graph: SceneGraph, embeddings: Optional[Embeddings] = None, meta: Optional[Mapping[str, Any]] = None,
            version: int = STORE_VERSION) -> PreparedSnapshot:
    """Copy what a snapshot of ``graph`` holds (the part of a save that needs the graph held still)."""
    if version not in (2, STORE_VERSION):
        raise ValueError(f"can write snapshot versions 2 and {STORE_VERSION}, not {version}")
    document: dict[str, Any] = {"meta": dict(meta or {})}
    if version == 2:
        document["graph"] = graph.snapshot()
        return PreparedSnapshot(version, graph.sequence, document, {}, _pack_v2(graph, embeddings))
    strings = StringTable()
    arrays = encode_graph(graph, strings)
    arrays.update(_embedding_arrays(embeddings, strings))
    arrays.update(strings.arrays())
    document.update(schema_version=SCHEMA_VERSION, sequence=graph.sequence, next_object_index=graph.next_object_index,
                    object_count=len(graph), layout={"rooms": [r.to_dict() for r in graph.rooms()],
                                                      "areas": [a.to_dict() for a in graph.areas()]})
    return PreparedSnapshot(version, graph.sequence, document, arrays)


class MemoryStore:
    """Named memories under one root folder, each a rolling set of the last ``keep`` good snapshots.

    One writer per name at a time (the scene graph node); readers may load concurrently.
    """

    def __init__(self, root: Path | str, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.root = Path(root).resolve()
        self.keep = keep
        self._good: dict[tuple[str, int, int, int, int], bool] = {}  # path, sizes, mtimes -> verified
        self._writing = threading.Lock()  # a periodic write runs outside its owner's lock; one at a time

    def folder(self, name: str) -> Path:
        path = (self.root / validate_name(name)).resolve()
        if path.parent != self.root:  # belt and braces: the regex already forbids escaping
            raise InvalidName(f"memory name {name!r} resolves outside {self.root}")
        return path

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def snapshots(self, name: str) -> list[Path]:
        """Snapshot JSON files under ``name`` (good or not), newest first."""
        folder = self.folder(name)
        if not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if p.suffix == ".json" and _number(p) >= 0]
        return sorted(found, key=_number, reverse=True)

    def is_good(self, path: Path) -> bool:
        """Whether every part of the snapshot verifies (cached per file size and modification time)."""
        try:
            stats = (path.stat(), path.with_suffix(".npz").stat())
        except OSError:
            return False
        json_stat, npz_stat = stats
        key = (str(path), json_stat.st_size, npz_stat.st_size, json_stat.st_mtime_ns, npz_stat.st_mtime_ns)
        if key not in self._good:
            try:
                verified(path)
                self._good[key] = True
            except Exception as exc:  # JSON, IO and checksum errors alike mean "not good"
                log.warning("memory snapshot %s does not verify (kept, never deleted): %s", path, exc)
                self._good[key] = False
        return self._good[key]

    def save(
        self,
        graph: SceneGraph,
        name: str = "default",
        embeddings: Optional[Embeddings] = None,
        meta: Optional[Mapping[str, Any]] = None,
        version: int = STORE_VERSION,
    ) -> Path:
        """Write a new snapshot atomically, then prune (module docstring); returns the JSON path.

        ``version`` 2 writes the former JSON format (kept for comparison and compatibility tests)."""
        return self.write(prepare(graph, embeddings, meta, version), name)

    def write(self, prepared: PreparedSnapshot, name: str = "default") -> Path:
        """Write a :func:`prepare`d snapshot as the newest of ``name``: the slow part of a save
        (packing, checksums, fsync), which needs neither the graph nor its owner's lock."""
        with self._writing:
            return self._write(prepared, name)

    def _write(self, prepared: PreparedSnapshot, name: str) -> Path:
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        number = max((_number(p) for p in folder.iterdir()), default=0) + 1
        stem = f"snap-{max(number, 1):08d}"
        document: dict[str, Any] = {"format": FORMAT, "store_version": prepared.version, "saved_at": time.time(),
                                    **prepared.document}
        if prepared.version == 2:
            blob = prepared.blob
            document.update(geometry={"file": f"{stem}.npz", "sha256": hashlib.sha256(blob).hexdigest()},
                            graph_sha256=_digest(document["graph"]))
        else:
            blob = _savez(prepared.arrays)
            document["arrays"] = {"file": f"{stem}.npz", "sha256": hashlib.sha256(blob).hexdigest()}
            document["manifest_sha256"] = _digest(document)
        _atomic_write(folder / f"{stem}.npz", blob)
        path = folder / f"{stem}.json"
        _atomic_write(path, json.dumps(document, separators=(",", ":")).encode())
        self._prune(name)
        log.debug("saved memory %r sequence %d to %s", name, prepared.sequence, path)
        return path

    def _prune(self, name: str) -> None:
        folder = self.folder(name)
        good = [p for p in self.snapshots(name) if self.is_good(p)]
        if not good:
            return  # nothing verifies: delete nothing, someone may salvage the parts
        newest_good = _number(good[0])
        doomed = [part for p in good[self.keep:] for part in (p, p.with_suffix(".npz"), p.with_suffix(JOURNAL_SUFFIX))]
        for path in folder.iterdir():
            # Leftovers of killed writers: arrays or a journal whose JSON never landed, temporary files.
            orphan = path.suffix in (".npz", JOURNAL_SUFFIX) and 0 <= _number(path) < newest_good \
                and not path.with_suffix(".json").exists()
            if orphan or (path.name.startswith(".snap-") and path.name.endswith(".tmp")):
                doomed.append(path)
        for path in doomed:
            path.unlink(missing_ok=True)
        self._good = {key: good for key, good in self._good.items() if Path(key[0]).exists()}

    def load(self, name: str = "default", **graph_options: Any) -> LoadedMemory:
        """The newest snapshot that verifies and reads back, with its journal replayed; the others
        are logged and skipped."""
        for path in self.snapshots(name):
            try:
                return self._read(path, graph_options)
            except Exception as exc:  # JSON, zip, schema and checksum errors alike mean "try older"
                log.warning("skipping unusable memory snapshot %s: %s", path, exc)
        raise NoSnapshot(f"no usable snapshot of memory {name!r} in {self.folder(name)}")

    def load_all(self, name: str = "default", **graph_options: Any) -> list[LoadedMemory]:
        """Every snapshot kept under ``name`` that reads back, oldest first: memory's history on disk."""
        loaded = []
        for path in reversed(self.snapshots(name)):
            try:
                loaded.append(self._read(path, graph_options))
            except Exception as exc:  # as in load: a broken snapshot is skipped with its reason
                log.warning("skipping unusable memory snapshot %s: %s", path, exc)
        if not loaded:
            raise NoSnapshot(f"no usable snapshot of memory {name!r} in {self.folder(name)}")
        return loaded

    @staticmethod
    def _read(path: Path, graph_options: Mapping[str, Any]) -> LoadedMemory:
        with _collector_paused():
            return MemoryStore._read_parts(path, graph_options)

    @staticmethod
    def _read_parts(path: Path, graph_options: Mapping[str, Any]) -> LoadedMemory:
        document, blob = verified(path)
        if document["store_version"] >= 3:
            graph, embeddings = _read_v3(document, blob, graph_options)
        else:
            geometry, embeddings = _unpack_v2(blob)
            graph = SceneGraph.from_snapshot(document["graph"], geometry, **graph_options)
        journal = read_journal(path.with_suffix(JOURNAL_SUFFIX))
        replayed = replay(graph, journal)
        return LoadedMemory(graph, path, document["meta"], embeddings, journal.good_length, replayed, journal.torn)

    # ------------------------------------------------------------------ sequence lease
    def reserved_sequence(self, name: str) -> int:
        """The highest delta number handed out under ``name`` may have reached (0: none recorded)."""
        try:
            value = json.loads((self.folder(name) / _LEASE_FILE).read_bytes())["reserved"]
            return value if isinstance(value, int) and value >= 0 else 0
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def reserve_sequence(self, name: str, upto: int) -> None:
        """Record that delta numbers up to ``upto`` may be used; a restart continues after it."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / _LEASE_FILE, json.dumps({"reserved": int(upto)}).encode())


class PeriodicSnapshot:
    """Keeps memory on disk: a full snapshot every ``interval`` seconds when memory changed, and, with
    ``journal_interval`` > 0, the deltas in between appended to the newest snapshot's journal every
    ``journal_interval`` seconds. Subscribe :meth:`record` to the graph and call :meth:`tick` from
    the owner's loop. A journal beyond ``journal_max_bytes`` is compacted into a full snapshot early.
    A full snapshot first appends what is pending to the current journal; a kill while it is being
    written loses at most the changes made during the write.

    ``embeddings`` optionally returns (ids, vectors) of the vector index to save alongside.
    """

    def __init__(
        self,
        store: MemoryStore,
        graph: Callable[[], SceneGraph],
        interval: float,
        name: str = "default",
        embeddings: Optional[Callable[[], Optional[Embeddings]]] = None,
        clock: Callable[[], float] = time.monotonic,
        journal_interval: float = 0.0,
        journal_max_bytes: int = 64 << 20,
    ) -> None:
        self.store, self._graph, self.interval, self.name = store, graph, interval, validate_name(name)
        self._embeddings, self._clock = embeddings, clock
        self.journal_interval, self.journal_max_bytes = journal_interval, journal_max_bytes
        self._last_time: Optional[float] = None
        self._last_sequence: Optional[int] = None
        self._journal: Optional[JournalWriter] = None
        self._journal_time: Optional[float] = None
        self._pending: list[GraphDelta] = []
        self._touched: set[str] = set()
        self._writing = False  # a full snapshot is being written (:meth:`begin`)
        self._generation = 0  # moves when the graph is replaced: a write begun before opens no journal

    def record(self, delta: GraphDelta) -> None:
        """Graph listener: keep the delta for the next journal batch."""
        if self.journal_interval > 0:
            self._pending.append(delta)
            self._touched.update(node.id for node in delta.upserted_objects)

    def mark_saved(self) -> None:
        """The graph as it is now is on disk (just loaded or saved by hand): nothing to save yet."""
        self._last_time = self._journal_time = self._clock()
        self._last_sequence = self._graph().sequence
        self._pending.clear()
        self._touched.clear()

    def continue_from(self, loaded: LoadedMemory) -> None:
        """The graph is ``loaded`` (a snapshot of this name and its journal): append to that journal."""
        self._open_journal(loaded.path, loaded.journal_length)
        self.mark_saved()

    def invalidate(self) -> None:
        """The graph was replaced by something not on disk under this name: a full snapshot is due."""
        self._generation += 1
        self._close_journal()
        self._last_sequence = None
        self._pending.clear()
        self._touched.clear()

    def save_now(self) -> Path:
        """A full snapshot now, whatever is due (a save asked for by hand); its journal follows."""
        return self._begin_save(self._graph(), self._clock())()

    def _open_journal(self, snapshot: Path, length: int) -> None:
        self._close_journal()
        if self.journal_interval > 0:
            self._journal = JournalWriter(snapshot.with_suffix(JOURNAL_SUFFIX), length)

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def tick(self, force: bool = False) -> Optional[Path]:
        """Save what is due (``force``: now, by journal when there is one); returns the path written."""
        write = self.begin(force)
        return write() if write is not None else None

    def begin(self, force: bool = False) -> Optional[Callable[[], Path]]:
        """The part of :meth:`tick` that reads the graph (call it with the graph held still): a journal
        append happens here; a full snapshot is copied here and returned as the write to run next,
        which needs neither the graph nor its owner's lock. None when nothing is due."""
        now = self._clock()
        graph = self._graph()
        if self._writing or graph.sequence == self._last_sequence:
            return None
        since_snapshot = now - self._last_time if self._last_time is not None else float("inf")
        if self.journal_interval <= 0:
            return self._begin_save(graph, now) if force or since_snapshot >= self.interval else None
        since_append = now - self._journal_time if self._journal_time is not None else float("inf")
        if not force and since_append < self.journal_interval:
            return None
        journal = self._journal
        if journal is None or journal.size >= self.journal_max_bytes or (since_snapshot >= self.interval and not force):
            return self._begin_save(graph, now)  # no journal to extend (new or replaced memory), or compaction due
        path = self._append(journal, graph, now)
        return lambda: path

    def _append(self, journal: JournalWriter, graph: SceneGraph, now: float) -> Path:
        geometry = {i: graph.points(i) for i in self._touched if i in graph and len(graph.points(i))}
        # The interval's net effect: a camera re-observing the same objects every frame costs them once.
        deltas = (merge_deltas(self._pending),) if self._pending else ()
        journal.append(Batch(deltas, geometry, graph.next_object_index))
        self._pending.clear()
        self._touched.clear()
        self._journal_time, self._last_sequence = now, graph.sequence
        return journal.path

    def _begin_save(self, graph: SceneGraph, now: float) -> Callable[[], Path]:
        if self._journal is not None and self._pending:  # durable now, whatever becomes of the write
            self._append(self._journal, graph, now)
        prepared = prepare(graph, self._embeddings() if self._embeddings else None)
        self._close_journal()  # deltas from now on follow the new snapshot: they wait in _pending for its journal
        self._pending.clear()
        self._touched.clear()
        self._last_time = self._journal_time = now
        self._last_sequence = graph.sequence
        self._writing = True
        generation = self._generation

        def write() -> Path:
            try:
                path = self.store.write(prepared, self.name)
            except BaseException:
                self._last_sequence = None  # not on disk: the next tick tries a full snapshot again
                raise
            finally:
                self._writing = False
            if generation == self._generation:
                self._open_journal(path, 0)
            return path

        return write
