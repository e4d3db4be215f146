"""`load_policy` / `parse_policy`: the shipped policy, and errors that name the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.domain import CATEGORIES
from bot.errors import SettingsError
from bot.policy import load_policy, parse_policy

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
    assert policy.version == "2026-11-22.2"
    assert policy.confidence_threshold == 0.7
    assert {k: policy.groups[k] for k in ("supervisor", "senior", "security", "empathy")} == {
        "supervisor": 101,
        "senior": 102,
        "security": 103,
        "empathy": 104,
    }
    assert policy.groups["triage"] is None
    assert set(policy.routing) == set(CATEGORIES)
    assert all(isinstance(policy.routing[c], int) for c in CATEGORIES)
    assert policy.history_window_days == 30
    assert policy.recent_interactions == 3
    assert policy.repeat_contact_min == 3
    assert policy.account_status_field == "account_status"
    assert [e.reason for e in policy.escalations][:7] == [
        "security", "legal", "refund", "vip", "frustrated", "repeat_contact", "low_confidence",
    ]
    assert dict(policy.priority_ceiling) == {"security": 2, "legal": 2, "vip": 2}
    assert "refunded" in policy.keywords["refund"]
    assert "sue" in policy.keywords["legal"]


def test_group_name_finds_groups_and_categories():
    policy = load_policy(POLICY_FILE)
    assert policy.group_name(103) == "security"
    assert policy.group_name(policy.routing["Billing"]) == "Billing"
    assert policy.group_name(999) is None
    assert policy.group_name(None) is None


def test_parse_policy_fills_defaults_for_an_empty_mapping():
    policy = parse_policy({})
    assert policy.confidence_threshold == 0.7
    assert policy.version == "unversioned"
    assert policy.escalations == ()


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
    assert policy.groups["supervisor"] == 101


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
