"""Analytics state: saved analyses (a named query definition) and dashboards (an ordered list of them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from fermion.store import metadata

saved_analyses = Table(
    "analytics_saved_analyses",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # segmentation | funnel | retention | flows
    Column("definition", Text, nullable=False),  # JSON, as validated
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

dashboards = Table(
    "analytics_dashboards",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("workspace_id", Integer, nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

dashboard_items = Table(
    "analytics_dashboard_items",
    metadata,
    Column(
        "dashboard_id",
        BigInteger,
        ForeignKey("analytics_dashboards.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column(
        "analysis_id",
        BigInteger,
        ForeignKey("analytics_saved_analyses.id", ondelete="CASCADE"),
        nullable=False,
    ),
)
