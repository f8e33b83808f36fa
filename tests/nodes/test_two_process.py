"""Two real rclpy nodes in two processes exchange the package's own message and service."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.node import Node  # noqa: E402
from waits import until  # noqa: E402

from embodied_memory.msg import GraphUpdate, Relation  # noqa: E402
from embodied_memory.srv import QueryObjects  # noqa: E402
from memory_nodes import calls  # noqa: E402

pytestmark = pytest.mark.ros
PEER = Path(__file__).with_name("peer_node.py")


@pytest.fixture
def peer(child_env, python):
    proc = subprocess.Popen([python, str(PEER), "5"], env=child_env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and "peer ready" in proc.stdout.readline()
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def node():
    rclpy.init()
    n = Node("test_client")
    yield n
    n.destroy_node()
    rclpy.try_shutdown()


def _spin_until(node: Node, done, timeout: float = 20.0) -> None:
    until(done, timeout, step=lambda: rclpy.spin_once(node, timeout_sec=0.1))


def test_message_and_service_across_processes(peer, node):
    def wait(future, timeout: float) -> bool:
        _spin_until(node, future.done, timeout)
        return future.done()

    received: list[GraphUpdate] = []
    node.create_subscription(GraphUpdate, "graph_updates", received.append, 10)
    client = node.create_client(QueryObjects, "query_objects")
    assert client.wait_for_service(timeout_sec=20.0), "the peer's service was never discovered"

    # Late joiners may miss the first updates; whatever arrives must be consecutive and intact.
    _spin_until(node, lambda: received and received[-1].sequence == 5)
    assert received, "no GraphUpdate arrived from the other process"
    sequences = [m.sequence for m in received]
    assert sequences == list(range(sequences[0], 6))
    last = received[-1]
    assert last.upserted_objects[0].id == "obj_5"
    assert last.added_relations[0].predicate == Relation.ON == "ON"

    response = calls.call(client, QueryObjects.Request(label="Apple"), wait, 20.0)
    assert response.error_code == QueryObjects.Response.NONE
    assert [o.id for o in response.objects] == ["obj_1", "obj_3"]
    assert [o.centroid.x for o in response.objects] == [1.0, 3.0]
    assert response.sequence == 5

    bad = QueryObjects.Request(use_near=True, radius=-1.0)
    response = calls.call(client, bad, wait, 20.0)
    assert response.error_code == QueryObjects.Response.INVALID_REQUEST
    assert "radius" in response.error_message
