"""The LLM layer: one protocol, three providers (the local engine, OpenAI, and the hybrid of
both).

Importing this package never imports `openai`: the offline setup must work without it.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import SettingsError
from bot.llm.base import LLM, DraftRequest, TriageRequest
from bot.llm.offline import OfflineEngine
from bot.settings import DEFAULT_MODEL_DIR

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

__all__ = ["LLM", "TriageRequest", "DraftRequest", "OfflineEngine", "make_llm", "llm_from_settings"]


def make_llm(
    provider: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    timeout: float = 30.0,
    offline_config: str | Path,
    model_dir: str | Path | None = None,
    hybrid_bar: float = 0.85,
    hybrid_drafts: str = "llm",
) -> LLM:
    if provider not in ("offline", "openai", "hybrid"):
        raise SettingsError(f"LLM_PROVIDER must be 'offline', 'openai' or 'hybrid', got {provider!r}")
    if provider in ("openai", "hybrid"):
        from bot.llm.openai_provider import OpenAIProvider

        remote = OpenAIProvider(
            api_key=api_key or "",
            model=model or DEFAULT_OPENAI_MODEL,
            base_url=base_url or None,
            timeout=timeout,
        )
        if provider == "openai":
            return remote
    local = OfflineEngine.from_files(offline_config, model_dir or DEFAULT_MODEL_DIR)
    if provider == "offline":
        return local
    from bot.llm.hybrid import HybridEngine

    return HybridEngine(local, remote, bar=hybrid_bar, drafts=hybrid_drafts)


def llm_from_settings(settings) -> LLM:
    return make_llm(
        settings.llm_provider,
        api_key=settings.openai_api_key or None,
        base_url=settings.openai_base_url or None,
        model=settings.llm_model or None,
        timeout=settings.llm_timeout,
        offline_config=settings.offline_config,
        model_dir=settings.local_model_dir,
        hybrid_bar=settings.hybrid_confidence_bar,
        hybrid_drafts=settings.hybrid_drafts,
    )
