"""Skill outcome codes: what every layer decides on when a skill fails (messages are for people).

One enum for the simulators (``SkillError`` carries one), the Skill action (``Skill.Result``
has the same constants; a test keeps them equal) and the planner, which decides on codes only.
"""
from __future__ import annotations

from enum import IntEnum


class SkillCode(IntEnum):
    """Skill.Result error codes."""

    NONE = 0
    UNKNOWN_SKILL = 1  # a skill this robot or simulator does not offer
    UNKNOWN_OBJECT = 2  # no object with that id (or type, for GoToObject)
    SKILL_FAILED = 3  # another precondition failed: hand full or empty, receptacle closed, no tool, ...
    CANCELED = 4
    ALREADY_DONE = 5  # what the skill would achieve already holds (already open, on, sliced, ...)
    NOT_REACHABLE = 6  # the object is out of reach, or no place to stand near it is reachable
    NOT_VISIBLE = 7  # the object is hidden (in a closed receptacle) or out of sight from here
    INVALID_OBJECT = 8  # the object exists but does not afford the skill (not pickupable, not a receptacle, ...)
    NO_CLEAR_VIEW = 9  # the object is where memory says, but no reachable place near it sees it
    NO_FREE_SPOT = 10  # the receptacle has no free spot the held object fits in


# The object was not where the caller thought: memory about it is wrong.
NOT_THERE = frozenset({SkillCode.UNKNOWN_OBJECT, SkillCode.NOT_REACHABLE, SkillCode.NOT_VISIBLE})
# Memory is right about the object, but this one cannot serve the task: use another of its kind.
UNUSABLE = frozenset({SkillCode.NO_CLEAR_VIEW, SkillCode.NO_FREE_SPOT})
