"""Labelled tickets for `train` and `eval`: read from JSONL or CSV, mapped onto our categories.

Every problem is a `DataError` naming the file, the line and what is wrong, so a command can
refuse the whole file (exit 2) instead of training on half of it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.decisions import SENTIMENTS
from bot.domain import CATEGORIES, category_named
from bot.intents import INTENTS

DROP = "-"  # `--map "wontfix=-"`: leave tickets with this label out
# Zendesk's four values, and the policy's "lowest" for 5.
PRIORITY_BY_NAME = {"urgent": 1, "high": 2, "normal": 3, "low": 4, "lowest": 5}
_MAX_CSV_FIELD = 10 * 1024 * 1024  # GitHub issue bodies with logs run to hundreds of kB


class DataError(Exception):
    """The input cannot be used as it is; the message says where and why."""


@dataclass(frozen=True)
class LabelledTicket:
    subject: str
    body: str
    category: str  # one of CATEGORIES
    priority: int | None = None  # 1..5, when the data has it
    language: str | None = None  # ISO 639-1, when the data has it
    sentiment: str | None = None  # one of SENTIMENTS, when the data has it (eval only)
    frustrated: bool | None = None  # when the data has it: eval, and train's frustration head
    # The escalation intents it shows (bot.decisions.INTENTS), when the data is labelled for
    # them; None: unknown (not "none"), and left out of the intent detector's training.
    intents: frozenset[str] | None = None


@dataclass(frozen=True)
class Columns:
    """Where the fields are: `--text-cols` (first is the subject) and `--label-col`."""

    text: tuple[str, ...] = ("subject", "body")
    label: str = "category"
    first_is_subject: bool = True  # False: every text column goes into the body


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`["bug=Bug report", "question=Technical", "spam=-"]` -> {source label: category or DROP}."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise DataError(f"--map {pair!r}: write it as SOURCE=Category (or SOURCE=- to drop)")
        if target != DROP:
            category = category_named(target)
            if category is None:
                raise DataError(
                    f"--map {pair!r}: {target!r} is not a category; use one of "
                    f"{', '.join(CATEGORIES)} (or - to drop)"
                )
            target = category
        if mapping.get(source, target) != target:
            raise DataError(f"--map: {source!r} is mapped twice, to {mapping[source]!r} and {target!r}")
        mapping[source] = target
    return mapping


def read_tickets(
    path: str | Path,
    columns: Columns = Columns(),
    mapping: Mapping[str, str] | None = None,
    fmt: str | None = None,
) -> list[LabelledTicket]:
    """All labelled tickets in a `.jsonl` or `.csv` file (or `fmt` "jsonl"/"csv")."""
    path = Path(path)
    fmt = fmt or _format_of(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark from spreadsheet exports is fine
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    records = _jsonl_records(path, text) if fmt == "jsonl" else _csv_records(path, text, columns)
    return label_records(records, columns, mapping or {}, where=str(path))


def label_records(
    records: Iterable[tuple[int, Mapping[str, object]]],
    columns: Columns,
    mapping: Mapping[str, str],
    where: str,
) -> list[LabelledTicket]:
    """(line number, record) pairs -> tickets; unmapped labels are reported all at once."""
    tickets: list[LabelledTicket] = []
    unknown: dict[str, list[int]] = {}
    for line, record in records:
        label = _text(record.get(columns.label))
        if not label:
            raise DataError(f"{where}, line {line}: no label in {columns.label!r}")
        category = mapping.get(label) or category_named(label)
        if category is None:
            unknown.setdefault(label, []).append(line)
            continue
        if category == DROP:
            continue
        texts = [_text(record.get(name)) for name in columns.text]
        if not columns.first_is_subject:
            texts = [""] + texts
        subject, body = texts[0], "\n\n".join(t for t in texts[1:] if t)
        if not (subject or body):
            raise DataError(f"{where}, line {line}: no text in {', '.join(columns.text)}")
        tickets.append(
            LabelledTicket(
                subject=subject,
                body=body,
                category=category,
                priority=_priority(record.get("priority"), where, line),
                language=_text(record.get("language")).lower() or None,
                sentiment=_sentiment(record.get("sentiment"), where, line),
                frustrated=_frustrated(record, where, line),
                intents=_intents(record.get("intents"), where, line),
            )
        )
    if unknown:
        listed = "; ".join(
            f"{label!r} ({len(lines)}x, first on line {lines[0]})" for label, lines in sorted(unknown.items())
        )
        raise DataError(
            f"{where}: labels that are not categories: {listed}. Map each one with "
            f'--map "LABEL=Category" (categories: {", ".join(CATEGORIES)}) or drop it with --map "LABEL=-"'
        )
    if not tickets:
        raise DataError(f"{where}: no labelled tickets")
    return tickets


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise DataError(f"{path}: unknown format; name it .jsonl or .csv (or pass --format)")


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, object]]]:
    # split("\n"), not splitlines(): U+2028 and friends may stand unescaped inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}, line {number}: expected a JSON object")
        yield number, record


def _csv_records(path: Path, text: str, columns: Columns) -> Iterator[tuple[int, Mapping[str, object]]]:
    csv.field_size_limit(_MAX_CSV_FIELD)
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    header = reader.fieldnames or []
    missing = [name for name in (*columns.text, columns.label) if name not in header]
    if missing:
        raise DataError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; the header has "
            f"{', '.join(header) or 'nothing'}. Choose columns with --text-cols and --label-col"
        )
    try:
        for record in reader:
            # reader.line_num is the physical line where this record ended (bodies span lines).
            yield reader.line_num, record
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return ""
    return str(value).strip()


def _priority(value: object, where: str, line: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in PRIORITY_BY_NAME:
        return PRIORITY_BY_NAME[value.strip().lower()]
    try:
        number = float(str(value).strip())  # "3.0": spreadsheets and pandas write whole numbers so
    except ValueError:
        number = 0.0
    if number not in (1.0, 2.0, 3.0, 4.0, 5.0):
        raise DataError(f"{where}, line {line}: priority must be 1-5 or urgent/high/normal/low, got {value!r}")
    return int(number)


def _sentiment(value: object, where: str, line: int) -> str | None:
    label = _text(value).lower()
    if not label:
        return None
    if label not in SENTIMENTS:
        raise DataError(f"{where}, line {line}: sentiment must be one of {', '.join(SENTIMENTS)}")
    return label


def _flag(value: object, where: str, line: int) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DataError(f"{where}, line {line}: frustrated must be true or false, got {value!r}")


def _intents(value: object, where: str, line: int) -> frozenset[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # a CSV cell: "refund;churn"
        value = [v for v in value.replace(",", ";").split(";") if v.strip()]
    if not isinstance(value, list):
        raise DataError(f"{where}, line {line}: intents must be a list, got {value!r}")
    names = [str(v).strip().lower() for v in value]
    unknown = sorted(set(names) - set(INTENTS))
    if unknown:
        raise DataError(
            f"{where}, line {line}: unknown intent(s) {', '.join(unknown)}; use {', '.join(INTENTS)}"
        )
    return frozenset(names)


def _frustrated(record: Mapping[str, object], where: str, line: int) -> bool | None:
    """The `frustrated` flag, or what the ticket's `intents` say about it."""
    flag = _flag(record.get("frustrated"), where, line)
    if flag is None:
        intents = _intents(record.get("intents"), where, line)
        if intents is not None:
            return "frustrated" in intents
    return flag


def parse_text_cols(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise DataError("--text-cols needs at least one column name")
    return names


def class_counts(tickets: Sequence[LabelledTicket]) -> dict[str, int]:
    counts = {c: 0 for c in CATEGORIES}
    for t in tickets:
        counts[t.category] += 1
    return {c: n for c, n in counts.items() if n}
