"""Per-frame perception latency of each backend on the CPU at 320x240, with tiny local models.

Frames are the embedded simulator's views of a generated home (320x240); each frame goes through
every backend in turn, so machine noise hits them alike. Detectors (OWLv2, Grounding DINO) see the
whole ontology vocabulary; mask backends (SAM, depth) get the simulator's true boxes of that frame,
and the depth-only mask path is the baseline that needs no model. The models are tiny random ones
built here (``benchmarks.tiny_models``): real weights (OWLv2 base, Grounding DINO tiny, SAM ViT-B)
cost tens to hundreds of times more per frame on a CPU; on a GPU, ``transformers`` runs them as is
once torch sees CUDA (see the README, "On your robot").

    python -m benchmarks.perception [--quick]
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.sim_boxes import true_detections
from benchmarks.tiny_models import build_grounding_dino, build_owlv2, build_sam
from perception.backends import DepthMasker, GroundingDinoDetector, Owlv2Detector, SamMasker
from perception.pipeline import default_vocabulary
from perception.records import Detection
from scene_graph.frames import RGBDFrame
from sim.home.generate import generate_home
from sim.home.world import HomeWorld
from sim.records import Action

BOX_PIXELS = 100  # the smallest instance given a box: about 10 x 10 pixels at 320x240


def _frames(count: int) -> list[RGBDFrame]:
    world = HomeWorld(generate_home(3, n_rooms=2), seed=3)
    targets = sorted(e.object_id for e in world.home.entities.values() if e.kind.layer == "furniture")
    frames: list[RGBDFrame] = []
    while len(frames) < count:
        for object_id in targets:
            if world.step(Action("GoToObject", object_id)).success:
                frames.append(world.render())
            if len(frames) == count:
                break
    return frames


def run(quick: bool = False) -> dict[str, Any]:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    # One thread: the cost of a frame, not of threads spinning against other work on a shared machine
    # (here torch's default 2 threads made the tiny Grounding DINO 10x slower under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> dict[str, Any]:
    frames = _frames(5 if quick else 30)
    vocabulary = default_vocabulary()
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        owl = Owlv2Detector(str(build_owlv2(folder / "owlv2", vocabulary)), vocabulary, threshold=0.1)
        dino = GroundingDinoDetector(str(build_grounding_dino(folder / "gdino", vocabulary)), vocabulary)
        sam, depth = SamMasker(str(build_sam(folder / "sam"))), DepthMasker()
        steps: dict[str, Callable[[RGBDFrame, list[Detection]], object]] = {
            "owlv2": lambda f, b: owl.detect(f.color),
            "grounding_dino": lambda f, b: dino.detect(f.color),
            "sam": lambda f, b: sam.masks(f.color, f.depth, b),
            "depth_mask": lambda f, b: depth.masks(f.color, f.depth, b),
        }
        for step in steps.values():  # warm-up: first calls allocate
            step(frames[0], true_detections(frames[0], BOX_PIXELS))
        times: dict[str, list[float]] = {name: [] for name in steps}
        boxes_per_frame = []
        for frame in frames:
            boxes = true_detections(frame, BOX_PIXELS)
            boxes_per_frame.append(len(boxes))
            for name, step in steps.items():
                start = time.perf_counter()
                step(frame, boxes)
                times[name].append((time.perf_counter() - start) * 1000.0)
    results = [{"backend": name, "kind": "detector" if name in ("owlv2", "grounding_dino") else "mask",
                "median_ms": round(float(np.median(t)), 2), "p95_ms": round(float(np.percentile(t, 95)), 2)}
               for name, t in times.items()]
    return {
        "resolution": f"{frames[0].color.shape[1]}x{frames[0].color.shape[0]}",
        "frames_timed": len(frames),
        "vocabulary_words": len(vocabulary),
        "boxes_per_frame_median": float(np.median(boxes_per_frame)),
        "models": "tiny random weights built locally (real weights cost far more)",
        "torch_threads": 1,
        "results": results,
        "baseline": "depth_mask: masks from depth inside each box, no model",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
