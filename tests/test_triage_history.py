"""`train --from-zendesk`: past tickets and the categories agents gave them, through the Zendesk
adapter's export (validated against Zendesk's OpenAPI file by the fake), into a model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.domain import Ticket
from bot.triage.data import DROP, DataError
from bot.triage.history import label_of, labelled_tickets, parse_since

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_since_takes_days_weeks_or_a_date():
    assert parse_since("180d", NOW) == NOW - timedelta(days=180)
    assert parse_since("12w", NOW) == NOW - timedelta(weeks=12)
    assert parse_since("2026-01-31", NOW) == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(DataError, match="180d, 12w"):
        parse_since("six months", NOW)


def test_labels_come_from_mapped_values_or_category_names_never_from_the_bots_tags():
    mapping = {"billing_q": "Billing", "spam": DROP}
    assert label_of(["vip", "billing_q"], mapping) == "Billing"
    assert label_of(["feature_request"], {}) == "Feature request"  # a category's slug
    assert label_of(["Bug report"], {}) == "Bug report"  # a category's name
    assert label_of(["ai_category_billing", "ai_triaged"], {}) is None  # the model's own guess
    assert label_of(["billing_q", "bug_report"], mapping) is None  # two categories: ambiguous
    assert label_of(["billing_q", "spam"], mapping) == DROP


def test_labelled_tickets_count_what_was_skipped_and_why():
    def ticket(i, tags=(), fields=None, priority=None, subject="s"):
        return Ticket(id=str(i), subject=subject, description="d", tags=tuple(tags),
                      custom_fields=fields or {}, priority=priority)

    tickets = [ticket(1, ["billing"], priority="urgent"), ticket(2, []), ticket(3, ["billing", "other"]),
               ticket(4, ["technical"], subject=""), ticket(5, ["billing", "ai_triaged"], priority="high")]
    out, skipped = labelled_tickets(tickets, {})
    # Ticket 5's priority was set by the bot: not a label to learn from.
    assert [(t.category, t.priority) for t in out] == [("Billing", 1), ("Technical", None), ("Billing", None)]
    assert skipped == {"no category": 1, "no single category": 1}

    by_field = [ticket(5, ["billing"], {"360001": "how_to"}), ticket(6, [], {"360001": "invoice"})]
    out, skipped = labelled_tickets(by_field, {"how_to": "Technical", "invoice": "Billing"}, "360001")
    assert [t.category for t in out] == ["Technical", "Billing"]  # the field wins over tags


# -- the command, against the fake Zendesk -------------------------------------------------------

WORDS = {
    "billing": ("Invoice charged twice", "My card was charged twice for the invoice, please refund."),
    "feature_request": ("Please add dark mode", "It would be great to have a dark mode option."),
    "bug_report": ("Export crashes", "The export crashes with error 500 every time I click it."),
}


@pytest.fixture
def fake(acme_zendesk):
    recent = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    number = 100
    for tag, (subject, body) in WORDS.items():
        for i in range(6):
            number += 1
            acme_zendesk.add_ticket(number, subject=f"{subject} {i}", description=f"{body} Ref {i}.",
                                    tags=[tag, "vip"], priority="normal", status="solved", created_at=recent)
    # Only the bot's own guess: not a label. Old: outside --since.
    acme_zendesk.add_ticket(900, subject="x", description="y", tags=["ai_category_billing"],
                            status="solved", created_at=recent)
    acme_zendesk.add_ticket(901, subject="old", description="old", tags=["billing"], status="solved",
                            created_at="2020-01-01T00:00:00Z")
    yield acme_zendesk
    acme_zendesk.close()


ENV = {"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "t",
       "HELPDESK": "sample"}


def test_train_from_zendesk_uses_the_agents_tags(fake, tmp_path):
    result = CliRunner().invoke(main, ["train", "--from-zendesk", "--since", "30d", "--out", str(tmp_path),
                                       "--folds", "2"], env=ENV)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["categories"] == {"Feature request": 6, "Bug report": 6, "Billing": 6}
    assert "skipped: 1 (no category)" in result.stderr  # ticket 900
    exports = [r for r in fake.requests if "incremental" in r.path]
    assert exports and all(r.status == 200 for r in exports)


def test_eval_from_zendesk_with_a_mapping(fake, tmp_path):
    CliRunner().invoke(main, ["train", "--from-zendesk", "--out", str(tmp_path), "--folds", "2"], env=ENV)
    result = CliRunner().invoke(main, ["eval", "--from-zendesk", "--model", str(tmp_path),
                                       "--map", "bug_report=-"], env=ENV)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 12 and report["per_class"]["Billing"]["support"] == 6


def test_from_zendesk_without_credentials_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["train", "--from-zendesk", "--out", str(tmp_path)],
                                env={"HELPDESK": "sample", "ZENDESK_SUBDOMAIN": "", "ZENDESK_EMAIL": "",
                                     "ZENDESK_API_TOKEN": ""})
    assert result.exit_code == 2
    assert "--from-zendesk needs ZENDESK_SUBDOMAIN or ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN" in result.stderr


def test_a_file_and_from_zendesk_together_are_refused(tmp_path):
    data = tmp_path / "t.jsonl"
    data.write_text("{}")
    result = CliRunner().invoke(main, ["train", str(data), "--from-zendesk", "--out", str(tmp_path / "m")],
                                env=ENV)
    assert result.exit_code == 2 and "not both" in result.stderr
