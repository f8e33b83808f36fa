"""Where ``scripts/setup.sh`` keeps the packaged models in forms that load fast (the ONNX export of
MiniLM, SmolLM2's tokenizer as ``tokenizer.json``): the environment's own ``share/embodied_memory``,
beside the package's installed interface files. Each user falls back to the packaged original
when its file is absent."""
from __future__ import annotations

import sys
from pathlib import Path

PREPARED_DIR = Path(sys.prefix) / "share" / "embodied_memory"
