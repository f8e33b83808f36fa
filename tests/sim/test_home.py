"""Generated homes: reproducible, connected, numbered like AI2-THOR, and stocked as asked."""
from __future__ import annotations

import re

import numpy as np
import pytest

from scene_graph.ontology import OBJECT_TYPES
from sim.home.generate import floor_plan_home, floor_plan_kind, generate_home
from sim.home.home import REACH

ID = re.compile(r"^[A-Za-z]+\|[+-]\d\d\.\d\d\|[+-]\d\d\.\d\d\|[+-]\d\d\.\d\d(\|\d+)?$")


def _fingerprint(home):
    return ([(r.room_id, r.x0, r.y0, r.x1, r.y1) for r in home.rooms], [(d.x, d.y) for d in home.layout.doors],
            [(e.object_id, e.center, e.size, e.parent, sorted(e.states.items())) for e in home])


def test_same_seed_same_home_and_different_seed_differs():
    assert _fingerprint(generate_home(7)) == _fingerprint(generate_home(7))
    assert _fingerprint(generate_home(7)) != _fingerprint(generate_home(8))


@pytest.mark.parametrize("seed", range(24))
def test_every_room_and_piece_is_reachable(seed):
    home = generate_home(seed)
    nav = home.nav
    assert nav.components().max() == 1  # one connected free space
    start = nav.free_cells()[0]
    dist, _ = nav.dijkstra(start)
    for room in home.rooms:
        cells = [c for c in nav.free_cells() if room.contains(*nav.center(c))]
        assert cells and all(np.isfinite(dist[c]) for c in cells), room.room_id
    for e in home:
        if e.kind.layer == "furniture":
            best = min(home.horizontal_distance(*nav.center(c), e.object_id) for c in nav.free_cells())
            assert best <= REACH, e.object_id
    assert 1 <= len(home.rooms) <= 6


def test_room_count_is_respected_and_doors_join_rooms():
    home = generate_home(3, n_rooms=6, main_kind="Bedroom")
    assert len(home.rooms) == 6 and home.rooms[0].kind == "Bedroom"
    assert {r.kind for r in home.rooms} == {"Kitchen", "LivingRoom", "Bedroom", "Bathroom"}
    assert len(home.layout.doors) >= 5  # a spanning tree at least


@pytest.mark.parametrize("number,kind", [(1, "Kitchen"), (30, "Kitchen"), (201, "LivingRoom"),
                                         (315, "Bedroom"), (430, "Bathroom")])
def test_floor_plan_numbering(number, kind):
    home = floor_plan_home(number)
    assert floor_plan_kind(number) == kind
    assert home.rooms[0].kind == kind and home.floor_plan == number
    assert _fingerprint(home) == _fingerprint(floor_plan_home(number))


def test_floor_plan_out_of_numbering_is_refused():
    with pytest.raises(ValueError, match="FloorPlan150"):
        floor_plan_home(150)


def test_required_types_are_present():
    wanted = ("Apple", "Knife", "Plunger", "Laptop", "Desk", "Faucet", "CD")
    home = floor_plan_home(5, wanted)
    present = {e.object_type for e in home}
    assert set(wanted) <= present


def test_objects_rest_on_receptacles_with_thor_style_ids():
    home = generate_home(11)
    for e in home:
        assert ID.match(e.object_id), e.object_id
        if e.kind.pickupable:
            host = home[e.parent]
            assert host.receptacle is not None
            lo, hi = host.lo, host.hi
            assert lo[0] - 1e-6 <= e.center[0] <= hi[0] + 1e-6 and lo[1] - 1e-6 <= e.center[1] <= hi[1] + 1e-6
            assert abs(e.lo[2] - host.rest_height(e.level)) < 1e-6
    assert all(OBJECT_TYPES[e.object_type] for e in home)
