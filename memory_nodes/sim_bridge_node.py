"""ROS 2 bridge to the embedded household simulator: it speaks the topic contract of a robot.

The node owns a ``sim.home.world.HomeWorld`` and publishes what a robot's drivers would: colour,
depth, camera info, ground-truth instance segmentation, the camera pose (``odom`` and
``camera/pose``; TF map -> odom -> base_link -> camera optical frame on ``/tf`` and ``/tf_static``
whenever ``tf2_msgs`` imports) and the
world's state changes. Skills run through the ``execute_skill`` action. All stamps are simulated
seconds, so frames and state changes share one timeline; ``/clock`` carries that time when
``rosgraph_msgs`` is installed, for nodes started with ``use_sim_time``. Logic lives in ``sim``
and ``memory_nodes.conversions``; this file is wiring.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, Image

from embodied_memory.action import Skill
from embodied_memory.msg import InstanceSegmentation, Layout, StateChange
from memory_nodes.conversions import (
    ConversionError,
    frame_to_msgs,
    layout_to_msg,
    matrix_to_transform,
    skill_goal_to_action,
    skill_result_to_msg,
    state_change_to_msg,
)
from memory_nodes.node_support import SingleGoal, declare_all, declare_request_limits, parameter, spin_nodes
from scene_graph.admission import check_request
from scene_graph.frames import RGBDFrame
from sim.coords import base_under_camera
from sim.home.generate import floor_plan_home, generate_home
from sim.home.household import Household
from sim.home.memory_layout import world_layout
from sim.home.world import HomeWorld
from sim.perception import Perception

try:  # Built by setup where no ROS install provides it (interfaces/tf2_msgs): normally always there.
    from tf2_msgs.msg import TFMessage
except ImportError:
    TFMessage = None
try:  # Likewise optional: without it, subscribers read the stamps as they come.
    from rosgraph_msgs.msg import Clock
except ImportError:
    Clock = None

_EVENT_QUEUE = 100  # state changes are rare but must not be dropped behind a slow subscriber
T = TypeVar("T")


@dataclass(frozen=True)
class SimBridgeParams:
    """The simulator bridge's parameters (``config/memory.yaml``, section sim_bridge)."""

    seed: int = parameter(0, "Seed of the generated home (used when floor_plan is 0)", integer_range=(0, 2**31 - 1))
    floor_plan: int = parameter(0, "AI2-THOR-style FloorPlan number; 0 = the home of seed", integer_range=(0, 430))
    rate_hz: float = parameter(10.0, "Render and publish rate (Hz); simulated time advances in real time at this "
                               "rate. 0: frames only after skills, and time stands still between them "
                               "(reproducible runs)", float_range=(0.0, 60.0))
    household: bool = parameter(False, "Let household members act on the simulated clock")
    report_household: bool = parameter(True, "Publish the household's changes on state_changes too; false: memory "
                                       "learns of them only by looking, as a robot that nobody tells")
    map_frame: str = parameter("map", "Fixed world frame of poses and state changes")
    camera_frame: str = parameter("camera_color_optical_frame",
                                  "Optical frame (x right, y down, z forward) of the images")
    odom_frame: str = parameter("odom", "REP-105 odometry frame of the TF tree")
    base_frame: str = parameter("base_link", "REP-105 robot base frame of the TF tree")
    publish_instances: bool = parameter(True, "Publish the simulator's ground-truth camera/instances; false: a "
                                        "perception node must segment the images")
    perception: str = parameter("oracle", "Perception model applied to every rendered frame: oracle (perfect), "
                                "realistic (a camera + detector + tracker), harsh (rates doubled)")
    area_size: float = parameter(1.0, "Side of the square floor areas of the published layout (m)",
                                 float_range=(0.25, 5.0))
    rooms: int = parameter(0, "Rooms of the generated home (0: the generator picks 1-6)", integer_range=(0, 6))


class SimBridge(Node):
    """``world``: bridge this world instead of generating one from the parameters (a harness that
    builds its own homes, as the benchmark does); it is then used under the bridge's lock only."""

    def __init__(self, world: Optional[HomeWorld] = None, **kwargs: Any) -> None:
        super().__init__("sim_bridge", **kwargs)
        params = self.params = declare_all(self, SimBridgeParams)
        seed, floor_plan, rate_hz = params.seed, params.floor_plan, params.rate_hz
        self._report_household = params.report_household
        self._map_frame, self._camera_frame = params.map_frame, params.camera_frame
        self._odom_frame, self._base_frame = params.odom_frame, params.base_frame
        self._publish_instances = params.publish_instances
        if world is None:
            home = floor_plan_home(floor_plan) if floor_plan else generate_home(seed, n_rooms=params.rooms or None)
            world = HomeWorld(home, seed=seed, household=Household(seed=seed) if params.household else None,
                              perception=Perception.named(params.perception, seed))
        self._world = world
        # The timer and skill execution both touch the world; a skill may run in an executor thread.
        self._lock = threading.Lock()
        self._limits = declare_request_limits(self)

        self._color_pub = self.create_publisher(Image, "camera/color/image_raw", 5)
        self._depth_pub = self.create_publisher(Image, "camera/depth/image_raw", 5)
        self._info_pub = self.create_publisher(CameraInfo, "camera/color/camera_info", 5)
        self._instances_pub = self.create_publisher(InstanceSegmentation, "camera/instances", 5)
        self._odom_pub = self.create_publisher(Odometry, "odom", 10)
        self._pose_pub = self.create_publisher(PoseStamped, "camera/pose", 10)
        self._events_pub = self.create_publisher(StateChange, "state_changes", _EVENT_QUEUE)
        self._traffic: Counter[str] = Counter()  # messages sent (:meth:`traffic`)
        self._tf_pub = self.create_publisher(TFMessage, "/tf", 100) if TFMessage is not None else None
        self._clock_pub = self.create_publisher(Clock, "/clock", 10) if Clock is not None else None
        if TFMessage is None:
            self.get_logger().info("tf2_msgs is not installed: camera pose on odom and camera/pose only")
        else:  # The simulated odometry does not drift: map and odom coincide.
            self._tf_static_pub = self.create_publisher(TFMessage, "/tf_static", QoSProfile(
                depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
            self._tf_static_pub.publish(TFMessage(transforms=[
                matrix_to_transform(np.eye(4), self._map_frame, self._odom_frame, 0.0)]))

        # Transient local: a memory node started later still receives the layout.
        self._layout_pub = self.create_publisher(
            Layout, "layout", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._layout_pub.publish(layout_to_msg(*world_layout(self._world, params.area_size), self._map_frame, 0.0))

        self._single = SingleGoal(self)
        self._action_server = ActionServer(self, Skill, "execute_skill", self._execute,
                                           goal_callback=self._single.on_goal,
                                           handle_accepted_callback=self._single.on_accepted,
                                           cancel_callback=lambda _: CancelResponse.ACCEPT)
        self._period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._turn: deque[RGBDFrame] = deque()  # Explore's views still to publish, one a tick
        self._turn_done: Optional[Future] = None  # completed by the tick that publishes the last
        if self._period:
            self.create_timer(self._period, self._tick)
        self.get_logger().info(f"home {'FloorPlan%d' % floor_plan if floor_plan else 'seed %d' % seed}: "
                               f"{len(self._world.home.rooms)} rooms, publishing "
                               f"{f'at {rate_hz:g} Hz' if rate_hz else 'after skills'}")

    # ------------------------------------------------------------------ for harnesses
    def traffic(self) -> dict[str, int]:
        """Messages sent so far: ``frames_published`` (frame sets), ``changes_published`` (state changes),
        for a harness that waits until memory took them in."""
        return {key: self._traffic[key] for key in ("frames_published", "changes_published")}

    def with_world(self, use: Callable[[HomeWorld], T]) -> T:
        """``use(world)`` under the bridge's lock: reading ground truth, or changing the world."""
        with self._lock:
            return use(self._world)

    def advance(self, seconds: float) -> None:
        """Let simulated time pass (the household acts) and publish what changed."""
        with self._lock:
            self._world.advance(seconds)
            self._publish_changes()

    def replace_world(self, world: HomeWorld) -> None:
        """Bridge ``world`` from now on (a harness restoring a saved moment)."""
        with self._lock:
            self._world = world

    # ------------------------------------------------------------------ publishing
    def _tick(self) -> None:
        with self._lock:
            self._world.advance(self._period)  # simulated time runs at the publishing rate
            self._publish_changes()
            self._publish_frame(self._turn.popleft() if self._turn else None)
            if not self._turn and self._turn_done is not None:
                self._turn_done.set_result(True)
                self._turn_done = None

    def _publish_changes(self) -> None:
        changes = [c for c in self._world.drain_events()
                   if (self._report_household and self._world.perception.config.report_household)
                   or not c.cause.startswith("household:")]
        if not changes:
            return
        for change, position in self._world.where_changed(changes):
            self._traffic["changes_published"] += 1  # counted before sending, as every count a harness compares
            self._events_pub.publish(state_change_to_msg(change, self._map_frame, position))
        self.get_logger().debug(f"published {len(changes)} state changes")

    def _publish_frame(self, rendered: Optional[RGBDFrame] = None) -> None:
        frame = dataclasses.replace(rendered or self._world.render(), frame_id=self._camera_frame)
        msgs = frame_to_msgs(frame, self._map_frame)
        self._traffic["frames_published"] += 1
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=msgs.pose.header.stamp))
        # The pose first: a memory node matches it to the images that follow.
        self._pose_pub.publish(msgs.pose)
        odom = Odometry(header=msgs.pose.header, child_frame_id=frame.frame_id)
        odom.pose.pose = msgs.pose.pose
        self._odom_pub.publish(odom)
        if self._tf_pub is not None:
            base = base_under_camera(frame.T_world_camera)
            self._tf_pub.publish(TFMessage(transforms=[
                matrix_to_transform(base, self._odom_frame, self._base_frame, frame.stamp),
                matrix_to_transform(np.linalg.inv(base) @ frame.T_world_camera, self._base_frame,
                                    frame.frame_id, frame.stamp)]))
        self._color_pub.publish(msgs.color)
        self._depth_pub.publish(msgs.depth)
        self._info_pub.publish(msgs.info)
        if self._publish_instances:
            self._instances_pub.publish(msgs.instances)

    async def _look_around(self) -> None:
        """Every view of Explore's turn on arrival, the current one last, as the in-process robot fuses
        them. At a publishing rate, one view a tick in place of the live frame, as a camera turning with
        the robot: a perception node that takes only the newest frame sees each. The skill ends after
        the last view (awaited: the executor goes on ticking meanwhile)."""
        with self._lock:
            views = self._world.look_around()
            if not self._period:
                for view in views:
                    self._publish_frame(view)
                return
            done = self._turn_done = Future(executor=self.executor)
            self._turn.extend(views)
        await done

    def _feedback(self, goal_handle: ServerGoalHandle, status: str) -> None:
        goal_handle.publish_feedback(Skill.Feedback(status=status))

    async def _execute(self, goal_handle: ServerGoalHandle) -> Skill.Result:
        """Run one skill (:class:`SingleGoal`: one at a time)."""
        if not self._single.owns(goal_handle):
            goal_handle.abort()
            return Skill.Result(error_code=Skill.Result.SKILL_FAILED, error_message="another skill is running")
        try:
            return await self._run_skill(goal_handle)
        finally:
            self._single.release(goal_handle)

    async def _run_skill(self, goal_handle: ServerGoalHandle) -> Skill.Result:
        """Bad goals and failed skills end aborted with an error code, never raise."""
        goal: Skill.Goal = goal_handle.request
        self._feedback(goal_handle, "accepted")
        too_large = check_request(self._limits, names=[("skill", goal.skill), ("object_id", goal.object_id)])
        if too_large:
            goal_handle.abort()
            return Skill.Result(error_code=Skill.Result.UNKNOWN_OBJECT, error_message=too_large)
        try:
            action = skill_goal_to_action(goal)
        except ConversionError as exc:
            self.get_logger().warning(str(exc))
            goal_handle.abort()
            return Skill.Result(error_code=Skill.Result.UNKNOWN_SKILL, error_message=str(exc))
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
            return Skill.Result(error_code=Skill.Result.CANCELED, error_message="canceled before it started")
        self._feedback(goal_handle, "executing")
        with self._lock:
            outcome = self._world.step(action)
            self._publish_changes()
            turning = action.name == "Explore" and outcome.success
            if not turning:
                self._publish_frame()
        if turning:
            await self._look_around()
        result = skill_result_to_msg(outcome)
        if outcome.success:
            self._feedback(goal_handle, "succeeded")
            goal_handle.succeed()
        else:
            self.get_logger().info(f"{action.name}({action.object_id}) failed: {outcome.error}")
            self._feedback(goal_handle, "failed")
            goal_handle.abort()
        return result


def main(args: Optional[list[str]] = None) -> int:
    return spin_nodes([SimBridge], args, "sim_bridge")
