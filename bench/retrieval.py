"""Knowledge-base retrieval cost: the BM25 index against a baseline scan, in this process.

On the bundled Arduino Help Center (414 articles) and the shipped questions, prints the time to
build the index and the time per query for (a) the index (inverted postings, stems cached) and
(b) the baseline: the same BM25 formula computed by scanning every passage for every query,
what a first implementation without postings would do. Both must rank identically: the
benchmark checks it. Also prints the index rebuild a worker does after a sync, the cost of the
synonym expansion, and with --hybrid the default install's hybrid ranking (all-MiniLM-L6-v2 in
NumPy): embedding every passage once, and a query.

    python bench/retrieval.py [--rounds 3] [--hybrid]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.kb.evaluate import read_questions  # noqa: E402
from bot.kb.expansion import load_synonyms  # noqa: E402
from bot.kb.index import Index  # noqa: E402
from bot.kb.sources.files import load_articles  # noqa: E402
from bot.kb.tokens import tokenize  # noqa: E402

KB = ROOT / "bot" / "demo" / "kb_arduino"


def scan_search(index: Index, query: str, k: int) -> list[str]:
    """BM25 by scanning every passage: the baseline."""
    lang = index._indexes[index.default_language]
    k1, b = lang.params.k1, lang.params.b
    terms = Counter(tokenize(query, lang.language))
    best: dict[str, float] = {}
    for doc_id, passage in enumerate(lang.passages):
        article = passage.article
        doc = Counter(
            tokenize(article.title, lang.language) * lang.params.title_weight
            + tokenize(article.section, lang.language)
            + tokenize(passage.text, lang.language)
        )
        score = 0.0
        for term, qtf in terms.items():
            tf = doc.get(term)
            if not tf:
                continue
            df = len(lang.postings[term])
            idf = math.log(1 + (len(lang.passages) - df + 0.5) / (df + 0.5))
            norm = k1 * (1 - b + b * lang.lengths[doc_id] / lang.average)
            score += qtf * idf * tf * (k1 + 1) / (tf + norm)
        if score and score > best.get(article.article_id, 0.0):
            best[article.article_id] = score
    return sorted(best, key=lambda a: -best[a])[:k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hybrid", action="store_true", help="also time the embeddings (about a minute)")
    args = parser.parse_args()
    articles = load_articles(KB / "articles.jsonl", "arduino")
    questions = [q.text for name in ("eval.jsonl", "dev.jsonl") for q in read_questions(KB / name)]

    builds = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        index = Index(articles)
        builds.append(time.perf_counter() - started)

    def per_query(search) -> float:
        started = time.perf_counter()
        for question in questions:
            search(question)
        return (time.perf_counter() - started) / len(questions)

    indexed = min(per_query(lambda q: index.search(q, 3)) for _ in range(args.rounds))
    scanned = per_query(lambda q: scan_search(index, q, 3))
    same = sum(
        [h.article.article_id for h in index.search(q, 3)] == scan_search(index, q, 3) for q in questions
    )
    passages = sum(len(i.passages) for i in index._indexes.values())
    print(f"help center: {len(articles)} articles, {passages} passages; {len(questions)} questions")
    print(f"index build (a worker's rebuild after a sync): {statistics.median(builds) * 1000:.0f} ms median")
    print(f"per query, BM25 index:          {indexed * 1000:.2f} ms")
    print(f"per query, baseline full scan:  {scanned * 1000:.2f} ms ({scanned / indexed:.0f}x slower)")
    print(f"identical top-3 rankings: {same}/{len(questions)}")
    expanded_index = Index(articles, expansion=load_synonyms())
    expanded = min(per_query(lambda q: expanded_index.search(q, 3)) for _ in range(args.rounds))
    print(f"per query, BM25 + synonyms:     {expanded * 1000:.2f} ms")
    if args.hybrid:
        from bot.kb.semantic import Embedder

        started = time.perf_counter()
        embedder = Embedder()
        loaded = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        hybrid = Index(articles, embedder=embedder, expansion=load_synonyms())
        built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
        query = per_query(lambda q: hybrid.search(q, 3))  # once: the embedder caches queries too
        print(f"hybrid: model load {loaded:.1f} s; embedding {passages} passages {built:.0f} s "
              f"({built_cpu:.0f} s CPU, one thread); per query {query * 1000:.1f} ms")


if __name__ == "__main__":
    main()
