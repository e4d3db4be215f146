"""Figures over a period, from the store (`reviews`, `tracked_tickets`, `runs`), in SQL where
they are sums, so they stay fast on a big store; medians from one column read.

Definitions (the README's "Figures" says the same):
- A draft counts in the period its note was posted (`reviews.drafted_at`); a ticket in the
  period it arrived (`tracked_tickets.arrived_at`). Each rate is None when nothing counts.
- *Replied*: drafts the agent answered with a public reply (sent as-is, lightly edited, major
  rewrite, not used). *Edited* = lightly edited + major rewrite, over replied; *sent* = sent
  as-is + lightly edited, over replied; so are the sent-as-is, major-rewrite and not-used
  rates. Redraft and escalate commands: over drafts.
- *Review-SLA compliance*: drafts acted on by their deadline, over drafts that are due (acted
  on, or past the deadline at `now`).
- *Median minutes to draft*: arrival to note; *to first reply*: arrival to the agent's reply.
- *Escalation rate*: tickets the bot escalated (any draft) or that were escalated later, over
  tickets. *FCR*: first-contact resolutions over solved tickets. *CSAT*: good over rated.
- *Tokens and cost per ticket*: every run of the period's tickets, over tickets.
- *Override rate*: drafts whose field a human overrode, over drafts, per field.
A ticket's category, prompt version and engine are those of its first draft.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.db.models import Review, Run, TrackedTicket
from bot.review_policy import ReviewPolicy
from bot.vocabulary import ReviewAction

GROUPINGS = {
    "category": Review.category,
    "prompt_version": Review.prompt_version,
    "engine": Review.engine,
    "language": Review.language,
    "agent": Review.acted_by,
}
REPLIES = tuple(a.value for a in (ReviewAction.SENT_AS_IS, ReviewAction.LIGHTLY_EDITED,
                                  ReviewAction.MAJOR_REWRITE, ReviewAction.NOT_USED))


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class DraftFigures:
    drafts: int
    replied: int
    sent_as_is_rate: float | None
    sent_rate: float | None  # sent as-is or lightly edited: the draft reached the customer
    edited_rate: float | None
    major_rewrite_rate: float | None
    not_used_rate: float | None
    redraft_rate: float | None
    escalate_command_rate: float | None
    sla_due: int
    sla_met: int
    sla_compliance: float | None
    overdue: int  # not acted on, past the deadline
    median_minutes_to_draft: float | None
    median_minutes_to_first_reply: float | None
    override_rate: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketFigures:
    tickets: int
    escalated: int
    escalation_rate: float | None
    escalated_later: int
    reopened: int
    solved: int
    first_contact_resolution: float | None
    rated: int
    csat: float | None
    tokens_per_ticket: float | None
    cost_per_ticket: float | None


@dataclass(frozen=True)
class Figures:
    since: datetime
    until: datetime
    drafts: DraftFigures
    tickets: TicketFigures
    by: dict[str, dict[str, DraftFigures]]  # grouping -> value -> figures
    tickets_by_category: dict[str, TicketFigures]
    previous_escalation_rate: float | None
    targets: dict[str, bool | None]
    flagged_prompts: dict[str, list[dict]]

    @property
    def escalation_rising(self) -> bool:
        """A rising escalation rate is a warning: 5 points above the previous period's."""
        now, before = self.tickets.escalation_rate, self.previous_escalation_rate
        return now is not None and before is not None and now > before + 0.05

    def as_dict(self) -> dict:
        out = asdict(self)
        out["since"], out["until"] = self.since.isoformat(), self.until.isoformat()
        out["escalation_rising"] = self.escalation_rising
        return out


def compute(session: Session, since: datetime, until: datetime, policy: ReviewPolicy,
            now: datetime) -> Figures:
    period = and_(Review.drafted_at >= since, Review.drafted_at < until)
    overall = _draft_figures(session, period, None, now)[None]
    by = {name: {str(k): v for k, v in _draft_figures(session, period, column, now).items() if k is not None}
          for name, column in GROUPINGS.items()}
    tickets = _ticket_figures(session, since, until)
    span = until - since
    previous = _ticket_figures(session, since - span, since)[None].escalation_rate
    return Figures(
        since=since, until=until, drafts=overall, tickets=tickets[None], by=by,
        tickets_by_category={str(k): v for k, v in tickets.items() if k is not None},
        previous_escalation_rate=previous,
        targets=_targets(overall, tickets[None], policy),
        flagged_prompts=_flagged(session, period, policy.flag_major_rewrites),
    )


def _draft_figures(session: Session, period, column, now: datetime) -> dict:
    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0), type_=Integer)

    acted = Review.action.is_not(None)
    met = and_(acted, Review.acted_at <= Review.due_at)
    due = or_(acted, Review.due_at <= now)
    key = column if column is not None else None
    columns: list[Any] = [
        func.count(),
        count(Review.action.in_(REPLIES)),
        *(count(Review.action == action.value) for action in ReviewAction),
        count(met), count(due), count(and_(Review.action.is_(None), Review.due_at <= now)),
        count(Review.category_overridden), count(Review.priority_overridden), count(Review.group_overridden),
    ]
    query = select(*columns).where(period)
    if key is not None:
        query = select(key, *columns).where(period).group_by(key)
    rows = session.execute(query).all()
    times = _minutes(session, period, key)
    out: dict = {}
    for row in rows:
        value, numbers = (row[0], row[1:]) if key is not None else (None, row)
        drafts, replied, *per_action = (int(n or 0) for n in numbers[:2 + len(ReviewAction)])
        actions = dict(zip([a.value for a in ReviewAction], per_action, strict=True))
        sla_met, sla_due, overdue, cat, pri, grp = (int(n or 0) for n in numbers[2 + len(ReviewAction):])
        to_draft, to_reply = times.get(value, ([], []))
        out[value] = DraftFigures(
            drafts=drafts, replied=replied,
            sent_as_is_rate=rate(actions["sent_as_is"], replied),
            sent_rate=rate(actions["sent_as_is"] + actions["lightly_edited"], replied),
            edited_rate=rate(actions["lightly_edited"] + actions["major_rewrite"], replied),
            major_rewrite_rate=rate(actions["major_rewrite"], replied),
            not_used_rate=rate(actions["not_used"], replied),
            redraft_rate=rate(actions["redraft"], drafts),
            escalate_command_rate=rate(actions["escalate"], drafts),
            sla_due=sla_due, sla_met=sla_met, sla_compliance=rate(sla_met, sla_due), overdue=overdue,
            median_minutes_to_draft=_median(to_draft), median_minutes_to_first_reply=_median(to_reply),
            override_rate={"category": rate(cat, drafts), "priority": rate(pri, drafts), "group": rate(grp, drafts)},
        )
    if key is None and None not in out:
        out[None] = _empty_drafts()
    return out


def _minutes(session: Session, period, key) -> dict:
    """Per group: minutes from arrival to draft, and to the agent's first reply."""
    columns = [Review.arrived_at, Review.drafted_at, Review.replied_at]
    rows = session.execute(select(key if key is not None else Review.run_id, *columns).where(period)).all()
    out: dict = defaultdict(lambda: ([], []))
    for value, arrived, drafted, replied in rows:
        group = value if key is not None else None
        out[group][0].append((drafted - arrived).total_seconds() / 60)
        if replied is not None:
            out[group][1].append((replied - arrived).total_seconds() / 60)
    return out


def _median(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.median(values), 2) if values else None


def _empty_drafts() -> DraftFigures:
    return DraftFigures(0, 0, None, None, None, None, None, None, None, 0, 0, None, 0, None, None,
                        {"category": None, "priority": None, "group": None})


def _ticket_figures(session: Session, since: datetime, until: datetime) -> dict[str | None, TicketFigures]:
    tickets = session.execute(
        select(TrackedTicket).where(TrackedTicket.arrived_at >= since).where(TrackedTicket.arrived_at < until)
    ).scalars().all()
    if not tickets:
        return {None: TicketFigures(0, 0, None, 0, 0, 0, None, 0, None, None, None)}
    keys = [(t.helpdesk, t.ticket_id) for t in tickets]
    helpdesks = {h for h, _ in keys}
    ids = [i for _, i in keys]
    first: dict[tuple[str, str], tuple[str | None, bool]] = {}
    escalated_by_bot: set[tuple[str, str]] = set()
    for helpdesk, ticket_id, category, escalated in session.execute(
        select(Review.helpdesk, Review.ticket_id, Review.category, Review.escalated)
        .where(Review.helpdesk.in_(helpdesks)).where(Review.ticket_id.in_(ids))
        .order_by(Review.drafted_at, Review.run_id)
    ):
        first.setdefault((helpdesk, ticket_id), (category, escalated))
        if escalated:
            escalated_by_bot.add((helpdesk, ticket_id))
    usage: dict[tuple[str, str], tuple[int, float | None]] = {}
    for helpdesk, ticket_id, tokens, cost, costed in session.execute(
        select(Run.helpdesk, Run.ticket_id,
               func.sum(func.coalesce(Run.prompt_tokens, 0) + func.coalesce(Run.completion_tokens, 0)),
               func.sum(Run.cost_usd), func.count(Run.cost_usd))
        .where(Run.helpdesk.in_(helpdesks)).where(Run.ticket_id.in_(ids)).group_by(Run.helpdesk, Run.ticket_id)
    ):
        usage[(helpdesk, ticket_id)] = (int(tokens or 0), float(cost) if costed and cost is not None else None)
    groups: dict[str | None, list[TrackedTicket]] = defaultdict(list)
    for ticket in tickets:
        if (ticket.helpdesk, ticket.ticket_id) not in first:
            continue
        groups[None].append(ticket)
        groups[first[(ticket.helpdesk, ticket.ticket_id)][0]].append(ticket)
    return {key: _tickets(members, escalated_by_bot, usage) for key, members in groups.items()} or {
        None: TicketFigures(0, 0, None, 0, 0, 0, None, 0, None, None, None)}


def _tickets(tickets: list[TrackedTicket], escalated_by_bot: set, usage: dict) -> TicketFigures:
    count = len(tickets)
    escalated = sum(1 for t in tickets if t.escalated_later or (t.helpdesk, t.ticket_id) in escalated_by_bot)
    solved = [t for t in tickets if t.first_contact_resolution is not None]
    rated = [t for t in tickets if t.csat_good is not None]
    spent = [usage.get((t.helpdesk, t.ticket_id), (0, None)) for t in tickets]
    costs = [c for _, c in spent if c is not None]
    return TicketFigures(
        tickets=count, escalated=escalated, escalation_rate=rate(escalated, count),
        escalated_later=sum(1 for t in tickets if t.escalated_later),
        reopened=sum(1 for t in tickets if t.reopened),
        solved=len(solved),
        first_contact_resolution=rate(sum(1 for t in solved if t.first_contact_resolution), len(solved)),
        rated=len(rated), csat=rate(sum(1 for t in rated if t.csat_good), len(rated)),
        tokens_per_ticket=round(sum(t for t, _ in spent) / count, 1) if count else None,
        cost_per_ticket=round(sum(costs) / count, 6) if costs else None,
    )


def _targets(drafts: DraftFigures, tickets: TicketFigures, policy: ReviewPolicy) -> dict[str, bool | None]:
    t = policy.targets

    def check(value: float | None, ok) -> bool | None:
        return None if value is None else bool(ok(value))

    return {
        "csat": check(tickets.csat, lambda v: v > t.csat),
        "first_contact_resolution": check(tickets.first_contact_resolution, lambda v: v > t.first_contact_resolution),
        "escalation_rate": check(tickets.escalation_rate, lambda v: v < t.escalation_rate),
        "edited_rate": check(drafts.edited_rate, lambda v: t.edited_low <= v <= t.edited_high),
        "median_minutes_to_first_reply": check(drafts.median_minutes_to_first_reply,
                                               lambda v: v < t.first_reply_minutes),
    }


def _flagged(session: Session, period, limit: int) -> dict[str, list[dict]]:
    """Prompt versions with more than `limit` major rewrites in the period, with their tickets."""
    rows = session.execute(
        select(Review.prompt_version, Review.helpdesk, Review.ticket_id, Review.run_id)
        .where(period).where(Review.action == ReviewAction.MAJOR_REWRITE.value)
        .order_by(Review.prompt_version, Review.run_id)
    ).all()
    found: dict[str, list[dict]] = defaultdict(list)
    for version, helpdesk, ticket_id, run_id in rows:
        found[str(version)].append({"helpdesk": helpdesk, "ticket_id": ticket_id, "run_id": run_id})
    return {version: tickets for version, tickets in found.items() if len(tickets) > limit}
