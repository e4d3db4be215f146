"""Passages, index terms and BM25: bot/kb/chunks.py, bot/kb/tokens.py, bot/kb/index.py."""

from __future__ import annotations

import math

import pytest

from bot.kb.chunks import split_passages
from bot.kb.index import Index, IndexParams
from bot.kb.model import Article
from bot.kb.tokens import language_of, tokenize


def article(article_id="1", body="", title="Title", locale="en-us", section="", source="s") -> Article:
    return Article(source, article_id, locale, title, body, section=section)


def words(n: int, word: str = "word") -> str:
    return " ".join([word] * n)


# -- passages -----------------------------------------------------------------------------


def test_short_article_is_one_passage_at_position_zero():
    passages = split_passages(article(body="First para.\n\nSecond para."))
    assert [(p.position, p.text) for p in passages] == [(0, "First para.\n\nSecond para.")]
    assert passages[0].article.article_id == "1"


def test_paragraphs_are_grouped_until_the_target_is_reached():
    body = "\n\n".join(words(50, f"w{i}") + "." for i in range(5))
    passages = split_passages(article(body=body), target=120, limit=200)
    # 50 + 50 + 50 = 150 >= 120 closes the first passage; the rest make the second.
    assert [len(p.text.split()) for p in passages] == [150, 100]
    assert [p.position for p in passages] == [0, 1]
    assert passages[1].text.startswith("w3 ")


def test_passage_never_grows_past_the_limit():
    body = "\n\n".join([words(90) + "."] * 3)
    passages = split_passages(article(body=body), target=500, limit=200)
    assert [len(p.text.split()) for p in passages] == [180, 90]


def test_heading_starts_a_new_passage_once_a_third_of_the_target_is_filled():
    body = words(60, "intro") + ".\n\nSetting up Wi-Fi\n\n" + words(30, "step") + "."
    passages = split_passages(article(body=body), target=120)
    assert [p.text.split("\n\n")[0] for p in passages] == [words(60, "intro") + ".", "Setting up Wi-Fi"]


def test_heading_after_a_short_opening_stays_with_it():
    body = words(10, "intro") + ".\n\nSetting up Wi-Fi\n\n" + words(30, "step") + "."
    assert len(split_passages(article(body=body), target=120)) == 1


def test_long_paragraph_is_split_at_sentence_ends():
    body = " ".join(f"This is sentence number {i} here." for i in range(100))  # 6 words each
    passages = split_passages(article(body=body), limit=200)
    sizes = [len(p.text.split()) for p in passages]
    assert sizes == [198, 198, 198, 6]
    assert all(p.text.endswith("here.") for p in passages)
    assert passages[1].text.startswith("This is sentence number 33 here.")


def test_article_without_body_still_gets_one_empty_passage():
    passages = split_passages(article(body=""))
    assert [(p.position, p.text) for p in passages] == [(0, "")]


# -- tokens -------------------------------------------------------------------------------


def test_tokenize_stems_case_folds_and_drops_stop_words():
    assert tokenize("Uploading the Sketches: uploaded, UPLOADS!") == ["upload", "sketch", "upload", "upload"]


def test_tokenize_keeps_versions_and_digits_and_drops_single_letters():
    tokens = tokenize("Hi, I cannot flash version 1.8.19 on port 3 x")
    assert tokens == ["cannot", "flash", "version", "1.8.19", "port", "3"]


def test_tokenize_german_uses_the_german_stemmer_and_folds_sharp_s():
    assert tokenize("Sketche hochladen Straße", "de") == ["sketch", "hochlad", "strass"]
    # English stop words are not German ones: "the" and "and" are kept as words in German.
    assert "the" in tokenize("the and", "de")


def test_tokenize_language_without_stemmer_keeps_words_as_they_are():
    assert tokenize("ボードに書き込めません。Uploading", "ja") == ["ボードに書き込めません", "uploading"]


def test_tokenize_normalises_fullwidth_and_curly_apostrophes():
    assert tokenize("ＵＰＬＯＡＤ") == ["upload"]
    assert tokenize("don’t") == tokenize("don't") == ["don't"]


def test_tokenize_empty_and_stop_words_only():
    assert tokenize("") == []
    assert tokenize("Hello, thanks! Please, what is it?") == []


@pytest.mark.parametrize(
    "locale, expected",
    [("en-US", "en"), ("pt_BR", "pt"), ("DE", "de"), ("", "en"), (None, "en"), ("-us", "en")],
)
def test_language_of(locale, expected):
    assert language_of(locale) == expected


def test_language_of_uses_the_given_default():
    assert language_of("", default="de") == "de"


# -- index --------------------------------------------------------------------------------


ARTICLES = [
    article("1", "To upload a sketch, select the port and press Upload.", "Upload a sketch"),
    article("2", "Press the reset button twice to enter bootloader mode.", "Reset the board"),
    article("3", "Um einen Sketch hochzuladen, wähle den Port.", "Sketch hochladen", locale="de-de"),
    article("4", "Exams are not refundable.", "Refund policy", locale=""),
]


def ids(hits):
    return [h.article.article_id for h in hits]


def test_index_languages_and_count():
    index = Index(ARTICLES)
    assert index.languages == ["de", "en"]  # the locale-less article joins the default language
    assert index.article_count == 4


def test_search_ranks_the_matching_article_first():
    index = Index(ARTICLES)
    assert ids(index.search("How do I upload my sketches?")) == ["1"]
    assert ids(index.search("board will not reset")) == ["2"]
    assert ids(index.search("refund")) == ["4"]


def test_search_in_a_language_sees_only_that_languages_articles():
    index = Index(ARTICLES)
    assert ids(index.search("Sketch hochladen", language="de")) == ["3"]
    assert "3" not in ids(index.search("sketch", language="en"))


def test_language_without_articles_falls_back_to_the_default_language():
    index = Index(ARTICLES)
    assert ids(index.search("upload sketch", language="fr")) == ids(index.search("upload sketch")) == ["1"]


def test_default_language_is_configurable():
    index = Index(ARTICLES, default_language="de")
    assert ids(index.search("Sketch hochladen")) == ["3"]
    # "fr" has no index, so the German one answers; the English article is not searched.
    assert ids(index.search("upload", language="fr")) == []


def test_nothing_found_for_unknown_words_empty_queries_and_empty_index():
    index = Index(ARTICLES)
    assert index.search("zebra giraffe") == []
    assert index.search("") == []
    assert index.search("the and is") == []
    assert Index([]).search("upload") == []


def test_k_limits_the_hits_and_articles_are_ranked_once_by_their_best_passage():
    long_body = "\n\n".join(words(100, f"filler{i}") + "." for i in range(4)) + "\n\nbattery " * 3
    arts = [
        article("long", long_body, "Power notes"),
        article("a", "battery battery", "Battery"),
        article("b", "battery", "Other"),
    ]
    assert len(split_passages(arts[0])) > 1
    hits = Index(arts).search("battery", k=10)
    assert sorted(ids(hits)) == ["a", "b", "long"]
    assert ids(hits)[0] == "a"
    assert ids(Index(arts).search("battery", k=2)) == ids(hits)[:2]


def test_title_only_article_is_found_by_its_title():
    hits = Index([article("t", "", "Warranty claims"), article("x", "Other words.")]).search("warranty")
    assert ids(hits) == ["t"] and hits[0].passage.text == ""


def test_section_is_indexed():
    arts = [article("1", "How to pay.", "Payments", section="Invoices"), article("2", "Boards.", "Hardware")]
    assert ids(Index(arts).search("invoice")) == ["1"]


def test_bm25_score_and_relevance_match_a_hand_computation():
    # Doc A terms: batteri x2 (title, weight 2) + batteri, charg (body) -> length 4, tf 3.
    # Doc B terms: screen x2 + display, broken -> length 4. Average length 4, so norm = k1.
    arts = [article("A", "battery charging", "Battery"), article("B", "display broken", "Screen")]
    hit = Index(arts).search("battery")[0]
    k1 = 1.2
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    assert hit.article.article_id == "A"
    assert hit.score == pytest.approx(idf * 3 * (k1 + 1) / (3 + k1))
    assert hit.relevance == pytest.approx(3 / (3 + k1))  # score / (idf * (k1 + 1))


def test_unknown_query_words_lower_relevance_by_the_unseen_ceiling():
    arts = [article("A", "battery charging", "Battery"), article("B", "display broken", "Screen")]
    index = Index(arts)
    alone = index.search("battery")[0]
    diluted = index.search("battery zebra")[0]
    k1, idf, unseen = 1.2, math.log(2), math.log(1 + 2.5 / 0.5)
    assert diluted.score == pytest.approx(alone.score)
    assert diluted.relevance == pytest.approx(alone.score / ((idf + unseen) * (k1 + 1)))
    assert diluted.relevance < alone.relevance


def test_relevance_stays_between_zero_and_one_for_long_and_repeated_queries():
    index = Index(ARTICLES)
    for query in ["upload", "upload upload upload sketch port press", words(50, "upload")]:
        for hit in index.search(query, k=5):
            assert 0 < hit.relevance <= 1


def test_ceiling_counts_only_the_ten_most_informative_query_words():
    # Twelve words no article has (each weighs the unseen idf) and one known word: only ten of
    # the unseen ones make the ceiling, so a long ticket is not diluted without bound.
    arts = [article("A", "battery charging", "Battery"), article("B", "display broken", "Screen")]
    noise = " ".join(f"zz{i}" for i in range(12))
    hit = Index(arts).search("battery " + noise)[0]
    k1, unseen = 1.2, math.log(1 + 2.5 / 0.5)
    assert hit.relevance == pytest.approx(hit.score / (10 * unseen * (k1 + 1)))


def test_relevance_is_capped_at_one_when_more_than_ten_words_all_match():
    vocabulary = [f"term{i}" for i in range(12)]
    arts = [article("A", " ".join(vocabulary * 50), "Many"), article("B", "display broken", "Screen")]
    hit = Index(arts).search(" ".join(vocabulary))[0]
    ceiling = 10 * math.log(2) * 2.2  # each word is in one of two passages: idf ln 2
    assert hit.article.article_id == "A" and hit.score > ceiling
    assert hit.relevance == 1.0


def test_title_weight_parameter_changes_ranking():
    arts = [
        article("title", "Nothing here.", "Bootloader"),
        article("body", "bootloader bootloader bootloader", "Misc"),
    ]
    assert ids(Index(arts, params=IndexParams(title_weight=5)).search("bootloader"))[0] == "title"
    assert ids(Index(arts, params=IndexParams(title_weight=1)).search("bootloader"))[0] == "body"
