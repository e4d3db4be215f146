"""From a ticket's history and the bot's drafts on it: what the agents did with each draft,
how the ticket ended, and what the bot must do next. Pure: `bot.tracking.tracker` does the I/O.

- Each draft is judged on what happened between it and the next draft: the first of the
  agent's public reply (compared with the draft: `classify`), an `#ai redraft` note, or an
  escalation (`#ai escalate`, or the `ai_escalate` tag a macro adds) is its review action.
- Overrides: a triage field (category, priority, group/team) that a human changed after the
  draft, to something other than what the bot set.
- Outcome: first-contact resolution means solved, never reopened, not reassigned to another
  group by a human, and not escalated after the bot's first draft.
- Next: customer messages no run has seen yet (a re-triage), agents' commands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from bot.review_policy import ReviewPolicy
from bot.tracking.history import STATUSES_DONE, Change, Field, Message, Role, TicketHistory
from bot.vocabulary import BotTag, ReviewAction

COMMAND = re.compile(r"^\s*#ai\b[ \t]*(?P<verb>[a-z_-]*)[ \t:,-]*(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_CITATION = re.compile(r"\s*\[\d+\]")
_SPACE = re.compile(r"\s+")


class Command(StrEnum):
    REDRAFT = "redraft"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Draft:
    """A draft the bot posted, as the tracker needs it (from `reviews` and `runs`)."""

    run_id: int
    drafted_at: datetime
    text: str
    category_tag: str | None = None  # the `ai_category_*` tag the bot set
    priority: str | None = None  # the value the bot wrote, in the helpdesk's terms
    group_id: str | None = None  # the group/team the bot routed to
    escalated: bool = False
    # The note of the `#ai redraft` that asked for this draft: it reviewed the draft before,
    # whatever its time stamp says (a fast redraft can be posted in the note's own second).
    requested_by_note: str | None = None


@dataclass(frozen=True)
class ReviewFacts:
    action: ReviewAction | None = None
    acted_at: datetime | None = None
    acted_by: str | None = None
    similarity: float | None = None
    replied_at: datetime | None = None
    overrides: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: str
    solved_at: datetime | None = None
    reopened: int = 0
    reassigned: bool = False
    escalated_later: bool = False
    escalated_at: datetime | None = None
    first_contact_resolution: bool | None = None
    csat_score: str | None = None
    csat_good: bool | None = None
    csat_comment: str | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True)
class FollowUp:
    """A run the tracker asks for: `kind` is an `EventKind` value; `key` dedupes it."""

    kind: str
    key: str
    at: datetime
    by: str | None = None
    request: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    reviews: dict[int, ReviewFacts]
    outcome: Outcome
    follow_ups: tuple[FollowUp, ...] = ()


def normalise(text: str) -> str:
    """What is compared: case, spacing and the draft's citation markers ("[1]") do not count."""
    return _SPACE.sub(" ", _CITATION.sub("", text)).strip().casefold()


def similarity(draft: str, reply: str) -> float:
    """0..1: rapidfuzz's normalised Indel similarity (1 - insertions and deletions needed, over
    both lengths) of the two normalised texts. https://rapidfuzz.github.io/RapidFuzz/"""
    return round(Indel.normalized_similarity(normalise(draft), normalise(reply)), 4)


def classify(score: float, policy: ReviewPolicy) -> ReviewAction:
    if score >= policy.sent_as_is:
        return ReviewAction.SENT_AS_IS
    if score >= policy.lightly_edited:
        return ReviewAction.LIGHTLY_EDITED
    if score < policy.not_used:
        return ReviewAction.NOT_USED
    return ReviewAction.MAJOR_REWRITE


def parse_command(text: str) -> tuple[Command, str] | None:
    """`#ai redraft shorter, mention the invoice` -> (REDRAFT, "shorter, mention the invoice");
    `#ai escalate` -> (ESCALATE, ""). Only a note that starts with `#ai` is a command."""
    found = COMMAND.match(text)
    if found is None:
        return None
    verb = found["verb"].lower()
    for command in Command:
        if verb == command.value:
            return command, found["rest"].strip()
    return None


def assess(
    history: TicketHistory,
    drafts: Sequence[Draft],
    policy: ReviewPolicy,
    *,
    escalation_groups: frozenset[str] = frozenset(),
    seen_until: datetime | None = None,
    escalations: Sequence[datetime] = (),
) -> Assessment:
    """`escalation_groups`: the ids, in this helpdesk, of the groups the policy escalates to.
    `seen_until`: the last moment a run read the ticket; customer messages after it are new
    (None: a run is still to read it, so none is). `escalations`: when the bot escalated the
    ticket after a draft without drafting (an agent's request, a repeated question)."""
    # Helpdesks stamp whole seconds: an agent's reply in the very second the note was posted
    # came after it (nobody can answer a draft before it exists).
    drafts = sorted((replace(d, drafted_at=d.drafted_at.replace(microsecond=0)) for d in drafts),
                    key=lambda d: d.drafted_at)
    reviews: dict[int, ReviewFacts] = {}
    follow_ups: list[FollowUp] = []
    for i, draft in enumerate(drafts):
        following = drafts[i + 1] if i + 1 < len(drafts) else None
        reviews[draft.run_id] = _review(history, draft, following, policy)
    if drafts:
        follow_ups += _commands(history, drafts[0].drafted_at)
    if seen_until is not None:
        follow_ups += [
            FollowUp("customer_replied", m.id, m.at, m.author_id)
            for m in history.messages
            if m.role is Role.CUSTOMER and m.public and m.at > seen_until and m.id
        ]
    outcome = _outcome(history, drafts, [*escalations, *(f.at for f in follow_ups if f.kind == "escalate")],
                       escalation_groups)
    return Assessment(reviews, outcome, tuple(follow_ups))


def _between(at: datetime, start: datetime, until: datetime | None) -> bool:
    return at >= start and (until is None or at < until)


def _review(history: TicketHistory, draft: Draft, following: Draft | None,
            policy: ReviewPolicy) -> ReviewFacts:
    start, until = draft.drafted_at, following.drafted_at if following else None
    candidates: list[tuple[datetime, ReviewAction, str | None, float | None]] = []
    reply = next((m for m in history.messages if m.role is Role.AGENT and m.public
                  and _between(m.at, start, until)), None)
    score = None
    if reply is not None:
        score = similarity(draft.text, reply.text)
        candidates.append((reply.at, classify(score, policy), reply.author_id, score))
    notes = [n for n in _agent_notes(history, start, until) if n.id != draft.requested_by_note]
    if following is not None and following.requested_by_note:
        notes += [n for n in history.messages if n.id == following.requested_by_note and n not in notes]
    for note in notes:
        parsed = parse_command(note.text)
        if parsed is not None:
            action = ReviewAction.REDRAFT if parsed[0] is Command.REDRAFT else ReviewAction.ESCALATE
            candidates.append((note.at, action, note.author_id, None))
    tagged = _escalate_tag(history.changes, start, until)
    if tagged is not None:
        candidates.append((tagged.at, ReviewAction.ESCALATE, tagged.actor_id, None))
    candidates.sort(key=lambda c: c[0])
    first = candidates[0] if candidates else None
    return ReviewFacts(
        action=first[1] if first else None,
        acted_at=first[0] if first else None,
        acted_by=first[2] if first else None,
        similarity=score,
        replied_at=reply.at if reply else None,
        overrides=_overrides(history, draft, until),
    )


def _agent_notes(history: TicketHistory, start: datetime, until: datetime | None) -> list[Message]:
    return [m for m in history.messages
            if m.role is Role.AGENT and not m.public and _between(m.at, start, until)]


def _escalate_tag(changes: Sequence[Change], start: datetime, until: datetime | None) -> Change | None:
    tag = BotTag.ESCALATE_REQUEST
    for change in changes:
        if change.field is not Field.TAGS or change.role is not Role.AGENT:
            continue
        added = tag in (change.value or "").split() and tag not in (change.previous or "").split()
        if added and _between(change.at, start, until):
            return change
    return None


def _overrides(history: TicketHistory, draft: Draft, until: datetime | None) -> dict[str, dict]:
    found: dict[str, dict] = {}
    by_human = [c for c in history.changes if c.role is Role.AGENT and _between(c.at, draft.drafted_at, until)]
    for name, field_, bot_value in (("priority", Field.PRIORITY, draft.priority),
                                    ("group", Field.GROUP, draft.group_id)):
        changed = [c for c in by_human if c.field is field_]
        if bot_value is not None and changed and changed[-1].value != bot_value:
            last = changed[-1]
            found[name] = {"bot": bot_value, "agent": last.value, "by": last.actor_id, "at": last.at.isoformat()}
    if draft.category_tag:
        for change in by_human:
            if change.field is not Field.TAGS:
                continue
            now = set((change.value or "").split())
            other = sorted(t for t in now if t.startswith(BotTag.CATEGORY_PREFIX) and t != draft.category_tag)
            if draft.category_tag not in now or other:
                found["category"] = {"bot": draft.category_tag, "agent": other[0] if other else None,
                                     "by": change.actor_id, "at": change.at.isoformat()}
        if "category" not in found and until is None and history.helpdesk == "intercom":
            # Intercom's parts do not record tag changes: compare the tags the conversation has.
            other = sorted(t for t in history.tags if t.startswith(BotTag.CATEGORY_PREFIX) and t != draft.category_tag)
            if other:
                found["category"] = {"bot": draft.category_tag, "agent": other[0], "by": None, "at": None}
    return found


def _commands(history: TicketHistory, since: datetime) -> list[FollowUp]:
    """Agents' `#ai` notes and the escalate tag, after the first draft, each a run to start."""
    found: list[FollowUp] = []
    for note in _agent_notes(history, since, None):
        parsed = parse_command(note.text)
        if parsed is None or not note.id:
            continue
        command, rest = parsed
        if command is Command.REDRAFT:
            found.append(FollowUp("redraft", note.id, note.at, note.author_id,
                                  {"instruction": rest, "note": note.id}))
        else:
            found.append(FollowUp("escalate", note.id, note.at, note.author_id,
                                  {"reason": "agent_request", "by": note.author_id, "comment": rest}))
    tagged = _escalate_tag(history.changes, since, None)
    if tagged is not None:
        found.append(FollowUp("escalate", f"tag:{BotTag.ESCALATE_REQUEST}", tagged.at, tagged.actor_id,
                              {"reason": "agent_request", "by": tagged.actor_id, "comment": ""}))
    return found


def _outcome(history: TicketHistory, drafts: Sequence[Draft], escalations: Sequence[datetime],
             escalation_groups: frozenset[str]) -> Outcome:
    """Escalated later: the first draft did not send the ticket to an escalation group, and
    afterwards an agent moved it to one, asked for it, or a later run of the bot escalated it."""
    first = drafts[0] if drafts else None
    start = first.drafted_at if first else None
    routed_up = first is not None and first.group_id in escalation_groups
    solved_at, reopened = None, 0
    reassigned, escalated_at = False, None
    for change in history.changes:
        after = start is not None and change.at >= start
        if change.field is Field.STATUS:
            if change.value in STATUSES_DONE and change.previous not in STATUSES_DONE:
                solved_at = solved_at or change.at
            elif change.previous in STATUSES_DONE and change.value not in STATUSES_DONE:
                reopened += 1
        elif change.field is Field.GROUP and after and change.role is Role.AGENT:
            if change.value in escalation_groups and not routed_up:
                escalated_at = escalated_at or change.at
            elif first is not None and change.value != first.group_id:
                reassigned = True
    if first is not None and not routed_up:
        later = [d.drafted_at for d in drafts[1:] if d.group_id in escalation_groups]
        later += [moment for moment in escalations if start is not None and moment >= start]
        if later:
            escalated_at = min([*later, *([escalated_at] if escalated_at else [])])
    done = history.status in STATUSES_DONE
    escalated_later = escalated_at is not None
    rating = history.rating
    return Outcome(
        status=history.status,
        solved_at=solved_at,
        reopened=reopened,
        reassigned=reassigned,
        escalated_later=escalated_later,
        escalated_at=escalated_at,
        first_contact_resolution=(reopened == 0 and not reassigned and not escalated_later) if done else None,
        csat_score=rating.score if rating else None,
        csat_good=rating.good if rating else None,
        csat_comment=rating.comment if rating else None,
        rated_at=rating.at if rating else None,
    )


def repeated_question(history: TicketHistory, sent_reply_at: datetime, policy: ReviewPolicy) -> float | None:
    """How alike (0..1) the customer's messages after an agent sent the bot's draft (at
    `sent_reply_at`) are to the question that draft answered (their messages before it); None
    when they have not written since. `policy.repeat_similarity` and above: the same question.
    Token-set similarity, so that "I still can't log in" repeated inside a longer message counts."""
    # By position, not time: stamps are whole seconds, and a fast agent shares the customer's.
    messages = history.messages
    sent = next((i for i, m in enumerate(messages)
                 if m.role is Role.AGENT and m.public and m.at >= sent_reply_at), len(messages))
    before = " ".join(m.text for m in messages[:sent] if m.role is Role.CUSTOMER and m.public)
    after = " ".join(m.text for m in messages[sent + 1:] if m.role is Role.CUSTOMER and m.public)
    if not before.strip() or not after.strip():
        return None
    return round(fuzz.token_set_ratio(normalise(before), normalise(after)) / 100, 4)
