"""Where approved articles come from: one module per source, each yielding `SyncBatch`es.

Only `intercom_help.py` imports the Intercom SDK; `zendesk_guide.py` speaks HTTP with
`requests` (zenpy's Help Center support has no incremental export).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.kb.sources.base import ArticleSource
    from bot.settings import Settings


def make_sources(settings: Settings, names: tuple[str, ...] | None = None) -> list[ArticleSource]:
    """The configured help centers (KB_SOURCES), or just `names` among them."""
    chosen = settings.kb_sources if names is None else names
    sources: list[ArticleSource] = []
    for name in chosen:
        if name == "zendesk":
            from bot.helpdesks.zendesk.guide import ZendeskGuideSource

            sources.append(
                ZendeskGuideSource(
                    base_url=settings.zendesk.base_url,
                    email=settings.zendesk.email,
                    api_token=settings.zendesk.api_token,
                    locales=settings.kb_locales,
                    timeout=settings.zendesk.timeout,
                )
            )
        elif name == "intercom":
            from bot.helpdesks.intercom.help_center import IntercomHelpSource

            sources.append(
                IntercomHelpSource(
                    access_token=settings.intercom.access_token,
                    base_url=settings.intercom.url,
                    locales=settings.kb_locales,
                    timeout=settings.intercom.timeout,
                )
            )
        else:
            raise ValueError(f"unknown knowledge source {name!r}")
    return sources
