"""The pure part of tracking (`bot.tracking.assess`): each draft's review action, overrides,
the ticket's outcome and the follow-ups, from a history built by hand."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.review_policy import ReviewPolicy
from bot.tracking.assess import (
    Command,
    Draft,
    assess,
    classify,
    normalise,
    parse_command,
    repeated_question,
    similarity,
)
from bot.tracking.history import Change, Field, Message, Rating, Role, TicketHistory
from bot.vocabulary import ReviewAction

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = ReviewPolicy()  # sent_as_is 0.95, lightly_edited 0.70, not_used 0.30
DRAFT = ("Hi Ana, thanks for writing. You can reset your password from the sign-in page: choose "
         "'Forgot password' and follow the link we email you [1]. The link works for one hour.")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def msg(id: str, minutes: float, role: Role, text: str, public: bool = True, author: str = "") -> Message:
    return Message(id, at(minutes), author or {Role.AGENT: "381", Role.CUSTOMER: "100"}.get(role), role, public, text)


def history(*messages: Message, changes: tuple[Change, ...] = (), status: str = "open",
            rating: Rating | None = None, tags: tuple[str, ...] = (), helpdesk: str = "zendesk") -> TicketHistory:
    return TicketHistory(helpdesk, "42", status, "110", "normal", tags, tuple(messages), changes, rating, "100")


def draft(run_id: int = 1, minutes: float = 1, text: str = DRAFT, **kw) -> Draft:
    values = {"category_tag": "ai_category_account_access", "priority": "normal", "group_id": "114"}
    return Draft(run_id, at(minutes), text, **{**values, **kw})


OPENING = msg("c1", 0, Role.CUSTOMER, "I can't sign in, the password reset link never arrives")


# --- similarity and classification -------------------------------------------------------------


def test_citation_markers_case_and_spacing_do_not_count():
    assert normalise("Hello  World [1]\n[2]") == "hello world"
    assert similarity(DRAFT, DRAFT.replace(" [1]", "").upper()) == 1.0


@pytest.mark.parametrize("score, action", [
    (1.0, ReviewAction.SENT_AS_IS), (0.95, ReviewAction.SENT_AS_IS),
    (0.9499, ReviewAction.LIGHTLY_EDITED), (0.70, ReviewAction.LIGHTLY_EDITED),
    (0.6999, ReviewAction.MAJOR_REWRITE), (0.30, ReviewAction.MAJOR_REWRITE),
    (0.2999, ReviewAction.NOT_USED), (0.0, ReviewAction.NOT_USED),
])
def test_thresholds_are_the_policys(score, action):
    assert classify(score, POLICY) is action


def test_thresholds_come_from_the_policy_not_constants():
    strict = ReviewPolicy(sent_as_is=1.0, lightly_edited=0.99, not_used=0.5)
    assert classify(0.97, strict) is ReviewAction.MAJOR_REWRITE
    assert classify(0.97, POLICY) is ReviewAction.SENT_AS_IS


@pytest.mark.parametrize("text, parsed", [
    ("#ai redraft shorter, mention the invoice", (Command.REDRAFT, "shorter, mention the invoice")),
    ("  #AI Redraft: in Spanish please", (Command.REDRAFT, "in Spanish please")),
    ("#ai escalate", (Command.ESCALATE, "")),
    ("#ai escalate - customer is a journalist", (Command.ESCALATE, "customer is a journalist")),
    ("please #ai redraft", None),  # only a note that starts with the command
    ("#ai", None),
    ("#aim redraft", None),
    ("#ai rewrite", None),
])
def test_commands(text, parsed):
    assert parse_command(text) == parsed


# --- review actions ----------------------------------------------------------------------------


def test_a_reply_that_is_the_draft_is_sent_as_is_with_who_and_when():
    reply = msg("c3", 4, Role.AGENT, DRAFT.replace(" [1]", ""))
    facts = assess(history(OPENING, reply), [draft()], POLICY).reviews[1]
    assert (facts.action, facts.acted_by, facts.acted_at, facts.replied_at) == (
        ReviewAction.SENT_AS_IS, "381", at(4), at(4))
    assert facts.similarity == 1.0


def test_a_light_edit_and_a_rewrite_are_told_apart():
    light = DRAFT.replace("Hi Ana, thanks for writing.", "Hello Ana!")
    rewrite = "Hello Ana, I've reset your account myself; please check your inbox. The link lasts an hour."
    light_facts = assess(history(OPENING, msg("c3", 4, Role.AGENT, light)), [draft()], POLICY).reviews[1]
    rewrite_facts = assess(history(OPENING, msg("c3", 4, Role.AGENT, rewrite)), [draft()], POLICY).reviews[1]
    assert light_facts.action is ReviewAction.LIGHTLY_EDITED
    assert 0.70 <= light_facts.similarity < 0.95
    assert rewrite_facts.action in (ReviewAction.MAJOR_REWRITE, ReviewAction.NOT_USED)
    assert rewrite_facts.similarity < 0.70


def test_notes_customer_messages_and_the_bot_are_not_the_agents_reply():
    h = history(OPENING, msg("n1", 2, Role.AGENT, "checking with billing", public=False),
                msg("c2", 3, Role.CUSTOMER, "any news?"), msg("b1", 3, Role.BOT, DRAFT))
    facts = assess(h, [draft()], POLICY).reviews[1]
    assert facts.action is None and facts.replied_at is None and facts.similarity is None


def test_a_reply_before_the_draft_is_not_its_review_but_one_in_the_same_second_is():
    before = msg("c0", 0.5, Role.AGENT, DRAFT)
    assert assess(history(OPENING, before), [draft()], POLICY).reviews[1].action is None
    # The note was posted at 09:01:00.700; Zendesk stamps the reply 09:01:00.
    same_second = Message("c3", at(1), "381", Role.AGENT, True, DRAFT)
    posted = Draft(1, at(1) + timedelta(milliseconds=700), DRAFT)
    assert assess(history(OPENING, same_second), [posted], POLICY).reviews[1].action is ReviewAction.SENT_AS_IS


def test_each_draft_is_judged_until_the_next_one():
    second_text = "Hi Ana, here is a shorter answer: use 'Forgot password' on the sign-in page."
    h = history(OPENING, msg("n1", 2, Role.AGENT, "#ai redraft shorter", public=False),
                msg("c3", 6, Role.AGENT, second_text))
    reviews = assess(h, [draft(1, 1), draft(2, 3, second_text)], POLICY).reviews
    assert (reviews[1].action, reviews[1].acted_by, reviews[1].acted_at) == (ReviewAction.REDRAFT, "381", at(2))
    assert reviews[1].replied_at is None  # the reply came after the second draft: it is the second's
    assert reviews[2].action is ReviewAction.SENT_AS_IS and reviews[2].replied_at == at(6)


def test_a_redraft_note_reviews_the_draft_before_even_when_stamped_with_the_redraft():
    # Zendesk stamps whole seconds: the note at 09:02:00, the redraft posted at 09:02:00.4.
    note = Message("n1", at(2), "381", Role.AGENT, False, "#ai redraft shorter")
    second = Draft(2, at(2) + timedelta(milliseconds=400), "Shorter.", requested_by_note="n1")
    reviews = assess(history(OPENING, note), [draft(1, 1), second], POLICY).reviews
    assert (reviews[1].action, reviews[2].action) == (ReviewAction.REDRAFT, None)


def test_the_first_action_wins_and_the_escalate_tag_is_an_action():
    tag = Change(Field.TAGS, at(2), "381", Role.AGENT, "ai_triaged ai_escalate", "ai_triaged")
    h = history(OPENING, msg("c3", 5, Role.AGENT, DRAFT), changes=(tag,))
    facts = assess(h, [draft()], POLICY).reviews[1]
    assert (facts.action, facts.acted_at) == (ReviewAction.ESCALATE, at(2))
    assert facts.replied_at == at(5) and facts.similarity == 1.0  # still measured


# --- overrides ---------------------------------------------------------------------------------


def test_overrides_are_fields_a_human_changed_after_the_draft():
    changes = (
        Change(Field.PRIORITY, at(0), None, Role.SYSTEM, "normal", None),  # before: not an override
        Change(Field.PRIORITY, at(3), "381", Role.AGENT, "urgent", "normal"),
        Change(Field.GROUP, at(4), None, Role.SYSTEM, "999", "114"),  # a trigger: not a human
        Change(Field.TAGS, at(5), "381", Role.AGENT, "ai_triaged ai_category_billing",
               "ai_triaged ai_category_account_access"),
    )
    overrides = assess(history(OPENING, changes=changes), [draft()], POLICY).reviews[1].overrides
    assert overrides["priority"] == {"bot": "normal", "agent": "urgent", "by": "381", "at": at(3).isoformat()}
    assert overrides["category"]["agent"] == "ai_category_billing"
    assert "group" not in overrides


def test_changing_a_field_back_to_the_bots_value_is_no_override():
    changes = (Change(Field.GROUP, at(3), "381", Role.AGENT, "120", "114"),
               Change(Field.GROUP, at(4), "381", Role.AGENT, "114", "120"))
    assert assess(history(OPENING, changes=changes), [draft()], POLICY).reviews[1].overrides == {}


def test_an_intercom_category_override_is_read_from_the_tags_it_has():
    h = history(OPENING, tags=("ai_triaged", "ai_category_billing"), helpdesk="intercom")
    assert assess(h, [draft()], POLICY).reviews[1].overrides["category"]["agent"] == "ai_category_billing"


# --- outcome -----------------------------------------------------------------------------------


def solved(minutes: float, previous: str = "open") -> Change:
    return Change(Field.STATUS, at(minutes), "381", Role.AGENT, "solved", previous)


def test_solved_once_with_no_reassignment_is_first_contact_resolution_and_csat_is_kept():
    h = history(OPENING, msg("c3", 4, Role.AGENT, DRAFT), changes=(solved(5),), status="solved",
                rating=Rating("good", True, "quick, thanks", at(30)))
    outcome = assess(h, [draft()], POLICY).outcome
    assert (outcome.solved_at, outcome.reopened, outcome.first_contact_resolution) == (at(5), 0, True)
    assert (outcome.csat_score, outcome.csat_good, outcome.csat_comment, outcome.rated_at) == (
        "good", True, "quick, thanks", at(30))


def test_open_tickets_have_no_fcr_yet_and_reopened_ones_are_not_fcr():
    assert assess(history(OPENING), [draft()], POLICY).outcome.first_contact_resolution is None
    reopened = (solved(5), Change(Field.STATUS, at(8), "100", Role.CUSTOMER, "open", "solved"), solved(9))
    outcome = assess(history(OPENING, changes=reopened, status="solved"), [draft()], POLICY).outcome
    assert (outcome.reopened, outcome.solved_at, outcome.first_contact_resolution) == (1, at(5), False)


def test_moved_to_an_escalation_group_after_the_draft_is_escalated_later_and_not_fcr():
    moved = Change(Field.GROUP, at(3), "381", Role.AGENT, "101", "114")
    outcome = assess(history(OPENING, changes=(moved, solved(6)), status="solved"), [draft()], POLICY,
                     escalation_groups=frozenset({"101"})).outcome
    assert (outcome.escalated_later, outcome.escalated_at, outcome.reassigned) == (True, at(3), False)
    assert outcome.first_contact_resolution is False


def test_moved_to_another_team_is_a_reassignment():
    moved = Change(Field.GROUP, at(3), "381", Role.AGENT, "120", "114")
    outcome = assess(history(OPENING, changes=(moved, solved(6)), status="solved"), [draft()], POLICY,
                     escalation_groups=frozenset({"101"})).outcome
    assert (outcome.reassigned, outcome.escalated_later, outcome.first_contact_resolution) == (True, False, False)


def test_a_ticket_the_bot_routed_to_an_escalation_group_is_not_escalated_later():
    moved = Change(Field.GROUP, at(3), "381", Role.AGENT, "101", "103")
    outcome = assess(history(OPENING, changes=(moved,)), [draft(escalated=True, group_id="103")], POLICY,
                     escalation_groups=frozenset({"101", "103"})).outcome
    assert outcome.escalated_later is False


def test_a_later_escalating_draft_command_or_run_is_escalated_later():
    groups = frozenset({"101"})
    outcome = assess(history(OPENING), [draft(1, 1), draft(2, 20, escalated=True, group_id="101")], POLICY,
                     escalation_groups=groups).outcome
    assert (outcome.escalated_later, outcome.escalated_at) == (True, at(20))
    # Escalated without a group (no source, say) is no escalation to a human group.
    outcome = assess(history(OPENING), [draft(1, 1), draft(2, 20, escalated=True)], POLICY,
                     escalation_groups=groups).outcome
    assert outcome.escalated_later is False
    outcome = assess(history(OPENING), [draft()], POLICY, escalations=[at(12), at(0)]).outcome
    assert (outcome.escalated_later, outcome.escalated_at) == (True, at(12))
    note = msg("n1", 7, Role.AGENT, "#ai escalate", public=False)
    outcome = assess(history(OPENING, note), [draft()], POLICY).outcome
    assert (outcome.escalated_later, outcome.escalated_at) == (True, at(7))


# --- follow-ups --------------------------------------------------------------------------------


def test_commands_after_the_first_draft_become_runs_keyed_by_their_note():
    h = history(OPENING, msg("n0", 0.5, Role.AGENT, "#ai redraft too early", public=False),
                msg("n1", 2, Role.AGENT, "#ai redraft shorter, mention the invoice", public=False),
                msg("n2", 3, Role.AGENT, "#ai escalate legal asked", public=False),
                msg("n3", 4, Role.CUSTOMER, "#ai escalate", public=False, author="100"))
    follow_ups = assess(h, [draft()], POLICY).follow_ups
    assert [(f.kind, f.key, f.by, f.request) for f in follow_ups] == [
        ("redraft", "n1", "381", {"instruction": "shorter, mention the invoice", "note": "n1"}),
        ("escalate", "n2", "381", {"reason": "agent_request", "by": "381", "comment": "legal asked"}),
    ]


def test_the_escalate_tag_is_one_run_for_the_ticket():
    tag = Change(Field.TAGS, at(2), "381", Role.AGENT, "ai_escalate", "")
    (follow_up,) = assess(history(OPENING, changes=(tag,)), [draft()], POLICY).follow_ups
    assert (follow_up.kind, follow_up.key) == ("escalate", "tag:ai_escalate")


def test_customer_messages_no_run_has_read_are_re_triaged():
    h = history(OPENING, msg("c2", 3, Role.CUSTOMER, "still nothing"), msg("c4", 6, Role.CUSTOMER, "hello?"),
                msg("c5", 7, Role.AGENT, "on it"))
    new = [f.key for f in assess(h, [draft()], POLICY, seen_until=at(4)).follow_ups if f.kind == "customer_replied"]
    assert new == ["c4"]
    # A run still to read the ticket will see them all: nothing to start.
    assert assess(h, [draft()], POLICY, seen_until=None).follow_ups == ()


def test_a_repeated_question_after_a_sent_draft():
    sent = at(4)
    same = history(OPENING, msg("c3", 4, Role.AGENT, DRAFT),
                   msg("c4", 9, Role.CUSTOMER, "The password reset link never arrives, I still can't sign in"))
    other = history(OPENING, msg("c3", 4, Role.AGENT, DRAFT),
                    msg("c4", 9, Role.CUSTOMER, "Thanks! Also, can I change the invoice address?"))
    assert repeated_question(same, sent, POLICY) >= POLICY.repeat_similarity
    assert repeated_question(other, sent, POLICY) < POLICY.repeat_similarity
    assert repeated_question(history(OPENING, msg("c3", 4, Role.AGENT, DRAFT)), sent, POLICY) is None
