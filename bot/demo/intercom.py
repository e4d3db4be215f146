"""The demo's Intercom side: its conversations delivered as signed Intercom webhooks, and the
notes the bot wrote shown as a teammate sees them in the Intercom inbox (and saved as HTML)."""

from __future__ import annotations

import copy
import html
import json
import re
import time
import uuid
from pathlib import Path

import click
import requests

from bot.helpdesks.intercom.webhook import SIGNATURE_HEADER, sign
from bot.kb.text import html_to_text
from bot.settings import INSTANCE_DIR

NOTES_FILE = INSTANCE_DIR / "demo" / "intercom_notes.html"
# Keys of the demo file's conversations that are not Intercom's: what the customer writes next,
# and what a reader expects (as a ticket's `source`; a conversation's `source` is Intercom's).
DEMO_KEYS = ("later_parts", "demo_source")
_QUOTE = re.compile(r"<blockquote>(.*?)</blockquote>", re.DOTALL)


def subject(conversation: dict) -> str:
    """The title, or the first message's first words (chats rarely have a title)."""
    text = conversation.get("title") or html_to_text(conversation["source"]["body"])
    return " ".join(text.split())


def send_created(base: str, secret: str, conversations: list[dict]) -> dict[str, int]:
    """One `conversation.user.created` per conversation, and Intercom's retry of the first one
    (the same notification id), which must be absorbed."""
    answers: dict[str, int] = {}
    first = None
    for conversation in conversations:
        body = notification("conversation.user.created", intercom_json(conversation))
        first = first or body
        _count(answers, _post(base, secret, body), "intercom")
    if first:
        _count(answers, _post(base, secret, first), "intercom redelivery")
    return answers


def send_follow_ups(base: str, secret: str, conversations: list[dict]) -> dict[str, int]:
    """`conversation.user.replied` for each conversation whose customer writes again (its
    `later_parts`). The worker's sample workspace shows those parts once the bot's first note is
    there; the demo cannot add them itself (the workspace lives in the worker process)."""
    answers: dict[str, int] = {}
    for conversation in conversations:
        later = conversation.get("later_parts")
        if not later:
            continue
        words = " ".join(html_to_text(p["body"]) for p in later)
        click.echo(f"The customer of Intercom conversation #{conversation['id']} writes again: \"{words}\"\n"
                   "(the sample workspace shows this message once the bot's first note is there); "
                   "sending conversation.user.replied, and the bot triages the conversation anew.")
        body = notification("conversation.user.replied", replied(conversation))
        _count(answers, _post(base, secret, body), "intercom reply")
    return answers


def print_notes(runs, conversations: list[dict]) -> None:
    """The calls the bot made for one conversation (its customer's second message, if there is
    one), its note as a teammate reads it, and every note in an HTML file (Intercom renders a
    note's HTML; a terminal cannot)."""
    written = [r for r in runs if (r.actions or {}).get("update", {}).get("note", {}).get("body")]
    if not written:
        return
    example = next((r for r in written if r.event_kind == "customer_replied"), written[0])
    calls, cid = example.actions["update"], example.ticket_id
    note = calls["note"]
    why = "after the customer wrote again" if example.event_kind == "customer_replied" else "a new conversation"
    admin = note["admin_id"]
    click.echo(f"\nThe calls the bot would make to Intercom for conversation #{cid} ({why}):")
    click.echo(f"  POST /conversations/{cid}/reply  " + json.dumps(
        {"message_type": "note", "type": "admin", "admin_id": admin, "body": "<the note's HTML, below>"}))
    for tag in calls.get("tags") or ():
        click.echo(f'  POST /conversations/{cid}/tags   {{"id": <id of tag "{tag}">, "admin_id": "{admin}"}}')
    if calls.get("tags"):
        click.echo('  (a tag\'s id comes from POST /tags {"name": ...}, once per tag and worker; tags the '
                   "conversation has are not sent again)")
    if calls.get("assignment"):
        click.echo(f"  POST /conversations/{cid}/parts  " + json.dumps(calls["assignment"]))
    priority = (example.rules or {}).get("priority")
    click.echo(f"  No priority call: API 2.14 cannot set one (priority {priority} is in the note and its tag).")
    click.echo("\nThe internal note, as a teammate sees it in the Intercom inbox (the draft is a block quote):\n")
    click.echo(readable(note["body"]))
    by_id = {c["id"]: c for c in conversations}
    save(written, by_id, NOTES_FILE)
    click.echo(f"\nEvery Intercom note the bot wrote, as Intercom renders it: open {NOTES_FILE} in a browser.")


def readable(note_html: str) -> str:
    """A note's HTML as plain text for a terminal: paragraphs, "- " list items, and the draft
    (the note's block quote) set off by "│" as Intercom sets it off by a bar."""
    pieces, last = [], 0
    for match in _QUOTE.finditer(note_html):
        pieces.append(_text(note_html[last:match.start()]))
        pieces.append("\n".join(f"│ {line}".rstrip() for line in _text(match.group(1)).splitlines()))
        last = match.end()
    pieces.append(_text(note_html[last:]))
    return "\n\n".join(p for p in pieces if p)


def save(runs, conversations: dict[str, dict], path: Path) -> None:
    """Each note under what the customer had written when the bot wrote it."""
    sections = []
    for run in runs:
        conversation = conversations.get(run.ticket_id, {})
        messages = [conversation["source"]] if conversation else []
        if run.event_kind == "customer_replied":
            messages += conversation.get("later_parts", [])
        said = "".join(f"<p class='customer'>{html.escape(html_to_text(m['body']))}</p>" for m in messages)
        when = "after the customer wrote again" if run.event_kind == "customer_replied" else "new conversation"
        sections.append(f"<h2>Conversation #{html.escape(run.ticket_id)} ({when})</h2>{said}"
                        f"<div class='note'>{run.actions['update']['note']['body']}</div>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>Intercom notes (demo)</title>"
        "<style>body{font:15px/1.5 sans-serif;max-width:46em;margin:2em auto}"
        ".customer{background:#eef3fb;border-radius:12px;padding:.6em 1em;max-width:34em}"
        ".note{background:#fef8e7;border:1px solid #f1d58a;padding:1em;border-radius:6px}"
        "blockquote{border-left:3px solid #ccc;margin:0;padding-left:1em}</style>"
        "<h1>The bot's internal notes on the demo's Intercom conversations</h1>"
        + "".join(sections), encoding="utf-8")


def intercom_json(conversation: dict) -> dict:
    """The conversation as Intercom sends it: without the demo file's own keys."""
    return {k: copy.deepcopy(v) for k, v in conversation.items() if k not in DEMO_KEYS}


def replied(conversation: dict) -> dict:
    """The conversation as a `conversation.user.replied` notification carries it: its new parts."""
    later = conversation["later_parts"]
    item = intercom_json(conversation)
    item["conversation_parts"] = {"type": "conversation_part.list", "conversation_parts": copy.deepcopy(later),
                                  "total_count": len(later)}
    item["updated_at"] = max(p["created_at"] for p in later)
    return item


def _text(fragment: str) -> str:
    return re.sub(r"\n\n(?=- )", "\n", html_to_text(fragment))


def notification(topic: str, item: dict) -> bytes:
    """Intercom's envelope: https://developers.intercom.com/docs/references/webhooks/webhook-models"""
    now = int(time.time())
    return json.dumps({"type": "notification_event", "app_id": "demo", "topic": topic,
                       "id": f"notif_{uuid.uuid4()}", "created_at": now, "delivery_attempts": 1,
                       "first_sent_at": now, "data": {"type": "notification_event_data", "item": item}}
                      ).encode()


def _post(base: str, secret: str, body: bytes) -> int:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
    return requests.post(f"{base}/webhooks/intercom", data=body, headers=headers, timeout=15).status_code


def _count(answers: dict[str, int], status: int, what: str) -> None:
    key = f"{status} ({what})"
    answers[key] = answers.get(key, 0) + 1
