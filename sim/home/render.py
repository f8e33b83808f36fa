"""CPU rendering of RGB-D and instance images by ray casting (Open3D's Embree-backed scene).

Instance ids: every object and piece of furniture has its own stable positive id (its index in
the home, see ``Home.instance_id``); walls, floors and ceilings render in depth and colour but get
id 0, the frame's "no instance", so memory never mistakes structure for an object. Held objects
and contents of closed containers are not drawn. Depth is the optical-frame z in metres, 0 where
a ray hits nothing. In a building the camera sees only the floor it stands on (floors lie side by
side in the plane and only one floor's triangles are in the scene).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import open3d as o3d

from scene_graph.frames import CameraIntrinsics, RGBDFrame
from sim.camera import AgentPose, default_intrinsics
from sim.home.home import Home
from sim.home.meshes import Soup, build_soup

_LIGHT = np.array([0.45, 0.3, 0.84], dtype=np.float32) / np.linalg.norm([0.45, 0.3, 0.84])
_AMBIENT = 0.35
_CPU = o3d.core.Device("CPU:0")
_MISS = o3d.t.geometry.RaycastingScene.INVALID_ID


class _Scene:
    """A BVH over the home's triangle soup plus per-triangle lookup tables.

    Faces are flat, so shading depends on the triangle only: colour and instance become one
    gather each per frame. The extra last row of each table answers rays that hit nothing.
    """

    def __init__(self, soup: Soup, nthreads: int):
        self.soup = soup
        self.nthreads = nthreads
        self.miss = len(soup.triangles)
        self.raycaster = o3d.t.geometry.RaycastingScene()
        self.raycaster.add_triangles(o3d.core.Tensor(soup.vertices, o3d.core.float32, _CPU),
                                     o3d.core.Tensor(soup.triangles, o3d.core.uint32, _CPU))
        v = soup.vertices[soup.triangles.astype(np.int64)]
        normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        shade = _AMBIENT + (1.0 - _AMBIENT) * np.abs(normals @ _LIGHT)
        rgb = np.clip(soup.colour * shade[:, None], 0.0, 1.0) * 255.0 + 0.5
        self.rgb = np.vstack([rgb.astype(np.uint8), np.zeros((1, 3), dtype=np.uint8)])
        self.instance = np.append(soup.instance, np.int32(0))

    def cast(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(depth-or-t, triangle index with ``miss`` for no hit) per ray of (N, 6) origin + direction."""
        rays32 = np.ascontiguousarray(rays, dtype=np.float32)
        out = self.raycaster.cast_rays(o3d.core.Tensor(rays32, o3d.core.float32, _CPU), nthreads=self.nthreads)
        prim = out["primitive_ids"].numpy().astype(np.int64)
        prim[prim == _MISS] = self.miss
        return out["t_hit"].numpy(), prim


class Renderer:
    """Renders a home from an agent's camera.

    With ``reuse_scene`` (the default) the merged mesh and its BVH are kept until the home's
    ``version`` changes; without it they are rebuilt every frame (the benchmark's baseline).
    """

    def __init__(self, intrinsics: Optional[CameraIntrinsics] = None, reuse_scene: bool = True, nthreads: int = 0):
        self.intrinsics = intrinsics or default_intrinsics()
        self.reuse_scene = reuse_scene
        self.nthreads = nthreads  # Open3D's ray-casting threads; 0 = all cores
        k = self.intrinsics
        u, v = np.meshgrid(np.arange(k.width, dtype=np.float32), np.arange(k.height, dtype=np.float32))
        # Unnormalised directions with optical z = 1: the ray parameter t is then the depth.
        self._dirs = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1).reshape(-1, 3)
        self._key: Optional[tuple[int, int, int]] = None
        self._scene: Optional[_Scene] = None

    def scene(self, home: Home, floor: int = 0) -> _Scene:
        """The ray-casting scene of one floor of the home."""
        key = (id(home), home.version, floor)
        if not self.reuse_scene or self._scene is None or key != self._key:
            self._scene, self._key = _Scene(build_soup(home, floor), self.nthreads), key
        return self._scene

    def render(self, home: Home, pose: AgentPose, stamp: float = 0.0) -> RGBDFrame:
        scene = self.scene(home, home.floor_at(pose.x, pose.y))
        T = pose.T_world_camera()
        k = self.intrinsics
        rays = np.empty((len(self._dirs), 6), dtype=np.float32)
        rays[:, :3] = T[:3, 3]
        rays[:, 3:] = self._dirs @ T[:3, :3].T.astype(np.float32)
        t_hit, prim = scene.cast(rays)
        depth = t_hit.reshape(k.height, k.width)
        depth[prim.reshape(k.height, k.width) == scene.miss] = 0.0
        instance = scene.instance[prim].reshape(k.height, k.width)
        color = scene.rgb[prim].reshape(k.height, k.width, 3)
        present = [int(i) for i in np.flatnonzero(np.bincount(instance.ravel(), minlength=1)) if i]
        ids = list(home.entities)
        labels = {i: home.entities[ids[i - 1]].object_type for i in present}
        external = {i: ids[i - 1] for i in present}
        return RGBDFrame(stamp=stamp, color=color, depth=depth, instance_ids=instance, labels=labels,
                         intrinsics=k, T_world_camera=T, scores={i: 1.0 for i in present}, external_ids=external)

    def line_of_sight(self, home: Home, origin: tuple[float, float, float], object_id: str) -> bool:
        """Whether the first thing hit on a ray from ``origin`` towards the object (its centre or
        a point inside its box) is the object itself."""
        scene = self.scene(home, home.floor_at(origin[0], origin[1]))
        e = home[object_id]
        lo, hi = np.array(e.lo), np.array(e.hi)
        inner = np.array([[fx, fy, fz] for fx in (0.2, 0.8) for fy in (0.2, 0.8) for fz in (0.3, 0.9)])
        targets = np.vstack([(lo + hi) / 2.0, lo + inner * (hi - lo)])
        rays = np.hstack([np.broadcast_to(np.asarray(origin, dtype=np.float64), targets.shape), targets - origin])
        _, prim = scene.cast(rays)
        return bool(np.any(scene.instance[prim] == home.instance_id(object_id)))
