"""Backup and restore: one archive (a tar file) holding a consistent copy of the database, every photo it
refers to, the secret key (embedded mode) and a manifest.

What it guarantees:
- The database copy is one snapshot taken while the app serves: SQLite's online backup API (embedded), or
  `pg_dump` in custom format on a snapshot exported from a transaction (production) — the row counts and
  the list of photos are read in that same snapshot, so they describe exactly what the copy holds.
- Photos are written before the report that refers to them commits, so every photo in the snapshot is in
  the store when it is copied (one missing is named in the manifest, never silently skipped). With object
  storage, which keeps its own copies, the archive lists the objects instead, and restore checks them.
- The manifest records the release, the migrations applied, the rules versions in use, row counts and the
  SHA-256 of every file. `restore` checks every file against it before anything reaches the target, writes
  only into an empty target (unless forced), runs the migrations forward, then reconciles.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from points import clock
from points.infra.config import Settings
from points.infra.photo_store import PhotoMissing, photo_store
from points.reports.intake import PHOTO_TABLES

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_NAME = "database/jifen.sqlite3"
PG_NAME = "database/jifen.pgdump"
SECRET_NAME = "secret_key"
PHOTO_LIST = "photos.txt"  # with object storage: the objects the snapshot refers to


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and names the file or tool."""


@dataclass
class Snapshot:
    """What the database copy holds: read in the copy's own snapshot."""

    migrations: list[str]
    rules_versions: list[str]
    counts: dict[str, int]
    photos: list[str]


def _release() -> str:
    try:
        return metadata.version("jifen")
    except metadata.PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------ reading a snapshot (both databases)

TABLES_SQL = {"sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
              "postgres": "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"}
MIGRATIONS_SQL = "SELECT name FROM migration WHERE app_name = 'points' ORDER BY name"


def _reads(tables: list[str]) -> tuple[str, str]:
    """The rules versions recorded (every scheme the deployment has run) and the photo files referred to, from
    the tables this database has (an older release's has fewer)."""
    photos = " UNION ".join(f"SELECT path FROM {t}" for t in PHOTO_TABLES if t in tables)
    return "SELECT version FROM rules_version ORDER BY 1", f"{photos} ORDER BY 1"


def _sqlite_snapshot(con: sqlite3.Connection) -> Snapshot:
    tables = [r[0] for r in con.execute(TABLES_SQL["sqlite"])]
    rules, photos = _reads(tables)
    return Snapshot([r[0] for r in con.execute(MIGRATIONS_SQL)], [r[0] for r in con.execute(rules)],
                    {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables},
                    [r[0] for r in con.execute(photos)])


async def _pg_snapshot(con: Any) -> Snapshot:
    tables = [r["name"] for r in await con.fetch(TABLES_SQL["postgres"])]
    rules, photos = _reads(tables)
    return Snapshot([r["name"] for r in await con.fetch(MIGRATIONS_SQL)], [r[0] for r in await con.fetch(rules)],
                    {t: await con.fetchval(f'SELECT COUNT(*) FROM "{t}"') for t in tables},
                    [r[0] for r in await con.fetch(photos)])


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: production backups need PostgreSQL's client tools "
                          f"(Debian: apt-get install postgresql-client, of a version at least the server's)")
    return found


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ------------------------------------------------------------------ backup


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_database(config: Settings, into: Path) -> tuple[str, Snapshot]:
    if not config.is_postgres:
        if not config.sqlite_path.is_file():
            raise BackupError(f"{config.sqlite_path}: no database here (is JIFEN_DATA_DIR right?)")
        target = into / SQLITE_NAME
        target.parent.mkdir(parents=True)
        source = sqlite3.connect(config.sqlite_path)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # online: writers go on, the copy is one consistent state
            snapshot = _sqlite_snapshot(copy)
        except sqlite3.Error as exc:
            raise BackupError(f"{config.sqlite_path}: {exc} (not a migrated Jifen database?)") from exc
        finally:
            copy.close()
            source.close()
        return SQLITE_NAME, snapshot
    return PG_NAME, asyncio.run(_dump_postgres(config, into / PG_NAME))


async def _dump_postgres(config: Settings, target: Path) -> Snapshot:
    import asyncpg

    pg_dump = _tool("pg_dump")
    target.parent.mkdir(parents=True)
    con = await asyncpg.connect(_libpq_url(config.database_url), timeout=10)
    try:
        async with con.transaction(isolation="repeatable_read", readonly=True):
            snapshot_id = await con.fetchval("SELECT pg_export_snapshot()")
            snapshot = await _pg_snapshot(con)
            done = await asyncio.to_thread(subprocess.run, [
                pg_dump, "--format=custom", f"--snapshot={snapshot_id}", "--no-owner", "--no-privileges",
                f"--file={target}", _libpq_url(config.database_url)], capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    finally:
        await con.close()
    return snapshot


def backup(config: Settings, dest: Path) -> tuple[Path, dict[str, Any]]:
    """Write one archive at `dest` (or, if `dest` is a directory, a dated file in it); return its path and
    manifest."""
    if dest.is_dir():
        dest = dest / f"jifen-backup-{clock.now():%Y%m%dT%H%M%SZ}.tar"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jifen-backup-", dir=dest.parent) as work:
        root = Path(work)
        database, snapshot = _copy_database(config, root)
        store = photo_store(config)
        missing = []
        if store.kind == "local":
            for name in snapshot.photos:
                try:
                    data = store.read(name) if _safe(name) else None
                except PhotoMissing:
                    data = None
                if data is None:
                    missing.append(name)
                    continue
                (root / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
                (root / "photos" / name).write_bytes(data)
        else:  # object storage keeps its own copies (versioning, replication): the archive lists what it needs
            (root / PHOTO_LIST).write_text("".join(f"{name}\n" for name in snapshot.photos))
        secret = config.data_dir / SECRET_NAME
        if not config.is_postgres and secret.is_file():
            shutil.copy2(secret, root / SECRET_NAME)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT, "release": _release(), "created_at": clock.now().isoformat(),
            "database": {"kind": "postgres" if config.is_postgres else "sqlite", "file": database},
            "migrations": snapshot.migrations, "rules_versions": snapshot.rules_versions,
            "row_counts": snapshot.counts, "photos": len(snapshot.photos) - len(missing), "photos_missing": missing,
            "photo_store": config.photo_store or "local",
            "files": {name: {"sha256": _sha256(root / name), "bytes": (root / name).stat().st_size} for name in files},
        }
        partial = dest.with_name(dest.name + ".part")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(clock.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            for name in files:
                tar.add(root / name, arcname=name, recursive=False)
        os.replace(partial, dest)  # the archive appears whole or not at all
    return dest, manifest


# ------------------------------------------------------------------ restore


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name and "\0" not in name


def unpack(src: Path, into: Path) -> dict[str, Any]:
    """Check the archive against its manifest while unpacking it into `into` (a scratch directory); raise
    BackupError naming the first file that is missing, extra, altered or unsafe."""
    try:
        with tarfile.open(src, "r") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise BackupError(f"{src}: not a Jifen backup (no {MANIFEST} first)")
            try:
                manifest = json.loads(tar.extractfile(first).read())
                expected = manifest["files"]
            except (ValueError, KeyError, TypeError) as exc:
                raise BackupError(f"{src}: {MANIFEST} is unreadable ({exc})") from exc
            if manifest.get("format") != FORMAT:
                raise BackupError(f"{src}: archive format {manifest.get('format')!r}, this release reads {FORMAT}")
            seen = set()
            for member in tar:
                name = member.name
                if member is first:
                    continue
                if not member.isfile() or name not in expected or not _safe(name) or name in seen:
                    raise BackupError(f"{src}: {name}: not listed in the manifest")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with tar.extractfile(member) as f, target.open("wb") as out:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                if digest.hexdigest() != expected[name]["sha256"]:
                    raise BackupError(f"{src}: {name}: checksum does not match the manifest (the archive is damaged)")
                seen.add(name)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{src}: unreadable archive ({exc})") from exc
    if missing := sorted(set(expected) - seen):
        raise BackupError(f"{src}: {missing[0]}: listed in the manifest but not in the archive")
    return manifest


def _target_holds_data(config: Settings) -> str | None:
    """What makes the target not empty, or None."""
    if config.is_postgres:
        async def tables() -> int:
            import asyncpg

            con = await asyncpg.connect(_libpq_url(config.database_url), timeout=10)
            try:
                return await con.fetchval("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")
            finally:
                await con.close()
        if n := asyncio.run(tables()):
            return f"the database already has {n} table(s)"
    elif config.sqlite_path.exists() and config.sqlite_path.stat().st_size > 0:
        return f"{config.sqlite_path} exists"
    if not config.photo_store and config.photo_dir.is_dir() and any(config.photo_dir.iterdir()):
        return f"{config.photo_dir} holds photos"
    return None


def restore(config: Settings, src: Path, force: bool = False) -> dict[str, Any]:
    """Check `src`, then put its database, photos and secret key in place of an empty target; return the
    manifest. The caller migrates forward and reconciles."""
    if not src.is_file():
        raise BackupError(f"{src}: no such archive")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=config.data_dir) as work:
        root = Path(work)
        manifest = unpack(src, root)
        kind = manifest["database"]["kind"]
        if kind != ("postgres" if config.is_postgres else "sqlite"):
            raise BackupError(f"{src}: a {kind} backup; restore it with the same kind of database "
                              f"({'set' if kind == 'postgres' else 'unset'} DATABASE_URL)")
        if (why := _target_holds_data(config)) and not force:
            raise BackupError(f"the target is not empty: {why}; restore into an empty one, or pass --force to "
                              "replace what is there")
        database = root / manifest["database"]["file"]
        if config.is_postgres:
            _restore_postgres(config, database, force)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{config.sqlite_path}{suffix}").unlink(missing_ok=True)
            os.replace(database, config.sqlite_path)
        store = photo_store(config)
        if (root / "photos").is_dir():  # into whichever store this deployment uses: disk to S3 is a restore
            for photo in (root / "photos").rglob("*"):
                if photo.is_file():
                    store.put(str(photo.relative_to(root / "photos")), photo.read_bytes())
        if (root / PHOTO_LIST).is_file():
            listed = (root / PHOTO_LIST).read_text().split()
            manifest["photos_missing"] = [name for name in listed if not store.exists(name)]
        if (root / SECRET_NAME).is_file() and (force or not (config.data_dir / SECRET_NAME).exists()):
            os.replace(root / SECRET_NAME, config.data_dir / SECRET_NAME)
    return manifest


def _restore_postgres(config: Settings, dump: Path, force: bool) -> None:
    pg_restore = _tool("pg_restore")
    url = _libpq_url(config.database_url)
    if force:
        done = subprocess.run([_tool("psql"), url, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                               "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"], capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"emptying the database failed: {done.stderr.strip()}")
    done = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={url}",
                           str(dump)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def counts_now(config: Settings) -> dict[str, int]:
    """Row counts of the (restored) database, table by table."""
    if not config.is_postgres:
        con = sqlite3.connect(config.sqlite_path)
        try:
            return _sqlite_snapshot(con).counts
        finally:
            con.close()

    async def read() -> dict[str, int]:
        import asyncpg

        con = await asyncpg.connect(_libpq_url(config.database_url), timeout=10)
        try:
            return (await _pg_snapshot(con)).counts
        finally:
            await con.close()
    return asyncio.run(read())
