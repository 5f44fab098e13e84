"""The outbox delivery: webhooks, WhatsApp replies and ad-conversion events.

`settings` (typed config, imported by bridge.config) stays free of I/O imports; the
delivery itself lives in `service` (the daemon's loop), `http` (signed POSTs behind an
address guard), `policy` (retry decisions, pure), `pacing` (anti-ban reply pacing, pure)
and `replies` (sending through the session worker of the receiving number).
"""
