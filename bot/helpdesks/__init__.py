"""The helpdesks a deployment serves, and the one place their adapters and webhook receivers
are built: one folder per helpdesk (`zendesk/`, `intercom/`), each with its webhook receiver,
its adapter, the vendor's payload shapes, its help-center source and its fixtures.

Which helpdesks are served follows from which settings are set (`Settings.helpdesks`): Zendesk
credentials, Intercom's, or both at once. Each run names its helpdesk (`runs.helpdesk`), and the
worker hands it to that helpdesk's adapter. Adding a helpdesk: README, "Adding a helpdesk".
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import PermanentError
from bot.helpdesks.base import Helpdesk, WebhookReceiver
from bot.settings import Settings


def make_helpdesks(settings: Settings) -> dict[str, Helpdesk]:
    """An adapter per served helpdesk, by name. Vendor SDKs are imported only here, lazily."""
    if settings.helpdesk == "sample":
        from bot.helpdesks.sample import sample_helpdesks

        return sample_helpdesks(settings.sample_helpdesk_file)
    adapters: dict[str, Helpdesk] = {}
    if "zendesk" in settings.helpdesks:
        from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk

        adapters["zendesk"] = ZendeskHelpdesk.from_settings(settings.zendesk)
    if "intercom" in settings.helpdesks:
        from bot.helpdesks.intercom.adapter import IntercomHelpdesk

        adapters["intercom"] = IntercomHelpdesk.from_settings(settings.intercom)
    return adapters


def make_receivers(settings: Settings) -> dict[str, WebhookReceiver]:
    """The webhook receiver of each served helpdesk, by the name in its URL path
    (`POST /webhooks/<name>`): pure modules, no SDK."""
    receivers: dict[str, WebhookReceiver] = {}
    if "zendesk" in settings.helpdesks:
        from bot.helpdesks.zendesk.webhook import ZendeskWebhook

        receivers["zendesk"] = ZendeskWebhook(settings.zendesk, settings.webhook_max_skew)
    if "intercom" in settings.helpdesks:
        from bot.helpdesks.intercom.webhook import IntercomWebhook

        receivers["intercom"] = IntercomWebhook(settings.intercom)
    return receivers


def adapter_for(helpdesks: Mapping[str, Helpdesk], name: str) -> Helpdesk:
    """The adapter of a run's helpdesk. A run of a helpdesk this deployment no longer serves
    (its settings were removed) fails with a message saying so."""
    try:
        return helpdesks[name]
    except KeyError:
        served = ", ".join(sorted(helpdesks)) or "none"
        raise PermanentError(
            f"this run is for {name}, which this deployment does not serve (serves: {served})"
        ) from None


__all__ = ["Helpdesk", "WebhookReceiver", "adapter_for", "make_helpdesks", "make_receivers"]
