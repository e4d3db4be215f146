"""LOG_FORMAT=json: one JSON object per line, with a stable event name and the record's fields."""

from __future__ import annotations

import json
import logging

import pytest

from bot import create_app
from bot.errors import SettingsError
from bot.logs import JsonFormatter, configure_logging
from bot.settings import Settings
from tests.conftest import load_fixture, signed_headers, web_settings

BROKER_DB = 10


def test_a_record_with_fields_and_an_exception_is_one_json_line():
    record = logging.LogRecord("bot.attempt", logging.ERROR, __file__, 1, "run %s failed", (42,), None)
    record.event, record.run_id, record.helpdesk = "run.failed", 42, "zendesk"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert {k: data[k] for k in ("level", "logger", "event", "message", "run_id", "helpdesk")} == {
        "level": "ERROR", "logger": "bot.attempt", "event": "run.failed", "message": "run 42 failed",
        "run_id": 42, "helpdesk": "zendesk"}
    assert data["ts"].endswith("+00:00") and "ValueError: boom" in data["error"]


def test_a_line_without_an_event_name_is_a_plain_log_event():
    record = logging.LogRecord("celery.worker", logging.INFO, __file__, 1, "ready. ünïcode", (), None)
    assert json.loads(JsonFormatter().format(record))["event"] == "log"


def test_the_web_tiers_lines_carry_stable_event_names(database_url, broker, capsys):
    app = create_app(web_settings(database_url, broker[0], LOG_FORMAT="json"))
    body = load_fixture("zendesk/dust__event_ticket_created.json")
    client = app.test_client()
    client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, secret="forged"))
    client.post("/webhooks/zendesk", data=body, headers=signed_headers(body, invocation="i-1"))
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    named = [e["event"] for e in events if e["logger"] == "bot.webhooks"]
    assert named == ["webhook.refused", "webhook.accepted"]
    accepted = next(e for e in events if e["event"] == "webhook.accepted")
    assert accepted["helpdesk"] == "zendesk" and isinstance(accepted["run_id"], int)
    configure_logging("text", "INFO")  # leave the process as the other tests expect it


def test_configuring_twice_keeps_one_handler():
    from bot.logs import _OurHandler

    configure_logging("json", "INFO")
    configure_logging("text", "WARNING")
    assert sum(isinstance(h, _OurHandler) for h in logging.getLogger().handlers) == 1
    assert logging.getLogger().level == logging.WARNING
    configure_logging("text", "INFO")
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging("xml", "INFO")


def test_a_bad_log_format_is_a_settings_error():
    with pytest.raises(SettingsError, match="LOG_FORMAT must be one of text, json, got 'xml'"):
        Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s", "LOG_FORMAT": "xml"})
    assert Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s"}).log_format == "text"
