"""The retrieval query made from a ticket: bot/kb/query.py keeps what the customer wrote for
this ticket (subject, body opening) and drops greetings, sign-offs, quoted mail and markup."""

from __future__ import annotations

import pytest

from bot.kb.query import QUERY_WORDS, clean_body, ticket_query


def test_subject_twice_then_the_cleaned_opening_then_extra_words():
    body = "Hello team,\n\nMy Uno will not upload.\nIt says avrdude timeout.\n\nBest regards,\nAnn Smith\nACME"
    assert ticket_query("Upload fails", body, "upload port") == (
        "Upload fails\nUpload fails\nMy Uno will not upload. It says avrdude timeout.\nupload port"
    )


@pytest.mark.parametrize("sign_off", [
    "Thanks,\nAnn", "Thank you in advance!", "Danke, Stefan", "Cheers\nBob", "Kind regards",
    "--\nAnn Smith | ACME", "Sent from my iPhone", "Mit freundlichen Grüßen\nJ. Meier",
    "Cordialement,\nM. Lefèvre", "Get Outlook for Android",
])
def test_everything_from_the_sign_off_on_goes(sign_off):
    assert clean_body(f"The port menu is greyed out.\n{sign_off}\nSignature line 2") == (
        "The port menu is greyed out."
    )


@pytest.mark.parametrize("header", [
    "On Mon, 3 Jun 2024 at 10:12, Support <help@example.com> wrote:",
    "Am 3. Juni 2024 um 10:12 schrieb Support <help@example.com>:",
    "Le lun. 3 juin 2024, Support a écrit :",
    "-----Original Message-----",
    "From: Support <help@example.com>",
    "________________________________",
])
def test_quoted_or_forwarded_mail_goes_from_its_header_on(header):
    body = f"Still broken after the update.\n\n{header}\nWe suggested reinstalling the refund driver."
    assert clean_body(body) == "Still broken after the update."


def test_quoted_lines_go_and_the_text_around_them_stays():
    assert clean_body("First.\n> quoted\n>> deeper\nSecond.") == "First.\nSecond."


def test_a_sentence_that_starts_with_thanks_is_not_a_sign_off():
    body = "Thanks for the quick reply, but the board still resets.\nWhat next?"
    assert clean_body(body) == body


def test_a_greeting_is_dropped_only_at_the_start():
    assert clean_body("Hi,\nHello world sketch fails.") == "Hello world sketch fails."
    assert clean_body("Dear support team\n\nMy order is late.") == "My order is late."
    assert clean_body("The IDE says: hello\nthen crashes.") == "The IDE says: hello\nthen crashes."


def test_html_bodies_are_read_as_text():
    body = "<div>Hi there,</div><p>My <b>Nano</b> is not detected.</p><div>Thanks,<br>Ann</div>"
    assert clean_body(body) == "My Nano is not detected."


def test_a_body_with_angle_brackets_that_is_not_html_is_left_alone():
    assert clean_body("Error: expected <int> got <void>") == "Error: expected <int> got <void>"


def test_only_the_opening_words_count():
    body = " ".join(f"w{i}" for i in range(QUERY_WORDS + 10))
    assert ticket_query("", body).split() == [f"w{i}" for i in range(QUERY_WORDS)]
    assert ticket_query("", body, words=5).split() == [f"w{i}" for i in range(5)]


def test_empty_parts_are_left_out():
    assert ticket_query("", "") == ""
    assert ticket_query("Only subject", "Hi,\n\n") == "Only subject\nOnly subject"
