"""Intercom Help Center JSON (API 2.14) to `Article`s. Pure: no SDK, no HTTP.

An item of `GET /articles` (the spec's `article_list_item`) carries its default locale's content
in its top-level fields (`title`, `body`, `state`, `url`, `updated_at`) and every locale's content,
each with its own `state`, `url` and `updated_at`, in `translated_content` (keyed by Intercom's
locale codes: "fr", "pt-BR", ...). Each published locale becomes one `Article`; each draft one
removed `(article_id, locale)` key. `default_locale` is only sent by multilingual help centers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.kb.model import Article
from bot.kb.text import html_to_text

SOURCE = "intercom"
PUBLISHED = "published"

# collection id -> {"": default-language name, "<locale>": translated name, ...}
Sections = Mapping[str, Mapping[str, str]]


def section_names(collections: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Names of the listed collections and sections (`GET /help_center/collections`), per locale."""
    names: dict[str, dict[str, str]] = {}
    for collection in collections:
        if collection.get("id") is None:
            continue
        per_locale = {"": collection.get("name") or ""}
        for locale, content in _locale_entries(collection.get("translated_content")):
            if content.get("name"):
                per_locale[locale.lower()] = content["name"]
        names[str(collection["id"])] = per_locale
    return names


def stamp(item: Mapping[str, Any]) -> int:
    """The listing's sort key: the article's top-level `updated_at` (epoch seconds)."""
    try:
        return int(item.get("updated_at") or 0)
    except (TypeError, ValueError):
        return 0


def page_changes(
    items: Iterable[Mapping[str, Any]], sections: Sections, locales: frozenset[str] = frozenset()
) -> tuple[tuple[Article, ...], tuple[tuple[str, str], ...]]:
    """A page of listed articles -> (published versions, removed keys), keeping `locales` only."""
    upserts: list[Article] = []
    removed: list[tuple[str, str]] = []
    for item in items:
        published, drafts = article_versions(item, sections, locales)
        upserts.extend(published)
        removed.extend(drafts)
    return tuple(upserts), tuple(removed)


def article_versions(
    item: Mapping[str, Any], sections: Sections, locales: frozenset[str] = frozenset()
) -> tuple[list[Article], list[tuple[str, str]]]:
    """One `Article` per published locale of a listed article, and the keys of its drafts.

    `locales` (lower-case) keeps only those locales when not empty; an article whose locale is
    unknown ("") is kept whatever is asked, as `ArticleStore.articles` does.
    """
    article_id = str(item.get("id") or "")
    if not article_id:
        return [], []
    translated = dict(_locale_entries(item.get("translated_content")))
    default = (item.get("default_locale") or "").strip()
    if not default and len(translated) == 1:  # a one-language help center names no default
        default = next(iter(translated))
    # The top-level fields are the default locale's content; its entry in translated_content
    # (when Intercom repeats it there) is the same content and is not read twice.
    versions: list[tuple[str, Mapping[str, Any]]] = [(default, item)]
    versions += [(loc, c) for loc, c in translated.items() if loc.lower() != default.lower()]
    published: list[Article] = []
    drafts: list[tuple[str, str]] = []
    for locale, content in versions:
        locale = locale.lower()
        if locales and locale and locale not in locales:
            continue
        if content.get("state") != PUBLISHED:  # "draft" (or no state at all): not approved
            drafts.append((article_id, locale))
            continue
        published.append(
            Article(
                source=SOURCE,
                article_id=article_id,
                locale=locale,
                title=(content.get("title") or "").strip(),
                body=html_to_text(content.get("body") or ""),
                url=content.get("url") or "",
                section=_section(sections, item.get("parent_id"), locale),
                updated_at=_when(content.get("updated_at") or item.get("updated_at")),
            )
        )
    return published, drafts


def error_detail(body: Any) -> str:
    """'code: message' of Intercom's error list (`{"type": "error.list", "errors": [...]}`)."""
    if isinstance(body, Mapping):
        errors = [e for e in body.get("errors") or [] if isinstance(e, Mapping)]
        return "; ".join(": ".join(str(e[k]) for k in ("code", "message") if e.get(k)) for e in errors)
    return str(body)[:200] if body else ""


def _locale_entries(translated: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """(locale, content) pairs of a `translated_content` object (its "type" key is no locale)."""
    if not isinstance(translated, Mapping):
        return []
    return [(str(k), v) for k, v in translated.items() if k != "type" and isinstance(v, Mapping)]


def _section(sections: Sections, parent_id: Any, locale: str) -> str:
    if parent_id is None:
        return ""  # an article without a parent stands alone
    names = sections.get(str(parent_id)) or {}
    return names.get(locale) or names.get("", "")


def _when(epoch: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None
