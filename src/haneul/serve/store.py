"""The job store: video jobs and characters in one SQL database (SQLite file or PostgreSQL), via SQLAlchemy.

Everything that must survive a crash lives here. Workers claim jobs atomically: on PostgreSQL with
`SELECT ... FOR UPDATE SKIP LOCKED` (many workers, many machines, no two get the same job); on SQLite,
where that clause does not exist, with one `UPDATE ... WHERE status = 'queued'` whose result is read back
by a random claim token (SQLite runs writes one at a time, so the update is the lock).

A claimed job carries its worker's heartbeat. A job whose heartbeat is older than `stale_after` seconds
is put back in the queue (its worker died: SIGKILL, power loss); after `max_attempts` such losses it fails
with the reason, so every job ends `completed` or `failed`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import (
    Float,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.schema import CreateIndex

VIDEO_ID = re.compile(r"^video_[0-9a-f]{32}$")
CHARACTER_ID = re.compile(r"^char_[0-9a-f]{32}$")
ACTIVE = ("queued", "in_progress")


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One video job: the OpenAI `Video` object plus what a worker needs to make it."""

    __tablename__ = "videos"
    # GET /v1/videos: one key's jobs in creation order, read straight off this index
    __table_args__ = (Index("ix_videos_owner_created", "owner", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # API key name; jobs are private to it
    kind: Mapped[str] = mapped_column(String(16))  # create | remix | edit | extend | storyboard
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | in_progress | completed | failed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(64))  # the API model name (sora-2 ...)
    prompt: Mapped[str] = mapped_column(Text)
    size: Mapped[str] = mapped_column(String(16))  # "WxH"
    seconds: Mapped[str] = mapped_column(String(8))  # total duration of the finished video
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: seed, input files, source video, shots
    remixed_from: Mapped[str | None] = mapped_column(String(48), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far (a lost worker costs one)
    # Set when completed: the caption the model actually saw (the expanded prompt) and how it was made
    # (JSON of GeneratedVideo.metadata["expansion"]: caption, unknown_words, source, warnings; or null).
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    expansion: Mapped[str | None] = mapped_column(Text, nullable=True)

    def param(self, name: str, default=None):
        return json.loads(self.params or "{}").get(name, default)

    def expansion_dict(self) -> dict | None:
        return json.loads(self.expansion) if self.expansion else None


class Character(Base):
    __tablename__ = "characters"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[float] = mapped_column(Float)


@dataclass
class Page:
    jobs: list[Job]
    has_more: bool


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def _add_statement():
    """INSERT INTO videos (...) SELECT :id, ... WHERE (the owner's queued + running jobs) < :max_active."""
    table = Job.__table__
    # literal values: an IN of bound values is expanded again at every execution
    is_active = text(f"videos.status IN ({', '.join(repr(s) for s in ACTIVE)})")
    active = (
        select(func.count()).select_from(table).where(table.c.owner == bindparam("owner"), is_active)
    ).scalar_subquery()
    # typed: PostgreSQL cannot infer the type of a bare parameter in a SELECT list (a NULL would be text)
    row = select(*[cast(bindparam(c.key, type_=c.type), c.type) for c in table.columns])
    statement = insert(table).from_select(
        [c.key for c in table.columns], row.where(active < bindparam("max_active", type_=Integer()))
    )
    return statement.execution_options(preserve_rowcount=True)  # else an INSERT's rowcount is -1 (psycopg)


# The API's statements, built once: building one costs more CPU than running it on SQLite.
_COLUMNS = list(Job.__table__.columns)
_ADD = _add_statement()
_VIEW = select(Job.__table__).where(Job.__table__.c.id == bindparam("id"))


def make_engine(url: str, autocommit: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL (readers never wait for the writer) and a busy timeout.

    `autocommit` engines are for single statements (reads, and writes that are one statement, so atomic
    on their own). PostgreSQL: each round trip to the server is a wake-up of its backend process, which on
    a machine whose cores the workers keep busy is what API latency is made of; a statement in a
    transaction costs four (pre-ping, BEGIN, the statement, COMMIT/ROLLBACK), in autocommit without
    pre-ping one. (JobStore retries such a statement once if its connection had died.) The pool keeps 20
    connections (more than the API's usual concurrency), so under load none is opened and closed per
    request; bursts up to anyio's 40 threads get overflow connections. SQLite: a write in autocommit holds
    the database's one write lock only while SQLite runs the statement, not also while Python gets from
    the statement to COMMIT, and a worker (at a low CPU priority) that loses its core in that window keeps
    the API's writes waiting (SQLite's busy handler then sleeps 1, 2, 5, 10... ms between tries).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        if autocommit:
            return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=20, max_overflow=20)
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=20)
    level = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **level)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across process kills
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def upgrade_schema(engine: Engine) -> None:
    """Add columns and indexes that newer versions of this module declare to tables an older one created.

    create_all() makes missing tables but never alters existing ones, and a database made by an earlier
    haneul must keep working (its jobs survive upgrades too). Only nullable columns are ever added.
    """
    existing = inspect(engine)
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
            except DBAPIError:  # another process (API, worker) starting at the same time added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
        for index in table.indexes:  # indexes added since (IF NOT EXISTS: safe against a racing process)
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    str(CreateIndex(index, if_not_exists=True).compile(dialect=engine.dialect))
                )


class JobStore:
    """All database access of the API and the workers, as short transactions."""

    def __init__(self, url: str, stale_after: float = 30.0, max_attempts: int = 3):
        self.engine = make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # single statements (reads, the API's insert, on SQLite the workers' updates): see make_engine
        self.reader = make_engine(url, autocommit=True)
        self.reads = sessionmaker(self.reader, expire_on_commit=False)
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self._next_requeue = 0.0
        Base.metadata.create_all(self.engine)
        upgrade_schema(self.engine)

    # --- API side -------------------------------------------------------------------------------------

    def add(self, job: Job | SimpleNamespace, max_active: int | None = None) -> bool:
        """Insert `job` (a Job, or any object with its columns as attributes); False (and nothing inserted)
        if its owner already has `max_active` queued or running jobs. One statement (INSERT ... SELECT ... WHERE the count is under the limit), built once:
        on SQLite the count and the insert are one atomic step under the write lock, on PostgreSQL one
        round trip; and no ORM, no statement building per create, on cores the workers keep busy."""
        values = {c.key: getattr(job, c.key) for c in _COLUMNS}
        for column in _COLUMNS:  # the columns' Python defaults (progress 0, params "{}"...), as the ORM does
            if values[column.key] is None and column.default is not None and column.default.is_scalar:
                values[column.key] = column.default.arg
        values["max_active"] = max_active if max_active is not None else 2**31 - 1  # SQL INTEGER
        try:
            return self._insert(values)
        except DBAPIError as e:
            if not e.connection_invalidated:
                raise
        try:  # once more on a new connection: pooled ones are not pinged before use (see make_engine)
            return self._insert(values)
        except IntegrityError:  # the same id: the first try had inserted it before its connection died
            return True

    def _insert(self, values: dict) -> bool:
        with self.reader.connect() as c:
            return c.execute(_ADD, values).rowcount == 1

    def _read(self, read, orm: bool = True):
        """`read(session)` in a read session (`orm=False`: `read(connection)`, without the ORM); once more
        if its pooled connection had died (a restarted PostgreSQL), since read connections are not
        pinged before use."""
        for attempt in (1, 2):
            try:
                with self.reads() if orm else self.reader.connect() as s:
                    return read(s)
            except DBAPIError as e:
                if attempt == 2 or not e.connection_invalidated:
                    raise

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        job = self._read(lambda s: s.get(Job, job_id))
        return job if job is not None and (owner is None or job.owner == owner) else None

    def view(self, job_id: str, owner: str) -> Row | None:
        """`owner`'s job as a read-only row with Job's column attributes, or None: what the API's
        GET /v1/videos/{id} (clients polling, most of its requests) needs.

        A plain Core row costs about a third of the CPU of an ORM Job (session, identity map,
        instrumented object: ~1 ms per read here), and the API does this read on cores the workers
        keep busy, where every millisecond of CPU is several of latency.
        """
        row = self._read(lambda c: c.execute(_VIEW, {"id": job_id}).first(), orm=False)
        return row if row is not None and row.owner == owner else None

    def list(self, owner: str, after: str | None, limit: int, order: str) -> Page | None:
        """A page of `owner`'s jobs by creation time; None if `after` names no job of theirs."""
        return self._read(lambda s: self._page(s, owner, after, limit, order))

    def _page(self, s: Session, owner: str, after: str | None, limit: int, order: str) -> Page | None:
        desc = order == "desc"
        query = select(Job).where(Job.owner == owner)
        if after is not None:
            anchor = s.get(Job, after)
            if anchor is None or anchor.owner != owner:
                return None
            # (created_at, id) strictly past the anchor's: stable even when timestamps are equal
            if desc:
                past = or_(
                    Job.created_at < anchor.created_at,
                    (Job.created_at == anchor.created_at) & (Job.id < anchor.id),
                )
            else:
                past = or_(
                    Job.created_at > anchor.created_at,
                    (Job.created_at == anchor.created_at) & (Job.id > anchor.id),
                )
            query = query.where(past)
        keys = (Job.created_at.desc(), Job.id.desc()) if desc else (Job.created_at, Job.id)
        rows = list(s.scalars(query.order_by(*keys).limit(limit + 1)))
        return Page(jobs=rows[:limit], has_more=len(rows) > limit)

    def delete(self, job_id: str, owner: str) -> bool:
        with self.sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is None or job.owner != owner:
                return False
            s.delete(job)
        return True

    def count_active(self, owner: str) -> int:
        return self._read(lambda c: c.execute(self._active_count(owner)).scalar(), orm=False)

    @staticmethod
    def _active_count(owner: str):
        return select(func.count()).select_from(Job).where(Job.owner == owner, Job.status.in_(ACTIVE))

    def add_character(self, character: Character) -> Character:
        with self.sessions.begin() as s:
            s.add(character)
        return character

    def get_character(self, character_id: str, owner: str) -> Character | None:
        character = self._read(lambda s: s.get(Character, character_id))
        return character if character is not None and character.owner == owner else None

    # --- worker side ----------------------------------------------------------------------------------

    def claim(self, worker_id: str) -> Job | None:
        """Take the oldest queued job for `worker_id`, or None. Safe with any number of workers."""
        now = time.time()
        if now >= self._next_requeue:  # a few times per timeout is enough, and spares SQLite's write lock
            self._next_requeue = now + min(5.0, self.stale_after / 4)
            self.requeue_stale()
        if self.is_postgres:
            with self.sessions.begin() as s:
                query = select(Job).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(1)
                job = s.scalars(query.with_for_update(skip_locked=True)).first()
                if job is None:
                    return None
                job.status, job.worker_id, job.heartbeat_at = "in_progress", worker_id, now
                job.started_at = job.started_at or now
                job.attempts += 1
            return job
        token = secrets.token_hex(16)
        oldest = select(Job.id).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(1)
        with self._write() as s:
            claimed = s.execute(
                update(Job)
                .where(Job.id == oldest.scalar_subquery(), Job.status == "queued")
                .values(
                    status="in_progress",
                    worker_id=worker_id,
                    claim_token=token,
                    heartbeat_at=now,
                    started_at=now,
                    attempts=Job.attempts + 1,
                )
            ).rowcount
        if not claimed:
            return None
        with self.sessions() as s:
            return s.scalars(select(Job).where(Job.claim_token == token)).first()

    def requeue_stale(self) -> None:
        """Jobs of dead workers go back to the queue, or fail once they have cost `max_attempts` claims."""
        cutoff = time.time() - self.stale_after
        stale = (Job.status == "in_progress", Job.heartbeat_at < cutoff)
        # two statements, each right on its own: the jobs to fail and those to re-queue are disjoint
        with self._write() as s:
            s.execute(
                update(Job)
                .where(*stale, Job.attempts >= self.max_attempts)
                .values(
                    status="failed",
                    error_code="worker_lost",
                    error_message=f"the worker running this job stopped responding {self.max_attempts} times",
                    completed_at=time.time(),
                    worker_id=None,
                )
            )
            s.execute(
                update(Job)
                .where(*stale, Job.attempts < self.max_attempts)
                .values(status="queued", worker_id=None, claim_token=None, progress=0)
            )

    def _update_mine(self, job_id: str, worker_id: str, values: dict) -> bool:
        """Update a job this worker still owns; False if it was deleted or taken away meanwhile."""
        statement = (
            update(Job)
            .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "in_progress")
            .values(**values)
        )
        with self._write() as c:
            return c.execute(statement).rowcount == 1

    def _write(self):
        """A connection for the workers' writes that are single statements: on SQLite in autocommit, so each
        holds the database's write lock only while SQLite runs it (see make_engine); on PostgreSQL a
        transaction on a pinged connection (row locks there keep nobody else waiting)."""
        return self.engine.begin() if self.is_postgres else self.reader.connect()

    def heartbeat(self, job_id: str, worker_id: str) -> bool:
        return self._update_mine(job_id, worker_id, {"heartbeat_at": time.time()})

    def set_progress(self, job_id: str, worker_id: str, progress: int) -> bool:
        return self._update_mine(job_id, worker_id, {"progress": progress, "heartbeat_at": time.time()})

    def complete(
        self, job_id: str, worker_id: str, caption: str | None = None, expansion: dict | None = None
    ) -> bool:
        done = {
            "status": "completed",
            "progress": 100,
            "completed_at": time.time(),
            "caption": caption,
            "expansion": json.dumps(expansion) if expansion is not None else None,
        }
        return self._update_mine(job_id, worker_id, done)

    def release(self, job_id: str, worker_id: str) -> bool:
        """Give a job back to the queue (the worker is shutting down); this claim does not count."""
        back = {
            "status": "queued",
            "worker_id": None,
            "claim_token": None,
            "progress": 0,
            "attempts": Job.attempts - 1,
        }
        return self._update_mine(job_id, worker_id, back)

    def fail(self, job_id: str, worker_id: str, code: str, message: str) -> bool:
        failed = {
            "status": "failed",
            "error_code": code,
            "error_message": message,
            "completed_at": time.time(),
        }
        return self._update_mine(job_id, worker_id, failed)
