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
    # Nothing written by design: the policy's rollout mode for the ticket is `shadow` (or `off`
    # for its category). Triage, rules and draft are stored: what the bot would have done.
    SHADOW = "shadow"

    @classmethod
    def terminal(cls) -> frozenset[RunStatus]:
        return frozenset((cls.SUCCEEDED, cls.FAILED, cls.SKIPPED, cls.STALE, cls.SHADOW))

    @classmethod
    def waiting(cls) -> frozenset[RunStatus]:
        """Statuses of a run that needs a worker and has none."""
        return frozenset((cls.QUEUED, cls.RETRYING))


class ReviewAction(StrEnum):
    """What agents did first with a draft (`reviews.action`). The first four come from the
    agent's first public reply after the draft, by its similarity to the draft (thresholds in
    the policy, `review`); the last two from an agent's `#ai` command (or the escalate tag)."""

    SENT_AS_IS = "sent_as_is"
    LIGHTLY_EDITED = "lightly_edited"
    MAJOR_REWRITE = "major_rewrite"
    NOT_USED = "not_used"  # the agent replied with something else entirely
    REDRAFT = "redraft"  # rejected: "#ai redraft <instruction>"
    ESCALATE = "escalate"  # "#ai escalate", or the `ai_escalate` tag a macro adds

    @classmethod
    def sent(cls) -> frozenset[ReviewAction]:
        """The draft reached the customer, edited or not."""
        return frozenset((cls.SENT_AS_IS, cls.LIGHTLY_EDITED))

    @classmethod
    def edited(cls) -> frozenset[ReviewAction]:
        """Sent after an agent changed it."""
        return frozenset((cls.LIGHTLY_EDITED, cls.MAJOR_REWRITE))


class BotTag(StrEnum):
    """Every tag the bot writes. The `*_PREFIX` members are completed by a slug or a number:
    use the functions below rather than formatting them by hand."""

    TRIAGED = "ai_triaged"  # the triage note is on the ticket: never a second one
    FAILED = "ai_failed"  # the bot gave up on this ticket; a note says why
    ESCALATED = "ai_escalated"
    CATEGORY_PREFIX = "ai_category_"
    PRIORITY_PREFIX = "ai_priority_"
    ESCALATION_PREFIX = "ai_escalation_"
    REVIEW_OVERDUE = "ai_review_overdue"  # nobody acted on the draft within the review SLA
    # Added by an agent (the "AI: escalate" macro), never by the bot: escalate this ticket.
    ESCALATE_REQUEST = "ai_escalate"
    PREFIX = "ai_"  # every tag of the bot's starts with it


def category_tag(category_slug: str) -> str:
    return f"{BotTag.CATEGORY_PREFIX}{category_slug}"


def priority_tag(priority: int) -> str:
    return f"{BotTag.PRIORITY_PREFIX}{priority}"


def escalation_tag(reason_code: str) -> str:
    return f"{BotTag.ESCALATION_PREFIX}{reason_code}"
