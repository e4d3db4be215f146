"""Real processes for end-to-end tests: the web process, Celery workers and beat started as the
Procfile starts them, a private Redis server a test may kill, and helpers to wait on them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg
import requests

from bot.db import upgrade
from tests.conftest import policy_in_mode, signed_headers

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PostgresSchema:
    """A schema of its own on the machine's PostgreSQL, migrated, dropped at the end."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.name = f"p_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> PostgresSchema:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        upgrade(self.url())
        return self

    def url(self, host: str = "127.0.0.1", port: int = 5432) -> str:
        base = self.server_url.replace("127.0.0.1:5432", f"{host}:{port}")
        return f"{base}?options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


class RedisServer:
    """A private redis-server on a free port, keeping nothing on disk (as the machine's does):
    killing it loses its queue."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        with open(self.workdir / f"redis-{self.port}.log", "ab") as log:  # the child keeps a copy
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, 10, "redis-server")
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False


class Stack:
    """The service's processes with one environment; logs in `logs`, shown on teardown."""

    def __init__(self, env: dict[str, str], logs: Path):
        # Rollout `draft` unless the test says otherwise: these tests watch what the bot writes.
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "POLICY_FILE": policy_in_mode("draft"), **env}
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:  # the child keeps a copy
            process = subprocess.Popen(argv, env={**self.env, **env}, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def start_web(self, module: str = "bot", name: str = "web") -> subprocess.Popen:
        process = self.start(name, [sys.executable, "-m", module, "serve"],
                             WEB_HOST="127.0.0.1", PORT=str(self.port))
        wait_for(lambda: process.poll() is not None or self._ready(), 60, "the web process")
        return process

    def start_worker(self, name: str = "worker", pool: str = "threads", concurrency: int = 4) -> subprocess.Popen:
        marker = self.logs / f"{name}.log"
        size = marker.stat().st_size if marker.exists() else 0
        process = self.start(name, [sys.executable, "-m", "celery", "-A", "tasks", "worker",
                                    "--pool", pool, "--concurrency", str(concurrency),
                                    "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                                    "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h"])
        wait_for(lambda: b"ready." in marker.read_bytes()[size:], 60, f"the {name}")
        return process

    def start_beat(self) -> subprocess.Popen:
        return self.start("beat", [sys.executable, "-m", "celery", "-A", "tasks", "beat",
                                   "--loglevel", "INFO", "--schedule", str(self.logs / "beat-schedule")])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(30)

    def stop(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)

    def show_logs(self) -> None:
        for path in sorted(self.logs.glob("*.log")):  # shown by pytest when a test failed
            print(f"--- {path.name} ---\n" + path.read_text(errors="replace")[-6000:])

    def deliver(self, body: bytes, invocation: str, timeout: float = 12) -> int:
        """One signed webhook, as Zendesk sends it (it gives up after 12 s)."""
        response = requests.post(f"{self.base}/webhooks/zendesk", data=body,
                                 headers=signed_headers(body, invocation=invocation), timeout=timeout)
        return response.status_code

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def children(pid: int) -> list[int]:
    """The direct children of a process (a prefork worker's pool processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []
