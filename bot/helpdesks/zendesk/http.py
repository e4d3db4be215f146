"""Zendesk's HTTP answers, in the bot's failure vocabulary: a 429 raised before zenpy can sleep
on it, and every status mapped onto `RetryableError` / `PermanentError`.

https://developer.zendesk.com/api-reference/introduction/rate-limits/ (429 with Retry-After)
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from bot.errors import PermanentError, RetryableError


class RateLimited(RetryableError):
    pass


def raise_on_rate_limit(response: requests.Response, *args, **kwargs) -> None:
    if response.status_code == 429:
        retry_after = seconds_or_none(response.headers.get("Retry-After"))
        raise RateLimited(f"Zendesk rate limit (429) on {response.request.method} "
                          f"{urlsplit(response.url).path}", retry_after=retry_after)


def seconds_or_none(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def epoch_seconds(moment: datetime) -> int:
    """A naive datetime is taken as UTC (as `payload.parse_time` does)."""
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def raise_for_status(status: int, what: str, body: str) -> None:
    if status < 400:
        return
    detail = body[:200]
    if status == 404:
        raise PermanentError(f"{what}: not found in Zendesk (404)")
    if status in (401, 403):
        raise PermanentError(f"{what}: Zendesk refused our credentials ({status})")
    if status in (408, 409) or status >= 500:
        raise RetryableError(f"{what}: Zendesk answered {status}")
    raise PermanentError(f"{what}: Zendesk answered {status}: {detail}")
