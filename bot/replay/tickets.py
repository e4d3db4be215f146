"""One past ticket for a replay: what the bot reads (the ticket as it arrived, the requester, their
earlier tickets) and what agents did with it, in the JSON-lines format `replay FILE` reads and
`replay --from-zendesk --save FILE` writes (README, "Replay"), so a replay can be run again with
another policy without reading the helpdesk again.

Agents' category comes from a custom field or the ticket's tags (`--category-field`, `--map`:
the same reading as `train --from-zendesk`, `bot.triage.history`); escalated is a final group
that one of the policy's escalations routes to, or an escalation tag; refunded is a refund tag.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.domain import Organization, PastTicket, Person, Ticket, TicketSnapshot
from bot.policy import Policy
from bot.replay.compare import AgentOutcome
from bot.triage.data import DROP, DataError
from bot.triage.history import label_of


@dataclass(frozen=True)
class PastRecord:
    helpdesk: str  # whose scale priorities are on, and whose group ids the policy names
    snapshot: TicketSnapshot
    agent: AgentOutcome
    url: str = ""


@dataclass(frozen=True)
class Reading:
    """How agents' decisions are read off a ticket."""

    mapping: Mapping[str, str]  # tag or field value -> category (`--map`)
    category_field: str | None = None
    escalated_tags: frozenset[str] = frozenset({"escalated"})
    refund_tags: frozenset[str] = frozenset({"refund", "refunded"})


def outcome_of(ticket: Ticket, helpdesk: str, policy: Policy, reading: Reading) -> AgentOutcome:
    if reading.category_field:
        value = ticket.custom_fields.get(reading.category_field)
        values = [str(value)] if value not in (None, "") else []
    else:
        values = list(ticket.tags)
    category = label_of(values, reading.mapping)
    tags = set(ticket.tags)
    group = str(ticket.group_id) if ticket.group_id not in (None, "") else None
    escalated = bool(tags & reading.escalated_tags) or (
        group is not None and group in escalation_groups(policy, helpdesk))
    return AgentOutcome(category=None if category == DROP else category, group_id=group,
                        priority=ticket.priority or None, escalated=escalated,
                        refunded=bool(tags & reading.refund_tags))


def escalation_groups(policy: Policy, helpdesk: str) -> set[str]:
    """The ids of the groups (teams) the policy escalates to in `helpdesk`."""
    ids = (policy.group_id(e.group, helpdesk) for e in policy.escalations if e.group)
    return {str(i) for i in ids if i is not None}


def earlier_only(snapshot: TicketSnapshot) -> TicketSnapshot:
    """The snapshot as it was when the ticket arrived: the requester's later tickets are left out."""
    created = snapshot.ticket.created_at
    if created is None:
        return snapshot
    history = tuple(t for t in snapshot.history if t.created_at < created)
    return TicketSnapshot(snapshot.ticket, snapshot.requester, snapshot.organization, history,
                          snapshot.history_unavailable)


# -- the file format ----------------------------------------------------------------------------


def to_json(record: PastRecord) -> dict:
    s, t = record.snapshot, record.snapshot.ticket
    return {
        "helpdesk": record.helpdesk, "id": t.id, "url": record.url, "subject": t.subject,
        "description": t.description, "tags": list(t.tags), "priority": t.priority,
        "group_id": t.group_id, "created_at": _stamp(t.created_at), "custom_fields": dict(t.custom_fields),
        "requester": _person(s.requester), "organization": _organization(s.organization),
        "history": [{"id": p.id, "subject": p.subject, "status": p.status, "created_at": _stamp(p.created_at),
                     "tags": list(p.tags)} for p in s.history],
        "agent": {"category": record.agent.category, "group_id": record.agent.group_id,
                  "priority": record.agent.priority, "escalated": record.agent.escalated,
                  "refunded": record.agent.refunded},
    }


def from_json(data: Mapping[str, Any], policy: Policy, reading: Reading) -> PastRecord:
    """A line of a replay file. `agent` may be left out (or any of its keys): what is missing
    is read off the ticket's tags, group and priority as for a helpdesk's ticket."""
    if not isinstance(data, Mapping) or not str(data.get("id") or "").strip():
        raise DataError("each line must be a JSON object with an `id`")
    helpdesk = str(data.get("helpdesk") or "zendesk")
    requester, organization = data.get("requester") or None, data.get("organization") or None
    ticket = Ticket(
        id=str(data["id"]), subject=str(data.get("subject") or ""), description=str(data.get("description") or ""),
        priority=_priority(data.get("priority")), group_id=data.get("group_id"),
        tags=tuple(str(t) for t in data.get("tags") or ()),
        requester_id=str(requester["id"]) if requester and requester.get("id") else None,
        created_at=_time(data.get("created_at")), custom_fields=dict(data.get("custom_fields") or {}))
    snapshot = TicketSnapshot(
        ticket=ticket,
        requester=Person(id=str(requester.get("id") or "requester"), name=str(requester.get("name") or ""),
                         tags=tuple(requester.get("tags") or ()), fields=dict(requester.get("fields") or {}))
        if requester else None,
        organization=Organization(id=str(organization.get("id") or "organization"),
                                  tags=tuple(organization.get("tags") or ()),
                                  fields=dict(organization.get("fields") or {})) if organization else None,
        history=tuple(_past(p) for p in data.get("history") or ()))
    read = outcome_of(ticket, helpdesk, policy, reading)
    given = data.get("agent") or {}
    agent = AgentOutcome(**{key: given[key] if given.get(key) is not None else getattr(read, key)
                            for key in ("category", "group_id", "priority", "escalated", "refunded")})
    if agent.group_id is not None:
        agent = AgentOutcome(agent.category, str(agent.group_id), agent.priority, agent.escalated, agent.refunded)
    return PastRecord(helpdesk, earlier_only(snapshot), agent, str(data.get("url") or ""))


def read_file(path: Path, policy: Policy, reading: Reading) -> Iterator[PastRecord]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield from_json(json.loads(line), policy, reading)
            except (ValueError, KeyError, TypeError, DataError) as exc:
                raise DataError(f"{path}:{number}: {exc}") from None


def _past(data: Mapping[str, Any]) -> PastTicket:
    return PastTicket(id=str(data["id"]), subject=str(data.get("subject") or ""),
                      status=str(data.get("status") or ""), tags=tuple(data.get("tags") or ()),
                      created_at=_time(data.get("created_at")) or datetime.now(UTC))


def _priority(value: object) -> str | None:
    from bot.helpdesks.zendesk.payload import PRIORITY_TO_ZENDESK

    if isinstance(value, int) and not isinstance(value, bool):
        return PRIORITY_TO_ZENDESK.get(value)
    return str(value).lower() if value not in (None, "") else None


def _time(value: object) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _person(person: Person | None) -> dict | None:
    return None if person is None else {"id": person.id, "name": person.name, "tags": list(person.tags),
                                        "fields": dict(person.fields)}


def _organization(org: Organization | None) -> dict | None:
    return None if org is None else {"id": org.id, "tags": list(org.tags), "fields": dict(org.fields)}
