"""Test harness: every pytest run talks DDS only on this machine, on a domain of its own.

The environment is set at import, before any test imports rclpy, and is inherited by every
subprocess a test starts.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _own_domain_id() -> str:
    # 1..100 at random: concurrent pytest runs on one machine do not see each other, also from
    # containers that share its loopback, where process ids repeat from one run to the next.
    return str(random.SystemRandom().randint(1, 100))


os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", _own_domain_id())
os.environ.setdefault("ROS_LOG_DIR", str(REPO / "build" / "log" / "ros"))
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds.xml"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
Path(os.environ["ROS_LOG_DIR"]).mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(REPO))
from memory_nodes.dds_profile import use_package_profile  # noqa: E402

use_package_profile()  # as every entry point does: the loopback profile takes over LOCALHOST discovery


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for a subprocess: the test's own, with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def python() -> str:
    return sys.executable
