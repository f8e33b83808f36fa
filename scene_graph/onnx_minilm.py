"""The packaged all-MiniLM-L6-v2 through ONNX Runtime: sentence-transformers' vectors at a third of the cost.

A short question took 6.4 ms (median) through sentence-transformers on one thread here, most of it
the per-operator overhead of torch's eager mode; the same graph in ONNX Runtime took 2.4 ms, and
its vectors differ from sentence-transformers' by about 1e-7. Memory embeds one question per text
query, so this is most of a text query's cost.

``scripts/setup.sh`` exports the model once (:mod:`scene_graph.prepared_models`), mean pooling
and normalisation included, to :data:`EXPORT_PATH`; exporting needs torch and the ``onnx`` package,
running needs only onnxruntime (a chromadb dependency) and the model's own ``tokenizer.json``.
Without the export, :mod:`scene_graph.embeddings` falls back to sentence-transformers.
"""
from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from scene_graph.prepared_models import MINILM_ONNX

log = logging.getLogger(__name__)

EXPORT_PATH = MINILM_ONNX
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOLERANCE = 1e-4  # largest difference from sentence-transformers' vectors an export may have
_CHECK_TEXTS = ("an apple", "Mug on CounterTop in the Kitchen, dirty", "where did I put the keys this morning?",
                " ".join(["a very long description of a cluttered shelf"] * 60))  # past the 256-token limit


class OnnxMiniLM:
    """The exported model and the packaged tokenizer, padded and truncated as sentence-transformers does."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        max_length = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: the runtime's default (one per core)
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: a robot's CPU is shared with its other nodes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors."""
        out = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(list(texts[start:start + batch_size]))
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
            out.append(self.session.run(None, feed)[0])
        return np.concatenate(out).astype(np.float32, copy=False)


def export(model_dir: Path, out: Path) -> float:
    """Write the model in ``model_dir`` as ONNX to ``out`` and return the largest difference of its
    vectors from sentence-transformers' on a few texts; the file is kept only below :data:`TOLERANCE`."""
    import torch
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir), device="cpu")
    transformer: Any = reference[0].auto_model
    transformer.eval()

    class Pooled(torch.nn.Module):
        """The transformer, then sentence-transformers' mean pooling and normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    example = reference.tokenizer(["an apple"], return_tensors="pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        staged = Path(scratch) / out.name
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes the dynamic axes cover
            torch.onnx.export(Pooled().eval(), tuple(example[k] for k in INPUTS), str(staged), dynamo=False,
                              input_names=list(INPUTS), output_names=["embedding"], opset_version=17,
                              dynamic_axes={k: {0: "batch", 1: "tokens"} for k in INPUTS})
        texts = list(_CHECK_TEXTS)
        difference = float(np.abs(OnnxMiniLM(staged, model_dir).encode(texts, 2)
                                  - reference.encode(texts, batch_size=2, normalize_embeddings=True,
                                                     show_progress_bar=False)).max())
        if difference < TOLERANCE:
            staged.replace(out)  # atomic: a reader never sees half a file
    return difference
