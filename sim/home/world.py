"""The embedded simulator: a home, a robot with a camera, its skills, and the people living there.

``HomeWorld`` implements ``sim.interface.Simulator``. Simulated time advances with each skill
(driving at ``SPEED`` m/s, ``MANIPULATION_SECONDS`` per manipulation) and with ``advance``;
household members act on that clock, so what memory saw can go stale. Explore ends with a turn on
the spot (``look_around`` renders it), as a person entering a room looks around it.

Every frame memory gets (``render``, ``look_around``) has passed the world's perception model
(``sim.perception``; ``oracle`` by default: untouched). Skills take the names memory holds (track
ids under models that reissue them) and report their changes under those names.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.outcomes import SkillCode
from sim.camera import AgentPose
from sim.home.effects import Effects
from sim.home.generate import floor_plan_home, generate_home
from sim.home.home import Home
from sim.home.household import Household
from sim.home.moves import explore, go_to_object
from sim.home.navigation import Cell
from sim.home.render import Renderer
from sim.home.skills import MANIPULATION, MANIPULATION_SECONDS, SkillError
from sim.metadata import home_metadata, objects_from_metadata
from sim.perception import Perception
from sim.records import Action, ActionResult, ObjectState, StateChange, where_changed

log = logging.getLogger(__name__)

SPEED = 0.5  # metres per second while driving
_FAILED_SECONDS = 0.5
LOOK_AROUND_VIEWS = 4  # a quarter turn apart: with the 90 deg camera, the whole room
_LOOK_AROUND_SECONDS = 4.0


@dataclass
class AgentState:
    """The robot's mutable state, with the odometry a benchmark needs."""

    pose: AgentPose
    held: Optional[str] = None
    distance: float = 0.0
    steps: int = 0
    trail: list[tuple[float, float]] = field(default_factory=list)
    visited_rooms: set[str] = field(default_factory=set)


class HomeWorld:
    def __init__(self, home: Optional[Home] = None, *, seed: int = 0, intrinsics: Optional[CameraIntrinsics] = None,
                 household: Optional[Household] = None, reuse_scene: bool = True,
                 perception: Optional[Perception] = None):
        self.renderer = Renderer(intrinsics, reuse_scene=reuse_scene)
        self.perception = perception or Perception()
        self.household = household
        self._events: list[StateChange] = []
        self._start(home if home is not None else generate_home(seed))

    def _start(self, home: Home) -> None:
        self.home = home
        self.clock = 0.0
        self.last_action: Optional[ActionResult] = None
        self._events.clear()
        self.effects: Effects = Effects(home, lambda: self.clock, self._events.append)
        nav = home.nav
        first = home.start_room
        cells = [c for c in nav.free_cells() if first.contains(*nav.center(c))]
        x, y = nav.center(min(cells, key=lambda c: math.dist(nav.center(c), first.center)))
        self.agent = AgentState(AgentPose(x, y, 0.0))
        self._visit([(x, y)])
        self._frame: Optional[tuple[tuple, RGBDFrame, RGBDFrame]] = None  # key, rendered, perceived
        self.perception.reset()
        if self.household is not None:
            self.household.reset(home)

    def reset(self, floor_plan: Optional[int] = None, seed: Optional[int] = None,
              required_types: Iterable[str] = ()) -> None:
        """A fresh episode: FloorPlan ``floor_plan`` if given, else the home of ``seed``, else
        the current home as it was generated."""
        if floor_plan is not None:
            home = floor_plan_home(floor_plan, required_types)
        elif seed is not None:
            home = generate_home(seed, required_types=required_types)
        elif self.home.floor_plan is not None:
            home = floor_plan_home(self.home.floor_plan, required_types)
        elif self.home.floors > 1:
            raise ValueError("a building not made from a FloorPlan cannot be regenerated: give a floor_plan")
        else:
            home = generate_home(self.home.seed, len(self.home.rooms), self.home.rooms[0].kind, required_types)
            home.floor_plan = self.home.floor_plan
        self._start(home)

    def cause(self, action: Action) -> str:
        return f"agent:{action.name}"

    def step(self, action: Action) -> ActionResult:
        before_distance, before_steps, before_events = self.agent.distance, self.agent.steps, len(self._events)
        held = self.agent.held
        last_place = self.perception.last_place(action.object_id) if action.name == "GoToObject" else None
        action = replace(action, object_id=self.perception.resolve(action.object_id))
        try:
            if action.name == "GoToObject":
                go_to_object(self, action, last_place)
            elif action.name == "Explore":
                explore(self, action)
            elif action.name in MANIPULATION:
                MANIPULATION[action.name](self, action)
            else:
                raise SkillError(SkillCode.UNKNOWN_SKILL, f"Unknown action {action.name!r}")
            success, error, code = True, "", SkillCode.NONE
            if held is not None and self.agent.held is None and held in self.home.entities:
                self.perception.carried(held, self.home[held].center)  # the robot knows where it put it
        except SkillError as exc:
            success, error, code = False, str(exc), exc.code
        distance = self.agent.distance - before_distance
        moving = distance / SPEED  # a failed GoToObject may have driven to where the object was
        duration = (moving + 1.0 if action.name in ("GoToObject", "Explore") else MANIPULATION_SECONDS) \
            if success else moving + _FAILED_SECONDS
        if success and action.name == "Explore":
            duration += _LOOK_AROUND_SECONDS
        changes = tuple(replace(c, object_id=self.perception.rename(c.object_id)) for c in self._events[before_events:])
        result = ActionResult(action, success, error, distance, self.agent.steps - before_steps, duration, changes,
                              code)
        self.last_action = result
        log.debug("%s -> %s %s", action, success, error)
        self.advance(duration)
        return result

    def advance(self, seconds: float) -> list[StateChange]:
        """Let ``seconds`` of simulated time pass; household members act on their schedule."""
        start = len(self._events)
        end = self.clock + seconds
        if self.household is not None:
            for when, act in self.household.due(end):
                self.clock = max(self.clock, when)
                act(self)
        self.clock = end
        return self._events[start:]

    def drive(self, path: list[Cell], yaw: float, pitch: float) -> None:
        points = [self.home.nav.center(c) for c in path]
        if points:
            self.agent.distance += self.home.nav.length(path)
            self.agent.steps += len(points) - 1
            self._visit(points)
            x, y = points[-1]
        else:
            x, y = self.agent.pose.x, self.agent.pose.y
        self.agent.pose = AgentPose(x, y, yaw, pitch, self.agent.pose.camera_height)

    def _visit(self, points: list[tuple[float, float]]) -> None:
        self.agent.trail += points
        for x, y in points:
            room = self.home.room_at(x, y)
            if room is not None:
                self.agent.visited_rooms.add(room.room_id)

    def render(self) -> RGBDFrame:
        """The current view as the perception model reports it (once per view: asking again for
        the same view returns the same frame)."""
        return self._rendered()[2]

    def _rendered(self) -> tuple[tuple, RGBDFrame, RGBDFrame]:
        key = (self.home.version, self.agent.pose, self.clock)
        if self._frame is None or self._frame[0] != key:
            truth = self.renderer.render(self.home, self.agent.pose, self.clock)
            self._frame = (key, truth, self.perception.perceive(truth, self._place_of))
        return self._frame

    def _place_of(self, object_id: str) -> Optional[tuple[float, float, float]]:
        return self.home[object_id].center if object_id in self.home.entities else None

    def look_around(self) -> list[RGBDFrame]:
        """The views of one turn on the spot, the current view last (what Explore sees on arrival);
        the robot ends as it started. Views are stamped a second apart within the turn's time, the
        current one now: a camera never stamps two frames alike (memory over ROS drops a repeat)."""
        pose, frames = self.agent.pose, []
        for k in range(1, LOOK_AROUND_VIEWS + 1):
            self.agent.pose = replace(pose, yaw=pose.yaw + 2.0 * math.pi * (k % LOOK_AROUND_VIEWS) / LOOK_AROUND_VIEWS)
            frames.append(replace(self.render(), stamp=self.clock - (LOOK_AROUND_VIEWS - k)))
        self.agent.pose = pose
        return frames

    def metadata(self) -> dict:
        """The current state in AI2-THOR's ``event.metadata`` shape (y-up, Unity axes)."""
        return home_metadata(self, set(self._rendered()[1].external_ids.values()))

    def object_states(self) -> list[ObjectState]:
        return objects_from_metadata(self.metadata())

    def where_changed(self, changes: Iterable[StateChange]
                      ) -> list[tuple[StateChange, Optional[tuple[float, float, float]]]]:
        """:func:`sim.records.where_changed` for changes reported under the perception model's names
        (track ids): each is placed where its object is now."""
        changes = list(changes)
        if not changes:  # most skills change nothing: no need to describe the whole home
            return []
        named = [replace(o, object_id=self.perception.name_of(o.object_id)) for o in self.object_states()]
        return where_changed(changes, named)

    def drain_events(self) -> list[StateChange]:
        """State changes since the last call, oldest first."""
        out = [replace(c, object_id=self.perception.rename(c.object_id)) for c in self._events]
        self._events.clear()
        return out


@dataclass(frozen=True)
class WorldMoment:
    """A world's state at one moment, without its renderer (whose ray-casting scene cannot be
    copied): it pickles, so another process can carry on from the same moment."""

    home: Home
    household: Optional[Household]
    perception: Perception
    agent: AgentState
    clock: float

    @classmethod
    def of(cls, world: HomeWorld) -> "WorldMoment":
        """An independent copy of ``world``'s state (perception's tracks, drift and random state too)."""
        return cls(world.home.clone(), copy.deepcopy(world.household), copy.deepcopy(world.perception),
                   copy.deepcopy(world.agent), world.clock)

    def world(self) -> HomeWorld:
        """A world at this moment, with a renderer of its own (the moment itself is not shared)."""
        world = HomeWorld(self.home.clone())
        world.household, world.perception, world.agent = (
            copy.deepcopy(self.household), copy.deepcopy(self.perception), copy.deepcopy(self.agent))
        world.clock = self.clock
        return world
