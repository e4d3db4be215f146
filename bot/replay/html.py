"""The replay report (`python -m bot replay`) as one self-contained HTML5 page.

Why one file with inline CSS and SVG and nothing else: the page is mailed around and opened
offline by the people who decide whether a category goes to `tag` or `draft`, so it cannot
depend on a CDN, a font server or a script. Every value from the report is escaped, because
ticket subjects are customers' words (they may hold markup), and only http(s) URLs become links
(a `javascript:` URL from a helpdesk must not become clickable). The report comes from another
module and may be partial (an old version, an empty period): every key is treated as possibly
missing, and a missing figure is shown as "n/a" rather than failing the whole page. Pure.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

MAX_DISAGREEMENTS = 500  # rows shown; the JSON next to the page has them all
BAR_WIDTH = 400  # px of a 100 % bar
FIELD_ORDER = ("category", "group", "priority", "escalated", "refund")
MODES = ("draft", "tag", "shadow")
_LABEL_WIDTH = 170
_ROW = 28

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;margin:2rem auto;
max-width:75rem;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9dce6}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d9dce6;padding:.25rem .5rem;text-align:left}
th{background:#f3f4f8}td.num{text-align:right}table.meta td,table.meta th{border:none;background:none}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:.7rem;font-size:.85rem;font-weight:600}
.badge-draft{background:#d5f2dc;color:#135a23}.badge-tag{background:#fff0c2;color:#6a4c00}
.badge-shadow{background:#e4e6ee;color:#3a4158}
td.diag{outline:2px solid #1f6f36;outline-offset:-2px;font-weight:700}
.note{color:#5b6275}.empty{font-weight:600}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page for `report` (the dict `compare.build_report` makes, possibly partial)."""
    report = _dict(report)
    tickets = _int(report.get("tickets"))
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Replay report</title><style>", _STYLE, "</style></head><body>",
        "<h1>Replay report</h1>", _header(report, tickets),
    ]
    if not tickets:
        parts.append('<p class="empty">No tickets in this period.</p>')
    categories = [c for c in _list(report.get("by_category")) if isinstance(c, dict)]
    parts += [
        "<h2>Agreement with agents, per field</h2>", _field_chart(_dict(report.get("fields"))),
        "<h2>Per category (the agents' category)</h2>", _category_chart(categories), _category_table(categories),
        "<h2>Confusion matrix: agents' category (rows), the bot's (columns)</h2>",
        _confusion(_dict(report.get("confusion"))),
        "<h2>Recommendation</h2>", _recommendation(_dict(report.get("recommendation"))),
        "<h2>Cost</h2>", _cost(_dict(report.get("cost"))),
        "<h2>Disagreements</h2>", _disagreements(_list(report.get("disagreements"))),
        "</body></html>\n",
    ]
    return "".join(parts)


def _header(report: dict, tickets: int) -> str:
    rows = [
        ("Source", _text(report.get("source"))),
        ("Period", f"{_text(report.get('since'), 'the start')} to {_text(report.get('until'), 'now')}"),
        ("Generated", _text(report.get("generated_at"))),
        ("Policy version", _text(report.get("policy_version"))),
        ("Engine", _text(report.get("engine"))),
        ("Tickets", f"{tickets} replayed, {_int(report.get('skipped'))} skipped"),
    ]
    why = _dict(report.get("skipped_why"))
    if why:
        rows.append(("Skipped because", "; ".join(f"{_text(n)} {_text(reason)}" for reason, n in why.items())))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _field_chart(fields: dict) -> str:
    names = [f for f in FIELD_ORDER if f in fields] + [f for f in fields if f not in FIELD_ORDER]
    rows = []
    for name in names:
        value = _dict(fields[name])
        text = _agreement_text(value)
        if "precision" in value or "recall" in value:
            text += f"; precision {_pct(value.get('precision'))}, recall {_pct(value.get('recall'))}"
        rows.append((str(name), _number(value.get("rate")), text))
    if not rows:
        return '<p class="note">Nothing to compare.</p>'
    return _bars("Agreement with agents per field", rows)


def _category_chart(categories: list[dict]) -> str:
    rows = []
    for c in categories:
        value = _dict(_dict(c.get("fields")).get("category"))
        text = f"{_agreement_text(value)} of {_int(c.get('tickets'))} tickets"
        rows.append((_text(c.get("category")), _number(value.get("rate")), text))
    if not rows:
        return '<p class="note">No ticket with an agents\' category.</p>'
    return _bars("Category agreement per category", rows)


def _category_table(categories: list[dict]) -> str:
    if not categories:
        return ""
    head = ("<tr><th>Category</th><th>Tickets</th><th>Category agreement</th><th>Group agreement</th>"
            "<th>Priority agreement</th><th>Escalation agreement</th><th>Recommendation</th><th>Why</th></tr>")
    rows = []
    for c in categories:
        fields = _dict(c.get("fields"))
        cells = "".join(f'<td class="num">{_pct(_dict(fields.get(f)).get("rate"))}</td>'
                        for f in ("category", "group", "priority", "escalated"))
        rows.append(f"<tr><td>{_e(_text(c.get('category')))}</td><td class=\"num\">{_int(c.get('tickets'))}</td>"
                    f"{cells}<td>{_badge(c.get('recommendation'))}</td><td>{_e(_text(c.get('why'), ''))}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _confusion(confusion: dict) -> str:
    labels = [_text(label) for label in _list(confusion.get("labels"))]
    matrix = [[_int(n) for n in _list(row)] for row in _list(confusion.get("matrix"))]
    if not labels:
        return '<p class="note">No ticket with an agents\' category.</p>'
    top = max((n for row in matrix for n in row), default=0) or 1
    head = ('<tr><th scope="col">agents \\ bot</th>'
            + "".join(f'<th scope="col">{_e(label)}</th>' for label in labels) + "</tr>")
    rows = []
    for i, label in enumerate(labels):
        row = matrix[i] if i < len(matrix) else []
        cells = []
        for j in range(len(labels)):
            n = row[j] if j < len(row) else 0
            shade = round(0.8 * n / top, 3)
            colour = f"rgba(31,111,54,{shade})" if i == j else f"rgba(184,67,58,{shade})"
            css = "num diag" if i == j else "num"
            cells.append(f'<td class="{css}" style="background:{colour}" '
                         f'title="{_e(label)} / {_e(labels[j])}: {n}">{n}</td>')
        rows.append(f'<tr><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>')
    return f'<table class="confusion">{head}{"".join(rows)}</table>'


def _recommendation(recommendation: dict) -> str:
    words = {"draft": "ready for draft", "tag": "ready for tag", "shadow": "stay in shadow"}
    items = []
    for mode in MODES:
        names = [_text(n) for n in _list(recommendation.get(mode))]
        shown = ", ".join(names) if names else "none"
        items.append(f'<li data-mode="{mode}">{_badge(mode, words[mode])} {_e(shown)}</li>')
    t = _dict(recommendation.get("thresholds"))
    note = ""
    if t:
        note = (f'<p class="note">Thresholds: draft at {_pct(t.get("draft"))} agreement, tag at '
                f'{_pct(t.get("tag"))}, at least {_e(_text(t.get("min_tickets")))} tickets per category, '
                f'escalation recall at least {_pct(t.get("escalation_recall"))}.</p>')
    return f'<ul class="recommendation">{"".join(items)}</ul>{note}'


def _cost(cost: dict) -> str:
    usd, per_ticket = _number(cost.get("usd")), _number(cost.get("per_ticket_usd"))
    if cost.get("priced") is False or usd is None:
        money = "not priced"
    else:
        money = f"${usd:.4f} in total" + (f", ${per_ticket:.5f} per ticket" if per_ticket is not None else "")
    tokens = f"{_int(cost.get('prompt_tokens'))} prompt and {_int(cost.get('completion_tokens'))} completion tokens"
    return f'<p class="cost">{_e(money)}; {_e(tokens)}.</p>'


def _disagreements(rows: list) -> str:
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return '<p class="note">None.</p>'
    head = ("<tr><th>Ticket</th><th>Subject</th><th>Field</th><th>The agent did</th>"
            "<th>The bot would have done</th><th>Category</th></tr>")
    body = []
    for row in rows[:MAX_DISAGREEMENTS]:
        ticket, url = _e(_text(row.get("ticket_id"))), _web_url(row.get("url"))
        link = f'<a href="{_e(url)}">{ticket}</a>' if url else ticket
        cells = "".join(f"<td>{_e(_text(row.get(k), ''))}</td>"
                        for k in ("subject", "field", "agent", "bot", "category"))
        body.append(f"<tr><td>{link}</td>{cells}</tr>")
    more = len(rows) - MAX_DISAGREEMENTS
    note = (f'<p class="note">Showing the first {MAX_DISAGREEMENTS} of {len(rows)}: {more} left out '
            "(all are in the JSON report).</p>") if more > 0 else ""
    return f"<table>{head}{''.join(body)}</table>{note}"


def _bars(title: str, rows: list[tuple[str, float | None, str]]) -> str:
    """A horizontal bar chart: one (label, rate 0..1 or None, text after the bar) per row."""
    height = _ROW * len(rows) + 8
    width = _LABEL_WIDTH + BAR_WIDTH + 430
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{_e(title)}</title>']
    for i, (label, rate, text) in enumerate(rows):
        y = 4 + _ROW * i
        out.append(f'<g aria-label="{_e(label)}: {_e(text)}"><text x="0" y="{y + 15}" font-size="13">{_e(label)}</text>'
                   f'<rect class="track" x="{_LABEL_WIDTH}" y="{y}" width="{BAR_WIDTH}" height="20" fill="#eef0f5"/>')
        if rate is not None:
            clamped = min(1.0, max(0.0, rate))
            out.append(f'<rect class="bar" data-label="{_e(label)}" x="{_LABEL_WIDTH}" y="{y}" '
                       f'width="{round(BAR_WIDTH * clamped, 2)}" height="20" fill="{_colour(clamped)}"/>')
        out.append(f'<text x="{_LABEL_WIDTH + BAR_WIDTH + 10}" y="{y + 15}" font-size="13">{_e(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _agreement_text(value: dict) -> str:
    rate = _number(value.get("rate"))
    if rate is None:
        return "n/a (nothing to compare)"
    return f"{_pct(rate)} ({_int(value.get('agreed'))}/{_int(value.get('compared'))})"


def _badge(mode: object, words: str | None = None) -> str:
    known = mode if mode in MODES else "shadow"
    return f'<span class="badge badge-{known}" data-mode="{known}">{_e(words or known)}</span>'


def _colour(rate: float) -> str:
    return "#2b7a3d" if rate >= 0.9 else "#c99a06" if rate >= 0.8 else "#b8433a"


def _web_url(url: object) -> str | None:
    """The URL when it is http(s), else None: a `javascript:` or `data:` link must not be clickable."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) else None


def _pct(value: object) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number * 100:.1f} %"


def _number(value: object) -> float | None:
    """A finite number, or None (JSON null, a string, a bool, NaN are not figures)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: object) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _text(value: object, missing: str = "n/a") -> str:
    return missing if value is None or value == "" else str(value)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _e(value: object) -> str:
    return escape(str(value), quote=True)
