"""The settings of each helpdesk, grouped (`Settings.zendesk`, `Settings.intercom`): what is read
from the environment for it, whether it is served, and what it still needs.

A helpdesk is served when its settings are set, with no switch: any Zendesk credential makes a
Zendesk account, an Intercom client secret or admin id an Intercom workspace. Then every
setting it needs is required, and start-up names the missing ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.env_reader import EnvReader

# Zendesk's published secret for "Test webhook" deliveries (bot/helpdesks/zendesk/webhook.py).
ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


@dataclass(frozen=True)
class ZendeskSettings:
    """ZENDESK_*: a Zendesk account is served when any of its credentials is set."""

    subdomain: str = ""
    email: str = ""
    api_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    url: str = ""  # overrides https://{subdomain}.zendesk.com for every API call
    bot_user_id: str = ""  # the bot's own identity: events caused by this user never trigger a run
    timeout: float = 20.0
    # A multi-line text ticket field the draft is also written to, for the "use AI draft" macro
    # (config/zendesk/macro_use_ai_draft.json); "" writes none.
    draft_field_id: str = ""

    @classmethod
    def from_reader(cls, reader: EnvReader) -> ZendeskSettings:
        draft_field = reader.text("ZENDESK_DRAFT_FIELD_ID")
        if draft_field and not (draft_field.isascii() and draft_field.isdigit()):
            reader.errors.append(
                f"ZENDESK_DRAFT_FIELD_ID must be a ticket field's numeric id, got {draft_field!r}"
            )
            draft_field = ""
        return cls(
            draft_field_id=draft_field,
            subdomain=reader.text("ZENDESK_SUBDOMAIN"),
            email=reader.text("ZENDESK_EMAIL"),
            api_token=reader.text("ZENDESK_API_TOKEN"),
            webhook_secret=reader.text("ZENDESK_WEBHOOK_SECRET"),
            url=reader.url("ZENDESK_URL", schemes=("http", "https")),
            bot_user_id=reader.text("ZENDESK_BOT_USER_ID"),
            timeout=reader.number("ZENDESK_TIMEOUT", cls.timeout),
        )

    @property
    def configured(self) -> bool:
        return bool(self.subdomain or self.url or self.email or self.api_token)

    @property
    def base_url(self) -> str:
        if self.url:
            return self.url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"

    def missing_credentials(self) -> list[str]:
        """The settings an API call to Zendesk needs and does not have."""
        return [
            name
            for name, value in (
                ("ZENDESK_SUBDOMAIN or ZENDESK_URL", self.subdomain or self.url),
                ("ZENDESK_EMAIL", self.email),
                ("ZENDESK_API_TOKEN", self.api_token),
            )
            if not value
        ]


@dataclass(frozen=True)
class IntercomSettings:
    """INTERCOM_*: an Intercom workspace is served when its client secret or admin is set (the
    access token alone also serves an Intercom help center to another helpdesk's tickets)."""

    access_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)  # the app's, signs the webhooks
    admin_id: str = ""  # the bot's own identity: the admin its notes are written as
    url: str = "https://api.intercom.io"  # every API call; the workspace's region, a proxy, a test
    timeout: float = 20.0

    @classmethod
    def from_reader(cls, reader: EnvReader) -> IntercomSettings:
        if reader.text("INTERCOM_API_URL"):
            reader.errors.append("INTERCOM_API_URL is now INTERCOM_URL: rename it")
        return cls(
            access_token=reader.text("INTERCOM_ACCESS_TOKEN"),
            client_secret=reader.text("INTERCOM_CLIENT_SECRET"),
            admin_id=reader.text("INTERCOM_ADMIN_ID"),
            url=reader.url("INTERCOM_URL", schemes=("http", "https")) or cls.url,
            timeout=reader.number("INTERCOM_TIMEOUT", cls.timeout),
        )

    @property
    def configured(self) -> bool:
        return bool(self.client_secret or self.admin_id)


def helpdesk_problems(
    zendesk: ZendeskSettings, intercom: IntercomSettings, kb_sources: tuple[str, ...], sample: bool
) -> list[str]:
    """What the served helpdesks (and the help centers in KB_SOURCES) still need. `sample`: the
    demo's helpdesks, which need no credentials (but Zendesk's webhook secret, to sign)."""
    problems: list[str] = []
    missing = zendesk.missing_credentials()
    if zendesk.configured and not sample:
        problems.extend(f"{name} is not set" for name in missing)
    elif "zendesk" in kb_sources and missing:
        problems.append(f"KB_SOURCES has zendesk, which needs {', '.join(missing)}")
    if zendesk.url and urlsplit(zendesk.url).path not in ("", "/"):
        # zenpy can only be redirected by host and scheme (ZENPY_FORCE_NETLOC/SCHEME).
        problems.append("ZENDESK_URL must be scheme://host[:port] with no path")
    if (zendesk.configured or sample) and not zendesk.webhook_secret:
        # Fail closed: without a secret no webhook could be verified.
        problems.append("ZENDESK_WEBHOOK_SECRET is not set (webhooks cannot be verified)")
    if zendesk.webhook_secret == ZENDESK_TEST_SECRET:
        problems.append(
            "ZENDESK_WEBHOOK_SECRET is Zendesk's public test secret, which anyone can sign with: "
            "set the webhook's own (`python -m bot setup zendesk` prints it)"
        )
    if intercom.configured and not sample:
        for name, value, why in (
            ("INTERCOM_ACCESS_TOKEN", intercom.access_token, "the API cannot be called"),
            ("INTERCOM_CLIENT_SECRET", intercom.client_secret, "webhooks cannot be verified"),
            ("INTERCOM_ADMIN_ID", intercom.admin_id, "the admin the bot's notes are written as"),
        ):
            if not value:
                problems.append(f"{name} is not set ({why})")
    elif "intercom" in kb_sources and not intercom.access_token:
        problems.append("INTERCOM_ACCESS_TOKEN is not set (required when KB_SOURCES has intercom)")
    return problems
