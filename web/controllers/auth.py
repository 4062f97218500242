"""Log in and out with phone and password; the answer carries a bearer token."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody

from points import members
from web.schemas import LoginIn, LoginOut, Profile


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", exclude_from_auth=True, status_code=200)
    async def login(self, data: JSONBody[LoginIn], state: State) -> LoginOut:
        actor = await members.authenticate(data.phone, data.password)
        if actor is None:
            raise NotAuthorizedException("wrong phone number or password")
        hours = state.settings.session_hours
        token = await members.start_session(actor.id, hours)
        return LoginOut(token=token, expires_in_hours=hours, member=Profile(**await members.profile(actor.id)))

    @post("/logout", operation_id="logout", status_code=204)
    async def logout(self, request: Request) -> None:
        await members.end_session(request.auth)
