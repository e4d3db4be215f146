"""What the bot needs from a helpdesk, whichever it is: its adapter and its webhook receiver.

One folder per helpdesk (`bot/helpdesks/zendesk`, `bot/helpdesks/intercom`) holds both, with
the vendor's payload shapes, its help-center source and real webhook bodies as fixtures.
README, "Adding a helpdesk", says what a new one must provide.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.domain import PublishResult, Ticket, TicketEvent, TicketSnapshot, TicketUpdate
from bot.tracking.history import TicketHistory

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers as RequestHeaders

    # What is read of a request's headers: a dict, or Werkzeug's case-insensitive `Headers`.
    Headers = Mapping[str, str] | RequestHeaders


class SignatureError(Exception):
    """Why a delivery was refused; the message is logged, never sent back in detail."""


class TestDelivery(Exception):  # noqa: N818 - not an error: a named outcome, like IgnoredEvent
    """A delivery signed with the vendor's documented *test* secret (an admin pressed "Test
    webhook"): answered 200 with a message, nothing stored or enqueued, whatever the body says."""

    __test__ = False  # not a pytest class


class Helpdesk(Protocol):
    name: str

    def fetch(self, ticket_id: str, history_limit: int, conversation: bool = False) -> TicketSnapshot:
        """The ticket, its requester and organization, and the requester's recent tickets.
        `conversation`: the description is the conversation so far, every public message
        (a later run: the customer wrote again), not only the first."""

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        """Only the ticket: for a failure note, when the full read is not needed."""

    def read_history(self, ticket_id: str) -> TicketHistory:
        """What happened on the ticket, whole: messages and notes with their authors' roles,
        changes of status, group, priority and tags, the satisfaction rating (`bot.tracking`)."""

    def publish(
        self, ticket: Ticket, update: TicketUpdate, since: datetime | None = None
    ) -> PublishResult:
        """Write the update: a private note, tags merged with the ticket's, priority and group.

        Never overwrites an agent's concurrent change, never posts the same `update.reference`
        twice. With `since` (when the event arrived): writes nothing, and says why in
        `PublishResult.stale`, if a teammate replied publicly or the ticket was solved or
        closed since then. Raises RetryableError/PermanentError.
        """


class WebhookReceiver(Protocol):
    """A helpdesk's webhook module: verify the raw bytes, parse them into one `TicketEvent`.
    Pure: no I/O. The shared accept step (`bot.webhooks`) does the rest."""

    name: str

    def verify(self, headers: Headers, body: bytes, now: datetime) -> None:
        """Raise `SignatureError` unless the delivery is signed with this helpdesk's secret
        (fail closed: no secret configured refuses everything)."""

    def parse(self, body: bytes, headers: Headers) -> TicketEvent:
        """The event, or `InvalidPayload` (400) or `IgnoredEvent` (2xx, nothing stored): a
        topic not processed, a ping, or the bot's own action."""
