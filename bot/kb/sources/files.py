"""`python -m bot kb import PATH`: articles from a JSONL file or a folder of Markdown files.

JSONL: one article per line with `id`, `title`, `url` and one of `body_markdown`, `body_html`
or `body` (plain text); `section` and `locale` optional. This is the format of the bundled
Arduino help center (bot/demo/kb_arduino/articles.jsonl).

Markdown folder: every `*.md` below PATH is an article. Optional YAML front matter
(`---` ... `---`) may set `id`, `title`, `url`, `section` and `locale`; otherwise the id is the
file's path below PATH, the title its first `# ` heading (or the file name), and the section
its folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.kb.model import Article
from bot.kb.text import html_to_text, markdown_to_text, plain_to_text

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A fenced block from its opening ``` or ~~~ line to the matching closing one (or the end).
_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?(?:^\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


class ImportFileError(ValueError):
    """The file cannot be imported as a whole; the message names every bad line (up to 10)."""


def load_articles(path: str | Path, source: str) -> list[Article]:
    path = Path(path)
    if path.is_dir():
        return load_markdown_dir(path, source)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file or folder")
    return load_jsonl(path, source)


def load_jsonl(path: Path, source: str) -> list[Article]:
    articles: list[Article] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    with open(path, encoding="utf-8-sig") as fh:  # a BOM (Windows editors) is not data
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                article = _from_row(json.loads(line), source)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg})")
                continue
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
                continue
            key = (article.article_id, article.locale)
            if key in seen:
                problems.append(f"line {number}: id {article.article_id!r} repeats line {seen[key]}")
                continue
            seen[key] = number
            articles.append(article)
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ImportFileError(f"{path}: " + "; ".join(problems[:10]) + more)
    if not articles:
        raise ImportFileError(f"{path}: no articles")
    return articles


def _from_row(row: object, source: str) -> Article:
    if not isinstance(row, dict):
        raise ValueError("each line must be a JSON object")
    missing = [k for k in ("id", "title") if not str(row.get(k) or "").strip()]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if row.get("body_markdown") is not None:
        body = markdown_to_text(str(row["body_markdown"]))
    elif row.get("body_html") is not None:
        body = html_to_text(str(row["body_html"]))
    elif row.get("body") is not None:
        body = plain_to_text(str(row["body"]))
    else:
        raise ValueError("needs one of body_markdown, body_html or body")
    return Article(
        source=source,
        article_id=str(row["id"]),
        locale=str(row.get("locale") or "").lower(),
        title=" ".join(str(row["title"]).split()),
        body=body,
        url=str(row.get("url") or ""),
        section=str(row.get("section") or ""),
    )


def load_markdown_dir(folder: Path, source: str) -> list[Article]:
    articles, problems = [], []
    for file in sorted(folder.rglob("*.md")):
        relative = file.relative_to(folder)
        try:
            articles.append(_from_markdown(file, relative, source))
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            problems.append(f"{relative}: {exc}")
    if problems:
        raise ImportFileError(f"{folder}: " + "; ".join(problems[:10]))
    if not articles:
        raise ImportFileError(f"{folder}: no .md files")
    return articles


def _first_heading(text: str) -> re.Match | None:
    """The first `# ` heading outside fenced code blocks (where `#` is a comment)."""
    fenced = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    for match in _H1.finditer(text):
        if not any(start <= match.start() < end for start, end in fenced):
            return match
    return None


def _from_markdown(file: Path, relative: Path, source: str) -> Article:
    text = file.read_text(encoding="utf-8")
    meta: dict = {}
    match = _FRONT_MATTER.match(text)
    if match:
        meta = yaml.safe_load(match.group(1)) or {}
        if not isinstance(meta, dict):
            raise ValueError("front matter must be a mapping")
        text = text[match.end():]
    title = meta.get("title")
    heading = _first_heading(text)
    if not title and heading:
        title = heading.group(1)
    if heading and heading.group(1) == title:
        text = text[: heading.start()] + text[heading.end():]
    return Article(
        source=source,
        article_id=str(meta.get("id") or relative.with_suffix("").as_posix()),
        locale=str(meta.get("locale") or "").lower(),
        title=" ".join(str(title or file.stem.replace("-", " ")).split()),
        body=markdown_to_text(text),
        url=str(meta.get("url") or ""),
        section=str(meta.get("section") or (relative.parent.as_posix() if relative.parent != Path(".") else "")),
    )
