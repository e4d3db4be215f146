"""One sync of one or more knowledge sources into the store: `kb sync` and the beat task.

A source that has nothing to sync from (`NoHelpCenter`: a Zendesk account without Guide) is
its own outcome, not a failure: it is recorded as the source's `last_error` (`kb status` shows
it), logged here at WARNING the first time (or when it changes) and at INFO on every later
scheduled sync, and kept out of `run_sync`'s errors, so the beat task, which logs each error at
WARNING, stays quiet. When the help center appears, the next sync imports it and clears it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk.guide import NoHelpCenter
from bot.kb.model import SyncReport
from bot.kb.sources.base import ArticleSource
from bot.kb.store import LAST_ERROR_CHARS, ArticleStore

log = logging.getLogger(__name__)


@dataclass
class SyncOutcome:
    reports: list[SyncReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "source: why": failures, for the caller
    no_help_center: list[str] = field(default_factory=list)  # "source: message", logged here


def is_no_help_center(last_error: str | None) -> bool:
    """Whether a source's recorded `last_error` says it has no help center."""
    return last_error is not None and last_error.startswith(NoHelpCenter.PREFIX)


def sync_source(source: ArticleSource, store: ArticleStore, full: bool = False) -> SyncReport:
    """Apply every batch the source yields; each batch's cursor is saved with it."""
    report = SyncReport(source.name)
    before = store.last_error(source.name)
    cursor = None if full else store.cursor(source.name)
    try:
        for batch in source.batches(cursor, full=full):
            report = report + store.apply(source.name, batch)
    except NoHelpCenter as exc:
        _record_no_help_center(store, source.name, str(exc))
        raise
    except (RetryableError, PermanentError) as exc:
        store.record_error(source.name, str(exc))
        raise
    if is_no_help_center(before):
        log.info("kb sync %s: the help center answers now; its articles are synced", source.name)
    log.info("kb sync %s: %s", source.name, report.as_dict())
    return report


def _record_no_help_center(store: ArticleStore, name: str, message: str) -> None:
    previous = store.record_error(name, message)
    if previous == message[:LAST_ERROR_CHARS]:  # known since an earlier sync: not news
        log.info("kb sync %s: still %s", name, message)
    else:
        log.warning("kb sync %s: %s", name, message)


def run_sync(
    sources: Sequence[ArticleSource], store: ArticleStore, full: bool = False
) -> SyncOutcome:
    """Sync each source; one failing source does not stop the others."""
    outcome = SyncOutcome()
    for source in sources:
        try:
            outcome.reports.append(sync_source(source, store, full=full))
        except NoHelpCenter as exc:
            outcome.no_help_center.append(f"{source.name}: {exc}")
        except (RetryableError, PermanentError) as exc:
            outcome.errors.append(f"{source.name}: {exc}")
    return outcome

