"""A database's rows taken once and put back into an empty database of the same schema.

What a fixture builds through the services for every test (the web tests' world: two
clinics, five accounts, two patients with their plans) is built once per process and
database, its rows taken, and from then on put back as they were: the same rows, keys,
versions and audit events, in a few milliseconds instead of a hundred.
"""

from __future__ import annotations

import sqlalchemy as sa

from surveillance.db.models import Base, ListStamp

Rows = dict[str, list[dict]]
# Written by the database's triggers (migration 0018) as the rows they follow are written,
# put back included; a deletion writes them too, so an emptied database may still hold some.
TRIGGERED = {ListStamp.__tablename__}


def _tables() -> list[sa.Table]:
    """The tables the services write, parents first."""
    return [t for t in Base.metadata.sorted_tables if t.name not in TRIGGERED]


def is_empty(engine: sa.Engine) -> bool:
    """Whether no table the services write holds a row (one statement)."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(*(sa.exists().select_from(t) for t in _tables()))).one()
    return not any(found)


def take_rows(engine: sa.Engine) -> Rows:
    """Every row of every table the services write, by table, as column values."""
    with engine.connect() as conn:
        return {
            table.name: [dict(row) for row in conn.execute(sa.select(table)).mappings()]
            for table in _tables()
        }


def put_back(engine: sa.Engine, rows: Rows) -> None:
    """Insert the rows, parents first, keys included, in one transaction.

    The keys were handed out by the database's sequences (SQLite: the largest key, or
    AUTOINCREMENT's counter), which have only gone up since: a row added later gets a
    larger key than any put back, as it would have after the rows were first made."""
    with engine.begin() as conn:
        for table in _tables():
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])
