"""The shop: ordering, the counter, cancelling, expiry, catalogue management, and the rush."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from conftest import LEG, ROOT, User, as_member, grant, python, run, signed_in
from points import clock
from points.ledger import transfers as ledger
from points.people import passwords
from points.scope import Actor
from points.shop import rewards
from points.tables import AuditEvent, Member, Redemption, Reward, Transfer
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned

CATALOGUE = load_catalogue(ROOT / "rules" / "rewards.toml")


@pytest.fixture
def shop_community(community):
    run(rewards.load_catalogue(community.id, CATALOGUE))
    for member in community.riders + community.residents:
        grant(community.id, member.id, 1000)
    return community


def reward_id(community, code: str) -> int:
    return run(Reward.select(Reward.id).where((Reward.community == community.id) & (Reward.code == code)).first())["id"]


def stock(rid: int) -> int:
    return run(Reward.select(Reward.stock).where(Reward.id == rid).first())["stock"]


def order(api, user: User, rid: int, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/v1/shop/orders", user, json={"reward": rid}, headers=headers)


def test_order_hold_and_fulfil_at_the_counter(api, shop_community):
    rider, staff = shop_community.riders[0], shop_community.staff
    offer = api.get("/api/v1/shop/rewards", rider).json()
    assert len(offer) == 15
    helmet = next(r for r in offer if r["code"] == "r.rider_helmet")
    assert (helmet["price"], helmet["stock"], helmet["eligible"], helmet["remaining_for_you"]) == (800, 10, True, 1)

    placed = order(api, rider, helmet["id"])
    assert placed.status_code == 201, placed.text
    o = placed.json()
    assert o["status"] == "held" and len(o["pickup_code"]) == 8 and o["price"] == 800
    assert api.balance(rider)["spendable"] == 200
    assert stock(helmet["id"]) == 9

    seen = api.get(f"/api/v1/staff/shop/orders/by-code/{o['pickup_code'].lower()}", staff)
    assert seen.status_code == 200 and seen.json()["id"] == o["id"]
    code = o["pickup_code"][:4] + "-" + o["pickup_code"][4:]
    done = api.post("/api/v1/staff/shop/fulfil", staff, json={"code": code})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "fulfilled"
    again = api.post("/api/v1/staff/shop/fulfil", staff, json={"code": o["pickup_code"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_fulfilled"
    assert api.post(f"/api/v1/shop/orders/{o['id']}/cancel", rider).status_code == 409
    assert api.balance(rider)["spendable"] == 200  # posted, not returned
    assert stock(helmet["id"]) == 9
    keys = {t["idempotency_key"]: t["code"] for t in run(Transfer.select().where(Transfer.ref == f"order:{o['id']}"))}
    assert keys == {f"order:{o['id']}:hold": "redeem_hold", f"order:{o['id']}:resolve": "redeem_post"}
    audit = run(AuditEvent.select(AuditEvent.action, AuditEvent.actor).where(
        (AuditEvent.object_type == "order") & (AuditEvent.object_id == str(o["id"]))))
    assert audit == [{"action": "order.fulfil", "actor": staff.id}]
    mine = api.get("/api/v1/shop/orders", rider).json()
    assert [(m["id"], m["status"]) for m in mine] == [(o["id"], "fulfilled")]
    assert api.get("/api/v1/shop/rewards", rider).json()[-1]["remaining_for_you"] == 0


def test_cancel_returns_points_and_stock_once(api, shop_community):
    resident = shop_community.residents[0]
    rid = reward_id(shop_community, "r.cooking_oil")
    o = order(api, resident, rid).json()
    assert api.balance(resident)["spendable"] == 700 and stock(rid) == 39
    cancelled = api.post(f"/api/v1/shop/orders/{o['id']}/cancel", resident)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.balance(resident)["spendable"] == 1000 and stock(rid) == 40
    twice = api.post(f"/api/v1/shop/orders/{o['id']}/cancel", resident)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_cancelled"
    assert api.post("/api/v1/staff/shop/fulfil", shop_community.staff, json={"code": o["pickup_code"]}).status_code == 409
    assert api.balance(resident)["spendable"] == 1000 and stock(rid) == 40
    # Someone else's order is not yours to cancel.
    other = order(api, shop_community.residents[1], rid).json()
    assert api.post(f"/api/v1/shop/orders/{other['id']}/cancel", resident).status_code == 404


def test_each_refusal_says_why(api, shop_community):
    rider, resident, staff = shop_community.riders[0], shop_community.residents[0], shop_community.staff
    helmet = reward_id(shop_community, "r.rider_helmet")
    refused = order(api, resident, helmet)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_eligible"

    gloves = reward_id(shop_community, "r.rider_gloves_kit")  # 1 a quarter
    assert order(api, rider, gloves).status_code == 201
    limit = order(api, rider, gloves)
    assert limit.status_code == 409 and limit.json()["error"]["code"] == "limit_reached"
    resets = datetime.fromisoformat(limit.json()["error"]["resets_at"])
    assert resets > clock.now() and resets.day == 1 and resets.month in (1, 4, 7, 10)

    poor = shop_community.riders[1]
    spend = reward_id(shop_community, "r.health_check")  # 600
    assert order(api, poor, spend).status_code == 201  # 400 left
    broke = order(api, poor, helmet)
    assert broke.status_code == 409
    assert broke.json()["error"]["code"] == "insufficient_points"
    assert (broke.json()["error"]["balance"], broke.json()["error"]["price"]) == (400, 800)

    soon = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.mooncake", "name_zh": "月饼礼盒", "name_en": "Mooncakes", "kind": "goods", "price": 100,
        "stock": 5, "available_from": (clock.now() + timedelta(days=3)).isoformat()})
    assert soon.status_code == 201, soon.text
    early = order(api, rider, soon.json()["id"])
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_available_yet"
    assert early.json()["error"]["available_from"]

    empty = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.empty", "name_zh": "无货", "name_en": "None left", "kind": "goods", "price": 10, "stock": 0})
    out = order(api, rider, empty.json()["id"])
    assert out.status_code == 409 and out.json()["error"]["code"] == "sold_out"
    assert api.post("/api/v1/shop/orders", rider, json={"reward": 999999}).status_code == 404
    assert api.post("/api/v1/shop/orders", staff, json={"reward": helmet}).status_code == 403


def test_idempotency_key_on_orders(api, shop_community):
    rider = shop_community.riders[0]
    oil, rice = reward_id(shop_community, "r.cooking_oil"), reward_id(shop_community, "r.rice_5kg")
    first = order(api, rider, oil, key="order-retry-0001")
    again = order(api, rider, oil, key="order-retry-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = order(api, rider, rice, key="order-retry-0001")
    assert other.status_code == 422 and other.json()["error"]["field"] == "Idempotency-Key"
    assert api.balance(rider)["spendable"] == 700

    with ThreadPoolExecutor(25) as pool:
        responses = list(pool.map(lambda _: order(api, rider, rice, key="order-flaky-0002"), range(50)))
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert api.balance(rider)["spendable"] == 400


def test_expiry_voids_each_overdue_order_once(api, shop_community):
    rider = shop_community.riders[0]
    rid = reward_id(shop_community, "r.meal_voucher")  # 50
    ids = [order(api, rider, rid).json()["id"] for _ in range(3)]
    assert api.balance(rider)["spendable"] == 850 and stock(rid) == 97
    run(Redemption.update({Redemption.expires_at: clock.now() - timedelta(minutes=1)}).where(
        Redemption.id.is_in(ids[:2])))
    for _ in range(2):
        assert python("-m", "points", "sweep").returncode == 0
    statuses = {r["id"]: r["status"] for r in run(Redemption.select(Redemption.id, Redemption.status).where(
        Redemption.id.is_in(ids)))}
    assert statuses == {ids[0]: "expired", ids[1]: "expired", ids[2]: "held"}
    assert api.balance(rider)["spendable"] == 950 and stock(rid) == 99
    voids = run(Transfer.count().where(Transfer.ref.is_in([f"order:{i}" for i in ids[:2]])
                                       & (Transfer.code == "redeem_void")))
    assert voids == 2


def test_counter_is_scoped_to_the_community(api, shop_community, make_community):
    o = order(api, shop_community.riders[0], reward_id(shop_community, "r.tissue")).json()
    outsider = make_community().staff
    assert api.get(f"/api/v1/staff/shop/orders/by-code/{o['pickup_code']}", outsider).status_code == 404
    assert api.post("/api/v1/staff/shop/fulfil", outsider, json={"code": o["pickup_code"]}).status_code == 404
    assert api.post(f"/api/v1/staff/shop/orders/{o['id']}/cancel", outsider).status_code == 404
    rid = reward_id(shop_community, "r.tissue")
    assert api.post(f"/api/v1/staff/shop/rewards/{rid}/restock", outsider,
                    json={"quantity": 5, "reason": "x"}).status_code == 404
    assert api.get("/api/v1/staff/shop/orders/by-code/XXXX2222", shop_community.riders[0]).status_code == 403
    assert run(Redemption.select(Redemption.status).where(Redemption.id == o["id"]).first())["status"] == "held"


def test_catalogue_management_and_stock_history(api, shop_community):
    staff = shop_community.staff
    rid = reward_id(shop_community, "r.haircut")
    restocked = api.post(f"/api/v1/staff/shop/rewards/{rid}/restock", staff,
                         json={"quantity": 20, "reason": "十二月补货"})
    assert restocked.status_code == 200 and restocked.json() == {"reward_id": rid, "stock": 50}
    too_many = api.post(f"/api/v1/staff/shop/rewards/{rid}/restock", staff, json={"quantity": -51, "reason": "盘点"})
    assert too_many.status_code == 400 and too_many.json()["error"]["field"] == "quantity"
    no_reason = api.post(f"/api/v1/staff/shop/rewards/{rid}/restock", staff, json={"quantity": 1, "reason": " "})
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    history = api.get(f"/api/v1/staff/shop/rewards/{rid}/stock", staff).json()
    assert [(h["quantity"], h["actor"]) for h in history] == [(30, None), (20, staff.id)]
    actions = [r["action"] for r in run(AuditEvent.select(AuditEvent.action).where(
        (AuditEvent.object_type == "reward") & (AuditEvent.object_id == str(rid))).order_by(AuditEvent.id))]
    assert actions == ["reward.create", "reward.restock"]

    bad = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.x", "name_zh": "x", "name_en": "x", "kind": "car", "price": 1, "stock": 1})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "kind"
    assert bad.json()["error"]["message"].startswith("must be one of goods")
    limit = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.y", "name_zh": "y", "name_en": "y", "kind": "goods", "price": 1, "stock": 1,
        "limit": {"count": 0, "period": "month"}})
    assert limit.status_code == 400 and limit.json()["error"]["field"] == "count", limit.text
    taken = api.post("/api/v1/staff/shop/rewards", staff, json={
        "code": "r.haircut", "name_zh": "x", "name_en": "x", "kind": "service", "price": 1, "stock": 1})
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "code"
    update = api.request("PUT", f"/api/v1/staff/shop/rewards/{rid}", staff, json={
        "code": "r.haircut", "name_zh": "理发", "name_en": "Haircut", "kind": "service", "price": 120,
        "limit": {"count": 2, "period": "month"}, "active": False})
    assert update.status_code == 200, update.text
    assert (update.json()["price"], update.json()["active"], update.json()["stock"]) == (120, False, 50)
    assert rid not in [r["id"] for r in api.get("/api/v1/shop/rewards", shop_community.riders[0]).json()]
    assert api.post("/api/v1/staff/shop/rewards", shop_community.riders[0], json={}).status_code == 403


def bulk_members(community, count: int, points: int, role: str = "rider") -> list[User]:
    """Many logged-in members at once (one password hash shared: the KDF is not what is under test)."""
    password_hash = passwords.hash_password("bulk-password")
    first = run(Member.count())
    rows = [Member(community=community.id, role=role, name=f"rush-{n}", phone=f"+8616{community.id:03d}{n:06d}",
                   password_hash=password_hash, platform="meituan" if role == "rider" else "",
                   created_at=clock.now()) for n in range(first, first + count)]
    ids = [r["id"] for r in run(Member.insert(*rows).returning(Member.id))]
    for mid in ids:
        run(ledger.open_member_accounts(mid, community.id))
        grant(community.id, mid, points)
    return [signed_in(mid, role, community.id) for mid in ids]


def test_the_rush_never_oversells(api, community):
    """Many members on a drop of 10 helmets: exactly 10 orders, stock 0, no negative balance."""
    crowd = 500 if LEG == "postgres" else 150
    run(rewards.load_catalogue(community.id, CATALOGUE))
    riders = bulk_members(community, crowd, 1000)
    helmet = reward_id(community, "r.rider_helmet")
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda rider: order(api, rider, helmet), riders))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 10 + [409] * (crowd - 10), {c: codes.count(c) for c in set(codes)}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"sold_out"}
    assert stock(helmet) == 0
    assert run(Redemption.count().where(Redemption.reward == helmet)) == 10
    balances = [run(ledger.balances(as_member(r.id)))["spendable"] for r in riders]
    assert sorted(balances)[:10] == [200] * 10 and min(balances) >= 0


def test_one_member_cannot_double_spend(api, community):
    """Points for one order, 20 concurrent orders for different rewards: exactly one goes through."""
    run(rewards.load_catalogue(community.id, CATALOGUE))
    [rider] = bulk_members(community, 1, 130)
    codes = ["r.tissue", "r.phone_credit_10"] * 10  # 120 each: one fits in 130
    rids = [reward_id(community, c) for c in codes]
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda rid: order(api, rider, rid), rids))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert run(ledger.balances(as_member(rider.id)))["spendable"] == 10
    assert run(Redemption.count().where(Redemption.member == rider.id)) == 1


def test_orders_placed_together_are_each_decided_on_their_own(api, community):
    """Orders that arrive together share a transaction (group commit); each still gets its own answer."""
    run(rewards.load_catalogue(community.id, CATALOGUE))
    helmet, gloves = reward_id(community, "r.rider_helmet"), reward_id(community, "r.rider_gloves_kit")
    buyers = bulk_members(community, 15, 1000)
    residents = bulk_members(community, 5, 1000, role="resident")
    poor = bulk_members(community, 5, 100)
    limited = bulk_members(community, 5, 1000)
    retriers = bulk_members(community, 5, 1000)
    for rider in limited:
        assert order(api, rider, gloves).status_code == 201
    asks = ([(r, helmet, None) for r in buyers + residents] + [(r, gloves, None) for r in poor + limited]
            + [(r, gloves, f"rush-retry-{r.id}") for r in retriers for _ in range(3)])
    with ThreadPoolExecutor(len(asks)) as pool:
        answers = list(pool.map(lambda a: order(api, *a), asks))
    by_member: dict[int, list] = {}
    for (rider, _, _), answer in zip(asks, answers, strict=True):
        by_member.setdefault(rider.id, []).append(answer)

    def codes(group):
        return sorted(r.json()["error"]["code"] if r.status_code >= 400 else str(r.status_code)
                      for m in group for r in by_member[m.id])

    assert codes(buyers) == ["201"] * 10 + ["sold_out"] * 5
    assert codes(residents) == ["not_eligible"] * 5
    assert codes(poor) == ["insufficient_points"] * 5
    assert {(r.json()["error"]["balance"], r.json()["error"]["price"]) for m in poor for r in by_member[m.id]} == {
        (100, 200)}
    assert codes(limited) == ["limit_reached"] * 5
    assert all(r.json()["error"]["resets_at"] for m in limited for r in by_member[m.id])
    for rider in retriers:
        assert sorted(r.status_code for r in by_member[rider.id]) == [200, 200, 201]
        assert len({r.json()["id"] for r in by_member[rider.id]}) == 1
    assert (stock(helmet), stock(gloves)) == (0, 30 - 5 - 5)
    assert [run(ledger.balances(as_member(m.id)))["spendable"] for m in poor] == [100] * 5
    assert sorted(run(ledger.balances(as_member(m.id)))["spendable"] for m in buyers) == [200] * 10 + [1000] * 5
    placed = run(Redemption.select(Redemption.created_at).where(Redemption.member.is_in(
        [m.id for m in buyers + retriers])))
    assert len(placed) == 15
    assert len({p["created_at"] for p in placed}) < len(placed), "no two orders shared a batch"


def test_the_rush_across_processes(community):
    """Several processes ordering through the domain at once (on SQLite: several writers on one file)."""
    run(rewards.load_catalogue(community.id, CATALOGUE))
    riders = bulk_members(community, 40, 1000)
    helmet = reward_id(community, "r.rider_helmet")
    script = ("import asyncio, sys, zoneinfo\n"
              "from points.shop import orders\nfrom points.scope import Actor\nfrom points.errors import DomainError\n"
              "async def go(ids):\n"
              "    for mid in ids:\n"
              "        try:\n"
              f"            await orders.place_order(Actor(mid, 'rider', {community.id}, '', 'active'), {helmet}, "
              "zoneinfo.ZoneInfo('Asia/Shanghai'), 7)\n"
              "        except DomainError as e:\n"
              "            assert e.code == 'sold_out', e.code\n"
              "asyncio.run(go([int(x) for x in sys.argv[1:]]))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, *[str(r.id) for r in riders[n::4]]], cwd=ROOT)
             for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    assert stock(helmet) == 0
    assert run(Redemption.count().where(Redemption.reward == helmet)) == 10


def test_an_order_resolves_once_when_resolutions_race(api, shop_community):
    rider, staff = shop_community.riders[0], shop_community.staff
    rid = reward_id(shop_community, "r.ebike_charge")  # 30
    orders = [order(api, rider, rid).json() for _ in range(2)]
    before = api.balance(rider)["spendable"]

    def hit(n: int, o: dict):
        if n % 3 == 0:
            return api.post("/api/v1/staff/shop/fulfil", staff, json={"code": o["pickup_code"]})
        if n % 3 == 1:
            return api.post(f"/api/v1/staff/shop/orders/{o['id']}/cancel", staff)
        return api.post(f"/api/v1/shop/orders/{o['id']}/cancel", rider)

    for o in orders:
        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(lambda n, o=o: hit(n, o), range(12)))
        assert sorted(r.status_code for r in responses) == [200] + [409] * 11
        resolutions = run(Transfer.select(Transfer.code).where(Transfer.idempotency_key == f"order:{o['id']}:resolve"))
        assert len(resolutions) == 1
    final = {r["status"] for r in run(Redemption.select(Redemption.status).where(
        Redemption.id.is_in([o["id"] for o in orders])))}
    refunds = sum(1 for o in orders if run(Redemption.select(Redemption.status).where(
        Redemption.id == o["id"]).first())["status"] == "cancelled")
    assert final <= {"fulfilled", "cancelled"}
    assert api.balance(rider)["spendable"] == before + 30 * refunds


def test_one_members_bad_orders_fail_nobody_elses(api, community):
    """150 members order at once while another sends 30 malformed orders (an id past the column, a page form's
    over-long key): every good order is placed, each bad one is refused with a 4xx naming its field."""
    run(rewards.load_catalogue(community.id, CATALOGUE))
    meal = reward_id(community, "r.meal_voucher")
    run(rewards.restock(Actor(community.staff.id, "staff", community.id, "", "active"), meal, 100, "rush"))
    good = bulk_members(community, 150, 1000)
    [bad] = bulk_members(community, 1, 1000)
    asks = [("api", rider, meal) for rider in good]
    for n, ask in enumerate([("api", bad, 3_000_000_000)] * 15 + [("page", bad, meal)] * 15):
        asks.insert(n * 5, ask)  # mixed in among the good ones

    def send(ask):
        kind, who, rid = ask
        if kind == "api":
            return order(api, who, rid)
        return api.post(f"/shop/{meal}", who, data={"_csrf_token": who.csrf, "idempotency_key": "k" * 130},
                        follow_redirects=False)

    with ThreadPoolExecutor(60) as pool:
        answers = list(pool.map(send, asks))
    placed = [r for r in answers if r.status_code == 201]
    refused_api = [r for r in answers if r.status_code == 400]
    refused_page = [r for r in answers if r.status_code == 303]
    assert len(placed) == 150, {r.status_code for r in answers}
    assert all(r.json()["error"]["field"] == "reward" for r in refused_api) and refused_api
    assert all("error." in r.headers["location"] for r in refused_page) and refused_page
    assert len(placed) + len(refused_api) + len(refused_page) == len(asks)
    assert run(Redemption.count().where(Redemption.member == bad.id)) == 0
