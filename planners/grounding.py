"""Referring expressions to ontology types, and to remembered objects.

"the mug" is a word of the vocabulary; "the leafy vegetable" narrows the group word "vegetable"
by what each type is (:mod:`scene_graph.descriptions`) with the packaged MiniLM embeddings;
"the thing you cut bread with" has only a generic head, so it is ranked against every type's
description and taken only when one type clearly wins. A concrete noun no type matches is
reported, never replaced by the nearest type: a unicorn is not a vase. "the apple I put in the
fridge this morning" keeps its recollection (what was done, where), which :func:`recall` resolves
in short-term memory to the object meant.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from planners.backends.base import InvalidInstruction
from planners.lexicon import COUNTS, PORTION_NOUNS, SLICE_NOUNS, STATE_ADJECTIVES
from scene_graph.descriptions import DESCRIPTIONS, describe, split_camel
from scene_graph.embeddings import MiniLMEmbedder, TextEmbedder
from scene_graph.ontology import OBJECT_TYPES, phrase_types
from scene_graph.short_term import MemoryUnit
from scene_graph.vocabulary import GROUP_WORDS, NOT_OBJECTS, normalise, singulars

# Heads that name no type by themselves: the rest of the phrase says which.
GENERIC = frozenset({"thing", "something", "stuff", "item", "object", "one", "container", "appliance", "device",
                     "tool", "gadget", "furniture", "food", "drink", "piece", "kind", "sort", "produce", "electronic",
                     "electronics", "implement", "vessel", "crockery", "dishware", "kitchenware", "snack", "screen",
                     "machine", "gear"})
DETERMINERS = frozenset({"the", "a", "an", "some", "my", "your", "his", "her", "our", "their", "this", "that",
                         "these", "those", "any", "each", "every", "all", "of"})
# Where the head of a phrase ends and its description begins.
_DESCRIPTION = frozenset({"used", "for", "that", "which", "who", "with", "you", "i", "we", "to", "from", "in",
                          "on", "inside", "near", "by", "under", "behind", "beside", "next", "of", "at", "where",
                          "is", "are", "was", "people", "someone", "one's"})
# Words that say nothing about which type is meant.
_VAGUE = GENERIC | {"you", "i", "we", "one", "used", "can", "could", "that", "which", "is", "are", "people", "use"}
PRONOUNS = frozenset({"it", "them", "they", "these", "those", "everything", "both", "all"})
_TIME_WORDS = frozenset({"this", "earlier", "yesterday", "last", "today", "before", "ago", "just", "morning",
                         "afternoon", "evening", "night", "recently", "tonight"})
_REMEMBER_VERBS = frozenset({"put", "left", "placed", "stored", "hid", "stashed", "moved", "kept", "dropped", "set",
                             "had", "used", "bought", "washed", "sliced", "saw", "brought", "stuck", "popped",
                             "tucked", "threw", "tossed", "heated", "cooked", "chilled"})
_HOLDER_PREPS = frozenset({"in", "into", "inside", "on", "onto", "under", "by", "near", "away", "back", "down"})

# Group narrowing takes the best type only this far ahead of the next (cosine).
GROUP_MARGIN = 0.03
# A generic head takes the best of all types only at this similarity and margin.
ANY_MIN, ANY_MARGIN = 0.35, 0.04


class NotUnderstood(InvalidInstruction):
    """A clause of an instruction the understanding cannot turn into goals; ``code`` says why
    (``CODES``), ``clause`` names the words."""

    def __init__(self, code: str, clause: str, message: str) -> None:
        self.code = code
        self.clause = clause
        super().__init__(f"{code}: {message} in {clause!r}")


CODES = ("EMPTY", "TOO_LONG", "NO_VERB", "NO_OBJECT", "UNKNOWN_OBJECT", "AMBIGUOUS_OBJECT", "NO_DESTINATION",
         "UNKNOWN_PRONOUN", "UNSUPPORTED")


@dataclass(frozen=True)
class Recollection:
    """What a phrase remembers about its object: "I put in the fridge this morning"."""

    verb: str
    holder: tuple[str, ...] = ()  # types of where it went
    when: str = ""


@dataclass(frozen=True)
class Grounded:
    types: tuple[str, ...]
    words: str
    count: int = 1
    states: tuple[str, ...] = ()  # STATE words the phrase asks for ("a chilled slice of apple")
    recalled: Optional[Recollection] = None


def recollection(words: list[str], clause: str) -> tuple[list[str], Optional[Recollection]]:
    """``words`` without a relative clause of memory ("I put in the fridge this morning"), and that
    recollection; the words unchanged and None when there is none."""
    for i, w in enumerate(words):
        start = i - 1 if i and words[i - 1] in ("that", "which") else i
        if w not in ("i", "we", "you") or i + 1 >= len(words):
            continue
        j = i + 1 + (words[i + 1] in ("just", "already"))
        if j >= len(words) or words[j] not in _REMEMBER_VERBS:
            continue
        verb, j = words[j], j + 1
        holder: tuple[str, ...] = ()
        while j < len(words) and words[j] in _HOLDER_PREPS:
            j += 1
        head: list[str] = []
        while j < len(words) and words[j] in DETERMINERS:
            j += 1
        while j < len(words) and len(head) < 3 and words[j] not in _TIME_WORDS | _DESCRIPTION | _HOLDER_PREPS \
                | DETERMINERS and words[j] not in ("and", "then", ",", "onto", "into", "over", "upon"):
            head.append(words[j])
            j += 1
        if head:
            holder = phrase_types(head)[1]
            if not holder:
                raise NotUnderstood("UNKNOWN_OBJECT", clause, f"no known object is called {' '.join(head)!r}")
        when: list[str] = []
        while j < len(words) and (words[j] in _TIME_WORDS or (when and words[j] in ("a", "an", "hour", "while"))):
            when.append(words[j])
            j += 1
        return words[:start] + words[j:], Recollection(verb, holder, " ".join(when))
    return words, None


def ground(words: Sequence[str], clause: str, embedder: Optional[TextEmbedder] = None,
           among: Sequence[str] = tuple(OBJECT_TYPES)) -> Grounded:
    """The types a noun phrase (without pronouns) refers to, with its count and the states it asks
    for; a phrase with a generic head ("the thing you ...") chooses ``among`` these types."""
    words, recalled = recollection([w for w in words if w != ","], clause)
    count, states = 1, []
    head: list[str] = []
    description: list[str] = []
    for i, w in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else ""
        if description or (head and w in _DESCRIPTION):
            description.append(w)
        elif w in COUNTS:
            count = COUNTS[w]
        elif w.isdigit() and 1 < int(w) < 10:
            count = int(w)
        elif w in DETERMINERS:
            continue
        elif w in STATE_ADJECTIVES:
            states.append(STATE_ADJECTIVES[w])
        elif w in SLICE_NOUNS:
            states.append("sliced")
        elif w in PORTION_NOUNS and after == "of":
            continue
        else:
            head.append(w)
    if set(head) & GENERIC:  # "something cold to drink": the adjectives describe, they ask for nothing
        head = [w for w in words if w in STATE_ADJECTIVES and w not in description] + head
        states = []
    rest = head + description
    phrase = " ".join(words)
    if not head:
        raise NotUnderstood("NO_OBJECT", clause, "no object is named")
    named, types = phrase_types(head)
    if types and named.split()[-1] != head[-1]:
        types = ()  # "the mug holder" is no mug: the head noun decides
    text = " ".join(w for w in rest if w not in DETERMINERS and w not in _VAGUE)
    if description[-1:] in (["with"], ["from"], ["on"], ["in"]):  # "the thing you cut bread with": a tool
        text = f"used to {text.rsplit(' ', 1)[0]}"
    if types and (len(types) == 1 or len(rest) == len(named.split())):
        return Grounded(types, phrase, count, tuple(dict.fromkeys(states)), recalled)
    if types:  # a group word narrowed by the rest of the phrase
        ranked = _rank(text, types, embedder)
        if ranked[0][0] - ranked[1][0] >= GROUP_MARGIN:
            types = (ranked[0][1],)
        return Grounded(types, phrase, count, tuple(dict.fromkeys(states)), recalled)
    if set(head) & GENERIC or normalise(head[-1]) in NOT_OBJECTS and description:
        named_there = {t for w in description for t in OBJECT_TYPES if normalise(t) in singulars(w)}  # not bread
        ranked = _rank(text, tuple(t for t in among if t not in named_there), embedder)
        close = tuple(t for score, t in ranked if ranked[0][0] - score < ANY_MARGIN)
        if ranked[0][0] >= ANY_MIN and (len(close) == 1 or any(set(close) <= set(g) for g in GROUP_WORDS.values())):
            return Grounded(close, phrase, count, tuple(dict.fromkeys(states)), recalled)  # one type, or a group
        raise NotUnderstood("AMBIGUOUS_OBJECT", clause, f"{phrase!r} fits {ranked[0][1]} and {ranked[1][1]} alike")
    if normalise(" ".join(head)) in NOT_OBJECTS or normalise(head[-1]) in NOT_OBJECTS:
        raise NotUnderstood("UNSUPPORTED", clause, f"{phrase!r} is a place or a person, not an object")
    raise NotUnderstood("UNKNOWN_OBJECT", clause, f"no known object is called {' '.join(head)!r}")


_shared: Optional[TextEmbedder] = None
_matrices: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # embedder -> (vectors, their type's index)
_lock = threading.Lock()


def _type_texts() -> tuple[list[str], np.ndarray]:
    """Each type's whole description and each of its uses alone: "the thing you cut bread with"
    is nearest one use ("cut, slice and chop bread"), not a whole description."""
    texts: list[str] = []
    owners: list[int] = []
    for n, label in enumerate(OBJECT_TYPES):
        entry = DESCRIPTIONS.get(label)
        parts = [describe(label)] + ([f"{split_camel(label)}, {entry.text}"] + list(entry.uses) if entry else [])
        texts += parts
        owners += [n] * len(parts)
    return texts, np.array(owners)


def _rank(text: str, types: Sequence[str], embedder: Optional[TextEmbedder]) -> list[tuple[float, str]]:
    """(cosine, type) of ``types`` against ``text``, best first: the best of each type's texts
    (embedded once per embedder)."""
    global _shared
    labels = tuple(OBJECT_TYPES)
    with _lock:
        if embedder is None:
            _shared = _shared or MiniLMEmbedder()
            embedder = _shared
        if id(embedder) not in _matrices:
            texts, owners = _type_texts()
            _matrices[id(embedder)] = embedder.embed(texts), owners
        matrix, owner = _matrices[id(embedder)]
    scores = matrix @ embedder.embed([text])[0]
    best = {t: float(scores[owner == labels.index(t)].max()) for t in types}
    return sorted(((s, t) for t, s in best.items()), reverse=True)


def recall(grounded: Grounded, units: Sequence[MemoryUnit], labels: Mapping[str, str]) -> Optional[str]:
    """The object a remembering phrase means: the latest short-term unit of its types whose
    receptacle (an id, typed through ``labels``) is of the remembered holder's types (any holder if
    none was said); None when short-term memory holds none."""
    if grounded.recalled is None:
        return None
    holders = set(grounded.recalled.holder)
    fits = [u for u in units if u.object_type in grounded.types
            and (not holders or labels.get(u.receptacle or "", "") in holders)]
    return max(fits, key=lambda u: u.stamp).object_id if fits else None
