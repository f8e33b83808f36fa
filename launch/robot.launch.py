"""Memory on a real robot: its camera and TF in, a perception front end, memory and the planner.

    ros2 launch embodied_memory robot.launch.py
        [color_topic:=T] [depth_topic:=T] [camera_info_topic:=T]     camera topics (depth registered to colour)
        [instances:=perception|detections|topic]                       who produces camera/instances
        [detector_backend:=owlv2|grounding_dino] [detector_model:=DIR] [mask_backend:=depth|sam] [mask_model:=DIR]
        [vocabulary:="mug,apple,..."] [detections_topic:=T]
        [state_backend:=openai|transformers] [state_base_url:=URL] [state_model_path:=DIR]  object states from a VLM
        [world_frame:=map] [planner:=true] [params_file:=FILE] [memory_dir:=DIR] [namespace:=NS]
        [use_sim_time:=false] [rviz:=false]

The camera pose comes from TF (/tf, /tf_static): world_frame -> the depth image's frame. Every
other parameter comes from the YAML (config/memory.yaml); the arguments override only what they
name. `embodied-memory up --robot` brings up the same nodes without ros2 launch.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchContext, LaunchDescription
from memory_nodes.robot_parameters import robot_fusion_parameters

PRODUCERS = ("perception", "detections", "topic")


def _nodes(context: LaunchContext) -> list[Node]:
    def arg(name: str) -> str:
        return context.launch_configurations[name]

    common = [LaunchConfiguration("params_file"),
              {"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}]
    namespace = LaunchConfiguration("namespace")
    camera = [("camera/color/image_raw", arg("color_topic")), ("camera/depth/image_raw", arg("depth_topic")),
              ("camera/color/camera_info", arg("camera_info_topic"))]
    producer = arg("instances")
    if producer not in PRODUCERS:
        raise ValueError(f"instances must be one of {', '.join(PRODUCERS)}, not {producer!r}")
    # Trackers reissue ids when they lose an object: memory associates by geometry, not by those ids.
    depth_masks = producer == "detections" or (producer == "perception" and arg("mask_backend") == "depth")
    long_term = {"pose_source": "tf", "world_frame": arg("world_frame"), **robot_fusion_parameters(depth_masks)}
    for key in ("memory_dir", "state_backend", "state_base_url", "state_model_path"):
        if arg(key):
            long_term[key] = arg(key)
    nodes = [
        Node(package="embodied_memory", executable="long_term_memory_node", name="long_term_memory",
             namespace=namespace, parameters=common + [long_term], remappings=camera, output="screen"),
        Node(package="embodied_memory", executable="short_term_memory_node", name="short_term_memory",
             namespace=namespace, parameters=common, output="screen"),
    ]
    if producer == "perception":
        perception = {key: arg(key) for key in ("detector_backend", "detector_model", "mask_backend", "mask_model",
                                                "vocabulary")}
        nodes.append(Node(package="embodied_memory", executable="perception_node", name="perception",
                          namespace=namespace, parameters=common + [perception], remappings=camera, output="screen"))
    elif producer == "detections":
        nodes.append(Node(package="embodied_memory", executable="detections_node", name="detections_to_instances",
                          namespace=namespace, parameters=common, output="screen",
                          remappings=camera + [("detections", arg("detections_topic"))]))
    if arg("planner") == "true":
        nodes.append(Node(package="embodied_memory", executable="planner_node", name="planner", namespace=namespace,
                          parameters=common, remappings=camera, output="screen"))  # camera: send_images
    return nodes


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("embodied_memory")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "memory.yaml"),
                              description="Parameter YAML with a section per node"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Run the nodes on /clock (a bag) instead of the wall clock"),
        DeclareLaunchArgument("memory_dir", default_value="",
                              description="Folder of saved memories; empty keeps the parameter file's value"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="ROS namespace of the nodes and their topics (one per robot)"),
        DeclareLaunchArgument("color_topic", default_value="camera/color/image_raw",
                              description="Colour image (rgb8 or bgr8); RealSense: /camera/camera/color/image_raw"),
        DeclareLaunchArgument("depth_topic", default_value="camera/depth/image_raw",
                              description="Depth registered to colour (16UC1 mm or 32FC1 m); RealSense: "
                                          "/camera/camera/aligned_depth_to_color/image_raw"),
        DeclareLaunchArgument("camera_info_topic", default_value="camera/color/camera_info",
                              description="The colour camera's CameraInfo"),
        DeclareLaunchArgument("world_frame", default_value="map",
                              description="Fixed frame of memory (REP-105); TF must connect it to the camera's frame"),
        DeclareLaunchArgument("instances", default_value="perception",
                              description="Who publishes camera/instances: perception (this package's node, "
                                          "transformers models), detections (the robot's vision_msgs detector), or "
                                          "topic (something else publishes InstanceSegmentation)"),
        DeclareLaunchArgument("detector_backend", default_value="owlv2",
                              description="perception: owlv2 or grounding_dino"),
        DeclareLaunchArgument("detector_model", default_value="",
                              description="perception: local folder of the detector (save_pretrained layout)"),
        DeclareLaunchArgument("mask_backend", default_value="depth",
                              description="perception: depth (no model) or sam"),
        DeclareLaunchArgument("mask_model", default_value="",
                              description="perception: local folder of SAM (mask_backend sam)"),
        DeclareLaunchArgument("vocabulary", default_value="",
                              description="perception: comma-separated words; empty: the ontology's object types"),
        DeclareLaunchArgument("detections_topic", default_value="detections",
                              description="detections: the robot's vision_msgs/Detection2DArray topic"),
        DeclareLaunchArgument("state_backend", default_value="",
                              description="Object states from a VLM: openai | transformers; empty: the YAML's (none)"),
        DeclareLaunchArgument("state_base_url", default_value="",
                              description="state_backend openai: the server's base URL (image input)"),
        DeclareLaunchArgument("state_model_path", default_value="",
                              description="state_backend transformers: local VLM folder (LLaVA-, Idefics3-style)"),
        DeclareLaunchArgument("planner", default_value="true",
                              description="Also start the planner node (execute_task action)"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="Also start RViz2 showing the memory layers and the camera"),
        OpaqueFunction(function=_nodes),
        Node(package="rviz2", executable="rviz2", name="rviz2", namespace=LaunchConfiguration("namespace"),
             arguments=["-d", os.path.join(share, "rviz", "memory.rviz")],
             parameters=[{"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}],
             condition=IfCondition(LaunchConfiguration("rviz")), output="screen"),
    ])
