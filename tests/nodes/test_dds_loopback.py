"""With the package's Fast DDS profile, a node's DDS sockets are bound to loopback only: nothing on
the network can publish frames, layouts or corrections into memory."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")]


def _udp_sockets(pid: int) -> list[str]:
    """Local addresses of the process's UDP sockets, as `ss -lunp` lists them."""
    out = subprocess.run(["ss", "-lunpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def test_a_node_listens_on_loopback_only(tmp_path, child_env):
    child_env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # what env.sh and the launch files set
    command = [sys.executable, "-c", "import sys; from memory_nodes.long_term_node import main; sys.exit(main())",
               "--ros-args", "-p", f"memory_dir:={tmp_path}", "-p", "text_index:=none"]
    node = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    client = Client()
    try:
        started = lambda: client.node.count_subscribers("camera/instances") > 0  # noqa: E731
        client.spin_until(lambda: started() or node.poll() is not None, timeout=120.0)
        assert started(), f"node did not start or was not discovered: {node.stderr.read() if node.poll() else ''}"
        sockets = _udp_sockets(node.pid)
        assert sockets and all(s.startswith("127.0.0.1:") for s in sockets), sockets
    finally:
        node.kill()
        node.wait(timeout=10)
        client.close()
