"""The web process, except that it dies between the store's commit and the enqueue: the crash
the recovery tests need, in a real process, with nothing of it in the product.

    python -m tests.crashing_web serve
"""

from __future__ import annotations

import os

from bot.queue import Enqueuer
from bot.serve import serve
from bot.settings import Settings


def _die(self: Enqueuer, run_id: int, countdown: float = 0.0) -> None:
    os._exit(3)  # no cleanup, no answer: as a killed process


if __name__ == "__main__":
    Enqueuer.process_ticket = _die  # type: ignore[method-assign]
    serve(Settings.from_env())
