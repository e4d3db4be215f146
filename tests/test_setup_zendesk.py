"""`python -m bot setup zendesk` against the fake Zendesk, whose every request is checked against
Zendesk's OpenAPI file (Support API) and the Webhooks API contract (tests/contracts)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.domain import EventKind
from bot.golive.plan import Applier, Call, Outcome, SetupError, same
from bot.helpdesk_settings import ZendeskSettings
from bot.helpdesks.zendesk import setup as zendesk_setup
from bot.helpdesks.zendesk.admin_api import ZendeskAdminApi
from bot.helpdesks.zendesk.webhook import parse
from bot.policy import load_policy
from tests.conftest import DEFAULT_POLICY
from tests.fakes.zendesk_api import FakeZendesk

PUBLIC_URL = "https://bot.example.com"
POLICY = load_policy(DEFAULT_POLICY)
POLICY_GROUPS = {101: "Supervisors", 102: "Senior", 103: "Security", 104: "Empathy", 110: "Billing",
                 111: "Technical", 112: "Product", 113: "Engineering", 114: "Accounts", 115: "General"}


@pytest.fixture
def fake():
    with FakeZendesk() as server:
        server.users[server.bot_user_id]["role"] = "admin"
        for gid, name in POLICY_GROUPS.items():
            server.add_group(gid, name)
        yield server
        assert server.spec_violations == []


def run(fake: FakeZendesk, *args: str, **env: str):
    environment = {"ZENDESK_URL": fake.base_url, "ZENDESK_EMAIL": "admin@acme.test",
                   "ZENDESK_API_TOKEN": "token", **env}
    result = CliRunner().invoke(main, ["setup", "zendesk", *args], env=environment, catch_exceptions=False)
    return result.exit_code, result.output


def setting(output: str, name: str) -> str:
    match = re.search(rf"^  {name}=(.*)$", output, re.M)
    assert match, f"{name} not printed:\n{output}"
    return match.group(1)


def test_first_run_creates_everything_and_prints_the_settings(fake):
    code, out = run(fake, "--url", PUBLIC_URL)
    assert code == 0, out
    [webhook] = fake.webhooks.values()
    assert webhook["endpoint"] == "https://bot.example.com/webhooks/zendesk"
    assert webhook["subscriptions"] == ["conditional_ticket_events"] and webhook["status"] == "active"
    assert setting(out, "ZENDESK_WEBHOOK_SECRET") == fake.signing_secrets[webhook["id"]]
    assert setting(out, "ZENDESK_BOT_USER_ID") == str(fake.bot_user_id)
    [field] = [f for f in fake.ticket_fields.values() if f["title"] == "AI draft"]
    assert field["type"] == "textarea" and setting(out, "ZENDESK_DRAFT_FIELD_ID") == str(field["id"])
    assert setting(out, "PUBLIC_URL") == PUBLIC_URL
    [category] = fake.trigger_categories.values()
    triggers = {t["title"]: t for t in fake.triggers.values()}
    assert set(triggers) == {"AI copilot: new ticket", "AI copilot: ticket activity"}
    for trigger in triggers.values():
        assert str(trigger["category_id"]) == str(category["id"]) and trigger["active"] is True
        [action] = trigger["actions"]
        assert action["field"] == "notification_webhook" and action["value"][0] == webhook["id"]
    activity = triggers["AI copilot: ticket activity"]["conditions"]["all"]
    # Never the bot's own changes; only tickets the bot triaged.
    assert {"field": "current_user", "operator": "is_not", "value": str(fake.bot_user_id)} in activity
    assert {"field": "current_tags", "operator": "includes", "value": "ai_triaged"} in activity
    macros = {m["title"]: m for m in fake.macros.values()}
    assert set(macros) == {"AI: use draft", "AI: escalate"}
    use_draft = {a["field"]: a["value"] for a in macros["AI: use draft"]["actions"]}
    assert use_draft["comment_value"] == f"{{{{ticket.ticket_field_{field['id']}}}}}"
    assert "7 created" in out and "problem" not in out


def test_the_trigger_bodies_are_what_the_webhook_parses(fake):
    run(fake, "--url", PUBLIC_URL)
    kinds = {}
    for trigger in fake.triggers.values():
        body = trigger["actions"][0]["value"][1]
        rendered = body.replace("{{ticket.id}}", "4242").replace("{{current_user.id}}", "77")
        event = parse(rendered.encode(), {})
        assert event.ticket_id == "4242" and event.actor_id == "77"
        kinds[trigger["title"]] = event.kind
    assert kinds == {"AI copilot: new ticket": EventKind.CREATED, "AI copilot: ticket activity": EventKind.ACTIVITY}


def test_a_second_run_writes_nothing(fake):
    run(fake, "--url", PUBLIC_URL)
    writes = len(fake.writes())
    code, out = run(fake, "--url", PUBLIC_URL)
    assert code == 0 and len(fake.writes()) == writes
    assert "7 unchanged" in out and "nothing written" in out
    assert len(fake.webhooks) == 1 and len(fake.triggers) == 2 and len(fake.macros) == 2


def test_what_drifted_is_updated_in_place_and_nothing_is_duplicated(fake):
    run(fake, "--url", PUBLIC_URL)
    trigger = next(t for t in fake.triggers.values() if t["title"] == "AI copilot: new ticket")
    trigger["active"] = False  # an admin switched it off
    before = len(fake.writes())
    code, out = run(fake, "--url", "https://new.example.com")  # the bot moved
    assert code == 0, out
    writes = fake.writes()[before:]
    assert sorted((r.method, re.sub(r"/[0-9A-Z]{6,}$|/\d+$", "/ID", r.path)) for r in writes) == [
        ("PUT", "/api/v2/triggers/ID"), ("PUT", "/api/v2/webhooks/ID")]
    assert trigger["active"] is True
    [webhook] = fake.webhooks.values()
    assert webhook["endpoint"] == "https://new.example.com/webhooks/zendesk"
    assert "2 updated" in out


def test_dry_run_reads_but_writes_nothing_and_prints_each_call(fake):
    code, out = run(fake, "--url", PUBLIC_URL, "--dry-run")
    assert code == 0, out
    assert fake.writes() == [] and fake.webhooks == {}
    for call in ("POST /api/v2/ticket_fields", "POST /api/v2/webhooks", "POST /api/v2/trigger_categories",
                 "POST /api/v2/triggers", "POST /api/v2/macros"):
        assert f"would    {call}" in out
    assert '"endpoint": "https://bot.example.com/webhooks/zendesk"' in out
    assert "changes would be made" in out


def test_remove_undoes_setup_and_a_second_remove_finds_nothing(fake):
    fake.ticket_fields[99] = {"id": 99, "type": "text", "title": "Order number", "active": True}
    run(fake, "--url", PUBLIC_URL)
    code, out = run(fake, "--remove")
    assert code == 0, out
    assert fake.webhooks == {} and fake.triggers == {} and fake.trigger_categories == {} and fake.macros == {}
    assert [f["title"] for f in fake.ticket_fields.values()] == ["Subject", "Description", "Order number"]
    writes = len(fake.writes())
    code, out = run(fake, "--remove")
    assert code == 0 and len(fake.writes()) == writes and "7 absent" in out


def test_remove_keeps_a_category_holding_an_admins_own_trigger(fake):
    run(fake, "--url", PUBLIC_URL)
    [category] = fake.trigger_categories.values()
    fake.triggers[500] = {"id": 500, "title": "Mine", "category_id": str(category["id"]), "actions": [],
                          "conditions": {"all": [], "any": []}}
    code, out = run(fake, "--remove")
    assert code == 0 and "kept     trigger category" in out
    assert list(fake.triggers) == [500] and len(fake.trigger_categories) == 1


def test_unknown_policy_groups_are_reported_with_the_accounts_groups(fake):
    del fake.groups[103]
    code, out = run(fake, "--url", PUBLIC_URL)
    assert code == 1
    assert "groups.security: Zendesk group 103 does not exist" in out
    assert "101 'Supervisors'" in out  # what the admin can pick from
    assert len(fake.webhooks) == 1  # the rest was still set up


def test_a_non_admin_token_stops_before_writing(fake):
    fake.users[fake.bot_user_id]["role"] = "agent"
    code, out = run(fake, "--url", PUBLIC_URL)
    assert code == 1 and "not an admin" in out and fake.writes() == []


def test_missing_credentials_and_url_are_named():
    result = CliRunner().invoke(main, ["setup", "zendesk", "--url", PUBLIC_URL], env={"ZENDESK_URL": "",
                                "ZENDESK_SUBDOMAIN": "", "ZENDESK_EMAIL": "", "ZENDESK_API_TOKEN": ""})
    assert result.exit_code == 1 and "ZENDESK_EMAIL" in result.output
    with FakeZendesk() as server:
        code, out = run(server)
    assert code == 1 and "--url" in out


def test_an_event_subscribed_webhook_of_the_same_name_stops_setup_with_the_fix(fake):
    fake.webhooks["01ABC"] = {"id": "01ABC", "name": "AI copilot", "endpoint": "https://x.test/", "status": "active",
                              "http_method": "POST", "request_format": "json",
                              "subscriptions": ["zen:event-type:ticket.created"]}
    code, out = run(fake, "--url", PUBLIC_URL)
    assert code == 1 and "connection method" in out and "--remove" in out


def test_rate_limits_are_waited_out():
    with FakeZendesk() as server:
        server.users[server.bot_user_id]["role"] = "admin"
        server.fail_next("GET", r"/api/v2/triggers", 429, {"Retry-After": "7"}, times=2)
        waits: list[float] = []
        api = ZendeskAdminApi(ZendeskSettings(url=server.base_url, email="a@b.c", api_token="t"), sleep=waits.append)
        assert list(api.read_all("/api/v2/triggers", "triggers")) == []
        assert waits == [7.0, 7.0] and api.calls == 3


def test_zendesk_errors_become_one_line_with_the_detail():
    with FakeZendesk() as server:
        server.fail_next("POST", r"/api/v2/macros", 422, body={"error": "RecordInvalid",
                                                               "details": {"title": ["is taken"]}})
        api = ZendeskAdminApi(ZendeskSettings(url=server.base_url, email="a@b.c", api_token="t"))
        with pytest.raises(SetupError, match="422.*is taken"):
            api.send(Call("POST", "/api/v2/macros", {"macro": {"title": "x", "actions": []}}))


# -- the reconcile core (pure) ------------------------------------------------------------------


def test_same_ignores_extra_keys_id_types_and_condition_order():
    existing = {"id": 5, "active": True, "position": 3, "conditions": {"all": [
        {"field": "b", "operator": "is", "value": 2}, {"field": "a", "operator": "is", "value": "x"}]}}
    assert same(existing, {"active": True, "conditions": {"all": [
        {"field": "a", "operator": "is", "value": "x"}, {"field": "b", "operator": "is", "value": "2"}]}})
    assert not same(existing, {"active": False})
    assert not same(existing, {"conditions": {"all": [{"field": "a", "operator": "is", "value": "x"}]}})
    assert not same({"value": ["1", "body"]}, {"value": ["body", "1"]})  # plain lists keep their order
    assert not same({}, {"missing": "x"})


def test_applier_records_outcomes_and_never_writes_in_a_dry_run():
    sent: list[Call] = []

    class Api:
        def read(self, path):
            return {}

        def send(self, call):
            sent.append(call)
            return {"thing": {"id": 9}}

    lines: list[str] = []
    dry = Applier(Api(), dry_run=True, echo=lines.append)
    assert dry.ensure("thing", None, {"a": 1}, Call("POST", "/t", {"a": 1}), lambda i: Call("PUT", f"/t/{i}"),
                      lambda answer: str(answer["thing"]["id"])) == "<id of new thing>"
    assert sent == [] and lines == ['would    POST /t {"a": 1}'] and dry.wrote
    real = Applier(Api(), echo=lines.append)
    assert real.ensure("thing", {"id": 3, "a": 2}, {"a": 1}, Call("POST", "/t"), lambda i: Call("PUT", f"/t/{i}"),
                       lambda answer: "x") == "3"
    assert [c.method + " " + c.path for c in sent] == ["PUT /t/3"]
    assert [c.outcome for c in real.changes] == [Outcome.UPDATED]


def test_macro_placeholders_get_the_fields_id():
    macros = json.loads((DEFAULT_POLICY.parent / "zendesk" / "macros.json").read_text())["macros"]
    bodies = zendesk_setup.macro_bodies(macros, "3141")
    text = json.dumps(bodies)
    assert "ticket_field_3141" in text and "ticket_field_777" not in text
