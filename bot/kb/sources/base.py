"""The one interface a knowledge source implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from bot.kb.model import SyncBatch


class ArticleSource(Protocol):
    """Yields the source's changes since `cursor` (None: from the beginning) as batches.

    Each batch is applied and its cursor saved before the next one is requested, so a sync
    that fails half-way resumes where it stopped. `full=True` asks for a complete listing
    (the last batch then has `complete=True`) so deleted articles are found.

    Raises `bot.errors.RetryableError` (rate limit with `retry_after`, 5xx, network) or
    `bot.errors.PermanentError` (bad credentials, missing permission, bad URL).
    """

    name: str

    def batches(self, cursor: str | None, full: bool = False) -> Iterator[SyncBatch]: ...
