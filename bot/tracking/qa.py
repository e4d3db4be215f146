"""The weekly QA report (`python -m bot report --since 7d`): the figures over the period, and the
questions a QA review asks, each answered with its figure and the tickets that show it.

(a) Answered from approved sources? Sent drafts (as-is or lightly edited) that cited an article.
(b) Technically right but unhelpful? Major rewrites of drafts that had sources.
(c) Escalated too late? Tickets escalated after the bot's draft.
(d) Which articles confused? Articles cited by drafts that were rewritten or not used.
(e) Which categories look safe to automate next? At least `SAFE_MIN_REPLIED` replied drafts,
    at least `SAFE_SENT` of them sent (as-is or lightly edited), category overridden on at most
    `SAFE_OVERRIDES` of drafts, no ticket escalated later, and CSAT at its target when rated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bot.db.models import Review, TrackedTicket
from bot.review_policy import ReviewPolicy
from bot.tracking.stats import Figures, compute, rate
from bot.vocabulary import ReviewAction

EXAMPLES = 20  # tickets listed per question
SAFE_MIN_REPLIED = 10
SAFE_SENT = 0.9
SAFE_OVERRIDES = 0.05
_SENT = tuple(a.value for a in ReviewAction.sent())
_REWRITTEN = (ReviewAction.MAJOR_REWRITE.value, ReviewAction.NOT_USED.value)


def build_report(session: Session, since: datetime, until: datetime, policy: ReviewPolicy,
                 now: datetime) -> dict:
    figures = compute(session, since, until, policy, now)
    period = and_(Review.drafted_at >= since, Review.drafted_at < until)
    reviews = session.execute(select(Review).where(period).order_by(Review.run_id)).scalars().all()
    sent = [r for r in reviews if r.action in _SENT]
    grounded = [r for r in sent if r.sources]
    unhelpful = [r for r in reviews if r.action == ReviewAction.MAJOR_REWRITE.value and r.sources]
    late = session.execute(
        select(TrackedTicket).where(TrackedTicket.arrived_at >= since).where(TrackedTicket.arrived_at < until)
        .where(TrackedTicket.escalated_later.is_(True)).order_by(TrackedTicket.escalated_at)
    ).scalars().all()
    cited = Counter(source for r in reviews for source in r.sources or ())
    confusing = Counter(source for r in reviews if r.action in _REWRITTEN for source in r.sources or ())
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "figures": figures.as_dict(),
        "sources": {
            "sent": len(sent), "with_sources": len(grounded), "share": rate(len(grounded), len(sent)),
            "sent_without_source": [_ticket(r) for r in sent if not r.sources][:EXAMPLES],
        },
        "unhelpful": {"count": len(unhelpful), "tickets": [_ticket(r) for r in unhelpful][:EXAMPLES]},
        "escalated_late": {"count": len(late), "tickets": [
            {"helpdesk": t.helpdesk, "ticket_id": t.ticket_id,
             "escalated_at": t.escalated_at.isoformat() if t.escalated_at else None} for t in late][:EXAMPLES]},
        "confusing_articles": [
            {"article": article, "rewritten": count, "cited": cited[article], "share": rate(count, cited[article])}
            for article, count in confusing.most_common(EXAMPLES)],
        "safe_to_automate": _safe(figures, late, session, policy),
    }


def _ticket(review: Review) -> dict:
    return {"helpdesk": review.helpdesk, "ticket_id": review.ticket_id, "run_id": review.run_id,
            "category": review.category, "prompt_version": review.prompt_version}


def _safe(figures: Figures, late: Sequence[TrackedTicket], session: Session,
          policy: ReviewPolicy) -> list[dict]:
    late_categories = Counter(
        category for (category,) in session.execute(
            select(Review.category).where(Review.run_id.in_([t.first_run_id for t in late if t.first_run_id])))
    )
    verdicts = []
    for category, drafts in sorted(figures.by["category"].items()):
        tickets = figures.tickets_by_category.get(category)
        sent = drafts.sent_rate
        failing = []
        if drafts.replied < SAFE_MIN_REPLIED:
            failing.append(f"only {drafts.replied} replied drafts (needs {SAFE_MIN_REPLIED})")
        if sent is None or sent < SAFE_SENT:
            failing.append(f"sent as-is or lightly edited {_pct(sent)} (needs {_pct(SAFE_SENT)})")
        override = drafts.override_rate.get("category")
        if override is not None and override > SAFE_OVERRIDES:
            failing.append(f"category overridden on {_pct(override)} of drafts (at most {_pct(SAFE_OVERRIDES)})")
        if late_categories.get(category):
            failing.append(f"{late_categories[category]} ticket(s) escalated after the draft")
        if tickets is not None and tickets.csat is not None and tickets.csat < policy.targets.csat:
            failing.append(f"CSAT {_pct(tickets.csat)} (target {_pct(policy.targets.csat)})")
        verdicts.append({"category": category, "safe": not failing, "replied": drafts.replied, "sent": sent,
                         "why_not": failing})
    return verdicts


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def render_markdown(report: dict) -> str:
    f = report["figures"]
    d, t, targets = f["drafts"], f["tickets"], f["targets"]

    def mark(name: str) -> str:
        return {True: " ✓", False: " ✗", None: ""}[targets.get(name)]

    lines = [
        f"# Weekly QA report: {report['period']['since'][:16]} to {report['period']['until'][:16]} (UTC)",
        "",
        f"{d['drafts']} drafts on {t['tickets']} tickets; {d['replied']} answered by an agent's reply.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        f"| CSAT (good ratings) | {_pct(t['csat'])} of {t['rated']}{mark('csat')} | > 85 % |",
        f"| First-contact resolution | {_pct(t['first_contact_resolution'])} of {t['solved']} solved"
        f"{mark('first_contact_resolution')} | > 70 % |",
        f"| Escalation rate | {_pct(t['escalation_rate'])}{mark('escalation_rate')}"
        f" (previous period {_pct(f['previous_escalation_rate'])}) | < 20 % |",
        f"| Drafts edited | {_pct(d['edited_rate'])}{mark('edited_rate')} | 20–30 % |",
        f"| Major rewrites | {_pct(d['major_rewrite_rate'])} | |",
        f"| Sent as-is / not used | {_pct(d['sent_as_is_rate'])} / {_pct(d['not_used_rate'])} | |",
        f"| Review-SLA compliance | {_pct(d['sla_compliance'])} of {d['sla_due']} due; {d['overdue']} overdue | |",
        f"| Median minutes to draft / to first reply | {_num(d['median_minutes_to_draft'])} / "
        f"{_num(d['median_minutes_to_first_reply'])}{mark('median_minutes_to_first_reply')} | < 5 (draft + review) |",
        f"| Tokens / cost per ticket | {_num(t['tokens_per_ticket'])} / {_usd(t['cost_per_ticket'])} | |",
        "| Overrides (category / priority / group) | "
        + " / ".join(_pct(d["override_rate"][k]) for k in ("category", "priority", "group")) + " | |",
    ]
    if f["escalation_rising"]:
        lines += ["", "**Warning: the escalation rate is rising** (more than 5 points above the previous period)."]
    lines += ["", "## Flagged prompts", ""]
    if f["flagged_prompts"]:
        for version, tickets in f["flagged_prompts"].items():
            lines.append(f"- `{version}`: {len(tickets)} major rewrites: " + _list(tickets))
    else:
        lines.append("None: no prompt version needed a major rewrite more often than the policy allows.")
    s = report["sources"]
    lines += ["", "## Answered from approved sources?", "",
              f"{_pct(s['share'])} of {s['sent']} sent drafts cited an approved article."]
    if s["sent_without_source"]:
        lines.append("Sent without a source: " + _list(s["sent_without_source"]))
    u = report["unhelpful"]
    lines += ["", "## Technically right but unhelpful?", "",
              f"{u['count']} major rewrites of drafts that had sources." + _also(u["tickets"])]
    e = report["escalated_late"]
    lines += ["", "## Escalated too late?", "",
              f"{e['count']} tickets escalated after the bot's draft." + _also(e["tickets"])]
    lines += ["", "## Which articles confused?", ""]
    lines += [f"- article `{a['article']}`: in {a['rewritten']} rewritten or unused drafts of {a['cited']} that cited "
              f"it ({_pct(a['share'])})" for a in report["confusing_articles"]] or ["None."]
    lines += ["", "## Safe to automate next?", ""]
    for verdict in report["safe_to_automate"]:
        lines.append(f"- {verdict['category']}: " + ("**looks safe**" if verdict["safe"] else
                                                    "not yet: " + "; ".join(verdict["why_not"])))
    if not report["safe_to_automate"]:
        lines.append("No drafts in the period.")
    for name, title in (("category", "category"), ("prompt_version", "prompt version"), ("engine", "engine"),
                        ("language", "language"), ("agent", "agent")):
        rows = f["by"][name]
        if not rows:
            continue
        lines += ["", f"## By {title}", "", "| | drafts | edited | major rewrites | SLA | overrides (cat/pri/grp) |",
                  "|---|---|---|---|---|---|"]
        for value, g in sorted(rows.items()):
            lines.append(f"| {value} | {g['drafts']} | {_pct(g['edited_rate'])} | {_pct(g['major_rewrite_rate'])} | "
                         f"{_pct(g['sla_compliance'])} | "
                         + " / ".join(_pct(g["override_rate"][k]) for k in ("category", "priority", "group")) + " |")
    return "\n".join(lines) + "\n"


def _also(tickets: list[dict]) -> str:
    return " " + _list(tickets) if tickets else ""


def _list(tickets: list[dict]) -> str:
    return ", ".join(f"{t['helpdesk']} #{t['ticket_id']}" + (f" (run {t['run_id']})" if t.get("run_id") else "")
                     for t in tickets)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}"
