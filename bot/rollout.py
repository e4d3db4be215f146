"""How far the bot goes, per helpdesk and per category: the policy's `rollout` section.

A new install starts in `shadow`: the bot triages and drafts every ticket and stores it all,
and writes nothing to the helpdesk, so an admin can compare what it would have done (the
`replay` report, the store) before letting it touch a ticket. Then, category by category:

- `off`: ignore. A helpdesk that is off everywhere is not even stored (the webhook answers 200);
  a category that is off is triaged (to know its category) and left alone, nothing drafted.
- `shadow`: triage, draft, store; nothing is written to the helpdesk.
- `tag`: tags, priority and routing; no note, so no draft for agents.
- `draft`: everything: tags, priority, routing and the internal note with the draft.

No mode sends a public reply: the bot only ever writes internal notes, and a human sends.

The most specific setting wins: the helpdesk's own entry for the category, then the category's
entry for every helpdesk, then the helpdesk's mode, then `mode`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, model_validator

from bot.policy_values import Category, HowMany, Number01, Section, fail


class Mode(StrEnum):
    OFF = "off"
    SHADOW = "shadow"
    TAG = "tag"
    DRAFT = "draft"

    @property
    def writes(self) -> bool:
        """Whether anything at all is written to the helpdesk."""
        return self in (Mode.TAG, Mode.DRAFT)

    @property
    def notes(self) -> bool:
        """Whether an internal note is written."""
        return self is Mode.DRAFT


HELPDESK_NAMES = ("zendesk", "intercom")
DEFAULT_MODE = Mode.SHADOW


def _yaml_off(value: object) -> object:
    """YAML 1.1 (PyYAML) reads a bare `off` as false: that is the mode `off`."""
    if value is False:
        return Mode.OFF.value
    if value is True:
        raise fail("mode", "true is not a mode: use off, shadow, tag or draft")
    return value


RolloutMode = Annotated[Mode, BeforeValidator(_yaml_off)]


class HelpdeskRolloutSchema(Section):
    mode: RolloutMode | None = None  # None: the section's `mode`
    categories: dict[Category, RolloutMode] = {}


class RecommendSchema(Section):
    """When `replay` calls a category ready: agreement with what agents did, on enough tickets."""

    draft: Number01 = 0.90  # category and routing agreement for `draft`
    tag: Number01 = 0.80  # ... for `tag`
    escalation_recall: Number01 = 0.95  # escalations agents made that the bot also made
    min_tickets: HowMany = 20  # fewer tickets in a category: not enough to tell, stay in shadow

    @model_validator(mode="after")
    def _in_order(self) -> RecommendSchema:
        if self.tag > self.draft:
            raise fail("threshold_order", f"tag ({self.tag}) must not be above draft ({self.draft})")
        return self


class RolloutSchema(Section):
    mode: RolloutMode = DEFAULT_MODE
    categories: dict[Category, RolloutMode] = {}
    helpdesks: dict[str, HelpdeskRolloutSchema] = {}
    recommend: RecommendSchema = RecommendSchema()

    @model_validator(mode="after")
    def _known_helpdesks(self) -> RolloutSchema:
        for name in self.helpdesks:
            if name not in HELPDESK_NAMES:
                raise fail("unknown_helpdesk",
                           f"unknown helpdesk {name!r} under helpdesks: use {' or '.join(HELPDESK_NAMES)}")
        return self


@dataclass(frozen=True)
class Recommend:
    draft: float = 0.90
    tag: float = 0.80
    escalation_recall: float = 0.95
    min_tickets: int = 20


@dataclass(frozen=True)
class Rollout:
    mode: Mode = DEFAULT_MODE
    categories: Mapping[str, Mode] = field(default_factory=dict)
    # helpdesk -> (its mode or None, its categories)
    helpdesks: Mapping[str, tuple[Mode | None, Mapping[str, Mode]]] = field(default_factory=dict)
    recommend: Recommend = Recommend()

    @classmethod
    def from_schema(cls, schema: RolloutSchema) -> Rollout:
        r = schema.recommend
        return cls(
            mode=schema.mode,
            categories=dict(schema.categories),
            helpdesks={name: (h.mode, dict(h.categories)) for name, h in schema.helpdesks.items()},
            recommend=Recommend(draft=r.draft, tag=r.tag, escalation_recall=r.escalation_recall,
                                min_tickets=r.min_tickets),
        )

    def mode_for(self, helpdesk: str, category: str | None = None) -> Mode:
        """The mode for a ticket of `category` (None: not known yet) in `helpdesk`."""
        own_mode, own_categories = self.helpdesks.get(helpdesk, (None, {}))
        if category is not None:
            if category in own_categories:
                return own_categories[category]
            if category in self.categories:
                return self.categories[category]
        return own_mode or self.mode

    def ignores(self, helpdesk: str) -> bool:
        """Whether every ticket of `helpdesk` is ignored, whatever its category: then its
        webhooks are acknowledged and nothing is stored."""
        own_mode, own_categories = self.helpdesks.get(helpdesk, (None, {}))
        modes = {own_mode or self.mode, *own_categories.values()}
        modes |= {m for c, m in self.categories.items() if c not in own_categories}
        return modes == {Mode.OFF}

    def describe(self, helpdesk: str, categories: tuple[str, ...]) -> str:
        """One line: `zendesk: shadow (Billing: tag, Technical: draft)`."""
        base = self.mode_for(helpdesk)
        exceptions = [f"{c}: {m}" for c in categories if (m := self.mode_for(helpdesk, c)) != base]
        return f"{helpdesk}: {base}" + (f" ({', '.join(exceptions)})" if exceptions else "")
