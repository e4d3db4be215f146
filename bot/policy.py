"""The support policy (`config/policy.yaml`): loaded once, validated, immutable.

Every routing and escalation decision comes from here and from the customer's record, never
from ticket text or from the model: see `bot.rules`.

The file is validated against the schema declared in `bot.policy_schema` (which also holds the
one list of reasons, `REASONS`, and of keyword lists, `KEYWORD_LISTS`); a policy with any
problem is refused whole, with one line per problem naming the key and the line of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot import policy_schema
from bot.errors import SettingsError
from bot.policy_schema import PolicySchema, ReviewSchema
from bot.policy_values import KEYWORD_LISTS, REASON_CODES, REASONS
from bot.review_policy import ReviewPolicy, Targets
from bot.rollout import Rollout

__all__ = [
    "DEFAULT_ESCALATIONS",
    "Escalation",
    "KEYWORD_LISTS",
    "KnowledgePolicy",
    "Policy",
    "PolicyError",
    "REASON_CODES",
    "ReviewPolicy",
    "VipRule",
    "load_policy",
    "parse_policy",
]


class PolicyError(SettingsError, ValueError):
    """An invalid policy. `problems`: one line each; `str()` joins them with newlines."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class VipRule:
    organization_tags: tuple[str, ...] = ()
    user_tags: tuple[str, ...] = ()
    user_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    organization_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    reason: str
    group: str | None  # a key of `groups`, or None: fall through to the next reason


@dataclass(frozen=True)
class KnowledgePolicy:
    """How drafts are grounded in help-center articles (see bot.kb)."""

    max_sources: int = 3  # articles given to the draft, best first
    min_relevance: float = 0.3  # 0..1 (bot.kb.index): below it an article is not a source
    default_language: str = "en"  # language of articles whose locale is not set
    # Categories whose tickets are escalated (reason `no_source`) when no article qualifies.
    escalate_without_source: frozenset[str] = frozenset()
    # Words added to the retrieval query for a ticket of this category.
    category_terms: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    version: str
    confidence_threshold: float
    vip: VipRule
    account_status_field: str | None
    history_window_days: int
    recent_interactions: int
    repeat_contact_min: int
    # name -> the group's id in each helpdesk ({"zendesk": 101, "intercom": "5017691"});
    # empty when the group is not configured.
    groups: Mapping[str, Mapping[str, int | str]]
    routing: Mapping[str, Mapping[str, int | str]]  # category -> ids, the same way
    keywords: Mapping[str, tuple[str, ...]]
    escalations: tuple[Escalation, ...]  # precedence: first listed wins the group
    priority_ceiling: Mapping[str, int]  # reason -> most lenient priority allowed
    company_name: str
    company_tone: str
    knowledge: KnowledgePolicy = KnowledgePolicy()
    review: ReviewPolicy = ReviewPolicy()
    rollout: Rollout = Rollout()  # how far the bot goes, per helpdesk and category

    def escalation_group(self, reason: str) -> str | None:
        """The group an escalation for `reason` goes to: the policy's, else the default."""
        for escalation in self.escalations:
            if escalation.reason == reason:
                return escalation.group
        return dict(REASONS).get(reason)

    def group_id(self, name: str, helpdesk: str) -> int | str | None:
        """The id of group `name` (a key of `groups`) in `helpdesk`, if configured there."""
        return self.groups.get(name, {}).get(helpdesk)

    def routing_id(self, category: str, helpdesk: str) -> int | str | None:
        """Where a ticket of `category` goes in `helpdesk` when no escalation claims it."""
        return self.routing.get(category, {}).get(helpdesk)

    def ids_in(self, helpdesk: str) -> dict[str, str]:
        """Every group (team) id the policy names in `helpdesk` -> where: `groups.security`,
        `routing.Billing` (the first place, when an id is named twice)."""
        used: dict[str, str] = {}
        for section, entries in (("groups", self.groups), ("routing", self.routing)):
            for name, ids in entries.items():
                if ids.get(helpdesk) is not None:
                    used.setdefault(str(ids[helpdesk]), f"{section}.{name}")
        return used

    def group_name(self, group_id: int | str | None) -> str | None:
        """The name of the group (or category) with this id, in any helpdesk."""
        for name, ids in list(self.groups.items()) + list(self.routing.items()):
            if group_id is not None and group_id in ids.values():
                return name
        return None


# The precedence when the policy has no `escalations` section.
DEFAULT_ESCALATIONS: tuple[Escalation, ...] = tuple(Escalation(r, g) for r, g in REASONS)


def load_policy(path: str | Path) -> Policy:
    """The policy in the YAML file at `path`; `PolicyError` lists every problem, one a line,
    each with the line of the file and the key it is about."""
    prefix = f"POLICY_FILE {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise PolicyError([f"{prefix}: cannot read it: {exc}"]) from None
    try:
        root, raw = _compose(text)
    except yaml.YAMLError as exc:
        raise PolicyError([f"{prefix}{_yaml_problem(exc)}"]) from None
    problems: list[tuple[int | None, str, str]] = list(_duplicate_keys(root))
    schema, invalid = policy_schema.validate(raw)
    problems += [(_line_of(root, loc), _where(loc), message) for loc, message in invalid]
    if problems:
        problems.sort(key=lambda p: p[0] or 0)  # stable: one line's problems keep their order
        raise PolicyError(
            [f"{prefix}{f', line {line}' if line else ''}: {where}: {message}"
             for line, where, message in problems]
        )
    assert schema is not None
    return _policy(schema)


def parse_policy(raw: object) -> Policy:
    """The policy in an already parsed mapping; `PolicyError` lists every problem, one a line."""
    schema, problems = policy_schema.validate(raw)
    if schema is None:
        raise PolicyError([f"{_where(loc)}: {message}" for loc, message in problems])
    return _policy(schema)


def _policy(schema: PolicySchema) -> Policy:
    customer, vip, knowledge = schema.customer, schema.customer.vip, schema.knowledge
    escalations = (
        DEFAULT_ESCALATIONS
        if schema.escalations is None
        else tuple(Escalation(reason=e.reason, group=e.group) for e in schema.escalations)
    )
    return Policy(
        version=schema.version,
        confidence_threshold=schema.confidence_threshold,
        vip=VipRule(
            organization_tags=vip.organization_tags,
            user_tags=vip.user_tags,
            user_fields=dict(vip.user_fields),
            organization_fields=dict(vip.organization_fields),
        ),
        account_status_field=customer.account_status_field,
        history_window_days=customer.history_window_days,
        recent_interactions=customer.recent_interactions,
        repeat_contact_min=schema.repeat_contact.min_contacts,
        groups=dict(schema.groups),
        routing=dict(schema.routing),
        keywords=dict(schema.keywords),
        escalations=escalations,
        priority_ceiling=dict(schema.priority_ceiling),
        company_name=schema.company.name,
        company_tone=schema.company.tone,
        knowledge=KnowledgePolicy(
            max_sources=knowledge.max_sources,
            min_relevance=knowledge.min_relevance,
            default_language=knowledge.default_language,
            escalate_without_source=frozenset(
                c for c, on in knowledge.escalate_without_source.items() if on
            ),
            category_terms={c: " ".join(w) for c, w in knowledge.category_terms.items()},
        ),
        review=_review(schema.review),
        rollout=Rollout.from_schema(schema.rollout),
    )


def _review(review: ReviewSchema) -> ReviewPolicy:
    sla, targets = review.sla, review.targets
    return ReviewPolicy(
        sent_as_is=review.sent_as_is,
        lightly_edited=review.lightly_edited,
        not_used=review.not_used,
        repeat_similarity=review.repeat_similarity,
        urgent_priorities=frozenset(sla.urgent_priorities),
        urgent_minutes=sla.urgent_minutes,
        other_minutes=sla.other_minutes,
        overdue_group=sla.overdue_group,
        flag_major_rewrites=review.flag_major_rewrites,
        follow_days=review.follow_days,
        targets=Targets(
            csat=targets.csat,
            first_contact_resolution=targets.first_contact_resolution,
            escalation_rate=targets.escalation_rate,
            edited_low=targets.edited[0],
            edited_high=targets.edited[1],
            first_reply_minutes=targets.first_reply_minutes,
        ),
    )


# --- where a problem is: the key path, and the line of the YAML file ---------------------------


def _compose(text: str) -> tuple[yaml.Node | None, object]:
    """The YAML document's node tree (it knows the lines) and the data built from it."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or mark is None:
        return f": invalid YAML: {' '.join(str(exc).split())}"
    context = f" ({exc.context} on line {exc.context_mark.line + 1})" if exc.context_mark else ""
    return f", line {mark.line + 1}: invalid YAML: {exc.problem}{context}"


def _where(loc: tuple) -> str:
    """`("escalations", 0, "group")` -> `escalations[0].group`."""
    where = ""
    for part in loc:
        if part == "[key]":  # the problem is the key itself, already named
            break
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where or "the policy"


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The 1-based line of the deepest key or item of `loc` that the file has."""
    if root is None:
        return None
    node, line = root, root.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of duplicate keys is the one YAML keeps.
            found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)
                     and k.value == str(part)]
            if not found:
                break
            key, node = found[-1]
            line = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _duplicate_keys(root: yaml.Node | None) -> list[tuple[int, str, str]]:
    """YAML silently keeps the last of two equal keys: name each one it would drop."""
    problems: list[tuple[int, str, str]] = []
    stack: list[tuple[yaml.Node | None, tuple]] = [(root, ())]
    seen_nodes: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, loc + (i,)) for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                if key.value in first:
                    problems.append((
                        key.start_mark.line + 1,
                        _where(loc + (key.value,)),
                        f"duplicate key: YAML would silently drop the one on line "
                        f"{first[key.value]}",
                    ))
                else:
                    first[key.value] = key.start_mark.line + 1
                stack.append((value, loc + (key.value,)))
    return problems
