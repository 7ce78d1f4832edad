"""Daily reminder e-mails: digest, outbox, mail backends, the daily job and the worker."""
