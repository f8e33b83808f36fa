"""What runs around the nodes: the ``embodied-memory`` command, the demos, bag record/play and the
bring-up without ``ros2 launch`` (``stack``). Nothing in ``memory_nodes`` proper imports these."""
