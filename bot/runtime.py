"""Builds the worker's dependencies from settings: the one place adapters are chosen."""

from __future__ import annotations

from bot.db import make_engine
from bot.helpdesks import make_helpdesks
from bot.kb.retrieval import KnowledgeBase
from bot.kb.store import ArticleStore
from bot.llm import llm_from_settings
from bot.llm.pricing import PriceTable
from bot.pipeline import Worker
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.settings import Settings
from bot.store import Store


def build_worker(settings: Settings) -> Worker:
    engine = make_engine(settings.database_url)
    policy = load_policy(settings.policy_file)
    return Worker(
        helpdesks=make_helpdesks(settings),
        llm=llm_from_settings(settings),
        prices=PriceTable.from_file(settings.llm_prices_file),
        store=Store(engine, recovery_after=settings.recovery_after),
        policy=policy,
        prompts=load_prompts(settings.prompts_dir),
        settings=settings,
        # Built lazily at the first ticket, and again whenever a sync changes the articles.
        knowledge=KnowledgeBase.from_settings(
            settings, ArticleStore(engine), policy.knowledge.default_language
        ),
    )


def check_configuration(settings: Settings) -> list[str]:
    """Load everything a worker reads from files; raises SettingsError naming the problem.
    Returns warnings: things that work but that an operator should know."""
    load_policy(settings.policy_file)
    load_prompts(settings.prompts_dir)
    llm = llm_from_settings(settings)  # the triage model loads, the offline config is valid
    prices = PriceTable.from_file(settings.llm_prices_file)
    warnings = []
    if settings.llm_provider in ("openai", "hybrid") and prices.price_of(llm.model) is None:
        warnings.append(
            f"LLM_MODEL {llm.model!r} has no price in {settings.llm_prices_file}: "
            "runs will record its tokens but no cost"
        )
    if settings.kb_ranking == "hybrid":
        from bot.kb.semantic import Embedder

        Embedder(settings.kb_embedding_model or None)  # installed, and the model loads
    return warnings
