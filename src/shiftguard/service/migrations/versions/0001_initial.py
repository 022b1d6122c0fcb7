"""Initial schema: projects, API keys, monitors, batches, alerts, webhook deliveries.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        _created_at(),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False,
                  index=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("digest", sa.LargeBinary, nullable=False),
        _created_at(),
    )
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False,
                  index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("reference", sa.LargeBinary, nullable=False),
        sa.Column("n_reference", sa.Integer, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("error_state", sa.JSON, nullable=True),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("n_batches", sa.Integer, nullable=False),
        _created_at(),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), nullable=False,
                  index=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("report_html", sa.LargeBinary, nullable=False),
        sa.Column("alarm", sa.Boolean, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        _created_at(),
        sa.UniqueConstraint("monitor_id", "step", name="uq_batches_monitor_step"),
        sa.UniqueConstraint("monitor_id", "idempotency_key", name="uq_batches_monitor_key"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False,
                  index=True),
        sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), nullable=False,
                  index=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("webhook_status", sa.String(20), nullable=False),
        _created_at(),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False,
                  index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("delivered", sa.Boolean, nullable=False),
        _created_at(),
    )


def downgrade() -> None:
    for table in ("webhook_deliveries", "alerts", "batches", "monitors", "api_keys",
                  "projects"):
        op.drop_table(table)
