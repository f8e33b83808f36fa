"""AI2-THOR's ``event.metadata`` shape: built from the embedded home, and read back into records.

``objects_from_metadata`` is the single reader for both the embedded simulator and a real
AI2-THOR, so goal checking and memory see one record type whichever produced the dict. Positions
in the dict are Unity axes (y up); ``sim.coords`` converts. Box centres stand in for AI2-THOR's
object pivots. One key is our extension: ``isCleaned`` (washed since last dirty; see
``scene_graph.ontology.STATE_NAMES``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sim.coords import thor_size_to_world, thor_to_world, thor_yaw_to_world, world_to_thor, world_yaw_to_thor
from sim.records import ObjectState, StateChange

if TYPE_CHECKING:
    from sim.home.entities import Entity
    from sim.home.world import HomeWorld

VISIBILITY_DISTANCE = 1.5  # AI2-THOR's default: farther objects are never "visible"
_TEMPERATURE_TO_THOR = {"hot": "Hot", "cold": "Cold", "room": "RoomTemp"}
_TEMPERATURE_FROM_THOR = {v: k for k, v in _TEMPERATURE_TO_THOR.items()}
# (our state, AI2-THOR capability flag, AI2-THOR state key)
_STATE_KEYS = (
    ("open", "openable", "isOpen"), ("sliced", "sliceable", "isSliced"), ("cooked", "cookable", "isCooked"),
    ("dirty", "dirtyable", "isDirty"), ("toggled", "toggleable", "isToggled"),
    ("filled", "canFillWithLiquid", "isFilledWithLiquid"), ("broken", "breakable", "isBroken"),
    ("used_up", "canBeUsedUp", "isUsedUp"),
)


def _aabb(e: "Entity") -> dict[str, Any]:
    lo, hi = e.lo, e.hi
    corners = [world_to_thor((x, y, z)) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    return {"cornerPoints": [[c["x"], c["y"], c["z"]] for c in corners],
            "center": world_to_thor(e.center),
            "size": {"x": e.size[0], "y": e.size[2], "z": e.size[1]}}


def object_metadata(world: "HomeWorld", e: "Entity", in_view: bool, contents: list[str]) -> dict[str, Any]:
    """One object as AI2-THOR reports it; ``contents``: the ids of what it directly holds."""
    home, pose = world.home, world.agent.pose
    camera = pose.camera_position
    distance = math.dist(camera, e.center)
    visible = in_view and distance <= VISIBILITY_DISTANCE and not home.is_hidden(e.object_id)
    kind = e.kind
    parents = home.ancestors(e.object_id)
    meta: dict[str, Any] = {
        "name": e.object_id.replace("|", "_"), "objectId": e.object_id, "objectType": e.object_type,
        "position": world_to_thor(e.center), "rotation": {"x": 0.0, "y": world_yaw_to_thor(e.yaw), "z": 0.0},
        "visible": visible, "isInteractable": visible, "distance": distance,
        "receptacle": kind.receptacle, "receptacleObjectIds": contents if kind.receptacle else None,
        "parentReceptacles": parents or None,
        "pickupable": kind.pickupable, "isPickedUp": e.picked_up,
        "moveable": kind.layer == "furniture" and not e.parent,
        "temperature": _TEMPERATURE_TO_THOR[str(e.states.get("temperature", "room"))],
        "isHeatSource": e.object_type in ("Microwave", "StoveBurner", "Toaster") and bool(e.states.get("toggled")),
        "isColdSource": e.object_type == "Fridge",
        "openness": 1.0 if e.states.get("open") else 0.0,
        "isCleaned": bool(e.states.get("cleaned", False)),
        "axisAlignedBoundingBox": _aabb(e), "objectOrientedBoundingBox": None,
        "mass": 0.0, "salientMaterials": None,
    }
    for name, flag, key in _STATE_KEYS:
        meta[flag] = name in e.states
        meta[key] = bool(e.states.get(name, False))
    return meta


def home_metadata(world: "HomeWorld", in_view: Iterable[str] = ()) -> dict[str, Any]:
    """The whole scene as AI2-THOR reports it after a step."""
    in_view = set(in_view)
    pose, k = world.agent.pose, world.renderer.intrinsics
    home, last = world.home, world.last_action
    held = world.agent.held
    contents: dict[str, list[str]] = {}
    for e in home:  # one pass: asking the home per object is quadratic in a building
        if e.parent is not None:
            contents.setdefault(e.parent, []).append(e.object_id)
    return {
        "sceneName": f"FloorPlan{home.floor_plan}" if home.floor_plan is not None else f"Home{home.seed}",
        "agent": {"name": "agent", "position": world_to_thor((pose.x, pose.y, 0.0)),
                  "rotation": {"x": 0.0, "y": world_yaw_to_thor(pose.yaw), "z": 0.0},
                  "cameraHorizon": math.degrees(pose.pitch), "isStanding": True},
        "cameraPosition": world_to_thor(pose.camera_position),
        "fov": math.degrees(2.0 * math.atan(k.height / (2.0 * k.fy))),  # vertical, as Unity's camera
        "screenWidth": k.width, "screenHeight": k.height,
        "objects": [object_metadata(world, e, e.object_id in in_view, contents.get(e.object_id, [])) for e in home],
        "inventoryObjects": [{"objectId": held, "objectType": home[held].object_type}] if held else [],
        "lastAction": last.action.name if last else "",
        "lastActionSuccess": last.success if last else True,
        "errorMessage": last.error if last else "",
        "actionReturn": None,
    }


def object_from_metadata(obj: Mapping[str, Any]) -> ObjectState:
    """One AI2-THOR object dict -> our record in the z-up world frame."""
    states: dict[str, Any] = {}
    for name, flag, key in _STATE_KEYS:
        if obj.get(flag):
            states[name] = bool(obj.get(key, False))
    states["temperature"] = _TEMPERATURE_FROM_THOR.get(obj.get("temperature", "RoomTemp"), "room")
    if obj.get("pickupable"):
        states["cleaned"] = bool(obj.get("isCleaned", False))
    box = obj.get("axisAlignedBoundingBox") or {}
    size = thor_size_to_world(box["size"]) if box.get("size") else (0.0, 0.0, 0.0)
    center = box.get("center") or obj["position"]
    return ObjectState(
        object_id=obj["objectId"], object_type=obj["objectType"], position=thor_to_world(center), size=size,
        yaw=thor_yaw_to_world(float((obj.get("rotation") or {}).get("y", 0.0))),
        parents=tuple(obj.get("parentReceptacles") or ()), contents=tuple(obj.get("receptacleObjectIds") or ()),
        states=states, picked_up=bool(obj.get("isPickedUp", False)), visible=bool(obj.get("visible", False)),
    )


def objects_from_metadata(metadata: Mapping[str, Any]) -> list[ObjectState]:
    return [object_from_metadata(o) for o in metadata.get("objects", [])]


def diff_states(before: Sequence[ObjectState], after: Sequence[ObjectState], stamp: float, cause: str,
                moved: float = 0.05) -> list[StateChange]:
    """Changes between two snapshots, for simulators that report states but not changes."""
    old = {o.object_id: o for o in before}
    out: list[StateChange] = []
    for new in after:
        prev = old.get(new.object_id)
        if prev is None:
            continue
        for name, value in new.states.items():
            if prev.states.get(name, value) != value:
                out.append(StateChange(new.object_id, new.object_type, name, prev.states.get(name), value, stamp,
                                       cause))
        if set(prev.parents) != set(new.parents):
            out.append(StateChange(new.object_id, new.object_type, "parent", prev.parents[0] if prev.parents else None,
                                   new.parents[0] if new.parents else None, stamp, cause))
        if prev.picked_up != new.picked_up:
            out.append(StateChange(new.object_id, new.object_type, "picked_up", prev.picked_up, new.picked_up, stamp,
                                   cause))
        if math.dist(prev.position, new.position) > moved:
            out.append(StateChange(new.object_id, new.object_type, "position", prev.position, new.position, stamp,
                                   cause))
    return out
