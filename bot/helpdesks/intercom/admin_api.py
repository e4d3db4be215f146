"""The Intercom admin calls `setup intercom` and `doctor` make: plain JSON over the REST API with
the app's access token, pinned to the version the adapter uses.

- `Authorization: Bearer <token>`, `Intercom-Version: 2.14`.
  https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/update-your-api-version/
- Rate limits answer 429 with `X-RateLimit-Reset` (epoch seconds when the window resets): an
  operator's command waits until then (at most `MAX_WAIT` each time, `MAX_RETRIES` times).
  https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from bot.golive.plan import Call, SetupError
from bot.helpdesk_settings import IntercomSettings
from bot.helpdesks.intercom.client import API_VERSION

MAX_RETRIES = 5
MAX_WAIT = 60.0


class Refused(SetupError):
    """401/403: the access token is wrong, or lacks a permission."""


class IntercomAdminApi:
    def __init__(self, settings: IntercomSettings, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self._http = http_client or httpx.Client(timeout=settings.timeout)
        self._base = settings.url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {settings.access_token}", "Intercom-Version": API_VERSION,
                         "Accept": "application/json"}
        self._timeout = settings.timeout  # also for a client passed in (tests)
        self._sleep, self._clock = sleep, clock
        self.calls = 0  # requests made, for the summary

    def read(self, path: str) -> dict:
        return self._request(Call("GET", path))

    def send(self, call: Call) -> dict:
        return self._request(call)

    def _request(self, call: Call) -> dict:
        what = f"{call.method} {call.path}"
        for _ in range(MAX_RETRIES + 1):
            self.calls += 1
            try:
                response = self._http.request(call.method, self._base + call.path, headers=self._headers,
                                              json=call.body, timeout=self._timeout)
            except httpx.HTTPError as exc:
                raise SetupError(f"{what}: Intercom could not be reached ({type(exc).__name__}); "
                                 "check INTERCOM_URL") from None
            if response.status_code == 429:
                reset = _number(response.headers.get("X-RateLimit-Reset"))
                wait = reset - self._clock() if reset is not None else 10.0
                self._sleep(min(max(wait, 1.0), MAX_WAIT))
                continue
            return _answer(response, what)
        raise SetupError(f"{what}: still rate limited after {MAX_RETRIES} waits; try again later")


def _answer(response: httpx.Response, what: str) -> dict:
    status = response.status_code
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = {}
    if status in (401, 403):
        raise Refused(f"{what}: Intercom refused the access token ({status}): check INTERCOM_ACCESS_TOKEN "
                      "and the app's permissions")
    if status >= 400:
        errors = data.get("errors") if isinstance(data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        message = first.get("message") if isinstance(first, dict) else ""
        raise SetupError(f"{what}: Intercom answered {status}: {message or response.text[:200]}")
    return data if isinstance(data, dict) else {}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
