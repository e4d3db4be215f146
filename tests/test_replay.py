"""`python -m bot replay`: the bot's shadow decisions on past tickets next to what agents did.

Figures are checked by hand: on hand-built decisions (pure), and on a fixture file of eight
tickets whose decisions by the local engine are listed below and were read one by one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.db import make_engine, upgrade
from bot.errors import PermanentError, RetryableError
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.replay.compare import AgentOutcome, Replayed, build_report, recommend
from bot.replay.run import Pacer, fetch_each
from bot.rollout import Recommend
from tests.conftest import FIXTURES
from tests.fakes.intercom_inbox import FakeIntercomInbox
from tests.fakes.zendesk_api import FakeZendesk

TICKETS = FIXTURES / "replay" / "tickets.jsonl"


def replayed(tid: str, agent: AgentOutcome, category: str, group: str | None, priority: str = "normal",
             escalated: bool = False, refund: bool = False, cost: float | None = None) -> Replayed:
    return Replayed(ticket_id=tid, subject=f"ticket {tid}", url=f"https://acme.zendesk.com/agent/tickets/{tid}",
                    agent=agent, category=category, group_id=group, priority=priority, escalated=escalated,
                    refund=refund, cost_usd=cost, prompt_tokens=100, completion_tokens=10)


# -- the comparison (pure) -----------------------------------------------------------------------


def test_agreement_precision_recall_and_cost_by_hand():
    items = [
        replayed("1", AgentOutcome("Billing", "101", "high", True, True), "Billing", "101", "high", True, True, 0.01),
        replayed("2", AgentOutcome("Billing", "110", "normal", False, False), "Technical", "111", "normal", True,
                 cost=0.02),
        replayed("3", AgentOutcome("Technical", "111", None, True, None), "Technical", "111", "low", False),
        replayed("4", AgentOutcome(None, None, "low", None, None), "Other", "115", "low"),
    ]
    report = build_report(items, Recommend(min_tickets=1), {"source": "test"})
    fields = report["fields"]
    assert fields["category"] == {"compared": 3, "agreed": 2, "rate": 0.6667}
    assert fields["group"] == {"compared": 3, "agreed": 2, "rate": 0.6667}
    assert fields["priority"] == {"compared": 3, "agreed": 3, "rate": 1.0}
    # escalated known on 1..3: agent T,F,T; bot T,T,F -> agreed 1; TP 1 of bot's 2, of agents' 2
    assert fields["escalated"] == {"compared": 3, "agreed": 1, "rate": 0.3333, "precision": 0.5, "recall": 0.5,
                                   "agent_positives": 2, "bot_positives": 2}
    assert fields["refund"]["recall"] == 1.0 and fields["refund"]["compared"] == 2
    assert report["confusion"] == {"labels": ["Billing", "Technical"], "matrix": [[1, 1], [0, 1]]}
    assert report["cost"] == {"usd": 0.03, "priced": True, "prompt_tokens": 400, "completion_tokens": 40,
                              "per_ticket_usd": 0.0075}
    assert sorted((d["ticket_id"], d["field"], d["agent"], d["bot"]) for d in report["disagreements"]) == [
        ("2", "category", "Billing", "Technical"), ("2", "escalated", "no", "yes"), ("2", "group", "110", "111"),
        ("3", "escalated", "yes", "no")]
    billing = next(c for c in report["by_category"] if c["category"] == "Billing")
    assert billing["tickets"] == 2 and billing["fields"]["category"]["rate"] == 0.5


def test_readiness_follows_the_thresholds():
    thresholds = Recommend(draft=0.9, tag=0.8, escalation_recall=0.95, min_tickets=10)
    agent = AgentOutcome("Billing", "110", "normal", False, False)
    good = [replayed(str(i), agent, "Billing", "110") for i in range(10)]
    assert recommend("Billing", good, thresholds)[0] == "draft"
    some_wrong = good[:8] + [replayed(str(i), agent, "Billing", "111") for i in (8, 9)]  # group 80 %
    mode, why = recommend("Billing", some_wrong, thresholds)
    assert mode == "tag" and "group agreement 80.0 %" in why
    assert recommend("Billing", good[:9], thresholds) == ("shadow", "only 9 tickets (fewer than 10 to tell)")
    escalated = AgentOutcome("Billing", "110", "normal", True, False)
    missed = good[:9] + [replayed("x", escalated, "Billing", "110", escalated=False)]
    mode, why = recommend("Billing", missed, thresholds)
    assert mode == "shadow" and "escalation recall 0.0 %" in why


def test_the_pacer_spreads_requests_over_the_minute():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(120, clock=lambda: now[0], sleep=sleep)  # one request per 0.5 s
    for _ in range(3):
        pacer.wait(2)  # a ticket costing two requests
    assert slept == [1.0, 1.0]


def test_rate_limits_are_waited_out_and_unreadable_tickets_skipped():
    calls: Counter = Counter()
    slept: list[float] = []

    def read(ticket_id: str):
        calls[ticket_id] += 1
        if ticket_id == "busy" and calls[ticket_id] < 3:
            raise RetryableError("429", retry_after=7)
        if ticket_id == "gone":
            raise PermanentError("404")
        return ticket_id

    skipped: Counter = Counter()
    got = list(fetch_each(["busy", "gone", "ok"], read, Pacer(0), 1, skipped, sleep=slept.append))
    assert got == ["busy", "ok"] and slept == [7, 7]
    assert skipped == {"could not be read (deleted, or not allowed)": 1}


# -- the command, on a file ------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A store with the tests' help center, BM25 ranking (as the e2e tests use), no helpdesk."""
    database = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    upgrade(database)
    articles = load_articles(FIXTURES / "kb" / "help_center.jsonl", "help")
    ArticleStore(make_engine(database)).replace_all("help", articles)
    return {"DATABASE_URL": database, "KB_RANKING": "bm25", "KB_SOURCES": "none", "ZENDESK_SUBDOMAIN": "",
            "ZENDESK_URL": "", "ZENDESK_EMAIL": "", "ZENDESK_API_TOKEN": "", "INTERCOM_ACCESS_TOKEN": ""}


def run(env: dict[str, str], *args: str):
    result = CliRunner().invoke(main, ["replay", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_replay_of_a_file_matches_the_hand_checked_figures(env, tmp_path):
    code, out = run(env, str(TICKETS), "--out", str(tmp_path / "report"))
    assert code == 0, out
    report = json.loads((tmp_path / "report" / "replay.json").read_text())
    # The local engine's decisions on the eight tickets, read one by one:
    #  5001 refund -> Billing, supervisor 101, normal, refund escalation   (agents: high)
    #  5002 password reset -> Account access but security 103, high       (agents: 114, normal, no escalation)
    #  5003 Feature request 112 low; 5004 Bug report 113 normal; 5007 Technical 111 normal: as agents
    #  5005 account takeover -> security 103, high                        (agents: urgent)
    #  5006 VAT invoice -> Billing 110, no_source escalation               (agents: no escalation)
    #  5008 churn -> Billing, senior 102, urgent                           (agents: high)
    assert report["tickets"] == 8 and report["skipped"] == 0
    assert report["fields"]["category"] == {"compared": 8, "agreed": 8, "rate": 1.0}
    assert report["fields"]["group"] == {"compared": 8, "agreed": 7, "rate": 0.875}
    assert report["fields"]["priority"] == {"compared": 8, "agreed": 4, "rate": 0.5}
    assert report["fields"]["escalated"] == {"compared": 8, "agreed": 6, "rate": 0.75, "precision": 0.6,
                                             "recall": 1.0, "agent_positives": 3, "bot_positives": 5}
    assert report["fields"]["refund"]["rate"] == 1.0
    wrong = {(d["ticket_id"], d["field"]) for d in report["disagreements"]}
    assert wrong == {("5001", "priority"), ("5002", "group"), ("5002", "priority"), ("5002", "escalated"),
                     ("5005", "priority"), ("5006", "escalated"), ("5008", "priority")}
    assert all(d["url"] == f"https://acme.zendesk.com/agent/tickets/{d['ticket_id']}" for d in report["disagreements"])
    assert report["cost"]["usd"] == 0.0  # the local engine
    # With 20 tickets needed per category (the policy's default), nothing is ready yet.
    assert report["recommendation"]["shadow"] == ["Billing", "Technical", "Feature request", "Bug report",
                                                  "Account access"]
    html = (tmp_path / "report" / "replay.html").read_text()
    assert "<svg" in html and "https://acme.zendesk.com/agent/tickets/5002" in html
    assert "8 tickets replayed (0 skipped)" in out and "group 87.5 %" in out


def test_a_bad_file_line_is_named(env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "subject": "ok"}\n{"subject": "no id"}\n')
    code, out = run(env, str(bad), "--out", str(tmp_path / "r"))
    assert code == 1 and "bad.jsonl:2" in out and "`id`" in out


def test_one_source_only(env):
    code, out = run(env, str(TICKETS), "--from-zendesk")
    assert code == 1 and "one of" in out


# -- from the helpdesks -----------------------------------------------------------------------------


def test_from_zendesk_reads_the_period_compares_and_saves_a_file_that_replays_the_same(env, tmp_path):
    with FakeZendesk(realtime=True) as zendesk:
        zendesk.add_user(501, name="Maria")
        zendesk.add_ticket(7001, subject="Charged twice", requester_id=501, tags=["billing", "refund"],
                           description="I was charged twice this month, please refund one of the payments.",
                           status="solved", priority="high", group_id=101)
        zendesk.add_ticket(7002, subject="Dark mode", requester_id=501, tags=["feature_request"],
                           description="Please add a dark mode to the dashboard.", status="solved",
                           priority="low", group_id=112)
        zendesk.add_ticket(7003, subject="Untouched", requester_id=501, description="Hello?", status="new")
        zendesk.add_ticket(7004, subject="Seen by the bot", requester_id=501, description="Hi", status="open",
                           tags=["ai_triaged"])
        zendesk.fail_next("GET", r"/api/v2/tickets/7002", 429, {"Retry-After": "1"})
        zenv = {**env, "ZENDESK_URL": zendesk.base_url, "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "t"}
        saved = tmp_path / "saved.jsonl"
        code, out = run(zenv, "--from-zendesk", "--since", "1d", "--rate", "6000", "--save", str(saved),
                        "--out", str(tmp_path / "z"))
        assert code == 0, out
        assert zendesk.spec_violations == []
        statuses = [r.status for r in zendesk.requests if r.path.startswith("/api/v2/tickets/7002")]
        assert statuses[0] == 429 and statuses[-1] == 200  # waited, then read again
        assert not [r for r in zendesk.requests if r.method != "GET"]  # replay writes nothing
    report = json.loads((tmp_path / "z" / "replay.json").read_text())
    assert report["tickets"] == 2 and report["skipped_why"] == {"not handled by an agent yet": 1,
                                                                "already triaged by the bot": 1}
    assert report["fields"]["category"] == {"compared": 2, "agreed": 2, "rate": 1.0}
    assert report["fields"]["refund"]["recall"] == 1.0 and report["fields"]["escalated"]["agent_positives"] == 1
    again_code, _ = run(env, str(saved), "--out", str(tmp_path / "again"))
    again = json.loads((tmp_path / "again" / "replay.json").read_text())
    assert again_code == 0 and again["fields"] == report["fields"]


def test_from_intercom_reads_conversations_created_in_the_period(env, tmp_path):
    with FakeIntercomInbox() as intercom:
        intercom.add_contact("c1", name="Ana", email="ana@example.com")
        intercom.add_team("7110", "Billing")
        conversation = intercom.add_conversation("9001", "c1", "<p>I was charged twice, please refund me.</p>",
                                                 subject="Double charge")
        conversation = intercom.conversations["9001"]
        conversation["team_assignee_id"] = "7101"
        conversation["tags"]["tags"] = [{"type": "tag", "id": "1", "name": "billing"}]
        intercom.add_conversation("9002", "c1", "<p>old one</p>", created_at=1_000_000)  # before the period
        ienv = {**env, "INTERCOM_ACCESS_TOKEN": intercom.token, "INTERCOM_URL": intercom.base_url}
        code, out = run(ienv, "--from-intercom", "--since", "1d", "--rate", "6000", "--out", str(tmp_path / "i"))
        assert code == 0, out
    report = json.loads((tmp_path / "i" / "replay.json").read_text())
    assert report["tickets"] == 1 and report["source"] == "intercom"
    assert report["fields"]["category"]["agreed"] == 1
    assert report["fields"]["group"] == {"compared": 1, "agreed": 1, "rate": 1.0}  # supervisors' team 7101
