"""Queries by label, room, place, recency and free text; the text index follows the graph."""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pytest

from scene_graph.graph import SceneGraph, grid_areas
from scene_graph.records import ObjectNode, OrientedBox, RoomNode
from scene_graph.retrieval import MemoryRetriever, NoTextIndex, label_document, object_document
from scene_graph.store import MemoryStore
from scene_graph.vector_index import NumpyVectorIndex

ROOMS = [RoomNode("room_0", "Kitchen", ((0, 0), (4, 0), (4, 4), (0, 4))),
         RoomNode("room_1", "Bedroom", ((4, 0), (8, 0), (8, 4), (4, 4)))]


class WordHashEmbedder:
    """Bag of lower-cased words hashed into 64 buckets: deterministic and model-free for tests."""

    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            for word in text.lower().replace(";", " ").replace(",", " ").split():
                rows[n, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1.0)


def add(graph: SceneGraph, label: str, center, extent, layer: str = "object", stamp: float = 1.0) -> str:
    box = OrientedBox(tuple(center), tuple(extent))
    node = ObjectNode(graph.new_object_id(), label, layer, box.center, box, first_seen=stamp, last_seen=stamp)
    return graph.upsert_object(node).id


@pytest.fixture
def memory():
    graph = SceneGraph()
    graph.set_layout(ROOMS, grid_areas(ROOMS, spacing=2.0))
    ids = {
        "fridge": add(graph, "Fridge", (3, 3, 0.9), (0.8, 0.7, 1.8), "furniture"),
        "apple": add(graph, "Apple", (3, 3, 0.9), (0.08, 0.08, 0.09)),
        "table": add(graph, "DiningTable", (1, 1, 0.375), (1.4, 0.9, 0.75), "furniture"),
        "mug": add(graph, "Mug", (1.2, 1.0, 0.80), (0.09, 0.09, 0.1)),
        "book": add(graph, "Book", (6, 2, 0.02), (0.2, 0.15, 0.04), stamp=5.0),
    }
    graph.set_object_state(ids["apple"], "sliced", True, 3.0)
    embedder = WordHashEmbedder()
    return MemoryRetriever(graph, NumpyVectorIndex(embedder=embedder)), ids, embedder


def test_documents_say_what_things_are_for_and_where_in_words(memory):
    retriever, ids, _ = memory
    document = lambda key: object_document(retriever.graph, retriever.graph.get_object(ids[key]))  # noqa: E731
    apple = document("apple")
    assert apple.startswith("apple: a round red or green fruit;")
    assert apple.endswith("; sliced into pieces; in fridge; cold, chilled; kitchen")  # what is in a fridge is cold
    assert "keeps food and drinks cold" in document("fridge") and "holds apple" in document("fridge")
    assert document("mug").endswith("; on dining table; kitchen")
    assert "holds mug" in document("table")
    apple = retriever.graph.get_object(ids["apple"])
    assert label_document(retriever.graph, apple) == "Apple; sliced; in Fridge; Kitchen"


def test_words_rank_where_embeddings_blur(memory):
    """BM25 finds the one object whose document has the asked word; embeddings alone rank by
    hashed bag of words, which "fruit" does not reach in the apple's label-only document."""
    retriever, ids, _ = memory
    assert retriever.text("fresh fruit", k=1)[0].node.id == ids["apple"]
    assert retriever.query(text="where do we eat meals", k=1)[0].node.id == ids["table"]
    scores = [s.score for s in retriever.text("fruit", k=5)]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


def test_state_filter_applies_before_ranking(memory):
    retriever, ids, _ = memory
    assert [o.id for o in retriever.with_state("sliced")] == [ids["apple"]]
    assert [s.node.id for s in retriever.query(text="a mug", state="sliced", k=3)] == [ids["apple"]]
    retriever.graph.set_object_state(ids["fridge"], "open", False, 4.0)
    assert [o.id for o in retriever.with_state("closed")] == [ids["fridge"]]
    assert retriever.query(state="open") == []


def test_a_changed_holding_reindexes_the_holder(memory):
    retriever, ids, _ = memory
    retriever.sync()
    retriever.graph.remove_object(ids["apple"])
    retriever.sync()
    assert "holds" not in object_document(retriever.graph, retriever.graph.get_object(ids["fridge"]))
    assert retriever._documents[ids["fridge"]][0] == object_document(retriever.graph,
                                                                     retriever.graph.get_object(ids["fridge"]))


def test_structured_queries(memory):
    retriever, ids, _ = memory
    assert [o.id for o in retriever.by_label("apples")] == [ids["apple"]]
    assert [o.id for o in retriever.in_room("bedroom")] == [ids["book"]]
    assert [o.id for o in retriever.in_room("room_1")] == [ids["book"]]
    near = retriever.near((1.0, 1.0, 0.5), radius=0.5)
    assert [s.node.id for s in near] == [ids["table"], ids["mug"]]
    assert near[0].score > near[1].score
    assert {o.id for o in retriever.changed_since(3.0)} == {ids["apple"], ids["book"]}


def test_free_text_and_combined_filters(memory):
    retriever, ids, _ = memory
    hits = retriever.text("sliced apple in the fridge", k=2)
    assert hits[0].node.id == ids["apple"]
    combined = retriever.query(text="something in the kitchen", room="kitchen", label="mug", k=5)
    assert [s.node.id for s in combined] == [ids["mug"]]
    assert retriever.query(label="mug", near=(6, 2, 0), radius=1.0) == []
    with pytest.raises(NoTextIndex):
        MemoryRetriever(retriever.graph).text("apple")


def test_index_follows_graph_and_skips_unchanged_documents(memory):
    retriever, ids, embedder = memory
    assert retriever.sync() == 5
    graph = retriever.graph
    node = graph.get_object(ids["mug"])
    graph.upsert_object(replace(node, last_seen=9.0, observation_count=4))
    calls = embedder.calls
    assert retriever.sync() == 0 and embedder.calls == calls  # same document: nothing re-embedded
    graph.set_object_state(ids["mug"], "dirty", True, 10.0)
    graph.remove_object(ids["book"])
    assert retriever.sync() == 1
    assert retriever.index.count() == 4
    assert retriever.text("dirty mug", k=1)[0].node.id == ids["mug"]


def test_texts_embedded_ahead_keep_the_model_out_of_sync(memory):
    """A node embeds new documents outside its lock; sync then only stores the vectors."""
    retriever, ids, embedder = memory
    retriever.sync()
    graph = retriever.graph
    graph.set_object_state(ids["mug"], "dirty", True, 10.0)
    texts = retriever.texts_to_embed()
    assert texts == [object_document(graph, graph.get_object(ids["mug"]))]
    retriever.add_vectors(texts, WordHashEmbedder().embed(texts))
    calls = embedder.calls
    assert retriever.sync() == 1 and embedder.calls == calls
    assert retriever.texts_to_embed() == []
    assert retriever.text("dirty mug", k=1)[0].node.id == ids["mug"]


def test_an_owner_that_embeds_outside_its_lock_never_has_sync_run_the_model(memory):
    """A document that changed after its owner embedded the batch (fusion goes on meanwhile) keeps
    its old entry until its vector comes, instead of sync running the model under the lock."""
    retriever, ids, embedder = memory
    retriever.embed_in_sync = False
    retriever.sync()  # nothing embedded yet: every object waits for its vector
    assert embedder.calls == 0 and retriever.text("mug", k=5) == []
    texts = retriever.texts_to_embed()
    retriever.add_vectors(texts, WordHashEmbedder().embed(texts))
    assert retriever.sync() == 5 and embedder.calls == 0
    graph = retriever.graph
    graph.set_object_state(ids["mug"], "dirty", True, 10.0)  # fusion changes it; no vector yet
    assert retriever.sync() == 0 and embedder.calls == 0
    assert retriever._documents[ids["mug"]][0] != object_document(graph, graph.get_object(ids["mug"]))
    assert retriever.texts_to_embed() == [object_document(graph, graph.get_object(ids["mug"]))]
    retriever.add_vectors(retriever.texts_to_embed(), WordHashEmbedder().embed(retriever.texts_to_embed()))
    assert retriever.sync() == 1 and embedder.calls == 0
    assert retriever.text("dirty mug", k=1)[0].node.id == ids["mug"]


def test_embeddings_survive_a_snapshot(memory, tmp_path):
    retriever, ids, embedder = memory
    MemoryStore(tmp_path).save(retriever.graph, "home", embeddings=retriever.embeddings())
    loaded = MemoryStore(tmp_path).load("home")
    fresh_embedder = WordHashEmbedder()
    restored = MemoryRetriever(loaded.graph, NumpyVectorIndex(embedder=fresh_embedder))
    restored.restore(*loaded.embeddings)
    assert restored.sync() == 0 and fresh_embedder.calls == 0
    assert restored.text("sliced apple fridge", k=1)[0].node.id == ids["apple"]


def test_saved_vectors_of_changed_documents_are_not_reused(memory, tmp_path):
    retriever, ids, _ = memory
    ids_, vectors, texts = retriever.embeddings()
    fresh_embedder = WordHashEmbedder()
    restored = MemoryRetriever(retriever.graph, NumpyVectorIndex(embedder=fresh_embedder))
    stale = [t if i != ids["mug"] else "Mug; Kitchen" for i, t in zip(ids_, texts)]
    restored.restore(ids_, vectors, stale)
    assert restored.sync() == 1 and fresh_embedder.calls == 1  # only the mug's document is embedded again
    old = MemoryRetriever(retriever.graph, NumpyVectorIndex(embedder=fresh_embedder))
    old.restore(ids_, vectors)  # an old snapshot without texts: nothing is trusted
    assert old.sync() == 5


def test_label_and_room_filters_apply_inside_the_text_search(memory):
    retriever, ids, _ = memory
    for n in range(30):  # many objects that read closer to the text than the ones the filters want
        add(retriever.graph, "Mug", (0.5 + 0.1 * n, 3.5, 0.05), (0.09, 0.09, 0.1))
    assert [s.node.id for s in retriever.query(text="a mug in the kitchen", label="apple", k=1)] == [ids["apple"]]
    assert [s.node.id for s in retriever.query(text="mug", room="bedroom", k=3)] == [ids["book"]]
    assert [s.node.id for s in retriever.query(text="mug", room="room_1", label="book", k=3)] == [ids["book"]]


def _reference_text(retriever: MemoryRetriever, query: str, k: int, among=None) -> list[tuple[str, float]]:
    """The hybrid ranking computed the plain way, from scratch, over every object: the same
    embedding hits, BM25 from the ``bm25s`` library over every document, the held objects found by
    walking the relations, and the fused score of each candidate sorted whole."""
    import bm25s

    from scene_graph.lexical import _stopwords, words
    from scene_graph.ontology import matching_types
    from scene_graph.retrieval import _HOLDER_PHRASE, EMBEDDING_WEIGHT, HELD_BONUS

    graph, allowed = retriever.graph, (lambda i: among is None or i in among)
    documents = {o.id: object_document(graph, o) for o in graph.objects()}
    depth = max(k, min(len(documents), 10 * k))
    dense = {i: s for i, s in retriever.index.query(query, depth) if allowed(i)}
    ids, stop = sorted(documents), _stopwords()
    library = bm25s.BM25()
    library.index([words(documents[i], stop) or ["_"] for i in ids], show_progress=False)
    tokens = [w for w in words(query, stop) if w in library.vocab_dict]
    values = np.asarray(library.get_scores(tokens)) if tokens else np.zeros(len(ids))
    lexical = {i: float(v) for i, v in zip(ids, values) if v > 0 and allowed(i)}
    types = {t for first, second in _HOLDER_PHRASE.findall(query.lower())
             for t in ((matching_types(first + second) if second else ()) or matching_types(first))}
    held = {r.subject for r in graph.relations() if r.predicate in ("in", "on") and allowed(r.subject)
            and graph.get_object(r.object).label in types}
    floor = min(dense.values()) if dense else 0.0
    cosine = {i: dense.get(i, floor) for i in set(dense) | set(lexical) | held}
    low, high = min(cosine.values()), max(cosine.values())
    top = max(lexical.values()) if lexical else 0.0
    fused = {i: (EMBEDDING_WEIGHT * ((c - low) / (high - low) if high > low else 1.0)
                 + (1 - EMBEDDING_WEIGHT) * (lexical.get(i, 0.0) / top if top > 0 else 0.0)
                 + (HELD_BONUS if i in held else 0.0)) / (1.0 + (HELD_BONUS if held else 0.0))
             for i, c in cosine.items()}
    return sorted(fused.items(), key=lambda p: (-p[1], p[0]))[:k]


def test_text_ranking_equals_the_plain_exact_computation(memory):
    """The vectorised hybrid (in-place BM25, held objects from the graph's index, top k by
    partition) gives the same objects in the same order, with the same scores, as computing every
    candidate's score from scratch, also after memory changed and with a candidate filter."""
    retriever, ids, _ = memory
    rng = np.random.default_rng(4)
    labels = ["Apple", "Mug", "Book", "Tomato", "Bowl", "Knife", "Bread", "Egg"]
    for n in range(60):  # many look-alikes on the table, in the fridge and on the floor: ties and held objects
        place = rng.integers(3)
        centre = [(1 + rng.uniform(-0.6, 0.6), 1 + rng.uniform(-0.4, 0.4), 0.80),
                  (3 + rng.uniform(-0.3, 0.3), 3 + rng.uniform(-0.3, 0.3), 0.9),
                  (rng.uniform(4.5, 7.5), rng.uniform(0.5, 3.5), 0.05)][place]
        add(retriever.graph, labels[n % len(labels)], centre, (0.08, 0.08, 0.09))
    queries = ["a mug on the dining table", "what is in the fridge", "fresh fruit", "something to read",
               "sliced apple", "a bowl in the bedroom", "knife"]
    for query in queries:
        _same(retriever.text(query, k=5), _reference_text(retriever, query, 5))
    for object_id in [o.id for o in retriever.graph.objects()][5:25]:  # memory changes between queries
        retriever.graph.remove_object(object_id, 9.0)
    retriever.graph.set_object_state(ids["mug"], "dirty", True, 9.0)
    among = {o.id for o in retriever.graph.objects() if o.room_id == "room_0"}
    for query in queries:
        _same(retriever.text(query, k=4), _reference_text(retriever, query, 4))
        _same(retriever.text(query, k=4, among=among), _reference_text(retriever, query, 4, among))


def _same(got, expected) -> None:
    assert [s.node.id for s in got] == [i for i, _ in expected]
    assert [s.score for s in got] == pytest.approx([s for _, s in expected])
