"""Perception for robots without a simulator's ground truth, free of ROS.

Open-vocabulary detection (OWLv2, Grounding DINO), masks from boxes (SAM, or depth alone), a
per-frame tracker, and the step that turns all of it into the instance image memory fuses. Model
weights load from local folders only (``transformers``' ``from_pretrained``); nothing downloads.
"""
