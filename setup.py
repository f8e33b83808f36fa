"""pip install for the Python side of the embodied_memory ROS 2 package.

colcon builds the package through CMakeLists.txt; pip (scripts/setup.sh, or a user's own
virtualenv) installs the same Python packages and executables from here. tests/test_packaging.py
keeps the two lists equal.
"""
from setuptools import find_packages, setup

PYTHON_PACKAGES = ["scene_graph", "perception", "planners", "sim", "inprocess", "memory_nodes", "benchmarks"]
EXECUTABLES = [
    "embodied-memory=memory_nodes.tools.cli:main",
    "sim_bridge_node=memory_nodes.sim_bridge_node:main",
    "long_term_memory_node=memory_nodes.long_term_node:main",
    "short_term_memory_node=memory_nodes.short_term_node:main",
    "planner_node=memory_nodes.planner_node:main",
    "detections_node=memory_nodes.detections_node:main",
    "perception_node=memory_nodes.perception_node:main",
]

setup(
    # Not "embodied_memory": that is the distribution rosidl generates for the interfaces.
    name="embodied-memory-stack",
    version="0.1.0",
    description="Embodied long- and short-term memory for household robots as ROS 2 nodes",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=[p for name in PYTHON_PACKAGES for p in (name, f"{name}.*")]),
    entry_points={"console_scripts": EXECUTABLES},
)
