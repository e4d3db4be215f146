"""What the customer wrote for this message, without the earlier mail they replied to. Pure.

An e-mail reply carries the thread below it: a header line ("On Mon, 3 Jun 2024, Support
wrote:", "Am 3. Juni schrieb ...", "Le ... a écrit :", Outlook's "From: ... Sent: ...") and
lines quoted with ">". A thank-you whose quoted thread mentions a refund, a hacked account or a
lawyer is not a new refund request: the keyword lists, the model and the quotes in the note
read the new text only.
"""

from __future__ import annotations

import re

QUOTED_LINE = re.compile(r"^\s*>")
# A line that starts the quoted or forwarded part of a reply: everything from it on goes.
REPLY_HEADER = re.compile(
    r"^\s*(?:"
    r"on\b.{0,200}\bwrote:?\s*$"  # On Mon, 3 Jun 2024, Ann <a@b.c> wrote:
    r"|am\b.{0,200}\bschrieb.{0,40}$"  # Am 3. Juni 2024 schrieb Ann:
    r"|le\b.{0,200}\ba écrit\s*:?\s*$"  # Le 3 juin 2024, Ann a écrit :
    r"|el\b.{0,200}\bescribió\s*:?\s*$"  # El lun., 3 jun 2024, Ana escribió:
    r"|em\b.{0,200}\bescreveu\s*:?\s*$"  # Em seg., 3 de jun., Ana escreveu:
    r"|il giorno\b.{0,200}\bha scritto\s*:?\s*$"  # Il giorno lun 3 giu, Anna ha scritto:
    r"|op\b.{0,200}\bschreef.{0,40}$"  # Op ma 3 jun 2024 schreef Anne:
    r"|-{2,}\s*(?:original message|forwarded message|ursprüngliche nachricht|message d'origine"
    r"|mensaje original|mensagem original|messaggio originale|oorspronkelijk bericht)"
    r"|_{8,}\s*$"  # Outlook's rule above the quoted mail
    r"|from:\s.*[@<].*$"  # Outlook: From: / Sent: / To: block
    r"|(?:von|de|da|van):\s.+@.+$"
    r")",
    re.IGNORECASE,
)


def new_text(body: str) -> str:
    """`body` up to the first reply header, without ">"-quoted lines. A body that is nothing but
    quoted text (a forward with no words of its own) is returned whole: something must be read."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if REPLY_HEADER.match(line):
            break
        if not QUOTED_LINE.match(line):
            kept.append(line)
    text = "\n".join(kept).strip()
    return text if text else body
