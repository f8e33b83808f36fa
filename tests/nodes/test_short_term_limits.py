"""The short-term node's bounds come from its parameters (config/memory.yaml), not from defaults:
a state change within the defaults but over the configured bounds is refused and counted, a query
over the configured cap gets INVALID_REQUEST, and the node keeps serving the good ones."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402

from embodied_memory.msg import StateChange  # noqa: E402
from embodied_memory.srv import QueryShortTerm  # noqa: E402
from memory_nodes.conversions import to_time  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402

pytestmark = pytest.mark.ros


def _change(object_id: str, object_type: str, stamp: float) -> StateChange:
    msg = StateChange(object_id=object_id, object_type=object_type, external=True, state="dirty", new_value="true",
                      cause="household:ann")
    msg.header.frame_id, msg.header.stamp = "map", to_time(stamp)
    return msg


def test_configured_bounds_refuse_what_the_defaults_would_take_and_the_node_keeps_serving():
    s = stack.start(["short_term_memory"], overrides={"short_term_memory": {
        "max_label_chars": 8, "max_future_s": 5.0, "max_request_text_chars": 40, "capacity": 50}})
    client = Client()
    try:
        node = s.nodes["short_term_memory"]
        assert client.spin_until(lambda: client.node.count_subscribers("state_changes") > 0)
        now = time.time()
        received = node.traffic()["changes_received"]
        client.pubs["changes"].publish(_change("Mug_1", "CoffeeMachine", now))  # 13 characters: within 64, not 8
        client.pubs["changes"].publish(_change("Mug_2", "Mug", now + 30.0))  # within an hour, not 5 s
        client.pubs["changes"].publish(_change("Mug_3", "Mug", now + 2.0))  # within both bounds
        assert client.spin_until(lambda: node.traffic()["changes_received"] >= received + 3)
        assert node._bad.counts["state_changes: bad_change"] == 1
        assert node._bad.counts["state_changes: future_stamp"] == 1

        too_long = client.call(QueryShortTerm, "memory/short_term/query", instruction="clean " + "the mug " * 10)
        assert too_long.error_code == QueryShortTerm.Response.INVALID_REQUEST
        assert too_long.error_message.startswith("request_too_large") and "at most 40" in too_long.error_message
        served = client.call(QueryShortTerm, "memory/short_term/query", k=50)
        assert served.error_code == QueryShortTerm.Response.NONE
        assert {u.object_id for u in served.units} == {"Mug_3"}
    finally:
        client.close()
        s.shutdown()
