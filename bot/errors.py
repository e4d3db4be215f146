"""Named failure modes. `bot.attempt` is the one layer that acts on them (retries or gives up).

- `RetryableError`: try again later (vendor 429/5xx, timeouts, broker hiccups). Carries the
  vendor's `retry_after` when it gave one, so the task waits exactly that long.
- `PermanentError`: retrying cannot help (404 ticket, 401 credentials, 4xx validation).
  The run fails at once and the ticket gets a visible `ai_failed` note.
- `IgnoredEvent`: nothing is wrong; this event is simply not ours to process.
- `Superseded`: another attempt holds the run now; this one stops quietly.
"""

from __future__ import annotations


class BotError(Exception):
    """Base for every failure the bot names."""


class RetryableError(BotError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(BotError):
    pass


class OutOfTime(RetryableError):
    """The attempt reached its time limit between two steps; the next attempt goes on from
    what this one saved."""


class Superseded(BotError):
    """This attempt lost its lease (it stalled, and the run went to another attempt): it stops
    without writing anything more. Not a failure of the run."""


class IgnoredEvent(BotError):
    pass


class InvalidPayload(BotError):
    """A webhook body we cannot make sense of: the web tier answers 400 with this message."""


class SettingsError(BotError):
    """A missing or invalid setting: start-up stops with this message."""
