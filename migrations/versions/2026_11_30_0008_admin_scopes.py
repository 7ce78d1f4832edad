"""Administrator scopes: an installation administrator role; accounts get a name and a version.

Existing administrators stay clinic administrators of their clinics: make an installation
administrator with `surveillance users add ... --role install_admin` (or `users edit`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("name", sa.String(length=200), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(
            op.f("ck_users_role"), sa.text("role IN ('nurse', 'admin', 'install_admin')")
        )


def downgrade() -> None:
    op.execute("UPDATE users SET role = 'admin' WHERE role = 'install_admin'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), sa.text("role IN ('nurse', 'admin')"))
        batch.drop_column("version")
        batch.drop_column("name")
