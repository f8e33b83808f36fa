"""Synthetic scenes with known ground truth, for the core tests and the benchmarks.

Objects are unions of gravity-aligned boxes (a fridge is an open-fronted shell with a shelf), and
frames are rendered analytically: one ray per pixel, slab intersection with every box, a floor
plane at z = 0 that carries no instance id. That is exact, needs no GPU or open3d, and takes a
few milliseconds per box at 320x240, which keeps fusion's inputs honest (true occlusion, true
depth discontinuities) without a simulator.

:func:`synthetic_home` builds a ~300-object multi-room memory directly (no rendering) together
with instructions whose needed objects are known, for the prompt-token benchmark.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from scene_graph.graph import SceneGraph, grid_areas
from scene_graph.ontology import OBJECT_TYPES, layer_of
from scene_graph.records import IN, ON, ObjectNode, OrientedBox, RoomNode


@dataclass(frozen=True)
class SceneObject:
    """A ground-truth object: label, instance id in rendered frames, and the boxes it is made of."""

    label: str
    instance_id: int
    parts: tuple[OrientedBox, ...]
    external_id: str = ""

    @property
    def truth_center(self) -> np.ndarray:
        corners = np.concatenate([p.corners() for p in self.parts])
        return (corners.min(axis=0) + corners.max(axis=0)) / 2.0


def solid(label: str, instance_id: int, xy: Sequence[float], size: Sequence[float],
          yaw: float = 0.0, base_z: float = 0.0) -> SceneObject:
    """A plain box standing on ``base_z``."""
    w, d, h = size
    box = OrientedBox((float(xy[0]), float(xy[1]), base_z + h / 2.0), (w, d, h), yaw)
    return SceneObject(label, instance_id, (box,), f"{label}|{instance_id}")


def shell(label: str, instance_id: int, xy: Sequence[float], size: Sequence[float], yaw: float = 0.0,
          wall: float = 0.03, shelf_heights: Sequence[float] = (0.5,)) -> SceneObject:
    """An open-fronted cabinet (open side towards the box's local -y), e.g. an open fridge."""
    w, d, h = size
    local = [  # (centre, extent) in the object's frame, origin at floor centre
        ((0.0, d / 2 - wall / 2, h / 2), (w, wall, h)),  # back
        ((-w / 2 + wall / 2, 0.0, h / 2), (wall, d, h)),  # left
        ((w / 2 - wall / 2, 0.0, h / 2), (wall, d, h)),  # right
        ((0.0, 0.0, wall / 2), (w, d, wall)),  # bottom
        ((0.0, 0.0, h - wall / 2), (w, d, wall)),  # top
    ] + [((0.0, 0.0, f * h), (w - 2 * wall, d - wall, wall)) for f in shelf_heights]
    c, s = np.cos(yaw), np.sin(yaw)
    parts = tuple(
        OrientedBox((xy[0] + c * x - s * y, xy[1] + s * x + c * y, z), extent, yaw) for (x, y, z), extent in local
    )
    return SceneObject(label, instance_id, parts, f"{label}|{instance_id}")


def look_at(eye: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """T_world_camera of an optical frame (x right, y down, z forward) at ``eye`` facing ``target``."""
    eye_v = np.asarray(eye, dtype=float)
    forward = np.asarray(target, dtype=float) - eye_v
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = eye_v
    return pose


def orbit(target: Sequence[float], radius: float, height: float, count: int,
          start_deg: float = 0.0, span_deg: float = 360.0) -> list[np.ndarray]:
    """Camera poses on a horizontal arc around ``target``, all looking at it."""
    step = span_deg / count if span_deg >= 360.0 else span_deg / max(count - 1, 1)
    poses = []
    for i in range(count):
        a = np.radians(start_deg + i * step)
        eye = (target[0] + radius * np.cos(a), target[1] + radius * np.sin(a), height)
        poses.append(look_at(eye, target))
    return poses


def _ray_box(origin: np.ndarray, directions: np.ndarray, box: OrientedBox) -> np.ndarray:
    """Ray parameter of the first hit in front of the origin, inf for a miss."""
    rotation = box.rotation()
    o = (origin - np.asarray(box.center)) @ rotation
    d = directions @ rotation
    half = np.asarray(box.extent) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o) / d, (half - o) / d
    near = np.nanmax(np.minimum(t1, t2), axis=1)
    far = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (far >= near) & (near > 1e-6)
    return np.where(hit, near, np.inf)


def _pixels_covering(box: OrientedBox, k: CameraIntrinsics, pose: np.ndarray) -> np.ndarray:
    """Flat indices of the pixels inside the box's projected bounds (all when it straddles the camera)."""
    corners = (box.corners() - pose[:3, 3]) @ pose[:3, :3]
    everything = np.arange(k.width * k.height)
    if np.any(corners[:, 2] <= 1e-3):
        return everything
    u = k.fx * corners[:, 0] / corners[:, 2] + k.cx
    v = k.fy * corners[:, 1] / corners[:, 2] + k.cy
    u0, u1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())), k.width - 1)
    v0, v1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())), k.height - 1)
    if u0 > u1 or v0 > v1:
        return everything[:0]
    cols, rows = np.meshgrid(np.arange(u0, u1 + 1), np.arange(v0, v1 + 1))
    return (rows * k.width + cols).ravel()


def render(objects: Sequence[SceneObject], intrinsics: CameraIntrinsics, pose: np.ndarray,
           floor: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Depth (float32 metres along the optical axis, 0 = no return) and instance ids (int32)."""
    k = intrinsics
    u, v = np.meshgrid(np.arange(k.width), np.arange(k.height))
    rays = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u, dtype=float)], axis=-1).reshape(-1, 3)
    directions = rays @ pose[:3, :3].T  # unnormalised: t is then the optical depth
    origin = pose[:3, 3]
    best = np.full(len(rays), np.inf)
    ids = np.zeros(len(rays), dtype=np.int32)
    if floor:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -origin[2] / directions[:, 2]
        best = np.where((directions[:, 2] < 0) & (t > 0), t, np.inf)
    for obj in objects:
        for part in obj.parts:
            rows = _pixels_covering(part, k, pose)
            t = _ray_box(origin, directions[rows], part)
            closer = t < best[rows]
            best[rows[closer]] = t[closer]
            ids[rows[closer]] = obj.instance_id
    depth = np.where(np.isfinite(best), best, 0.0).astype(np.float32)
    return depth.reshape(k.height, k.width), ids.reshape(k.height, k.width)


def make_frame(objects: Sequence[SceneObject], intrinsics: CameraIntrinsics, pose: np.ndarray,
               stamp: float) -> RGBDFrame:
    """A rendered frame labelled with every object (fusion reports the ones not in view)."""
    depth, ids = render(objects, intrinsics, pose)
    present = set(np.unique(ids).tolist())
    return RGBDFrame(
        stamp=stamp,
        color=np.zeros((intrinsics.height, intrinsics.width, 3), dtype=np.uint8),
        depth=depth,
        instance_ids=ids,
        labels={o.instance_id: o.label for o in objects if o.instance_id in present},
        intrinsics=intrinsics,
        T_world_camera=pose,
        external_ids={o.instance_id: o.external_id for o in objects if o.instance_id in present},
    )


CAMERA = CameraIntrinsics.from_fov(320, 240, 70.0)


def kitchen_scene(small_objects: int = 18, seed: int = 0) -> list[SceneObject]:
    """A counter, a table and an open fridge with small objects on and in them (~20 visible)."""
    rng = random.Random(seed)
    table = solid("DiningTable", 1, (0.0, 0.0), (1.4, 0.9, 0.75))
    counter = solid("CounterTop", 2, (0.0, 1.3), (2.0, 0.6, 0.9))
    fridge = shell("Fridge", 3, (1.6, 1.2), (0.8, 0.7, 1.8), yaw=np.pi / 2)
    smalls = [t for t in OBJECT_TYPES.values() if t.layer == "object" and min(t.size) >= 0.03 and max(t.size) <= 0.3]
    objects = [table, counter, fridge]
    for i in range(small_objects):
        kind = rng.choice(smalls)
        host, x0, y0, z0, half_w, half_d = (table, 0.0, 0.0, 0.75, 0.55, 0.3) if i % 2 == 0 else \
            (counter, 0.0, 1.3, 0.9, 0.85, 0.2)
        xy = (x0 + rng.uniform(-half_w, half_w), y0 + rng.uniform(-half_d, half_d))
        objects.append(solid(kind.name, 10 + i, xy, kind.size, yaw=rng.uniform(0, np.pi), base_z=z0))
    return objects


def kitchen_views(count: int) -> list[np.ndarray]:
    """Poses on an arc in front of the kitchen, high enough to see table and counter tops."""
    return orbit((0.3, 0.6, 0.7), radius=2.6, height=1.6, count=count, start_deg=200.0, span_deg=140.0)


# --------------------------------------------------------------------------- synthetic home
@dataclass(frozen=True)
class Task:
    """An instruction and the object ids a planner must know about to do it."""

    instruction: str
    needed: tuple[str, ...]


_ROOM_FURNITURE = {
    "Kitchen": ["Fridge", "CounterTop", "CounterTop", "Cabinet", "Cabinet", "Sink", "StoveBurner", "Microwave",
                "DiningTable", "GarbageCan", "CoffeeMachine", "Toaster", "Drawer"],
    "LivingRoom": ["Sofa", "CoffeeTable", "TVStand", "Television", "Shelf", "ArmChair", "SideTable", "FloorLamp"],
    "Bedroom": ["Bed", "Dresser", "SideTable", "Desk", "Shelf", "GarbageCan"],
    "Bathroom": ["Toilet", "Bathtub", "CounterTopBathroom", "Cabinet", "GarbageCan"],
}


def synthetic_home(n_objects: int = 300, seed: int = 0) -> tuple[SceneGraph, list[Task]]:
    """A 2 x 3-room home (kitchen, living rooms, bedrooms, bathroom) with furniture along the walls,
    small objects on or in receptacles that suit them, and tasks that name objects in everyday words.
    Placement is random, not physical: small objects may overlap, which only adds relations."""
    rng = random.Random(seed)
    kinds = ["Kitchen", "LivingRoom", "Bedroom", "Bathroom", "Bedroom", "LivingRoom"]
    rooms = []
    for i, kind in enumerate(kinds):
        x0, y0 = (i % 3) * 6.0, (i // 3) * 6.0
        rooms.append(RoomNode(f"room_{i}", kind, ((x0, y0), (x0 + 6, y0), (x0 + 6, y0 + 6), (x0, y0 + 6))))
    graph = SceneGraph()
    graph.set_layout(rooms, grid_areas(rooms, spacing=1.5))
    stamp = 1.0
    holders: list[tuple[ObjectNode, str]] = []
    for room in rooms:
        (x0, y0), (_, y1) = room.polygon[0], room.polygon[2]
        for j, name in enumerate(_ROOM_FURNITURE[room.kind]):
            w, d, h = OBJECT_TYPES[name].size
            x = x0 + 0.6 + (j % 5) * 1.2
            y = y0 + 0.6 if j < 5 else (y1 - 0.6 if j < 10 else y0 + 3.0)
            box = OrientedBox((x, y, h / 2), (w, d, h), 0.0)
            node = graph.upsert_object(ObjectNode(graph.new_object_id(), name, "furniture", box.center, box,
                                                  first_seen=stamp, last_seen=stamp))
            if OBJECT_TYPES[name].receptacle:
                holders.append((node, room.kind))
    # One of each object the tasks name first, then random fill.
    named = [OBJECT_TYPES[a] for _, a, _ in _TEMPLATES if OBJECT_TYPES[a].layer == "object"]
    for n in range(max(0, n_objects - len(graph))):
        if n < len(named):
            kind = named[n]
            host, room_kind = rng.choice([h for h in holders if h[1] in kind.rooms])
        else:
            host, room_kind = rng.choice(holders)
            kind = rng.choice([t for t in OBJECT_TYPES.values() if t.layer == "object" and room_kind in t.rooms])
        inside = OBJECT_TYPES[host.label].openable or host.label in ("Sink", "GarbageCan", "Bathtub")
        hb, (w, d, h) = host.box, kind.size
        dx = rng.uniform(-0.3, 0.3) * max(hb.extent[0] - w, 0.0)
        dy = rng.uniform(-0.3, 0.3) * max(hb.extent[1] - d, 0.0)
        base = hb.z_min + 0.1 * hb.extent[2] if inside else hb.z_max
        h = min(h, 0.6 * hb.extent[2]) if inside else h
        box = OrientedBox((hb.center[0] + dx, hb.center[1] + dy, base + h / 2), (w, d, h), 0.0)
        graph.upsert_object(ObjectNode(graph.new_object_id(), kind.name, layer_of(kind.name), box.center, box,
                                       first_seen=stamp, last_seen=stamp))
    return graph, _home_tasks(graph, rng)


_TEMPLATES = [
    ("put the {a} in the {b}", "Apple", "Fridge"),
    ("bring me the {a}", "RemoteControl", None),
    ("where are my {a}", "KeyChain", None),
    ("slice the {a} on the {b}", "Bread", "CounterTop"),
    ("put the {a} in the {b}", "Mug", "Sink"),
    ("turn on the {a}", "Television", None),
    ("find my {a}", "CellPhone", None),
    ("throw the {a} in the {b}", "Newspaper", "GarbageCan"),
    ("put the {a} on the {b}", "Book", "Desk"),
    ("cook the {a} in the {b}", "Potato", "Microwave"),
    ("bring the {a} to the {b}", "Pillow", "Sofa"),
    ("put the {a} on the {b}", "Tomato", "DiningTable"),
]
_WORDS = {"Apple": "apple", "Fridge": "fridge", "RemoteControl": "tv remote", "KeyChain": "keys",
          "Bread": "loaf of bread", "CounterTop": "counter", "Mug": "coffee mug", "Sink": "sink",
          "Television": "tv", "CellPhone": "phone", "Newspaper": "newspaper", "GarbageCan": "trash can",
          "Book": "book", "Desk": "desk", "Potato": "potato", "Microwave": "microwave", "Pillow": "pillow",
          "Sofa": "couch", "Tomato": "tomato", "DiningTable": "kitchen table"}


def _home_tasks(graph: SceneGraph, rng: random.Random) -> list[Task]:
    """Each task needs one instance of each named type (the first remembered) and what holds it."""
    tasks = []
    for template, a, b in _TEMPLATES:
        needed: list[str] = []
        for label in (a, b):
            if label is None:
                continue
            found = sorted(o.id for o in graph.objects() if o.label == label)
            if not found:
                continue
            target = rng.choice(found)
            needed.append(target)
            needed += [r.object for r in graph.relations(subject=target) if r.predicate in (ON, IN)]
        text = template.format(a=_WORDS[a], b=_WORDS[b] if b else "")
        tasks.append(Task(text, tuple(dict.fromkeys(needed))))
    return tasks


# --------------------------------------------------------------------------- building-sized memory
HOME_SPACING_M = 20.0  # distance between the origins of neighbouring homes in a tiled memory (a home is 18 x 12 m)
SEEN_TIMES = 5  # observations of each object of a tiled memory: long known, not a once-seen candidate


def tiled_home(n_objects: int, seed: int = 0, points_per_object: int = 64
               ) -> tuple[SceneGraph, list[str]]:
    """A memory of ``n_objects`` made of copies of :func:`synthetic_home` laid side by side on a grid
    ``HOME_SPACING_M`` apart (rooms, areas, objects and relations, with surface points), as a
    robot's memory grows when it covers more of a building: the density of any one place stays that
    of a home. Copy 0 sits at the origin, where :func:`kitchen_scene` stands. Returns the graph and
    the ids of copy 0's objects. Restored from one snapshot: nothing is recomputed."""
    base_graph, _ = synthetic_home(300, seed)
    data = base_graph.snapshot()
    base = data["objects"]
    copies = -(-n_objects // len(base))
    side = int(np.ceil(np.sqrt(copies)))
    rng = np.random.default_rng(seed)
    unit_points = {o["id"]: rng.uniform(-0.5, 0.5, (points_per_object, 3)) for o in base}
    for local in unit_points.values():  # onto a face of the unit box
        face = rng.integers(0, 3, len(local))
        local[np.arange(len(local)), face] = np.where(rng.random(len(local)) < 0.5, -0.5, 0.5)
    objects: list[dict] = []
    relations: list[list[str]] = []
    rooms: list[dict] = []
    areas: list[dict] = []
    geometry: dict[str, np.ndarray] = {}
    for copy in range(copies):
        dx, dy = (copy % side) * HOME_SPACING_M, (copy // side) * HOME_SPACING_M
        first = copy * len(base)
        ids = {o["id"]: f"obj_{first + i:05d}" for i, o in enumerate(base[: n_objects - first])}
        places = {r["id"]: f"c{copy}_{r['id']}" for r in data["rooms"] + data["areas"]}
        for r in data["rooms"]:
            rooms.append(dict(r, id=places[r["id"]], polygon=[[x + dx, y + dy] for x, y in r["polygon"]]))
        for a in data["areas"]:
            x, y, z = a["position"]
            areas.append(dict(a, id=places[a["id"]], room_id=places.get(a["room_id"], ""), position=[x + dx, y + dy, z],
                              neighbors=[places[n] for n in a["neighbors"]]))
        for o in base[: len(ids)]:
            (x, y, z), box = o["centroid"], o["box"]
            center = [box["center"][0] + dx, box["center"][1] + dy, box["center"][2]]
            objects.append(dict(o, id=ids[o["id"]], centroid=[x + dx, y + dy, z], box=dict(box, center=center),
                                room_id=places.get(o["room_id"], ""), area_id=places.get(o["area_id"], ""),
                                observation_count=SEEN_TIMES, confidence=0.9))
            shifted = OrientedBox(tuple(center), tuple(box["extent"]), box["yaw"])
            geometry[ids[o["id"]]] = shifted.to_world(unit_points[o["id"]] * np.asarray(shifted.extent)
                                                      ).astype(np.float32)
        relations += [[ids[s], p, ids[t]] for s, p, t in data["relations"] if s in ids and t in ids]
    snapshot = dict(data, objects=objects, relations=relations, rooms=rooms, areas=areas,
                    next_object_index=len(objects))
    return SceneGraph.from_snapshot(snapshot, geometry), [f"obj_{i:05d}" for i in range(min(len(base), n_objects))]
