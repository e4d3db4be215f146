"""The policy's `review` section, as the tracker and the reports read it: how a draft's fate is
classified, the review SLA, when a prompt is flagged, and the targets figures are held to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Targets:
    """What good looks like; the report marks each figure against these."""

    csat: float = 0.85  # share of ratings that are good: above
    first_contact_resolution: float = 0.70  # above
    escalation_rate: float = 0.20  # below
    edited_low: float = 0.20  # the healthy band of drafts sent after an edit
    edited_high: float = 0.30
    first_reply_minutes: float = 5.0  # median, arrival to the agent's reply: below


@dataclass(frozen=True)
class ReviewPolicy:
    # Similarity of the agent's first public reply to the draft (0..1, rapidfuzz's normalised
    # Indel similarity on normalised text): at least `sent_as_is` is sent as it was, at least
    # `lightly_edited` an edit, below `not_used` another answer, in between a major rewrite.
    sent_as_is: float = 0.95
    lightly_edited: float = 0.70
    not_used: float = 0.30
    # A customer's new message at least this similar to the question the sent draft answered
    # is the same question again: escalated (`repeat_question`), not drafted again.
    repeat_similarity: float = 0.60
    # Review SLA: a draft nobody acted on within this time is tagged `ai_review_overdue`.
    urgent_priorities: frozenset[int] = frozenset((1, 2))
    urgent_minutes: int = 5
    other_minutes: int = 30
    overdue_group: str | None = None  # a key of `groups`: where overdue tickets go, if set
    # A prompt version with more major rewrites than this in a report's period is flagged.
    flag_major_rewrites: int = 3
    follow_days: int = 14  # how long after its last draft a ticket is still followed
    targets: Targets = Targets()

    def review_time(self, priority: int | None) -> timedelta:
        urgent = priority is not None and priority in self.urgent_priorities
        return timedelta(minutes=self.urgent_minutes if urgent else self.other_minutes)
