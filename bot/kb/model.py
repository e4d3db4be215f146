"""The knowledge base's vocabulary: approved help-center articles and what a sync brings.

Sources (Zendesk Guide, Intercom Help Center, a JSONL or Markdown import) translate their own
payloads into these types; the store, the index and the pipeline only ever see these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Article:
    """One approved article in one locale, its body already converted to clean text."""

    source: str  # "zendesk", "intercom", or an import's name such as "arduino"
    article_id: str  # the source's own id, as text
    locale: str  # e.g. "en-us"; "" when the source has no locales
    title: str
    body: str  # clean text: paragraphs separated by blank lines, no markup
    url: str = ""  # the public address agents and customers can open
    section: str = ""  # section (Guide) or collection (Intercom) name
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.article_id, self.locale)


@dataclass(frozen=True)
class SyncBatch:
    """One page of a source's changes, applied and checkpointed as a unit.

    `removed` names articles the source reported as no longer approved (a draft, an archived
    article). `complete` means this sync listed every live article of the source, so anything
    stored for it and not listed is gone (deleted) and is removed too; only the last batch of
    a listing may say so, and then `live` holds every (article_id, locale) listed.
    """

    upserts: tuple[Article, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()  # (article_id, locale)
    cursor: str | None = None  # saved once the batch is applied; the next sync starts there
    complete: bool = False
    live: frozenset[tuple[str, str]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class SyncReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    cursor: str | None = None

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            self.source,
            self.added + other.added,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.removed + other.removed,
            other.cursor if other.cursor is not None else self.cursor,
        )

    def as_dict(self) -> dict:
        return asdict(self)
