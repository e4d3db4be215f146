"""Rollout modes (`bot.rollout`, the policy's `rollout` section): which mode applies, and what each
does to a ticket through the real Zendesk adapter (fake Zendesk validating every request), the
offline engine and a real store on both databases."""

from __future__ import annotations

import pytest
import responses
import yaml

from bot.domain import CATEGORIES, TicketEvent
from bot.events import process_run
from bot.helpdesks.zendesk.adapter import ZendeskHelpdesk
from bot.llm import make_llm
from bot.pipeline import Worker
from bot.policy import PolicyError, load_policy, parse_policy
from bot.prompts import load_prompts
from bot.recovery import post_failure_note
from bot.rollout import Mode, Rollout
from bot.settings import Settings
from bot.tracking import records
from bot.vocabulary import RunStatus
from tests.conftest import DEFAULT_POLICY
from tests.fakes.zendesk_api import FakeZendesk

RAW = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))


def policy_with(rollout: dict):
    return parse_policy({**RAW, "rollout": rollout})


# -- which mode applies (pure) ------------------------------------------------------------------


def test_a_new_install_is_in_shadow_everywhere():
    policy = load_policy(DEFAULT_POLICY)
    assert {policy.rollout.mode_for(h, c) for h in ("zendesk", "intercom") for c in (*CATEGORIES, None)} == {
        Mode.SHADOW}
    assert Rollout().mode is Mode.SHADOW  # a policy with no rollout section too
    raw = {k: v for k, v in RAW.items() if k != "rollout"}
    assert parse_policy(raw).rollout.mode_for("zendesk", "Billing") is Mode.SHADOW


def test_the_most_specific_entry_wins():
    rollout = policy_with({"mode": "shadow", "categories": {"Billing": "tag", "Technical": "draft"},
                           "helpdesks": {"zendesk": {"mode": "draft", "categories": {"Technical": "off"}},
                                         "intercom": {"categories": {"Billing": "draft"}}}}).rollout
    assert rollout.mode_for("zendesk", "Technical") is Mode.OFF  # the helpdesk's category
    assert rollout.mode_for("zendesk", "Billing") is Mode.TAG  # the category, for every helpdesk
    assert rollout.mode_for("zendesk", "Other") is Mode.DRAFT  # the helpdesk's mode
    assert rollout.mode_for("zendesk") is Mode.DRAFT
    assert rollout.mode_for("intercom", "Billing") is Mode.DRAFT
    assert rollout.mode_for("intercom", "Technical") is Mode.DRAFT  # the category, for every helpdesk
    assert rollout.mode_for("intercom", "Other") is Mode.SHADOW  # the section's mode
    assert rollout.describe("zendesk", tuple(CATEGORIES)) == "zendesk: draft (Billing: tag, Technical: off)"


def test_a_helpdesk_is_ignored_only_when_every_category_is_off():
    assert policy_with({"helpdesks": {"intercom": {"mode": "off"}}}).rollout.ignores("intercom")
    assert not policy_with({"helpdesks": {"intercom": {"mode": "off"}}}).rollout.ignores("zendesk")
    partly = policy_with({"mode": "off", "categories": {"Billing": "shadow"}}).rollout
    assert not partly.ignores("zendesk")  # a Billing ticket must still be triaged to be known


@pytest.mark.parametrize("rollout, message", [
    ({"mode": "loud"}, "rollout.mode"),
    ({"categories": {"Biling": "draft"}}, "Biling"),
    ({"helpdesks": {"freshdesk": {"mode": "draft"}}}, "unknown helpdesk 'freshdesk'"),
    ({"recommend": {"draft": 0.7, "tag": 0.9}}, "tag (0.9) must not be above draft (0.7)"),
    ({"mod": "draft"}, "rollout.mod"),
])
def test_invalid_rollout_sections_are_refused_with_the_key(rollout, message):
    with pytest.raises(PolicyError) as info:
        policy_with(rollout)
    assert message in str(info.value)


# -- what each mode does to a ticket ----------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("ZENPY_FORCE_NETLOC", raising=False)
    monkeypatch.delenv("ZENPY_FORCE_SCHEME", raising=False)
    fake = FakeZendesk()
    fake.add_user(501, name="Maria Lopez", email="maria@example.com")
    fake.add_ticket(5158, subject="Charged twice", requester_id=501, tags=["mobile"], priority="normal",
                    description="I was charged twice for my subscription this month, please refund one.")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, base_url="https://acme.zendesk.com")
        yield fake
    assert fake.spec_violations == []


def worker_in(store, rollout: dict) -> Worker:
    settings = Settings.from_env({"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
                                  "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": "secret"})
    return Worker(helpdesks={"zendesk": ZendeskHelpdesk.from_settings(settings.zendesk)},
                  llm=make_llm("offline", offline_config=settings.offline_config), store=store,
                  policy=policy_with(rollout), prompts=load_prompts(settings.prompts_dir), settings=settings)


def run_ticket(worker: Worker) -> int:
    run_id = worker.store.accept(TicketEvent("zendesk", "created", "5158", delivery_id="inv-1")).run_id
    process_run(run_id, worker)
    return run_id


def test_shadow_stores_the_triage_and_draft_and_writes_nothing(fake, store):
    worker = worker_in(store, {"mode": "shadow"})
    run = store.get(run_ticket(worker))
    assert run.status == RunStatus.SHADOW
    assert fake.puts(5158) == [] and not any(r.method != "GET" for r in fake.requests)
    assert run.triage["category"] == "Billing" and run.draft and run.rules["rollout"] == "shadow"
    would = run.actions["would_write"]
    assert run.draft in would["note"] and "ai_triaged" in would["add_tags"] and would["group_id"] == 101
    assert records.drafts(store, "zendesk", "5158") == []  # no draft reached agents: nothing to review


def test_tag_writes_tags_priority_and_group_without_a_note(fake, store):
    worker = worker_in(store, {"mode": "shadow", "categories": {"Billing": "tag"}})
    run = store.get(run_ticket(worker))
    assert run.status == RunStatus.SUCCEEDED and run.rules["rollout"] == "tag"
    (put,) = fake.puts(5158)
    assert "comment" not in put.json["ticket"] and "custom_fields" not in put.json["ticket"]
    ticket = fake.ticket(5158)
    assert [c for c in ticket["comments"] if not c["public"]] == []
    assert {"ai_triaged", "ai_category_billing", "ai_escalation_refund"} <= set(ticket["tags"])
    assert ticket["group_id"] == 101
    assert records.drafts(store, "zendesk", "5158") == []


def test_draft_writes_everything(fake, store):
    worker = worker_in(store, {"mode": "off", "helpdesks": {"zendesk": {"categories": {"Billing": "draft"}}}})
    run = store.get(run_ticket(worker))
    assert run.status == RunStatus.SUCCEEDED and run.rules["rollout"] == "draft"
    (put,) = fake.puts(5158)
    assert put.json["ticket"]["comment"]["public"] is False and run.draft in put.json["ticket"]["comment"]["body"]
    assert len(records.drafts(store, "zendesk", "5158")) == 1  # its review has started


def test_off_for_the_category_triages_only_and_writes_nothing(fake, store):
    worker = worker_in(store, {"mode": "draft", "categories": {"Billing": "off"}})
    run = store.get(run_ticket(worker))
    assert run.status == RunStatus.SKIPPED and "Billing is off in zendesk" in run.error
    assert run.rules["category"] == "Billing" and run.draft is None
    assert fake.puts(5158) == []


@pytest.mark.parametrize("mode, tag_written, note_written", [
    ("shadow", False, False), ("tag", True, False), ("draft", True, True)])
def test_a_failure_is_shown_in_the_helpdesk_as_far_as_the_mode_writes(fake, store, mode, tag_written, note_written):
    worker = worker_in(store, {"mode": mode})
    run_id = worker.store.accept(TicketEvent("zendesk", "created", "5158", delivery_id="inv-1")).run_id
    store.claim(run_id, lease_seconds=60)
    assert store.fail(run_id, "the helpdesk kept answering 500", token=1)
    assert post_failure_note(run_id, worker)
    ticket = fake.ticket(5158)
    assert ("ai_failed" in ticket["tags"]) is tag_written
    assert any(not c["public"] for c in ticket["comments"]) is note_written
    assert store.get(run_id).failure_noted_at is not None


def test_a_bare_off_in_yaml_is_the_mode_off():
    raw = yaml.safe_load("rollout: {mode: draft, categories: {Other: off}}")
    assert raw["rollout"]["categories"]["Other"] is False  # YAML 1.1
    assert parse_policy({**RAW, **raw}).rollout.mode_for("zendesk", "Other") is Mode.OFF
    with pytest.raises(PolicyError, match="true is not a mode"):
        parse_policy({**RAW, **yaml.safe_load("rollout: {mode: on}")})
