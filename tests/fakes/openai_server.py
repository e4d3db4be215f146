"""A real loopback HTTP server speaking the OpenAI chat-completions wire format.

Tests drive the real `openai` SDK against it, so timeouts, status mapping and retry headers
are exercised through the SDK's own HTTP stack rather than through mocks.

    with FakeOpenAI() as server:
        server.enqueue_content('{"category": ...}', usage=(12, 5))
        client = OpenAIProvider(api_key="sk-test", model="m", base_url=server.base_url)
        ...
        server.requests  # parsed JSON bodies, in arrival order
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class FakeOpenAI:
    def __init__(self):
        self.requests: list[dict] = []
        self.models: set[str] | None = None  # GET /v1/models/{id}: None = every model exists
        self.headers: list[dict] = []  # request headers, parallel to `requests`
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        # A short poll keeps shutdown() (called once per test) from costing half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def enqueue_content(
        self,
        content: str | None,
        usage: tuple[int, int] | None = (10, 5),
        refusal: str | None = None,
        finish_reason: str = "stop",
    ) -> None:
        """A 200 completion whose message content is `content` verbatim (valid JSON or not)."""
        self._push(("content", content, usage, refusal, finish_reason))

    def enqueue_json(self, obj: dict, usage: tuple[int, int] | None = (10, 5)) -> None:
        self.enqueue_content(json.dumps(obj), usage=usage)

    def enqueue_status(self, code: int, body=None, headers: dict | None = None) -> None:
        """An error response; `body` may be a dict (sent as JSON) or a raw string."""
        self._push(("status", code, body, headers or {}))

    def enqueue_delay(self, seconds: float, content: str = "{}") -> None:
        """Sleep before answering, to outlast the client's timeout."""
        self._push(("delay", seconds, content))

    def _push(self, item) -> None:
        with self._lock:
            self._script.append(item)

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()  # lets a delayed handler give up instead of holding shutdown
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- WSGI --------------------------------------------------------------------------------

    def _app(self, environ, start_response):
        request = Request(environ)
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            model = request.path.removeprefix("/v1/models/")
            if self.models is not None and model not in self.models:
                return _json(404, {"error": {"message": f"The model `{model}` does not exist",
                                             "code": "model_not_found"}})(environ, start_response)
            return _json(200, {"id": model, "object": "model", "created": 0, "owned_by": "test"})(
                environ, start_response)
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return _json(404, {"error": {"message": f"no route {request.path}"}})(
                environ, start_response
            )
        body = json.loads(request.get_data() or b"{}")
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            item = self._script.popleft() if self._script else None
        return self._respond(item, body)(environ, start_response)

    def _respond(self, item, body: dict) -> Response:
        if item is None:
            # Loud on purpose: a test that sends more requests than it scripted is wrong.
            return _json(500, {"error": {"message": "FakeOpenAI: no scripted response left"}})
        kind = item[0]
        if kind == "status":
            _, code, payload, headers = item
            if payload is None:
                payload = {"error": {"message": f"scripted status {code}", "type": "fake"}}
            response = (
                _json(code, payload)
                if isinstance(payload, dict)
                else Response(payload, status=code, content_type="text/plain")
            )
            response.headers.update(headers)
            return response
        if kind == "delay":
            _, seconds, content = item
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not self._stopping.is_set():
                time.sleep(0.02)
            return _json(200, _completion(body, content, (1, 1), None, "stop"))
        _, content, usage, refusal, finish_reason = item
        return _json(200, _completion(body, content, usage, refusal, finish_reason))


def _completion(body: dict, content, usage, refusal, finish_reason) -> dict:
    out = {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
    }
    if usage is not None:
        prompt, completion = usage
        out["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return out


def _json(status: int, payload: dict) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")
