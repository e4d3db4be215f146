"""Going live safely: `python -m bot setup` (what the helpdesk needs, created idempotently),
`python -m bot doctor` (is everything in place) and `python -m bot replay` (what the bot would
have done on past tickets). The rollout modes themselves are in `bot.rollout`."""
