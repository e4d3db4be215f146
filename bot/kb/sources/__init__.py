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
            from bot.kb.sources.zendesk_guide import ZendeskGuideSource

            sources.append(
                ZendeskGuideSource(
                    base_url=settings.zendesk_base_url,
                    email=settings.zendesk_email,
                    api_token=settings.zendesk_api_token,
                    locales=settings.kb_locales,
                    timeout=settings.zendesk_timeout,
                )
            )
        elif name == "intercom":
            from bot.kb.sources.intercom_help import IntercomHelpSource

            sources.append(
                IntercomHelpSource(
                    access_token=settings.intercom_access_token,
                    base_url=settings.intercom_api_url,
                    locales=settings.kb_locales,
                    timeout=settings.intercom_timeout,
                )
            )
        else:
            raise ValueError(f"unknown knowledge source {name!r}")
    return sources
