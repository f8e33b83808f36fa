"""Buildings: three floors of twelve rooms joined by stairs, navigation across floors, a camera per
floor, and floors as memory's top layer."""
from __future__ import annotations

import numpy as np
import pytest

from scene_graph.graph import SceneGraph
from scene_graph.records import ObjectNode, OrientedBox
from scene_graph.serialize import task_subgraph, whole_graph_text
from sim.home.generate import floor_plan_home, generate_building
from sim.home.layout import STAIR_LENGTH
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld
from sim.records import Action


@pytest.fixture(scope="module")
def building():
    return generate_building(7)


def test_a_building_has_three_floors_of_twelve_rooms_joined_by_stairs(building):
    assert building.floors == 3
    assert len(building.rooms) == 36
    assert [sum(r.floor == f for r in building.rooms) for f in range(3)] == [12, 12, 12]
    assert len({r.room_id for r in building.rooms}) == 36
    assert [p.floors for p in building.layout.portals] == [(0, 1), (1, 2)]
    for portal in building.layout.portals:
        lower, upper = (building.room_at(*xy) for xy in (portal.a, portal.b))
        assert (lower.room_id, upper.room_id) == portal.room_ids
        assert (lower.floor, upper.floor) == portal.floors


def test_a_building_is_the_same_for_the_same_seed(building):
    again = generate_building(7)
    assert sorted((e.object_id, e.center) for e in again) == sorted((e.object_id, e.center) for e in building)
    assert again.layout.portals == building.layout.portals
    assert sorted(e.object_id for e in generate_building(8)) != sorted(e.object_id for e in building)


def test_every_room_of_every_floor_is_reachable_from_the_start(building):
    nav = building.nav
    start = nav.nearest_free(*building.start_room.center)
    assert building.start_room.floor == 2
    dist, _ = nav.dijkstra(start)
    for room in building.rooms:
        i0, j0 = nav.cell(room.x0, room.y0)
        i1, j1 = nav.cell(room.x1, room.y1)
        assert np.isfinite(dist[i0:i1, j0:j1]).any(), room.room_id


def test_without_the_stairs_the_other_floors_are_out_of_reach(building):
    nav = building.nav
    links, nav.links = nav.links, {}
    try:
        dist, _ = nav.dijkstra(nav.nearest_free(*building.start_room.center))
    finally:
        nav.links = links
    ground = [r for r in building.rooms if r.floor == 0]
    assert not any(np.isfinite(dist[nav.cell(*r.center)]) for r in ground)


def test_going_to_an_object_downstairs_climbs_both_flights_and_counts_them():
    home = floor_plan_home(501)
    world = HomeWorld(home)
    fridge = next(e for e in home if e.object_type == "Fridge" and home.floor_at(*e.center[:2]) == 0)
    result = world.step(Action("GoToObject", fridge.object_id))
    assert result.success, result.error
    assert home.floor_at(world.agent.pose.x, world.agent.pose.y) == 0
    assert result.distance >= 2 * STAIR_LENGTH
    cells = [home.nav.cell(x, y) for x, y in world.agent.trail]
    hops = [(a, b) for a, b in zip(cells, cells[1:]) if b in home.nav.links.get(a, {})]
    assert len(hops) == 2
    assert world.agent.visited_rooms >= set(home.layout.portals[0].room_ids)


def test_a_camera_sees_only_the_floor_it_stands_on():
    home = floor_plan_home(502)
    world = HomeWorld(home)
    seen = set()
    for frame in world.look_around():
        seen |= set(frame.external_ids.values())
    assert seen
    assert {home.floor_at(*home[i].center[:2]) for i in seen} == {home.start_room.floor}


def test_memory_puts_floors_above_rooms_and_joins_them_at_the_stairs(building):
    world = HomeWorld(building)
    rooms, areas = world_layout(world)
    graph = SceneGraph()
    graph.set_layout(rooms, areas)
    assert graph.floors() == ["floor_0", "floor_1", "floor_2"]
    for room in building.rooms:
        assert graph.parent(room.room_id) == f"floor_{room.floor}"
    assert sorted(len(graph.children(f)) for f in graph.floors()) == [12, 12, 12]
    floor_of = {r.id: r.floor for r in rooms}
    by_id = {a.id: a for a in areas}
    crossings = {tuple(sorted((floor_of[a.room_id], floor_of[by_id[n].room_id])))
                 for a in areas for n in a.neighbors if floor_of[by_id[n].room_id] != floor_of[a.room_id]}
    assert crossings == {("floor_0", "floor_1"), ("floor_1", "floor_2")}
    text = whole_graph_text(graph)
    assert text.count("type: Floor") == 3
    room = building.rooms[13]
    assert f"{{name: {room.room_id}, type: Room, kind: {room.kind}, floor: floor_{room.floor}}}" in text


def test_a_task_subgraph_names_the_floor_of_what_it_shows(building):
    world = HomeWorld(building)
    graph = SceneGraph()
    graph.set_layout(*world_layout(world))
    fridge = next(e for e in building if e.object_type == "Fridge" and building.floor_at(*e.center[:2]) == 1)
    box = OrientedBox(fridge.center, fridge.size)
    graph.upsert_object(ObjectNode("obj_0000", "Fridge", "furniture", fridge.center, box))
    sub = task_subgraph(graph, "Open the fridge.")
    assert "floor: floor_1" in sub.text
    restored = SceneGraph.from_snapshot(graph.snapshot())
    assert restored.floors() == graph.floors() and restored.parent(fridge.room) == "floor_1"
