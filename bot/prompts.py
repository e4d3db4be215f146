"""Prompt templates (`config/prompts/*.yaml`, versioned) and the requests built from them. Pure.

Ticket text is data, never instructions: it is placed last, between <ticket> tags, with any
look-alike tags in it defused, and the model is never asked for routing, visibility or any other
action, which the rules decide alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.decisions import Decision, SourceArticle, Triage
from bot.domain import CATEGORIES, CustomerContext, Ticket
from bot.errors import SettingsError
from bot.llm.base import DraftRequest, TriageRequest
from bot.policy import Policy


@dataclass(frozen=True)
class Template:
    id: str
    version: str
    instructions: str
    category: str | None = None
    max_words: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class PromptLibrary:
    triage: Template
    draft_base: Template
    by_category: Mapping[str, Template]

    def for_category(self, category: str) -> Template:
        return self.by_category[category]


def load_prompts(directory: str | Path) -> PromptLibrary:
    directory = Path(directory)
    templates: dict[str, Template] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            template = Template(
                id=str(raw["id"]),
                version=str(raw["version"]),
                instructions=str(raw["instructions"]).strip(),
                category=raw.get("category"),
                max_words=int(raw["max_words"]) if raw.get("max_words") else None,
            )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"PROMPTS_DIR {path}: {exc!r}") from None
        templates[template.id] = template
    missing = [n for n in ("triage", "draft_base") if n not in templates]
    by_category = {t.category: t for t in templates.values() if t.category}
    missing += [c for c in CATEGORIES if c not in by_category]
    if missing:
        raise SettingsError(f"PROMPTS_DIR {directory}: missing templates for {missing}")
    return PromptLibrary(templates["triage"], templates["draft_base"], by_category)


_TAG_LOOKALIKE = re.compile(r"<\s*/?\s*(ticket|history|sources?)\b[^>]*>", re.IGNORECASE)


def defuse(text: str) -> str:
    """Neutralise anything in customer text that could close or open our data tags."""
    return _TAG_LOOKALIKE.sub(lambda m: "[" + m.group(1).lower() + " tag removed]", text)


def ticket_block(ticket: Ticket) -> str:
    return (
        "<ticket>\n"
        f"Subject: {defuse(ticket.subject)}\n\n"
        f"{defuse(ticket.description)}\n"
        "</ticket>"
    )


def history_block(context: CustomerContext) -> str:
    if not context.recent:
        return "<history>\n(no earlier tickets)\n</history>"
    lines = [
        f"- {t.created_at:%Y-%m-%d} [{t.status}] {defuse(t.subject)}" for t in context.recent
    ]
    return "<history>\n" + "\n".join(lines) + "\n</history>"


NO_SOURCES = (
    "Sources: none. No approved help-center article answers this ticket, so do not state "
    "policy, prices, dates, steps or promises that the ticket itself does not give: say an "
    "agent will confirm, and cite nothing."
)


def sources_block(sources: Sequence[SourceArticle]) -> str:
    """Numbered approved articles: the only facts the draft may add, each cited as [n]."""
    if not sources:
        return NO_SOURCES
    parts = [
        "Sources: approved help-center articles. State facts only from these, and put the "
        "source's number in square brackets after each sentence that relies on it, e.g. [1]. "
        "Cite no other number. Where they do not cover the question, say an agent will confirm."
    ]
    body = []
    for source in sources:
        heading = f"[{source.number}] {defuse(source.title)}"
        if source.url:
            heading += f" ({source.url})"
        body.append(f"{heading}\n{defuse(source.passage)}")
    parts.append("<sources>\n" + "\n\n".join(body) + "\n</sources>")
    return "\n".join(parts)


def customer_notes(context: CustomerContext, category: str | None = None) -> list[str]:
    """What the drafter should know about the customer, in plain sentences we write."""
    notes = []
    if context.name:
        # The name is the customer's own text (profile, email display name): data, one line.
        name = " ".join(defuse(context.name).split())[:100]
        notes.append(f"The customer's name is {name}.")
    if context.is_vip:
        notes.append(
            "This is a VIP customer: acknowledge their importance to us, be especially "
            "attentive, and say the ticket is being handled with priority."
        )
    if context.account_status == "trial":
        notes.append(
            "The customer is on a trial: where natural, mention in one sentence what a paid "
            "plan adds for this need. No hard sell."
        )
    elif context.account_status:
        notes.append(f"Account status: {context.account_status}.")
    if category and context.topics.get(category):
        count = context.topics[category]
        notes.append(
            f"They contacted us {count} time(s) about {category} in the last "
            f"{context.window_days} days: acknowledge that they have been in touch before and "
            "that we want to resolve it this time."
        )
    elif context.contacts_in_window:
        notes.append(
            f"They contacted us {context.contacts_in_window} time(s) in the last "
            f"{context.window_days} days."
        )
    return notes


def build_triage_request(
    ticket: Ticket, context: CustomerContext, library: PromptLibrary, policy: Policy
) -> TriageRequest:
    system = library.triage.instructions.replace("{company}", policy.company_name)
    user = "\n\n".join([history_block(context), ticket_block(ticket)])
    return TriageRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        ticket=ticket,
        context=context,
    )


def build_draft_request(
    ticket: Ticket,
    context: CustomerContext,
    triage: Triage,
    decision: Decision,
    library: PromptLibrary,
    policy: Policy,
    sources: Sequence[SourceArticle] = (),
    triaged_by: str = "",
    instruction: str = "",
) -> DraftRequest:
    """`instruction`: an agent's `#ai redraft ...` words, which the draft must follow."""
    template = library.for_category(decision.category)
    limit = f" Keep the reply under {template.max_words} words." if template.max_words else ""
    context_lines = customer_notes(context, decision.category) or ["(nothing known)"]
    # Everything that differs per ticket (category, language, customer, sources, ticket) comes
    # after the system message, which is the same for every ticket of a deployment: providers
    # cache a prompt's identical prefix (https://platform.openai.com/docs/guides/prompt-caching).
    user = "\n\n".join(
        [
            f"This ticket: category {decision.category}; write in "
            f"{_language_name(triage.language)}. Follow the {decision.category} guidance.{limit}",
            "Customer context:\n" + "\n".join(f"- {line}" for line in context_lines),
            sources_block(sources),
            history_block(context),
            ticket_block(ticket),
            *([f"An agent reviewed the previous draft and asks for a new one: {instruction}"]
              if instruction else []),
            "Write the draft reply now.",
        ]
    )
    system = draft_system_prompt(library, policy)
    return DraftRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        ticket=ticket,
        context=context,
        triage=triage,
        decision=decision,
        template_id=template.id,
        template_version=template.version,
        max_words=template.max_words,
        sources=tuple(sources),
        triaged_by=triaged_by,
    )


def draft_system_prompt(library: PromptLibrary, policy: Policy) -> str:
    """The draft's system message: the base instructions, the company and its tone, and every
    category's guidance. The same for every ticket, so that it can be served from a cache."""
    base = (
        library.draft_base.instructions.replace("{company}", policy.company_name)
        .replace("{tone}", policy.company_tone)
        # Templates written before the language moved to the user message still name it.
        .replace("{language}", "the customer's language")
    )
    guidance = [
        f"- {category}: {library.for_category(category).instructions}" for category in CATEGORIES
    ]
    return f"{base}\n\nGuidance by category (the user message names this ticket's):\n" + "\n".join(
        guidance
    )


def _language_name(code: str) -> str:
    code = (code or "").strip().lower()
    if not code or code == "und":
        return "the customer's language"
    return f"the customer's language (ISO 639-1 code {code})"


def prompt_version(library: PromptLibrary, category: str) -> str:
    """What the store records: every template that shaped this run, e.g. triage@2+billing@1."""
    return f"{library.triage.ref}+{library.draft_base.ref}+{library.for_category(category).ref}"


__all__ = [
    "PromptLibrary",
    "Template",
    "build_draft_request",
    "build_triage_request",
    "load_prompts",
    "prompt_version",
]
