"""Lexical (BM25) scores of object documents, the word-matching half of hybrid retrieval.

Embeddings find "chilled" for "cold" but blur rare exact words ("drawer", "open", "kitchen")
into the rest of a sentence; BM25 rewards exactly those. Memory changes far more often than
people ask, and a library index (``bm25s``) is rebuilt whole after any change (half a second over
30k documents on 2 cores, paid by the next query), so the index here is kept incrementally: per
word the rows of the documents holding it and how often, per row the document's length. A change
costs the words of the changed documents; a query costs the documents that share a word with it
(one vectorised step per query word). Scores are BM25's Lucene variant, as ``bm25s`` computes
by default (k1 = 1.5, b = 0.75; idf = ln(1 + (N - df + 0.5) / (df + 0.5))).
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

K1, B = 1.5, 0.75

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


class _Postings:
    """The rows holding one word and its count in each, with arrays made once per change."""

    __slots__ = ("counts", "_arrays")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self._arrays: Optional[tuple[np.ndarray, np.ndarray]] = None

    def set(self, row: int, count: int) -> None:
        self.counts[row] = count
        self._arrays = None

    def drop(self, row: int) -> None:
        del self.counts[row]
        self._arrays = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            n = len(self.counts)
            self._arrays = (np.fromiter(self.counts.keys(), dtype=np.int64, count=n),
                            np.fromiter(self.counts.values(), dtype=np.float64, count=n))
        return self._arrays


class LexicalIndex:
    """BM25 over ``{id: document}``, updated in place; documents live in rows (:attr:`row_ids`),
    and :meth:`row_scores` scores every row at once."""

    def __init__(self) -> None:
        self._stop = _stopwords()
        self._documents: dict[str, str] = {}
        self._row_of: dict[str, int] = {}
        self.row_ids: list[Optional[str]] = []  # row -> id; None for a free row
        self._free: list[int] = []
        self._terms: dict[int, Counter[str]] = {}  # row -> its words and their counts
        self._length = np.zeros(0, dtype=np.float64)  # words per row
        self._total = 0  # words over every document
        self._postings: dict[str, _Postings] = {}

    def __len__(self) -> int:
        return len(self._documents)

    def update(self, documents: Mapping[str, str], removed: Sequence[str] = ()) -> None:
        """Add or change documents and drop ``removed`` ids; words are cut here, once per change."""
        for object_id in removed:
            if self._documents.pop(object_id, None) is not None:
                row = self._row_of.pop(object_id)
                self._unpost(row)
                self.row_ids[row] = None
                self._free.append(row)
        for object_id, text in documents.items():
            if self._documents.get(object_id) == text:
                continue
            self._documents[object_id] = text
            known = self._row_of.get(object_id)
            if known is not None:
                self._unpost(known)
            row = known if known is not None else self._new_row(object_id)
            terms = Counter(words(text, self._stop) or ["_"])
            self._terms[row] = terms
            length = sum(terms.values())
            self._length[row] = length
            self._total += length
            for term, count in terms.items():
                self._postings.setdefault(term, _Postings()).set(row, count)

    def _new_row(self, object_id: str) -> int:
        if self._free:
            row = self._free.pop()
            self.row_ids[row] = object_id
        else:
            row = len(self.row_ids)
            self.row_ids.append(object_id)
            if row >= len(self._length):
                grown = np.zeros(max(64, 2 * len(self._length)), dtype=np.float64)
                grown[: len(self._length)] = self._length
                self._length = grown
        self._row_of[object_id] = row
        return row

    def _unpost(self, row: int) -> None:
        for term in self._terms.pop(row):
            postings = self._postings[term]
            postings.drop(row)
            if not postings.counts:
                del self._postings[term]
        self._total -= int(self._length[row])
        self._length[row] = 0

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        """The rows of the known ``ids`` (unknown ones are left out)."""
        row_of = self._row_of
        return np.array([row_of[i] for i in ids if i in row_of], dtype=np.int64)

    def rows_with(self, ids: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        """The rows of the known ``ids`` and those ids, in the same order."""
        found = [i for i in ids if i in self._row_of]
        return np.array([self._row_of[i] for i in found], dtype=np.int64), found

    def row_scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for ``query`` (0 where no word is shared, and for free rows); a
        word the query repeats counts again."""
        scores = np.zeros(len(self.row_ids), dtype=np.float64)
        n = len(self._documents)
        if n == 0:
            return scores
        average = self._total / n
        for term in words(query, self._stop):
            postings = self._postings.get(term)
            if postings is None:
                continue
            rows, counts = postings.arrays()
            df = len(rows)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            scores[rows] += idf * counts / (K1 * ((1.0 - B) + B * self._length[rows] / average) + counts)
        return scores
