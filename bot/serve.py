"""`python -m bot serve`: the web process, on waitress.

Why waitress rather than gunicorn's sync workers: a sync worker reads a request's body itself,
so a client trickling its body in (or an unsigned flood of such clients) holds a worker until
its timeout, and real webhooks queue behind it past Zendesk's 12-second timeout. Waitress reads
every request on one asynchronous loop, buffering it completely, and hands only complete requests
to its threads: a stalled client costs a socket, never a thread. Idle connections are closed
after WEB_IDLE_TIMEOUT seconds, and bodies over the cap are refused (413) while being read.
https://docs.pylonsproject.org/projects/waitress/en/stable/design.html
https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html
"""

from __future__ import annotations

from bot import MAX_BODY_BYTES, create_app
from bot.settings import Settings

# Stalled clients hold sockets (not threads); this many at once, before new ones wait.
CONNECTION_LIMIT = 1000


def serve(settings: Settings) -> None:
    from waitress import serve as waitress_serve

    waitress_serve(
        create_app(settings),
        listen=f"{settings.web_host}:{settings.port}",
        threads=settings.web_threads,
        channel_timeout=settings.web_idle_timeout,
        cleanup_interval=max(1, settings.web_idle_timeout // 2),  # how often idle ones are found
        max_request_body_size=MAX_BODY_BYTES,
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,  # select() stops at 1,024 sockets
        ident="support-copilot",
    )
