"""`python -m bot setup intercom` and doctor's Intercom checks, against the fake Intercom, which
validates every request against Intercom's own OpenAPI file (API 2.14)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.golive.doctor import Status
from bot.golive.plan import Applier, SetupError
from bot.helpdesk_settings import IntercomSettings
from bot.helpdesks.intercom import setup as intercom_setup
from bot.helpdesks.intercom.admin_api import IntercomAdminApi
from bot.helpdesks.intercom.doctor import intercom_checks
from bot.helpdesks.intercom.webhook import TOPICS
from bot.policy import load_policy
from bot.settings import Settings
from tests.conftest import DEFAULT_POLICY
from tests.fakes.intercom_inbox import FakeIntercomInbox

POLICY = load_policy(DEFAULT_POLICY)
TEAMS = {"7101": "Supervisors", "7102": "Senior", "7103": "Security", "7104": "Empathy", "7110": "Billing",
         "7111": "Technical", "7112": "Product", "7113": "Engineering", "7114": "Accounts", "7115": "General"}


@pytest.fixture
def fake():
    with FakeIntercomInbox() as server:
        server.add_admin("991267", "Support Bot")
        for tid, name in TEAMS.items():
            server.add_team(tid, name)
        yield server
        assert server.spec_violations == []


def api_for(fake: FakeIntercomInbox, **kwargs) -> IntercomAdminApi:
    return IntercomAdminApi(IntercomSettings(access_token=fake.token, url=fake.base_url), **kwargs)


def writes(fake: FakeIntercomInbox) -> list:
    return [r for r in fake.requests if r.method != "GET"]


def run(fake: FakeIntercomInbox, *args: str):
    env = {"INTERCOM_ACCESS_TOKEN": fake.token, "INTERCOM_URL": fake.base_url}
    result = CliRunner().invoke(main, ["setup", "intercom", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_the_bots_tags_come_from_its_vocabulary():
    tags = intercom_setup.bot_tags()
    assert {"ai_triaged", "ai_failed", "ai_escalated", "ai_review_overdue", "ai_escalate",
            "ai_category_billing", "ai_priority_1", "ai_escalation_refund", "ai_escalation_churn"} <= set(tags)
    assert len(tags) == len(set(tags)) and not any(t.endswith("_") for t in tags)


def test_first_run_creates_the_tags_and_names_the_admin_and_the_developer_hub_steps(fake):
    code, out = run(fake, "--url", "https://bot.example.com")
    assert code == 0, out
    assert sorted(t["name"] for t in fake.tags.values()) == sorted(intercom_setup.bot_tags())
    assert "  INTERCOM_ADMIN_ID=991267" in out
    assert "https://bot.example.com/webhooks/intercom" in out
    assert all(topic in out for topic in TOPICS) and "INTERCOM_CLIENT_SECRET" in out


def test_a_second_run_writes_nothing_and_an_existing_tag_is_kept(fake):
    fake.tags["5"] = {"id": "5", "name": "ai_triaged"}  # made by hand before
    run(fake, "--url", "https://bot.example.com")
    assert [t["id"] for t in fake.tags.values() if t["name"] == "ai_triaged"] == ["5"]
    created = [r for r in writes(fake) if r.method == "POST" and r.path == "/tags"]
    assert len(created) == len(intercom_setup.bot_tags()) - 1  # every tag but the one that existed
    before = len(writes(fake))
    code, out = run(fake, "--url", "https://bot.example.com")
    assert code == 0 and len(writes(fake)) == before and "nothing written" in out


def test_a_second_run_through_the_api_writes_nothing_and_a_tag_is_matched_whatever_its_case(fake):
    fake.tags["6"] = {"id": "6", "name": "AI_Escalated"}  # Intercom's tag names are case-insensitive
    api = api_for(fake)
    first = Applier(api, echo=lambda line: None)
    intercom_setup.set_up(api, first, policy=POLICY)
    assert first.wrote and [t["name"] for t in fake.tags.values()].count("AI_Escalated") == 1
    assert len(writes(fake)) == len(intercom_setup.bot_tags()) - 1  # not "ai_escalated"
    posts = len(writes(fake))
    second = Applier(api, echo=lambda line: None)
    intercom_setup.set_up(api, second, policy=POLICY)
    assert not second.wrote and len(writes(fake)) == posts
    assert {c.outcome.value for c in second.changes} == {"unchanged"}


def test_dry_run_writes_nothing_and_prints_each_call(fake):
    code, out = run(fake, "--url", "https://bot.example.com", "--dry-run")
    assert code == 0 and writes(fake) == [] and fake.tags == {}
    echoed = [line for line in out.splitlines() if line.startswith("would    POST /tags ")]
    assert echoed == [f'would    POST /tags {{"name": "{name}"}}' for name in intercom_setup.bot_tags()]


def test_remove_deletes_the_bots_tags_only(fake):
    fake.tags["9"] = {"id": "9", "name": "vip-customer"}
    run(fake, "--url", "https://bot.example.com")
    ids = {t["id"] for t in fake.tags.values() if t["name"] != "vip-customer"}
    code, out = run(fake, "--remove")
    assert code == 0 and [t["name"] for t in fake.tags.values()] == ["vip-customer"]
    assert sorted(r.path for r in writes(fake) if r.method == "DELETE") == sorted(f"/tags/{i}" for i in ids)
    assert "Developer Hub" in out
    code, out = run(fake, "--remove")
    assert code == 0 and f"{len(intercom_setup.bot_tags())} absent" in out


def test_a_team_missing_from_the_workspace_is_reported_with_its_teams(fake):
    del fake.teams["7103"]
    code, out = run(fake, "--url", "https://bot.example.com")
    assert code == 1 and "groups.security: Intercom team 7103 does not exist" in out
    assert "7101 'Supervisors'" in out


def test_another_admin_id_than_the_tokens_is_a_problem(fake):
    api = api_for(fake)
    workspace = intercom_setup.set_up(api, Applier(api, echo=lambda line: None), policy=POLICY, admin_id="1")
    assert any("INTERCOM_ADMIN_ID is 1, but the token's admin is 991267" in p for p in workspace.problems)


def test_a_refused_token_and_rate_limits():
    with FakeIntercomInbox() as server:
        server.add_admin("991267", "Support Bot")
        bad = IntercomAdminApi(IntercomSettings(access_token="wrong", url=server.base_url))
        with pytest.raises(SetupError, match="INTERCOM_ACCESS_TOKEN"):
            bad.read("/me")
        server.fail_next("GET", r"/teams", 429, headers={"X-RateLimit-Reset": "1007"})
        waits: list[float] = []
        api = api_for(server, sleep=waits.append, clock=lambda: 1000.0)
        assert api.read("/teams")["type"] == "team.list" and waits == [7.0] and api.calls == 2


def test_setup_needs_the_access_token():
    result = CliRunner().invoke(main, ["setup", "intercom", "--url", "https://x.test"],
                                env={"INTERCOM_ACCESS_TOKEN": ""})
    assert result.exit_code == 1 and "INTERCOM_ACCESS_TOKEN" in result.output


# -- doctor's Intercom checks --------------------------------------------------------------------


def settings_for(fake: FakeIntercomInbox, admin: str = "991267") -> Settings:
    return Settings.from_env({"INTERCOM_ACCESS_TOKEN": fake.token, "INTERCOM_URL": fake.base_url,
                              "INTERCOM_CLIENT_SECRET": "s", "INTERCOM_ADMIN_ID": admin})


def test_doctor_passes_a_configured_workspace_and_fails_each_problem(fake):
    checks = {c.name: c for c in intercom_checks(settings_for(fake), POLICY)}
    assert checks["intercom credentials"].status is Status.OK and "991267" in checks["intercom credentials"].detail
    assert checks["intercom teams"].status is Status.OK and "intercom admin" not in checks
    assert checks["intercom webhooks"].status is Status.INFO
    warned = {c.name: c for c in intercom_checks(settings_for(fake, admin="42"), POLICY)}
    assert warned["intercom admin"].status is Status.WARN
    del fake.teams["7110"]
    failed = [c for c in intercom_checks(settings_for(fake), POLICY) if c.status is Status.FAIL]
    assert [c.name for c in failed] == ["intercom teams", "intercom teams"]
    assert "routing.Billing: Intercom team 7110 does not exist" in failed[0].detail
    fake.fail_next("GET", r"/me", 401)
    [refused] = intercom_checks(settings_for(fake), POLICY)
    assert refused.status is Status.FAIL and "INTERCOM_ACCESS_TOKEN" in refused.fix
