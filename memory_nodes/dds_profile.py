"""The package's Fast DDS profile (``config/fastdds.xml``) and the environment variable that selects it.

The profile keeps DDS on loopback and enlarges Fast DDS's shared-memory segment so camera frame
sets reach other processes whole (the file says why and what was measured). Every entry point of
the package selects it before rclpy starts, unless the user already chose a profile.
"""
from __future__ import annotations

import filecmp
import os
from pathlib import Path
from typing import Optional

PROFILE_NAME = "fastdds.xml"
_SOURCE_PROFILE = Path(__file__).resolve().parent.parent / "config" / PROFILE_NAME


def package_profile() -> Optional[Path]:
    """The profile in the source tree, else in the installed package's share folder, else None."""
    if _SOURCE_PROFILE.is_file():
        return _SOURCE_PROFILE
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        installed = Path(get_package_share_directory("embodied_memory")) / "config" / PROFILE_NAME
    except PackageNotFoundError:
        return None
    return installed if installed.is_file() else None


def use_package_profile() -> None:
    """Select the package's profile unless FASTDDS_DEFAULT_PROFILES_FILE is set; call before rclpy.init.

    With the package's (loopback) profile in use, LOCALHOST discovery is left to the profile
    (SYSTEM_DEFAULT): rmw_fastrtps implements LOCALHOST by adding a UDP transport of its own
    without an allow-list, whose sockets bind 0.0.0.0 and the machine's external address.
    """
    profile = package_profile()
    if profile is None:
        return
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))
    selected = Path(os.environ["FASTDDS_DEFAULT_PROFILES_FILE"])
    if (os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST") == "LOCALHOST" and selected.is_file()
            and filecmp.cmp(selected, profile, shallow=False)):
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SYSTEM_DEFAULT"
