"""`load_policy` / `parse_policy`: the shipped policy, and errors that name the problem, its
key and its line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.decisions import Sentiment, Triage
from bot.domain import CATEGORIES, CustomerContext, Ticket
from bot.errors import SettingsError
from bot.policy import (
    DEFAULT_ESCALATIONS,
    Escalation,
    KnowledgePolicy,
    Policy,
    PolicyError,
    VipRule,
    load_policy,
    parse_policy,
)
from bot.review_policy import ReviewPolicy
from bot.rules import apply_rules

POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "policy.yaml"
RAW_POLICY = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))


def raw_with(**changes) -> dict:
    raw = copy.deepcopy(RAW_POLICY)
    raw.update(changes)
    return raw


def parse_error(raw) -> str:
    with pytest.raises(ValueError) as info:
        parse_policy(raw)
    return str(info.value)


# --- the shipped policy -------------------------------------------------------------------------


def test_shipped_policy_loads_with_documented_defaults():
    policy = load_policy(POLICY_FILE)
    assert policy.version == "2026-12-05.4"
    assert policy.confidence_threshold == 0.7
    assert {k: policy.groups[k] for k in ("supervisor", "senior", "security", "empathy")} == {
        "supervisor": {"zendesk": 101, "intercom": "7101"},
        "senior": {"zendesk": 102, "intercom": "7102"},
        "security": {"zendesk": 103, "intercom": "7103"},
        "empathy": {"zendesk": 104, "intercom": "7104"},
    }
    assert policy.groups["triage"] == {}
    assert set(policy.routing) == set(CATEGORIES)
    # Zendesk's API takes group ids as numbers, Intercom's takes team ids as strings.
    assert all(isinstance(policy.routing_id(c, "zendesk"), int) for c in CATEGORIES)
    assert all(isinstance(policy.routing_id(c, "intercom"), str) for c in CATEGORIES)
    assert policy.history_window_days == 30
    assert policy.recent_interactions == 3
    assert policy.repeat_contact_min == 3
    assert policy.account_status_field == "account_status"
    assert [e.reason for e in policy.escalations][:8] == [
        "security", "legal", "refund", "churn", "vip", "frustrated", "repeat_contact",
        "low_confidence",
    ]
    # Churn goes to the senior agents, after security, legal and refund.
    assert {e.reason: e.group for e in policy.escalations}["churn"] == "senior"
    assert "switching to a competitor" in policy.keywords["churn"]
    assert "cancel" not in policy.keywords["churn"]  # cancelling one order is not leaving
    assert dict(policy.priority_ceiling) == {"security": 2, "legal": 2, "vip": 2}
    assert "refunded" in policy.keywords["refund"]
    assert "sue" in policy.keywords["legal"]
    # Review and tracking: the SLA (5 minutes for priorities 1-2, 30 otherwise), and
    # escalations found after a draft go to the supervisors.
    review = policy.review
    assert (review.urgent_minutes, review.other_minutes, review.urgent_priorities) == (5, 30, frozenset({1, 2}))
    assert review.review_time(2).total_seconds() == 300 and review.review_time(3).total_seconds() == 1800
    assert review.not_used < review.lightly_edited < review.sent_as_is
    assert policy.escalation_group("repeat_question") == policy.escalation_group("agent_request") == "supervisor"


def test_group_name_finds_groups_and_categories():
    policy = load_policy(POLICY_FILE)
    assert policy.group_name(103) == "security"
    assert policy.group_name("7103") == "security"  # the Intercom team of the same group
    assert policy.group_name(policy.routing_id("Billing", "zendesk")) == "Billing"
    assert policy.group_name(999) is None
    assert policy.group_name(None) is None


def test_group_ids_per_helpdesk_and_the_bare_number_shorthand():
    policy = parse_policy(raw_with(groups={
        **RAW_POLICY["groups"],
        "supervisor": {"zendesk": "201", "intercom": 5017691},
        "senior": 202,
        "security": {"intercom": "9", "zendesk": None},
    }))
    assert policy.group_id("supervisor", "zendesk") == 201
    assert policy.group_id("supervisor", "intercom") == "5017691"
    assert policy.group_id("senior", "zendesk") == 202  # a bare number is a Zendesk group
    assert policy.group_id("senior", "intercom") is None
    assert policy.group_id("security", "zendesk") is None and policy.group_id("security", "intercom") == "9"
    assert policy.group_id("nobody", "zendesk") is None


@pytest.mark.parametrize("ids, problem", [
    ({"freshdesk": 1}, 'unknown helpdesk "freshdesk"'),
    ({"intercom": "team-a"}, 'intercom: must be a numeric id or null, got "team-a"'),
    ({"zendesk": -1}, "zendesk: must be a numeric id or null, got -1"),
    ([101], "must be ids by helpdesk (zendesk: <group id>, intercom: <team id>)"),
])
def test_bad_group_ids_are_named(ids, problem):
    message = parse_error(raw_with(groups={**RAW_POLICY["groups"], "supervisor": ids}))
    assert "groups.supervisor" in message and problem in message


def test_parse_policy_fills_defaults_for_an_empty_mapping():
    policy = parse_policy({})
    assert policy.confidence_threshold == 0.7
    assert policy.version == "unversioned"
    assert policy.escalations == DEFAULT_ESCALATIONS
    assert policy.knowledge == KnowledgePolicy()
    assert (policy.history_window_days, policy.recent_interactions, policy.repeat_contact_min) == (
        30, 3, 3,
    )
    assert (policy.company_name, policy.company_tone) == (
        "our company", "friendly, clear and concise",
    )


def test_shipped_policy_equals_what_it_loaded_before_schema_validation():
    """Captured from the hand-written parser before the schema replaced it."""
    keywords = {
        "security": (
            "security", "breach", "hacked", "hack", "phishing", "fraud", "fraudulent",
            "unauthorized", "unauthorised", "stolen", "stole", "compromised", "vulnerability",
            "exploit", "data leak", "identity theft", "account takeover", "malware",
            "ransomware", "suspicious activity", "2fa bypass",
        ),
        "legal": (
            "lawyer", "attorney", "legal action", "lawsuit", "sue", "suing", "court", "gdpr",
            "ccpa", "data protection", "subpoena", "cease and desist", "legal department",
            "ombudsman", "chargeback", "charge back",
        ),
        "refund": (
            "refund", "refunds", "refunded", "refunding", "money back", "reimburse",
            "reimbursement", "reembolso", "remboursement", "rückerstattung", "erstattung",
        ),
        "churn": (
            "cancel my subscription", "cancel our subscription", "cancel my account",
            "cancel our account", "cancelling my subscription", "canceling my subscription",
            "switch to a competitor", "switching to a competitor", "moving to a competitor",
            "last chance", "not renewing", "won't renew", "will not renew",
            "take our business elsewhere", "take my business elsewhere",
        ),
    }
    expected = Policy(
        version="2026-12-05.4",
        confidence_threshold=0.7,
        vip=VipRule(organization_tags=("vip",), user_tags=("vip",), user_fields={"tier": ("vip",)},
                    organization_fields={}),
        account_status_field="account_status",
        history_window_days=30,
        recent_interactions=3,
        repeat_contact_min=3,
        groups={name: {"zendesk": number, "intercom": str(number + 7000)}
                for name, number in (("supervisor", 101), ("senior", 102), ("security", 103),
                                     ("empathy", 104))} | {"triage": {}},
        routing={category: {"zendesk": number, "intercom": str(number + 7000)}
                 for category, number in (("Billing", 110), ("Technical", 111),
                                          ("Feature request", 112), ("Bug report", 113),
                                          ("Account access", 114), ("Other", 115))},
        keywords=keywords,
        escalations=(
            Escalation("security", "security"), Escalation("legal", "security"),
            Escalation("refund", "supervisor"), Escalation("churn", "senior"),
            Escalation("vip", "senior"),
            Escalation("frustrated", "empathy"), Escalation("repeat_contact", "supervisor"),
            Escalation("low_confidence", "triage"), Escalation("no_source", None),
            Escalation("model_flagged", None), Escalation("repeat_question", "supervisor"),
            Escalation("agent_request", "supervisor"),
        ),
        priority_ceiling={"security": 2, "legal": 2, "vip": 2},
        company_name="Example Support",
        company_tone="warm, plain-spoken and concise; no jargon; never blame the customer",
        knowledge=KnowledgePolicy(
            max_sources=3, min_relevance=0.3, default_language="en",
            escalate_without_source=frozenset({"Billing", "Technical", "Account access", "Other"}),
            category_terms={},
        ),
        review=ReviewPolicy(),  # the shipped file states the defaults
    )
    policy = load_policy(POLICY_FILE)
    assert policy == expected
    # Same types too, not just equal values (a list is never equal to a tuple, but be explicit).
    for name in Policy.__dataclass_fields__:
        assert type(getattr(policy, name)) is type(getattr(expected, name)), name
    assert all(type(words) is tuple for words in policy.keywords.values())


# --- parse_policy errors ------------------------------------------------------------------------


def test_unknown_category_in_routing_is_named():
    message = parse_error(raw_with(routing={**RAW_POLICY["routing"], "Billling": 120}))
    assert "routing" in message and "Billling" in message


def test_escalation_to_undefined_group_is_named():
    raw = raw_with(escalations=[{"reason": "refund", "group": "finance"}])
    message = parse_error(raw)
    assert "finance" in message and "groups" in message


def test_unknown_reason_code_is_named():
    message = parse_error(raw_with(escalations=[{"reason": "angry", "group": "empathy"}]))
    assert "angry" in message and "reason" in message


@pytest.mark.parametrize("threshold", [1.5, -0.1])
def test_threshold_out_of_range_is_named(threshold):
    assert "confidence_threshold" in parse_error(raw_with(confidence_threshold=threshold))


@pytest.mark.parametrize("value", ["one-oh-one", -5, 101.5, True])
def test_non_numeric_group_id_is_named(value):
    message = parse_error(raw_with(groups={**RAW_POLICY["groups"], "supervisor": value}))
    assert "groups.supervisor" in message


def test_non_numeric_routing_id_is_named():
    message = parse_error(raw_with(routing={**RAW_POLICY["routing"], "Billing": "billing-team"}))
    assert "routing.Billing" in message


def test_numeric_string_group_id_is_accepted():
    policy = parse_policy(raw_with(groups={**RAW_POLICY["groups"], "supervisor": "101"}))
    assert policy.groups["supervisor"] == {"zendesk": 101}


@pytest.mark.parametrize("ceiling", [0, 6])
def test_priority_ceiling_out_of_range_is_named(ceiling):
    message = parse_error(raw_with(priority_ceiling={"vip": ceiling}))
    assert "priority_ceiling.vip" in message


def test_priority_ceiling_for_unknown_reason_is_named():
    assert "priority_ceiling.angry" in parse_error(raw_with(priority_ceiling={"angry": 2}))


def test_policy_that_is_not_a_mapping():
    assert "mapping" in parse_error(["not", "a", "mapping"])


def test_non_numeric_threshold_is_named():
    assert "confidence_threshold" in parse_error(raw_with(confidence_threshold="high"))


# --- load_policy errors -------------------------------------------------------------------------


def test_missing_file_raises_settings_error_naming_the_path(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_invalid_yaml_raises_settings_error_naming_the_path(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("groups: [supervisor: 101\n  senior: {", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_invalid_content_raises_settings_error_naming_path_and_problem(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw_with(confidence_threshold=1.5)), encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_policy(path)
    assert str(path) in str(info.value) and "confidence_threshold" in str(info.value)


def test_section_of_wrong_shape_raises_settings_error(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw_with(customer=["vip"])), encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_policy(path)
    assert str(path) in str(info.value)


# --- the schema: unknown keys, wrong types, lines ---------------------------------------------

POLICY_TEXT = POLICY_FILE.read_text(encoding="utf-8")


def edited(old: str, new: str, text: str = POLICY_TEXT) -> str:
    assert text.count(old) == 1, f"{old!r} is not exactly once in the policy"
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the one line of `text` that contains `fragment`."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]


def load_error(tmp_path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_policy(path)
    return str(info.value)


def test_misspelt_section_is_named_with_its_line_and_a_suggestion(tmp_path):
    text = edited("\nescalations:\n", "\nescalatons:\n")
    message = load_error(tmp_path, text)
    line = line_of(text, "escalatons:")
    assert message == (
        f"POLICY_FILE {tmp_path / 'policy.yaml'}, line {line}: "
        'escalatons: unknown key (did you mean "escalations"?)'
    )


def test_vip_at_the_top_level_is_refused_and_pointed_under_customer(tmp_path):
    text = edited("\ncustomer:\n  vip: ", "\nvip:\n  user_tags: [vip]\ncustomer:\n  vip: ")
    message = load_error(tmp_path, text)
    (line,) = [i for i, content in enumerate(text.splitlines(), 1) if content == "vip:"]
    assert message == (
        f"POLICY_FILE {tmp_path / 'policy.yaml'}, line {line}: "
        'vip: unknown key (did you mean "customer.vip"?)'
    )


def test_misspelt_nested_key_is_named_with_its_path(tmp_path):
    text = edited("  history_window_days: 30", "  history_window_dyas: 30")
    message = load_error(tmp_path, text)
    assert f"line {line_of(text, 'history_window_dyas')}: " in message
    assert (
        'customer.history_window_dyas: unknown key (did you mean "history_window_days"?)' in message
    )


@pytest.mark.parametrize(
    "old, new, marker, where, problem",
    [
        ("confidence_threshold: 0.7", "confidence_threshold: high", "confidence_threshold: high",
         "confidence_threshold", 'must be a number, got "high"'),
        ("  supervisor: {zendesk: 101, intercom: 7101}", "  supervisor: true", "supervisor: true",
         "groups.supervisor", "must be ids by helpdesk (zendesk: <group id>, intercom: <team id>), a numeric "
         "Zendesk group id, or null, got true"),
        ("  category_terms: {}", "  category_terms: [invoice]", "category_terms",
         "knowledge.category_terms", "must be a mapping, got a list"),
        ("  history_window_days: 30", "  history_window_days: true", "history_window_days",
         "customer.history_window_days", "must be a number, got true"),
        ("  max_sources: 3", "  max_sources: 2.5", "max_sources",
         "knowledge.max_sources", "must be a whole number, got 2.5"),
        ("    Bug report: false", "    Bug report: no way", "Bug report: no way",
         "knowledge.escalate_without_source.Bug report", 'must be true or false, got "no way"'),
        ("  - {reason: vip, group: senior}", "  - {reason: vip, group: 102}", "group: 102",
         "escalations[4].group", "must be the name of a group defined in groups"),
        ("    user_tags: [vip]", "    user_tags: [vip, no]", "user_tags: [vip, no]",
         "customer.vip.user_tags[1]", "must be text, got false (quote it"),
    ],
)
def test_wrong_types_name_the_key_and_the_line(tmp_path, old, new, marker, where, problem):
    text = edited(old, new)
    message = load_error(tmp_path, text)
    assert f"line {line_of(text, marker)}: {where}: {problem}" in message
    assert len(message.splitlines()) == 1


def test_unknown_group_name_in_escalations_is_named_with_its_line(tmp_path):
    text = edited("{reason: refund, group: supervisor}", "{reason: refund, group: finance}")
    message = load_error(tmp_path, text)
    assert f"line {line_of(text, 'group: finance')}: escalations[2].group: " in message
    assert 'unknown group name "finance"' in message and "not defined in groups" in message


def test_unknown_category_in_routing_is_named_with_its_line(tmp_path):
    text = edited("  Billing: {zendesk: 110", "  Billling: {zendesk: 110")
    message = load_error(tmp_path, text)
    assert f"line {line_of(text, 'Billling')}: routing.Billling: unknown category" in message
    assert 'did you mean "Billing"?' in message


@pytest.mark.parametrize("blank", ['""', '"   "'])
def test_blank_keyword_is_refused(tmp_path, blank):
    text = edited("[refund, refunds,", f"[refund, {blank}, refunds,")
    message = load_error(tmp_path, text)
    assert f"line {line_of(text, blank)}: keywords.refund[1]: blank keyword" in message


@pytest.mark.parametrize("words", ["", "  ", ["refund", ""], ["\t"]])
def test_blank_keyword_is_refused_by_parse_policy(words):
    raw = raw_with(keywords={**RAW_POLICY["keywords"], "legal": words})
    assert "keywords.legal" in parse_error(raw) and "blank keyword" in parse_error(raw)


def test_unknown_keyword_list_is_named():
    message = parse_error(raw_with(keywords={**RAW_POLICY["keywords"], "refunds": ["money"]}))
    assert "keywords.refunds: unknown keyword list" in message


def test_several_problems_are_all_reported_one_per_line_in_file_order(tmp_path):
    text = edited("confidence_threshold: 0.7", "confidence_treshold: 0.7")
    text = edited("  max_sources: 3", "  max_sources: 0", text)
    text = edited("\nescalations:\n", "\nescalatons:\n", text)
    text = edited("  Billing: {zendesk: 110", "  Billling: {zendesk: 110", text)
    text = edited("[refund, refunds,", '[refund, "", refunds,', text)
    lines = load_error(tmp_path, text).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "confidence_treshold", "knowledge.max_sources", "routing.Billling", "keywords.refund[1]",
        "escalatons",
    ]
    assert all(line.startswith(f"POLICY_FILE {tmp_path / 'policy.yaml'}, line ") for line in lines)
    assert [int(line.split(", line ")[1].split(":")[0]) for line in lines] == [
        line_of(text, "confidence_treshold"), line_of(text, "max_sources: 0"),
        line_of(text, "Billling"), line_of(text, '""'), line_of(text, "escalatons"),
    ]


def test_vip_tags_are_lower_cased_like_zendesk_tags():
    raw = copy.deepcopy(RAW_POLICY)
    raw["customer"]["vip"].update(organization_tags=["VIP", "Enterprise"], user_tags="Gold")
    vip = parse_policy(raw).vip
    assert (vip.organization_tags, vip.user_tags) == (("vip", "enterprise"), ("gold",))


def test_parse_policy_reports_every_problem_as_a_settings_error():
    raw = raw_with(confidence_threshold="high", escalatons=[], vip={})
    with pytest.raises(SettingsError) as info:
        parse_policy(raw)
    assert isinstance(info.value, PolicyError)
    assert str(info.value).splitlines() == [
        'confidence_threshold: must be a number, got "high"',
        'escalatons: unknown key (did you mean "escalations"?)',
        'vip: unknown key (did you mean "customer.vip"?)',
    ]


def test_duplicate_yaml_key_is_refused(tmp_path):
    # YAML would keep the second `keywords:` and silently drop the first.
    text = POLICY_TEXT + "\nkeywords:\n  refund: [refund]\n"
    message = load_error(tmp_path, text)
    first, second = [i for i, line in enumerate(text.splitlines(), 1) if line == "keywords:"]
    assert message.endswith(
        f"line {second}: keywords: duplicate key: YAML would silently drop the one on line {first}"
    )


def test_invalid_yaml_names_its_line(tmp_path):
    text = edited("  senior: {zendesk: 102", "  senior: [{zendesk: 102")
    assert ", line " in load_error(tmp_path, text) and "invalid YAML" in load_error(tmp_path, text)


@pytest.mark.parametrize(
    "where, value",
    [
        (("confidence_threshold",), True),
        (("priority_ceiling", "vip"), True),
        (("knowledge", "max_sources"), True),
        (("knowledge", "min_relevance"), False),
        (("customer", "recent_interactions"), True),
        (("repeat_contact", "min_contacts"), True),
    ],
)
def test_true_or_false_is_never_read_as_a_number(where, value):
    raw = copy.deepcopy(RAW_POLICY)
    section = raw
    for key in where[:-1]:
        section = section.setdefault(key, {})
    section[where[-1]] = value
    assert f"{'.'.join(where)}: must be a number" in parse_error(raw)


def test_one_contact_would_make_every_ticket_a_repeat_contact():
    message = parse_error(raw_with(repeat_contact={"min_contacts": 1}))
    assert "repeat_contact.min_contacts: must be at least 2" in message


def test_unknown_key_in_an_escalation_is_named():
    raw = raw_with(escalations=[{"reason": "refund", "grup": "supervisor"}])
    assert 'escalations[0].grup: unknown key (did you mean "group"?)' in parse_error(raw)


def test_escalation_without_reason_is_named():
    assert "escalations[0].reason" in parse_error(raw_with(escalations=[{"group": "senior"}]))


def test_reason_listed_twice_is_refused():
    raw = raw_with(escalations=[{"reason": "refund", "group": "supervisor"},
                                {"reason": "refund", "group": "senior"}])
    assert "escalations[1].reason" in parse_error(raw)


def test_empty_escalations_list_is_refused():
    assert "escalations" in parse_error(raw_with(escalations=[]))


# --- escalations absent: the default precedence ----------------------------------------------


def decide(policy: Policy, subject: str, confidence: float = 0.9):
    triage = Triage(category="Billing", priority=3, escalate=False, confidence=confidence,
                    reasoning="test", sentiment=Sentiment("neutral", False), language="en")
    ticket = Ticket(id="42", subject=subject, description="Please help.")
    return apply_rules(triage, ticket, CustomerContext(), policy)


@pytest.mark.parametrize("absent", ["deleted", "null"])
def test_without_escalations_the_default_precedence_routes(tmp_path, absent):
    if absent == "deleted":
        text = POLICY_TEXT[: POLICY_TEXT.index("\nescalations:\n")] + POLICY_TEXT[
            POLICY_TEXT.index("\n# The least urgent priority"):]
    else:
        text = POLICY_TEXT.replace("\nescalations:\n", "\nescalations:\n#\n").replace(
            "\n  - {reason:", "\n#  - {reason:")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)

    both = decide(policy, "I want a refund: my account was hacked")
    assert both.reason_codes == ("security", "refund")
    assert (both.group_key, both.group_id) == ("security", 103)  # security before refund
    refund = decide(policy, "I want a refund")
    assert (refund.group_key, refund.group_id) == ("supervisor", 101)
    # low_confidence goes to `triage`, which has no id: the category routes.
    unsure = decide(policy, "Question", confidence=0.2)
    assert unsure.reason_codes == ("low_confidence",)
    assert (unsure.group_key, unsure.group_id) == ("Billing", 110)
    # The documented default is exactly the shipped file's list.
    assert policy.escalations == load_policy(POLICY_FILE).escalations == DEFAULT_ESCALATIONS
