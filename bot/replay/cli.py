"""`python -m bot replay --from-zendesk --since 30d` (or `--from-intercom`, or `replay FILE`)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.settings import Settings

HISTORY_PAGE = 50  # earlier tickets read per ticket, as a live run does


def register(main: click.Group, settings_for: Callable[..., Settings]) -> None:
    @main.command(help="Run the bot in shadow over past tickets (nothing is written or stored) and "
                  "compare its triage, escalations and routing with what agents did: an HTML report "
                  "with charts and a JSON one, and which categories look ready for `tag` or `draft`.")
    @click.argument("file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
    @click.option("--from-zendesk", is_flag=True, help="Read the tickets from Zendesk (ZENDESK_* settings).")
    @click.option("--from-intercom", is_flag=True, help="Read the conversations from Intercom (INTERCOM_*).")
    @click.option("--since", default="30d", show_default=True, help="Tickets created since (30d, 8w, 2026-11-01).")
    @click.option("--limit", default=0, help="At most this many tickets (0: all).")
    @click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
                  help="Folder for replay.html and replay.json (default: replay-<date>).")
    @click.option("--save", default=None, type=click.Path(dir_okay=False, path_type=Path),
                  help="Also write the tickets read, as a FILE a later `replay FILE` takes (no helpdesk reads).")
    @click.option("--map", "maps", multiple=True, metavar="SOURCE=Category",
                  help='Agents\' tag or field value -> category (repeatable), e.g. --map "invoice=Billing".')
    @click.option("--category-field", default=None, help="The custom field holding agents' category "
                  "(default: the ticket's tags).")
    @click.option("--escalated-tag", "escalated_tags", multiple=True, default=("escalated",), show_default=True,
                  help="A tag agents use for escalated tickets (repeatable); so is a final escalation group.")
    @click.option("--refund-tag", "refund_tags", multiple=True, default=("refund", "refunded"), show_default=True,
                  help="A tag agents use for refunded tickets (repeatable).")
    @click.option("--rate", default=100.0, show_default=True,
                  help="Helpdesk requests per minute at most (the account's limit is shared with agents' tools).")
    def replay(file, from_zendesk, from_intercom, since, limit, out, save, maps, category_field,
               escalated_tags, refund_tags, rate) -> None:
        from bot.policy import load_policy
        from bot.replay.tickets import Reading
        from bot.triage.data import DataError, parse_mapping
        from bot.triage.history import parse_since

        if sum(map(bool, (file, from_zendesk, from_intercom))) != 1:
            _exit("give one of: FILE, --from-zendesk, --from-intercom")
        settings = settings_for(services=False)
        policy = load_policy(settings.policy_file)
        try:
            reading = Reading(parse_mapping(maps), category_field, frozenset(escalated_tags), frozenset(refund_tags))
            start = parse_since(since)
        except DataError as exc:
            _exit(str(exc))
        skipped: Counter = Counter()
        if file:
            source, records = f"file:{file.name}", _from_file(file, policy, reading, limit)
        else:
            source = "zendesk" if from_zendesk else "intercom"
            records = _from_helpdesk(source, settings, policy, reading, start, limit, rate, skipped)
        if save:
            records = _saving(records, save)
        meta = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "source": source,
                "since": None if file else start.isoformat(timespec="seconds"), "until": None,
                "policy_version": policy.version, "engine": settings.llm_provider}
        report = _run(settings, policy, records, skipped, meta)
        folder = out or Path(f"replay-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        _write(report, folder)


def _from_file(path: Path, policy, reading, limit: int) -> list:
    from bot.replay.tickets import read_file
    from bot.triage.data import DataError

    try:
        records = list(read_file(path, policy, reading))
    except DataError as exc:
        _exit(str(exc))
    return records[:limit] if limit else records


def _from_helpdesk(name: str, settings: Settings, policy, reading, start: datetime, limit: int, rate: float,
                   skipped: Counter) -> list:
    from bot.errors import BotError
    from bot.replay import sources
    from bot.replay.run import Pacer, fetch_each

    try:
        ids, read, per_ticket = sources.open_source(name, settings, policy, reading, start, skipped, HISTORY_PAGE)
    except (BotError, ValueError) as exc:
        _exit(f"replay --from-{name}: {exc}")
    ids = ids[:limit] if limit else ids
    click.echo(f"{len(ids)} {name} tickets created since {start:%Y-%m-%d}; reading each at most "
               f"{rate:g} requests a minute", err=True)
    with click.progressbar(length=len(ids), label="reading", file=sys.stderr) as bar:
        def counted(records: Iterable) -> Iterable:
            for record in records:
                bar.update(1)
                yield record
        return list(counted(fetch_each(ids, read, Pacer(rate), per_ticket, skipped)))


def _saving(records: list, path: Path) -> list:
    from bot.replay.tickets import to_json

    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(to_json(record), ensure_ascii=False) + "\n")
    click.echo(f"saved {len(records)} tickets to {path}", err=True)
    return records


def _run(settings: Settings, policy, records: list, skipped: Counter, meta: dict) -> dict:
    from bot.replay.compare import build_report
    from bot.replay.run import replay_all

    worker = _worker(settings, policy)
    with click.progressbar(length=len(records), label="deciding", file=sys.stderr) as bar:
        replayed = replay_all(worker, records, skipped, progress=lambda: bar.update(1))
    report = build_report(replayed, policy.rollout.recommend, meta)
    report["skipped"] = sum(skipped.values())
    report["skipped_why"] = dict(skipped)
    return report


def _worker(settings: Settings, policy):
    """What `decide` needs: the engine, prompts, the help center. No helpdesk: nothing is written."""
    from bot.checks import check_database
    from bot.db import make_engine
    from bot.kb.retrieval import KnowledgeBase
    from bot.kb.store import ArticleStore
    from bot.llm import llm_from_settings
    from bot.llm.pricing import PriceTable
    from bot.pipeline import Worker
    from bot.prompts import load_prompts
    from bot.store import Store

    database = check_database(settings.database_url)
    if not database.ok:  # the help center lives there: without it, every draft is unsourced
        _exit(f"replay needs the help center the bot drafts from; {database.line}")
    engine = make_engine(settings.database_url)
    articles = ArticleStore(engine)
    if not any(s["articles"] for s in articles.stats()):
        click.echo("warning: no help-center articles (python -m bot kb sync): every draft would be "
                   "unsourced, and no_source escalations would fire where the policy asks", err=True)
    return Worker(helpdesks={}, llm=llm_from_settings(settings), store=Store(engine), policy=policy,
                  prompts=load_prompts(settings.prompts_dir), settings=settings,
                  prices=PriceTable.from_file(settings.llm_prices_file),
                  knowledge=KnowledgeBase.from_settings(settings, articles, policy.knowledge.default_language))


def _write(report: dict, folder: Path) -> None:
    from bot.replay.html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "replay.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "replay.html").write_text(render_html(report), encoding="utf-8")
    fields = report["fields"]
    shown = ", ".join(f"{name} {_pct(value['rate'])}" for name, value in fields.items())
    click.echo(f"{report['tickets']} tickets replayed ({report['skipped']} skipped): agreement {shown}")
    for mode in ("draft", "tag", "shadow"):
        names = report["recommendation"][mode]
        if names:
            click.echo(f"  ready for {mode}: {', '.join(names)}" if mode != "shadow"
                       else f"  stay in shadow: {', '.join(names)}")
    click.echo(f"report: {folder / 'replay.html'} and {folder / 'replay.json'}")


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def _exit(message: str):
    click.echo(message, err=True)
    sys.exit(1)
