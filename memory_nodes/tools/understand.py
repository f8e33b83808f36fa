"""``embodied-memory understand``: the goal conditions an instruction asks for, without running anything.

One instruction, or every task of a task file in KARMA's format (``--tasks``); each gives its
goals in KARMA's goal-condition syntax, or the code and clause that could not be understood.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from planners.grounding import NotUnderstood
from planners.instructions import understand
from sim.tasks import load_tasks


def understood(instruction: str) -> dict:
    """``{"goals": [...], "code": "", "error": ""}``, or no goals with the code and message."""
    try:
        return {"goals": [c.text for c in understand(instruction)], "code": "", "error": ""}
    except NotUnderstood as exc:
        return {"goals": [], "code": exc.code, "error": str(exc)}


def understood_tasks(path: Union[str, Path]) -> list[dict]:
    """One row per task of the file: its set, id (a number when it is one), goals and error."""
    return [{"set": t.task_set, "id": int(t.task_id) if t.task_id.isdigit() else t.task_id,
             "instruction": t.instruction, **understood(t.instruction)} for t in load_tasks(path).tasks]


def report(rows: list[dict], as_json: bool) -> str:
    if as_json:
        return json.dumps({"tasks": rows}, indent=1)
    lines = []
    for row in rows:
        where = f"{row['set']} {row['id']}: " if "set" in row else ""
        lines.append(where + (", ".join(row["goals"]) if not row["error"] else f"not understood: {row['error']}"))
    return "\n".join(lines)
