"""The transformers backends load tiny local models through the same from_pretrained path as real
weights (built here: random weights, a tokenizer trained here, save_pretrained), and refuse what
they cannot load with one sentence naming the parameter and the folder. Nothing is downloaded."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
from benchmarks.tiny_models import build_grounding_dino, build_owlv2, build_sam  # noqa: E402
from perception.backends import (  # noqa: E402
    GroundingDinoDetector,
    ModelUnavailable,
    Owlv2Detector,
    PerceptionInputError,
    SamMasker,
    make_detector,
    make_masker,
)
from perception.records import Detection  # noqa: E402

WORDS = ["apple", "mug", "coffee machine", "fridge"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"owlv2": build_owlv2(root / "owlv2", WORDS), "grounding_dino": build_grounding_dino(root / "gdino", WORDS),
            "sam": build_sam(root / "sam")}


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)


def _inside(detections: list[Detection], w: int = 320, h: int = 240) -> bool:
    return all(0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h for d in detections)


def test_owlv2_loads_from_its_folder_and_names_boxes_from_the_vocabulary(models, rgb):
    detector = Owlv2Detector(str(models["owlv2"]), WORDS, threshold=0.0)
    found = detector.detect(rgb)
    assert {d.label for d in found} <= set(WORDS) and _inside(found)


def test_grounding_dino_loads_from_its_folder_and_maps_phrases_to_vocabulary_words(models, rgb):
    detector = GroundingDinoDetector(str(models["grounding_dino"]), WORDS, threshold=0.0, text_threshold=0.0)
    found = detector.detect(rgb)
    assert found and {d.label for d in found} <= set(WORDS) and _inside(found)


def test_sam_gives_one_image_sized_mask_per_box(models, rgb):
    boxes = [Detection((10, 10, 100, 100), "mug", 0.9), Detection((150, 50, 300, 200), "apple", 0.5)]
    masks = SamMasker(str(models["sam"])).masks(rgb, None, boxes)
    assert len(masks) == 2 and all(m.shape == (240, 320) and m.dtype == bool for m in masks)
    assert SamMasker(str(models["sam"])).masks(rgb, None, []) == []


def test_absent_or_incomplete_models_name_the_parameter_and_the_folder(models, tmp_path):
    with pytest.raises(ModelUnavailable, match=r"detector_model: no model folder at '.*nowhere'"):
        make_detector("owlv2", str(tmp_path / "nowhere"), WORDS, 0.1, 0.25)
    broken = tmp_path / "owl-without-weights"
    shutil.copytree(models["owlv2"], broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelUnavailable, match=r"detector_model: model folder '.*owl-without-weights' lacks "
                                               r"model.safetensors"):
        make_detector("owlv2", str(broken), WORDS, 0.1, 0.25)
    no_tokenizer = tmp_path / "owl-without-tokenizer"
    shutil.copytree(models["owlv2"], no_tokenizer)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (no_tokenizer / name).unlink()
    with pytest.raises(ModelUnavailable, match=r"owl-without-tokenizer' lacks a tokenizer"):
        make_detector("owlv2", str(no_tokenizer), WORDS, 0.1, 0.25)
    corrupt = tmp_path / "owl-corrupt-config"
    shutil.copytree(models["owlv2"], corrupt)
    (corrupt / "config.json").write_text("{ not json")
    with pytest.raises(ModelUnavailable, match=r"detector_model: cannot load the model in '.*owl-corrupt-config'"):
        make_detector("owlv2", str(corrupt), WORDS, 0.1, 0.25)
    with pytest.raises(ModelUnavailable, match="mask_model: no model folder"):
        make_masker("sam", "", 0.04)
    with pytest.raises(ModelUnavailable, match="detector_backend: unknown backend 'yolo'"):
        make_detector("yolo", str(models["owlv2"]), WORDS, 0.1, 0.25)


def test_a_vocabulary_of_zero_words_is_refused(models):
    with pytest.raises(PerceptionInputError, match="vocabulary is empty"):
        make_detector("owlv2", str(models["owlv2"]), [" ", ""], 0.1, 0.25)
