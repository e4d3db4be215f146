"""Intercom as a helpdesk (conversations) and as a help center (articles).

- `webhook.py`: verify and parse webhook deliveries (pure; the web tier's only import from here).
- `payload.py`, `note.py`: conversation and contact JSON to domain values, the note as HTML (pure).
- `adapter.py`: `IntercomHelpdesk`, reads conversations and writes the bot's note, tags and team.
- `help_center.py`, `help_center_payload.py`: the Help Center articles the drafts are grounded on.
- `client.py`: the python-intercom client and error mapping the adapter and help center share.
- `fixtures/`: real webhook bodies and variants (see its README).

Nothing is imported here: the web tier must not load the SDK.
"""
