"""The customer's messages (CONTRACT §8): decided in the cycle's transactions (decide.py, store.py),
sent after commit from an outbox (outbox.py) over SMTP or into .eml files (transport.py), in the
account's language from the translation catalogs (render.py, compose.py)."""
