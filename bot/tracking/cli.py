"""`python -m bot report --since 7d`: the weekly QA report, in Markdown and JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

_RELATIVE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_moment(value: str, now: datetime) -> datetime:
    """`7d`, `24h`, `30m` (that long before `now`), or an ISO date or time (UTC unless it says)."""
    relative = _RELATIVE.match(value)
    if relative:
        return now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: give a duration before now (7d, 24h, 30m) or an ISO date (2026-12-01)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(main: click.Group, settings_factory) -> None:
    @main.command(help="The weekly QA report: review, tracking and cost figures over a period, the "
                       "questions a QA review asks, flagged prompts. Markdown on stdout; --json and "
                       "--markdown write files.")
    @click.option("--since", default="7d", show_default=True, help="Start: 7d, 24h, 30m, or an ISO date.")
    @click.option("--until", "until_", default=None, help="End (default: now): as --since.")
    @click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also write the report as JSON to this file.")
    @click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the Markdown to this file instead of stdout.")
    def report(since: str, until_: str | None, json_path: Path | None, markdown_path: Path | None) -> None:
        from bot.db import make_engine
        from bot.policy import load_policy
        from bot.store import Store
        from bot.tracking.qa import build_report, render_markdown

        settings = settings_factory(services=False)
        now = datetime.now(UTC)
        start = parse_moment(since, now)
        end = parse_moment(until_, now) if until_ else now
        if start >= end:
            raise click.BadParameter(f"the period is empty: {start.isoformat()} is not before {end.isoformat()}",
                                     param_hint="--since")
        store = Store(make_engine(settings.database_url))
        try:
            with store.session() as session:
                data = build_report(session, start, end, load_policy(settings.policy_file).review, now)
        except (OperationalError, ProgrammingError) as exc:
            raise click.ClickException(
                f"cannot read the store at {settings.database_url}: run `python -m bot db upgrade` "
                f"first, or check DATABASE_URL ({type(exc).__name__})") from None
        text = render_markdown(data)
        if json_path is not None:
            json_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        if markdown_path is not None:
            markdown_path.write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
