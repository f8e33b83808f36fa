"""Fuzzing the memory nodes through real rclpy: every subscribed topic, every service and the task action.

The long-term and short-term memory nodes and the planner run in a child process (as
``embodied-memory up``, on 127.0.0.1 only, no skill server so tasks fail fast); this process draws
cases with hypothesis (:mod:`benchmarks.fuzz_cases`) and sends each one. A case is bad by
construction or not; the figures:

- ``crashes``: the node process died, a callback raised (the spinner logs it and goes on), a
  service answered INTERNAL_ERROR, or a request went unanswered;
- ``accepted_bad``: bad inputs that changed memory: a service answered a bad request as if valid,
  a graph update came back stamped like a bad frame, or memory (long-term objects and layout,
  short-term units) came to hold what admission forbids: non-finite or absurd positions, stamps
  ahead of the clock, labels and state words that are not one short printable line;
- ``rejected``: bad cases refused (error code, or no trace in memory); ``still_serving``: after all
  cases a clean frame is fused and every service answers.

    python -m benchmarks.fuzz [--quick]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, Point32
from hypothesis import HealthCheck, Phase, given, seed, settings
from rclpy.action import ActionClient
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile

from benchmarks.fuzz_cases import ADMISSION, WHOLE_FRAME_BAD, Case, cases
from benchmarks.ingest import _messages, _ms_key, _publishers, _stamp, tour_frames
from benchmarks.node_process import Session, memory_node
from embodied_memory.action import ExecuteTask
from embodied_memory.msg import GraphUpdate, Layout, ObjectNode, Place, StateChange
from embodied_memory.srv import (
    GetSnapshot,
    GetTaskSubgraph,
    ManageMemory,
    MarkMissing,
    PlaceObject,
    QueryObjects,
    QueryShortTerm,
)
from memory_nodes import calls
from scene_graph.admission import check_label

log = logging.getLogger(__name__)
CASES, QUICK_CASES = 5000, 300
SEED = 14
FRAME_PERIOD_S = 0.1  # frame cases this far apart: a pose never pairs with another case's frame
CHECK_EVERY = 100  # cases between full checks of memory
POISON = "Fuzzpoison"  # label of an instance whose score is bad: it must never become an object
_ANSWER_TIMEOUT_S = 30.0
_TASK_TIMEOUT_S = 60.0
_SETTLE_S = 0.03  # before looking at short-term memory after publishing to it
_CLOCK_SLACK_S = 2.0
_CRASH_LINES = re.compile(r"a callback raised|maintenance failed|Traceback")
_SERVICES = {"query_objects": (QueryObjects, "memory/query_objects"),
             "task_subgraph": (GetTaskSubgraph, "memory/task_subgraph"),
             "get_snapshot": (GetSnapshot, "memory/get_snapshot"), "manage": (ManageMemory, "memory/manage"),
             "mark_missing": (MarkMissing, "memory/mark_missing"),
             "place_object": (PlaceObject, "memory/place_object"),
             "short_term_query": (QueryShortTerm, "memory/short_term/query")}
NODE_SETTINGS = ("planner.service_timeout_s=0.5", "planner.skill_timeout_s=1.0", "planner.max_replans=0",
                 "planner.max_search_plans=0", "planner.refresh_timeout_s=0.0",
                 "long_term_memory.snapshot_interval_s=0.0")


def _time(seconds: float) -> Time:
    seconds = min(seconds, 2**31 - 1.0)
    return Time(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9))


def _stamp_s(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def _absurd_position(v: float) -> bool:
    return not math.isfinite(v) or abs(v) > ADMISSION.max_coordinate_m


def object_faults(obj: ObjectNode, now: float) -> list[str]:
    """What admission forbids that a long-term object holds: empty if none."""
    faults = []
    values = [obj.centroid.x, obj.centroid.y, obj.centroid.z, obj.box_size.x, obj.box_size.y, obj.box_size.z,
              obj.box_pose.position.x, obj.box_pose.position.y, obj.box_pose.position.z]
    if not all(math.isfinite(v) for v in values) or any(abs(v) > ADMISSION.default_workspace_m for v in values[:3]):
        faults.append("geometry")
    if check_label(obj.label, ADMISSION) or obj.label == POISON:
        faults.append("label")
    if any(check_label(t, ADMISSION) for t in list(obj.state_names) + list(obj.state_values)):
        faults.append("state")
    if any(_stamp_s(t) > now + ADMISSION.max_future_s + _CLOCK_SLACK_S
           for t in (obj.first_seen, obj.last_seen, obj.last_changed)):
        faults.append("future_stamp")
    return faults


def unit_faults(unit: Any, now: float) -> list[str]:
    """What admission forbids that a short-term unit holds."""
    faults = []
    if not all(math.isfinite(v) and abs(v) <= ADMISSION.max_coordinate_m
               for v in (unit.position.x, unit.position.y, unit.position.z)):
        faults.append("position")
    if _stamp_s(unit.stamp) > now + ADMISSION.max_future_s + _CLOCK_SLACK_S:
        faults.append("future_stamp")
    words = [unit.object_id, unit.object_type, *unit.state_names, *unit.state_values]
    if any(check_label(t, ADMISSION) for t in words if t):
        faults.append("text")
    return faults


class Harness:
    """Sends cases to the running nodes and keeps the counts."""

    def __init__(self, session: Session, camera: dict[str, Publisher]) -> None:
        self.session = session
        node = session.node
        self.frames = tour_frames(rooms=1)
        self.pubs = camera
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.layout_pub = node.create_publisher(Layout, "layout", latched)
        self.change_pubs = {"confirmed_changes": node.create_publisher(StateChange, "memory/confirmed_changes", 100),
                            "state_changes": node.create_publisher(StateChange, "state_changes", 100)}
        self.update_pub = node.create_publisher(GraphUpdate, "memory/graph_updates", 100)
        self.clients = {kind: node.create_client(srv, name) for kind, (srv, name) in _SERVICES.items()}
        self.task = ActionClient(node, ExecuteTask, "execute_task")
        self.update_stamps: set[int] = set()  # stamps (ms) of the long-term node's graph updates
        self.bad_frame_stamps: set[int] = set()
        self.clean_frame_stamps: set[int] = set()
        self.faulty: set[str] = set()  # "lt:<id>:<fault>" / "st:<id>:<fault>", each counted once
        self.counts: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.known_ids: list[str] = []
        self.last_frame = 0.0
        node.create_subscription(GraphUpdate, "memory/graph_updates", self._on_update, 1000)
        self.diagnostics: dict[str, dict[str, str]] = {}  # node name -> its latest values
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.hardware_id] = {kv.key: kv.value for kv in status.values}

    # ------------------------------------------------------------------ observing memory
    def _on_update(self, msg: GraphUpdate) -> None:
        if msg.header.frame_id == "fuzz":  # this process's own input to short-term memory
            return
        self.update_stamps.add(_ms_key(msg.header.stamp.sec, msg.header.stamp.nanosec))
        now = time.time()
        for obj in msg.upserted_objects:
            self._fault("lt", obj.id, object_faults(obj, now))

    def _fault(self, where: str, key: str, faults: list[str]) -> None:
        self.faulty.update(f"{where}:{key}:{f}" for f in faults)

    def check_memory(self) -> None:
        """Every long-term object, the layout and every short-term unit against admission's rules."""
        snapshot = self.call("get_snapshot", GetSnapshot.Request())
        if snapshot is not None:
            now = time.time()
            self.known_ids = [o.id for o in snapshot.snapshot.upserted_objects]
            for obj in snapshot.snapshot.upserted_objects:
                self._fault("lt", obj.id, object_faults(obj, now))
            for place in list(snapshot.layout.rooms) + list(snapshot.layout.areas):
                coords = [v for p in place.polygon.points for v in (p.x, p.y)] + [place.position.x, place.position.y]
                if any(_absurd_position(v) for v in coords) or check_label(place.id, ADMISSION):
                    self._fault("layout", place.id, ["place"])
        units = self.call("short_term_query", QueryShortTerm.Request(k=1000))
        if units is not None:
            now = time.time()
            for unit in units.units:
                self._fault("st", f"{unit.object_id}@{_stamp_s(unit.stamp)}", unit_faults(unit, now))

    # ------------------------------------------------------------------ sending
    def call(self, kind: str, request: Any) -> Optional[Any]:
        """A service round trip; None (counted as a crash) when unanswered."""
        try:
            response = self.session.call(self.clients[kind], request, timeout=_ANSWER_TIMEOUT_S)
        except TimeoutError:
            self.counts["unanswered"] += 1
            return None
        if response.error_code == type(response).INTERNAL_ERROR:
            self.counts["internal_errors"] += 1
        return response

    def run(self, case: Case) -> None:
        self.kinds[case.kind] += 1
        self.counts["cases"] += 1
        begin = time.perf_counter()
        if case.kind == "frame":
            self._frame(case)
        elif case.kind == "layout":
            self._layout(case)
        elif case.kind in self.change_pubs:
            self._change(case)
        elif case.kind == "graph_updates":
            self._graph_update(case)
        elif case.kind == "execute_task":
            self._task(case)
        else:
            self._service(case)
        self.seconds[case.kind] += time.perf_counter() - begin
        if case.bad:
            self.counts["bad"] += 1
        if self.counts["cases"] % CHECK_EVERY == 0:
            self.check_memory()

    def _frame(self, case: Case) -> None:
        wait = self.last_frame + FRAME_PERIOD_S - time.monotonic()
        if wait > 0:
            self.session.spin_until(lambda: False, wait)
        self.last_frame = time.monotonic()
        msgs = _messages(self.frames[case.fields["base"] % len(self.frames)])
        stamp_ns = time.time_ns() // 1_000_000 * 1_000_000
        if case.mutation == "future_stamp":
            latest_ms = (2**31 - 1) * 1000  # the largest stamp a message holds
            stamp_ns = min(stamp_ns // 1_000_000 + int(case.fields["offset"] * 1000), latest_ms) * 1_000_000
        _stamp(msgs, stamp_ns)
        _mutate(case, msgs)
        if case.mutation in WHOLE_FRAME_BAD:
            self.bad_frame_stamps.add(stamp_ns // 1_000_000)
        elif case.mutation == "none":
            self.clean_frame_stamps.add(stamp_ns // 1_000_000)
        for key in ("odom", "color", "depth", "info", "instances"):
            self.pubs[key].publish(msgs[key])
        self.session.spin_until(lambda: False, 0.0)

    def _layout(self, case: Case) -> None:
        v = case.fields["value"]
        room = Place(id=case.fields["name"], kind="kitchen")
        room.polygon.points = [Point32(x=0.0, y=0.0), Point32(x=float(v) if math.isfinite(v) else v, y=0.0),
                               Point32(x=5.0, y=5.0)]
        msg = Layout(rooms=[room])
        msg.header.frame_id, msg.header.stamp = "map", _time(time.time())
        self.layout_pub.publish(msg)

    def _change(self, case: Case) -> None:
        f = case.fields
        object_id = f["object_id"]
        if self.known_ids and case.mutation != "object_id" and ord(object_id[0]) % 2:
            object_id = self.known_ids[ord(object_id[-1]) % len(self.known_ids)]
        msg = StateChange(object_id=object_id, object_type=f["object_type"], state=f["state"],
                          new_value=f["new_value"], cause=f["cause"], position=Point(x=f["position"][0],
                                                                                     y=f["position"][1],
                                                                                     z=f["position"][2]))
        msg.header.frame_id, msg.header.stamp = "map", _time(time.time() + f["future_s"])
        self.change_pubs[case.kind].publish(msg)
        self._settle_short_term()

    def _graph_update(self, case: Case) -> None:
        f = case.fields
        obj = ObjectNode(id=f["object_id"], label=f["label"], layer="object")
        obj.centroid.x, obj.centroid.y, obj.centroid.z = f["centroid"]
        obj.box_pose.position.x, obj.box_pose.position.y, obj.box_pose.position.z = f["centroid"]
        obj.box_pose.orientation.w = 1.0
        obj.box_size.x = obj.box_size.y = obj.box_size.z = 0.1
        now = time.time() + f["future_s"]
        obj.first_seen = obj.last_seen = obj.last_changed = _time(now)
        msg = GraphUpdate(sequence=0, upserted_objects=[obj])
        msg.header.frame_id, msg.header.stamp = "fuzz", _time(now)
        self.update_pub.publish(msg)
        self._settle_short_term()

    def _settle_short_term(self) -> None:
        self.session.spin_until(lambda: False, _SETTLE_S)
        units = self.call("short_term_query", QueryShortTerm.Request(k=1000))
        if units is not None:
            now = time.time()
            for unit in units.units:
                self._fault("st", f"{unit.object_id}@{_stamp_s(unit.stamp)}", unit_faults(unit, now))

    def _service(self, case: Case) -> None:
        request = self._request(case)
        response = self.call(case.kind, request)
        if response is None:
            return
        if case.kind == "get_snapshot":
            self.known_ids = [o.id for o in response.snapshot.upserted_objects]
        refused = response.error_code != 0
        if case.bad:
            self.counts["rejected" if refused else "accepted_bad"] += 1
            if not refused:
                self.counts[f"accepted_bad[{case.kind}]"] += 1

    def _request(self, case: Case) -> Any:
        f = case.fields
        if case.kind == "query_objects":
            request = QueryObjects.Request(text=f["text"], label=f["label"], room_id=f["room"], k=f["k"])
            if f["near"] is not None:
                x, y, z, r = f["near"]
                request.use_near, request.near, request.radius = True, Point(x=x, y=y, z=z), r
            return request
        if case.kind == "task_subgraph":
            return GetTaskSubgraph.Request(instruction=f["instruction"], relevant_ids=f["ids"],
                                           budget_tokens=f["budget"], whole_graph=f["whole"])
        if case.kind == "manage":
            return ManageMemory.Request(operation=f["operation"], name=f["name"])
        if case.kind == "mark_missing":
            object_id = self.known_ids[len(f["object_id"]) % len(self.known_ids)] if (
                f["known"] and self.known_ids) else f["object_id"]
            return MarkMissing.Request(object_id=object_id, stamp=_time(time.time() + f["future_s"])
                                       if f["future_s"] else Time())
        if case.kind == "place_object":
            known = self.known_ids if f["known"] else []
            object_id = known[len(f["object_id"]) % len(known)] if known else f["object_id"]
            holder_id = object_id if known and f["same"] else (
                known[len(f["holder_id"]) % len(known)] if known else f["holder_id"])
            return PlaceObject.Request(object_id=object_id, holder_id=holder_id, inside=len(holder_id) % 2 == 0,
                                       stamp=_time(time.time() + f["future_s"]) if f["future_s"] else Time())
        if case.kind == "short_term_query":
            return QueryShortTerm.Request(instruction=f["instruction"], k=f["k"])
        return GetSnapshot.Request()

    def _task(self, case: Case) -> None:
        calls.ready_or_not(lambda t: self.task.wait_for_server(timeout_sec=t), 5.0)  # a hint: the answer decides
        goal = ExecuteTask.Goal(instruction=case.fields["instruction"], goal_conditions=case.fields["conditions"])
        handle = calls.send_goal(self.task, goal, lambda f, t: self.session.spin_until(f.done, t), _ANSWER_TIMEOUT_S)
        if handle is None:
            self.counts["unanswered"] += 1
            return
        if not handle.accepted:  # another goal still running: the single-goal rule, not a fault
            return
        result = handle.get_result_async()
        if not self.session.spin_until(result.done, _TASK_TIMEOUT_S):
            self.counts["unanswered"] += 1
            return
        code = result.result().result.error_code
        if case.bad:
            self.counts["rejected" if code == ExecuteTask.Result.INVALID_INSTRUCTION else "accepted_bad"] += 1

    # ------------------------------------------------------------------ end
    def still_serving(self) -> bool:
        """A clean frame is fused (its update comes back) and every service answers without error."""
        self.session.spin_until(lambda: False, FRAME_PERIOD_S)
        msgs = _messages(self.frames[0])
        stamp_ns = time.time_ns() // 1_000_000 * 1_000_000
        _stamp(msgs, stamp_ns)
        for key in ("odom", "color", "depth", "info", "instances"):
            self.pubs[key].publish(msgs[key])
        fused = self.session.spin_until(lambda: stamp_ns // 1_000_000 in self.update_stamps, 20.0)
        answers = [self.call("query_objects", QueryObjects.Request(k=1)),
                   self.call("task_subgraph", GetTaskSubgraph.Request(whole_graph=True)),
                   self.call("short_term_query", QueryShortTerm.Request()),
                   self.call("manage", ManageMemory.Request(operation=ManageMemory.Request.LIST))]
        answered = all(a is not None and a.error_code == 0 for a in answers)
        if not (fused and answered):
            log.warning("not serving: clean frame fused %s, services answered %s; the nodes' log ends:\n%s", fused,
                        [None if a is None else a.error_code for a in answers], self.session.log_tail())
        return fused and answered

    def bad_frames_fused(self) -> int:
        return len(self.bad_frame_stamps & self.update_stamps)


def _mutate(case: Case, msgs: dict[str, Any]) -> None:
    """Apply the case's mutation to one frame set's messages (all stamped alike already)."""
    m, v = case.mutation, case.fields["value"]
    odom, info, instances = msgs["odom"], msgs["info"], msgs["instances"]
    if m == "pose_position":
        odom.pose.pose.position.x = v if _absurd_position(v) else 1e30
    elif m == "pose_orientation":
        q = odom.pose.pose.orientation
        q.x = q.y = q.z = q.w = v if not math.isfinite(v) else 0.0
    elif m == "pose_frame":
        odom.header.frame_id = "odom_elsewhere"
    elif m == "focal":
        k = list(info.k)
        k[0] = v
        info.k = k
    elif m == "principal":
        k = list(info.k)
        k[2] = v if _absurd_position(v) else 1e6
        info.k = k
    elif m == "image_size":
        info.height += 1
    elif m == "color_encoding":
        msgs["color"].encoding = "mono8"
    elif m == "depth_encoding":
        msgs["depth"].encoding = "rgb8"
    elif m == "truncated_data":
        msgs["depth"].data = bytes(msgs["depth"].data)[: len(msgs["depth"].data) // 2]
    elif m == "zero_size":
        msgs["depth"].width = 0
    elif m == "count_mismatch":
        instances.labels = list(instances.labels)[:-1]
    elif m == "bad_label":
        instances.labels = [case.fields["label"], *list(instances.labels)[1:]]
    elif m == "bad_score":
        n = len(instances.instance_ids)
        instances.scores = [v if not (math.isfinite(v) and 0.0 <= v <= 1.0) else math.nan] + [1.0] * (n - 1)
        instances.labels = [POISON, *list(instances.labels)[1:]]
        if len(instances.external_ids):
            instances.external_ids = [f"fuzz-poison-{case.fields['base']}", *list(instances.external_ids)[1:]]


def _crash_lines(session: Session) -> int:
    session.log.seek(0)
    return len(_CRASH_LINES.findall(session.log.read().decode(errors="replace")))


def run(quick: bool = False, n_cases: Optional[int] = None) -> dict[str, Any]:
    n = n_cases or (QUICK_CASES if quick else CASES)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp, \
            memory_node(Path(tmp), "fuzz_client", nodes=("short_term_memory", "planner"),
                        settings=NODE_SETTINGS) as session, \
            _publishers() as camera:
        harness = Harness(session, camera)
        session.spin_until(lambda: all(p.get_subscription_count() for p in harness.pubs.values()), 30.0)
        for client in harness.clients.values():
            client.wait_for_service(timeout_sec=30.0)

        @seed(SEED)
        @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(cases())
        def send(case: Case) -> None:
            if session.process.poll() is None:
                harness.run(case)

        send()
        died = session.process.poll() is not None
        serving = False
        if not died:
            harness.session.spin_until(lambda: False, 1.0)  # the last frames and changes arrive
            harness.check_memory()
            serving = harness.still_serving()
        crash_lines = _crash_lines(session)
    counts = harness.counts
    bad_fused = harness.bad_frames_fused()
    accepted_bad = counts["accepted_bad"] + bad_fused + len(harness.faulty)
    return {
        "cases": counts["cases"],
        "crashes": int(died) + crash_lines + counts["internal_errors"] + counts["unanswered"],
        "accepted_bad": accepted_bad,
        "rejected": max(0, counts["bad"] - accepted_bad),
        "still_serving": serving,
        "bad_cases": counts["bad"],
        "cases_per_kind": dict(sorted(harness.kinds.items())),
        "seconds_per_kind": {k: round(v, 1) for k, v in sorted(harness.seconds.items())},
        "accepted_bad_requests": {k: v for k, v in counts.items() if k.startswith("accepted_bad[")},
        "bad_frames_fused": bad_fused,
        "clean_frames": len(harness.clean_frame_stamps),
        "clean_frames_fused": len(harness.clean_frame_stamps & harness.update_stamps),
        "memory_faults": sorted(harness.faulty)[:50],
        "callback_errors_logged": crash_lines,
        "internal_errors": counts["internal_errors"],
        "unanswered": counts["unanswered"],
        "node_counters": {name: {k: v for k, v in values.items() if k.startswith(("rejected", "admission", "frames"))}
                          for name, values in harness.diagnostics.items()},
        "seed": SEED,
        "seconds": round(time.perf_counter() - start, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", type=int)
    args = parser.parse_args()
    print(json.dumps(run(args.quick, args.cases), indent=2))
