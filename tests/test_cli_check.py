"""The start-up contract: `python -m bot check` reaches the database (schema at the latest
migration) and the broker, `db upgrade` fails on one line, every problem is one line, and no
password is ever printed. Against the machine's real PostgreSQL and Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import checks
from bot.cli import main
from bot.db import upgrade
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-DO-NOT-LEAK-7788"
UNREACHABLE_PG = f"postgresql://copilot:{PASSWORD}@127.0.0.1:1/copilot"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
SETTINGS = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "LOG_LEVEL", "LLM_PROVIDER", "KB_SOURCES",
            "KB_RANKING", "ZENDESK_TIMEOUT", "RUN_DEADLINE", "HELPDESK", "ZENDESK_WEBHOOK_SECRET")


@pytest.fixture
def environ(monkeypatch, tmp_path):
    """The sample helpdesk (no credentials needed), and a SQLite broker in tmp_path."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELPDESK", "sample")
    monkeypatch.setenv("ZENDESK_WEBHOOK_SECRET", "whsec-test")
    monkeypatch.setenv("BROKER_URL", f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    return monkeypatch


@pytest.fixture
def redis_12(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + "/12"


@pytest.fixture
def current_pg(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


def check(**env: str) -> tuple[int, list[str], list[str]]:
    """Run `check`: exit code, stdout lines, stderr lines."""
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def run(*args: str) -> subprocess.CompletedProcess:
    """`python -m bot ...` as a user runs it: a real process, with the test's environment."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)


def lines_about(lines: list[str], what: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{what}:")]


# --- a valid setup -------------------------------------------------------------------------------


def test_valid_setup_on_postgresql_and_redis(environ, current_pg, redis_12):
    environ.setenv("DATABASE_URL", current_pg)
    environ.setenv("REDIS_URL", redis_12)
    environ.delenv("BROKER_URL")
    code, out, err = check()
    assert code == 0, err
    assert err == []
    assert lines_about(out, "database") == [
        f"database: ok ({current_pg}, schema at revision 0006)"
    ]
    assert lines_about(out, "broker") == [f"broker: ok ({redis_12})"]
    assert "recovery: every accepted ticket gets a note or ai_failed within 17 minutes of arrival" in out
    assert out[-1] == "configuration is valid (helpdesks=zendesk,intercom (sample), llm=offline)"


def test_valid_setup_on_sqlite_after_db_upgrade(environ, tmp_path):
    environ.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'bot.sqlite'}")
    code, out, err = check()
    assert code == 1
    assert lines_about(err, "database") == [
        f"database: no schema yet ({tmp_path / 'data' / 'bot.sqlite'} does not exist): "
        "run python -m bot db upgrade"
    ]
    assert CliRunner().invoke(main, ["db", "upgrade"]).output == "database is up to date\n"
    code, out, err = check()
    assert (code, err) == (0, [])
    assert "configuration is valid" in out[-1]


def test_the_recovery_bound_follows_the_settings(environ, current_pg):
    environ.setenv("DATABASE_URL", current_pg)
    environ.setenv("RUN_DEADLINE", "1800")  # + 30 s (the longest request) + 60 s (the sweep)
    code, out, _ = check()
    expected = Settings.from_env().recovery_bound_seconds
    assert (code, expected) == (0, 1890)
    assert "recovery: every accepted ticket gets a note or ai_failed within 32 minutes of arrival" in out


# --- unreachable services --------------------------------------------------------------------


def test_unreachable_database_is_one_line_naming_it(environ):
    environ.setenv("DATABASE_URL", UNREACHABLE_PG)
    code, out, err = check()
    assert code == 1
    assert lines_about(err, "database") == [
        "database: cannot connect to postgresql://copilot:***@127.0.0.1:1/copilot "
        "(connection refused): check DATABASE_URL, and that the server is running and reachable"
    ]
    assert lines_about(out, "broker") and not lines_about(err, "broker")
    assert err[-1] == "configuration is not valid (1 problem)"
    assert "configuration is valid" not in "\n".join(out + err)
    assert PASSWORD not in "\n".join(out + err)


def test_unreachable_broker_is_one_line_naming_it(environ, current_pg):
    environ.setenv("DATABASE_URL", current_pg)
    environ.setenv("REDIS_URL", UNREACHABLE_REDIS)
    environ.delenv("BROKER_URL")
    code, out, err = check()
    assert code == 1
    assert lines_about(err, "broker") == [
        f"broker: cannot connect to {UNREACHABLE_REDIS} (connection refused): check REDIS_URL, "
        "and that the broker is running and reachable"
    ]
    assert lines_about(out, "database")[0].startswith("database: ok")


def test_both_unreachable_are_two_lines_and_no_password(environ):
    environ.setenv("DATABASE_URL", UNREACHABLE_PG)
    environ.setenv("BROKER_URL", f"amqp://copilot:{PASSWORD}@127.0.0.1:1//")
    code, out, err = check()
    assert code == 1
    assert len(lines_about(err, "database")) == 1
    assert lines_about(err, "broker") == [
        "broker: cannot connect to amqp://copilot:***@127.0.0.1:1// (connection refused): "
        "check BROKER_URL, and that the broker is running and reachable"
    ]
    assert err[-1] == "configuration is not valid (2 problems)"
    assert PASSWORD not in "\n".join(out + err)


def test_a_missing_folder_for_the_sqlite_broker_is_named(environ, current_pg, tmp_path):
    environ.setenv("DATABASE_URL", current_pg)
    environ.setenv("BROKER_URL", f"sqla+sqlite:///{tmp_path / 'missing' / 'broker.sqlite'}")
    code, _, err = check()
    assert code == 1
    assert lines_about(err, "broker") == [
        f"broker: cannot create {tmp_path / 'missing' / 'broker.sqlite'}: {tmp_path / 'missing'} "
        f"is not a writable folder: create it (mkdir -p {tmp_path / 'missing'}), or set REDIS_URL"
    ]


def test_a_server_that_never_answers_fails_within_the_timeout(environ):
    silent = socket.socket()  # accepts connections (the backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        settings = Settings(database_url=f"postgresql://copilot:{PASSWORD}@127.0.0.1:{port}/x",
                            redis_url=f"redis://127.0.0.1:{port}/0")
        started = time.monotonic()
        database, broker = checks.check_services(settings, timeout=1.0)
        assert time.monotonic() - started < 2.5  # both at once, each at most its timeout
    finally:
        silent.close()
    assert not database.ok and "(no answer within 1 s)" in database.line
    assert not broker.ok and "(no answer within 1 s)" in broker.line
    assert PASSWORD not in database.line


# --- the schema ------------------------------------------------------------------------------


def test_an_empty_database_needs_db_upgrade(environ, postgres_url):
    environ.setenv("DATABASE_URL", postgres_url)
    code, _, err = check()
    assert code == 1
    assert lines_about(err, "database") == [
        f"database: no schema yet in {postgres_url}: run python -m bot db upgrade"
    ]


def test_an_out_of_date_schema_needs_db_upgrade(environ, postgres_url):
    upgrade(postgres_url, "0003")
    environ.setenv("DATABASE_URL", postgres_url)
    code, _, err = check()
    assert code == 1
    assert lines_about(err, "database") == [
        f"database: {postgres_url} is at revision 0003, the latest is 0006: "
        "run python -m bot db upgrade"
    ]


# --- settings problems -------------------------------------------------------------------------


def test_database_url_notaurl_is_a_setting_error(environ):
    environ.setenv("DATABASE_URL", "notaurl")
    code, out, err = check()
    assert (code, out) == (1, [])
    assert err == [
        "Error: invalid settings:",
        "  - DATABASE_URL is not a database URL: expected e.g. "
        "postgresql://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH",
    ]


def test_several_setting_problems_are_one_per_line(environ):
    environ.setenv("DATABASE_URL", f"mysql://copilot:{PASSWORD}@db/copilot")
    environ.setenv("BROKER_URL", f"copilot:{PASSWORD}@rabbit")
    environ.setenv("ZENDESK_TIMEOUT", "soon")
    environ.delenv("ZENDESK_WEBHOOK_SECRET")
    code, _, err = check()
    assert code == 1
    assert err[0] == "Error: invalid settings:"
    assert len(err) == 5 and all(line.startswith("  - ") for line in err[1:])
    for name in ("DATABASE_URL", "BROKER_URL", "ZENDESK_TIMEOUT", "ZENDESK_WEBHOOK_SECRET"):
        assert sum(name in line for line in err[1:]) == 1
    assert PASSWORD not in "\n".join(err)


def test_configuration_problems_are_listed_with_the_service_problems(environ, tmp_path):
    environ.setenv("DATABASE_URL", UNREACHABLE_PG)
    environ.setenv("PROMPTS_DIR", str(tmp_path))  # exists, but holds no templates
    code, _, err = check()
    assert code == 1
    assert sum(line.startswith("PROMPTS_DIR") for line in err) == 1
    assert len(lines_about(err, "database")) == 1
    assert err[-1] == "configuration is not valid (2 problems)"


# --- db upgrade ----------------------------------------------------------------------------------


def test_db_upgrade_on_an_unreachable_postgresql_is_one_line(environ):
    environ.setenv("DATABASE_URL", UNREACHABLE_PG)
    result = run("db", "upgrade")
    output = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 1
    assert output == [
        "database: cannot connect to postgresql://copilot:***@127.0.0.1:1/copilot "
        "(connection refused): check DATABASE_URL, and that the server is running and reachable"
    ]


def test_db_upgrade_with_a_bad_url_is_a_setting_error_without_traceback(environ):
    environ.setenv("DATABASE_URL", f"postgresql://copilot:{PASSWORD}@db:port/copilot")
    result = run("db", "upgrade")
    text = result.stdout + result.stderr
    assert result.returncode == 1
    assert len(text.splitlines()) <= 3 and "Traceback" not in text
    assert "DATABASE_URL is not a database URL" in text and PASSWORD not in text


def test_db_upgrade_failure_is_one_line_and_debug_shows_the_traceback(environ, tmp_path):
    (tmp_path / "a-file").write_text("")
    environ.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'a-file' / 'bot.sqlite'}")
    result = run("db", "upgrade")
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"database: upgrade of sqlite:///{tmp_path / 'a-file' / 'bot.sqlite'} failed (")
    assert lines[0].endswith("run again with LOG_LEVEL=DEBUG for the traceback")
    environ.setenv("LOG_LEVEL", "DEBUG")
    debug = run("db", "upgrade")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_db_upgrade_then_check_on_postgresql(environ, postgres_url, redis_12):
    environ.setenv("DATABASE_URL", postgres_url)
    environ.setenv("REDIS_URL", redis_12)
    environ.delenv("BROKER_URL")
    assert run("db", "upgrade").stdout == "database is up to date\n"
    result = run("check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "configuration is valid (helpdesks=zendesk,intercom (sample), llm=offline)"


# --- masking -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url, shown", [
    (f"postgresql://bot:{PASSWORD}@db:5432/bot", "postgresql://bot:***@db:5432/bot"),
    (f"redis://:{PASSWORD}@redis:6379/0", "redis://:***@redis:6379/0"),
    (f"postgresql://bot:a@b/{PASSWORD}@db/bot", "postgresql://bot:***@db/bot"),  # raw "@" and "/"
    (f"postgresql://db/bot?user=bot&password={PASSWORD}&sslmode=require",
     "postgresql://db/bot?user=bot&password=***&sslmode=require"),
    (f"amqp://a:{PASSWORD}@h1//;amqp://b:{PASSWORD}@h2//", "amqp://a:***@h1//;amqp://b:***@h2//"),
    ("postgresql://bot@db/bot", "postgresql://bot@db/bot"),
    ("sqlite:////srv/me@corp/bot.sqlite", "sqlite:////srv/me@corp/bot.sqlite"),
])
def test_mask_url_hides_passwords(url, shown):
    assert checks.mask_url(url) == shown
