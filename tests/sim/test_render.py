"""Ray-cast frames: depth is geometry, ids are instances, closed containers hide contents."""
from __future__ import annotations

import math

import numpy as np

from sim.camera import AgentPose, camera_pose, default_intrinsics
from sim.home.generate import generate_home
from sim.home.render import Renderer
from tests.sim.scenes import add, on, room_home


def test_depth_of_a_box_at_known_distance_is_optical_z():
    home = room_home(8.0, 6.0, walls=False)
    box = add(home, "CounterTop", (3.25, 3.0, 1.0), (0.5, 4.0, 2.0))  # front face at x = 3.0
    frame = Renderer().render(home, AgentPose(1.0, 3.0, 0.0, 0.0, camera_height=1.0))
    k = frame.intrinsics
    iid = home.instance_id(box.object_id)
    assert frame.depth.dtype == np.float32 and frame.instance_ids.dtype == np.int32
    assert frame.depth.shape == (k.height, k.width) and frame.color.shape == (k.height, k.width, 3)
    face = frame.instance_ids == iid
    assert face[k.height // 2, k.width // 2]
    # Every pixel on the flat face has depth 2.0 m (z, not range along the ray).
    np.testing.assert_allclose(frame.depth[face], 2.0, atol=1e-3)
    assert frame.labels[iid] == "CounterTop" and frame.external_ids[iid] == box.object_id
    # Back-projecting a pixel through the pose lands on the face plane x = 3.0.
    v, u = np.argwhere(face)[0]
    z = frame.depth[v, u]
    p_cam = np.array([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z, 1.0])
    assert abs((frame.T_world_camera @ p_cam)[0] - 3.0) < 1e-3


def test_camera_pose_is_optical_frame():
    T = camera_pose((0.0, 0.0, 1.5), yaw=math.pi / 2, pitch=0.0)
    np.testing.assert_allclose(T[:3, 2], [0, 1, 0], atol=1e-12)  # optical z = forward = world +y
    np.testing.assert_allclose(T[:3, 0], [1, 0, 0], atol=1e-12)  # optical x = right = world +x
    np.testing.assert_allclose(T[:3, 1], [0, 0, -1], atol=1e-12)  # optical y = down
    down = camera_pose((0.0, 0.0, 1.5), yaw=0.0, pitch=0.3)[:3, 2]
    assert down[2] < 0 and down[0] > 0


def test_closed_fridge_hides_its_contents():
    home = room_home(6.0, 4.0, walls=False)
    fridge = add(home, "Fridge", (3.35, 2.0, 0.9), (0.7, 0.8, 1.8), facing=(-1, 0), open=True)
    apple = on(home, "Apple", fridge, level=1)
    renderer = Renderer()
    pose = AgentPose(1.6, 2.0, 0.0, math.radians(10.0))
    seen = renderer.render(home, pose)
    assert home.instance_id(apple.object_id) in seen.labels
    fridge.states["open"] = False
    home.version += 1
    hidden = renderer.render(home, pose)
    assert home.instance_id(apple.object_id) not in np.unique(hidden.instance_ids)
    assert home.instance_id(fridge.object_id) in hidden.labels


def test_walls_and_floor_have_instance_zero_but_depth():
    home = generate_home(2)
    nav = home.nav
    x, y = nav.center(nav.free_cells()[0])
    frame = Renderer(default_intrinsics(64, 48)).render(home, AgentPose(x, y, 0.3))
    structure = frame.instance_ids == 0
    assert structure.any() and (frame.depth[structure] > 0).mean() > 0.9  # enclosed by walls, floor, ceiling
    assert set(frame.labels) == set(np.unique(frame.instance_ids)) - {0}


def test_cached_scene_is_rebuilt_after_a_change():
    home = room_home(6.0, 4.0, walls=False)
    box = add(home, "CounterTop", (3.25, 2.0, 1.0), (0.5, 2.0, 2.0))
    renderer = Renderer()
    pose = AgentPose(1.0, 2.0, 0.0, 0.0, camera_height=1.0)
    assert abs(renderer.render(home, pose).depth[120, 160] - 2.0) < 1e-3
    box.center = (4.25, 2.0, 1.0)
    home.version += 1
    assert abs(renderer.render(home, pose).depth[120, 160] - 3.0) < 1e-3
