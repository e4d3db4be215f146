"""The declared schema of `config/policy.yaml` (pydantic v2), and what it refuses.

`bot.policy` turns a valid policy into the frozen dataclasses the rest of the bot reads, and
the problems found here into one line each, with the line of the YAML file.

Every section forbids keys it does not declare: a misspelt or misplaced key (`escalatons:`, or
`vip:` at the top level instead of under `customer:`) is an error, never silently ignored.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from bot.policy_values import (
    Category,
    Days,
    GroupIds,
    GroupName,
    HowMany,
    Items,
    KeywordList,
    Keywords,
    LowerItems,
    MinContacts,
    Minutes,
    Number01,
    Priority,
    Reason,
    Section,
    Text,
    Version,
    between,
    did_you_mean,
    fail,
    no_bool,
    shown,
)
from bot.rollout import RolloutSchema

Loc = tuple[Any, ...]
Problem = tuple[Loc, str]  # where (pydantic's `loc`), what is wrong


# --- sections --------------------------------------------------------------------------------


class VipSchema(Section):
    organization_tags: LowerItems = ()  # Zendesk stores tags in lower case
    user_tags: LowerItems = ()
    user_fields: dict[Text, Items] = {}
    organization_fields: dict[Text, Items] = {}


class CustomerSchema(Section):
    vip: VipSchema = VipSchema()
    account_status_field: Text | None = None
    history_window_days: Days = 30  # "contacts in the last N days"
    recent_interactions: HowMany = 3


class RepeatContactSchema(Section):
    # 1 would make every ticket a repeat contact (the count includes the ticket itself).
    min_contacts: MinContacts = 3


class CompanySchema(Section):
    name: Text = "our company"
    tone: Text = "friendly, clear and concise"


class KnowledgeSchema(Section):
    max_sources: Annotated[int, BeforeValidator(no_bool), AfterValidator(between(1, 10))] = 3
    min_relevance: Number01 = 0.3
    default_language: Annotated[Text, AfterValidator(str.lower)] = "en"
    escalate_without_source: dict[Category, StrictBool] = {}
    category_terms: dict[Category, Items] = {}


def _known(group: str | None, info: ValidationInfo) -> str | None:
    """A group name must be a key of `groups` (when `groups` itself is valid)."""
    defined = (info.context or {}).get("groups")
    if group is not None and defined is not None and group not in defined:
        raise fail(
            "unknown_group",
            f"unknown group name {shown(group)}{did_you_mean(group, defined)}: "
            f"it is not defined in groups ({', '.join(map(str, defined)) or 'none'})",
        )
    return group


class ReviewSlaSchema(Section):
    urgent_priorities: tuple[Priority, ...] = (1, 2)
    urgent_minutes: Minutes = 5
    other_minutes: Minutes = 30
    overdue_group: GroupName = None  # a key of `groups`, or null: only the tag

    _group_is_defined = field_validator("overdue_group")(
        classmethod(lambda cls, g, info: _known(g, info))
    )


class TargetsSchema(Section):
    csat: Number01 = 0.85
    first_contact_resolution: Number01 = 0.70
    escalation_rate: Number01 = 0.20
    edited: tuple[Number01, Number01] = (0.20, 0.30)  # the healthy band, low and high
    first_reply_minutes: Minutes = 5


class ReviewSchema(Section):
    sent_as_is: Number01 = 0.95
    lightly_edited: Number01 = 0.70
    not_used: Number01 = 0.30
    repeat_similarity: Number01 = 0.60
    sla: ReviewSlaSchema = ReviewSlaSchema()
    flag_major_rewrites: HowMany = 3
    follow_days: Days = 14
    targets: TargetsSchema = TargetsSchema()

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> ReviewSchema:
        if not self.not_used <= self.lightly_edited <= self.sent_as_is:
            raise fail(
                "threshold_order",
                "similarity thresholds must be in order: "
                f"not_used ({self.not_used}) <= lightly_edited ({self.lightly_edited}) "
                f"<= sent_as_is ({self.sent_as_is})",
            )
        if self.targets.edited[0] > self.targets.edited[1]:
            raise fail("band_order", "targets.edited must be [low, high] with low <= high")
        return self


class EscalationSchema(Section):
    reason: Reason
    group: GroupName = None  # a key of `groups`, or null: fall through to the next reason

    _group_is_defined = field_validator("group")(classmethod(lambda cls, g, info: _known(g, info)))


class PolicySchema(Section):
    version: Version = "unversioned"
    company: CompanySchema = CompanySchema()
    confidence_threshold: Number01 = 0.7
    customer: CustomerSchema = CustomerSchema()
    repeat_contact: RepeatContactSchema = RepeatContactSchema()
    knowledge: KnowledgeSchema = KnowledgeSchema()
    groups: dict[Text, GroupIds] = {}
    routing: dict[Category, GroupIds] = {}
    keywords: dict[KeywordList, Keywords] = {}
    # None: the section is absent, and the default precedence (REASONS) applies.
    escalations: tuple[EscalationSchema, ...] | None = None
    priority_ceiling: dict[Reason, Priority] = {}
    review: ReviewSchema = ReviewSchema()
    rollout: RolloutSchema = RolloutSchema()

    @field_validator("escalations")
    @classmethod
    def _each_reason_once(cls, escalations):
        if escalations is None:
            return None
        if not escalations:
            raise fail(
                "empty",
                "lists no reason, so nothing would be routed; "
                "leave the section out to get the default precedence",
            )
        seen: set[str] = set()
        for i, escalation in enumerate(escalations):
            if escalation.reason in seen:
                raise fail(
                    "duplicate_reason",
                    f"reason {shown(escalation.reason)} is listed twice; only the first counts",
                    at=(i, "reason"),
                )
            seen.add(escalation.reason)
        return escalations


# --- validation --------------------------------------------------------------------------------


def validate(raw: object) -> tuple[PolicySchema | None, list[Problem]]:
    """The policy, or every problem found in it (each with its pydantic `loc`)."""
    groups = raw.get("groups") if isinstance(raw, dict) else None
    context = {"groups": list(groups) if isinstance(groups, dict) else None}
    try:
        return PolicySchema.model_validate(raw, context=context), []
    except ValidationError as exc:
        return None, [_problem(error) for error in exc.errors()]


def _problem(error: ErrorDetails) -> Problem:
    loc: Loc = tuple(error["loc"])
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if "at" in ctx:  # a check on a whole list that names one of its items
        loc += tuple(ctx["at"])
    kind, got = error["type"], error.get("input")
    if kind.startswith("policy_"):
        return loc, str(error["msg"])
    if kind == "extra_forbidden":
        return loc, "unknown key" + _suggest_key(loc)
    if kind == "missing":
        return loc, "required key is missing"
    if kind in ("model_type", "dict_type"):
        return loc, f"must be a mapping, got {shown(got)}"
    if kind in ("list_type", "tuple_type"):
        return loc, f"must be a list, got {shown(got)}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return loc, f"must be a number, got {shown(got)}"
    if kind == "int_from_float":
        return loc, f"must be a whole number, got {shown(got)}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, got {shown(got)}"
    if kind == "string_type":
        return loc, f"must be text, got {shown(got)}"
    if kind == "value_error" and "error" in ctx:
        return loc, str(ctx["error"])
    return loc, str(error["msg"])


# --- "did you mean": the keys each section declares --------------------------------------------


def _sections(model: type[BaseModel], path: tuple[str, ...] = ()):
    """(shape path, model) for every section; a list's items are at "[]"."""
    yield path, model
    for name, info in model.model_fields.items():
        inner, suffix = _unwrap(info.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _sections(inner, path + (name,) + suffix)


def _unwrap(annotation: Any) -> tuple[Any, tuple[str, ...]]:
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if typing.get_origin(annotation) is tuple and args:
        inner, suffix = _unwrap(args[0])
        return inner, ("[]",) + suffix
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _unwrap(args[0]) if len(args) == 1 else (annotation, ())
    return annotation, ()


SECTIONS: dict[tuple[str, ...], type[BaseModel]] = dict(_sections(PolicySchema))


def _suggest_key(loc: Loc) -> str:
    where = tuple("[]" if isinstance(part, int) else part for part in loc[:-1])
    key = str(loc[-1])
    siblings = SECTIONS[where].model_fields if where in SECTIONS else {}
    # A key that belongs in another section: name where it goes.
    elsewhere = [
        ".".join(path + (key,)).replace(".[]", "[]")
        for path, model in SECTIONS.items()
        if path != where and key in model.model_fields
    ]
    if elsewhere and not difflib.get_close_matches(key, list(siblings), n=1, cutoff=0.85):
        return f' (did you mean "{elsewhere[0]}"?)'
    return did_you_mean(key, siblings)
