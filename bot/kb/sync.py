"""One sync of one or more knowledge sources into the store: `kb sync` and the beat task."""

from __future__ import annotations

import logging
from typing import Sequence

from bot.errors import PermanentError, RetryableError
from bot.kb.model import SyncReport
from bot.kb.sources.base import ArticleSource
from bot.kb.store import ArticleStore

log = logging.getLogger(__name__)


def sync_source(source: ArticleSource, store: ArticleStore, full: bool = False) -> SyncReport:
    """Apply every batch the source yields; each batch's cursor is saved with it."""
    report = SyncReport(source.name)
    cursor = None if full else store.cursor(source.name)
    try:
        for batch in source.batches(cursor, full=full):
            report = report + store.apply(source.name, batch)
    except (RetryableError, PermanentError) as exc:
        store.record_error(source.name, str(exc))
        raise
    log.info("kb sync %s: %s", source.name, report.as_dict())
    return report


def sync_all(
    sources: Sequence[ArticleSource], store: ArticleStore, full: bool = False
) -> tuple[list[SyncReport], list[str]]:
    """Sync each source; one failing source does not stop the others. Returns (reports, errors)."""
    reports, errors = [], []
    for source in sources:
        try:
            reports.append(sync_source(source, store, full=full))
        except (RetryableError, PermanentError) as exc:
            errors.append(f"{source.name}: {exc}")
    return reports, errors
