"""The embedded household simulator, memory on its clock, and the planner: the stack without a robot.

    ros2 launch embodied_memory sim_memory.launch.py [seed:=3] [household:=true] [perception:=realistic]
        [planner:=false] [rviz:=true]

The simulator bridge publishes the topics a robot's drivers would and /clock; memory.launch.py
brings up the memory nodes with use_sim_time, so every stamp is simulated time, and sets the long-term
memory for the bridge's perception model (as ``embodied-memory up --sim`` does).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchContext, LaunchDescription


def _bridge(context: LaunchContext) -> list[Node]:
    """The simulator bridge; read at launch time so that an empty perception keeps the YAML's value."""
    given = {"seed": ParameterValue(LaunchConfiguration("seed"), value_type=int),
             "household": ParameterValue(LaunchConfiguration("household"), value_type=bool)}
    perception = LaunchConfiguration("perception").perform(context)
    if perception:
        given["perception"] = perception
    return [Node(package="embodied_memory", executable="sim_bridge_node", name="sim_bridge",
                 parameters=[LaunchConfiguration("params_file"), given], output="screen")]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("embodied_memory")
    params_file = LaunchConfiguration("params_file")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "memory.yaml"),
                              description="Parameter YAML with a section per node"),
        DeclareLaunchArgument("seed", default_value="0", description="Seed of the generated home"),
        DeclareLaunchArgument("household", default_value="false",
                              description="Let the household move things and change states on the simulated clock"),
        DeclareLaunchArgument("planner", default_value="true",
                              description="Also start the planner node (instructions in, skills out)"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="Also start RViz2 showing the memory layers and the camera"),
        DeclareLaunchArgument("perception", default_value="",
                              description="What the simulated camera and detector make of frames: oracle | realistic "
                                          "| harsh; empty keeps the parameter file's sim_bridge perception"),
        OpaqueFunction(function=_bridge),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(share, "launch", "memory.launch.py")),
            launch_arguments={"params_file": params_file, "use_sim_time": "true", "rviz": LaunchConfiguration("rviz"),
                              "simulated": "true", "perception": LaunchConfiguration("perception")}.items(),
        ),
        Node(package="embodied_memory", executable="planner_node", name="planner",
             parameters=[params_file, {"use_sim_time": True}],
             condition=IfCondition(LaunchConfiguration("planner")), output="screen"),
    ])
