"""Which numbered sources a draft cites, and which numbers it cites that were never given. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

# [1], [2, 3] and [1][2]; not [x] or [2026] (years, ids), which are not citations.
_CITATION = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")


@dataclass(frozen=True)
class Citations:
    cited: tuple[int, ...]  # valid source numbers the draft cites, in order of first use
    unknown: tuple[int, ...]  # numbers cited that match no source: the draft made them up


def check_citations(text: str, source_count: int) -> Citations:
    cited: list[int] = []
    unknown: list[int] = []
    for match in _CITATION.finditer(text):
        for part in match.group(1).split(","):
            number = int(part)
            target = cited if 1 <= number <= source_count else unknown
            if number not in target:
                target.append(number)
    return Citations(tuple(cited), tuple(unknown))
