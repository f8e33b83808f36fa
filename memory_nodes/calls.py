"""Service calls and action goals that survive a server still discovering its client.

``wait_for_service`` and ``wait_for_server`` return once the *client* has matched the server. The
server may not have matched the client's reply reader yet; rmw_fastrtps then waits 100 ms and
drops the answer ("client will not receive response"), and the caller would wait forever. A
loaded machine makes this common: CI lost the planner test's first skill goal this way. So a
request still unanswered after :data:`RESEND_AFTER_S` is sent again, then after twice as long, and
then every 4 s (a server restarting comes back to a request soon after); the first answer wins.

Resending is safe: memory queries and result requests are idempotent, and an rclpy action server
neither executes nor tracks to completion a goal whose acceptance it could not send. A copy that
is accepted late all the same (a server only slow, not deaf) is cancelled; a server that preempts
its current goal for a new one (as nav2's do) would lose the first copy to the second, so a robot's
skill server should answer goal requests at once and work in its execute callback.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.client import Client
from rclpy.task import Future

RESEND_AFTER_S = 2.0
_MAX_PAUSE_S = 4.0  # a server restarting (or slow) is asked again at least this often

Waiter = Callable[[Future, float], bool]
"""``wait(future, seconds)``: True once the future is done, False when ``seconds`` passed first.
A client that spins its own executor spins it here; a callback of a multi-threaded executor
blocks on an event that another thread sets."""


def wait_done(future: Future, timeout_s: float) -> bool:
    """True once another executor thread completes the future, False after ``timeout_s``."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    return future.done() or done.wait(timeout_s)


def ready_or_not(wait_ready: Callable[[float], bool], timeout_s: float, resend: bool = True) -> bool:
    """Whether to send a request now, given ``wait_ready(seconds)`` (a client's ``wait_for_service``
    or ``wait_for_server``).

    That check is a hint: rmw_fastrtps answers it from request-reader and reply-writer counts over
    the whole domain and from the client's own matches. CI saw it say "no" for seconds about a
    skill server that was answering another client meanwhile, and once for the last five minutes of
    a test module to a test's long-lived action clients while new clients reached the same skill
    server. So a request that will be resent waits for it at most :data:`RESEND_AFTER_S` and then
    goes out anyway (the answer decides); one sent once waits up to ``timeout_s`` and is not sent
    unless the check says yes.
    """
    if not resend:
        return wait_ready(timeout_s)
    wait_ready(min(timeout_s, RESEND_AFTER_S))
    return True


def first_answer(send: Callable[[], Future], wait: Waiter, timeout_s: float,
                 abandon: Callable[[Future], None] = lambda _: None, resend: bool = True,
                 stop: Callable[[], bool] = lambda: False) -> Optional[Any]:
    """The result of the first future of ``send()`` to complete, sending again while none does
    (unless not ``resend``); None after ``timeout_s``, or once ``stop()`` (a cancel: ``wait`` should
    return early then). Every other future sent goes to ``abandon``."""
    deadline = time.monotonic() + timeout_s
    answered = Future()  # done as soon as any copy is

    def note(_: Future) -> None:
        if not answered.done():
            answered.set_result(None)

    sent: list[Future] = []
    pause = RESEND_AFTER_S if resend else timeout_s
    while True:
        sent.append(send())
        sent[-1].add_done_callback(note)
        wait(answered, max(0.0, min(pause, deadline - time.monotonic())))
        first = next((f for f in sent if f.done()), None)
        if first is not None or not resend or time.monotonic() >= deadline or stop():
            for future in sent:
                if future is not first:
                    abandon(future)
            return None if first is None else first.result()
        pause = min(2 * pause, _MAX_PAUSE_S)


def call(client: Client, request: Any, wait: Waiter, timeout_s: float, resend: bool = True) -> Optional[Any]:
    """The service's response to ``request``, or None after ``timeout_s``; ``resend`` False for a
    request that must not run twice (a memory load)."""
    return first_answer(lambda: client.call_async(request), wait, timeout_s, client.remove_pending_request, resend)


def send_goal(client: ActionClient, goal: Any, wait: Waiter, timeout_s: float,
              feedback_callback: Optional[Callable[[Any], None]] = None,
              stop: Callable[[], bool] = lambda: False) -> Optional[ClientGoalHandle]:
    """The goal's handle (accepted or not), or None when the server did not answer in ``timeout_s``
    or ``stop()`` (copies accepted late are cancelled)."""
    return first_answer(lambda: client.send_goal_async(goal, feedback_callback=feedback_callback), wait,
                        timeout_s, _cancel_if_accepted, stop=stop)


def goal_result(handle: ClientGoalHandle, wait: Waiter, timeout_s: float) -> Optional[Any]:
    """The goal's GetResult response (``.result``, ``.status``), or None if it did not end in ``timeout_s``."""
    return first_answer(handle.get_result_async, wait, timeout_s)


def _cancel_if_accepted(future: Future) -> None:
    def cancel(done: Future) -> None:
        handle = done.result()
        if handle is not None and handle.accepted:
            handle.cancel_goal_async()
    future.add_done_callback(cancel)
