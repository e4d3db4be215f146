"""`python -m bot kb ...` as an operator runs it: import, status, search, eval, sync errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db import make_engine
from bot.kb.calibration import load_calibration
from bot.kb.store import ArticleStore

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "kb" / "help_center.jsonl"


@pytest.fixture
def cli(monkeypatch, database_url):
    # A fresh machine: no helpdesk credentials at all; local kb commands must not need them.
    for name in ("HELPDESK", "ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN",
                 "ZENDESK_WEBHOOK_SECRET", "KB_SOURCES", "KB_LOCALES", "INTERCOM_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str, env: dict | None = None):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    run.database_url = database_url
    return run


def test_import_then_status_then_search(cli):
    result = cli("kb", "import", str(FIXTURE), "--source", "help")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 3

    again = json.loads(cli("kb", "import", str(FIXTURE), "--source", "help").output)
    assert (again["added"], again["unchanged"]) == (0, 3)

    (status,) = json.loads(cli("kb", "status").output)
    assert status["source"] == "help" and status["articles"] == 3 and status["revision"] == 1

    hits = json.loads(cli("kb", "search", "forgot my password reset link", "-k", "2").output)
    assert hits[0]["article_id"] == "102" and hits[0]["url"].endswith("/102")
    assert hits[0]["is_source"] is True


def test_reimport_removes_articles_missing_from_the_file(cli, tmp_path):
    cli("kb", "import", str(FIXTURE), "--source", "help")
    smaller = tmp_path / "two.jsonl"
    smaller.write_text("\n".join(FIXTURE.read_text().splitlines()[:2]) + "\n")
    report = json.loads(cli("kb", "import", str(smaller), "--source", "help").output)
    assert report["removed"] == 1
    ids = {a.article_id for a in ArticleStore(make_engine(cli.database_url)).articles()}
    assert ids == {"101", "102"}


def test_import_of_a_markdown_folder(cli, tmp_path):
    (tmp_path / "kb" / "Billing").mkdir(parents=True)
    (tmp_path / "kb" / "Billing" / "refunds.md").write_text(
        "---\nurl: https://help.example.com/refunds\n---\n# Refund policy\n\nRefunds take 5 days.\n"
    )
    report = json.loads(cli("kb", "import", str(tmp_path / "kb"), "--source", "docs").output)
    assert report["added"] == 1
    (article,) = ArticleStore(make_engine(cli.database_url)).articles()
    assert (article.article_id, article.title, article.section) == ("Billing/refunds", "Refund policy", "Billing")
    assert article.body == "Refunds take 5 days."


def test_a_bad_import_file_is_refused_with_line_numbers_and_nothing_is_stored(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "A", "body": "x"}\nnot json\n{"id": "3", "body": "y"}\n')
    result = cli("kb", "import", str(bad))
    assert result.exit_code == 1
    assert "line 2: not JSON" in result.output and "line 3: missing title" in result.output
    assert ArticleStore(make_engine(cli.database_url)).articles() == []


def test_import_refuses_the_names_of_synced_sources(cli):
    result = cli("kb", "import", str(FIXTURE), "--source", "zendesk")
    assert result.exit_code == 1 and "reserved" in result.output


def test_eval_prints_recall_and_mrr_as_json(cli, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "I forgot my password", "article_ids": ["102"]}\n'
        '{"question": "my card expired, how do I pay with another one", "article_ids": ["101"]}\n'
        '{"question": "do you ship to Antarctica", "article_ids": []}\n'
    )
    result = cli("kb", "eval", str(questions), "--articles", str(FIXTURE))
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["answerable"] == 2 and figures["unanswerable"] == 1
    assert figures["recall@1"] == 1.0 and figures["mrr"] == 1.0
    assert "misses_at_1" not in figures

    # Against the database's articles instead of a file: empty until imported.
    empty = cli("kb", "eval", str(questions))
    assert empty.exit_code == 1 and "empty" in empty.output
    cli("kb", "import", str(FIXTURE), "--source", "help")
    assert json.loads(cli("kb", "eval", str(questions)).output)["recall@1"] == 1.0


def test_eval_file_errors_are_clear(cli, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": ""}\n')
    result = cli("kb", "eval", str(questions), "--articles", str(FIXTURE))
    assert result.exit_code == 1 and "line 1" in result.output


def test_sync_without_a_configured_source_says_what_to_do(cli):
    result = cli("kb", "sync", env={"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s", "KB_SOURCES": ""})
    assert result.exit_code == 1
    assert "KB_SOURCES" in result.output and "kb import" in result.output


def test_sync_needs_the_source_credentials(cli):
    result = cli("kb", "sync", env={"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                     "KB_SOURCES": "intercom"})
    assert result.exit_code == 1 and "INTERCOM_ACCESS_TOKEN is not set" in result.output


def test_commands_on_a_database_without_the_tables_say_to_upgrade(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = CliRunner().invoke(main, ["kb", "status"])
    assert result.exit_code == 1 and "python -m bot db upgrade" in result.output


def test_eval_reads_tickets_and_calibrate_writes_a_model_eval_then_uses(cli, tmp_path):
    tickets = tmp_path / "tickets.jsonl"
    lines = [
        {"subject": "forgot password", "body": "Hi,\nI forgot my password.\nThanks,\nAnn", "article_ids": ["102"]},
        {"subject": "new card", "body": "My card expired, how do I pay with another one?", "article_ids": ["101"]},
        {"subject": "Antarctica", "body": "Do you ship to Antarctica?", "article_ids": [], "language": "en"},
        {"subject": "password reset link", "body": "The reset link expired.", "article_ids": ["102"]},
    ]
    tickets.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "calibration.yaml"
    result = cli("kb", "calibrate", str(tickets), "--articles", str(FIXTURE), "--ranking", "bm25",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["written"] == str(out) and report["models"]["bm25"]["right"] == 3
    assert "bm25" in load_calibration(out) and "hybrid" not in load_calibration(out)

    result = cli("kb", "eval", str(tickets), "--articles", str(FIXTURE), "--show-misses")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["answerable"], figures["unanswerable"], figures["recall@1"]) == (3, 1, 1.0)
    assert {"answerable_with_source", "top_source_correct", "unanswerable_without_source",
            "unanswerable_sourced", "misses_at_1", "calibrated"} <= figures.keys()


def test_calibrate_needs_right_and_wrong_hits(cli, tmp_path):
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text(json.dumps({"subject": "x", "body": "zzz qqq", "article_ids": []}) + "\n")
    result = cli("kb", "calibrate", str(tickets), "--articles", str(FIXTURE), "--ranking", "bm25",
                 "--out", str(tmp_path / "c.yaml"))
    assert result.exit_code == 1 and "both right and wrong" in result.output
