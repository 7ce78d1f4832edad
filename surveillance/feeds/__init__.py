"""Calendar feeds: iCal subscriptions of a clinic's or a nurse's controls, by secret token.

tokens (random, stored hashed) · ical (RFC 5545 by hand) · timezones (VTIMEZONE) ·
events (one VEVENT per control, pure) · render (the calendar, the cache of events) ·
store (the database) · serve (ETag first, text only when needed) · cli.
"""
