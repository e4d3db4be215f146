"""The LLM layer: one protocol, two providers (offline keyword engine, OpenAI).

Importing this package never imports `openai`: the offline setup must work without it.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import SettingsError
from bot.llm.base import LLM, DraftRequest, TriageRequest
from bot.llm.offline import OfflineEngine

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

__all__ = ["LLM", "TriageRequest", "DraftRequest", "OfflineEngine", "make_llm"]


def make_llm(
    provider: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    timeout: float = 30.0,
    offline_config: str | Path,
) -> LLM:
    if provider == "offline":
        return OfflineEngine.from_file(offline_config)
    if provider == "openai":
        from bot.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(
            api_key=api_key or "",
            model=model or DEFAULT_OPENAI_MODEL,
            base_url=base_url or None,
            timeout=timeout,
        )
    raise SettingsError(f"LLM_PROVIDER must be 'offline' or 'openai', got {provider!r}")
