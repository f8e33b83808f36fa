"""Simulators behind one interface (``sim.interface.Simulator``): the embedded household
simulator (``sim.home``), AI2-THOR (``sim.thor``) and habitat-sim (``sim.habitat``), plus KARMA
task files and goal tracking (``sim.tasks``). Pure Python: nothing here imports rclpy."""
