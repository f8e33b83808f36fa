"""The one interface every simulator here offers, so nodes and benchmarks need not care which.

Implemented by ``sim.home.world.HomeWorld`` (embedded), ``sim.thor.ThorSimulator`` and
``sim.habitat.HabitatSimulator``.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Protocol, runtime_checkable

from scene_graph.frames import RGBDFrame
from sim.records import Action, ActionResult, ObjectState, StateChange


class SimulatorUnavailable(RuntimeError):
    """A simulator backend cannot start here; the message says what is missing and how to get it."""


@runtime_checkable
class Simulator(Protocol):
    def reset(self, floor_plan: Optional[int] = None, seed: Optional[int] = None,
              required_types: Iterable[str] = ()) -> None:
        """Start a new episode in FloorPlan ``floor_plan`` or the scene of ``seed``."""

    def step(self, action: Action) -> ActionResult:
        """Run one skill; failures come back as a result, never as an exception."""

    def render(self) -> RGBDFrame:
        """The current camera frame, posed in the z-up world frame."""

    def metadata(self) -> dict[str, Any]:
        """The scene in AI2-THOR's ``event.metadata`` shape."""

    def object_states(self) -> list[ObjectState]:
        """Every object as a record in our world frame (goal checking reads these)."""

    def drain_events(self) -> list[StateChange]:
        """State changes since the last call, oldest first."""
