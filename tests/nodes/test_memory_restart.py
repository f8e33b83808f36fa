"""The long-term memory node as its own process: fed and queried from this one, killed with -9,
restarted, and its memory is back from disk."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402
from scene_stream import known_scene  # noqa: E402

from embodied_memory.srv import QueryObjects  # noqa: E402

pytestmark = pytest.mark.ros


def _start_node(memory_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-c", "import sys; from memory_nodes.long_term_node import main; sys.exit(main())",
               "--ros-args", "-p", f"memory_dir:={memory_dir}", "-p", "snapshot_interval_s:=0.5"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _saved_sequence(folder: Path) -> int:
    """The sequence number of the newest good snapshot (-1 while there is none)."""
    from scene_graph.store import MemoryStore, NoSnapshot
    try:
        return MemoryStore(folder).load("default").graph.sequence
    except NoSnapshot:
        return -1


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_memory_survives_kill_9_and_comes_back_from_disk(tmp_path, child_env):
    scene = known_scene()
    client = Client()
    first = _start_node(tmp_path, child_env)
    try:
        # Loading the embedding model and chromadb takes long on a loaded machine; a crash ends the wait.
        started = lambda: client.node.count_subscribers("camera/instances") > 0  # noqa: E731
        client.spin_until(lambda: started() or first.poll() is not None, timeout=120.0)
        assert started(), f"node did not start: {first.stderr.read() if first.poll() is not None else ''}"
        client.send_frames(scene, client.frames_handled)
        before = client.call(QueryObjects, "memory/query_objects", timeout=120.0, k=100)
        assert before.objects
        assert client.spin_until(lambda: _saved_sequence(tmp_path) >= before.sequence, timeout=60.0)
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL

        second = _start_node(tmp_path, child_env)
        try:
            after = client.call(QueryObjects, "memory/query_objects", timeout=60.0, k=100)  # a restart under load
            assert {o.id for o in after.objects} == {o.id for o in before.objects}
            text = client.call(QueryObjects, "memory/query_objects", text=before.objects[0].label.lower(), k=100)
            assert text.error_code == QueryObjects.Response.NONE and text.objects
        finally:
            _stop(second)
    finally:
        _stop(first)
        client.close()


_LAUNCHERS = {  # the node's own executable, and `embodied-memory up` (nodes in a context of their own)
    "node": lambda folder: [sys.executable, "-c", "import sys; from memory_nodes.long_term_node import main; "
                            "sys.exit(main())", "--ros-args", "-p", f"memory_dir:={folder}",
                            "-p", "snapshot_interval_s:=3600.0"],
    "stack": lambda folder: [sys.executable, "-c", "import sys; from memory_nodes.tools.stack import run; sys.exit(run("
                             "['long_term_memory'], overrides={'long_term_memory': {'memory_dir': sys.argv[1], "
                             "'snapshot_interval_s': 3600.0}}))", str(folder)],
}


@pytest.mark.parametrize("launcher, signum", [("node", signal.SIGTERM), ("node", signal.SIGINT),
                                              ("stack", signal.SIGTERM)])
def test_a_stop_signal_saves_and_exits_and_numbers_continue(tmp_path, child_env, launcher, signum):
    """What systemd, docker and Ctrl-C send: memory since the last periodic save is saved, the exit is
    clean, and after a restart the delta numbers go on from where they were."""
    from scene_graph.store import MemoryStore

    scene = known_scene()
    client = Client()
    command = _LAUNCHERS[launcher](tmp_path)
    first = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = lambda: client.node.count_subscribers("camera/instances") > 0  # noqa: E731
        client.spin_until(lambda: started() or first.poll() is not None, timeout=120.0)
        assert started(), f"node did not start: {first.stderr.read() if first.poll() is not None else ''}"
        client.send_frames(scene, client.frames_handled)
        before = client.call(QueryObjects, "memory/query_objects", timeout=120.0, k=100)
        assert before.objects
        first.send_signal(signum)
        assert first.wait(timeout=60) == 0
        loaded = MemoryStore(tmp_path).load("default")
        assert {o.id for o in loaded.graph.objects()} == {o.id for o in before.objects}

        second = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            after = client.call(QueryObjects, "memory/query_objects", timeout=120.0, k=100)
            assert {o.id for o in after.objects} == {o.id for o in before.objects}
            assert after.sequence > before.sequence
        finally:
            _stop(second)
    finally:
        _stop(first)
        client.close()
