"""The long-term node asking a VLM about object states, with real rclpy: the simulator bridge streams
the camera, the node fuses it, crops what it saw and asks a chat completions test double on 127.0.0.1
that checks each image arrives. Its first answers are garbage (counted; the node keeps fusing), then it
says every state asked holds: memory believes a shut cabinet (or the like) open, which only the VLM
told it."""
from __future__ import annotations

import base64
import io
import re

import pytest

rclpy = pytest.importorskip("rclpy")
from chat_server import ChatServer  # noqa: E402
from waits import until  # noqa: E402

from memory_nodes.tools import stack  # noqa: E402
from sim.records import Action  # noqa: E402

pytestmark = pytest.mark.ros
SEED = 3
GARBAGE = 2


class StateServer(ChatServer):
    """Decodes the image of every request; answers garbage first, then "yes" to every state asked."""

    def __init__(self) -> None:
        self.images: list[tuple[int, int]] = []  # (width, height) of each decoded image
        self.asked: list[str] = []
        super().__init__(self.answer)

    def answer(self, body: dict) -> str:
        from PIL import Image

        text, image = body["messages"][1]["content"]
        png = base64.b64decode(image["image_url"]["url"].split(",", 1)[1])
        self.images.append(Image.open(io.BytesIO(png)).convert("RGB").size)
        states = re.findall(r"^- (\w+): ", text["text"], re.MULTILINE)
        self.asked += states
        if len(self.images) <= GARBAGE:
            return "I cannot tell from this picture."
        return "\n".join(f"{s}: yes" for s in states)


def test_vlm_answers_become_states_in_memory_and_garbage_is_counted(tmp_path) -> None:
    server = StateServer()
    s = stack.start(["sim_bridge", "long_term_memory"], overrides={
        "sim_bridge": {"seed": SEED, "rate_hz": 5.0},
        "long_term_memory": {"memory_dir": str(tmp_path), "snapshot_interval_s": 0.0, "text_index": "none",
                             "marker_rate_hz": 0.0, "state_backend": "openai", "state_base_url": server.url,
                             "state_interval_s": 0.0, "state_objects_per_frame": 3}})
    try:
        bridge, memory = s.nodes["sim_bridge"], s.nodes["long_term_memory"]
        world = bridge._world
        shut = next(e for e in sorted(world.home, key=lambda e: e.object_id)
                    if e.kind.layer == "furniture" and e.kind.openable and not e.states.get("open"))
        with bridge._lock:
            assert world.step(Action("GoToObject", shut.object_id)).success

        def believed_open() -> bool:
            with memory._lock:
                return any(o.label == shut.object_type and o.state("open") is True
                           for o in memory.memory.graph.objects())

        assert until(believed_open, 120.0), ({k: v for k, v in memory.diagnostic_values().items() if "vlm" in k},
                                      server.asked[-20:])
        values = memory.diagnostic_values()
        assert values["vlm_states[bad_answer]"] == GARBAGE and values["vlm_states[states_set]"] >= 1
        assert "open" in server.asked and all(0 < w <= 640 and 0 < h <= 480 for w, h in server.images)
        integrated = values["frames_integrated"]
        assert until(lambda: memory.diagnostic_values()["frames_integrated"] > integrated, 120.0)  # still fusing
        assert not shut.states.get("open")  # it stayed shut in the simulator: only the VLM said otherwise
    finally:
        s.shutdown()
        server.close()


def test_a_local_vlm_runs_on_the_torch_threads_asked_for_even_without_a_text_index(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    s = stack.start(["long_term_memory"], overrides={"long_term_memory": {
        "memory_dir": str(tmp_path), "snapshot_interval_s": 0.0, "text_index": "none", "marker_rate_hz": 0.0,
        "state_backend": "transformers", "state_model_path": str(tmp_path / "no_vlm_here"), "torch_threads": 1}})
    try:
        memory = s.nodes["long_term_memory"]
        assert "no_vlm_here" in memory.states_unavailable  # the absent model is named, the node serves on
        assert torch.get_num_threads() == 1
    finally:
        s.shutdown()
        torch.set_num_threads(before)
