"""Prompt text: KARMA-style whole graph, task subgraphs within budget, token counting."""
from __future__ import annotations

import re

import pytest

from scene_graph.graph import SceneGraph, grid_areas
from scene_graph.records import ObjectNode, OrientedBox, RoomNode
from scene_graph.serialize import instruction_types, task_subgraph, whole_graph_text
from scene_graph.tokens import count_tokens

ROOMS = [RoomNode("room_0", "Kitchen", ((0, 0), (4, 0), (4, 4), (0, 4))),
         RoomNode("room_1", "LivingRoom", ((4, 0), (8, 0), (8, 4), (4, 4)))]
LINE = re.compile(r"^\{name: [a-z]+_\d+, type: \w+(, [a-z ]+: [^,{}]+(, [^,{}]+)*)*\}$")


def add(graph: SceneGraph, label: str, center, extent, layer: str = "object") -> str:
    box = OrientedBox(tuple(center), tuple(extent))
    return graph.upsert_object(ObjectNode(graph.new_object_id(), label, layer, box.center, box)).id


@pytest.fixture
def home():
    graph = SceneGraph()
    graph.set_layout(ROOMS, grid_areas(ROOMS, spacing=2.0))
    ids = {
        "table": add(graph, "DiningTable", (1, 1, 0.375), (1.4, 0.9, 0.75), "furniture"),
        "fridge": add(graph, "Fridge", (3, 3, 0.9), (0.8, 0.7, 1.8), "furniture"),
        "sofa": add(graph, "Sofa", (6, 2, 0.4), (2.0, 0.9, 0.8), "furniture"),
        "apple": add(graph, "Apple", (1.2, 1.0, 0.795), (0.08, 0.08, 0.09)),
        "mug": add(graph, "Mug", (0.7, 1.0, 0.80), (0.09, 0.09, 0.1)),
        "remote": add(graph, "RemoteControl", (6, 2, 0.81), (0.05, 0.18, 0.02)),
        "egg": add(graph, "Egg", (3, 3, 0.9), (0.05, 0.05, 0.06)),
    }
    graph.set_object_state(ids["fridge"], "open", False, 2.0)
    return graph, ids


def test_prompt_text_is_counted_by_the_process_tokenizer():
    assert count_tokens("") == 0
    assert count_tokens("{name: area_1}") >= 5  # at least: { name : area 1


def test_instruction_words_map_to_types():
    assert instruction_types("put the apple in the fridge") == ["Apple", "Fridge"]
    assert instruction_types("bring me the TV remote") == ["RemoteControl"]
    assert instruction_types("throw the tomatoes in the trash can") == ["Tomato", "GarbageCan"]


def test_whole_graph_has_one_karma_line_per_node(home):
    graph, ids = home
    lines = whole_graph_text(graph).splitlines()
    assert len(lines) == len(graph.rooms()) + len(graph.areas()) + len(graph)
    assert all(LINE.match(line) for line in lines), [text for text in lines if not LINE.match(text)]
    area = graph.get_object(ids["table"]).area_id
    (area_text,) = [text for text in lines if text.startswith(f"{{name: {area},")]
    assert ids["table"] in area_text and "adjacent nodes: [" in area_text
    (apple_text,) = [text for text in lines if text.startswith(f"{{name: {ids['apple']},")]
    assert f"on: {ids['table']}" in apple_text and "room: room_0" in apple_text
    (fridge_text,) = [text for text in lines if text.startswith(f"{{name: {ids['fridge']},")]
    assert "states: [open: false]" in fridge_text


def test_task_subgraph_holds_targets_holders_and_rooms_only(home):
    graph, ids = home
    prompt = task_subgraph(graph, "put the apple in the fridge")
    assert set(prompt.object_ids) == {ids["apple"], ids["table"], ids["fridge"]}
    assert prompt.target_types == ("Apple", "Fridge")
    assert "{name: room_0, type: Room, kind: Kitchen}" in prompt.text
    assert "room_1" not in prompt.text and ids["mug"] not in prompt.text and "type: Area" not in prompt.text
    assert prompt.tokens == count_tokens(prompt.text) and not prompt.truncated
    assert prompt.tokens < count_tokens(whole_graph_text(graph)) / 2


def test_task_subgraph_respects_budget(home):
    graph, ids = home
    full = task_subgraph(graph, "put the apple in the fridge")
    tight = task_subgraph(graph, "put the apple in the fridge", budget_tokens=full.tokens - 1)
    assert tight.truncated and tight.tokens <= full.tokens - 1
    assert tight.object_ids == full.object_ids[: len(tight.object_ids)]
    assert task_subgraph(graph, "put the apple in the fridge", budget_tokens=3).object_ids == ()


def test_free_text_uses_relevant_ids(home):
    graph, ids = home
    prompt = task_subgraph(graph, "something to drink from", relevant_ids=lambda text: [ids["mug"], "obj_gone"])
    assert set(prompt.object_ids) == {ids["mug"], ids["table"]}
    assert task_subgraph(graph, "something to drink from").object_ids == ()
