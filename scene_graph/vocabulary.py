"""Everyday words for the ontology's object types: synonyms, group words and plurals.

Task files and instructions name things as people do ("the trash", "keys", "ladles", "the
countertop", "toiletries"); every layer maps those words to :mod:`scene_graph.ontology`'s types
through these tables, so a word means the same thing to the task parser, the home generator and
the planner. Keys are normalised words (lower case, letters and digits only, so "garbage can" is
``garbagecan``); plurals are undone by :func:`singulars`, so tables hold singular words only.
"""
from __future__ import annotations

import re
from typing import Iterator

# One word -> one type.
ALIASES: dict[str, str] = {
    # kitchen furniture and appliances
    "fridge": "Fridge", "refrigerator": "Fridge", "icebox": "Fridge", "freezer": "Fridge",
    "kitchencounter": "CounterTop", "worktop": "CounterTop", "island": "CounterTop", "kitchenisland": "CounterTop",
    "cupboard": "Cabinet", "kitchencabinet": "Cabinet", "pantry": "Cabinet",
    "trash": "GarbageCan", "trashcan": "GarbageCan", "trashbin": "GarbageCan", "bin": "GarbageCan",
    "dustbin": "GarbageCan", "garbage": "GarbageCan", "garbagebin": "GarbageCan", "wastebasket": "GarbageCan",
    "wastebin": "GarbageCan", "rubbish": "GarbageCan", "rubbishbin": "GarbageCan", "recyclingbin": "GarbageCan",
    "stove": "StoveBurner", "burner": "StoveBurner", "cooktop": "StoveBurner", "hob": "StoveBurner",
    "stovetop": "StoveBurner",
    "oven": "Microwave", "microwaveoven": "Microwave",
    "coffeemaker": "CoffeeMachine", "coffee": "CoffeeMachine", "espressomachine": "CoffeeMachine",
    "basin": "SinkBasin", "washbasin": "SinkBasin", "kitchensink": "Sink",
    "tap": "Faucet", "spigot": "Faucet",
    # tables, seats and storage
    "kitchentable": "DiningTable", "diningroomtable": "DiningTable",
    "nightstand": "SideTable", "bedsidetable": "SideTable", "endtable": "SideTable", "nighttable": "SideTable",
    "writingdesk": "Desk", "studydesk": "Desk", "computerdesk": "Desk",
    "couch": "Sofa", "settee": "Sofa", "armchair": "ArmChair", "recliner": "ArmChair",
    "chestofdrawers": "Dresser", "bureau": "Dresser",
    "bookshelf": "Shelf", "bookcase": "Shelf", "shelving": "Shelf", "shelves": "Shelf",
    "tvtable": "TVStand", "tvcabinet": "TVStand", "mediaconsole": "TVStand",
    "tv": "Television", "telly": "Television", "tvset": "Television",
    "floorlight": "FloorLamp", "standinglamp": "FloorLamp", "standardlamp": "FloorLamp",
    "desklight": "DeskLamp", "tablelamp": "DeskLamp", "readinglamp": "DeskLamp", "bedsidelamp": "DeskLamp",
    "switch": "LightSwitch", "lightswitch": "LightSwitch",
    # bathroom
    "tub": "Bathtub", "bath": "Bathtub", "wc": "Toilet", "loo": "Toilet",
    "vanity": "CounterTopBathroom", "bathroomcounter": "CounterTopBathroom", "bathroomsink": "SinkBasin",
    # food
    "loaf": "Bread", "toast": "Bread", "salad": "Lettuce", "lettucehead": "Lettuce",
    # dishes and utensils
    "glass": "Cup", "teacup": "Cup", "tumbler": "Cup", "coffeecup": "Mug", "coffeemug": "Mug",
    "dish": "Plate", "dinnerplate": "Plate", "saucer": "Plate", "cerealbowl": "Bowl",
    "frypan": "Pan", "fryingpan": "Pan", "skillet": "Pan", "saucepan": "Pot", "cookingpot": "Pot",
    "teakettle": "Kettle", "scoop": "Ladle", "turner": "Spatula", "salt": "SaltShaker", "pepper": "PepperShaker",
    "sponge": "DishSponge", "soap": "SoapBottle", "dishsoap": "SoapBottle", "handsoap": "SoapBottle",
    "liquidsoap": "SoapBottle", "barofsoap": "SoapBar", "wine": "WineBottle",
    # small things of living rooms and bedrooms
    "keys": "KeyChain", "key": "KeyChain", "keyring": "KeyChain", "housekey": "KeyChain", "carkey": "KeyChain",
    "phone": "CellPhone", "mobile": "CellPhone", "smartphone": "CellPhone", "mobilephone": "CellPhone",
    "remote": "RemoteControl", "tvremote": "RemoteControl", "controller": "RemoteControl",
    "card": "CreditCard", "bankcard": "CreditCard", "debitcard": "CreditCard",
    "wristwatch": "Watch", "clock": "AlarmClock", "alarm": "AlarmClock",
    "ballpen": "Pen", "ballpointpen": "Pen", "marker": "Pen",
    "cushion": "Pillow", "magazine": "Newspaper", "paper": "Newspaper", "novel": "Book",
    "computer": "Laptop", "disc": "CD", "compactdisc": "CD", "dvd": "CD",
    "figurine": "Statue", "sculpture": "Statue", "flowervase": "Vase", "carton": "Box", "cardboardbox": "Box",
    "tissue": "TissueBox", "tissues": "TissueBox", "candlestick": "Candle",
    # bathroom things
    "bathtowel": "Towel", "washcloth": "Cloth", "rag": "Cloth", "dishcloth": "Cloth", "duster": "Cloth",
    "toiletroll": "ToiletPaper", "toiletpaperroll": "ToiletPaper", "papertowel": "ToiletPaper",
    "toiletbrush": "ScrubBrush", "scrubber": "ScrubBrush", "cleaner": "SprayBottle",
}

# Words that fairly name several types: a goal "on a table" is met by a coffee table too. The
# first type is the one to stock or plan with when only one can be.
GROUP_WORDS: dict[str, tuple[str, ...]] = {
    "table": ("DiningTable", "CoffeeTable", "SideTable", "Desk"),
    "counter": ("CounterTop", "CounterTopBathroom"),
    "countertop": ("CounterTop", "CounterTopBathroom"),
    "sink": ("Sink", "SinkBasin"),
    "sinkbasin": ("SinkBasin", "Sink"),
    "lamp": ("FloorLamp", "DeskLamp"),
    "light": ("FloorLamp", "DeskLamp", "LightSwitch"),
    "knife": ("Knife", "ButterKnife"),
    "stove": ("StoveBurner",),
    "toiletry": ("SoapBottle", "SoapBar", "ToiletPaper", "SprayBottle"),
    "toiletries": ("SoapBottle", "SoapBar", "ToiletPaper", "SprayBottle"),
    "cutlery": ("Fork", "Spoon", "Knife", "ButterKnife"),
    "silverware": ("Fork", "Spoon", "Knife", "ButterKnife"),
    "utensil": ("Spatula", "Ladle", "Spoon", "Fork", "Knife", "ButterKnife"),
    "vegetable": ("Tomato", "Potato", "Lettuce"),
    "veggie": ("Tomato", "Potato", "Lettuce"),
    "fruit": ("Apple", "Tomato"),
    "shaker": ("SaltShaker", "PepperShaker"),
}

# Nouns an instruction uses that name no object: places, times and people.
NOT_OBJECTS = frozenset({
    "kitchen", "livingroom", "bedroom", "bathroom", "room", "house", "home", "floor", "wall", "corner",
    "morning", "afternoon", "evening", "night", "day", "today", "time", "moment", "minute", "while",
    "way", "left", "right", "middle", "top", "bottom", "side", "front", "back", "other", "rest", "same",
    "first", "one", "ones", "thing", "things", "stuff", "me", "you", "it", "them", "water",
})


def normalise(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower())


def singulars(key: str) -> Iterator[str]:
    """``key`` itself, then the singulars it may be the plural of (ladles, knives, batteries, dishes)."""
    yield key
    if len(key) < 3 or not key.endswith("s"):
        return
    if key.endswith("ies"):
        yield key[:-3] + "y"
    if key.endswith("ves"):
        yield key[:-3] + "fe"
        yield key[:-3] + "f"
    if key.endswith("es"):
        yield key[:-2]
    yield key[:-1]


_DETERMINERS = frozenset({"the", "a", "an", "some", "my", "your", "his", "her", "our", "their", "all", "both",
                          "two", "three", "four", "each", "every", "another"})
_ENDS_PHRASE = frozenset({"in", "on", "into", "onto", "inside", "from", "to", "with", "and", "then", "or", "of",
                          "at", "by", "near", "next", "under", "behind", "that", "which", "who", "i", "we", "you",
                          "it", "is", "are", "was", "has", "had", "back", "again", "away", "off", "up", "down",
                          "out", "for", "so", "but", "after", "before", "this", "there", "here"})


# Words that measure out what follows "of": "the head of lettuce" names the lettuce.
_MEASURES = frozenset({"head", "heads", "loaf", "loaves", "piece", "pieces", "bunch", "bunches", "pair", "pairs"})


def noun_phrases(text: str) -> list[list[str]]:
    """The words after each determiner up to the next preposition or conjunction ("the kitchen
    counter" in "put it on the kitchen counter"): where an instruction names its objects."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    phrases = []
    for i, w in enumerate(words):
        if w not in _DETERMINERS:
            continue
        phrase: list[str] = []
        for nxt in words[i + 1:i + 5]:
            if nxt == "of" and phrase and phrase[-1] in _MEASURES:
                phrase = []
                continue
            if nxt in _ENDS_PHRASE or nxt in _DETERMINERS:
                break
            phrase.append(nxt)
        if phrase:
            phrases.append(phrase)
    return phrases
