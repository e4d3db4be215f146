"""Intercom JSON -> domain values, and the bot's note as Intercom note HTML: pure functions, on
the real webhook bodies in bot/helpdesks/intercom/fixtures (both conversation shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.decisions import Decision, DraftResult, EscalationReason, Sentiment, SourceArticle, Triage, TriageResult
from bot.domain import CustomerContext, PastTicket, Person
from bot.helpdesks.intercom.payload import (
    epoch_time,
    has_note,
    human_activity_since,
    note_html,
    past_ticket_from_conversation,
    person_from_contact,
    tag_names,
    team_id,
    team_set_by_teammate,
    ticket_from_conversation,
)
from bot.notes import DRAFT_END, DRAFT_START, format_failure_note, format_triage_note
from bot.policy import load_policy
from tests.conftest import load_fixture

BOT = "991299"
AGENT = "991267"
CUSTOMER = "6762f0dd1bb69f9f2193bb83"
T0 = 1796464800  # 2026-12-05 10:00 UTC: the variants' first message
POLICY = load_policy(Path(__file__).resolve().parent.parent / "config" / "policy.yaml")


def item(name: str) -> dict:
    return json.loads(load_fixture(f"intercom/{name}"))["data"]["item"]


def created_2x() -> dict:
    return item("variant__conversation_user_created_2x_html_unicode.json")


def replied_2x() -> dict:
    return item("variant__conversation_user_replied_2x_two_parts.json")


def part(id: str, part_type: str, at: int, author_type: str = "admin", author_id: str = AGENT,
         body: str | None = "<p>Hello</p>") -> dict:
    return {"type": "conversation_part", "id": id, "part_type": part_type, "body": body, "created_at": at,
            "author": {"type": author_type, "id": author_id}}


def with_parts(conversation: dict, *parts: dict) -> dict:
    conversation["conversation_parts"]["conversation_parts"].extend(parts)
    return conversation


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


# --- ticket_from_conversation ---------------------------------------------------------------


def test_a_2x_first_message_is_the_customers_words_as_text():
    ticket = ticket_from_conversation(created_2x(), BOT)
    assert ticket.description == (
        "Hallo! Ich kann mich seit dem Update nicht mehr anmelden 😟\n\n"
        "¿Pueden ayudarme? Mi correo es jose.muller@example.com & la contraseña no funciona. "
        "Übrigens: 3 < 4 → Login\n\n"
        "- Navegador: Firefox\n\n- Größe: 1 Konto"
    )
    assert (ticket.id, ticket.subject, ticket.status, ticket.priority) == ("1911149811", "", "open", "not_priority")
    assert (ticket.group_id, ticket.tags, ticket.requester_id) == (None, (), CUSTOMER)
    assert ticket.created_at == at(T0) and ticket.updated_at == str(T0)


def test_a_conversation_with_replies_says_who_wrote_what_and_when_without_notes_or_the_bot():
    ticket = ticket_from_conversation(replied_2x(), BOT)
    blocks = ticket.description.split("\n\n")
    assert blocks[0] == "Customer (2026-12-05 10:00):\nHallo! Ich kann mich seit dem Update nicht mehr anmelden 😟"
    assert ticket.description.endswith(
        "Agent (2026-12-05 10:01):\nHi José, which browser version is it?\n\n"
        "Customer (2026-12-05 10:02):\nFirefox 133, on Windows 11.\n\n"
        "Customer (2026-12-05 10:03):\nAnd I also tried Chrome: same error 🙁"
    )
    assert "AI triage" not in ticket.description and "[run 7]" not in ticket.description  # the bot's note
    assert (ticket.group_id, ticket.tags, ticket.updated_at) == ("5017691", ("ai_triaged",), str(T0 + 180))


def test_teammates_replies_assignments_with_a_message_and_bot_messages_are_in_but_not_events():
    conversation = with_parts(
        created_2x(),
        part("1", "assignment", T0 + 10, body=None),  # an event: no message
        part("2", "assignment", T0 + 20, body="<p>Passing you to billing.</p>"),
        part("3", "comment", T0 + 60, author_type="bot", author_id="1", body="<p>I'm Fin.</p>"),
        part("4", "note", T0 + 40, body="<p>internal</p>"),
        part("5", "comment", T0 + 50, author_type="admin", author_id=BOT, body="<p>never by the bot</p>"),
        part("6", "close", T0 + 60, body=None),
        part("7", "comment", T0 + 70, author_type="lead", author_id="L1", body="   "),
    )
    description = ticket_from_conversation(conversation, BOT).description
    headers = [line for line in description.split("\n") if line.endswith("):")]
    assert headers == ["Customer (2026-12-05 10:00):", "Agent (2026-12-05 10:00):", "Bot (2026-12-05 10:01):"]
    assert description.endswith(
        "Agent (2026-12-05 10:00):\nPassing you to billing.\n\nBot (2026-12-05 10:01):\nI'm Fin.")


def test_the_classic_shape_reads_the_same():
    ticket = ticket_from_conversation(item("zulip__conversation_user_created.json"), BOT)
    assert (ticket.id, ticket.description, ticket.requester_id) == ("21321941764", "Hello everyone!",
                                                                     "5c9553cb27e377f24eed49f7")
    assert ticket.created_at == at(1553290198) and ticket.priority is None and ticket.status == "open"


def test_a_teammates_reply_that_reopened_the_conversation_is_a_message():
    # Intercom sent the admin's reply as an `open` part with the reply as its body.
    ticket = ticket_from_conversation(item("hull__conversation-admin-replied.json"), BOT)
    assert ticket.description == "Agent (2020-08-05 13:40):\nHi Bob,hola\n\nAgent (2020-08-05 13:44):\nhi Bob"
    closed = ticket_from_conversation(item("hull__conversation-admin-closed.json"), BOT)
    assert closed.status == "closed" and closed.description == "Agent (2020-08-05 13:40):\nhi Bob"


@pytest.mark.parametrize("changes, subject", [
    ({"title": "<p>Refund  for\norder&nbsp;#42</p>"}, "Refund for order #42"),
    ({"title": None, "source": {"subject": "<b>Login</b> broken", "body": "x"}}, "Login broken"),
    ({"title": "", "source": None, "conversation_message": {"subject": "Classic", "body": "x"}}, "Classic"),
    ({"title": 5}, ""),
])
def test_the_subject_is_the_title_or_the_first_messages_subject_as_one_line(changes, subject):
    conversation = created_2x()
    conversation.update(changes)
    assert ticket_from_conversation(conversation, BOT).subject == subject


def test_a_bare_conversation_reads_with_defaults():
    ticket = ticket_from_conversation({"id": 42}, BOT)
    assert (ticket.id, ticket.subject, ticket.description, ticket.status) == ("42", "", "", "open")
    assert (ticket.priority, ticket.group_id, ticket.tags, ticket.requester_id) == (None, None, (), None)
    assert ticket.created_at is None and ticket.updated_at is None
    assert ticket_from_conversation({"id": "1", "open": False}, BOT).status == "closed"
    assert ticket_from_conversation({"id": "1", "team_assignee_id": 0}, BOT).group_id is None
    assert ticket_from_conversation({"id": "1", "team_assignee_id": "77"}, BOT).group_id == "77"


def test_the_requester_is_the_first_contact_else_the_classic_user_else_the_customer_author():
    conversation = created_2x()
    conversation["contacts"]["contacts"].insert(0, {"type": "contact", "id": "first"})
    assert ticket_from_conversation(conversation, BOT).requester_id == "first"
    del conversation["contacts"]
    assert ticket_from_conversation(conversation, BOT).requester_id == CUSTOMER  # source.author
    conversation["source"]["author"]["type"] = "admin"
    assert ticket_from_conversation(conversation, BOT).requester_id is None


# --- person_from_contact, past_ticket_from_conversation -------------------------------------------


CONTACT = {  # GET /contacts/{id}, API 2.14 (the spec's `contact`)
    "type": "contact", "id": CUSTOMER, "role": "user", "email": "jose.muller@example.com",
    "name": "José Müller", "custom_attributes": {"account_status": "Trial", "tier": "VIP"},
    "tags": {"type": "list", "data": [{"type": "tag", "id": "1", "url": "/tags/1"},
                                       {"type": "tag", "id": "2", "name": "vip"}], "has_more": False},
    "companies": {"type": "list", "data": [{"type": "company", "id": "c9"}], "total_count": 1},
}


def test_a_contacts_custom_attributes_are_its_fields_and_its_first_company_its_organization():
    person = person_from_contact(CONTACT)
    assert person == Person(id=CUSTOMER, name="José Müller", email="jose.muller@example.com",
                            tags=("vip",), fields={"account_status": "Trial", "tier": "VIP"},
                            organization_id="c9")


def test_a_classic_user_and_a_bare_contact():
    user = {"type": "user", "id": "u1", "name": None, "companies": {"companies": [{"id": "c1"}]},
            "tags": {"type": "tag.list", "tags": [{"name": "beta"}]}, "custom_attributes": None}
    assert person_from_contact(user) == Person(id="u1", tags=("beta",), organization_id="c1")
    assert person_from_contact({"id": 7}) == Person(id="7")


def test_a_past_conversation_is_named_by_its_title_or_its_first_words():
    searched = {"type": "conversation", "id": "55", "title": None, "created_at": T0, "state": "closed",
                "source": {"subject": "", "body": "<p>My   invoice\nis wrong, and here is a long story " + "x" * 100},
                "tags": {"tags": [{"name": "ai_category_billing"}]}}
    past = past_ticket_from_conversation(searched)
    assert past == PastTicket(id="55", subject=("My invoice is wrong, and here is a long story " + "x" * 100)[:80],
                              status="closed", created_at=at(T0), tags=("ai_category_billing",))
    searched["title"] = "Invoice"
    assert past_ticket_from_conversation(searched).subject == "Invoice"
    bare = past_ticket_from_conversation({"id": 1})
    assert (bare.subject, bare.status, bare.created_at) == ("", "open", datetime.min.replace(tzinfo=UTC))


def test_tag_names_read_every_shape():
    assert tag_names({"type": "tag.list", "tags": [{"name": "a"}, {"id": "2"}, "junk", {"name": ""}]}) == ("a",)
    assert tag_names({"data": [{"name": "b"}]}) == ("b",)
    assert tag_names([{"name": "c"}]) == ("c",)
    assert tag_names(None) == tag_names("x") == tag_names({"tags": None}) == ()


@pytest.mark.parametrize("value, expected", [
    (1796464800, at(1796464800)), ("1796464800", at(1796464800)), (1796464800.7, at(1796464800)),
    (None, None), ("", None), ("soon", None), (True, None), ([1], None), (10**30, None), ("nan", None),
])
def test_epoch_time(value, expected):
    assert epoch_time(value) == expected


# --- human_activity_since, has_note -------------------------------------------------------------


SINCE = at(T0 + 120)  # the event arrived at 10:02


def test_a_teammates_reply_after_the_event_makes_the_write_stale():
    conversation = replied_2x()  # the agent's reply at 10:01 came before
    assert human_activity_since(conversation, SINCE, BOT) is None
    with_parts(conversation, part("9", "comment", T0 + 200))
    assert human_activity_since(conversation, SINCE, BOT) == f"admin {AGENT} replied at 2026-12-05T10:03:20+00:00"


def test_a_reply_stamped_in_the_very_second_the_event_arrived_counts():
    """Parts are stamped in whole seconds and the event's arrival is not: a reply stamped in
    that same second may have come after it, and the bot would rather stay silent."""
    late_in_the_second = SINCE.replace(microsecond=900_000)
    conversation = with_parts(replied_2x(), part("9", "comment", T0 + 120))
    assert human_activity_since(conversation, late_in_the_second, BOT) is not None
    assert human_activity_since(conversation, at(T0 + 121), BOT) is None


@pytest.mark.parametrize("late", [
    part("9", "comment", T0 + 200, author_type="user", author_id=CUSTOMER),  # the customer again
    part("9", "note", T0 + 200),  # a teammate's note: internal
    part("9", "comment", T0 + 200, author_id=BOT),  # the bot itself
    part("9", "comment", T0 + 200, author_type="bot", author_id="1"),  # Fin: not a human
    part("9", "assignment", T0 + 200, body=None),
    part("9", "comment", None),  # no time: cannot be after
])
def test_what_is_not_a_human_acting_since(late):
    assert human_activity_since(with_parts(replied_2x(), late), SINCE, BOT) is None


def test_closed_or_closed_since_is_stale():
    conversation = replied_2x()
    conversation["state"] = "closed"
    assert human_activity_since(conversation, SINCE, BOT) == "the conversation is closed"
    reopened = with_parts(replied_2x(), part("9", "close", T0 + 130, body=None),
                          part("10", "open", T0 + 140, body=None))
    assert human_activity_since(reopened, SINCE, BOT) == (
        f"admin {AGENT} closed the conversation at 2026-12-05T10:02:10+00:00")
    reply = item("hull__conversation-admin-replied.json")  # an `open` part with the reply as its body
    assert human_activity_since(reply, at(1596635000), BOT) == "admin 3330619 replied at 2020-08-05T13:44:09+00:00"


def test_has_note_finds_the_bots_note_naming_the_reference():
    conversation = replied_2x()
    assert has_note(conversation, "[run 7]", BOT)
    assert not has_note(conversation, "[run 71]", BOT) and not has_note(conversation, "[run 8]", BOT)
    assert not has_note(conversation, "[run 7]", AGENT)  # another admin's note does not count
    assert not has_note(conversation, "", BOT)
    comment = with_parts(created_2x(), part("9", "comment", T0, author_id=BOT, body="[run 9]"))
    assert not has_note(comment, "[run 9]", BOT)  # only a note counts
    encoded = with_parts(created_2x(), part("9", "note", T0, author_id=BOT, body="<p>x &#91;run 9&#93;</p>"))
    assert has_note(encoded, "[run 9]", BOT)


def test_the_team_and_who_set_it():
    conversation = replied_2x()
    assert team_id(conversation) == "5017691" and team_id({"team_assignee_id": None}) is None
    assert team_set_by_teammate(conversation, BOT) is None  # no team assignment among the parts
    team = {"type": "team", "id": "5017691"}
    by_agent = part("9", "assignment", T0 + 200, body=None) | {"assigned_to": team}
    assert team_set_by_teammate(with_parts(replied_2x(), by_agent), BOT) == AGENT
    by_bot = part("10", "assignment", T0 + 300, author_id=BOT, body=None) | {"assigned_to": team}
    assert team_set_by_teammate(with_parts(replied_2x(), by_agent, by_bot), BOT) is None  # the latest is ours
    by_rule = part("10", "assignment", T0 + 300, author_type="bot", author_id="1", body=None) | {"assigned_to": team}
    assert team_set_by_teammate(with_parts(replied_2x(), by_agent, by_rule), BOT) is None  # assignment rules
    to_admin = part("11", "assignment", T0 + 400, body=None) | {"assigned_to": {"type": "admin", "id": AGENT}}
    assert team_set_by_teammate(with_parts(replied_2x(), by_bot, to_admin), BOT) is None  # not a team


# --- note_html ----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if attrs:
            self.attrs.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def real_note(draft: str, sources: tuple[SourceArticle, ...]) -> str:
    triage = Triage(category="Billing", priority=2, escalate=True, confidence=0.83, language="es",
                    reasoning='Says <script>alert(1)</script> & "hacked".', sentiment=Sentiment("negative", True))
    decision = Decision(category="Billing", priority=1, escalate=True, group_key="security", group_id="5017691",
                        reasons=(EscalationReason("security", 'security: mentions "hacked" <b>'),), tags=())
    return format_triage_note(decision, TriageResult(triage, "gpt-test"), DraftResult(draft, "gpt-test"),
                              CustomerContext(), POLICY, "triage@2", "openai", sources=sources,
                              reference="[run 42]")


SOURCES = (
    SourceArticle(1, "intercom", "1", "Refunds & <returns>", "https://help.example.com/a/1?x=1&y=2", "p", 0.9,
                  section="Billing"),
    SourceArticle(2, "intercom", "2", "Odd", "javascript:alert(1)", "p", 0.5),
)
DRAFT = "Hola José,\n\n<script>steal()</script> revise [1].\nhttps://evil.example.com/x\n\nSaludos 😀"


def test_a_real_note_becomes_escaped_html_with_only_the_allowed_tags():
    text = real_note(DRAFT, SOURCES)
    html = note_html(text)
    doc = parsed(html)
    assert doc.tags <= {"p", "br", "b", "i", "a", "ul", "li", "blockquote"}
    assert doc.attrs == [("a", [("href", "https://help.example.com/a/1?x=1&y=2")])]  # the one http(s) source
    assert "<script>" not in html and "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;hacked&quot;" in html
    assert "javascript:alert(1)" in "".join(doc.text)  # kept as text, never a link
    assert "<a href=\"https://evil" not in html  # a URL in the draft (customer's words?) stays text
    # Every word of the note is still there, in order (list items lose their "-" bullets).
    words = [w for w in text.split() if w != "-"]
    assert " ".join(doc.text).split() == words


def test_the_notes_structure():
    html = note_html(real_note(DRAFT, SOURCES))
    assert html.startswith("<p><b>AI triage (internal note: nothing has been sent to the customer)</b></p>")
    assert "<b>Category:</b> Billing<br><b>Priority:</b> 1 (urgent)" in html
    assert "<b>Escalated, because:</b></p><ul><li>security: mentions &quot;hacked&quot; &lt;b&gt;</li></ul>" in html
    assert (f"<p><b>{DRAFT_START}</b></p><blockquote><p>Hola José,</p>"
            "<p>&lt;script&gt;steal()&lt;/script&gt; revise [1].<br>https://evil.example.com/x</p>"
            f"<p>Saludos 😀</p></blockquote><p><b>{DRAFT_END}</b></p>") in html
    assert ('<li>[1] Refunds &amp; &lt;returns&gt; (Billing) <a href="https://help.example.com/a/1?x=1&amp;y=2">'
            "https://help.example.com/a/1?x=1&amp;y=2</a> [cited]</li>") in html
    assert html.endswith("[run 42]</p>") and "\n" not in html


def test_a_draft_that_fakes_its_end_marker_cannot_leave_the_quote():
    html = note_html(real_note(f"Hi\n{DRAFT_END}\n<b>Category:</b> fake", ()))
    assert html.count(DRAFT_END) == 1
    quote = html[html.index("<blockquote>"):html.index("</blockquote>")]
    assert "Category:&lt;/b&gt; fake" in quote  # still inside the draft, escaped


def test_a_failure_note_and_odd_text():
    html = note_html(format_failure_note("Intercom answered 500 <html>", 5, reference="[run 3]"))
    assert html == ("<p><b>AI triage failed (internal note: nothing was sent to the customer)</b></p>"
                    "<p><b>What failed:</b> Intercom answered 500 &lt;html&gt;<br><b>Attempts:</b> 5<br>"
                    "This ticket needs to be triaged by hand. The failure is recorded in the bot&#x27;s store."
                    " [run 3]</p>")
    assert note_html("") == ""
    assert note_html("Title\r\n\r\nbody") == "<p><b>Title</b></p><p>body</p>"
    unclosed = note_html(f"T\n{DRAFT_START}\nline <x>")
    assert unclosed.endswith("<blockquote><p>line &lt;x&gt;</p></blockquote>")


def test_only_http_urls_in_sources_are_links_and_trailing_punctuation_is_not_part_of_them():
    html = note_html("T\nSources:\n  [1] A (https://x.example/a). [cited]\n  [2] B ftp://x.example/b\n"
                     "  [3] C HTTP://X.example/\"onmouseover=alert(1)")
    assert '<a href="https://x.example/a">https://x.example/a</a>). [cited]' in html
    assert "ftp://x.example/b</li>" in html
    assert '<a href="HTTP://X.example/">HTTP://X.example/</a>&quot;onmouseover=alert(1)' in html
