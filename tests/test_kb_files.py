"""Importing articles from a JSONL file or a folder of Markdown files: bot/kb/sources/files.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.kb.sources.files import ImportFileError, load_articles, load_jsonl, load_markdown_dir

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "kb" / "arduino_sample.jsonl"


def jsonl(tmp_path: Path, *rows, name="articles.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- JSONL --------------------------------------------------------------------------------


def test_bundled_arduino_sample_loads_with_clean_bodies():
    articles = load_jsonl(SAMPLE, "arduino")
    assert [a.article_id for a in articles] == ["360016070060", "360012001880", "4405107918738", "360016920600"]
    refund = articles[2]
    assert (refund.source, refund.locale, refund.section, refund.title) == (
        "arduino", "", "Certification", "Can I get a refund for the exam?"
    )
    assert refund.url == "https://support.arduino.cc/hc/en-us/articles/4405107918738"
    assert "[!NOTE]" not in articles[0].body and "Changes are saved immediately." in articles[0].body


def test_body_markdown_html_and_plain_are_each_converted(tmp_path):
    path = jsonl(
        tmp_path,
        {"id": "md", "title": "M", "body_markdown": "**Bold** [link](https://x)"},
        {"id": "html", "title": "H", "body_html": "<p>Fish &amp; chips</p><script>x()</script>"},
        {"id": "plain", "title": "P", "body": "  *not*   markdown  \n\n\n<b>kept</b>"},
    )
    assert [a.body for a in load_jsonl(path, "s")] == ["Bold link", "Fish & chips", "*not* markdown\n\n<b>kept</b>"]


def test_body_markdown_wins_over_the_other_bodies(tmp_path):
    path = jsonl(tmp_path, {"id": 1, "title": "T", "body_markdown": "from *md*",
                            "body_html": "<p>html</p>", "body": "plain"})
    assert load_jsonl(path, "s")[0].body == "from md"


def test_optional_fields_default_ids_become_text_and_title_whitespace_is_collapsed(tmp_path):
    path = jsonl(tmp_path, {"id": 42, "title": "  Reset \n the   board ", "body": "Press reset."})
    (a,) = load_jsonl(path, "imp")
    assert (a.source, a.article_id, a.title, a.locale, a.section, a.url) == ("imp", "42", "Reset the board", "", "", "")


def test_section_and_locale_are_read_and_locale_lowercased(tmp_path):
    path = jsonl(tmp_path, {"id": "1", "title": "Grüße", "body": "Hallo", "section": "Konto", "locale": "de-DE",
                            "url": "https://help/de/1"})
    (a,) = load_jsonl(path, "s")
    assert (a.locale, a.section, a.url, a.title) == ("de-de", "Konto", "https://help/de/1", "Grüße")


def test_same_id_in_two_locales_is_not_a_duplicate(tmp_path):
    path = jsonl(tmp_path, {"id": "1", "title": "A", "body": "x", "locale": "en"},
                 {"id": "1", "title": "B", "body": "y", "locale": "de"})
    assert [a.key for a in load_jsonl(path, "s")] == [("s", "1", "en"), ("s", "1", "de")]


def test_blank_lines_are_skipped_but_line_numbers_still_count(tmp_path):
    path = jsonl(tmp_path, {"id": "1", "title": "A", "body": "x"}, "", "   ", "{oops")
    with pytest.raises(ImportFileError) as err:
        load_jsonl(path, "s")
    assert "line 4: not JSON" in str(err.value)


def test_every_bad_line_is_named_with_its_number(tmp_path):
    path = jsonl(
        tmp_path,
        {"id": 1, "title": "A", "body": "x"},
        "{bad json",
        {"title": "no id", "body": "x"},
        {"id": "4", "title": "", "body": "x"},
        {"id": "5", "title": "T"},
        {"id": 1, "title": "dup", "body": "y"},
        "[1, 2]",
    )
    with pytest.raises(ImportFileError) as err:
        load_jsonl(path, "s")
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "line 2: not JSON" in message
    assert "line 3: missing id" in message
    assert "line 4: missing title" in message
    assert "line 5: needs one of body_markdown, body_html or body" in message
    assert "line 6: id '1' repeats line 1" in message
    assert "line 7: each line must be a JSON object" in message
    assert "line 1:" not in message


def test_missing_id_and_title_are_named_together(tmp_path):
    with pytest.raises(ImportFileError, match="line 1: missing id, title"):
        load_jsonl(jsonl(tmp_path, {"body": "x"}), "s")


def test_blank_title_is_a_missing_title(tmp_path):
    with pytest.raises(ImportFileError, match="line 1: missing title"):
        load_jsonl(jsonl(tmp_path, {"id": "1", "title": "   ", "body": "x"}), "s")


def test_windows_line_endings_in_front_matter(tmp_path):
    (tmp_path / "a.md").write_bytes(b"---\r\ntitle: CRLF title\r\nsection: S\r\n---\r\nBody text\r\n")
    (a,) = load_markdown_dir(tmp_path, "docs")
    assert (a.title, a.section, a.body) == ("CRLF title", "S", "Body text")


def test_only_ten_problems_are_listed(tmp_path):
    path = jsonl(tmp_path, *["{bad"] * 13)
    with pytest.raises(ImportFileError) as err:
        load_jsonl(path, "s")
    message = str(err.value)
    assert "line 10:" in message and "line 11:" not in message
    assert message.endswith("(and 3 more)")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_has_no_articles(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(ImportFileError, match="no articles"):
        load_jsonl(path, "s")


def test_load_articles_dispatches_on_file_or_folder(tmp_path):
    write(tmp_path / "docs", "a.md", "# A\n\ntext")
    assert load_articles(tmp_path / "docs", "s")[0].title == "A"
    assert load_articles(jsonl(tmp_path, {"id": 1, "title": "J", "body": "x"}), "s")[0].title == "J"
    with pytest.raises(ImportFileError, match="no such file or folder"):
        load_articles(tmp_path / "missing", "s")


# -- Markdown folder ----------------------------------------------------------------------


def test_markdown_without_front_matter_uses_heading_path_and_folder(tmp_path):
    write(tmp_path, "Store Support/Returns/return-policy.md",
          "Intro line.\n\n# How to  return a board\n\nSend it back within 30 days.\n")
    write(tmp_path, "top-level-faq.md", "Just text, no heading.")
    by_id = {a.article_id: a for a in load_markdown_dir(tmp_path, "docs")}
    assert set(by_id) == {"Store Support/Returns/return-policy", "top-level-faq"}
    ret = by_id["Store Support/Returns/return-policy"]
    assert (ret.source, ret.title, ret.section, ret.locale, ret.url) == (
        "docs", "How to return a board", "Store Support/Returns", "", ""
    )
    assert ret.body == "Intro line.\n\nSend it back within 30 days."  # the title heading is not repeated
    faq = by_id["top-level-faq"]
    assert (faq.title, faq.section, faq.body) == ("top level faq", "", "Just text, no heading.")


def test_front_matter_sets_the_fields(tmp_path):
    write(tmp_path, "sub/x.md",
          "---\nid: 123\ntitle: Zurücksetzen\nurl: https://help/123\nsection: Konto\nlocale: DE\n---\n"
                                "# Other heading\n\nDrücke **Reset**.\n")
    (a,) = load_markdown_dir(tmp_path, "docs")
    assert (a.article_id, a.title, a.url, a.section, a.locale) == (
        "123", "Zurücksetzen", "https://help/123", "Konto", "de")
    assert a.body == "Other heading\n\nDrücke Reset."  # a heading that is not the title stays


def test_partial_front_matter_falls_back_for_the_rest(tmp_path):
    write(tmp_path, "billing/invoice.md", "---\nurl: https://help/inv\n---\n# Get an invoice\n\nOpen your orders.")
    (a,) = load_markdown_dir(tmp_path, "docs")
    assert (a.article_id, a.title, a.section, a.url, a.body) == (
        "billing/invoice", "Get an invoice", "billing", "https://help/inv", "Open your orders."
    )


def test_trailing_hashes_of_a_closed_heading_are_not_in_the_title(tmp_path):
    write(tmp_path, "a.md", "#   Wi-Fi setup ##\n\nbody")
    assert load_markdown_dir(tmp_path, "docs")[0].title == "Wi-Fi setup"


def test_only_md_files_are_read(tmp_path):
    write(tmp_path, "a.md", "# A")
    write(tmp_path, "notes.txt", "# not an article")
    assert [a.article_id for a in load_markdown_dir(tmp_path, "docs")] == ["a"]


@pytest.mark.parametrize(
    "front, expected",
    [("title: [unclosed\n", "bad.md"), ("- a list\n- not a mapping\n", "bad.md: front matter must be a mapping")],
)
def test_bad_front_matter_names_the_file(tmp_path, front, expected):
    write(tmp_path, "good.md", "# Good")
    write(tmp_path, "bad.md", f"---\n{front}---\nbody")
    with pytest.raises(ImportFileError) as err:
        load_markdown_dir(tmp_path, "docs")
    assert expected in str(err.value) and "good.md" not in str(err.value)


def test_folder_without_markdown_files(tmp_path):
    write(tmp_path, "readme.txt", "x")
    with pytest.raises(ImportFileError, match="no .md files"):
        load_markdown_dir(tmp_path, "docs")


def test_hash_comment_in_a_code_block_is_not_the_title(tmp_path):
    write(tmp_path, "setup-guide.md", "Run this first:\n\n```bash\n# install the CLI\npip install arduino-cli\n```\n")
    (a,) = load_markdown_dir(tmp_path, "docs")
    assert a.title == "setup guide"
    assert "# install the CLI" in a.body


def test_heading_after_a_tilde_fence_is_the_title_and_an_unclosed_fence_hides_its_hashes(tmp_path):
    write(tmp_path, "a.md", "~~~\n# not a title\n~~~\n\n# Real title\n\nBody\n")
    write(tmp_path, "b-file.md", "Intro\n\n```\n# unclosed fence\ncode\n")
    a, b = load_markdown_dir(tmp_path, "docs")
    assert (a.title, a.body) == ("Real title", "# not a title\n\nBody")
    assert (b.title, b.body) == ("b file", "Intro\n\n# unclosed fence\ncode")


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "title": "T", "body": "x"}\n')
    (article,) = load_jsonl(path, "s")
    assert (article.article_id, article.title) == ("1", "T")
