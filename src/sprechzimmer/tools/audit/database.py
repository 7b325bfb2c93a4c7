"""The live database schema against the documented one: ``store.py`` and Alembic's table.

Reads table and column names only: never a row, never creates a database (a missing
SQLite file is a finding, not a new file), never names the database URL in a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .results import Check, Status, check


def allowed_schema() -> dict[str, set[str]]:
    from ...store import Base

    schema = {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}
    schema["alembic_version"] = {"version_num"}
    return schema


def compare_schema(live: Mapping[str, set[str]], allowed: Mapping[str, set[str]]) -> Check:
    extra = sorted(
        f"{t}.{c}" if t in allowed else f"table {t}"
        for t in live
        for c in (live[t] - allowed[t] if t in allowed else {""})
    )
    extra = [e.rstrip(".") for e in extra]
    if extra:
        return check(
            "database",
            Status.FAIL,
            f"The database holds what the documented schema does not: {', '.join(extra)}.",
        )
    missing = sorted(set(allowed) - set(live) - {"alembic_version"})
    if missing:
        return check(
            "database",
            Status.WARN,
            f"Tables {', '.join(missing)} are missing; run `sprechzimmer db upgrade`.",
        )
    return check(
        "database",
        Status.PASS,
        f"{len(live)} tables, no column beyond the documented schema (store.py).",
    )


def live_schema(url: str) -> dict[str, set[str]]:
    """Tables and columns of the database at ``url``; never creates one."""
    from sqlalchemy import create_engine, inspect

    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if not path or path == ":memory:" or not Path(path.split("?", 1)[0]).exists():
            raise FileNotFoundError("the SQLite database file does not exist")
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def check_database(url: str) -> Check:
    try:
        live = live_schema(url)
    except Exception as error:  # any failure to read it is the report's line
        return check(
            "database",
            Status.FAIL,
            f"The database cannot be inspected ({type(error).__name__}).",
        )
    return compare_schema(live, allowed_schema())
