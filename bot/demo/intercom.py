"""The demo's Intercom side: its conversations delivered as signed Intercom webhooks, and the
notes the bot wrote shown as a teammate sees them in the Intercom inbox (and saved as HTML)."""

from __future__ import annotations

import copy
import html
import json
import time
import uuid
from pathlib import Path

import click
import requests

from bot.helpdesks.intercom.webhook import SIGNATURE_HEADER, sign
from bot.kb.text import html_to_text
from bot.settings import INSTANCE_DIR

NOTES_FILE = INSTANCE_DIR / "demo" / "intercom_notes.html"


def subject(conversation: dict) -> str:
    if conversation.get("title"):
        return conversation["title"]
    text = html_to_text(conversation["source"]["body"])
    return text.splitlines()[0] if text else ""


def send_created(base: str, secret: str, conversations: list[dict]) -> dict[str, int]:
    """One `conversation.user.created` per conversation, and Intercom's retry of the first one
    (the same notification id), which must be absorbed."""
    answers: dict[str, int] = {}
    first = None
    for conversation in conversations:
        body = _notification("conversation.user.created", _without_later(conversation))
        first = first or body
        _count(answers, _post(base, secret, body), "intercom")
    if first:
        _count(answers, _post(base, secret, first), "intercom redelivery")
    return answers


def send_follow_ups(base: str, secret: str, conversations: list[dict]) -> dict[str, int]:
    """`conversation.user.replied` for each conversation whose customer wrote again (the
    sample's `later_parts`, which the sample workspace now shows)."""
    answers: dict[str, int] = {}
    for conversation in conversations:
        if conversation.get("later_parts"):
            item = _without_later(conversation)
            item["conversation_parts"]["conversation_parts"] = copy.deepcopy(conversation["later_parts"])
            _count(answers, _post(base, secret, _notification("conversation.user.replied", item)),
                   "intercom reply")
    return answers


def print_notes(runs) -> None:
    """One note as the teammate reads it, the calls the bot made, and every note in an HTML
    file (Intercom renders the note's HTML; a terminal cannot)."""
    written = [r for r in runs if r.actions and r.actions.get("update", {}).get("note", {}).get("body")]
    if not written:
        return
    example = next((r for r in written if r.event_kind == "customer_replied"), written[0])
    calls = example.actions["update"]
    click.echo(f"\nThe calls the bot would make for Intercom conversation #{example.ticket_id} "
               f"({'the customer wrote again' if example.event_kind == 'customer_replied' else 'new'}):")
    click.echo(f"  POST /conversations/{example.ticket_id}/reply  (message_type: note, admin "
               f"{calls['note']['admin_id']})")
    for tag in calls.get("tags") or ():
        click.echo(f"  POST /conversations/{example.ticket_id}/tags   {tag}")
    if calls.get("assignment"):
        click.echo(f"  POST /conversations/{example.ticket_id}/parts  assignment to team "
                   f"{calls['assignment']['assignee_id']}")
    click.echo("The internal note, as a teammate sees it in the Intercom inbox:\n")
    click.echo(html_to_text(calls["note"]["body"]))
    _save(written, NOTES_FILE)
    click.echo(f"\nEvery Intercom note, as HTML: {NOTES_FILE}")


def _save(runs, path: Path) -> None:
    sections = [f"<h2>Conversation #{html.escape(r.ticket_id)} ({html.escape(r.event_kind)})</h2>"
                f"<div class='note'>{r.actions['update']['note']['body']}</div>" for r in runs]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset='utf-8'><title>Intercom notes (demo)</title>"
        "<style>body{font:15px/1.5 sans-serif;max-width:46em;margin:2em auto}"
        ".note{background:#fef8e7;border:1px solid #f1d58a;padding:1em;border-radius:6px}"
        "blockquote{border-left:3px solid #ccc;margin:0;padding-left:1em}</style>"
        + "".join(sections), encoding="utf-8")


def _without_later(conversation: dict) -> dict:
    item = {k: v for k, v in copy.deepcopy(conversation).items() if k not in ("later_parts", "written_for")}
    return item


def _notification(topic: str, item: dict) -> bytes:
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
