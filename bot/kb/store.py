"""The knowledge base's tables: approved articles, and each source's cursor and revision.

Every batch a source sends is applied in one transaction together with its cursor, so a sync
that stops half-way resumes from the last page applied, never skipping one. A per-source row
lock serialises two syncs of the same source (a scheduled one and a manual one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import KbArticle, KbSource, utcnow
from bot.kb.model import Article, SyncBatch, SyncReport

# Keys per IN (...) clause: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 400


def content_hash(article: Article) -> str:
    digest = hashlib.sha256()
    for part in (article.title, article.section, article.url, article.body):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


# A source's recorded error is cut to this many characters.
LAST_ERROR_CHARS = 2000

class ArticleStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- writes --------------------------------------------------------------------------

    def apply(self, source: str, batch: SyncBatch, now: datetime | None = None) -> SyncReport:
        now = now or utcnow()
        latest: dict[tuple[str, str], Article] = {}
        for article in batch.upserts:  # a page may repeat an article: the later copy wins
            if article.source != source:
                raise ValueError(f"article {article.key} does not belong to source {source!r}")
            latest.pop((article.article_id, article.locale), None)
            latest[(article.article_id, article.locale)] = article
        with self._sessions.begin() as session:
            state = self._lock_source(session, source)
            existing = self._existing(session, source, list(latest))
            added = updated = unchanged = removed = 0
            seen = set(latest)
            for key, article in latest.items():
                digest = content_hash(article)
                row = existing.get(key)
                if row is None:
                    row = KbArticle(source=source, article_id=article.article_id, locale=article.locale)
                    session.add(row)
                    existing[key] = row
                    added += 1
                elif row.content_hash == digest:
                    unchanged += 1
                    row.source_updated_at = article.updated_at or row.source_updated_at
                    continue
                else:
                    updated += 1
                row.title, row.section, row.url, row.body = (
                    article.title, article.section, article.url, article.body
                )
                row.content_hash = digest
                row.source_updated_at = article.updated_at
                row.synced_at = now
            gone = [key for key in batch.removed if key not in seen]
            removed += self._delete_keys(session, source, gone)
            if batch.complete:
                removed += self._delete_missing(session, source, set(batch.live) | seen)
            if added or updated or removed:
                state.revision += 1
            if batch.cursor is not None:
                state.cursor = batch.cursor
            state.last_synced_at = now
            state.last_error = None
        return SyncReport(source, added, updated, unchanged, removed, batch.cursor)

    def replace_all(self, source: str, articles: Sequence[Article]) -> SyncReport:
        """An import: the given articles become the source's whole content."""
        live = frozenset((a.article_id, a.locale) for a in articles)
        return self.apply(source, SyncBatch(upserts=tuple(articles), complete=True, live=live))

    def reset_cursor(self, source: str) -> None:
        with self._sessions.begin() as session:
            self._lock_source(session, source).cursor = None

    def record_error(self, source: str, error: str) -> str | None:
        """Keep the source's last error (`kb status`); returns the one it replaces, read under
        the same row lock, so two syncs never both see a state as new."""
        with self._sessions.begin() as session:
            state = self._lock_source(session, source)
            previous, state.last_error = state.last_error, error[:LAST_ERROR_CHARS]
            return previous

    # -- reads ---------------------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        with self._sessions() as session:
            state = session.get(KbSource, source)
            return state.cursor if state else None

    def last_error(self, source: str) -> str | None:
        """None after a good sync; else why the last one failed, or that there is nothing to
        sync from (e.g. no help center: `bot.kb.sync`)."""
        with self._sessions() as session:
            state = session.get(KbSource, source)
            return state.last_error if state else None

    def revision(self) -> tuple[tuple[str, int], ...]:
        """Changes whenever any source's articles change: one cheap query."""
        with self._sessions() as session:
            rows = session.execute(select(KbSource.source, KbSource.revision).order_by(KbSource.source))
            return tuple((source, revision) for source, revision in rows)

    def articles(self, locales: Iterable[str] | None = None) -> list[Article]:
        query = select(KbArticle).order_by(KbArticle.source, KbArticle.article_id, KbArticle.locale)
        wanted = [loc.lower() for loc in locales or ()]
        if wanted:
            # Articles without a locale (imports that name none) are kept whatever is asked.
            query = query.where(func.lower(KbArticle.locale).in_(wanted + [""]))
        with self._sessions() as session:
            return [_to_article(row) for row in session.scalars(query)]

    def stats(self) -> list[dict]:
        with self._sessions() as session:
            counts = dict(
                session.execute(
                    select(KbArticle.source, func.count()).group_by(KbArticle.source)
                ).all()
            )
            states = {s.source: s for s in session.scalars(select(KbSource))}
        out = []
        for source in sorted(set(counts) | set(states)):
            state = states.get(source)
            out.append(
                {
                    "source": source,
                    "articles": counts.get(source, 0),
                    "revision": state.revision if state else 0,
                    "cursor": state.cursor if state else None,
                    "last_synced_at": state.last_synced_at.isoformat()
                    if state and state.last_synced_at
                    else None,
                    "last_error": state.last_error if state else None,
                }
            )
        return out

    # -- helpers -------------------------------------------------------------------------

    def _lock_source(self, session: Session, source: str) -> KbSource:
        state = session.get(KbSource, source, with_for_update=True)
        if state is None:
            try:
                with session.begin_nested():
                    session.add(KbSource(source=source, revision=0))
            except IntegrityError:  # created meanwhile by a concurrent sync
                pass
            state = session.get(KbSource, source, with_for_update=True, populate_existing=True)
        assert state is not None  # inserted above, by us or by the concurrent sync
        return state

    @staticmethod
    def _existing(session: Session, source: str, keys: list[tuple[str, str]]) -> dict:
        found: dict[tuple[str, str], KbArticle] = {}
        ids = sorted({article_id for article_id, _ in keys})
        for start in range(0, len(ids), _CHUNK):
            rows = session.scalars(
                select(KbArticle).where(
                    KbArticle.source == source,
                    KbArticle.article_id.in_(ids[start:start + _CHUNK]),
                )
            )
            for row in rows:
                found[(row.article_id, row.locale)] = row
        return found

    @staticmethod
    def _delete_keys(session: Session, source: str, keys: list[tuple[str, str]]) -> int:
        removed = 0
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            result = session.execute(
                delete(KbArticle).where(
                    KbArticle.source == source,
                    tuple_(KbArticle.article_id, KbArticle.locale).in_(chunk),
                )
            )
            removed += result.rowcount or 0  # type: ignore[attr-defined]  # a CursorResult
        return removed

    def _delete_missing(self, session: Session, source: str, live: set[tuple[str, str]]) -> int:
        session.flush()
        stored = session.execute(
            select(KbArticle.article_id, KbArticle.locale).where(KbArticle.source == source)
        ).all()
        missing = [(key[0], key[1]) for key in stored if (key[0], key[1]) not in live]
        return self._delete_keys(session, source, missing)


def _to_article(row: KbArticle) -> Article:
    return Article(
        source=row.source,
        article_id=row.article_id,
        locale=row.locale,
        title=row.title,
        body=row.body,
        url=row.url,
        section=row.section,
        updated_at=row.source_updated_at,  # aware: the column is UtcDateTime
    )
