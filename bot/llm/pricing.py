"""What an LLM call cost, from the token counts and a price table (config/llm_prices.yaml).

Prices are data, not code: providers change them and contracts differ. A model with no price
costs `None` (unknown), never 0, so a report cannot mistake "not priced" for "free".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.decisions import Usage
from bot.errors import SettingsError

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Price:
    input: float  # per `per_tokens` prompt tokens
    output: float
    cached_input: float | None = None  # prompt tokens served from the provider's cache


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]
    per_tokens: int = 1_000_000
    currency: str = "USD"
    version: str = ""

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read LLM prices {path}: {exc}") from None
        try:
            prices = {}
            for model, entry in (data.get("models") or {}).items():
                cached = entry.get("cached_input")
                price = Price(float(entry["input"]), float(entry["output"]),
                              None if cached is None else float(cached))
                if min(price.input, price.output, price.cached_input or 0) < 0:
                    raise ValueError(f"{model}: prices must not be negative")
                prices[str(model)] = price
            table = cls(prices, int(data.get("per_tokens", 1_000_000)), str(data.get("currency", "USD")),
                        str(data.get("version", "")))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"LLM prices {path} are malformed: {exc}") from None
        if table.currency != "USD":
            raise SettingsError(f"LLM prices {path}: costs are recorded in USD, got {table.currency}")
        return table

    def price_of(self, model: str) -> Price | None:
        """The exact name, or the name with a dated snapshot suffix ("gpt-4o-mini-2024-07-18"):
        "gpt-4o-audio-preview" is another model with other prices, not "gpt-4o"."""
        if model in self.prices:
            return self.prices[model]
        base = _SNAPSHOT.sub("", model)
        return self.prices.get(base)

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for one call's tokens; 0 when no tokens were used; None when the model has no price."""
        if usage.total == 0:
            return 0.0
        price = self.price_of(model)
        if price is None:
            return None
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_rate = price.input if price.cached_input is None else price.cached_input
        amount = (
            (usage.prompt_tokens - cached) * price.input
            + cached * cached_rate
            + usage.completion_tokens * price.output
        )
        return round(amount / self.per_tokens, 8)


def cost_of(prices: PriceTable | None, model: str, usage: Usage) -> float | None:
    """A call's cost: 0 without tokens (the local engine), None when it cannot be known (no
    price table, or no price for the model)."""
    if usage.total == 0:
        return 0.0
    return prices.cost(model, usage) if prices is not None else None


def add_costs(costs: Iterable[float | None]) -> float | None:
    """The sum, or None if any part is unknown: a partial sum would understate the spend."""
    parts = list(costs)
    known = [cost for cost in parts if cost is not None]
    return None if len(known) < len(parts) else round(sum(known), 8)
