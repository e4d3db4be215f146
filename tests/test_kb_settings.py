"""Knowledge-base settings and the scheduled sync (celery beat)."""

from __future__ import annotations

import pytest

from bot.errors import SettingsError
from bot.kb.sources import make_sources
from bot.queue import SYNC_KNOWLEDGE, make_celery
from bot.settings import Settings

ZENDESK = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@example.com",
    "ZENDESK_API_TOKEN": "token",
    "ZENDESK_WEBHOOK_SECRET": "secret",
}
SAMPLE = {"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "secret"}


def test_a_zendesk_deployment_grounds_on_its_own_guide_by_default():
    settings = Settings.from_env(ZENDESK)
    assert settings.kb_sources == ("zendesk",) and settings.kb_sync_interval == 3600
    assert Settings.from_env(SAMPLE).kb_sources == ()
    assert Settings.from_env({**ZENDESK, "KB_SOURCES": "none"}).kb_sources == ()
    assert Settings.from_env({**ZENDESK, "KB_SOURCES": ""}).kb_sources == ()


def test_sources_locales_and_intercom_settings_are_read():
    settings = Settings.from_env({
        **ZENDESK, "KB_SOURCES": "Intercom, zendesk, intercom", "KB_LOCALES": "en-US, de",
        "INTERCOM_ACCESS_TOKEN": "tok", "INTERCOM_URL": "https://api.eu.intercom.io",
        "KB_SYNC_INTERVAL": "900",
    })
    assert settings.kb_sources == ("intercom", "zendesk")
    assert settings.kb_locales == ("en-us", "de")
    assert settings.kb_sync_interval == 900
    assert "tok" not in repr(settings)
    intercom, zendesk = make_sources(settings)
    assert (intercom.name, zendesk.name) == ("intercom", "zendesk")


@pytest.mark.parametrize("env, message", [
    ({**SAMPLE, "KB_SOURCES": "guide"}, "KB_SOURCES must list some of zendesk, intercom"),
    ({**SAMPLE, "KB_SOURCES": "intercom"}, "INTERCOM_ACCESS_TOKEN is not set"),
    ({**SAMPLE, "KB_SOURCES": "zendesk"}, "KB_SOURCES has zendesk, which needs ZENDESK_SUBDOMAIN"),
    ({**SAMPLE, "INTERCOM_URL": "api.intercom.io"}, "INTERCOM_URL must be a http/https URL"),
    ({**SAMPLE, "KB_SYNC_INTERVAL": "hourly"}, "KB_SYNC_INTERVAL must be a number"),
    ({**SAMPLE, "INTERCOM_TIMEOUT": "0"}, "INTERCOM_TIMEOUT must be more than 0"),
])
def test_bad_knowledge_settings_are_named(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_local_tools_do_not_need_service_credentials():
    settings = Settings.from_env({"KB_SOURCES": "intercom"}, services=False)
    assert settings.helpdesks == () and settings.kb_sources == ("intercom",)
    with pytest.raises(SettingsError):
        Settings.from_env({"KB_SOURCES": "intercom"})


def test_beat_schedules_the_sync_every_interval_and_drops_stale_runs():
    app = make_celery(Settings.from_env({**ZENDESK, "KB_SYNC_INTERVAL": "900"}))
    entry = app.conf.beat_schedule["sync-knowledge"]
    assert entry["task"] == SYNC_KNOWLEDGE and entry["schedule"] == 900.0
    assert entry["options"]["expires"] == 900.0


@pytest.mark.parametrize("env", [{**ZENDESK, "KB_SYNC_INTERVAL": "0"}, SAMPLE])
def test_no_sync_scheduled_without_sources_or_with_interval_zero(env):
    # Only the sweeps every deployment needs: stuck runs, and the tickets tracking follows.
    assert set(make_celery(Settings.from_env(env)).conf.beat_schedule) == {"sweep-runs", "follow-tickets"}


def test_the_worker_registers_the_sync_task(monkeypatch):
    for name, value in SAMPLE.items():  # Celery reads the settings when first configured
        monkeypatch.setenv(name, value)
    import tasks

    assert SYNC_KNOWLEDGE in tasks.app.tasks
