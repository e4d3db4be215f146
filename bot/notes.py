"""The internal notes agents read in the helpdesk. Pure: plain text in, plain text out.

Zendesk renders a comment's `body` as plain text with line breaks kept, which reads well in the
agent workspace and cannot be broken by HTML in the customer's words, so notes are plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.citations import check_citations
from bot.decisions import Decision, DraftResult, SourceArticle, TriageResult
from bot.domain import CustomerContext, TicketSnapshot
from bot.policy import Policy
from bot.rules import PRIORITY_WORDS

DRAFT_START = "----- DRAFT REPLY: review and edit before sending -----"
DRAFT_END = "----- END OF DRAFT -----"


def _engines(engine: str, triage: TriageResult, draft: DraftResult) -> str:
    """Which engine decided and which wrote: they differ in hybrid mode."""
    triaged_by, drafted_by = triage.engine or engine, draft.engine or engine
    if (triaged_by, triage.model) == (drafted_by, draft.model):
        return f"Engine: {engine}, model {draft.model}."
    return (
        f"Engine: {engine}; triage by {triaged_by} ({triage.model}), "
        f"draft by {drafted_by} ({draft.model})."
    )


def format_triage_note(
    decision: Decision,
    triage_result: TriageResult,
    draft: DraftResult,
    context: CustomerContext,
    policy: Policy,
    prompt_version: str,
    engine: str,
    sources: Sequence[SourceArticle] = (),
    reading: Sequence[str] = (),
    reference: str = "",
    helpdesk: str = "zendesk",
) -> str:
    """`reading`: what the bot could not read (a cut ticket, missing history), for the agent.
    `reference`: names the run in the note's last line (`bot.pipeline.run_reference`).
    `helpdesk`: whose words the note uses (an Intercom "team", a Zendesk "group")."""
    triage = triage_result.triage
    lines = [
        "AI triage (internal note: nothing has been sent to the customer)",
        "",
        f"Category: {decision.category}",
        f"Priority: {decision.priority} ({PRIORITY_WORDS[decision.priority]})"
        + (f", raised from the model's {triage.priority}" if decision.priority != triage.priority else ""),
        f"Confidence: {triage.confidence:.2f}"
        + ("" if triage_result.valid else " (the model's answer was unusable: a human must triage)"),
        f"Routed to: {_group_label(decision, helpdesk)}",
    ]
    if decision.escalate:
        lines.append("Escalated, because:")
        lines.extend(f"  - {reason.detail}" for reason in decision.reasons)
    else:
        lines.append("Escalated: no")
    lines.append(f"Customer: {describe_customer(context)}")
    lines.extend(f"Note: {line}" for line in reading)
    sentiment = triage.sentiment.label + (", frustrated" if triage.sentiment.frustrated else "")
    lines.append(f"Sentiment: {sentiment}. Language: {triage.language}")
    if triage.reasoning:
        lines.append(f"Model's reasoning: {triage.reasoning}")
    lines += [
        "",
        DRAFT_START,
        _without_markers(draft.text),
        DRAFT_END,
        "",
        *format_sources(draft.text, sources),
        f"Prompt: {prompt_version}. {_engines(engine, triage_result, draft)} Policy: {policy.version}."
        + (f" {reference}" if reference else ""),
    ]
    return "\n".join(lines)


def describe_reading(snapshot: TicketSnapshot, max_chars: int, instruction: str = "",
                     engine: str = "") -> tuple[str, ...]:
    """What the agent should know about what the bot could not read: a ticket cut at
    `max_chars`, or the requester's earlier tickets; and an agent's redraft instruction."""
    notes = []
    if instruction:
        notes.append(f"Redrafted at an agent's request: \u201c{instruction}\u201d"
                     + (" (the local engine drafts from templates and cannot follow free-text "
                        "instructions: an LLM can, LLM_PROVIDER)" if engine == "offline" else ""))
    length = len(snapshot.ticket.description)
    if length > max_chars:
        notes.append(f"Only the first {max_chars:,} characters of the ticket's {length:,} were read.")
    if snapshot.history_unavailable:
        notes.append(
            f"The customer's earlier tickets could not be read ({snapshot.history_unavailable}): "
            "repeat contacts were not counted."
        )
    return tuple(notes)


def format_sources(draft_text: str, sources: Sequence[SourceArticle]) -> list[str]:
    citations = check_citations(draft_text, len(sources))
    if not sources:
        lines = [
            "Sources: none. No approved help-center article matched this ticket, so the draft "
            "should state no policy: check every fact before sending."
        ]
    else:
        lines = ["Sources given to the draft (approved help-center articles):"]
        for source in sources:
            where = f" ({source.section})" if source.section else ""
            link = f" {source.url}" if source.url else ""
            used = "cited" if source.number in citations.cited else "not cited"
            lines.append(f"  [{source.number}] {source.title}{where}{link} [{used}]")
        if not citations.cited:
            lines.append("The draft cites none of them: check its facts before sending.")
    if citations.unknown:
        numbers = ", ".join(f"[{n}]" for n in citations.unknown)
        lines.append(
            f"Warning: the draft cites {numbers}, which is not a source listed here: "
            "remove it or check the fact it supports."
        )
    return lines


def format_failure_note(what_failed: str, attempts: int, reference: str = "") -> str:
    return "\n".join(
        [
            "AI triage failed (internal note: nothing was sent to the customer)",
            "",
            f"What failed: {what_failed}",
            f"Attempts: {attempts}",
            "This ticket needs to be triaged by hand. The failure is recorded in the bot's store."
            + (f" {reference}" if reference else ""),
        ]
    )


def describe_customer(context: CustomerContext) -> str:
    parts = ["VIP" if context.is_vip else "standard tier"]
    if context.account_status:
        parts.append(f"account {context.account_status}")
    if context.contacts_in_window:
        topics = ", ".join(f"{cat} x{n}" for cat, n in sorted(context.topics.items()))
        parts.append(
            f"{context.contacts_in_window} earlier contact(s) in {context.window_days} days"
            + (f" ({topics})" if topics else "")
        )
    else:
        parts.append(f"no earlier contacts in {context.window_days} days")
    return ", ".join(parts)


# What each helpdesk calls the groups it routes to; "group" unless listed.
_GROUP_WORD = {"intercom": "team"}


def _group_label(decision: Decision, helpdesk: str) -> str:
    word = _GROUP_WORD.get(helpdesk, "group")
    if decision.group_id is None:
        return f"no {word} change (no {word} configured for this case)"
    return f"{decision.group_key} ({word} {decision.group_id})"


def draft_text(text: str) -> str:
    """The draft as an agent would send it: what the note shows between its markers."""
    return _without_markers(text)


def _without_markers(text: str) -> str:
    """A draft cannot fake the end of the draft block (it may quote customer text)."""
    return "\n".join(
        line for line in text.strip().splitlines() if line.strip() not in (DRAFT_START, DRAFT_END)
    )
