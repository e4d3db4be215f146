"""`Settings.from_env`: defaults, and every problem named at once without leaking secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "tok-DO-NOT-LEAK-1234"
SECRET = "whsec-DO-NOT-LEAK-5678"
OPENAI_KEY = "sk-DO-NOT-LEAK-9012"
ZENDESK_REQUIRED = ("ZENDESK_SUBDOMAIN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_WEBHOOK_SECRET")


# --- builders -------------------------------------------------------------------------------


def env(**changes) -> dict[str, str]:
    """A minimal valid Zendesk environment; a value of None removes the variable."""
    base = {
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": "bot@acme.test",
        "ZENDESK_API_TOKEN": TOKEN,
        "ZENDESK_WEBHOOK_SECRET": SECRET,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def error(environ: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(environ)
    message = str(info.value)
    for secret in (TOKEN, SECRET, OPENAI_KEY):
        assert secret not in message
    return message


# --- valid environments -------------------------------------------------------------------------


def test_minimal_zendesk_environment():
    settings = Settings.from_env(env())
    assert settings.helpdesk == "auto" and settings.helpdesks == ("zendesk",)
    assert settings.zendesk.subdomain == "acme"
    assert settings.zendesk.email == "bot@acme.test"
    assert settings.zendesk.api_token == TOKEN
    assert settings.zendesk.webhook_secret == SECRET
    assert settings.llm_provider == "offline"
    assert settings.zendesk.base_url == "https://acme.zendesk.com"
    assert settings.kb_sources == ("zendesk",)  # its own Guide, unless told otherwise
    assert not settings.intercom.configured


INTERCOM = {"INTERCOM_ACCESS_TOKEN": "tok", "INTERCOM_CLIENT_SECRET": "cs", "INTERCOM_ADMIN_ID": "814860"}


def test_intercom_settings_alone_give_an_intercom_only_deployment():
    settings = Settings.from_env(INTERCOM)
    assert settings.helpdesks == ("intercom",) and settings.kb_sources == ("intercom",)
    assert (settings.intercom.access_token, settings.intercom.client_secret, settings.intercom.admin_id) == (
        "tok", "cs", "814860")
    assert settings.intercom.url == "https://api.intercom.io" and settings.intercom.timeout == 20.0
    assert not settings.zendesk.configured


def test_zendesk_and_intercom_settings_together_serve_both():
    settings = Settings.from_env({**env(), **INTERCOM, "INTERCOM_URL": "https://api.eu.intercom.io"})
    assert settings.helpdesks == ("zendesk", "intercom")
    assert settings.kb_sources == ("zendesk", "intercom")
    assert settings.intercom.url == "https://api.eu.intercom.io"


@pytest.mark.parametrize("missing, why", [
    ("INTERCOM_ACCESS_TOKEN", "the API cannot be called"),
    ("INTERCOM_CLIENT_SECRET", "webhooks cannot be verified"),
    ("INTERCOM_ADMIN_ID", "the admin the bot's notes are written as"),
])
def test_an_intercom_workspace_needs_its_token_secret_and_admin(missing, why):
    message = error({**INTERCOM, missing: ""})
    assert f"{missing} is not set ({why})" in message
    assert all(other not in message for other in set(INTERCOM) - {missing})


def test_an_intercom_access_token_alone_serves_no_conversations():
    # It is what an Intercom help center needs, for a Zendesk desk too.
    settings = Settings.from_env({**env(), "INTERCOM_ACCESS_TOKEN": "tok", "KB_SOURCES": "zendesk,intercom"})
    assert settings.helpdesks == ("zendesk",) and settings.kb_sources == ("zendesk", "intercom")


@pytest.mark.parametrize("value, message", [
    ("https://api.intercom.io", "INTERCOM_API_URL is now INTERCOM_URL: rename it"),
])
def test_the_old_intercom_url_setting_is_refused_with_its_new_name(value, message):
    assert message in error({**INTERCOM, "INTERCOM_API_URL": value})


def test_intercom_url_must_be_http():
    assert "INTERCOM_URL" in error({**INTERCOM, "INTERCOM_URL": "api.intercom.io"})


@pytest.mark.parametrize("window, ok", [("0", True), ("300", True), ("-1", False), ("301", False)])
def test_reply_merge_window_bounds(window, ok):
    if ok:
        assert Settings.from_env({**env(), "REPLY_MERGE_WINDOW": window}).reply_merge_window == float(window)
    else:
        assert "REPLY_MERGE_WINDOW must" in error({**env(), "REPLY_MERGE_WINDOW": window})


def test_nothing_configured_says_which_settings_serve_a_helpdesk():
    assert "no helpdesk is configured: set the ZENDESK_* settings, the INTERCOM_* settings" in error({})


def test_defaults_put_database_and_broker_under_instance():
    settings = Settings.from_env(env())
    assert settings.database_url == f"sqlite:///{ROOT / 'instance' / 'bot.sqlite'}"
    assert settings.broker_url == f"sqla+sqlite:///{ROOT / 'instance' / 'broker.sqlite'}"


def test_redis_url_becomes_the_broker():
    settings = Settings.from_env(env(REDIS_URL="redis://redis.internal:6379/0"))
    assert settings.broker_url == "redis://redis.internal:6379/0"


def test_broker_url_wins_over_redis_url():
    settings = Settings.from_env(env(REDIS_URL="redis://redis.internal:6379/0",
                                     BROKER_URL="amqp://guest@rabbit//"))
    assert settings.broker_url == "amqp://guest@rabbit//"


def test_database_url_is_taken_as_given():
    url = "postgresql+psycopg://bot@db/bot"
    assert Settings.from_env(env(DATABASE_URL=url)).database_url == url


def test_environment_values_are_stripped():
    settings = Settings.from_env(env(ZENDESK_EMAIL="  bot@acme.test \n", LLM_PROVIDER=" OFFLINE "))
    assert settings.zendesk.email == "bot@acme.test"
    assert settings.llm_provider == "offline"


@pytest.mark.parametrize("url, base", [("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
                                       ("https://support.acme.test", "https://support.acme.test")])
def test_zendesk_url_overrides_subdomain(url, base):
    settings = Settings.from_env(env(ZENDESK_URL=url))
    assert settings.zendesk.base_url == base
    # and the subdomain is no longer required
    assert Settings.from_env(env(ZENDESK_URL=url, ZENDESK_SUBDOMAIN=None)).zendesk.base_url == base


def test_openai_with_key():
    settings = Settings.from_env(env(LLM_PROVIDER="openai", OPENAI_API_KEY=OPENAI_KEY))
    assert (settings.llm_provider, settings.openai_api_key) == ("openai", OPENAI_KEY)


def test_sample_helpdesk_needs_no_zendesk_credentials():
    settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": SECRET})
    assert settings.helpdesk == "sample"
    assert Path(settings.sample_helpdesk_file).is_file()


def test_sample_helpdesk_still_needs_the_webhook_secret():
    message = error({"HELPDESK": "sample"})
    assert "ZENDESK_WEBHOOK_SECRET" in message
    for name in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_SUBDOMAIN"):
        assert name not in message


def test_secrets_are_not_in_repr():
    text = repr(Settings.from_env(env(LLM_PROVIDER="openai", OPENAI_API_KEY=OPENAI_KEY)))
    for secret in (TOKEN, SECRET, OPENAI_KEY):
        assert secret not in text


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ZENDESK_REQUIRED)
def test_each_missing_required_setting_is_named(missing):
    message = error(env(**{missing: None}))
    assert missing in message
    for other in set(ZENDESK_REQUIRED) - {missing}:
        assert other not in message


@pytest.mark.parametrize("missing", ZENDESK_REQUIRED)
def test_blank_required_setting_counts_as_missing(missing):
    assert missing in error(env(**{missing: "   "}))


def test_all_missing_settings_are_reported_at_once():
    # Any Zendesk credential makes it a Zendesk deployment: every missing one is named.
    message = error({"ZENDESK_SUBDOMAIN": "acme"})
    for name in set(ZENDESK_REQUIRED) - {"ZENDESK_SUBDOMAIN"}:
        assert name in message


def test_all_parse_errors_are_reported_at_once():
    message = error(env(LLM_PROVIDER="anthropic", ZENDESK_TIMEOUT="soon", REDIS_URL="http://x:1"))
    for name in ("LLM_PROVIDER", "ZENDESK_TIMEOUT", "REDIS_URL"):
        assert name in message


def test_parse_errors_and_missing_settings_are_reported_together():
    message = error(env(ZENDESK_TIMEOUT="soon", ZENDESK_EMAIL=None))
    assert "ZENDESK_TIMEOUT" in message and "ZENDESK_EMAIL" in message


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"LLM_PROVIDER": "anthropic"}, "LLM_PROVIDER"),
        ({"HELPDESK": "freshdesk"}, "HELPDESK"),
        ({"ZENDESK_TIMEOUT": "twenty"}, "ZENDESK_TIMEOUT"),
        ({"ZENDESK_TIMEOUT": "-1"}, "ZENDESK_TIMEOUT"),
        ({"REDIS_URL": "http://localhost:6379/0"}, "REDIS_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"ZENDESK_URL": "https://acme.zendesk.com/api/v2"}, "ZENDESK_URL"),
        ({"ZENDESK_URL": "ftp://acme.zendesk.com"}, "ZENDESK_URL"),
        ({"LLM_PROVIDER": "openai"}, "OPENAI_API_KEY"),
        ({"POLICY_FILE": "/nonexistent/policy.yaml"}, "POLICY_FILE"),
        ({"PROMPTS_DIR": "/nonexistent/prompts"}, "PROMPTS_DIR"),
    ],
)
def test_invalid_values_are_named(changes, named):
    assert named in error(env(**changes))


def test_url_errors_do_not_echo_passwords():
    message = error(env(REDIS_URL="http://:hunter2-pass@redis.internal:6379/0"))
    assert "REDIS_URL" in message and "hunter2-pass" not in message


# --- one problem per line ---------------------------------------------------------------------


def test_problems_are_listed_one_per_line_under_a_heading():
    message = error(env(LLM_PROVIDER="anthropic", ZENDESK_TIMEOUT="soon", ZENDESK_EMAIL=None))
    heading, *lines = message.splitlines()
    assert heading == "invalid settings:"
    assert len(lines) == 3 and all(line.startswith("  - ") for line in lines)
    for name in ("LLM_PROVIDER", "ZENDESK_TIMEOUT", "ZENDESK_EMAIL"):
        assert sum(name in line for line in lines) == 1


def test_a_single_problem_is_one_line_under_the_heading():
    assert error(env(ZENDESK_EMAIL=None)).splitlines() == [
        "invalid settings:", "  - ZENDESK_EMAIL is not set"
    ]


# --- DATABASE_URL and BROKER_URL ------------------------------------------------------------------

PASSWORD = "pw-DO-NOT-LEAK-3456"


@pytest.mark.parametrize("url", [
    "sqlite:///relative/bot.sqlite",
    "sqlite:////var/lib/bot/bot.sqlite",
    "postgresql://bot@db/bot",
    f"postgres://bot:{PASSWORD}@db.internal:5432/bot",
    "postgresql+psycopg://bot@db/bot?sslmode=require",
    "postgresql:///bot",  # the local socket
])
def test_database_urls_sqlalchemy_can_use_are_accepted(url):
    assert Settings.from_env(env(DATABASE_URL=url)).database_url == url


@pytest.mark.parametrize("url, says", [
    ("notaurl", "DATABASE_URL is not a database URL"),
    ("db.internal:5432/bot", "DATABASE_URL is not a database URL"),
    (f"postgresql://bot:{PASSWORD}@db:port/bot", "DATABASE_URL is not a database URL"),
    (f"nosuchdb://bot:{PASSWORD}@db/bot", "DATABASE_URL: unknown database 'nosuchdb'"),
    (f"mysql://bot:{PASSWORD}@db/bot",
     "DATABASE_URL: mysql needs the mysqldb driver (Python module MySQLdb), which is not installed"),
    (f"postgresql+asyncpg://bot:{PASSWORD}@db/bot", "DATABASE_URL: postgresql+asyncpg needs the asyncpg driver"),
])
def test_bad_database_urls_are_setting_errors(url, says):
    import importlib.util

    assert importlib.util.find_spec("MySQLdb") is None and importlib.util.find_spec("asyncpg") is None
    message = error(env(DATABASE_URL=url))
    assert f"  - {says}" in message.splitlines()[1]
    assert PASSWORD not in message and "notaurl" not in message


def test_database_url_problems_are_reported_with_the_others():
    message = error(env(DATABASE_URL="notaurl", BROKER_URL="notaurl", ZENDESK_TIMEOUT="soon"))
    assert len(message.splitlines()) == 4
    for name in ("DATABASE_URL", "BROKER_URL", "ZENDESK_TIMEOUT"):
        assert name in message


@pytest.mark.parametrize("url", [
    "redis://redis.internal:6379/0",
    f"rediss://:{PASSWORD}@redis.internal:6380/0",
    f"amqp://bot:{PASSWORD}@rabbit:5672//",
    "pyamqp://rabbit//",
    "sqla+sqlite:////var/lib/bot/broker.sqlite",
    f"sqla+postgresql://bot:{PASSWORD}@db/bot",
    "redis://redis-a:6379/0;redis://redis-b:6379/0",  # Celery's fail-over list
])
def test_broker_urls_kombu_knows_are_accepted(url):
    assert Settings.from_env(env(BROKER_URL=url)).broker_url == url


@pytest.mark.parametrize("url, says", [
    ("notaurl", "BROKER_URL is not a broker URL"),
    (f"bot:{PASSWORD}@rabbit", "BROKER_URL is not a broker URL"),
    (f"http://bot:{PASSWORD}@rabbit/", "BROKER_URL: kombu has no 'http' transport"),
    (f"sqla+nosuchdb://bot:{PASSWORD}@db/bot", "BROKER_URL: unknown database 'nosuchdb'"),
    (f"sqla+mysql://bot:{PASSWORD}@db/bot", "BROKER_URL: mysql needs the mysqldb driver"),
    (f"redis://h:6379/0;bogus://bot:{PASSWORD}@x", "BROKER_URL: kombu has no 'bogus' transport"),
])
def test_bad_broker_urls_are_setting_errors(url, says):
    message = error(env(BROKER_URL=url))
    assert f"  - {says}" in message.splitlines()[1]
    assert PASSWORD not in message and "notaurl" not in message


def test_a_broker_whose_python_package_is_missing_is_refused(monkeypatch):
    from bot import checks

    monkeypatch.setitem(checks._TRANSPORT_MODULES, "amqp", "no_such_module_for_the_test")
    message = error(env(BROKER_URL=f"amqp://bot:{PASSWORD}@rabbit//"))
    assert "BROKER_URL: the amqp transport needs the Python package no_such_module_for_the_test" in message
    assert PASSWORD not in message


def test_zendesks_public_test_secret_is_refused_as_the_webhook_secret():
    message = error(env(ZENDESK_WEBHOOK_SECRET="dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="))
    assert "ZENDESK_WEBHOOK_SECRET is Zendesk's public test secret" in message
