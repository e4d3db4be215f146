"""OpenAIProvider against a real loopback server, through the real openai SDK."""

import json
import time

import pytest

from bot.decisions import Decision, Sentiment, Triage, Usage
from bot.domain import CustomerContext, Ticket
from bot.errors import PermanentError, RetryableError, SettingsError
from bot.llm import DraftRequest, TriageRequest, make_llm
from bot.llm.openai_provider import OpenAIProvider
from bot.llm.schema import TRIAGE_JSON_SCHEMA
from tests.fakes.openai_server import FakeOpenAI
from tests.llm_output import llm_intents

API_KEY = "sk-test-SECRETKEY1234567890"
VALID = {
    "category": "Account access",
    "priority": 2,
    "escalate": False,
    "confidence": 0.9,
    "reasoning": "Password reset email does not arrive.",
    "sentiment": {"label": "negative", "frustrated": False},
    "language": "en",
    "intents": llm_intents(),
}
TICKET = Ticket(id="42", subject="Can't log in", description="Reset email never arrives.")
MESSAGES = [
    {"role": "system", "content": "You triage support tickets."},
    {"role": "user", "content": "<ticket>Can't log in. Reset email never arrives.</ticket>"},
]


def triage_request():
    return TriageRequest(messages=MESSAGES, ticket=TICKET, context=CustomerContext(name="Ann"))


def draft_request():
    triage = Triage("Account access", 2, False, 0.9, "r", Sentiment(), "en")
    decision = Decision("Account access", 2, False, (), None, None, ())
    return DraftRequest(
        messages=MESSAGES,
        ticket=TICKET,
        context=CustomerContext(name="Ann"),
        triage=triage,
        decision=decision,
        template_id="account_access",
        template_version="1",
    )


@pytest.fixture
def server():
    with FakeOpenAI() as fake:
        yield fake


def provider(server, timeout=5.0):
    return OpenAIProvider(api_key=API_KEY, model="gpt-test", base_url=server.base_url, timeout=timeout)


def test_valid_structured_output(server):
    server.enqueue_json(VALID, usage=(120, 30))
    result = provider(server).triage(triage_request())

    assert result.valid is True and result.error is None
    assert result.triage.category == "Account access"
    assert result.triage.priority == 2
    assert result.triage.sentiment == Sentiment("negative", False)
    assert result.usage == Usage(prompt_tokens=120, completion_tokens=30)
    assert result.model == "gpt-test"

    [sent] = server.requests
    assert sent["model"] == "gpt-test"
    assert sent["temperature"] == 0
    assert sent["messages"] == MESSAGES
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "triage"
    assert fmt["json_schema"]["schema"] == TRIAGE_JSON_SCHEMA
    assert server.headers[0]["authorization"] == f"Bearer {API_KEY}"


def test_invalid_then_valid_is_repaired_in_one_extra_call(server):
    server.enqueue_content("Here you go: {category: Billing}", usage=(100, 10))
    server.enqueue_json(VALID, usage=(130, 20))
    result = provider(server).triage(triage_request())

    assert result.valid is True
    assert result.triage.category == "Account access"
    assert result.usage == Usage(prompt_tokens=230, completion_tokens=30)
    assert len(server.requests) == 2
    repair = server.requests[1]["messages"]
    assert repair[:2] == MESSAGES
    assert repair[2] == {"role": "assistant", "content": "Here you go: {category: Billing}"}
    assert repair[3]["role"] == "user"
    assert "not valid JSON" in repair[3]["content"]
    assert server.requests[1]["response_format"]["json_schema"]["strict"] is True


def test_schema_violation_names_the_field_in_the_repair_message(server):
    server.enqueue_json(dict(VALID, priority=9))
    server.enqueue_json(VALID)
    assert provider(server).triage(triage_request()).valid is True
    assert "priority must be an integer from 1 to 5, got 9" in server.requests[1]["messages"][3]["content"]


def test_invalid_twice_falls_back_to_a_human(server):
    server.enqueue_content("not json", usage=(100, 5))
    server.enqueue_content('{"category": "Billing"}', usage=None)  # usage missing: tolerated
    result = provider(server).triage(triage_request())

    assert result.valid is False
    assert "missing key(s)" in result.error
    assert result.triage.confidence == 0.0
    assert result.triage.escalate is True
    assert result.triage.category == "Other"
    assert result.usage == Usage(prompt_tokens=100, completion_tokens=5)
    assert len(server.requests) == 2


def test_refusal_triggers_the_repair(server):
    server.enqueue_content(None, refusal="I can't help with that.")
    server.enqueue_json(VALID)
    result = provider(server).triage(triage_request())
    assert result.valid is True
    repair = server.requests[1]["messages"]
    assert repair[2] == {"role": "assistant", "content": "I can't help with that."}
    assert "refused" in repair[3]["content"]


def test_timeout_is_retryable_and_the_sdk_does_not_retry(server):
    server.enqueue_delay(2.0, json.dumps(VALID))
    started = time.monotonic()
    with pytest.raises(RetryableError, match="timed out"):
        provider(server, timeout=0.5).triage(triage_request())
    assert time.monotonic() - started < 1.8
    assert len(server.requests) == 1


def test_server_error_is_retryable(server):
    server.enqueue_status(500, {"error": {"message": "The server had an error"}})
    with pytest.raises(RetryableError, match="500") as info:
        provider(server).triage(triage_request())
    assert info.value.retry_after is None
    assert len(server.requests) == 1


def test_rate_limit_carries_retry_after(server):
    server.enqueue_status(429, {"error": {"message": "Rate limit reached"}}, {"retry-after": "7"})
    with pytest.raises(RetryableError) as info:
        provider(server).triage(triage_request())
    assert info.value.retry_after == 7
    assert len(server.requests) == 1


def test_rate_limit_retry_after_ms(server):
    server.enqueue_status(429, None, {"retry-after-ms": "1500"})
    with pytest.raises(RetryableError) as info:
        provider(server).triage(triage_request())
    assert info.value.retry_after == 1.5


def test_quota_exhaustion_is_permanent(server):
    body = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    server.enqueue_status(429, body)
    with pytest.raises(PermanentError, match="insufficient_quota"):
        provider(server).triage(triage_request())


def test_unauthorized_is_permanent_and_does_not_leak_the_key(server):
    message = f"Incorrect API key provided: {API_KEY}. You can find your API key at ..."
    server.enqueue_status(401, {"error": {"message": message, "code": "invalid_api_key"}})
    with pytest.raises(PermanentError) as info:
        provider(server).triage(triage_request())
    text = str(info.value)
    assert "401" in text and "Incorrect API key" in text
    assert API_KEY not in text and "SECRETKEY" not in text


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_client_errors_are_permanent(server, status):
    server.enqueue_status(status)
    with pytest.raises(PermanentError, match=str(status)):
        provider(server).draft(draft_request())


@pytest.mark.parametrize("status", [408, 409, 502, 503])
def test_transient_statuses_are_retryable(server, status):
    server.enqueue_status(status, "upstream hiccup")
    with pytest.raises(RetryableError, match=str(status)):
        provider(server).draft(draft_request())


def test_connection_refused_is_retryable():
    with FakeOpenAI() as fake:
        base_url = fake.base_url
    # The server is closed now, so nothing listens on that port.
    p = OpenAIProvider(api_key=API_KEY, model="m", base_url=base_url, timeout=2)
    with pytest.raises(RetryableError):
        p.triage(triage_request())


def test_draft_returns_stripped_text(server):
    server.enqueue_content("\n  Hi Ann, an agent will help you regain access.  \n", usage=(50, 12))
    result = provider(server).draft(draft_request())
    assert result.text == "Hi Ann, an agent will help you regain access."
    assert result.usage == Usage(50, 12)
    [sent] = server.requests
    assert sent["temperature"] == pytest.approx(0.3)
    assert "response_format" not in sent
    assert sent["messages"] == MESSAGES


def test_empty_draft_is_retryable(server):
    server.enqueue_content("   ")
    with pytest.raises(RetryableError, match="empty"):
        provider(server).draft(draft_request())


def test_make_llm_builds_providers(tmp_path):
    llm = make_llm("openai", api_key=API_KEY, offline_config=tmp_path / "unused.yaml")
    assert llm.provider == "openai" and llm.model == "gpt-4o-mini"
    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        make_llm("openai", api_key="", offline_config=tmp_path / "unused.yaml")
    with pytest.raises(SettingsError, match="got 'claude'"):
        make_llm("claude", offline_config=tmp_path / "unused.yaml")


def test_draft_output_is_capped_by_the_word_limit_or_a_fixed_ceiling():
    from bot.llm.openai_provider import DRAFT_MAX_TOKENS, draft_max_tokens

    assert draft_max_tokens(200) == 700
    assert draft_max_tokens(20) == 200  # never so low that a greeting and sign-off are cut
    assert draft_max_tokens(None) == DRAFT_MAX_TOKENS
