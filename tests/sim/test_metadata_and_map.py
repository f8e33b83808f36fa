"""The embedded world speaks AI2-THOR's metadata and draws a readable map."""
from __future__ import annotations

import numpy as np

from sim.coords import thor_to_world
from sim.home.world import HomeWorld
from sim.interface import Simulator
from sim.records import Action
from sim.topdown import draw_map, save_map
from tests.sim.scenes import kitchen


def test_world_implements_the_simulator_protocol():
    home, _ = kitchen()
    assert isinstance(HomeWorld(home), Simulator)


def test_metadata_has_thor_shape_and_reads_back_into_records():
    home, t = kitchen()
    world = HomeWorld(home)
    world.step(Action("GoToObject", t["apple"].object_id))
    world.step(Action("PickupObject", t["apple"].object_id))
    meta = world.metadata()
    assert meta["lastAction"] == "PickupObject" and meta["lastActionSuccess"]
    assert meta["inventoryObjects"] == [{"objectId": t["apple"].object_id, "objectType": "Apple"}]
    objs = {o["objectId"]: o for o in meta["objects"]}
    apple, fridge, knife = objs[t["apple"].object_id], objs[t["fridge"].object_id], objs[t["knife"].object_id]
    assert apple["isPickedUp"] and apple["parentReceptacles"] is None
    assert fridge["openable"] and fridge["isOpen"] is False and t["egg"].object_id in fridge["receptacleObjectIds"]
    assert objs[t["egg"].object_id]["parentReceptacles"] == [t["fridge"].object_id]
    assert knife["visible"] and not objs[t["egg"].object_id]["visible"]  # in reach vs. in a closed fridge
    assert thor_to_world(knife["position"]) == t["knife"].center
    assert len(knife["axisAlignedBoundingBox"]["cornerPoints"]) == 8
    records = {r.object_id: r for r in world.object_states()}
    mug = records[t["mug"].object_id]
    assert mug.states["dirty"] is True and mug.parents == (t["counter"].object_id,)
    assert np.allclose(mug.position, t["mug"].center) and np.allclose(mug.size, t["mug"].size)


def test_map_shows_rooms_agent_and_path(tmp_path):
    home, t = kitchen()
    world = HomeWorld(home)
    world.step(Action("GoToObject", t["fridge"].object_id))
    img = draw_map(world)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[1] > img.shape[0]  # a 6 x 4 m room
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    assert red.sum() > 30  # the path and the robot are drawn
    bare = draw_map(home)
    assert ((bare[..., 0] > 180) & (bare[..., 1] < 80) & (bare[..., 2] < 80)).sum() < red.sum()
    out = save_map(world, tmp_path / "map.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
