"""`python -m bot doctor` for an Intercom workspace: reads only. The access token (`GET /me`, the
admin it belongs to), `INTERCOM_ADMIN_ID`, and the policy's team ids (`GET /teams`). Webhook
subscriptions belong to the app and are set in the Developer Hub: Intercom's REST API does not
list them, so doctor says so instead of guessing.
https://developers.intercom.com/docs/references/rest-api/api.intercom.io/admins/identifyadmin
https://developers.intercom.com/docs/references/rest-api/api.intercom.io/teams/listteams
"""

from __future__ import annotations

from typing import Any

from bot.golive.doctor import Check, Status, fail, ok
from bot.golive.plan import SetupError
from bot.policy import Policy
from bot.settings import Settings


def intercom_checks(settings: Settings, policy: Policy, api: Any = None) -> list[Check]:
    from bot.helpdesks.intercom.admin_api import IntercomAdminApi
    from bot.helpdesks.intercom.setup import missing_teams

    api = api or IntercomAdminApi(settings.intercom)
    try:
        me = api.read("/me")
    except SetupError as exc:
        return [fail("intercom credentials", str(exc), "check INTERCOM_ACCESS_TOKEN (Developer Hub > "
                     "Authentication) and INTERCOM_URL (the workspace's region)")]
    checks = [ok("intercom credentials", f"the token is admin {me.get('id')} ({me.get('email') or me.get('name')})")]
    if settings.intercom.admin_id != str(me.get("id")):
        checks.append(Check("intercom admin", Status.WARN, f"INTERCOM_ADMIN_ID is {settings.intercom.admin_id}, the "
                            f"token's admin is {me.get('id')}: notes are written as INTERCOM_ADMIN_ID, which must "
                            "be a teammate of this workspace"))
    try:
        teams = {str(t.get("id")): str(t.get("name") or "") for t in api.read("/teams").get("teams") or ()}
    except SetupError as exc:
        return [*checks, fail("intercom teams", str(exc), "the token needs the permission to read teams")]
    missing = missing_teams(policy, teams)
    checks += ([fail("intercom teams", m, "set the team ids in the policy's groups and routing") for m in missing]
               or [ok("intercom teams", "the policy's team ids exist")])
    checks.append(Check("intercom webhooks", Status.INFO, "subscriptions are the app's, set in the Developer Hub: "
                        "`python -m bot setup intercom` lists the topics"))
    return checks
