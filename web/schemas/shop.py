"""The shop: rewards, orders, the counter and stock."""

from __future__ import annotations

from datetime import datetime

from rules import fields as F
from web.schemas.base import Id, In, Out, text, whole


class RewardOut(Out):
    id: int
    code: str
    name_zh: str
    name_en: str
    description: str
    image: str
    kind: str
    price: int
    stock: int
    limit_count: int | None
    limit_period: str | None
    available_from: datetime | None
    available_until: datetime | None
    active: bool
    roles: list[str]


class ShopRewardOut(RewardOut):
    eligible: bool
    remaining_for_you: int | None
    limit_resets_at: datetime | None


class OrderIn(In):
    reward: Id


class OrderOut(Out):
    id: int
    member_id: int
    reward_id: int
    reward_code: str
    reward_name_zh: str
    reward_name_en: str
    price: int
    status: str
    pickup_code: str
    created_at: datetime
    expires_at: datetime
    resolved_at: datetime | None


class FulfilIn(In):
    code: text(F.PICKUP_CODE)


class RestockIn(In):
    quantity: whole(F.QUANTITY)
    reason: text(F.STOCK_REASON)


class StockOut(Out):
    reward_id: int
    stock: int


class StockMovementOut(Out):
    id: int
    quantity: int
    reason: str
    actor: int | None
    created_at: datetime
