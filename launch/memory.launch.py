"""Long- and short-term memory for a robot that streams RGB-D, instances and its pose.

    ros2 launch embodied_memory memory.launch.py [params_file:=FILE] [use_sim_time:=true]
        [memory_dir:=DIR] [namespace:=NS] [rviz:=true] [simulated:=true [perception:=realistic]]

Every parameter comes from one YAML with a section per node (config/memory.yaml); an argument
here overrides only the parameter it names.
"""
import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchContext, LaunchDescription
from memory_nodes.tools.stack import simulated_memory_parameters


def _memory_nodes(context: LaunchContext) -> list[Node]:
    """The two memory nodes; read at launch time so that an empty memory_dir keeps the YAML's value."""
    params = [LaunchConfiguration("params_file"),
              {"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}]
    long_term_params = list(params)
    if LaunchConfiguration("simulated").perform(context).lower() == "true":
        long_term_params.append(simulated_memory_parameters(Path(LaunchConfiguration("params_file").perform(context)),
                                                            LaunchConfiguration("perception").perform(context)))
    memory_dir = LaunchConfiguration("memory_dir").perform(context)
    if memory_dir:
        long_term_params.append({"memory_dir": ParameterValue(memory_dir, value_type=str)})
    return [
        Node(package="embodied_memory", executable="long_term_memory_node", name="long_term_memory",
             namespace=LaunchConfiguration("namespace"), parameters=long_term_params, output="screen"),
        Node(package="embodied_memory", executable="short_term_memory_node", name="short_term_memory",
             namespace=LaunchConfiguration("namespace"), parameters=params, output="screen"),
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("embodied_memory")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "memory.yaml"),
                              description="Parameter YAML with a section per node"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Run the nodes on /clock (a simulator or a bag) instead of the wall clock"),
        DeclareLaunchArgument("memory_dir", default_value="",
                              description="Folder of saved memories; empty keeps the parameter file's value"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="ROS namespace of the nodes and their topics (one per robot)"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="Also start RViz2 showing the memory layers and the camera"),
        DeclareLaunchArgument("simulated", default_value="false",
                              description="Memory is fed by the embedded simulator's bridge: set the long-term "
                                          "memory for the bridge's perception model (its ids, its detector's faults)"),
        DeclareLaunchArgument("perception", default_value="",
                              description="With simulated: the bridge's perception model (oracle | realistic | harsh); "
                                          "empty: the parameter file's sim_bridge perception"),
        OpaqueFunction(function=_memory_nodes),
        Node(package="rviz2", executable="rviz2", name="rviz2", namespace=LaunchConfiguration("namespace"),
             arguments=["-d", os.path.join(share, "rviz", "memory.rviz")],
             parameters=[{"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}],
             condition=IfCondition(LaunchConfiguration("rviz")), output="screen"),
    ])
