"""BM25 word match over object documents: stems, stopwords, lazy rebuild after changes."""
from scene_graph.lexical import LexicalIndex, _stopwords, words


def test_words_are_stems_without_stopwords_or_filler():
    assert words("Where can I wash the dirty dishes?", _stopwords()) == ["wash", "dirti", "dish"]
    assert words("something cold", _stopwords()) == ["cold"]


def test_scores_follow_document_changes():
    index = LexicalIndex()
    index.update({"a": "fridge: keeps food cold", "b": "sofa: a seat", "c": "apple: a fruit; in fridge; cold"})
    scores = index.scores("something cold")
    assert set(scores) == {"a", "c"} and all(s > 0 for s in scores.values())
    assert index.scores("a lamp") == {}  # no shared word: no score
    index.update({"b": "sofa: a seat; cold"}, removed=["a"])
    assert set(index.scores("cold")) == {"b", "c"}


def test_top_keeps_only_the_best_word_matches_and_every_tie_at_the_cut():
    index = LexicalIndex()
    index.update({"a": "red apple red apple", "b": "red apple", "c": "apple pie", "d": "green pear",
                  "e": "apple pie"})
    every = index.scores("red apple")
    best = sorted(every, key=lambda i: -every[i])
    assert set(index.scores("red apple", top=2)) == set(best[:2])
    assert index.scores("red apple", top=2) == {i: every[i] for i in best[:2]}
    tied = index.scores("red apple", top=3)  # c and e share the third place: both stay
    assert set(tied) == {"a", "b", "c", "e"} and index.scores("red apple", top=0) == every
