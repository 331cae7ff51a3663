"""an account's documents in page order (issue #19)

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


def downgrade() -> None:
    op.drop_index("ix_documents_account_issue_number", table_name="documents")
