"""`python -m bot doctor`: every check a deployment needs to pass, one line each, with the fix
for each failure; the exit code is non-zero when any fails.

Settings, policy and prompts, the database and its migrations, the broker, the public URL (the
helpdesks must reach it), each helpdesk (credentials with a harmless authenticated read, the
webhook and triggers `setup` creates, the policy's group or team ids), the LLM (reachable, the
model served, strict structured output) and the help-center sync. Unlike `check` (what a
process needs to start), doctor also asks the outside world.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import requests

from bot.errors import SettingsError
from bot.settings import Settings


class Status(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    WARN = "warn"
    INFO = "info"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.value:<4} {self.name}: {self.detail}"
        return text + (f"  -> fix: {self.fix}" if self.fix else "")


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def diagnose(environ: Mapping[str, str] | None = None,
             get: Callable[..., requests.Response] = requests.get) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    checks: list[Check] = []
    try:
        settings = Settings.from_env(environ)
        served = ", ".join(settings.helpdesks) or "none"
        checks.append(ok("settings", f"valid (helpdesks: {served}; LLM_PROVIDER={settings.llm_provider})"))
    except SettingsError as exc:
        checks += [fail("settings", problem, "set it as README, Settings, says") for problem in _problems(exc)]
        try:  # go on with what does not need the missing settings
            settings = Settings.from_env(environ, services=False)
        except SettingsError:
            return checks
    checks += _configuration(settings)
    checks += _services(settings)
    checks += _public_url(settings, get)
    for helpdesk in settings.helpdesks if settings.helpdesk != "sample" else ():
        checks += _helpdesk(helpdesk, settings)
    checks += _llm(settings)
    if any(c.name == "database" and c.status is Status.FAIL for c in checks):
        checks.append(Check("help center", Status.INFO, "not checked: the database is not ready"))
    else:
        checks += _help_center(settings)
    checks += _rollout(settings)
    return checks


def _problems(exc: SettingsError) -> list[str]:
    lines = [line.strip()[2:] for line in str(exc).splitlines() if line.strip().startswith("- ")]
    return lines or [str(exc)]


def _configuration(settings: Settings) -> list[Check]:
    from bot.runtime import check_configuration

    try:
        warnings = check_configuration(settings)
    except SettingsError as exc:
        return [fail("policy and prompts", line, f"correct {settings.policy_file} or PROMPTS_DIR")
                for line in str(exc).splitlines() if line.strip()]
    return [ok("policy and prompts", f"valid ({settings.policy_file})"),
            *(Check("policy and prompts", Status.WARN, w) for w in warnings)]


def _services(settings: Settings) -> list[Check]:
    from bot.checks import check_services

    checks = []
    for result in check_services(settings):
        name, _, detail = result.line.partition(": ")
        if result.ok:  # "ok (sqlite:///..., schema at revision 0006)": the status is the line's mark
            checks.append(ok(name, detail[4:-1] if detail.startswith("ok (") and detail.endswith(")") else detail))
        else:  # the line ends with its fix after the last ": " (bot.checks' convention)
            what, _, fix = detail.rpartition(": ")
            checks.append(fail(name, what or detail, fix if what else "see the message"))
    minutes = math.ceil(settings.recovery_bound_seconds / 60)
    checks.append(Check("recovery", Status.INFO, f"every accepted ticket gets a note or ai_failed within "
                                                 f"{minutes} minutes of arrival (with the beat process running)"))
    return checks


def _public_url(settings: Settings, get: Callable[..., requests.Response]) -> list[Check]:
    if settings.helpdesk == "sample":
        return []
    if not settings.public_url:
        return [fail("public URL", "PUBLIC_URL is not set, so nothing tells where the helpdesks deliver",
                     "set PUBLIC_URL=https://<this deployment>")]
    url = settings.public_url + "/healthz"
    try:
        response = get(url, timeout=5)
    except requests.RequestException as exc:
        return [fail("public URL", f"{url} does not answer ({type(exc).__name__})",
                     "make PUBLIC_URL reach the web process (DNS, TLS certificate, proxy, firewall)")]
    if response.status_code != 200 or "ok" not in response.text:
        return [fail("public URL", f"{url} answered {response.status_code}, not this bot's health check",
                     "point PUBLIC_URL (or the proxy behind it) at `python -m bot serve`")]
    notes = [] if url.startswith("https://") else [Check("public URL", Status.WARN, "not HTTPS: Intercom "
                                                         "refuses such webhook URLs; Zendesk sends over it in clear")]
    return [ok("public URL", f"{url} answers"), *notes]


def _helpdesk(helpdesk: str, settings: Settings) -> list[Check]:
    from bot.policy import load_policy

    try:
        policy = load_policy(settings.policy_file)
    except SettingsError:
        return []  # reported with the policy
    if helpdesk == "zendesk":
        from bot.helpdesks.zendesk.doctor import zendesk_checks

        return zendesk_checks(settings, policy)
    from bot.helpdesks.intercom.doctor import intercom_checks

    return intercom_checks(settings, policy)


def _llm(settings: Settings) -> list[Check]:
    if settings.llm_provider == "offline":
        return [ok("LLM", "the local engine (no network, no key); loaded with the configuration")]
    from bot.llm.openai_provider import OpenAIProvider

    provider = OpenAIProvider(settings.openai_api_key, settings.llm_model or "gpt-4o-mini",
                              settings.openai_base_url or None, timeout=min(settings.llm_timeout, 20.0))
    checks = []
    for name, passed, detail, fix in provider.probe():
        checks.append(ok(f"LLM {name}", detail) if passed else fail(f"LLM {name}", detail, fix))
    return checks


def _help_center(settings: Settings) -> list[Check]:
    if not settings.kb_sources:
        return [Check("help center", Status.INFO, "no KB_SOURCES: drafts cite only files imported with `kb import`")]
    from bot.db import make_engine
    from bot.kb.store import ArticleStore

    try:
        stats = {s["source"]: s for s in ArticleStore(make_engine(settings.database_url)).stats()}
    except Exception as exc:  # the database check says why
        return [fail("help center", f"cannot read the articles ({type(exc).__name__})", "fix the database first")]
    checks = []
    now = datetime.now(UTC)
    for source in settings.kb_sources:
        state = stats.get(source) or {}
        name = f"help center {source}"
        if state.get("last_error"):
            checks.append(fail(name, f"last sync failed: {state['last_error']}", "python -m bot kb sync"))
        elif not state.get("articles"):
            checks.append(fail(name, "no articles synced: every draft would say it has no source",
                               "python -m bot kb sync (and keep the beat process running)"))
        else:
            synced = state.get("last_synced_at")
            age = (now - datetime.fromisoformat(synced).replace(tzinfo=UTC)).total_seconds() if synced else None
            stale = settings.kb_sync_interval and age is not None and age > 2 * settings.kb_sync_interval
            detail = f"{state['articles']} articles, last synced {synced or 'never'}"
            checks.append(Check(name, Status.WARN, detail + " (late: is the beat process running?)")
                          if stale else ok(name, detail))
    return checks


def _rollout(settings: Settings) -> list[Check]:
    from bot.domain import CATEGORIES
    from bot.policy import load_policy

    try:
        rollout = load_policy(settings.policy_file).rollout
    except SettingsError:
        return []
    return [Check("rollout", Status.INFO, rollout.describe(h, tuple(CATEGORIES))) for h in settings.helpdesks]
