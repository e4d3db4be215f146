"""Zendesk requests per processed ticket: the bot's adapter against the obvious zenpy code.

Both run in this process against the same fake Zendesk (mocked at `requests` by `responses`),
on the same tickets: a requester in an organization with N earlier tickets. Prints, for each,
the requests per ticket and the wall time per ticket (the offline engine, so Zendesk I/O and our
own code dominate).

    python bench/requests_per_ticket.py [--tickets 20] [--history 120]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import responses

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zenpy import Zenpy  # noqa: E402
from zenpy.lib.api_objects import Comment  # noqa: E402

from bot.db import upgrade  # noqa: E402
from bot.domain import TicketEvent  # noqa: E402
from bot.events import process_run  # noqa: E402
from bot.runtime import build_worker  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fakes.zendesk_api import FakeZendesk  # noqa: E402

BASE = "https://acme.zendesk.com"


def seed(fake: FakeZendesk, tickets: int, history: int) -> list[int]:
    fake.add_organization(900, name="Acme", tags=["vip"])
    fake.add_user(501, name="Maria Lopez", organization_id=900, user_fields={"account_status": "trial"})
    for i in range(history):
        fake.add_ticket(10_000 + i, subject=f"Earlier {i}", description="old", requester_id=501,
                        organization_id=900, tags=["ai_category_billing"], status="solved")
    ids = []
    for i in range(tickets):
        fake.add_ticket(20_000 + i, subject="Charged twice", description="I was charged twice.",
                        requester_id=501, organization_id=900, tags=["web"])
        ids.append(20_000 + i)
    return ids


def obvious_zenpy(ticket_ids: list[int]) -> tuple[int, float]:
    """What a first version would write: zenpy objects throughout, cache off as required."""
    fake = FakeZendesk(validate=False)
    ids = seed(fake, len(ticket_ids), ARGS.history)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, base_url=BASE)
        client = Zenpy(subdomain="acme", email="bot@example.com", token="t", disable_cache=True)
        started = time.perf_counter()
        for ticket_id in ids:
            ticket = client.tickets(id=ticket_id, include=["users", "organizations"])
            requester, organization = ticket.requester, ticket.organization
            _ = (requester.tags, requester.user_fields, organization.tags)
            history = list(client.users.requested(requester.id))  # every page
            _ = [t.tags for t in history]
            ticket.comment = Comment(body="note", public=False)
            ticket.tags.extend(["ai_triaged"])
            client.tickets.update(ticket)
        elapsed = time.perf_counter() - started
    return fake.count(), elapsed


def bot_adapter(ticket_ids: list[int], tmp: Path) -> tuple[int, float]:
    fake = FakeZendesk(validate=False)
    ids = seed(fake, len(ticket_ids), ARGS.history)
    url = f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.sqlite'}"  # a fresh store per run
    upgrade(url)
    settings = Settings.from_env({"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
                                  "ZENDESK_API_TOKEN": "t", "ZENDESK_WEBHOOK_SECRET": "s",
                                  "DATABASE_URL": url})
    worker = build_worker(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, base_url=BASE)
        run_ids = [worker.store.accept(TicketEvent("zendesk", "created", str(i))).run_id for i in ids]
        started = time.perf_counter()
        for run_id in run_ids:
            assert process_run(run_id, worker) == "succeeded"
        elapsed = time.perf_counter() - started
    worker.store.engine.dispose()
    return fake.count(), elapsed


def main() -> None:
    import tempfile

    for name in ("ZENPY_FORCE_NETLOC", "ZENPY_FORCE_SCHEME"):
        os.environ.pop(name, None)
    ids = list(range(ARGS.tickets))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in (("obvious zenpy (baseline)", lambda: obvious_zenpy(ids)),
                           ("bot adapter", lambda: bot_adapter(ids, Path(tmp)))):
            samples = [run() for _ in range(ARGS.repeat)]
            requests_total = samples[0][0]
            per_ticket_ms = statistics.median(s[1] for s in samples) / len(ids) * 1000
            rows.append((label, requests_total / len(ids), per_ticket_ms))
    print(f"{ARGS.tickets} tickets, requester with {ARGS.history} earlier tickets, "
          f"median of {ARGS.repeat} runs")
    print(f"{'':28} {'requests/ticket':>16} {'ms/ticket':>10}")
    for label, per_ticket, ms in rows:
        print(f"{label:28} {per_ticket:16.1f} {ms:10.1f}")
    base, ours = rows[0][1], rows[1][1]
    print(f"requests saved per ticket: {base - ours:.1f} ({(1 - ours / base) * 100:.0f}% fewer)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--history", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    ARGS = parser.parse_args()
    main()
