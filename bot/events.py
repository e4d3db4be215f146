"""Which events the bot processes, and what processes each: one table, as zulip's
`EVENT_TO_FUNCTION_MAPPER` or gidgethub's router do.

`HANDLERS` maps (helpdesk, event kind) onto the function that takes a run of that event through
the workflow. The web tier accepts only events that have a handler here (any other is
acknowledged and ignored), and the worker dispatches each claimed run through it. Adding an event
is a row here and its parsing in the helpdesk's webhook module; nothing else branches on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from bot.domain import EventKind
from bot.leases import Claim, ClaimState
from bot.pipeline import Budget, Worker, triage_and_draft
from bot.review_actions import escalate_on_request
from bot.vocabulary import RunStatus

log = logging.getLogger(__name__)

NOT_CLAIMED = "not claimed"  # what `process_run` returns for a finished or held run

Handler = Callable[[Claim, Worker, Budget], str]


@dataclass(frozen=True)
class Route:
    handler: Handler
    # A later event of this kind on a ticket whose run has not started yet joins that run
    # instead of starting one of its own (the run reads the ticket when it starts, so it sees
    # every message): three quick messages from a customer make one run, not three notes.
    merges: bool = False
    # Seconds to wait before the run starts, so that quick follow-ups can still join it.
    waits_for_more: bool = False


_new_ticket = Route(partial(triage_and_draft, first=True))
# The customer wrote again: triage the conversation so far and draft anew (or, when they ask
# the same question after an agent sent the bot's draft, escalate: `repeat_question`).
_customer_reply = Route(partial(triage_and_draft, first=False), merges=True, waits_for_more=True)
# An agent's "#ai redraft <instruction>": draft again, following it (`runs.request`).
_redraft = Route(partial(triage_and_draft, first=False))
# An agent's "#ai escalate" or `ai_escalate` tag: to the escalation group, nothing drafted.
_escalate = Route(escalate_on_request)

# Intercom's customer replies come by webhook; Zendesk's, and every agent command, are found by
# the tracker in the ticket's history (`bot.tracking`), which accepts them as these events.
# `EventKind.ACTIVITY` starts no run: the web tier marks the ticket for the tracker.
HANDLERS: Mapping[tuple[str, str], Route] = {
    **{(helpdesk, EventKind.CREATED): _new_ticket for helpdesk in ("zendesk", "intercom")},
    **{(helpdesk, EventKind.CUSTOMER_REPLIED): _customer_reply for helpdesk in ("zendesk", "intercom")},
    **{(helpdesk, EventKind.REDRAFT): _redraft for helpdesk in ("zendesk", "intercom")},
    **{(helpdesk, EventKind.ESCALATE): _escalate for helpdesk in ("zendesk", "intercom")},
}


def route_for(helpdesk: str, kind: str) -> Route | None:
    return HANDLERS.get((helpdesk, kind))


def process_run(run_id: int, worker: Worker) -> str:
    """Claim a run and take it through its handler; "not claimed" if it is finished or held.
    Errors are left to the caller: `bot.attempt` is the one layer that retries."""
    claim = worker.store.claim(run_id, worker.settings.lease_seconds)
    if claim.state is not ClaimState.CLAIMED:
        log.info("run %s not claimed: %s", run_id, claim.state)
        return NOT_CLAIMED
    assert claim.lease_expires_at is not None
    return process_claimed(claim, worker, Budget(claim.lease_expires_at, worker.clock))


def process_claimed(claim: Claim, worker: Worker, budget: Budget) -> str:
    """The claimed run, through the handler of its (helpdesk, event kind)."""
    run = claim.run
    assert run is not None
    route = route_for(run.helpdesk, run.event_kind)
    if route is None:  # stored by an older release that processed it; this one does not
        reason = f"no handler for {run.helpdesk} {run.event_kind} events"
        if not worker.store.finish(run.id, claim.token, RunStatus.SKIPPED, error=reason):
            log.info("run %s: lost its lease while skipping it", run.id)
        return RunStatus.SKIPPED
    return route.handler(claim, worker, budget)
