"""Object states from a vision-language model, as KARMA asks GPT-4o: crop, ask, parse, vote.

After a frame is fused, the objects it showed are candidates: each is cropped from the colour image
(its remembered box projected with the frame's pose and intrinsics), and the model is asked, through
either image-reading backend (an OpenAI-compatible server, or local transformers VLM weights),
about the states its type can have (the ontology's flags: an openable type can be open, a
sliceable one sliced, ...). The answer must be one ``state: yes|no`` line per state asked; a local
model can only write that, a server's text is parsed strictly and anything else counts as a bad
answer. The object's label is memory data, fenced in the prompt like the planner's memory text.

Answers are votes, as detector labels are (:mod:`scene_graph.fusion`): per object and state, the
last ``window`` answers are kept, and a value becomes memory's state once it has ``min_votes`` of
them and a majority, so one misread crop changes nothing. Objects are asked about at most every
``interval_s`` seconds and a few per frame; the model runs on a worker thread that only ever takes
the newest frame's questions, so a slow model skips frames instead of queueing them.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from planners.backends import make_backend, sees_images
from planners.backends.base import BackendUnavailable, Question, VisualAnswerer
from planners.images import crop, png_bytes
from planners.prompt import Prompt, block, data_rule, nonce_of
from scene_graph.frames import RGBDFrame
from scene_graph.ontology import OBJECT_TYPES
from scene_graph.records import ObjectNode

log = logging.getLogger(__name__)

# state -> (the ontology flag that makes a type have it, the question asked)
ASKABLE = {
    "open": ("openable", "is it open?"),
    "sliced": ("sliceable", "is it cut into slices or pieces?"),
    "cooked": ("cookable", "is it cooked?"),
    "dirty": ("dirtyable", "is it dirty?"),
    "toggled": ("toggleable", "is it switched on?"),
    "filled": ("fillable", "is it filled with a liquid?"),
    "broken": ("breakable", "is it broken?"),
}
_LINE = re.compile(r"^[-*\s]*([A-Za-z_]+)\s*[:=]\s*(yes|no|true|false)\.?\s*$", re.IGNORECASE)


class BadAnswer(ValueError):
    """The model's answer is not one ``state: yes|no`` line per state asked."""


STATE_BACKENDS = ("none", "openai", "transformers")


def state_model(backend: str, **options: object) -> VisualAnswerer:
    """The image-reading backend ``backend`` (openai, or transformers with a VLM folder) built with
    ``options``; BackendUnavailable when it cannot load or reads no images."""
    if backend not in STATE_BACKENDS[1:]:
        raise BackendUnavailable(f"state backend must be one of {', '.join(STATE_BACKENDS[1:])}, not {backend!r}")
    model = make_backend(backend, **options)
    if not sees_images(model):
        raise BackendUnavailable(f"the {backend} model at {options.get('model_path', '')!r} reads no images: give "
                                 "a vision-language model's folder (LLaVA-, Idefics3/SmolVLM-style)")
    return model  # type: ignore[return-value]  # sees_images: it has answer()


def askable_states(label: str) -> tuple[str, ...]:
    """The states a camera can judge that objects of type ``label`` can have (none for unknown types)."""
    kind = OBJECT_TYPES.get(label)
    return tuple(s for s, (flag, _) in ASKABLE.items() if kind is not None and getattr(kind, flag))


def state_question(label: str, states: Sequence[str], image: bytes) -> Question:
    """The question about one object's crop; its label is fenced as data."""
    nonce = nonce_of([label])
    system = ("You look at a photo of one object in a home and say which states it is in. Answer with one line "
              "per state asked, in the order asked, each exactly `state: yes` or `state: no`, and nothing else. "
              + data_rule(nonce))
    asked = "\n".join(f"- {s}: {ASKABLE[s][1]}" for s in states)
    user = f"The object, as memory names it:\n{block('object', [label], nonce)}\nStates:\n{asked}\nAnswer:"
    return Question(Prompt(system, user), (image,), tuple((s, ("yes", "no")) for s in states))


def parse_states(text: str, states: Sequence[str]) -> dict[str, bool]:
    """Each asked state's value from the answer; BadAnswer for anything else (prose, a state not
    asked, a state answered twice or not at all). Blank lines and code fences are ignored."""
    found: dict[str, bool] = {}
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith("```"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise BadAnswer(f"not a `state: yes|no` line: {line.strip()[:80]!r}")
        name, value = match.group(1).lower(), match.group(2).lower() in ("yes", "true")
        if name not in states or name in found:
            raise BadAnswer(f"{'answered twice' if name in found else 'not asked'}: {name!r}")
        found[name] = value
    missing = [s for s in states if s not in found]
    if missing:
        raise BadAnswer(f"no answer for {', '.join(missing)}")
    return found


def project_box(node: ObjectNode, frame: RGBDFrame) -> Optional[tuple[float, float, float, float]]:
    """The node's box in the frame's pixels (x0, y0, x1, y1), clipped to the image; None when
    any corner is behind the camera or the box misses the image."""
    corners = np.c_[node.box.corners(), np.ones(8)] @ np.linalg.inv(frame.T_world_camera).T
    z = corners[:, 2]
    if np.any(z < 0.05):
        return None
    k = frame.intrinsics
    u, v = k.fx * corners[:, 0] / z + k.cx, k.fy * corners[:, 1] / z + k.cy
    x0, x1 = max(float(u.min()), 0.0), min(float(u.max()), float(k.width))
    y0, y1 = max(float(v.min()), 0.0), min(float(v.max()), float(k.height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


@dataclass(frozen=True)
class StateJob:
    """One object to ask about: its memory id, label, the states asked, its crop (PNG) and the
    frame's stamp (what a decided state is stamped with)."""

    object_id: str
    label: str
    states: tuple[str, ...]
    image: bytes
    stamp: float


class StateVotes:
    """Per (object, state), the last ``window`` answers; :meth:`add` says when a value has won."""

    def __init__(self, min_votes: int = 2, window: int = 5) -> None:
        self.min_votes, self.window = min_votes, window
        self._votes: dict[tuple[str, str], deque[bool]] = {}

    def add(self, object_id: str, state: str, value: bool) -> Optional[bool]:
        """Record one answer; the winning value when one has ``min_votes`` and a majority, else None."""
        votes = self._votes.setdefault((object_id, state), deque(maxlen=self.window))
        votes.append(value)
        count = votes.count(value)
        return value if count >= self.min_votes and 2 * count > len(votes) else None


class StateEstimator:
    """Crops, asks ``model`` and votes; ``apply(object_id, state, value, stamp)`` writes a decided
    state to memory (the owner takes its lock there). ``counts`` says how every question ended."""

    def __init__(self, model: VisualAnswerer, apply: Callable[[str, str, bool, float], None], min_votes: int = 2,
                 objects_per_frame: int = 2, interval_s: float = 10.0, min_crop_px: int = 16) -> None:
        self.model = model
        self.apply = apply
        self.votes = StateVotes(min_votes)
        self.objects_per_frame = objects_per_frame
        self.interval_s = interval_s
        self.min_crop_px = min_crop_px
        self.counts: Counter[str] = Counter()  # asked, answered, bad_answer, unavailable, failed, states_set
        self._asked_at: dict[str, float] = {}

    def jobs(self, frame: RGBDFrame, seen: Iterable[ObjectNode]) -> list[StateJob]:
        """Questions about the objects ``frame`` showed that have askable states, least recently asked
        first, none asked within ``interval_s`` of the frame's stamp, at most ``objects_per_frame``
        (called on the owner's thread; :meth:`ask` records when an object was asked)."""
        due = sorted((n for n in seen if askable_states(n.label)
                      and frame.stamp - self._asked_at.get(n.id, -np.inf) >= self.interval_s),
                     key=lambda n: (self._asked_at.get(n.id, -np.inf), n.id))
        out: list[StateJob] = []
        for node in due:
            box = project_box(node, frame)
            part = crop(frame.color, box, min_side=self.min_crop_px) if box is not None else None
            if part is None:
                continue
            out.append(StateJob(node.id, node.label, askable_states(node.label), png_bytes(part), frame.stamp))
            if len(out) >= self.objects_per_frame:
                break
        return out

    def ask(self, job: StateJob) -> dict[str, bool]:
        """Ask about one object and vote; the states this answer decided (applied). A bad answer or
        an unreachable model is counted and decides nothing."""
        self.counts["asked"] += 1
        self._asked_at[job.object_id] = job.stamp  # jobs skipped for a newer frame's stay due
        try:
            answer = self.model.answer(state_question(job.label, job.states, job.image))
            values = parse_states(answer.text, job.states)
        except BadAnswer as exc:
            self.counts["bad_answer"] += 1
            log.warning("the VLM's answer about %s is unusable: %s", job.object_id, exc)
            return {}
        except BackendUnavailable as exc:
            self.counts["unavailable"] += 1
            log.warning("cannot ask the VLM about %s: %s", job.object_id, exc)
            return {}
        except Exception:  # noqa: BLE001 - a model's failure costs this answer, not the memory node
            self.counts["failed"] += 1
            log.exception("the VLM failed on %s", job.object_id)
            return {}
        self.counts["answered"] += 1
        decided = {}
        for state, value in values.items():
            won = self.votes.add(job.object_id, state, value)
            if won is not None:
                decided[state] = won
                self.apply(job.object_id, state, won, job.stamp)
        self.counts["states_set"] += len(decided)
        return decided


class StateWorker:
    """Runs :meth:`StateEstimator.ask` on a thread of its own, newest frame's jobs only."""

    def __init__(self, estimator: StateEstimator) -> None:
        self.estimator = estimator
        self._pending: list[StateJob] = []
        self._wake = threading.Condition()
        self._stop = False
        self.skipped = 0  # jobs replaced by a newer frame's before the model got to them
        self._thread = threading.Thread(target=self._run, name="object-states", daemon=True)
        self._thread.start()

    def offer(self, jobs: Sequence[StateJob]) -> None:
        if not jobs:
            return
        with self._wake:
            self.skipped += len(self._pending)
            self._pending = list(jobs)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stop or bool(self._pending))
                if self._stop:
                    return
                job = self._pending.pop(0)
            self.estimator.ask(job)

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout_s)
