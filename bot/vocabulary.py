"""The bot's own words: the tags it writes in the helpdesk and the statuses of its runs.

One enum each, so a tag or a status is spelt in one place. Both are `StrEnum`s: their members
are the strings stored in the database and sent to the helpdesk, and compare equal to them.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"  # accepted; its task is on the queue (or about to be)
    RUNNING = "running"  # claimed by a worker, under a lease
    RETRYING = "retrying"  # failed in a retryable way; due again at `due_at`
    SUCCEEDED = "succeeded"  # the note is on the ticket
    FAILED = "failed"  # given up: the ticket gets `ai_failed` and a failure note
    SKIPPED = "skipped"  # nothing to do (the ticket already carried the bot's note)
    # Nothing written: a teammate replied, or the ticket was solved or closed, while the bot
    # worked; the bot never talks over a human. `error` says what was seen.
    STALE = "stale"

    @classmethod
    def terminal(cls) -> frozenset[RunStatus]:
        return frozenset((cls.SUCCEEDED, cls.FAILED, cls.SKIPPED, cls.STALE))

    @classmethod
    def waiting(cls) -> frozenset[RunStatus]:
        """Statuses of a run that needs a worker and has none."""
        return frozenset((cls.QUEUED, cls.RETRYING))


class BotTag(StrEnum):
    """Every tag the bot writes. The `*_PREFIX` members are completed by a slug or a number:
    use the functions below rather than formatting them by hand."""

    TRIAGED = "ai_triaged"  # the triage note is on the ticket: never a second one
    FAILED = "ai_failed"  # the bot gave up on this ticket; a note says why
    ESCALATED = "ai_escalated"
    CATEGORY_PREFIX = "ai_category_"
    PRIORITY_PREFIX = "ai_priority_"
    ESCALATION_PREFIX = "ai_escalation_"
    PREFIX = "ai_"  # every tag of the bot's starts with it


def category_tag(category_slug: str) -> str:
    return f"{BotTag.CATEGORY_PREFIX}{category_slug}"


def priority_tag(priority: int) -> str:
    return f"{BotTag.PRIORITY_PREFIX}{priority}"


def escalation_tag(reason_code: str) -> str:
    return f"{BotTag.ESCALATION_PREFIX}{reason_code}"
