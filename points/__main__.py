"""Operations commands: `python -m points COMMAND` (see docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable

from points.infra.config import ConfigError, settings
from points.vocabulary import Role


def _migrate() -> int:
    config = settings()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if not config.is_postgres:
        from points.infra.db import prepare_sqlite_file

        prepare_sqlite_file(str(config.sqlite_path))
    done = subprocess.run([sys.executable, "-m", "piccolo.main", "migrations", "forwards", "points"],
                          env={**os.environ, "PICCOLO_CONF": "piccolo_conf"}, capture_output=True, text=True)
    ran = re.findall(r"^\s*- (\S+) \[forwards\]", done.stdout, re.MULTILINE)
    if done.returncode != 0:  # what failed, without the help text piccolo prints after it
        print(done.stdout.split("\nforwards\n")[0].rstrip(), done.stderr.rstrip(), sep="\n", file=sys.stderr)
        return done.returncode
    print(f"Database schema up to date: ran {len(ran)} migration(s), the last {ran[-1]}." if ran
          else "Database schema up to date: nothing to run.")
    return 0


async def _seed_demo() -> int:
    from points.ops import demo

    made = await demo.seed()
    if made is None:
        print("The database has other data; no demo data added.")
        return 0
    place, neighbour, street = demo.DEMO["community"], demo.DEMO["neighbour"], demo.DEMO["street"]
    print(f"Demo community {place['name']} ({place['code']}) with grids G1-G4, and {neighbour['name']} "
          f"({neighbour['code']}, a scheme of its own), both in {street['name']} ({street['code']})"
          f"{'' if made else ', from an earlier run (./dev run --fresh starts again)'}. Logins (phone / password):")
    for role, name, phone, password in demo.logins():
        print(f"  {role:<9} {name}  {phone} / {password}")
    return 0


async def _add_area(args: argparse.Namespace) -> int:
    from points.areas import tree as areas

    aid = await areas.create_area(args.code, args.name, args.kind, args.parent)
    print(f"{args.kind} {args.code} created (id {aid})")
    return 0


async def _add_community(args: argparse.Namespace) -> int:
    from points.areas import tree as areas
    from points.people import communities

    if args.area:
        await areas.area_by_code(args.area, "--area")
    cid = await communities.create_community(args.code, args.name, args.name_en)
    if args.area:
        await areas.place_community(cid, args.area)
    print(f"community {args.code} created (id {cid})" + (f" in {args.area}" if args.area else ""))
    return 0


async def _add_member(args: argparse.Namespace) -> int:
    from points.people import members
    from points.tables import Community

    community = await Community.select(Community.id).where(Community.code == args.community).first()
    if community is None:
        print(f"--community: no community with code {args.community!r}", file=sys.stderr)
        return 1
    password = os.environ.get("JIFEN_NEW_PASSWORD") or getpass.getpass("Password (8+ characters): ")
    area = None
    if args.area:
        from points.areas import tree as areas

        if args.role != Role.ADMIN:
            print("--area: only an admin is an admin of an area", file=sys.stderr)
            return 1
        area = (await areas.area_by_code(args.area, "--area"))["id"]
    mid = await members.create_member(community["id"], args.role, args.name, args.phone, password, args.platform,
                                      platform_rider_id=args.rider_id, area=area)
    print(f"{args.role} {args.name} created (id {mid})")
    return 0


async def _reconcile() -> int:
    from points.ops import reconciliation

    problems = await reconciliation.run()
    for problem in problems:
        print(problem)
    print(f"reconciliation: {len(problems)} mismatch(es)")
    return 1 if problems else 0


async def _load_catalogue(args: argparse.Namespace) -> int:
    from points.shop import rewards
    from points.tables import Community
    from rules.catalogue import load_catalogue

    community = await Community.select(Community.id).where(Community.code == args.community).first()
    if community is None:
        print(f"--community: no community with code {args.community!r}", file=sys.stderr)
        return 1
    catalogue = load_catalogue(args.file)
    added = await rewards.load_catalogue(community["id"], catalogue)
    print(f"{added} reward(s) added to {args.community} ({len(catalogue.rewards) - added} there already)")
    return 0


async def _import_grids(args: argparse.Namespace) -> int:
    from points.areas import grids
    from points.tables import Community
    from rules.grids import load_grids

    community = await Community.select(Community.id).where(Community.code == args.community).first()
    if community is None:
        print(f"--community: no community with code {args.community!r}", file=sys.stderr)
        return 1
    done = await grids.import_shapes(None, community["id"], load_grids(args.file))
    kept = done["left_as_they_were"]
    print(f"{args.community}: {done['added']} grid(s) added, {done['updated']} changed"
          + (f"; not in the file, left as they were: {', '.join(kept)}" if kept else ""))
    return 0


async def _set_scheme(args: argparse.Namespace) -> int:
    from pathlib import Path

    from points.areas import schemes
    from points.areas import tree as areas
    from points.errors import DomainError
    from points.tables import Community

    if bool(args.community) == bool(args.area):
        print("give --community or --area", file=sys.stderr)
        return 1
    if args.community:
        community = await Community.select(Community.id).where(Community.code == args.community).first()
        if community is None:
            print(f"--community: no community with code {args.community!r}", file=sys.stderr)
            return 1
    try:
        content = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.community:
            rules = await schemes.set_for_community(None, community["id"], content)
        else:
            rules = await schemes.set_for_area((await areas.area_by_code(args.area, "--area"))["id"], content)
    except DomainError as exc:
        print("\n".join([f"{args.file}: {exc.message}", *exc.extra.get("problems_found", [])]), file=sys.stderr)
        return 1
    print(f"{args.community or args.area} now runs {rules.id} (version {rules.version}): {len(rules.items)} items"
          + (" (its communities without a scheme of their own)" if args.area else ""))
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from points.ops import backup

    try:
        path, manifest = backup.backup(settings(), Path(args.dest))
    except backup.BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    counts = manifest["row_counts"]
    print(f"backup written: {path} ({path.stat().st_size:,} bytes; {counts.get('transfer', 0):,} transfers, "
          f"{counts.get('submission', 0):,} reports, {manifest['photos']:,} photos)")
    for name in manifest["photos_missing"]:
        print(f"warning: photo {name} is referenced by the database but missing on disk", file=sys.stderr)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from points.ops import backup

    config = settings()
    try:
        manifest = backup.restore(config, Path(args.src), force=args.force)
    except backup.BackupError as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.src} (taken {manifest['created_at']}, release {manifest['release']}, "
          f"{len(manifest['migrations'])} migrations); migrating forward")
    for name in manifest["photos_missing"]:
        print(f"warning: photo {name} is referenced by the database but not in the photo store", file=sys.stderr)
    if (migrated := _migrate()) != 0:
        return migrated
    after = backup.counts_now(config)
    before = manifest["row_counts"]
    print(f"{'table':<24}{'in the backup':>15}{'now':>12}")
    for table in sorted(set(before) | set(after)):
        print(f"{table:<24}{before.get(table, '—'):>15}{after.get(table, '—'):>12}")
    return asyncio.run(_reconcile())


async def _sweep() -> int:
    from points.ops import jobs

    done = await jobs.sweep_async()
    print(f"sweep: {done}")
    return 1 if done.get("steps_failed") else 0  # every step ran; the log says which failed


async def _announcing(command: Callable[[], Awaitable[int]]) -> int:
    """Run a command over connections it keeps (as the app does), then tell the app processes that views they
    keep may have changed anywhere."""
    from points.infra import changes, db

    await db.start(pool_max=2, name="jifen-command")
    try:
        return await command()
    finally:
        await db.stop()
        await changes.announce()
        await changes.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m points", description="Jifen operations")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("seed-demo", help="add the demo community and logins to an empty database")
    a = sub.add_parser("add-area", help="add a district, or a street (or town) under one")
    a.add_argument("--code", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--kind", required=True, choices=["district", "street"])
    a.add_argument("--parent", help="the code of the area above it")
    c = sub.add_parser("add-community", help="add a community")
    c.add_argument("--code", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--name-en", default="")
    c.add_argument("--area", help="the code of its street")
    m = sub.add_parser("add-member", help="add a member (password from JIFEN_NEW_PASSWORD or a prompt)")
    m.add_argument("--community", required=True, help="community code")
    m.add_argument("--role", required=True, choices=list(Role))
    m.add_argument("--name", required=True)
    m.add_argument("--phone", required=True)
    m.add_argument("--platform", choices=["meituan", "eleme", "sf", "jd", "other"])
    m.add_argument("--rider-id", help="the rider's id on their delivery platform")
    m.add_argument("--area", help="an admin of this street or district only (its code)")
    cat = sub.add_parser("load-catalogue", help="add a reward catalogue file's rewards to a community's shop")
    cat.add_argument("--community", required=True, help="community code")
    cat.add_argument("file", nargs="?", default="rules/rewards.toml")
    g = sub.add_parser("import-grids", help="set a community's grid boundaries from a GeoJSON file")
    g.add_argument("--community", required=True, help="community code")
    g.add_argument("file", help="a GeoJSON FeatureCollection: properties code and name, Polygon or MultiPolygon")
    sc = sub.add_parser("set-scheme", help="give a community a scheme of its own, or a street or district a template "
                                           "its communities run (a rules file), in force at once")
    sc.add_argument("--community", help="community code")
    sc.add_argument("--area", help="street or district code: the template scheme")
    sc.add_argument("file", help="the rules file, checked first")
    sub.add_parser("reconcile", help="recompute every balance, award and stock level; exit 1 on any mismatch")
    sub.add_parser("sweep", help="the periodic sweep, now: awards the queue may have lost, expiries, housekeeping")
    b = sub.add_parser("backup", help="write one archive of the database, photos and secret key while the app serves")
    b.add_argument("dest", help="the archive's path, or a directory to write a dated archive in")
    r = sub.add_parser("restore", help="restore an archive into an empty data directory or database, migrate, "
                                       "reconcile")
    r.add_argument("src", help="the archive")
    r.add_argument("--force", action="store_true", help="replace what the target holds")
    args = parser.parse_args(argv)
    try:
        settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        return _migrate()
    if args.command in ("backup", "restore"):
        return (_backup if args.command == "backup" else _restore)(args)
    from points.errors import DomainError
    from rules import RulesError

    run = {"seed-demo": lambda: _seed_demo(), "add-community": lambda: _add_community(args),
           "add-area": lambda: _add_area(args),
           "add-member": lambda: _add_member(args), "load-catalogue": lambda: _load_catalogue(args),
           "import-grids": lambda: _import_grids(args), "set-scheme": lambda: _set_scheme(args),
           "reconcile": _reconcile, "sweep": _sweep}[args.command]
    try:
        return asyncio.run(_announcing(run))
    except DomainError as exc:
        print(f"{exc.field or args.command}: {exc.message}", file=sys.stderr)
        return 1
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
