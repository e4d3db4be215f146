"""`python -m bot setup zendesk|intercom`, `python -m bot doctor`, `python -m bot replay`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from bot.golive.plan import Applier, Outcome, SetupError
from bot.settings import PROJECT_ROOT, Settings

MACROS_FILE = PROJECT_ROOT / "config" / "zendesk" / "macros.json"


def register(main: click.Group, settings_for: Callable[..., Settings]) -> None:
    @main.group(help="Create what the bot needs in a helpdesk (idempotent), or remove it.")
    def setup() -> None:
        pass

    @setup.command("zendesk", help="Webhook, triggers (new ticket, activity), the AI draft field and "
                   "the macros; prints the settings to set. Needs an admin's ZENDESK_EMAIL/API_TOKEN.")
    @_setup_options("Delete what setup created.")
    def setup_zendesk(url: str, dry_run: bool, remove: bool) -> None:
        from bot.helpdesks.zendesk import setup as zendesk
        from bot.helpdesks.zendesk.admin_api import ZendeskAdminApi
        from bot.policy import load_policy

        settings = settings_for(services=False)
        missing = settings.zendesk.missing_credentials()
        if missing:
            _exit(f"setup zendesk needs {', '.join(missing)}")
        public_url = _public_url(url, settings, remove)
        macros = json.loads(MACROS_FILE.read_text(encoding="utf-8"))["macros"]
        api = ZendeskAdminApi(settings.zendesk)
        applier = Applier(api, dry_run=dry_run, echo=click.echo)
        _heading(f"Zendesk {settings.zendesk.base_url}", dry_run, remove)
        try:
            if remove:
                zendesk.remove(api, applier, macros, settings.zendesk.draft_field_id)
                _summary(applier, api.calls)
                return
            account = zendesk.set_up(api, applier, public_url=public_url,
                                     policy=load_policy(settings.policy_file), macros=macros,
                                     draft_field_id=settings.zendesk.draft_field_id)
        except SetupError as exc:
            _exit(f"setup zendesk stopped: {exc}")
        _summary(applier, api.calls)
        _settings_to_set({**account.settings, "PUBLIC_URL": public_url}, settings)
        _problems(account.problems)

    @setup.command("intercom", help="Tags, the admin and teams through Intercom's API; prints what only "
                   "the Developer Hub can do (webhook topics, the client secret).")
    @_setup_options("Delete the tags setup created.")
    def setup_intercom(url: str, dry_run: bool, remove: bool) -> None:
        import bot.helpdesks.intercom.setup as intercom
        from bot.policy import load_policy

        settings = settings_for(services=False)
        if not settings.intercom.access_token:
            _exit("setup intercom needs INTERCOM_ACCESS_TOKEN")
        public_url = _public_url(url, settings, remove)
        api = intercom.IntercomAdminApi(settings.intercom)
        applier = Applier(api, dry_run=dry_run, echo=click.echo)
        _heading(f"Intercom {settings.intercom.url}", dry_run, remove)
        try:
            if remove:
                intercom.remove(api, applier)
                _summary(applier, api.calls)
                click.echo(intercom.developer_hub_removal())
                return
            workspace = intercom.set_up(api, applier, policy=load_policy(settings.policy_file),
                                        admin_id=settings.intercom.admin_id)
        except SetupError as exc:
            _exit(f"setup intercom stopped: {exc}")
        _summary(applier, api.calls)
        click.echo(intercom.developer_hub_steps(public_url))
        _settings_to_set({**workspace.settings, "PUBLIC_URL": public_url}, settings)
        _problems(workspace.problems)


def _setup_options(remove_help: str) -> Callable:
    def decorate(command: Callable) -> Callable:
        for option in reversed((
            click.option("--url", default="", help="The bot's public URL (default: PUBLIC_URL)."),
            click.option("--dry-run", is_flag=True, help="Read the helpdesk and print each write it would make."),
            click.option("--remove", is_flag=True, help=remove_help),
        )):
            command = option(command)
        return command
    return decorate


def register_doctor(main: click.Group) -> None:
    @main.command(help="Check everything a deployment needs (settings, database, broker, public URL, "
                  "helpdesk credentials and webhooks, policy against the account, LLM, help center): "
                  "one line per check with its fix; exit 1 when any fails.")
    def doctor() -> None:
        from bot.golive.doctor import Status, diagnose

        checks = diagnose()
        for check in checks:
            click.echo(check.line())
        failed = sum(1 for c in checks if c.status is Status.FAIL)
        if failed:
            click.echo(f"{failed} check{'s' * (failed > 1)} failed", err=True)
            sys.exit(1)
        click.echo("all checks passed")


def _public_url(url: str, settings: Settings, remove: bool) -> str:
    chosen = (url or settings.public_url).rstrip("/")
    if remove:
        return chosen
    if not chosen.startswith(("https://", "http://")):
        _exit("give the bot's public URL: --url https://bot.example.com (or set PUBLIC_URL)")
    if chosen.startswith("http://"):
        click.echo("warning: the public URL is not HTTPS; helpdesks send ticket ids and signatures over it",
                   err=True)
    return chosen


def _heading(where: str, dry_run: bool, remove: bool) -> None:
    what = "removing from" if remove else "setting up"
    click.echo(f"{what} {where}" + (" (dry run: nothing is written)" if dry_run else ""))


def _summary(applier: Applier, calls: int) -> None:
    counts = {o: sum(1 for c in applier.changes if c.outcome is o) for o in Outcome}
    parts = [f"{n} {o.value}" for o, n in counts.items() if n]
    verb = "would be" if applier.dry_run else "were"
    click.echo(f"done: {', '.join(parts) or 'nothing to do'} ({calls} API calls; "
               f"{'changes ' + verb + ' made' if applier.wrote else 'nothing written'})")


def _settings_to_set(values: dict[str, str], settings: Settings) -> None:
    click.echo("\nSettings for the web and worker processes (then restart them):")
    for name, value in values.items():
        click.echo(f"  {name}={value}")
    if settings.zendesk.bot_user_id and values.get("ZENDESK_BOT_USER_ID") not in (None, settings.zendesk.bot_user_id):
        click.echo(f"warning: ZENDESK_BOT_USER_ID is {settings.zendesk.bot_user_id}, but the API token's "
                   f"user is {values['ZENDESK_BOT_USER_ID']}", err=True)


def _problems(problems: list[str]) -> None:
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        sys.exit(1)


def _exit(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)

