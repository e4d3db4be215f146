"""The Zendesk admin calls `setup` and `doctor` make: plain JSON over the account's API, with
the same credentials as the adapter. zenpy is not used here: it has no call for a webhook's
signing secret, and these are a few reads and writes of configuration, not tickets.

- Authentication: `{email}/token:{api_token}` with HTTP Basic.
  https://developer.zendesk.com/api-reference/introduction/security-and-auth/
- Rate limits: a 429 carries `Retry-After` (seconds). An operator's command may wait, so it
  sleeps that long (at most `MAX_WAIT` each time, `MAX_RETRIES` times) instead of failing.
  https://developer.zendesk.com/api-reference/introduction/rate-limits/
- Lists are followed page by page: offset pagination gives `next_page`, cursor pagination
  `meta.has_more` and `links.next`. https://developer.zendesk.com/api-reference/introduction/pagination/
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import requests

from bot.golive.plan import Call, SetupError
from bot.helpdesk_settings import ZendeskSettings
from bot.helpdesks.zendesk.http import seconds_or_none


class Refused(SetupError):
    """401/403: the credentials are wrong, or the user may not do this (not an admin)."""


MAX_RETRIES = 5
MAX_WAIT = 60.0
MAX_PAGES = 50


class ZendeskAdminApi:
    def __init__(self, settings: ZendeskSettings, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base = settings.base_url
        self._session = session or requests.Session()
        self._session.auth = (f"{settings.email}/token", settings.api_token)
        self._session.headers["Accept"] = "application/json"
        self._timeout = settings.timeout
        self._sleep = sleep
        self.calls = 0  # requests made, for the summary

    def read(self, path: str) -> dict:
        return self._request(Call("GET", path))

    def send(self, call: Call) -> dict:
        return self._request(call)

    def read_all(self, path: str, key: str) -> Iterator[dict]:
        """Every item of a list endpoint, across its pages."""
        url: str | None = path
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page = self._request(Call("GET", url))
            yield from page.get(key) or ()
            url = _next_page(page)
        raise SetupError(f"GET {path}: more than {MAX_PAGES} pages; stopped")

    def _request(self, call: Call) -> dict:
        url = call.path if call.path.startswith("http") else self.base + call.path
        what = f"{call.method} {urlsplit(url).path}"
        for _ in range(MAX_RETRIES + 1):
            self.calls += 1
            try:
                response = self._session.request(call.method, url, json=call.body, timeout=self._timeout)
            except requests.RequestException as exc:
                raise SetupError(f"{what}: Zendesk could not be reached ({type(exc).__name__}); "
                                 f"check ZENDESK_SUBDOMAIN / ZENDESK_URL") from None
            if response.status_code == 429:
                wait = seconds_or_none(response.headers.get("Retry-After")) or 10.0
                self._sleep(min(wait, MAX_WAIT))
                continue
            return _answer(response, what)
        raise SetupError(f"{what}: still rate limited after {MAX_RETRIES} waits; try again later")


def _answer(response: requests.Response, what: str) -> dict:
    status = response.status_code
    if status in (401, 403):
        raise Refused(f"{what}: Zendesk refused the credentials ({status}); setup needs an "
                      "admin's ZENDESK_EMAIL and ZENDESK_API_TOKEN")
    if status == 404:
        raise SetupError(f"{what}: not found (404)")
    if status >= 400:
        raise SetupError(f"{what}: Zendesk answered {status}: {_detail(response)}")
    if status == 204 or not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        raise SetupError(f"{what}: Zendesk answered {status} with a body that is not JSON") from None
    return data if isinstance(data, dict) else {}


def _detail(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        details = data.get("details") or data.get("errors") or data.get("description") or data.get("error")
        return str(details)[:300]
    return str(data)[:300]


def _next_page(page: dict) -> str | None:
    if isinstance(page.get("next_page"), str):
        return page["next_page"]
    meta, links = page.get("meta") or {}, page.get("links") or {}
    if meta.get("has_more") and isinstance(links.get("next"), str):
        return links["next"]
    return None
