"""The web process as deployed (`python -m bot serve`, waitress) against slow and oversized
clients, beside real deliveries: stalled clients must not starve signed webhooks past Zendesk's
12-second timeout, and bodies over the cap get 413 however they are sent."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from bot import MAX_BODY_BYTES
from tests.conftest import WEBHOOK_SECRET, signed_headers
from tests.processes import PostgresSchema, Stack

pytestmark = pytest.mark.e2e
ZENDESK_TIMEOUT = 12  # seconds Zendesk waits for an answer before it gives up
SLOW_CLIENTS = 24  # far more than the web threads (WEB_THREADS=4 here)


@pytest.fixture(scope="module")
def web(postgres_server, redis_url, tmp_path_factory):
    broker = redis_url.rsplit("/", 1)[0] + "/11"
    with PostgresSchema(postgres_server) as schema:
        stack = Stack({
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com",
            "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": schema.url(), "REDIS_URL": broker, "KB_SOURCES": "none",
            "WEB_THREADS": "4", "WEB_IDLE_TIMEOUT": "5",
        }, tmp_path_factory.mktemp("web"))
        try:
            stack.start_web()
            yield stack
        finally:
            stack.stop()
            stack.show_logs()


def trickle(port: int, stop: threading.Event, body_size: int = 50_000) -> None:
    """An unsigned client that declares a 50 kB body and sends it a byte at a time."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {body_size}\r\n\r\n".encode())
        while not stop.wait(0.5):
            try:
                sock.sendall(b" ")
            except OSError:
                return


def test_stalled_clients_do_not_starve_signed_deliveries(web):
    stop = threading.Event()
    slow = [threading.Thread(target=trickle, args=(web.port, stop), daemon=True)
            for _ in range(SLOW_CLIENTS)]
    for thread in slow:
        thread.start()
    try:
        time.sleep(1)  # every slow client is connected and sending
        for n in range(10):
            body = json.dumps({"ticket_id": str(40_000 + n), "event": "created"}).encode()
            # `timeout` is Zendesk's: a delivery answered later than this is lost to Zendesk.
            assert web.deliver(body, f"inv-slow-{n}", timeout=ZENDESK_TIMEOUT) == 202
        assert all(thread.is_alive() for thread in slow)  # they were still trickling meanwhile
    finally:
        stop.set()


def test_an_idle_connection_is_closed(web):
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.settimeout(15)
        sock.sendall(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, not answered
        assert time.monotonic() - started < 14  # WEB_IDLE_TIMEOUT is 5 s here


def chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_413_however_it_is_sent(web, chunked):
    total = MAX_BODY_BYTES + 1
    data = chunks(total) if chunked else b"x" * total
    headers = signed_headers(b"irrelevant")
    if not chunked:
        headers["Content-Length"] = str(total)
    response = requests.post(f"{web.base}/webhooks/zendesk", data=data, headers=headers, timeout=30)
    assert response.status_code == 413


def test_a_chunked_body_under_the_cap_is_read_whole_and_verified(web):
    body = json.dumps({"ticket_id": "40100", "event": "created", "pad": "x" * 200_000}).encode()
    headers = signed_headers(body, invocation="inv-chunked")
    response = requests.post(f"{web.base}/webhooks/zendesk",
                             data=(body[i:i + 4096] for i in range(0, len(body), 4096)),
                             headers=headers, timeout=ZENDESK_TIMEOUT)
    assert response.status_code == 202  # the signature covered every byte
