"""The Zendesk Guide knowledge source against a fake Help Center (tests/fakes/guide_api.py),
mocked at `requests` by `responses`, applied to a real ArticleStore on SQLite and PostgreSQL.

The fake's export is inclusive of `start_time` (like Support's time-based exports), so the
article(s) changed exactly at the saved `end_time` are sent once more by the next export:
the store counts those as unchanged and its revision does not move for them.
"""
from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime

import pytest
import requests
import responses

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk.guide import RECONCILE_AFTER, ZendeskGuideSource
from bot.kb.store import ArticleStore
from bot.kb.sync import sync_source
from tests.fakes.guide_api import START, FakeGuide

BASE = "https://acme.zendesk.com"
EMAIL, TOKEN = "bot@acme.com", "t0ken"
T0 = START - 10_000  # articles were written before the fake's "now"
INCREMENTAL = "/api/v2/help_center/incremental/articles.json"

REFUND_HTML = (
    "<h2>How refunds work</h2><p>Refunds take 5&nbsp;days &amp; go back to the original card.</p>"
    "<ul><li>Card: 5 days</li><li>PayPal: 1&nbsp;day</li></ul><script>track('refund')</script>"
    "<style>p{color:red}</style><p>Caf&eacute; owners: see <a href='/hc/billing'>billing</a> &lt;here&gt;.</p>"
)
REFUND_TEXT = (
    "How refunds work\n\nRefunds take 5 days & go back to the original card.\n\n"
    "- Card: 5 days\n\n- PayPal: 1 day\n\nCafé owners: see billing <here>."
)
ALL_LIVE = {("1", "en-us"), ("2", "en-us"), ("4", "en-us"), ("4", "fr"), ("5", "en-us")}


def seed(fake: FakeGuide) -> FakeGuide:
    fake.add_section(10, en_us="Billing", fr="Facturation")
    fake.add_section(20, en_us="Accounts")
    fake.add_article(1, 10, "Refunds", REFUND_HTML, at=T0)
    fake.add_article(2, 20, "Reset your password", "<p>Click <b>Forgot password</b>.</p>", at=T0 + 1)
    fake.add_article(3, 10, "New pricing (draft)", "<p>Not yet.</p>", draft=True, at=T0 + 2)
    fake.add_article(4, 10, "Invoices", "<p>Download invoices from Billing.</p>", at=T0 + 3)
    fake.translate(4, "fr", "Factures", "<p>T&eacute;l&eacute;chargez vos factures.</p>", at=T0 + 3)
    fake.add_article(5, 20, "Two-factor login", "<p>Use an authenticator app.</p>", at=T0 + 4)
    return fake


@pytest.fixture
def fake():
    f = seed(FakeGuide(export_page_size=2, locales=("en-us", "fr")))
    yield f
    assert f.violations == []


@pytest.fixture
def rsps(fake):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock, base_url=BASE)
        yield mock


def source(fake: FakeGuide, base: str = BASE, token: str = TOKEN, **kw) -> ZendeskGuideSource:
    return ZendeskGuideSource(base, EMAIL, token, now=lambda: fake.clock, **kw)


def stored(kb: ArticleStore) -> dict:
    return {(a.article_id, a.locale): a for a in kb.articles()}


def cursor(kb: ArticleStore) -> dict:
    return json.loads(kb.cursor("zendesk"))


def utc(value: datetime) -> datetime:  # SQLite hands back naive datetimes
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def export_starts(fake: FakeGuide, since: int = 0) -> list[int]:
    return [int(r.query["start_time"]) for r in fake.requests[since:] if "incremental" in r.path]


# ---- 1. first sync -------------------------------------------------------------------------
def test_first_sync_pulls_every_published_article_over_several_pages(fake, rsps, kb):
    report = sync_source(source(fake), kb)

    articles = stored(kb)
    assert set(articles) == ALL_LIVE  # the draft (3) is not there
    assert (report.added, report.updated, report.removed) == (5, 0, 0)
    refund = articles[("1", "en-us")]
    assert refund.body == REFUND_TEXT
    assert (refund.title, refund.section, refund.url) == ("Refunds", "Billing", f"{BASE}/hc/en-us/articles/1-refunds")
    assert utc(refund.updated_at) == datetime.fromtimestamp(T0, UTC)
    french = articles[("4", "fr")]
    assert (french.title, french.body, french.section, french.url) == (
        "Factures", "Téléchargez vos factures.", "Facturation", f"{BASE}/hc/fr/articles/4-factures")
    assert articles[("2", "en-us")].section == "Accounts"

    # Paged by end_time: five export pages of two, then the reconcile listing per locale.
    assert export_starts(fake) == [0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]
    assert all(r.query["include"] == "translations" for r in fake.calls("incremental"))
    assert len(fake.calls("/sections")) == 1
    assert [r.path for r in fake.calls("/locales")] == ["/api/v2/help_center/locales.json"]
    assert {r.path for r in fake.calls("/articles.json")} >= {
        "/api/v2/help_center/en-us/articles.json", "/api/v2/help_center/fr/articles.json"}
    assert all(r.headers["Authorization"] == fake.credentials for r in fake.requests)
    assert cursor(kb) == {"start_time": T0 + 4, "reconciled_at": fake.clock}


def test_works_over_real_http_too(kb):
    with seed(FakeGuide(export_page_size=2, locales=("en-us", "fr"))) as fake:
        sync_source(source(fake, base=fake.base_url), kb)
        assert set(stored(kb)) == ALL_LIVE and fake.violations == []


# ---- 2. later syncs: only changes ----------------------------------------------------------
def test_second_sync_starts_at_saved_end_time_and_applies_only_changes(fake, rsps, kb):
    guide = source(fake)
    sync_source(guide, kb)
    saved, revision = cursor(kb)["start_time"], kb.revision()
    fake.export_page_size = 1000
    fake.tick(60)
    fake.edit(2, body="<p>Click <b>Forgot password</b>, then check your inbox.</p>", at=fake.clock)
    seen = len(fake.requests)

    report = sync_source(guide, kb)

    assert export_starts(fake, seen) == [saved]  # one request, no reconcile within 24 h
    assert {r.path for r in fake.requests[seen:]} == {INCREMENTAL, "/api/v2/help_center/sections.json"}
    # Back come the edited article and, the export being inclusive, the one at end_time (5).
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 0)
    edited = stored(kb)[("2", "en-us")]
    assert edited.body == "Click Forgot password, then check your inbox."
    assert utc(edited.updated_at) == datetime.fromtimestamp(fake.clock, UTC)
    assert kb.revision() != revision
    assert cursor(kb) == {"start_time": fake.clock, "reconciled_at": START}

    revision, seen = kb.revision(), len(fake.requests)
    quiet = sync_source(guide, kb)  # nothing changed: only the boundary article comes back
    assert export_starts(fake, seen) == [fake.clock]
    assert (quiet.added, quiet.updated, quiet.unchanged, quiet.removed) == (0, 0, 1, 0)
    assert kb.revision() == revision


# ---- 3. drafts, deletions, reconcile ---------------------------------------------------------
def test_article_switched_to_draft_is_removed(fake, rsps, kb):
    guide = source(fake)
    sync_source(guide, kb)
    fake.tick()
    fake.edit(2, draft=True, at=fake.clock)

    report = sync_source(guide, kb)

    assert report.removed == 1
    assert set(stored(kb)) == ALL_LIVE - {("2", "en-us")}


def test_deleted_article_stays_until_the_reconcile_is_due(fake, rsps, kb):
    guide = source(fake)
    sync_source(guide, kb)
    fake.delete(5)
    fake.tick(RECONCILE_AFTER - 1)
    seen = len(fake.requests)

    sync_source(guide, kb)  # within 24 h: the export alone, which never reports deletions
    assert ("5", "en-us") in stored(kb)
    assert not [r for r in fake.requests[seen:] if r.path.endswith("/articles.json") and "incremental" not in r.path]

    fake.tick(1)
    report = sync_source(guide, kb)  # 24 h since the last listing: reconcile
    assert report.removed == 1
    assert set(stored(kb)) == ALL_LIVE - {("5", "en-us")}
    assert cursor(kb)["reconciled_at"] == fake.clock


def test_full_sync_removes_deleted_articles_at_once(fake, rsps, kb):
    guide = source(fake)
    sync_source(guide, kb)
    fake.delete(1)
    fake.tick()

    assert ("1", "en-us") in stored(kb)
    report = sync_source(guide, kb, full=True)

    assert report.removed == 1 and report.added == 0
    assert set(stored(kb)) == ALL_LIVE - {("1", "en-us")}


def test_reconcile_lists_every_page_of_a_locale(fake, rsps, kb, monkeypatch):
    monkeypatch.setattr("bot.helpdesks.zendesk.guide.PAGE_SIZE", 2)
    sync_source(source(fake), kb)
    listing = fake.calls("/en-us/articles.json")
    # 5 en-us articles (the draft too, which the listing shows to agents) in pages of 2.
    assert len(listing) == 3 and "page[after]" not in listing[0].query
    assert len({r.query["page[after]"] for r in listing[1:]}) == 2
    assert all(r.query["page[size]"] == "2" for r in listing)
    assert set(stored(kb)) == ALL_LIVE


# ---- 4. locales ------------------------------------------------------------------------------
def test_locale_filter_is_case_insensitive_and_lists_only_those_locales(fake, rsps, kb):
    guide = source(fake, locales=("FR",))
    report = sync_source(guide, kb)

    assert set(stored(kb)) == {("4", "fr")}
    assert (report.added, report.removed) == (1, 0)  # the export's en-us versions were skipped
    assert not fake.calls("/locales")
    assert {r.path for r in fake.calls("/articles.json")} == {INCREMENTAL, "/api/v2/help_center/fr/articles.json"}

    fake.tick()
    fake.edit(2, title="Reset your password (new)", at=fake.clock)
    fake.edit(4, locale="fr", body="<p>Nouveau.</p>", at=fake.clock)
    report = sync_source(guide, kb)  # export only: no listing to clean up after it
    assert (report.added, report.updated) == (0, 1)
    assert set(stored(kb)) == {("4", "fr")} and stored(kb)[("4", "fr")].body == "Nouveau."


def test_translations_follow_their_own_edits_and_drafts(fake, rsps, kb):
    guide = source(fake)
    sync_source(guide, kb)
    fake.tick()
    fake.edit(4, locale="fr", title="Factures et reçus", at=fake.clock)
    fake.translate(1, "fr", "Remboursements", "<p>Cinq jours.</p>", at=fake.clock)

    report = sync_source(guide, kb)

    articles = stored(kb)
    assert (report.added, report.updated) == (1, 1)
    assert articles[("4", "fr")].title == "Factures et reçus"
    assert articles[("4", "en-us")].title == "Invoices"
    assert (articles[("1", "fr")].body, articles[("1", "fr")].section) == ("Cinq jours.", "Facturation")

    fake.tick()
    fake.edit(4, locale="fr", draft=True, at=fake.clock)
    assert sync_source(guide, kb).removed == 1
    assert ("4", "fr") not in stored(kb) and ("4", "en-us") in stored(kb)


def test_reconcile_brings_translations_when_the_export_shows_one_locale(fake, rsps, kb):
    fake.export_sideloads_translations = False
    guide = source(fake)

    sync_source(guide, kb)

    assert set(stored(kb)) == ALL_LIVE  # (4, fr) came from the fr listing
    assert stored(kb)[("4", "fr")].title == "Factures"


# ---- 5. rate limit and resume ------------------------------------------------------------------
def test_rate_limit_mid_export_keeps_the_applied_pages_and_resumes(fake, rsps, kb):
    guide = source(fake)
    fake.fail(429, path="incremental", after=1, retry_after=37)

    with pytest.raises(RetryableError) as failure:
        sync_source(guide, kb)

    assert failure.value.retry_after == 37.0
    assert cursor(kb) == {"start_time": T0 + 1}  # page 1 applied; no reconcile yet
    assert set(stored(kb)) == {("1", "en-us"), ("2", "en-us")}
    assert "429" in kb.stats()[0]["last_error"]
    seen = len(fake.requests)

    report = sync_source(guide, kb)

    assert export_starts(fake, seen)[0] == T0 + 1
    assert report.added == 3  # 4 (en-us, fr) and 5: nothing lost, nothing counted twice
    assert set(stored(kb)) == ALL_LIVE
    assert cursor(kb) == {"start_time": T0 + 4, "reconciled_at": fake.clock}
    assert kb.stats()[0]["last_error"] is None


# ---- 6. permanent failures and the loop guard ------------------------------------------------
def test_bad_credentials_are_a_permanent_error_that_says_what_to_fix(fake, rsps, kb):
    with pytest.raises(PermanentError) as failure:
        sync_source(source(fake, token="wrong"), kb)

    message = str(failure.value)
    assert "401" in message and "ZENDESK_API_TOKEN" in message
    assert len(fake.requests) == 1 and fake.requests[0].status == 401
    assert kb.cursor("zendesk") is None and stored(kb) == {}
    assert "401" in kb.stats()[0]["last_error"]


def test_export_stuck_on_one_timestamp_stops_with_a_warning(kb, caplog):
    fake = FakeGuide(export_page_size=2)
    fake.add_section(10, en_us="Billing")
    for article_id in (1, 2, 3):  # three changes in the same second, pages of two
        fake.add_article(article_id, 10, f"Article {article_id}", "<p>x</p>", at=T0)
    guide = source(fake)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock, base_url=BASE)
        with caplog.at_level(logging.WARNING, logger="bot.helpdesks.zendesk.guide"):
            sync_source(guide, kb)

        assert export_starts(fake) == [0, T0]  # the second page repeated the first: stop
        assert "did not advance" in caplog.text
        assert {key[0] for key in stored(kb)} == {"1", "2", "3"}  # 3 came with the reconcile
        assert cursor(kb)["start_time"] == T0
        seen = len(fake.requests)
        sync_source(guide, kb)
        assert export_starts(fake, seen) == [T0]
    assert fake.violations == []


# ---- the transport, without a database ---------------------------------------------------------
@pytest.mark.parametrize("status, kind, words", [
    (500, RetryableError, "500"),
    (503, RetryableError, "503"),
    (403, PermanentError, "agent or admin"),
    (404, PermanentError, "not found (404) while the Help Center answers"),
    (422, PermanentError, "422"),
])
def test_status_codes_map_to_named_errors_and_are_not_retried(fake, rsps, status, kind, words):
    fake.fail(status, path="incremental", times=5)
    with pytest.raises(kind) as failure:
        list(source(fake).batches(None))
    assert words in str(failure.value)
    assert len(fake.calls("incremental")) == 1  # no transport retries: the caller owns them
    # A 404 on the export asks whether the Help Center is there at all (it is, here).
    probes = [r.path for r in fake.requests[1:]]
    assert probes == (["/api/v2/help_center/locales.json"] if status == 404 else [])


def test_429_without_retry_after(fake, rsps):
    fake.fail(429, path="incremental")
    with pytest.raises(RetryableError) as failure:
        list(source(fake).batches(None))
    assert failure.value.retry_after is None


@pytest.mark.parametrize("body, words", [
    ("<html>Maintenance</html>", "non-JSON"),
    ('{"articles": {"id": 1}, "end_time": 1}', "malformed"),
    ('{"articles": [{"id": 1, "title": "no locale"}], "end_time": 1}', "malformed"),
    ('{"articles": [], "end_time": "soon"}', "malformed"),
])
def test_unreadable_answers_are_permanent_errors_naming_the_url(body, words):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, BASE + INCREMENTAL, body=body, status=200)
        with pytest.raises(PermanentError) as failure:
            list(ZendeskGuideSource(BASE, EMAIL, TOKEN).batches(None))
    assert words in str(failure.value) and f"{BASE}{INCREMENTAL}" in str(failure.value)


def test_timeouts_and_refused_connections_are_retryable():
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, BASE + INCREMENTAL, body=requests.exceptions.ReadTimeout("slow"))
        with pytest.raises(RetryableError, match="ReadTimeout"):
            list(ZendeskGuideSource(BASE, EMAIL, TOKEN).batches(None))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError, match="ConnectionError"):
        list(ZendeskGuideSource(f"http://127.0.0.1:{port}", EMAIL, TOKEN, timeout=2).batches(None))


def test_unreadable_cursor_starts_over(fake, rsps):
    batch = next(source(fake).batches("not json"))
    assert fake.calls("incremental")[0].query["start_time"] == "0"
    assert json.loads(batch.cursor) == {"start_time": T0 + 1}


def test_the_fake_fails_loudly_on_requests_the_docs_do_not_allow():
    fake = FakeGuide()
    auth = (f"{EMAIL}/token", TOKEN)
    with responses.RequestsMock() as mock:
        fake.install(mock, base_url=BASE)
        get = lambda path, **params: requests.get(BASE + path, params=params, auth=auth)  # noqa: E731
        assert get(INCREMENTAL, start_time="1.5").status_code == 400
        assert get(INCREMENTAL).status_code == 400  # no start_time
        assert get(INCREMENTAL, start_time="0", per_page="5").status_code == 400
        assert get("/api/v2/help_center/en-us/articles.json", **{"page[size]": "500"}).status_code == 400
        assert get("/api/v2/help_center/sections.json", **{"page[size]": "10", "include": "users"}).status_code == 400
        assert requests.get(BASE + INCREMENTAL, params={"start_time": "0"}).status_code == 401
        assert get("/api/v2/help_center/de/articles.json", **{"page[size]": "10"}).status_code == 404
        assert get(INCREMENTAL, start_time="0").status_code == 200
    assert len(fake.violations) == 5
