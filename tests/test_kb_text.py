"""Article bodies to clean text: bot/kb/text.py (HTML, Markdown, plain).

Some inputs are real Arduino help-center articles (tests/fixtures/kb/arduino_sample.jsonl,
from github.com/arduino/help-center-content, CC BY-SA 4.0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.kb.text import html_to_text, markdown_to_text, plain_to_text

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "kb" / "arduino_sample.jsonl"


def arduino(article_id: str) -> str:
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] == article_id:
            return row["body_markdown"]
    raise KeyError(article_id)


# -- HTML ---------------------------------------------------------------------------------


@pytest.mark.parametrize("convert", [html_to_text, markdown_to_text, plain_to_text])
def test_empty_input_is_empty_text(convert):
    assert convert("") == ""


def test_named_and_numeric_entities_are_decoded():
    html = "<p>Fish &amp; chips &lt;3 caf&eacute; &#8364;5 &#x2014; ok</p>"
    assert html_to_text(html) == "Fish & chips <3 café €5 — ok"


def test_nbsp_and_runs_of_whitespace_become_one_space():
    assert html_to_text("<p>  Press\n   the&nbsp;&nbsp;reset\tbutton  </p>") == "Press the reset button"


def test_inline_markup_goes_but_its_words_stay():
    html = '<p>Open <a href="https://x">the <b>Serial</b> Monitor</a> and <em>wait</em>.</p>'
    assert html_to_text(html) == "Open the Serial Monitor and wait."


def test_each_block_is_its_own_paragraph():
    html = "<h2>Install</h2><p>Download the IDE.</p><div>Run it.</div>Trailing text"
    assert html_to_text(html) == "Install\n\nDownload the IDE.\n\nRun it.\n\nTrailing text"


def test_br_is_a_line_break_inside_the_paragraph():
    assert html_to_text("<p>one<br>two<br/>three</p>") == "one\ntwo\nthree"


def test_hr_separates_paragraphs():
    assert html_to_text("before<hr/>after") == "before\n\nafter"


def test_scripts_styles_and_head_are_dropped():
    html = (
        "<html><head><title>Page title</title><style>p { color: red }</style></head><body>"
        "<p>Keep me</p><script>var x = '<p>not text</p>';</script>"
        "<noscript>Enable JS</noscript><template><p>tpl</p></template>"
        "<svg><text>svg label</text></svg><p>And me</p></body></html>"
    )
    assert html_to_text(html) == "Keep me\n\nAnd me"


def test_images_leave_no_trace():
    assert html_to_text('<p>See <img src="a.png" alt="diagram"> below</p>') == "See below"


def test_list_items_are_bulleted_paragraphs():
    assert html_to_text("<ul><li>Red</li><li>Green</li></ul>") == "- Red\n\n- Green"


def test_list_item_with_paragraphs_keeps_bullet_on_first_and_nested_list_items_stay_items():
    html = (
        "<ul>\n<li>\n<p>First para</p>\n<p>Second para</p>\n</li>\n"
        "<li>Two<ul><li>Nested</li></ul></li></ul>"
    )
    assert html_to_text(html) == "- First para\n\nSecond para\n\n- Two\n\n- Nested"


def test_table_rows_are_lines_with_cells_separated_by_bars():
    html = (
        "<table><thead><tr><th>Board</th><th>Voltage</th></tr></thead>"
        "<tbody><tr><td>Uno</td><td>5 V</td></tr><tr><td>Nano 33</td><td>3.3 V</td></tr></tbody></table>"
    )
    assert html_to_text(html) == "Board | Voltage\n\nUno | 5 V\n\nNano 33 | 3.3 V"


def test_pre_keeps_indentation_and_inner_spaces():
    html = "<p>Run:</p><pre>void setup() {\n    Serial.begin(9600);\n}  </pre><p>Done   now</p>"
    assert html_to_text(html) == "Run:\n\nvoid setup() {\n    Serial.begin(9600);\n}\n\nDone now"


def test_spaces_outside_pre_are_collapsed_again_after_pre_ends():
    assert html_to_text("<pre>a   b</pre><p>c   d</p>") == "a   b\n\nc d"


def test_german_and_japanese_text_survive():
    html = "<p>Grüße aus München: „Port nicht gefunden“</p><p>ボードに書き込めません。</p>"
    assert html_to_text(html) == "Grüße aus München: „Port nicht gefunden“\n\nボードに書き込めません。"


def test_comments_doctype_and_iframe_fallback_are_dropped():
    html = "<!DOCTYPE html><!-- internal note --><p>a</p><iframe src=x>fallback</iframe><p>b</p>"
    assert html_to_text(html) == "a\n\nb"


def test_escaped_markup_is_text_not_markup():
    assert html_to_text("<p>Type &lt;script&gt; in the box</p>") == "Type <script> in the box"


def test_image_only_list_item_leaves_no_bullet():
    assert html_to_text('<ul><li><img src="step1.png"></li><li>Click Upload</li></ul>') == "- Click Upload"


def test_markup_only_html_is_empty():
    assert html_to_text("<div><p> </p><img src=x><script>x()</script></div>") == ""


# -- Markdown -----------------------------------------------------------------------------


def test_markdown_headings_lists_and_links_become_text():
    md = "# Title\n\nText &amp; more with a [link](https://example.com).\n\n* one\n* two"
    assert markdown_to_text(md) == "Title\n\nText & more with a link.\n\n- one\n\n- two"


@pytest.mark.parametrize("marker", ["[!NOTE]", "[!TIP]", "[!IMPORTANT]", "[!WARNING]", "[!caution]"])
def test_admonition_marker_is_stripped(marker):
    assert markdown_to_text(f"> {marker}\n> Do **not** unplug the board.") == "Do not unplug the board."


def test_plain_blockquote_and_unknown_bracket_text_are_kept():
    assert markdown_to_text("> Just a quote\n\n[!INFO] stays") == "Just a quote\n\n[!INFO] stays"


def test_fenced_code_keeps_indentation():
    md = "```cpp\nvoid loop() {\n  digitalWrite(13, HIGH);\n}\n```"
    assert markdown_to_text(md) == "void loop() {\n  digitalWrite(13, HIGH);\n}"


def test_markdown_table_rows_become_lines():
    md = "| Board | Price |\n|---|---:|\n| Uno | $27 |\n| Nano | $21 |"
    assert markdown_to_text(md) == "Board | Price\n\nUno | $27\n\nNano | $21"


def test_markdown_loose_nested_list():
    md = "1. Open the IDE.\n\n   Wait for it.\n\n   - nested a\n   - nested b\n2. Upload."
    assert markdown_to_text(md) == "- Open the IDE.\n\nWait for it.\n\n- nested a\n\n- nested b\n\n- Upload."


def test_inline_html_in_markdown_is_cleaned_and_scripts_dropped():
    md = "Text with <b>bold</b> html\n\n<script>alert(1)</script>\n\n![photo](board.png) caption"
    assert markdown_to_text(md) == "Text with bold html\n\ncaption"


def test_markdown_hard_break_is_a_line_break():
    assert markdown_to_text("Line one  \nline two") == "Line one\nline two"


def test_markdown_non_ascii():
    md = "## Größe\n\nÄrger mit dem Upload.\n\n日本語のテキスト"
    assert markdown_to_text(md) == "Größe\n\nÄrger mit dem Upload.\n\n日本語のテキスト"


def test_real_article_with_numbered_steps_and_note():
    text = markdown_to_text(arduino("360016070060"))
    assert text.split("\n\n") == [
        "- Sign into id.arduino.cc/security.",
        "- Find the Privacy Settings category.",
        "- Check or uncheck the different options to confirm or withdraw consent.",
        "Changes are saved immediately.",
        "See the Privacy Policy for more information about how we process your personal data "
        "when you use our services.",
    ]
    assert "[!NOTE]" not in text and "](" not in text and "_" not in text


def test_real_article_with_table_and_heading():
    text = markdown_to_text(arduino("360012001880"))
    paragraphs = text.split("\n\n")
    assert paragraphs[1:5] == [
        "Codes purchased | Price per code (USD)",
        "1–99 | $30",
        "100–249 | $28.50",
        "250+ | $27",
    ]
    assert paragraphs[-2:] == ["Further reading", "- Arduino Certification (main page)"]
    assert "|---" not in text and "---:" not in text


# -- plain text ---------------------------------------------------------------------------


def test_plain_text_normalises_spaces_and_paragraph_breaks():
    text = "  Hello   there \r\n\r\n\r\n Second\u00a0para\nline two  \n \n\n"
    assert plain_to_text(text) == "Hello there\n\nSecond para\nline two"


def test_plain_text_is_not_parsed_as_markup():
    assert plain_to_text("Use <b>tags</b> &amp; *stars*") == "Use <b>tags</b> &amp; *stars*"


def test_plain_text_whitespace_only_is_empty():
    assert plain_to_text(" \n\n \t \n") == ""


def test_markdown_heading_ids_are_anchors_not_words():
    assert markdown_to_text("## Europe and Africa {#eu-tax}\n\nText {#kept}") == "Europe and Africa\n\nText {#kept}"
