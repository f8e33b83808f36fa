"""The launch files and the RViz config must stay correct for a robot with a full ROS 2 install.

`launch` and `launch_ros` are not on PyPI, so the launch files are read as Python syntax trees:
every node they start, file they name and argument they use must exist in the package.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.test_packaging import _cmake_list

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
PACKAGE = "embodied_memory"
KNOWN_ROS_PACKAGES = {"rviz2"}  # other packages a launch file may start nodes from
RVIZ_CONFIG = REPO / "rviz" / "memory.rviz"


def _calls(tree: ast.AST, name: str) -> Iterator[ast.Call]:
    """Calls of ``name`` whether written ``name(...)`` or ``module.name(...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) == name:
                yield node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _declared_arguments(tree: ast.AST) -> set[str]:
    return {_constant(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")}


def _referenced_files(tree: ast.AST) -> list[str]:
    """Package-relative paths built with os.path.join / PathJoinSubstitution, e.g. "config/memory.yaml"."""
    found = []
    for call in [*_calls(tree, "join"), *_calls(tree, "PathJoinSubstitution")]:
        args = call.args[0].elts if call.args and isinstance(call.args[0], ast.List) else call.args
        parts = [_constant(a) for a in args if _constant(a) is not None]
        if parts and Path(parts[-1]).suffix:
            found.append("/".join(parts))
    return found


def _nodes(tree: ast.AST) -> list[dict[str, str | None]]:
    return [{k: _constant(_keyword(call, k)) for k in ("package", "executable", "name")}
            for call in _calls(tree, "Node")]


def test_there_are_launch_files_for_the_robot_and_the_simulation():
    assert {p.name for p in LAUNCH_FILES} >= {"memory.launch.py", "sim_memory.launch.py"}
    for path in LAUNCH_FILES:
        assert any(isinstance(f, ast.FunctionDef) and f.name == "generate_launch_description"
                   for f in _tree(path).body), path.name


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_node_is_an_installed_executable_of_a_known_package(path):
    executables = {entry.split("=")[0] for entry in _cmake_list("EXECUTABLES")}
    nodes = _nodes(_tree(path))
    assert nodes, f"{path.name} starts no node"
    for node in nodes:
        assert node["package"] in {PACKAGE} | KNOWN_ROS_PACKAGES, node
        assert node["executable"] and node["name"], f"{path.name}: write package, executable and name as literals"
        if node["package"] == PACKAGE:
            assert node["executable"] in executables, f"{path.name}: {node['executable']} is not in CMakeLists.txt"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_file_named_exists_in_the_package(path):
    files = _referenced_files(_tree(path))
    assert "config/memory.yaml" in files, f"{path.name} does not default to the package's parameter file"
    for relative in files:
        assert (REPO / relative).is_file(), f"{path.name} names {relative}, which the package does not have"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_argument_is_described_and_every_used_argument_is_declared(path):
    tree = _tree(path)
    for call in _calls(tree, "DeclareLaunchArgument"):
        assert _constant(_keyword(call, "description")), f"{path.name}: {ast.unparse(call.args[0])} has no description"
    used = {_constant(c.args[0]) for c in _calls(tree, "LaunchConfiguration")}
    assert used <= _declared_arguments(tree), f"{path.name} uses undeclared arguments"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_included_launch_files_declare_the_arguments_passed_to_them(path):
    tree = _tree(path)
    for call in _calls(tree, "IncludeLaunchDescription"):
        [included] = [f for f in _referenced_files(call) if f.endswith(".launch.py")]
        passed = _keyword(call, "launch_arguments")
        assert isinstance(passed, ast.Call) and isinstance(passed.func.value, ast.Dict)  # {...}.items()
        names = {_constant(k) for k in passed.func.value.keys}
        assert names <= _declared_arguments(_tree(REPO / included)), f"{path.name} -> {included}"


def test_the_simulated_stack_sets_memory_for_the_bridges_perception():
    """The bridge and memory run as separate processes under ``ros2 launch``; memory must still be set
    for the bridge's perception model (``stack.simulated_memory_parameters``, tested with the nodes)."""
    sim = _tree(REPO / "launch" / "sim_memory.launch.py")
    [include] = list(_calls(sim, "IncludeLaunchDescription"))
    passed = _keyword(include, "launch_arguments")
    assert isinstance(passed, ast.Call) and isinstance(passed.func.value, ast.Dict)
    arguments = {_constant(k): v for k, v in zip(passed.func.value.keys, passed.func.value.values)}
    assert _constant(arguments["simulated"]) == "true"
    assert ast.unparse(arguments["perception"]) == "LaunchConfiguration('perception')"
    assert "perception" in _declared_arguments(sim)
    memory = _tree(REPO / "launch" / "memory.launch.py")
    [derive] = list(_calls(memory, "simulated_memory_parameters"))
    assert "LaunchConfiguration('perception')" in ast.unparse(derive)


def test_node_names_have_a_section_in_the_parameter_file():
    config = REPO / "config" / "memory.yaml"
    if not config.is_file():
        pytest.skip("config/memory.yaml is not written yet")
    sections = {key.rsplit("/", 1)[-1] for key in yaml.safe_load(config.read_text())}
    for path in LAUNCH_FILES:
        for node in _nodes(_tree(path)):
            if node["package"] == PACKAGE:
                assert node["name"] in sections, f"{path.name}: no section {node['name']} in config/memory.yaml"


def test_the_rviz_config_shows_the_memory_markers_on_the_map():
    config = yaml.safe_load(RVIZ_CONFIG.read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "map"
    displays = {d["Class"].split("/")[-1]: d for d in manager["Displays"]}
    assert {"Grid", "TF", "MarkerArray", "Image"} <= set(displays)
    assert all(d["Class"].startswith("rviz_default_plugins/") for d in manager["Displays"])
    assert displays["MarkerArray"]["Topic"]["Value"] == "memory/markers"
    assert displays["Image"]["Topic"]["Value"] == "camera/color/image_raw"


def test_the_rviz_config_enables_every_marker_namespace():
    markers = pytest.importorskip("memory_nodes.markers", reason="needs the ROS message packages")
    displays = yaml.safe_load(RVIZ_CONFIG.read_text())["Visualization Manager"]["Displays"]
    [marker_array] = [d for d in displays if d["Class"] == "rviz_default_plugins/MarkerArray"]
    assert marker_array["Namespaces"] == {ns: True for ns in markers.NAMESPACES}


def test_cmake_installs_launch_config_and_rviz_into_the_package_share():
    text = (REPO / "CMakeLists.txt").read_text()
    loop = re.search(r"foreach\(resource ([^)]*)\)(.*?)endforeach", text, re.S)
    assert loop and {"launch", "config", "rviz"} <= set(loop.group(1).split())
    assert re.search(r"install\(DIRECTORY \$\{resource\} DESTINATION share/\$\{PROJECT_NAME\}\)", loop.group(2))
