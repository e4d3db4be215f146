"""`python -m bot setup intercom`: what Intercom's REST API lets an app set up, and clear steps for
what only the Developer Hub can do.

- The admin the access token belongs to (`GET /me`): the `INTERCOM_ADMIN_ID` notes are written as.
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/admins/identifyadmin
- The bot's tags, created once each (`POST /tags` creates a tag or returns the one of that
  name; the list is read first and names compared case-insensitively, as Intercom does, so a
  second run writes nothing). Removing them (`--remove`) takes them off every conversation too.
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tags/createtag
- The policy's team ids, checked against `GET /teams`.
- Webhook subscriptions belong to the app, not the workspace: they are set in the Developer Hub,
  which also holds the client secret that signs them.
  https://developers.intercom.com/docs/webhooks/setting-up-webhooks
  https://developers.intercom.com/docs/webhooks/webhook-notifications
  The permissions, by the labels the Developer Hub shows (a topic needs its permission too):
  https://developers.intercom.com/docs/build-an-integration/learn-more/authentication/oauth-scopes
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.domain import CATEGORIES, category_slug
from bot.golive.plan import Applier, Call, SetupError, missing_ids
from bot.helpdesks.intercom.admin_api import IntercomAdminApi
from bot.helpdesks.intercom.webhook import TOPICS
from bot.policy import Policy
from bot.policy_values import REASON_CODES
from bot.rules import PRIORITY_WORDS
from bot.vocabulary import BotTag, category_tag, escalation_tag, priority_tag

__all__ = ["IntercomAdminApi", "Workspace", "bot_tags", "developer_hub_removal", "developer_hub_steps",
           "missing_teams", "remove", "set_up"]
WEBHOOK_PATH = "/webhooks/intercom"


@dataclass
class Workspace:
    """What setup learnt about the workspace, and what the admin must still do."""

    settings: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def bot_tags() -> list[str]:
    """Every tag the bot (or an agent asking it to escalate) puts on a conversation: the fixed
    ones of `BotTag`, and each value of the prefixed ones as `bot.rules` and `bot.review_actions`
    make them (a category, a priority, an escalation reason)."""
    fixed = [tag.value for tag in BotTag if not tag.name.endswith("PREFIX")]
    return [*fixed, *(category_tag(category_slug(c)) for c in CATEGORIES),
            *(priority_tag(p) for p in PRIORITY_WORDS), *(escalation_tag(r) for r in REASON_CODES)]


def set_up(api: IntercomAdminApi, applier: Applier, *, policy: Policy, admin_id: str = "") -> Workspace:
    workspace = Workspace()
    me = api.read("/me")
    if not me.get("id"):
        raise SetupError("GET /me: the token belongs to no admin; use the app's access token")
    workspace.settings["INTERCOM_ADMIN_ID"] = str(me["id"])
    if admin_id and admin_id != str(me["id"]):
        workspace.problems.append(f"INTERCOM_ADMIN_ID is {admin_id}, but the token's admin is {me['id']}: notes "
                                  "are written as INTERCOM_ADMIN_ID, which must be a teammate of this workspace")
    existing = _tags(api)
    for name in bot_tags():
        # Found by its name, as Intercom compares names: nothing else to compare or update.
        applier.ensure(f'tag "{name}"', existing.get(name.casefold()), {},
                       create=Call("POST", "/tags", {"name": name}),
                       update=_rename(name),
                       id_of=lambda answer: str(answer["id"]))
    teams = {str(t.get("id")): str(t.get("name") or "") for t in api.read("/teams").get("teams") or ()}
    workspace.problems += missing_teams(policy, teams)
    return workspace


def _tags(api: IntercomAdminApi) -> dict[str, dict]:
    """The workspace's tags by case-folded name: Intercom's tag names are case-insensitive, and
    `POST /tags` with a name that differs only in case answers the existing tag."""
    tags: dict[str, dict] = {}
    for tag in api.read("/tags").get("data") or ():
        tags.setdefault(str(tag.get("name") or "").casefold(), tag)
    return tags


def _rename(name: str) -> Callable[[str], Call]:
    """Never called (a tag has nothing to update); `POST /tags` with an id renames a tag."""
    return lambda tag_id: Call("POST", "/tags", {"id": tag_id, "name": name})


def remove(api: IntercomAdminApi, applier: Applier) -> None:
    existing = _tags(api)
    for name in bot_tags():
        applier.remove(f'tag "{name}"', existing.get(name.casefold()), lambda i: Call("DELETE", f"/tags/{i}"))


def missing_teams(policy: Policy, teams: Mapping[str, str]) -> list[str]:
    return missing_ids(policy.ids_in("intercom"), teams, "Intercom team", "the workspace's teams")


def developer_hub_steps(public_url: str) -> str:
    topics = "\n".join(f"     - {topic}" for topic in TOPICS)
    return f"""
What only the Developer Hub can do (https://app.intercom.com/a/apps/_/developer-hub, your app):
  1. Authentication: the access token is INTERCOM_ACCESS_TOKEN. Its permissions (tick each):
     "Read conversations" (every topic below needs it), "Write conversations" (notes, tags
     and team assignment on a conversation), "Read one user and one company" (the customer),
     "Read tags", "Write tags", "Read admins" (the token's admin and the teams), and
     "Read and list articles" when the knowledge base is an Intercom help center.
  2. Basic information: the client secret is INTERCOM_CLIENT_SECRET; it signs every webhook.
  3. Webhooks: endpoint {public_url}{WEBHOOK_PATH} (HTTPS; Intercom checks it with a HEAD
     request, which the bot answers 200), subscribed to these topics:
{topics}
  4. Restart the web and worker processes with the settings below, then: python -m bot doctor
"""


def developer_hub_removal() -> str:
    return ("\nIn the Developer Hub, remove the webhook endpoint (or the topics above) from your app, "
            "and uninstall the app if it served only the bot.")
