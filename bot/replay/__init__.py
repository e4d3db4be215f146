"""`python -m bot replay`: the pipeline in shadow over past tickets, compared with what agents did.

`tickets` holds one past ticket as read (and as `--save` writes it, for a replay without the
helpdesk); `sources` reads them from Zendesk or Intercom; `run` makes the bot's decisions;
`compare` turns both into the report (`html` renders it).
"""
