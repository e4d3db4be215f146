"""The value types of the policy schema (`bot.policy_schema`): what each kind of value must be,
and how a wrong one is described, in words an operator can act on. Also the one list of
escalation reasons and of keyword lists.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from bot.domain import CATEGORIES

# Every escalation reason, in the default precedence, with the group it goes to when the policy
# has no `escalations` section (None: escalate, but leave routing to the next reason or the
# category). This table is the one list of reasons: add a new one here.
REASONS: tuple[tuple[str, str | None], ...] = (
    ("security", "security"),
    ("legal", "security"),
    ("refund", "supervisor"),
    ("churn", "senior"),
    ("vip", "senior"),
    ("frustrated", "empathy"),
    ("repeat_contact", "supervisor"),
    ("low_confidence", "triage"),
    ("no_source", None),
    ("model_flagged", None),
    # Found after a draft, not by triage (`bot.tracking`): the customer asked the same again
    # after an agent sent the bot's draft; an agent asked for an escalation (command or tag).
    ("repeat_question", "supervisor"),
    ("agent_request", "supervisor"),
)
REASON_CODES: tuple[str, ...] = tuple(code for code, _ in REASONS)

# The keyword lists `keywords` may have; each is also a reason. The one list of them.
# (Frustration has no list here: its phrases are the local engine's, config/offline.yaml.)
KEYWORD_LISTS: tuple[str, ...] = ("security", "legal", "refund", "churn")

if not set(KEYWORD_LISTS) <= set(REASON_CODES):  # pragma: no cover - a programming error
    raise RuntimeError("every keyword list must also be a reason in REASONS")

# --- how values are described in messages ------------------------------------------------------


def shown(value: object) -> str:
    """A value as it would be written in the YAML file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def fail(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A problem whose message is shown as it is (pydantic's own are reworded by `_problem`)."""
    # Braces in the message would be read as placeholders by pydantic-core.
    message = message.replace("{", "{{").replace("}", "}}")
    return PydanticCustomError(f"policy_{kind}", message, ctx or None)


_QUOTE_HINT = " (quote it: unquoted yes/no/on/off/true/false are read as true/false)"


# --- value types ---------------------------------------------------------------------------------


def no_bool(value: object) -> object:
    if isinstance(value, bool):  # pydantic would read true as 1
        raise fail("number_type", f"must be a number, got {shown(value)}")
    return value


def between(low: float, high: float) -> Callable[[Any], Any]:
    def check(value):
        if not low <= value <= high:  # also refuses NaN
            raise fail("range", f"must be between {low} and {high}, got {shown(value)}")
        return value

    return check


def _at_least(low: int, why: str = "") -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise fail("range", f"must be at least {low}{why}, got {value}")
        return value

    return check


def _not_blank(value: str) -> str:
    if not value.strip():
        raise fail("blank", f"must not be blank, got {shown(value)}")
    return value


def _text_item(value: object) -> object:
    """A word, tag or field value: text, or a number written without quotes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _blank_word(value: str) -> str:
    if not value.strip():
        raise fail("blank", "blank keyword: it would match every ticket or none; remove it")
    return value


def _one_or_many(value: object) -> object:
    """null is an empty list; a single string is a list of one."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise fail("list_type", f"must be a list (or a single text), got {shown(value)}")
    return value


def _text(value: object) -> object:
    if isinstance(value, bool):
        raise fail("string_type", f"must be text, got {shown(value)}{_QUOTE_HINT}")
    if not isinstance(value, str):
        raise fail("string_type", f"must be text, got {shown(value)}")
    return value


def _version(value: object) -> object:
    if isinstance(value, (int, float, date)) and not isinstance(value, bool):
        return str(value)  # `version: 2026-11-22` is a date to YAML
    return _text(value)


# The helpdesks a policy can name ids for: Zendesk groups (integers), Intercom teams.
GROUP_HELPDESKS = ("zendesk", "intercom")


def _numeric_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _group_ids(value: object) -> object:
    """A group's id in each helpdesk: `{zendesk: 101, intercom: "5017691"}` (a Zendesk group,
    an Intercom team), or a bare number, which is a Zendesk group id (policies written before
    Intercom), or null (not configured). Ids that are null are left out."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        zendesk = _numeric_id(value)
        if zendesk is None:
            raise fail(
                "group_id",
                "must be ids by helpdesk (zendesk: <group id>, intercom: <team id>), a numeric "
                "Zendesk group id, "
                f"or null, got {shown(value)}",
            )
        return {"zendesk": zendesk}
    ids: dict[str, int | str] = {}
    for helpdesk, raw in value.items():
        if helpdesk not in GROUP_HELPDESKS:
            raise fail(
                "group_helpdesk",
                f"unknown helpdesk {shown(helpdesk)}{did_you_mean(str(helpdesk), GROUP_HELPDESKS)}; "
                f"use one of: {', '.join(GROUP_HELPDESKS)}",
            )
        if raw is None:
            continue
        number = _numeric_id(raw)
        if number is None:
            raise fail("group_id", f"{helpdesk}: must be a numeric id or null, got {shown(raw)}")
        # Zendesk's API takes group ids as numbers, Intercom's takes team ids as strings.
        ids[helpdesk] = number if helpdesk == "zendesk" else str(number)
    return ids


def _group_name(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    raise fail(
        "group_name", f"must be the name of a group defined in groups, or null, got {shown(value)}"
    )


def _one_of(choices: tuple[str, ...], what: str, why: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise fail(
                f"unknown_{what}",
                f"unknown {what} {shown(value)}{did_you_mean(value, choices)}{why}; "
                f"use one of: {', '.join(choices)}",
            )
        return value

    return check


Text = Annotated[str, BeforeValidator(_text), AfterValidator(_not_blank)]
Version = Annotated[str, BeforeValidator(_version), AfterValidator(_not_blank)]
Number01 = Annotated[float, BeforeValidator(no_bool), AfterValidator(between(0, 1))]


Priority = Annotated[int, BeforeValidator(no_bool), AfterValidator(between(1, 5))]
Days = Annotated[int, BeforeValidator(no_bool), AfterValidator(_at_least(1, ""))]
Minutes = Annotated[int, BeforeValidator(no_bool), AfterValidator(_at_least(1, ""))]
HowMany = Annotated[int, BeforeValidator(no_bool), AfterValidator(_at_least(0, ""))]
MinContacts = Annotated[
    int, BeforeValidator(no_bool), AfterValidator(_at_least(2, " (1 would escalate every ticket)"))
]
Item = Annotated[str, BeforeValidator(_text_item), AfterValidator(_not_blank)]
Items = Annotated[tuple[Item, ...], BeforeValidator(_one_or_many)]
LowerItems = Annotated[Items, AfterValidator(lambda items: tuple(i.lower() for i in items))]
Keyword = Annotated[str, BeforeValidator(_text_item), AfterValidator(_blank_word)]
Keywords = Annotated[tuple[Keyword, ...], BeforeValidator(_one_or_many)]
GroupIds = Annotated[dict[str, int | str], BeforeValidator(_group_ids)]
GroupName = Annotated[str | None, BeforeValidator(_group_name)]
Category = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_one_of(CATEGORIES, "category", "; unknown categories never match")),
]
Reason = Annotated[str, BeforeValidator(_text), AfterValidator(_one_of(REASON_CODES, "reason"))]
KeywordList = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_one_of(KEYWORD_LISTS, "keyword list", "; another list would never match")),
]


class Section(BaseModel):
    """A mapping that forbids undeclared keys; `null` (or an absent section) means empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: object) -> object:
        return {} if data is None else data
