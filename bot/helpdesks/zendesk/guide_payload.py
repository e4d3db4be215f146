"""Zendesk Help Center JSON to `Article`s. Pure: no I/O, no clock.

Shapes (https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/):
an article has `id`, `title`, `body` (HTML), `html_url` (public page), `url` (API), `locale`
(the locale it is displayed in), `source_locale`, `section_id`, `draft` ("true if the
translation for the current locale is a draft"), `updated_at`. With `include=translations`
the article's translations are embedded in it as `translations: [...]`; a translation has its
own `id`, `source_id` (the article), `source_type`, `locale`, `title`, `body`, `draft`,
`html_url`, `updated_at`
(https://developer.zendesk.com/api-reference/help_center/help-center-api/translations/).
Sections have `id`, `name`, `locale` and, with `include=translations`, translations whose
`title` is the section's name in that locale.

Anything that does not have these shapes raises `Malformed`; the caller names the URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.kb.model import Article
from bot.kb.text import html_to_text

SOURCE = "zendesk"


class Malformed(ValueError):
    """The answer parsed as JSON but is not what the Help Center API documents."""


def items(data: dict, key: str) -> list[dict]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Malformed(f"expected a list of objects in '{key}'")
    return value


def end_time(data: dict) -> int | None:
    """The incremental export's `end_time`: the last change of the page's last article."""
    value = data.get("end_time")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise Malformed(f"end_time is not an epoch time: {value!r}")
    return int(value)


def after_cursor(data: dict) -> str | None:
    """Cursor pagination: the `page[after]` value of the next page, None on the last page.
    https://developer.zendesk.com/api-reference/introduction/pagination/"""
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise Malformed("cursor-paginated answer without 'meta'")
    if not meta.get("has_more"):
        return None
    cursor = meta.get("after_cursor")
    if not isinstance(cursor, str) or not cursor:
        raise Malformed("meta.has_more is true but meta.after_cursor is missing")
    return cursor


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Malformed(f"not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def locale_of(entry: dict) -> str:
    locale = entry.get("locale")
    if not isinstance(locale, str) or not locale.strip():
        raise Malformed(f"article or translation without a locale: id {entry.get('id')!r}")
    return locale.strip().lower()


def _article_id(article: dict) -> str:
    value = article.get("id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise Malformed(f"article without an id: {value!r}")
    return str(value).strip()


def versions(article: dict) -> list[dict]:
    """The article in every locale it carries: itself, plus its embedded translations (a
    translation wins over the article for the same locale). Each version is a flat dict with
    the article's `id` and `section_id` and that locale's title, body, draft, URL and time."""
    article_id = _article_id(article)
    common = {"id": article_id, "section_id": article.get("section_id")}
    out = {locale_of(article): {**article, **common}}
    translations = article.get("translations") or []
    if not isinstance(translations, list):
        raise Malformed(f"article {article_id}: 'translations' is not a list")
    for translation in translations:
        if not isinstance(translation, dict):
            raise Malformed(f"article {article_id}: a translation is not an object")
        if str(translation.get("source_type") or "article").lower() != "article":
            continue
        if translation.get("source_id") not in (None, "") and str(translation["source_id"]) != article_id:
            continue
        out[locale_of(translation)] = {**translation, **common}
    return list(out.values())


def is_draft(version: dict) -> bool:
    return version.get("draft") is True


def section_names(sections: Iterable[dict]) -> dict[tuple[str, str], str]:
    """(section id, locale) -> name; (section id, "") holds the name as listed."""
    names: dict[tuple[str, str], str] = {}
    for section in sections:
        if "id" not in section:
            raise Malformed("section without an id")
        section_id = str(section["id"])
        name = str(section.get("name") or "").strip()
        names[(section_id, "")] = name
        if isinstance(section.get("locale"), str):
            names[(section_id, section["locale"].lower())] = name
        for translation in section.get("translations") or []:
            if isinstance(translation, dict) and translation.get("title") and isinstance(
                translation.get("locale"), str
            ):
                names[(section_id, translation["locale"].lower())] = str(translation["title"]).strip()
    return names


def section_name(names: dict[tuple[str, str], str], section_id: Any, locale: str) -> str:
    if section_id in (None, ""):
        return ""
    key = str(section_id)
    return names.get((key, locale)) or names.get((key, "")) or ""


def to_article(version: dict, section: str) -> Article:
    title = version.get("title")
    body = version.get("body")
    url = version.get("html_url")
    for field, value in (("title", title), ("body", body), ("html_url", url)):
        if value is not None and not isinstance(value, str):
            raise Malformed(f"article {version.get('id')!r}: {field} is not text")
    return Article(
        source=SOURCE,
        article_id=str(version["id"]),
        locale=locale_of(version),
        title=(title or "").strip(),
        body=html_to_text(body or ""),
        url=url or "",
        section=section,
        updated_at=parse_time(version.get("updated_at")),
    )
