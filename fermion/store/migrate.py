"""Applies the state store's Alembic migrations; run on every start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

_SCRIPTS = Path(__file__).parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the state store at ``engine`` to the newest schema (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Processes starting together take turns; the later ones find the schema current.
            connection.execute(text("SELECT pg_advisory_xact_lock(727000)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
