"""Lexical (BM25) scores of object documents, the word-matching half of hybrid retrieval.

Embeddings find "chilled" for "cold" but blur rare exact words ("drawer", "open", "kitchen")
into the rest of a sentence; BM25 (the ``bm25s`` library) rewards exactly those. The index is
rebuilt lazily, on the first query after the documents changed (words are cut once per changed
document; the BM25 matrix is rebuilt whole, about a second over 10k documents on a busy 2-core
machine), since memory changes far more often than people ask.
"""
from __future__ import annotations

import functools
import logging
import re
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")


# Words that carry no meaning in a question to memory ("something to eat", "where can I sit").
_FILLER = frozenset({"something", "thing", "things", "somewhere", "place", "where", "what", "which", "want", "need",
                     "can", "could", "would", "let", "get", "find", "please", "my", "me", "i", "is", "are"})


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _FILLER


@functools.lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    import Stemmer  # PyStemmer: Snowball's English stemmer ("washed", "washing" -> "wash")

    return Stemmer.Stemmer("english").stemWord


def words(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Lower-case word stems without stopwords."""
    stem = _stemmer()
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in stopwords]


class LexicalIndex:
    """BM25 over ``{id: document}``; :meth:`scores` gives each matching id its score."""

    def __init__(self) -> None:
        self._stop = _stopwords()
        self._documents: dict[str, str] = {}
        self._tokens: dict[str, list[str]] = {}
        self._ids: list[str] = []
        self._bm25: Optional[object] = None
        self._dirty = False

    def update(self, documents: Mapping[str, str], removed: Sequence[str] = ()) -> None:
        """Add or change documents and drop ``removed`` ids; words are cut here, once per change."""
        for object_id in removed:
            if self._documents.pop(object_id, None) is not None:
                del self._tokens[object_id]
                self._dirty = True
        for object_id, text in documents.items():
            if self._documents.get(object_id) != text:
                self._documents[object_id] = text
                self._tokens[object_id] = words(text, self._stop) or ["_"]
                self._dirty = True

    def _rebuild(self) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        self._ids = sorted(self._documents)
        bm25 = bm25s.BM25()
        bm25.index([self._tokens[i] for i in self._ids], show_progress=False)
        self._bm25, self._dirty = bm25, False

    def scores(self, query: str, top: int = 0) -> dict[str, float]:
        """Positive BM25 scores of the documents sharing a word with ``query``; with ``top``, only
        the ``top`` best of them (ties at the cut all kept), so a word that half of memory shares
        ("kitchen") does not make a query cost half of memory."""
        if not self._documents:
            return {}
        if self._dirty or self._bm25 is None:
            self._rebuild()
        bm25: Any = self._bm25  # bm25s ships no type information
        tokens = [w for w in words(query, self._stop) if w in bm25.vocab_dict]
        if not tokens:
            return {}
        values = np.asarray(bm25.get_scores(tokens))
        hits = np.flatnonzero(values > 0)
        if 0 < top < len(hits):
            cut = np.partition(values[hits], len(hits) - top)[len(hits) - top]
            hits = hits[values[hits] >= cut]
        return {self._ids[h]: float(values[h]) for h in hits.tolist()}
