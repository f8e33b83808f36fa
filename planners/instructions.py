"""Everyday requests to KARMA-style goal conditions, without a large model.

"Wash the mug and the bowl, then put them back where they belong" becomes
``STATE(Mug, clean), STATE(Bowl, clean), INSIDE(Mug, Cabinet), INSIDE(Bowl, Cabinet)``:

1. the instruction splits at commas, "and", "then" and sentence ends into segments; a segment
   that starts with a verb (:mod:`planners.lexicon`) opens a clause, one without a verb adds an
   object to the clause before ("a knife, a slice and a plate on the table"), with its own
   destination or the one a later segment of the clause names;
2. "it" is the previous clause's last object, "them" all of its objects;
3. objects and destinations are grounded in the ontology (:mod:`planners.grounding`);
4. each verb becomes the conditions the simulator checks, plus ``HOLD`` (this planner's own
   "have it in hand") for "bring me the mug".

What cannot be understood raises :class:`planners.grounding.NotUnderstood` naming the clause;
nothing is guessed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

from planners.backends.base import InvalidInstruction
from planners.grounding import DETERMINERS, PRONOUNS, Grounded, NotUnderstood, Recollection, ground, recollection
from planners.lexicon import (
    COUNTS,
    FILLERS,
    PLACE,
    SLICE_NOUNS,
    SPLIT_PARTICLES,
    STATE,
    STATE_ADJECTIVES,
    TOGGLE,
    VERBS,
    Verb,
    verb_at,
)
from scene_graph.embeddings import TextEmbedder
from scene_graph.goals import STATE_WORDS, Condition, format_condition, parse_goal
from scene_graph.ontology import HOLLOW, OBJECT_TYPES, matching_types, phrase_types
from scene_graph.usual_places import HOME_OF
from scene_graph.vocabulary import NOT_OBJECTS

HOLD = "HOLD"
MAX_CHARS = 2000  # longer is no household instruction; refused before any work
_TOKEN = re.compile(r"[a-z0-9]+|[,.;!?]")
_BOUNDARY = frozenset({",", ".", ";", "!", "?", "and", "then", "afterwards", "finally", "lastly", "also", "next"})
_BOUNDARY_PAIRS = frozenset({("after", "that"), ("once", "done"), ("when", "done"), ("after", "which")})
_HOME = "home"  # destination: where each object belongs
_INTO = frozenset({"in", "into", "inside", "within"})
_ONTO = frozenset({"on", "onto", "upon"})
_TO = frozenset({"to", "back"})
_CARRY_PREPS = frozenset({"to", "into", "onto", "inside"})
_SOURCE = frozenset({"from", "off"})
_BELONG = frozenset({"belong", "belongs", "go", "goes", "live", "lives", "came", "come", "was", "were", "sat"})
_HERE = frozenset({"me", "us", "here", "my", "hand", "hands"})
_DESCRIBING = frozenset({"was", "is", "are", "were", "sitting", "lying", "sits", "lies", "left", "i", "you", "we"})
# What an object needs for a goal to make sense: state word or predicate -> ontology flag.
_NEEDS = {"sliced": "sliceable", "open": "openable", "closed": "openable", "filled": "fillable", "empty": "fillable",
          "TOGGLE": "toggleable", "cooked": "pickupable", "hot": "pickupable", "cold": "pickupable",
          "clean": "pickupable", PLACE: "pickupable"}
_KNIVES = ("Knife", "ButterKnife")


@dataclass
class _Segment:
    text: str
    objects: list[str]
    dest: Optional[list[str]] = None  # destination words; [] = where each object belongs
    prep: str = ""
    recalled: Optional[Recollection] = None  # "the apple I put in the fridge this morning"


@dataclass
class _Clause:
    verb: str
    segments: list[_Segment] = field(default_factory=list)


def _tokens(instruction: str) -> list[str]:
    return _TOKEN.findall(instruction.lower().replace("'", ""))


def _segments(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    i = 0
    while i < len(tokens):
        if tokens[i] in _BOUNDARY:
            out.append([])
        elif tuple(tokens[i:i + 2]) in _BOUNDARY_PAIRS:
            out.append([])
            i += 1
        else:
            out[-1].append(tokens[i])
        i += 1
    return [s for s in out if s]


def _strip_fillers(words: list[str]) -> list[str]:
    """Without "please", "could you", "I'd like you to" ...; "I need the mug" keeps its verb."""
    if words[1:2] in (["need"], ["want"]) and words[:1] in (["i"], ["we"]):
        if words[2:3] != ["you"]:
            return words
        words = words[2:]
    while words and words[0] in FILLERS and verb_at(words)[0] is None:
        words = words[1:]
    while words and words[-1] in ("please", "now", "thanks", "for", "me", "you", "thank") and len(words) > 2:
        words = words[:-1]
    return words


def _particle(verb: str, words: list[str]) -> tuple[str, list[str]]:
    """A verb's particle found after its object: ("turn", "the lamp on") -> ("turn on", "the lamp")."""
    for i, w in enumerate(words):
        full = SPLIT_PARTICLES.get(verb, {}).get(w)
        if full is None:
            continue
        at_end = i + 1 == len(words) or words[i + 1] in ("again", "please", "now", "for")
        if w in ("on", "off") and not at_end:
            continue
        if w == "out" and words[i + 1:i + 2] == ["of"]:
            continue
        return full, words[:i] + words[i + 1:]
    return verb, words


def _home_phrase(words: list[str]) -> tuple[list[str], bool]:
    """``words`` without "back where they belong" / "in its place", and whether one was there."""
    for i, w in enumerate(words):
        if w == "where" and set(words[i + 1:i + 4]) & _BELONG:
            start = i - 1 if i and words[i - 1] in ("back", "to", "away") else i
            end = next(j for j in range(i + 1, len(words) + 1) if j == len(words) or words[j - 1] in _BELONG)
            return words[:start] + words[end:], True
        if w in ("place", "places", "spot", "spots") and i and words[i - 1] in ("its", "their", "usual", "proper"):
            start = max(j for j in range(i) if words[j] in _INTO | _TO | _ONTO | {"its", "their"}) if any(
                words[j] in _INTO | _TO | _ONTO for j in range(i)) else i - 1
            if words[start] not in ("its", "their") and start + 1 <= i and words[start + 1] not in ("its", "their",
                                                                                                    "the", "usual",
                                                                                                    "proper"):
                continue
            return words[:start] + words[i + 1:], True
    return words, False


def _drop_sources(words: list[str]) -> list[str]:
    """Where things come from says nothing about the goal: "out of the fridge", "from the shelf"."""
    out, i = [], 0
    while i < len(words):
        source = words[i] in _SOURCE or words[i:i + 2] == ["out", "of"]
        if source:
            i += 2 if words[i] == "out" else 1
            while i < len(words) and not (words[i] in _INTO | _ONTO | _TO and words[i - 1] not in ("of",)):
                i += 1
            continue
        out.append(words[i])
        i += 1
    return out


def _destination(verb: Verb, words: list[str]) -> tuple[list[str], Optional[list[str]], str]:
    """(object words, destination words or None, preposition)."""
    allowed = _CARRY_PREPS if verb.needs_to else _INTO | _ONTO | _TO
    for i, w in enumerate(words):
        if not i or words[i - 1] in _DESCRIBING:
            continue
        if words[i:i + 3] == ["on", "top", "of"]:
            return words[:i], words[i + 3:], "on"
        if words[i:i + 2] == ["over", "to"]:
            return words[:i], words[i + 2:], "to"
        if w == "to" and words[i + 1:i + 2] and words[i + 1] not in DETERMINERS | _HERE \
                and not matching_types(words[i + 1]):
            continue  # "something to drink from": an infinitive, not a destination
        if w in allowed and w != "back":
            rest = words[i + 1:]
            if rest[:1] == ["to"]:
                rest = rest[1:]
            return words[:i], rest, w
    return words, None, ""


def _parse_segment(words: list[str], verb: Verb, clause: str) -> _Segment:
    words, recalled = recollection(words, clause)
    words, home = _home_phrase(words)
    words = _drop_sources(words)
    objects, dest, prep = _destination(verb, words)
    objects = [w for w in objects if w not in ("back", "away", "out", "over", "down", "up")]
    if objects[:1] in (["me"], ["us"]) and len(objects) > 1:
        objects = objects[1:]
    if home and dest is None:
        dest = []
    return _Segment(clause, objects, dest, prep, recalled)


def _names_something(words: list[str]) -> bool:
    """Whether a segment without a verb can be one more object ("the fork", "two cups", "them"),
    not a request of its own ("juggle")."""
    first = words[0]
    return first in DETERMINERS or first in PRONOUNS or first in COUNTS or first in STATE_ADJECTIVES \
        or first in SLICE_NOUNS or first.isdigit() or bool(phrase_types(words[:4])[1])


def _clauses(instruction: str) -> list[_Clause]:
    clauses: list[_Clause] = []
    for raw in _segments(_tokens(instruction)):
        words = _strip_fillers(raw)
        if not words:
            continue
        text = " ".join(raw)
        name, n = verb_at(words)
        if name is None and words[0] in SPLIT_PARTICLES:  # "turn the lamp on": the particle comes later
            particle, rest = _particle(words[0], words[1:])
            name, n = (particle, 1) if particle in VERBS else (None, 0)
        if name is not None:
            name, rest = _particle(name, words[n:])
            clauses.append(_Clause(name))
        elif clauses and not _names_something(words):
            raise NotUnderstood("NO_VERB", text, "no known verb says what to do")
        elif clauses:  # "put the spoon and the fork away": the particle may come with a later object
            particle, rest = _particle(clauses[-1].verb, words)
            clauses[-1].verb = particle if particle in VERBS else clauses[-1].verb
        else:
            raise NotUnderstood("NO_VERB", text, "no known verb says what to do")
        clauses[-1].segments.append(_parse_segment(rest, VERBS[clauses[-1].verb], text))
    if not clauses:
        raise NotUnderstood("EMPTY", instruction[:80], "the instruction asks for nothing")
    return clauses


def _capable(types: tuple[str, ...], need: str, clause: str, what: str) -> tuple[str, ...]:
    flag = _NEEDS.get(need)
    if not flag:
        return types
    fit = tuple(t for t in types if getattr(OBJECT_TYPES[t], flag))
    if not fit:
        raise NotUnderstood("UNSUPPORTED", clause, f"a {types[0]} cannot be {what}")
    return fit


def _state(word: str, subject: tuple[str, ...], count: int, clause: str) -> Condition:
    subject = _capable(subject, word, clause, word)
    state, value = STATE_WORDS[word]
    return _condition(Condition("STATE", subject, (), state, value, count))


def _condition(c: Condition) -> Condition:
    return Condition(c.predicate, c.subject, c.target, c.state, c.value, c.count, format_condition(c))


@dataclass
class _Discourse:
    """What "it" and "them" may refer to: everything named so far, latest last, and the objects of
    the previous clause."""

    named: list[Grounded] = field(default_factory=list)
    previous: list[Grounded] = field(default_factory=list)

    def it(self, need: str, clause: str, besides: tuple[str, ...] = ()) -> Grounded:
        """The latest thing named that the verb can act on ("open the fridge, put the egg in it and
        close it": the fridge, which opens; the egg does not)."""
        flag = _NEEDS.get(need, need)
        for g in reversed(self.named):
            if any(getattr(OBJECT_TYPES[t], flag, True) for t in g.types) and not set(g.types) & set(besides):
                return g
        raise NotUnderstood("UNKNOWN_PRONOUN", clause, "nothing named earlier for 'it' to refer to")


def _need(verb: Verb) -> str:
    return verb.states[0] if verb.kind == STATE else ("TOGGLE" if verb.kind == TOGGLE else PLACE)


def _place(obj: Grounded, verb: Verb, segment: Optional[_Segment], clause: str, talk: _Discourse,
           embedder: Optional[TextEmbedder]) -> Condition:
    subject = _capable(obj.types, PLACE, clause, "carried")
    dest, prep = (segment.dest, segment.prep) if segment else (None, "")
    target: tuple[str, ...] = ()
    if dest is None:
        if verb.default == "hold":
            return _condition(Condition(HOLD, subject, count=obj.count))
        if not verb.default:
            raise NotUnderstood("NO_DESTINATION", clause, "it does not say where to put it")
        dest = []
        target = {"home": (), "table": ("DiningTable",), "trash": ("GarbageCan",)}[verb.default]
    words = [w for w in dest if w not in DETERMINERS]
    if not target and not words:
        homes = HOME_OF.get(subject[0])
        if not homes:
            raise NotUnderstood("NO_DESTINATION", clause, f"nowhere is known where a {subject[0]} belongs")
        target = homes[:1]
    elif not target:
        if set(words) <= _HERE:
            return _condition(Condition(HOLD, subject, count=obj.count))
        if words[-1] in NOT_OBJECTS or words[-1] in ("room", "area") or "".join(words) in NOT_OBJECTS:
            if words == ["it"] or words == ["them"]:
                target = talk.it("receptacle", clause, besides=subject).types
            else:
                raise NotUnderstood("UNSUPPORTED", clause,
                                    f"goals name receptacles, not places like {' '.join(dest)!r}")
        else:
            found = ground(dest, clause, embedder)
            target = found.types
            talk.named.append(found)
    kind = OBJECT_TYPES[target[0]]
    inside = prep in _INTO or (prep not in _ONTO and (kind.openable or target[0] in HOLLOW))
    return _condition(Condition("INSIDE" if inside else "ON", subject, target, count=obj.count))


def _objects(segment: _Segment, talk: _Discourse, clause: str, verb: Verb,
             embedder: Optional[TextEmbedder]) -> list[Grounded]:
    words = segment.objects
    content = [w for w in words if w not in DETERMINERS and w not in ("of", "me", "us")]
    if content and content[0] in PRONOUNS and all(w in PRONOUNS for w in content):
        if content == ["it"]:
            return [talk.it(_need(verb), clause)]
        if not talk.previous:
            raise NotUnderstood("UNKNOWN_PRONOUN", clause, f"nothing earlier for {content[0]!r} to refer to")
        return talk.previous
    if not content:
        raise NotUnderstood("NO_OBJECT", clause, "no object is named")
    flag = _NEEDS.get(_need(verb), "")
    found = ground(words, clause, embedder, tuple(t for t, k in OBJECT_TYPES.items() if not flag or getattr(k, flag)))
    return [Grounded(found.types, found.words, found.count, found.states, segment.recalled)]


def understand(instruction: str, embedder: Optional[TextEmbedder] = None) -> list[Condition]:
    """The goal conditions an instruction asks for, in its order; raises NotUnderstood naming the
    clause it could not understand."""
    if len(instruction) > MAX_CHARS:
        raise NotUnderstood("TOO_LONG", instruction[:60] + "...",
                            f"{len(instruction)} characters; at most {MAX_CHARS} are read")
    goals: list[Condition] = []
    talk = _Discourse()
    for clause in _clauses(instruction):
        verb = VERBS[clause.verb]
        objects: list[tuple[Grounded, int]] = []
        for n, segment in enumerate(clause.segments):
            objects += [(g, n) for g in _objects(segment, talk, segment.text, verb, embedder)]
        talk.named += [g for g, _ in objects]
        for obj, n in objects:
            text = clause.segments[n].text
            for word in obj.states:
                goals.append(_state(word, obj.types, obj.count, text))
            if verb.kind == STATE:
                goals += [_state(word, obj.types, obj.count, text) for word in verb.states]
            elif verb.kind == TOGGLE:
                subject = _capable(obj.types, "TOGGLE", text, "switched on or off")
                goals.append(_condition(Condition("TOGGLEON" if verb.on else "TOGGLEOFF", subject, (), "toggled",
                                                  verb.on, obj.count)))
            else:
                goals.append(_place(obj, verb, _nearest_destination(clause.segments, n), text, talk, embedder))
        talk.previous = [g for g, _ in objects]
    return _without_redundant_holds(list(dict.fromkeys(goals)))


def _nearest_destination(segments: Sequence[_Segment], n: int) -> Optional[_Segment]:
    """The segment whose destination object ``n`` goes to: its own, else the next one naming one,
    else the last before it."""
    later = [s for s in segments[n:] if s.dest is not None]
    earlier = [s for s in segments[:n] if s.dest is not None]
    return later[0] if later else (earlier[-1] if earlier else None)


def _without_redundant_holds(goals: list[Condition]) -> list[Condition]:
    """"Take the apple and put it in the fridge" asks for the apple in the fridge, not in hand; a
    knife picked up to slice is a tool, not a goal."""
    def redundant(hold: Condition) -> bool:
        return any(g.predicate != HOLD and (set(g.subject) & set(hold.subject)
                                            or (g.state == "sliced" and set(hold.subject) <= set(_KNIVES)))
                   for g in goals)
    return [g for g in goals if g.predicate != HOLD or not redundant(g)]


def goals_from_instruction(instruction: str) -> list[Condition]:
    """One or more conditions per clause (see the module's docstring)."""
    return understand(instruction)


def goals_for(instruction: str, goal_conditions: Sequence[str]) -> list[Condition]:
    """Goal conditions when given (they are exact), else the instruction's."""
    if not goal_conditions:
        return goals_from_instruction(instruction)
    conditions, problems = parse_goal(list(goal_conditions))
    if problems:
        raise InvalidInstruction("; ".join(f"{text!r}: {why}" for text, why in problems))
    return conditions
