"""The shop (积分超市): members browse and order; staff run the counter (核销) and the catalogue."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from points.errors import Invalid
from points.shop import counter, orders, rewards
from rules import Rules
from web.auth import reporters_only, staff_only
from web.schemas.base import IdPath, OptionalIdempotencyKey
from web.schemas.shop import (
    FulfilIn,
    OrderIn,
    OrderOut,
    RestockIn,
    RewardOut,
    ShopRewardOut,
    StockMovementOut,
    StockOut,
)


class ShopController(Controller):
    path = "/api/v1/shop"
    tags = ["shop"]

    @get("/rewards", operation_id="shopRewards")
    async def rewards(self, request: Request, rules: NamedDependency[Rules]) -> list[ShopRewardOut]:
        return msgspec.convert(await rewards.catalogue_for(request.user, rules.tz), list[ShopRewardOut])

    @post("/orders", operation_id="placeOrder", guards=[reporters_only])
    async def order(
        self, request: Request, data: JSONBody[OrderIn], rules: NamedDependency[Rules],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> Response[OrderOut]:
        view, placed = await orders.place_order(request.user, data.reward, rules.tz, rules.pickup_days,
                                              idempotency_key)
        return Response(msgspec.convert(view, OrderOut), status_code=201 if placed else 200)

    @get("/orders", operation_id="myOrders")
    async def orders(self, request: Request) -> list[OrderOut]:
        return msgspec.convert(await orders.my_orders(request.user), list[OrderOut])

    @post("/orders/{order_id:int}/cancel", operation_id="cancelMyOrder", status_code=200)
    async def cancel(self, request: Request, order_id: IdPath) -> OrderOut:
        return msgspec.convert(await counter.cancel(request.user, order_id), OrderOut)


class CounterController(Controller):
    path = "/api/v1/staff/shop"
    tags = ["staff"]
    guards = [staff_only]

    @get("/orders/by-code/{code:str}", operation_id="orderByCode")
    async def by_code(self, request: Request, code: FromPath[str]) -> OrderOut:
        return msgspec.convert(await counter.order_by_code(request.user, code), OrderOut)

    @post("/fulfil", operation_id="fulfil", status_code=200)
    async def fulfil(self, request: Request, data: JSONBody[FulfilIn]) -> OrderOut:
        return msgspec.convert(await counter.fulfil(request.user, data.code), OrderOut)

    @post("/orders/{order_id:int}/cancel", operation_id="cancelOrder", status_code=200)
    async def cancel(self, request: Request, order_id: IdPath) -> OrderOut:
        return msgspec.convert(await counter.cancel(request.user, order_id), OrderOut)

    @post("/rewards", operation_id="createReward")
    async def create(self, request: Request, data: JSONBody[dict[str, Any]]) -> RewardOut:
        reward_id = await rewards.create_reward(request.user, rewards.reward_spec(data))
        return msgspec.convert(await rewards.reward(request.user, reward_id), RewardOut)

    @put("/rewards/{reward_id:int}", operation_id="updateReward")
    async def update(self, request: Request, reward_id: IdPath, data: JSONBody[dict[str, Any]]) -> RewardOut:
        active = data.pop("active", True)
        if not isinstance(active, bool):
            raise Invalid("invalid_reward", "must be true or false", field="active")
        await rewards.update_reward(request.user, reward_id, rewards.reward_spec({**data, "stock": 0}), active)
        return msgspec.convert(await rewards.reward(request.user, reward_id), RewardOut)

    @post("/rewards/{reward_id:int}/restock", operation_id="restock", status_code=200)
    async def restock(self, request: Request, reward_id: IdPath, data: JSONBody[RestockIn]) -> StockOut:
        stock = await rewards.restock(request.user, reward_id, data.quantity, data.reason)
        return StockOut(reward_id=reward_id, stock=stock)

    @get("/rewards/{reward_id:int}/stock", operation_id="stockHistory")
    async def stock(self, request: Request, reward_id: IdPath) -> list[StockMovementOut]:
        return msgspec.convert(await rewards.stock_history(request.user, reward_id), list[StockMovementOut])
