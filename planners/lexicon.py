"""The words of household instructions: verbs, state adjectives, counts and particles.

Grown from the AI2-THOR/ALFRED action vocabulary (pick up, put, open, close, slice, toggle, clean,
heat, cool, fill) and the ways people ask for those actions ("boil the egg", "toss the apple",
"chill the wine"). Every verb maps to what the simulator can check: a goal predicate (ON, INSIDE,
TOGGLEON, TOGGLEOFF, the planner's HOLD) or a STATE with its value from
:data:`scene_graph.goals.STATE_WORDS`. Multi-word verbs are keyed with spaces ("turn on").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# What a verb asks for.
PLACE = "place"  # ON/INSIDE a destination; without one: the verb's default below
STATE = "state"  # STATE(x, state words) for each word, in order
TOGGLE = "toggle"  # TOGGLEON / TOGGLEOFF


@dataclass(frozen=True)
class Verb:
    kind: str
    states: tuple[str, ...] = ()  # STATE words (scene_graph.goals.STATE_WORDS) for kind STATE
    on: bool = True  # for TOGGLE
    default: str = ""  # PLACE without a destination: "hold", "home", "table", "trash" or "" (needs one)
    needs_to: bool = False  # PLACE verbs of carrying: only "to"/"into"/"onto" names a destination


def _state(*words: str) -> Verb:
    return Verb(STATE, words)


_CARRY = Verb(PLACE, default="hold", needs_to=True)
_PUT = Verb(PLACE)
_STORE = Verb(PLACE, default="home")
_TRASH = Verb(PLACE, default="trash")

VERBS: dict[str, Verb] = {
    # moving things
    **{v: _PUT for v in ("put", "place", "set", "leave", "move", "drop", "stick", "pop", "lay", "stand", "rest",
                         "transfer", "relocate", "arrange", "position", "deposit", "load", "gather", "collect",
                         "put down", "set down", "lay out", "stack")},
    **{v: _CARRY for v in ("bring", "take", "carry", "fetch", "get", "grab", "retrieve", "hand", "give", "deliver",
                           "pick up", "hold", "bring over", "take out", "get out", "fetch out")},
    **{v: Verb(PLACE, default="hold") for v in ("i need", "we need", "i want", "we want")},
    **{v: _STORE for v in ("store", "stash", "put away", "put back", "return", "tidy", "tidy away", "tidy up",
                           "clear away", "clear up", "keep", "hide", "stow", "replace", "place back", "set back")},
    **{v: _TRASH for v in ("toss", "throw away", "throw out", "throw", "discard", "bin", "trash", "dump",
                           "dispose of", "get rid of", "chuck", "chuck out", "toss out", "scrap")},
    "serve": Verb(PLACE, default="table"),
    # changing states
    **{v: _state("sliced") for v in ("slice", "cut", "chop", "dice", "cut up", "chop up", "slice up", "carve")},
    **{v: _state("hot") for v in ("heat", "warm", "microwave", "reheat", "heat up", "warm up", "nuke", "zap")},
    **{v: _state("cooked") for v in ("cook", "boil", "fry", "toast", "bake", "roast", "grill", "poach",
                                     "scramble", "steam", "saute")},
    "mash": _state("cooked", "sliced"),
    **{v: _state("cold") for v in ("chill", "cool", "refrigerate", "cool down", "chill down", "freeze", "ice")},
    **{v: _state("clean") for v in ("wash", "rinse", "clean", "scrub", "wash up", "clean up", "cleanse",
                                    "rinse off", "rinse out", "wash out", "wipe")},
    **{v: _state("filled") for v in ("fill", "fill up", "refill", "top up")},
    **{v: _state("empty") for v in ("empty", "empty out", "drain", "pour out")},
    **{v: _state("open") for v in ("open", "open up", "unclose")},
    **{v: _state("closed") for v in ("close", "shut", "close up", "shut up")},
    **{v: Verb(TOGGLE, on=True) for v in ("turn on", "switch on", "power on", "start", "light", "activate",
                                          "boot up", "put on")},
    **{v: Verb(TOGGLE, on=False) for v in ("turn off", "switch off", "power off", "shut off", "stop",
                                           "deactivate", "put out", "extinguish", "power down", "shut down")},
}
_LONGEST = max(len(v.split()) for v in VERBS)

# Verbs whose particle may follow the object: "turn the lamp on", "put the apple away".
SPLIT_PARTICLES: dict[str, dict[str, str]] = {
    "turn": {"on": "turn on", "off": "turn off"}, "switch": {"on": "switch on", "off": "switch off"},
    "put": {"away": "put away", "back": "put back"}, "throw": {"away": "throw away", "out": "throw out"},
    "toss": {"out": "toss out"}, "chuck": {"out": "chuck out", "away": "throw away"},
    "power": {"on": "power on", "off": "power off"}, "shut": {"off": "shut off"},
    "heat": {"up": "heat up"}, "warm": {"up": "warm up"}, "cut": {"up": "cut up"}, "chop": {"up": "chop up"},
    "pick": {"up": "pick up"}, "tidy": {"away": "tidy away", "up": "tidy up"}, "clean": {"up": "clean up"},
    "fill": {"up": "fill up"}, "cool": {"down": "cool down"}, "wash": {"up": "wash up"},
    "set": {"down": "set down"}, "lay": {"out": "lay out"}, "get": {"out": "get out"},
    "take": {"out": "take out"}, "rinse": {"off": "rinse off", "out": "rinse out"}, "empty": {"out": "empty out"},
}

# Adjectives inside an object phrase that ask for a state ("a chilled apple slice", "toasted bread").
STATE_ADJECTIVES: dict[str, str] = {
    **{w: "sliced" for w in ("sliced", "chopped", "diced", "cut")},
    **{w: "cooked" for w in ("cooked", "boiled", "fried", "toasted", "baked", "roasted", "mashed", "grilled")},
    **{w: "hot" for w in ("hot", "warm", "heated", "warmed", "microwaved", "reheated")},
    **{w: "cold" for w in ("cold", "chilled", "cooled", "refrigerated", "frozen", "cool")},
}
# Nouns of pieces: "a slice of bread" asks for sliced bread; "a piece of apple" for sliced apple.
SLICE_NOUNS = frozenset({"slice", "slices", "piece", "pieces", "wedge", "wedges", "chunk", "chunks"})
PORTION_NOUNS = frozenset({"loaf", "loaves", "head", "heads", "bunch", "bit", "bits"})

COUNTS: dict[str, int] = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "both": 2, "pair": 2,
                          "couple": 2, "a couple of": 2, "a pair of": 2}

# Words that only make a request polite or set its pace.
FILLERS = frozenset({"please", "kindly", "now", "just", "also", "then", "next", "first", "finally", "quickly",
                     "carefully", "afterwards", "after", "that", "go", "and", "robot", "hey", "ok", "okay",
                     "could", "can", "would", "will", "you", "for", "me", "i", "need", "want", "like", "to",
                     "lastly", "thanks", "thank", "us", "d", "id", "be", "so", "good", "as", "well", "too", "again",
                     "immediately"})


def verb_at(words: list[str]) -> tuple[Optional[str], int]:
    """(the longest verb the words start with, how many words it takes), or (None, 0)."""
    for n in range(min(_LONGEST, len(words)), 0, -1):
        key = " ".join(words[:n])
        if key in VERBS:
            return key, n
    return None, 0
