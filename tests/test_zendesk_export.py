"""The Zendesk adapter's read-only ticket export (bot/helpdesk/zendesk.py: export_tickets) against
the stateful fake Zendesk (its export endpoint: tests/fakes/zendesk_export.py): cursor paging to
end_of_stream, deleted tickets, what agents set (tags, custom fields, priority), waiting out 429s
with the injected sleep, errors. See tests/zendesk_adapter_support.py for how the fake is wired
in; every request is validated against Zendesk's OpenAPI file (plus the export overlay).
"""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk import payload as shapes
from bot.helpdesks.zendesk.http import RateLimited
from tests.fakes.openapi_validation import validate_zendesk_request
from tests.fakes.zendesk_api import FakeZendesk
from tests.fakes.zendesk_export import export_cursor, validate_request

pytest.register_assert_rewrite("tests.zendesk_adapter_support")  # its asserts report like a test's

from tests.zendesk_adapter_support import (  # noqa: E402,F401  (fixtures: imported to be used)
    BASE_URL,
    BASIC,
    assert_clean,
    helpdesk,
    no_zenpy_force_env,
    rsps,
    zenpy_must_not_sleep,
)

EXPORT = "/api/v2/incremental/tickets/cursor.json"
SINCE = datetime(2024, 3, 1, tzinfo=UTC)
START = 1709251200  # SINCE in epoch seconds
FRENCH = "Ça ne marche plus — 日本語のお問い合わせも 🙂 « remboursement »"
HTMLISH = '<p>Login fails: <b>500</b> &amp; "Error"</p><script>alert(1)</script>\n<br/>retry?'


@pytest.fixture
def fake():
    f = FakeZendesk()
    f.add_ticket(10, subject="Too old", description="before the window", status="solved",
                 created_at="2024-01-15T09:00:00Z")
    f.add_ticket(11, subject="Remboursement demandé", description=FRENCH, requester_id=100, group_id=360005,
                 tags=["billing", "refund"], priority="high", status="open", created_at="2024-03-02T08:00:00Z",
                 custom_fields=[{"id": 360001, "value": "billing_dispute"}, {"id": 360002, "value": None},
                                {"id": 360003, "value": True}, {"id": 360004, "value": ["opt_a", "opt_b"]}])
    f.add_ticket(12, subject="Spam", description="buy now", status="deleted", created_at="2024-03-03T08:00:00Z")
    f.add_ticket(13, subject="Login broken", description=HTMLISH, status="new", created_at="2024-03-04T08:00:00Z")
    f.add_ticket(14, subject="How do I export?", description="Where is the button", tags=["how_to"],
                 priority="low", status="solved", created_at="2024-03-05T08:00:00Z",
                 custom_fields=[{"id": 360001, "value": "how_to"}])
    f.add_ticket(15, subject="Closed one", description="thanks", status="closed", created_at="2024-03-06T08:00:00Z")
    yield f
    f.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def exported(helpdesk, sleeps, since=SINCE, **kw):
    return helpdesk.export_tickets(since, sleep=sleeps.append, **kw)


def queries(fake) -> list[tuple[str, dict, int]]:
    return [(r.path, r.query, r.status) for r in fake.requests]


# ---- paging -------------------------------------------------------------------------------
def test_follows_cursors_until_end_of_stream(helpdesk, fake, sleeps):
    fake.export_page_size = 2  # 5 changed tickets (one deleted): pages [11, 12] [13, 14] [15]
    ids = [t.id for t in exported(helpdesk, sleeps)]

    assert ids == ["11", "13", "14", "15"]  # oldest change first; 10 predates start_time
    assert queries(fake) == [
        (EXPORT, {"start_time": str(START)}, 200),
        (EXPORT, {"cursor": export_cursor(START, 2)}, 200),  # the cursor alone, no start_time
        (EXPORT, {"cursor": export_cursor(START, 4)}, 200),
    ]  # and no 4th request: the last page had an after_cursor too, end_of_stream stopped it
    assert all(r.headers["Authorization"] == BASIC for r in fake.requests)
    assert sleeps == []
    assert_clean(fake)


def test_is_a_generator_reading_a_page_only_when_needed(helpdesk, fake, sleeps):
    fake.export_page_size = 2
    tickets = exported(helpdesk, sleeps)
    assert fake.count() == 0  # nothing read before the first ticket is asked for
    assert next(tickets).id == "11"
    assert fake.count() == 1
    assert next(tickets).id == "13"  # 12 (deleted) was the rest of page 1
    assert fake.count() == 2
    assert_clean(fake)


@pytest.fixture
def local_time_not_utc():
    """A process time zone of UTC+05:30, so a naive datetime read as local time would show."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "IST-05:30"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize("since", [
    datetime(2024, 3, 1),  # naive: taken as UTC, not as the machine's local time
    datetime(2024, 3, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
])
def test_start_time_is_the_epoch_of_since(helpdesk, fake, sleeps, since, local_time_not_utc):
    list(exported(helpdesk, sleeps, since=since))
    assert fake.requests[0].query == {"start_time": str(START)}
    assert_clean(fake)


def test_empty_export_yields_nothing_after_one_request(helpdesk, fake, sleeps):
    assert list(exported(helpdesk, sleeps, since=datetime(2025, 1, 1, tzinfo=UTC))) == []
    assert queries(fake) == [(EXPORT, {"start_time": "1735689600"}, 200)]
    assert_clean(fake)


def test_end_of_stream_false_without_after_cursor_raises_instead_of_stopping(helpdesk, fake, sleeps, monkeypatch):
    original = fake._export_tickets

    def no_cursor(*args, **kwargs):
        status, headers, body = original(*args, **kwargs)
        return status, headers, {**body, "after_cursor": None, "after_url": None}
    monkeypatch.setattr(fake, "_export_tickets", no_cursor)
    fake.export_page_size = 2
    with pytest.raises(RetryableError, match="no after_cursor"):
        list(exported(helpdesk, sleeps))
    assert fake.count() == 1
    assert_clean(fake)


# ---- what is parsed -----------------------------------------------------------------------
def test_deleted_tickets_are_skipped(helpdesk, fake, sleeps):
    ids = [t.id for t in exported(helpdesk, sleeps)]
    # Zendesk (the fake) did send ticket 12, with status "deleted": the adapter dropped it.
    _, _, page = fake.handle("GET", f"{BASE_URL}{EXPORT}?start_time={START}", {"Authorization": BASIC}, None)
    assert [(t["id"], t["status"]) for t in page["tickets"]][1] == (12, "deleted")
    assert len(page["tickets"]) == 5
    assert ids == ["11", "13", "14", "15"]
    assert_clean(fake)


def test_parses_what_agents_set(helpdesk, fake, sleeps):
    by_id = {t.id: t for t in exported(helpdesk, sleeps)}

    t = by_id["11"]
    assert (t.subject, t.description) == ("Remboursement demandé", FRENCH)
    assert (t.status, t.priority, t.group_id, t.requester_id) == ("open", "high", 360005, "100")
    assert t.tags == ("billing", "refund")
    # ids as strings, the null one left out, values as sent (bool, multi-select list).
    assert dict(t.custom_fields) == {"360001": "billing_dispute", "360003": True, "360004": ["opt_a", "opt_b"]}
    assert t.created_at == datetime(2024, 3, 2, 8, 0, tzinfo=UTC)

    html = by_id["13"]
    assert html.description == HTMLISH  # verbatim: cleaning text is the trainer's business
    assert (html.priority, html.tags, dict(html.custom_fields)) == (None, (), {})

    solved = by_id["14"]
    assert (solved.status, solved.priority, solved.tags) == ("solved", "low", ("how_to",))
    assert dict(solved.custom_fields) == {"360001": "how_to"}
    assert_clean(fake)


def test_fetch_ticket_fills_custom_fields_too(helpdesk, fake):
    assert dict(helpdesk.fetch_ticket("11").custom_fields) == {
        "360001": "billing_dispute", "360003": True, "360004": ["opt_a", "opt_b"]}
    assert_clean(fake)


def test_payload_parsers_are_tolerant():
    assert shapes.custom_fields_from_json(None) == {}
    assert shapes.custom_fields_from_json({"id": 1}) == {}  # not a list
    assert shapes.custom_fields_from_json([{"value": "x"}, "junk", {"id": 7, "value": 0}, {"id": 8, "value": ""}]) == {
        "7": 0, "8": ""}  # only null is "not set": 0 and "" are values
    assert shapes.export_ticket_from_json({"id": 5, "status": "deleted", "subject": "x"}) is None
    ticket = shapes.export_ticket_from_json({"id": 5, "status": "pending", "custom_fields": [{"id": 9, "value": "v"}]})
    assert (ticket.id, ticket.status, dict(ticket.custom_fields)) == ("5", "pending", {"9": "v"})


# ---- 429: wait with the injected sleep, then the same page again --------------------------
def test_429_waits_retry_after_seconds_and_resumes_the_same_page(helpdesk, fake, sleeps):
    fake.export_page_size = 2
    tickets = exported(helpdesk, sleeps)
    assert next(tickets).id == "11"
    fake.throttle_export("7")  # the request for page 2
    rest = [t.id for t in tickets]

    assert sleeps == [7.0]
    assert rest == ["13", "14", "15"]  # nothing lost, nothing twice
    assert queries(fake) == [
        (EXPORT, {"start_time": str(START)}, 200),
        (EXPORT, {"cursor": export_cursor(START, 2)}, 429),
        (EXPORT, {"cursor": export_cursor(START, 2)}, 200),  # the same page, not the next one
        (EXPORT, {"cursor": export_cursor(START, 4)}, 200),
    ]
    assert_clean(fake)


def test_429_without_retry_after_waits_a_minute(helpdesk, fake, sleeps):
    fake.throttle_export(None)
    assert [t.id for t in exported(helpdesk, sleeps)] == ["11", "13", "14", "15"]
    assert sleeps == [60.0]
    assert queries(fake) == [(EXPORT, {"start_time": str(START)}, 429), (EXPORT, {"start_time": str(START)}, 200)]
    assert_clean(fake)


def test_429s_beyond_max_waits_propagate(helpdesk, fake, sleeps):
    fake.throttle_export("5", "6", "8")
    with pytest.raises(RateLimited) as info:
        list(exported(helpdesk, sleeps, max_waits=2))
    assert sleeps == [5.0, 6.0]
    assert info.value.retry_after == 8
    assert [(r.query, r.status) for r in fake.requests] == [({"start_time": str(START)}, 429)] * 3
    assert_clean(fake)


def test_max_waits_counts_the_whole_export_not_each_page(helpdesk, fake, sleeps):
    fake.export_page_size = 2
    tickets = exported(helpdesk, sleeps, max_waits=1)
    fake.throttle_export("1")
    assert next(tickets).id == "11"  # page 1 after one wait
    fake.throttle_export("2")
    with pytest.raises(RateLimited):
        next(tickets)  # page 2's 429 would be the second wait
    assert sleeps == [1.0]
    assert [r.status for r in fake.requests] == [429, 200, 429]
    assert_clean(fake)


# ---- other errors propagate at once -------------------------------------------------------
def test_401_propagates_as_permanent_error(helpdesk, fake, sleeps):
    fake.fail_next("GET", r"^/api/v2/incremental/tickets/cursor", 401, body={"error": "Couldn't authenticate you"})
    with pytest.raises(PermanentError, match="401"):
        list(exported(helpdesk, sleeps))
    assert sleeps == []
    assert queries(fake) == [(EXPORT, {"start_time": str(START)}, 401)]
    assert_clean(fake)


def test_503_propagates_as_retryable_without_waiting(helpdesk, fake, sleeps):
    fake.export_page_size = 2
    tickets = exported(helpdesk, sleeps)
    assert next(tickets).id == "11"
    fake.fail_next("GET", r"^/api/v2/incremental/tickets/cursor", 503)
    with pytest.raises(RetryableError) as info:
        next(tickets)
    assert not isinstance(info.value, RateLimited)
    assert sleeps == []
    assert [r.status for r in fake.requests] == [200, 503]
    assert_clean(fake)


# ---- the fake's export overlay is narrow --------------------------------------------------
def test_export_overlay_relaxes_only_start_time_on_cursor_requests():
    auth = {"Authorization": BASIC}
    url = "https://acme.zendesk.com" + EXPORT
    # The vendor file's defect (tests/fakes/zendesk_export.py): start_time required on every request.
    # If this starts passing, Zendesk fixed the file and the overlay can go.
    assert any("start_time" in p for p in validate_zendesk_request("GET", f"{url}?cursor=abc", auth, None))
    assert validate_request("GET", f"{url}?cursor=abc", auth, None) == []
    assert validate_request("GET", f"{url}?start_time={START}", auth, None) == []
    assert validate_request("GET", url, auth, None)  # neither start_time nor cursor
    assert any("start_time" in p for p in validate_request("GET", f"{url}?start_time=yesterday", auth, None))
    assert any("basicAuth" in p for p in validate_request("GET", f"{url}?cursor=abc", {}, None))
    # Other paths go through the shared validator unchanged.
    nonsense = validate_request("GET", "https://acme.zendesk.com/api/v2/nonsense", auth, None)
    assert any("PathNotFound" in p for p in nonsense)
