"""Knowledge-base grounding: approved help-center articles, synced, indexed and retrieved.

- `model`: Article, SyncBatch, SyncReport
- `text`: HTML and Markdown bodies to clean text
- `store`: the articles table and each source's sync cursor
- `sources/`: Zendesk Guide, Intercom Help Center, JSONL/Markdown import
- `index`, `retrieval`: BM25 over article passages, and the query built from a ticket
- `evaluate`: recall@k and MRR of retrieval over a question set
"""
