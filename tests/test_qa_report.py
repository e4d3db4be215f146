"""The figures and the weekly QA report on a seeded store (SQLite and PostgreSQL), checked
against values computed by hand from the seed, and the `report` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db.models import Review, Run, TrackedTicket
from bot.review_policy import ReviewPolicy
from bot.tracking.cli import parse_moment
from bot.tracking.qa import build_report, render_markdown
from bot.tracking.stats import compute

SINCE = datetime(2026, 11, 23, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)
NOW = UNTIL
POLICY = ReviewPolicy()

# ticket, category, prompt, action, agent, minutes arrival->draft, minutes draft->reply (None: no
# reply), acted in time?, sources, overrides (category, priority)
DRAFTS = [
    ("A", "Billing", "billing@1", "sent_as_is", "381", 1, 2, True, ["a1"], (False, False)),
    ("B", "Billing", "billing@1", "lightly_edited", "381", 1, 4, True, [], (False, False)),
    ("C", "Technical", "technical@2", "major_rewrite", "382", 2, 10, False, ["a2"], (True, False)),
    ("D", "Technical", "technical@2", "major_rewrite", "382", 2, 5, True, [], (False, True)),
    ("E", "Technical", "technical@2", "major_rewrite", "382", 3, 5, True, ["a2"], (False, False)),
    ("F", "Technical", "technical@2", "major_rewrite", "382", 3, 5, True, ["a1"], (False, False)),
    ("G", "Billing", "billing@1", "not_used", "381", 4, 5, True, ["a1"], (False, False)),
    ("H", "Other", "other@1", "redraft", "381", 4, None, True, [], (False, False)),
    ("H", "Other", "other@1", None, None, 5, None, None, [], (False, False)),  # the redraft: not due yet
    ("I", "Billing", "billing@1", None, None, 5, None, None, [], (False, False)),  # overdue
]
# ticket: (fcr, csat_good, reopened, escalated_later, bot escalated)
TICKETS = {
    "A": (True, True, 0, False, False), "B": (True, False, 0, False, False),
    "C": (False, None, 0, True, False), "D": (None, None, 0, False, False),
    "E": (True, True, 0, False, False), "F": (False, None, 1, False, False),
    "G": (None, None, 0, False, True), "H": (None, None, 0, False, False), "I": (None, None, 0, False, False),
}


def seed(store) -> None:
    with store.session() as session:
        day = SINCE + timedelta(days=1)
        for i, (ticket, category, prompt, action, agent, to_draft, to_reply, in_time, sources, (cat, pri)) in \
                enumerate(DRAFTS):
            arrived = day + timedelta(hours=i)
            drafted = arrived + timedelta(minutes=to_draft)
            cost = None if ticket == "D" else 0.001
            run = Run(helpdesk="zendesk", ticket_id=ticket, event_kind="created", status="succeeded", attempts=1,
                      recoveries=0, due_at=arrived, created_at=arrived, finished_at=drafted, draft="x",
                      prompt_tokens=100, completion_tokens=50, cost_usd=cost)
            session.add(run)
            session.flush()
            # The redraft of H is due after NOW; the others at 30 minutes after their draft.
            due = NOW + timedelta(hours=1) if (ticket == "H" and action is None) else drafted + timedelta(minutes=30)
            acted = None if action is None else (drafted + timedelta(minutes=5 if in_time else 45))
            replied = None if to_reply is None else drafted + timedelta(minutes=to_reply)
            session.add(Review(
                run_id=run.id, helpdesk="zendesk", ticket_id=ticket, arrived_at=arrived, drafted_at=drafted,
                due_at=due, category=category, priority=3, language="en", prompt_version=prompt,
                engine="offline", escalated=TICKETS[ticket][4], sources=sources, action=action, acted_at=acted,
                acted_by=agent, replied_at=replied, category_overridden=cat, priority_overridden=pri,
                group_overridden=False))
            if ticket not in [d[0] for d in DRAFTS[:i]]:
                fcr, good, reopened, later, _ = TICKETS[ticket]
                session.add(TrackedTicket(
                    helpdesk="zendesk", ticket_id=ticket, first_run_id=run.id, arrived_at=arrived,
                    first_contact_resolution=fcr, csat_good=good, csat_score=None if good is None else
                    ("good" if good else "bad"), reopened=reopened, reassigned=False, escalated_later=later,
                    escalated_at=drafted + timedelta(hours=2) if later else None, check_after=NOW))
        # Last week's ticket: not in this period's figures, only in the previous escalation rate.
        before = SINCE - timedelta(days=2)
        run = Run(helpdesk="zendesk", ticket_id="J", event_kind="created", status="succeeded", attempts=1,
                  recoveries=0, due_at=before, created_at=before, finished_at=before, draft="x")
        session.add(run)
        session.flush()
        session.add(Review(run_id=run.id, helpdesk="zendesk", ticket_id="J", arrived_at=before, drafted_at=before,
                           due_at=before, category="Billing", prompt_version="billing@1", escalated=False,
                           action="sent_as_is", acted_at=before, category_overridden=False,
                           priority_overridden=False, group_overridden=False))
        session.add(TrackedTicket(helpdesk="zendesk", ticket_id="J", first_run_id=run.id, arrived_at=before,
                                  reopened=0, reassigned=False, escalated_later=False, check_after=NOW))
        session.commit()


def test_the_headline_figures_match_the_seed(store):
    seed(store)
    with store.session() as session:
        f = compute(session, SINCE, UNTIL, POLICY, NOW)
    d, t = f.drafts, f.tickets
    assert (d.drafts, d.replied) == (10, 7)  # A..G replied; H twice and I not
    assert d.sent_as_is_rate == pytest.approx(1 / 7, abs=1e-4)
    assert d.sent_rate == pytest.approx(2 / 7, abs=1e-4)  # A as-is, B lightly edited
    assert d.edited_rate == pytest.approx(5 / 7, abs=1e-4)  # B + C, D, E, F
    assert d.major_rewrite_rate == pytest.approx(4 / 7, abs=1e-4)
    assert d.not_used_rate == pytest.approx(1 / 7, abs=1e-4)
    assert d.redraft_rate == pytest.approx(1 / 10) and d.escalate_command_rate == 0.0
    # Due: the 8 acted on and I (past its deadline); H's redraft is not due yet. Met: all acted
    # on but C (45 minutes after a 30-minute deadline).
    assert (d.sla_due, d.sla_met, d.overdue) == (9, 7, 1)
    assert d.sla_compliance == pytest.approx(7 / 9, abs=1e-4)
    assert d.median_minutes_to_draft == 3.0  # 1 1 2 2 3 | 3 4 4 5 5
    assert d.median_minutes_to_first_reply == 8.0  # 3 5 7 8 8 9 12
    assert d.override_rate == {"category": 0.1, "priority": 0.1, "group": 0.0}
    assert t.tickets == 9
    assert (t.escalated, t.escalation_rate) == (2, pytest.approx(2 / 9, abs=1e-4))  # C later, G by the bot
    assert (t.solved, t.first_contact_resolution) == (5, 0.6)  # A B E of A B C E F
    assert (t.rated, t.csat) == (3, pytest.approx(2 / 3, abs=1e-4))
    assert (t.reopened, t.escalated_later) == (1, 1)
    assert t.tokens_per_ticket == pytest.approx(1500 / 9, abs=0.1)  # 10 runs of 150 tokens
    assert t.cost_per_ticket == pytest.approx(0.009 / 9)  # D's run has no price
    assert f.previous_escalation_rate == 0.0 and f.escalation_rising
    assert f.targets == {"csat": False, "first_contact_resolution": False, "escalation_rate": False,
                         "edited_rate": False, "median_minutes_to_first_reply": False}


def test_breakdowns_and_flagged_prompts(store):
    seed(store)
    with store.session() as session:
        f = compute(session, SINCE, UNTIL, POLICY, NOW)
    billing, technical, other = (f.by["category"][c] for c in ("Billing", "Technical", "Other"))
    assert (billing.drafts, billing.replied, billing.edited_rate) == (4, 3, pytest.approx(1 / 3, abs=1e-4))
    assert (technical.drafts, technical.major_rewrite_rate, technical.sla_compliance) == (4, 1.0, 0.75)
    assert (other.drafts, other.replied, other.edited_rate) == (2, 0, None)
    assert {agent: g.drafts for agent, g in f.by["agent"].items()} == {"381": 4, "382": 4}
    assert set(f.by["prompt_version"]) == {"billing@1", "technical@2", "other@1"}
    assert f.tickets_by_category["Technical"].first_contact_resolution == pytest.approx(1 / 3, abs=1e-4)
    assert f.tickets_by_category["Billing"].escalation_rate == 0.25  # G of A B G I
    # technical@2: 4 major rewrites, more than the policy's 3; billing@1 has none.
    assert list(f.flagged_prompts) == ["technical@2"]
    assert [t["ticket_id"] for t in f.flagged_prompts["technical@2"]] == ["C", "D", "E", "F"]
    with store.session() as session:
        lenient = compute(session, SINCE, UNTIL, ReviewPolicy(flag_major_rewrites=4), NOW)
    assert lenient.flagged_prompts == {}  # 4 is not more than 4


def test_an_empty_period_has_no_rates_not_zeros(store):
    with store.session() as session:
        f = compute(session, SINCE, UNTIL, POLICY, NOW)
    assert (f.drafts.drafts, f.drafts.edited_rate, f.drafts.sla_compliance) == (0, None, None)
    assert (f.tickets.tickets, f.tickets.csat, f.tickets.cost_per_ticket) == (0, None, None)
    assert set(f.targets.values()) == {None} and not f.escalation_rising


def test_the_qa_questions(store):
    seed(store)
    with store.session() as session:
        report = build_report(session, SINCE, UNTIL, POLICY, NOW)
    sources = report["sources"]
    assert (sources["sent"], sources["with_sources"], sources["share"]) == (2, 1, 0.5)
    assert [t["ticket_id"] for t in sources["sent_without_source"]] == ["B"]
    assert [t["ticket_id"] for t in report["unhelpful"]["tickets"]] == ["C", "E", "F"]  # D had no source
    assert [t["ticket_id"] for t in report["escalated_late"]["tickets"]] == ["C"]
    # Cited in rewritten or unused drafts: a2 by C and E (of 2 citations), a1 by F and G (of A, F, G).
    confusing = {a["article"]: (a["rewritten"], a["cited"]) for a in report["confusing_articles"]}
    assert confusing == {"a2": (2, 2), "a1": (2, 3)}
    verdicts = {v["category"]: v for v in report["safe_to_automate"]}
    assert not any(v["safe"] for v in verdicts.values())
    assert "only 3 replied drafts (needs 10)" in verdicts["Billing"]["why_not"]
    assert any("escalated after the draft" in why for why in verdicts["Technical"]["why_not"])
    json.dumps(report)  # JSON-ready as it is
    text = render_markdown(report)
    for expected in ("10 drafts on 9 tickets", "| Escalation rate | 22 % ✗", "`technical@2`: 4 major rewrites",
                     "zendesk #C (run", "**Warning: the escalation rate is rising**", "| Review-SLA compliance | 78 %"):
        assert expected in text


def test_a_category_whose_drafts_go_out_is_safe_to_automate(store):
    with store.session() as session:
        for i in range(11):
            at = SINCE + timedelta(hours=i + 1)
            run = Run(helpdesk="intercom", ticket_id=f"fr{i}", event_kind="created", status="succeeded",
                      attempts=1, recoveries=0, due_at=at, created_at=at, finished_at=at, draft="x")
            session.add(run)
            session.flush()
            session.add(Review(run_id=run.id, helpdesk="intercom", ticket_id=f"fr{i}", arrived_at=at, drafted_at=at,
                               due_at=at + timedelta(minutes=30), category="Feature request", escalated=False,
                               action="sent_as_is" if i else "lightly_edited", acted_at=at, replied_at=at,
                               category_overridden=False, priority_overridden=False, group_overridden=False))
            session.add(TrackedTicket(helpdesk="intercom", ticket_id=f"fr{i}", first_run_id=run.id, arrived_at=at,
                                      reopened=0, reassigned=False, escalated_later=False, check_after=NOW,
                                      csat_good=True, csat_score="5"))
        session.commit()
        (verdict,) = build_report(session, SINCE, UNTIL, POLICY, NOW)["safe_to_automate"]
    assert verdict == {"category": "Feature request", "safe": True, "replied": 11, "sent": 1.0, "why_not": []}


@pytest.mark.parametrize("value, expected", [
    ("7d", UNTIL - timedelta(days=7)), ("24h", UNTIL - timedelta(hours=24)), ("30m", UNTIL - timedelta(minutes=30)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T08:00:00+01:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
])
def test_periods(value, expected):
    assert parse_moment(value, UNTIL) == expected


def test_the_command_writes_markdown_and_json(store, database_url, tmp_path, monkeypatch):
    seed(store)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HELPDESK", "sample")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(),
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Weekly QA report: 2026-11-23T00:00 to 2026-11-30T00:00")
    data = json.loads(out.read_text())
    assert data["figures"]["tickets"]["tickets"] == 9 and data["figures"]["drafts"]["drafts"] == 10
    bad = CliRunner().invoke(main, ["report", "--since", "last week"])
    assert bad.exit_code == 2 and "give a duration before now (7d, 24h, 30m)" in bad.output
    empty = CliRunner().invoke(main, ["report", "--since", "2026-12-01", "--until", "2026-11-01"])
    assert empty.exit_code == 2 and "the period is empty" in empty.output
