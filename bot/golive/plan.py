"""Reconciling a helpdesk's configuration with what the bot needs, one resource at a time:
read what exists, compare, write only the difference. Running it twice writes nothing the
second time; `dry_run` reads but never writes, and prints each call it would make.

A helpdesk's setup module (`bot/helpdesks/<name>/setup.py`) says what it needs; this module
only knows calls, comparisons and what to print.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class SetupError(Exception):
    """Setup cannot go on: the message says what failed and what to do."""


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Mapping[str, Any] | None = None

    def line(self, limit: int = 400) -> str:
        text = f"{self.method} {self.path}"
        if self.body is not None:
            body = json.dumps(self.body, ensure_ascii=False, sort_keys=True)
            text += " " + (body if len(body) <= limit else body[:limit] + "…")
        return text


class Api(Protocol):
    def read(self, path: str) -> dict:
        """GET `path`; raise `SetupError` on failure."""

    def send(self, call: Call) -> dict:
        """Make a write call; the answer's JSON ({} when it has none)."""


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"  # --remove: nothing to delete


@dataclass(frozen=True)
class Change:
    outcome: Outcome
    what: str  # 'webhook "AI copilot"'
    id: str | None = None
    call: Call | None = None


@dataclass
class Applier:
    """Carries out (or, with `dry_run`, prints) the calls that bring one resource at a time to
    what is wanted, and keeps the list of changes for the summary."""

    api: Api
    dry_run: bool = False
    echo: Callable[[str], None] = print
    changes: list[Change] = field(default_factory=list)

    def ensure(self, what: str, existing: Mapping[str, Any] | None, desired: Mapping[str, Any],
               create: Call, update: Callable[[str], Call], id_of: Callable[[dict], str]) -> str:
        """The id of the resource once it is as `desired` (compared on `desired`'s keys only:
        what the bot does not care about, such as an admin's position for a macro, stays)."""
        if existing is None:
            answer = self._write(create, Outcome.CREATED, what)
            return id_of(answer) if answer else f"<id of new {what}>"
        current_id = str(existing["id"])
        if same(existing, desired):
            self.changes.append(Change(Outcome.UNCHANGED, what, current_id))
            self.echo(f"ok       {what} (id {current_id}) is as needed")
            return current_id
        self._write(update(current_id), Outcome.UPDATED, what, current_id)
        return current_id

    def remove(self, what: str, existing: Mapping[str, Any] | None, delete: Callable[[str], Call]) -> None:
        if existing is None:
            self.changes.append(Change(Outcome.ABSENT, what))
            self.echo(f"absent   {what}: nothing to remove")
            return
        self._write(delete(str(existing["id"])), Outcome.DELETED, what, str(existing["id"]))

    def _write(self, call: Call, outcome: Outcome, what: str, current_id: str | None = None) -> dict:
        if self.dry_run:
            self.changes.append(Change(outcome, what, current_id, call))
            self.echo(f"would    {call.line()}")
            return {}
        answer = self.api.send(call)
        self.changes.append(Change(outcome, what, current_id, call))
        self.echo(f"{outcome.value:<8} {what}" + (f" (id {current_id})" if current_id else ""))
        return answer

    @property
    def wrote(self) -> bool:
        return any(c.outcome in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED) for c in self.changes)


def missing_ids(used: Mapping[str, str], existing: Mapping[str, str], unit: str, owner: str) -> list[str]:
    """The policy's ids (`used`: id -> where) that `existing` (id -> name) lacks, one line each,
    then the ids there are to choose from: "groups.security: Zendesk group 103 does not exist"."""
    missing = [f"{where}: {unit} {i} does not exist" for i, where in used.items() if i not in existing]
    if missing:
        listing = ", ".join(f"{i} {name!r}" for i, name in sorted(existing.items())) or "none"
        missing.append(f"{owner}: {listing} (set the ids in the policy's groups/routing)")
    return missing


def same(existing: Any, desired: Any) -> bool:
    """Whether `existing` already has every value of `desired` (extra keys do not matter).
    Helpdesks answer ids as numbers or strings and keep conditions in their own order, so
    scalars compare as text and lists of objects as sets."""
    if isinstance(desired, Mapping):
        return isinstance(existing, Mapping) and all(
            same(existing.get(key), value) for key, value in desired.items())
    if isinstance(desired, list | tuple):
        if not isinstance(existing, list | tuple) or len(existing) != len(desired):
            return False
        if all(isinstance(item, Mapping) for item in desired):
            remaining = list(existing)
            for item in desired:
                match = next((i for i, e in enumerate(remaining) if same(e, item)), None)
                if match is None:
                    return False
                remaining.pop(match)
            return True
        return all(same(e, d) for e, d in zip(existing, desired, strict=True))
    return _scalar(existing) == _scalar(desired)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
