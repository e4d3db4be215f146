"""Helpdesk adapters: one module per helpdesk, behind the small `Helpdesk` interface."""

from __future__ import annotations

from bot.helpdesk.base import Helpdesk
from bot.settings import Settings


def make_helpdesk(settings: Settings) -> Helpdesk:
    if settings.helpdesk == "sample":
        from bot.helpdesk.sample import SampleHelpdesk

        return SampleHelpdesk.from_file(settings.sample_helpdesk_file)
    from bot.helpdesk.zendesk import ZendeskHelpdesk

    return ZendeskHelpdesk.from_settings(settings)


__all__ = ["Helpdesk", "make_helpdesk"]
