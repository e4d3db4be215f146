"""The pipeline with LLM_PROVIDER=openai, built from settings the way the worker builds it, against
a local OpenAI-compatible server and the spec-validating fake Zendesk."""

from __future__ import annotations

import pytest

from bot.domain import TicketEvent
from bot.events import process_run
from bot.runtime import build_worker
from bot.settings import Settings
from bot.vocabulary import RunStatus
from tests.conftest import policy_in_mode
from tests.fakes.openai_server import FakeOpenAI
from tests.llm_output import llm_intents

TRIAGE = {
    "category": "Bug report",
    "priority": 2,
    "escalate": False,
    "confidence": 0.91,
    "reasoning": "The export crashes on every attempt.",
    "sentiment": {"label": "negative", "frustrated": False},
    "language": "de",
    "intents": llm_intents(),
}
DRAFT = "Hallo Jonas,\n\ndanke für Ihre Meldung. Können Sie uns die Version nennen?\n\nViele Grüße"


@pytest.fixture
def fake(acme_zendesk):
    acme_zendesk.add_user(42, name="Jonas Weber")
    acme_zendesk.add_ticket(900, subject="Export stürzt ab", description="Der CSV-Export stürzt jedes Mal ab.",
                            requester_id=42)
    return acme_zendesk


def worker_for(database_url: str, llm_server: FakeOpenAI):
    return build_worker(Settings.from_env({
        "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
        "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": "secret",
        "DATABASE_URL": database_url, "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": llm_server.base_url, "LLM_MODEL": "gpt-test",
        "POLICY_FILE": policy_in_mode("draft"),
    }))


def test_openai_triage_and_draft_reach_the_note_and_the_store(fake, llm_server, database_url):
    llm_server.enqueue_json(TRIAGE, usage=(300, 40))
    llm_server.enqueue_content(DRAFT, usage=(500, 60))
    worker = worker_for(database_url, llm_server)
    run_id = worker.store.accept(TicketEvent("zendesk", "created", "900")).run_id

    assert process_run(run_id, worker) == RunStatus.SUCCEEDED

    triage_call, draft_call = llm_server.requests
    assert triage_call["response_format"]["json_schema"]["strict"] is True
    # Both calls are capped: the triage JSON, and the draft by its template's word limit.
    assert triage_call["max_tokens"] == 700
    assert draft_call["max_tokens"] == 220 * 3 + 100  # bug_report.yaml: max_words 220
    assert "<ticket>" in triage_call["messages"][-1]["content"]
    assert "Der CSV-Export" in triage_call["messages"][-1]["content"]
    # The draft prompt names the bug-report guidance and the customer's language after the
    # system message, which is the same for every ticket (so providers can cache it).
    assert "category Bug report" in draft_call["messages"][1]["content"]
    assert "ISO 639-1 code de" in draft_call["messages"][1]["content"]
    assert "Der CSV-Export" not in draft_call["messages"][0]["content"]

    ticket = fake.ticket(900)
    note = ticket["comments"][-1]
    assert note["public"] is False and DRAFT in note["body"] and "Engine: openai" in note["body"]
    assert ticket["group_id"] == 113 and ticket["priority"] == "high"
    assert "ai_escalated" not in ticket["tags"]
    run = worker.store.get(run_id)
    assert (run.engine, run.model) == ("openai", "gpt-test")
    assert (run.prompt_tokens, run.completion_tokens) == (800, 100)
    assert run.prompt_version == "triage@2+draft_base@3+bug_report@1"
    assert run.triage["confidence"] == 0.91 and run.triage["valid"] is True
