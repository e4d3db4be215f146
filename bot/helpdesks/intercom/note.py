"""The bot's plain-text note (`bot.notes`) as the HTML an Intercom note takes. Pure.

Intercom renders a note's `body` as HTML: "Notes accept some HTML formatting" (the
`admin_reply_conversation_request` of API 2.14), "such as bold, italics, and lists"
(https://developers.intercom.com/docs/references/1.2/rest-api/conversations/replying-to-a-conversation/).
So the note keeps to `<p>`, `<br>`, `<b>`, `<ul><li>`, `<a href>` and `<blockquote>`:

- every piece of text is HTML-escaped: the customer's words reach the note (quoted in the draft,
  the model's reasoning), and `<script>` must stay text;
- the first line (the heading) and each "Key:" at a line's start are bold;
- indented "  - reason" and "  [1] source" lines are list items; in a source item (and nowhere
  else: other lines may quote the customer) an http(s) URL is a link;
- the draft, between `DRAFT_START` and `DRAFT_END` (both kept, in bold: if Intercom drops the
  `<blockquote>`, the markers still show where the draft begins and ends), is a block quote,
  its lines kept as written.
"""

from __future__ import annotations

import re
from html import escape

from bot.notes import DRAFT_END, DRAFT_START

# "Category:", "Escalated, because:", "Model's reasoning:": a short capitalised label.
_KEY = re.compile(r"([A-Z][A-Za-z' ,()-]{0,60}?:)(?=\s|$)")
# "  - a reason" (group 1), "  [2] Title (Section) https://... [cited]" (group 2).
_ITEM = re.compile(r"\s+(?:- (.*)|(\[\d+\] .*))")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?)]}'\""


def note_html(text: str) -> str:
    """The note as HTML: blocks in order, nothing but the tags listed in the module's doc."""
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()
        if items:
            html.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    heading = True
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if line.strip() == DRAFT_START:
            flush()
            end = next((k for k in range(i, len(lines)) if lines[k].strip() == DRAFT_END), len(lines))
            html.append(_draft(lines[i:end], closed=end < len(lines)))
            i = end + 1
            continue
        if not line.strip():
            flush()
            continue
        item = _ITEM.fullmatch(line)
        if item and not heading:
            if paragraph:  # a list interrupts a paragraph: "Escalated, because:" then its reasons
                html.append("<p>" + "<br>".join(paragraph) + "</p>")
                paragraph.clear()
            items.append(escape(item.group(1)) if item.group(1) is not None else _linked(item.group(2)))
            continue
        if items:
            flush()
        if heading:
            paragraph.append(f"<b>{escape(line.strip())}</b>")
            heading = False
        else:
            paragraph.append(_keyed(line.strip()))
    flush()
    return "".join(html)


def _draft(lines: list[str], closed: bool) -> str:
    """The draft's lines as a block quote: paragraphs at blank lines, line breaks kept."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(escape(line.rstrip()))
        elif paragraphs[-1]:
            paragraphs.append([])
    body = "".join("<p>" + "<br>".join(p) + "</p>" for p in paragraphs if p)
    out = f"<p><b>{escape(DRAFT_START)}</b></p><blockquote>{body}</blockquote>"
    return out + (f"<p><b>{escape(DRAFT_END)}</b></p>" if closed else "")


def _keyed(line: str) -> str:
    """A line with its leading "Key:" in bold, the rest escaped."""
    match = _KEY.match(line)
    if match is None:
        return escape(line)
    return f"<b>{escape(match.group(1))}</b>{escape(line[match.end():])}"


def _linked(text: str) -> str:
    """Escaped text whose http(s) URLs are links (a trailing bracket or stop is not the URL's)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAIL)
        if len(url) <= len("https://"):
            continue
        out.append(escape(text[last:match.start()]))
        out.append(f'<a href="{escape(url, quote=True)}">{escape(url)}</a>')
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return "".join(out)
