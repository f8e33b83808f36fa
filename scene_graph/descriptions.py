"""What each object type is and what people use it for, in the words people ask with.

A person asks memory for "something cold" or "where can I sit", not for "Fridge" or "Sofa". These
short descriptions and uses give the retrieval index (and anything else that grounds everyday
words in the ontology) that vocabulary: one line of what the thing is, and a few uses or
properties. Every type in :data:`scene_graph.ontology.OBJECT_TYPES` has an entry (a test checks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from scene_graph.ontology import OBJECT_TYPES


@dataclass(frozen=True)
class TypeDescription:
    text: str  # what it is, one short sentence
    uses: tuple[str, ...]  # what it is for and how people speak of it


def _d(text: str, *uses: str) -> TypeDescription:
    return TypeDescription(text, uses)


DESCRIPTIONS: dict[str, TypeDescription] = {
    # furniture and appliances
    "Fridge": _d("a refrigerator with a door, a big kitchen appliance that keeps food and drinks cold",
                 "store groceries chilled",
                 "chill milk and leftovers", "cool storage for fresh food"),
    "CounterTop": _d("the kitchen counter, a flat work surface", "prepare and chop food",
                     "put things down in the kitchen"),
    "Cabinet": _d("a cupboard with a door", "store crockery and groceries out of sight", "keep things put away"),
    "Drawer": _d("a sliding drawer", "keep small things tidy and out of sight"),
    "Sink": _d("the kitchen sink with running water", "wash dishes and vegetables", "rinse and clean things"),
    "SinkBasin": _d("the basin of a sink", "wash hands, dishes or vegetables under water"),
    "StoveBurner": _d("a hot stove burner for cooking", "cook, boil and fry food in a pan or pot", "heat food"),
    "StoveKnob": _d("the knob that turns a stove burner on and off", "switch the cooker on or off"),
    "Microwave": _d("a microwave oven, a kitchen appliance", "heat up or warm food quickly", "cook and defrost"),
    "Toaster": _d("a toaster, a small kitchen appliance", "toast slices of bread for breakfast"),
    "CoffeeMachine": _d("a coffee maker, a kitchen appliance", "brew hot coffee", "make a drink in the morning"),
    "GarbageCan": _d("a trash bin for rubbish", "throw away waste and garbage", "dispose of rubbish"),
    "DiningTable": _d("a dining table", "eat meals", "put plates and food on a table", "sit and eat"),
    "CoffeeTable": _d("a low table in front of the sofa", "put drinks, magazines and the remote"),
    "SideTable": _d("a small side table or nightstand", "keep a lamp, clock or phone beside the bed or sofa"),
    "Desk": _d("a desk for working", "work on a laptop or computer", "study and write"),
    "Sofa": _d("a sofa, a soft seat for several people", "sit down and relax", "lie down and watch television"),
    "ArmChair": _d("an armchair, a comfortable seat for one person", "sit down and read"),
    "Bed": _d("a bed with a soft mattress", "sleep and rest", "lie down", "sit on the mattress"),
    "Dresser": _d("a chest of drawers for clothes", "store clothes", "put things on top in the bedroom"),
    "Shelf": _d("a shelf or bookcase", "store books and display ornaments", "put things up on a shelf"),
    "TVStand": _d("a low stand that holds the television", "keep the TV and media things"),
    "Television": _d("a television, an electronic screen", "watch TV shows, films and the news", "entertainment"),
    "FloorLamp": _d("a tall standing lamp", "give light to read by", "light up a dark room"),
    "Toilet": _d("a toilet", "go to the bathroom"),
    "Bathtub": _d("a bathtub", "take a bath and wash yourself"),
    "CounterTopBathroom": _d("the bathroom counter around the wash basin", "put toiletries and soap"),
    "Faucet": _d("a water tap", "run water to wash or fill a cup", "turn the water on"),
    "DeskLamp": _d("a small lamp on a desk", "light for reading and working"),
    "LightSwitch": _d("a light switch on the wall", "turn the room lights on or off"),
    # food
    "Apple": _d("a round red or green fruit", "a healthy snack to eat", "fresh fruit"),
    "Bread": _d("a loaf of bread", "make toast or sandwiches", "food to eat for breakfast"),
    "Tomato": _d("a red tomato, a juicy vegetable", "make a salad or sauce", "fresh food to eat"),
    "Lettuce": _d("a head of lettuce, a leafy green vegetable", "make a salad", "fresh greens to eat"),
    "Potato": _d("a potato, a starchy vegetable", "boil, bake or mash for dinner", "food to cook and eat"),
    "Egg": _d("an egg", "fry, boil or scramble for breakfast", "food to eat"),
    # dishes and kitchen tools
    "Mug": _d("a mug with a handle", "drink hot coffee or tea", "a cup for a hot drink"),
    "Cup": _d("a drinking cup or glass", "drink water, juice or milk"),
    "Bowl": _d("a bowl, a deep dish", "hold soup, cereal or salad", "mix and serve food"),
    "Plate": _d("a flat dinner plate, a dish", "serve and eat a meal on"),
    "Pan": _d("a frying pan", "fry eggs and cook food on the stove"),
    "Pot": _d("a cooking pot", "boil water, pasta or soup on the stove"),
    "Kettle": _d("a kettle", "boil water for tea or coffee"),
    "Knife": _d("a sharp kitchen knife with a blade, a piece of cutlery",
                "cut, slice and chop bread, fruit and vegetables"),
    "ButterKnife": _d("a blunt butter knife", "spread butter or jam on bread"),
    "Fork": _d("a fork, a piece of cutlery", "eat dinner, salad or pasta", "pick up food"),
    "Spoon": _d("a spoon, a piece of cutlery", "eat soup or cereal", "stir a drink"),
    "Spatula": _d("a flat spatula or turner", "flip pancakes and eggs while cooking"),
    "Ladle": _d("a ladle, a deep spoon with a long handle", "serve soup from a pot"),
    "SaltShaker": _d("a salt shaker", "season food with salt"),
    "PepperShaker": _d("a pepper shaker", "season food with pepper", "spice"),
    "DishSponge": _d("a kitchen sponge", "scrub plates and pans", "wipe the counter or table"),
    "SoapBottle": _d("a bottle of liquid soap", "wash hands or dishes with soap"),
    "Bottle": _d("a bottle", "hold water or a drink", "pour liquid"),
    "WineBottle": _d("a bottle of wine", "an alcoholic drink to pour into a glass"),
    # living and bedroom things
    "Book": _d("a book", "read a story"),
    "Newspaper": _d("a newspaper", "read the news"),
    "CellPhone": _d("a mobile phone", "call someone or send a message", "electronic device"),
    "Laptop": _d("a laptop computer", "work, browse the internet and send email", "electronic device"),
    "RemoteControl": _d("a TV remote control, a small electronic device",
                        "change the channel or turn the television on"),
    "KeyChain": _d("a bunch of keys on a key ring", "lock and unlock the door", "take when leaving the house"),
    "CreditCard": _d("a credit or bank card", "pay for shopping", "money and wallet"),
    "Watch": _d("a wrist watch", "tell the time", "wear on the wrist"),
    "AlarmClock": _d("an alarm clock", "wake up in the morning", "tell the time"),
    "Pillow": _d("a soft pillow or cushion", "rest your head on", "lean on comfortably"),
    "Pen": _d("a pen", "write a note or sign a paper"),
    "Pencil": _d("a pencil", "write or draw on paper"),
    "Vase": _d("a vase", "hold flowers", "a fragile decoration"),
    "Statue": _d("a small statue or figurine", "an ornament for decoration"),
    "Box": _d("a cardboard box with a lid", "pack and store things", "carry things"),
    "TissueBox": _d("a box of paper tissues", "blow your nose"),
    "Candle": _d("a candle", "give gentle light when lit", "make a cosy smell", "a decoration"),
    # bathroom and cleaning
    "Towel": _d("a soft bath towel", "dry yourself after a shower or bath"),
    "HandTowel": _d("a small hand towel", "dry your hands"),
    "SoapBar": _d("a bar of soap", "wash your hands and body"),
    "ToiletPaper": _d("a roll of toilet paper", "use in the toilet", "wipe"),
    "SprayBottle": _d("a spray bottle of cleaner", "spray and clean surfaces and windows"),
    "Plunger": _d("a plunger", "unblock a clogged toilet or drain"),
    "ScrubBrush": _d("a scrub brush", "scrub and clean the toilet or floor"),
    "CD": _d("a compact disc", "play music"),
    "Cloth": _d("a cleaning cloth or rag", "wipe a table or counter", "dust surfaces clean"),
}

# How states read in words; a valued state ("temperature") reads by its value.
STATE_WORDS: dict[str, str] = {
    "open": "open", "sliced": "sliced into pieces", "cooked": "cooked", "dirty": "dirty, needs washing",
    "cleaned": "clean, washed", "toggled": "switched on", "filled": "filled with water", "broken": "broken",
    "used_up": "used up, empty",
}
STATE_OFF_WORDS: dict[str, str] = {"open": "closed", "toggled": "switched off"}
TEMPERATURE_WORDS: dict[str, str] = {"hot": "hot, warm", "cold": "cold, chilled"}

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def split_camel(label: str) -> str:
    """"CounterTopBathroom" -> "counter top bathroom"; other labels lower-cased as they are."""
    parts = _CAMEL.findall(label)
    return " ".join(p.lower() for p in parts) if parts else label.lower()


# What an ontology flag says about a thing, in words.
_FLAG_WORDS = (("breakable", "fragile, can break"), ("openable", "opens and closes"),
               ("toggleable", "switches on and off"), ("sliceable", "can be sliced"), ("cookable", "can be cooked"))


def describe(label: str) -> str:
    """Words for a label: its split name, description, uses and what its ontology flags say
    (only the name if the type is unknown)."""
    entry = DESCRIPTIONS.get(label)
    name = split_camel(label)
    if entry is None:
        return name
    kind = OBJECT_TYPES.get(label)
    flags = [words for flag, words in _FLAG_WORDS if kind is not None and getattr(kind, flag)]
    return f"{name}: {entry.text}; " + "; ".join(entry.uses + tuple(flags))


def state_words(name: str, value: object) -> str:
    """One state as a person says it: ("open", True) -> "open", ("open", False) -> "closed"; "" when
    a false state is not worth saying."""
    if name == "temperature":
        return TEMPERATURE_WORDS.get(str(value), "")
    if value is True:
        return STATE_WORDS.get(name, name.replace("_", " "))
    if value is False:
        return STATE_OFF_WORDS.get(name, "")
    return f"{name.replace('_', ' ')} {value}"
