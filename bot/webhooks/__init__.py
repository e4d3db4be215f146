"""The web tier: verify the raw bytes, parse into a `TicketEvent`, deduplicate, enqueue, 2xx.

Status codes are part of the contract with the helpdesk's retry logic:
401 forged/unsigned (not retried), 400 malformed (not retried), 413 too large, 200 ignored or
duplicate, 202 accepted after the enqueue, 503 when the store or broker is down. Zendesk
retries a 503 only when it carries `Retry-After` under 60 s, so every 503 here does:
https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/
(retry logic: "429 and 503 ... if the retry-after header is less than 60 seconds").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import LengthRequired, RequestEntityTooLarge

from bot.errors import IgnoredEvent, InvalidPayload, RetryableError
from bot.store import Accepted
from bot.webhooks import zendesk

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)
RETRY_AFTER_SECONDS = "10"


def _unavailable(message: str):
    response = jsonify(error=message)
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


@blueprint.post("/webhooks/zendesk")
def zendesk_webhook():
    services = current_app.extensions["bot"]
    settings = services.settings
    body = _raw_body()
    try:
        zendesk.verify(
            settings.zendesk_webhook_secret,
            request.headers,
            body,
            now=datetime.now(UTC),
            max_skew_seconds=settings.webhook_max_skew,
        )
    except zendesk.SignatureError as exc:
        log.warning("zendesk webhook refused: %s", exc)
        return jsonify(error="invalid or missing webhook signature"), 401
    try:
        event = zendesk.parse(body, request.headers)
    except InvalidPayload as exc:
        return jsonify(error=str(exc)), 400
    except IgnoredEvent as exc:
        log.info("zendesk webhook ignored: %s", exc)
        return jsonify(status="ignored", reason=str(exc)), 200
    bot_user = settings.zendesk_bot_user_id
    if bot_user and event.actor_id == bot_user:
        log.info("zendesk webhook ignored: caused by the bot itself (ticket %s)", event.ticket_id)
        return jsonify(status="ignored", reason="caused by the bot's own user"), 200

    store, enqueuer = services.store, services.enqueuer
    try:
        acceptance = store.accept(event)
    except Exception:
        log.exception("store unavailable while accepting ticket %s", event.ticket_id)
        return _unavailable("temporarily unavailable, retry later")
    if acceptance.duplicate:
        log.info("zendesk webhook duplicate for ticket %s: %s", event.ticket_id, acceptance.reason)
        return jsonify(status="duplicate", reason=acceptance.reason), 200
    assert acceptance.run_id is not None
    try:
        enqueuer.process_ticket(acceptance.run_id)
    except RetryableError as exc:
        log.error("enqueue failed for ticket %s: %s", event.ticket_id, exc)
        if acceptance.outcome is Accepted.NEW:
            try:
                store.forget(event, acceptance.run_id)
            except Exception:  # the sweep enqueues the run once it counts as stuck
                log.exception("could not forget run %s after a failed enqueue", acceptance.run_id)
        return _unavailable("queue unavailable, retry later")
    if acceptance.outcome is Accepted.REQUEUED:
        log.warning("ticket %s: a redelivery found run %s stuck; re-enqueued it",
                    event.ticket_id, acceptance.run_id)
    status = "requeued" if acceptance.outcome is Accepted.REQUEUED else "accepted"
    return jsonify(status=status, run_id=acceptance.run_id), 202


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
