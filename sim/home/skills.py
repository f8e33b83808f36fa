"""The robot's skills, named and failing as in AI2-THOR and KARMA.

Each skill checks its preconditions in a fixed order (object known, right kind, hand state,
hidden, reach, line of sight) and raises the first failure with its code
(:class:`scene_graph.outcomes.SkillCode`) and a message in AI2-THOR's words, so a person reads the
same messages here as on the real simulator.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Optional

from scene_graph.outcomes import SkillCode
from sim.home.entities import Entity
from sim.home.home import REACH
from sim.home.placement import find_spot
from sim.records import Action

if TYPE_CHECKING:
    from sim.home.world import HomeWorld

_KNIVES = ("Knife", "ButterKnife")
_APPLIANCES = {
    "CleanObject": ("Sink", "SinkBasin", "Faucet"),
    "FillObject": ("Sink", "SinkBasin", "Faucet", "CoffeeMachine"),
    "HeatObject": ("Microwave", "StoveBurner"),
    "CoolObject": ("Fridge",),
}
MANIPULATION_SECONDS = 2.0


class SkillError(Exception):
    """A failed precondition: ``code`` is what callers decide on, the message is the result's error."""

    def __init__(self, code: SkillCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def _target(world: "HomeWorld", action: Action) -> Entity:
    if not action.object_id:
        raise SkillError(SkillCode.SKILL_FAILED, f"{action.name} needs an objectId")
    e = world.home.entities.get(action.object_id)
    if e is None:
        raise SkillError(SkillCode.UNKNOWN_OBJECT,
                         f"Object ID appears to be invalid: no object {action.object_id!r}")
    return e


def _check_reach(world: "HomeWorld", e: Entity) -> None:
    pose = world.agent.pose
    if world.home.is_hidden(e.object_id):
        raise SkillError(SkillCode.NOT_VISIBLE,
                         f"{e.object_id} is not visible (it is inside a closed receptacle)")
    distance = world.home.horizontal_distance(pose.x, pose.y, e.object_id)
    if distance > REACH + 1e-6:
        raise SkillError(SkillCode.NOT_REACHABLE,
                         f"{e.object_id} is too far away ({distance:.2f} m; reach is {REACH:.1f} m)")
    if not world.renderer.line_of_sight(world.home, pose.camera_position, e.object_id):
        raise SkillError(SkillCode.NOT_VISIBLE, f"{e.object_id} is not visible from here")


def _check_usable(world: "HomeWorld", e: Entity) -> None:
    if world.agent.held != e.object_id:
        _check_reach(world, e)


def _nearby(world: "HomeWorld", types: tuple[str, ...]) -> Optional[Entity]:
    pose = world.agent.pose
    near = [a for a in world.home if a.object_type in types and not world.home.is_hidden(a.object_id)
            and world.home.horizontal_distance(pose.x, pose.y, a.object_id) <= REACH]
    return near[0] if near else None


def _held(world: "HomeWorld") -> Entity:
    if world.agent.held is None:
        raise SkillError(SkillCode.SKILL_FAILED, "Agent is not holding any object")
    return world.home[world.agent.held]


def pickup(world: "HomeWorld", action: Action) -> None:
    e = _target(world, action)
    if not e.kind.pickupable:
        raise SkillError(SkillCode.INVALID_OBJECT, f"{e.object_id} is not pickupable")
    if world.agent.held is not None:
        raise SkillError(SkillCode.SKILL_FAILED, f"Agent's hand is full: already holding {world.agent.held}")
    _check_reach(world, e)
    world.effects.pick_up(e, world.cause(action))
    world.agent.held = e.object_id


def put(world: "HomeWorld", action: Action) -> None:
    held = _held(world)
    host = _target(world, action)
    inside_held = [d.object_id for d in world.home.descendants(held.object_id)]
    if host.object_id == held.object_id or host.object_id in inside_held:
        raise SkillError(SkillCode.INVALID_OBJECT, f"Cannot put {held.object_id} into itself")
    if host.receptacle is None:
        raise SkillError(SkillCode.INVALID_OBJECT, f"{host.object_id} is not a receptacle")
    if host.receptacle.mode == "inside" and host.kind.openable and not host.states.get("open"):
        raise SkillError(SkillCode.SKILL_FAILED, f"{host.object_id} is closed: open the receptacle first")
    _check_reach(world, host)
    # The free spot nearest the robot, on any level, either way round: a crowded spot is no failure.
    spot = find_spot(host, held.size, world.home, near=(world.agent.pose.x, world.agent.pose.y))
    if spot is None:
        size = " x ".join(f"{v:.2f}" for v in held.size)
        raise SkillError(SkillCode.NO_FREE_SPOT,
                         f"No valid positions to place {held.object_id} in {host.object_id}: it does not fit "
                         f"(no free {size} m spot on any of its {len(host.receptacle.levels)} level(s))")
    world.effects.place(held, host, *spot, world.cause(action))
    world.agent.held = None


def _set_once(world: "HomeWorld", action: Action, flag: str, name: str, value: bool, already: str) -> None:
    e = _target(world, action)
    if not getattr(e.kind, flag):
        raise SkillError(SkillCode.INVALID_OBJECT, f"{e.object_id} is not {flag}")
    if e.states.get(name) == value:
        raise SkillError(SkillCode.ALREADY_DONE, f"{e.object_id} is already {already}")
    _check_usable(world, e)
    world.effects.set_state(e, name, value, world.cause(action))
    world.effects.settle(world.cause(action))


def open_object(world: "HomeWorld", action: Action) -> None:
    _set_once(world, action, "openable", "open", True, "open")


def close_object(world: "HomeWorld", action: Action) -> None:
    _set_once(world, action, "openable", "open", False, "closed")


def toggle_on(world: "HomeWorld", action: Action) -> None:
    _set_once(world, action, "toggleable", "toggled", True, "on")


def toggle_off(world: "HomeWorld", action: Action) -> None:
    _set_once(world, action, "toggleable", "toggled", False, "off")


def slice_object(world: "HomeWorld", action: Action) -> None:
    e = _target(world, action)
    if not e.kind.sliceable:
        raise SkillError(SkillCode.INVALID_OBJECT, f"{e.object_id} is not sliceable")
    if e.states.get("sliced"):
        raise SkillError(SkillCode.ALREADY_DONE, f"{e.object_id} is already sliced")
    held = world.agent.held
    if held is None or world.home[held].object_type not in _KNIVES:
        raise SkillError(SkillCode.SKILL_FAILED, f"Slicing {e.object_id} needs a Knife or ButterKnife in hand")
    _check_reach(world, e)
    world.effects.set_state(e, "sliced", True, world.cause(action))


def _appliance_skill(apply: Callable[["HomeWorld", Entity, str], object],
                     requirement: str) -> Callable[["HomeWorld", Action], None]:
    """Macro skills (KARMA's CleanObject and friends): the object in hand or within reach, and
    the right appliance within reach of the robot."""
    def skill(world: "HomeWorld", action: Action) -> None:
        e = _target(world, action)
        if requirement and not getattr(e.kind, requirement):
            raise SkillError(SkillCode.INVALID_OBJECT, f"{e.object_id} is not {requirement}")
        _check_usable(world, e)
        if _nearby(world, _APPLIANCES[action.name]) is None:
            raise SkillError(SkillCode.SKILL_FAILED,
                             f"{action.name} needs a {' or '.join(_APPLIANCES[action.name])} within reach")
        apply(world, e, world.cause(action))
    return skill


clean = _appliance_skill(lambda w, e, cause: w.effects.wash(e, cause), "")
heat = _appliance_skill(lambda w, e, cause: w.effects.heat(e, cause), "")
cool = _appliance_skill(lambda w, e, cause: w.effects.set_state(e, "temperature", "cold", cause), "")
fill = _appliance_skill(lambda w, e, cause: w.effects.set_state(e, "filled", True, cause), "fillable")

MANIPULATION: dict[str, Callable[["HomeWorld", Action], None]] = {
    "PickupObject": pickup, "PutObject": put, "OpenObject": open_object, "CloseObject": close_object,
    "SliceObject": slice_object, "ToggleObjectOn": toggle_on, "ToggleObjectOff": toggle_off,
    "CleanObject": clean, "HeatObject": heat, "CoolObject": cool, "FillObject": fill,
}


def aim(x: float, y: float, camera_height: float, target: tuple[float, float, float]) -> tuple[float, float]:
    """Yaw and downward pitch that point the camera at ``target`` (pitch kept within 0-60 deg)."""
    dx, dy = target[0] - x, target[1] - y
    yaw = math.atan2(dy, dx) if math.hypot(dx, dy) > 1e-6 else 0.0
    pitch = math.atan2(camera_height - target[2], math.hypot(dx, dy))
    return yaw, min(max(pitch, 0.0), math.radians(60.0))
