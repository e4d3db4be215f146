"""Start-up checks: is each URL well formed (when settings are read), and are the database and
the broker reachable, with the schema at the latest migration (`python -m bot check`).

Every problem is one line naming what failed, where, and the fix. A URL is only ever shown
through `mask_url`: its password never reaches a message.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # bot.settings imports this module
    from bot.settings import Settings

TIMEOUT = 3.0  # seconds per check
UPGRADE_HINT = "run python -m bot db upgrade"
_USERINFO = re.compile(r"^([A-Za-z][\w+.-]*://[^:@/]*):.*@")  # greedy: up to the last "@"
_QUERY_SECRET = re.compile(r"(?i)((?:^|&)[^=&]*(?:pass|pwd|secret|token)[^=&]*=)[^&]*")
_SCHEME = re.compile(r"[A-Za-z][\w+.-]*")
# The Python package each broker transport needs (kombu imports it only when connecting).
_TRANSPORT_MODULES = {
    "redis": "redis", "rediss": "redis", "sentinel": "redis",
    "amqp": "amqp", "amqps": "amqp", "pyamqp": "amqp", "librabbitmq": "librabbitmq",
    "sqs": "boto3", "SQS": "boto3", "mongodb": "pymongo", "zookeeper": "kazoo",
    "kafka": "confluent_kafka", "confluentkafka": "confluent_kafka", "consul": "consul",
    "etcd": "etcd", "pyro": "Pyro4", "qpid": "qpid", "gcpubsub": "google.cloud.pubsub_v1",
}
_REASONS = (  # driver messages, shortened to what an operator acts on
    (re.compile(r"connection refused", re.I), "connection refused"),
    (re.compile(r"resolve host|translate host name|name or service not known|nodename nor "
                r"servname|name resolution|getaddrinfo failed", re.I), "host not found"),
    (re.compile(r"timeout expired|timed out", re.I), "timed out"),
    (re.compile(r"password authentication failed|invalid username-password|\bWRONGPASS\b|"
                r"NOAUTH|ACCESS_REFUSED", re.I), "authentication failed"),
)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    parts = []
    for part in url.split(";"):  # Celery accepts a list of fail-over broker URLs
        match = _USERINFO.match(part)  # to the last "@": rather too much than part of a password
        if match:
            part = match.group(1) + ":***@" + part[match.end():]
        head, sep, query = part.partition("?")
        parts.append(head + sep + _QUERY_SECRET.sub(r"\1***", query))
    return ";".join(parts)


# -- URL validation (Settings.from_env) ---------------------------------------------------------


def database_url_problem(url: str, name: str = "DATABASE_URL", normalise: bool = True) -> str | None:
    """Why SQLAlchemy cannot use `url` (unparseable, unknown database, driver not installed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from bot.db import normalise_url

    try:
        parsed = make_url(normalise_url(url) if normalise else url)
    except (ArgumentError, ValueError):
        return (f"{name} is not a database URL: expected e.g. "
                "postgresql://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH")
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"{name}: unknown database {parsed.drivername!r}: use postgresql:// or sqlite:///"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return (f"{name}: {parsed.drivername} needs the {dialect.driver} driver (Python module "
                f"{exc.name or dialect.driver}), which is not installed: install it, or use "
                "postgresql:// (psycopg 3, installed) or sqlite:///")
    if getattr(dialect, "is_async", False):
        return f"{name}: {parsed.drivername} is an asyncio driver: use postgresql:// (psycopg 3)"
    return None


def broker_url_problem(url: str, name: str = "BROKER_URL") -> str | None:
    """Why Celery cannot use `url`: no scheme, a transport kombu does not know, or one whose
    Python package is not installed. `sqla+URL` is checked as a database URL."""
    from kombu.transport import TRANSPORT_ALIASES

    for part in url.split(";"):
        scheme, sep, rest = part.strip().partition("://")
        if not sep or not _SCHEME.fullmatch(scheme):
            return (f"{name} is not a broker URL: expected e.g. redis://HOST:6379/0, "
                    "amqp://USER:PASSWORD@HOST:5672// or sqla+postgresql://USER:PASSWORD@HOST/NAME")
        transport, plus, inner = scheme.partition("+")
        if transport not in TRANSPORT_ALIASES:
            return f"{name}: kombu has no {transport!r} transport: use redis://, amqp:// or sqla+"
        if plus and transport in ("sqla", "sqlalchemy"):
            problem = database_url_problem(f"{inner}://{rest}", name, normalise=False)
            if problem:
                return problem
        module = _TRANSPORT_MODULES.get(transport)
        if module and not _installed(module):
            return (f"{name}: the {transport} transport needs the Python package {module}, "
                    "which is not installed")
    return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


# -- reachability -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    ok: bool
    line: str


def check_services(settings: Settings, timeout: float = TIMEOUT) -> list[Result]:
    """The database and the broker, checked at the same time: `check` takes one timeout at most."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="startup-check") as pool:
        database = pool.submit(check_database, settings.database_url, timeout)
        broker = pool.submit(check_broker, settings, timeout)
        return [database.result(), broker.result()]


def check_database(url: str, timeout: float = TIMEOUT) -> Result:
    """Connect, and compare the schema's revision with the latest migration."""
    from alembic.script import ScriptDirectory

    from bot.db import MIGRATIONS_DIR

    shown = mask_url(url)
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.is_file():
        return Result(False, f"database: no schema yet ({sqlite_file} does not exist): {UPGRADE_HINT}")
    try:
        current = set(_within(timeout, lambda: _connect(url, timeout, _schema_heads)))
    except Exception as exc:
        return Result(False, describe_failure("database", url, exc, "DATABASE_URL"))
    latest = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    if current == latest:
        return Result(True, f"database: ok ({shown}, schema at revision {', '.join(sorted(latest))})")
    if not current:
        return Result(False, f"database: no schema yet in {shown}: {UPGRADE_HINT}")
    known = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    if current - known:
        return Result(False, f"database: {shown} is at revision {', '.join(sorted(current))}, "
                             "which this version of the bot does not know: upgrade the bot")
    return Result(False, f"database: {shown} is at revision {', '.join(sorted(current))}, the "
                         f"latest is {', '.join(sorted(latest))}: {UPGRADE_HINT}")


def database_unreachable(url: str, timeout: float = TIMEOUT) -> str | None:
    """One line when a database server cannot be reached (a SQLite file is created as needed)."""
    if url.startswith("sqlite"):
        return None
    try:
        _within(timeout, lambda: _connect(url, timeout, lambda connection: None))
    except Exception as exc:
        return describe_failure("database", url, exc, "DATABASE_URL")
    return None


def check_broker(settings: Settings, timeout: float = TIMEOUT) -> Result:
    url = settings.broker_url
    name = ("BROKER_URL" if settings.broker_url_override
            else "REDIS_URL" if settings.redis_url else "the default SQLite broker")
    shown = mask_url(url)
    if url.startswith(("sqla+", "sqlalchemy+")):
        inner = url.split("+", 1)[1]
        sqlite_file = _sqlite_file(inner)
        if sqlite_file is not None:
            folder = sqlite_file.parent
            if folder.is_dir() and os.access(folder, os.W_OK):
                return Result(True, f"broker: ok ({shown})")
            return Result(False, f"broker: cannot create {sqlite_file}: {folder} is not a writable "
                                 f"folder: create it (mkdir -p {folder}), or set REDIS_URL")
        try:
            _within(timeout, lambda: _connect(inner, timeout, lambda connection: None, False))
        except Exception as exc:
            return Result(False, describe_failure("broker", url, exc, name))
        return Result(True, f"broker: ok ({shown})")
    try:
        _within(timeout, lambda: _ping_broker(settings))
    except Exception as exc:
        return Result(False, describe_failure("broker", url, exc, name))
    return Result(True, f"broker: ok ({shown})")


def describe_failure(what: str, url: str, exc: BaseException, setting: str) -> str:
    """`database: cannot connect to postgresql://u:***@db/x (connection refused): check ...`"""
    server = "the server" if what == "database" else "the broker"
    return (f"{what}: cannot connect to {mask_url(url)} ({reason(exc, url)}): "
            f"check {setting}, and that {server} is running and reachable")


def reason(exc: BaseException, url: str = "") -> str:
    """The driver's explanation, shortened, on one line, never with the URL's password."""
    if isinstance(exc, TimeoutError) and str(exc).startswith("no answer"):
        return str(exc)
    root = exc
    for _ in range(10):  # SQLAlchemy wraps the driver's error; kombu chains the transport's
        inner = getattr(root, "orig", None) or root.__cause__
        if not isinstance(inner, BaseException):
            break
        root = inner
    text = " ".join(str(root).split()) or type(root).__name__
    for pattern, short in _REASONS:
        if pattern.search(text):
            return short
    text = re.sub(r'^connection failed: |connection to server at "[^"]*", port \d+ failed: |'
                  r"FATAL:\s*|\(Background on this error at: [^)]*\)", "", text).strip()
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return text[:200] or type(root).__name__


def _password(url: str) -> str:
    match = _USERINFO.match(url)
    return url[match.end(1) + 1:match.end() - 1] if match else ""


def _within(timeout: float, fn: Callable[[], Any]) -> Any:
    """fn(), or TimeoutError after `timeout` seconds whatever the driver does (it is left to
    finish in a daemon thread)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="startup-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _sqlite_file(url: str) -> Path | None:
    """The file of a sqlite:///PATH URL (None for anything else, and for :memory:)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _connect(url: str, timeout: float, then: Callable[[Any], Any], normalise: bool = True) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from bot.db import normalise_url

    parsed = make_url(normalise_url(url) if normalise else url)
    backend = parsed.get_backend_name()
    seconds = max(int(timeout), 1)
    connect_args: dict[str, Any] = (
        {"timeout": timeout} if backend == "sqlite"
        else {"connect_timeout": seconds} if backend in ("postgresql", "mysql", "mariadb") else {}
    )
    engine = create_engine(parsed, connect_args=connect_args, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return then(connection)
    finally:
        engine.dispose()


def _schema_heads(connection: Any) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_heads()


def _ping_broker(settings: Settings) -> None:
    """One connection attempt (the broker's own timeouts are 3 s: bot.queue)."""
    from bot.queue import make_celery

    with make_celery(settings).connection_for_write() as connection:
        connection.ensure_connection(max_retries=0)
