"""`python -m bot doctor` for a Zendesk account: reads only. The credentials (`/users/me`), what
`setup zendesk` creates (webhook, its secret, triggers, the draft field) and the policy's groups.

A webhook whose secret is not ZENDESK_WEBHOOK_SECRET would have every delivery refused with 401;
the secret is compared here, never printed.
https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/#show-webhook-signing-secret
"""

from __future__ import annotations

import hmac

from bot.golive.doctor import Check, Status, fail, ok
from bot.golive.plan import SetupError
from bot.helpdesks.zendesk import setup
from bot.helpdesks.zendesk.admin_api import Refused, ZendeskAdminApi
from bot.policy import Policy
from bot.settings import Settings

SETUP = "python -m bot setup zendesk --url <PUBLIC_URL>"


def zendesk_checks(settings: Settings, policy: Policy, api: ZendeskAdminApi | None = None) -> list[Check]:
    api = api or ZendeskAdminApi(settings.zendesk)
    try:
        me = api.read("/api/v2/users/me").get("user") or {}
    except SetupError as exc:
        return [fail("zendesk credentials", str(exc), "check ZENDESK_SUBDOMAIN/ZENDESK_URL, ZENDESK_EMAIL "
                     "and ZENDESK_API_TOKEN (Admin Center > Apps and integrations > Zendesk API)")]
    if me.get("id") is None:
        return [fail("zendesk credentials", "the API answered as an anonymous user",
                     "check ZENDESK_EMAIL and ZENDESK_API_TOKEN")]
    checks = [ok("zendesk credentials", f"signed in as {me.get('email')} ({me.get('role')}, user {me['id']})")]
    configured = settings.zendesk.bot_user_id
    if configured and configured != str(me["id"]):
        checks.append(fail("zendesk bot user", f"ZENDESK_BOT_USER_ID is {configured}, but the token's user is "
                           f"{me['id']}: the bot would take its own notes for an agent's",
                           f"set ZENDESK_BOT_USER_ID={me['id']}"))
    try:
        checks += _setup_checks(api, settings)
        groups = {str(g["id"]): str(g.get("name") or "") for g in api.read_all("/api/v2/groups", "groups")}
    except Refused:  # the bot's own token may well be an agent's: least privilege
        return [*checks, Check("zendesk configuration", Status.WARN, "this token may not read webhooks, triggers "
                               "and groups (an agent's): run doctor with an admin's ZENDESK_EMAIL and "
                               "ZENDESK_API_TOKEN to check them")]
    except SetupError as exc:
        return [*checks, fail("zendesk configuration", str(exc), "check the account's API access")]
    missing = setup.missing_groups(policy, groups)
    checks += ([fail("zendesk groups", m, "set the group ids in the policy's groups and routing") for m in missing]
               or [ok("zendesk groups", f"the policy's {len(policy.ids_in('zendesk'))} group ids exist")])
    return checks


def _setup_checks(api: ZendeskAdminApi, settings: Settings) -> list[Check]:
    checks: list[Check] = []
    webhook = setup.find_webhook(api)
    if webhook is None:
        return [fail("zendesk webhook", f'no webhook "{setup.NAME}": Zendesk tells the bot nothing', SETUP)]
    expected = (settings.public_url + setup.WEBHOOK_PATH) if settings.public_url else None
    if webhook.get("status") != "active":
        checks.append(fail("zendesk webhook", f'webhook {webhook["id"]} is {webhook.get("status")}', SETUP))
    elif expected and webhook.get("endpoint") != expected:
        checks.append(fail("zendesk webhook", f'webhook {webhook["id"]} delivers to {webhook.get("endpoint")}, '
                           f"not {expected}", SETUP))
    else:
        checks.append(ok("zendesk webhook", f'{webhook["id"]} active, delivering to {webhook.get("endpoint")}'))
    secret = (api.read(f"/api/v2/webhooks/{webhook['id']}/signing_secret").get("signing_secret") or {}).get("secret")
    if not hmac.compare_digest(str(secret or ""), settings.zendesk.webhook_secret):
        checks.append(fail("zendesk signing secret", "ZENDESK_WEBHOOK_SECRET is not the webhook's secret: every "
                           "delivery would be refused with 401", f"set it to what `{SETUP}` prints"))
    else:
        checks.append(ok("zendesk signing secret", "ZENDESK_WEBHOOK_SECRET is the webhook's"))
    triggers = {t.get("title"): t for t in api.read_all("/api/v2/triggers", "triggers")}
    for title in (setup.TRIGGER_NEW, setup.TRIGGER_ACTIVITY):
        trigger = triggers.get(title)
        if trigger is None or not trigger.get("active"):
            state = "missing" if trigger is None else "inactive"
            checks.append(fail("zendesk trigger", f'"{title}" is {state}', SETUP))
        elif not any(webhook["id"] in map(str, a.get("value") or ()) for a in trigger.get("actions") or ()):
            checks.append(fail("zendesk trigger", f'"{title}" does not notify webhook {webhook["id"]}', SETUP))
        else:
            checks.append(ok("zendesk trigger", f'"{title}" active'))
    field_id = settings.zendesk.draft_field_id
    if not field_id:
        checks.append(Check("zendesk draft field", Status.WARN, "ZENDESK_DRAFT_FIELD_ID is not set: the "
                            "'AI: use draft' macro has nothing to insert", SETUP))
    elif not any(str(f.get("id")) == field_id for f in api.read_all("/api/v2/ticket_fields", "ticket_fields")):
        checks.append(fail("zendesk draft field", f"ticket field {field_id} does not exist", SETUP))
    else:
        checks.append(ok("zendesk draft field", f"ticket field {field_id}"))
    return checks
