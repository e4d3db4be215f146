"""The web tier, the same for every helpdesk: verify the raw bytes, parse them into a
`TicketEvent` (the helpdesk's own webhook module does both), then one shared accept step:
deduplicate and store, enqueue, 2xx.

Status codes are part of the contract with the helpdesks' retry logic:
401 forged/unsigned (not retried), 400 malformed (not retried), 413 too large, 200 ignored or
duplicate, 202 accepted after the enqueue, 503 when the store or broker is down.
- Zendesk retries a 503 only when it carries `Retry-After` under 60 s, so every 503 here does:
  https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/
  (retry logic: "429 and 503 ... if the retry-after header is less than 60 seconds").
- Intercom waits 5 s for an answer and retries a failed delivery once, a minute later; it
  validates the endpoint with a `HEAD` request, answered 200 here:
  https://developers.intercom.com/docs/webhooks/webhook-notifications
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import LengthRequired, RequestEntityTooLarge

from bot.domain import EventKind, TicketEvent
from bot.errors import IgnoredEvent, InvalidPayload, RetryableError
from bot.events import route_for
from bot.helpdesks.base import SignatureError, TestDelivery
from bot.store import Accepted
from bot.tracking import records

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)
RETRY_AFTER_SECONDS = "10"
TEST_MESSAGE = (
    "Test delivery received: this endpoint is reachable and answered. It was signed with the "
    "{helpdesk} test secret, so nothing was stored or processed; real deliveries must carry the "
    "webhook's own signature (the secret `python -m bot setup {helpdesk}` prints), or they are "
    "refused with 401."
)


def _unavailable(message: str):
    response = jsonify(error=message)
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


@blueprint.route("/webhooks/<name>", methods=["POST", "HEAD"])
def webhook(name: str):
    services = current_app.extensions["bot"]
    receiver = services.receivers.get(name)
    if receiver is None:
        return jsonify(error=f"this deployment does not serve {name!r} webhooks"), 404
    if request.method == "HEAD":  # Intercom checks the URL this way before subscribing it
        return "", 200
    body = _raw_body()
    try:
        receiver.verify(request.headers, body, datetime.now(UTC))
    except SignatureError as exc:
        log.warning("%s webhook refused: %s", name, exc, extra={"event": "webhook.refused", "helpdesk": name})
        return jsonify(error="invalid or missing webhook signature"), 401
    except TestDelivery as exc:
        log.info("%s test delivery: %s; nothing stored", name, exc, extra={"event": "webhook.test", "helpdesk": name})
        return jsonify(status="test", message=TEST_MESSAGE.format(helpdesk=name)), 200
    try:
        event = receiver.parse(body, request.headers)
    except InvalidPayload as exc:
        log.info("%s webhook invalid: %s", name, exc, extra={"event": "webhook.invalid", "helpdesk": name})
        return jsonify(error=str(exc)), 400
    except IgnoredEvent as exc:
        log.info("%s webhook ignored: %s", name, exc, extra={"event": "webhook.ignored", "helpdesk": name})
        return jsonify(status="ignored", reason=str(exc)), 200
    return accept(event)


def accept(event: TicketEvent):
    """The shared accept step: an event with no handler is acknowledged and ignored; otherwise
    stored (deduplicated, or merged into the ticket's waiting run), then enqueued; the stored
    event is forgotten again when the enqueue fails, and the helpdesk is told to retry (503)."""
    if event.kind == EventKind.ACTIVITY:
        return _follow(event)
    route = route_for(event.helpdesk, event.kind)
    if route is None:
        log.info("%s webhook ignored: %s events are not processed", event.helpdesk, event.kind,
                 extra={"event": "webhook.ignored", "helpdesk": event.helpdesk})
        return jsonify(status="ignored", reason=f"{event.kind} events are not processed"), 200
    services = current_app.extensions["bot"]
    if services.rollout.ignores(event.helpdesk):
        log.info("%s webhook ignored: rollout is off", event.helpdesk,
                 extra={"event": "webhook.ignored", "helpdesk": event.helpdesk})
        return jsonify(status="ignored", reason=f"rollout is off for {event.helpdesk}"), 200
    store, enqueuer, settings = services.store, services.enqueuer, services.settings
    delay = settings.reply_merge_window if route.waits_for_more else 0.0
    what = f"{event.helpdesk} ticket {event.ticket_id}"
    try:
        acceptance = store.accept(event, merge=route.merges, delay=delay)
    except Exception:
        log.exception("store unavailable while accepting %s", what, extra={"event": "webhook.unavailable"})
        return _unavailable("temporarily unavailable, retry later")
    if acceptance.duplicate:
        log.info("%s webhook duplicate for %s: %s", event.helpdesk, what, acceptance.reason,
                 extra={"event": "webhook.duplicate", "helpdesk": event.helpdesk, "ticket_id": event.ticket_id})
        return jsonify(status="duplicate", reason=acceptance.reason), 200
    assert acceptance.run_id is not None
    if acceptance.outcome is Accepted.MERGED:
        log.info("%s: event %s joined waiting run %s", what, event.event_key, acceptance.run_id,
                 extra={"event": "webhook.merged", "run_id": acceptance.run_id})
        return jsonify(status="merged", run_id=acceptance.run_id), 202
    try:
        enqueuer.process_ticket(
            acceptance.run_id, countdown=delay if acceptance.outcome is Accepted.NEW else 0.0
        )
    except RetryableError as exc:
        log.error("enqueue failed for %s: %s", what, exc, extra={"event": "webhook.unavailable"})
        if acceptance.outcome is Accepted.NEW:
            try:
                store.forget(event, acceptance.run_id)
            except Exception:  # the sweep enqueues the run once it counts as stuck
                log.exception("could not forget run %s after a failed enqueue", acceptance.run_id)
        return _unavailable("queue unavailable, retry later")
    if acceptance.outcome is Accepted.REQUEUED:
        log.warning("%s: a redelivery found run %s stuck; re-enqueued it", what, acceptance.run_id,
                    extra={"event": "webhook.requeued", "run_id": acceptance.run_id})
    status = "requeued" if acceptance.outcome is Accepted.REQUEUED else "accepted"
    log.info("%s: %s, run %s", what, status, acceptance.run_id,
             extra={"event": "webhook.accepted", "helpdesk": event.helpdesk, "ticket_id": event.ticket_id,
                    "run_id": acceptance.run_id})
    return jsonify(status=status, run_id=acceptance.run_id), 202


def _follow(event: TicketEvent):
    """Activity on a ticket: mark it for the tracker (`bot.tracking`), which reads the whole
    history, so a duplicate or out-of-order event changes nothing. Only the first event of a
    burst enqueues a read; if that enqueue fails the mark stays and the follow-up sweep reads
    the ticket within SWEEP_INTERVAL, but the helpdesk is still told to retry (503)."""
    services = current_app.extensions["bot"]
    what = f"{event.helpdesk} ticket {event.ticket_id}"
    try:
        marked = records.mark_dirty(services.store, event.helpdesk, event.ticket_id)
    except Exception:
        log.exception("store unavailable while marking %s", what, extra={"event": "webhook.unavailable"})
        return _unavailable("temporarily unavailable, retry later")
    if marked is records.Marked.NOT_FOLLOWED:
        return jsonify(status="ignored", reason=marked.value), 200
    if marked is records.Marked.MARKED:
        try:
            services.enqueuer.track_ticket(event.helpdesk, event.ticket_id)
        except RetryableError as exc:
            log.error("enqueue failed for %s: %s", what, exc, extra={"event": "webhook.unavailable"})
            return _unavailable("queue unavailable, retry later")
    return jsonify(status="tracking", reason=marked.value), 202


def _raw_body() -> bytes:
    """The body's raw bytes (the signature covers them exactly), at most MAX_CONTENT_LENGTH.

    Flask refuses a declared Content-Length over the cap with 413 before reading. A chunked body
    declares none, and Werkzeug's capped stream then silently stops at the cap (the signature
    would fail: 401). So read the server's EOF-terminated input ourselves, one byte past the cap.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        return request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        raise LengthRequired()  # no length and no end: nothing safe to read
    stream, chunks, size = request.environ["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)
