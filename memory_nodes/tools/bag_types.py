"""Message types for bags: rclpy classes by type name, and rosbags typestores that know them.

Standard types come with rosbags' typestore of the ROS distribution; any other type (this
package's own, a robot's custom ones) is parsed from its installed ``.msg`` file, found under
``AMENT_PREFIX_PATH`` (``share/<package>/msg``) or, for this package, in the repository's ``msg/``.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

REPO_MSG_DIR = Path(__file__).resolve().parents[2] / "msg"


class UnknownType(LookupError):
    """A message type that is not installed or whose definition cannot be found."""


def import_type(msgtype: str) -> type:
    """The generated rclpy class of ``pkg/msg/Name``; UnknownType when it is not installed."""
    try:
        package, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ValueError, ImportError, AttributeError):
        raise UnknownType(f"message type {msgtype} is not installed") from None


def _msg_file(msgtype: str) -> Path:
    package, kind, name = msgtype.split("/")
    folders = [Path(prefix) / "share" / package / kind
               for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if prefix]
    if package == "embodied_memory":
        folders.append(REPO_MSG_DIR)
    for folder in folders:
        if (folder / f"{name}.msg").is_file():
            return folder / f"{name}.msg"
    raise UnknownType(f"no {name}.msg found for {msgtype} in the installed packages")


def new_typestore() -> Typestore:
    """rosbags' typestore of this ROS distribution (the newest when ROS_DISTRO is unset)."""
    distro = os.environ.get("ROS_DISTRO", "").upper()
    return get_typestore(Stores.__members__.get(f"ROS2_{distro}", Stores.LATEST))


def register_type(store: Typestore, msgtype: str) -> None:
    """Make msgtype and every type it nests known to store, parsing installed .msg files as needed."""
    found: dict[str, Any] = {}
    pending = [msgtype]
    while pending:
        name = pending.pop()
        if name in store.fielddefs or name in found:
            continue
        found.update(parsed := get_types_from_msg(_msg_file(name).read_text(), name))
        for _, fields in parsed.values():
            for _, (kind, args) in fields:
                if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
                    kind, args = args[0]  # the element type
                if kind == Nodetype.NAME:
                    pending.append(args)
    if found:
        store.register(found)
