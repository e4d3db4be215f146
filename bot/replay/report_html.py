"""The replay report as one self-contained HTML page: inline CSS and SVG charts, no script, no
external file, so it opens offline and can be mailed. Every value from the report is escaped
(ticket subjects are customers' words); only http(s) URLs become links. Pure."""

from __future__ import annotations

from html import escape
from typing import Any

MAX_ROWS = 500  # disagreements shown; the JSON has them all
BAR_WIDTH = 360
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem;text-align:left}
th{background:#f4f5f9}.num{text-align:right}.meta td{border:none;padding:.1rem .8rem .1rem 0}
.badge{padding:.1rem .5rem;border-radius:.6rem;font-weight:600;font-size:.85rem}
.draft{background:#d7f5dd;color:#145a24}.tag{background:#fff1c7;color:#6b4e00}.shadow{background:#e6e8ef;color:#394056}
.diag{outline:2px solid #2b7a3d}.note{color:#5b6275}
"""


def render_html(report: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Replay report</title><style>", _STYLE, "</style></head><body>",
        "<h1>Replay report</h1>", _header(report),
    ]
    if not report.get("tickets"):
        parts.append("<p><strong>No tickets in this period.</strong></p>")
    parts += [
        "<h2>Agreement with agents, per field</h2>", _field_chart(report.get("fields") or {}),
        "<h2>Per category (agents' category)</h2>", _category_chart(report.get("by_category") or []),
        _category_table(report.get("by_category") or []),
        "<h2>Categories: agents (rows) and the bot (columns)</h2>", _confusion(report.get("confusion") or {}),
        "<h2>Recommendation</h2>", _recommendation(report.get("recommendation") or {}),
        "<h2>LLM cost</h2>", _cost(report.get("cost") or {}, report.get("tickets") or 0),
        "<h2>Disagreements</h2>", _disagreements(report.get("disagreements") or []),
        "</body></html>",
    ]
    return "".join(parts)


def _header(report: dict) -> str:
    period = f"{report.get('since') or '…'} to {report.get('until') or 'now'}"
    rows = [("Source", report.get("source")), ("Period", period),
            ("Generated", report.get("generated_at")), ("Policy", report.get("policy_version")),
            ("Engine", report.get("engine")),
            ("Tickets", f"{report.get('tickets') or 0} replayed, {report.get('skipped') or 0} skipped")]
    why = report.get("skipped_why") or {}
    if why:
        rows.append(("Skipped", "; ".join(f"{n} {reason}" for reason, n in why.items())))
    return "<table class='meta'>" + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _bars(title: str, rows: list[tuple[str, float | None, str]]) -> str:
    """A horizontal bar per row: (label, rate 0..1 or None, text after the bar)."""
    height = 26 * len(rows) + 10
    out = [f"<svg role='img' aria-label='{_e(title)}' width='{BAR_WIDTH + 420}' height='{height}' "
           f"xmlns='http://www.w3.org/2000/svg'><title>{_e(title)}</title>"]
    for i, (label, rate, text) in enumerate(rows):
        y = 8 + 26 * i
        out.append(f"<text x='0' y='{y + 14}' font-size='13'>{_e(label)}</text>")
        out.append(f"<rect x='150' y='{y}' width='{BAR_WIDTH}' height='18' fill='#eef0f5'/>")
        if rate is not None:
            width = round(BAR_WIDTH * max(0.0, min(1.0, rate)), 1)
            out.append(f"<rect class='bar' data-rate='{rate}' x='150' y='{y}' width='{width}' height='18' "
                       f"fill='{_colour(rate)}'/>")
        out.append(f"<text x='{160 + BAR_WIDTH}' y='{y + 14}' font-size='13'>{_e(text)}</text>")
    out.append("</svg>")
    return "".join(out)


def _field_chart(fields: dict) -> str:
    order = [f for f in ("category", "group", "priority", "escalated", "refund") if f in fields]
    rows = []
    for name in order:
        value = fields[name]
        rate = value.get("rate")
        text = "n/a (nothing to compare)" if rate is None else f"{_pct(rate)} ({value['agreed']}/{value['compared']})"
        if "recall" in value:
            text += f"; precision {_pct(value.get('precision'))}, recall {_pct(value.get('recall'))}"
        rows.append((name, rate, text))
    return _bars("agreement per field", rows) if rows else "<p>Nothing to compare.</p>"


def _category_chart(categories: list) -> str:
    rows = [(c["category"], c["fields"]["category"]["rate"], f"{_pct(c['fields']['category']['rate'])} of "
             f"{c['tickets']} tickets") for c in categories]
    return _bars("category agreement per category", rows) if rows else "<p>No ticket has an agents' category.</p>"


def _category_table(categories: list) -> str:
    if not categories:
        return ""
    head = "<tr><th>Category</th><th>Tickets</th><th>Category</th><th>Group</th><th>Priority</th>" \
           "<th>Escalation</th><th>Ready for</th><th>Why</th></tr>"
    rows = []
    for c in categories:
        f = c["fields"]
        cells = "".join(f"<td class='num'>{_pct(f.get(name, {}).get('rate'))}</td>"
                        for name in ("category", "group", "priority", "escalated"))
        mode = c.get("recommendation", "shadow")
        rows.append(f"<tr><td>{_e(c['category'])}</td><td class='num'>{c['tickets']}</td>{cells}"
                    f"<td><span class='badge {_e(mode)}'>{_e(mode)}</span></td><td>{_e(c.get('why'))}</td></tr>")
    return "<table>" + head + "".join(rows) + "</table>"


def _confusion(confusion: dict) -> str:
    labels, matrix = confusion.get("labels") or [], confusion.get("matrix") or []
    if not labels:
        return "<p>No ticket has an agents' category.</p>"
    top = max((n for row in matrix for n in row), default=0) or 1
    head = "<tr><th>agents \\ bot</th>" + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"
    rows = []
    for i, (label, row) in enumerate(zip(labels, matrix, strict=False)):
        cells = []
        for j, n in enumerate(row):
            css = "diag num" if i == j else "num"
            cells.append(f"<td class='{css}' style='background:rgba(43,122,61,{round(0.85 * n / top, 2)})'>{n}</td>")
        rows.append(f"<tr><th>{_e(label)}</th>{''.join(cells)}</tr>")
    return "<table>" + head + "".join(rows) + "</table>"


def _recommendation(recommendation: dict) -> str:
    items = []
    for mode, words in (("draft", "ready for draft"), ("tag", "ready for tag"), ("shadow", "stay in shadow")):
        names = recommendation.get(mode) or []
        items.append(f"<li><span class='badge {mode}'>{words}</span> {_e(', '.join(names) or 'none')}</li>")
    t = recommendation.get("thresholds") or {}
    note = (f"<p class='note'>draft: category and group agreement ≥ {_pct(t.get('draft'))}; tag: ≥ "
            f"{_pct(t.get('tag'))}; at least {_e(t.get('min_tickets'))} tickets, and escalation recall ≥ "
            f"{_pct(t.get('escalation_recall'))}. Drafts themselves are not compared.</p>") if t else ""
    return "<ul>" + "".join(items) + "</ul>" + note


def _cost(cost: dict, tickets: int) -> str:
    if not cost.get("priced") or cost.get("usd") is None:
        usd = "not priced (the local engine, or a model without a price in LLM_PRICES_FILE)"
    else:
        usd = f"${cost['usd']:.4f} for {tickets} tickets (${cost.get('per_ticket_usd') or 0:.5f} per ticket)"
    return (f"<p>{_e(usd)}; {cost.get('prompt_tokens', 0)} prompt and {cost.get('completion_tokens', 0)} "
            "completion tokens.</p>")


def _disagreements(rows: list) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "<tr><th>Ticket</th><th>Subject</th><th>Field</th><th>Agents</th><th>The bot</th><th>Category</th></tr>"
    body = []
    for row in rows[:MAX_ROWS]:
        url, ticket = str(row.get("url") or ""), _e(row.get("ticket_id"))
        link = f"<a href='{_e(url)}'>{ticket}</a>" if url.startswith(("https://", "http://")) else ticket
        body.append(f"<tr><td>{link}</td><td>{_e(row.get('subject'))}</td><td>{_e(row.get('field'))}</td>"
                    f"<td>{_e(row.get('agent'))}</td><td>{_e(row.get('bot'))}</td><td>{_e(row.get('category'))}</td></tr>")
    more = f"<p class='note'>{len(rows) - MAX_ROWS} more in replay.json.</p>" if len(rows) > MAX_ROWS else ""
    return "<table>" + head + "".join(body) + "</table>" + more


def _colour(rate: float) -> str:
    return "#2b7a3d" if rate >= 0.9 else "#c99a06" if rate >= 0.8 else "#b8433a"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)
