"""The perception node with real rclpy: colour, depth and TF from the simulator bridge (no instances),
instances out, memory built from them; bad input counted while the node keeps serving.

``GroundTruthBoxes`` is a test double behind the detector interface: given the exact image the
bridge rendered, it returns the simulator's boxes, as a perfect detector would. The tracker, the
depth masks, the node and the long-term memory are the real ones.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("transformers")
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from waits import until  # noqa: E402

from benchmarks import mapping  # noqa: E402
from benchmarks.sim_boxes import true_detections  # noqa: E402
from embodied_memory.msg import InstanceSegmentation  # noqa: E402
from memory_nodes.conversions import array_to_image, from_time  # noqa: E402
from memory_nodes.perception_node import PerceptionNode  # noqa: E402
from memory_nodes.robot_parameters import robot_fusion_parameters  # noqa: E402
from memory_nodes.sim_bridge_node import SimBridge  # noqa: E402
from memory_nodes.tools import stack  # noqa: E402
from perception.records import Detection  # noqa: E402
from scene_graph.frames import RGBDFrame  # noqa: E402
from scene_graph.graph import SceneGraph  # noqa: E402
from sim.home.generate import generate_home  # noqa: E402
from sim.home.memory_layout import world_layout  # noqa: E402
from sim.home.world import HomeWorld  # noqa: E402
from sim.records import Action  # noqa: E402

pytestmark = pytest.mark.ros
SEED = 11
ROOMS = 3
VIEWS = 4  # frames fused at each stop


def _key(rgb: np.ndarray) -> bytes:
    return hashlib.sha1(np.ascontiguousarray(rgb).tobytes()).digest()


class GroundTruthBoxes:
    """Test double of ``perception.backends.Detector``: the simulator's boxes for an image it rendered."""

    name = "ground_truth_test_double"

    def __init__(self, world: HomeWorld) -> None:
        self.frames: OrderedDict[bytes, RGBDFrame] = OrderedDict()
        self.seen: dict[str, str] = {}  # simulator id -> type, of what was visible enough to detect
        render = world.render

        def recording_render(*args: Any, **kwargs: Any) -> RGBDFrame:
            frame = render(*args, **kwargs)
            self.frames[_key(frame.color)] = frame
            while len(self.frames) > 100:
                self.frames.popitem(last=False)
            return frame

        world.render = recording_render  # type: ignore[method-assign]

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        frame = self.frames.get(_key(rgb))
        if frame is None:
            return []
        detections = true_detections(frame, min_pixels=mapping.VISIBLE_PIXELS)
        for instance, label in frame.labels.items():
            if (frame.instance_ids == instance).sum() >= mapping.VISIBLE_PIXELS:
                self.seen[frame.external_ids[instance]] = label
        return [Detection(d.box, d.label, d.score) for d in detections]  # a detector knows no simulator ids


def _add(s: stack.Stack, name: str, node: Node) -> Node:
    assert s.spinner is not None
    s.nodes[name] = node
    s.spinner.add(node)
    return node


def _params(**values: Any) -> list[Parameter]:
    return [Parameter(k, value=v) for k, v in values.items()]


def _furniture(world: HomeWorld) -> list[str]:
    """The benchmark's tour order: every piece of furniture, room by room."""
    return [e.object_id for e in sorted((e for e in world.home if e.kind.layer == "furniture"),
                                        key=lambda e: (e.room, e.object_id))]


def _in_process_front_end() -> dict[str, Any]:
    """``bench mapping``'s front end, in this process, on the node test's home and tour (VIEWS frames a stop)."""
    front_end = mapping.FrontEnd(seed=0)
    world = HomeWorld(generate_home(SEED, n_rooms=ROOMS), seed=SEED, perception=front_end)
    graph = SceneGraph()
    graph.set_layout(*world_layout(world))
    fusion = front_end.fusion(graph)
    for object_id in _furniture(world):
        if world.step(Action("GoToObject", object_id)).success:
            for _ in range(VIEWS):
                fusion.integrate(world.render())
    return mapping.grade(fusion, world.object_states(), front_end.seen)


def test_the_robot_front_end_loses_nothing_through_the_nodes(tmp_path):
    """The bridge's colour, depth and TF (no instances) -> the perception node (perfect boxes, the real
    tracker and depth masks) -> the long-term node set as the robot bring-up sets it, graded as
    ``bench mapping`` grades, against the benchmark's own front end on the same home and tour.

    The nodes must do as well as the in-process pipeline the benchmark grades (TF lookups, stamps,
    the newest-frame rate and the messages must not cost objects, add duplicates or move centroids)
    and meet the benchmark's mapping goals on this home, as ``realistic`` perception does over the
    benchmark's runs (docs/results.md compares the two there, figure by figure)."""
    world = HomeWorld(generate_home(SEED, n_rooms=ROOMS), seed=SEED)
    detector = GroundTruthBoxes(world)
    s = stack.start(["long_term_memory"], overrides={"long_term_memory": {
        "memory_dir": str(tmp_path), "pose_source": "tf", "text_index": "none", "snapshot_interval_s": 0.0,
        **robot_fusion_parameters(depth_masks=True)}})  # the tracker reissues ids, as real trackers do
    try:
        ltm = s.nodes["long_term_memory"]
        perception = _add(s, "perception", PerceptionNode(detector=detector, context=s.context,
                                                          parameter_overrides=_params(rate_hz=20.0)))
        bridge = _add(s, "sim_bridge", SimBridge(world=world, context=s.context, parameter_overrides=_params(
            rate_hz=5.0, publish_instances=False)))
        for object_id in bridge.with_world(_furniture):
            bridge.with_world(lambda w, target=object_id: w.step(Action("GoToObject", target)))
            done = ltm.diagnostic_values()["frames_integrated"]
            assert until(lambda n=done: ltm.diagnostic_values()["frames_integrated"] >= n + VIEWS), \
                (ltm.diagnostic_values(), perception.diagnostic_values())
        assert perception.diagnostic_values()["rejected"] == 0
        with ltm._lock:
            truth = bridge.with_world(lambda w: w.object_states())
            nodes = mapping.grade(ltm.memory.fusion, truth, set(detector.seen))
    finally:
        s.shutdown()
    alone = _in_process_front_end()
    assert nodes["truth_objects"] >= 40, nodes
    for key in ("f1", "duplicate_rate", "label_accuracy", "centroid_median_m"):
        assert mapping.meets_goal(key, nodes[key]), (key, nodes)
    assert nodes["f1"] >= alone["f1"] - 0.05, (nodes, alone)
    assert nodes["duplicate_rate"] <= alone["duplicate_rate"] + 2 / nodes["truth_objects"], (nodes, alone)
    assert nodes["centroid_median_m"] <= alone["centroid_median_m"] + 0.02, (nodes, alone)


def test_tiny_models_publish_instances_stamped_like_the_input_and_bad_input_is_counted(tmp_path):
    from benchmarks.tiny_models import build_grounding_dino, build_sam

    words = ["mug", "apple", "fridge"]
    gdino, sam = build_grounding_dino(tmp_path / "gdino", words), build_sam(tmp_path / "sam")
    s = stack.start([], overrides={})
    try:
        node = _add(s, "perception", PerceptionNode(context=s.context, parameter_overrides=_params(
            detector_backend="grounding_dino", detector_model=str(gdino), mask_backend="sam", mask_model=str(sam),
            vocabulary=",".join(words), score_threshold=0.0, text_threshold=0.0, rate_hz=20.0)))
        no_model = _add(s, "perception_without_model", PerceptionNode(context=s.context, parameter_overrides=_params(
            detector_model=str(tmp_path / "absent"))))
        no_words = PerceptionNode(context=s.context, parameter_overrides=_params(
            detector_model=str(tmp_path / "gdino"), detector_backend="grounding_dino", vocabulary=" , "))
        s.nodes["perception_no_words"] = no_words
        assert node.unavailable == "" and "detector_model: no model folder" in no_model.unavailable
        assert str(tmp_path / "absent") in no_model.unavailable
        assert "vocabulary is empty" in no_words.unavailable

        client = Node("perception_test_client", context=s.context)
        s.nodes["client"] = client
        received: list[InstanceSegmentation] = []
        client.create_subscription(InstanceSegmentation, "camera/instances", received.append, 10)
        color_pub = client.create_publisher(Image, "camera/color/image_raw", 10)
        depth_pub = client.create_publisher(Image, "camera/depth/image_raw", 10)
        s.spinner.add(client)
        assert until(lambda: client.count_subscribers("camera/color/image_raw") >= 3, 20.0)
        rgb = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        depth = np.full((240, 320), 2.0, dtype=np.float32)

        published: list[float] = []

        def publish(stamp: float, encoding: str = "rgb8", with_depth: bool = True) -> None:
            published.append(stamp)
            if with_depth:  # the depth image first, held by the nodes before its colour image comes
                depth_pub.publish(array_to_image(depth, "32FC1", "camera_optical", stamp))
                perceivers = [n for n in s.nodes.values() if isinstance(n, PerceptionNode) and not n.unavailable]
                until(lambda: all(any(from_time(d.header.stamp) == stamp for d in n._depths) for n in perceivers), 5.0)
            color = array_to_image(rgb, "rgb8", "camera_optical", stamp)
            color.encoding = encoding
            color_pub.publish(color)

        stamp = 10.0
        while not received and stamp < 60.0:  # discovery may eat the first frames
            stamp += 1.0
            publish(stamp)
            until(lambda: bool(received), 1.0)
        assert received, node.diagnostic_values()
        out = received[-1]
        # Stamped like the colour image it came from (a slow model may answer for an earlier frame).
        assert out.header.stamp.nanosec == 0 and float(out.header.stamp.sec) in published
        assert out.header.frame_id == "camera_optical"
        assert (out.ids.height, out.ids.width) == (240, 320) and len(out.labels) == len(out.instance_ids) > 0
        assert set(out.labels) <= {"Mug", "Apple", "Fridge"}

        publish(stamp + 1.0, encoding="yuv422")
        assert until(lambda: node.diagnostic_values().get("rejected[camera: unsupported image encoding 'yuv422' "
                                                          "(accepted]", 0) >= 1, 20.0), node.diagnostic_values()
        sam_without_depth = len(received)
        publish(stamp + 2.0, with_depth=False)  # SAM needs no depth: still segmented
        assert until(lambda: len(received) > sam_without_depth, 20.0)
        depth_only = _add(s, "perception_depth_masks", PerceptionNode(context=s.context, parameter_overrides=_params(
            detector_backend="grounding_dino", detector_model=str(gdino), vocabulary="mug", rate_hz=20.0)))
        assert until(lambda: client.count_subscribers("camera/color/image_raw") >= 4, 20.0)

        def no_depth_counted() -> bool:
            return any(key.startswith("rejected[camera: no depth image within")
                       for key in depth_only.diagnostic_values())

        for k in range(20):  # a camera without depth (the node's first frames may go by before it is matched)
            publish(stamp + 3.0 + k, with_depth=False)
            if until(no_depth_counted, 2.0):
                break
        assert no_depth_counted(), depth_only.diagnostic_values()
        before = len(received)
        publish(stamp + 30.0)  # and both go on serving
        assert until(lambda: len(received) >= before + 2, 20.0)
    finally:
        s.shutdown()
