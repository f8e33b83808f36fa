"""Requests that survive lost answers, and nodes that survive their own callbacks' bugs."""
from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.task import Future  # noqa: E402

from embodied_memory.srv import QueryObjects  # noqa: E402
from memory_nodes import calls  # noqa: E402
from memory_nodes.node_support import Spinner  # noqa: E402
from memory_client import Client  # noqa: E402


class LossyServer:
    """Answers request n once ``answers[n]`` requests were sent (late), or never when n is not in it (lost)."""

    def __init__(self, answers: dict[int, int]) -> None:
        self.answers = answers
        self.sent: list[Future] = []

    def send(self) -> Future:
        self.sent.append(Future())
        return self.sent[-1]

    def wait(self, future: Future, seconds: float) -> bool:
        for number, sent in enumerate(self.sent):
            if self.answers.get(number, len(self.sent) + 1) <= len(self.sent) and not sent.done():
                sent.set_result(f"answer {number}")
        time.sleep(min(seconds, 0.01))
        return future.done()


def test_a_lost_answer_is_asked_again_and_the_copies_not_used_are_abandoned():
    server, abandoned = LossyServer({2: 3}), []
    assert calls.first_answer(server.send, server.wait, 30.0, abandoned.append) == "answer 2"
    assert len(server.sent) == 3
    assert abandoned == server.sent[:2]


def test_the_first_answer_wins_even_from_an_earlier_copy():
    server, abandoned = LossyServer({0: 2, 1: 2}), []
    assert calls.first_answer(server.send, server.wait, 30.0, abandoned.append) == "answer 0"
    assert abandoned == [server.sent[1]]


def test_a_server_that_never_answers_gives_none_within_the_timeout():
    server, abandoned = LossyServer({}), []
    assert calls.first_answer(server.send, server.wait, 0.1, abandoned.append) is None
    assert abandoned == server.sent and server.sent


class Buggy(Node):
    """A node whose timer raises on its first two ticks; its service says how many ticks there were."""

    def __init__(self, context: Context) -> None:
        super().__init__("buggy", context=context)
        self.ticks = 0
        self.create_timer(0.05, self._tick)
        self.create_service(QueryObjects, "buggy/query", self._query)

    def _tick(self) -> None:
        self.ticks += 1
        if self.ticks <= 2:
            raise ValueError("a bug in a callback")

    def _query(self, request: QueryObjects.Request, response: QueryObjects.Response) -> QueryObjects.Response:
        response.error_message = f"still serving after {self.ticks} ticks"
        return response


def test_a_callback_that_raises_is_counted_and_the_node_keeps_serving():
    context = Context()
    rclpy.init(context=context)
    spinner = Spinner(context)
    node = Buggy(context)
    spinner.add(node)
    user = Client()
    try:
        deadline = time.monotonic() + 20.0
        while node.ticks < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.ticks >= 5  # the timer went on after raising twice
        assert spinner.errors["buggy"] == 2
        answer = user.call(QueryObjects, "buggy/query")
        assert answer.error_message.startswith("still serving after")
    finally:
        user.close()
        spinner.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
