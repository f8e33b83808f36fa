"""Every change to a home goes through here, so each one is emitted as a StateChange record.

Skills and household members call the same few mutations; ``settle`` then applies what
appliances do to whatever is in or on them (a burner that is on heats the pan on it, a running
faucet washes what lies in its basin, a closed fridge chills its contents).
"""
from __future__ import annotations

from typing import Callable, Optional

from scene_graph.records import StateValue
from sim.home.entities import Entity, Vec3
from sim.home.home import Home
from sim.records import ChangeValue, StateChange

_HEATERS = ("Microwave", "StoveBurner", "Toaster")
_PULL_OUT = 0.6  # share of a drawer's depth it slides out when opened


class Effects:
    def __init__(self, home: Home, clock: Callable[[], float], sink: Callable[[StateChange], None]):
        self.home = home
        self.clock = clock
        self.sink = sink

    def _emit(self, e: Entity, state: str, old: ChangeValue, new: ChangeValue, cause: str) -> StateChange:
        change = StateChange(e.object_id, e.object_type, state, old, new, self.clock(), cause)
        self.sink(change)
        return change

    def set_state(self, e: Entity, name: str, value: StateValue, cause: str) -> Optional[StateChange]:
        """Set one state; no record when it does not apply or does not change."""
        if name not in e.states or e.states[name] == value:
            return None
        old = e.states[name]
        e.states[name] = value
        if name in ("open", "sliced", "cooked", "dirty", "toggled"):
            self.home.version += 1  # shape or colour changes
        if name == "open" and e.object_type == "Drawer":
            sign = _PULL_OUT if value else -_PULL_OUT
            depth = e.size[0] if e.facing[0] else e.size[1]
            self._shift(e, (e.facing[0] * depth * sign, e.facing[1] * depth * sign, 0.0), cause, quiet=True)
        return self._emit(e, name, old, value, cause)

    def _shift(self, e: Entity, delta: Vec3, cause: str, quiet: bool = False) -> None:
        for thing in [e] + self.home.descendants(e.object_id):
            old = thing.center
            thing.center = (old[0] + delta[0], old[1] + delta[1], old[2] + delta[2])
            if not quiet or thing is not e:
                self._emit(thing, "position", _round(old), _round(thing.center), cause)
        self.home.version += 1

    def pick_up(self, e: Entity, cause: str) -> None:
        self._emit(e, "parent", e.parent, None, cause)
        self._emit(e, "picked_up", False, True, cause)
        e.parent, e.picked_up, e.level = None, True, 0
        self.home.version += 1

    def place(self, e: Entity, host: Entity, center: Vec3, size: Vec3, level: int, cause: str) -> None:
        """Put ``e`` (held or not) at ``center`` on/in ``host``; its contents travel with it."""
        if e.picked_up:
            self._emit(e, "picked_up", True, False, cause)
            e.picked_up = False
        if e.parent != host.object_id:
            self._emit(e, "parent", e.parent, host.object_id, cause)
        old = e.center
        e.size, e.parent, e.level, e.room = size, host.object_id, level, host.room
        self._shift(e, (center[0] - old[0], center[1] - old[1], center[2] - old[2]), cause)
        self.settle(cause)

    def settle(self, cause: str) -> None:
        """What switched-on appliances and closed fridges do to the things in or on them."""
        for appliance in list(self.home):
            t, on = appliance.object_type, bool(appliance.states.get("toggled"))
            if t in _HEATERS and on and not (t == "Microwave" and appliance.states.get("open")):
                for thing in self.home.descendants(appliance.object_id):
                    self.heat(thing, cause)
            elif t == "Fridge" and not appliance.states.get("open"):
                for thing in self.home.descendants(appliance.object_id):
                    self.set_state(thing, "temperature", "cold", cause)
            elif t == "CoffeeMachine" and on:
                for thing in self.home.descendants(appliance.object_id):
                    self.set_state(thing, "filled", True, cause)
            elif t == "Faucet" and on and appliance.parent is not None:
                for basin in self.home.children(appliance.parent):
                    if basin.object_type == "SinkBasin":
                        for thing in self.home.descendants(basin.object_id):
                            self.wash(thing, cause)
                            self.set_state(thing, "filled", True, cause)

    def heat(self, e: Entity, cause: str) -> None:
        self.set_state(e, "temperature", "hot", cause)
        if e.kind.cookable:
            self.set_state(e, "cooked", True, cause)

    def wash(self, e: Entity, cause: str) -> None:
        self.set_state(e, "dirty", False, cause)
        self.set_state(e, "cleaned", True, cause)

    def soil(self, e: Entity, cause: str) -> None:
        if self.set_state(e, "dirty", True, cause) is not None or not e.kind.dirtyable:
            self.set_state(e, "cleaned", False, cause)


def _round(p: Vec3) -> tuple[float, float, float]:
    return (round(p[0], 3), round(p[1], 3), round(p[2], 3))
