"""A trained model on disk: `model.json` plus `.npy` arrays and gzipped vocabularies.

No pickle: loading a model folder never runs code from it, and a model outlives the
scikit-learn version that trained it. Every file is written byte-for-byte reproducibly
(`.npy` has no timestamp; gzip gets mtime 0), so retraining on the same data gives the same
files, which `tests/test_triage_cli.py` checks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

from bot.domain import CATEGORIES
from bot.errors import SettingsError
from bot.intents import INTENTS
from bot.triage.features import Block, FeatureSpace
from bot.triage.model import TriageModel

FORMAT = 1
MANIFEST = "model.json"


def save_model(model: TriageModel, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"coef": model.coef, "intercept": model.intercept}
    # A head is saved whole or not at all: its weights and its intercept.
    for head in ("priority", "frustration"):
        coef, intercept = getattr(model, f"{head}_coef"), getattr(model, f"{head}_intercept")
        if coef is not None and intercept is not None:
            arrays[f"{head}_coef"], arrays[f"{head}_intercept"] = coef, intercept
    for name, (coef, intercept) in sorted(model.intent_heads.items()):
        arrays[f"intent_{name}_coef"], arrays[f"intent_{name}_intercept"] = coef, intercept
    blocks = []
    for number, block in enumerate(model.features.blocks):
        vocab_file = f"vocab_{number}.json.gz"
        _write_gzip(folder / vocab_file, json.dumps(block.vocabulary, ensure_ascii=False).encode())
        arrays[f"idf_{number}"] = block.idf
        blocks.append({"params": block.params, "vocabulary": vocab_file, "idf": f"idf_{number}.npy"})
    files = {}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        files[name] = f"{name}.npy"
    manifest = {
        "format": FORMAT,
        **model.meta,
        "labels": model.labels,
        "temperature": model.temperature,
        "subject_weight": model.features.subject_weight,
        "blocks": blocks,
        "priority_levels": model.priority_levels,
        "intents": sorted(model.intent_heads),
        "arrays": files,
    }
    manifest["digest"] = _digest(folder, manifest)
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return folder


def load_model(folder: str | Path) -> TriageModel:
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            f"no triage model in {folder} (no {MANIFEST}); train one with `python -m bot train`"
        ) from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the triage model in {folder}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise SettingsError(f"{folder}: model format {manifest.get('format')!r}, expected {FORMAT}")
    try:
        blocks = []
        for spec in manifest["blocks"]:
            with gzip.open(folder / spec["vocabulary"], "rb") as fh:
                vocabulary = json.loads(fh.read().decode("utf-8"))
            blocks.append(Block(dict(spec["params"]), vocabulary, _array(folder, spec["idf"])))
        arrays = {name: _array(folder, file) for name, file in manifest["arrays"].items()}
        meta = {k: v for k, v in manifest.items() if k not in _STRUCTURE}
        model = TriageModel(
            features=FeatureSpace(blocks, int(manifest["subject_weight"])),
            labels=list(manifest["labels"]),
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            temperature=float(manifest["temperature"]),
            priority_levels=[int(p) for p in manifest.get("priority_levels") or []],
            priority_coef=arrays.get("priority_coef"),
            priority_intercept=arrays.get("priority_intercept"),
            frustration_coef=arrays.get("frustration_coef"),
            frustration_intercept=arrays.get("frustration_intercept"),
            intent_heads={
                name: (arrays[f"intent_{name}_coef"], arrays[f"intent_{name}_intercept"])
                for name in manifest.get("intents") or ()
            },
            meta=meta,
        )
        _check(model)
        return model
    except (KeyError, OSError, ValueError, TypeError) as exc:
        raise SettingsError(f"the triage model in {folder} is incomplete or damaged: {exc!r}") from None


def _check(model: TriageModel) -> None:
    """Refuse at load time what would fail at the first ticket."""
    unknown = [label for label in model.labels if label not in CATEGORIES]
    if unknown or len(model.labels) < 2:
        raise ValueError(f"labels must be two or more of {CATEGORIES}, got {model.labels}")
    expected = (len(model.labels), model.features.size)
    if model.coef.shape != expected or model.intercept.shape != expected[:1]:
        raise ValueError(f"weights are {model.coef.shape}, expected {expected}")
    for name, (coef, intercept) in model.intent_heads.items():
        if name not in INTENTS or coef.shape != (2, model.features.size) or intercept.shape != (2,):
            raise ValueError(f"the {name!r} intent head does not fit the model")
    for block in model.features.blocks:
        if block.idf.shape != (block.size,):
            raise ValueError("a vocabulary and its idf weights differ in length")


_STRUCTURE = {
    "format", "labels", "temperature", "subject_weight", "blocks", "priority_levels", "intents",
    "arrays",
}


def _array(folder: Path, name: str) -> np.ndarray:
    return np.load(folder / name, allow_pickle=False)


def _write_gzip(path: Path, data: bytes) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(data)


def _digest(folder: Path, manifest: dict) -> str:
    """sha256 over everything that decides a prediction (labels, calibration, feature settings
    and the data files): names the model's content in every run record."""
    h = hashlib.sha256()
    decisive = {k: manifest[k] for k in ("labels", "temperature", "subject_weight", "priority_levels")}
    decisive["blocks"] = [b["params"] for b in manifest["blocks"]]
    h.update(json.dumps(decisive, sort_keys=True).encode())
    names = sorted({*manifest["arrays"].values(), *(b["vocabulary"] for b in manifest["blocks"])})
    for name in names:
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:16]
