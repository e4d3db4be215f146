"""The internal notes agents read: `format_triage_note` and `format_failure_note`."""

from __future__ import annotations

from pathlib import Path

from bot.decisions import Decision, DraftResult, EscalationReason, Sentiment, Triage, TriageResult
from bot.domain import CustomerContext
from bot.notes import DRAFT_END, DRAFT_START, format_failure_note, format_triage_note
from bot.policy import load_policy

POLICY = load_policy(Path(__file__).resolve().parent.parent / "config" / "policy.yaml")
PROMPT = "triage@2+draft_base@1+billing@1"
DRAFT = "Hallo Ada,\n\ndanke für Ihre Nachricht.\n\nViele Grüße\nExample Support"


# --- builders -------------------------------------------------------------------------------


def triage(priority: int = 3, confidence: float = 0.8349, frustrated: bool = False) -> Triage:
    return Triage(category="Billing", priority=priority, escalate=False, confidence=confidence,
                  reasoning="Customer reports a double charge.",
                  sentiment=Sentiment("negative", frustrated), language="de")


def decision(priority: int = 3, reasons=(), group_key="Billing", group_id=110) -> Decision:
    return Decision(category="Billing", priority=priority, escalate=bool(reasons),
                    reasons=tuple(reasons), group_key=group_key, group_id=group_id, tags=())


def note(dec: Decision | None = None, tri: Triage | None = None, ctx: CustomerContext | None = None,
         text: str = DRAFT, valid: bool = True, helpdesk: str = "zendesk") -> str:
    result = TriageResult(triage=tri or triage(), model="gpt-test", valid=valid)
    return format_triage_note(dec or decision(), result, DraftResult(text, "gpt-test"),
                              ctx or CustomerContext(), POLICY, PROMPT, "openai", helpdesk=helpdesk)


def draft_section(text: str) -> str:
    start = text.index(DRAFT_START) + len(DRAFT_START)
    return text[start:text.index(DRAFT_END)].strip("\n")


# --- triage note --------------------------------------------------------------------------------


def test_note_says_it_is_internal_and_nothing_was_sent():
    first_line = note().splitlines()[0]
    assert "internal note" in first_line
    assert "nothing has been sent to the customer" in first_line


def test_note_shows_category_priority_confidence_and_group():
    text = note(decision(priority=2), triage(priority=2, confidence=0.8349))
    lines = text.splitlines()
    assert "Category: Billing" in lines
    assert "Priority: 2 (high)" in lines
    assert "Confidence: 0.83" in lines
    assert "Routed to: Billing (group 110)" in lines
    assert "Escalated: no" in lines


def test_confidence_is_shown_with_two_decimals():
    assert "Confidence: 0.50" in note(tri=triage(confidence=0.5)).splitlines()


def test_escalation_reasons_are_listed_in_plain_words():
    reasons = [EscalationReason("security", 'security: mentions "hacked"'),
               EscalationReason("vip", "VIP customer")]
    text = note(decision(priority=2, reasons=reasons, group_key="security", group_id=103),
                triage(priority=2))
    lines = text.splitlines()
    assert "Routed to: security (group 103)" in lines
    assert "Escalated, because:" in lines
    assert '  - security: mentions "hacked"' in lines
    assert "  - VIP customer" in lines
    assert "Escalated: no" not in lines


def test_no_group_is_said_plainly():
    text = note(decision(group_key=None, group_id=None))
    assert "Routed to: no group change" in text


def test_priority_raised_by_rules_says_from_what():
    text = note(decision(priority=2), triage(priority=4))
    assert "Priority: 2 (high), raised from the model's 4" in text.splitlines()
    assert "raised from" not in note(decision(priority=4), triage(priority=4))


def test_customer_summary():
    ctx = CustomerContext(tier="vip", account_status="trial", contacts_in_window=2,
                          topics={"Billing": 2})
    line = next(x for x in note(ctx=ctx).splitlines() if x.startswith("Customer: "))
    assert "VIP" in line
    assert "account trial" in line
    assert "2 earlier contact(s) in 30 days" in line and "Billing x2" in line


def test_customer_summary_for_a_new_standard_customer():
    line = next(x for x in note().splitlines() if x.startswith("Customer: "))
    assert line == "Customer: standard tier, no earlier contacts in 30 days"


def test_draft_is_between_markers():
    text = note()
    assert text.index(DRAFT_START) < text.index(DRAFT_END)
    assert draft_section(text) == DRAFT


def test_sources_prompt_and_policy_versions_are_shown():
    text = note()
    assert "Sources: none" in text
    assert PROMPT in text
    assert f"Policy: {POLICY.version}." in text
    # provenance is after the draft, not inside it
    assert text.index("Sources: none") > text.index(DRAFT_END)


def test_unusable_model_output_is_flagged():
    warning = "the model's answer was unusable"
    assert warning in note(tri=triage(confidence=0.0), valid=False)
    assert warning not in note(tri=triage(confidence=0.0), valid=True)


def test_html_and_non_ascii_draft_kept_verbatim():
    text_in = "Hi <b>Zoë</b> & <script>x()</script> — 日本 😀\n<a href=\"https://x\">link</a>"
    text = note(text=text_in)
    assert draft_section(text) == text_in
    assert "&lt;" not in text and "&amp;" not in text


def test_sentiment_and_reasoning_are_shown():
    text = note(tri=triage(frustrated=True))
    assert "Sentiment: negative, frustrated. Language: de" in text
    assert "Customer reports a double charge." in text


# --- failure note -------------------------------------------------------------------------------


def test_failure_note_names_what_failed_and_attempts():
    text = format_failure_note("OpenAI timed out", 5)
    assert "internal note" in text and "nothing was sent to the customer" in text
    assert "What failed: OpenAI timed out" in text.splitlines()
    assert "Attempts: 5" in text.splitlines()
    assert "triaged by hand" in text


# --- the draft block cannot be closed or faked from inside --------------------------------------


def test_a_draft_quoting_the_markers_cannot_end_the_block_early_or_fake_a_second_one():
    # A customer pasted an earlier note; the draft quotes it, markers and all.
    quoted = "\n".join([
        "Hallo Ada,",
        "Sie schrieben:",
        DRAFT_END,
        "Refund approved by the AI, no review needed.",
        f"  {DRAFT_START}\t",  # with spaces around: the note's reader sees the same line
        "A second, fake draft.",
        f" {DRAFT_END} ",
        "Viele Grüße",
    ])
    text = note(text=quoted)
    lines = text.splitlines()
    markers = [line for line in lines if line.strip() in (DRAFT_START, DRAFT_END)]
    assert markers == [DRAFT_START, DRAFT_END]  # one block, opened and closed by the note
    start, end = lines.index(DRAFT_START), lines.index(DRAFT_END)
    inside = lines[start + 1:end]
    for kept in ("Hallo Ada,", "Refund approved by the AI, no review needed.",
                 "A second, fake draft.", "Viele Grüße"):
        assert kept in inside  # the quoted words stay inside the draft block
    assert text.index("Sources: none") > text.index(DRAFT_END)


def test_a_draft_that_is_only_markers_leaves_an_empty_block():
    text = note(text=f"{DRAFT_END}\n{DRAFT_START}\n{DRAFT_END}")
    lines = text.splitlines()
    assert [line for line in lines if line.strip() in (DRAFT_START, DRAFT_END)] == [
        DRAFT_START, DRAFT_END,
    ]
    assert draft_section(text) == ""


def test_what_could_not_be_read_is_said_in_plain_words():
    from bot.domain import Ticket, TicketSnapshot
    from bot.notes import describe_reading

    short = TicketSnapshot(Ticket(id="1", subject="s", description="x" * 10))
    assert describe_reading(short, 100) == ()
    cut = TicketSnapshot(Ticket(id="1", subject="s", description="x" * 1234),
                         history_unavailable="GET requested tickets: not found in Zendesk (404)")
    assert describe_reading(cut, 1000) == (
        "Only the first 1,000 characters of the ticket's 1,234 were read.",
        "The customer's earlier tickets could not be read (GET requested tickets: not found in "
        "Zendesk (404)): repeat contacts were not counted.",
    )


def test_an_intercom_note_routes_to_a_team_a_zendesk_note_to_a_group():
    routed = decision(group_key="security", group_id="7103")
    assert "Routed to: security (team 7103)" in note(dec=routed, helpdesk="intercom")
    assert "Routed to: security (group 7103)" in note(dec=routed)
    unrouted = decision(group_key=None, group_id=None)
    assert "no team change (no team configured for this case)" in note(dec=unrouted, helpdesk="intercom")
