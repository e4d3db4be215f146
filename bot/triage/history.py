"""Past helpdesk tickets -> labelled tickets, from the categories agents set. Pure.

The label comes from a custom field (`--category-field`, e.g. a "Ticket type" dropdown) or,
without one, from the ticket's tags. A value or tag counts when `--map` maps it, or when it
already is a category or a category's slug (`billing`, `feature_request`...). The bot's own
`ai_*` tags are never used: they are the model's guesses, and learning from them would only
teach the model to agree with itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from bot.domain import Ticket, category_named
from bot.triage.data import DROP, PRIORITY_BY_NAME, DataError, LabelledTicket
from bot.vocabulary import BotTag

_SINCE = re.compile(r"^(\d+)([dw])$")


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`180d`, `12w` or a date `2026-01-31` -> an aware UTC datetime."""
    now = now or datetime.now(UTC)
    text = value.strip().lower()
    match = _SINCE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(days=amount * (7 if unit == "w" else 1))
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise DataError(
            f"--since {value!r}: write a number of days or weeks (180d, 12w) or a date (2026-01-31)"
        ) from None
    return day.replace(tzinfo=UTC)


def label_of(values: Iterable[str], mapping: Mapping[str, str]) -> str | None:
    """The one category these values name; DROP when one of them is dropped; None when none
    or several different categories are named."""
    found = set()
    for value in values:
        if value.startswith(BotTag.PREFIX):
            continue
        category = mapping.get(value) or category_named(value)
        if category:
            found.add(category)
    if DROP in found:  # e.g. `--map spam=-`: the ticket is left out, whatever else it has
        return DROP
    return found.pop() if len(found) == 1 else None


def labelled_tickets(
    tickets: Iterable[Ticket], mapping: Mapping[str, str], category_field: str | None = None
) -> tuple[list[LabelledTicket], Counter]:
    """The labelled tickets, and how many were skipped for what reason."""
    out: list[LabelledTicket] = []
    skipped: Counter = Counter()
    for ticket in tickets:
        if category_field:
            value = ticket.custom_fields.get(category_field)
            values = [str(value)] if value not in (None, "") else []
        else:
            values = [tag for tag in ticket.tags if not tag.startswith(BotTag.PREFIX)]
        category = label_of(values, mapping)
        if category is None:
            named = [v for v in values if label_of([v], mapping)]
            skipped["no single category" if len(named) > 1 else "no category"] += 1
            continue
        if category == DROP:
            skipped["dropped by --map"] += 1
            continue
        if not (ticket.subject.strip() or ticket.description.strip()):
            skipped["no text"] += 1
            continue
        out.append(
            LabelledTicket(
                subject=ticket.subject,
                body=ticket.description,
                category=category,
                # The bot sets the priority of the tickets it triaged: learning it back would be
                # the same self-agreement as learning its tags, so those priorities are unknown.
                priority=None if BotTag.TRIAGED in ticket.tags
                else PRIORITY_BY_NAME.get((ticket.priority or "").lower()),
            )
        )
    return out, skipped
