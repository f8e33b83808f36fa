"""What every node of the package does the same way: declare parameters, count bad input, run.

Parameters are declared with a description and a range so ``ros2 param describe`` documents them;
bad input is logged with throttling and counted per reason, so one broken publisher at 30 Hz
neither floods the log nor goes unnoticed in diagnostics.
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Any, Callable, Optional, Sequence

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

_LOG_EVERY_S = 5.0


def executor_threads() -> int:
    """Threads for a node's executor: at least 4, so that a callback waiting on a service or action
    (the planner's) never holds the only thread, even on a one-CPU machine."""
    return max(4, os.cpu_count() or 1)


class ConfigurationError(ValueError):
    """Parameters that are each valid but do not work together (or name something absent)."""


def declare(node: Node, name: str, default: Any, description: str,
            integer_range: Optional[tuple[int, int]] = None,
            float_range: Optional[tuple[float, float]] = None,
            read_only: bool = True) -> Any:
    """Declare one parameter with its documentation and range; returns its value."""
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    override = node._parameter_overrides.get(name)  # rclpy keeps launch/YAML values here until declared
    if isinstance(default, float) and override is not None and override.type_ == Parameter.Type.INTEGER:
        # "30" for a float parameter in YAML or on the command line means 30.0, not an error.
        node._parameter_overrides[name] = Parameter(name, value=float(override.value))
    if integer_range is not None:
        descriptor.integer_range = [IntegerRange(from_value=integer_range[0], to_value=integer_range[1], step=1)]
    if float_range is not None:
        descriptor.floating_point_range = [FloatingPointRange(from_value=float_range[0],
                                                              to_value=float_range[1], step=0.0)]
    return node.declare_parameter(name, default, descriptor).value


class BadInput:
    """Counts rejected input per topic and reason; logs each reason at most every few seconds."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.counts: Counter[str] = Counter()

    def reject(self, topic: str, reason: str) -> None:
        key = f"{topic}: {reason.split(':')[0]}"  # group by the reason's head, not its numbers
        self.counts[key] += 1
        self._node.get_logger().warning(f"rejected {topic} input: {reason}", throttle_duration_sec=_LOG_EVERY_S)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def diagnostics(node: Node, level: bytes, message: str, values: dict[str, Any]) -> DiagnosticArray:
    """One node's status as a DiagnosticArray (hardware_id = the node's name)."""
    status = DiagnosticStatus(level=level, name=node.get_fully_qualified_name(), message=message,
                              hardware_id=node.get_name())
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    array = DiagnosticArray(status=[status])
    array.header.stamp = node.get_clock().now().to_msg()
    return array


def spin_nodes(factories: Sequence[Callable[[], Node]], args: Optional[list[str]] = None,
               logger_name: str = "embodied_memory") -> int:
    """Init rclpy, build the nodes and spin them on one multi-threaded executor until shutdown.

    Exit code 1 with one line when a parameter is rejected (no traceback), 0 otherwise.
    """
    rclpy.init(args=args)
    nodes: list[Node] = []
    executor = MultiThreadedExecutor(num_threads=executor_threads())
    try:
        for factory in factories:
            nodes.append(factory())
            executor.add_node(nodes[-1])
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterException, ConfigurationError) as exc:  # a rejected or inconsistent parameter: say which
        rclpy.logging.get_logger(logger_name).fatal(str(exc))
        return 1
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
