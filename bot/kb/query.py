"""The retrieval query made from a ticket: what the customer asks, without the mail around it. Pure.

A ticket's subject is the customer's own summary; the body's opening says what the problem is.
What follows is mostly noise for retrieval: signatures, "Sent from my phone", the quoted
earlier mail under "On Monday ... wrote:", forwarded headers, and HTML markup when the helpdesk
sends the body as HTML. `ticket_query` keeps the subject (twice) and the body's first
`QUERY_WORDS` words up to the first of those.
"""

from __future__ import annotations

import re

from bot.kb.text import html_to_text
from bot.reply_text import QUOTED_LINE, REPLY_HEADER

QUERY_WORDS = 250  # a ticket's opening says what it is about; logs and detail follow

_HTML = re.compile(r"<(?:p|div|br|span|html|body|table|ul|ol|li|a|b|strong|em|i|font|h[1-6])\b[^>]*>", re.I)
# A line that starts a signature or a sign-off: it and what follows go.
_SIGNATURE = re.compile(
    r"^\s*(?:"
    r"--\s*$|—\s*$|__\s*$"
    r"|sent from my\b.*|get outlook for\b.*|gesendet von\b.*|envoyé de mon\b.*"
    r"|(?:best|kind|warm|many)?\s*(?:regards|wishes)\b.{0,30}"
    r"|(?:many\s+|thanks?\s+)?thanks?(?:\s+(?:a lot|in advance|so much|again|you))*[\s!.,]*"
    r"|thank you(?:\s+(?:in advance|so much|very much|again))?[\s!.,]*"
    r"|cheers[\s!.,]*|best[\s!.,]*|sincerely\b.{0,20}|yours\b.{0,20}"
    r"|(?:thanks|thank you|cheers|danke|merci|gracias|grazie|obrigad[oa]|bedankt)\s*[,!.]\s*\S+(?:\s\S+){0,2}"
    r"|(?:mit )?freundlichen grüßen.*|viele grüße.*|grüße.*|cordialement.*|saludos.*|un saludo.*"
    r")$",
    re.IGNORECASE,
)
# An opening line that is a greeting and nothing else ("Hi team,", "Hello Arduino support").
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|bonjour|hola|buongiorno)"
    r"\b[^.!?\n]{0,40}[,!:]?\s*$",
    re.IGNORECASE,
)


def clean_body(body: str) -> str:
    """The part of a ticket body its writer wrote for this ticket, as plain lines."""
    if _HTML.search(body):
        body = html_to_text(body)
    kept: list[str] = []
    for number, line in enumerate(body.replace("\r\n", "\n").split("\n")):
        if REPLY_HEADER.match(line):
            break
        if _SIGNATURE.match(line) and kept:
            break
        if QUOTED_LINE.match(line):
            continue
        if not kept and (not line.strip() or _GREETING.match(line)) and number < 3:
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def ticket_query(subject: str, body: str, extra: str = "", words: int = QUERY_WORDS) -> str:
    """Subject (twice: the customer's own summary), the opening of the body, and `extra` words
    (the policy's category terms)."""
    opening = " ".join(clean_body(body).split()[:words])
    return "\n".join(part for part in (subject, subject, opening, extra) if part)
