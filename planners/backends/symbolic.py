"""The offline planner: goal conditions to skills, using what memory knows.

For each goal it picks remembered objects of the right types, then writes the skills a careful
person would: go there, open the container it is in if memory does not know it to be open, pick
it up, carry it, open the destination, put it down.

When memory lacks an object the task needs, the plan (after the steps it could plan) is one look,
as a careful person without memory would search: open the next closed container that could hold
one, those of the room the robot is in first, then of the rooms it saw most recently; with none
left, ``Explore()`` the next room. Containers stay open, so memory knows not to open them again.
A search plan does not end with ``Done``: the runner executes it, perception updates memory, and
the runner asks again, until the object turns up or Explore finds nothing left to explore. Every
call is replayed on a :class:`PlanState`, so the plan passes validation.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from planners.backends.base import ImplausibleGoal, InvalidInstruction, PlanRequest, PlanResponse
from planners.grammar import SkillCall, format_plan
from planners.instructions import HOLD, goals_for
from planners.interfaces import KnownObject
from planners.validate import KNIVES, PlanState, is_container
from scene_graph.goals import Condition
from scene_graph.ontology import OBJECT_TYPES

# STATE goals reached by an appliance skill: (state, value) -> (skill, appliance types)
_APPLIANCE = {
    ("temperature", "hot"): ("HeatObject", ("Microwave", "StoveBurner")),
    ("cooked", True): ("HeatObject", ("Microwave", "StoveBurner")),
    ("temperature", "cold"): ("CoolObject", ("Fridge",)),
    ("cleaned", True): ("CleanObject", ("SinkBasin", "Sink", "Faucet")),
    ("dirty", False): ("CleanObject", ("SinkBasin", "Sink", "Faucet")),
    ("filled", True): ("FillObject", ("SinkBasin", "Sink", "Faucet", "CoffeeMachine")),
}


class _Lacking(Exception):
    """Memory knows no object of these types: search for one."""

    def __init__(self, types: Sequence[str]) -> None:
        super().__init__(types)
        self.types = tuple(types)


def _could_hold(container: str, thing: str) -> bool:
    """Whether a person would look for ``thing`` in a ``container``: it is something one puts
    away, it fits, and the two belong in the same kind of room (no apples in the toilet)."""
    box, item = OBJECT_TYPES[container], OBJECT_TYPES.get(thing)
    return item is not None and item.pickupable and bool(set(box.rooms) & set(item.rooms)) \
        and all(a <= b for a, b in zip(sorted(item.size), sorted(box.size)))


class _Planner:
    def __init__(self, objects: Sequence[KnownObject], held: str) -> None:
        self.state = PlanState.start(objects, held)
        self.calls: list[SkillCall] = []
        self.at = ""  # where the last GoToObject went
        self.toggled: dict[str, bool] = {}  # what this plan switched on or off ("on, then off")

    def emit(self, skill: str, target: str = "") -> None:
        call = SkillCall(skill, target)
        reason = self.state.check(call)
        if reason:
            raise ImplausibleGoal(f"the goal needs {call}, which cannot be done: {reason}")
        self.state.apply(call)
        self.calls.append(call)
        if skill in ("GoToObject", "Explore"):
            self.at = target

    def go(self, object_id: str) -> None:
        """Drive to the object itself unless already there: validation's reach is generous, an arm is not."""
        if self.at != object_id:
            self.emit("GoToObject", object_id)

    def pick(self, types: Sequence[str], exclude: Sequence[str] = ()) -> str:
        """A remembered object of one of ``types``: in hand first (whatever memory says of where it
        is), then ones not shut away."""
        found = [o for o in self.state.objects.values() if o.label in types and o.id not in exclude
                 and (not o.missing or o.id == self.state.held)]
        if not found:
            raise _Lacking(types)
        found.sort(key=lambda o: (o.id != self.state.held, bool(self.state.closed_holder(o.id)),
                                  types.index(o.label), o.id))
        return found[0].id

    def reach(self, object_id: str) -> None:
        """Get within reach, opening the containers it is in unless memory knows they are open."""
        if object_id == self.state.held:
            return
        self.open_around(object_id)
        self.go(object_id)  # a fridge is wider than an arm's reach

    def open_around(self, object_id: str) -> None:
        """Open the containers memory says enclose the object, outermost first (a drawer in a closed
        cabinet opens once the cabinet is), skipping those memory knows to be open."""
        chain: list[str] = []
        obj = self.state.objects[object_id]
        while obj.inside and obj.holder not in chain and obj.holder != object_id:
            holder = self.state.objects.get(obj.holder)  # a view of memory may leave the holder out
            if holder is None or not is_container(holder.label):
                break
            chain.append(holder.id)
            obj = holder
        for container in reversed(chain):
            if self.state.is_open(container) is not True:
                self.go(container)
                self.emit("OpenObject", container)

    def fetch(self, object_id: str) -> None:
        if self.state.held == object_id:
            return
        if self.state.held:
            self.stow(self.state.objects[object_id].room_id)
        self.reach(object_id)
        self.emit("PickupObject", object_id)

    def place(self, host: str) -> None:
        self.reach(host)
        if is_container(self.state.objects[host].label) and self.state.is_open(host) is not True:
            self.emit("OpenObject", host)
        self.emit("PutObject", host)

    def stow(self, room_id: str) -> None:
        """Free the hand: on a surface memory knows, in the room the next object is in if it can."""
        surfaces = [o for o in self.state.objects.values() if o.layer == "furniture" and not o.missing
                    and OBJECT_TYPES.get(o.label) is not None and OBJECT_TYPES[o.label].receptacle]
        if not surfaces:
            raise InvalidInstruction(f"the hand holds {self.state.held} and memory knows nowhere to put it")
        self.place(min(surfaces, key=lambda o: (o.room_id != room_id, is_container(o.label), o.id)).id)

    def achieve(self, goal: Condition) -> None:
        used: list[str] = []
        for _ in range(goal.count):
            subject = self.pick(goal.subject, used)
            used.append(subject)
            self._one(goal, subject)

    def _one(self, goal: Condition, subject: str) -> None:
        if goal.predicate in ("INSIDE", "ON"):
            host = self.pick(goal.target, [subject])
            if self.state.objects[subject].holder != host:
                self.fetch(subject)
                self.place(host)
        elif goal.predicate == HOLD:
            self.fetch(subject)
        elif goal.predicate in ("TOGGLEON", "TOGGLEOFF"):
            if self.toggled.get(subject, self.state.objects[subject].state("toggled")) != goal.value:
                self.reach(subject)
                self.emit("ToggleObjectOn" if goal.value else "ToggleObjectOff", subject)
                self.toggled[subject] = bool(goal.value)
        elif goal.state == "open":
            if self.state.is_open(subject) != goal.value:
                self.reach(subject)
                self.emit("OpenObject" if goal.value else "CloseObject", subject)
        elif goal.state == "sliced":
            if self.state.objects[subject].state("sliced") is not True:
                knife = self.pick(KNIVES)
                self.fetch(knife)
                self.reach(subject)
                self.emit("SliceObject", subject)
        elif (goal.state, goal.value) in _APPLIANCE:
            skill, appliances = _APPLIANCE[(goal.state, goal.value)]
            if self.state.objects[subject].state(goal.state) != goal.value:
                appliance = self.pick(appliances)
                self.fetch(subject)
                self.go(appliance)
                self.emit(skill, subject)
        else:
            raise InvalidInstruction(f"no skill makes an object {goal.state} {goal.value}: {goal.text!r}")

    def search(self, types: Sequence[str]) -> None:
        """One look for an object of ``types``: open the likeliest closed container, else explore."""
        boxes = [o for o in self.state.objects.values()
                 if is_container(o.label) and not o.missing and o.id != self.state.held
                 and self.state.is_open(o.id) is not True and any(_could_hold(o.label, t) for t in types)]
        if not boxes:
            self.emit("Explore")
            return
        here, seen = self._here(), _room_last_seen(self.state.objects.values())
        box = min(boxes, key=lambda o: (o.room_id != here, -seen[o.room_id], -o.last_seen, o.id))
        self.reach(box.id)
        self.emit("OpenObject", box.id)

    def _here(self) -> str:
        """The robot's room as far as memory can tell (it does not know where the robot stands):
        where this plan last went, else where most of what the camera saw last is."""
        if self.at in self.state.objects:
            return self.state.objects[self.at].room_id
        objects = list(self.state.objects.values())
        latest = max((o.last_seen for o in objects), default=0.0)
        rooms = Counter(o.room_id for o in objects if o.last_seen == latest)
        return rooms.most_common(1)[0][0] if rooms else ""


class SymbolicBackend:
    """No model: plans from goal conditions (``goal_conditions`` when given, else the instruction)."""

    name = "symbolic"

    def plan(self, request: PlanRequest) -> PlanResponse:
        goals = goals_for(request.instruction, request.goal_conditions)
        planner = _Planner(request.objects, request.held)
        try:
            for goal in goals:
                planner.achieve(goal)
        except _Lacking as lacking:
            planner.search(lacking.types)
            return PlanResponse("\n".join(str(c) for c in planner.calls), tuple(planner.calls))
        return PlanResponse(format_plan(planner.calls), tuple(planner.calls))


def _room_last_seen(objects: Iterable[KnownObject]) -> dict[str, float]:
    """When the camera last saw anything in each room."""
    seen: dict[str, float] = {}
    for o in objects:
        seen[o.room_id] = max(seen.get(o.room_id, o.last_seen), o.last_seen)
    return seen
