"""The offline engine (a trained local model + config/offline.yaml) on realistic tickets:
category, confidence, reasoning, determinism and priority.

The tests use a tiny model trained here on 60 hand-written tickets (tests/triage_support.py),
so they compare the engine with the model itself rather than with figures of the bundled
model, which is retrained from time to time. Signals: test_triage_signals.py; configuration and
the bundled model: test_llm_offline_config.py; drafts: test_offline_drafts.py.
"""

import json
import re
from pathlib import Path

import pytest

from bot.decisions import Usage
from bot.domain import CustomerContext, Ticket
from bot.llm import OfflineEngine, TriageRequest
from bot.llm.offline import read_config
from bot.triage.data import LabelledTicket
from bot.triage.model import train
from tests.triage_support import (  # noqa: F401  (fixtures)
    CONFIG,
    MESSAGES,
    TICKETS,
    TINY_OPTIONS,
    engine,
    quoted,
    save_tiny_model,
    tiny,
    tiny_dir,
    tiny_model,
    triage,
)


@pytest.fixture(scope="module")
def prio_model():
    model = tiny_model(priorities=True, name="tiny-priority")
    assert model.priority_levels == [1, 2, 3, 4, 5]
    return model


@pytest.fixture(scope="module")
def prio_engine(prio_model):
    return OfflineEngine(read_config(CONFIG), prio_model)


@pytest.fixture(scope="module")
def swapped_model():
    """Billing and Feature request tickets with their labels swapped, and nothing else."""
    swap = {"Billing": "Feature request", "Feature request": "Billing"}
    tickets = [
        LabelledTicket(subject, body, swap[category])
        for category in swap
        for subject, body in TICKETS[category]
    ]
    model = train(tickets, TINY_OPTIONS)
    model.meta["name"] = "swapped"
    return model


# -- category and confidence: the model's ----------------------------------------------------


@pytest.mark.parametrize(
    "subject, description, category",
    [
        ("Double charge", "I was charged twice for my subscription this month.", "Billing"),
        ("Can't get in", "I can't log in, password reset email never arrives.", "Account access"),
        ("Idea", "It would be great if you could add dark mode.", "Feature request"),
        ("Upload problem", "The app crashes when I upload a PNG.", "Bug report"),
        ("Webhook setup", "How do I configure the webhook integration with our API?", "Technical"),
        ("Hello", "Just wanted to say hi to the team.", "Other"),
    ],
)
def test_category_and_confidence_are_the_models(engine, tiny, subject, description, category):
    expected = tiny.predict([(subject, description)])[0]
    result = triage(engine, subject, description)
    assert expected.category == category  # the tiny model gets these right...
    assert result.triage.category == category  # ...and the engine says what the model says
    assert result.triage.confidence == expected.confidence
    assert result.valid is True and result.error is None


def test_category_comes_from_the_model_not_from_keywords(swapped_model):
    # A model taught that charges are feature requests says so, and knows no other category.
    engine = OfflineEngine(read_config(CONFIG), swapped_model)
    t = triage(engine, "Double charge", "I was charged twice for my subscription this month.").triage
    assert t.category == "Feature request"
    assert t.priority == 4  # the feature-request priority follows the model's category
    assert t.reasoning.startswith("Local model swapped: Feature request ")
    assert "(next: Billing " in t.reasoning
    assert triage(engine, "Dark mode", "Please add a dark mode, it would be great.").triage.category == "Billing"
    assert triage(engine, "Hello", "Just wanted to say hi to the team.").triage.category in (
        "Billing", "Feature request"
    )


def test_low_confidence_is_passed_on_and_never_escalated(engine, tiny):
    # Unsure and frustrated: the rules escalate such tickets, the engine only reports them.
    subject, body = "Downgrade", "Please downgrade my plan to the basic one, still waiting!!!"
    expected = tiny.predict([(subject, body)])[0]
    assert expected.confidence < 0.7
    t = triage(engine, subject, body).triage
    assert (t.category, t.confidence) == (expected.category, expected.confidence)
    assert t.sentiment.frustrated is True
    assert t.escalate is False


def test_result_names_the_engine_and_the_model(engine, tiny_dir):
    digest = json.loads((tiny_dir / "model.json").read_text())["digest"]
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    result = triage(engine, "Double charge", "I was charged twice for my subscription this month.")
    assert result.engine == "offline" and engine.provider == "offline"
    assert result.model == engine.model == f"local:tiny@{digest[:8]}"
    assert result.usage == Usage() == Usage(0, 0, 0)
    assert result.local_opinion is None
    assert result.triage.escalate is False


def test_reasoning_names_the_model_the_runner_up_and_the_evidence(engine, tiny):
    subject, body = "Double charge", "I was charged twice for my subscription this month."
    p = tiny.predict([(subject, body)])[0]
    runner_up, runner_up_p = sorted(p.probabilities.items(), key=lambda kv: -kv[1])[1]
    assert runner_up != "Billing"
    t = triage(engine, subject, body).triage
    assert t.reasoning.startswith(
        f"Local model tiny: Billing {p.confidence:.2f} (next: {runner_up} {runner_up_p:.2f})."
    )
    assert "charged" in p.evidence
    assert f" Words that weighed most: {quoted(p.evidence)}." in t.reasoning
    ticket_words = set(re.findall(r"\w+", f"{subject} {body}".casefold()))
    for term in p.evidence:
        assert set(term.split()) <= ticket_words, term


def test_reasoning_lists_urgency_sentiment_and_frustration_in_order(engine):
    t = triage(
        engine, "Still broken", "This is the THIRD time I am writing, still not fixed!!! Urgent."
    ).triage
    parts = [
        "Local model tiny: ",
        "Words that weighed most: ",
        'Urgency words: "urgent".',
        'Sentiment negative ("still not", "not fixed").',
        'Frustration signs: "third time", "still not", "still broken", "repeated exclamation marks".',
    ]
    positions = [t.reasoning.find(part) for part in parts]
    assert -1 not in positions, t.reasoning
    assert positions == sorted(positions) and positions[0] == 0


def test_reasoning_leaves_out_what_was_not_found(engine):
    t = triage(engine, "Invoice", "Could you resend last month's invoice?").triage
    assert "Words that weighed most: " in t.reasoning
    for absent in ("Urgency words", "Sentiment", "Frustration signs"):
        assert absent not in t.reasoning


def test_evidence_never_shows_the_url_placeholder():
    extra = [
        LabelledTicket("Docs link broken", f"The page https://example.com/docs/{i} gives a 404 error",
                       "Bug report")
        for i in range(4)
    ]
    model = train(
        [LabelledTicket(s, b, c) for c, pairs in TICKETS.items() for s, b in pairs] + extra,
        TINY_OPTIONS,
    )
    engine = OfflineEngine(read_config(CONFIG), model)
    t = triage(engine, "Broken page", "This page is broken: https://example.com/help").triage
    assert t.category == "Bug report"
    assert "urlmarker" not in t.reasoning


def test_messages_are_ignored(engine):
    ticket = Ticket(id="1", subject="Invoice", description="Wrong amount on my invoice")
    a = engine.triage(TriageRequest(messages=MESSAGES, ticket=ticket, context=CustomerContext()))
    b = engine.triage(
        TriageRequest(
            messages=[{"role": "user", "content": "dark mode feature crash password"}],
            ticket=ticket,
            context=CustomerContext(),
        )
    )
    assert a == b and a.triage.category == "Billing"


@pytest.fixture(scope="module")
def retrained_dir(tmp_path_factory):
    """The tiny model trained again from the same tickets, on a machine 100 times slower."""
    import bot.triage.model as model_module

    ticks = iter(range(0, 10**9, 100))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_module.time, "monotonic", lambda: float(next(ticks)))
        return save_tiny_model(tmp_path_factory.mktemp("retrained"))


def test_deterministic(engine, tiny_dir, retrained_dir):
    args = ("App crashes", "The app crashes when I upload a PNG, this is ridiculous!!!")
    first = triage(engine, *args)
    assert all(triage(engine, *args) == first for _ in range(5))
    assert triage(OfflineEngine.from_files(CONFIG, tiny_dir), *args) == first
    # Retrained from the same tickets: the same data files, digest, model name and answer.
    data_files = sorted(p.name for p in tiny_dir.iterdir() if p.name != "model.json")
    assert data_files == sorted(p.name for p in retrained_dir.iterdir() if p.name != "model.json")
    for name in data_files:
        assert (retrained_dir / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    assert triage(OfflineEngine.from_files(CONFIG, retrained_dir), *args) == first


def test_model_manifest_is_reproducible(tiny_dir, retrained_dir):
    assert (retrained_dir / "model.json").read_bytes() == (tiny_dir / "model.json").read_bytes()


# -- priority -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject, description, category, priority",
    [
        ("Outage", "Your site is down for all users", None, 1),
        ("Urgent", "Please fix my invoice ASAP", "Billing", 2),
        ("Login", "I cannot login to my account", "Account access", 2),
        ("Help", "I can\u2019t log in since yesterday", "Account access", 2),  # typographic apostrophe
        ("Invoice", "Could you resend last month's invoice?", "Billing", 3),
        ("Downgrade", "Please downgrade my plan, it is too big for us", None, 3),  # not "down"
        ("Idea", "It would be nice to have an export to CSV feature", "Feature request", 4),
        ("Idea, urgent", "We urgently need a feature to export to CSV", "Feature request", 2),
    ],
)
def test_priority_from_the_urgency_words_without_a_priority_head(
    engine, tiny, subject, description, category, priority
):
    assert tiny.priority_coef is None
    assert tiny.predict([(subject, description)])[0].priority is None
    t = triage(engine, subject, description).triage
    if category is not None:
        assert t.category == category
    assert t.priority == priority


def test_priority_head_decides_without_urgency_words(prio_engine, prio_model):
    cases = [
        ("Password", "My password reset link does not work, I cannot sign in", 1),  # lexicon: 3
        ("Report error", "The report page shows an error and crashes", 2),  # lexicon: 3
        ("Invoice", "Could you resend last month's invoice?", 3),
        ("Suggestion", "Please add a feature to archive old projects, it would be nice", 4),
        ("Meeting", "Would you like to meet at the conference in Berlin?", 5),  # lexicon: 3
    ]
    for subject, body, priority in cases:
        assert prio_model.predict([(subject, body)])[0].priority == priority, subject
        assert triage(prio_engine, subject, body).triage.priority == priority, subject


@pytest.mark.parametrize(
    "subject, description, head, priority",
    [
        # The head says 5, 4 or 3; an urgency word (level 1 or 2) makes it more urgent.
        ("Meeting", "Would you like to meet at the conference in Berlin? Urgent, please", 5, 2),
        ("Meeting", "Our site is down. Would you like to meet at the conference in Berlin?", 5, 1),
        ("Idea, urgent", "We urgently need a feature to export to CSV", 3, 2),
        # The head says 1: a level-2 word must not make it less urgent.
        ("Password", "My password reset link does not work, I cannot sign in, urgent", 1, 1),
        ("Locked out", "I am locked out of my account and the verification code never arrives", 1, 1),
    ],
)
def test_urgency_words_only_make_the_head_more_urgent(
    prio_engine, prio_model, subject, description, head, priority
):
    assert prio_model.predict([(subject, description)])[0].priority == head
    assert triage(prio_engine, subject, description).triage.priority == priority


def test_importing_bot_llm_does_not_import_openai():
    # The offline setup must work where the openai SDK is broken or absent.
    import subprocess
    import sys

    code = "import sys, bot.llm; print('openai' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
