"""A Zendesk account without a Help Center (Guide not activated): the sync says so once, records
it for `kb status`, stays quiet on the hourly runs after, and picks the articles up when the Help
Center appears. Against the fake Guide (tests/fakes/guide_api.py, ``fake.help_center = False``),
through `responses` and over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging

import pytest
import responses
from click.testing import CliRunner

from bot.cli import main
from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk.guide import NoHelpCenter, ZendeskGuideSource
from bot.kb.sync import is_no_help_center, run_sync
from tests.fakes.guide_api import START, FakeGuide

BASE = "https://acme.zendesk.com"
EMAIL, TOKEN = "bot@acme.com", "t0ken"
EXPORT = "/api/v2/help_center/incremental/articles.json"
LOCALES = "/api/v2/help_center/locales.json"
KB_LOGGERS = ("bot.kb.sync", "bot.helpdesks.zendesk.guide", "tasks")


def without_help_center() -> FakeGuide:
    fake = FakeGuide()
    fake.add_section(7, en_us="Billing")
    fake.add_article(1, 7, "Update your card", "<p>Open <b>Billing</b> &gt; Cards.</p>", at=START - 100)
    fake.help_center = False  # the articles are there for the day Guide is activated
    return fake


@pytest.fixture
def fake():
    f = without_help_center()
    yield f
    assert f.violations == []


@pytest.fixture
def rsps(fake):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock, base_url=BASE)
        yield mock


def guide(fake: FakeGuide) -> ZendeskGuideSource:
    return ZendeskGuideSource(BASE, EMAIL, TOKEN, now=lambda: fake.clock)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name in KB_LOGGERS]


# ---- the source ------------------------------------------------------------------------------
def test_export_and_locale_list_both_404_is_no_help_center(fake, rsps):
    with pytest.raises(NoHelpCenter) as outcome:
        list(guide(fake).batches(None))

    message = str(outcome.value)
    assert message.startswith("no help center on this account") and "\n" not in message
    assert BASE in message and "KB_SOURCES=none" in message
    assert isinstance(outcome.value, PermanentError)  # callers that know only the old errors
    assert [(r.path, r.status) for r in fake.requests] == [(EXPORT, 404), (LOCALES, 404)]


def test_a_404_on_the_export_alone_is_not_taken_for_a_missing_help_center(fake, rsps):
    fake.help_center = True
    fake.fail(404, path="incremental")  # e.g. a non-agent; the locale list still answers
    with pytest.raises(PermanentError) as outcome:
        list(guide(fake).batches(None))
    assert not isinstance(outcome.value, NoHelpCenter)
    assert "agent or admin" in str(outcome.value)


def test_a_failing_probe_stays_the_failure_it_is(fake, rsps):
    fake.help_center = True
    fake.fail(404, path="incremental")
    fake.fail(429, path="locales", retry_after=30)
    with pytest.raises(RetryableError) as outcome:
        list(guide(fake).batches(None))
    assert outcome.value.retry_after == 30.0


# ---- the sync: told once, recorded, cleared ---------------------------------------------------
def test_no_help_center_is_recorded_warned_once_then_cleared_when_it_appears(fake, rsps, kb, caplog):
    caplog.set_level(logging.INFO)

    first = run_sync([guide(fake)], kb)  # what the hourly task runs

    assert (first.reports, first.errors) == ([], [])  # not a failure: nothing for the task to warn about
    assert is_no_help_center(kb.last_error("zendesk"))
    (warning,) = warnings(caplog)
    assert "no help center on this account" in warning and "KB_SOURCES=none" in warning
    (status,) = kb.stats()
    assert status["last_error"].startswith("no help center on this account")
    assert (status["articles"], status["cursor"]) == (0, None)

    for _ in range(2):  # the next hours: known, so INFO only
        caplog.clear()
        outcome = run_sync([guide(fake)], kb)
        assert (outcome.reports, outcome.errors) == ([], [])
        assert outcome.no_help_center == [f"zendesk: {kb.last_error('zendesk')}"]
        assert warnings(caplog) == []
        assert any("still no help center" in r.getMessage() for r in caplog.records
                   if r.name == "bot.kb.sync" and r.levelno == logging.INFO)

    fake.help_center = True  # Guide activated
    caplog.clear()
    back = run_sync([guide(fake)], kb)

    assert back.errors == [] and back.reports[0].added == 1
    assert [a.title for a in kb.articles()] == ["Update your card"]
    assert kb.last_error("zendesk") is None and kb.stats()[0]["last_error"] is None
    assert warnings(caplog) == []
    assert any("answers now" in r.getMessage() for r in caplog.records if r.name == "bot.kb.sync")


def test_a_change_is_news_again(fake, rsps, kb, caplog):
    kb.record_error("zendesk", "Zendesk Guide answered 503 on GET " + EXPORT)  # last hour
    with caplog.at_level(logging.INFO):
        run_sync([guide(fake)], kb)
    assert len(warnings(caplog)) == 1  # was a failure, is now "no help center": say it


def test_record_error_hands_back_what_it_replaces(kb):
    assert kb.record_error("zendesk", "first") is None
    assert kb.record_error("zendesk", "second") == "first"
    assert kb.last_error("zendesk") == "second" and kb.last_error("intercom") is None


# ---- the command line and the scheduled task, over real HTTP ---------------------------------
@pytest.fixture
def served():
    fake = without_help_center()
    with fake:
        yield fake
    assert fake.violations == []


@pytest.fixture
def env(monkeypatch, database_url, served):
    values = {
        "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": served.base_url,
        "ZENDESK_EMAIL": EMAIL, "ZENDESK_API_TOKEN": TOKEN, "ZENDESK_WEBHOOK_SECRET": "s",
        "KB_SOURCES": "zendesk", "DATABASE_URL": database_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_kb_sync_says_it_every_time_and_kb_status_shows_it(env, served):
    runner = CliRunner()
    for _ in range(2):  # asked for explicitly: the same clear line, and a failing exit like errors
        result = runner.invoke(main, ["kb", "sync"])
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        assert report["synced"] == []
        (line,) = report["errors"]
        assert line.startswith("zendesk: no help center on this account") and "KB_SOURCES=none" in line

    (status,) = json.loads(runner.invoke(main, ["kb", "status"]).stdout)
    assert status["source"] == "zendesk" and status["articles"] == 0
    assert status["last_error"].startswith("no help center on this account")

    served.help_center = True
    result = runner.invoke(main, ["kb", "sync"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["synced"][0]["added"] == 1
    (status,) = json.loads(runner.invoke(main, ["kb", "status"]).stdout)
    assert (status["articles"], status["last_error"]) == (1, None)


def test_the_hourly_task_warns_once_and_returns_no_error(env, monkeypatch, caplog):
    import tasks

    monkeypatch.setattr(tasks, "_worker", None)  # built from this test's settings
    caplog.set_level(logging.INFO)
    try:
        first = tasks.sync_knowledge.run()
        assert first["errors"] == [] and first["synced"] == []
        assert len(warnings(caplog)) == 1
        caplog.clear()
        second = tasks.sync_knowledge.run()
    finally:
        tasks._worker = None
    assert second["errors"] == []
    assert warnings(caplog) == []
