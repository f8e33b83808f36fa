"""Crash-safe persistence of memory: atomic snapshots, keep the last N, load the newest good one.

A snapshot is two files in ``<root>/<name>/``: ``snap-<n>.npz`` (geometry and optional
embeddings) and ``snap-<n>.json`` (graph, metadata, and the manifest: SHA-256 of the npz and of
the graph). Each is written to a temporary file in the same folder, fsynced and renamed over its
final name, npz first; the JSON is the commit record, so a kill -9 at any moment leaves either a
complete snapshot or none, and at most the changes since the previous snapshot are lost. A
snapshot is good only when every part verifies. Loading walks snapshots newest first and skips,
with a logged reason, any that does not.

Cleanup deletes only good snapshots older than the newest ``keep`` good ones, and leftovers of
killed writers older than the newest good one: a snapshot that does not verify (damaged, of
another version, a foreign file that happens to match the pattern) is never deleted, so nothing
is lost when all of them fail to load. Numbers have any number of digits and are compared as
numbers, so no count and no stray file stops saving.

Sequence numbers of graph deltas never repeat across restarts: a small lease file records a
number ahead of the graph's, rewritten every :data:`SEQUENCE_LEASE` deltas, and a restarted
memory continues after it (a kill -9 loses deltas since the last snapshot, not their numbers).

Names come from users (services, CLI), so they are confined to the memory folder: one path
component of letters, digits, ``_``, ``-`` and ``.``; no separators, no ``..``, no absolute paths.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from scene_graph.graph import SceneGraph

log = logging.getLogger(__name__)

FORMAT = "embodied-memory-snapshot"
STORE_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1 had no graph checksum
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PART = re.compile(r"^snap-(\d{1,30})\.(json|npz)$")
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
    graph: SceneGraph
    path: Path
    meta: Mapping[str, Any]
    embeddings: Optional[tuple]  # (ids, vectors) or (ids, vectors, texts), as saved


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe single folder name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidName(
            f"invalid memory name {name!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit, without '..' or path separators"
        )
    return name


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    _fsync_dir(path.parent)


def _graph_digest(graph: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(graph, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def _number(path: Path) -> int:
    match = _PART.match(path.name)
    return int(match.group(1)) if match else -1


def _pack(graph: SceneGraph, embeddings: Optional[Embeddings]) -> bytes:
    geometry = graph.geometry()
    ids = sorted(geometry)
    arrays: dict[str, np.ndarray] = {
        "ids": np.array(ids, dtype=str),
        "offsets": np.cumsum([0] + [len(geometry[i]) for i in ids]).astype(np.int64),
        "points": np.concatenate([geometry[i] for i in ids]).astype(np.float32) if ids
        else np.zeros((0, 3), dtype=np.float32),
    }
    if embeddings is not None:
        arrays["embedding_ids"] = np.array(list(embeddings[0]), dtype=str)
        arrays["embeddings"] = np.asarray(embeddings[1], dtype=np.float32)
        if len(embeddings) > 2:
            arrays["embedding_texts"] = np.array(list(embeddings[2]), dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _unpack(data: bytes) -> tuple[dict[str, np.ndarray], Optional[tuple]]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        ids, offsets, points = npz["ids"], npz["offsets"], npz["points"]
        geometry = {str(i): points[offsets[n]: offsets[n + 1]] for n, i in enumerate(ids)}
        embeddings: Optional[tuple] = None
        if "embeddings" in npz.files:
            embeddings = (tuple(str(i) for i in npz["embedding_ids"]), npz["embeddings"])
            if "embedding_texts" in npz.files:
                embeddings += (tuple(str(t) for t in npz["embedding_texts"]),)
    return geometry, embeddings


def _verified(path: Path) -> tuple[dict[str, Any], bytes]:
    """The snapshot's document and geometry blob, if every part matches the manifest; else ValueError."""
    document = json.loads(path.read_bytes())
    if not isinstance(document, dict) or document.get("format") != FORMAT \
            or document.get("store_version") not in _READABLE_VERSIONS:
        raise ValueError(f"not a {FORMAT} file of version {_READABLE_VERSIONS}")
    geometry_file = document["geometry"]["file"]
    if geometry_file != path.with_suffix(".npz").name:
        raise ValueError(f"manifest names another geometry file: {geometry_file!r}")
    blob = path.with_suffix(".npz").read_bytes()
    if hashlib.sha256(blob).hexdigest() != document["geometry"]["sha256"]:
        raise ValueError("geometry file checksum mismatch")
    if document["store_version"] >= 2 and _graph_digest(document["graph"]) != document["graph_sha256"]:
        raise ValueError("graph checksum mismatch")
    return document, blob


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
                _verified(path)
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
    ) -> Path:
        """Write a new snapshot atomically, then prune (module docstring); returns the JSON path."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        number = max((_number(p) for p in folder.iterdir()), default=0) + 1
        stem = f"snap-{max(number, 1):08d}"
        blob = _pack(graph, embeddings)
        _atomic_write(folder / f"{stem}.npz", blob)
        snapshot = graph.snapshot()
        document = {
            "format": FORMAT,
            "store_version": STORE_VERSION,
            "saved_at": time.time(),
            "meta": dict(meta or {}),
            "geometry": {"file": f"{stem}.npz", "sha256": hashlib.sha256(blob).hexdigest()},
            "graph_sha256": _graph_digest(snapshot),
            "graph": snapshot,
        }
        path = folder / f"{stem}.json"
        _atomic_write(path, json.dumps(document, separators=(",", ":")).encode())
        self._prune(name)
        log.debug("saved memory %r sequence %d to %s", name, graph.sequence, path)
        return path

    def _prune(self, name: str) -> None:
        folder = self.folder(name)
        good = [p for p in self.snapshots(name) if self.is_good(p)]
        if not good:
            return  # nothing verifies: delete nothing, someone may salvage the parts
        newest_good = _number(good[0])
        doomed = [part for p in good[self.keep:] for part in (p, p.with_suffix(".npz"))]
        for path in folder.iterdir():
            # Leftovers of killed writers: geometry whose JSON never landed, temporary files.
            orphan = path.suffix == ".npz" and 0 <= _number(path) < newest_good \
                and not path.with_suffix(".json").exists()
            if orphan or (path.name.startswith(".snap-") and path.name.endswith(".tmp")):
                doomed.append(path)
        for path in doomed:
            path.unlink(missing_ok=True)
        self._good = {key: good for key, good in self._good.items() if Path(key[0]).exists()}

    def load(self, name: str = "default", **graph_options: Any) -> LoadedMemory:
        """The newest snapshot that verifies and reads back; the others are logged and skipped."""
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
        document, blob = _verified(path)
        geometry, embeddings = _unpack(blob)
        graph = SceneGraph.from_snapshot(document["graph"], geometry, **graph_options)
        return LoadedMemory(graph, path, document["meta"], embeddings)

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
    """Save every ``interval`` seconds when memory changed; call :meth:`tick` from the owner's loop.

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
    ) -> None:
        self.store, self._graph, self.interval, self.name = store, graph, interval, validate_name(name)
        self._embeddings, self._clock = embeddings, clock
        self._last_time: Optional[float] = None
        self._last_sequence: Optional[int] = None

    def mark_saved(self) -> None:
        """The graph as it is now is on disk (just loaded or saved by hand): nothing to save yet."""
        self._last_time, self._last_sequence = self._clock(), self._graph().sequence

    def tick(self, force: bool = False) -> Optional[Path]:
        """Save if the interval has passed (or ``force``) and the sequence moved; returns the path if saved."""
        now = self._clock()
        graph = self._graph()
        if not force and self._last_time is not None and now - self._last_time < self.interval:
            return None
        if graph.sequence == self._last_sequence:
            return None
        path = self.store.save(graph, self.name, self._embeddings() if self._embeddings else None)
        self._last_time, self._last_sequence = now, graph.sequence
        return path
