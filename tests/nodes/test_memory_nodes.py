"""The long- and short-term memory nodes with real rclpy and Fast DDS, fed a known scene's stream.

The nodes run composed by ``memory_nodes.tools.stack`` (as ``embodied-memory up`` runs them) in their
own context; the test talks to them from a client node over real topics and services.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from scene_stream import SceneStream, known_scene  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402
from waits import until  # noqa: E402

from embodied_memory.msg import StateChange  # noqa: E402
from embodied_memory.srv import GetSnapshot, GetTaskSubgraph, ManageMemory, QueryObjects, QueryShortTerm  # noqa: E402
from memory_nodes.conversions import array_to_image, frame_to_msgs, to_time  # noqa: E402
from memory_nodes.node_support import ConfigurationError  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def scene() -> SceneStream:
    return known_scene()


@pytest.fixture(scope="module")
def memory_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("memory")


@pytest.fixture(scope="module")
def nodes(memory_dir: Path):
    s = stack.start(["long_term_memory", "short_term_memory"], overrides={
        "long_term_memory": {"memory_dir": str(memory_dir), "snapshot_interval_s": 0.0, "marker_rate_hz": 5.0},
        "short_term_memory": {"consolidate_interval_s": 0.2}})
    yield s
    s.shutdown()


@pytest.fixture(scope="module")
def client(nodes: stack.Stack, scene: SceneStream):
    c = Client()
    # Both ends of the updates matched before the first frame (the node's writer has matched every reader
    # the graph shows, this client's among them): the delta test needs every update from sequence 1.
    ltm = nodes.nodes["long_term_memory"]

    def matched() -> bool:
        readers = ltm.get_subscriptions_info_by_topic("memory/graph_updates")
        return (c.updates_sub.get_publisher_count() > 0 and c.node.get_name() in {r.node_name for r in readers}
                and ltm._updates_pub.get_subscription_count() >= len(readers))

    assert c.spin_until(matched)
    sent = c.send_frames(scene, lambda: ltm.traffic()["frames_handled"])
    assert ltm.diagnostic_values()["frames_integrated"] == sent
    yield c
    c.close()


def _memory_objects(client: Client) -> list[Any]:
    response = client.call(GetSnapshot, "memory/get_snapshot")
    assert response.error_code == GetSnapshot.Response.NONE
    return list(response.snapshot.upserted_objects)


def test_stream_builds_one_object_per_seen_object_near_its_true_place(client, scene):
    objects = _memory_objects(client)
    by_external = {}
    for obj in objects:
        by_external.setdefault(obj.external_id, []).append(obj)
    assert set(scene.seen) <= set(by_external), f"not in memory: {set(scene.seen) - set(by_external)}"
    for external_id, label in scene.seen.items():
        (obj,) = by_external[external_id]  # exactly one node per real object
        assert obj.label == label
        truth = scene.positions[external_id]
        centre = (obj.box_pose.position.x, obj.box_pose.position.y)
        assert math.dist(centre, truth[:2]) < 0.35, f"{label} at {centre}, truly at {truth}"


def test_query_service_by_label_text_and_place(client, scene):
    label = sorted(scene.seen.values())[0]
    by_label = client.call(QueryObjects, "memory/query_objects", label=label)
    assert by_label.error_code == QueryObjects.Response.NONE and by_label.objects
    assert {o.label for o in by_label.objects} == {label}
    assert len(by_label.scores) == len(by_label.objects) and by_label.sequence > 0

    # New objects are embedded by the node's housekeeping, outside the lock: findable by text shortly after.
    def by_text() -> Any:
        return client.call(QueryObjects, "memory/query_objects", text=f"the {label.lower()}", k=3)
    assert until(lambda: bool(by_text().objects)), "no object became findable by text"
    assert by_text().objects[0].label == label

    target = by_label.objects[0].centroid
    request = dict(use_near=True, radius=0.05)
    near = client.call(QueryObjects, "memory/query_objects", near=target, **request)
    assert by_label.objects[0].id in {o.id for o in near.objects}
    bad = client.call(QueryObjects, "memory/query_objects", use_near=True, radius=-1.0)
    assert bad.error_code == QueryObjects.Response.INVALID_REQUEST and "radius" in bad.error_message


def test_task_subgraph_service_is_smaller_than_the_whole_graph(client, scene):
    label = sorted(scene.seen.values())[0]
    sub = client.call(GetTaskSubgraph, "memory/task_subgraph", instruction=f"go to the {label.lower()}")
    whole = client.call(GetTaskSubgraph, "memory/task_subgraph", whole_graph=True)
    assert sub.error_code == whole.error_code == GetTaskSubgraph.Response.NONE
    assert label in sub.text and 0 < sub.tokens <= whole.tokens
    assert set(sub.object_ids) <= set(whole.object_ids)
    empty = client.call(GetTaskSubgraph, "memory/task_subgraph", instruction="  ")
    assert empty.error_code == GetTaskSubgraph.Response.INVALID_REQUEST


def test_snapshot_equals_the_deltas_applied_in_order(client):
    objects: dict[str, Any] = {}
    relations: set[tuple[str, str, str]] = set()
    updates = sorted(client.updates, key=lambda u: u.sequence)
    assert updates and [u.sequence for u in updates] == list(range(1, updates[-1].sequence + 1))
    for update in updates:
        objects.update({o.id: o for o in update.upserted_objects})
        for object_id in update.removed_object_ids:
            objects.pop(object_id, None)
        relations -= {(r.subject_id, r.predicate, r.object_id) for r in update.removed_relations}
        relations |= {(r.subject_id, r.predicate, r.object_id) for r in update.added_relations}
    snapshot = client.call(GetSnapshot, "memory/get_snapshot").snapshot
    assert snapshot.sequence == updates[-1].sequence
    assert {o.id: (o.label, o.centroid.x, o.status) for o in snapshot.upserted_objects} == \
        {i: (o.label, o.centroid.x, o.status) for i, o in objects.items()}
    assert {(r.subject_id, r.predicate, r.object_id) for r in snapshot.added_relations} == relations


def test_markers_draw_one_box_per_object(client):
    objects = _memory_objects(client)

    def boxes() -> list[Marker]:  # of the newest array: markers follow memory at their own rate
        return [m for m in client.markers[-1].markers if m.action == Marker.ADD and m.type == Marker.CUBE] \
            if client.markers else []

    assert client.spin_until(lambda: len(boxes()) == len(objects)), (len(boxes()), len(objects))
    assert {m.ns for m in boxes()} <= {"furniture", "objects"}


def test_a_late_rviz_gets_the_whole_memory_at_once(client):
    """Markers are latched (transient local): a subscriber that joins now gets the latest full array."""
    assert client.spin_until(lambda: bool(client.markers))
    late: list[MarkerArray] = []
    qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    subscription = client.node.create_subscription(MarkerArray, "memory/markers", late.append, qos)
    try:
        assert client.spin_until(lambda: bool(late), timeout=5.0)
        assert any(m.type == Marker.CUBE for m in late[0].markers)
    finally:
        client.node.destroy_subscription(subscription)


def test_bad_input_is_counted_and_memory_keeps_serving(client, scene, nodes):
    ltm = nodes.nodes["long_term_memory"]
    before = ltm.diagnostic_values()
    frame = scene.frames[0]
    nan_depth = frame.depth.copy()
    nan_depth[:] = np.nan
    cases = [
        {"color": array_to_image(frame.depth, "32FC1", frame.frame_id, 0.0)},  # depth where colour belongs
        {"depth": array_to_image(frame.depth[:100], "32FC1", frame.frame_id, 0.0)},  # size mismatch
        {"depth": array_to_image(nan_depth, "32FC1", frame.frame_id, 0.0)},  # all NaN
    ]

    def rejected() -> int:
        return ltm.diagnostic_values()["rejected"]

    for broken in cases:  # each sent until its rejection is counted
        def publish(broken: dict[str, Any] = broken) -> None:
            client.stamp += 0.1
            for msg in broken.values():
                msg.header.stamp = to_time(client.stamp)
            client.publish_frame(frame, client.stamp, **broken)
        client.deliver(publish, rejected)
    wrong_frame = frame_to_msgs(frame, "somewhere_else").pose
    odom = Odometry(header=wrong_frame.header)
    odom.header.stamp = to_time(client.stamp + 0.1)
    client.deliver(lambda: client.pubs["odom"].publish(odom), rejected)
    client.deliver(lambda: client.publish_frame(frame, 0.5), rejected)  # older than frames already integrated: stale
    client.stamp += 1.0
    after = ltm.diagnostic_values()
    reasons = " ".join(k for k in after if k.startswith("rejected["))
    for word in ("colour image", "image sizes differ", "depth", "pose in frame", "stale"):
        assert word in reasons, f"no rejection counted for {word!r}: {reasons}"
    assert after["objects"] == before["objects"]
    assert client.call(QueryObjects, "memory/query_objects", k=50).objects


def test_save_list_clear_load_and_refused_names(client, memory_dir):
    objects = _memory_objects(client)
    saved = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.SAVE, name="kitchen_run")
    assert saved.error_code == ManageMemory.Response.NONE and Path(saved.path).is_file()
    assert Path(saved.path).resolve().is_relative_to(memory_dir.resolve())
    listed = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.LIST)
    assert "kitchen_run" in listed.names
    for bad in ("../escape", "/tmp/x", "a/b", ".hidden"):
        refused = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.SAVE, name=bad)
        assert refused.error_code == ManageMemory.Response.INVALID_REQUEST, bad
    assert not (memory_dir.parent / "escape").exists()
    missing = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.LOAD, name="never_saved")
    assert missing.error_code == ManageMemory.Response.NOT_FOUND

    cleared = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.CLEAR)
    assert cleared.object_count == 0 and not _memory_objects(client)
    loaded = client.call(ManageMemory, "memory/manage", operation=ManageMemory.Request.LOAD, name="kitchen_run")
    assert loaded.error_code == ManageMemory.Response.NONE and loaded.sequence > cleared.sequence
    assert {o.id for o in _memory_objects(client)} == {o.id for o in objects}
    def found_by_text() -> set[str]:
        text = client.call(QueryObjects, "memory/query_objects", text=objects[0].label.lower(), k=len(objects))
        return {o.id for o in text.objects}
    assert until(lambda: objects[0].id in found_by_text())  # the text index came back with the load


def test_short_term_node_buffers_changes_and_consolidates_into_long_term(client, nodes, scene):
    objects = _memory_objects(client)
    target = next(o for o in objects if o.external_id)
    change = StateChange(object_id=target.external_id, external=True, object_type=target.label, state="dirty",
                         new_value="true", cause="household:ann")
    change.header.stamp = to_time(client.stamp)
    change.position = target.centroid
    stm = nodes.nodes["short_term_memory"]
    received = stm.traffic()["changes_received"]
    for _ in range(2):  # two agreeing reports confirm a change that nobody vouches for
        client.pubs["changes"].publish(change)
    assert client.spin_until(lambda: stm.traffic()["changes_received"] >= received + 2)

    recent = client.call(QueryShortTerm, "memory/short_term/query", k=50)
    assert recent.error_code == QueryShortTerm.Response.NONE
    assert target.external_id in {u.object_id for u in recent.units}

    def consolidated() -> bool:
        obj = next(o for o in _memory_objects(client) if o.id == target.id)
        return dict(zip(obj.state_names, obj.state_values)).get("dirty") == "true"

    assert client.spin_until(consolidated, timeout=10.0)
    asked = client.call(QueryShortTerm, "memory/short_term/query", instruction=f"clean the {target.label.lower()}",
                        k=2)
    assert asked.hit_rate > 0.0 and len(asked.units) == 2


def test_every_parameter_in_the_yaml_is_declared_by_its_node(nodes):
    params = yaml.safe_load(stack.DEFAULT_PARAMS.read_text())
    for name in ("long_term_memory", "short_term_memory"):
        node = nodes.nodes[name]
        undeclared = [p for p in params[name]["ros__parameters"] if not node.has_parameter(p)]
        assert not undeclared, f"{name}: config/memory.yaml sets undeclared {undeclared}"
        for parameter in node._parameters:
            if parameter != "use_sim_time":
                assert node.describe_parameter(parameter).description, f"{name}.{parameter} has no description"


HUGE = "x" * 1_000_000


@pytest.mark.parametrize("srv, service, fields", [
    (QueryObjects, "memory/query_objects", {"text": HUGE}),
    (QueryObjects, "memory/query_objects", {"label": HUGE}),
    (QueryObjects, "memory/query_objects", {"k": 1_000_000}),
    (GetTaskSubgraph, "memory/task_subgraph", {"instruction": HUGE}),
    (GetTaskSubgraph, "memory/task_subgraph", {"relevant_ids": ["obj_0001"] * 10_000}),
    (QueryShortTerm, "memory/short_term/query", {"instruction": HUGE}),
])
def test_oversized_requests_are_refused(client, srv, service, fields):
    response = client.call(srv, service, **fields)
    assert response.error_code == srv.Response.INVALID_REQUEST
    assert response.error_message.startswith("request_too_large")


def test_inconsistent_parameters_fail_with_one_clear_sentence(tmp_path):
    with pytest.raises(ConfigurationError, match="pose_source must be one of"):
        stack.start(["long_term_memory"], overrides={"long_term_memory": {
            "memory_dir": str(tmp_path), "pose_source": "gps", "text_index": "none"}})
