"""`python -m bot kb sync` and the scheduled task, from settings to the store, against the fake
Help Center (Guide) and the fake Intercom over real HTTP."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db import make_engine
from bot.kb.store import ArticleStore
from tests.fakes.guide_api import FakeGuide
from tests.fakes.intercom_api import FakeIntercom


@pytest.fixture
def guide():
    fake = FakeGuide()
    fake.add_section(7, en_us="Billing")
    fake.add_article(1, 7, "Update your card", "<p>Open <b>Billing</b> &gt; Cards.</p>")
    fake.add_article(2, 7, "Unfinished", "<p>draft</p>", draft=True)
    with fake:
        yield fake
    assert fake.violations == []


@pytest.fixture
def intercom():
    with FakeIntercom(per_page=2) as fake:
        fake.add_collection("10", "Account")
        fake.add_article("5", "Reset your password", "<p>Click <i>Forgot password</i>.</p>", parent_id=10)
        yield fake
    assert fake.spec_violations == []


@pytest.fixture
def env(monkeypatch, database_url, guide, intercom):
    values = {

        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_URL": guide.base_url,
        "ZENDESK_EMAIL": "bot@acme.com",
        "ZENDESK_API_TOKEN": "t0ken",
        "ZENDESK_WEBHOOK_SECRET": "s",
        "KB_SOURCES": "zendesk,intercom",
        "INTERCOM_ACCESS_TOKEN": intercom.token,
        "INTERCOM_URL": intercom.base_url,
        "DATABASE_URL": database_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def articles(database_url):
    return {(a.source, a.article_id): a for a in ArticleStore(make_engine(database_url)).articles()}


def test_sync_pulls_both_help_centers_into_the_store(env):
    result = CliRunner().invoke(main, ["kb", "sync"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["errors"] == []
    assert {r["source"]: r["added"] for r in report["synced"]} == {"zendesk": 1, "intercom": 1}

    stored = articles(env["DATABASE_URL"])
    assert set(stored) == {("zendesk", "1"), ("intercom", "5")}
    assert stored[("zendesk", "1")].body == "Open Billing > Cards."
    assert stored[("zendesk", "1")].section == "Billing"
    assert stored[("intercom", "5")].section == "Account"

    again = json.loads(CliRunner().invoke(main, ["kb", "sync", "--source", "intercom"]).output)
    assert [r["source"] for r in again["synced"]] == ["intercom"]
    assert again["synced"][0]["added"] == 0


def test_one_failing_source_does_not_stop_the_other_and_is_reported(env, guide):
    guide.fail(401, times=10)
    result = CliRunner().invoke(main, ["kb", "sync"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [r["source"] for r in report["synced"]] == ["intercom"]
    (error,) = report["errors"]
    assert error.startswith("zendesk:") and "401" in error and "ZENDESK_API_TOKEN" in error
    status = {s["source"]: s for s in json.loads(CliRunner().invoke(main, ["kb", "status"]).output)}
    assert "401" in status["zendesk"]["last_error"] and status["intercom"]["last_error"] is None


def test_the_scheduled_task_syncs_with_the_worker_settings(env, monkeypatch):
    import tasks

    monkeypatch.setattr(tasks, "_worker", None)  # built from this test's settings
    try:
        outcome = tasks.sync_knowledge.run()
    finally:
        tasks._worker = None
    assert outcome["errors"] == []
    assert {r["source"] for r in outcome["synced"]} == {"zendesk", "intercom"}
    assert set(articles(env["DATABASE_URL"])) == {("zendesk", "1"), ("intercom", "5")}
