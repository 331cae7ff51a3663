"""indexes for years of history (issue #19): an account's documents in page order; no index the
reads never use on the rows every run writes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_account_issue_number", "documents", ["account_id", "issue_date", "number"])
    # (account_id, …) above serves every lookup by account: the single-column index is its prefix.
    op.drop_index("ix_documents_account_id", table_name="documents")
    # Nothing looks postings up by ledger account (the trial balance reads them all); its index
    # cost one insert at a scattered place per customer leg, slower as the table grows.
    op.drop_index("ix_postings_ledger_account", table_name="postings")


def downgrade() -> None:
    op.create_index("ix_postings_ledger_account", "postings", ["ledger_account"])
    op.create_index("ix_documents_account_id", "documents", ["account_id"])
    op.drop_index("ix_documents_account_issue_number", table_name="documents")
