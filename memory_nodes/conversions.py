"""The one place where ROS messages meet the core's records.

Every function here is pure (message in, record out or the reverse) so that it can be round-trip
tested without spinning a node. Bad messages raise :class:`ConversionError` with a reason a node
can log and count; nothing here guesses silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point32, Pose, PoseStamped, TransformStamped
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from embodied_memory.action import Skill
from embodied_memory.msg import GraphUpdate as GraphUpdateMsg
from embodied_memory.msg import InstanceSegmentation as InstanceSegmentationMsg
from embodied_memory.msg import Layout as LayoutMsg
from embodied_memory.msg import MemoryUnit as MemoryUnitMsg
from embodied_memory.msg import ObjectNode as ObjectNodeMsg
from embodied_memory.msg import Place as PlaceMsg
from embodied_memory.msg import Relation as RelationMsg
from embodied_memory.msg import StateChange as StateChangeMsg
from perception.records import Detection, InstanceImage
from planners.interfaces import SkillResult
from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.ontology import ACTION_NAMES
from scene_graph.outcomes import SkillCode
from scene_graph.records import (
    MISSING,
    MOVED,
    VISIBLE,
    AreaNode,
    GraphDelta,
    ObjectNode,
    OrientedBox,
    Relation,
    RoomNode,
)
from scene_graph.rotations import (
    matrix_to_quaternion,
    quaternion_to_matrix,
    quaternion_to_yaw,
    rpy_to_matrix,
    yaw_to_quaternion,
)
from scene_graph.short_term import MemoryUnit, change_unit
from sim.records import Action, ActionResult, ChangeValue, StateChange

_STATUS_TO_MSG = {VISIBLE: ObjectNodeMsg.STATUS_VISIBLE, MISSING: ObjectNodeMsg.STATUS_MISSING,
                  MOVED: ObjectNodeMsg.STATUS_MOVED}
_STATUS_FROM_MSG = {v: k for k, v in _STATUS_TO_MSG.items()}

# numpy dtype and channel count per sensor_msgs/Image encoding that memory accepts.
_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "32FC1": (np.dtype(np.float32), 1),
    "16UC1": (np.dtype(np.uint16), 1),  # depth in millimetres (OpenNI/RealSense convention)
    "mono16": (np.dtype(np.uint16), 1),
    "32SC1": (np.dtype(np.int32), 1),
}


class ConversionError(ValueError):
    """A message that cannot become a core record; the text says why."""


# ----------------------------------------------------------------------------- time
def to_time(seconds: float) -> Time:
    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def from_time(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


# ----------------------------------------------------------------------------- geometry
def pose_to_matrix(pose: Pose) -> np.ndarray:
    """4x4 homogeneous transform of a geometry_msgs/Pose (rejects non-finite values)."""
    p, q = pose.position, pose.orientation
    if not all(math.isfinite(v) for v in (p.x, p.y, p.z)):
        raise ConversionError("pose position is not finite")
    T = np.eye(4)
    try:
        T[:3, :3] = quaternion_to_matrix((q.x, q.y, q.z, q.w))
    except ValueError as exc:
        raise ConversionError(str(exc)) from None
    T[:3, 3] = (p.x, p.y, p.z)
    return T


def offset_to_matrix(values: Sequence[float]) -> np.ndarray:
    """4x4 transform of [x, y, z, roll, pitch, yaw] (metres, radians; rotation applied as Rz Ry Rx)."""
    if len(values) != 6 or not all(math.isfinite(v) for v in values):
        raise ConversionError(f"an offset is 6 finite numbers [x, y, z, roll, pitch, yaw], got {list(values)}")
    T = np.eye(4)
    T[:3, :3] = rpy_to_matrix(*values[3:])
    T[:3, 3] = values[:3]
    return T


def box_to_pose(box: OrientedBox) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = box.center
    (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w) = yaw_to_quaternion(box.yaw)
    return pose


def pose_to_box(pose: Pose, size: Sequence[float]) -> OrientedBox:
    q = pose.orientation
    try:
        yaw = quaternion_to_yaw((q.x, q.y, q.z, q.w))
    except ValueError as exc:
        raise ConversionError(f"box orientation: {exc}") from None
    c = pose.position
    return OrientedBox((c.x, c.y, c.z), (float(size[0]), float(size[1]), float(size[2])), yaw)


# ----------------------------------------------------------------------------- graph records
def state_to_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def state_from_text(text: str) -> object:
    return {"true": True, "false": False}.get(text, text)


def object_to_msg(node: ObjectNode) -> ObjectNodeMsg:
    msg = ObjectNodeMsg(id=node.id, label=node.label, layer=node.layer, room_id=node.room_id,
                        area_id=node.area_id, observation_count=node.observation_count,
                        confidence=float(node.confidence), status=_STATUS_TO_MSG[node.status],
                        external_id=node.external_id)
    msg.centroid.x, msg.centroid.y, msg.centroid.z = node.centroid
    msg.box_pose = box_to_pose(node.box)
    msg.box_size.x, msg.box_size.y, msg.box_size.z = node.box.extent
    msg.state_names = [name for name, _ in node.states]
    msg.state_values = [state_to_text(value) for _, value in node.states]
    msg.first_seen = to_time(node.first_seen)
    msg.last_seen = to_time(node.last_seen)
    msg.last_changed = to_time(node.last_changed)
    return msg


def object_from_msg(msg: ObjectNodeMsg) -> ObjectNode:
    if len(msg.state_names) != len(msg.state_values):
        raise ConversionError(f"object {msg.id!r}: {len(msg.state_names)} state names but "
                              f"{len(msg.state_values)} values")
    if msg.status not in _STATUS_FROM_MSG:
        raise ConversionError(f"object {msg.id!r}: unknown status {msg.status}")
    size = (msg.box_size.x, msg.box_size.y, msg.box_size.z)
    states = tuple(sorted((n, state_from_text(v)) for n, v in zip(msg.state_names, msg.state_values)))
    return ObjectNode(
        id=msg.id, label=msg.label, layer=msg.layer,
        centroid=(msg.centroid.x, msg.centroid.y, msg.centroid.z), box=pose_to_box(msg.box_pose, size),
        room_id=msg.room_id, area_id=msg.area_id, states=states,
        first_seen=from_time(msg.first_seen), last_seen=from_time(msg.last_seen),
        last_changed=from_time(msg.last_changed), observation_count=msg.observation_count, confidence=msg.confidence,
        status=_STATUS_FROM_MSG[msg.status], external_id=msg.external_id,
    )


def relation_to_msg(relation: Relation) -> RelationMsg:
    return RelationMsg(subject_id=relation.subject, predicate=relation.predicate.upper(),
                       object_id=relation.object)


def relation_from_msg(msg: RelationMsg) -> Relation:
    return Relation(msg.subject_id, msg.predicate.lower(), msg.object_id)


def delta_to_msg(delta: GraphDelta, frame_id: str) -> GraphUpdateMsg:
    msg = GraphUpdateMsg(sequence=delta.sequence)
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(delta.stamp)
    msg.upserted_objects = [object_to_msg(o) for o in delta.upserted_objects]
    msg.removed_object_ids = list(delta.removed_objects)
    msg.added_relations = [relation_to_msg(r) for r in delta.added_relations]
    msg.removed_relations = [relation_to_msg(r) for r in delta.removed_relations]
    return msg


def delta_from_msg(msg: GraphUpdateMsg) -> GraphDelta:
    """The inverse of :func:`delta_to_msg` (rooms and areas travel on ``layout``, not in updates)."""
    return GraphDelta(msg.sequence, from_time(msg.header.stamp),
                      tuple(object_from_msg(o) for o in msg.upserted_objects), tuple(msg.removed_object_ids),
                      tuple(relation_from_msg(r) for r in msg.added_relations),
                      tuple(relation_from_msg(r) for r in msg.removed_relations))


def snapshot_to_msg(objects: Sequence[ObjectNode], relations: Sequence[Relation], sequence: int,
                    frame_id: str, stamp: float) -> GraphUpdateMsg:
    """The whole memory as one GraphUpdate (everything upserted), for late joiners."""
    return delta_to_msg(GraphDelta(sequence, stamp, tuple(objects), (), tuple(relations)), frame_id)


# ----------------------------------------------------------------------------- layout
def layout_to_msg(rooms: Sequence[RoomNode], areas: Sequence[AreaNode], frame_id: str, stamp: float) -> LayoutMsg:
    msg = LayoutMsg()
    msg.header.frame_id, msg.header.stamp = frame_id, to_time(stamp)
    for room in rooms:
        place = PlaceMsg(id=room.id, kind=room.kind, room_id=room.floor)  # a room's room_id: its floor
        place.polygon.points = [Point32(x=float(x), y=float(y), z=0.0) for x, y in room.polygon]
        if room.polygon:
            place.position.x, place.position.y = (float(v) for v in np.mean(np.asarray(room.polygon), axis=0))
        msg.rooms.append(place)
    for area in areas:
        place = PlaceMsg(id=area.id, kind="area", room_id=area.room_id, neighbors=list(area.neighbors))
        place.position.x, place.position.y, place.position.z = (float(v) for v in area.position)
        msg.areas.append(place)
    return msg


def layout_from_msg(msg: LayoutMsg) -> tuple[list[RoomNode], list[AreaNode]]:
    """Rooms need an outline of three or more finite points; ids must be unique across both layers."""
    ids = [p.id for p in list(msg.rooms) + list(msg.areas)]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        raise ConversionError("layout ids must be non-empty and unique across rooms and areas")
    rooms = []
    for place in msg.rooms:
        polygon = tuple((float(p.x), float(p.y)) for p in place.polygon.points)
        if len(polygon) < 3 or not np.all(np.isfinite(polygon)):
            raise ConversionError(f"room {place.id!r} needs an outline of at least 3 finite points")
        rooms.append(RoomNode(place.id, place.kind, polygon, place.room_id))
    areas = []
    for place in msg.areas:
        position = (place.position.x, place.position.y, place.position.z)
        if not np.all(np.isfinite(position)):
            raise ConversionError(f"area {place.id!r} has a non-finite position")
        areas.append(AreaNode(place.id, place.room_id, position, tuple(place.neighbors)))
    return rooms, areas


# ----------------------------------------------------------------------------- short-term memory
def unit_to_msg(unit: MemoryUnit) -> MemoryUnitMsg:
    msg = MemoryUnitMsg(object_id=unit.object_id, object_type=unit.object_type, kind=unit.kind,
                        receptacle=unit.receptacle or "", text=unit.text or "", image_ref=unit.image_ref or "",
                        confirmed=unit.confirmed, stamp=to_time(unit.stamp))
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in unit.position)
    msg.state_names = [name for name, _ in unit.state]
    msg.state_values = [state_to_text(value) for _, value in unit.state]
    return msg


def unit_from_state_change(msg: StateChangeMsg, confirmed_causes: Sequence[str] = ()) -> MemoryUnit:
    """A StateChange as a short-term unit (:func:`scene_graph.short_term.change_unit`); a change
    whose cause is in ``confirmed_causes`` (a skill that reported success) is vouched for."""
    if not msg.object_id or not msg.state:
        raise ConversionError("state change without object_id or state")
    position = (msg.position.x, msg.position.y, msg.position.z)
    if not np.all(np.isfinite(position)):
        raise ConversionError(f"state change of {msg.object_id!r} has a non-finite position")
    value = msg.new_value if msg.state in ("position", "parent") else state_from_text(msg.new_value)
    return change_unit(msg.object_id, msg.object_type, position, from_time(msg.header.stamp), msg.state, value,
                       msg.cause in confirmed_causes, msg.image_ref or None)


# ----------------------------------------------------------------------------- images
def image_to_array(msg: Image) -> np.ndarray:
    """A sensor_msgs/Image as a numpy view (H, W) or (H, W, C); bgr8 comes back as RGB."""
    if msg.encoding not in _ENCODINGS:
        raise ConversionError(f"unsupported image encoding {msg.encoding!r} "
                              f"(accepted: {', '.join(_ENCODINGS)})")
    dtype, channels = _ENCODINGS[msg.encoding]
    dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    row = msg.width * channels * dtype.itemsize
    if msg.height == 0 or msg.width == 0:
        raise ConversionError("image has zero size")
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ConversionError(f"image data is {len(msg.data)} bytes, expected {msg.step * msg.height} "
                              f"for {msg.width}x{msg.height} {msg.encoding} with step {msg.step}")
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.step * msg.height].reshape(msg.height, msg.step)
    array = buffer[:, :row].copy().view(dtype).reshape(msg.height, msg.width, channels)
    if msg.encoding == "bgr8":
        array = array[:, :, ::-1]
    return array[:, :, 0] if channels == 1 else array


def array_to_image(array: np.ndarray, encoding: str, frame_id: str = "", stamp: float = 0.0) -> Image:
    """The inverse of :func:`image_to_array` (fills data with bytes: fast, see the ROS notes)."""
    dtype, channels = _ENCODINGS[encoding]
    if encoding == "bgr8":
        array = array[:, :, ::-1]
    array = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<"))
    height, width = array.shape[:2]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * channels * dtype.itemsize)
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(stamp)
    msg.data = array.tobytes()
    return msg


def depth_to_metres(msg: Image) -> np.ndarray:
    depth = image_to_array(msg)
    if msg.encoding in ("16UC1", "mono16"):
        return depth.astype(np.float32) / 1000.0
    if msg.encoding != "32FC1":
        raise ConversionError(f"depth must be 32FC1 (m) or 16UC1 (mm), got {msg.encoding!r}")
    return depth.astype(np.float32, copy=False)


def intrinsics_from_camera_info(msg: CameraInfo) -> CameraIntrinsics:
    fx, fy, cx, cy = msg.k[0], msg.k[4], msg.k[2], msg.k[5]
    if not (fx > 0 and fy > 0 and math.isfinite(cx) and math.isfinite(cy)):
        raise ConversionError("camera info has no valid K matrix (fx, fy must be positive)")
    return CameraIntrinsics(msg.width, msg.height, fx, fy, cx, cy)


def camera_info_from_intrinsics(intrinsics: CameraIntrinsics, frame_id: str, stamp: float) -> CameraInfo:
    msg = CameraInfo(width=intrinsics.width, height=intrinsics.height, distortion_model="plumb_bob")
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(stamp)
    msg.k = [intrinsics.fx, 0.0, intrinsics.cx, 0.0, intrinsics.fy, intrinsics.cy, 0.0, 0.0, 1.0]
    msg.p = [intrinsics.fx, 0.0, intrinsics.cx, 0.0, 0.0, intrinsics.fy, intrinsics.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.d = [0.0] * 5
    return msg


def instance_image_to_msg(image: InstanceImage, frame_id: str, stamp: float) -> InstanceSegmentationMsg:
    """One frame's instances (from a simulator or the perception front end) as the message."""
    ids = sorted(image.labels)
    msg = InstanceSegmentationMsg()
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(stamp)
    msg.ids = array_to_image(image.ids.astype(np.int32), "32SC1", frame_id, stamp)
    msg.instance_ids = ids
    msg.labels = [image.labels[i] for i in ids]
    msg.scores = [float(image.scores.get(i, 1.0)) for i in ids] if image.scores else []
    msg.external_ids = [image.external_ids.get(i, "") for i in ids] if image.external_ids else []
    return msg


def instances_to_msg(frame: RGBDFrame) -> InstanceSegmentationMsg:
    return instance_image_to_msg(InstanceImage(frame.instance_ids, frame.labels, frame.scores, frame.external_ids),
                                 frame.frame_id, frame.stamp)


def detections_from_msg(msg: Detection2DArray, class_names: Sequence[str] = ()) -> list[Detection]:
    """vision_msgs/Detection2DArray as detections: each one's best hypothesis, its box (a rotated box
    becomes the upright box around it) and its tracking id. A numeric class id indexes
    ``class_names`` when given (COCO-style detectors)."""
    out = []
    for k, d in enumerate(msg.detections):
        if not d.results:
            raise ConversionError(f"detection {k} has no class hypothesis")
        best = max(d.results, key=lambda r: r.hypothesis.score).hypothesis
        label = best.class_id.strip()
        if class_names and label.isdigit():
            if int(label) >= len(class_names):
                raise ConversionError(f"detection {k}: class id {label} beyond the {len(class_names)} class names")
            label = class_names[int(label)]
        c, sx, sy = d.bbox.center, d.bbox.size_x, d.bbox.size_y
        values = (c.position.x, c.position.y, c.theta, sx, sy, best.score)
        if not all(math.isfinite(v) for v in values) or sx <= 0 or sy <= 0 or not label:
            raise ConversionError(f"detection {k}: box, score or class id is empty or not finite")
        half_w = abs(sx / 2 * math.cos(c.theta)) + abs(sy / 2 * math.sin(c.theta))
        half_h = abs(sx / 2 * math.sin(c.theta)) + abs(sy / 2 * math.cos(c.theta))
        out.append(Detection((c.position.x - half_w, c.position.y - half_h, c.position.x + half_w,
                              c.position.y + half_h), label, float(best.score), d.id))
    return out


def detections_to_msg(detections: Sequence[Detection], frame_id: str, stamp: float) -> Detection2DArray:
    """The inverse of :func:`detections_from_msg` (upright boxes), for tests and tools."""
    msg = Detection2DArray()
    msg.header.frame_id, msg.header.stamp = frame_id, to_time(stamp)
    for detection in detections:
        x0, y0, x1, y1 = detection.box
        d = Detection2D(id=detection.track_id)
        d.header = msg.header
        d.bbox.center.position.x, d.bbox.center.position.y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        d.bbox.size_x, d.bbox.size_y = float(x1 - x0), float(y1 - y0)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = detection.label, float(detection.score)
        d.results = [hypothesis]
        msg.detections.append(d)
    return msg


@dataclass(frozen=True)
class FrameMessages:
    """One RGB-D frame as the messages a camera driver, a segmenter and odometry publish."""

    color: Image
    depth: Image
    info: CameraInfo
    instances: InstanceSegmentationMsg
    pose: PoseStamped  # the camera optical frame in the world frame


def frame_to_msgs(frame: RGBDFrame, world_frame: str) -> FrameMessages:
    """The inverse of :func:`frame_from_msgs`, for simulators, benchmarks and tests."""
    pose = PoseStamped(pose=matrix_to_pose(frame.T_world_camera))
    pose.header.frame_id, pose.header.stamp = world_frame, to_time(frame.stamp)
    return FrameMessages(
        color=array_to_image(frame.color, "rgb8", frame.frame_id, frame.stamp),
        depth=array_to_image(frame.depth, "32FC1", frame.frame_id, frame.stamp),
        info=camera_info_from_intrinsics(frame.intrinsics, frame.frame_id, frame.stamp),
        instances=instances_to_msg(frame), pose=pose)


def frame_from_msgs(color: Image, depth: Image, info: CameraInfo, instances: InstanceSegmentationMsg,
                    T_world_camera: np.ndarray) -> RGBDFrame:
    """Assemble one RGBDFrame from synchronized messages; sizes must agree."""
    rgb = image_to_array(color)
    if rgb.ndim != 3:
        raise ConversionError(f"colour image must be rgb8 or bgr8, got {color.encoding!r}")
    depth_m = depth_to_metres(depth)
    ids = image_to_array(instances.ids).astype(np.int32)
    shapes = {"colour": rgb.shape[:2], "depth": depth_m.shape, "instances": ids.shape,
              "camera info": (info.height, info.width)}
    if len(set(shapes.values())) != 1:
        raise ConversionError("image sizes differ: " + ", ".join(f"{k} {v[1]}x{v[0]}" for k, v in shapes.items()))
    n = len(instances.instance_ids)
    if len(instances.labels) != n or len(instances.scores) not in (0, n) or len(instances.external_ids) not in (0, n):
        raise ConversionError(f"instance message has {n} ids but {len(instances.labels)} labels, "
                              f"{len(instances.scores)} scores, {len(instances.external_ids)} external ids")
    ids_list = [int(i) for i in instances.instance_ids]
    return RGBDFrame(
        stamp=from_time(depth.header.stamp), color=rgb, depth=depth_m, instance_ids=ids,
        labels=dict(zip(ids_list, instances.labels)), intrinsics=intrinsics_from_camera_info(info),
        T_world_camera=T_world_camera, scores=dict(zip(ids_list, map(float, instances.scores))),
        external_ids=dict(zip(ids_list, instances.external_ids)), frame_id=depth.header.frame_id,
    )


# ----------------------------------------------------------------------------- poses
def matrix_to_pose(T: np.ndarray) -> Pose:
    """The inverse of :func:`pose_to_matrix`."""
    q = matrix_to_quaternion(np.asarray(T)[:3, :3])
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in np.asarray(T)[:3, 3])
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (float(v) for v in q)
    return pose


def matrix_to_transform(T: np.ndarray, parent: str, child: str, stamp: float) -> TransformStamped:
    """The 4x4 pose of ``child`` in ``parent`` as a TF transform."""
    pose = matrix_to_pose(T)
    msg = TransformStamped(child_frame_id=child)
    msg.header.frame_id, msg.header.stamp = parent, to_time(stamp)
    t = msg.transform
    t.translation.x, t.translation.y, t.translation.z = pose.position.x, pose.position.y, pose.position.z
    t.rotation = pose.orientation
    return msg


# ----------------------------------------------------------------------------- simulator records
def _value_to_text(value: ChangeValue) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(state_to_text(v) for v in value)
    return state_to_text(value)


def state_change_to_msg(change: StateChange, frame_id: str,
                        position: Optional[Sequence[float]] = None) -> StateChangeMsg:
    """A simulator's change as the message; ``object_id`` is the simulator's own (``external``).

    ``position`` is where the change is reported at (:func:`sim.records.where_changed`); None
    leaves the message's zeros. Cause "agent:<Skill>" becomes the skill name, as the message
    defines; household causes keep the member ("household:<name>").
    """
    msg = StateChangeMsg(object_id=change.object_id, external=True, object_type=change.object_type,
                         state=change.state, previous_value=_value_to_text(change.old),
                         new_value=_value_to_text(change.new), cause=change.cause.removeprefix("agent:"))
    msg.header.frame_id = frame_id
    msg.header.stamp = to_time(change.stamp)
    if position is not None:
        msg.position.x, msg.position.y, msg.position.z = (float(v) for v in position)
    return msg


def skill_goal_to_action(goal: Skill.Goal) -> Action:
    """A Skill goal as a simulator action; unknown skill names raise :class:`ConversionError`."""
    if goal.skill not in ACTION_NAMES:
        raise ConversionError(f"unknown skill {goal.skill!r} (known: {', '.join(ACTION_NAMES)})")
    return Action(goal.skill, goal.object_id or None)


def skill_result_to_msg(result: ActionResult) -> Skill.Result:
    """An ActionResult as the Skill result; the code is the simulator's own (SkillCode values are
    Skill.Result's constants)."""
    return Skill.Result(success=result.success, error_code=int(result.code), error_message=result.error,
                        distance=float(result.distance), steps=int(result.steps))


def skill_result_from_msg(msg: Skill.Result) -> SkillResult:
    """A Skill result as the planner's record. A code this build does not know (a newer robot's)
    reads as SKILL_FAILED, so the planner replans on it instead of stopping; the message stays."""
    try:
        code = SkillCode(msg.error_code)
    except ValueError:
        code = SkillCode.NONE if msg.success else SkillCode.SKILL_FAILED
    return SkillResult(msg.success, code, msg.error_message, float(msg.distance), int(msg.steps))
