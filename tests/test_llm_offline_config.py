"""The offline engine's configuration and model folder are validated at start-up; the bundled
model is sane on unmistakable tickets (categories only: it is retrained from time to time)."""

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from bot.decisions import Usage
from bot.domain import CATEGORIES
from bot.errors import SettingsError
from bot.llm import OfflineEngine, make_llm
from bot.llm.offline import read_config
from bot.settings import DEFAULT_MODEL_DIR
from tests.triage_support import CONFIG, engine, tiny, tiny_dir, triage  # noqa: F401  (fixtures)

# -- configuration ------------------------------------------------------------------------------


def shipped_config() -> dict:
    return copy.deepcopy(read_config(CONFIG))


def write_config(tmp_path, config) -> Path:
    path = tmp_path / "offline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_config_is_valid(tiny):
    OfflineEngine(shipped_config(), tiny)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda c: c.pop("urgency"), "urgency"),
        (lambda c: c["urgency"].update({"high": ["help"]}), "high"),
        (lambda c: c.pop("sentiment"), "sentiment"),
        (lambda c: c["frustration"].pop("phrases"), "phrases"),
        (lambda c: c["language"]["expected"].append("xx"), "xx"),
        (lambda c: c["language"].pop("stopwords"), "stopwords"),
        (lambda c: c.pop("drafts"), "drafts"),
        (lambda c: c["drafts"]["categories"].pop("Billing"), "Billing"),
        (lambda c: c["drafts"].pop("from_source"), "from_source"),
    ],
)
def test_malformed_config_is_refused(tiny, tiny_dir, tmp_path, breakage, message):
    config = shipped_config()
    breakage(config)
    with pytest.raises(SettingsError, match=re.escape(message)):
        OfflineEngine(config, tiny)
    with pytest.raises(SettingsError, match=re.escape(message)):
        OfflineEngine.from_files(write_config(tmp_path, config), tiny_dir)


def test_unreadable_config_is_refused(tmp_path, tiny_dir):
    with pytest.raises(SettingsError, match="cannot read"):
        OfflineEngine.from_files(tmp_path / "missing.yaml", tiny_dir)
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="must be a mapping"):
        OfflineEngine.from_files(tmp_path / "list.yaml", tiny_dir)
    (tmp_path / "broken.yaml").write_text("urgency: [unclosed\n")
    with pytest.raises(SettingsError, match="cannot read"):
        OfflineEngine.from_files(tmp_path / "broken.yaml", tiny_dir)


def test_missing_or_damaged_model_is_refused(tmp_path, tiny_dir):
    with pytest.raises(SettingsError, match="no triage model"):
        OfflineEngine.from_files(CONFIG, tmp_path / "nowhere")
    with pytest.raises(SettingsError, match="no triage model"):
        make_llm("offline", offline_config=CONFIG, model_dir=tmp_path / "nowhere")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for item in tiny_dir.iterdir():
        if item.name != "coef.npy":
            (damaged / item.name).write_bytes(item.read_bytes())
    with pytest.raises(SettingsError, match="incomplete or damaged"):
        OfflineEngine.from_files(CONFIG, damaged)


def test_make_llm_offline(tiny_dir):
    llm = make_llm("offline", offline_config=CONFIG, model_dir=tiny_dir)
    assert isinstance(llm, OfflineEngine)
    digest = json.loads((tiny_dir / "model.json").read_text())["digest"]
    assert (llm.provider, llm.model) == ("offline", f"local:tiny@{digest[:8]}")


# -- the bundled model: sanity only (it is retrained from time to time) ---------------------------


@pytest.fixture(scope="module")
def bundled():
    return make_llm("offline", offline_config=CONFIG)  # the default model dir


def test_make_llm_offline_defaults_to_the_bundled_model(bundled):
    manifest = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
    assert isinstance(bundled, OfflineEngine)
    assert bundled.model == f"local:{manifest['name']}@{manifest['digest'][:8]}"


def test_bundled_model_knows_every_category(bundled):
    assert sorted(bundled.classifier.labels) == sorted(CATEGORIES)


@pytest.mark.parametrize(
    "subject, description, category",
    [
        ("Charged twice", "I was charged twice for my subscription, please refund the duplicate payment",
         "Billing"),
        ("Dark mode", "Please add dark mode, it would be great to have it", "Feature request"),
        ("Cannot log in", "I forgot my password and the reset email never arrives, I can't log in",
         "Account access"),
    ],
)
def test_bundled_model_on_unmistakable_tickets(bundled, subject, description, category):
    result = triage(bundled, subject, description)
    assert result.triage.category == category
    assert result.engine == "offline" and result.usage == Usage()
