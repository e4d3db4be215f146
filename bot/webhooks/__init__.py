"""The web tier: verify the raw bytes, parse into a `TicketEvent`, deduplicate, enqueue, 2xx.

Status codes are part of the contract with the helpdesk's retry logic:
401 forged/unsigned (not retried), 400 malformed (not retried), 200 ignored or duplicate,
202 accepted after the enqueue, 503 when the store or broker is down. Zendesk retries a 503
only when it carries `Retry-After` under 60 s, so every 503 here does (vendor-apis.md 1.6).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request

from bot.errors import IgnoredEvent, InvalidPayload, RetryableError
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
    body = request.get_data(cache=False)  # raw bytes: the signature covers them exactly
    try:
        zendesk.verify(
            settings.zendesk_webhook_secret,
            request.headers,
            body,
            now=datetime.now(timezone.utc),
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
    try:
        enqueuer.process_ticket(acceptance.run_id)
    except RetryableError as exc:
        log.error("enqueue failed for ticket %s: %s", event.ticket_id, exc)
        try:
            store.forget(event, acceptance.run_id)
        except Exception:  # the retry will then be taken for a duplicate: say so loudly
            log.exception("could not forget run %s after a failed enqueue", acceptance.run_id)
        return _unavailable("queue unavailable, retry later")
    return jsonify(status="accepted", run_id=acceptance.run_id), 202
