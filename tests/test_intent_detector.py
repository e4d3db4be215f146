"""The local engine's intent detector: intent heads trained from labelled tickets, saved and
loaded with the model, firing at the thresholds of config/offline.yaml with the customer's own
sentence as evidence."""

from __future__ import annotations

import json

import pytest

from bot.domain import CustomerContext, Ticket
from bot.llm.base import TriageRequest
from bot.llm.offline import OfflineEngine, read_config
from bot.settings import PROJECT_ROOT
from bot.triage.data import DataError, LabelledTicket, read_tickets
from bot.triage.evidence import quote_for, sentences
from bot.triage.model import TrainOptions, train
from bot.triage.model_io import load_model, save_model
from tests.triage_support import tiny_tickets

# Paraphrased refund requests (no word of the policy's refund list) and other tickets.
REFUNDS = [
    "please reverse the duplicate charge on my card",
    "I want the money for the broken kettle returned to my account",
    "put the forty euros back on my card, the order never came",
    "you billed me after I stopped the plan, give that payment back",
    "reverse last month's payment, I did not use the service at all",
    "return what you took from my card yesterday, it was a mistake",
    "I expect the full amount back on my visa this week",
    "credit my account for the double payment",
    "undo the charge from the 3rd, it was taken twice",
    "pay me back for the tickets of the cancelled flight",
    "devuélvanme el dinero del cargo duplicado",
    "remettez l'argent sur ma carte, la commande n'est jamais arrivée",
]
OTHERS = [
    "how do I export my contacts to a spreadsheet",
    "the app crashes when I open the settings page",
    "can you add a dark mode to the dashboard",
    "I cannot log in, the reset e-mail never arrives",
    "where do I find last month's invoice",
    "the charts do not load on the reports page",
    "please add my colleague to the workspace",
    "what are your opening hours on Sunday",
    "the sync with the calendar stopped working",
    "how do I change the language of the interface",
    "the payment page shows the wrong currency for our shop",
    "is there an API to create users in bulk",
]


def request(ticket: Ticket) -> TriageRequest:
    return TriageRequest(messages=(), ticket=ticket, context=CustomerContext())


def intent_tickets() -> list[LabelledTicket]:
    labelled = [LabelledTicket("", text, "Billing", intents=frozenset({"refund"})) for text in REFUNDS]
    labelled += [LabelledTicket("", text, "Technical", intents=frozenset()) for text in OTHERS]
    # The tiny model's tickets are not labelled for intents: they must be left out of the heads.
    return tiny_tickets() + labelled


@pytest.fixture(scope="module")
def model():
    return train(intent_tickets(), TrainOptions(folds=2, jobs=1))


def test_a_head_is_trained_only_for_intents_with_enough_examples(model):
    assert set(model.intent_heads) == {"refund"}  # security, legal, churn: no examples
    assert model.intent_heads["refund"][0].shape == (2, model.features.size)


def test_the_refund_head_scores_an_unseen_paraphrase_above_an_unrelated_ticket(model):
    refund, other = model.predict([
        ("", "please reverse the charge you took twice from my card"),
        ("", "how do I add a colleague to the calendar sync"),
    ])
    assert refund.intents["refund"] > 0.5 > other.intents["refund"]
    assert {"reverse", "charge"} & set(" ".join(refund.intent_terms["refund"]).split())


def test_intent_heads_survive_saving_and_loading(model, tmp_path):
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert sorted(loaded.intent_heads) == ["refund"]
    text = [("", "put my money back on the card please")]
    assert loaded.predict(text)[0].intents == model.predict(text)[0].intents
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["intents"] == ["refund"]


def test_a_model_with_a_misshapen_intent_head_is_refused(model, tmp_path):
    folder = save_model(model, tmp_path / "m")
    coef, intercept = model.intent_heads["refund"]
    import numpy as np

    np.save(folder / "intent_refund_coef.npy", coef[:, :10])
    from bot.errors import SettingsError

    with pytest.raises(SettingsError, match="intent head"):
        load_model(folder)


def test_the_offline_engine_turns_a_head_above_its_threshold_into_a_quoted_signal(model):
    config = read_config(PROJECT_ROOT / "config" / "offline.yaml")
    engine = OfflineEngine(config, model)
    body = "Hi team,\nI was billed twice in May. Please reverse the duplicate charge on my card.\nThanks, Ana"
    result = engine.triage(request(Ticket("1", "May invoice", body)))
    (signal,) = [s for s in result.triage.intents if s.intent == "refund"]
    assert signal.source == "local"
    assert signal.evidence == '"Please reverse the duplicate charge on my card."'
    assert "refund" in result.triage.reasoning  # "Intent scores: refund 0.9x."

    strict = OfflineEngine({**config, "intents": {"thresholds": {"refund": 1.0}}}, model)
    assert not [s for s in strict.triage(request(Ticket("1", "May", body))).triage.intents
                if s.intent == "refund"]


def test_a_frustrated_ticket_carries_a_frustration_signal_with_its_signs(model):
    engine = OfflineEngine(read_config(PROJECT_ROOT / "config" / "offline.yaml"), model)
    result = engine.triage(request(Ticket("1", "", "Third time I write!!! Nobody answers")))
    (signal,) = [s for s in result.triage.intents if s.intent == "frustrated"]
    assert signal.source == "local"
    # The customer's phrases quoted, the other signs described.
    assert '"third time"' in signal.evidence and ", repeated exclamation marks" in signal.evidence


def test_quote_for_picks_the_sentence_with_the_most_weighty_terms():
    text = ("Hello,\n> On Monday you wrote: reverse charge\n<p>I love the app.</p> "
            "Please reverse the charge of 40 EUR. Bye")
    assert sentences(text)[0] == "Hello,"
    assert quote_for(text, ("reverse the", "charge", "0 eur")) == "Please reverse the charge of 40 EUR."
    assert quote_for(text, ("nothing", "here")) == ""


def test_ticket_files_carry_intents_and_frustration_follows_them(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [
        {"subject": "a", "body": "b", "category": "Billing", "intents": ["refund", "frustrated"]},
        {"subject": "a", "body": "b", "category": "Billing", "intents": []},
        {"subject": "a", "body": "b", "category": "Billing"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    first, second, third = read_tickets(path)
    assert first.intents == {"refund", "frustrated"} and first.frustrated is True
    assert second.intents == frozenset() and second.frustrated is False
    assert third.intents is None and third.frustrated is None  # unknown, not "none"


def test_an_unknown_intent_is_refused_with_its_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"subject": "a", "body": "b", "category": "Billing",
                                "intents": ["upsell"]}))
    with pytest.raises(DataError, match="line 1: unknown intent"):
        read_tickets(path)


def test_equal_data_gives_equal_intent_heads():
    a = train(intent_tickets(), TrainOptions(folds=2, jobs=1))
    b = train(list(intent_tickets()), TrainOptions(folds=2, jobs=1))
    assert (a.intent_heads["refund"][0] == b.intent_heads["refund"][0]).all()


@pytest.mark.parametrize(
    "thresholds, message",
    [({"refnd": 0.3}, "unknown intent 'refnd'"), ({"refund": 1.5}, "between 0 and 1"),
     ({"refund": "high"}, "could not convert")],
)
def test_bad_intent_thresholds_are_refused_at_start(model, thresholds, message):
    from bot.errors import SettingsError

    config = {**read_config(PROJECT_ROOT / "config" / "offline.yaml"), "intents": {"thresholds": thresholds}}
    with pytest.raises(SettingsError, match=message):
        OfflineEngine(config, model)
