"""A tiny, deterministic triage model for tests: 60 hand-written tickets, 10 per category.

Training takes well under a second (`TrainOptions(folds=2)`), and the same tickets always give
the same model, so tests can compare the engine's output with `model.predict` on the same
text without depending on the bundled model (bot/triage/default_model), which is retrained
from time to time.

    from tests.triage_support import tiny_model, save_tiny_model

`priorities=True` also trains the priority head, from the `PRIORITY` of each category below
(Account access 1, Bug report 2, Billing and Technical 3, Feature request 4, Other 5).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import CATEGORIES
from bot.triage.data import LabelledTicket
from bot.triage.model import TrainOptions, TriageModel, train
from bot.triage.model_io import save_model

TINY_OPTIONS = TrainOptions(folds=2)

# category -> [(subject, body)]
TICKETS: dict[str, list[tuple[str, str]]] = {
    "Billing": [
        ("Charged twice", "I was charged twice for my subscription this month, please refund one payment."),
        ("Wrong invoice amount", "The invoice for March shows the wrong amount, the price should be lower."),
        ("Refund request", "I cancelled my subscription but I was still charged. I would like a refund."),
        ("VAT on invoice", "Our invoice is missing the VAT number of our company, can you issue a new invoice?"),
        ("Payment declined", "My credit card payment was declined when the subscription renewed."),
        ("Duplicate charge", "There is a duplicate charge on my card statement for the annual plan."),
        ("Billing address", "How do I change the billing address printed on my invoices?"),
        ("Refund not received", "You promised a refund two weeks ago and the money is not on my card yet."),
        ("Plan price", "Why did the price of my plan go up? I was charged more than last month."),
        ("Receipt needed", "Please send me a receipt for the last payment, I need it for my expenses."),
    ],
    "Technical": [
        ("Webhook setup", "How do I configure the webhook integration with our API?"),
        ("API rate limit", "What is the rate limit of the API and how do I authenticate requests with a token?"),
        ("SSO configuration", "We want to set up SSO with our identity provider. Which settings do we need?"),
        ("Export to CSV", "How can I export all my contacts to a CSV file from the dashboard?"),
        ("Integration with Slack", "How do I connect the Slack integration so notifications go to our channel?"),
        ("DNS settings", "Which DNS records do I need to add to use a custom domain?"),
        ("Import data", "How do I import our existing data from a spreadsheet into the workspace?"),
        ("Sync settings", "How often does the calendar sync run, and can I configure the interval?"),
        ("Install on server", "What are the system requirements to install the agent on a Linux server?"),
        ("API pagination", "How does pagination work in the API when I list more than a hundred records?"),
    ],
    "Feature request": [
        ("Dark mode", "It would be great to have a dark mode in the app. Please add it."),
        ("Suggestion: bulk edit", "Could you add a way to edit many records at once? That would be a great feature."),
        ("Feature request: calendar view",
         "I would love a calendar view for tasks. Please consider adding this feature."),
        ("Idea for reports", "It would be nice to schedule reports by email every week. Any plans for this?"),
        ("Please add keyboard shortcuts",
         "A feature request: keyboard shortcuts for the common actions would be great."),
        ("Wish: more languages", "Please add support for more languages in the interface, it would be nice."),
        ("Roadmap question", "Is a mobile widget on your roadmap? It would be a great feature to have."),
        ("Suggestion for templates", "My suggestion: let us save our own templates. It would be nice to reuse them."),
        ("Feature idea: custom fields", "Could you add custom fields to contacts? That feature would help us a lot."),
        ("Request: two calendars", "Please add the ability to show two calendars side by side, it would be great."),
    ],
    "Bug report": [
        ("App crashes on upload", "The app crashes every time I upload a PNG image."),
        ("Error 500", "I get an error 500 when I save a report, with a stack trace on the page."),
        ("Blank page", "After the last update the settings page is a blank page and the console shows an exception."),
        ("Button broken", "The save button is broken: clicking it does nothing and the changes are lost."),
        ("Crash on startup", "Since version 4.2 the desktop app crashes on startup with an error."),
        ("Wrong totals", "The totals in the report are wrong, it looks like a bug in the calculation."),
        ("Freezes", "The editor freezes when I paste a long text and I have to reload the page."),
        ("Glitch in chart", "There is a glitch in the chart: the bars are drawn on top of each other."),
        ("Bug: duplicate rows", "When I sort the table the rows are duplicated. This is a bug."),
        ("Error when deleting", "Deleting a project shows an error message and the project is still there."),
    ],
    "Account access": [
        ("Can't log in", "I forgot my password and the reset email never arrives, I can't log in."),
        ("Password reset", "The password reset link says it has expired. How do I reset my password?"),
        ("Locked out", "My account is locked after too many login attempts."),
        ("Two-factor lost", "I lost my phone and cannot get the two-factor verification code to sign in."),
        ("Change username", "How do I change the username I use to sign in?"),
        ("Login loop", "When I sign in I am sent back to the login page again."),
        ("Account suspended", "My account was suspended and I cannot access my account any more."),
        ("Verification code", "The verification code for login never arrives by SMS."),
        ("Sign in with Google", "Sign in with Google says my account does not exist, but I used it to log in before."),
        ("Reset password email", "I did not receive the password reset email, I checked spam too."),
    ],
    "Other": [
        ("Hello", "Just wanted to say hi to the team and thank you for the nice chat last week."),
        ("Partnership", "We are a marketing agency and would like to discuss a partnership with your company."),
        ("Job application", "Are you hiring? I would like to send my CV for a position in your team."),
        ("Office address", "What is the postal address of your office? We want to send a gift."),
        ("Conference", "Will your team be at the conference in Berlin next month? We would like to meet."),
        ("Press inquiry", "I am a journalist writing an article about startups. Could I interview your founder?"),
        ("Thank you", "Thanks a lot to Maria from your team, she was very kind on the phone."),
        ("Newsletter", "Please remove me from your newsletter mailing list."),
        ("Survey", "Our university is running a survey among companies. Would you take part in it?"),
        ("Holiday hours", "Is your office open during the holidays at the end of December?"),
    ],
}

PRIORITY = {
    "Account access": 1,
    "Bug report": 2,
    "Billing": 3,
    "Technical": 3,
    "Feature request": 4,
    "Other": 5,
}

assert list(TICKETS) == list(CATEGORIES)


def tiny_tickets(priorities: bool = False) -> list[LabelledTicket]:
    return [
        LabelledTicket(subject, body, category, PRIORITY[category] if priorities else None)
        for category, pairs in TICKETS.items()
        for subject, body in pairs
    ]


def tiny_model(priorities: bool = False, name: str = "tiny") -> TriageModel:
    model = train(tiny_tickets(priorities), TINY_OPTIONS)
    model.meta["name"] = name
    return model


def save_tiny_model(folder: str | Path, priorities: bool = False, name: str = "tiny") -> Path:
    """Train and save: a model folder for `OfflineEngine.from_files` and `make_llm`."""
    return save_model(tiny_model(priorities, name), folder)


# -- shared by the offline-engine test modules (import the fixtures you use) ---------------------

CONFIG = Path(__file__).resolve().parent.parent / "config" / "offline.yaml"
MESSAGES = [{"role": "system", "content": "ignored by the offline engine"}]


@pytest.fixture(scope="module")
def tiny():
    """The tiny model as trained, in memory: what the engine's answers are compared with."""
    return tiny_model()


@pytest.fixture(scope="module")
def tiny_dir(tiny, tmp_path_factory):
    return save_model(tiny, tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="module")
def engine(tiny_dir):
    # Saved and loaded again, as in production: the answers must still be the trained model's.
    from bot.llm import OfflineEngine

    return OfflineEngine.from_files(CONFIG, tiny_dir)


def triage(engine, subject, description="", context=None):
    from bot.domain import CustomerContext, Ticket
    from bot.llm import TriageRequest

    ticket = Ticket(id="1", subject=subject, description=description)
    return engine.triage(
        TriageRequest(messages=MESSAGES, ticket=ticket, context=context or CustomerContext())
    )


def quoted(words) -> str:
    return ", ".join(f'"{w}"' for w in words)
