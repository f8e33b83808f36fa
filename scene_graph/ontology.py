"""The vocabulary shared by memory, simulators, task files and planners: object types, states, skills.

Object types and property flags follow AI2-THOR's names so that memory built from the embedded
simulator, from AI2-THOR or from a robot's detector speaks one language. ``layer`` tells the scene
graph where a node lives: ``furniture`` (large, static, usually a receptacle) or ``object``
(small, usually pickupable). Everyday words ("fridge", "tomatoes", "trash", "toiletries") map to
types through :mod:`scene_graph.vocabulary`'s tables; every parser of human text goes through
:func:`canonical_type`, :func:`matching_types` or :func:`instruction_objects`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from scene_graph.vocabulary import ALIASES, GROUP_WORDS, NOT_OBJECTS, normalise, noun_phrases, singulars

ROOM_KINDS = ("Kitchen", "LivingRoom", "Bedroom", "Bathroom")

# Object state names kept in memory (AI2-THOR's isOpen -> "open", isToggled -> "toggled", ...).
# All are booleans except "temperature", which is "hot", "cold" or "room". "cleaned" means washed
# since it last got dirty: ALFRED/KARMA's STATE(apple, clean) asks for washing, and an apple is
# never "dirty" in AI2-THOR, so "not dirty" cannot express it.
STATE_NAMES = (
    "open", "sliced", "cooked", "dirty", "cleaned", "toggled", "filled", "broken", "used_up", "temperature",
)

# Skill names as AI2-THOR and KARMA spell them: what a robot can be asked to do (the Skill action),
# what a plan may call, and whose state changes short-term memory takes as vouched for. The
# embedded simulator implements all of them.
ACTION_NAMES = (
    "GoToObject", "PickupObject", "PutObject", "OpenObject", "CloseObject", "SliceObject",
    "ToggleObjectOn", "ToggleObjectOff", "CleanObject", "HeatObject", "CoolObject",
    "FillObject", "Explore",
)


@dataclass(frozen=True)
class ObjectType:
    name: str
    layer: str  # "furniture" or "object"
    size: tuple[float, float, float]  # typical width, depth, height in metres
    rooms: tuple[str, ...]
    pickupable: bool = False
    receptacle: bool = False
    openable: bool = False
    sliceable: bool = False
    cookable: bool = False
    toggleable: bool = False
    dirtyable: bool = False
    fillable: bool = False
    breakable: bool = False


K, L, B, T = "Kitchen", "LivingRoom", "Bedroom", "Bathroom"
_F, _O = "furniture", "object"

_TYPES = [
    # furniture and receptacles
    ObjectType("Fridge", _F, (0.8, 0.7, 1.8), (K,), receptacle=True, openable=True),
    ObjectType("CounterTop", _F, (1.6, 0.6, 0.9), (K,), receptacle=True),
    ObjectType("Cabinet", _F, (0.6, 0.5, 0.8), (K, T), receptacle=True, openable=True),
    ObjectType("Drawer", _F, (0.5, 0.5, 0.25), (K, B, L), receptacle=True, openable=True),
    ObjectType("Sink", _F, (0.8, 0.6, 0.9), (K,), receptacle=True),
    ObjectType("SinkBasin", _F, (0.5, 0.4, 0.2), (K, T), receptacle=True),
    ObjectType("StoveBurner", _F, (0.3, 0.3, 0.05), (K,), receptacle=True, toggleable=True),
    ObjectType("StoveKnob", _F, (0.05, 0.05, 0.05), (K,), toggleable=True),
    ObjectType("Microwave", _F, (0.5, 0.4, 0.3), (K,), receptacle=True, openable=True, toggleable=True),
    ObjectType("Toaster", _F, (0.3, 0.2, 0.2), (K,), receptacle=True, toggleable=True),
    ObjectType("CoffeeMachine", _F, (0.3, 0.3, 0.4), (K,), receptacle=True, toggleable=True),
    ObjectType("GarbageCan", _F, (0.35, 0.35, 0.5), (K, L, B, T), receptacle=True),
    ObjectType("DiningTable", _F, (1.4, 0.9, 0.75), (K, L), receptacle=True),
    ObjectType("CoffeeTable", _F, (1.0, 0.6, 0.45), (L,), receptacle=True),
    ObjectType("SideTable", _F, (0.5, 0.5, 0.6), (L, B), receptacle=True),
    ObjectType("Desk", _F, (1.2, 0.6, 0.75), (B, L), receptacle=True),
    ObjectType("Sofa", _F, (2.0, 0.9, 0.8), (L,), receptacle=True),
    ObjectType("ArmChair", _F, (0.9, 0.9, 0.9), (L,), receptacle=True),
    ObjectType("Bed", _F, (2.0, 1.6, 0.6), (B,), receptacle=True),
    ObjectType("Dresser", _F, (1.0, 0.5, 0.9), (B,), receptacle=True),
    ObjectType("Shelf", _F, (0.9, 0.35, 1.2), (L, B, K), receptacle=True),
    ObjectType("TVStand", _F, (1.2, 0.45, 0.5), (L,), receptacle=True),
    ObjectType("Television", _F, (1.0, 0.1, 0.6), (L, B), toggleable=True, breakable=True),
    ObjectType("FloorLamp", _F, (0.4, 0.4, 1.6), (L, B), toggleable=True),
    ObjectType("Toilet", _F, (0.4, 0.7, 0.8), (T,), receptacle=True, openable=True),
    ObjectType("Bathtub", _F, (1.6, 0.8, 0.6), (T,), receptacle=True),
    ObjectType("CounterTopBathroom", _F, (1.0, 0.5, 0.85), (T,), receptacle=True),
    ObjectType("Faucet", _F, (0.08, 0.2, 0.25), (K, T), toggleable=True),
    ObjectType("DeskLamp", _F, (0.2, 0.2, 0.45), (L, B), toggleable=True),
    ObjectType("LightSwitch", _F, (0.1, 0.05, 0.1), (K, L, B, T), toggleable=True),
    # pickupable objects
    ObjectType("Apple", _O, (0.08, 0.08, 0.09), (K,), pickupable=True, sliceable=True, cookable=True),
    ObjectType("Bread", _O, (0.25, 0.12, 0.12), (K,), pickupable=True, sliceable=True, cookable=True),
    ObjectType("Tomato", _O, (0.08, 0.08, 0.07), (K,), pickupable=True, sliceable=True, cookable=True),
    ObjectType("Lettuce", _O, (0.16, 0.16, 0.16), (K,), pickupable=True, sliceable=True),
    ObjectType("Potato", _O, (0.1, 0.07, 0.07), (K,), pickupable=True, sliceable=True, cookable=True),
    ObjectType("Egg", _O, (0.05, 0.05, 0.06), (K,), pickupable=True, sliceable=True, cookable=True, breakable=True),
    ObjectType("Mug", _O, (0.09, 0.09, 0.1), (K, L), pickupable=True, receptacle=True, dirtyable=True,
                      fillable=True, breakable=True),
    ObjectType("Cup", _O, (0.08, 0.08, 0.1), (K,), pickupable=True, receptacle=True, dirtyable=True,
                      fillable=True, breakable=True),
    ObjectType("Bowl", _O, (0.16, 0.16, 0.07), (K,), pickupable=True, receptacle=True, dirtyable=True,
                       fillable=True, breakable=True),
    ObjectType("Plate", _O, (0.25, 0.25, 0.03), (K,), pickupable=True, receptacle=True, dirtyable=True, breakable=True),
    ObjectType("Pan", _O, (0.3, 0.3, 0.06), (K,), pickupable=True, receptacle=True, dirtyable=True),
    ObjectType("Pot", _O, (0.25, 0.25, 0.15), (K,), pickupable=True, receptacle=True, dirtyable=True, fillable=True),
    ObjectType("Kettle", _O, (0.2, 0.15, 0.2), (K,), pickupable=True, openable=True, fillable=True),
    ObjectType("Knife", _O, (0.25, 0.03, 0.02), (K,), pickupable=True),
    ObjectType("ButterKnife", _O, (0.2, 0.02, 0.01), (K,), pickupable=True),
    ObjectType("Fork", _O, (0.18, 0.02, 0.01), (K,), pickupable=True),
    ObjectType("Spoon", _O, (0.17, 0.03, 0.01), (K,), pickupable=True),
    ObjectType("Spatula", _O, (0.3, 0.06, 0.02), (K,), pickupable=True),
    ObjectType("Ladle", _O, (0.3, 0.08, 0.03), (K,), pickupable=True),
    ObjectType("SaltShaker", _O, (0.04, 0.04, 0.09), (K,), pickupable=True),
    ObjectType("PepperShaker", _O, (0.04, 0.04, 0.09), (K,), pickupable=True),
    ObjectType("DishSponge", _O, (0.1, 0.07, 0.03), (K, T), pickupable=True),
    ObjectType("SoapBottle", _O, (0.07, 0.07, 0.18), (K, T), pickupable=True),
    ObjectType("Bottle", _O, (0.07, 0.07, 0.25), (K,), pickupable=True, fillable=True, breakable=True),
    ObjectType("WineBottle", _O, (0.08, 0.08, 0.3), (K,), pickupable=True, fillable=True, breakable=True),
    ObjectType("Book", _O, (0.2, 0.15, 0.04), (L, B), pickupable=True, openable=True),
    ObjectType("Newspaper", _O, (0.3, 0.2, 0.01), (L,), pickupable=True),
    ObjectType("CellPhone", _O, (0.07, 0.15, 0.01), (L, B), pickupable=True, toggleable=True, breakable=True),
    ObjectType("Laptop", _O, (0.35, 0.25, 0.03), (L, B), pickupable=True, openable=True, toggleable=True,
               breakable=True),
    ObjectType("RemoteControl", _O, (0.05, 0.18, 0.02), (L,), pickupable=True),
    ObjectType("KeyChain", _O, (0.06, 0.04, 0.01), (L, B), pickupable=True),
    ObjectType("CreditCard", _O, (0.085, 0.055, 0.005), (L, B), pickupable=True),
    ObjectType("Watch", _O, (0.05, 0.05, 0.02), (B, L), pickupable=True),
    ObjectType("AlarmClock", _O, (0.12, 0.07, 0.1), (B,), pickupable=True),
    ObjectType("Pillow", _O, (0.5, 0.35, 0.12), (B, L), pickupable=True),
    ObjectType("Pen", _O, (0.14, 0.01, 0.01), (B, L), pickupable=True),
    ObjectType("Pencil", _O, (0.17, 0.01, 0.01), (B, L), pickupable=True),
    ObjectType("Vase", _O, (0.12, 0.12, 0.25), (L,), pickupable=True, breakable=True),
    ObjectType("Statue", _O, (0.1, 0.1, 0.25), (L,), pickupable=True, breakable=True),
    ObjectType("Box", _O, (0.3, 0.25, 0.2), (L, B), pickupable=True, receptacle=True, openable=True),
    ObjectType("TissueBox", _O, (0.2, 0.1, 0.1), (L, B, T), pickupable=True),
    ObjectType("Candle", _O, (0.07, 0.07, 0.12), (L, T), pickupable=True, toggleable=True),
    ObjectType("Towel", _O, (0.4, 0.1, 0.6), (T,), pickupable=True, dirtyable=True),
    ObjectType("HandTowel", _O, (0.3, 0.05, 0.4), (T,), pickupable=True, dirtyable=True),
    ObjectType("SoapBar", _O, (0.09, 0.06, 0.03), (T,), pickupable=True),
    ObjectType("ToiletPaper", _O, (0.11, 0.11, 0.1), (T,), pickupable=True),
    ObjectType("SprayBottle", _O, (0.1, 0.07, 0.25), (T,), pickupable=True),
    ObjectType("Plunger", _O, (0.15, 0.15, 0.45), (T,), pickupable=True),
    ObjectType("ScrubBrush", _O, (0.1, 0.1, 0.35), (T,), pickupable=True),
    ObjectType("CD", _O, (0.12, 0.12, 0.01), (L, B), pickupable=True),
    ObjectType("Cloth", _O, (0.3, 0.3, 0.01), (T, B), pickupable=True, dirtyable=True),
]

OBJECT_TYPES: dict[str, ObjectType] = {t.name: t for t in _TYPES}

_BY_NORMALISED = {normalise(name): name for name in OBJECT_TYPES}


def canonical_type(word: str) -> Optional[str]:
    """Map an object type, synonym or plural ("Tomatoes", "fridge", "key chains") to its type name
    (a group word to its first type). Returns None for words that name no known type, so callers
    can report them."""
    for candidate in singulars(normalise(word)):
        if candidate in _BY_NORMALISED:
            return _BY_NORMALISED[candidate]
        if candidate in ALIASES:
            return ALIASES[candidate]
        if candidate in GROUP_WORDS:
            return GROUP_WORDS[candidate][0]
    return None


def matching_types(word: str) -> tuple[str, ...]:
    """Every type a word may denote: a group word's types, else its canonical type, else ()."""
    for candidate in singulars(normalise(word)):
        if candidate in GROUP_WORDS:
            return GROUP_WORDS[candidate]
        if candidate in _BY_NORMALISED or candidate in ALIASES:
            break
    name = canonical_type(word)
    return (name,) if name else ()


def phrase_types(words: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """(the words naming an object, its types) in a noun phrase such as ["dirty", "coffee", "mug"]:
    the longest run of words that resolves, ending at the head noun (the last word) if one does;
    ("", ()) when none does."""
    spans = sorted(((i, j) for i in range(len(words)) for j in range(i + 1, len(words) + 1)),
                   key=lambda s: (s[1] != len(words), s[0] - s[1]))
    for i, j in spans:
        types = matching_types("".join(words[i:j]))
        if types:
            return " ".join(words[i:j]), types
    return "", ()


def instruction_objects(text: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """The objects an instruction names, as (words, types), and the noun phrases naming none
    (``vocabulary.NOT_OBJECTS`` such as rooms and times aside): what to report as unknown."""
    found, unknown = [], []
    for phrase in noun_phrases(text):
        words, types = phrase_types(phrase)
        if types:
            found.append((words, types))
        elif not any(normalise(w) in NOT_OBJECTS for w in phrase) and normalise("".join(phrase)) not in NOT_OBJECTS:
            unknown.append(" ".join(phrase))
    return found, unknown


# Receptacles one puts things into rather than onto (no door): a basin, a bin, a vessel.
HOLLOW = frozenset({"GarbageCan", "Sink", "SinkBasin", "Bowl", "Pot", "Pan", "Mug", "Cup", "Box", "Bathtub"})


def layer_of(label: str) -> str:
    """Graph layer of a label; unknown labels (open-vocabulary detectors) count as objects."""
    t = OBJECT_TYPES.get(label)
    return t.layer if t else _O


# Types a detector confuses with each other (they look alike from a robot's camera). Fusion lets
# their votes share evidence; the simulator's perception models draw label confusions from them.
LOOK_ALIKE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Mug", "Cup"), ("Apple", "Tomato"), ("Potato", "Egg"), ("Knife", "ButterKnife"), ("Fork", "Spoon"),
    ("Spatula", "Ladle"), ("Pot", "Pan", "Kettle"), ("Bowl", "Plate"), ("RemoteControl", "CellPhone"),
    ("SaltShaker", "PepperShaker"), ("Bottle", "WineBottle", "SoapBottle", "SprayBottle"),
    ("Book", "Newspaper"), ("Pen", "Pencil"), ("Towel", "HandTowel", "Cloth"), ("KeyChain", "CreditCard"),
    ("Watch", "AlarmClock"), ("Box", "TissueBox"), ("SoapBar", "DishSponge"),
    ("SideTable", "Dresser"), ("CoffeeTable", "DiningTable"), ("FloorLamp", "DeskLamp"),
)
_LOOK_ALIKES: dict[str, tuple[str, ...]] = {
    name: tuple(other for other in group if other != name) for group in LOOK_ALIKE_GROUPS for name in group
}


def look_alikes(label: str) -> tuple[str, ...]:
    """The types a detector may take ``label`` for (empty for a type with none)."""
    return _LOOK_ALIKES.get(label, ())
