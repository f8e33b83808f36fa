"""Requests that survive lost answers, and nodes that survive their own callbacks' bugs."""
from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy")
from memory_client import Client  # noqa: E402
from rclpy.action import GoalResponse  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.task import Future  # noqa: E402
from waits import until  # noqa: E402

from embodied_memory.srv import QueryObjects  # noqa: E402
from memory_nodes import calls  # noqa: E402
from memory_nodes.node_support import SingleGoal, Spinner  # noqa: E402


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


def test_a_stop_ends_the_wait_for_a_server_that_never_answers_and_abandons_every_copy():
    """A cancel while the planner waits for an absent skill server: no waiting out the timeout."""
    server, abandoned = LossyServer({}), []
    assert calls.first_answer(server.send, server.wait, 3600.0, abandoned.append, stop=lambda: True) is None
    assert abandoned == server.sent and len(server.sent) == 1


def test_a_request_that_will_be_resent_goes_out_whatever_the_graph_says():
    asked: list[float] = []

    def never(seconds: float) -> bool:
        asked.append(seconds)
        return False

    assert calls.ready_or_not(never, 30.0) is True and asked == [calls.RESEND_AFTER_S]
    assert calls.ready_or_not(never, 0.5) is True and asked[-1] == 0.5
    assert calls.ready_or_not(never, 30.0, resend=False) is False and asked[-1] == 30.0
    assert calls.ready_or_not(lambda s: True, 30.0, resend=False) is True


def test_a_request_that_must_not_run_twice_is_sent_once():
    server, abandoned = LossyServer({}), []
    assert calls.first_answer(server.send, server.wait, 0.1, abandoned.append, resend=False) is None
    assert len(server.sent) == 1 and abandoned == server.sent


class FakeGoal:
    """What SingleGoal uses of rclpy's ServerGoalHandle."""

    def __init__(self, number: int) -> None:
        self.goal_id = type("UUID", (), {"uuid": bytes([number] * 16)})()
        self.executing = False

    def execute(self) -> None:
        self.executing = True


def test_one_goal_at_a_time_and_a_goal_whose_acceptance_was_lost_blocks_nothing():
    context = Context()
    rclpy.init(context=context)
    node = Node("single", context=context)
    try:
        single = SingleGoal(node)
        lost, first, copy = FakeGoal(1), FakeGoal(2), FakeGoal(3)
        assert single.on_goal(None) == GoalResponse.ACCEPT  # lost: accepted, but the answer never went out
        assert single.on_goal(None) == GoalResponse.ACCEPT  # so its resent copy is accepted
        single.on_accepted(first)
        assert first.executing and single.owns(first) and not single.owns(lost)
        assert single.on_goal(None) == GoalResponse.REJECT  # a copy sent again to a slow server
        single.on_accepted(copy)  # accepted at the same moment on another thread: it runs, and must abort
        assert copy.executing and not single.owns(copy)
        single.release(copy)
        assert single.on_goal(None) == GoalResponse.REJECT
        single.release(first)
        assert single.on_goal(None) == GoalResponse.ACCEPT
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


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
        assert until(lambda: node.ticks >= 5)  # the timer went on after raising twice
        assert spinner.errors["buggy"] == 2
        answer = user.call(QueryObjects, "buggy/query")
        assert answer.error_message.startswith("still serving after")
    finally:
        user.close()
        spinner.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
