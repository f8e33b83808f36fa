"""Fixtures of the planner tests."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from tests.planners.chat_server import Server

Reply = Callable[[dict], tuple[int, object]]


@pytest.fixture
def serve() -> Iterator[Callable[[Reply], Server]]:
    """Starts chat completions servers (test doubles) on 127.0.0.1; all are closed after the test."""
    servers: list[Server] = []

    def start(reply: Reply) -> Server:
        servers.append(Server(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
