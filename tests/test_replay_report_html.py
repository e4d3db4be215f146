"""The replay report page: what it shows, and that customers' words cannot become markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.replay.report_html import BAR_WIDTH, MAX_ROWS, render_html


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def report(**changes) -> dict:
    base = {
        "source": "zendesk", "since": "2026-11-05T00:00:00+00:00", "policy_version": "p1", "engine": "offline",
        "tickets": 4, "skipped": 1, "skipped_why": {"not handled by an agent yet": 1},
        "fields": {"category": {"compared": 4, "agreed": 4, "rate": 1.0},
                   "group": {"compared": 4, "agreed": 2, "rate": 0.5},
                   "priority": {"compared": 0, "agreed": 0, "rate": None},
                   "escalated": {"compared": 4, "agreed": 3, "rate": 0.75, "precision": 0.5, "recall": 1.0}},
        "by_category": [{"category": "Billing", "tickets": 4, "recommendation": "tag", "why": "group 80 %",
                         "fields": {"category": {"rate": 1.0}, "group": {"rate": 0.5}, "priority": {"rate": None},
                                    "escalated": {"rate": 0.75}}}],
        "confusion": {"labels": ["Billing", "Technical"], "matrix": [[3, 1], [0, 2]]},
        "disagreements": [{"ticket_id": "7", "url": "https://acme.zendesk.com/agent/tickets/7",
                           "subject": "<script>alert(1)</script> \"quoted\" — café", "field": "group",
                           "agent": "110", "bot": "101", "category": "Billing"},
                          {"ticket_id": "8", "url": "javascript:alert(1)", "subject": "x", "field": "group",
                           "agent": "110", "bot": "101", "category": "Billing"}],
        "cost": {"usd": 0.5, "priced": True, "prompt_tokens": 10, "completion_tokens": 2, "per_ticket_usd": 0.125},
        "recommendation": {"draft": [], "tag": ["Billing"], "shadow": ["Technical"],
                           "thresholds": {"draft": 0.9, "tag": 0.8, "min_tickets": 20, "escalation_recall": 0.95}},
    }
    return {**base, **changes}


def test_bars_are_as_long_as_the_rates_and_labelled():
    page = Page(render_html(report()))
    bars = {float(a["data-rate"]): float(a["width"]) for a in page.all("rect") if "data-rate" in a}
    assert bars[1.0] == BAR_WIDTH and bars[0.5] == BAR_WIDTH / 2 and bars[0.75] == BAR_WIDTH * 0.75
    text = " ".join(page.text)
    assert "100.0 % (4/4)" in text and "50.0 % (2/4)" in text and "n/a (nothing to compare)" in text
    assert "precision 50.0 %, recall 100.0 %" in text
    assert page.all("svg") and all(a.get("aria-label") for a in page.all("svg"))


def test_customers_words_are_text_and_only_web_links_are_links():
    html = render_html(report())
    page = Page(html)
    assert not page.all("script")
    assert "<script>alert(1)</script> \"quoted\" — café" in " ".join(page.text)
    assert [a["href"] for a in page.all("a")] == ["https://acme.zendesk.com/agent/tickets/7"]


def test_the_matrix_diagonal_is_marked_and_the_recommendation_badged():
    page = Page(render_html(report()))
    diagonal = [a for a in page.all("td") if "diag" in a.get("class", "")]
    assert len(diagonal) == 2
    html = render_html(report())
    assert re.search(r"<span class='badge tag'>ready for tag</span> Billing", html)
    assert re.search(r"<span class='badge shadow'>stay in shadow</span> Technical", html)
    assert "$0.5000 for 4 tickets" in html


def test_an_empty_period_and_a_long_list_still_render():
    empty = render_html({"tickets": 0, "fields": {}, "by_category": [], "confusion": {}, "disagreements": [],
                         "cost": {}, "recommendation": {}})
    assert "No tickets in this period" in empty and "</html>" in empty
    many = [{"ticket_id": str(i), "url": "", "subject": "s", "field": "group", "agent": "1", "bot": "2",
             "category": "Other"} for i in range(MAX_ROWS + 7)]
    html = render_html(report(disagreements=many))
    assert html.count("<td>group</td>") == MAX_ROWS and "7 more in replay.json" in html
