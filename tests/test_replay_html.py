"""The replay report page (`bot.replay.html`): the figures it shows, the charts' proportions, and that
customers' words and helpdesk URLs cannot become markup or clickable scripts."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from bot.replay.html import BAR_WIDTH, MAX_DISAGREEMENTS, render_html

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.content: list[str | Node] = []  # text and child nodes, in document order

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.content)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        out = []
        for child in self.children:
            if child.tag == tag and all(child.attrs.get(k) == v for k, v in attrs.items()):
                out.append(child)
            out += child.find_all(tag, **attrs)
        return out

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class Tree(HTMLParser):
    """The page as a tree of `Node`s; fails on a closing tag that does not match (malformed page)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)
        self.feed(text)
        self.close()
        assert self.current is self.root, f"unclosed <{self.current.tag}>"

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.current.content.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.current.content.append(node)

    def handle_endtag(self, tag):
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.content.append(data)


def section(page: str, heading: str) -> str:
    """The page's text from the <h2> starting with `heading` to the next <h2>."""
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:end if end != -1 else page.index("</body>")]


def svgs(page: str) -> list[ET.Element]:
    """Each inline SVG parsed as XML: it must be well-formed on its own."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]


SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: ET.Element) -> dict[str, float]:
    return {r.get("data-label") or "": float(r.get("width") or "nan") for r in svg.iter(f"{SVG}rect")
            if r.get("class") == "bar"}


def full_report() -> dict:
    return {
        "version": 1, "generated_at": "2026-12-05T12:00:00+00:00", "source": "zendesk",
        "since": "2026-11-05T00:00:00+00:00", "until": "2026-12-05T00:00:00+00:00",
        "policy_version": "2026-12-05.4", "engine": "offline", "tickets": 120, "skipped": 3,
        "fields": {
            "category": {"compared": 6, "agreed": 5, "rate": 0.8333},
            "group": {"compared": 4, "agreed": 2, "rate": 0.5},
            "priority": {"compared": 0, "agreed": 0, "rate": None},
            "escalated": {"compared": 10, "agreed": 10, "rate": 1.0, "precision": 0.8, "recall": 0.9},
            "refund": {"compared": 120, "agreed": 118, "rate": 0.983, "precision": 1.0, "recall": 0.5},
        },
        "by_category": [
            {"category": "Billing", "tickets": 30, "recommendation": "draft", "why": "category agreement 93.3 % ≥ 90 %",
             "fields": {"category": {"compared": 30, "agreed": 28, "rate": 0.9333},
                        "group": {"compared": 30, "agreed": 27, "rate": 0.9}, "priority": {"rate": None},
                        "escalated": {"compared": 30, "agreed": 30, "rate": 1.0}}},
            {"category": "Technical", "tickets": 40, "recommendation": "tag", "why": "group below 90 %",
             "fields": {"category": {"compared": 40, "agreed": 20, "rate": 0.5}}},
            {"category": "Other", "tickets": 5, "recommendation": "shadow", "why": "only 5 tickets"},
        ],
        "confusion": {"labels": ["Billing", "Technical", "Other"],
                      "matrix": [[28, 2, 0], [1, 40, 3], [0, 0, 5]]},
        "disagreements": [
            {"ticket_id": "123", "url": "https://acme.zendesk.com/agent/tickets/123", "subject": "Invoice twice",
             "field": "category", "agent": "Billing", "bot": "Technical", "category": "Billing"},
        ],
        "cost": {"usd": 1.234, "prompt_tokens": 1000, "completion_tokens": 200, "per_ticket_usd": 0.0103,
                 "priced": True},
        "recommendation": {"draft": ["Billing"], "tag": ["Technical"], "shadow": ["Other"],
                           "thresholds": {"draft": 0.9, "tag": 0.8, "min_tickets": 20, "escalation_recall": 0.95}},
    }


def disagreement(i: int, **changes) -> dict:
    return {"ticket_id": str(i), "url": f"https://acme.zendesk.com/agent/tickets/{i}", "subject": f"subject {i}",
            "field": "group", "agent": "g1", "bot": "g2", "category": "Billing", **changes}


def test_page_is_one_well_formed_offline_document():
    page = render_html(full_report())
    tree = Tree(page)
    assert page.startswith("<!DOCTYPE html>")
    assert [n.text() for n in tree.root.find_all("title")][0] == "Replay report"
    # nothing loaded from elsewhere: no script, no stylesheet link, no image, no external reference
    assert not tree.root.find_all("script") and not tree.root.find_all("link") and not tree.root.find_all("img")
    assert not re.search(r"""(src|href)=["'](?!https://acme)""", page)
    assert "@import" not in page and "url(" not in page
    headings = [n.text() for n in tree.root.find_all("h2")]
    order = ["Agreement", "Per category", "Confusion", "Recommendation", "Cost", "Disagreements"]
    assert [next(i for i, h in enumerate(headings) if h.startswith(o)) for o in order] == list(range(6))


def test_header_shows_where_the_figures_come_from():
    meta = Tree(render_html(full_report())).root.find_all("table", **{"class": "meta"})[0]
    rows = {r.find_all("th")[0].text(): r.find_all("td")[0].text() for r in meta.find_all("tr")}
    assert rows["Source"] == "zendesk"
    assert rows["Period"] == "2026-11-05T00:00:00+00:00 to 2026-12-05T00:00:00+00:00"
    assert rows["Generated"] == "2026-12-05T12:00:00+00:00"
    assert rows["Policy version"] == "2026-12-05.4" and rows["Engine"] == "offline"
    assert rows["Tickets"] == "120 replayed, 3 skipped"


def test_each_field_shows_its_rate_and_counts_in_order():
    chart = svgs(section(render_html(full_report()), "Agreement"))[0]
    texts = [t.text for t in chart.iter(f"{SVG}text")]
    labels, details = texts[0::2], texts[1::2]
    assert labels == ["category", "group", "priority", "escalated", "refund"]
    assert details[0] == "83.3 % (5/6)"
    assert details[1] == "50.0 % (2/4)"
    assert details[2] == "n/a (nothing to compare)"
    assert details[3] == "100.0 % (10/10); precision 80.0 %, recall 90.0 %"
    assert details[4] == "98.3 % (118/120); precision 100.0 %, recall 50.0 %"


def test_bar_length_is_proportional_to_the_rate_and_a_null_rate_has_no_bar():
    chart = svgs(section(render_html(full_report()), "Agreement"))[0]
    widths = bars(chart)
    assert widths["escalated"] == BAR_WIDTH
    assert widths["group"] == pytest.approx(widths["escalated"] / 2)
    assert widths["category"] == pytest.approx(BAR_WIDTH * 0.8333, abs=0.01)
    assert "priority" not in widths


def test_only_present_fields_are_drawn():
    report = full_report()
    report["fields"] = {"escalated": report["fields"]["escalated"], "category": report["fields"]["category"]}
    chart = svgs(section(render_html(report), "Agreement"))[0]
    assert list(bars(chart)) == ["category", "escalated"]


def test_charts_are_labelled_for_screen_readers():
    for chart in svgs(render_html(full_report())):
        title = chart.find(f"{SVG}title")
        assert title is not None and title.text
        assert chart.get("role") == "img" and chart.get("aria-label") == title.text


def test_per_category_chart_and_table():
    part = section(render_html(full_report()), "Per category")
    widths = bars(svgs(part)[0])
    assert widths["Technical"] == pytest.approx(BAR_WIDTH / 2)
    assert widths["Billing"] == pytest.approx(BAR_WIDTH * 0.9333, abs=0.01)
    assert "Other" not in widths  # no category figure: no bar, but still a row
    table = Tree(part).root.find_all("table")[0]
    rows = [[c.text() for c in r.find_all("td")] for r in table.find_all("tr")[1:]]
    assert rows[0][:6] == ["Billing", "30", "93.3 %", "90.0 %", "n/a", "100.0 %"]
    assert rows[0][6:] == ["draft", "category agreement 93.3 % ≥ 90 %"]
    assert rows[1][:3] == ["Technical", "40", "50.0 %"] and rows[1][3] == "n/a"
    assert rows[2] == ["Other", "5", "n/a", "n/a", "n/a", "n/a", "shadow", "only 5 tickets"]


def test_recommendation_badges_are_distinct_per_mode():
    table = Tree(section(render_html(full_report()), "Per category")).root.find_all("table")[0]
    badges = {r.find_all("td")[0].text(): r.find_all("span")[0] for r in table.find_all("tr")[1:]}
    assert {name: b.attrs["data-mode"] for name, b in badges.items()} == {
        "Billing": "draft", "Technical": "tag", "Other": "shadow"}
    assert len({frozenset(b.classes()) for b in badges.values()}) == 3
    assert all(f"badge-{b.attrs['data-mode']}" in b.classes() for b in badges.values())


def test_recommendation_summary_lists_each_category_under_its_mode():
    part = Tree(section(render_html(full_report()), "Recommendation")).root
    items = {li.attrs["data-mode"]: li for li in part.find_all("li")}
    assert items["draft"].text().endswith("Billing") and "Technical" not in items["draft"].text()
    assert items["tag"].text().endswith("Technical") and "Billing" not in items["tag"].text()
    assert items["shadow"].text().endswith("Other")
    assert items["draft"].find_all("span")[0].attrs["data-mode"] == "draft"
    note = part.find_all("p")[0].text()
    assert "draft at 90.0 %" in note and "tag at 80.0 %" in note
    assert "at least 20 tickets" in note and "recall at least 95.0 %" in note


def test_an_unknown_recommendation_is_shown_as_shadow():
    report = full_report()
    report["by_category"][0]["recommendation"] = "<b>auto</b>"
    table = Tree(section(render_html(report), "Per category")).root.find_all("table")[0]
    assert table.find_all("span")[0].attrs["data-mode"] == "shadow"


def test_confusion_matrix_shades_by_count_and_highlights_the_diagonal():
    table = Tree(section(render_html(full_report()), "Confusion")).root.find_all("table")[0]
    rows = table.find_all("tr")
    assert [th.text() for th in rows[0].find_all("th")][1:] == ["Billing", "Technical", "Other"]
    cells = [r.find_all("td") for r in rows[1:]]
    assert [[int(c.text()) for c in row] for row in cells] == [[28, 2, 0], [1, 40, 3], [0, 0, 5]]
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            assert ("diag" in cell.classes()) == (i == j)
    alpha = [[float(re.search(r"rgba\([^)]*,([\d.]+)\)", c.attrs["style"] or "").group(1)) for c in row]
             for row in cells]
    assert alpha[1][1] == max(a for row in alpha for a in row) > 0
    assert alpha[0][0] == pytest.approx(alpha[1][1] * 28 / 40, abs=0.002)
    assert alpha[0][2] == 0
    assert alpha[0][1] < alpha[1][2] < alpha[2][2]


def test_cost_priced_and_not_priced():
    assert "$1.2340 in total, $0.01030 per ticket; 1000 prompt and 200 completion tokens." in Tree(
        section(render_html(full_report()), "Cost")).root.text()
    report = full_report()
    report["cost"] = {"usd": None, "prompt_tokens": 50, "completion_tokens": 7, "per_ticket_usd": None,
                      "priced": False}
    text = Tree(section(render_html(report), "Cost")).root.text()
    assert "not priced" in text and "$" not in text and "50 prompt and 7 completion tokens" in text
    report["cost"] = {"usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "priced": False}
    assert "not priced" in Tree(section(render_html(report), "Cost")).root.text()  # a zero is not a price


def test_customer_markup_and_quotes_are_escaped():
    hostile = '<script>alert(1)</script> "quotes" & <img src=x onerror=alert(2)>'
    report = full_report()
    report["disagreements"] = [disagreement(1, subject=hostile, agent='"><svg onload=alert(3)>')]
    report["by_category"][0]["category"] = "<script>x</script>"
    report["source"] = "<b>zendesk</b>"
    page = render_html(report)
    tree = Tree(page)
    assert not tree.root.find_all("script") and not tree.root.find_all("img") and not tree.root.find_all("b")
    assert all(not any(k.startswith("on") for k in n.attrs) for n in _all_nodes(tree.root))
    rows = tree.root.find_all("table")[-1].find_all("tr")
    assert rows[1].find_all("td")[1].text() == hostile  # shown as the customer wrote it
    assert rows[1].find_all("td")[3].text() == '"><svg onload=alert(3)>'
    assert "<script>x</script>" in [t.text for t in svgs(page)[1].iter(f"{SVG}text")]


def test_only_http_urls_become_links():
    report = full_report()
    report["disagreements"] = [
        disagreement(1, url="javascript:alert(1)"), disagreement(2, url=" JavaScript:alert(1)"),
        disagreement(3, url="data:text/html,<script>alert(1)</script>"), disagreement(4, url=None),
        disagreement(5, url="http://help.example.com/t/5"), disagreement(6, url='https://x.test/a"onclick="b'),
    ]
    tree = Tree(render_html(report))
    rows = tree.root.find_all("table")[-1].find_all("tr")[1:]
    links = {r.find_all("td")[0].text(): [a.attrs["href"] for a in r.find_all("a")] for r in rows}
    assert links == {"1": [], "2": [], "3": [], "4": [], "5": ["http://help.example.com/t/5"],
                     "6": ['https://x.test/a"onclick="b']}
    assert not any("onclick" in n.attrs for n in _all_nodes(tree.root))


def test_non_ascii_survives():
    subject = "Remboursement refusé — 退款 🙂 Ünïcödé"
    report = full_report()
    report["disagreements"] = [disagreement(1, subject=subject, category="Facturación")]
    page = render_html(report)
    cells = Tree(page).root.find_all("table")[-1].find_all("tr")[1].find_all("td")
    assert cells[1].text() == subject and cells[5].text() == "Facturación"
    assert '<meta charset="utf-8">' in page
    page.encode("utf-8")


def test_more_than_the_limit_of_disagreements_is_cut_and_counted():
    report = full_report()
    report["disagreements"] = [disagreement(i) for i in range(MAX_DISAGREEMENTS + 37)]
    part = section(render_html(report), "Disagreements")
    tree = Tree(part)
    rows = tree.root.find_all("table")[0].find_all("tr")[1:]
    assert len(rows) == MAX_DISAGREEMENTS
    assert rows[-1].find_all("td")[0].text() == str(MAX_DISAGREEMENTS - 1)
    assert "37 left out" in tree.root.text() and f"of {MAX_DISAGREEMENTS + 37}" in tree.root.text()


def test_exactly_the_limit_is_not_cut():
    report = full_report()
    report["disagreements"] = [disagreement(i) for i in range(MAX_DISAGREEMENTS)]
    tree = Tree(section(render_html(report), "Disagreements"))
    assert len(tree.root.find_all("tr")) == MAX_DISAGREEMENTS + 1 and "left out" not in tree.root.text()


def test_a_report_with_no_tickets_renders():
    report = {"tickets": 0, "skipped": 0, "source": "intercom", "since": None, "until": None,
              "fields": {f: {"compared": 0, "agreed": 0, "rate": None} for f in ("category", "group")},
              "by_category": [], "confusion": {"labels": [], "matrix": []}, "disagreements": [],
              "cost": {"usd": None, "prompt_tokens": 0, "completion_tokens": 0, "priced": False},
              "recommendation": {"draft": [], "tag": [], "shadow": []}}
    page = render_html(report)
    text = Tree(page).root.text()
    assert "No tickets in this period." in text
    assert "the start to now" in text and "not priced" in text
    assert not bars(svgs(page)[0])
    assert text.count("n/a (nothing to compare)") == 2


@pytest.mark.parametrize("report", [
    {}, {"fields": None, "by_category": None, "confusion": None, "cost": None, "recommendation": None},
    {"tickets": "many", "fields": {"category": "broken"}, "by_category": ["x", {"fields": {"category": None}}],
     "confusion": {"labels": ["A", "B"], "matrix": [[1]]}, "disagreements": ["x", {}],
     "cost": {"usd": "1", "priced": True}, "recommendation": {"draft": None, "thresholds": {}}},
    {"fields": {"category": {"rate": float("nan"), "agreed": True}}},
])
def test_missing_or_odd_keys_degrade_instead_of_failing(report):
    page = render_html(copy.deepcopy(report))
    tree = Tree(page)
    assert "No tickets in this period." in tree.root.text()
    for chart in svgs(page):
        assert all(0 <= w <= BAR_WIDTH for w in bars(chart).values())


def test_rates_outside_zero_to_one_are_clamped_in_the_chart():
    report = full_report()
    report["fields"] = {"category": {"compared": 1, "agreed": 2, "rate": 2.0},
                        "group": {"compared": 1, "agreed": 0, "rate": -0.5}}
    assert bars(svgs(render_html(report))[0]) == {"category": BAR_WIDTH, "group": 0}


def _all_nodes(node: Node) -> list[Node]:
    return [node] + [n for c in node.children for n in _all_nodes(c)]
