"""The JSON shapes the fake Zendesk (tests/fakes/zendesk_api.py) answers with.

:class:`ZendeskShapes` is a mixin over the fake's state (``self.users``, ``self.organizations``):
ticket/user/organization JSON, ``include=`` sideloads, and both pagination styles. Methods, not
functions, so a test can monkeypatch one on a fake instance (e.g. ``fake._sideloads``).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

J = dict[str, Any]
_USER_KEYS = ("id", "name", "email", "role", "tags", "user_fields", "organization_id")


class ZendeskShapes:
    users: dict[int, J]
    organizations: dict[int, J]

    def _ticket_json(self, t: J, base: str) -> J:
        out = {k: copy.deepcopy(v) for k, v in t.items() if k not in ("comments", "audits")}
        return {**out, "raw_subject": t["subject"], "url": f"{base}/api/v2/tickets/{t['id']}.json"}

    def _user_json(self, uid: int, base: str) -> J:
        return {**copy.deepcopy({k: self.users[uid][k] for k in _USER_KEYS}), "url": f"{base}/api/v2/users/{uid}.json"}

    def _org_json(self, oid: int, base: str) -> J:
        return {**copy.deepcopy(self.organizations[oid]), "url": f"{base}/api/v2/organizations/{oid}.json"}

    def _sideloads(self, tickets: list[J], query: Mapping[str, str], base: str) -> J:
        include = {s.strip() for s in (query.get("include") or "").split(",")}
        out: J = {}
        if "users" in include:
            ids = dict.fromkeys(t[k] for t in tickets for k in ("requester_id", "submitter_id", "assignee_id"))
            out["users"] = [self._user_json(u, base) for u in ids if u in self.users]
        if "organizations" in include:
            ids = dict.fromkeys(t["organization_id"] for t in tickets)
            out["organizations"] = [self._org_json(o, base) for o in ids if o in self.organizations]
        return out

    @staticmethod
    def _paginate(key: str, items: list, query: Mapping[str, str], base: str, path: str) -> J:
        rest = {k: v for k, v in query.items() if not k.startswith("page") and k != "per_page"}
        if "page[size]" in query:  # cursor pagination (what zenpy asks for)
            size, start = int(query["page[size]"]), int(query.get("page[after]") or 0)
            more = start + size < len(items)
            following = {**rest, "page[size]": size, "page[after]": start + size}
            nxt = f"{base}{path}?" + urlencode(following) if more else None
            return {key: items[start:start + size], "meta": {"has_more": more, "after_cursor": str(start + size) if more
                    else None, "before_cursor": str(start) if start else None}, "links": {"next": nxt, "prev": None}}
        per, page = int(query.get("per_page") or 100), int(query.get("page") or 1)

        def link(n):
            return f"{base}{path}?" + urlencode({**rest, "per_page": per, "page": n})
        return {key: items[(page - 1) * per: page * per], "count": len(items),
                "next_page": link(page + 1) if page * per < len(items) else None,
                "previous_page": link(page - 1) if page > 1 else None}
