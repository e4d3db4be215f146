"""`python -m bot kb ...`: sync, import, search and evaluate the knowledge base."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.errors import SettingsError
from bot.settings import Settings


def _store(settings: Settings):
    from bot.db import make_engine
    from bot.kb.store import ArticleStore

    store = ArticleStore(make_engine(settings.database_url))
    try:
        store.revision()
    except (OperationalError, ProgrammingError):
        raise click.ClickException(
            "the database has no knowledge-base tables: run `python -m bot db upgrade` first"
        ) from None
    return store


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def register(main: click.Group, settings_factory) -> None:
    @main.group(help="Knowledge base: approved help-center articles that ground the drafts.")
    def kb() -> None:
        pass

    @kb.command("sync", help="Pull new and changed articles from the help centers in KB_SOURCES.")
    @click.option("--full", is_flag=True, help="List every article again (finds deleted ones).")
    @click.option(
        "--source", "names", multiple=True, type=click.Choice(["zendesk", "intercom"]),
        help="Only this source (repeatable). Default: KB_SOURCES.",
    )
    def kb_sync(full: bool, names: tuple[str, ...]) -> None:
        from bot.kb.sources import make_sources
        from bot.kb.sync import run_sync

        settings = settings_factory(services=True)
        chosen = names or settings.kb_sources
        if not chosen:
            raise click.ClickException(
                "no knowledge source configured: set KB_SOURCES (zendesk, intercom), "
                "or load articles with `python -m bot kb import PATH`"
            )
        store = _store(settings)
        outcome = run_sync(make_sources(settings, chosen), store, full=full)
        # Asked for explicitly, "no help center" is reported like a failure, every time.
        errors = outcome.errors + outcome.no_help_center
        _echo_json({"synced": [r.as_dict() for r in outcome.reports], "errors": errors})
        if errors:
            sys.exit(1)

    @kb.command("import", help="Load articles from a JSONL file or a folder of Markdown files.")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option(
        "--source", default="import", show_default=True,
        help="Name for this collection. Re-importing under the same name replaces it: articles "
        "missing from PATH are removed.",
    )
    def kb_import(path: Path, source: str) -> None:
        from bot.kb.sources.files import ImportFileError, load_articles

        if source in ("zendesk", "intercom"):
            raise click.ClickException(f"--source {source} is reserved for `kb sync`")
        settings = settings_factory(services=False)
        try:
            articles = load_articles(path, source)
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        report = _store(settings).replace_all(source, articles)
        _echo_json(report.as_dict())

    @kb.command("status", help="Articles per source, last sync and last error.")
    def kb_status() -> None:
        _echo_json(_store(settings_factory(services=False)).stats())

    @kb.command("search", help="Show what retrieval finds for a question (for tuning).")
    @click.argument("query")
    @click.option("-k", "k", default=5, show_default=True)
    @click.option("--language", default=None, help="ISO 639-1 code, e.g. de. Default: the policy's.")
    def kb_search(query: str, k: int, language: str | None) -> None:
        from bot.kb.retrieval import KnowledgeBase
        from bot.policy import load_policy

        settings = settings_factory(services=False)
        policy = load_policy(settings.policy_file)
        knowledge = KnowledgeBase.from_settings(
            settings, _store(settings), policy.knowledge.default_language
        )
        hits = knowledge.search(query, k=k, language=language)
        _echo_json(
            [
                {
                    "relevance": round(h.relevance, 3),
                    "source": h.article.source,
                    "article_id": h.article.article_id,
                    "title": h.article.title,
                    "url": h.article.url,
                    "is_source": h.relevance >= policy.knowledge.min_relevance,
                    "passage": h.passage.text[:300],
                }
                for h in hits
            ]
        )

    @kb.command("eval", help="Retrieval quality on JSONL questions or tickets: recall@k, MRR, sourcing.")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--articles", type=click.Path(exists=True, path_type=Path), default=None,
        help="Evaluate over this JSONL/Markdown collection instead of the database's articles.",
    )
    @click.option("--min-relevance", type=float, default=None, help="Default: the policy's.")
    @click.option("--show-misses", is_flag=True,
                  help="Also list questions not answered at rank 1, and unanswerable ones given a source.")
    @click.option(
        "--ranking", type=click.Choice(["bm25", "hybrid"]), default=None, help="Default: KB_RANKING.",
    )
    def kb_eval(
        file: Path, articles: Path | None, min_relevance: float | None, show_misses: bool,
        ranking: str | None,
    ) -> None:
        from bot.kb.evaluate import evaluate, read_questions

        questions = _guarded(read_questions, file)
        settings, policy, knowledge = _knowledge(settings_factory, articles, ranking)
        threshold = policy.knowledge.min_relevance if min_relevance is None else min_relevance
        result = evaluate(questions, lambda q, k, lang: knowledge.search(q, k=k, language=lang), threshold)
        result["ranking"] = settings.kb_ranking
        result["calibrated"] = knowledge.calibration is not None
        if not show_misses:
            result.pop("misses_at_1")
            result.pop("unanswerable_sourced")
        _echo_json(result)

    @kb.command("calibrate", help="Fit the relevance calibration on JSONL questions or tickets.")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--articles", type=click.Path(exists=True, path_type=Path), default=None,
        help="Fit over this JSONL/Markdown collection instead of the database's articles.",
    )
    @click.option(
        "--ranking", "rankings", multiple=True, type=click.Choice(["bm25", "hybrid"]),
        help="Fit this ranking's model (repeatable). Default: both.",
    )
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Default: kb_calibration.yaml beside the policy file.")
    def kb_calibrate(file: Path, articles: Path | None, rankings: tuple[str, ...], out: Path | None) -> None:
        from bot.kb.calibration import DEPTH, fit, load_calibration, save_calibration
        from bot.kb.evaluate import calibration_rows, read_questions
        from bot.kb.retrieval import CALIBRATION_FILE

        questions = _guarded(read_questions, file)
        target = out or Path(settings_factory(services=False).policy_file).parent / CALIBRATION_FILE
        models = _guarded(load_calibration, target)
        report = {}
        for ranking in rankings or ("bm25", "hybrid"):
            _, _, knowledge = _knowledge(settings_factory, articles, ranking, calibration=None)
            rows, labels = calibration_rows(
                questions, lambda q, k, lang: knowledge.search(q, k=k, language=lang), DEPTH
            )
            try:
                models[ranking] = fit(rows, labels)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            report[ranking] = {"hits": len(rows), "right": sum(labels), **models[ranking].as_dict()}
        save_calibration(target, models, f"{file.name}: {len(questions)} questions")
        _echo_json({"written": str(target), "models": report})


def _guarded(function, *args):
    from bot.kb.calibration import CalibrationFileError
    from bot.kb.evaluate import EvalFileError
    from bot.kb.expansion import SynonymFileError
    from bot.kb.sources.files import ImportFileError

    try:
        return function(*args)
    except (EvalFileError, ImportFileError, SettingsError, CalibrationFileError, SynonymFileError) as exc:
        raise click.ClickException(str(exc)) from None


def _knowledge(settings_factory, articles: Path | None, ranking: str | None, **kwargs):
    """Settings, policy and a loaded KnowledgeBase over `articles` or the database's."""
    from bot.kb.retrieval import KnowledgeBase
    from bot.kb.sources.files import load_articles
    from bot.policy import load_policy

    settings = settings_factory(services=False)
    if ranking:
        settings = replace(settings, kb_ranking=ranking)
    policy = load_policy(settings.policy_file)
    language = policy.knowledge.default_language
    if articles is not None:
        loaded = _guarded(load_articles, articles, "eval")
        knowledge = _guarded(lambda: KnowledgeBase.from_settings(
            settings, None, language, articles=loaded, **kwargs))
    else:
        store = _store(settings)
        knowledge = _guarded(lambda: KnowledgeBase.from_settings(settings, store, language, **kwargs))
    knowledge.refresh()
    if knowledge.article_count == 0:
        raise click.ClickException("the knowledge base is empty: import or sync articles first")
    return settings, policy, knowledge
