"""Run an engine's triage over labelled tickets and measure it: category (with calibration),
and, where the data has them, priority, language, sentiment and frustration."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.decisions import SENTIMENTS
from bot.domain import CATEGORIES, CustomerContext, Ticket
from bot.llm.base import TriageRequest
from bot.llm.pricing import add_costs, cost_of
from bot.triage.data import LabelledTicket
from bot.triage.metrics import classification_report


def evaluate_engine(
    engine,
    tickets: Sequence[LabelledTicket],
    threshold: float,
    build_request: Callable[[Ticket], TriageRequest] | None = None,
    prices=None,
    policy=None,
) -> dict:
    """`build_request`: the real prompts, for an engine that calls an LLM (the local engine
    reads only the ticket). `prices`: a PriceTable, to report what the LLM calls cost.
    `policy`: to report the escalation intents (its keyword lists plus the engine's detector),
    where the tickets are labelled for them."""
    outcomes = []
    for number, labelled in enumerate(tickets, start=1):
        ticket = Ticket(id=str(number), subject=labelled.subject, description=labelled.body)
        if build_request is not None:
            request = build_request(ticket)
        else:
            request = TriageRequest(messages=(), ticket=ticket, context=CustomerContext())
        outcomes.append(engine.triage(request))
    results = [outcome.triage for outcome in outcomes]
    pairs = list(zip(tickets, results, strict=True))
    labels = [c for c in CATEGORIES if any(c in (t.category, r.category) for t, r in pairs)]
    report = {"model": engine.model, **_spend(outcomes, prices)}
    report.update(
        classification_report(
            [t.category for t in tickets],
            [r.category for r in results],
            [r.confidence for r in results],
            labels,
            threshold,
        )
    )
    pairs = list(zip(tickets, results, strict=True))
    priority = [(t.priority, r.priority) for t, r in pairs if t.priority is not None]
    if priority:
        report["priority"] = {
            "n": len(priority),
            "accuracy": _share(p == q for p, q in priority),
            "mean_absolute_error": round(sum(abs(p - q) for p, q in priority) / len(priority), 4),
        }
    language = [(t.language, r.language) for t, r in pairs if t.language]
    if language:
        report["language"] = {"n": len(language), "accuracy": _share(a == b for a, b in language),
                              "errors": _errors(language)}
    sentiment = [(t.sentiment, r.sentiment.label) for t, r in pairs if t.sentiment]
    if sentiment:
        report["sentiment"] = {
            "n": len(sentiment),
            "accuracy": _share(a == b for a, b in sentiment),
            "confusion": {
                "labels": list(SENTIMENTS),
                "matrix": [[sum(1 for a, b in sentiment if a == x and b == y) for y in SENTIMENTS]
                           for x in SENTIMENTS],
            },
        }
    frustrated = [(t.frustrated, r.sentiment.frustrated) for t, r in pairs if t.frustrated is not None]
    if frustrated:
        report["frustrated"] = _binary(frustrated)
    if policy is not None:
        from bot.triage.intent_eval import intent_report

        intents = intent_report(tickets, results, policy)
        if intents:
            report["intents"] = intents
    return report


def _spend(outcomes, prices) -> dict:
    """Which engine decided how many tickets, the tokens used and, with prices, their cost."""
    engines: dict[str, int] = {}
    prompt = completion = 0
    costs: list[float | None] = []
    for outcome in outcomes:
        engines[outcome.engine or "?"] = engines.get(outcome.engine or "?", 0) + 1
        for result in (outcome, outcome.discarded):
            if result is None:
                continue
            prompt += result.usage.prompt_tokens
            completion += result.usage.completion_tokens
            costs.append(cost_of(prices, result.model, result.usage))
    cost = add_costs(costs)
    spend: dict = {"decided_by": engines, "prompt_tokens": prompt, "completion_tokens": completion}
    if prices is not None:
        spend["cost_usd"] = None if cost is None else round(cost, 6)
        spend["cost_per_ticket_usd"] = None if cost is None else round(cost / len(outcomes), 8)
    return spend


def _share(flags) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4)


def _errors(pairs, limit: int = 10) -> dict:
    """The most frequent confusions, "truth->predicted": count."""
    counts: dict[str, int] = {}
    for truth, predicted in pairs:
        if truth != predicted:
            key = f"{truth}->{predicted}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def _binary(pairs) -> dict:
    tp = sum(1 for t, p in pairs if t and p)
    fp = sum(1 for t, p in pairs if not t and p)
    fn = sum(1 for t, p in pairs if t and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(pairs),
        "positives": tp + fn,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "accuracy": _share(t == p for t, p in pairs),
    }
