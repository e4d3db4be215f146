"""Ticket audits for the fake Zendesk: every change the fake makes to a ticket is recorded as
Zendesk records it, and served by `GET /api/v2/tickets/{id}/audits` (oldest first, cursor
pages, `include=users`), which the tracker reads.

Shapes from https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/ and the
audit events reference (`Create`, `Change`, `Comment`, `SatisfactionRating`):
https://developer.zendesk.com/documentation/ticketing/reference-guides/ticket-audit-events-reference/
"""
from __future__ import annotations

import copy
from typing import Any

J = dict[str, Any]


class AuditRoutes:
    tickets: dict[int, J]
    users: dict[int, J]

    def _record_audit(self, tid: int, author_id: int | None, events: list[J], at: str,
                      channel: str = "web") -> J:
        audit = {"id": self._next(), "ticket_id": tid, "created_at": at, "author_id": author_id or -1,
                 "metadata": {"system": {}, "custom": {}}, "via": {"channel": channel, "source": {"rel": None}},
                 "events": events}
        if events:
            self.tickets[tid].setdefault("audits", []).append(copy.deepcopy(audit))
        return audit

    def _audits(self, method, tid, *, query, base, **_):
        if tid not in self.tickets:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        audits = copy.deepcopy(self.tickets[tid].get("audits") or [])
        out = self._paginate("audits", audits, query, base, f"/api/v2/tickets/{tid}/audits.json")
        if "users" in (query.get("include") or ""):
            ids = dict.fromkeys(a["author_id"] for a in audits)
            out["users"] = [self._user_json(u, base) for u in ids if u in self.users]
        return 200, {}, out

    def rate(self, ticket_id: int, score: str, comment: str = "") -> None:
        """The requester rates the ticket (`good` or `bad`): the ticket's `satisfaction_rating`
        and a `SatisfactionRating` audit event, as Zendesk records them."""
        with self._lock:
            t = self.tickets[ticket_id]
            at = self._tick().strftime("%Y-%m-%dT%H:%M:%SZ")
            t["satisfaction_rating"] = {"id": self._next(), "score": score, "comment": comment}
            t["updated_at"] = at
            self._record_audit(ticket_id, t["requester_id"], [
                {"id": self._next(), "type": "SatisfactionRating", "score": score,
                 "assignee_id": t.get("assignee_id"), "body": comment}], at)
