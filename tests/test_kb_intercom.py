"""The Intercom Help Center source against a fake Intercom over real HTTP, into a real ArticleStore.

python-intercom 5.0.1 is pointed at FakeIntercom (tests/fakes/intercom_api.py) with `base_url`;
every request it sends, and every answer the fake gives, is validated against Intercom's own
OpenAPI file (intercom-2.14.yaml, patched in tests/fakes/intercom_validation.py): the `intercom`
fixture fails the test on any violation. Store tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.intercom.help_center import FULL_LISTING_EVERY, IntercomHelpSource
from bot.helpdesks.intercom.help_center_payload import article_versions, page_changes, section_names
from bot.kb.store import ArticleStore
from bot.kb.sync import sync_source
from tests.fakes.intercom_api import FakeIntercom
from tests.fakes.intercom_validation import load_spec_dict, validate_intercom_request

REFUND_HTML = (
    '<h2>Getting a refund</h2><p>Open <b>Billing</b> &amp; choose <a href="/x">Refund</a>.</p>'
    "<ul><li>Card: 5&nbsp;days</li><li>PayPal: 1 day</li></ul><script>track()</script>"
)
REFUND_TEXT = "Getting a refund\n\nOpen Billing & choose Refund.\n\n- Card: 5 days\n\n- PayPal: 1 day"
ALL_PUBLISHED = {("1", "en"), ("1", "fr"), ("3", "en"), ("4", "en"), ("5", "en"), ("6", "en"), ("7", "en")}


class Clock:
    def __init__(self, t: float = 1_750_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def intercom():
    with FakeIntercom(per_page=2) as fake:
        yield fake
    # Any request python-intercom sent that violates intercom-2.14.yaml fails the test.
    assert fake.spec_violations == []


@pytest.fixture
def clock():
    return Clock()


def seed(fake: FakeIntercom) -> None:
    """7 articles (newest first: 7..1), so 4 pages of 2; 3 collections/sections, 2 pages."""
    fake.add_collection("10", "Billing", translations={"fr": "Facturation"})
    fake.add_collection("11", "Account")
    fake.add_collection("12", "Security", parent_id="11")
    fake.add_article("1", "Refunds", REFUND_HTML, parent_id=10, translations={
        "fr": {"title": "Remboursements", "body": "<p>Ouvrez <i>Facturation</i>.</p>", "state": "published"},
        "de": {"title": "Erstattungen", "body": "<p>Entwurf</p>", "state": "draft"}})
    fake.add_article("2", "Internal only", "<p>not ready</p>", state="draft", parent_id=11)
    fake.add_article("3", "Two-factor login", "<p>Use an app.</p>", parent_id=12)
    fake.add_article("4", "About us", "<p>We exist.</p>")
    fake.add_article("5", "Invoices", "<p>Download them.</p>", parent_id=10)
    fake.add_article("6", "Password reset", "<p>Click forgot.</p>", parent_id=11, translations={
        "fr": {"title": "Mot de passe", "body": "<p>brouillon</p>", "state": "draft"}})
    fake.add_article("7", "Shipping", "<p>We ship.</p>", parent_id=11)


def make_source(fake: FakeIntercom, clock: Clock, **kwargs) -> IntercomHelpSource:
    kwargs.setdefault("access_token", fake.token)
    return IntercomHelpSource(base_url=fake.base_url, now=clock, **kwargs)


def keys(kb: ArticleStore) -> set[tuple[str, str]]:
    return {(a.article_id, a.locale) for a in kb.articles()}


def by_key(kb: ArticleStore) -> dict:
    return {(a.article_id, a.locale): a for a in kb.articles()}


def pages(fake: FakeIntercom, path: str, since: int) -> list[int]:
    return [r.page for r in fake.log(path, since=since)]


def as_utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def cursor(kb: ArticleStore) -> dict:
    return json.loads(kb.cursor("intercom"))


# -- first sync ----------------------------------------------------------------------------


def test_first_sync_lists_every_page_and_stores_published_locales(intercom, kb, clock):
    seed(intercom)
    report = sync_source(make_source(intercom, clock), kb)

    assert keys(kb) == ALL_PUBLISHED  # drafts (2, 1/de, 6/fr) are not stored
    assert (report.added, report.updated, report.removed) == (7, 0, 0)
    stored = by_key(kb)
    en, fr = stored[("1", "en")], stored[("1", "fr")]
    assert (en.source, en.title, en.body, en.section) == ("intercom", "Refunds", REFUND_TEXT, "Billing")
    assert en.url == intercom.articles["1"]["url"]
    # (SQLite hands DateTime(timezone=True) back naive: compare as UTC; awareness is checked below.)
    assert as_utc(en.updated_at) == datetime.fromtimestamp(intercom.articles["1"]["updated_at"], tz=UTC)
    # The translation is its own article: its title, URL, body and the collection's French name.
    assert (fr.title, fr.body, fr.section) == ("Remboursements", "Ouvrez Facturation.", "Facturation")
    assert fr.url == intercom.articles["1"]["translated_content"]["fr"]["url"] and "/fr/" in fr.url
    assert stored[("3", "en")].section == "Security"  # a section inside a collection
    assert stored[("4", "en")].section == ""  # stands alone
    assert stored[("7", "en")].section == "Account"

    # Every page was read, the collections once, all with the pinned API version and the token.
    assert pages(intercom, "/articles", 0) == [1, 2, 3, 4]
    assert pages(intercom, "/help_center/collections", 0) == [1, 2]
    assert all(r.headers.get("Intercom-Version") == "2.14" for r in intercom.requests)
    assert all(r.headers.get("Authorization") == f"Bearer {intercom.token}" for r in intercom.requests)
    newest = max(a["updated_at"] for a in intercom.articles.values())
    assert cursor(kb) == {"updated_at": newest, "ids": ["7"], "listed_at": int(clock.t)}


# -- incremental runs ----------------------------------------------------------------------


def test_incremental_run_reads_only_the_pages_with_changes(intercom, kb, clock):
    seed(intercom)
    intercom.per_page = 3  # pages: [7 6 5] [4 3 2] [1]
    sync_source(make_source(intercom, clock), kb)
    first = cursor(kb)
    clock.t += 600

    # Nothing changed: one request, and the collections are not even listed.
    mark = intercom.mark()
    report = sync_source(make_source(intercom, clock), kb)
    assert pages(intercom, "/articles", mark) == [1]
    assert intercom.log("/help_center/collections", since=mark) == []
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert cursor(kb) == first

    # Article 3 (page 2) is edited: it moves to the top; page 1 ends with older articles.
    edited_at = intercom.edit_article("3", body="<p>Use an <b>authenticator</b> app.</p>", title="2FA")
    mark = intercom.mark()
    report = sync_source(make_source(intercom, clock), kb)
    assert pages(intercom, "/articles", mark) == [1]  # stopped early: pages 2 and 3 untouched
    assert report.updated == 1 and report.added == 0
    article = by_key(kb)[("3", "en")]
    assert (article.title, article.body, article.section) == ("2FA", "Use an authenticator app.", "Security")
    assert cursor(kb) == {"updated_at": edited_at, "ids": ["3"], "listed_at": first["listed_at"]}  # no full listing

    # Three edits spread the changes over two pages: page 3 is still not read.
    for article_id in ("1", "4", "5"):
        intercom.edit_article(article_id, title=f"Edited {article_id}")
    mark = intercom.mark()
    report = sync_source(make_source(intercom, clock), kb)
    assert pages(intercom, "/articles", mark) == [1, 2]
    assert report.updated == 3  # 1/fr is untouched: only the default locale changed
    assert {by_key(kb)[(i, "en")].title for i in ("1", "4", "5")} == {"Edited 1", "Edited 4", "Edited 5"}
    assert keys(kb) == ALL_PUBLISHED


def test_change_in_the_same_second_as_the_high_water_mark_is_not_missed(intercom, kb, clock):
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    mark_second = cursor(kb)["updated_at"]
    # Published in the same second as the newest article already applied, after that sync.
    intercom.add_article("8", "Late arrival", "<p>same second</p>", parent_id=10, updated_at=mark_second)
    clock.t += 60
    sync_source(make_source(intercom, clock), kb)
    assert by_key(kb)[("8", "en")].body == "same second"


# -- removals ------------------------------------------------------------------------------


def test_deleted_article_is_removed_at_the_next_full_listing(intercom, kb, clock):
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    intercom.delete_article("5")

    clock.t += 3600  # incremental: a deletion leaves no trace in the listing
    sync_source(make_source(intercom, clock), kb)
    assert ("5", "en") in keys(kb)

    clock.t += FULL_LISTING_EVERY  # the last full listing is now older than 24 h
    mark = intercom.mark()
    report = sync_source(make_source(intercom, clock), kb)
    assert pages(intercom, "/articles", mark) == [1, 2, 3]  # 6 articles left: 3 pages
    assert report.removed == 1
    assert keys(kb) == ALL_PUBLISHED - {("5", "en")}
    assert cursor(kb)["listed_at"] == int(clock.t)

    # `full=True` (kb sync --full) lists everything at once, whatever the cursor says.
    intercom.delete_article("4")
    clock.t += 60
    report = sync_source(make_source(intercom, clock), kb, full=True)
    assert report.removed == 1 and ("4", "en") not in keys(kb)


def test_published_article_switched_to_draft_is_removed(intercom, kb, clock):
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    clock.t += 60

    intercom.edit_article("5", state="draft")
    report = sync_source(make_source(intercom, clock), kb)
    assert report.removed == 1
    assert keys(kb) == ALL_PUBLISHED - {("5", "en")}

    # A translation back to draft removes that locale only.
    intercom.edit_translation("1", "fr", state="draft", bump_article=True)
    report = sync_source(make_source(intercom, clock), kb)
    assert report.removed == 1
    assert ("1", "fr") not in keys(kb) and ("1", "en") in keys(kb)


def test_translation_only_edit_is_picked_up_by_the_next_full_listing(intercom, kb, clock):
    # The spec documents the listing's sort key as the default language's updated_at, so an
    # edit to a translation alone need not move the article: the daily full listing catches it.
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    intercom.edit_translation("1", "fr", title="Remboursement rapide")
    clock.t += 60
    sync_source(make_source(intercom, clock), kb)
    assert by_key(kb)[("1", "fr")].title == "Remboursements"
    clock.t += FULL_LISTING_EVERY
    sync_source(make_source(intercom, clock), kb)
    assert by_key(kb)[("1", "fr")].title == "Remboursement rapide"


@pytest.mark.parametrize("change", ["delete a listed article", "edit an unlisted article"])
def test_listing_that_shifted_under_the_pager_deletes_nothing(intercom, kb, clock, change):
    seed(intercom)  # pages of 2: [7 6] [5 4] [3 2] [1]
    sync_source(make_source(intercom, clock), kb)
    clock.t += FULL_LISTING_EVERY
    before = cursor(kb)

    if change == "delete a listed article":  # 7 goes after page 1: 5 slides onto page 1, unseen
        intercom.on_request(r"^/articles\?page=2$", lambda fake: fake.delete_article("7"))
        skipped, gone = ("5", "en"), {("7", "en")}
    else:  # 4 is edited after page 1: it jumps to page 1, already read
        intercom.on_request(r"^/articles\?page=2$", lambda fake: fake.edit_article("4", title="Moved"))
        skipped, gone = ("4", "en"), set()

    report = sync_source(make_source(intercom, clock), kb)
    assert report.removed == 0
    assert skipped in keys(kb)  # a naive "complete" listing would have deleted it
    assert cursor(kb)["listed_at"] == before["listed_at"]  # so the next run lists everything again

    mark = intercom.mark()
    sync_source(make_source(intercom, clock), kb)
    assert pages(intercom, "/articles", mark)[-1] > 1  # a full listing
    assert keys(kb) == ALL_PUBLISHED - gone
    assert cursor(kb)["listed_at"] == int(clock.t)
    if change == "edit an unlisted article":
        assert by_key(kb)[("4", "en")].title == "Moved"


# -- locales -------------------------------------------------------------------------------


def test_locale_filter_keeps_only_the_asked_locales(intercom, kb, clock):
    seed(intercom)
    sync_source(make_source(intercom, clock, locales=("FR",)), kb)
    assert keys(kb) == {("1", "fr")}
    assert kb.articles(locales=["fr"])[0].title == "Remboursements"


def test_changing_the_locale_filter_drops_the_other_locales_at_the_next_full_listing(intercom, kb, clock):
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    sync_source(make_source(intercom, clock, locales=("en",)), kb, full=True)
    assert keys(kb) == ALL_PUBLISHED - {("1", "fr")}


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "7"}, 7.0),
    ({"X-RateLimit-Reset": "{reset}"}, 12.0),  # Intercom's own header: epoch seconds
])
def test_rate_limit_is_retryable_and_the_cursor_waits_for_the_whole_run(intercom, kb, clock, headers, expected):
    seed(intercom)
    sync_source(make_source(intercom, clock), kb)
    before = kb.cursor("intercom")
    clock.t += 60
    for article_id in ("1", "3", "5"):  # newest first: [5 3] [1 7] [6 4] ...: changes on pages 1-2
        intercom.edit_article(article_id, title=f"New {article_id}")
    headers = {k: v.format(reset=int(clock.t) + 12) for k, v in headers.items()}
    intercom.fail_next("GET", r"^/articles\?page=2$", 429, headers=headers)

    with pytest.raises(RetryableError) as raised:
        sync_source(make_source(intercom, clock), kb)
    assert raised.value.retry_after == expected
    assert "429" in str(raised.value) and "rate_limit_exceeded" in str(raised.value)
    # Page 1 was applied, but the cursor did not move: saving page 1's newer high-water mark
    # would make the next run stop at page 1 and never read article 1 on page 2.
    assert kb.cursor("intercom") == before
    titles = {k[0]: a.title for k, a in by_key(kb).items() if k[1] == "en"}
    assert (titles["5"], titles["3"], titles["1"]) == ("New 5", "New 3", "Refunds")
    assert "429" in kb.stats()[0]["last_error"]

    sync_source(make_source(intercom, clock), kb)  # the retry
    assert by_key(kb)[("1", "en")].title == "New 1"
    assert cursor(kb)["updated_at"] == intercom.articles["5"]["updated_at"]


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_are_permanent_and_say_what_to_fix(intercom, kb, clock, status):
    seed(intercom)
    if status == 401:
        source = make_source(intercom, clock, access_token="revoked-token")
    else:
        intercom.fail_next("GET", r"^/articles", 403)
        source = make_source(intercom, clock)
    with pytest.raises(PermanentError) as raised:
        sync_source(source, kb)
    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert "INTERCOM_ACCESS_TOKEN" in message and "'Read and list articles' permission" in message
    assert intercom.base_url in message
    assert "revoked-token" not in message and intercom.token not in message
    if status == 401:
        assert "Access Token Invalid" in message
    assert kb.articles() == [] and kb.cursor("intercom") is None
    assert "INTERCOM_ACCESS_TOKEN" in kb.stats()[0]["last_error"]


def test_server_errors_timeouts_and_refused_connections_are_retryable(intercom, kb, clock):
    seed(intercom)
    intercom.fail_next("GET", r"^/help_center/collections", 500)
    with pytest.raises(RetryableError) as raised:
        sync_source(make_source(intercom, clock), kb)
    assert "HTTP 500" in str(raised.value) and raised.value.retry_after is None

    intercom.delay_next("GET", r"^/articles", 1.0)
    with pytest.raises(RetryableError, match="no answer within 0.3 s"):
        sync_source(make_source(intercom, clock, timeout=0.3), kb)

    closed = IntercomHelpSource(intercom.token, base_url=intercom.base_url, now=clock)
    intercom.close()  # nothing listens on that port any more
    with pytest.raises(RetryableError, match="ConnectError"):
        sync_source(closed, kb)
    assert kb.cursor("intercom") is None


def test_not_found_is_permanent(intercom, kb, clock):
    source = IntercomHelpSource(intercom.token, base_url=intercom.base_url + "/wrong-prefix", now=clock)
    with pytest.raises(PermanentError, match="HTTP 404.*check the Intercom base URL"):
        sync_source(source, kb)
    intercom.requests.clear()  # the wrong path is not in the spec: that is the point here
    intercom.spec_violations.clear()


def test_a_given_httpx_client_is_used(intercom, kb, clock):
    seed(intercom)
    sent = []
    with httpx.Client(event_hooks={"request": [sent.append]}) as client:
        sync_source(make_source(intercom, clock, http_client=client), kb)
    assert len(sent) == len(intercom.requests) == 6 and keys(kb) == ALL_PUBLISHED


# -- the fake and its validation -----------------------------------------------------------


def test_spec_validation_rejects_what_intercom_would():
    url, good = "https://api.intercom.io/articles", {"Authorization": "Bearer t", "Intercom-Version": "2.14"}
    assert validate_intercom_request("GET", url + "?page=2&per_page=50", good, None) == []
    assert any("page" in v for v in validate_intercom_request("GET", url + "?page=abc", good, None))
    assert any("minimum" in v for v in validate_intercom_request("GET", url + "?page=0", good, None))
    assert any("'pages'" in v for v in validate_intercom_request("GET", url + "?pages=2", good, None))
    assert any("Intercom-Version" in v for v in validate_intercom_request(
        "GET", url, {"Authorization": "Bearer t", "Intercom-Version": "2.99"}, None))
    assert any("bearerAuth" in v for v in validate_intercom_request("GET", url, {}, None))


def test_overlay_declares_the_paging_parameters_the_vendor_file_lacks():
    def query_params(spec, path):
        return {p["name"] for p in spec["paths"][path]["get"].get("parameters", []) if p.get("in") == "query"}

    raw, patched = load_spec_dict(overlay=False), load_spec_dict()
    for path in ("/articles", "/help_center/collections"):
        assert query_params(raw, path) == set()
        assert query_params(patched, path) == {"page", "per_page"}


def test_fake_answers_400_and_records_a_request_that_violates_the_spec(intercom):
    response = httpx.get(f"{intercom.base_url}/articles", params={"page": "0"},
                         headers={"Authorization": f"Bearer {intercom.token}"})
    assert response.status_code == 400 and response.json()["type"] == "error.list"
    assert len(intercom.spec_violations) == 1 and "minimum of 1" in intercom.spec_violations[0]
    intercom.spec_violations.clear()


# -- the payload translation (pure) --------------------------------------------------------


def item(**fields):
    base = {"id": "9", "title": "T", "body": "<p>b</p>", "state": "published", "updated_at": 1_700_000_000,
            "url": "https://h/en/articles/9", "parent_id": 10}
    return {**base, **fields}


def test_one_language_help_center_takes_its_locale_from_translated_content():
    published, drafts = article_versions(
        item(translated_content={"type": "article_translated_content", "de": {"title": "T", "state": "published"}}),
        {"10": {"": "Hilfe"}})
    assert [(a.locale, a.section) for a in published] == [("de", "Hilfe")] and drafts == []


def test_default_locale_repeated_in_translated_content_is_read_once_and_locales_lowercased():
    published, drafts = article_versions(item(default_locale="en", translated_content={
        "en": {"title": "stale copy", "state": "published"},
        "pt-BR": {"title": "Olá", "body": "<p>x</p>", "state": "published", "updated_at": 1_700_000_100},
        "zh-CN": {"title": "无"}}), {})
    assert [(a.locale, a.title) for a in published] == [("en", "T"), ("pt-br", "Olá")]
    assert published[1].updated_at == datetime.fromtimestamp(1_700_000_100, tz=UTC)
    assert drafts == [("9", "zh-cn")]  # no state: not approved
    assert all(a.updated_at.tzinfo is UTC for a in published)


def test_unknown_locale_is_kept_under_a_locale_filter_and_sections_fall_back_to_default_name():
    upserts, removed = page_changes([item(), item(id="8", state="draft")], section_names(
        [{"id": "10", "name": "Billing", "translated_content": {"type": "group_translated_content"}}]),
        frozenset({"fr"}))
    assert [(a.article_id, a.locale, a.section) for a in upserts] == [("9", "", "Billing")]
    assert removed == (("8", ""),)
