"""The Zendesk adapter's failure handling (bot/helpdesk/zendesk.py) against the stateful fake
Zendesk: 429 (never sleeping in the worker), 5xx sent once, permanent 4xx, timeouts and refused
connections over HTTP, ZENDESK_URL / ZENPY_FORCE_* env handling, the session's construction.
See tests/zendesk_adapter_support.py for how the fake is wired in.
"""
from __future__ import annotations

import os
import time

import pytest
import requests
import responses
from zenpy import Zenpy

from bot.domain import Ticket
from bot.errors import BotError, PermanentError, RetryableError, SettingsError
from bot.helpdesks.zendesk import adapter as zendesk_module
from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
from bot.helpdesks.zendesk.http import RateLimited

pytest.register_assert_rewrite("tests.zendesk_adapter_support")  # its asserts report like a test's

from tests.zendesk_adapter_support import (  # noqa: E402,F401  (fixtures: imported to be used)
    BASE_URL,
    EMAIL,
    FORCE_VARS,
    HISTORY,
    REQUESTED_100,
    T1,
    TOKEN,
    UPDATE,
    assert_clean,
    bot_comments,
    fake,
    free_port,
    helpdesk,
    make_settings,
    no_zenpy_force_env,
    rsps,
    zenpy_must_not_sleep,
)


# ---- 429: never sleep in the worker -------------------------------------------------------
def test_429_on_get_raises_rate_limited_at_once(helpdesk, fake):
    fake.fail_next("GET", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "7"})
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value, RateLimited)
    assert info.value.retry_after == 7
    assert [(r.method, r.path, r.status) for r in fake.requests] == [("GET", T1, 429)]
    assert_clean(fake)


def test_429_on_the_history_read_raises_rate_limited(helpdesk, fake):
    fake.fail_next("GET", r"/tickets/requested", 429, headers={"Retry-After": "12"})
    with pytest.raises(RateLimited) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert info.value.retry_after == 12
    assert [(r.path, r.status) for r in fake.requests] == [(T1, 200), (REQUESTED_100, 429)]
    assert_clean(fake)


def test_429_on_put_raises_rate_limited_at_once_without_zenpy_sleeping(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "7"})
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        helpdesk.publish(ticket, UPDATE)
    assert time.monotonic() - started < 1.0
    assert isinstance(info.value, RateLimited)
    assert info.value.retry_after == 7
    assert [(p.status) for p in fake.puts(1)] == [429]
    assert fake.count() == 2  # the read before, the one PUT: no re-send
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_429_with_an_http_date_retry_after_still_raises_rate_limited(helpdesk, fake):
    fake.fail_next("GET", r"^/api/v2/tickets/1", 429, headers={"Retry-After": "Wed, 01 May 2024 10:00:07 GMT"})
    with pytest.raises(RateLimited) as info:
        helpdesk.fetch_ticket("1")
    assert info.value.retry_after is None  # unparsed: the task falls back to its own backoff
    assert fake.count() == 1
    assert_clean(fake)


# ---- 5xx: no transport-level retries -------------------------------------------------------
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_get_is_retryable_and_sent_once(helpdesk, fake, status):
    fake.fail_next("GET", r"^/api/v2/tickets/1", status)
    with pytest.raises(RetryableError) as info:
        helpdesk.fetch("1", history_limit=HISTORY)
    assert not isinstance(info.value, RateLimited)
    assert [(r.method, r.path, r.status) for r in fake.requests] == [("GET", T1, status)]
    assert_clean(fake)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_put_is_retryable_and_sent_once(helpdesk, fake, status):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", status)
    with pytest.raises(RetryableError) as info:
        helpdesk.publish(ticket, UPDATE)
    assert not isinstance(info.value, RateLimited)
    assert [p.status for p in fake.puts(1)] == [status]
    assert fake.count() == 2
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_harness_sanity_zenpys_default_session_would_retry_503(fake, rsps):
    """Proves the "sent once" tests above can fail: under `responses`, zenpy's own default
    transport (Retry(total=3, status_forcelist=[413, 503])) re-sends a 503 three times."""
    fake.install(rsps, base_url=BASE_URL)
    client = Zenpy(subdomain="acme", email=EMAIL, token=TOKEN, disable_cache=True)
    fake.fail_next("GET", r"^/api/v2/tickets/1", 503, times=None)
    with pytest.raises(requests.exceptions.RetryError):  # urllib3 gave up after its own retries
        client.tickets(id=1)
    assert fake.count("GET", T1) == 4
    assert_clean(fake)


# ---- permanent failures --------------------------------------------------------------------
def test_404_ticket_is_permanent(helpdesk, fake):
    with pytest.raises(PermanentError, match="404"):
        helpdesk.fetch("999", history_limit=HISTORY)
    assert [(r.path, r.status) for r in fake.requests] == [("/api/v2/tickets/999.json", 404)]
    assert_clean(fake)


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_on_get_are_permanent(helpdesk, fake, status):
    fake.fail_next("GET", r"^/api/v2/tickets/1", status, body={"error": "Couldn't authenticate you"})
    with pytest.raises(PermanentError):
        helpdesk.fetch("1", history_limit=HISTORY)
    assert fake.count() == 1
    assert_clean(fake)


def test_401_on_put_is_permanent(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 401, body={"error": "Couldn't authenticate you"})
    with pytest.raises(PermanentError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_404_on_put_is_permanent(helpdesk, fake):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 404, body={"error": "RecordNotFound", "description": "Not found"})
    with pytest.raises(PermanentError):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


@pytest.mark.parametrize("body", [
    {"error": "RecordInvalid", "description": "Record validation errors",
     "details": {"group": [{"description": "Group: is invalid", "error": "InvalidValue"}]}},
    {"error": "invalid", "description": "Invalid"},  # zenpy maps this one to SearchResponseLimitExceeded
])
def test_422_on_put_is_permanent(helpdesk, fake, body):
    ticket = helpdesk.fetch_ticket("1")
    fake.fail_next("PUT", r"^/api/v2/tickets/1", 422, body=body)
    with pytest.raises(PermanentError, match="422"):
        helpdesk.publish(ticket, UPDATE)
    assert len(fake.puts(1)) == 1
    assert bot_comments(fake, 1) == []
    assert_clean(fake)


def test_non_json_5xx_body_on_put_is_retryable(helpdesk, fake, rsps):
    ticket = helpdesk.fetch_ticket("1")
    # A load balancer's HTML error page: zenpy falls back to raise_for_status (HTTPError).
    rsps.add(responses.PUT, BASE_URL + T1, body="<html>Bad gateway</html>", status=502,
             content_type="text/html")
    rsps.registered().insert(0, rsps.registered().pop())  # checked before the fake's catch-all
    with pytest.raises(RetryableError):
        helpdesk.publish(ticket, UPDATE)
    assert fake.puts(1) == []  # never reached the fake
    assert_clean(fake)


# ---- the HTTP front-end: timeouts, refused connections ----------------------------------------
def test_http_timeout_on_get_is_retryable(fake):
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0.5").zendesk)
    fake.delay_next("GET", r"^/api/v2/tickets/1", 2)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        hd.fetch("1", history_limit=HISTORY)
    assert time.monotonic() - started < 1.9
    assert not isinstance(info.value, RateLimited)
    assert isinstance(info.value.__cause__, requests.Timeout)
    assert fake.count() == 1
    assert_clean(fake)


def test_http_timeout_on_put_is_retryable(fake):
    fake.serve()
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0.5").zendesk)
    ticket = hd.fetch_ticket("1")
    fake.delay_next("PUT", r"^/api/v2/tickets/1", 2)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        hd.publish(ticket, UPDATE)
    assert time.monotonic() - started < 1.9
    assert isinstance(info.value.__cause__, requests.Timeout)
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_connection_refused_is_retryable(fake):
    port = free_port()
    settings = make_settings(ZENDESK_URL=f"http://127.0.0.1:{port}", ZENDESK_TIMEOUT="2")
    hd = ZendeskHelpdesk.from_settings(settings.zendesk)
    with pytest.raises(RetryableError) as info:
        hd.fetch("1", history_limit=HISTORY)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    with pytest.raises(RetryableError) as info:
        hd.publish(Ticket(id="1", subject="s", description="d", updated_at="2024-05-01T10:00:00Z"), UPDATE)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    assert fake.requests == []


# ---- ZENDESK_URL and the ZENPY_FORCE_* environment ----------------------------------------------
def test_from_settings_without_zendesk_url_ignores_stale_force_env(fake, rsps, monkeypatch):
    fake.install(rsps, base_url=BASE_URL)
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", "127.0.0.1:9")  # e.g. left by an earlier instance
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    hd = ZendeskHelpdesk.from_settings(make_settings().zendesk)
    ticket = hd.fetch_ticket("1")  # read: https://acme.zendesk.com, as configured
    hd.publish(ticket, UPDATE)  # write: must go to the same place
    assert len(fake.puts(1)) == 1
    assert_clean(fake)


def test_zero_timeout_is_rejected_or_handled_consistently(fake):
    fake.serve()
    try:
        settings = make_settings(ZENDESK_URL=fake.base_url, ZENDESK_TIMEOUT="0")
    except SettingsError:
        return  # rejecting it at start-up is a fine fix
    hd = ZendeskHelpdesk.from_settings(settings.zendesk)
    try:
        hd.fetch_ticket("1")
    except BotError:
        pass
    except ValueError as exc:
        pytest.fail(f"raw ValueError escaped the adapter: {exc}")
    assert hd._client.tickets.timeout == hd._timeout


def test_zendesk_url_env_vars_do_not_leak_between_tests():
    # Runs after the HTTP tests in file order: the autouse fixture restored the environment.
    for name in FORCE_VARS:
        assert name not in os.environ


# ---- construction ---------------------------------------------------------------------------
def test_from_settings_session_has_no_transport_retries_and_a_rate_limit_hook(fake, rsps):
    hd = ZendeskHelpdesk.from_settings(make_settings(ZENDESK_TIMEOUT="3").zendesk)
    session = hd._session
    for prefix in ("https://", "http://"):
        assert session.get_adapter(prefix + "x").max_retries.total == 0
    assert zendesk_module.raise_on_rate_limit in session.hooks["response"]
    assert session.auth == (f"{EMAIL}/token", TOKEN)
    assert hd._client.tickets.timeout == 3.0
