"""The ticket export (read-only, for training: `train --from-zendesk`), through the adapter's
authenticated GET. Not zenpy's `tickets.incremental` generators, which have had cursor-pagination
regressions (zenpy #559/#619/#657).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from bot.domain import Ticket
from bot.errors import RetryableError
from bot.helpdesks.zendesk import payload as shapes
from bot.helpdesks.zendesk.http import RateLimited, epoch_seconds

log = logging.getLogger(__name__)

# Cursor-based incremental ticket export; 10 requests/minute (30 with High Volume):
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
EXPORT_WAIT_WITHOUT_RETRY_AFTER = 60.0  # one whole rate-limit window


def export_tickets(get: Callable[..., dict], since: datetime, *,
                   sleep: Callable[[float], None] = time.sleep,
                   max_waits: int = 20) -> Iterator[Ticket]:
    """Every ticket created *or changed* since `since`, deleted ones skipped, yielded page by
    page as pages arrive (a ticket created earlier but updated since is included).

    `GET .../incremental/tickets/cursor.json?start_time=<epoch seconds>`, then
    `?cursor=<after_cursor>` alone ("You don't need a start time for the next page"), until
    `end_of_stream` is true; the last page still carries an `after_cursor` (for a later
    export), so `end_of_stream` is what stops. Admins only. Changes of the last minute are
    left out by Zendesk.
    https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api
    On 429, Zendesk recommends waiting `Retry-After` seconds (incremental_exports page,
    "Rate limits"): this waits with `sleep` (60 s without the header) and asks for the same
    page again, `max_waits` times per export at most; the next 429 raises `RateLimited`.
    Other failures raise as `_get` maps them (RetryableError / PermanentError).
    """
    params = {"start_time": str(epoch_seconds(since))}
    waits = 0
    while True:
        try:
            page = get(EXPORT_PATH, **params)
        except RateLimited as exc:
            waits += 1
            if waits > max_waits:
                raise
            delay = EXPORT_WAIT_WITHOUT_RETRY_AFTER if exc.retry_after is None else exc.retry_after
            log.info("ticket export rate limited (429): waiting %.0f s (%d/%d)", delay, waits, max_waits)
            sleep(delay)
            continue
        for item in page.get("tickets") or ():
            ticket = shapes.export_ticket_from_json(item)
            if ticket is not None:
                yield ticket
        if page.get("end_of_stream") is True:
            return
        cursor = page.get("after_cursor")
        if not cursor:
            raise RetryableError("Zendesk ticket export: end_of_stream is false but no after_cursor")
        params = {"cursor": cursor}
