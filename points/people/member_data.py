"""A member's own data: a full export (JSON), and deletion at their request (PIPL).

Deletion anonymises, it does not remove: the name, phone, platform id and
building go; the member's held orders are cancelled and what is left of their
spendable points is forfeited by a transfer, so the ledger stays whole and
every earlier transfer still adds up. Their reports stay for the community's
record with the place rounded to about 100 m and the address cleared.

Retention: a settled report (awarded, rejected or reversed) keeps its precise
place, and its photos' GPS, for a set number of days; then they too are
rounded to about 100 m. A rider's reports are a trail of their rounds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from points import audit, clock
from points.errors import Forbidden
from points.infra.db import sql, write
from points.ledger import transfers as ledger
from points.ledger.transfers import ISSUANCE, SPENDABLE, TransferSpec
from points.people import members
from points.privacy import PUBLIC_DECIMALS, deleted_phone
from points.scope import Actor
from points.shop import counter
from points.vocabulary import MemberStatus, SubmissionStatus, TransferCode, forfeit_key, member_ref
from points.wording import both, pair

DELETED_NAME = pair("member", "deleted_name")[0]


async def export(actor: Actor) -> dict[str, Any]:
    """Everything kept about the member, as they may see it."""
    mid = actor.id
    return {
        "exported_at": clock.now(),
        "member": await members.profile(actor),
        "balance": await ledger.balances(actor),
        "transfers": await ledger.history(actor, limit=1_000_000),
        "submissions": await sql("SELECT id, item_id, claimed_item_id, units, description, address, lat, lng, "
                                 "status, submitted_at, points, awarded_at, reject_reason, reverse_reason "
                                 "FROM submission WHERE member = {} ORDER BY id", mid),
        "photos": await sql("SELECT p.id, p.submission, p.width, p.height, p.taken_at, p.exif_lat, p.exif_lng "
                            "FROM photo p JOIN submission s ON s.id = p.submission WHERE s.member = {} "
                            "ORDER BY p.id", mid),
        "orders": await sql("SELECT id, reward, price, status, pickup_code, created_at, resolved_at "
                            "FROM redemption WHERE member = {} ORDER BY id", mid),
    }


def _round(column: str) -> str:
    return f"ROUND(CAST({column} AS NUMERIC), {PUBLIC_DECIMALS})"


async def _coarsen_places(where: str, *args: Any) -> int:
    """Round the places of the reports `where` selects, and their photos' GPS; return how many reports
    changed (a place already rounded is left alone)."""
    precise = " AND (lat <> {r_lat} OR lng <> {r_lng})".format(r_lat=_round("lat"), r_lng=_round("lng"))
    changed = await sql(f"UPDATE submission SET lat = {_round('lat')}, lng = {_round('lng')} "
                        f"WHERE {where}{precise} RETURNING id", *args)
    await sql(f"UPDATE photo SET exif_lat = {_round('exif_lat')}, exif_lng = {_round('exif_lng')} "
              f"WHERE submission IN (SELECT id FROM submission WHERE {where}) "
              f"AND (exif_lat <> {_round('exif_lat')} OR exif_lng <> {_round('exif_lng')}) RETURNING id", *args)
    return len(changed)


SETTLED = (SubmissionStatus.AWARDED, SubmissionStatus.REJECTED, SubmissionStatus.REVERSED)  # nothing left to check on site


async def coarsen_old_places(days: int) -> int:
    """Round the places of reports settled more than `days` ago (submitted before then, that is)."""
    cutoff = clock.now() - timedelta(days=days)
    return await write(lambda: _coarsen_places(
        "submitted_at < {} AND status IN ({}, {}, {})", cutoff, *SETTLED))


async def delete(actor: Actor, password: str) -> None:
    """Anonymise the member; their password confirms it is them."""
    if not await members.authenticate_id(actor.id, password):
        raise Forbidden("wrong_password", "the password is wrong", field="password")
    mid = actor.id

    async def run() -> None:
        row = (await sql("SELECT community FROM member WHERE id = {}", mid))[0]
        await counter.release_held(mid)
        [spendable] = await ledger.lock_members([mid], (SPENDABLE,))
        if spendable["balance"] > 0:
            issuance = await ledger.accounts_by_key([ledger.community_account_key(ISSUANCE, row["community"])])
            await ledger.post([TransferSpec(forfeit_key(mid), spendable["id"], *issuance.values(),
                                            spendable["balance"], TransferCode.FORFEIT, both("ledger", "forfeit"),
                                            member_ref(mid))])
        old_phone = (await sql("SELECT phone FROM member WHERE id = {}", mid))[0]["phone"]
        await sql("UPDATE member SET name = {}, phone = {}, password_hash = '!', platform_rider_id = NULL, "
                  "building = '', status = {}, status_reason = '', session_epoch = session_epoch + 1 "
                  "WHERE id = {} RETURNING id", DELETED_NAME, deleted_phone(mid), MemberStatus.DELETED, mid)
        await sql("UPDATE submission SET address = '' WHERE member = {} RETURNING id", mid)
        await _coarsen_places("member = {}", mid)
        await sql("DELETE FROM one_time_code WHERE phone = {} RETURNING id", old_phone)
        await audit.record(mid, "member.delete", "member", mid, row["community"], {})

    await write(run)
