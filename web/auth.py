"""Bearer-token authentication and role guards."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult

from points import members


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("log in first: send Authorization: Bearer <token>")
        actor = await members.actor_for_token(token.strip())
        if actor is None:
            raise NotAuthorizedException("your session has ended; log in again")
        return AuthenticationResult(user=actor, auth=token.strip())


def requires_role(*roles: str):
    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if connection.user.role not in roles:
            raise PermissionDeniedException(f"only {', '.join(roles)} can do this")

    return guard


staff_only = requires_role("staff", "admin")
reporters_only = requires_role("rider", "resident")
