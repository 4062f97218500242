"""The database engine and the one way to run a write: `write()`.

SQLite (embedded default) and PostgreSQL (production) share every query. What
differs lives here:
- SQLite writes take the write lock up front (BEGIN IMMEDIATE) so a busy
  database waits instead of failing, and the engine closes a connection whose
  BEGIN failed (piccolo + aiosqlite >= 0.22 otherwise leak a non-daemon thread
  and the process hangs at exit).
- PostgreSQL writes run at READ COMMITTED; row locks are taken explicitly with
  `lock_rows_sql`, and deadlocks or serialization failures are retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.querystring import QueryString

log = logging.getLogger(__name__)
T = TypeVar("T")


class SafeSQLiteTransaction(SQLiteTransaction):
    async def __aenter__(self):
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.connection.close()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self


class SafeSQLiteEngine(SQLiteEngine):
    def transaction(self, transaction_type=TransactionType.deferred, allow_nested=True):
        return SafeSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        return SafeSQLiteEngine(path=path, timeout=30)
    return PostgresEngine(config={"dsn": database_url})


_engine: Engine | None = None


def engine() -> Engine:
    """The process's engine, built from DATABASE_URL on first use (piccolo_conf.py re-exports it)."""
    global _engine
    if _engine is None:
        from points.config import settings

        _engine = make_engine(settings().database_url)
    return _engine


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


def prepare_sqlite_file(path: str) -> None:
    """WAL lets readers go on while one writer writes; the setting persists in the file."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


async def _release(connection) -> None:
    # asyncpg's default reset costs a round trip after every pooled query (UNLISTEN, RESET ALL, …); we hold
    # no session state, so only a transaction left open (a cancelled request) needs undoing.
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


async def start(pool_max: int = 10) -> None:
    """Open what a long-lived process (app or worker) keeps: the PostgreSQL pool."""
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=pool_max, reset=_release)


async def stop() -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()


def _retryable(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("DeadlockDetectedError", "SerializationError"):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


async def write(fn: Callable[[], Awaitable[T]], attempts: int = 6) -> T:
    """Run `fn` in one write transaction, retrying transient conflicts.

    `fn` must do all its work through the database (no side effects outside
    it), since a retried attempt runs it again from the start.
    """
    db = engine()
    for attempt in range(1, attempts + 1):
        try:
            if isinstance(db, SQLiteEngine):
                async with db.transaction(transaction_type=TransactionType.immediate):
                    return await fn()
            async with db.transaction():
                return await fn()
        except Exception as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            log.info("write conflict (%s), retry %d", type(exc).__name__, attempt)
            await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


async def in_snapshot(fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn`'s reads against one consistent snapshot of the database, while writers go on."""
    db = engine()
    if isinstance(db, SQLiteEngine):  # in WAL mode a read transaction sees one snapshot throughout
        async with db.transaction(transaction_type=TransactionType.deferred):
            return await fn()
    async with db.transaction():
        await sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return await fn()


async def ping() -> None:
    """Raise unless the database answers."""
    await sql("SELECT 1 AS ok")


async def sql(template: str, *args: Any) -> list[dict[str, Any]]:
    """Run one portable SQL statement; `{}` marks each argument."""
    rows = await engine().run_querystring(QueryString(template, *args))
    return [dict(r) for r in rows or ()]


def values_list(rows: Sequence[Sequence[Any]], pg_types: Sequence[str]) -> tuple[str, list[Any]]:
    """A VALUES list for `rows`. PostgreSQL needs each column's type spelled out;
    SQLite binds Python values as they are (piccolo registers its adapters)."""
    marks = ("{}" for _ in pg_types) if is_sqlite() else (f"CAST({{}} AS {t})" for t in pg_types)
    one = "(" + ", ".join(marks) + ")"
    args: list[Any] = []
    for row in rows:
        args.extend(row)
    return ", ".join([one] * len(rows)), args


def lock_rows_sql() -> str:
    """The suffix that locks selected rows until commit (a no-op on SQLite, whose write lock is global)."""
    return "" if is_sqlite() else " FOR UPDATE"


def skip_locked_sql() -> str:
    return "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
