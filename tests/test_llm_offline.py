"""The offline keyword engine on realistic tickets, with the shipped config/offline.yaml."""

from pathlib import Path

import pytest

from bot.domain import CustomerContext, Decision, Sentiment, Ticket, Triage, Usage
from bot.errors import SettingsError
from bot.llm import DraftRequest, OfflineEngine, TriageRequest, make_llm

CONFIG = Path(__file__).resolve().parent.parent / "config" / "offline.yaml"
MESSAGES = [{"role": "system", "content": "ignored by the offline engine"}]


@pytest.fixture(scope="module")
def engine():
    return OfflineEngine.from_file(CONFIG)


def triage(engine, subject, description="", context=CustomerContext()):
    ticket = Ticket(id="1", subject=subject, description=description)
    return engine.triage(TriageRequest(messages=MESSAGES, ticket=ticket, context=context))


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
def test_category(engine, subject, description, category):
    result = triage(engine, subject, description)
    assert result.triage.category == category
    assert result.model == "offline-keywords-v1"
    assert result.usage == Usage(0, 0)
    assert result.valid is True


def test_clear_match_is_confident_and_explained(engine):
    t = triage(engine, "Double charge", "I was charged twice for my subscription this month.").triage
    assert t.confidence >= 0.7
    assert t.escalate is False
    assert '"charged"' in t.reasoning and '"subscription"' in t.reasoning
    assert "not an AI model" in t.reasoning
    assert t.sentiment.label == "negative"  # "charged twice"
    assert t.language == "en"


def test_no_match_is_other_with_low_confidence_and_escalated(engine):
    t = triage(engine, "Hello", "Just wanted to say hi to the team.").triage
    assert t.category == "Other"
    assert t.confidence == 0.35
    assert t.escalate is True
    assert "No category keywords matched" in t.reasoning


def test_tie_breaks_by_category_order_with_low_confidence(engine):
    # One Billing word and one Bug report word: Billing comes first in CATEGORIES.
    t = triage(engine, "Invoice", "There is a bug.").triage
    assert t.category == "Billing"
    assert t.confidence < 0.5 and t.escalate is True


def test_keywords_match_whole_words_only(engine):
    # "billion" and "bugged" must not count as "bill" and "bug".
    t = triage(engine, "Numbers", "A billion rows and I feel bugged by nothing in particular.").triage
    assert t.category == "Other"


def test_typographic_apostrophe_still_matches(engine):
    t = triage(engine, "Help", "I can\u2019t log in since yesterday").triage
    assert t.category == "Account access"
    assert t.priority == 2


@pytest.mark.parametrize(
    "subject, description, priority",
    [
        ("Outage", "Your site is down for all users", 1),
        ("Urgent", "Please fix my invoice ASAP", 2),
        ("Login", "I cannot login to my account", 2),
        ("Invoice", "Could you resend last month's invoice?", 3),
        ("Idea", "It would be nice to have an export to CSV feature", 4),
        ("Idea, urgent", "We urgently need a feature to export to CSV", 2),
    ],
)
def test_priority(engine, subject, description, priority):
    assert triage(engine, subject, description).triage.priority == priority


def test_frustrated_customer(engine):
    t = triage(engine, "Still broken", "This is the THIRD time I am writing, still not fixed!!!").triage
    assert t.sentiment == Sentiment(label="negative", frustrated=True)
    assert t.escalate is True
    assert '"third time"' in t.reasoning


def test_shouting_alone_is_frustration(engine):
    t = triage(engine, "Invoice", "WHERE IS MY INVOICE, I NEED IT NOW").triage
    assert t.sentiment.frustrated is True
    assert "capitals" in t.reasoning


def test_acronyms_and_a_single_exclamation_are_not_frustration(engine):
    t = triage(engine, "API question", "Does the HTTP API return JSON or HTML? Thanks!").triage
    assert t.sentiment.frustrated is False
    assert t.sentiment.label == "positive"


@pytest.mark.parametrize(
    "description, language",
    [
        ("Hola, me han cobrado dos veces este mes y no puedo acceder a mi cuenta. Gracias", "es"),
        ("Bonjour, je ne trouve pas ma facture dans mon compte. Merci pour votre aide", "fr"),
        ("Hallo, ich kann meine Rechnung nicht finden. Bitte helfen Sie mir, danke", "de"),
        ("Olá, não consigo acessar a minha conta, você pode ajudar? Obrigado", "pt"),
        ("Ciao, non riesco a trovare la mia fattura. Grazie per l'aiuto", "it"),
        ("Hallo, ik kan mijn factuur niet vinden in het portaal. Bedankt", "nl"),
        ("Hi, the export stopped working when I changed my password", "en"),
        ("ok", "en"),  # nothing to go on: the default
    ],
)
def test_language(engine, description, language):
    assert triage(engine, "", description).triage.language == language


def test_non_english_keywords(engine):
    t = triage(engine, "Cobro", "Hola, me han cobrado dos veces este mes. Gracias").triage
    assert (t.category, t.language) == ("Billing", "es")


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


def test_deterministic(engine):
    args = ("App crashes", "The app crashes when I upload a PNG, this is ridiculous!!!")
    first = triage(engine, *args)
    assert all(triage(engine, *args) == first for _ in range(5))
    again = OfflineEngine.from_file(CONFIG)
    assert triage(again, *args) == first


def test_config_is_validated(tmp_path):
    bad = tmp_path / "offline.yaml"
    bad.write_text("categories:\n  Sales: [deal]\n")
    with pytest.raises(SettingsError, match="Sales"):
        OfflineEngine.from_file(bad)
    with pytest.raises(SettingsError, match="cannot read"):
        OfflineEngine.from_file(tmp_path / "missing.yaml")


def test_make_llm_offline():
    llm = make_llm("offline", offline_config=CONFIG)
    assert isinstance(llm, OfflineEngine)
    assert (llm.provider, llm.model) == ("offline", "offline-keywords-v1")


# -- drafts ------------------------------------------------------------------------------------


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
    assert result.usage == Usage(0, 0) and result.model == "offline-keywords-v1"
    for extra in (VIP_WORDS, TRIAL_WORDS, REPEAT_WORDS):
        assert extra not in text


def test_draft_without_a_name(engine):
    assert draft(engine).text.startswith("Hello,\n")


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


def test_importing_bot_llm_does_not_import_openai():
    # The offline setup must work where the openai SDK is broken or absent.
    import subprocess
    import sys

    code = "import sys, bot.llm; print('openai' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
