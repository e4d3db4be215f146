"""Builds the worker's dependencies from settings: the one place adapters are chosen."""

from __future__ import annotations

from bot.db import make_engine
from bot.helpdesk import make_helpdesk
from bot.kb.retrieval import KnowledgeBase
from bot.kb.store import ArticleStore
from bot.llm import make_llm
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.store import Store


def build_worker(settings: Settings) -> Worker:
    engine = make_engine(settings.database_url)
    policy = load_policy(settings.policy_file)
    return Worker(
        helpdesk=make_helpdesk(settings),
        llm=make_llm(
            settings.llm_provider,
            api_key=settings.openai_api_key or None,
            base_url=settings.openai_base_url or None,
            model=settings.llm_model or None,
            timeout=settings.llm_timeout,
            offline_config=settings.offline_config,
        ),
        store=Store(engine),
        policy=policy,
        prompts=load_prompts(settings.prompts_dir),
        settings=settings,
        # Built lazily at the first ticket, and again whenever a sync changes the articles.
        knowledge=KnowledgeBase.from_settings(
            settings, ArticleStore(engine), policy.knowledge.default_language
        ),
    )


def check_configuration(settings: Settings) -> None:
    """Load everything a worker reads from files; raises SettingsError naming the problem."""
    load_policy(settings.policy_file)
    load_prompts(settings.prompts_dir)
    if settings.kb_ranking == "hybrid":
        from bot.kb.semantic import Embedder

        Embedder(settings.kb_embedding_model or None)  # installed, and the model loads
