"""`python -m bot demo`: the real web and worker processes, on the embedded defaults.

Starts the web process (waitress) and a Celery worker (SQLite store, Celery's SQLAlchemy transport on a SQLite
file, the offline engine, and the sample helpdesks instead of Zendesk and Intercom), loads the
bundled help center (the Arduino Help Center, CC BY-SA 4.0) as the knowledge base, sends every
sample ticket as a signed Zendesk webhook and every sample conversation as a signed Intercom
webhook over HTTP (plus duplicate deliveries, which must be absorbed, and a customer's
follow-up), waits for the worker, and prints the decisions.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click
import requests
import yaml

from bot.db import make_engine, upgrade
from bot.demo import intercom
from bot.helpdesks.zendesk.webhook import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.settings import INSTANCE_DIR, PROJECT_ROOT
from bot.store import Store
from bot.vocabulary import RunStatus

SAMPLE_FILE = Path(__file__).resolve().parent / "sample_helpdesk.json"
HELP_CENTER = Path(__file__).resolve().parent / "kb_arduino" / "articles.jsonl"
# Its passages' vectors for the packaged embedding model (`python -m bot.kb.vector_cache
# bot/demo/kb_arduino/articles.jsonl bot/demo/kb_arduino/vectors-minilm.npz`): copied into the
# workers' vector cache, so the worker's hybrid index embeds nothing at start.
SEED_VECTORS = HELP_CENTER.with_name("vectors-minilm.npz")


def run_demo(port: int = 0, limit: int = 0, timeout: float = 120.0) -> int:
    workdir = INSTANCE_DIR / "demo"
    shutil.rmtree(workdir, ignore_errors=True)  # every demo starts from an empty store and queue
    workdir.mkdir(parents=True)
    port = port or _free_port()
    secret = secrets.token_urlsafe(24)
    intercom_secret = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "HELPDESK": "sample",
        "SAMPLE_HELPDESK_FILE": str(SAMPLE_FILE),
        "LLM_PROVIDER": "offline",
        "ZENDESK_WEBHOOK_SECRET": secret,
        "INTERCOM_CLIENT_SECRET": intercom_secret,
        "REPLY_MERGE_WINDOW": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'demo.sqlite'}",
        "BROKER_URL": f"sqla+sqlite:///{workdir / 'broker.sqlite'}",
        "REDIS_URL": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "POLICY_FILE": _draft_policy(workdir),
    }
    click.echo("Rollout: draft, so the sample helpdesks show the notes (a new install starts in shadow "
               "and writes nothing: README, Safe go-live)")
    upgrade(env["DATABASE_URL"])
    imported = ArticleStore(make_engine(env["DATABASE_URL"])).replace_all(
        "arduino", load_articles(HELP_CENTER, "arduino")
    )
    click.echo(
        f"Knowledge base: {imported.added} articles of the Arduino Help Center "
        "(CC BY-SA 4.0, see bot/demo/DATA_SOURCES.md)"
    )
    _seed_vector_cache()
    sample = json.loads(SAMPLE_FILE.read_text(encoding="utf-8"))
    tickets = sample["tickets"][:limit] if limit else sample["tickets"]
    conversations = sample.get("conversations", [])[:limit] if limit else sample.get("conversations", [])
    base = f"http://127.0.0.1:{port}"

    click.echo(f"Starting web (waitress, {base}) and worker (celery) on the embedded defaults;")
    click.echo(f"logs in {workdir}")
    processes = [
        _start([sys.executable, "-m", "bot", "serve"],
               {**env, "WEB_HOST": "127.0.0.1", "PORT": str(port)}, workdir / "web.log"),
        _start([sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo",
                "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
               env, workdir / "worker.log"),
    ]
    try:
        _wait_ready(base, processes, deadline=time.monotonic() + 60)
        answers = _send_all(base, secret, tickets)
        for code, n in intercom.send_created(base, intercom_secret, conversations).items():
            answers[code] = answers.get(code, 0) + n
        store = Store(make_engine(env["DATABASE_URL"]))
        runs = _wait_done(store, timeout)
        # Where the file has a follow-up, the customer writes again: a second run re-triages.
        for code, n in intercom.send_follow_ups(base, intercom_secret, conversations).items():
            answers[code] = answers.get(code, 0) + n
        runs = _wait_done(store, timeout)
        _print_report(tickets, runs, answers, conversations)
        return 0 if runs and all(r.status == RunStatus.SUCCEEDED for r in runs) else 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _draft_policy(workdir: Path) -> str:
    """The policy (POLICY_FILE, or the shipped one) with its rollout mode set to `draft`: the
    demo's helpdesks are files, and the point is to see what the bot writes."""
    source = Path(os.environ.get("POLICY_FILE") or PROJECT_ROOT / "config" / "policy.yaml")
    raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    raw["rollout"] = {**(raw.get("rollout") or {}), "mode": "draft", "categories": {}, "helpdesks": {}}
    path = workdir / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for companion in source.parent.glob("kb_*.yaml"):  # the help center's, read beside the policy
        (workdir / companion.name).write_bytes(companion.read_bytes())
    return str(path)


def _seed_vector_cache() -> None:
    """The shipped vectors into instance/kb_vectors/ (the packaged model's cache), unless the
    environment chose BM25 or another embedding model."""
    if os.environ.get("KB_RANKING", "hybrid") != "hybrid" or os.environ.get("KB_EMBEDDING_MODEL"):
        return
    from bot.kb.semantic import Embedder
    from bot.kb.vector_cache import VectorCache, default_cache_dir

    VectorCache.for_model(Embedder.packaged_model_id(), default_cache_dir()).merge_from(SEED_VECTORS)


def _send_all(base: str, secret: str, tickets: list[dict]) -> dict[str, int]:
    """One event-subscription webhook per ticket, then redeliveries that must be absorbed."""
    answers: dict[str, int] = {}
    first_invocation = None
    for ticket in tickets:
        invocation = str(uuid.uuid4())
        first_invocation = first_invocation or (invocation, ticket)
        status = _post(base, secret, _event_body(ticket), invocation)
        answers[str(status)] = answers.get(str(status), 0) + 1
    if first_invocation:
        invocation, ticket = first_invocation
        # Zendesk redelivers the same invocation, and a trigger may report the same new ticket.
        for body, inv in (
            (_event_body(ticket), invocation),
            (json.dumps({"ticket_id": ticket["id"], "event": "created"}).encode(), str(uuid.uuid4())),
        ):
            status = _post(base, secret, body, inv)
            answers[f"{status} (redelivery)"] = answers.get(f"{status} (redelivery)", 0) + 1
    return answers


def _event_body(ticket: dict) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "account_id": 1,
            "id": str(uuid.uuid4()),
            "time": now,
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket['id']}",
            "detail": {
                "id": ticket["id"],
                "subject": ticket["subject"],
                "requester_id": ticket["requester_id"],
                "status": "NEW",
            },
            "event": {},
        }
    ).encode()


def _post(base: str, secret: str, body: bytes, invocation: str) -> int:
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        INVOCATION_HEADER: invocation,
    }
    return requests.post(f"{base}/webhooks/zendesk", data=body, headers=headers, timeout=15).status_code


def _wait_done(store: Store, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        runs = store.runs()
        if runs and all(r.status in RunStatus.terminal() for r in runs):
            return runs
        if time.monotonic() > deadline:
            click.echo("timed out waiting for the worker; see worker.log", err=True)
            return runs
        time.sleep(0.3)


def _print_report(tickets: list[dict], runs, answers: dict[str, int], conversations: list[dict]) -> None:
    subjects = {("zendesk", t["id"]): t["subject"] for t in tickets}
    subjects.update({("intercom", c["id"]): intercom.subject(c) for c in conversations})
    rows = [("Helpdesk", "Ticket", "Subject", "Category", "Pri", "Conf", "Group", "Sources", "Escalation",
             "Status")]
    for run in runs:
        rules, triage = run.rules or {}, run.triage or {}
        rows.append(
            (
                run.helpdesk + (" (reply)" if run.event_kind == "customer_replied" else ""),
                f"#{run.ticket_id}",
                _cut(subjects.get((run.helpdesk, run.ticket_id), ""), 30),
                rules.get("category", triage.get("category", "-")),
                str(rules.get("priority", "-")),
                f"{triage['confidence']:.2f}" if "confidence" in triage else "-",
                str(rules.get("group_key") or "-"),
                str(len(run.sources or ())),
                ", ".join(r["code"] for r in rules.get("reasons", ())) or "-",
                run.status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    click.echo("")
    for i, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * width for width in widths))
    click.echo("")
    click.echo("Webhook answers: " + ", ".join(f"{n} x {code}" for code, n in answers.items()))
    zendesk_runs = [r for r in runs if r.helpdesk == "zendesk"]
    grounded = max((r for r in zendesk_runs if r.sources and r.actions),
                   key=lambda r: r.sources[0]["relevance"], default=None)
    unsourced = next(
        (r for r in zendesk_runs if r.actions and "no_source" in _codes(r)),
        next((r for r in zendesk_runs if r.rules and r.rules.get("escalate") and r.actions), None),
    )
    for example in filter(None, (grounded, unsourced)):
        update = example.actions["update"]
        click.echo(f"\nThe update the bot would send for ticket #{example.ticket_id} "
                   f"(PUT /api/v2/tickets/{example.ticket_id}):")
        fields = {k: v for k, v in update.items() if k != "comment"}
        click.echo(json.dumps(fields, indent=2))
        click.echo(f"Internal note (public: {update['comment']['public']}):\n")
        click.echo(update["comment"]["body"])
    intercom.print_notes([r for r in runs if r.helpdesk == "intercom"], conversations)


def _codes(run) -> list[str]:
    return [r["code"] for r in (run.rules or {}).get("reasons", ())]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _start(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(base: str, processes, deadline: float) -> None:
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise click.ClickException(f"{process.args[2]} exited early; see its log")
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise click.ClickException("the web process did not become ready in 60 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
