"""The transport front-ends of the fake Zendesk (tests/fakes/zendesk_api.py).

:class:`HttpFrontEnds` is a mixin: the class using it provides ``handle(method, url, headers,
body_bytes) -> (status, headers, json_or_None)``, and gets

* HTTP: ``with fake:`` (or ``fake.serve()`` / ``fake.close()``) runs a threaded werkzeug server at
  ``fake.base_url`` (``fake.netloc`` for zenpy's ``ZENPY_FORCE_NETLOC``).
* ``responses``: ``fake.install(responses_mock, base_url="https://acme.zendesk.com")``.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Self

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class HttpFrontEnds:
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def install(self, rsps: Any, base_url: str = "https://acme.zendesk.com") -> Any:
        """Route every request to ``base_url`` made under a ``responses`` mock (a RequestsMock
        or the ``responses`` module itself) to this fake."""
        import responses

        class AnyMethod(responses.CallbackResponse):  # one registration for every verb
            def matches(self, request):
                if not self._url_matches(self.url, str(request.url)):
                    return False, "URL does not match"
                return self._req_attr_matches(self.match, request)

        def callback(req):
            status, hdrs, payload = self.handle(req.method, req.url, req.headers, req.body)
            return status, hdrs, "" if payload is None else json.dumps(payload)
        pattern = re.compile(re.escape(base_url.rstrip("/")) + r"/.*")
        rsps.add(AnyMethod("GET", pattern, callback=callback, content_type="application/json"))
        return rsps

    def _wsgi(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        url = f"http://{environ.get('HTTP_HOST', self.netloc)}{environ.get('PATH_INFO', '')}"
        url += f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""
        status, hdrs, payload = self.handle(environ["REQUEST_METHOD"], url, headers, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        if payload is not None:
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}",
                       [*hdrs.items(), ("Content-Length", str(len(data)))])
        return [data]

    def serve(self) -> Self:
        """Start the HTTP front-end (127.0.0.1, free port) in a daemon thread; idempotent."""
        if self._server is None:
            self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-zendesk",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    @property
    def netloc(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeZendesk HTTP server not started: call serve() or use it as a context manager")
        return f"127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"

    def __enter__(self) -> Self:
        return self.serve()

    def __exit__(self, *exc) -> None:
        self.close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no per-request lines on stderr
        pass
