"""The follow-up sweep (celery beat, every SWEEP_INTERVAL): make the reviews a crash left
unmade, then ask for a read of every followed ticket whose read is due. A read that fails is
due again later (`records.failed`): this sweep is the one layer that retries tracking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.pipeline import Worker
from bot.tracking import records

log = logging.getLogger(__name__)

BATCH = 200  # tickets per sweep: a backlog drains over several sweeps, oldest check first


@dataclass
class FollowReport:
    reviews_started: list[int] = field(default_factory=list)
    reads_asked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {"reviews_started": self.reviews_started, "reads_asked": self.reads_asked}


def follow_up_sweep(worker: Worker, track: Callable[[str, str], None]) -> FollowReport:
    report = FollowReport()
    report.reviews_started = records.start_reviews(
        worker.store, worker.policy.review, limit=BATCH,
        recheck=timedelta(seconds=worker.settings.track_recheck))
    for ref in records.due(worker.store, worker.clock(), limit=BATCH):
        track(ref.helpdesk, ref.ticket_id)
        report.reads_asked.append(f"{ref.helpdesk}:{ref.ticket_id}")
    if report.reviews_started:
        log.warning("reviews made by the sweep (their runs' workers stopped first): %s",
                    report.reviews_started)
    return report
