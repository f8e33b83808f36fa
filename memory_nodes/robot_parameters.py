"""How long-term memory fuses a robot's perception, shared by launch/robot.launch.py,
`embodied-memory up --robot` and the mapping benchmark's robot front end, so they cannot drift apart."""
from __future__ import annotations

SUPPORT_LAYER_M = 0.03  # thicker than a depth camera's noise at a few metres, thinner than most objects


def robot_fusion_parameters(depth_masks: bool) -> dict[str, bool | float]:
    """A detector's input, whose tracker ids are not trusted as names; and, when masks are cut from
    boxes by depth (no mask model), the cut of the surface objects stand on."""
    return {"trust_external_ids": False, "detector_input": True,
            "support_layer_m": SUPPORT_LAYER_M if depth_masks else 0.0}
