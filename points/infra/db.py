"""The database engine and the one way to run a write: `write()`.

SQLite (embedded default) and PostgreSQL (production) share every query. What
differs lives here:
- SQLite writes take the write lock up front (BEGIN IMMEDIATE) so a busy
  database waits instead of failing, and the engine closes a connection whose
  BEGIN failed (piccolo + aiosqlite >= 0.22 otherwise leak a non-daemon thread
  and the process hangs at exit).
- PostgreSQL writes run at READ COMMITTED; row locks are taken explicitly with
  `lock_rows_sql`, and deadlocks or serialization failures are retried.
- Nothing waits for ever: every PostgreSQL session has a lock timeout, a
  statement timeout and an idle-in-transaction timeout (`SESSION_LIMITS`), so a
  stray transaction (a process frozen or orphaned mid-batch) releases its row
  locks within seconds, and a query that cannot get a pooled connection in
  time fails. A connection lost mid-request is retried once (a read, or a
  whole `write()`); past that the caller sees `Unavailable`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString

from points.infra import changes

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

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception and not self._rolled_back:
                await self.rollback()
            elif not exception and not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await self.connection.close()
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
        await self.engine.give_back(self.connection)
        return exception is None


class SafeSQLiteEngine(SQLiteEngine):
    """piccolo's SQLite engine, except that a long-lived process (`start`) keeps its connections open between
    statements: piccolo opens one per statement — a thread, a file, the schema parsed again — which costs eight
    times the statement itself. A connection goes back only when it left no transaction open."""

    KEEP = 8  # idle connections kept at most: one for each request running a statement at once

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._idle: list[Any] = []
        self._keeping = False
        self._idle_lock = threading.Lock()  # the tests' own process reaches the engine from more than one thread

    def transaction(self, transaction_type=TransactionType.deferred, allow_nested=True):
        return SafeSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    def keep_connections(self) -> None:
        self._keeping = True

    async def close_kept(self) -> None:
        self._keeping = False
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def get_connection(self):
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite runs each connection in a thread that would hold the process open at exit: a process that
        # ends without `stop()` (a failed start, a crash) must still end.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def give_back(self, connection) -> None:
        if self._keeping and not connection.in_transaction:
            with self._idle_lock:
                if len(self._idle) < self.KEEP:
                    self._idle.append(connection)
                    return
        await connection.close()

    async def _run_in_new_connection(self, query: str, args=None, query_type: str = "generic", table=None):
        connection = await self.get_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                rows = await cursor.fetchall()
        except BaseException:
            await connection.close()
            raise
        await self.give_back(connection)
        return rows

    async def _run_in_existing_connection(self, connection, query: str, args=None, query_type: str = "generic",
                                          table=None):
        # piccolo sets foreign_keys before every statement; a connection has it from its opening (get_connection).
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


# Milliseconds. A lock wait past LOCK_TIMEOUT fails the statement (and the write is retried as a conflict);
# a transaction left idle (its client frozen or gone) is ended by the server past IDLE_IN_TRANSACTION.
SESSION_LIMITS = {"lock_timeout": "10000", "statement_timeout": "60000",
                  "idle_in_transaction_session_timeout": "15000"}
CONNECT_TIMEOUT_S = 10
POOL_WAIT_S = 10  # how long a query waits for a pooled connection before it gives up


class Unavailable(Exception):
    """The database (or Redis) cannot be reached now; the request may be tried again later."""

    def __init__(self, what: str):
        super().__init__(f"{what} is not answering")
        self.what = what


class BoundedPostgresTransaction(PostgresTransaction):
    async def get_connection(self):
        if self.engine.pool:
            return await self.engine.pool.acquire(timeout=POOL_WAIT_S)
        return await self.engine.get_new_connection()


class BoundedPostgresEngine(PostgresEngine):
    """piccolo's engine, except that nothing waits for ever for a pooled connection."""

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return BoundedPostgresTransaction(engine=self, allow_nested=allow_nested)

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None):
        async with self.pool.acquire(timeout=POOL_WAIT_S) as connection:
            return await connection.fetch(query, *(args or ()))


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        return SafeSQLiteEngine(path=path, timeout=30)
    return BoundedPostgresEngine(config={"dsn": database_url, "server_settings": SESSION_LIMITS,
                                  "timeout": CONNECT_TIMEOUT_S})


_engine: Engine | None = None


def engine() -> Engine:
    """The process's engine, built from DATABASE_URL on first use (piccolo_conf.py re-exports it)."""
    global _engine
    if _engine is None:
        from points.infra.config import settings

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


async def start(pool_max: int = 10, name: str = "jifen") -> None:
    """Open what a long-lived process (app, worker, command) keeps: SQLite's idle connections, or the PostgreSQL
    pool, its sessions named `name` (pg_stat_activity's application_name: which of the processes holds what)."""
    db = engine()
    if isinstance(db, SafeSQLiteEngine):
        db.keep_connections()
    if isinstance(db, PostgresEngine):
        db.config["server_settings"] = {**SESSION_LIMITS, "application_name": name}
        await db.start_connection_pool(min_size=1, max_size=pool_max, reset=_release)


def pool():
    """The PostgreSQL pool this process keeps (asyncpg's), or None (SQLite, or not started)."""
    db = engine()
    return getattr(db, "pool", None) if isinstance(db, PostgresEngine) else None


async def stop() -> None:
    db = engine()
    if isinstance(db, SafeSQLiteEngine):
        await db.close_kept()
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()


# asyncpg's words for a connection that went away (InternalClientError: a pooled connection used again while
# its broken operation was still being torn down).
_LOST = ("ConnectionDoesNotExistError", "AdminShutdownError", "CannotConnectNowError", "ConnectionFailureError",
         "ClientCannotConnectError", "TooManyConnectionsError", "InternalClientError")


def connection_lost(exc: BaseException) -> bool:
    """The database went away under this call (terminated backend, restart, network): worth one retry."""
    if type(exc).__name__ in _LOST or isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return type(exc).__name__ == "InterfaceError" and "closed" in str(exc)


def storage_full(exc: BaseException) -> bool:
    """The disk under the database or the data directory is full (or over quota): nothing of the attempt was
    kept — SQLite and PostgreSQL roll the transaction back, a file write fails whole — and the same request
    succeeds once space is back."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc)
        return "database or disk is full" in message or "disk I/O error" in message
    return type(exc).__name__ == "DiskFullError"  # asyncpg's name for PostgreSQL's 53100


def _retryable(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("DeadlockDetectedError", "SerializationError", "LockNotAvailableError"):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


_touched: ContextVar[set[int] | None] = ContextVar("jifen_touched_communities", default=None)


def touches(communities: Iterable[int]) -> None:
    """Within `write`: when it commits, these communities' members may see something new (announced then,
    points/infra/changes.py, so app processes stop trusting views they keep)."""
    touched = _touched.get()
    if touched is None:
        raise RuntimeError("touches() outside db.write: the change would never be announced")
    touched.update(communities)


async def write(fn: Callable[[], Awaitable[T]], attempts: int = 6) -> T:
    """Run `fn` in one write transaction, retrying transient conflicts; after the commit, announce the
    communities it `touches`.

    `fn` must do all its work through the database (no side effects outside
    it), since a retried attempt runs it again from the start.
    """
    db = engine()
    if _touched.get() is not None and db.transaction_exists():  # inside another write: its commit counts
        return await fn()
    lost = 0
    for attempt in range(1, attempts + 1):
        touched = _touched.set(set())
        try:
            if isinstance(db, SQLiteEngine):
                async with db.transaction(transaction_type=TransactionType.immediate):
                    result = await fn()
            else:
                async with db.transaction():
                    result = await fn()
            if communities := _touched.get():
                await changes.announce(communities)
            return result
        except Exception as exc:
            if connection_lost(exc):
                lost += 1
                if lost > 1:
                    raise Unavailable("the database") from exc
                log.warning("database connection lost during a write (%s); trying once more", type(exc).__name__)
                continue
            if attempt == attempts or not _retryable(exc):
                raise
            log.info("write conflict (%s), retry %d", type(exc).__name__, attempt)
            await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
        finally:
            _touched.reset(touched)
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


_statements: ContextVar[list[int] | None] = ContextVar("jifen_statements", default=None)


@contextmanager
def counting_statements() -> Iterator[list[int]]:
    """Count the statements `sql()` runs in this context (a request's, web/request_log.py): `[n]`, read at the end.
    A page's statements are its round trips to the database: the count is what keeps a view cheap."""
    counter = [0]
    token = _statements.set(counter)
    try:
        yield counter
    finally:
        _statements.reset(token)


async def sql(template: str, *args: Any) -> list[dict[str, Any]]:
    """Run one portable SQL statement; `{}` marks each argument. Outside a transaction, a read whose
    connection was lost is tried once more (inside one, `write()` retries the whole transaction)."""
    db = engine()
    if (counter := _statements.get()) is not None:
        counter[0] += 1
    try:
        rows = await db.run_querystring(QueryString(template, *args))
    except Exception as exc:
        if not connection_lost(exc):
            raise
        if db.current_transaction.get() is not None or not template.lstrip().upper().startswith("SELECT"):
            raise
        log.warning("database connection lost (%s); trying the statement once more", type(exc).__name__)
        try:
            rows = await db.run_querystring(QueryString(template, *args))
        except Exception as again:
            if connection_lost(again):
                raise Unavailable("the database") from again
            raise
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


def rows_values(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``(…), (…)`` for a multi-row ``INSERT … VALUES``, and its arguments in order: one statement for a batch
    (the target columns give each value its type, on both databases)."""
    return ", ".join("(" + marks(row) + ")" for row in rows), [value for row in rows for value in row]


def marks(values: Sequence[Any]) -> str:
    """The placeholders of an ``IN (…)`` list of `values`."""
    return ", ".join("{}" for _ in values)


def lock_rows_sql() -> str:
    """The suffix that locks selected rows until commit (a no-op on SQLite, whose write lock is global)."""
    return "" if is_sqlite() else " FOR UPDATE"


def skip_locked_sql() -> str:
    return "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
