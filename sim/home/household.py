"""People who live in the home: on a seeded schedule they move, use, dirty and put away things.

Their changes are emitted like the robot's, with cause "household:<name>", so a memory that
listens can catch up, and one that does not goes stale, as in a real home.
"""
from __future__ import annotations

import random
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from scene_graph.usual_places import HOME_OF
from sim.home.entities import Entity
from sim.home.home import Home
from sim.home.placement import find_spot

if TYPE_CHECKING:
    from sim.home.world import HomeWorld

_DISHES = ("Mug", "Cup", "Bowl", "Plate")
_DEVICES = ("Television", "FloorLamp", "DeskLamp", "CoffeeMachine")
_SWITCH_OFF_AFTER = 300.0  # seconds a device stays on


class Household:
    """``members`` act one at a time, on average every ``mean_interval`` seconds."""

    def __init__(self, members: tuple[str, ...] = ("Alice", "Bob"), seed: int = 0, mean_interval: float = 60.0):
        self.members = members
        self.seed = seed
        self.mean_interval = mean_interval
        self.rng = random.Random(seed)
        self._next = 0.0
        self._later: list[tuple[float, str, str]] = []  # (when, member, device id) to switch off

    def reset(self, home: Home) -> None:
        self.rng = random.Random(f"{self.seed}:{home.seed}")
        self._next = self.rng.expovariate(1.0 / self.mean_interval)
        self._later = []

    def due(self, until: float) -> Iterator[tuple[float, Callable[["HomeWorld"], None]]]:
        """Acts scheduled up to ``until``, in time order, each a function of the world."""
        while True:
            later = min(self._later, default=None)
            when = min(self._next, later[0] if later else float("inf"))
            if when > until:
                return
            if later and later[0] == when:
                self._later.remove(later)
                yield when, partial(self._switch_off, member=later[1], device_id=later[2])
            else:
                member = self.rng.choice(self.members)
                chore = self.rng.choice((self._relocate, self._relocate, self._use_dish, self._put_away,
                                         self._wash_dishes, self._switch_on, self._leave_open))
                self._next = when + self.rng.expovariate(1.0 / self.mean_interval)
                yield when, partial(chore, member=member, when=when)

    # --- chores -------------------------------------------------------------------------------

    def _movable(self, world: "HomeWorld", types: Optional[tuple[str, ...]] = None) -> list[Entity]:
        home = world.home
        return [e for e in home if e.kind.pickupable and not e.picked_up and not home.is_hidden(e.object_id)
                and (types is None or e.object_type in types)
                and world.agent.held not in [e.object_id] + home.ancestors(e.object_id)]

    def _move(self, world: "HomeWorld", member: str, e: Entity, host_types: Optional[tuple[str, ...]]) -> bool:
        """Move ``e`` to a random fitting receptacle (of ``host_types`` if given), opening and
        closing a closed container on the way, as a person would."""
        hosts = [h for h in world.home if h.receptacle is not None and h.object_id != e.object_id
                 and (host_types is None or h.object_type in host_types)
                 and e.object_id not in [h.object_id] + world.home.ancestors(h.object_id)
                 and not world.home.is_hidden(h.object_id) and h.object_id != world.agent.held]
        self.rng.shuffle(hosts)
        return any(self.move_to(world, member, e, host) for host in hosts)

    def move_to(self, world: "HomeWorld", member: str, e: Entity, host: Entity) -> bool:
        """``member`` puts ``e`` at a free spot on or in ``host`` (False when it does not fit),
        opening and closing a closed container on the way, as a person would."""
        cause = f"household:{member}"
        spot = find_spot(host, e.size, world.home, rng=self.rng)
        if spot is None:
            return False
        closed = (host.kind.openable and host.receptacle is not None and host.receptacle.mode == "inside"
                  and not host.states.get("open"))
        if closed:
            world.effects.set_state(host, "open", True, cause)
        world.effects.place(e, host, *spot, cause)
        if closed:
            world.effects.set_state(host, "open", False, cause)
            world.effects.settle(cause)
        return True

    def _relocate(self, world: "HomeWorld", member: str, when: float) -> None:
        things = self._movable(world)
        if things:
            e = self.rng.choice(things)
            if not self._move(world, member, e, HOME_OF.get(e.object_type)):
                self._move(world, member, e, None)

    def _put_away(self, world: "HomeWorld", member: str, when: float) -> None:
        things = [e for e in self._movable(world) if e.object_type in HOME_OF]
        if things:
            e = self.rng.choice(things)
            self._move(world, member, e, HOME_OF[e.object_type][:2])

    def _use_dish(self, world: "HomeWorld", member: str, when: float) -> None:
        dishes = self._movable(world, _DISHES)
        if dishes:
            dish = self.rng.choice(dishes)
            world.effects.soil(dish, f"household:{member}")
            self._move(world, member, dish, ("SinkBasin", "DiningTable", "CounterTop", "CoffeeTable"))

    def _wash_dishes(self, world: "HomeWorld", member: str, when: float) -> None:
        for dish in [d for d in self._movable(world, _DISHES) if d.states.get("dirty")][:3]:
            world.effects.wash(dish, f"household:{member}")
            self._move(world, member, dish, ("Cabinet", "Shelf"))

    def _switch_on(self, world: "HomeWorld", member: str, when: float) -> None:
        devices = [d for d in world.home if d.object_type in _DEVICES and not d.states.get("toggled")]
        if devices:
            device = self.rng.choice(devices)
            world.effects.set_state(device, "toggled", True, f"household:{member}")
            world.effects.settle(f"household:{member}")
            self._later.append((when + _SWITCH_OFF_AFTER, member, device.object_id))

    def _switch_off(self, world: "HomeWorld", member: str, device_id: str) -> None:
        world.effects.set_state(world.home[device_id], "toggled", False, f"household:{member}")

    def _leave_open(self, world: "HomeWorld", member: str, when: float) -> None:
        doors = [d for d in world.home if d.kind.openable and d.kind.layer == "furniture"]
        if doors:
            door = self.rng.choice(doors)
            world.effects.set_state(door, "open", not door.states.get("open"), f"household:{member}")
            world.effects.settle(f"household:{member}")
