"""Embedded-simulator rendering speed, against baselines measured in the same run.

Baselines: a naive per-pixel numpy ray/box intersection (slab test against every box, depth and
instance only) on the same scene and views, and our renderer with its mesh/BVH cache disabled.
``step_ms`` times a GoToObject + Pickup + Put cycle with a frame after each, the loop a planner runs.
"""
from __future__ import annotations

import time

import numpy as np

from sim.camera import AgentPose, default_intrinsics
from sim.home.generate import generate_home
from sim.home.render import Renderer
from sim.home.world import HomeWorld
from sim.records import Action


def _poses(home, n: int) -> list[AgentPose]:
    cells = home.nav.free_cells()
    step = max(1, len(cells) // n)
    return [AgentPose(*home.nav.center(c), yaw=0.7 * i) for i, c in enumerate(cells[::step][:n])]


def _fps(renderer: Renderer, home, poses: list[AgentPose]) -> float:
    renderer.render(home, poses[0])
    start = time.perf_counter()
    for pose in poses:
        renderer.render(home, pose)
    return len(poses) / (time.perf_counter() - start)


def _numpy_fps(home, poses: list[AgentPose], intrinsics) -> float:
    boxes = [(np.array(s.lo), np.array(s.hi)) for s in home.layout.slabs]
    boxes += [(np.array(e.lo), np.array(e.hi)) for e in home if not e.picked_up and not home.is_hidden(e.object_id)]
    lo = np.array([b[0] for b in boxes])
    hi = np.array([b[1] for b in boxes])
    k = intrinsics
    u, v = np.meshgrid(np.arange(k.width), np.arange(k.height))
    dirs = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u, dtype=float)], -1).reshape(-1, 3)
    start = time.perf_counter()
    for pose in poses:
        T = pose.T_world_camera()
        d = dirs @ T[:3, :3].T
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        depth = np.full(len(d), np.inf)
        ids = np.zeros(len(d), dtype=np.int32)
        for i in range(len(boxes)):
            t0, t1 = (lo[i] - T[:3, 3]) * inv, (hi[i] - T[:3, 3]) * inv
            near = np.minimum(t0, t1).max(axis=1)
            far = np.maximum(t0, t1).min(axis=1)
            hit = (far >= np.maximum(near, 0.0)) & (near < depth) & (near > 0)
            depth[hit], ids[hit] = near[hit], i
    return len(poses) / (time.perf_counter() - start)


def _step_ms(world: HomeWorld, cycles: int) -> float:
    things = [e for e in world.home if e.kind.pickupable and not world.home.is_hidden(e.object_id)][:cycles]
    actions = 0
    start = time.perf_counter()
    for e in things:
        host = e.parent
        for action in (Action("GoToObject", e.object_id), Action("PickupObject", e.object_id),
                       Action("PutObject", host)):
            world.step(action)
            world.render()
            actions += 1
    return 1000.0 * (time.perf_counter() - start) / max(actions, 1)


def run(quick: bool = False) -> dict:
    home = generate_home(0, n_rooms=6)
    frames = 20 if quick else 100
    poses = _poses(home, frames)
    small, large = default_intrinsics(320, 240), default_intrinsics(640, 480)
    fps_small = _fps(Renderer(small), home, poses)
    fps_large = _fps(Renderer(large), home, poses)
    no_cache = _fps(Renderer(small, reuse_scene=False), home, poses[: max(5, frames // 4)])
    baseline = _numpy_fps(home, poses[:3 if quick else 6], small)
    return {
        "scene_entities": len(home.entities),
        "fps_320x240": round(fps_small, 1),
        "fps_640x480": round(fps_large, 1),
        "step_ms": round(_step_ms(HomeWorld(generate_home(0, n_rooms=6)), 3 if quick else 8), 2),
        "fps_320x240_without_scene_cache": round(no_cache, 1),
        "baseline_fps_320x240_numpy_ray_box": round(baseline, 2),
        "ratio_vs_baseline": round(fps_small / baseline, 1),
    }


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
