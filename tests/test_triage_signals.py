"""Language, sentiment and frustration from the offline engine (bot/triage/signals.py with
config/offline.yaml), on the tiny model of tests/triage_support.py and, for the frustration
head, the bundled model."""

import pytest

from bot.decisions import Sentiment
from tests.triage_support import CONFIG, engine, tiny, tiny_dir, triage  # noqa: F401  (fixtures)

# -- frustration and sentiment ------------------------------------------------------------------


def test_frustration_phrases_and_exclamation_marks(engine):
    t = triage(engine, "Still broken", "This is the THIRD time I am writing, still not fixed!!!").triage
    assert t.sentiment == Sentiment(label="negative", frustrated=True)
    assert '"third time"' in t.reasoning and '"still not"' in t.reasoning
    assert "repeated exclamation marks" in t.reasoning
    assert t.escalate is False  # the rules escalate frustration, not the engine


def test_three_exclamation_marks_are_frustration_two_are_not(engine):
    t3 = triage(engine, "Where is my invoice", "Where is my invoice!!!").triage
    assert t3.sentiment.frustrated is True
    assert 'Frustration signs: "repeated exclamation marks".' in t3.reasoning
    t2 = triage(engine, "Where is my invoice", "Where is my invoice!!").triage
    assert t2.sentiment == Sentiment(label="neutral", frustrated=False)
    assert "Frustration" not in t2.reasoning


def test_shouting_alone_is_frustration(engine):
    t = triage(engine, "Invoice", "WHERE IS MY INVOICE, I NEED IT NOW").triage
    assert t.sentiment == Sentiment(label="negative", frustrated=True)
    assert 'Frustration signs: "writing in capitals".' in t.reasoning


def test_acronyms_do_not_count_as_shouting(engine):
    # Two shouted words and four acronyms: below the three shouted words it takes.
    calm = triage(engine, "Settings", "PLEASE CHECK these IMAP SMTP OAUTH HTTPS settings").triage
    assert calm.sentiment.frustrated is False
    assert "capitals" not in calm.reasoning
    # A third shouted word does it.
    loud = triage(engine, "Settings", "PLEASE CHECK THESE IMAP SMTP OAUTH HTTPS settings").triage
    assert loud.sentiment.frustrated is True
    assert "capitals" in loud.reasoning


def test_acronyms_and_a_single_exclamation_are_not_frustration(engine):
    t = triage(engine, "API question", "Does the HTTP API return JSON or HTML? Thanks!").triage
    assert t.sentiment.frustrated is False
    assert t.sentiment.label != "negative"


def test_negative_words_alone_are_not_frustration_without_the_model(engine):
    # The tiny model has no frustration head: angry words make the ticket negative, but only
    # the frustration signs (phrases, "!!!", capitals, the model's head) make it frustrated.
    t = triage(engine, "App", "This is terrible, the app is useless and I am very angry about it.").triage
    assert t.sentiment == Sentiment(label="negative", frustrated=False)
    assert '"angry"' in t.reasoning and '"terrible"' in t.reasoning


def test_the_bundled_models_frustration_head_flags_an_exasperated_customer():
    from bot.llm import make_llm

    bundled = make_llm("offline", offline_config=CONFIG)
    assert bundled.classifier.frustration_coef is not None
    text = ("I have written to you three times about this invoice and nobody answers. "
            "I am paying for this service and I am done waiting.")
    calm = "Could you send me a copy of last month's invoice? Thanks."
    angry = triage(bundled, "Still no answer", text).triage
    assert angry.sentiment.frustrated is True
    assert "the model's frustration score" in angry.reasoning
    assert triage(bundled, "Invoice copy", calm).triage.sentiment.frustrated is False


@pytest.mark.parametrize(
    "description, label",
    [
        ("Thank you so much, your support team is wonderful and very helpful.", "positive"),
        ("This is terrible, the app is useless and I am very angry about it.", "negative"),
        ("My invoice shows the wrong amount, could you check it?", "neutral"),
    ],
)
def test_english_sentiment(engine, description, label):
    t = triage(engine, "", description).triage
    assert (t.language, t.sentiment.label) == ("en", label)


@pytest.mark.parametrize(
    "description, language",
    [
        ("¿Dónde está mi factura? ¡¡¡Nadie responde!!! Es la tercera vez que escribo", "es"),
        ("Wo ist meine Rechnung? Niemand antwortet mir!!! Das ist schon das dritte Mal", "de"),
        ("POR QUE NADIE RESPONDE A MIS CORREOS, NECESITO MI FACTURA", "es"),
    ],
)
def test_frustration_makes_a_non_english_ticket_negative(engine, description, language):
    t = triage(engine, "", description).triage
    assert t.language == language
    assert t.sentiment == Sentiment(label="negative", frustrated=True)


def test_calm_non_english_ticket_is_neutral(engine):
    t = triage(engine, "", "Bonjour, je ne trouve pas ma facture dans mon compte. Merci pour votre aide").triage
    assert t.language == "fr"
    assert t.sentiment == Sentiment(label="neutral", frustrated=False)


@pytest.mark.parametrize(
    "description, label",
    [
        ("Muchas gracias, el servicio es excelente y estoy muy contento con vuestra ayuda", "positive"),
        ("Estoy muy decepcionado y enfadado, el servicio es pésimo e inaceptable", "negative"),
    ],
)
def test_non_english_sentiment_words(engine, description, label):
    t = triage(engine, "", description).triage
    assert t.language == "es"
    assert t.sentiment.label == label


def test_shouting_in_cyrillic_is_frustration(engine):
    t = triage(engine, "", "ПОЧЕМУ НИКТО НЕ ОТВЕЧАЕТ НА МОИ ПИСЬМА, ВЕРНИТЕ ДЕНЬГИ").triage
    assert t.language == "ru"
    assert t.sentiment.frustrated is True


# -- language -----------------------------------------------------------------------------------


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
        ("Dzień dobry, nie mogę zalogować się do mojego konta. Proszę o pomoc, dziękuję", "pl"),
        ("Hej, jag kan inte logga in på mitt konto. Kan ni hjälpa mig? Tack", "sv"),
        ("こんにちは。アカウントにログインできません。パスワードをリセットしてもメールが届きません。", "ja"),
        ("Здравствуйте, я не могу войти в свой аккаунт. Помогите, пожалуйста", "ru"),
        ("Вітаю, я не можу увійти до свого облікового запису. Допоможіть, будь ласка", "uk"),
        ("Hei, en pääse kirjautumaan tililleni. Voitteko auttaa? Kiitos", "fi"),
        ("Merhaba, hesabıma giriş yapamıyorum. Yardımcı olabilir misiniz? Teşekkürler", "tr"),
        ("您好，我无法登录我的账户，密码重置邮件一直没有收到。", "zh"),
        # Too short for py3langid to be sure: the stop words decide (two hits at least)...
        ("Hola, gracias", "es"),
        ("danke bitte", "de"),
        # ...and with fewer, the default.
        ("ok", "en"),
        ("Hola", "en"),
        ("ik ben", "en"),
        ("1234", "en"),
        ("", "en"),
    ],
)
def test_language(engine, description, language):
    assert triage(engine, "", description).triage.language == language


@pytest.mark.parametrize("subject, body", [("", ""), ("", "   \n "), ("!!!", "?? --- ..."), ("", "🙂📎")])
def test_a_ticket_without_words_gets_confidence_0_not_a_guess(engine, subject, body):
    t = triage(engine, subject, body).triage
    assert (t.category, t.confidence, t.language) == ("Other", 0.0, "en")
    assert "no text to read" in t.reasoning
