"""The one wait of the test suite: poll a condition until it holds or a generous limit passes.

Tests wait for what they need (a count reached, a file written, a server up), never for a fixed
time: a loaded machine only makes them slower, not red. Clients that must spin an executor while
waiting have their ``spin_until`` built on it (``step``).
"""
from __future__ import annotations

import time
from typing import Callable, Optional

GENEROUS_S = 60.0
POLL_S = 0.05


def until(condition: Callable[[], bool], timeout: float = GENEROUS_S,
          step: Optional[Callable[[], None]] = None) -> bool:
    """True as soon as ``condition()`` is, False if it still is not after ``timeout`` seconds.

    ``step`` runs between two looks (spin an executor, say); by default a short pause."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        if step is None:
            time.sleep(POLL_S)
        else:
            step()
    return True
