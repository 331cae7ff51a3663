"""Money coming in and going out: Stripe card payments and refunds, CAMT.053 bank statements, and
matching a bank transfer's free-text remittance to a proforma number.

Adapters (`stripe_gateway`, `camt053`) do the I/O and parsing; the rest are pure functions over
frozen records. Nothing here touches the database or the ledger: the use cases do that.
"""
