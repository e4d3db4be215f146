"""Hybrid mode: the local model decides when its calibrated confidence reaches the bar, the LLM
otherwise; which engine decided, the tokens and the cost are stored with every run.

The LLM is a local OpenAI-compatible server, Zendesk the spec-validating fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain import CustomerContext, Ticket, TicketEvent
from bot.events import process_run
from bot.llm import TriageRequest, make_llm
from bot.llm.hybrid import HybridEngine
from bot.runtime import build_worker
from bot.settings import PROJECT_ROOT, Settings
from bot.vocabulary import RunStatus
from tests.conftest import policy_in_mode
from tests.fakes.openai_server import FakeOpenAI
from tests.llm_output import llm_intents

EASY = ("Refund for a double charge", "I was charged twice for my subscription this month, "
        "please refund the duplicate payment on my card.")
HARD = ("hmm", "the thing from last week, same as before")
LLM_TRIAGE = {
    "category": "Technical", "priority": 3, "escalate": False, "confidence": 0.9,
    "reasoning": "Follow-up on an earlier technical question.",
    "sentiment": {"label": "neutral", "frustrated": False}, "language": "en",
    "intents": llm_intents(),
}
PRICES = """
version: test
currency: USD
per_tokens: 1000000
models:
  gpt-test: {input: 2.0, cached_input: 1.0, output: 8.0}
"""


def local_confidence(subject: str, body: str) -> float:
    engine = make_llm("offline", offline_config=PROJECT_ROOT / "config" / "offline.yaml")
    ticket = Ticket(id="1", subject=subject, description=body)
    return engine.triage(TriageRequest((), ticket, CustomerContext())).triage.confidence


def test_the_bundled_model_is_sure_of_the_easy_ticket_and_unsure_of_the_hard_one():
    # The premise of the pipeline tests below, checked on its own.
    assert local_confidence(*EASY) >= 0.85 > local_confidence(*HARD)


class RecordingLLM:
    provider = "openai"
    model = "gpt-test"

    def __init__(self):
        self.calls = []

    def triage(self, request):
        from bot.decisions import Sentiment, Triage, TriageResult, Usage

        self.calls.append(("triage", request.ticket.id))
        triage = Triage("Technical", 3, False, 0.9, "r", Sentiment(), "en")
        return TriageResult(triage, self.model, Usage(100, 20), engine="openai")

    def draft(self, request):
        from bot.decisions import DraftResult, Usage

        self.calls.append(("draft", request.ticket.id))
        return DraftResult("text", self.model, Usage(200, 50), engine="openai")


@pytest.mark.parametrize("offset, decided_by", [(0.0, "offline"), (0.0001, "openai"), (-0.0001, "offline")])
def test_the_bar_is_inclusive_and_compared_with_the_local_confidence(offset, decided_by):
    local = make_llm("offline", offline_config=PROJECT_ROOT / "config" / "offline.yaml")
    remote = RecordingLLM()
    ticket = Ticket(id="7", subject=EASY[0], description=EASY[1])
    request = TriageRequest((), ticket, CustomerContext())
    confidence = local.triage(request).triage.confidence
    hybrid = HybridEngine(local, remote, bar=round(confidence + offset, 4))

    result = hybrid.triage(request)

    assert result.engine == decided_by
    if decided_by == "offline":
        assert remote.calls == [] and result.triage.confidence == confidence
        assert result.local_opinion is None
    else:
        assert remote.calls == [("triage", "7")] and result.triage.category == "Technical"
        assert result.local_opinion["confidence"] == confidence
        assert result.local_opinion["category"] == local.triage(request).triage.category


def test_when_the_llm_decides_the_local_detectors_intents_still_count():
    """Any detector is enough: an LLM that misses the refund cannot drop the local one."""
    local = make_llm("offline", offline_config=PROJECT_ROOT / "config" / "offline.yaml")
    ticket = Ticket(id="8", subject="", description=(
        "hmm the thing from last week. also please reverse the second payment of 19.90, "
        "I was charged twice and want that money back on my card"))
    request = TriageRequest((), ticket, CustomerContext())
    seen_locally = [s for s in local.triage(request).triage.intents if s.intent == "refund"]
    assert seen_locally and seen_locally[0].source == "local"

    result = HybridEngine(local, RecordingLLM(), bar=1.01).triage(request)

    assert result.engine == "openai" and result.triage.category == "Technical"
    assert [s for s in result.triage.intents if s.intent == "refund"] == seen_locally


# -- through the worker, as deployed ---------------------------------------------------------


@pytest.fixture
def fake(acme_zendesk):
    acme_zendesk.add_user(42, name="Dana Smith")
    acme_zendesk.add_ticket(1, subject=EASY[0], description=EASY[1], requester_id=42)
    acme_zendesk.add_ticket(2, subject=HARD[0], description=HARD[1], requester_id=42)
    return acme_zendesk


def hybrid_worker(database_url: str, server: FakeOpenAI, tmp_path: Path, **extra: str):
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    return build_worker(Settings.from_env({
        "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
        "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": "secret",
        "DATABASE_URL": database_url, "LLM_PROVIDER": "hybrid", "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": server.base_url, "LLM_MODEL": "gpt-test",
        "HYBRID_CONFIDENCE_BAR": "0.85", "LLM_PRICES_FILE": str(prices), "KB_SOURCES": "none",
        "POLICY_FILE": policy_in_mode("draft"), **extra,
    }))


def run_ticket(worker, ticket_id: str):
    run_id = worker.store.accept(TicketEvent("zendesk", "created", ticket_id)).run_id
    assert process_run(run_id, worker) == RunStatus.SUCCEEDED
    return worker.store.get(run_id)


def test_an_easy_ticket_is_triaged_locally_and_only_the_draft_is_paid(fake, llm_server, database_url, tmp_path):
    llm_server.enqueue_content("Hi Dana, we are sorry about the double charge.", usage=(1000, 100))
    worker = hybrid_worker(database_url, llm_server, tmp_path)

    run = run_ticket(worker, "1")

    assert len(llm_server.requests) == 1  # the draft only
    assert "response_format" not in llm_server.requests[0]
    assert (run.engine, run.triage_engine, run.draft_engine) == ("hybrid", "offline", "openai")
    assert run.triage["category"] == "Billing" and run.triage["confidence"] >= 0.85
    assert run.usage["triage"]["cost_usd"] == 0.0 and run.usage["triage"]["prompt_tokens"] == 0
    # 1000 prompt tokens at $2/M + 100 completion tokens at $8/M.
    assert run.cost_usd == pytest.approx(0.0028)
    assert (run.prompt_tokens, run.completion_tokens) == (1000, 100)
    note = fake.ticket(1)["comments"][-1]["body"]
    assert "triage by offline (local:triage-default@" in note and "draft by openai (gpt-test)" in note


def test_a_hard_ticket_goes_to_the_llm_and_the_local_opinion_is_kept(fake, llm_server, database_url, tmp_path):
    llm_server.enqueue_json(LLM_TRIAGE, usage=(400, 50))
    llm_server.enqueue_content("Hi Dana, could you tell us more?", usage=(900, 80))
    worker = hybrid_worker(database_url, llm_server, tmp_path)

    run = run_ticket(worker, "2")

    triage_call, draft_call = llm_server.requests
    assert triage_call["response_format"]["json_schema"]["strict"] is True
    assert (run.triage_engine, run.draft_engine) == ("openai", "openai")
    assert run.triage["category"] == "Technical"  # the LLM's decision, not the local guess
    opinion = run.usage["local_opinion"]
    assert opinion["confidence"] < 0.85 and opinion["model"].startswith("local:")
    assert run.usage["triage"] == {"engine": "openai", "model": "gpt-test", "prompt_tokens": 400,
                                   "completion_tokens": 50, "cached_tokens": 0,
                                   "cost_usd": pytest.approx(0.0012)}
    assert run.cost_usd == pytest.approx(0.0012 + 0.00244)


def test_local_drafts_make_an_easy_ticket_free(fake, llm_server, database_url, tmp_path):
    worker = hybrid_worker(database_url, llm_server, tmp_path, HYBRID_DRAFTS="local")

    run = run_ticket(worker, "1")

    assert llm_server.requests == []
    assert (run.triage_engine, run.draft_engine, run.cost_usd) == ("offline", "offline", 0.0)


def test_a_model_without_a_price_records_tokens_and_no_cost(fake, llm_server, database_url, tmp_path):
    llm_server.enqueue_content("Hi Dana.", usage=(10, 5))
    worker = hybrid_worker(database_url, llm_server, tmp_path, LLM_MODEL="some-local-llama")

    run = run_ticket(worker, "1")

    assert run.cost_usd is None and run.usage["draft"]["cost_usd"] is None
    assert run.completion_tokens == 5


def test_hybrid_needs_an_api_key_and_a_valid_bar():
    from bot.errors import SettingsError

    base = {"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s", "LLM_PROVIDER": "hybrid"}
    with pytest.raises(SettingsError, match="OPENAI_API_KEY is not set"):
        Settings.from_env(base)
    with pytest.raises(SettingsError, match="HYBRID_CONFIDENCE_BAR must be between 0 and 1"):
        Settings.from_env({**base, "OPENAI_API_KEY": "sk", "HYBRID_CONFIDENCE_BAR": "1.5"})
    with pytest.raises(SettingsError, match="HYBRID_DRAFTS must be one of llm, local"):
        Settings.from_env({**base, "OPENAI_API_KEY": "sk", "HYBRID_DRAFTS": "both"})


def test_an_unusable_llm_triage_falls_back_to_the_local_one_and_is_still_billed(
    fake, llm_server, database_url, tmp_path
):
    llm_server.enqueue_content("not JSON at all", usage=(400, 10))  # the triage
    llm_server.enqueue_content("still not JSON", usage=(450, 10))  # its repair turn
    llm_server.enqueue_content("Hi Dana, could you tell us more?", usage=(900, 80))  # the draft
    worker = hybrid_worker(database_url, llm_server, tmp_path)

    run = run_ticket(worker, "2")

    assert len(llm_server.requests) == 3
    # The local model's opinion stands (not a confidence-0 stand-in), and it is below the bar,
    # so the rules escalate it as low confidence.
    assert run.triage_engine == "offline" and run.triage["valid"] is True
    assert 0 < run.triage["confidence"] < 0.85
    codes = [r["code"] for r in run.rules["reasons"]]
    assert "low_confidence" in codes and "model_flagged" in codes  # no engine was sure
    assert "The LLM's answer was unusable" in run.triage["reasoning"]
    lost = run.usage["discarded_triage"]
    assert (lost["engine"], lost["prompt_tokens"], lost["completion_tokens"]) == ("openai", 850, 20)
    assert "not" in lost["error"]
    # 850 x $2/M + 20 x $8/M for the discarded triage, 900 x $2/M + 80 x $8/M for the draft.
    assert run.cost_usd == pytest.approx(0.00186 + 0.00244)
    assert (run.prompt_tokens, run.completion_tokens) == (1750, 100)


def test_eval_measures_the_hybrid_before_it_is_switched_on(llm_server, tmp_path):
    from click.testing import CliRunner

    from bot.cli import main

    data = tmp_path / "tickets.jsonl"
    data.write_text(
        json.dumps({"subject": EASY[0], "body": EASY[1], "category": "Billing"}) + "\n"
        + json.dumps({"subject": HARD[0], "body": HARD[1], "category": "Technical"}) + "\n"
    )
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    llm_server.enqueue_json(LLM_TRIAGE, usage=(400, 50))
    env = {"HELPDESK": "sample", "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": llm_server.base_url,
           "LLM_MODEL": "gpt-test", "LLM_PRICES_FILE": str(prices)}

    result = CliRunner().invoke(main, ["eval", str(data), "--engine", "hybrid"], env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["decided_by"] == {"offline": 1, "openai": 1}
    assert report["accuracy"] == 1.0  # the local model on the easy one, the LLM on the hard one
    assert (report["prompt_tokens"], report["completion_tokens"]) == (400, 50)
    assert report["cost_usd"] == pytest.approx(0.0012)
    assert len(llm_server.requests) == 1 and "<ticket>" in llm_server.requests[0]["messages"][-1]["content"]

    no_key = CliRunner().invoke(main, ["eval", str(data), "--engine", "openai"],
                                env={**env, "OPENAI_API_KEY": ""})
    assert no_key.exit_code == 1 and "needs OPENAI_API_KEY" in no_key.output


def test_provenance_survives_a_retry_after_a_failed_write(fake, llm_server, database_url, tmp_path):
    """The local model triaged, the LLM drafted; the first write fails. The retry reuses both,
    and the note and the stored run still say who decided what, and what it cost."""
    llm_server.enqueue_content("Hi Dana, we are sorry about the double charge.", usage=(1000, 100))
    worker = hybrid_worker(database_url, llm_server, tmp_path)
    run_id = worker.store.accept(TicketEvent("zendesk", "created", "1")).run_id
    fake.fail_next("PUT", r"/api/v2/tickets/1", 503, headers={"Retry-After": "1"})
    from bot.attempt import attempt

    assert attempt(run_id, worker).status == "retrying"
    assert attempt(run_id, worker).status == RunStatus.SUCCEEDED

    assert len(llm_server.requests) == 1  # drafted once, not paid twice
    note = fake.ticket(1)["comments"][-1]["body"]
    local_model = worker.llm.local.model
    assert f"triage by offline ({local_model}), draft by openai (gpt-test)" in note
    run = worker.store.get(run_id)
    assert (run.triage_engine, run.draft_engine, run.attempts) == ("offline", "openai", 2)
    assert run.triage["engine"] == "offline" and run.triage["model"] == local_model
    assert run.draft_result == {"text": "Hi Dana, we are sorry about the double charge.",
                                "model": "gpt-test", "engine": "openai",
                                "usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                                          "cached_tokens": 0}}
    assert run.cost_usd == pytest.approx(0.0028)
