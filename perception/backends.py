"""Model backends behind two small interfaces: a detector (image -> boxes) and a masker (boxes -> masks).

Every model loads through ``transformers``' ``from_pretrained`` from a local folder, with
``local_files_only``: a missing model is a :class:`ModelUnavailable` naming the parameter and the
folder, never a download. The same code path loads a user's real weights and the tiny random
models the tests build.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from perception.depth_mask import RELATIVE_STEP, depth_masks
from perception.records import Detection

log = logging.getLogger(__name__)

DETECTORS = ("owlv2", "grounding_dino")
MASKERS = ("depth", "sam")
SCORE_THRESHOLD = 0.1  # detections scored below are dropped (the default)
TEXT_THRESHOLD = 0.25  # Grounding DINO: the score a phrase needs to name a box (the default)
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_PROCESSORS = ("preprocessor_config.json", "processor_config.json")
_TOKENIZERS = ("tokenizer.json", "vocab.json", "vocab.txt")


class ModelUnavailable(RuntimeError):
    """A model that cannot be loaded; the text names the parameter to set and the folder looked in."""


class PerceptionInputError(ValueError):
    """Input a backend cannot work on (an empty vocabulary, an image of the wrong shape)."""


class Detector(Protocol):
    """Open-vocabulary boxes for one RGB image (H, W, 3 uint8)."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...


class Masker(Protocol):
    """One boolean (H, W) mask per detection."""

    name: str

    def masks(self, rgb: np.ndarray, depth: np.ndarray | None, detections: Sequence[Detection]) -> list[np.ndarray]: ...


def check_model_folder(folder: str, parameter: str, tokenizer: bool = True) -> Path:
    """The folder as a Path when it holds a config, weights, a processor and (for text-prompted
    models) a tokenizer; else ModelUnavailable saying which file is missing."""
    path = Path(folder).expanduser()
    if not folder or not path.is_dir():
        raise ModelUnavailable(f"{parameter}: no model folder at {str(path)!r}; set {parameter} to a folder "
                               "saved with save_pretrained (weights are never downloaded)")
    missing = [name for name in ("config.json",) if not (path / name).is_file()]
    if not any((path / name).is_file() for name in _WEIGHTS):
        missing.append(" or ".join(_WEIGHTS))
    if not any((path / name).is_file() for name in _PROCESSORS):
        missing.append(" or ".join(_PROCESSORS))
    if tokenizer and not any((path / name).is_file() for name in _TOKENIZERS):
        missing.append("a tokenizer (" + " or ".join(_TOKENIZERS) + ")")
    if missing:
        raise ModelUnavailable(f"{parameter}: model folder {str(path)!r} lacks {', '.join(missing)}")
    return path


def _load(model_class: Any, path: Path, parameter: str) -> tuple[Any, Any]:
    from transformers import AutoProcessor

    try:
        model = model_class.from_pretrained(path, local_files_only=True)
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:  # transformers' ways of saying "not a usable folder"
        raise ModelUnavailable(f"{parameter}: cannot load the model in {str(path)!r}: {exc}") from exc
    model.eval()
    return model, processor


def _words(vocabulary: Sequence[str]) -> list[str]:
    words = [w.strip() for w in vocabulary if w and w.strip()]
    if not words:
        raise PerceptionInputError("the vocabulary is empty: give the detector at least one word")
    return words


class Owlv2Detector:
    """OWLv2 (``Owlv2ForObjectDetection``): one text query per vocabulary word."""

    name = "owlv2"

    def __init__(self, folder: str, vocabulary: Sequence[str], threshold: float = 0.1,
                 parameter: str = "detector_model") -> None:
        from transformers import Owlv2ForObjectDetection

        self.vocabulary = _words(vocabulary)
        self.threshold = threshold
        self._model, self._processor = _load(Owlv2ForObjectDetection, check_model_folder(folder, parameter),
                                             parameter)
        self._max_length = int(self._model.config.text_config.max_position_embeddings)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        import torch

        h, w = rgb.shape[:2]
        inputs = self._processor(text=[self.vocabulary], images=rgb, return_tensors="pt", padding="max_length",
                                 truncation=True, max_length=self._max_length)
        with torch.no_grad():
            outputs = self._model(**inputs)
        # OWLv2 pads the image to a square at the bottom/right: boxes are relative to that square.
        side = max(h, w)
        result = self._processor.post_process_grounded_object_detection(
            outputs=outputs, threshold=self.threshold, target_sizes=[(side, side)], text_labels=[self.vocabulary])[0]
        return _detections(result["boxes"], result["scores"], result["text_labels"], w, h)


class GroundingDinoDetector:
    """Grounding DINO (``GroundingDinoForObjectDetection``): the vocabulary as one prompt
    ("apple. mug. ...") per ``words_per_prompt`` words, since its text encoder reads a bounded length."""

    name = "grounding_dino"

    def __init__(self, folder: str, vocabulary: Sequence[str], threshold: float = 0.3, text_threshold: float = 0.25,
                 words_per_prompt: int = 20, parameter: str = "detector_model") -> None:
        from transformers import GroundingDinoForObjectDetection

        self.vocabulary = _words(vocabulary)
        self.threshold, self.text_threshold = threshold, text_threshold
        self._prompts = [". ".join(self.vocabulary[i:i + words_per_prompt]) + "."
                         for i in range(0, len(self.vocabulary), words_per_prompt)]
        self._model, self._processor = _load(GroundingDinoForObjectDetection,
                                             check_model_folder(folder, parameter), parameter)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        import torch

        h, w = rgb.shape[:2]
        found: list[Detection] = []
        for prompt in self._prompts:
            inputs = self._processor(images=rgb, text=prompt, return_tensors="pt")
            with torch.no_grad():
                outputs = self._model(**inputs)
            result = self._processor.post_process_grounded_object_detection(
                outputs, inputs.input_ids, threshold=self.threshold, text_threshold=self.text_threshold,
                target_sizes=[(h, w)])[0]
            phrases = [self._word_of(p) for p in result["text_labels"]]
            found.extend(_detections(result["boxes"], result["scores"], phrases, w, h))
        return found

    def _word_of(self, phrase: str) -> str:
        """The vocabulary word a phrase names (the longest one inside it), else the phrase itself."""
        inside = [word for word in self.vocabulary if word.lower() in phrase.lower()]
        return max(inside, key=len) if inside else phrase.strip()


def _detections(boxes: Any, scores: Any, labels: Sequence[str], width: int, height: int) -> list[Detection]:
    out = []
    for box, score, label in zip(boxes.tolist(), scores.tolist(), labels):
        x0, y0, x1, y1 = (min(max(v, 0.0), float(limit)) for v, limit in zip(box, (width, height, width, height)))
        if x1 - x0 >= 1.0 and y1 - y0 >= 1.0 and label:
            out.append(Detection((x0, y0, x1, y1), label, float(score)))
    return out


class SamMasker:
    """SAM (``SamModel``) prompted with the detection boxes, one mask per box."""

    name = "sam"

    def __init__(self, folder: str, parameter: str = "mask_model") -> None:
        from transformers import SamModel

        self._model, self._processor = _load(SamModel, check_model_folder(folder, parameter, tokenizer=False),
                                             parameter)

    def masks(self, rgb: np.ndarray, depth: np.ndarray | None, detections: Sequence[Detection]) -> list[np.ndarray]:
        import torch

        if not detections:
            return []
        inputs = self._processor(images=rgb, input_boxes=[[list(d.box) for d in detections]], return_tensors="pt")
        with torch.no_grad():
            outputs = self._model(**inputs, multimask_output=False)
        masks = self._processor.image_processor.post_process_masks(
            outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"])[0]
        return [m[0].numpy().astype(bool) for m in masks]


class DepthMasker:
    """The largest depth-coherent segment in each box (:mod:`perception.depth_mask`); no model."""

    name = "depth"

    def __init__(self, relative_step: float = RELATIVE_STEP) -> None:
        self.relative_step = relative_step

    def masks(self, rgb: np.ndarray, depth: np.ndarray | None, detections: Sequence[Detection]) -> list[np.ndarray]:
        if depth is None:
            raise PerceptionInputError("the depth mask needs a depth image; this camera sent none "
                                       "(use mask_backend 'sam', or give the camera's depth topic)")
        return depth_masks(depth, list(detections), self.relative_step)


def make_detector(kind: str, folder: str, vocabulary: Sequence[str], threshold: float,
                  text_threshold: float) -> Detector:
    """The detector named by the ``detector_backend`` parameter."""
    if kind == "owlv2":
        return Owlv2Detector(folder, vocabulary, threshold)
    if kind == "grounding_dino":
        return GroundingDinoDetector(folder, vocabulary, threshold, text_threshold)
    raise ModelUnavailable(f"detector_backend: unknown backend {kind!r} (known: {', '.join(DETECTORS)})")


def make_masker(kind: str, folder: str, relative_step: float) -> Masker:
    """The masker named by the ``mask_backend`` parameter."""
    if kind == "sam":
        return SamMasker(folder)
    if kind == "depth":
        return DepthMasker(relative_step)
    raise ModelUnavailable(f"mask_backend: unknown backend {kind!r} (known: {', '.join(MASKERS)})")
