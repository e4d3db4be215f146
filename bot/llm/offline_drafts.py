"""Drafts without a language model: the category's template, or the best help-center passage.

Used by the offline engine (LLM_PROVIDER=offline) and, with HYBRID_DRAFTS=local, for the
tickets the local model decided in hybrid mode. All wording lives in config/offline.yaml.
"""

from __future__ import annotations

from bot.decisions import DraftResult, Usage
from bot.domain import CATEGORIES
from bot.errors import SettingsError
from bot.kb.chunks import looks_like_heading
from bot.llm.base import DraftRequest


class TemplateDrafter:
    def __init__(self, drafts: dict, model: str):
        try:
            for key in ("from_source", "source_link", "after_source"):
                str(drafts[key])  # fail at start-up, not at the first grounded draft
            missing = [c for c in CATEGORIES if c not in drafts["categories"]]
        except (KeyError, TypeError) as exc:
            raise SettingsError(f"offline config: drafts are malformed: {exc!r}") from None
        if missing:
            raise SettingsError(f"offline config: no draft template for {missing}")
        self._drafts = drafts
        self.model = model

    # -- draft --------------------------------------------------------------------------------

    def draft(self, request: DraftRequest) -> DraftResult:
        t, ctx = self._drafts, request.context
        category = request.decision.category
        if category not in t["categories"]:
            category = "Other"
        first_name = ctx.name.split()[0] if ctx.name and ctx.name.split() else ""
        greeting = t["greeting"].format(first_name=first_name) if first_name else t["greeting_no_name"]
        subject = " ".join(request.ticket.subject.split())
        if len(subject) > 80:
            subject = subject[:77].rstrip() + "..."
        # A chat (an Intercom conversation) has no subject: thanked for the message instead.
        if subject:
            acknowledgement = t["acknowledgement"].format(subject=subject)
        else:
            acknowledgement = t.get("acknowledgement_no_subject") or t["acknowledgement"].format(
                subject=t["no_subject"])

        # (text, keep-priority, starts a paragraph): over max_words, the lowest priority goes first.
        body = [(acknowledgement, 5, False)]
        if ctx.topics.get(category, 0) >= 1:
            body.append((t["repeat"], 2, False))
        source = request.sources[0] if request.sources else None
        if source is not None:
            excerpt = _excerpt(source.passage, int(t.get("excerpt_words", 70)))
            body.append((t["from_source"].format(title=source.title, excerpt=excerpt), 7, True))
            if source.url:
                body.append((t["source_link"].format(url=source.url), 6, True))
            body.append((t["after_source"], 4, True))
        else:
            body.append((t["categories"][category], 6, False))
        if ctx.is_vip:
            body.append((t["vip"], 3, True))
        if ctx.account_status == "trial":
            body.append((t["trial"], 1, True))

        text = self._compose(greeting, body, t["sign_off"])
        limit = request.max_words
        while limit and _count(text) > limit and len(body) > 1:
            body.remove(min(body, key=lambda item: item[1]))
            text = self._compose(greeting, body, t["sign_off"])
        if limit and _count(text) > limit:
            # Even the essentials do not fit: cut words, keeping the greeting's line break.
            text = _truncate(text, limit)
        return DraftResult(text=text, model=self.model, usage=Usage(), engine="offline")

    @staticmethod
    def _compose(greeting: str, body, sign_off: str) -> str:
        paragraphs: list[list[str]] = []
        for text, _priority, new_paragraph in body:
            if new_paragraph or not paragraphs:
                paragraphs.append([])
            paragraphs[-1].append(text)
        middle = "\n\n".join(" ".join(p) for p in paragraphs)
        return f"{greeting}\n\n{middle}\n\n{sign_off}"


def _excerpt(passage: str, words: int) -> str:
    """The passage's prose opening, cut after a whole sentence when one ends within `words`.

    Headings, "In this article:" lead-ins and list items (often a table of contents) are left
    out when the passage has prose; the whole passage is linked anyway.
    """
    paragraphs = [" ".join(p.split()) for p in passage.split("\n\n") if p.strip()]
    prose = [p for p in paragraphs if not _is_scaffolding(p)]
    text = " ".join(prose or paragraphs)
    tokens = text.split()
    if len(tokens) <= words:
        return text
    cut = " ".join(tokens[:words])
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end >= len(cut) // 3:
        return cut[: end + 1]
    return cut.rstrip(".,;:") + "..."


def _is_scaffolding(paragraph: str) -> bool:
    return paragraph.startswith("- ") or paragraph.endswith(":") or looks_like_heading(paragraph)


def _count(text: str) -> int:
    return len(text.split())


def _truncate(text: str, limit: int) -> str:
    kept, count = [], 0
    for line in text.split("\n"):
        words = line.split()
        if count + len(words) > limit:
            words = words[: max(limit - count, 0)]
            if words:
                kept.append(" ".join(words).rstrip(".,;:") + "...")
            break
        kept.append(line)
        count += len(words)
    return "\n".join(kept).rstrip()
