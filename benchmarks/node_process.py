"""The ROS benchmarks' harness: the long-term memory node in a child process, a client node in this one.

Both ROS benchmarks measure memory across a process boundary, as a robot's other nodes see it.
They share the same needs, kept here: the node runs as configured for a robot (config/memory.yaml)
on its own DDS domain derived from this process id and on localhost only, so concurrent runs do
not see each other and nothing leaves the machine; timing starts only once the node answers a
query (it loads the MiniLM model and any saved memory first); and the child is stopped however
the benchmark ends (error, Ctrl-C).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Optional, Sequence

import rclpy
from rclpy.client import Client
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from embodied_memory.srv import QueryObjects
from memory_nodes import calls
from memory_nodes.dds_profile import use_package_profile

PARAMS_FILE = Path(__file__).resolve().parents[1] / "config" / "memory.yaml"
READY_TIMEOUT_S = 180.0  # model load plus a 10k-object memory on a busy 2-core machine
_STOP_TIMEOUT_S = 10.0
_NODE_COMMAND = "import sys; from memory_nodes.long_term_node import main; sys.exit(main())"
_STACK_COMMAND = "import sys; from memory_nodes.tools.cli import main; sys.exit(main())"


def domain_id() -> int:
    """1..100 from this process id: concurrent benchmark or test runs stay apart."""
    return 1 + os.getpid() % 100


def _isolate_this_process() -> None:
    """DDS settings rclpy reads at init: discovery on this machine only, the package's Fast DDS profile."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    use_package_profile()


@dataclass
class Session:
    """The running node process and this process's client node (spun from the caller's thread)."""

    node: Node
    executor: SingleThreadedExecutor
    process: subprocess.Popen
    log: IO[bytes]

    def spin_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.check_alive()
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def call(self, client: Client, request: Any, timeout: float = 30.0) -> Any:
        """One service round trip (resent while unanswered); TimeoutError if no answer within ``timeout``."""
        response = calls.call(client, request, lambda future, seconds: self.spin_until(future.done, seconds), timeout)
        if response is None:
            raise TimeoutError(f"{client.srv_name} did not answer within {timeout} s")
        return response

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the memory node exited with code {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]


@contextmanager
def memory_node(memory_dir: Path, client_name: str, params: Optional[Mapping[str, object]] = None,
                nodes: Sequence[str] = (), settings: Sequence[str] = ()) -> Iterator[Session]:
    """Start the long-term memory node on ``memory_dir`` (``params`` override config/memory.yaml)
    and yield once it answers queries.

    ``nodes``: more of the package's nodes in the same process (``embodied-memory up --nodes``), with
    ``settings`` as its ``--set NODE.PARAM=VALUE`` overrides."""
    _isolate_this_process()
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id()))
    if nodes:
        command = [sys.executable, "-c", _STACK_COMMAND, "up", "--params", str(PARAMS_FILE), "--nodes",
                   "long_term_memory", *nodes, "--set", f"long_term_memory.memory_dir={memory_dir}"]
        for item in [f"long_term_memory.{k}={v}" for k, v in (params or {}).items()] + list(settings):
            command += ["--set", item]
    else:
        command = [sys.executable, "-c", _NODE_COMMAND, "--ros-args", "--params-file", str(PARAMS_FILE),
                   "-p", f"memory_dir:={memory_dir}"] + [a for k, v in (params or {}).items()
                                                          for a in ("-p", f"{k}:={v}")]
    context = Context()
    rclpy.init(context=context, domain_id=domain_id(), signal_handler_options=SignalHandlerOptions.NO)
    node = Node(client_name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    with tempfile.TemporaryFile(mode="a+b") as log:  # appending: reading it back never moves the writes
        process = None
        try:
            # Its own session: a Ctrl-C reaches this process only, which then stops the node in order.
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            session = Session(node, executor, process, log)
            _wait_until_ready(session)
            yield session
        finally:
            if process is not None:
                _stop(process)
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown(context=context)


def _wait_until_ready(session: Session) -> None:
    """Until a query is answered (the query has no filter, so it costs the node little)."""
    client = session.node.create_client(QueryObjects, "memory/query_objects")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        session.check_alive()
        if client.wait_for_service(timeout_sec=0.5):
            try:
                session.call(client, QueryObjects.Request(k=1), timeout=max(deadline - time.monotonic(), 0.1))
                session.node.destroy_client(client)
                return
            except TimeoutError:
                break
    raise RuntimeError(f"the memory node was not ready within {READY_TIMEOUT_S} s:\n{session.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()
