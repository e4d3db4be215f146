"""OpenAI (or any OpenAI-compatible server) behind the `LLM` protocol.

The only module that imports `openai`: everything else sees domain values and bot.errors.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai

from bot.decisions import DraftResult, TriageResult, Usage
from bot.errors import PermanentError, RetryableError, SettingsError
from bot.llm.base import DraftRequest, TriageRequest
from bot.llm.schema import TRIAGE_JSON_SCHEMA, InvalidModelOutput, fallback_triage, parse_triage

RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "triage", "strict": True, "schema": TRIAGE_JSON_SCHEMA},
}
DRAFT_TEMPERATURE = 0.3
# Output caps, so a model that rambles (or loops) costs a bounded amount. The triage JSON with
# its five intent quotes is about 250 tokens; a draft is capped by its template's word limit,
# at about 3 tokens a word to leave room for other languages and the citations.
TRIAGE_MAX_TOKENS = 700
DRAFT_TOKENS_PER_WORD = 3
DRAFT_MAX_TOKENS = 1200  # a template with no word limit
# OpenAI echoes a masked key in 401 messages ("Incorrect API key provided: sk-ab***yz").
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*\-.]{3,}")


class OpenAIProvider:
    provider = "openai"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        client=None,
    ):
        self.model = model
        self._api_key = api_key or ""
        if client is None:
            if not api_key:
                raise SettingsError("OPENAI_API_KEY is required when LLM_PROVIDER is 'openai'")
            kwargs: dict = {"api_key": api_key, "timeout": timeout}
            if base_url:
                kwargs["base_url"] = base_url
            # max_retries=0: the Celery task owns retries (with the vendor's retry_after), so
            # SDK retries would multiply attempts and hide the latency from the task's budget.
            client = openai.OpenAI(max_retries=0, **kwargs)
        self._client = client

    # -- LLM protocol -----------------------------------------------------------------------

    def triage(self, request: TriageRequest) -> TriageResult:
        messages = [dict(m) for m in request.messages]
        completion = self._create(
            messages, temperature=0, response_format=RESPONSE_FORMAT, max_tokens=TRIAGE_MAX_TOKENS
        )
        usage = _usage(completion)
        triage, raw, error = _parse(completion)
        if triage is not None:
            return TriageResult(triage=triage, model=self.model, usage=usage, engine=self.provider)

        # One repair turn: the model sees its own output and the exact validation error.
        repair = messages + [
            {"role": "assistant", "content": raw or "(empty reply)"},
            {
                "role": "user",
                "content": (
                    f"Your previous reply was rejected: {error}. Reply again with only the "
                    "corrected JSON object that matches the required schema, and nothing else."
                ),
            },
        ]
        completion = self._create(
            repair, temperature=0, response_format=RESPONSE_FORMAT, max_tokens=TRIAGE_MAX_TOKENS
        )
        usage = usage + _usage(completion)
        triage, _, second_error = _parse(completion)
        if triage is not None:
            return TriageResult(triage=triage, model=self.model, usage=usage, engine=self.provider)
        return TriageResult(
            triage=fallback_triage(second_error),
            model=self.model,
            usage=usage,
            valid=False,
            error=second_error,
            engine=self.provider,
        )

    def draft(self, request: DraftRequest) -> DraftResult:
        messages = [dict(m) for m in request.messages]
        completion = self._create(
            messages, temperature=DRAFT_TEMPERATURE, max_tokens=draft_max_tokens(request.max_words)
        )
        message = _first_message(completion)
        text = (getattr(message, "content", None) or "").strip()
        if not text:
            # A blank draft is usually a transient model hiccup; the task may try again.
            raise RetryableError("OpenAI returned an empty draft")
        return DraftResult(text=text, model=self.model, usage=_usage(completion), engine=self.provider)

    # -- doctor -------------------------------------------------------------------------------

    def probe(self) -> list[tuple[str, bool, str, str]]:
        """For `python -m bot doctor`: (check, passed, detail, fix) for the endpoint and key, the
        model, and strict structured output (a 20-token completion: the one call that costs).
        https://platform.openai.com/docs/api-reference/models/retrieve
        https://platform.openai.com/docs/guides/structured-outputs"""
        try:
            self._client.models.retrieve(self.model)
            found = ("model", True, f"{self.model} is served", "")
        except openai.NotFoundError:
            found = ("model", False, f"the endpoint does not serve {self.model!r}",
                     "set LLM_MODEL to a model the endpoint lists (GET /models)")
        except openai.AuthenticationError:
            return [("endpoint", False, "the API key was refused (401)", "set a valid OPENAI_API_KEY")]
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            return [("endpoint", False, self._scrub(f"cannot reach {self._client.base_url} ({type(exc).__name__})"),
                     "check OPENAI_BASE_URL and the network")]
        except openai.APIStatusError as exc:
            found = ("model", False, self._scrub(f"GET /models/{self.model}: {exc.status_code} {_error_message(exc)}"),
                     "check LLM_MODEL and OPENAI_BASE_URL")
        checks = [("endpoint", True, f"{self._client.base_url} answers", ""), found]
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                  "additionalProperties": False}
        try:
            completion = self._client.chat.completions.create(
                model=self.model, max_tokens=20,
                messages=[{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "doctor_probe", "strict": True, "schema": schema}})
            content = getattr(_first_message(completion), "content", None) or ""
            passed = isinstance(json.loads(content), dict) and "ok" in json.loads(content)
        except (openai.OpenAIError, ValueError, RetryableError, PermanentError) as exc:
            passed, content = False, self._scrub(str(exc))[:200]
        checks.append(("structured output", True, "strict JSON schema followed", "") if passed else
                      ("structured output", False, f"a strict json_schema request did not come back as that "
                       f"JSON ({content[:120]!r})", "use a model and endpoint with structured outputs "
                       "(response_format json_schema, strict)"))
        return checks

    # -- transport ----------------------------------------------------------------------------

    def _create(self, messages: list, **params):
        try:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, **params
            )
        except openai.APITimeoutError:
            raise RetryableError("OpenAI request timed out") from None
        except openai.APIConnectionError as exc:
            raise RetryableError(self._scrub(f"could not reach OpenAI: {exc}")) from None
        except openai.APIStatusError as exc:
            raise self._map_status(exc) from None
        except openai.APIResponseValidationError as exc:
            raise RetryableError(self._scrub(f"OpenAI sent an unreadable response: {exc}")) from None

    def _map_status(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        detail = self._scrub(_error_message(exc))
        if status == 429:
            if exc.code == "insufficient_quota":
                # Quota exhaustion is also a 429, but no amount of waiting fixes billing.
                return PermanentError(f"OpenAI 429 insufficient_quota: {detail}")
            return RetryableError(
                f"OpenAI rate limited the request (429): {detail}",
                retry_after=_retry_after(exc.response.headers),
            )
        if status >= 500 or status in (408, 409):
            return RetryableError(
                f"OpenAI error {status}: {detail}", retry_after=_retry_after(exc.response.headers)
            )
        return PermanentError(f"OpenAI error {status}: {detail}")

    def _scrub(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return _KEY_LIKE.sub("sk-[redacted]", text)


def draft_max_tokens(max_words: int | None) -> int:
    if not max_words:
        return DRAFT_MAX_TOKENS
    return max(200, max_words * DRAFT_TOKENS_PER_WORD + 100)


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return getattr(exc, "message", "") or "no message"


def _retry_after(headers) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI's own) or `retry-after` (secs or date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _usage(completion) -> Usage:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        # Prompt caching bills cached prompt tokens at a lower rate:
        # https://platform.openai.com/docs/guides/prompt-caching
        cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
    )


def _first_message(completion):
    choices = getattr(completion, "choices", None) or []
    return choices[0].message if choices else None


def _parse(completion):
    """(triage, raw_text, None) on success, (None, raw_text, error) otherwise."""
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return None, "", "the response contained no choices"
    message = choices[0].message
    refusal = getattr(message, "refusal", None)
    if refusal:
        return None, refusal, f"the model refused: {refusal}"
    raw = message.content or ""
    try:
        return parse_triage(raw), raw, None
    except InvalidModelOutput as exc:
        error = str(exc)
        if choices[0].finish_reason == "length":
            error = f"output was cut off at the token limit; {error}"
        return None, raw, error
