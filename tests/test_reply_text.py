"""The customer's new words, without the thread a reply quotes."""

from __future__ import annotations

import pytest

from bot.reply_text import new_text
from tests.test_rules import decide, ticket

THANKS = (
    "Got it, the money is back on my card. All sorted, thank you!\n\nBest,\nNoor\n\n"
    "On Wed, 5 Jun 2024, Aisha (Support) wrote:\n"
    "> I've reversed the charges. You'll see the refund in 3-5 days.\n"
    ">> My account was hacked. I want a refund or I'm going to my lawyer."
)


@pytest.mark.parametrize(
    "header",
    [
        "On Wed, 5 Jun 2024, Aisha (Support) <help@x.com> wrote:",
        "Am 05.06.2024 um 10:12 schrieb Support:",
        "Le mer. 5 juin 2024, Support a écrit :",
        "El mié., 5 jun 2024, Soporte escribió:",
        "Em qua., 5 de jun. de 2024, Suporte escreveu:",
        "Il giorno mer 5 giu 2024, Assistenza ha scritto:",
        "Op wo 5 jun 2024 schreef Support <help@x.nl>:",
        "-----Original Message-----",
        "From: Support <help@x.com>",
    ],
)
def test_the_quoted_thread_is_cut_at_its_header_in_each_language(header):
    body = f"Thanks, all good now.\n\n{header}\nI want a refund, my account was hacked."
    assert new_text(body) == "Thanks, all good now."


def test_quoted_lines_go_but_the_words_between_them_stay():
    assert new_text("> old refund talk\nPlease reverse it.\n> more") == "Please reverse it."


def test_a_body_of_nothing_but_quotes_is_read_whole():
    body = "> Forwarded: my account was hacked"
    assert new_text(body) == body


def test_keywords_in_a_quoted_thread_do_not_escalate_a_thank_you():
    assert decide(tk=ticket(THANKS, "Re: Re: Disputed charge")).reason_codes == ()
    # The same words written now do.
    assert "refund" in decide(tk=ticket("I want a refund, my account was hacked")).reason_codes
