"""Review and tracking: what became of each draft and each ticket after the bot's note.

- `history`: the helpdesk-neutral record of what happened on a ticket (adapters build it).
- `assess`: pure; from a ticket's history and the bot's drafts, each draft's review action,
  similarity and overrides, the ticket's outcome, and what the bot must do next.
- `tracker`: reads the history, stores the assessment, starts the runs it calls for.
- `figures` and `report`: the figures over a period, and the weekly QA report.
"""
