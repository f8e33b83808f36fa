from scene_graph.descriptions import DESCRIPTIONS, describe, split_camel, state_words
from scene_graph.ontology import OBJECT_TYPES


def test_every_ontology_type_has_a_description_and_uses():
    missing = sorted(set(OBJECT_TYPES) - set(DESCRIPTIONS))
    assert not missing, f"types without a description: {missing}"
    assert not set(DESCRIPTIONS) - set(OBJECT_TYPES), "descriptions of types the ontology does not know"
    assert all(d.text and d.uses for d in DESCRIPTIONS.values())


def test_labels_read_as_words():
    assert split_camel("CounterTopBathroom") == "counter top bathroom"
    assert split_camel("TVStand") == "tv stand"
    assert split_camel("CD") == "cd"
    assert describe("Fridge").startswith("fridge: ") and "cold" in describe("Fridge")
    assert describe("Gizmo") == "gizmo"  # open-vocabulary labels keep their name


def test_states_read_as_words():
    assert state_words("open", True) == "open" and state_words("open", False) == "closed"
    assert state_words("temperature", "cold").startswith("cold")
    assert state_words("temperature", "room") == ""
    assert state_words("sliced", False) == ""
