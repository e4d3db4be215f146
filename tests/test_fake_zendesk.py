"""The fake Zendesk behaves like Zendesk, and its OpenAPI validation has teeth."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import responses
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, RecordNotFoundException

from tests.fakes.openapi_validation import apply_overlay, load_spec_dict, validate_zendesk_request
from tests.fakes.zendesk_api import FakeZendesk

AUTH = ("bot@acme.com/token", "t0ken")
BASIC = {"Authorization": "Basic Ym90QGFjbWUuY29tL3Rva2VuOnQwa2Vu"}
REQUESTED = "/api/v2/users/100/tickets/requested.json"


def seed(fake: FakeZendesk) -> FakeZendesk:
    fake.add_organization(10, name="Acme Corp", tags=["vip"], organization_fields={"plan": "enterprise"})
    fake.add_user(100, name="Ann Customer", email="ann@acme.test", tags=["vip"], user_fields={"tier": "gold"},
                  organization_id=10)
    fake.add_user(200, name="Bob Other")
    fake.add_ticket(1, subject="Refund please", description="I was charged twice", requester_id=100, organization_id=10,
                    tags=["billing", "refund"], priority="normal", created_at="2024-03-02T09:00:00Z")
    fake.add_ticket(2, subject="Old one", description="first", requester_id=100, created_at="2024-01-01T00:00:00Z")
    fake.add_ticket(3, subject="Newest", description="third", requester_id=100, created_at="2024-04-01T00:00:00Z")
    fake.add_ticket(4, subject="Not Ann's", description="x", requester_id=200)
    return fake


@pytest.fixture
def fake():
    with FakeZendesk() as f:
        yield seed(f)


@pytest.fixture
def zenpy_client(fake, monkeypatch):
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", fake.netloc)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    return Zenpy(subdomain="acme", email="bot@acme.com", token="t0ken", disable_cache=True)


def put(fake, tid, ticket, **kw):
    return requests.put(f"{fake.base_url}/api/v2/tickets/{tid}.json", json={"ticket": ticket}, auth=AUTH, **kw)


# ---- zenpy against the HTTP front-end ------------------------------------------------------
def test_zenpy_reads_ticket_and_sideloads(fake, zenpy_client):
    t = zenpy_client.tickets(id=1, include=["users", "organizations"])
    assert (t.id, t.subject, t.requester_id, t.tags) == (1, "Refund please", 100, ["billing", "refund"])
    assert fake.requests[-1].query == {"include": "users,organizations"}
    raw = requests.get(f"{fake.base_url}/api/v2/tickets/1.json?include=users,organizations", auth=AUTH).json()
    assert {u["id"] for u in raw["users"]} == {100}
    assert raw["users"][0]["user_fields"] == {"tier": "gold"}
    assert raw["organizations"] == [{"id": 10, "name": "Acme Corp", "tags": ["vip"],
                                     "organization_fields": {"plan": "enterprise"},
                                     "url": f"{fake.base_url}/api/v2/organizations/10.json"}]
    plain = requests.get(f"{fake.base_url}/api/v2/tickets/1", auth=AUTH).json()  # no .json, no include
    assert set(plain) == {"ticket"} and plain["ticket"]["updated_at"].endswith("Z")
    assert zenpy_client.users.me().id == fake.bot_user_id
    assert fake.spec_violations == []


def test_zenpy_full_update_passes_validation_and_is_applied(fake, zenpy_client):
    t = zenpy_client.tickets(id=1)
    t.comment = Comment(body="AI draft: refund approved?", public=False)
    t.tags.extend(["ai_triaged"])
    t.priority, t.group_id = "high", 5
    t.safe_update, t.updated_stamp = True, t.updated_at
    audit = zenpy_client.tickets.update(t)
    assert audit.ticket.priority == "high"
    assert {e["type"] for e in audit.audit.events} == {"Change", "Comment"}
    state = fake.ticket(1)
    assert (state["priority"], state["group_id"], state["tags"]) == ("high", 5, ["billing", "refund", "ai_triaged"])
    assert state["comments"][-1]["body"] == "AI draft: refund approved?" and state["comments"][-1]["public"] is False
    assert state["comments"][-1]["author_id"] == fake.bot_user_id and state["updated_at"] > t.updated_at
    (sent,) = fake.puts(1)
    assert sent.json["ticket"]["safe_update"] is True
    assert sent.json["ticket"]["comment"] == {"body": "AI draft: refund approved?", "public": False}
    assert fake.spec_violations == []


def test_exact_put_body_from_brief_validates_and_applies(fake):
    stamp = fake.ticket(1)["updated_at"]
    body = {"comment": {"body": "x", "public": False}, "tags": ["ai_triaged", "billing"], "priority": "high",
            "group_id": 5, "safe_update": True, "updated_stamp": stamp,
            "custom_fields": [{"id": 555, "value": "billing"}]}
    r = put(fake, 1, body)
    assert r.status_code == 200, r.text
    assert r.json()["audit"]["ticket_id"] == 1 and r.json()["ticket"]["tags"] == ["ai_triaged", "billing"]
    assert fake.ticket(1)["custom_fields"] == [{"id": 555, "value": "billing"}]
    assert fake.spec_violations == []


def test_stale_stamp_gives_409_and_applies_nothing(fake, zenpy_client):
    t = zenpy_client.tickets(id=1)
    read_stamp = t.updated_at
    fake.on_before_put(lambda tid, body: fake.agent_edit(tid, priority="low", tags_add=["agent_touched"]))
    t.comment = Comment(body="should not land", public=False)
    t.priority, t.safe_update, t.updated_stamp = "urgent", True, read_stamp
    with pytest.raises(APIException) as exc:
        zenpy_client.tickets.update(t)
    assert exc.value.response.status_code == 409
    assert exc.value.response.json()["error"] == "UpdateConflict"
    state = fake.ticket(1)
    assert state["priority"] == "low" and "agent_touched" in state["tags"]  # only the agent's edit
    assert [c["body"] for c in state["comments"]] == ["I was charged twice"]
    # re-read and retry with the fresh stamp succeeds (the hook ran once)
    retry = {"priority": "urgent", "safe_update": True, "updated_stamp": state["updated_at"]}
    assert put(fake, 1, retry).status_code == 200
    assert fake.spec_violations == []


def test_tags_replace_the_list(fake):
    assert put(fake, 1, {"tags": ["only_this"]}).json()["ticket"]["tags"] == ["only_this"]
    assert fake.ticket(1)["tags"] == ["only_this"]
    r = requests.put(f"{fake.base_url}/api/v2/tickets/1/tags.json", json={"tags": ["added"]}, auth=AUTH)
    assert r.json() == {"tags": ["only_this", "added"]}  # the tags endpoint's PUT adds
    assert fake.spec_violations == []


def test_comment_public_defaults_true_and_raw_presence_is_logged(fake):
    put(fake, 1, {"comment": {"body": "no public key"}})
    assert fake.ticket(1)["comments"][-1]["public"] is True
    assert "public" not in fake.puts(1)[-1].json["ticket"]["comment"]


def test_bad_priority_is_a_spec_violation(fake, zenpy_client):
    t = zenpy_client.tickets(id=1)
    t.priority = "super"
    with pytest.raises(APIException) as exc:
        zenpy_client.tickets.update(t)
    assert exc.value.response.status_code == 400
    assert exc.value.response.json()["error"] == "SpecViolation"
    assert len(fake.spec_violations) == 1
    assert "PUT /api/v2/tickets/1.json" in fake.spec_violations[0] and "ticket/priority" in fake.spec_violations[0]
    assert "'super' is not one of" in fake.spec_violations[0]
    assert fake.ticket(1)["priority"] == "normal"


def test_requested_validates_with_overlay_and_sorts(fake, zenpy_client):
    r = requests.get(f"{fake.base_url}{REQUESTED}?sort_by=created_at&sort_order=desc", auth=AUTH)
    assert [t["id"] for t in r.json()["tickets"]] == [3, 1, 2]
    assert r.json()["next_page"] is None and r.json()["previous_page"] is None and r.json()["count"] == 3
    asc = requests.get(f"{fake.base_url}{REQUESTED}?sort_by=created_at&sort_order=asc&per_page=2", auth=AUTH).json()
    assert [t["id"] for t in asc["tickets"]] == [2, 1] and "page=2" in asc["next_page"]
    assert [t["id"] for t in requests.get(asc["next_page"], auth=AUTH).json()["tickets"]] == [3]
    assert sorted(t.id for t in zenpy_client.users.requested(100)) == [1, 2, 3]  # cursor pagination, include=None
    assert fake.spec_violations == []
    requests.get(f"{fake.base_url}{REQUESTED}?sort_by=priority_score", auth=AUTH)
    assert len(fake.spec_violations) == 1 and "sort_by" in fake.spec_violations[0]


def test_responses_and_http_front_ends_agree(fake):
    calls = [("GET", "/api/v2/tickets/1.json?include=users,organizations", None),
             ("PUT", "/api/v2/tickets/1.json",
              {"ticket": {"tags": ["x"], "priority": "low", "comment": {"body": "n", "public": False}}}),
             ("GET", f"{REQUESTED}?sort_by=id&sort_order=desc", None), ("GET", "/api/v2/users/me.json", None),
             ("GET", "/api/v2/tickets/999.json", None),
             ("PUT", "/api/v2/tickets/1.json", {"ticket": {"priority": "super"}})]
    mocked = seed(FakeZendesk())
    out = {"http": [], "responses": []}
    for method, path, body in calls:
        r = requests.request(method, fake.base_url + path, json=body, auth=AUTH)
        out["http"].append((r.status_code, r.text.replace(fake.base_url, "BASE")))
    with responses.RequestsMock() as rsps:
        mocked.install(rsps, base_url="https://acme.zendesk.com")
        for method, path, body in calls:
            r = requests.request(method, "https://acme.zendesk.com" + path, json=body, auth=AUTH)
            out["responses"].append((r.status_code, r.text.replace("https://acme.zendesk.com", "BASE")))
    assert [s for s, _ in out["http"]] == [200, 200, 200, 200, 404, 400]
    assert [json.loads(b) for _, b in out["http"]] == [json.loads(b) for _, b in out["responses"]]
    assert fake.spec_violations == [v for v in mocked.spec_violations]


def test_zenpy_through_responses_front_end():
    fake = seed(FakeZendesk())
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        z = Zenpy(subdomain="acme", email="bot@acme.com", token="t0ken", disable_cache=True)
        assert z.tickets(id=3).subject == "Newest"
        with pytest.raises(RecordNotFoundException):
            z.tickets(id=999)
    assert fake.count("GET", "/api/v2/tickets/") == 2 and fake.spec_violations == []


def test_injected_429_carries_retry_after(fake, zenpy_client):
    fake.fail_next("GET", r"/api/v2/tickets/1(\.json)?$", 429, headers={"Retry-After": "3"})
    r = requests.get(f"{fake.base_url}/api/v2/tickets/1.json", auth=AUTH)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert requests.get(f"{fake.base_url}/api/v2/tickets/1.json", auth=AUTH).status_code == 200  # times=1
    # zenpy 2.0.57 (installed) has no raise_on_ratelimit; ratelimit_budget=1 fails fast instead of sleeping
    fake.fail_next("GET", r"/tickets/1", 429, headers={"Retry-After": "3"})
    z = Zenpy(subdomain="acme", email="bot@acme.com", token="t0ken", disable_cache=True, ratelimit_budget=1)
    started = time.monotonic()
    with pytest.raises(RatelimitBudgetExceeded):
        z.tickets(id=1)
    assert time.monotonic() - started < 1


def test_injected_5xx_and_delay(fake):
    fake.fail_next("PUT", r"/tickets/1", 503, times=2)
    assert [put(fake, 1, {"priority": "high"}).status_code for _ in range(3)] == [503, 503, 200]
    fake.delay_next(None, r"/users/me", 0.3)
    started = time.monotonic()
    assert requests.get(f"{fake.base_url}/api/v2/users/me.json", auth=AUTH).status_code == 200
    assert time.monotonic() - started >= 0.3
    fake.delay_next("GET", r"/users/me", 0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{fake.base_url}/api/v2/users/me.json", auth=AUTH, timeout=0.1)


def test_auth_and_not_found(fake):
    r = requests.get(f"{fake.base_url}/api/v2/tickets/1.json")
    assert (r.status_code, r.json()) == (401, {"error": "Couldn't authenticate you"})
    for path in ("/api/v2/tickets/999.json", "/api/v2/users/999.json", "/api/v2/nowhere.json"):
        r = requests.get(fake.base_url + path, auth=AUTH)
        assert (r.status_code, r.json()) == (404, {"error": "RecordNotFound", "description": "Not found"})
    assert put(fake, 999, {"priority": "high"}).status_code == 404
    assert fake.count() == 5 and fake.count("GET", "/api/v2/tickets") == 2
    assert [r.status for r in fake.requests][-1] == 404


def test_threaded_server_keeps_a_consistent_log(fake):
    def hit():
        for _ in range(5):
            requests.get(f"{fake.base_url}/api/v2/tickets/1.json", auth=AUTH)
    threads = [threading.Thread(target=hit) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert fake.count("GET") == 40 and fake.spec_violations == []


# ---- the validator itself ------------------------------------------------------------------
def test_validator_has_teeth():
    base = "https://acme.zendesk.com/api/v2"
    assert validate_zendesk_request("GET", f"{base}/tickets/1.json", BASIC, None) == []
    assert any("basicAuth" in v for v in validate_zendesk_request("GET", f"{base}/tickets/1.json", {}, None))
    assert any("ticket_id" in v for v in validate_zendesk_request("GET", f"{base}/tickets/abc.json", BASIC, None))
    assert any("PathNotFound" in v for v in validate_zendesk_request("GET", f"{base}/tickets/1/nonsense", BASIC, None))
    bad = {"ticket": {"group_id": "5", "comment": {"body": "x", "public": "no"}, "status": "closed-ish",
                      "safe_update": True, "updated_stamp": "yesterday"}}
    problems = validate_zendesk_request("PUT", f"{base}/tickets/1.json", BASIC, json.dumps(bad).encode())
    for where in ("ticket/group_id", "ticket/comment/public", "ticket/status", "ticket/updated_stamp"):
        assert any(where in p for p in problems), (where, problems)
    assert validate_zendesk_request("PUT", f"{base}/tickets/1.json", BASIC, b"{not json")


def test_overlay_patches_exactly_the_known_defects():
    raw = load_spec_dict(overlay=False)  # one extra YAML parse (~0.3 s)
    path, cf = "/api/v2/users/{user_id}/tickets/requested", {"$ref": "#/components/schemas/CustomFieldObject"}
    assert path not in raw["paths"]
    assert raw["components"]["schemas"]["TicketUpdateInput"]["properties"]["custom_fields"]["items"] == cf
    assert [p for p in raw["paths"] if p.endswith(".json")] == [  # the only paths written with the suffix
        "/api/lotus/assignables/autocomplete.json", "/api/lotus/assignables/groups.json",
        "/api/lotus/assignables/groups/{group_id}/agents.json"]
    assert validate_zendesk_request("GET", "https://a.zendesk.com/api/lotus/assignables/groups.json", BASIC, None) == []
    patched = apply_overlay(raw)
    update_input = patched["components"]["schemas"]["TicketUpdateInput"]
    assert path in patched["paths"] and update_input["properties"]["custom_fields"]["items"] != cf
    fields = [{"id": 1, "value": "a"}, {"id": 2, "value": None}, {"id": 3, "value": ["x"]}]
    body = json.dumps({"ticket": {"custom_fields": fields}})
    assert validate_zendesk_request("PUT", "https://a.zendesk.com/api/v2/tickets/1.json", BASIC, body) == []
