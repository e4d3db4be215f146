"""Shared fixtures: real PostgreSQL and Redis (never skipped), SQLite, signed webhooks."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis

from bot.db import make_engine, upgrade
from bot.helpdesks.zendesk.webhook import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WEBHOOK_SECRET = "test-signing-secret"


HELPDESKS_DIR = Path(__file__).resolve().parent.parent / "bot" / "helpdesks"
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "config" / "policy.yaml"
_ROLLOUT_DEFAULT = "  mode: shadow "


def policy_in_mode(mode: str, directory: Path | None = None) -> str:
    """The shipped policy with its rollout `mode` changed (a new install runs in `shadow`;
    most tests watch what the bot writes, so they run it in `draft`). The file is written once
    per process and mode, beside nothing else."""
    import tempfile

    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert text.count(_ROLLOUT_DEFAULT) == 1, "config/policy.yaml: rollout mode line not found"
    folder = directory or Path(_POLICY_DIR.setdefault("dir", tempfile.mkdtemp(prefix="bot-policy-")))
    path = folder / f"policy-{mode}.yaml"
    if not path.is_file():
        path.write_text(text.replace(_ROLLOUT_DEFAULT, f"  mode: {mode} ", 1), encoding="utf-8")
        for companion in DEFAULT_POLICY.parent.glob("kb_*.yaml"):  # read from beside the policy
            (folder / companion.name).write_bytes(companion.read_bytes())
    return str(path)


_POLICY_DIR: dict[str, str] = {}


def load_fixture(name: str) -> bytes:
    """`zendesk/x.json` and `intercom/x.json` are the helpdesk folders' own fixtures (real
    webhook bodies, bot/helpdesks/<name>/fixtures); anything else is under tests/fixtures."""
    helpdesk, _, rest = name.partition("/")
    if rest and (HELPDESKS_DIR / helpdesk / "fixtures").is_dir():
        return (HELPDESKS_DIR / helpdesk / "fixtures" / rest).read_bytes()
    return (FIXTURES / name).read_bytes()


def load_json_fixture(name: str) -> dict:
    return json.loads(load_fixture(name))


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET, invocation: str | None = None,
                   timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        INVOCATION_HEADER: invocation or str(uuid.uuid4()),
    }


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The machine's PostgreSQL; a failure here is a failure, not a skip."""
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
        conn.execute("SELECT 1")
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str):
    """A fresh schema per test, dropped afterwards: tests never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Every store test runs on both databases the project supports."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url = request.getfixturevalue(name)
    upgrade(url)
    return url


@pytest.fixture
def store(database_url: str):
    engine = make_engine(database_url)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def kb(database_url):
    """The help-center article store on the test's database."""
    from bot.kb.store import ArticleStore

    engine = make_engine(database_url)
    yield ArticleStore(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    client.ping()
    return REDIS_URL


@pytest.fixture
def acme_zendesk(monkeypatch):
    """The spec-validating fake Zendesk at https://acme.zendesk.com (ZENDESK_SUBDOMAIN=acme).
    Add users and tickets to it in the test; every request must satisfy Zendesk's OpenAPI file."""
    import responses

    from tests.fakes.zendesk_api import FakeZendesk

    monkeypatch.delenv("ZENPY_FORCE_NETLOC", raising=False)
    monkeypatch.delenv("ZENPY_FORCE_SCHEME", raising=False)
    fake = FakeZendesk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, base_url="https://acme.zendesk.com")
        yield fake
    assert fake.spec_violations == []


@pytest.fixture
def llm_server():
    """A local OpenAI-compatible server with queued answers."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


def web_settings(database_url: str, broker_url: str, **extra: str):
    """The web app's settings for a test: a Zendesk account, the test secret, a store, a broker."""
    from bot.settings import Settings

    return Settings.from_env({
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": "bot@example.com",
        "ZENDESK_API_TOKEN": "token",
        "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "POLICY_FILE": policy_in_mode("draft"),
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        **extra,
    })


@pytest.fixture
def broker(request, redis_url):
    """(url, client) of the Redis database the test module names in `BROKER_DB`, emptied
    before and after each test."""
    url = redis_url.rsplit("/", 1)[0] + f"/{request.module.BROKER_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url, client
    client.flushdb()


@pytest.fixture
def client(database_url, broker):
    """Flask's test client on the real store and broker."""
    from bot import create_app

    return create_app(web_settings(database_url, broker[0])).test_client()

