"""A known scene as a camera stream: frames rendered by the embedded simulator at scripted poses.

Tests publish these through real topics into the memory nodes and compare what memory holds with
the simulator's ground truth (the instance masks' external ids and the objects' true positions).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from scene_graph.frames import RGBDFrame
from sim.home.generate import generate_home
from sim.home.world import HomeWorld
from sim.records import Action

SEED = 11


@dataclass(frozen=True)
class SceneStream:
    frames: tuple[RGBDFrame, ...]
    seen: dict[str, str]  # external id -> label, for every instance visible in some frame
    positions: dict[str, tuple[float, float, float]]  # external id -> true centre
    world: HomeWorld


def known_scene(n_furniture: int = 3, rate_hz: float = 10.0, start: float = 1.0) -> SceneStream:
    """Visit the first few pieces of furniture of a one-room home; stamps at ``rate_hz`` from ``start``."""
    world = HomeWorld(generate_home(SEED, n_rooms=1))
    furniture = sorted(e.object_id for e in world.home.entities.values() if e.kind.layer == "furniture")
    frames = []
    for object_id in furniture[:n_furniture]:
        if world.step(Action("GoToObject", object_id)).success:
            frames.append(world.render())
    frames = [dataclasses.replace(f, stamp=start + i / rate_hz) for i, f in enumerate(frames)]
    seen = {f.external_ids[i]: f.labels[i] for f in frames for i in f.labels if (f.instance_ids == i).sum() > 200}
    positions = {o.object_id: o.position for o in world.object_states()}
    return SceneStream(tuple(frames), seen, positions, world)
