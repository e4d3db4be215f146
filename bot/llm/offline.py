"""A deterministic, no-network stand-in for a language model (LLM_PROVIDER=offline).

It is a keyword matcher and says so in its reasoning: good enough to run the whole pipeline
end to end (demo, CI, air-gapped installs), never a substitute for a model's judgement.
All its vocabulary lives in config/offline.yaml, so operators can tune it without code.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.domain import CATEGORIES, DraftResult, Sentiment, Triage, TriageResult, Usage
from bot.errors import SettingsError
from bot.kb.chunks import looks_like_heading
from bot.llm.base import DraftRequest, TriageRequest

_WORD = re.compile(r"[^\W\d_]+")  # letters only: good enough for stop-word counting
_CAPS_WORD = re.compile(r"\b[A-Z]{4,}\b")


def _phrase_pattern(phrase: str) -> re.Pattern:
    # Whole words only ("bill" must not match "billion"), any run of spaces between words.
    words = [re.escape(w) for w in _normalise(phrase).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def _normalise(text: str) -> str:
    # Typographic apostrophes are common in pasted/mobile text; keywords use the plain one.
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


def _lexicon(entries) -> list[tuple[str, re.Pattern]]:
    return [(str(e), _phrase_pattern(str(e))) for e in entries or ()]


def _matches(lexicon, text: str) -> list[str]:
    return [word for word, pattern in lexicon if pattern.search(text)]


def _quoted(words) -> str:
    return ", ".join(f'"{w}"' for w in words)


class OfflineEngine:
    provider = "offline"
    model = "offline-keywords-v1"

    def __init__(self, config: dict):
        try:
            cats = config["categories"]
            unknown = sorted(set(cats) - set(CATEGORIES))
            if unknown:
                raise SettingsError(f"offline config: unknown categories {unknown}")
            self._categories = {c: _lexicon(cats.get(c)) for c in CATEGORIES if c != "Other"}
            self._urgency = sorted(
                ((int(level), _lexicon(words)) for level, words in config["urgency"].items()),
                key=lambda item: item[0],
            )
            self._feature_priority = int(config.get("feature_request_priority", 4))
            self._negative = _lexicon(config["sentiment"]["negative"])
            self._positive = _lexicon(config["sentiment"]["positive"])
            frustration = config["frustration"]
            self._frustration = _lexicon(frustration["phrases"])
            self._exclamation = re.compile("!{%d,}" % int(frustration.get("exclamation_run", 3)))
            self._shouting_words = int(frustration.get("shouting_words", 3))
            self._not_shouting = {w.upper() for w in frustration.get("not_shouting", ())}
            language = config["language"]
            self._default_language = str(language.get("default", "en"))
            self._min_hits = int(language.get("min_hits", 2))
            self._stopwords = {
                str(code): {_normalise(str(w)) for w in words}
                for code, words in language["stopwords"].items()
            }
            drafts = config["drafts"]
            for key in ("from_source", "source_link", "after_source"):
                str(drafts[key])  # fail at start-up, not at the first grounded draft
            self._drafts = drafts
            missing = [c for c in CATEGORIES if c not in drafts["categories"]]
            if missing:
                raise SettingsError(f"offline config: no draft template for {missing}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"offline config is malformed: {exc!r}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> OfflineEngine:
        try:
            with open(path, encoding="utf-8") as fh:
                config = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read offline config {path}: {exc}") from None
        if not isinstance(config, dict):
            raise SettingsError(f"offline config {path} must be a mapping")
        return cls(config)

    # -- triage -------------------------------------------------------------------------------

    def triage(self, request: TriageRequest) -> TriageResult:
        raw = f"{request.ticket.subject}\n{request.ticket.description}"
        text = _normalise(raw)

        scores, hits = {}, {}
        for category, lexicon in self._categories.items():
            hits[category] = _matches(lexicon, text)
            # A phrase is more specific than a single word, so it counts double.
            scores[category] = sum(2 if " " in w else 1 for w in hits[category])
        # sorted() is stable, so equal scores keep CATEGORIES order: that is the tie-break.
        ranked = sorted(self._categories, key=lambda c: -scores[c])
        top, runner_up = scores[ranked[0]], scores[ranked[1]]
        category = ranked[0] if top > 0 else "Other"

        # Confidence: 0.35 with no match at all; otherwise 0.35 + 0.05 per point of score
        # (capped at 4 points) + 0.15 per point of margin over the runner-up (capped at 3),
        # capped at 0.95. A one-keyword tie gives 0.40 (escalated as < 0.5); one clear keyword
        # 0.55; two clear keywords 0.75; a strong unopposed match 0.95.
        if top == 0:
            confidence = 0.35
        else:
            margin = top - runner_up
            confidence = min(0.95, 0.35 + 0.05 * min(top, 4) + 0.15 * min(margin, 3))
        confidence = round(confidence, 2)

        priority, urgent_words = 3, []
        for level, lexicon in self._urgency:  # most urgent level first
            found = _matches(lexicon, text)
            if found:
                priority, urgent_words = level, found
                break
        if not urgent_words and category == "Feature request":
            priority = self._feature_priority

        frustration = _matches(self._frustration, text)
        if self._exclamation.search(raw):
            frustration.append("repeated exclamation marks")
        shouted = [w for w in _CAPS_WORD.findall(raw) if w not in self._not_shouting]
        if len(shouted) >= self._shouting_words:
            frustration.append("writing in capitals")
        frustrated = bool(frustration)

        negative, positive = _matches(self._negative, text), _matches(self._positive, text)
        # Frustration is itself a negative signal, so it weighs on the label too.
        neg_score = len(negative) + (1 if frustrated else 0)
        if neg_score > len(positive):
            label = "negative"
        elif len(positive) > neg_score:
            label = "positive"
        else:
            label = "neutral"

        language = self._detect_language(text)
        escalate = confidence < 0.5 or frustrated

        reasons = ["Offline keyword engine, not an AI model."]
        if top:
            reasons.append(f"Category {category}: matched {_quoted(hits[category])}.")
        else:
            reasons.append("No category keywords matched, so the category is Other.")
        if urgent_words:
            reasons.append(f"Priority {priority}: urgency words {_quoted(urgent_words)}.")
        if negative or positive:
            words = _quoted(negative + positive)
            reasons.append(f"Sentiment {label} from {words}.")
        if frustrated:
            reasons.append(f"Frustration signs: {_quoted(frustration)}.")
        if confidence < 0.5:
            reasons.append(f"Low confidence ({confidence:.2f}), so a human should check.")

        triage = Triage(
            category=category,
            priority=priority,
            escalate=escalate,
            confidence=confidence,
            reasoning=" ".join(reasons),
            sentiment=Sentiment(label=label, frustrated=frustrated),
            language=language,
        )
        return TriageResult(triage=triage, model=self.model, usage=Usage())

    def _detect_language(self, text: str) -> str:
        words = _WORD.findall(text)
        best, best_hits = self._default_language, 0
        for code, stopwords in self._stopwords.items():  # config order breaks ties
            hits = sum(1 for w in words if w in stopwords)
            if hits > best_hits:
                best, best_hits = code, hits
        return best if best_hits >= self._min_hits else self._default_language

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
        acknowledgement = t["acknowledgement"].format(subject=subject or t["no_subject"])

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
        return DraftResult(text=text, model=self.model, usage=Usage())

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
