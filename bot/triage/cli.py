"""`python -m bot train` and `python -m bot eval`: the local triage model from labelled tickets.

Input problems (a missing file, a bad line, an unmapped label) exit with status 2 and say
where; `eval` prints one JSON object and exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from bot.triage.data import Columns, DataError, class_counts, parse_mapping, parse_text_cols, read_tickets

FEW_PER_CATEGORY = 30


class InputError(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _input_options(command):
    options = [
        click.argument("data", required=False, type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]),
                     help="Input format (default: from the file's extension)."),
        click.option("--text-cols", default=None,
                     help="Comma-separated text columns; with two or more, the first is the "
                          "subject. Default: subject,body."),
        click.option("--label-col", default="category", show_default=True,
                     help="The column holding the label."),
        click.option("--map", "maps", multiple=True, metavar="SOURCE=Category",
                     help='Map a source label onto a category (repeatable), e.g. --map "bug=Bug report"; '
                          "SOURCE=- leaves those tickets out."),
        click.option("--from-zendesk", is_flag=True,
                     help="Read past tickets from Zendesk (ZENDESK_* settings) instead of a file."),
        click.option("--since", default="180d", show_default=True,
                     help="With --from-zendesk: tickets created or updated since then (180d, 12w, 2026-01-31)."),
        click.option("--category-field", default=None,
                     help="With --from-zendesk: the custom field id holding the category "
                          "(default: the ticket's tags)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _tickets(settings_factory, data, fmt, text_cols, label_col, maps, from_zendesk, since, category_field):
    try:
        mapping = parse_mapping(maps)
        if from_zendesk:
            if data is not None:
                raise DataError("give either a DATA file or --from-zendesk, not both")
            return _zendesk_tickets(settings_factory, mapping, since, category_field)
        if data is None:
            raise DataError("missing DATA: a .jsonl or .csv file of labelled tickets (or --from-zendesk)")
        if not data.exists():
            raise DataError(f"no such file: {data}")
        return read_tickets(data, columns_for(text_cols, label_col), mapping, fmt)
    except DataError as exc:
        raise InputError(str(exc)) from None


def columns_for(text_cols: str | None, label_col: str) -> Columns:
    if not text_cols:
        return Columns(label=label_col)
    names = parse_text_cols(text_cols)
    # One text column is the customer's message: a body, not a subject.
    return Columns(names, label_col, first_is_subject=len(names) > 1)


def _zendesk_tickets(settings_factory, mapping, since, category_field):
    from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
    from bot.triage.history import labelled_tickets, parse_since

    start = parse_since(since)
    settings = settings_factory(services=False)
    missing = settings.zendesk.missing_credentials()
    if missing:
        raise DataError(f"--from-zendesk needs {', '.join(missing)}")
    helpdesk = ZendeskHelpdesk.from_settings(settings.zendesk)
    click.echo(f"reading Zendesk tickets since {start:%Y-%m-%d}...", err=True)
    tickets, skipped = labelled_tickets(helpdesk.export_tickets(start), mapping, category_field)
    if skipped:
        click.echo("skipped: " + ", ".join(f"{n} ({why})" for why, n in skipped.items()), err=True)
    if not tickets:
        raise DataError("no Zendesk ticket in that period has a category (see --category-field and --map)")
    return tickets


def register(main: click.Group, settings_factory) -> None:
    @main.command(help="Train the local triage model from labelled tickets (JSONL or CSV, or --from-zendesk).")
    @_input_options
    @click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Folder to write the model to; point LOCAL_MODEL_DIR at it.")
    @click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20),
                  help="Cross-validation folds (for the calibration and the reported figures).")
    @click.option("--c", "c", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                  help="Inverse regularisation strength of the logistic regression.")
    @click.option("--name", default=None, help="The model's name (default: the output folder's name).")
    def train(data, fmt, text_cols, label_col, maps, from_zendesk, since, category_field, out, folds, c, name):
        from bot.triage.build_default import data_digest
        from bot.triage.model import TrainOptions
        from bot.triage.model import train as fit
        from bot.triage.model_io import save_model

        tickets = _tickets(settings_factory, data, fmt, text_cols, label_col, maps, from_zendesk,
                           since, category_field)
        counts = class_counts(tickets)
        click.echo(f"training on {len(tickets)} tickets: "
                   + ", ".join(f"{c_} {n}" for c_, n in counts.items()), err=True)
        if min(counts.values()) < FEW_PER_CATEGORY:
            click.echo(f"warning: fewer than {FEW_PER_CATEGORY} tickets in some categories: the "
                       "model and its calibration will be rough; check it with `eval` on other tickets",
                       err=True)
        started = time.monotonic()
        try:
            model = fit(tickets, TrainOptions(c=c, folds=folds), progress=lambda m: click.echo(m, err=True))
        except DataError as exc:
            raise InputError(str(exc)) from None
        model.meta.update(name=name or out.resolve().name,
                          training_data={"n": len(tickets), "sha256": data_digest(tickets),
                                         "categories": counts})
        save_model(model, out)
        cv = model.meta["cross_validation"]
        _echo_json({"model": str(out), "name": model.meta["name"], "n": len(tickets),
                    "categories": counts, "train_seconds": round(time.monotonic() - started, 1),
                    "cross_validation": cv})

    @main.command("eval", help="Triage labelled tickets with the local model and print the figures as JSON.")
    @_input_options
    @click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Model folder (default: LOCAL_MODEL_DIR, else the bundled model).")
    @click.option("--threshold", type=click.FloatRange(0, 1), default=None,
                  help="Confidence threshold to report on (default: the policy's confidence_threshold).")
    @click.option("--engine", type=click.Choice(["offline", "openai", "hybrid"]), default="offline",
                  show_default=True,
                  help="openai/hybrid call the configured LLM (OPENAI_*, LLM_MODEL, HYBRID_CONFIDENCE_BAR): "
                       "this costs what triage costs, and the report says how much.")
    def evaluate(data, fmt, text_cols, label_col, maps, from_zendesk, since, category_field, model_dir,
                 threshold, engine):
        from dataclasses import replace

        from bot.domain import CustomerContext
        from bot.errors import BotError, SettingsError
        from bot.llm import llm_from_settings
        from bot.llm.pricing import PriceTable
        from bot.policy import load_policy
        from bot.prompts import build_triage_request, load_prompts
        from bot.triage.evaluate import evaluate_engine

        settings = settings_factory(services=False)
        tickets = _tickets(settings_factory, data, fmt, text_cols, label_col, maps, from_zendesk,
                           since, category_field)
        settings = replace(settings, llm_provider=engine,
                           local_model_dir=str(model_dir or settings.local_model_dir))
        try:
            if engine != "offline" and not settings.openai_api_key:
                raise SettingsError(f"--engine {engine} needs OPENAI_API_KEY")
            llm = llm_from_settings(settings)
            policy = load_policy(settings.policy_file)
            prompts = load_prompts(settings.prompts_dir)
            prices = PriceTable.from_file(settings.llm_prices_file) if engine != "offline" else None
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        if threshold is None:
            threshold = policy.confidence_threshold

        def build_request(ticket):
            return build_triage_request(ticket, CustomerContext(), prompts, policy)

        try:
            # The local engine reads the ticket only: no prompt to build for it.
            report = evaluate_engine(llm, tickets, threshold,
                                     build_request if engine != "offline" else None, prices,
                                     policy=policy)
        except BotError as exc:  # the LLM failed (rate limit, credentials...): nothing to report
            raise click.ClickException(f"{engine} triage failed: {exc}") from None
        _echo_json(report)


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    sys.stdout.flush()
