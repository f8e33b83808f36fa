"""The robot without ROS: the embedded simulator, long- and short-term memory and the planner in one
process (``inprocess.runtime``), calling the same core rules the nodes call. Pure Python: nothing
here imports rclpy."""
