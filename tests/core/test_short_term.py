"""Short-term memory: eviction orders on scripted traces, merging, retrieval, hit rate, consolidation."""
from __future__ import annotations

import pytest

from scene_graph.short_term import (
    CountMinSketch,
    MemoryUnit,
    ShortTermMemory,
    WTinyLfuPolicy,
    change_unit,
    make_policy,
    observation_units,
)


def _replay(policy, trace: list[tuple[str, str]]) -> list[str]:
    """Run ("insert"|"access", key) steps; return the evicted keys in order."""
    evicted = []
    for op, key in trace:
        if op == "access":
            policy.access(key)
        elif (victim := policy.insert(key)) is not None:
            evicted.append(victim)
    return evicted


def _ins(*keys: str) -> list[tuple[str, str]]:
    return [("insert", k) for k in keys]


def _acc(*keys: str) -> list[tuple[str, str]]:
    return [("access", k) for k in keys]


def test_fifo_ignores_accesses() -> None:
    trace = _ins("a", "b", "c") + _acc("a", "a") + _ins("d", "e")
    assert _replay(make_policy("fifo_merge", 3), trace) == ["a", "b"]


def test_lru_evicts_least_recently_used() -> None:
    # [a b c] -a-> [b c a] +d evicts b -> [c a d] -c-> [a d c] +e evicts a
    trace = _ins("a", "b", "c") + _acc("a") + _ins("d") + _acc("c") + _ins("e")
    assert _replay(make_policy("lru", 3), trace) == ["b", "a"]


def test_lfu_evicts_least_frequent_ties_by_recency() -> None:
    # counts a3 b2 c1 -> +d evicts c; d used once more: b2 d2 tie, b older -> +e evicts b;
    # then a3 d2 e1 -> +f evicts e (the newcomer is the least frequent).
    trace = _ins("a", "b", "c") + _acc("a", "a", "b") + _ins("d") + _acc("d") + _ins("e", "f")
    assert _replay(make_policy("lfu", 3), trace) == ["c", "b", "e"]


def test_w_tinylfu_keeps_a_hot_item_through_a_scan_that_flushes_lru() -> None:
    scan = [f"s{i}" for i in range(30)]
    trace = _ins("hot") + _acc(*["hot"] * 5) + _ins(*scan)
    lru_evicted = _replay(make_policy("lru", 10), trace)
    assert lru_evicted[0] == "hot"

    policy = make_policy("w_tinylfu", 10, window_fraction=0.1)  # window 1, main 9
    # The window passes hot, s0..s7 into the empty main segment; from then on every one-off
    # candidate leaving the window loses the frequency duel against hot (the probation victim).
    assert _replay(policy, trace) == scan[8:29]
    assert policy.contains("hot") and policy.contains("s29") and len(policy) == 10


def test_w_tinylfu_admits_a_frequent_newcomer_and_protects_hits() -> None:
    policy = WTinyLfuPolicy(3, window_fraction=0.34)  # window 1, main 2 (protected up to 2)
    assert (policy.window_capacity, policy.main_capacity) == (1, 2)
    trace = (
        _ins("a", "b", "c")  # window [c], probation [a b]
        + _acc("x", "x", "x")  # misses of x still count in the sketch
        + _ins("x")  # candidate c (1) loses to victim a (1): c is dropped
        + _ins("y")  # candidate x (4) beats a (1): a evicted, probation [b x]
        + _acc("b")  # b promoted to protected: probation [x]
        + _ins("z")  # candidate y (1) loses to x (4)
    )
    assert _replay(policy, trace) == ["c", "a", "y"]
    assert all(policy.contains(k) for k in ("b", "x", "z"))


def test_count_min_sketch_counts_and_ages() -> None:
    sketch = CountMinSketch(width=64, sample_size=10)
    for _ in range(8):
        sketch.increment("apple")
    sketch.increment("mug")
    assert (sketch.estimate("apple"), sketch.estimate("mug"), sketch.estimate("knife")) == (8, 1, 0)
    sketch.increment("mug")  # 10th increment: every counter halves
    assert (sketch.estimate("apple"), sketch.estimate("mug")) == (4, 1)


def test_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown replacement policy 'mru'.*fifo_merge, lru, lfu, w_tinylfu"):
        ShortTermMemory(5, policy="mru")


def _unit(object_id: str, position=(0.0, 0.0, 0.0), stamp: float = 0.0, **fields) -> MemoryUnit:
    return MemoryUnit(object_id, object_id.split("|")[0], position, stamp, **fields)


def test_unit_text_is_karma_style() -> None:
    unit = _unit("Apple|1", (1.2, 0.3, 0.9), state=(("sliced", True), ("cooked", False)), receptacle="Fridge")
    assert unit.describe() == "Apple sliced at (1.20, 0.30, 0.90) in Fridge"
    assert _unit("Fridge|1", state=(("open", False),)).describe() == "Fridge closed at (0.00, 0.00, 0.00)"
    assert _unit("Mug|1", text="my favourite mug").describe() == "my favourite mug"
    with pytest.raises(ValueError, match="unit kind"):
        _unit("Mug|1", kind="rumour")


def test_fifo_merge_replaces_in_place() -> None:
    stm = ShortTermMemory(2, policy="fifo_merge")
    stm.add(_unit("Apple|1", (1, 0, 0), 1.0, state=(("cooked", False),), image_ref="img/1.png"))
    stm.add(_unit("Mug|1", (2, 0, 0), 2.0))
    assert stm.add(_unit("Apple|1", (3, 0, 0), 3.0, state=(("sliced", True),))) is None
    assert len(stm) == 2
    apple = stm.get("Apple|1")
    assert apple.position == (3.0, 0.0, 0.0) and apple.stamp == 3.0
    assert apple.state_dict() == {"cooked": False, "sliced": True} and apple.image_ref == "img/1.png"
    # The merge did not move Apple to the back of the queue: it is still the oldest.
    assert stm.add(_unit("Bread|1", stamp=4.0)).object_id == "Apple|1"


def test_lru_merge_counts_as_use() -> None:
    stm = ShortTermMemory(2, policy="lru")
    stm.add(_unit("Apple|1"))
    stm.add(_unit("Mug|1"))
    stm.add(_unit("Apple|1", (1, 1, 1)))
    assert stm.add(_unit("Bread|1")).object_id == "Mug|1"


def test_hit_and_miss_counters() -> None:
    stm = ShortTermMemory(3, policy="lru")
    assert stm.hit_rate == 0.0
    for object_id in ("Apple|1", "Mug|1", "Mug|2"):
        stm.add(_unit(object_id))
    assert [u.object_id for u in stm.lookup("Apple|1")] == ["Apple|1"]
    assert {u.object_id for u in stm.lookup("mug")} == {"Mug|1", "Mug|2"}  # by everyday type word
    assert stm.lookup("Knife") == ()
    assert stm.lookup("Apple|7") == ()
    assert (stm.hits, stm.misses, stm.hit_rate) == (2, 2, 0.5)
    stm.add(_unit("Bread|1"))  # lookups were uses: Apple and the mugs are fresher than nothing
    assert "Apple|1" not in stm  # LRU order after lookups: Apple, Mug|1, Mug|2 -> Apple leaves
    stm.clear()
    assert (len(stm), stm.hits, stm.misses) == (0, 0, 0)


@pytest.fixture(scope="module")
def kitchen_units() -> list[MemoryUnit]:
    return [
        _unit("Mug|1", (0.4, 1.1, 0.92), 1.0, state=(("dirty", True),), receptacle="CounterTop"),
        _unit("Apple|1", (1.2, 0.3, 0.9), 2.0, state=(("sliced", True),), receptacle="Fridge"),
        _unit("Television|1", (4.0, 2.0, 0.6), 3.0, state=(("toggled", True),), receptacle="TVStand"),
        _unit("Book|1", (5.0, 3.0, 0.75), 4.0, receptacle="Desk"),
    ]


def test_retrieval_with_real_model_ranks_the_relevant_unit_first(kitchen_units: list[MemoryUnit]) -> None:
    stm = ShortTermMemory(10, policy="w_tinylfu")
    for unit in kitchen_units:
        stm.add(unit)
    ranked = stm.retrieve("slice the apple", k=4)
    assert ranked[0][0].object_id == "Apple|1"
    scores = {u.object_id: s for u, s in ranked}
    assert scores["Apple|1"] > scores["Mug|1"]
    assert stm.retrieve("wash the dirty mug", k=1)[0][0].object_id == "Mug|1"
    stm.add(_unit("Mug|1", (0.4, 1.1, 0.92), 5.0, state=(("dirty", False),), receptacle="Sink"))
    assert "clean" in stm.retrieve("a clean mug in the sink", k=1)[0][0].describe()  # re-embedded after merge


def test_retrieval_counts_as_access(kitchen_units: list[MemoryUnit]) -> None:
    stm = ShortTermMemory(3, policy="lru")
    for unit in kitchen_units[:3]:  # Mug, Apple, Television: Mug is least recent
        stm.add(unit)
    assert stm.retrieve("find the mug", k=1)[0][0].object_id == "Mug|1"
    assert stm.add(kitchen_units[3]).object_id == "Apple|1"


def test_query_looks_up_the_named_types_then_retrieves(kitchen_units: list[MemoryUnit]) -> None:
    stm = ShortTermMemory(3, policy="lru")
    for unit in kitchen_units[:3]:  # Mug, Apple, Television: Mug is least recent
        stm.add(unit)
    newest = stm.query("  ", k=2)  # no instruction: the newest units, nothing counted or used
    assert [u.object_id for u, _ in newest] == ["Television|1", "Apple|1"] and (stm.hits, stm.misses) == (0, 0)
    ranked = stm.query("put the mug and the knife away", k=1)
    assert (stm.hits, stm.misses) == (1, 1)  # the mug is held, no knife is
    assert ranked[0][0].object_id == "Mug|1"
    assert stm.add(kitchen_units[3]).object_id == "Apple|1"  # the lookup and the answer used the mug


class RecordingGraph:
    """Stands in for SceneGraph.set_object_state: known ids accept, others are refused."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.calls: list[tuple] = []

    def set_object_state(self, object_id: str, state: str, value, stamp: float) -> bool:
        self.calls.append((object_id, state, value, stamp))
        return object_id in self.known


def test_consolidation_applies_only_confirmed_changes() -> None:
    graph = RecordingGraph({"Apple|1", "Fridge|1", "Mug|1"})
    stm = ShortTermMemory(5)
    stm.add(_unit("Apple|1", stamp=1.0, kind="state_change", state=(("sliced", True),)))
    assert stm.consolidate(graph) == 0 and graph.calls == []  # seen once: not yet confirmed
    stm.add(_unit("Apple|1", stamp=2.0, state=(("sliced", True),)))  # an observation agrees
    assert stm.consolidate(graph) == 1
    assert graph.calls == [("Apple|1", "sliced", True, 2.0)]
    assert stm.consolidate(graph) == 0  # applied once only

    stm.add(_unit("Fridge|1", stamp=3.0, kind="state_change", state=(("open", True),), confirmed=True))
    stm.add(_unit("Fridge|1", stamp=3.0, state=(("open", False),)))  # memory's old belief echoed: stands
    stm.add(_unit("Mug|1", stamp=3.0, kind="state_change", state=(("filled", True),)))
    stm.add(_unit("Mug|1", stamp=4.0, state=(("filled", False),)))  # contradicted: cancelled
    stm.add(_unit("Ghost|1", stamp=5.0, kind="state_change", state=(("open", True),), confirmed=True))
    assert stm.consolidate(graph) == 1  # the fridge; Ghost|1 is unknown to the graph and dropped
    assert graph.calls[1:] == [("Fridge|1", "open", True, 3.0), ("Ghost|1", "open", True, 5.0)]
    assert stm.pending_changes() == {}


def test_confirmed_change_survives_eviction_unconfirmed_does_not() -> None:
    graph = RecordingGraph({"Apple|1", "Egg|1"})
    stm = ShortTermMemory(1, policy="fifo_merge")
    stm.add(_unit("Apple|1", kind="state_change", state=(("sliced", True),), confirmed=True))
    stm.add(_unit("Egg|1", kind="state_change", state=(("broken", True),)))  # evicts Apple
    stm.add(_unit("Bread|1"))  # evicts Egg with its unconfirmed change
    assert stm.consolidate(graph) == 1
    assert graph.calls == [("Apple|1", "sliced", True, 0.0)]


def test_confirmed_changes_consolidate_into_the_real_scene_graph() -> None:
    from scene_graph.graph import SceneGraph
    from scene_graph.records import ObjectNode, OrientedBox

    graph = SceneGraph()
    graph.upsert_object(ObjectNode("obj_1", "Apple", "object", (1.0, 0.0, 0.9),
                                   OrientedBox((1.0, 0.0, 0.9), (0.1, 0.1, 0.1))))
    stm = ShortTermMemory(capacity=5, policy="fifo_merge", embedder=None)
    change = MemoryUnit("obj_1", "Apple", (1.0, 0.0, 0.9), stamp=5.0, kind="state_change", state=(("sliced", True),))
    stm.add(change)
    assert stm.consolidate(graph) == 0  # one report is not yet a confirmed change
    assert graph.get_object("obj_1").state("sliced") is None
    stm.add(change)
    assert stm.consolidate(graph) == 1
    assert graph.get_object("obj_1").state("sliced") is True
    stm.add(MemoryUnit("obj_9", "Mug", (0.0, 0.0, 0.0), stamp=6.0, kind="state_change",
                       state=(("dirty", True),), confirmed=True))
    assert stm.consolidate(graph) == 0  # unknown to long-term memory: dropped, not applied


def test_reported_changes_become_units_and_where_an_object_is_is_no_state() -> None:
    opened = change_unit("Fridge|1", "Fridge", (1.0, 2.0, 0.0), 4.0, "open", True, confirmed=True)
    assert (opened.kind, opened.state, opened.confirmed, opened.receptacle) == ("state_change", (("open", True),),
                                                                                 True, None)
    moved = change_unit("Mug|1", "Mug", (0.5, 0.5, 0.9), 4.0, "parent", "Sink|1", confirmed=False)
    assert moved.state == () and moved.receptacle == "Sink|1"
    assert change_unit("Mug|1", "Mug", (0.5, 0.5, 0.9), 4.0, "parent", "", confirmed=False).receptacle is None
    assert change_unit("Mug|1", "Mug", (0.5, 0.5, 0.9), 4.0, "position", "", confirmed=True).state == ()


def test_only_what_a_frame_saw_becomes_an_observation_keyed_by_the_source_id() -> None:
    from scene_graph.records import MISSING, ObjectNode, OrientedBox

    def node(object_id: str, last_seen: float, external_id: str = "", status: str = "visible") -> ObjectNode:
        return ObjectNode(object_id, "Apple", "object", (1.0, 0.0, 0.9), OrientedBox((1.0, 0.0, 0.9), (0.1,) * 3),
                          states=(("sliced", False),), last_seen=last_seen, status=status, external_id=external_id)

    units = observation_units([node("obj_1", 7.0, "Apple|1"), node("obj_2", 7.0), node("obj_3", 6.0),
                               node("obj_4", 7.0, status=MISSING)], stamp=7.0)
    assert [u.object_id for u in units] == ["Apple|1", "obj_2"]  # obj_3 was only re-derived, obj_4 is gone
    assert all(u.kind == "observation" and u.stamp == 7.0 and u.state == (("sliced", False),) for u in units)
