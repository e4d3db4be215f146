"""Article bodies (HTML from Guide and Intercom, Markdown from imports) to clean text. Pure.

Clean text keeps what retrieval and drafting need: words, headings and list items as their own
paragraphs, table rows as lines. Scripts, styles, images and markup go; entities are decoded.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

_BLOCK = {
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "thead", "tfoot", "tr", "ul",
}
_SKIP = {"script", "style", "template", "noscript", "head", "svg", "iframe", "object"}
_CELL = {"td", "th"}
_SPACES = re.compile(r"[ \t\f\v\r\u00a0]+")
# GitHub-style admonition markers ("> [!NOTE]") are layout, not content.
_ADMONITION = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*", re.IGNORECASE)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skipping = 0
        self.pre = 0

    def _flush(self) -> None:
        text = "".join(self.current)
        self.current = []
        if self.pre:
            lines = [line.rstrip() for line in text.split("\n")]
        else:
            lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        lines = [_ADMONITION.sub("", line) for line in lines]
        text = "\n".join(line for line in lines if line.strip())
        if text.strip() and text.strip() != "-":  # "-": a list item with nothing in it
            self.blocks.append(text.strip("\n"))

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.current.append("\n")
        elif tag in _CELL:
            if self.current and "".join(self.current).strip():
                self.current.append(" | ")
        elif tag in _BLOCK:
            if "".join(self.current).strip() == "-":
                # A list item whose content is a paragraph: keep its bullet on that paragraph.
                if tag == "pre":
                    self.pre += 1
                return
            self._flush()
            if tag == "li":
                self.current.append("- ")
            if tag == "pre":
                self.pre += 1

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.current.append("\n")
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        self.current.append(data if self.pre else data.replace("\n", " "))

    def text(self) -> str:
        self._flush()
        return "\n\n".join(self.blocks)


def html_to_text(html: str) -> str:
    """HTML to clean text: one paragraph per block, separated by blank lines."""
    if not html:
        return ""
    parser = _TextCollector()
    parser.feed(html)
    parser.close()
    return parser.text()  # entities are decoded by the parser (convert_charrefs)


_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
# Heading ids in the kramdown/Pandoc style, `## Europe {#eu-tax}`: anchors, not words.
_HEADING_ID = re.compile(r"^(#{1,6}\s.*?)\s*\{#[\w:.-]+\}\s*$", re.MULTILINE)


def markdown_to_text(markdown: str) -> str:
    """Markdown (CommonMark with tables, inline HTML allowed) to clean text."""
    if not markdown:
        return ""
    return html_to_text(_MARKDOWN.render(_HEADING_ID.sub(r"\1", markdown)))


def plain_to_text(text: str) -> str:
    """Already plain text: normalise spaces and paragraph breaks only."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    cleaned = ["\n".join(_SPACES.sub(" ", line).strip() for line in p.split("\n") if line.strip()) for p in paragraphs]
    return "\n\n".join(p for p in cleaned if p)
