"""`python -m bot setup zendesk`: what the bot needs in a Zendesk account, created or brought up
to date in place (never duplicated), or removed with `--remove`.

- one webhook, "AI copilot", connected to triggers (`conditional_ticket_events`): Zendesk signs
  each delivery with its secret, read back from `GET /api/v2/webhooks/{id}/signing_secret`.
  https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/
- two triggers in their own category: a new ticket, and any later change of a ticket the bot
  triaged (tracking reads the ticket's history, so one "updated" event covers replies, notes,
  status, group, priority, tags and ratings). Changes made by the bot's own user are excluded
  by the "current user" condition (and the webhook drops them too, if one gets through).
  https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/
  https://developer.zendesk.com/documentation/ticketing/reference-guides/conditions-reference/
- a multi-line ticket field, "AI draft", that each draft is also written to, and the macros of
  `config/zendesk/macros.json` ("AI: use draft" puts that field into a public reply).
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_fields/
  https://developer.zendesk.com/api-reference/ticketing/business-rules/macros/

Each is found by its name (title), compared on the keys the bot sets, and updated only when it
differs. The policy's Zendesk group ids are checked against the account's groups.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.golive.plan import Applier, Call, SetupError, missing_ids
from bot.helpdesks.zendesk.admin_api import ZendeskAdminApi
from bot.policy import Policy
from bot.vocabulary import BotTag

NAME = "AI copilot"
TRIGGER_NEW = f"{NAME}: new ticket"
TRIGGER_ACTIVITY = f"{NAME}: ticket activity"
FIELD_TITLE = "AI draft"
WEBHOOK_PATH = "/webhooks/zendesk"
# config/zendesk/macros.json names the draft field as 777; setup puts in the real id.
FIELD_PLACEHOLDER = "ticket_field_777"
# The trigger bodies the webhook parses (bot/helpdesks/zendesk/webhook.py): ids only, the worker
# reads the ticket itself (placeholders in free text are not reliably JSON-escaped).
NEW_BODY = {"ticket_id": "{{ticket.id}}", "event": "created", "actor_id": "{{current_user.id}}"}
ACTIVITY_BODY = {"ticket_id": "{{ticket.id}}", "event": "updated", "actor_id": "{{current_user.id}}"}


@dataclass
class Account:
    """What setup learnt about the account, and what the admin must still do."""

    settings: dict[str, str] = field(default_factory=dict)  # setting -> value to set
    problems: list[str] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # id -> name


# -- what is wanted (pure) --------------------------------------------------------------------


def webhook_body(public_url: str) -> dict:
    return {
        "name": NAME,
        "description": "AI copilot for support: new tickets and activity on tickets it triaged.",
        "endpoint": public_url.rstrip("/") + WEBHOOK_PATH,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }


def trigger_bodies(webhook_id: str, category_id: str, bot_user_id: str) -> list[dict]:
    not_the_bot = [{"field": "current_user", "operator": "is_not", "value": bot_user_id}] if bot_user_id else []
    return [
        {
            "title": TRIGGER_NEW,
            "description": "Tells the AI copilot about each new ticket (python -m bot setup zendesk).",
            "active": True,
            "category_id": category_id,
            "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}], "any": []},
            "actions": [{"field": "notification_webhook", "value": [webhook_id, json.dumps(NEW_BODY)]}],
        },
        {
            "title": TRIGGER_ACTIVITY,
            "description": "Tells the AI copilot about changes to tickets it triaged, for tracking "
                           "and review actions (python -m bot setup zendesk).",
            "active": True,
            "category_id": category_id,
            "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "Change"},
                {"field": "current_tags", "operator": "includes", "value": BotTag.TRIAGED.value},
                *not_the_bot,
            ], "any": []},
            "actions": [{"field": "notification_webhook", "value": [webhook_id, json.dumps(ACTIVITY_BODY)]}],
        },
    ]


def field_body() -> dict:
    return {
        "type": "textarea",
        "title": FIELD_TITLE,
        "description": "The AI copilot's draft reply, for the 'AI: use draft' macro.",
        "agent_description": "Written by the AI copilot. Review it; nothing here is sent to the customer.",
        "active": True,
        "required": False,
        "visible_in_portal": False,
        "editable_in_portal": False,
    }


def macro_bodies(macros: Iterable[Mapping[str, Any]], field_id: str) -> list[dict]:
    """The configured macros, with the draft field's real id in their placeholders."""
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(FIELD_PLACEHOLDER, f"ticket_field_{field_id}")
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return [{k: fill(v) for k, v in m.items() if not k.startswith("_")} for m in macros]


# -- carrying it out --------------------------------------------------------------------------


def set_up(api: ZendeskAdminApi, applier: Applier, *, public_url: str, policy: Policy,
           macros: list[dict], draft_field_id: str = "") -> Account:
    account = Account()
    me = _admin(api)
    bot_user = str(me["id"])
    account.settings["ZENDESK_BOT_USER_ID"] = bot_user

    field_id = applier.ensure(
        f'ticket field "{FIELD_TITLE}"', _draft_field(api, draft_field_id), field_body(),
        create=Call("POST", "/api/v2/ticket_fields", {"ticket_field": field_body()}),
        update=lambda i: Call("PUT", f"/api/v2/ticket_fields/{i}", {"ticket_field": _without(field_body(), "type")}),
        id_of=lambda answer: str(answer["ticket_field"]["id"]))
    account.settings["ZENDESK_DRAFT_FIELD_ID"] = field_id

    wanted = webhook_body(public_url)
    existing = find_webhook(api)
    if existing is not None and list(existing.get("subscriptions") or []) != wanted["subscriptions"]:
        raise SetupError(
            f'webhook "{NAME}" (id {existing["id"]}) subscribes to Zendesk events; Zendesk cannot '
            "change a webhook's connection method: remove it (python -m bot setup zendesk --remove) "
            "and run setup again")
    webhook_id = applier.ensure(
        f'webhook "{NAME}"', existing, wanted,
        create=Call("POST", "/api/v2/webhooks", {"webhook": wanted}),
        update=lambda i: Call("PUT", f"/api/v2/webhooks/{i}", {"webhook": wanted}),
        id_of=lambda answer: str(answer["webhook"]["id"]))

    categories = api.read_all("/api/v2/trigger_categories", "trigger_categories")
    category_id = applier.ensure(
        f'trigger category "{NAME}"', _named(categories, "name", NAME), {"name": NAME},
        create=Call("POST", "/api/v2/trigger_categories", {"trigger_category": {"name": NAME}}),
        update=lambda i: Call("PATCH", f"/api/v2/trigger_categories/{i}", {"trigger_category": {"name": NAME}}),
        id_of=lambda answer: str(answer["trigger_category"]["id"]))

    triggers = list(api.read_all("/api/v2/triggers", "triggers"))
    for body in trigger_bodies(webhook_id, category_id, bot_user):
        applier.ensure(
            f'trigger "{body["title"]}"', _named(triggers, "title", body["title"]), body,
            create=Call("POST", "/api/v2/triggers", {"trigger": body}),
            update=_put("/api/v2/triggers", "trigger", body),
            id_of=lambda answer: str(answer["trigger"]["id"]))

    existing_macros = list(api.read_all("/api/v2/macros", "macros"))
    for body in macro_bodies(macros, field_id):
        applier.ensure(
            f'macro "{body["title"]}"', _named(existing_macros, "title", body["title"]), body,
            create=Call("POST", "/api/v2/macros", {"macro": body}),
            update=_put("/api/v2/macros", "macro", body),
            id_of=lambda answer: str(answer["macro"]["id"]))

    if webhook_id.startswith("<"):  # dry run: the webhook does not exist yet
        account.settings["ZENDESK_WEBHOOK_SECRET"] = "<shown once the webhook exists>"
    else:
        secret = api.read(f"/api/v2/webhooks/{webhook_id}/signing_secret").get("signing_secret") or {}
        account.settings["ZENDESK_WEBHOOK_SECRET"] = str(secret.get("secret") or "")
    account.groups = {str(g["id"]): str(g.get("name") or "") for g in api.read_all("/api/v2/groups", "groups")}
    account.problems += missing_groups(policy, account.groups)
    return account


def remove(api: ZendeskAdminApi, applier: Applier, macros: list[dict], draft_field_id: str = "") -> None:
    """Undo `set_up`: triggers first (they name the webhook), then the rest. The draft field
    goes too, with the drafts it holds on tickets."""
    _admin(api)
    triggers = list(api.read_all("/api/v2/triggers", "triggers"))
    for title in (TRIGGER_NEW, TRIGGER_ACTIVITY):
        applier.remove(f'trigger "{title}"', _named(triggers, "title", title),
                       lambda i: Call("DELETE", f"/api/v2/triggers/{i}"))
    category = _named(api.read_all("/api/v2/trigger_categories", "trigger_categories"), "name", NAME)
    others = [t for t in triggers if category and str(t.get("category_id")) == str(category["id"])
              and t.get("title") not in (TRIGGER_NEW, TRIGGER_ACTIVITY)]
    if others:  # an admin put triggers of their own there: keep the category
        applier.echo(f'kept     trigger category "{NAME}": it holds {len(others)} other trigger(s)')
    else:
        applier.remove(f'trigger category "{NAME}"', category,
                       lambda i: Call("DELETE", f"/api/v2/trigger_categories/{i}"))
    applier.remove(f'webhook "{NAME}"', find_webhook(api), lambda i: Call("DELETE", f"/api/v2/webhooks/{i}"))
    existing_macros = list(api.read_all("/api/v2/macros", "macros"))
    for body in macros:
        applier.remove(f'macro "{body["title"]}"', _named(existing_macros, "title", body["title"]),
                       lambda i: Call("DELETE", f"/api/v2/macros/{i}"))
    applier.remove(f'ticket field "{FIELD_TITLE}"', _draft_field(api, draft_field_id),
                   lambda i: Call("DELETE", f"/api/v2/ticket_fields/{i}"))


def missing_groups(policy: Policy, groups: Mapping[str, str]) -> list[str]:
    return missing_ids(policy.ids_in("zendesk"), groups, "Zendesk group", "the account's groups")


def _admin(api: ZendeskAdminApi) -> dict:
    me = api.read("/api/v2/users/me").get("user") or {}
    if me.get("id") is None:
        raise SetupError("GET /api/v2/users/me: not signed in; check ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    if me.get("role") != "admin":
        raise SetupError(f"{me.get('email') or 'this user'} is a Zendesk {me.get('role')}, not an admin: "
                         "webhooks, triggers, fields and macros need an admin's API token")
    return me


def find_webhook(api: ZendeskAdminApi) -> dict | None:
    # Webhooks list with cursor pagination; the name filter keeps it to a page.
    query = urlencode({"filter[name_contains]": NAME})
    return _named(api.read_all(f"/api/v2/webhooks?{query}", "webhooks"), "name", NAME)


def _draft_field(api: ZendeskAdminApi, draft_field_id: str) -> dict | None:
    fields = list(api.read_all("/api/v2/ticket_fields", "ticket_fields"))
    chosen = next((f for f in fields if draft_field_id and str(f.get("id")) == draft_field_id), None)
    chosen = chosen or _named(fields, "title", FIELD_TITLE)
    if chosen is not None and chosen.get("type") != "textarea":
        raise SetupError(f'ticket field {chosen["id"]} "{chosen.get("title")}" is a {chosen.get("type")} '
                         "field: the draft needs a multi-line text field; rename or remove it")
    return chosen


def _put(path: str, key: str, body: dict) -> Callable[[str], Call]:
    return lambda item_id: Call("PUT", f"{path}/{item_id}", {key: body})


def _named(items: Iterable[dict], key: str, name: str) -> dict | None:
    """The first item called `name`: a second one (made by hand) is left alone."""
    return next((item for item in items if item.get(key) == name), None)


def _without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}
