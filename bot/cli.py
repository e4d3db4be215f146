"""`python -m bot ...`: operations commands."""

from __future__ import annotations

import math
import sys

import click

from bot.errors import SettingsError
from bot.settings import Settings


def _settings(services: bool = True) -> Settings:
    """The settings, or exit 1 with every problem on its own line."""
    try:
        return Settings.from_env(services=services)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(line: str) -> None:
    click.echo(line, err=True)
    sys.exit(1)


@click.group(help="AI copilot for support desks: triage and draft replies as internal notes.")
def main() -> None:
    pass


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the schema to the latest version (DATABASE_URL).")
def db_upgrade() -> None:
    from bot.checks import database_unreachable, mask_url, reason
    from bot.db import upgrade

    settings = _settings(services=False)
    # A server that cannot be reached fails in seconds, on one line, rather than in a traceback.
    unreachable = database_unreachable(settings.database_url)
    if unreachable:
        _fail(unreachable)
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        if settings.log_level == "DEBUG":
            raise
        _fail(
            f"database: upgrade of {mask_url(settings.database_url)} failed "
            f"({type(exc).__name__}: {reason(exc, settings.database_url)}); "
            "run again with LOG_LEVEL=DEBUG for the traceback"
        )
    click.echo("database is up to date")


def _register_kb() -> None:
    from bot.kb.cli import register

    register(main, _settings)


@main.command(
    help="Validate settings, policy and prompt templates; reach the database (schema at the latest "
    "migration) and the broker; then exit, non-zero on any problem."
)
def check() -> None:
    from bot.checks import check_services
    from bot.runtime import check_configuration

    settings = _settings()
    problems: list[str] = []
    try:
        for warning in check_configuration(settings):
            click.echo(f"warning: {warning}", err=True)
    except SettingsError as exc:
        problems.append(str(exc))
    for result in check_services(settings):
        if result.ok:
            click.echo(result.line)
        else:
            problems.append(result.line)
    minutes = math.ceil(settings.recovery_bound_seconds / 60)
    click.echo(
        f"recovery: every accepted ticket gets a note or ai_failed within {minutes} minutes "
        "of arrival"
    )
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        _fail(f"configuration is not valid ({len(problems)} problem{'s' * (len(problems) > 1)})")
    served = ",".join(settings.helpdesks) + (" (sample)" if settings.helpdesk == "sample" else "")
    click.echo(f"configuration is valid (helpdesks={served}, llm={settings.llm_provider})")


@main.command(help="Run the whole service on bundled sample tickets: no Zendesk, Redis or keys.")
@click.option("--port", default=0, help="Port for the web process (default: any free port).")
@click.option("--limit", default=0, help="Send only the first N sample tickets.")
@click.option("--timeout", default=120.0, help="Seconds to wait for the worker.")
def demo(port: int, limit: int, timeout: float) -> None:
    from bot.demo.runner import run_demo

    sys.exit(run_demo(port=port, limit=limit, timeout=timeout))


@main.command(help="Run the web process (waitress): WEB_HOST, PORT, WEB_THREADS, WEB_IDLE_TIMEOUT.")
def serve() -> None:
    from bot.serve import serve as run_server

    run_server(_settings())


def _register_triage() -> None:
    from bot.triage.cli import register

    register(main, _settings)


def _register_report() -> None:
    from bot.tracking.cli import register

    register(main, _settings)


def _register_golive() -> None:
    from bot.golive.cli import register, register_doctor

    register(main, _settings)
    register_doctor(main)


def _register_replay() -> None:
    from bot.replay.cli import register

    register(main, _settings)


_register_kb()
_register_triage()
_register_report()
_register_golive()
_register_replay()
