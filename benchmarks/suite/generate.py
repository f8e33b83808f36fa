"""Task suites in KARMA's file format, generated from what each home really contains.

One file per seed maps set names to tasks ``{"FloorPlan", "ID", "Goal Condition", "Instruction"}``.
Besides KARMA's three scored sets (Simple, Composite, Complex) a file has a ``Memory`` set: the
earlier tasks of each home's day, run first and not scored. Each Complex task is written from one
of them ("the apple I put in the fridge this morning"): the Memory task hides a single object in a
closed container, the Complex task needs that object again, so its goal conditions stay checkable
with KARMA's type-level predicates while only a robot that remembers can find it without opening
every container.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from scene_graph.ontology import OBJECT_TYPES, instruction_objects
from sim.home.generate import floor_plan_home
from sim.home.home import Home
from sim.home.world import HomeWorld
from sim.tasks import Task, holds, parse_goal

STOCK = ("Apple", "Bread", "Knife", "Mug", "Potato", "Tomato", "Egg", "Bowl", "Cup")
MEMORY_SET = "Memory"
SETS = ("Simple", "Composite", "Complex")
KITCHEN_PLANS = tuple(n for n in range(1, 31) if n % 4)  # kitchens with 2-4 rooms (n % 4 == 0: one room)

_FOOD = ("Apple", "Bread", "Tomato", "Potato", "Egg", "Lettuce")
_DISHES = ("Mug", "Cup", "Bowl", "Plate")
_SURFACES = ("DiningTable", "CounterTop", "CoffeeTable", "SideTable", "Desk")
_STASH = {"Fridge": _FOOD + ("Mug", "Cup", "Bowl"), "Cabinet": _FOOD + _DISHES, "Drawer": ("Apple", "Egg")}
_LAMPS = ("FloorLamp", "DeskLamp", "Television", "CoffeeMachine")
# How people name each type: the first name is the plain one; the others are synonyms and
# referring expressions ("the leafy vegetable"), so the instructions test understanding, not one word.
_NAMES: dict[str, tuple[str, ...]] = {
    "DiningTable": ("dining table", "kitchen table", "dining room table"),
    "CounterTop": ("counter", "kitchen counter", "worktop"),
    "CoffeeTable": ("coffee table", "low table in front of the sofa"),
    "SideTable": ("side table", "nightstand", "bedside table"), "Desk": ("desk", "writing desk"),
    "FloorLamp": ("floor lamp", "standing lamp", "tall standing lamp"), "DeskLamp": ("desk lamp", "reading lamp"),
    "CoffeeMachine": ("coffee machine", "coffee maker"), "Television": ("TV", "television", "telly"),
    "Fridge": ("fridge", "refrigerator"), "Cabinet": ("cabinet", "cupboard"), "Drawer": ("drawer",),
    "Apple": ("apple", "round red or green fruit"), "Bread": ("bread", "loaf of bread", "loaf"),
    "Tomato": ("tomato", "juicy red vegetable"), "Potato": ("potato", "starchy vegetable"), "Egg": ("egg",),
    "Lettuce": ("lettuce", "head of lettuce", "leafy vegetable", "leafy green vegetable"),
    "Mug": ("mug", "coffee mug"), "Cup": ("cup", "glass", "tumbler"), "Bowl": ("bowl", "cereal bowl"),
    "Plate": ("plate", "dinner plate", "dish"), "Knife": ("knife",),
}
_PLURALS = {"knife": "knives", "tomato": "tomatoes", "potato": "potatoes", "glass": "glasses", "dish": "dishes",
            "loaf": "loaves"}


@dataclass(frozen=True)
class SuiteSpec:
    """``per_set`` tasks of each scored set per home and seed; ``token_aim``: the memory-text ratio
    (task subgraph / whole graph) the suite aims for beyond SayPlan's 0.2, if any."""

    name: str
    seeds: tuple[int, ...]
    floor_plans: tuple[int, ...]
    per_set: int
    token_aim: Optional[float] = None


SUITES = {
    "tiny": SuiteSpec("tiny", (0, 1), (1,), 1),
    "default": SuiteSpec("default", (0, 1, 2), (1, 2, 3, 5), 3),
    "full": SuiteSpec("full", (0, 1, 2), KITCHEN_PLANS, 2),  # 138 tasks per set over 23 homes
    # SayPlan's scale: three buildings of 3 floors and 36 rooms (FloorPlans 501-503), 15 tasks each
    "building": SuiteSpec("building", (0,), (501, 502, 503), 5, token_aim=0.05),
}


def word(object_type: str) -> str:
    """The plain name of a type."""
    return _NAMES.get(object_type, (object_type.lower(),))[0]


def plural(name: str) -> str:
    head, _, last = name.rpartition(" ")
    return f"{head} {_PLURALS.get(last, last + 's')}".strip() if " of " not in name else name


def home_for(floor_plan: int, needed: Sequence[tuple[str, ...]] = ()) -> Home:
    """FloorPlan ``floor_plan`` stocked with STOCK. ``needed``: groups of types a task names, any
    type of a group will do. When the home lacks a group, it is generated again requiring one type
    of every group (the one present, else the first), so nothing present by chance gets lost; that
    changes the home, so generated suites only ever need what is already there."""
    home = floor_plan_home(floor_plan, STOCK)
    present = {e.object_type for e in home}
    groups = [g for g in dict.fromkeys(needed) if g]
    if all(set(g) & present for g in groups):
        return home
    chosen = [next((t for t in g if t in present), g[0]) for g in groups]
    return floor_plan_home(floor_plan, STOCK + tuple(chosen))


def task_needs(task: Task) -> list[tuple[str, ...]]:
    """The type groups a task names: its conditions' subjects and targets, and the objects its
    instruction names."""
    groups = [g for c in task.conditions for g in (c.subject, c.target) if g]
    groups += [types for _, types in instruction_objects(task.instruction)[0]]
    return list(dict.fromkeys(groups))


class _Home:
    """What a generator may ask of one home: its types, where things start, goals already true."""

    def __init__(self, home: Home, rng: random.Random):
        self.rng = rng
        self.count: dict[str, int] = {}
        for e in home:
            self.count[e.object_type] = self.count.get(e.object_type, 0) + 1
        self.states = HomeWorld(home).object_states()
        self.used: set[str] = set()

    def has(self, object_type: str) -> bool:
        return self.count.get(object_type, 0) > 0

    def pick(self, types: Sequence[str], unique: bool = False) -> Optional[str]:
        """An unused type present in the home (present exactly once if ``unique``), marked used."""
        choices = [t for t in types if self.has(t) and t not in self.used and (not unique or self.count[t] == 1)]
        if not choices:
            return None
        chosen = self.rng.choice(choices)
        self.used.add(chosen)
        return chosen

    def host(self, types: Sequence[str]) -> Optional[str]:
        present = [t for t in types if self.has(t)]
        return self.rng.choice(present) if present else None

    def already(self, goal: str) -> bool:
        conditions, _ = parse_goal(goal)
        return all(holds(c, self.states) for c in conditions)


    def name(self, object_type: str) -> str:
        """One of the ways people name the type."""
        return self.rng.choice(_NAMES.get(object_type, (object_type.lower(),)))

    def say(self, *phrasings: str, **names: str) -> str:
        """One phrasing, its {fields} filled with ``names``."""
        return self.rng.choice(phrasings).format(**names)


Template = Callable[[_Home], Optional[tuple[str, str]]]


def _place(h: _Home) -> Optional[tuple[str, str]]:
    thing, table = h.pick(_FOOD + _DISHES), h.host(_SURFACES)
    if not (thing and table):
        return None
    if h.count[thing] >= 2 and h.rng.random() < 0.25:
        return f"ON({thing}, {table}): 2", h.say(
            "Put two {x} on the {y}.", "Place two {x} on the {y}, please.", "Bring two {x} to the {y}.",
            "Could you set two {x} on the {y}?", "I need two {x} on the {y}.", x=plural(h.name(thing)),
            y=h.name(table))
    return f"ON({thing}, {table})", h.say(
        "Put the {x} on the {y}.", "Place the {x} on the {y}.", "Could you set the {x} on the {y}?",
        "Bring the {x} to the {y}.", "Please move the {x} onto the {y}.", "Take the {x} over to the {y}.",
        "Leave the {x} on the {y}, please.", "Grab the {x} and put it on the {y}.", x=h.name(thing), y=h.name(table))


def _slice(h: _Home) -> Optional[tuple[str, str]]:
    food = h.pick(("Apple", "Bread", "Tomato", "Potato", "Lettuce"))
    if not (food and h.has("Knife")):
        return None
    return f"STATE({food}, sliced)", h.say(
        "Slice the {x}.", "Cut the {x}.", "Please chop the {x}.", "Could you cut up the {x}?", "Dice the {x}.",
        "Cut the {x} into slices.", "Take a knife and slice the {x}.", x=h.name(food))


def _wash(h: _Home) -> Optional[tuple[str, str]]:
    dish = h.pick(_DISHES)
    if not (dish and h.has("SinkBasin")):
        return None
    return f"STATE({dish}, clean)", h.say(
        "Wash the {x}.", "Rinse the {x}.", "Please clean the {x}.", "Could you wash up the {x}?",
        "Scrub the {x} in the sink.", "Wash the {x} in the sink, please.", x=h.name(dish))


def _heat(h: _Home) -> Optional[tuple[str, str]]:
    food = h.pick(("Apple", "Bread", "Tomato", "Potato", "Egg"))
    if not (food and h.has("Microwave")):
        return None
    return f"STATE({food}, hot)", h.say(
        "Heat the {x}.", "Warm up the {x}.", "Microwave the {x}.", "Please heat up the {x}.",
        "Could you warm the {x} in the microwave?", "Reheat the {x}.", x=h.name(food))


def _toggle(h: _Home) -> Optional[tuple[str, str]]:
    device = h.pick(_LAMPS)
    if not device:
        return None
    return f"TOGGLEON({device})", h.say(
        "Turn on the {x}.", "Switch on the {x}.", "Turn the {x} on, please.", "Could you switch the {x} on?",
        "Power on the {x}.", "Please turn on the {x}.", x=h.name(device))


def _wash_and_store(h: _Home) -> Optional[tuple[str, str]]:
    dish, shelf = h.pick(_DISHES), h.host(("Cabinet",))
    if not (dish and shelf and h.has("SinkBasin")):
        return None
    return f"STATE({dish}, clean), INSIDE({dish}, {shelf})", h.say(
        "Wash the {x} and put it away in the {y}.", "Rinse the {x}, then put it in the {y}.",
        "Clean the {x} and put it back where it belongs.", "Please wash the {x} and then store it in the {y}.",
        "Could you rinse the {x} and put it away?", "Scrub the {x} in the sink; afterwards put it in the {y}.",
        x=h.name(dish), y=h.name(shelf))


def _heat_and_serve(h: _Home) -> Optional[tuple[str, str]]:
    food, table = h.pick(("Apple", "Bread", "Tomato", "Potato", "Egg")), h.host(_SURFACES)
    if not (food and table and h.has("Microwave")):
        return None
    return f"STATE({food}, hot), ON({food}, {table})", h.say(
        "Heat the {x} and put it on the {y}.", "Warm up the {x}, then set it on the {y}.",
        "Microwave the {x} and then bring it to the {y}.", "Put a hot {x} on the {y}.",
        "Please reheat the {x} and leave it on the {y}.", "Heat up the {x}; after that, place it on the {y}.",
        x=h.name(food), y=h.name(table))


def _slice_and_tidy(h: _Home) -> Optional[tuple[str, str]]:
    food = h.pick(("Apple", "Bread", "Tomato", "Potato", "Lettuce"))
    if not (food and h.has("Knife") and h.has("Drawer")):
        return None
    return f"STATE({food}, sliced), INSIDE(Knife, Drawer)", h.say(
        "Slice the {x}, then put the knife back in the drawer.", "Cut the {x} and put the knife away in the drawer.",
        "Chop the {x}; afterwards return the knife to the drawer.",
        "Please slice the {x} and then put the knife in the drawer.",
        "Cut up the {x}, then put the knife back where it belongs.", x=h.name(food))


def _two_places(h: _Home) -> Optional[tuple[str, str]]:
    food, dish, table = h.pick(_FOOD), h.pick(_DISHES), h.host(_SURFACES)
    if not (food and dish and table and h.has("Fridge")):
        return None
    names = {"x": h.name(food), "f": h.name("Fridge"), "d": h.name(dish), "y": h.name(table)}
    if h.rng.random() < 0.25:
        return f"ON({dish}, {table}), INSIDE({food}, Fridge)", h.say(
            "Put the {d} on the {y}, then put the {x} in the {f}.",
            "Set the {d} on the {y} and store the {x} in the {f}.", **names)
    return f"INSIDE({food}, Fridge), ON({dish}, {table})", h.say(
        "Put the {x} in the {f} and the {d} on the {y}.", "Place the {x} in the {f}, and the {d} on the {y}.",
        "Store the {x} in the {f} and set the {d} on the {y}.",
        "Could you put the {x} into the {f} and bring the {d} to the {y}?",
        "Put the {x} away in the {f}, and move the {d} onto the {y}.", **names)


SIMPLE: tuple[Template, ...] = (_place, _slice, _wash, _heat, _toggle)
COMPOSITE: tuple[Template, ...] = (_wash_and_store, _heat_and_serve, _slice_and_tidy, _two_places)


def _stash(h: _Home) -> Optional[tuple[str, str, str]]:
    """A Memory task hiding one object in a closed container: (type, container, goal)."""
    containers = [c for c in _STASH if h.has(c)]
    h.rng.shuffle(containers)
    for container in containers:
        fresh = [t for t in _STASH[container] if not h.already(f"INSIDE({t}, {container})")]
        thing = h.pick(fresh, unique=True) or h.pick(fresh)  # a unique one makes "the apple" unambiguous
        if thing:
            return thing, container, f"INSIDE({thing}, {container})"
    return None


def _complex(h: _Home, thing: str, container: str) -> tuple[str, str]:
    """A later task that needs the object the morning hid; two or three conditions."""
    table = h.host(_SURFACES) or "CounterTop"
    ref = h.say("the {x} I put in the {c} this morning", "the {x} I left in the {c} earlier",
                "the {x} you put away in the {c} this morning", "the {x} that I stored in the {c}",
                "the {x} we put in the {c} earlier today", x=h.name(thing), c=h.name(container))
    y = h.name(table)
    kind = OBJECT_TYPES[thing]
    options = [(f"ON({thing}, {table})", h.say("Bring {r} to the {y}", "Take {r} to the {y}",
                                                "Put {r} on the {y}", "Could you move {r} onto the {y}", r=ref, y=y))]
    if kind.cookable and h.has("Microwave"):
        options.append((f"STATE({thing}, hot), ON({thing}, {table})", h.say(
            "Heat {r} and put it on the {y}", "Warm up {r}, then set it on the {y}", r=ref, y=y)))
    if kind.sliceable and h.has("Knife"):
        options.append((f"STATE({thing}, sliced), ON({thing}, {table})", h.say(
            "Take {r}, slice it and leave it on the {y}", "Cut {r} and then put it on the {y}", r=ref, y=y)))
    if kind.dirtyable and h.has("SinkBasin"):
        options.append((f"STATE({thing}, clean), ON({thing}, {table})", h.say(
            "Wash {r} and set it on the {y}", "Rinse {r}, then place it on the {y}", r=ref, y=y)))
    goal, text = h.rng.choice(options)
    device = h.pick(_LAMPS) if h.rng.random() < 0.5 else None
    if device:
        goal, text = f"{goal}, TOGGLEON({device})", text + h.say(", and turn on the {d}", "; then switch the {d} on",
                                                                 ", and switch on the {d}", d=h.name(device))
    return goal, text + "."


def _entries(h: _Home, templates: Sequence[Template], n: int, prefix: str, plan: str) -> list[dict]:
    out: list[dict] = []
    for _ in range(20 * n):
        if len(out) == n:
            break
        used = set(h.used)
        made = h.rng.choice(templates)(h)
        if not made or h.already(made[0]):
            h.used = used  # give back what a discarded task picked
        else:
            out.append({"FloorPlan": plan, "ID": f"{prefix}-{len(out)}", "Goal Condition": made[0],
                        "Instruction": made[1]})
    return out


def generate_home_tasks(seed: int, floor_plan: int, per_set: int) -> dict[str, list[dict]]:
    """The Memory, Simple, Composite and Complex tasks of one home's day."""
    h = _Home(home_for(floor_plan), random.Random(f"{seed}:{floor_plan}"))
    plan, base = f"FloorPlan{floor_plan}", f"s{seed}-fp{floor_plan}"
    sets: dict[str, list[dict]] = {MEMORY_SET: [], "Complex": []}
    for n in range(per_set):
        stash = _stash(h)
        if stash is None:
            break
        thing, container, goal = stash
        sets[MEMORY_SET].append({"FloorPlan": plan, "ID": f"{base}-memory-{n}", "Goal Condition": goal,
                                 "Instruction": h.say("Put the {x} in the {c}.", "Store the {x} in the {c}.",
                                                      "Please put the {x} away in the {c}.", x=h.name(thing),
                                                      c=h.name(container))})
        complex_goal, text = _complex(h, thing, container)
        sets["Complex"].append({"FloorPlan": plan, "ID": f"{base}-complex-{n}", "Goal Condition": complex_goal,
                                "Instruction": text})
    hidden = set(h.used)  # the Complex tasks' objects stay where the morning put them
    for name, templates in (("Composite", COMPOSITE), ("Simple", SIMPLE)):
        h.used = set(hidden)
        sets[name] = _entries(h, templates, per_set, f"{base}-{name.lower()}", plan)
    return {name: sets[name] for name in (MEMORY_SET, *SETS)}


def generate_suite(spec: SuiteSpec, seed: int) -> dict[str, list[dict]]:
    """One seed's task file: every home of the suite, sets in KARMA's shape."""
    merged: dict[str, list[dict]] = {name: [] for name in (MEMORY_SET, *SETS)}
    for floor_plan in spec.floor_plans:
        for name, entries in generate_home_tasks(seed, floor_plan, spec.per_set).items():
            merged[name] += entries
    return merged


def write_suite(spec: SuiteSpec, out_dir: Path) -> list[Path]:
    """``tasks_seed<N>.json`` per seed of the suite."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in spec.seeds:
        path = out_dir / f"tasks_seed{seed}.json"
        path.write_text(json.dumps(generate_suite(spec, seed), indent=1), encoding="utf-8")
        paths.append(path)
    return paths


def by_floor_plan(tasks: Sequence[Task], default_plan: int = 1) -> dict[int, list[Task]]:
    """Tasks grouped into one episode per home, in file order (Memory first)."""
    out: dict[int, list[Task]] = {}
    for task in sorted(tasks, key=lambda t: t.task_set != MEMORY_SET):
        out.setdefault(task.floor_plan or default_plan, []).append(task)
    return out
