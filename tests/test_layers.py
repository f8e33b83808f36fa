"""Imports go one way: scene_graph <- perception, sim <- planners <- inprocess; memory_nodes <-
memory_nodes.tools, benchmarks. The core never imports ROS, and importing a node loads neither the
simulator, cv2 nor a benchmark.

The source is read as syntax trees, so a forbidden import fails here even on a code path no other
test runs; the subprocess tests check what an import really loads.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
ROS_FREE = ("scene_graph", "perception", "sim", "planners", "inprocess")
CORE = {"scene_graph"}
# layer -> the layers its modules may import (its own included)
ALLOWED: dict[str, set[str]] = {
    "scene_graph": CORE,
    "perception": CORE | {"perception"},
    "sim": CORE | {"perception", "sim"},
    "planners": CORE | {"perception", "planners"},
    "inprocess": CORE | {"perception", "sim", "planners", "inprocess"},
    "memory_nodes": CORE | {"perception", "sim", "planners", "memory_nodes"},
    "memory_nodes.tools": CORE | {"perception", "sim", "planners", "inprocess", "memory_nodes", "memory_nodes.tools"},
    "benchmarks": CORE | {"perception", "sim", "planners", "inprocess", "memory_nodes", "memory_nodes.tools",
                          "benchmarks"},
}
# Imports a layer may make only inside a function, when a command asks for them.
LAZY: dict[str, set[str]] = {"memory_nodes.tools": {"benchmarks"}}
ROS_MODULES = ("rclpy", "embodied_memory", "launch", "launch_ros", "rosidl_runtime_py", "ament_index_python")
# The node modules a robot runs; the simulator's bridge is the simulator and is checked for benchmarks only.
ROBOT_NODES = ("memory_nodes.long_term_node", "memory_nodes.short_term_node", "memory_nodes.planner_node")
SUPPORT = ("memory_nodes.conversions", "memory_nodes.markers", "memory_nodes.calls", "memory_nodes.planner_adapters",
           "memory_nodes.node_support", "memory_nodes.frame_sync", "memory_nodes.dds_profile")


def _layer(module: str) -> str | None:
    """The layer of a dotted module name: the longest layer name it starts with, None if not ours."""
    found = [name for name in ALLOWED if module == name or module.startswith(name + ".")]
    return max(found, key=len) if found else None


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of a file; relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_of(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_of(path)

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                yield from ((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                yield base, child.lineno, in_function
                # `from package import module` imports the module too (and names a missing one)
                yield from ((f"{base}.{alias.name}", child.lineno, in_function) for alias in child.names
                            if _submodule(base, alias.name))
            yield from visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    yield from visit(tree, False)


def _submodule(package: str, name: str) -> bool:
    """Whether ``from package import name`` means a module: one of the package's files, or any name
    the package's __init__ does not define (a module that moved away, say)."""
    folder = REPO / Path(*package.split("."))
    if not (folder / "__init__.py").is_file():
        return False
    defined = re.search(rf"\b{re.escape(name)}\b", (folder / "__init__.py").read_text())
    return (folder / f"{name}.py").is_file() or (folder / name).is_dir() or not defined


def _sources(layer: str) -> list[Path]:
    folder = REPO / Path(*layer.split("."))
    return [p for p in sorted(folder.rglob("*.py")) if _layer(_module_of(p)) == layer]


def _exists(module: str) -> bool:
    path = REPO / Path(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_go_one_way(layer):
    if not (REPO / Path(*layer.split("."))).is_dir():
        pytest.skip(f"no {layer}/ package in this tree")
    wrong = []
    for path in _sources(layer):
        for module, line, in_function in _imports(path):
            target = _layer(module)
            if target is None:
                continue
            lazy_ok = in_function and target in LAZY.get(layer, set())
            if target not in ALLOWED[layer] and not lazy_ok:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module} ({layer} may not import {target})")
            elif not _exists(module):
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module}, which is not in the repository")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ROS_FREE)
def test_the_core_never_imports_ros(package):
    if not (REPO / package).is_dir():
        pytest.skip(f"no {package}/ package in this tree")
    wrong = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in sorted((REPO / package).rglob("*.py"))
             for module, line, _ in _imports(path)
             if module.split(".")[0] in ROS_MODULES or module.split(".")[0].endswith("_msgs")]
    assert not wrong, "\n".join(wrong)


def _loaded_after(statement: str, child_env: dict[str, str]) -> list[str]:
    """Top-level module names (and sim.home) loaded by a fresh interpreter running ``statement``."""
    report = ("import sys\nprint('--modules--', "
              "*sorted({m if m.startswith('sim.home') else m.split('.')[0] for m in sys.modules}))")
    code = f"{statement}\n{report}"
    done = subprocess.run([sys.executable, "-c", code], env=child_env, capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("--modules--")[-1].split()


@pytest.mark.parametrize("module", ROBOT_NODES + (", ".join(SUPPORT),), ids=ROBOT_NODES + ("support",))
def test_importing_a_node_loads_neither_the_simulator_nor_cv2_nor_a_benchmark(module, child_env):
    loaded = _loaded_after(f"import {module}", child_env)
    assert not [m for m in loaded if m.startswith(("sim.home", "cv2", "benchmarks", "inprocess"))], module


def test_the_simulator_bridge_loads_no_benchmark(child_env):
    loaded = _loaded_after("import memory_nodes.sim_bridge_node", child_env)
    assert any(m.startswith("sim.home") for m in loaded)  # the check above would see the simulator
    assert "benchmarks" not in loaded


def test_the_command_s_help_loads_no_benchmark_simulator_or_ros(child_env):
    loaded = _loaded_after("import sys; sys.argv = ['embodied-memory', '--help']\n"
                           "from memory_nodes.tools.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
                           child_env)
    assert "memory_nodes" in loaded
    assert not {"benchmarks", "sim", "planners", "rclpy", "cv2", "scipy", "torch"} & set(loaded)
