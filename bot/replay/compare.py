"""What the bot would have done next to what agents did: agreement per field and per category,
the disagreements, the cost, and which categories look ready for `tag` or `draft`. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain import CATEGORIES
from bot.rollout import Recommend

FIELDS = ("category", "group", "priority", "escalated", "refund")
MAX_DISAGREEMENTS = 2000  # in the JSON; the HTML shows fewer


@dataclass(frozen=True)
class AgentOutcome:
    """What agents did with the ticket, as far as it is known (None: not known)."""

    category: str | None = None
    group_id: str | None = None
    priority: str | None = None  # on the helpdesk's scale ("high"; Intercom: "priority")
    escalated: bool | None = None
    refunded: bool | None = None


@dataclass(frozen=True)
class Replayed:
    """One past ticket: what agents did, and what the bot would have done."""

    ticket_id: str
    subject: str
    url: str
    agent: AgentOutcome
    category: str
    group_id: str | None
    priority: str
    escalated: bool
    refund: bool
    reasons: tuple[str, ...] = ()
    confidence: float = 0.0
    cost_usd: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def pairs(self) -> dict[str, tuple[object, object]]:
        """field -> (agent's, bot's), for the fields agents' value is known."""
        agent = self.agent
        known = {
            "category": (agent.category, self.category),
            "group": (agent.group_id, self.group_id),
            "priority": (agent.priority, self.priority),
            "escalated": (agent.escalated, self.escalated),
            "refund": (agent.refunded, self.refund),
        }
        return {f: (a, b) for f, (a, b) in known.items() if a is not None}


def agreement(items: Iterable[Replayed], name: str) -> dict:
    compared = agreed = true_pos = bot_pos = agent_pos = 0
    for item in items:
        pair = item.pairs().get(name)
        if pair is None:
            continue
        agent, bot = pair
        compared += 1
        agreed += str(agent) == str(bot)
        if name in ("escalated", "refund"):
            true_pos += bool(agent) and bool(bot)
            bot_pos += bool(bot)
            agent_pos += bool(agent)
    out: dict = {"compared": compared, "agreed": agreed, "rate": _rate(agreed, compared)}
    if name in ("escalated", "refund"):
        out.update(precision=_rate(true_pos, bot_pos), recall=_rate(true_pos, agent_pos),
                   agent_positives=agent_pos, bot_positives=bot_pos)
    return out


def recommend(category: str, items: Sequence[Replayed], thresholds: Recommend) -> tuple[str, str]:
    """(`draft` | `tag` | `shadow`, why) for one category, from its tickets."""
    if len(items) < thresholds.min_tickets:
        count = f"{len(items)} ticket" + ("s" if len(items) != 1 else "")
        return "shadow", f"only {count} (fewer than {thresholds.min_tickets} to tell)"
    escalations = agreement(items, "escalated")
    recall = escalations.get("recall")
    if recall is not None and recall < thresholds.escalation_recall:
        return "shadow", (f"escalation recall {_pct(recall)} < {_pct(thresholds.escalation_recall)}: "
                          "the bot missed escalations agents made")
    rates = {f: agreement(items, f)["rate"] for f in ("category", "group")}
    known = {f: r for f, r in rates.items() if r is not None}
    if not known:
        return "shadow", "nothing agents did to compare with"
    weakest = min(known, key=lambda f: known[f])
    score = known[weakest]
    because = ", ".join(f"{f} agreement {_pct(r)}" for f, r in known.items())
    if score >= thresholds.draft:
        return "draft", f"{because} (≥ {_pct(thresholds.draft)}); drafts themselves are not compared"
    if score >= thresholds.tag:
        return "tag", f"{because}: {weakest} below {_pct(thresholds.draft)} for draft, at least {_pct(thresholds.tag)}"
    return "shadow", f"{because}: {weakest} below {_pct(thresholds.tag)}"


def build_report(replayed: Sequence[Replayed], thresholds: Recommend, meta: dict) -> dict:
    """The report as JSON-ready data (`meta`: source, period, policy version, engine...)."""
    by_agent_category: dict[str, list[Replayed]] = defaultdict(list)
    for item in replayed:
        if item.agent.category:
            by_agent_category[item.agent.category].append(item)
    categories = [c for c in CATEGORIES if c in by_agent_category] + sorted(
        c for c in by_agent_category if c not in CATEGORIES)
    by_category, modes = [], defaultdict(list)
    for category in categories:
        items = by_agent_category[category]
        mode, why = recommend(category, items, thresholds)
        modes[mode].append(category)
        by_category.append({"category": category, "tickets": len(items),
                            "fields": {f: agreement(items, f) for f in FIELDS[:4]},
                            "recommendation": mode, "why": why})
    return {
        "version": 1,
        **meta,
        "tickets": len(replayed),
        "fields": {f: agreement(replayed, f) for f in FIELDS},
        "by_category": by_category,
        "confusion": confusion(replayed),
        "disagreements": disagreements(replayed)[:MAX_DISAGREEMENTS],
        "cost": cost(replayed),
        "recommendation": {"draft": modes["draft"], "tag": modes["tag"], "shadow": modes["shadow"],
                           "thresholds": {"draft": thresholds.draft, "tag": thresholds.tag,
                                          "min_tickets": thresholds.min_tickets,
                                          "escalation_recall": thresholds.escalation_recall}},
    }


def confusion(replayed: Sequence[Replayed]) -> dict:
    pairs = [(r.agent.category, r.category) for r in replayed if r.agent.category]
    seen = {c for pair in pairs for c in pair}
    labels = [c for c in CATEGORIES if c in seen] + sorted(c for c in seen if c not in CATEGORIES)
    index = {c: i for i, c in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for agent, bot in pairs:
        matrix[index[agent]][index[bot]] += 1
    return {"labels": labels, "matrix": matrix}


def disagreements(replayed: Sequence[Replayed]) -> list[dict]:
    out = []
    for item in replayed:
        for name, (agent, bot) in item.pairs().items():
            if str(agent) != str(bot):
                out.append({"ticket_id": item.ticket_id, "url": item.url, "subject": item.subject,
                            "field": name, "agent": _shown(agent), "bot": _shown(bot),
                            "category": item.agent.category or item.category})
    return out


def cost(replayed: Sequence[Replayed]) -> dict:
    priced = [r.cost_usd for r in replayed if r.cost_usd is not None]
    usd = round(sum(priced), 6) if priced else None
    return {"usd": usd, "priced": bool(priced),
            "prompt_tokens": sum(r.prompt_tokens for r in replayed),
            "completion_tokens": sum(r.completion_tokens for r in replayed),
            "per_ticket_usd": round(usd / len(replayed), 6) if usd is not None and replayed else None}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


