"""The review actions' helpdesk-side configuration that ships with the project."""
from __future__ import annotations

import json
from pathlib import Path

from bot.tracking.assess import Command, parse_command
from bot.vocabulary import BotTag

ROOT = Path(__file__).resolve().parent.parent


def test_the_zendesk_macros_use_the_draft_field_and_the_tag_the_tracker_reads():
    macros = {m["title"]: m for m in json.loads((ROOT / "config/zendesk/macros.json").read_text())["macros"]}
    use = {a["field"]: a["value"] for a in macros["AI: use draft"]["actions"]}
    # A public reply holding the draft field's text: the agent edits and sends it.
    assert use == {"comment_mode_is_public": "true", "comment_value": "{{ticket.ticket_field_777}}"}
    escalate = macros["AI: escalate"]["actions"]
    assert escalate == [{"field": "current_tags", "value": BotTag.ESCALATE_REQUEST.value}]


def test_the_readme_documents_the_commands_the_tracker_parses():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for example in ("#ai redraft shorter, mention the invoice", "#ai escalate"):
        assert example in readme
        assert parse_command(example) is not None
    assert parse_command("#ai redraft shorter, mention the invoice")[0] is Command.REDRAFT
