"""The ROS package (CMakeLists.txt, package.xml) and the pip package (setup.py) must agree."""
from __future__ import annotations

import ast
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup_py_lists() -> dict[str, list[str]]:
    tree = ast.parse((REPO / "setup.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("PYTHON_PACKAGES", "EXECUTABLES"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def _cmake_list(name: str) -> list[str]:
    text = (REPO / "CMakeLists.txt").read_text()
    match = re.search(rf"set\({name}\s+(.*?)\)", text, re.S)
    assert match, f"CMakeLists.txt sets no {name}"
    return [item.strip('"') for item in match.group(1).split()]


def test_setup_py_and_cmake_install_the_same_packages_and_executables():
    setup_lists = _setup_py_lists()
    assert setup_lists["PYTHON_PACKAGES"] == _cmake_list("PYTHON_PACKAGES")
    assert setup_lists["EXECUTABLES"] == _cmake_list("EXECUTABLES")


def test_every_listed_package_and_entry_point_exists():
    for package in _cmake_list("PYTHON_PACKAGES"):
        assert (REPO / package / "__init__.py").is_file(), package
    for entry in _cmake_list("EXECUTABLES"):
        name, target = entry.split("=")
        module, function = target.split(":")
        source = (REPO / Path(*module.split("."))).with_suffix(".py").read_text()
        assert re.search(rf"^def {function}\(", source, re.M), f"{entry}: no {function}() in {module}"


def test_every_interface_file_is_generated_and_every_generated_file_exists():
    text = (REPO / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"((?:msg|srv|action)/\w+\.(?:msg|srv|action))"', text))
    on_disk = {str(p.relative_to(REPO)) for d in ("msg", "srv", "action") for p in (REPO / d).glob("*.*")}
    assert listed == on_disk


def test_package_xml_describes_an_ament_cmake_interface_package():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "embodied_memory"
    assert root.find("export/build_type").text == "ament_cmake"
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
    depends = {e.text for e in root if e.tag.endswith("depend")}
    assert {"rosidl_default_generators", "rosidl_default_runtime", "rclpy", "geometry_msgs"} <= depends


def test_the_installed_stack_imports(python, child_env):
    code = "import rclpy, embodied_memory.msg, embodied_memory.srv, embodied_memory.action, scene_graph, planners, sim, memory_nodes"
    done = subprocess.run([python, "-c", code], env=child_env, capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr


def test_core_packages_never_import_rclpy():
    for package in ("scene_graph", "perception", "planners", "sim"):
        for path in (REPO / package).rglob("*.py"):
            assert not re.search(r"^\s*(import rclpy|from rclpy)", path.read_text(), re.M), path
