"""Bring up the package's nodes in one process from the launch files' parameter YAML.

``ros2 launch`` is not installable from PyPI; this composes the same nodes with the same
``config/memory.yaml``, each node on its own executor and thread as in its own process
(``node_support.Spinner``), for the demo, the tests and users without a
ROS install. Parameters given here override the file's, as launch arguments would.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import rclpy
import yaml
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter

from memory_nodes.dds_profile import use_package_profile
from memory_nodes.node_support import Spinner, stop_on_signals
from sim.perception import Perception

DEFAULT_PARAMS = Path(__file__).resolve().parents[2] / "config" / "memory.yaml"


def _node_classes() -> dict[str, Callable[..., Node]]:
    """Node name -> class; imported lazily so that the stack's own import stays light."""
    from memory_nodes.detections_node import DetectionsToInstances
    from memory_nodes.long_term_node import LongTermMemoryNode
    from memory_nodes.perception_node import PerceptionNode
    from memory_nodes.planner_node import PlannerNode
    from memory_nodes.short_term_node import ShortTermMemoryNode
    from memory_nodes.sim_bridge_node import SimBridge

    return {"sim_bridge": SimBridge, "long_term_memory": LongTermMemoryNode, "short_term_memory": ShortTermMemoryNode,
            "planner": PlannerNode, "perception": PerceptionNode, "detections_to_instances": DetectionsToInstances}


class ParamsFileError(ValueError):
    """The parameter YAML is missing or not in ROS 2's ``node: ros__parameters: {...}`` shape."""


def read_params(path: Path) -> dict[str, dict[str, Any]]:
    """Node name -> parameters; a ``/**`` section applies to every node, as in ROS 2 YAML."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsFileError(f"cannot read parameter file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsFileError(f"{path}: expected a mapping of node names")
    out: dict[str, dict[str, Any]] = {}
    for name, section in data.items():
        params = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise ParamsFileError(f"{path}: section {name!r} has no ros__parameters mapping")
        out[str(name).lstrip("/")] = params
    return out


def with_simulated_perception(names: Sequence[str], file_params: Mapping[str, Mapping[str, Any]],
                              overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """``overrides`` with the long-term memory set for the simulator bridge's perception model when
    both run (``Perception.memory_parameters``: a tracker's reissued ids not trusted, fusion set for
    a detector's faults); parameters the overrides give themselves stay. Without it, memory trusted
    ``realistic``'s reissued track ids: the demo's memory held its one sofa four times, three of
    them "missing"."""
    out = dict(overrides)
    if "sim_bridge" in names and "long_term_memory" in names:
        bridge = _merged("sim_bridge", file_params, overrides.get("sim_bridge", {}))
        derived = Perception.named(str(bridge.get("perception", "oracle"))).memory_parameters()
        out["long_term_memory"] = {**derived, **overrides.get("long_term_memory", {})}
    return out


def simulated_memory_parameters(params_file: Path, perception: str = "") -> dict[str, Any]:
    """The long-term memory's parameters for the simulator bridge it is fed by, under the same rule
    as :func:`with_simulated_perception`: the bridge's ``perception`` (or, when empty, its setting in
    ``params_file``) decides, over the file's long-term section, as in :func:`start`. For the launch
    files, which start the bridge and memory as separate processes."""
    file_params = read_params(params_file)
    overrides = {"sim_bridge": {"perception": perception}} if perception else {}
    derived = with_simulated_perception(("sim_bridge", "long_term_memory"), file_params, overrides)
    return dict(derived["long_term_memory"])


def parameters_for(node_name: str, file_params: Mapping[str, Mapping[str, Any]],
                   overrides: Mapping[str, Any] = {}) -> list[Parameter]:
    return [Parameter(k, value=v) for k, v in _merged(node_name, file_params, overrides).items()]


def _merged(node_name: str, file_params: Mapping[str, Mapping[str, Any]],
            overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A node's parameters: the file's ``/**`` section, then its own, then ``overrides``."""
    return {**file_params.get("**", {}), **file_params.get(node_name, {}), **overrides}


@dataclass
class Stack:
    """Spinning nodes; use as a context manager, or :func:`run` to block."""

    nodes: dict[str, Node] = field(default_factory=dict)
    context: Optional[Context] = None
    spinner: Optional[Spinner] = None

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the executors and join their threads before tearing rclpy down (else the process aborts)."""
        if self.spinner is not None:
            self.spinner.shutdown()
        for node in self.nodes.values():
            node.destroy_node()
        self.nodes.clear()
        if self.context is not None:
            rclpy.try_shutdown(context=self.context)


def start(names: Sequence[str], params_file: Path = DEFAULT_PARAMS,
          overrides: Mapping[str, Mapping[str, Any]] = {}, args: Optional[list[str]] = None,
          domain_id: Optional[int] = None) -> Stack:
    """Create ``names`` (node names of ``config/memory.yaml``) in a fresh context and spin them.

    ``overrides`` maps node name -> {parameter: value}; ``domain_id`` overrides ROS_DOMAIN_ID for
    this stack. Node construction errors propagate after the nodes made so far are destroyed.
    """
    classes = _node_classes()
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(f"unknown node(s) {', '.join(unknown)}; known: {', '.join(classes)}")
    file_params = read_params(params_file)
    overrides = with_simulated_perception(names, file_params, overrides)
    stack = Stack(context=Context())
    use_package_profile()
    rclpy.init(args=args, context=stack.context, domain_id=domain_id)
    stack.spinner = Spinner(stack.context)
    try:
        for name in names:
            node = classes[name](context=stack.context,
                                 parameter_overrides=parameters_for(name, file_params, overrides.get(name, {})))
            stack.nodes[name] = node
        for node in stack.nodes.values():
            stack.spinner.add(node)
    except BaseException:
        stack.shutdown()
        raise
    return stack


def run(names: Sequence[str], params_file: Path = DEFAULT_PARAMS,
        overrides: Mapping[str, Mapping[str, Any]] = {}, duration: Optional[float] = None) -> int:
    """Start the nodes and block until Ctrl-C or SIGTERM (or ``duration`` seconds)."""
    stack = start(names, params_file, overrides)
    stop_on_signals()
    assert stack.spinner is not None
    try:
        stack.spinner.wait(duration)
    except KeyboardInterrupt:
        pass
    finally:
        stack.shutdown()
    return 0
