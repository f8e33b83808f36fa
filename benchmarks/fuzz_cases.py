"""Hypothesis strategies for ``bench fuzz``: one case per message or request the memory nodes take in.

A case knows whether it is bad by construction (a mutation drawn from the field's invalid values),
so the harness can tell a rejection that should happen from one that should not. Camera cases start
from a real frame of the embedded simulator and mutate it; requests are drawn field by field, around
the size caps (``scene_graph.admission.RequestLimits``) and with any unicode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from hypothesis import strategies as st

from scene_graph.admission import AdmissionLimits, RequestLimits

LIMITS = RequestLimits()
ADMISSION = AdmissionLimits()
ABSURD_FLOATS = (math.nan, math.inf, -math.inf, 1e300, -1e300, 1e30, -1e30, 1e-30, 0.0, -1.0)
FRAME_MUTATIONS = ("none", "future_stamp", "pose_position", "pose_orientation", "pose_frame", "focal", "principal",
                   "image_size", "color_encoding", "depth_encoding", "truncated_data", "zero_size",
                   "count_mismatch", "bad_label", "bad_score")
WHOLE_FRAME_BAD = frozenset(FRAME_MUTATIONS) - {"none", "bad_label", "bad_score"}
"""Mutations that must keep the whole frame out of memory (bad_label and bad_score drop one instance)."""


@dataclass(frozen=True)
class Case:
    """One input: ``kind`` names the topic, service or action; ``bad`` when it must be refused."""

    kind: str
    bad: bool
    fields: dict[str, Any] = field(default_factory=dict)
    mutation: str = ""


def wire(text: str) -> str:
    """What a ROS string field carries: the text up to its first NUL (rosidl strings are C strings)."""
    return text.split("\x00", 1)[0]


def _over(limit: int) -> st.SearchStrategy[int]:
    return st.integers(limit + 1, limit * 4)


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Any unicode, control and separator characters included."""
    return st.text(max_size=max_size)


def long_text(limit: int) -> st.SearchStrategy[str]:
    """A text just or far over ``limit`` characters (built by repetition: drawing it would be slow)."""
    return st.builds(lambda piece, n: (piece * (n // len(piece) + 1))[:n], st.text(min_size=1, max_size=8),
                     _over(limit))


def bad_labels() -> st.SearchStrategy[str]:
    """Labels admission refuses: empty, blank, too long, several lines, control or separator characters
    (not NUL: a ROS string ends there, see :func:`wire`)."""
    return st.one_of(st.just(""), st.sampled_from([" ", "\t", "\n"]), long_text(ADMISSION.max_label_chars),
                     st.builds(lambda a, sep, b: f"Apple{a}{sep}{b}", texts(10),
                               st.sampled_from(["\n", "\r", "\u2028", "\u2029", "\x1b", "\x85"]), texts(10)))


def clean_names(max_size: int = 24) -> st.SearchStrategy[str]:
    return st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1,
                   max_size=max_size)


def frame_cases() -> st.SearchStrategy[Case]:
    """A frame set (odometry, colour, depth, camera info, instances) with at most one mutation."""
    def build(mutation: str, value: float, label: str, base: int, offset: float) -> Case:
        return Case("frame", mutation != "none", {"value": value, "label": label, "base": base, "offset": offset},
                    mutation)

    clean_share = ("none",) * (len(FRAME_MUTATIONS) // 2)  # a third of the frames are clean: memory fills
    return st.builds(build, st.sampled_from(clean_share + FRAME_MUTATIONS), st.sampled_from(ABSURD_FLOATS),
                     bad_labels(), st.integers(0, 1000), st.floats(5.0, 1e9))


def layout_cases() -> st.SearchStrategy[Case]:
    """Layouts that must not replace memory's: absurd coordinates or room names that are not labels."""
    coordinate = st.builds(lambda v: Case("layout", True, {"value": v, "name": "kitchen_1"}, "coordinate"),
                           st.sampled_from([v for v in ABSURD_FLOATS if not math.isfinite(v) or abs(v) > 1e4]))
    name = st.builds(lambda n: Case("layout", True, {"value": 1.0, "name": n}, "name"), bad_labels())
    return st.one_of(coordinate, name)


def _state_change_fields(valid: bool) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(mutation, fields) of a StateChange; the mutation is "" for a valid one."""
    base = st.fixed_dictionaries({
        "object_id": clean_names(), "object_type": st.sampled_from(["Apple", "Fridge", "Mug"]),
        "state": st.sampled_from(["open", "sliced", "toggled", "dirty"]),
        "new_value": st.sampled_from(["true", "false", "hot"]), "position": st.just((1.0, 2.0, 0.5)),
        "future_s": st.just(0.0), "cause": st.sampled_from(["household", "OpenObject", "perception"])})
    if valid:
        return base.map(lambda f: ("", f))
    mutations = st.one_of(
        st.tuples(st.just("future_stamp"), st.fixed_dictionaries({"future_s": st.floats(10.0, 1e9)})),
        st.tuples(st.just("position"), st.fixed_dictionaries(
            {"position": st.tuples(st.sampled_from([math.nan, math.inf]), st.just(0.0), st.just(0.0))})),
        *[st.tuples(st.just(name), st.fixed_dictionaries({name: bad_labels()}))
          for name in ("object_id", "object_type", "state", "new_value")])
    return st.builds(lambda f, m: (m[0], {**f, **m[1]}), base, mutations)


def change_cases(kind: str) -> st.SearchStrategy[Case]:
    """StateChange on ``kind``: "state_changes" (short-term input) or "confirmed_changes" (long-term)."""
    return st.one_of(
        _state_change_fields(False).map(lambda mf: Case(kind, True, mf[1], mf[0])),
        _state_change_fields(True).map(lambda mf: Case(kind, False, mf[1])))


def graph_update_cases() -> st.SearchStrategy[Case]:
    """GraphUpdates into short-term memory whose object is absurd (short-term memory is their only reader
    besides the planner's view)."""
    bad_label = st.builds(lambda lb: ("label", {"label": lb}), bad_labels())
    bad_centroid = st.builds(lambda v: ("centroid", {"centroid": (v, 0.0, 0.0)}),
                             st.sampled_from([math.nan, math.inf, -math.inf]))
    future = st.builds(lambda s: ("future_stamp", {"future_s": s}), st.floats(10.0, 1e9))
    return st.builds(lambda m, oid: Case("graph_updates", True, {"object_id": oid, "label": "Mug",
                                                                  "centroid": (1.0, 1.0, 1.0), "future_s": 0.0,
                                                                  **m[1]}, m[0]),
                     st.one_of(bad_label, bad_centroid, future), clean_names())


def query_cases() -> st.SearchStrategy[Case]:
    """memory/query_objects: bad when a field is over its cap or ``near`` is not a finite sphere."""
    def build(text: str, label: str, room: str, k: int, near: Optional[tuple[float, float, float, float]]) -> Case:
        text, label, room = wire(text), wire(label), wire(room)
        bad = (len(text) > LIMITS.max_text_chars or len(label) > LIMITS.max_id_chars
               or len(room) > LIMITS.max_id_chars or k > LIMITS.max_results
               or (near is not None and not (all(math.isfinite(v) for v in near) and near[3] > 0)))
        return Case("query_objects", bad, {"text": text, "label": label, "room": room, "k": k, "near": near})

    finite = st.floats(-1e6, 1e6)
    return st.builds(build, st.one_of(texts(40), long_text(LIMITS.max_text_chars)),
                     st.one_of(st.just(""), texts(10), long_text(LIMITS.max_id_chars)),
                     st.one_of(st.just(""), texts(10), long_text(LIMITS.max_id_chars)),
                     st.one_of(st.integers(0, 50), st.integers(0, 2**32 - 1)),
                     st.one_of(st.none(), st.tuples(finite, finite, finite, st.floats(0.01, 10.0)),
                               st.tuples(st.floats(allow_nan=True), finite, finite, st.floats(width=32))))


def subgraph_cases() -> st.SearchStrategy[Case]:
    def build(instruction: str, ids: list[str], budget: int, whole: bool) -> Case:
        instruction, ids = wire(instruction), [wire(i) for i in ids]
        bad = (len(instruction) > LIMITS.max_text_chars or len(ids) > LIMITS.max_ids
               or any(len(i) > LIMITS.max_id_chars for i in ids)
               or (not whole and not instruction.strip() and not ids))
        return Case("task_subgraph", bad, {"instruction": instruction, "ids": ids, "budget": budget, "whole": whole})

    many_ids = st.builds(lambda n: [f"obj_{i:04d}" for i in range(n)], _over(LIMITS.max_ids))
    return st.builds(build, st.one_of(texts(60), long_text(LIMITS.max_text_chars)),
                     st.one_of(st.lists(texts(12), max_size=5), st.lists(long_text(LIMITS.max_id_chars), max_size=2,
                                                                          min_size=1), many_ids),
                     st.one_of(st.integers(0, 3000), st.integers(0, 2**32 - 1)), st.booleans())


def manage_cases() -> st.SearchStrategy[Case]:
    """memory/manage without CLEAR and without loading a saved name (both change memory by design)."""
    bad_name = st.one_of(st.sampled_from(["..", "../x", "/etc/passwd", "a/b", ".hidden", "-x", "a\\b"]),
                         long_text(64), texts(12).filter(lambda s: s == "" or not s.isascii() or "/" in s))
    save = st.builds(lambda n: Case("manage", False, {"operation": 0, "name": "fuzz_" + n}), clean_names(12))
    bad_save_load = st.builds(lambda op, n: Case("manage", wire(n) != "", {"operation": op, "name": wire(n)}),
                              st.sampled_from([0, 1]), bad_name.filter(lambda n: wire(n) == n))
    load_missing = st.builds(lambda n: Case("manage", True, {"operation": 1, "name": "nosuch_" + n}),
                             clean_names(12))
    other = st.builds(lambda op: Case("manage", op != 3, {"operation": op, "name": ""}),
                      st.sampled_from([3, 4, 7, 100, 255]))
    return st.one_of(save, bad_save_load, load_missing, other)


def mark_missing_cases() -> st.SearchStrategy[Case]:
    """memory/mark_missing: a known id (filled in by the harness when ``known``) or any text; a
    correction stamped in the future is bad even for a known object."""
    def build(object_id: str, known: bool, future_s: float) -> Case:
        object_id = wire(object_id)
        bad = future_s > 0 or (not known and (object_id == "" or len(object_id) > LIMITS.max_id_chars))
        return Case("mark_missing", bad, {"object_id": object_id, "known": known, "future_s": future_s})

    return st.builds(build, st.one_of(texts(12), long_text(LIMITS.max_id_chars)), st.booleans(),
                     st.one_of(st.just(0.0), st.floats(10.0, 1e9)))


def place_object_cases() -> st.SearchStrategy[Case]:
    """memory/place_object: ids as for :func:`mark_missing_cases` (known ones picked by the harness,
    which makes the pair the same id, bad, when ``same``); a holder id of any text."""
    def build(object_id: str, holder_id: str, known: bool, same: bool, future_s: float) -> Case:
        object_id, holder_id = wire(object_id), wire(holder_id)
        bad = future_s > 0 or (known and same) or (not known and (
            object_id == "" or holder_id == "" or object_id == holder_id
            or max(len(object_id), len(holder_id)) > LIMITS.max_id_chars))
        return Case("place_object", bad, {"object_id": object_id, "holder_id": holder_id, "known": known,
                                          "same": same, "future_s": future_s})

    ids = st.one_of(texts(12), long_text(LIMITS.max_id_chars))
    return st.builds(build, ids, ids, st.booleans(), st.booleans(), st.one_of(st.just(0.0), st.floats(10.0, 1e9)))


def short_term_query_cases() -> st.SearchStrategy[Case]:
    def build(instruction: str, k: int) -> Case:
        instruction = wire(instruction)
        return Case("short_term_query", len(instruction) > LIMITS.max_text_chars or k > LIMITS.max_results,
                    {"instruction": instruction, "k": k})

    return st.builds(build, st.one_of(texts(40), long_text(LIMITS.max_text_chars)),
                     st.one_of(st.integers(0, 20), st.integers(0, 2**32 - 1)))


def task_cases() -> st.SearchStrategy[Case]:
    """execute_task goals; valid ones run (and fail fast: the harness starts no skill server)."""
    def build(instruction: str, conditions: list[str]) -> Case:
        instruction, conditions = wire(instruction), [wire(c) for c in conditions]
        bad = (len(instruction) > LIMITS.max_text_chars or len(conditions) > LIMITS.max_goal_conditions
               or any(len(c) > LIMITS.max_text_chars for c in conditions))
        return Case("execute_task", bad, {"instruction": instruction, "conditions": conditions})

    many = st.builds(lambda n: ["ON(Apple, Fridge)"] * n, _over(LIMITS.max_goal_conditions))
    return st.builds(build, st.one_of(texts(30), long_text(LIMITS.max_text_chars)),
                     st.one_of(st.lists(texts(20), max_size=3), many,
                               st.lists(long_text(LIMITS.max_text_chars), min_size=1, max_size=1)))


def cases() -> st.SearchStrategy[Case]:
    """Every input kind; camera frames most often (they carry the most fields), goals seldom (each runs)."""
    weighted = ((8, frame_cases()), (1, layout_cases()), (2, change_cases("confirmed_changes")),
                (2, change_cases("state_changes")), (1, graph_update_cases()), (3, query_cases()),
                (3, subgraph_cases()), (1, manage_cases()), (2, mark_missing_cases()), (1, place_object_cases()),
                (2, short_term_query_cases()),
                (1, st.just(Case("get_snapshot", False))), (1, task_cases()))
    return st.sampled_from([s for n, s in weighted for _ in range(n)]).flatmap(lambda s: s)
