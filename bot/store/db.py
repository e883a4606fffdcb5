"""The database handle: engine, sessions, and migrations applied through Alembic.

A ``DATABASE_URL`` that cannot work (a typo, a driver SQLAlchemy lacks, a server that is not
there, a database or user that does not exist) raises ``DatabaseUnavailable`` when the handle is
made or first connects, with the fix in one line, instead of a driver traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.errors import FixableError

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x6D6F636B  # "mock": the advisory lock key migrations hold on PostgreSQL
URL_FORMS = "sqlite:////path/to/mockingbird.db or postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"


@dataclass(frozen=True)
class Revision:
    """The migration a database is at (None: never migrated) and the newest this code has."""

    current: str | None
    head: str | None
    known: bool  # False: a newer Mockingbird migrated it; this one cannot read or upgrade it

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def problem(self) -> FixableError | None:
        """None when up to date; otherwise what is wrong and the command that fixes it."""
        if self.up_to_date:
            return None
        if not self.known:
            return FixableError(f"The database is at revision {self.current}, which this version of Mockingbird "
                                f"does not know (a newer version migrated it)", "run the newer version")
        at = f"at revision {self.current}" if self.current else "empty (no migrations applied)"
        return FixableError(f"The database is {at}; this version expects {self.head}", "run `mockingbird db upgrade`")


class DatabaseUnavailable(FixableError):
    """``DATABASE_URL`` cannot be opened: why, and what to change (never the password)."""


def parse_url(url: str) -> URL:
    """Check what needs no connection: the syntax, the driver, an SQLite file's directory."""
    try:
        parsed = make_url(url)
    except ArgumentError:  # the text itself is not shown: it may hold a password
        raise DatabaseUnavailable("DATABASE_URL is not a database URL", f"write it like {URL_FORMS}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # what Heroku and others hand out; SQLAlchemy 1.4+ refuses it
        raise DatabaseUnavailable("DATABASE_URL starts with postgres://, a name SQLAlchemy does not accept",
                                  "write postgresql+psycopg:// instead (the rest of the URL stays)")
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise DatabaseUnavailable(f"DATABASE_URL names the driver {parsed.drivername!r}, "
                                  "which is not installed or not supported",
                                  f"Mockingbird runs on SQLite and PostgreSQL: {URL_FORMS}") from None
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not parsed.database.startswith("file:"):
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise DatabaseUnavailable(f"DATABASE_URL points at an SQLite file in {folder}, which is not a directory",
                                      f"create it (mkdir -p {folder}) or correct the path")
    return parsed


def explain_connect_error(exc: DBAPIError, url: URL) -> DatabaseUnavailable:
    """The driver's reason for refusing a connection, as one line and the fix for it."""
    reason = str(exc.orig if exc.orig is not None else exc).strip()
    lower = reason.lower()
    if url.get_backend_name() == "sqlite":
        return DatabaseUnavailable(f"Cannot open the SQLite database {url.database} ({reason.splitlines()[0]})",
                                   "check that the file is a database and its directory is writable")
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "connection refused" in lower:
        return DatabaseUnavailable(f"Nothing accepts database connections at {where} (connection refused)",
                                   "start PostgreSQL there, or correct the host and port in DATABASE_URL")
    if "failed to resolve host" in lower or "could not translate host name" in lower:
        return DatabaseUnavailable(f"The database host {url.host!r} is unknown", "correct the host in DATABASE_URL")
    if 'database "' in lower and "does not exist" in lower:
        return DatabaseUnavailable(f"The database {url.database!r} does not exist on {where}",
                                   f"create it (createdb -h {url.host or 'localhost'} -p {url.port or 5432} "
                                   f"{url.database}) or correct its name in DATABASE_URL")
    if ('role "' in lower and "does not exist" in lower) or "authentication failed" in lower \
            or "no password supplied" in lower:
        return DatabaseUnavailable(f"PostgreSQL at {where} refused the user {url.username!r}",
                                   "correct the user name and password in DATABASE_URL")
    if "timeout" in lower or "timed out" in lower:
        return DatabaseUnavailable(f"No answer from the database at {where} in time",
                                   "check the host, the port and any firewall between")
    first = reason.splitlines()[0] if reason else type(exc.orig).__name__
    return DatabaseUnavailable(f"Cannot connect to the database at {where} ({first})",
                               "check DATABASE_URL and that the server is running")


def make_engine(url: str) -> Engine:
    """An engine tuned per backend: SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pre-ping: it would cost a round trip on every checkout, and a bot transaction is only a
    # handful of statements. A connection the server dropped fails its statement instead; then
    # SQLAlchemy invalidates the whole pool, so only work in flight at that moment sees the error.
    # Recycling bounds how long an idle connection can sit behind a silently closed socket.
    return create_engine(url, pool_size=20, max_overflow=20, pool_recycle=300)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """One engine and session factory per process; cheap to pass around."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.parsed = parse_url(url)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def connect(self) -> Connection:
        """A connection; one that cannot be made raises ``DatabaseUnavailable`` with the fix."""
        try:
            return self.engine.connect()
        except DBAPIError as exc:
            raise explain_connect_error(exc, self.parsed) from exc

    def revision(self) -> Revision:
        """Where the database's migrations stand against this code's (reads; changes nothing)."""
        scripts = ScriptDirectory.from_config(alembic_config(self.url))
        with self.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        known = current is None or current in {script.revision for script in scripts.walk_revisions()}
        return Revision(current=current, head=scripts.get_current_head(), known=known)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection without a transaction, for one statement that needs none (a read, or a
        single atomic UPDATE): it saves the BEGIN and COMMIT round trips."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to ``revision`` (idempotent).

        On PostgreSQL a transaction-scoped advisory lock makes processes starting together
        (replicas, gunicorn workers) migrate one after the other; the later ones find nothing to do.
        """
        with self.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def downgrade(self, revision: str) -> None:
        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()


class NoDatabaseYet(FixableError):
    """A reading command found no database, or one that needs migrating first."""

    exit_code = 1


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database for a command that writes: with ``migrate`` the default SQLite file's
    directory is created and migrations are applied. A ``DATABASE_URL`` that cannot work raises
    ``DatabaseUnavailable`` (one line with the fix)."""
    if migrate and not settings.database_url:
        settings.ensure_data_dir()
    db = Database(settings.resolved_database_url)
    if migrate:
        db.upgrade()
    return db


def open_existing_database(settings: Settings) -> Database:
    """The database for a command that only reads (``stats``): never created, never migrated.

    A missing default SQLite file, or a database behind this code's migrations, raises
    ``NoDatabaseYet`` saying what to run: creating or migrating it is for commands that write.
    """
    if not settings.database_url and not settings.default_database_path.is_file():
        raise NoDatabaseYet(f"There is no database yet at {settings.default_database_path}",
                            "it is created by the first `mockingbird practice` (or `mockingbird db upgrade`)")
    db = Database(settings.resolved_database_url)
    problem = db.revision().problem()
    if problem is not None:
        db.dispose()
        raise NoDatabaseYet(problem.problem, problem.fix)
    return db
