"""Hand-built homes for tests: one walled room and exactly the things a test names."""
from __future__ import annotations

from scene_graph.ontology import OBJECT_TYPES
from sim.home.entities import Entity, default_states
from sim.home.generate import _navigation
from sim.home.home import Home, IdMaker
from sim.home.layout import Layout, Room, _slabs


def room_home(width: float = 6.0, depth: float = 4.0, kind: str = "Kitchen", walls: bool = True) -> Home:
    room = Room(f"{kind}_0", kind, 0.0, 0.0, width, depth)
    slabs = _slabs([room], [(0, 0)], (), [0.0, width, width, width], [0.0, depth, depth]) if walls else ()
    layout = Layout((room,), (), slabs)
    return Home(0, layout, {}, _navigation(layout, {}))


def add(home: Home, object_type: str, center: tuple[float, float, float], size=None, parent: Entity | None = None,
        facing: tuple[int, int] = (1, 0), **states) -> Entity:
    """Add one entity; ``center`` z is the box centre. Rebuilds navigation and instance ids."""
    kind = OBJECT_TYPES[object_type]
    size = size or (kind.size[1], kind.size[0], kind.size[2]) if facing[0] else (size or kind.size)
    e = Entity(IdMaker(home.entities)(object_type, center), object_type, center, size, home.rooms[0].room_id,
               facing, parent.object_id if parent else None, {**default_states(kind), **states})
    home.entities[e.object_id] = e
    home.nav = _navigation(home.layout, home.entities)
    home.__post_init__()
    return e


def on(home: Home, object_type: str, host: Entity, xy: tuple[float, float] | None = None, level: int = 0,
       **states) -> Entity:
    """Add an object resting on/in ``host`` at ``xy`` (default: the host's centre)."""
    size = OBJECT_TYPES[object_type].size
    x, y = xy or host.center[:2]
    e = add(home, object_type, (x, y, host.rest_height(level) + size[2] / 2), size, host, **states)
    e.level = level
    return e


def kitchen() -> tuple[Home, dict[str, Entity]]:
    """A 6 x 4 m kitchen: fridge with an egg, counter with apple, knife, mug and a microwave,
    a sink with basin and faucet, a stove burner, a cabinet, a table, a garbage can."""
    home = room_home()
    t: dict[str, Entity] = {}
    t["fridge"] = add(home, "Fridge", (0.45, 3.4, 0.9), (0.7, 0.8, 1.8), facing=(1, 0))
    t["egg"] = on(home, "Egg", t["fridge"], level=1)
    t["counter"] = add(home, "CounterTop", (3.0, 3.65, 0.45), (1.6, 0.6, 0.9), facing=(0, -1))
    t["apple"] = on(home, "Apple", t["counter"], (2.5, 3.6))
    t["knife"] = on(home, "Knife", t["counter"], (2.9, 3.6))
    t["mug"] = on(home, "Mug", t["counter"], (3.3, 3.6), dirty=True)
    t["microwave"] = add(home, "Microwave", (3.55, 3.7, 1.05), (0.5, 0.4, 0.3), parent=t["counter"], facing=(0, -1))
    t["sink"] = add(home, "Sink", (5.6, 2.0, 0.35), (0.6, 0.8, 0.7), facing=(-1, 0))
    t["basin"] = add(home, "SinkBasin", (5.62, 2.0, 0.8), (0.4, 0.5, 0.2), parent=t["sink"], facing=(-1, 0))
    t["faucet"] = add(home, "Faucet", (5.84, 2.0, 0.825), (0.08, 0.2, 0.25), parent=t["sink"], facing=(-1, 0))
    t["burner"] = add(home, "StoveBurner", (5.6, 0.6, 0.915), (0.3, 0.3, 0.03), facing=(-1, 0))
    t["cabinet"] = add(home, "Cabinet", (3.0, 0.3, 0.4), (0.6, 0.5, 0.8), facing=(0, 1))
    t["table"] = add(home, "DiningTable", (2.5, 1.9, 0.375), (1.0, 0.8, 0.75))
    t["garbage"] = add(home, "GarbageCan", (0.3, 0.3, 0.25), (0.35, 0.35, 0.5))
    return home, t
