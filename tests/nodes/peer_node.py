"""A second process for tests/nodes/test_two_process.py: a real rclpy node that publishes the
package's GraphUpdate messages and answers its QueryObjects service from a fixed object list.

Run as: python peer_node.py COUNT  (publishes COUNT updates once a subscriber has matched, keeps
serving until killed). Updates are volatile: published before the test's subscription matched,
they would be lost, as they were on a loaded machine.
"""
from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from embodied_memory.msg import GraphUpdate, ObjectNode, Relation
from embodied_memory.srv import QueryObjects

OBJECTS = [("obj_1", "Apple", 1.0), ("obj_2", "Mug", 2.0), ("obj_3", "Apple", 3.0)]


class Peer(Node):
    def __init__(self, count: int) -> None:
        super().__init__("peer")
        self._count = count
        self._sequence = 0
        self._pub = self.create_publisher(GraphUpdate, "graph_updates", 10)
        self.create_service(QueryObjects, "query_objects", self._on_query)
        self.create_timer(0.1, self._publish)

    def _publish(self) -> None:
        if self._sequence >= self._count or self._pub.get_subscription_count() == 0:
            return
        self._sequence += 1
        msg = GraphUpdate(sequence=self._sequence)
        msg.header.frame_id = "map"
        msg.upserted_objects = [ObjectNode(id=f"obj_{self._sequence}", label="Apple")]
        msg.added_relations = [Relation(subject_id=f"obj_{self._sequence}", predicate=Relation.ON, object_id="table")]
        self._pub.publish(msg)

    def _on_query(self, request: QueryObjects.Request, response: QueryObjects.Response) -> QueryObjects.Response:
        if request.use_near and request.radius <= 0.0:
            response.error_code = QueryObjects.Response.INVALID_REQUEST
            response.error_message = "radius must be positive"
            return response
        for object_id, label, x in OBJECTS:
            if request.label and label != request.label:
                continue
            node = ObjectNode(id=object_id, label=label)
            node.centroid.x = x
            response.objects.append(node)
        response.sequence = self._sequence
        return response


def main() -> None:
    rclpy.init()
    node = Peer(int(sys.argv[1]))
    print("peer ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
