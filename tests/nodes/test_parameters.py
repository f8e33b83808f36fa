"""Every node's parameters: one frozen record per node, each key of config/memory.yaml declared and
described, and values given as launch files and YAML give them."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from memory_nodes.detections_node import DetectionsParams  # noqa: E402
from memory_nodes.long_term_node import LongTermParams  # noqa: E402
from memory_nodes.node_support import AdmissionParams, ConfigurationError, RequestLimitParams, declare_all  # noqa: E402
from memory_nodes.perception_node import PerceptionParams  # noqa: E402
from memory_nodes.planner_node import PlannerParams  # noqa: E402
from memory_nodes.short_term_node import ShortTermParams  # noqa: E402
from memory_nodes.sim_bridge_node import SimBridgeParams  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402

PARAMS = {"long_term_memory": LongTermParams, "short_term_memory": ShortTermParams, "sim_bridge": SimBridgeParams,
          "planner": PlannerParams, "perception": PerceptionParams, "detections_to_instances": DetectionsParams}


def test_every_key_of_the_yaml_is_a_declared_and_described_parameter_of_its_node() -> None:
    sections = yaml.safe_load(Path(stack.DEFAULT_PARAMS).read_text())
    assert set(sections) == set(PARAMS)
    serving = ("long_term_memory", "short_term_memory", "sim_bridge", "planner")  # they cap request sizes
    for node, params in PARAMS.items():
        keeping = ("long_term_memory", "short_term_memory", "planner")  # they bound stamps and words of records
        declared = {f.name: f for f in (*fields(params), *(fields(RequestLimitParams) if node in serving else ()),
                                        *(fields(AdmissionParams) if node in keeping else ()))}
        given = sections[node]["ros__parameters"]
        assert [k for k in given if k not in declared] == [], node
        for name, f in declared.items():
            assert f.metadata["description"], f"{node}.{name} has no description"
        for name, value in given.items():
            default = declared[name].default
            expected = ((int, float) if isinstance(default, float)
                        else list if isinstance(default, tuple) else type(default))
            assert isinstance(value, expected), f"{node}.{name}: {value!r} is not a {type(default).__name__}"


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def test_a_whole_number_for_a_float_parameter_is_that_float_and_a_word_is_refused(context) -> None:
    node = Node("params_test", context=context, parameter_overrides=[
        Parameter("consolidate_interval_s", value=3), Parameter("capacity", value=7)])
    try:
        params = declare_all(node, ShortTermParams)
        assert (params.consolidate_interval_s, params.capacity) == (3.0, 7)
        assert isinstance(params.consolidate_interval_s, float) and isinstance(params.vouching_causes, tuple)
        assert node.get_parameter("consolidate_interval_s").type_ == Parameter.Type.DOUBLE
        assert node.describe_parameter("consolidate_interval_s").read_only
    finally:
        node.destroy_node()
    bad = Node("params_bad", context=context, parameter_overrides=[Parameter("consolidate_interval_s", value="often")])
    try:
        with pytest.raises(ConfigurationError, match="consolidate_interval_s"):
            declare_all(bad, ShortTermParams)
    finally:
        bad.destroy_node()


def test_memory_is_set_for_the_simulated_perception_it_is_fed() -> None:
    """The bridge's perception model decides how memory treats its instances, as the benchmark's
    environments do (Perception.memory_parameters); what the user sets stays."""
    file_params = stack.read_params(stack.DEFAULT_PARAMS)
    both = ["sim_bridge", "long_term_memory"]
    realistic = stack.with_simulated_perception(both, file_params, {"sim_bridge": {"perception": "realistic"}})
    assert realistic["long_term_memory"]["trust_external_ids"] is False  # its tracker reissues ids
    assert realistic["long_term_memory"]["detector_input"] is True
    oracle = stack.with_simulated_perception(both, file_params, {})  # the YAML's model
    assert oracle["long_term_memory"]["trust_external_ids"] is True
    mine = stack.with_simulated_perception(both, file_params, {"sim_bridge": {"perception": "harsh"},
                                                               "long_term_memory": {"trust_external_ids": True}})
    assert mine["long_term_memory"]["trust_external_ids"] is True and mine["long_term_memory"]["detector_input"]
    assert stack.with_simulated_perception(["long_term_memory"], file_params, {}) == {}  # no simulator: untouched
    with pytest.raises(ValueError, match="unknown perception model"):
        stack.with_simulated_perception(both, file_params, {"sim_bridge": {"perception": "perfect"}})


def test_the_launch_files_set_memory_for_the_simulated_perception_by_the_same_rule(tmp_path) -> None:
    """``sim_memory.launch.py`` starts the bridge and memory apart; memory.launch.py's ``simulated``
    derives the long-term settings from the bridge's model as ``up --sim`` does: the launch argument
    when given, else the parameter file's."""
    file_params = stack.read_params(stack.DEFAULT_PARAMS)
    both = ["sim_bridge", "long_term_memory"]
    for model in ("realistic", "harsh"):
        assert stack.simulated_memory_parameters(stack.DEFAULT_PARAMS, model) == stack.with_simulated_perception(
            both, file_params, {"sim_bridge": {"perception": model}})["long_term_memory"]
    assert stack.simulated_memory_parameters(stack.DEFAULT_PARAMS)["trust_external_ids"] is True  # the YAML's oracle
    mine = tmp_path / "mine.yaml"
    mine.write_text(stack.DEFAULT_PARAMS.read_text().replace("perception: oracle", "perception: realistic", 1))
    assert stack.read_params(mine)["sim_bridge"]["perception"] == "realistic"
    assert stack.simulated_memory_parameters(mine)["trust_external_ids"] is False
    assert stack.simulated_memory_parameters(mine, "oracle")["trust_external_ids"] is True  # the argument wins
