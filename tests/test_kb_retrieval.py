"""The query made from a ticket, the sources chosen, and the worker's self-refreshing index:
bot/kb/retrieval.py over a real ArticleStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db import make_engine
from bot.domain import Ticket
from bot.kb.chunks import Passage
from bot.kb.index import Hit
from bot.kb.model import Article, SyncBatch
from bot.kb.retrieval import QUERY_WORDS, KnowledgeBase, build_query, choose_sources
from bot.kb.sources.files import load_jsonl
from bot.kb.store import ArticleStore

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "kb" / "arduino_sample.jsonl"


def article(article_id, title, body, locale="en-us", source="zendesk") -> Article:
    return Article(source, article_id, locale, title, body, url=f"https://help/{article_id}", section="Help")


class CountingStore(ArticleStore):
    """A real store that counts how often the index had to reload every article."""

    loads = 0

    def articles(self, locales=None):
        self.loads += 1
        self.asked = locales
        return super().articles(locales)


@pytest.fixture
def article_store(database_url):
    engine = make_engine(database_url)
    yield CountingStore(engine)
    engine.dispose()


# -- build_query --------------------------------------------------------------------------


def test_query_is_subject_twice_then_body_then_category_terms():
    ticket = Ticket(id="1", subject="Upload fails", description="My  Uno\nwill not\tupload.")
    assert build_query(ticket, "upload port driver") == (
        "Upload fails\nUpload fails\nMy Uno will not upload.\nupload port driver"
    )


def test_query_drops_quoted_earlier_mail_and_the_sign_off():
    description = "New problem here.\n\n> On Monday you wrote:\n>   old advice about refunds\n  > more quoted\nThanks"
    query = build_query(Ticket(id="1", subject="S", description=description))
    assert query == "S\nS\nNew problem here."


def test_query_keeps_only_the_opening_words_of_a_long_body():
    description = " ".join(f"w{i}" for i in range(QUERY_WORDS + 50))
    body_line = build_query(Ticket(id="1", subject="", description=description))
    assert body_line.split() == [f"w{i}" for i in range(QUERY_WORDS)]


def test_query_leaves_out_empty_parts():
    assert build_query(Ticket(id="1", subject="", description="")) == ""
    assert build_query(Ticket(id="1", subject="Only subject", description="")) == "Only subject\nOnly subject"


# -- choose_sources -----------------------------------------------------------------------


def hit(article_id: str, relevance: float) -> Hit:
    a = Article("zendesk", article_id, "de-de", f"T{article_id}", "body", url=f"u{article_id}", section="Sec")
    return Hit(a, Passage(a, 0, f"passage {article_id}"), 1.0, relevance)


def test_choose_sources_filters_by_relevance_limits_and_numbers_from_one():
    sources = choose_sources([hit("a", 0.9), hit("b", 0.2), hit("c", 0.5), hit("d", 0.4)], 0.4, 2)
    assert [(s.number, s.article_id, s.relevance) for s in sources] == [(1, "a", 0.9), (2, "c", 0.5)]
    first = sources[0]
    assert (first.source, first.title, first.url, first.passage, first.section, first.locale) == (
        "zendesk", "Ta", "ua", "passage a", "Sec", "de-de"
    )


def test_choose_sources_threshold_is_inclusive_and_may_leave_nothing():
    assert [s.article_id for s in choose_sources([hit("a", 0.4)], 0.4, 3)] == ["a"]
    assert choose_sources([hit("a", 0.39)], 0.4, 3) == ()
    assert choose_sources([], 0.0, 3) == ()


# -- KnowledgeBase ------------------------------------------------------------------------


def test_without_store_it_searches_the_given_articles_and_never_refreshes():
    kb = KnowledgeBase(articles=[article("1", "Reset the board", "Press reset twice.")])
    assert kb.refresh() is False
    assert kb.article_count == 1
    assert [h.article.article_id for h in kb.search("reset")] == ["1"]


def test_first_search_loads_the_store_and_later_ones_do_not_reload(article_store):
    article_store.apply("zendesk", SyncBatch(upserts=(article("1", "Reset the board", "Press reset twice."),)))
    kb = KnowledgeBase(article_store)
    assert kb.article_count == 0  # lazily built
    assert [h.article.article_id for h in kb.search("reset")] == ["1"]
    kb.search("reset board")
    kb.search("anything")
    assert article_store.loads == 1
    assert kb.refresh() is False and article_store.loads == 1


def test_resent_identical_articles_do_not_trigger_a_rebuild(article_store):
    a = article("1", "Reset the board", "Press reset twice.")
    article_store.apply("zendesk", SyncBatch(upserts=(a,), cursor="c1"))
    kb = KnowledgeBase(article_store)
    assert kb.refresh() is True
    article_store.apply("zendesk", SyncBatch(upserts=(a,), cursor="c2"))
    assert kb.refresh() is False
    assert article_store.loads == 1


def test_a_sync_that_changes_articles_is_seen_by_the_next_search(article_store):
    article_store.apply("zendesk", SyncBatch(upserts=(article("1", "Reset the board", "Press reset twice."),)))
    kb = KnowledgeBase(article_store)
    assert kb.search("warranty") == []
    article_store.apply("zendesk", SyncBatch(upserts=(article("2", "Warranty", "Two years of warranty."),)))
    assert [h.article.article_id for h in kb.search("warranty")] == ["2"]
    assert kb.article_count == 2 and article_store.loads == 2
    article_store.apply("zendesk", SyncBatch(removed=(("2", "en-us"),)))
    assert kb.search("warranty") == []
    assert kb.article_count == 1


def test_an_import_replaces_what_the_index_serves(article_store):
    kb = KnowledgeBase(article_store)
    assert kb.search("refund") == []
    article_store.replace_all("arduino", load_jsonl(SAMPLE, "arduino"))
    hits = kb.search("Can I get a refund for my exam?")
    assert hits[0].article.article_id == "4405107918738"
    assert hits[0].article.url == "https://support.arduino.cc/hc/en-us/articles/4405107918738"
    assert kb.article_count == 4
    article_store.replace_all("arduino", [a for a in load_jsonl(SAMPLE, "arduino") if a.article_id != "4405107918738"])
    assert "4405107918738" not in [h.article.article_id for h in kb.search("refund exam")]
    assert kb.article_count == 3


def test_locales_filter_keeps_locale_less_articles(article_store):
    article_store.apply(
        "zendesk",
        SyncBatch(upserts=(
            article("en", "Reset the board", "Press reset.", locale="en-us"),
            article("de", "Board zurücksetzen", "Reset drücken.", locale="de"),
            article("fr", "Réinitialiser la carte", "Appuyez sur reset.", locale="fr"),
        )),
    )
    upsert = article("any", "Reset tips", "Reset.", locale="", source="arduino")
    article_store.apply("arduino", SyncBatch(upserts=(upsert,)))
    kb = KnowledgeBase(article_store, locales=["EN-US", "de"])
    kb.refresh()
    assert article_store.asked == ("EN-US", "de")
    assert kb.article_count == 3
    found = {h.article.article_id for h in kb.search("reset", k=10)}
    assert found == {"en", "any"}  # "fr" was never loaded; "de" is in the German index
    assert [h.article.article_id for h in kb.search("zurücksetzen", language="de")] == ["de"]


def test_sources_for_builds_the_query_and_applies_threshold_and_limit(article_store):
    article_store.replace_all("arduino", load_jsonl(SAMPLE, "arduino"))
    kb = KnowledgeBase(article_store)
    ticket = Ticket(id="9", subject="Antenna for Portenta H7?", description="Is the antenna included in the box?")
    sources = kb.sources_for(ticket, language="en", category_terms="", min_relevance=0.2, limit=1)
    assert [(s.number, s.article_id) for s in sources] == [(1, "360016920600")]
    assert "UFL" in sources[0].passage
    assert kb.sources_for(ticket, language="en", category_terms="", min_relevance=0.99, limit=3) == ()
