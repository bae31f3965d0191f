"""Race tests that prove blocking, as Django's own ``select_for_update`` tests do (test support).

A race test runs the real service twice, each call in its own thread with its own database connection:

1. the *holder* starts and stops inside its transaction, right after a named statement (``pause_after``, e.g.
   the ``SELECT … FOR UPDATE`` of the bank rows) or where its function calls :func:`pause_here`: it holds
   whatever it has locked so far and nothing is committed;
2. the *contender* starts, and :meth:`Race.assert_waits` proves that it stands blocked by the holder — on
   PostgreSQL the server says so (``pg_blocking_pids`` of the contender's backend names the holder's, and its
   statement is the expected one); on SQLite, which has no row locks and serialises writers with
   ``BEGIN IMMEDIATE``, the contender stands in its ``BEGIN IMMEDIATE`` while the holder has the database's
   write lock (a third connection's ``BEGIN IMMEDIATE`` is refused at once), and is still there a moment later;
3. the holder resumes and commits; the contender gets its lock, re-checks what it read, and refuses or skips —
   the test asserts what each call returned or raised and what the database holds.

Without the lock (on SQLite: without BEGIN IMMEDIATE) the contender does not wait and step 2 fails: the test
cannot pass by luck of scheduling. Every wait is bounded (:data:`WAIT_LIMIT`): a broken test fails, it never
hangs. The tests need committed data that other connections see: mark them ``transactional_db`` (or
``django_db(transaction=True)``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, connections

WAIT_LIMIT = 20.0  # seconds: longer than anything a passing test waits for; reached only by a failing one
STILL = 0.3  # SQLite: how long a blocked writer must stay in its BEGIN IMMEDIATE (it waits up to 30 s there)
POLL = 0.01


@dataclass(frozen=True)
class Statement:
    """One statement of a service, recognised in the SQL Django sends: ``seen`` recognises it on any database
    (a holder stops right after it), ``waits`` is the form in which a PostgreSQL contender waits at it (a
    ``SELECT … FOR UPDATE``: a holder still stops at the SELECT if the lock were removed, and the contender is
    then seen not to wait). On SQLite every writer waits at its BEGIN IMMEDIATE."""

    description: str
    seen: Callable[[str], bool]
    waits: Callable[[str], bool]


def row_lock(table: str) -> Statement:
    """``SELECT … FROM table … FOR UPDATE`` (on SQLite, where ``select_for_update`` is a no-op: the SELECT)."""
    source = f'FROM "{table}"'

    def seen(sql: str) -> bool:
        return sql.startswith("SELECT") and source in sql

    return Statement(
        f"SELECT … FROM {table} … FOR UPDATE", seen, lambda sql: seen(sql) and "FOR UPDATE" in sql
    )


def insert_into(table: str) -> Statement:
    """``INSERT INTO table`` (on PostgreSQL a second insert of the same unique key waits for the first one's
    transaction to end)."""
    target = f'INSERT INTO "{table}"'
    return Statement(f"INSERT INTO {table}", lambda sql: target in sql, lambda sql: target in sql)


def _advisory(sql: str) -> bool:
    return "pg_advisory_xact_lock" in sql


ADVISORY_LOCK = Statement("SELECT pg_advisory_xact_lock(…)", _advisory, _advisory)


class Session(threading.Thread):
    """One call of ``fn`` in its own thread, on its own connection; it may stop inside its transaction."""

    def __init__(self, name: str, fn: Callable[[], Any], pause_after: Statement | None) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = fn
        self.pause_after = pause_after
        self.pid: int | None = None  # the PostgreSQL backend of this session's connection
        self.statement: str | None = None  # the SQL this session is executing right now
        self.paused = threading.Event()
        self._resume = threading.Event()
        self._connected = threading.Event()
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            connection.ensure_connection()
            if connection.vendor == "postgresql":
                self.pid = connection.connection.info.backend_pid
            self._connected.set()
            with connection.execute_wrapper(self._watch):
                self._result = self.fn()
        except BaseException as exc:  # handed to the test by result()
            self._error = exc
        finally:
            connections.close_all()
            self._done.set()

    def _watch(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statement = sql
        try:
            result = execute(sql, params, many, context)
        finally:
            self.statement = None
        stop = self.pause_after
        if (
            stop is not None
            and stop.seen(sql)
            and context["connection"].in_atomic_block
            and not self.paused.is_set()
        ):
            self.pause()
        return result

    def pause(self) -> None:
        """Stand still here (inside the transaction: its locks held) until the test resumes this session."""
        self.paused.set()
        if not self._resume.wait(WAIT_LIMIT):
            raise AssertionError(f"{self.name} was never resumed")

    def resume(self) -> None:
        self._resume.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait_connected(self) -> None:
        if not self._connected.wait(WAIT_LIMIT):
            raise AssertionError(f"{self.name} never connected: {self._error!r}")

    def wait_paused(self) -> None:
        """Wait until the session stands at its pause (fail if it finished without reaching it)."""
        deadline = time.monotonic() + WAIT_LIMIT
        while not self.paused.wait(POLL):
            if self.done:
                raise AssertionError(f"{self.name} ended before its pause: {self._outcome()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never reached its pause")

    def result(self) -> Any:
        """What ``fn`` returned, once it ended (its exception is raised here)."""
        self.join(WAIT_LIMIT)
        if self.is_alive():
            raise AssertionError(f"{self.name} did not end (last statement: {self.statement})")
        if self._error is not None:
            raise self._error
        return self._result

    def _outcome(self) -> str:
        return f"raised {self._error!r}" if self._error is not None else f"returned {self._result!r}"


class Race:
    """The sessions of one race test; see the module docstring."""

    def __init__(self) -> None:
        assert connection.vendor in {"postgresql", "sqlite"}, connection.vendor
        if connection.vendor == "sqlite":
            assert not connection.is_in_memory_db(), "race tests need a file database"
            assert connection.settings_dict["OPTIONS"].get("transaction_mode") == "IMMEDIATE"
        self.sessions: list[Session] = []

    def hold(self, name: str, fn: Callable[[], Any], *, pause_after: Statement | None = None) -> Session:
        """Start ``fn`` and wait until it stands at its pause: after ``pause_after`` inside its transaction, or
        where ``fn`` calls :func:`pause_here`."""
        session = self._start(name, fn, pause_after)
        session.wait_paused()
        return session

    def contend(self, name: str, fn: Callable[[], Any]) -> Session:
        """Start ``fn`` (on its own connection) and return at once."""
        return self._start(name, fn, None)

    def _start(self, name: str, fn: Callable[[], Any], pause_after: Statement | None) -> Session:
        session = Session(name, fn, pause_after)
        self.sessions.append(session)
        session.start()
        session.wait_connected()
        return session

    def assert_waits(self, contender: Session, *, on: Session, at: Statement) -> None:
        """Prove that ``contender`` stands blocked by ``on`` (which is paused inside its transaction): at
        statement ``at`` on PostgreSQL, at its BEGIN IMMEDIATE on SQLite."""
        assert on.paused.is_set() and not on.done, f"{on.name} does not hold its transaction open"
        if connection.vendor == "postgresql":
            self._blocked_on_postgresql(contender, on, at)
        else:
            self._blocked_on_sqlite(contender, on)

    def _blocked_on_postgresql(self, contender: Session, holder: Session, at: Statement) -> None:
        """Poll the server until it shows the contender waiting for a lock the holder's backend holds, at the
        expected statement (the statistics snapshot and the lock table are read a moment apart: a sighting that
        does not yet show both is polled again, and only the last one is reported on failure)."""
        deadline = time.monotonic() + WAIT_LIMIT
        seen: tuple[Any, ...] | None = None
        while time.monotonic() < deadline:
            if contender.done:
                raise AssertionError(
                    f"{contender.name} did not wait for {holder.name}: it {contender._outcome()}"
                )
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_blocking_pids(pid), wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE pid = %s",
                    [contender.pid],
                )
                seen = cursor.fetchone()
            if seen is not None and holder.pid in seen[0] and seen[1] == "Lock" and at.waits(seen[3]):
                return
            time.sleep(POLL)
        if seen is not None and holder.pid in seen[0]:
            raise AssertionError(
                f"{contender.name} waits for {holder.name}, but not at {at.description}: "
                f"{seen[1]}/{seen[2]} at {seen[3]}"
            )
        raise AssertionError(
            f"{contender.name} was never blocked by {holder.name} (backend {holder.pid}) within {WAIT_LIMIT} s; "
            f"last seen (blocking pids, wait event type, wait event, query): {seen}"
        )

    def _blocked_on_sqlite(self, contender: Session, holder: Session) -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        while not _begins(contender.statement):
            if contender.done:
                raise AssertionError(
                    f"{contender.name} did not wait for {holder.name}: it {contender._outcome()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{contender.name} never stood at BEGIN IMMEDIATE (last statement: {contender.statement})"
                )
            time.sleep(POLL)
        assert _write_lock_taken(), f"{holder.name} does not hold the database's write lock"
        time.sleep(STILL)  # it stays blocked while the holder keeps the lock: it does not end on its own
        assert _begins(contender.statement) and not contender.done, (
            f"{contender.name} went past BEGIN IMMEDIATE while {holder.name} held the write lock"
        )

    def close(self) -> list[str]:
        """Resume every session and wait for all of them (so no lock outlives the test); the names of those that
        did not end."""
        for session in self.sessions:
            session.resume()
        for session in self.sessions:
            session.join(WAIT_LIMIT)
        return [s.name for s in self.sessions if s.is_alive()]


@contextmanager
def race() -> Iterator[Race]:
    """A :class:`Race` whose sessions are all resumed and ended when the block is left (even on failure)."""
    current = Race()
    try:
        yield current
    finally:
        alive = current.close()
    assert not alive, (
        f"sessions still running: {alive}"
    )  # (not reached when the test failed inside the block)


def pause_here() -> None:
    """Called by a session's function: stand still here, transaction and locks held, until resumed."""
    session = threading.current_thread()
    assert isinstance(session, Session), "pause_here() runs inside a race session"
    session.pause()


def _begins(statement: str | None) -> bool:
    return statement is not None and statement.startswith("BEGIN IMMEDIATE")


def _write_lock_taken() -> bool:
    """Whether another connection holds the SQLite database's write lock: a third connection's BEGIN IMMEDIATE
    is refused at once."""
    probe = sqlite3.connect(Path(str(connection.settings_dict["NAME"])), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()
