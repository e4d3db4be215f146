"""Delivery latency of the web process with stalled clients connected, against the same server
with none (the baseline, in the same run).

Starts `python -m bot serve` (waitress) on the embedded defaults (SQLite store and broker), sends
signed deliveries one after another and times each answer; then opens N clients that declare a
50 kB body and trickle it a byte every half second, and times the same deliveries again.
Zendesk gives up on a delivery after 12 s.

    python bench/slow_clients.py [--deliveries 20] [--slow 24] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.helpdesks.zendesk.webhook import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign  # noqa: E402

SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deliver(base: str, ticket_id: int) -> float:
    body = json.dumps({"ticket_id": str(ticket_id), "event": "created"}).encode()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, stamp, body),
               TIMESTAMP_HEADER: stamp, INVOCATION_HEADER: str(uuid.uuid4())}
    started = time.perf_counter()
    response = requests.post(f"{base}/webhooks/zendesk", data=body, headers=headers, timeout=60)
    response.raise_for_status()
    return time.perf_counter() - started


def trickle(port: int, stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n")
        while not stop.wait(0.5):
            try:
                sock.sendall(b" ")
            except OSError:
                return


def row(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"| {name} | {statistics.median(ms):.1f} | {ms[-1]:.1f} | {sum(t > 12 for t in times)} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--slow", type=int, default=24)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": SECRET,
           "DATABASE_URL": f"sqlite:///{workdir / 'bot.sqlite'}",
           "BROKER_URL": f"sqla+sqlite:///{workdir / 'broker.sqlite'}", "REDIS_URL": "",
           "WEB_HOST": "127.0.0.1", "PORT": str(port), "WEB_THREADS": str(args.threads)}
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        deliver(base, 1)  # warm up
        baseline = [deliver(base, 100 + n) for n in range(args.deliveries)]
        for _ in range(args.slow):
            threading.Thread(target=trickle, args=(port, stop), daemon=True).start()
        time.sleep(1)
        stalled = [deliver(base, 1000 + n) for n in range(args.deliveries)]
    finally:
        stop.set()
        server.terminate()
        server.wait(10)
    print(f"{args.deliveries} signed deliveries, web process with {args.threads} threads")
    print("| | median ms | max ms | over Zendesk's 12 s |")
    print("|---|---|---|---|")
    print(row("no stalled client (baseline)", baseline))
    print(row(f"{args.slow} stalled clients", stalled))


if __name__ == "__main__":
    main()
