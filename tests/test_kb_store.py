"""The articles table and each source's cursor and revision: bot/kb/store.py, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.kb.model import Article, SyncBatch


def art(article_id, body="body", locale="en-us", title=None, source="zendesk", **extra) -> Article:
    return Article(source, article_id, locale, title or f"Title {article_id}", body, **extra)


def counts(report):
    return (report.added, report.updated, report.unchanged, report.removed)


def keys(store, locales=None):
    return [(a.source, a.article_id, a.locale) for a in store.articles(locales)]


def revision(store, source="zendesk"):
    return dict(store.revision()).get(source, 0)


def test_empty_store(kb):
    assert kb.revision() == ()
    assert kb.articles() == []
    assert kb.cursor("zendesk") is None
    assert kb.stats() == []


def test_apply_adds_articles_round_trips_fields_and_saves_cursor(kb):
    updated = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    a = art("1", "Grüße — 日本語", url="https://help/1", section="Setup", updated_at=updated)
    report = kb.apply("zendesk", SyncBatch(upserts=(a, art("2")), cursor="page-2"))
    assert counts(report) == (2, 0, 0, 0) and report.cursor == "page-2" and report.source == "zendesk"
    assert kb.cursor("zendesk") == "page-2"
    assert kb.revision() == (("zendesk", 1),)
    stored = kb.articles()
    assert [s.article_id for s in stored] == ["1", "2"]
    first = stored[0]
    assert (first.title, first.body, first.url, first.section) == (
        "Title 1", "Grüße — 日本語", "https://help/1", "Setup")
    assert first.updated_at == updated  # time-zone aware on SQLite too


def test_resending_identical_articles_is_unchanged_and_keeps_the_revision(kb):
    batch = SyncBatch(upserts=(art("1"), art("2")), cursor="c1")
    kb.apply("zendesk", batch)
    report = kb.apply("zendesk", SyncBatch(upserts=batch.upserts, cursor="c2"))
    assert counts(report) == (0, 0, 2, 0)
    assert revision(kb) == 1
    assert kb.cursor("zendesk") == "c2"  # the cursor moves on even when nothing changed


def test_a_new_source_timestamp_alone_is_not_a_change(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),)))
    later = datetime(2027, 1, 1, tzinfo=UTC)
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1", updated_at=later),)))
    assert counts(report) == (0, 0, 1, 0) and revision(kb) == 1


@pytest.mark.parametrize(
    "change", [{"body": "new body"}, {"title": "New title"}, {"url": "https://x"}, {"section": "S2"}]
)
def test_any_content_change_is_an_update_and_bumps_the_revision(kb, change):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"), art("2"))))
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1", **change), art("2"))))
    assert counts(report) == (0, 1, 1, 0)
    assert revision(kb) == 2
    stored = kb.articles()[0]
    field = next(iter(change))
    assert getattr(stored, field) == change[field]


def test_same_id_in_two_locales_is_two_articles(kb):
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1", locale="en-us"), art("1", locale="de"))))
    assert counts(report) == (2, 0, 0, 0)
    assert keys(kb) == [("zendesk", "1", "de"), ("zendesk", "1", "en-us")]


def test_repeated_article_in_one_page_later_copy_wins(kb):
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1", "first"), art("1", "first"))))
    assert counts(report) == (1, 0, 0, 0)
    kb.apply("zendesk", SyncBatch(upserts=(art("2", "old"), art("2", "newer"))))
    assert [a.body for a in kb.articles()] == ["first", "newer"]


def test_repeated_changed_article_is_counted_once(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),)))
    report = kb.apply("zendesk", SyncBatch(upserts=(art("3", "v1"), art("3", "v2"), art("1"))))
    assert counts(report) == (1, 0, 1, 0)


def test_removed_deletes_only_stored_articles_and_counts_them(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"), art("2"), art("1", locale="de"))))
    report = kb.apply("zendesk", SyncBatch(removed=(("1", "en-us"), ("404", "en-us")), cursor="c"))
    assert counts(report) == (0, 0, 0, 1)
    assert keys(kb) == [("zendesk", "1", "de"), ("zendesk", "2", "en-us")]
    assert revision(kb) == 2


def test_removing_nothing_that_exists_keeps_the_revision(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),)))
    assert counts(kb.apply("zendesk", SyncBatch(removed=(("404", "en-us"),)))) == (0, 0, 0, 0)
    assert revision(kb) == 1


def test_an_article_both_upserted_and_removed_in_a_batch_is_kept(kb):
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1"),), removed=(("1", "en-us"),)))
    assert counts(report) == (1, 0, 0, 0)
    assert keys(kb) == [("zendesk", "1", "en-us")]


def test_complete_listing_deletes_articles_not_live(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"), art("2"), art("3"), art("4"))))
    kb.apply("intercom", SyncBatch(upserts=(art("1", source="intercom"),)))
    # The last page of a full listing: 4 on this page, 2 listed on earlier pages, 1 and 3 gone.
    report = kb.apply(
        "zendesk",
        SyncBatch(upserts=(art("4"),), complete=True, live=frozenset({("2", "en-us")})),
    )
    assert counts(report) == (0, 0, 1, 2)
    assert keys(kb) == [("intercom", "1", "en-us"), ("zendesk", "2", "en-us"), ("zendesk", "4", "en-us")]
    assert revision(kb) == 2 and revision(kb, "intercom") == 1


def test_incomplete_batch_never_deletes_unlisted_articles(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"), art("2"))))
    kb.apply("zendesk", SyncBatch(upserts=(art("2"),), live=frozenset({("2", "en-us")})))
    assert [a.article_id for a in kb.articles()] == ["1", "2"]


def test_failed_batch_changes_nothing_and_keeps_the_previous_cursor(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),), cursor="c1"))
    bad = SyncBatch(upserts=(art("2"), art("3", source="intercom")), removed=(("1", "en-us"),), cursor="c2")
    with pytest.raises(ValueError, match="does not belong to source 'zendesk'"):
        kb.apply("zendesk", bad)
    assert kb.cursor("zendesk") == "c1"
    assert keys(kb) == [("zendesk", "1", "en-us")]
    assert kb.revision() == (("zendesk", 1),)


def test_batch_without_cursor_keeps_the_saved_one(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),), cursor="c1"))
    assert kb.apply("zendesk", SyncBatch(upserts=(art("2"),))).cursor is None
    assert kb.cursor("zendesk") == "c1"


def test_replace_all_makes_the_given_articles_the_whole_content(kb):
    kb.replace_all("arduino", [art("a", source="arduino", locale=""), art("b", source="arduino", locale="")])
    kb.apply("zendesk", SyncBatch(upserts=(art("z"),)))
    report = kb.replace_all(
        "arduino", [art("b", "changed", source="arduino", locale=""), art("c", source="arduino", locale="")]
    )
    assert counts(report) == (1, 1, 0, 1)
    assert keys(kb) == [("arduino", "b", ""), ("arduino", "c", ""), ("zendesk", "z", "en-us")]
    assert revision(kb, "arduino") == 2
    assert counts(kb.replace_all("arduino", [])) == (0, 0, 0, 2)
    assert keys(kb) == [("zendesk", "z", "en-us")]


def test_articles_filters_locales_case_insensitively_and_keeps_locale_less_ones(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1", locale="en-US"), art("2", locale="de"), art("3", locale="fr"))))
    kb.apply("arduino", SyncBatch(upserts=(art("x", source="arduino", locale=""),)))
    assert keys(kb, ["en-us", "DE"]) == [("arduino", "x", ""), ("zendesk", "1", "en-US"), ("zendesk", "2", "de")]
    assert keys(kb, ["ja"]) == [("arduino", "x", "")]
    assert len(kb.articles([])) == len(kb.articles(None)) == 4


def test_revision_lists_every_source_in_order(kb):
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),)))
    kb.apply("intercom", SyncBatch(upserts=(art("1", source="intercom"),)))
    kb.apply("zendesk", SyncBatch(upserts=(art("1", "v2"),)))
    assert kb.revision() == (("intercom", 1), ("zendesk", 2))


def test_stats_record_error_and_reset_cursor(kb):
    now = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    kb.apply("zendesk", SyncBatch(upserts=(art("1"), art("2")), cursor="c9"), now=now)
    kb.record_error("zendesk", "429 Too Many Requests " + "x" * 3000)
    kb.record_error("intercom", "401 Unauthorized")
    stats = {s["source"]: s for s in kb.stats()}
    assert list(stats) == ["intercom", "zendesk"]
    zendesk = stats["zendesk"]
    assert (zendesk["articles"], zendesk["revision"], zendesk["cursor"]) == (2, 1, "c9")
    assert zendesk["last_error"].startswith("429 Too Many Requests") and len(zendesk["last_error"]) == 2000
    assert zendesk["last_synced_at"] == "2026-05-04T03:02:01+00:00"
    assert stats["intercom"] == {
        "source": "intercom", "articles": 0, "revision": 0, "cursor": None,
        "last_synced_at": None, "last_error": "401 Unauthorized",
    }
    kb.reset_cursor("zendesk")
    assert kb.cursor("zendesk") is None
    assert revision(kb) == 1  # forgetting the cursor changes no article
    kb.apply("zendesk", SyncBatch(upserts=(art("1"),)))
    assert {s["source"]: s for s in kb.stats()}["zendesk"]["last_error"] is None  # a good sync clears it


def test_moving_text_between_fields_is_a_change(kb):
    # Title + section concatenate to the same text; the content hash must still tell them apart.
    kb.apply("zendesk", SyncBatch(upserts=(art("1", title="Reset the", section="board"),)))
    report = kb.apply("zendesk", SyncBatch(upserts=(art("1", title="Reset ", section="theboard"),)))
    assert counts(report) == (0, 1, 0, 0)
    assert (kb.articles()[0].title, kb.articles()[0].section) == ("Reset ", "theboard")
