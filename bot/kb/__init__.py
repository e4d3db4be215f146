"""Knowledge-base grounding: approved help-center articles, synced, indexed and retrieved.

- `model`: Article, SyncBatch, SyncReport
- `text`: HTML and Markdown bodies to clean text
- `store`: the articles table and each source's sync cursor
- `sources/`: Zendesk Guide, Intercom Help Center, JSONL/Markdown import
- `query`: the retrieval query built from a ticket (subject, body opening, no mail clutter)
- `expansion`: customer wording to help-center wording (config/kb_synonyms.yaml)
- `index`, `retrieval`: BM25 over article passages, optionally fused with embeddings
  (`semantic`, `minilm`: all-MiniLM-L6-v2 in NumPy), and the sources chosen for a ticket
- `calibration`: the probability that a hit is a right source (config/kb_calibration.yaml)
- `evaluate`: recall@k, MRR and sourcing over a question or ticket set
"""
