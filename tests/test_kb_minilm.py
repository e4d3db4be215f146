"""all-MiniLM-L6-v2 in NumPy (bot/kb/minilm.py): BERT's tokenizer, and sentence vectors that
rank like the PyTorch model's, without PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.kb.minilm import MAX_TOKENS, MiniLM

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return MiniLM()


@pytest.mark.parametrize(("text", "ids"), [
    # Token ids of the model's own (Hugging Face) tokenizer for the same texts.
    ("Héllo, wörld!", [101, 7592, 1010, 2088, 999, 102]),
    ("avrdude: ser_open() failed", [101, 20704, 4103, 12672, 1024, 14262, 1035, 2330, 1006, 1007, 3478, 102]),
    ("unaffable", [101, 14477, 20961, 3468, 102]),
])
def test_tokenizer_matches_berts(model, text, ids):
    assert model.tokenizer.encode(text) == ids


def test_long_texts_are_cut_to_the_models_length(model):
    ids = model.tokenizer.encode("word " * 1000)
    assert len(ids) == MAX_TOKENS and ids[0] == model.tokenizer.cls and ids[-1] == model.tokenizer.sep


def test_vectors_are_unit_length_and_independent_of_batching(model):
    texts = ["reset my password", "The board is not detected by the IDE after I plugged it in", "x"]
    together = model.encode(texts)
    alone = np.stack([model.encode([t])[0] for t in texts])
    assert together.shape == (3, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)  # padding in a batch changes nothing


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(model):
    query, paraphrase, unrelated = model.encode([
        "my computer does not see the board",
        "If your board is not detected by the IDE",
        "Accepted payment methods in the store",
    ])
    assert query @ paraphrase > query @ unrelated + 0.2


def test_matches_the_pytorch_model_when_it_is_installed(model):
    pytest.importorskip("sentence_transformers")
    from bot.kb.semantic import Embedder, default_model_path

    texts = ["Upload a sketch in Arduino IDE", "my order never arrived", "Wie setze ich mein Passwort zurück?"]
    reference = Embedder(default_model_path()).encode(texts)
    assert (np.sum(reference * model.encode(texts), axis=1) > 0.99).all()


def test_the_default_embedder_needs_no_pytorch():
    code = (
        "import sys\n"
        "from bot.kb.semantic import Embedder\n"
        "Embedder().encode(['my board is not detected'])\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
