"""What the Intercom adapter and the Help Center source share: the SDK client, pinned to one API
version with its retries off, and one mapping of its failures onto `RetryableError` /
`PermanentError`. Only this folder's modules import python-intercom.

- python-intercom 5.x sends no `Intercom-Version` header, so the app's default version (set in
  the Developer Hub) would apply; the header pins the version the SDK is generated from.
  https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/update-your-api-version/
- python-intercom 5.0.1's retry counter starts at 2, so it never retries by default, and
  `max_retries=N` would mean N-2 retries, including 409s of a non-idempotent `POST .../reply`.
  It is told 0 explicitly in case a fixed SDK starts retrying: the Celery task owns retries.
  https://github.com/intercom/python-intercom/blob/main/src/intercom/core/http_client.py
- Rate limits answer 429 with `X-RateLimit-Reset` (epoch seconds when the window resets).
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pydantic
from intercom import Intercom
from intercom.core.api_error import ApiError

from bot.errors import PermanentError, RetryableError
from bot.helpdesks.intercom.help_center_payload import error_detail

API_VERSION = "2.14"  # the version python-intercom 5.x is generated from
NO_SDK_RETRIES: Any = {"max_retries": 0}  # a RequestOptions for every SDK call
REGIONS = "https://api.intercom.io, https://api.eu.intercom.io or https://api.au.intercom.io"


def make_client(token: str, base_url: str, timeout: float, http_client: httpx.Client | None = None) -> Intercom:
    return Intercom(
        token=token,
        base_url=base_url.rstrip("/"),
        headers={"Intercom-Version": API_VERSION},
        timeout=timeout,
        httpx_client=http_client,
    )


def as_json(model: Any) -> dict:
    """An SDK object as the JSON Intercom sent (keys as sent, fields the SDK does not know
    kept). The SDK builds its objects without validation, so a value of another type than its
    model says (`team_assignee_id` is an integer in the spec, a string in the SDK) is kept as
    sent; `warnings=False` keeps pydantic from warning about it on every call."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    dumped = model.dict(warnings=False)
    return dumped if isinstance(dumped, dict) else {}


class Caller:
    """Runs SDK calls, turning their failures into the bot's named errors.

    `auth_hint` says what to check on 401/403 (`{base}` is the base URL); `not_found` what a
    404 means for the caller (a missing conversation, or a wrong base URL)."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        auth_hint: str,
        not_found: str,
        now: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.auth_hint = auth_hint
        self.not_found = not_found
        self.now = now

    def __call__(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ApiError as exc:
            raise self.api_error(what, exc) from exc
        except httpx.UnsupportedProtocol as exc:
            raise PermanentError(f"Intercom {what}: {exc}; check the Intercom base URL {self.base_url!r}") from exc
        except httpx.TimeoutException as exc:
            raise RetryableError(f"Intercom {what}: no answer within {self.timeout:g} s") from exc
        except httpx.RequestError as exc:
            raise RetryableError(f"Intercom {what}: {type(exc).__name__}: {exc}") from exc
        except (pydantic.ValidationError, TypeError) as exc:
            # JSON of another shape than the SDK's model (a list, a string: a proxy's page, a
            # body cut short): python-intercom fails building its object. A body that is not
            # JSON at all is an `ApiError` with the status Intercom sent (see `api_error`).
            raise RetryableError(f"Intercom {what}: an answer python-intercom could not read "
                                 f"({type(exc).__name__}: {str(exc)[:200]})") from exc

    def api_error(self, what: str, exc: ApiError) -> Exception:
        status = exc.status_code or 0
        body = exc.body.dict(warnings=False) if hasattr(exc.body, "dict") else exc.body
        detail = error_detail(body)
        message = f"Intercom {what} answered HTTP {status}" + (f" ({detail})" if detail else "")
        if status in (401, 403):
            return PermanentError(f"{message}: {self.auth_hint.format(base=self.base_url)}")
        if status == 404:
            return PermanentError(f"{message}: {self.not_found.format(base=self.base_url)}")
        if status == 429:
            return RetryableError(message, retry_after=retry_after(exc.headers or {}, self.now()))
        if status in (408, 409) or status >= 500 or status < 400:  # < 400: a 2xx that was not JSON
            return RetryableError(message)
        return PermanentError(message)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait after a 429: `Retry-After` (seconds or an HTTP date), else Intercom's
    `X-RateLimit-Reset` (epoch seconds) minus now, at least 1 s: the header is in whole seconds,
    so a window resetting "now" may still be closed for most of a second."""
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
            except (TypeError, ValueError):
                pass
    try:
        return max(float(lower["x-ratelimit-reset"]) - now, 1.0)
    except (KeyError, ValueError):
        return None
