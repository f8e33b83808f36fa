"""BM25 word match over object documents: stems, stopwords, scores as bm25s gives them, in-place updates."""
import bm25s
import numpy as np
import pytest

from scene_graph.lexical import LexicalIndex, _stopwords, words


def scores(index: LexicalIndex, query: str) -> dict[str, float]:
    values = index.row_scores(query)
    return {index.row_ids[r]: float(values[r]) for r in np.flatnonzero(values > 0)}


def test_words_are_stems_without_stopwords_or_filler():
    assert words("Where can I wash the dirty dishes?", _stopwords()) == ["wash", "dirti", "dish"]
    assert words("something cold", _stopwords()) == ["cold"]


def test_scores_follow_document_changes():
    index = LexicalIndex()
    index.update({"a": "fridge: keeps food cold", "b": "sofa: a seat", "c": "apple: a fruit; in fridge; cold"})
    found = scores(index, "something cold")
    assert set(found) == {"a", "c"} and all(s > 0 for s in found.values())
    assert scores(index, "a lamp") == {}  # no shared word: no score
    index.update({"b": "sofa: a seat; cold"}, removed=["a"])
    assert set(scores(index, "cold")) == {"b", "c"}
    assert len(index) == 2


DOCUMENTS = {"a": "red apple red apple; kitchen", "b": "red apple; in fridge; cold", "c": "apple pie; kitchen",
             "d": "green pear; on counter top; kitchen", "e": "apple pie; dining room", "f": "mug; in sink; dirty",
             "g": "fridge: keeps food cold; kitchen", "h": "sofa: a seat; living room"}


def _library_scores(documents: dict[str, str], query: str) -> dict[str, float]:
    """bm25s's own scores (its default Lucene variant) over the same words, rebuilt from scratch."""
    stop = _stopwords()
    ids = sorted(documents)
    library = bm25s.BM25()
    library.index([words(documents[i], stop) for i in ids], show_progress=False)
    tokens = [w for w in words(query, stop) if w in library.vocab_dict]
    values = np.asarray(library.get_scores(tokens)) if tokens else np.zeros(len(ids))
    return {i: float(v) for i, v in zip(ids, values) if v > 0}


@pytest.mark.parametrize("query", ["red apple", "something cold in the fridge", "the kitchen", "dirty mug in sink"])
def test_scores_equal_the_library_after_changes_in_place(query):
    index = LexicalIndex()
    index.update({i: DOCUMENTS[i] for i in "abcdh"})
    index.update({i: DOCUMENTS[i] for i in "efg"}, removed=["h"])  # the freed row is reused
    index.update({"a": "red apple; sliced; kitchen", "h": DOCUMENTS["h"]}, removed=["c"])
    now = {i: d for i, d in DOCUMENTS.items() if i != "c"} | {"a": "red apple; sliced; kitchen"}
    expected, got = _library_scores(now, query), scores(index, query)
    assert set(got) == set(expected) and expected
    assert all(got[i] == pytest.approx(expected[i], rel=1e-5) for i in expected)
