"""Logging for every process: text (the default) or one JSON object per line (LOG_FORMAT=json),
for a log pipeline to index.

A JSON line has `ts` (UTC, ISO 8601), `level`, `logger`, `event` (a stable name such as
`webhook.refused` or `run.retrying`, given as `extra={"event": ...}`; `log` when a line has
none), `message`, every other `extra` field (`run_id`, `helpdesk`, `ticket_id`...), and `error`
with the traceback when there is one. Event names are part of the interface: the README lists
them, and they change only with a note in the changelog of a release.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")
# Attributes every LogRecord has: what is left in a record's __dict__ came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
        }
        # A record's own fields never replace the line's core keys.
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k not in line})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):
    """Marks the handler this module installs, so configuring twice replaces it."""


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """The root logger writes to stderr in `fmt` at `level`; an earlier call's handler is replaced,
    handlers installed by others (pytest's, say) are left alone."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
