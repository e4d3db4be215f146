"""The README's way of running it for real: `python -m bot db upgrade`, then the Procfile under
honcho (the runner requirements.txt installs). Real processes, PostgreSQL, Redis, fake Zendesk."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import redis

from tests.conftest import WEBHOOK_SECRET, policy_in_mode
from tests.fakes.zendesk_api import FakeZendesk
from tests.processes import ROOT, PostgresSchema, Stack, free_port, wait_for

pytestmark = pytest.mark.e2e
README_COMMAND = "honcho start web worker beat"


def test_the_readme_gives_this_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"python -m bot db upgrade && {README_COMMAND}" in readme
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    assert set(re.findall(r"^(\w+):", procfile, re.MULTILINE)) == {"web", "worker", "beat", "release"}


def test_honcho_runs_web_worker_and_beat_until_stopped(postgres_server, redis_url, tmp_path):
    fake = FakeZendesk()
    fake.add_user(7, name="Ada")
    fake.add_ticket(8801, subject="Invoice copy", description="Please send me my invoice.", requester_id=7)
    broker = redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(broker).flushdb()
    port = free_port()
    with fake, PostgresSchema(postgres_server) as schema:
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
            "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_URL": fake.base_url, "ZENDESK_EMAIL": "bot@example.com",
            "ZENDESK_API_TOKEN": "token", "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": schema.url(), "REDIS_URL": broker, "KB_SOURCES": "none",
            "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"), "WORKER_CONCURRENCY": "2",
            "POLICY_FILE": policy_in_mode("draft"),
        }
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=ROOT, check=True)
        with open(tmp_path / "honcho.log", "wb") as log:  # honcho keeps its own copy
            honcho = subprocess.Popen([*README_COMMAND.split(), "-p", str(port)], env=env, cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        stack = Stack({}, tmp_path)
        stack.base = f"http://127.0.0.1:{port}"
        try:
            wait_for(stack._ready, 60, "honcho's web process")
            time.sleep(5)  # the moment a release process exiting would have stopped everything
            assert honcho.poll() is None
            body = json.dumps({"ticket_id": "8801", "event": "created"}).encode()
            assert stack.deliver(body, "inv-8801") == 202
            wait_for(lambda: fake.puts(8801), 60, "the worker's note")
            assert "ai_triaged" in fake.ticket(8801)["tags"]
            output = (tmp_path / "honcho.log").read_text(errors="replace")
            assert re.search(r"beat\.1\s*\|", output) and re.search(r"worker\.1\s*\|", output)
            assert "sweep-runs" in output or "tasks.sweep_runs" in output  # beat sends the sweep
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)
            honcho.wait(30)
            print((tmp_path / "honcho.log").read_text(errors="replace")[-5000:])
        assert honcho.returncode is not None
