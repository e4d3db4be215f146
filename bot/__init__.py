"""AI copilot for support desks: the Flask app factory (`bot:create_app()`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Flask, jsonify

from bot.db import make_engine
from bot.helpdesks import WebhookReceiver, make_receivers
from bot.logs import configure_logging
from bot.policy import load_policy
from bot.prompts import load_prompts
from bot.queue import Enqueuer, make_celery
from bot.rollout import Rollout
from bot.settings import Settings
from bot.store import Store

__version__ = "0.1.0"
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class WebServices:
    settings: Settings
    store: Store
    enqueuer: Enqueuer
    # The served helpdesks' webhook receivers, by the name in `POST /webhooks/<name>`.
    receivers: Mapping[str, WebhookReceiver] = field(default_factory=dict)
    rollout: Rollout = Rollout()  # the policy's: a helpdesk that is off everywhere is not stored


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    # Refuse a bad policy or prompt file at start-up, like every other process does.
    policy = load_policy(settings.policy_file)
    load_prompts(settings.prompts_dir)
    app = Flask(__name__)
    # Webhook bodies are ids and a small envelope; refuse anything large before reading it
    # (the signature can only be checked once the whole body is in memory).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["bot"] = WebServices(
        settings=settings,
        store=Store(make_engine(settings.database_url), recovery_after=settings.recovery_after),
        enqueuer=Enqueuer(make_celery(settings)),
        receivers=make_receivers(settings),
        rollout=policy.rollout,
    )

    from bot.webhooks import blueprint

    app.register_blueprint(blueprint)
    from bot.prometheus import install

    install(app, app.extensions["bot"].store)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", version=__version__)

    @app.get("/readyz")
    def readyz():
        services = app.extensions["bot"]
        checks = {}
        for name, probe in (("database", services.store.ping), ("broker", services.enqueuer.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # any failure means "not ready"; say which and why
                checks[name] = f"error: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return jsonify(status="ready" if ready else "unavailable", checks=checks), (
            200 if ready else 503
        )

    return app
