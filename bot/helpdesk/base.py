"""The only actions the bot needs from a helpdesk: read a ticket with its people, write once."""

from __future__ import annotations

from typing import Protocol

from bot.domain import PublishResult, Ticket, TicketSnapshot, TicketUpdate


class Helpdesk(Protocol):
    name: str

    def fetch(self, ticket_id: str, history_limit: int) -> TicketSnapshot:
        """The ticket, its requester and organization, and the requester's recent tickets."""

    def fetch_ticket(self, ticket_id: str) -> Ticket:
        """Only the ticket: for a failure note, when the full read is not needed."""

    def publish(self, ticket: Ticket, update: TicketUpdate) -> PublishResult:
        """One write: a private note, tags merged with the ticket's, priority and group.

        Never overwrites an agent's concurrent change. Raises RetryableError/PermanentError.
        """
