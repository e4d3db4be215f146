"""`python -m bot doctor`: a healthy deployment passes every check; then each failure, one by one,
fails its own check (with the fix) and leaves the others passing. Real parts: a SQLite store
migrated with the project's migrations, Redis, the web app served over HTTP, the fake Zendesk
(set up by `setup zendesk`) and the fake OpenAI-compatible server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from bot import create_app
from bot.cli import main
from bot.db import make_engine, upgrade
from bot.golive.doctor import Status, diagnose
from bot.golive.plan import Applier
from bot.helpdesk_settings import ZendeskSettings
from bot.helpdesks.zendesk import setup as zendesk_setup
from bot.helpdesks.zendesk.admin_api import ZendeskAdminApi
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.policy import load_policy
from bot.settings import Settings
from tests.conftest import DEFAULT_POLICY, REDIS_URL
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.zendesk_api import FakeZendesk
from tests.test_setup_zendesk import POLICY_GROUPS

HELP_CENTER = Path(__file__).resolve().parent / "fixtures" / "kb" / "help_center.jsonl"


@pytest.fixture
def deployment(tmp_path: Path):
    """A working deployment's environment, and the fake Zendesk behind it."""
    database = f"sqlite:///{tmp_path / 'bot.sqlite'}"
    upgrade(database)
    # The help center as `kb sync` leaves it (KB_SOURCES defaults to the served helpdesk's).
    ArticleStore(make_engine(database)).replace_all("zendesk", load_articles(HELP_CENTER, "zendesk"))
    with FakeZendesk() as zendesk:
        zendesk.users[zendesk.bot_user_id]["role"] = "admin"
        for gid, name in POLICY_GROUPS.items():
            zendesk.add_group(gid, name)
        env = {"ZENDESK_URL": zendesk.base_url, "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "token",
               "ZENDESK_WEBHOOK_SECRET": "placeholder", "DATABASE_URL": database, "REDIS_URL": REDIS_URL}
        app = create_app(Settings.from_env(env))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        public_url = f"http://127.0.0.1:{server.server_port}"
        api = ZendeskAdminApi(ZendeskSettings(url=zendesk.base_url, email="bot@acme.test", api_token="token"))
        account = zendesk_setup.set_up(api, Applier(api, echo=lambda line: None), public_url=public_url,
                                       policy=load_policy(DEFAULT_POLICY), macros=[])
        env.update(PUBLIC_URL=public_url, ZENDESK_WEBHOOK_SECRET=account.settings["ZENDESK_WEBHOOK_SECRET"],
                   ZENDESK_BOT_USER_ID=account.settings["ZENDESK_BOT_USER_ID"],
                   ZENDESK_DRAFT_FIELD_ID=account.settings["ZENDESK_DRAFT_FIELD_ID"])
        yield env, zendesk
        server.shutdown()


def failures(env: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for check in diagnose(env):
        if check.status is Status.FAIL:
            found.setdefault(check.name, []).append(f"{check.detail} | {check.fix}")
    return found


def test_a_healthy_deployment_passes_every_check_and_the_command_exits_0(deployment):
    env, _ = deployment
    names = {c.name for c in diagnose(env) if c.status is Status.OK}
    assert {"settings", "policy and prompts", "database", "broker", "public URL", "zendesk credentials",
            "zendesk webhook", "zendesk signing secret", "zendesk trigger", "zendesk draft field",
            "zendesk groups", "LLM"} <= names
    assert failures(env) == {}
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 0, result.output
    assert "all checks passed" in result.output
    assert "info rollout: zendesk: shadow" in result.output


def test_an_invalid_setting_fails_settings_and_the_rest_is_still_checked(deployment):
    env, _ = deployment
    found = failures({**env, "ZENDESK_TIMEOUT": "-3"})
    assert list(found) == ["settings"] and "ZENDESK_TIMEOUT" in found["settings"][0]


def test_a_database_without_the_schema_fails_with_the_upgrade_command(deployment, tmp_path):
    env, _ = deployment
    found = failures({**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"})
    assert list(found) == ["database"] and "python -m bot db upgrade" in found["database"][0]


def test_a_broker_that_does_not_answer_fails(deployment):
    env, _ = deployment
    found = failures({**env, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert list(found) == ["broker"] and "connection refused" in found["broker"][0]


def test_refused_credentials_fail_the_zendesk_checks_with_their_fix(deployment):
    env, zendesk = deployment
    zendesk.fail_next("GET", r"/api/v2/users/me", 401)
    found = failures(env)
    assert list(found) == ["zendesk credentials"] and "ZENDESK_API_TOKEN" in found["zendesk credentials"][0]


def test_a_missing_webhook_says_to_run_setup(deployment):
    env, zendesk = deployment
    zendesk.webhooks.clear()
    found = failures(env)
    assert list(found) == ["zendesk webhook"] and "python -m bot setup zendesk" in found["zendesk webhook"][0]


def test_a_secret_that_is_not_the_webhooks_fails_without_showing_either(deployment):
    env, zendesk = deployment
    found = failures({**env, "ZENDESK_WEBHOOK_SECRET": "an-old-secret"})
    assert list(found) == ["zendesk signing secret"] and "401" in found["zendesk signing secret"][0]
    [real] = zendesk.signing_secrets.values()
    assert all(real not in c.line() and "an-old-secret" not in c.line()
               for c in diagnose({**env, "ZENDESK_WEBHOOK_SECRET": "an-old-secret"}))


def test_an_inactive_trigger_fails(deployment):
    env, zendesk = deployment
    next(t for t in zendesk.triggers.values() if t["title"].endswith("activity"))["active"] = False
    found = failures(env)
    assert list(found) == ["zendesk trigger"] and "inactive" in found["zendesk trigger"][0]


def test_a_public_url_nobody_answers_on_fails_and_so_does_the_webhook_pointing_elsewhere(deployment):
    env, _ = deployment
    found = failures({**env, "PUBLIC_URL": "http://127.0.0.1:1"})
    assert set(found) == {"public URL", "zendesk webhook"}
    assert "does not answer" in found["public URL"][0]
    assert "not http://127.0.0.1:1/webhooks/zendesk" in found["zendesk webhook"][0]


def test_policy_groups_missing_from_the_account_fail(deployment):
    env, zendesk = deployment
    del zendesk.groups[104]
    found = failures(env)
    assert list(found) == ["zendesk groups"]
    assert "groups.empathy: Zendesk group 104 does not exist" in found["zendesk groups"][0]


def test_an_invalid_policy_fails_with_the_line(deployment, tmp_path):
    env, _ = deployment
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().replace("  mode: shadow ", "  mode: loud "))
    found = failures({**env, "POLICY_FILE": str(policy)})
    assert list(found) == ["policy and prompts"] and "rollout.mode" in found["policy and prompts"][0]


def test_a_help_center_never_synced_fails_with_the_sync_command(deployment, tmp_path):
    env, _ = deployment
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    upgrade(fresh)
    found = failures({**env, "DATABASE_URL": fresh})
    assert list(found) == ["help center zendesk"] and "python -m bot kb sync" in found["help center zendesk"][0]


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def llm_env(env: dict[str, str], server: FakeOpenAI) -> dict[str, str]:
    return {**env, "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server.base_url,
            "LLM_MODEL": "gpt-4o-mini"}


def test_an_llm_with_the_model_and_structured_output_passes(deployment, llm):
    env, _ = deployment
    llm.enqueue_json({"ok": True})
    assert failures(llm_env(env, llm)) == {}
    [probe] = llm.requests
    assert probe["response_format"]["json_schema"]["strict"] is True and probe["max_tokens"] == 20


def test_an_unknown_model_fails(deployment, llm):
    env, _ = deployment
    llm.models = {"another-model"}
    llm.enqueue_json({"ok": True})
    found = failures(llm_env(env, llm))
    assert list(found) == ["LLM model"] and "LLM_MODEL" in found["LLM model"][0]


def test_an_endpoint_without_structured_output_fails(deployment, llm):
    env, _ = deployment
    llm.enqueue_content("Sure! Here you go: ok")
    found = failures(llm_env(env, llm))
    assert list(found) == ["LLM structured output"]


def test_an_llm_endpoint_nobody_answers_on_fails(deployment, llm):
    env, _ = deployment
    found = failures({**llm_env(env, llm), "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    assert list(found) == ["LLM endpoint"] and "OPENAI_BASE_URL" in found["LLM endpoint"][0]


def test_an_agents_token_cannot_read_the_configuration_and_is_told_how_to_check_it(deployment):
    env, zendesk = deployment
    zendesk.fail_next("GET", r"/api/v2/webhooks", 403)
    checks = diagnose(env)
    assert [c.name for c in checks if c.status is Status.FAIL] == []
    [warning] = [c for c in checks if c.name == "zendesk configuration"]
    assert warning.status is Status.WARN and "admin's" in warning.detail
