"""Drafts of the offline engine: templates and help-center passages (bot/llm/offline_drafts.py);
the model plays no part."""

import pytest

from bot.decisions import Decision, Sentiment, Triage, Usage
from bot.domain import CustomerContext, Ticket
from bot.llm import DraftRequest
from tests.triage_support import MESSAGES, engine, tiny, tiny_dir  # noqa: F401  (fixtures)


def draft(engine, category="Billing", subject="Charged twice", max_words=None, **ctx):
    context = CustomerContext(**ctx)
    t = Triage(category, 3, False, 0.8, "r", Sentiment(), "en")
    decision = Decision(category, 3, False, (), None, None, ())
    request = DraftRequest(
        messages=MESSAGES,
        ticket=Ticket(id="1", subject=subject, description="..."),
        context=context,
        triage=t,
        decision=decision,
        template_id=category.lower().replace(" ", "_"),
        template_version="1",
        max_words=max_words,
    )
    return engine.draft(request)


VIP_WORDS = "priority handling"
TRIAL_WORDS = "paid plans"
REPEAT_WORDS = "in touch with us about this before"


def test_draft_basics(engine):
    result = draft(engine, name="Jane Doe")
    text = result.text
    assert text.startswith("Hi Jane,")
    assert "Doe" not in text
    assert '"Charged twice"' in text
    assert "billing team" in text
    assert text.endswith("The Support Team")
    assert result.usage == Usage(0, 0) and result.model == engine.model
    assert result.engine == "offline" and engine.model.startswith("local:tiny@")
    for extra in (VIP_WORDS, TRIAL_WORDS, REPEAT_WORDS):
        assert extra not in text


def test_draft_without_a_name(engine):
    assert draft(engine).text.startswith("Hello,\n")


def test_a_chat_without_a_subject_is_thanked_for_the_message(engine):
    # Most Intercom conversations have no subject: no 'about "your request"'.
    text = draft(engine, subject="  ").text
    assert "Thank you for your message." in text and "your request" not in text


@pytest.mark.parametrize("category", ["Billing", "Other"])
def test_draft_makes_no_refund_promise(engine, category):
    text = draft(engine, category=category, subject="Refund please").text.lower()
    assert "refund" not in text.replace('"refund please"', "")
    assert "agent" in text or "team will" in text


@pytest.mark.parametrize(
    "category, phrase",
    [
        ("Technical", "browser or app version"),
        ("Feature request", "product team"),
        ("Bug report", "reproduce"),
        ("Account access", "regain access"),
        ("Other", "review your message"),
    ],
)
def test_draft_is_category_specific(engine, category, phrase):
    assert phrase in draft(engine, category=category).text


def test_draft_extras_only_when_applicable(engine):
    assert VIP_WORDS in draft(engine, tier="vip").text
    assert VIP_WORDS not in draft(engine, tier="standard").text
    assert TRIAL_WORDS in draft(engine, account_status="trial").text
    assert TRIAL_WORDS not in draft(engine, account_status="active").text
    assert REPEAT_WORDS in draft(engine, topics={"Billing": 1}).text
    # Earlier contacts about another topic are not a repeat of this one.
    assert REPEAT_WORDS not in draft(engine, topics={"Technical": 3}).text
    assert REPEAT_WORDS not in draft(engine, topics={"Billing": 0}).text


def test_draft_respects_max_words(engine):
    everything = dict(name="Jane", tier="vip", account_status="trial", topics={"Billing": 2})
    full = draft(engine, **everything).text
    assert len(full.split()) > 60
    short = draft(engine, max_words=45, **everything).text
    assert len(short.split()) <= 45
    assert short.startswith("Hi Jane,") and "billing team" in short
    assert TRIAL_WORDS not in short  # the least important extra goes first
    tiny = draft(engine, max_words=8, name="Jane").text
    assert len(tiny.split()) <= 8 and tiny.startswith("Hi Jane,")


def test_long_subject_is_shortened(engine):
    text = draft(engine, subject="word " * 40).text
    quoted = text.split('"')[1]
    assert quoted.endswith("...") and len(quoted) <= 80


def test_draft_is_deterministic(engine):
    kwargs = dict(name="Jane", tier="vip", account_status="trial", topics={"Billing": 1})
    assert draft(engine, **kwargs) == draft(engine, **kwargs)
