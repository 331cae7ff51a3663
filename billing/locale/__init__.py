"""The translation catalogs (gettext .po files, one per language) of every word the service shows a
customer: the PDFs' labels, the portal's words and the messages (see catalog.py)."""
