"""Bag record and play with real rclpy: a known stream in, a valid rosbag2 MCAP folder out, the same messages back."""
from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

rclpy = pytest.importorskip("rclpy")
import waits  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.duration import Duration  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_types_from_msg, get_typestore  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from embodied_memory.msg import InstanceSegmentation  # noqa: E402
from memory_nodes.tools.bag import BagError, play, record  # noqa: E402
from memory_nodes.tools.bag_cli import register  # noqa: E402

pytestmark = pytest.mark.ros
TIMEOUT = 30.0
N = 60  # frames: 2 s at 30 Hz
TOPICS = {"color": ("/bag_test/color", Image), "instances": ("/bag_test/instances", InstanceSegmentation),
          "pose": ("/bag_test/pose", PoseStamped)}
CLI = ("import argparse, sys; from memory_nodes.tools.bag_cli import register; p = argparse.ArgumentParser(); "
       "register(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")


def _frame(i: int) -> dict[str, Any]:
    """Frame i of the known stream: a 320x240 colour image, its instances and the camera pose."""
    stamp = Time(sec=100 + i // 30, nanosec=(i % 30) * 33_333_333)
    color = Image(height=240, width=320, encoding="rgb8", step=960, data=bytes([i % 256]) * (320 * 240 * 3))
    color.header.stamp, color.header.frame_id = stamp, "camera"
    ids = Image(height=24, width=32, encoding="32SC1", step=128, data=(i + 1).to_bytes(4, "little") * (32 * 24))
    instances = InstanceSegmentation(ids=ids, instance_ids=[i + 1, i + 2], labels=["Apple", "Mug"],
                                     scores=[0.5, 0.25], external_ids=[f"Apple|{i}", f"Mug|{i}"])
    instances.header = color.header
    pose = PoseStamped()
    pose.header.stamp, pose.header.frame_id = stamp, "map"
    pose.pose.position.x, pose.pose.orientation.w = float(i), 1.0
    return {"color": color, "instances": instances, "pose": pose}


class Listener:
    """Subscribers on the stream's topics, spun by the test's thread while a bag plays in another."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.received: dict[str, list[Any]] = {key: [] for key in TOPICS}
        self.subscriptions = [node.create_subscription(cls, topic, self.received[key].append, QoSProfile(depth=1000))
                              for key, (topic, cls) in TOPICS.items()]
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(node)

    def play(self, folder: Path, until: Callable[[dict[str, list[Any]]], bool] | None = None,
             **kwargs: Any) -> Any:
        """Play folder in a thread (stopped once until(received) holds); spin until all it sent has arrived."""
        stop, result = threading.Event(), {}
        thread = threading.Thread(target=lambda: result.update(summary=play(folder, wait_for_subscribers=TIMEOUT,
                                                                            stop_event=stop, **kwargs)))
        thread.start()
        spin = lambda: self.executor.spin_once(timeout_sec=0.05)  # noqa: E731
        waits.until(lambda: not thread.is_alive() or (until is not None and until(self.received)), TIMEOUT, spin)
        stop.set()
        thread.join(TIMEOUT)
        summary = result["summary"]
        assert waits.until(lambda: all(len(self.received[key]) >= summary.counts.get(topic, 0)
                                      for key, (topic, _) in TOPICS.items()), TIMEOUT, spin), (summary, self.received)
        return summary

    def close(self) -> None:
        for subscription in self.subscriptions:
            self.node.destroy_subscription(subscription)
        self.executor.shutdown()
        for values in self.received.values():
            values.clear()


@pytest.fixture(scope="module")
def source():
    rclpy.init()
    node = Node("bag_test_source")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def recorded(source: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Record every topic while the known stream is published; the pose topic appears after the start."""
    folder = tmp_path_factory.mktemp("bags") / "stream"
    publishers = {key: source.create_publisher(cls, topic, 100)
                  for key, (topic, cls) in TOPICS.items() if key != "pose"}
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(summary=record(folder, max_messages=3 * N, duration_s=120)))
    thread.start()
    assert waits.until(lambda: all(p.get_subscription_count() for p in publishers.values())), \
        "recorder never subscribed"
    publishers["pose"] = source.create_publisher(PoseStamped, TOPICS["pose"][0], 100)
    assert waits.until(lambda: publishers["pose"].get_subscription_count() > 0), \
        "a topic that appeared later was missed"
    frames = [_frame(i) for i in range(N)]
    for frame in frames:
        for key, msg in frame.items():
            publishers[key].publish(msg)
        time.sleep(1 / 30)  # a camera's pace: the recording spans 2 s, which start_offset needs
    thread.join(120)
    assert not thread.is_alive()
    hashes = {topic: str(source.get_publishers_info_by_topic(topic)[0].topic_type_hash) for topic, _ in TOPICS.values()}
    for publisher in publishers.values():
        source.destroy_publisher(publisher)
    return {"folder": folder, "frames": frames, "summary": result["summary"], "hashes": hashes}


@pytest.fixture
def listener(source: Node):
    received = Listener(source)
    yield received
    received.close()


def test_record_writes_a_rosbag2_mcap_folder_any_reader_can_decode(recorded):
    folder, frames, summary = recorded["folder"], recorded["frames"], recorded["summary"]
    assert summary.counts == {topic: N for topic, _ in TOPICS.values()} and not summary.skipped
    assert (folder / "metadata.yaml").is_file() and [p.suffix for p in folder.glob("*.mcap")] == [".mcap"]
    with Reader(folder) as reader:
        connections = {c.topic: c for c in reader.connections}
        assert set(connections) == {topic for topic, _ in TOPICS.values()}
        raw: dict[str, list[tuple[int, bytes]]] = {topic: [] for topic in connections}
        for conn, stamp, data in reader.messages():
            raw[conn.topic].append((stamp, data))
    for key, (topic, cls) in TOPICS.items():
        conn = connections[topic]
        assert conn.msgtype == cls.__module__.split(".")[0] + "/msg/" + cls.__name__
        assert conn.msgcount == N and conn.digest == recorded["hashes"][topic]
        # The stored definition alone rebuilds the type: same hash as rclpy's, and it decodes the data.
        store = get_typestore(Stores.EMPTY)
        store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        assert store.hash_rihs01(conn.msgtype) == conn.digest
        stamps = [stamp for stamp, _ in raw[topic]]
        assert stamps == sorted(stamps), "bag timestamps are receive times, in order"
        assert [deserialize_message(data, cls) for _, data in raw[topic]] == [f[key] for f in frames]
        decoded = store.deserialize_cdr(raw[topic][7][1], conn.msgtype)
        if key == "instances":
            assert list(decoded.labels) == ["Apple", "Mug"] and list(decoded.instance_ids) == [8, 9]
            assert decoded.ids.encoding == "32SC1" and bytes(decoded.ids.data[:4]) == (8).to_bytes(4, "little")
        elif key == "color":
            assert (decoded.width, decoded.height, decoded.encoding, decoded.data[0]) == (320, 240, "rgb8", 7)
        else:
            assert decoded.pose.position.x == 7.0 and decoded.header.frame_id == "map"


def test_play_at_a_faster_rate_delivers_every_message_in_order_and_intact(recorded, listener):
    summary = listener.play(recorded["folder"], rate=3.0)
    assert summary.counts == {topic: N for topic, _ in TOPICS.values()} and summary.loops == 1
    for key in TOPICS:
        assert listener.received[key] == [frame[key] for frame in recorded["frames"]], key


def test_play_as_fast_as_possible_with_topic_filter_and_start_offset(recorded, listener):
    summary = listener.play(recorded["folder"], rate=0, topics=["bag_test/pose"], start_offset=1.0)
    poses = [int(p.pose.position.x) for p in listener.received["pose"]]
    assert 0 < len(poses) < N and poses == list(range(N - len(poses), N))
    assert summary.counts == {"/bag_test/pose": len(poses)}
    assert not listener.received["color"] and not listener.received["instances"]


def test_play_loops_until_stopped(recorded, listener):
    summary = listener.play(recorded["folder"], until=lambda got: len(got["pose"]) >= N + 5,
                            rate=20.0, topics=["/bag_test/pose"], loop=True)
    poses = [int(p.pose.position.x) for p in listener.received["pose"]]
    assert poses[:N + 5] == list(range(N)) + list(range(5))
    assert summary.loops >= 2


def test_a_topic_of_an_unknown_type_is_skipped_and_the_rest_plays(tmp_path, listener):
    store = get_typestore(Stores.LATEST)
    store.register(get_types_from_msg("int32 x", "no_such_msgs/msg/Thing"))
    poses = [_frame(i)["pose"] for i in range(3)]
    with Writer(tmp_path / "mixed", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        mystery = writer.add_connection("/bag_test/mystery", "no_such_msgs/msg/Thing", typestore=store)
        pose = writer.add_connection(TOPICS["pose"][0], "geometry_msgs/msg/PoseStamped", typestore=store)
        for i, msg in enumerate(poses):
            writer.write(mystery, i * 10**8, store.serialize_cdr(store.types["no_such_msgs/msg/Thing"](x=i),
                                                                 "no_such_msgs/msg/Thing"))
            writer.write(pose, i * 10**8 + 1, serialize_message(msg))
    summary = listener.play(tmp_path / "mixed", rate=0)
    assert "no_such_msgs/msg/Thing" in summary.skipped["/bag_test/mystery"]
    assert summary.counts == {"/bag_test/pose": 3} and listener.received["pose"] == poses


@pytest.mark.parametrize("damage", ["truncated", "bad_metadata", "missing"])
def test_a_damaged_or_missing_bag_is_a_clear_error(recorded, tmp_path, damage):
    bag = tmp_path / "bag"
    if damage != "missing":
        shutil.copytree(recorded["folder"], bag)
    if damage == "truncated":
        storage = next(bag.glob("*.mcap"))
        storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 2])
    elif damage == "bad_metadata":
        (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: [not, a, mapping\n")
    with pytest.raises(BagError, match="is not a readable rosbag2 bag") as error:
        play(bag)
    assert "\n" not in str(error.value)


def test_record_refuses_an_existing_folder(tmp_path):
    (tmp_path / "old" / "keep.txt").parent.mkdir()
    (tmp_path / "old" / "keep.txt").write_text("precious")
    with pytest.raises(BagError, match="already exists"):
        record(tmp_path / "old", duration_s=0.1)
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["keep.txt"]


def test_cli_errors_are_one_sentence_with_exit_code_1(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    tmp_path.joinpath("taken").mkdir()
    for argv in (["bag", "play", str(tmp_path / "nothing")], ["bag", "record", str(tmp_path / "taken")],
                 ["bag", "play", str(tmp_path / "nothing"), "--rate", "-1"]):
        args = parser.parse_args(argv)
        assert args.func(args) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("embodied-memory: "), err


def test_cli_record_stopped_by_ctrl_c_leaves_a_valid_bag(source, tmp_path, child_env, python):
    out = tmp_path / "cli_bag"
    publisher = source.create_publisher(String, "/bag_test/cli", 10)
    proc = subprocess.Popen([python, "-c", CLI, "bag", "record", str(out), "--topics", "bag_test/cli"],
                            env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert waits.until(lambda: publisher.get_subscription_count() > 0 or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        for i in range(5):
            publisher.publish(String(data=f"hello {i}"))
        assert publisher.wait_for_all_acked(Duration(seconds=TIMEOUT))  # delivered: the recorder keeps them
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        source.destroy_publisher(publisher)
    assert proc.returncode == 0, stderr  # Ctrl-C is how a recording normally ends
    assert "recorded 5 messages" in stdout and "/bag_test/cli  std_msgs/msg/String  5" in stdout
    with Reader(out) as reader:
        assert [deserialize_message(data, String).data for _, _, data in reader.messages()] == \
            [f"hello {i}" for i in range(5)]
