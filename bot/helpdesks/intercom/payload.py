"""Intercom's shapes, both ways: conversation and contact JSON -> domain values, and the bot's
note as the HTML Intercom notes take. Pure: no SDK, no HTTP.

A conversation comes in two shapes, both read here:
- 2.x (the Conversation model of API 2.14): `title`, `source` {author, subject, body} for the
  first message, `contacts.contacts[]`, `team_assignee_id`, `tags.tags[]`, `conversation_parts`.
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/retrieveconversation
- classic (webhook bodies of apps on older versions, see fixtures/): `user` for the customer and
  `conversation_message` {author, subject, body} for the first message.

Times are epoch seconds, sent as numbers (or, in old bodies, numeric strings).

Which parts are messages: every part with a body that is not a note. Teammates' replies are
`comment` parts, but a reply that reopens a closed conversation arrives as an `open` part with
the reply as its body (fixtures/hull__conversation-admin-replied.json), and an assignment or a
close may carry a message to the customer too (`body` of the assign and close requests).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain import PastTicket, Person, Ticket
from bot.helpdesks.intercom.note import note_html
from bot.kb.text import html_to_text

__all__ = [
    "CUSTOMER_AUTHORS", "conversation_parts", "epoch_seconds", "epoch_time", "first_message", "has_note",
    "human_activity_since", "note_html", "past_ticket_from_conversation", "person_from_contact",
    "tag_names", "team_id", "team_set_by_teammate", "ticket_from_conversation",
]

# Author types of a customer's message: contacts are `user` or `lead` (and `contact` in places).
CUSTOMER_AUTHORS = frozenset({"user", "lead", "contact"})
NOTE_PARTS = frozenset({"note", "note_and_reopen"})
_LABELS = {"admin": "Agent", "team": "Agent", "bot": "Bot"}
_SNIPPET = 80  # characters of the first message that name a conversation without a subject


def ticket_from_conversation(data: dict, bot_admin_id: str) -> Ticket:
    created = epoch_time(data.get("created_at"))
    return Ticket(
        id=str(data["id"]),
        subject=_subject(data),
        description=_description(data, bot_admin_id),
        status=_state(data),
        priority=data.get("priority") or None,
        group_id=team_id(data),
        tags=tag_names(data.get("tags")),
        requester_id=_requester(data),
        created_at=created,
        updated_at=None if data.get("updated_at") is None else str(data["updated_at"]),
    )


def person_from_contact(data: dict) -> Person:
    """A contact (`GET /contacts/{id}`, or a classic `user`). Its custom attributes are the
    person's `fields`, which the policy reads (VIP `user_fields`, `account_status_field`)."""
    attributes = data.get("custom_attributes")
    companies = _listed(data.get("companies"), "data") or _listed(data.get("companies"), "companies")
    return Person(
        id=str(data["id"]),
        name=data.get("name") or "",
        email=data.get("email") or "",
        tags=tag_names(data.get("tags")),
        fields=dict(attributes) if isinstance(attributes, dict) else {},
        organization_id=next((str(c["id"]) for c in companies if c.get("id") not in (None, "")), None),
    )


def past_ticket_from_conversation(data: dict) -> PastTicket:
    """One of the contact's conversations (a search result: no parts)."""
    return PastTicket(
        id=str(data["id"]),
        subject=_subject(data) or _oneline(html_to_text(first_message(data).get("body") or ""))[:_SNIPPET],
        status=_state(data),
        created_at=epoch_time(data.get("created_at")) or datetime.min.replace(tzinfo=UTC),
        tags=tag_names(data.get("tags")),
    )


def human_activity_since(conversation: dict, since: datetime, bot_admin_id: str) -> str | None:
    """Why the bot must not write, or None: the conversation is closed, was closed after
    `since`, or a teammate other than the bot sent the customer a message after `since`."""
    if _state(conversation) == "closed":
        return "the conversation is closed"
    # Intercom stamps parts in whole seconds: a part stamped in the very second of `since` may
    # be later than it, and is counted (the bot would rather stay silent than talk over).
    after = int(since.timestamp())
    for part in conversation_parts(conversation):
        at = epoch_seconds(part.get("created_at"))
        if at is None or at < after:
            continue
        kind, who = _author(part)
        moment = epoch_time(at)
        when = moment.isoformat() if moment else str(at)
        if part.get("part_type") == "close":
            return f"{kind} {who} closed the conversation at {when}"
        if kind in ("admin", "team") and who != bot_admin_id and _is_message(part):
            return f"{kind} {who} replied at {when}"
    return None


def has_note(conversation: dict, reference: str, bot_admin_id: str) -> bool:
    """Whether the bot's admin already wrote a note naming `reference` (a write after a crash)."""
    if not reference:
        return False
    for part in conversation_parts(conversation):
        if part.get("part_type") in NOTE_PARTS and _author(part) == ("admin", bot_admin_id):
            body = part.get("body") or ""
            if reference in body or reference in html_to_text(body):
                return True
    return False


def team_set_by_teammate(conversation: dict, bot_admin_id: str) -> str | None:
    """The teammate (admin id) whose part set the conversation's team last, or None when the
    last team assignment was the bot's, automatic (assignment rules, workflows: `bot` authors)
    or not among the parts. A part that assigns a team names it in `assigned_to`."""
    for part in reversed(conversation_parts(conversation)):
        assigned = part.get("assigned_to")
        if isinstance(assigned, dict) and assigned.get("type") == "team":
            kind, who = _author(part)
            return who if kind == "admin" and who and who != bot_admin_id else None
    return None


def team_id(data: dict) -> str | None:
    """The team the conversation is assigned to (an integer in the spec), as a string."""
    return _id(data.get("team_assignee_id"))


def tag_names(tags: Any) -> tuple[str, ...]:
    """Names of `{"type": "tag.list", "tags": [...]}` (conversations, classic users) or of a
    contact's `{"data": [...]}` (whose items the spec gives without names: those are skipped)."""
    items = _listed(tags, "tags") or _listed(tags, "data")
    return tuple(str(t["name"]) for t in items if isinstance(t.get("name"), str) and t["name"])


def first_message(data: dict) -> dict:
    """The message that opened the conversation: `source` (2.x) or `conversation_message`."""
    for key in ("source", "conversation_message"):
        if isinstance(data.get(key), dict):
            return data[key]
    return {}


def conversation_parts(data: dict) -> list[dict]:
    """The conversation's parts, in the order sent (oldest first; at most the 500 newest)."""
    return _listed(data.get("conversation_parts"), "conversation_parts")


def epoch_time(value: Any) -> datetime | None:
    """Epoch seconds (a number or a numeric string) -> an aware UTC datetime."""
    at = epoch_seconds(value)
    try:
        return datetime.fromtimestamp(at, tz=UTC) if at is not None else None
    except (OverflowError, OSError, ValueError):
        return None


# -- the conversation as the triage model reads it ---------------------------------------------


def _description(data: dict, bot_admin_id: str) -> str:
    """The conversation so far as plain text, oldest first: the first message and every later
    message (notes, assignments and other events left out; nothing by the bot's own admin).

    A conversation that is only the customer's first message is that message, unprefixed, as a
    Zendesk ticket's description is. Otherwise each message is headed by who wrote it and when
    (UTC): "Customer (2026-12-05 10:02):", "Agent (...):", "Bot (...):" (Fin, workflows), and
    messages are separated by blank lines.
    """
    opening = first_message(data)
    messages = [(opening, epoch_time(data.get("created_at")))] if opening else []
    messages += [(p, epoch_time(p.get("created_at"))) for p in conversation_parts(data) if _is_message(p)]
    kept = [(m, at) for m, at in messages if _author(m) != ("admin", bot_admin_id)]
    texts = [(m, at, html_to_text(m.get("body") or "")) for m, at in kept]
    texts = [(m, at, text) for m, at, text in texts if text]
    if len(texts) == 1 and _author(texts[0][0])[0] in CUSTOMER_AUTHORS:
        return texts[0][2]
    blocks = []
    for message, at, text in texts:
        kind = _author(message)[0]
        label = "Customer" if kind in CUSTOMER_AUTHORS else _LABELS.get(kind, kind.capitalize() or "Unknown")
        when = f" ({at:%Y-%m-%d %H:%M})" if at else ""
        blocks.append(f"{label}{when}:\n{text}")
    return "\n\n".join(blocks)


def _is_message(part: dict) -> bool:
    return part.get("part_type") not in NOTE_PARTS and bool((part.get("body") or "").strip())


def _subject(data: dict) -> str:
    title = data.get("title") or first_message(data).get("subject") or ""
    return _oneline(html_to_text(title)) if isinstance(title, str) else ""


def _state(data: dict) -> str:
    state = data.get("state")
    if isinstance(state, str) and state:
        return state
    return "closed" if data.get("open") is False else "open"


def _requester(data: dict) -> str | None:
    contacts = _listed(data.get("contacts"), "contacts")
    if contacts:
        return _id(contacts[0].get("id"))
    user = data.get("user")
    if isinstance(user, dict) and user.get("id"):
        return _id(user["id"])
    author = first_message(data).get("author")
    if isinstance(author, dict) and author.get("type") in CUSTOMER_AUTHORS:
        return _id(author.get("id"))
    return None


def _author(message: dict) -> tuple[str, str]:
    author = message.get("author")
    if not isinstance(author, dict):
        return "", ""
    return str(author.get("type") or ""), _id(author.get("id")) or ""


def _listed(container: Any, key: str) -> list[dict]:
    """`container[key]` as a list of objects; a bare list is taken as the list itself."""
    items = container.get(key) if isinstance(container, dict) else container
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _id(value: Any) -> str | None:
    return None if value in (None, "", 0, "0") or isinstance(value, bool) else str(value)


def epoch_seconds(value: Any) -> int | None:
    """Epoch seconds sent as a number or a numeric string ("1401970114"); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return None


def _oneline(text: str) -> str:
    return " ".join(text.split())
