"""`python -m bot ...`: operations commands."""

from __future__ import annotations

import sys

import click

from bot.errors import SettingsError
from bot.settings import Settings


def _settings(services: bool = True) -> Settings:
    try:
        return Settings.from_env(services=services)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(help="AI copilot for support desks: triage and draft replies as internal notes.")
def main() -> None:
    pass


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the schema to the latest version (DATABASE_URL).")
def db_upgrade() -> None:
    from bot.db import upgrade

    settings = _settings(services=False)
    upgrade(settings.database_url)
    click.echo("database is up to date")


def _register_kb() -> None:
    from bot.kb.cli import register

    register(main, _settings)


@main.command(help="Validate settings, policy and prompt templates, then exit.")
def check() -> None:
    from bot.runtime import check_configuration

    settings = _settings()
    try:
        warnings = check_configuration(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"configuration is valid (helpdesk={settings.helpdesk}, llm={settings.llm_provider})")


@main.command(help="Run the whole service on bundled sample tickets: no Zendesk, Redis or keys.")
@click.option("--port", default=0, help="Port for the web process (default: any free port).")
@click.option("--limit", default=0, help="Send only the first N sample tickets.")
@click.option("--timeout", default=120.0, help="Seconds to wait for the worker.")
def demo(port: int, limit: int, timeout: float) -> None:
    from bot.demo.runner import run_demo

    sys.exit(run_demo(port=port, limit=limit, timeout=timeout))


def _register_triage() -> None:
    from bot.triage.cli import register

    register(main, _settings)


_register_kb()
_register_triage()
