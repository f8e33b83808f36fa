"""Queries over long-term memory: by label, room, state, place, recency and free text.

Structured filters run on the graph directly and choose the candidates; free text then ranks
only those. Each object has one document in the words a person asks with (what its type is and
is for, its states, what it is in or on and what it holds, its room: see :func:`object_document`).
Free text is ranked by a hybrid of two scores: embedding similarity from a vector index (Chroma
or the numpy baseline from :mod:`scene_graph.vector_index`, used only through its duck-typed
``upsert/delete/query/count`` calls) and BM25 word match (:mod:`scene_graph.lexical`). The
indexes follow the graph through its deltas and re-embed an object only when its document
actually changed, so the many small merges of fusion cost nothing here.
"""
from __future__ import annotations

import heapq
import re
from typing import AbstractSet, Callable, Iterable, Mapping, Optional, Protocol, Sequence, Union

import numpy as np

from scene_graph.descriptions import describe, split_camel, state_words
from scene_graph.graph import SceneGraph
from scene_graph.lexical import LexicalIndex
from scene_graph.ontology import canonical_type, matching_types
from scene_graph.records import IN, ON, ObjectNode, ScoredObject

Metadata = Mapping[str, Union[str, int, float, bool]]
DocumentFn = Callable[[SceneGraph, ObjectNode], str]


class ObjectIndex(Protocol):
    def upsert(self, ids: Sequence[str], texts: Sequence[str], metadatas: Optional[Sequence[Optional[Metadata]]] = None,
               embeddings: Optional[np.ndarray] = None) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, text: str, k: int, where: Optional[Metadata] = None) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...


_VECTOR_CACHE = 50_000  # document embeddings kept for reuse; cleared when exceeded
# Weight of the embedding score in the hybrid (the rest is BM25), each first scaled to [0, 1] over
# the candidates; tuned on benchmarks/retrieval.py.
EMBEDDING_WEIGHT = 0.5
HELD_BONUS = 1.0  # for what a thing holds when the query names it after "in"/"on" (see _held_by_named): it
# outranks the holder itself and anything held elsewhere
_HOLDER_PHRASE = re.compile(r"\b(?:in|inside|on|into|within)\s+(?:the\s+|a\s+|my\s+|our\s+)?([a-z]+)(?:\s+([a-z]+))?")


class NoTextIndex(RuntimeError):
    """A free-text query was asked of a retriever built without a vector index."""


def object_document(graph: SceneGraph, node: ObjectNode) -> str:
    """The text indexed for an object, in the words a person would use to ask for it: its name
    split into words with what the type is and is used for, its states in words, what it is in or
    on, what it holds and its room, e.g. ``"apple: a round red or green fruit; ...; sliced into
    pieces; in fridge; kitchen"``."""
    parts = [describe(node.label)]
    states = [w for w in (state_words(k, v) for k, v in node.states) if w]
    if states:
        parts.append(", ".join(states))
    for predicate in (IN, ON):
        for relation in graph.relations(subject=node.id, predicate=predicate):
            holder = graph.get_object(relation.object)
            if holder is not None:
                parts.append(f"{predicate} {split_camel(holder.label)}")
                if predicate == IN and holder.label in _HOLDING_SAYS:  # what is in a fridge is cold
                    parts.append(_HOLDING_SAYS[holder.label])
    held = sorted({split_camel(h.label) for h in (graph.get_object(r.subject) for r in graph.relations(object=node.id)
                                                  if r.predicate in (IN, ON)) if h is not None})
    if held:
        parts.append("holds " + ", ".join(held))
    room = graph.get_room(node.room_id)
    if room is not None:
        parts.append(split_camel(room.kind))
    return "; ".join(parts)


# What being inside a holder says about a thing, where it says something a person asks by.
_HOLDING_SAYS = {"Fridge": "cold, chilled", "GarbageCan": "thrown away, rubbish"}


def label_document(graph: SceneGraph, node: ObjectNode) -> str:
    """The label-only text indexed before :func:`object_document`: label, true/valued states,
    holder label, room kind. Kept as the retrieval benchmark's baseline."""
    parts = [node.label]
    states = [k if v is True else f"{k} {v}" for k, v in node.states if v is not False]
    if states:
        parts.append(", ".join(states))
    for predicate in (IN, ON):
        for relation in graph.relations(subject=node.id, predicate=predicate):
            holder = graph.get_object(relation.object)
            if holder is not None:
                parts.append(f"{predicate} {holder.label}")
    room = graph.get_room(node.room_id)
    if room is not None:
        parts.append(room.kind)
    return "; ".join(parts)


def _metadata(node: ObjectNode) -> dict[str, str]:
    return {"label": node.label, "room_id": node.room_id, "status": node.status}


class MemoryRetriever:
    """Answers object queries over ``graph``; keeps ``index`` (optional) in step via :meth:`sync`.

    ``document`` makes each object's text (default :func:`object_document`); ``lexical=False``
    ranks free text by embedding similarity alone (the benchmark's baseline).
    """

    def __init__(self, graph: SceneGraph, index: Optional[ObjectIndex] = None,
                 document: DocumentFn = object_document, lexical: bool = True) -> None:
        self.index = index
        self._graph = graph
        self._document = document
        self._lexical = LexicalIndex() if lexical and index is not None else None
        self._synced: Optional[int] = None  # graph sequence the index reflects; None = rebuild
        self._documents: dict[str, tuple[str, dict[str, str]]] = {}
        self._vectors: dict[str, np.ndarray] = {}  # document text -> embedding made outside sync
        # False for an owner that embeds outside its lock (texts_to_embed, add_vectors): sync then
        # never runs the model, and an object whose new document has no vector yet keeps its old
        # entry until one is added (fusion changes documents while the owner embeds).
        self.embed_in_sync = True
        self._deferred: set[str] = set()  # objects left for a later sync for want of a vector

    @property
    def graph(self) -> SceneGraph:
        return self._graph

    @graph.setter
    def graph(self, graph: SceneGraph) -> None:
        """Swap in another memory (after a load); the next sync rebuilds the index."""
        self._graph, self._synced = graph, None

    # ------------------------------------------------------------------ index upkeep
    def sync(self) -> int:
        """Bring the index up to the graph's sequence; returns how many documents were (re)indexed."""
        if self.index is None or (self._synced == self._graph.sequence and not self._deferred):
            return 0
        count = self._reindex(self._candidates())
        self._synced = self._graph.sequence
        return count

    def _candidates(self) -> list[str]:
        """Objects whose document may have changed since the last sync: changed objects and both
        ends of changed relations (a holder's document names what it holds)."""
        deltas = self._graph.deltas_since(self._synced) if self._synced is not None else None
        if deltas is None:
            return sorted(set(self._documents) | {o.id for o in self._graph.objects()})
        candidates: set[str] = set(self._deferred)
        for delta in deltas:
            candidates.update(o.id for o in delta.upserted_objects)
            candidates.update(delta.removed_objects)
            for relation in delta.added_relations + delta.removed_relations:
                candidates.update((relation.subject, relation.object))
        return sorted(candidates)

    def texts_to_embed(self) -> list[str]:
        """Documents the next :meth:`sync` would embed: embed them with :meth:`add_vectors` first,
        outside whatever lock guards the graph, so that sync itself never runs the model."""
        if self.index is None or (self._synced == self._graph.sequence and not self._deferred):
            return []
        texts = []
        for object_id in self._candidates():
            node = self._graph.get_object(object_id)
            if node is not None:
                document = (self._document(self._graph, node), _metadata(node))
                if document[0] not in self._vectors and self._documents.get(object_id) != document:
                    texts.append(document[0])
        return list(dict.fromkeys(texts))

    def add_vectors(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if len(self._vectors) > _VECTOR_CACHE:
            self._vectors.clear()
        self._vectors.update(zip(texts, np.asarray(vectors, dtype=np.float32)))

    def _reindex(self, object_ids: Sequence[str]) -> int:
        assert self.index is not None
        gone = [i for i in object_ids if self._graph.get_object(i) is None and i in self._documents]
        if gone:
            self.index.delete(gone)
            for object_id in gone:
                del self._documents[object_id]
        self._deferred.clear()
        ids, texts, metas = [], [], []
        for object_id in object_ids:
            node = self._graph.get_object(object_id)
            if node is None:
                continue
            document = (self._document(self._graph, node), _metadata(node))
            if self._documents.get(object_id) == document:
                continue
            if not self.embed_in_sync and document[0] not in self._vectors:
                self._deferred.add(object_id)
                continue
            ids.append(object_id)
            texts.append(document[0])
            metas.append(document[1])
            self._documents[object_id] = document
        known = [n for n, t in enumerate(texts) if t in self._vectors]
        unknown = [n for n, t in enumerate(texts) if t not in self._vectors]
        for part, vectors in ((known, np.stack([self._vectors[texts[n]] for n in known]) if known else None),
                              (unknown, None)):  # only texts without a vector run the model
            if part:
                self.index.upsert([ids[n] for n in part], [texts[n] for n in part], [metas[n] for n in part],
                                  embeddings=vectors)
        if self._lexical is not None:
            self._lexical.update(dict(zip(ids, texts)), gone)
        return len(ids)

    def embeddings(self) -> Optional[tuple[list[str], np.ndarray, list[str]]]:
        """(ids, vectors, document texts) of every indexed object, for a snapshot; None without a
        readable index. The texts let a later load reuse only vectors of unchanged documents."""
        if self.index is None or not hasattr(self.index, "get_embeddings"):
            return None
        self.sync()
        ids = sorted(self._documents)
        return (ids, self.index.get_embeddings(ids), [self._documents[i][0] for i in ids]) if ids else None

    def restore(self, ids: Sequence[str], vectors: np.ndarray, texts: Optional[Sequence[str]] = None) -> None:
        """Refill the index from saved embeddings (a loaded snapshot) without re-running the model.

        A vector is reused only where its saved document text equals the object's document now;
        without texts (a snapshot from before documents were saved) none is, and the next sync
        embeds everything afresh.
        """
        if self.index is None or texts is None:
            return
        keep, nodes, documents = [], [], []
        for n, object_id in enumerate(ids):
            node = self._graph.get_object(object_id)
            if node is None:
                continue
            document = (self._document(self._graph, node), _metadata(node))
            if document[0] == texts[n]:
                keep.append(n)
                nodes.append(node)
                documents.append(document)
        if keep:
            self.index.upsert([ids[n] for n in keep], [d[0] for d in documents], [d[1] for d in documents],
                              embeddings=np.asarray(vectors)[keep])
            if self._lexical is not None:
                self._lexical.update({node.id: d[0] for node, d in zip(nodes, documents)})
        self._documents.update({node.id: d for node, d in zip(nodes, documents)})
        self._synced = None if len(keep) < len(self._graph) else self._graph.sequence

    # ------------------------------------------------------------------ queries
    def _nodes(self, ids: Iterable[str]) -> list[ObjectNode]:
        """The objects of ``ids`` sorted by id (every id must be in the graph)."""
        return [node for node in map(self._graph.get_object, sorted(ids)) if node is not None]

    def _label_ids(self, label: str) -> set[str]:
        return self._graph.ids_with_label(canonical_type(label) or label)

    def _room_ids(self, room: str) -> set[str]:
        rooms = {r.id for r in self._graph.rooms() if r.id == room or r.kind.lower() == room.lower()}
        return self._graph.ids_in_rooms(rooms)

    def by_label(self, label: str) -> list[ObjectNode]:
        return self._nodes(self._label_ids(label))

    def in_room(self, room: str) -> list[ObjectNode]:
        """Objects in a room given by id ("room_0") or kind ("kitchen")."""
        return self._nodes(self._room_ids(room))

    def with_state(self, state: str) -> list[ObjectNode]:
        """Objects in a state: a true state's name ("open", "sliced"), a value ("cold"), or the
        word for a false one ("closed", "switched off")."""
        wanted = state.strip().lower()
        return sorted((o for o in self._graph.objects() if _has_state(o, wanted)), key=lambda o: o.id)

    def near(self, point: Sequence[float], radius: float) -> list[ScoredObject]:
        """Objects whose centroid is within ``radius`` of ``point``, nearest first (score 1 at 0 m)."""
        found = [ScoredObject(node, 1.0 - distance / radius if radius > 0 else 1.0)
                 for node, distance in self._graph.near_point(point, radius)]
        return sorted(found, key=lambda s: (-s.score, s.node.id))

    def changed_since(self, stamp: float) -> list[ObjectNode]:
        """Objects whose position, states or status changed at or after ``stamp``, newest first."""
        return sorted(self._nodes(self._graph.changed_since_ids(stamp)), key=lambda o: (-o.last_changed, o.id))

    def text(self, query: str, k: int = 10, where: Optional[Metadata] = None,
             among: Optional[set[str]] = None) -> list[ScoredObject]:
        """The ``k`` objects whose documents best match ``query`` (hybrid score in [0, 1]), among the
        ids ``among`` and the metadata filter ``where`` when given."""
        if self.index is None:
            raise NoTextIndex("free-text queries need a vector index; none is configured")
        self.sync()
        depth = max(k, min(len(self._documents), 10 * k))
        dense = {i: s for i, s in self.index.query(query, depth, where=where) if among is None or i in among}
        if self._lexical is None:
            ranked = sorted(dense.items(), key=lambda p: (-p[1], p[0]))[: max(k, 0)]
        else:
            def keep(object_id: str) -> bool:
                return (among is None or object_id in among) and (
                    where is None or _matches(self._documents.get(object_id), where))

            filtered = among is not None or bool(where)
            held = self._held_by_named(query)
            held = {i for i in held if keep(i)} if filtered else held
            ranked = _fuse(self._lexical, query, dense, held, k, keep if filtered else None)
        return [ScoredObject(node, score) for node, score in
                ((self._graph.get_object(i), s) for i, s in ranked) if node is not None]

    def _held_by_named(self, query: str) -> set[str]:
        """Objects in or on a thing of a type the query names after "in", "on", "inside" ("what is
        in the fridge", "the pillow on the bed"): a person asking so wants what it holds."""
        types: set[str] = set()
        for first, second in _HOLDER_PHRASE.findall(query.lower()):
            named = matching_types(first + second) if second else ()
            types.update(named or matching_types(first))
        if not types:
            return set()
        return {subject for holder in self._graph.ids_with_labels(types)
                for subject in self._graph.subjects_of(holder, (IN, ON))}

    def _index_filter(self, label: str, room: str) -> Optional[dict[str, str]]:
        """The label and room filters as an equality filter on the index's metadata, so that a text
        search ranks only objects that can pass them (a rare label is not crowded out of the text
        hits by objects the filter drops afterwards) and a local Chroma index can answer from its
        exact mirror. A room kind shared by several rooms stays a filter on the hits only."""
        where: dict[str, str] = {}
        if label:
            where["label"] = canonical_type(label) or label
        if room:
            rooms = {r.id for r in self._graph.rooms() if r.id == room or r.kind.lower() == room.lower()}
            if len(rooms) == 1:
                where["room_id"] = rooms.pop()
        return where or None

    def query(
        self,
        text: str = "",
        label: str = "",
        room: str = "",
        near: Optional[Sequence[float]] = None,
        radius: float = 0.0,
        since: Optional[float] = None,
        k: int = 10,
        state: str = "",
    ) -> list[ScoredObject]:
        """All given filters at once (AND), as the query service asks; the filters choose the
        candidates, which are ranked by text score, then distance, then recency; at most ``k``.

        Each filter is answered by an index (label, room, time changed, place) and the candidate
        sets are intersected, so a query costs its candidates, not the size of memory; only a
        state filter without any other filter reads every object."""
        if label and not (room or since is not None or near is not None or state or text):  # newest of a label
            return [ScoredObject(node) for node in
                    map(self._graph.get_object, self._graph.newest_ids(k, canonical_type(label) or label))
                    if node is not None]
        pool: Optional[set[str]] = None  # None: every object
        scores: dict[str, float] = {}

        def narrow(ids: set[str]) -> None:
            nonlocal pool
            pool = ids if pool is None else pool & ids

        if label:
            narrow(self._label_ids(label))
        if room:
            narrow(self._room_ids(room))
        if since is not None:
            narrow(set(self._graph.changed_since_ids(since)))
        if near is not None:
            scores = {s.node.id: s.score for s in self.near(near, radius)}
            narrow(set(scores))
        if state:
            wanted = state.strip().lower()
            narrow({o.id for o in (self._nodes(pool) if pool is not None else self._graph.objects())
                    if _has_state(o, wanted)})
        if text:
            filtered = pool is not None and len(pool) < len(self._graph)
            scored = self.text(text, k=k if filtered else max(k, 1), where=self._index_filter(label, room),
                               among=pool if filtered else None)
            scores = {s.node.id: s.score for s in scored if pool is None or s.node.id in pool}
            pool = set(scores)
        if pool is None:  # no filter at all: the most recently changed
            return [ScoredObject(node) for node in map(self._graph.get_object, self._graph.newest_ids(k))
                    if node is not None]
        nodes = [node for node in map(self._graph.get_object, pool) if node is not None]
        best = heapq.nsmallest(max(k, 0), nodes, key=lambda n: (-scores.get(n.id, 1.0), -n.last_changed, n.id))
        return [ScoredObject(node, scores.get(node.id, 1.0)) for node in best]


def _has_state(node: ObjectNode, wanted: str) -> bool:
    for name, value in node.states:
        if (value is True and name == wanted) or (not isinstance(value, bool) and str(value).lower() == wanted):
            return True
        if wanted and wanted in (state_words(name, value), state_words(name, value).split(",")[0]):
            return True
    return False


def _matches(document: Optional[tuple[str, dict[str, str]]], where: Metadata) -> bool:
    return document is not None and all(document[1].get(key) == value for key, value in where.items())


def _fuse(lexical: LexicalIndex, query: str, dense: Mapping[str, float], held: AbstractSet[str], k: int,
          keep: Optional[Callable[[str], bool]]) -> list[tuple[str, float]]:
    """The ``k`` best of the hybrid ranking, exactly, over every document at once (numpy over the
    word index's rows): the embedding score scaled to [0, 1] over the embedding hits, an object
    they missed given the lowest one retrieved (it ranked below every hit); the BM25 score divided
    by the best word match among the objects ``keep`` allows; a weighted sum of the two, plus
    :data:`HELD_BONUS` for objects held by a thing the query names; the sum scaled back into
    [0, 1]. Candidates are the embedding hits, the word matches and the held objects; ``keep``
    (None: all) is asked only of the best of them until ``k`` pass. Ties go to the smaller id."""
    words_ = lexical.row_scores(query)
    matched = words_ > 0
    top = _best_allowed(lexical, np.flatnonzero(matched), words_, keep)
    if top > 0:
        words_ /= top
    low = min(dense.values()) if dense else 0.0
    span = (max(dense.values()) - low) if dense else 0.0
    cosine = np.full(len(words_), 0.0 if span > 0 else 1.0)
    candidate = matched.copy()
    if span > 0:
        rows, found = lexical.rows_with(dense)
        cosine[rows] = [(dense[i] - low) / span for i in found]
    candidate[lexical.rows(dense)] = True
    bonus = np.zeros(len(words_))
    if held:
        rows = lexical.rows(held)
        bonus[rows] = HELD_BONUS
        candidate[rows] = True
    fused = (EMBEDDING_WEIGHT * cosine + (1.0 - EMBEDDING_WEIGHT) * words_ + bonus) / (
        1.0 + (HELD_BONUS if held else 0.0))
    rows = np.flatnonzero(candidate)
    return _top(lexical.row_ids, rows, fused[rows], k, keep)


def _best_allowed(lexical: LexicalIndex, rows: np.ndarray, scores: np.ndarray,
                  keep: Optional[Callable[[str], bool]]) -> float:
    """The highest of ``scores[rows]`` whose object ``keep`` allows (0 when none does)."""
    best = _top(lexical.row_ids, rows, scores[rows], 1, keep)
    return best[0][1] if best else 0.0


def _top(ids: Sequence[Optional[str]], rows: np.ndarray, scores: np.ndarray, k: int,
         keep: Optional[Callable[[str], bool]]) -> list[tuple[str, float]]:
    """The ``k`` best (id, score) of ``rows`` by score, then id, among those ``keep`` allows.

    Only the best few are sorted in Python: everything scoring at least the ``m``-th best (ties at
    the cut included), ``m`` growing fourfold while too few of them pass ``keep``; what lies below
    the cut scores less than all of them, so the answer is the exact one."""
    m = k
    while k > 0 and len(rows):
        if m < len(rows):
            cut = np.partition(scores, len(rows) - m)[len(rows) - m]
            chosen = np.flatnonzero(scores >= cut)
        else:
            chosen = np.arange(len(rows))
        best = sorted(((ids[r] or "", s) for r, s in zip(rows[chosen].tolist(), scores[chosen].tolist())),
                      key=lambda p: (-p[1], p[0]))
        found = [p for p in best if keep is None or keep(p[0])][:k]
        if len(found) == k or len(chosen) == len(rows):
            return found
        m *= 4
    return []
