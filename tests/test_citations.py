"""Which numbered sources a draft cites: bot/citations.py."""

from __future__ import annotations

import pytest

from bot.citations import Citations, check_citations


def test_single_citation():
    assert check_citations("Press reset twice [1].", 2) == Citations(cited=(1,), unknown=())


def test_comma_separated_citations_with_or_without_spaces():
    assert check_citations("See [1, 2] and [3,1].", 3) == Citations((1, 2, 3), ())


def test_adjacent_citations():
    assert check_citations("Both apply [2][1].", 2) == Citations((2, 1), ())


def test_numbers_without_a_source_are_unknown():
    result = check_citations("See [1] and [3], also [0] and [2, 12].", 2)
    assert result == Citations(cited=(1, 2), unknown=(3, 0, 12))


def test_no_sources_makes_every_citation_unknown():
    assert check_citations("As documented [1].", 0) == Citations((), (1,))


@pytest.mark.parametrize(
    "text", ["Fixed in [2026].", "Ticket [123] is open.", "Set [x] and [ ]", "Array a[i]", "[1-3]"]
)
def test_years_ids_and_other_brackets_are_not_citations(text):
    assert check_citations(text, 5) == Citations((), ())


def test_year_next_to_a_real_citation_is_ignored():
    assert check_citations("Since [2026] the fee changed [2].", 3) == Citations((2,), ())


def test_repeated_citations_count_once_in_order_of_first_use():
    text = "First [2]. Then [1]. Again [2], [1, 2] and [2][2]. Made up [7] and [7]."
    assert check_citations(text, 2) == Citations(cited=(2, 1), unknown=(7,))


def test_text_without_citations():
    assert check_citations("", 3) == Citations((), ())
    assert check_citations("No sources cited here.", 3) == Citations((), ())
