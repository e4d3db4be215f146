"""Review actions the bot carries out in the helpdesk: an escalation an agent asked for
(`#ai escalate`, the `ai_escalate` tag) or that a repeated question calls for, and the start
of each posted draft's review. A redraft is an ordinary run (`bot.pipeline`) with the agent's
instruction in `runs.request`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from bot.db.models import Run
from bot.domain import TicketUpdate
from bot.helpdesks import adapter_for
from bot.leases import Claim
from bot.pipeline import Budget, Worker, run_reference
from bot.tracking import records
from bot.tracking.assess import assess, repeated_question
from bot.tracking.tracker import draft_of
from bot.vocabulary import BotTag, ReviewAction, RunStatus, escalation_tag

log = logging.getLogger(__name__)

_WHY = {
    "agent_request": "an agent asked for it",
    "repeat_question": "the customer asked the same question again after an agent sent the bot's draft",
}


def escalate_on_request(claim: Claim, worker: Worker, budget: Budget) -> str:
    """The run of an `escalate` event: note, tags and the escalation group, nothing drafted."""
    run = claim.run
    assert run is not None
    request = dict(run.request or {})
    return escalate(claim, worker, budget, str(request.get("reason") or "agent_request"), request)


def escalate(claim: Claim, worker: Worker, budget: Budget, reason: str, detail: dict,
             since: datetime | None = None) -> str:
    run, token, policy = claim.run, claim.token, worker.policy
    assert run is not None
    helpdesk = adapter_for(worker.helpdesks, run.helpdesk)
    group = policy.escalation_group(reason)
    group_id = policy.group_id(group, run.helpdesk) if group else None
    word = "team" if run.helpdesk == "intercom" else "group"
    lines = [
        "AI triage: escalated (internal note: nothing has been sent to the customer)",
        "",
        f"Why: {_WHY.get(reason, reason)}.",
    ]
    if detail.get("by"):
        lines.append(f"Asked by: agent {detail['by']}" + (f": {detail['comment']}" if detail.get("comment") else ""))
    if detail.get("similarity") is not None:
        lines.append(f"Similarity of the new message to the question answered: {float(detail['similarity']):.2f}"
                     " (no new draft: the same answer would not help).")
    lines.append(f"Routed to: {group or 'no ' + word} " + (f"({word} {group_id})" if group_id else ""))
    lines += ["", f"Policy: {policy.version}. {run_reference(run.id)}"]
    update = TicketUpdate(
        note="\n".join(lines),
        add_tags=(BotTag.ESCALATED, escalation_tag(reason)),
        group_id=group_id,
        reference=run_reference(run.id),
        agent_requested=reason == "agent_request",
    )
    mode = policy.rollout.mode_for(run.helpdesk)  # the category is not triaged here
    rules: dict[str, object] = {"policy_version": policy.version, "category": None, "priority": None, "escalate": True,
             "reasons": [{"code": reason, "detail": _WHY.get(reason, reason), "sources": ["review"]}],
             "group_key": group, "group_id": group_id, "tags": list(update.add_tags), "rollout": str(mode)}
    if not mode.writes:  # shadow: recorded, not written
        worker.store.finish(run.id, token, RunStatus.SHADOW, rules=rules, error=None,
                            actions={"rollout": str(mode), "would_write": {"note": update.note,
                                     "add_tags": list(update.add_tags), "group_id": group_id}})
        return RunStatus.SHADOW
    if not mode.notes:
        update = replace(update, note="")
    budget.check("publishing the escalation")
    ticket = helpdesk.fetch_ticket(run.ticket_id)
    result = helpdesk.publish(ticket, update, since=since)
    if result.stale is not None:
        status = RunStatus.STALE
        fields: dict[str, object] = {"error": f"nothing posted: {result.stale}"}
    else:
        status, fields = RunStatus.SUCCEEDED, {"actions": {"update": dict(result.payload)}, "error": None}
    if not worker.store.finish(run.id, token, status, rules=rules, **fields):
        log.info("run %s: lost its lease after escalating", run.id)
    log.info("%s ticket %s escalated: %s", run.helpdesk, run.ticket_id, reason,
             extra={"event": "review.escalated", "run_id": run.id, "reason": reason})
    return status


def repeat_of_sent_draft(worker: Worker, run: Run) -> float | None:
    """The similarity of the customer's new message to the question the bot's last draft
    answered, when an agent sent that draft (as-is or lightly edited) and the customer wrote
    the same again (at least `review.repeat_similarity`); None otherwise."""
    pairs = records.drafts(worker.store, run.helpdesk, run.ticket_id)
    if not pairs:
        return None
    history = adapter_for(worker.helpdesks, run.helpdesk).read_history(run.ticket_id)
    review = worker.policy.review
    facts = assess(history, [draft_of(r, x) for r, x in pairs], review).reviews
    last = facts.get(pairs[-1][0].run_id)
    if last is None or last.action not in ReviewAction.sent() or last.replied_at is None:
        return None
    score = repeated_question(history, last.replied_at, review)
    return score if score is not None and score >= review.repeat_similarity else None


def start_review(worker: Worker, run_id: int) -> None:
    """The posted draft's review starts now; if this fails, the follow-up sweep starts it."""
    try:
        records.start_reviews(worker.store, worker.policy.review, [run_id],
                              recheck=timedelta(seconds=worker.settings.track_recheck))
    except Exception:  # the run is done; the sweep's `start_reviews` catches up
        log.warning("run %s: review not started now (the sweep will)", run_id, exc_info=True)
