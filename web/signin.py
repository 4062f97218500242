"""Signing in, one flow for both doors (the JSON API and the pages): registering, signing in by password or
by SMS code, asking for a code, and starting the session.

Every attempt is counted against the phone number before it is checked — on the number normalised to E.164,
so `138 0000 0001`, `+86 138…` and `0086…` are one number — and the count is atomic (Redis INCR in
production), so concurrent guesses cannot slip past the lock-out: once a number has had `login_phone` failures
in the window, every attempt is refused (429) until the window ends, whichever door it comes through. A
successful sign-in gives its count back. Addresses have their own limit (`login_ip`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request
from litestar.datastructures import Cookie

from points.errors import DomainError, Invalid
from points.infra.sms import Sender
from points.people import members, otp
from points.scope import Actor
from web.limits import Limiter
from web.sessions import Session, Sessions, session_cookies, session_id


class WrongCredentials(DomainError):
    status = 401


def phone_key(raw: str) -> str:
    """What the per-phone limits count on: the E.164 number, or (not a number at all) the text as sent."""
    try:
        return members.normalise_phone(raw)
    except Invalid:
        return raw.strip()[:32]


async def _sign_in(limiter: Limiter, ip: str, phone: str, check: Callable[[], Awaitable[Actor | None]],
                   code: str, message: str) -> Actor:
    """Count the attempt, then check it: past the limit an attempt is refused unchecked."""
    await limiter.hit("login_ip", ip)
    key = phone_key(phone)
    await limiter.hit("login_phone", key, field="phone")
    actor = await check()
    if actor is None:
        raise WrongCredentials(code, message)
    await limiter.give_back("login_phone", key)
    return actor


async def with_password(limiter: Limiter, ip: str, phone: str, password: str) -> Actor:
    return await _sign_in(limiter, ip, phone, lambda: members.authenticate(phone, password), "wrong_password",
                          "wrong phone number or password")


async def with_code(limiter: Limiter, ip: str, phone: str, code: str) -> Actor:
    return await _sign_in(limiter, ip, phone, lambda: otp.login(phone, code), "wrong_code", "wrong or expired code")


async def send_code(limiter: Limiter, ip: str, phone: str, sender: Sender) -> None:
    """Send a login code by SMS; the answer is the same whether or not the number is a member's."""
    normal = members.normalise_phone(phone)
    await limiter.hit("code_ip", ip)
    await limiter.hit("code_phone", normal, field="phone")
    await limiter.hit("code_phone_day", normal, field="phone")
    await otp.request(normal, sender)


async def register(limiter: Limiter, ip: str, registration: members.Registration) -> Actor:
    """A new rider or resident (riders wait for approval), signed in at once."""
    await limiter.hit("register_ip", ip)
    member_id = await members.register(registration)
    actor = await members.session_actor(member_id, 0)
    assert actor is not None
    return actor


async def start_session(request: Request, sessions: Sessions, actor: Actor) -> tuple[Session, list[Cookie]]:
    """A new session (a new id, whatever the browser came with: no fixation) and the cookie that carries it."""
    session = await sessions.start(actor, await members.epoch(actor.id), session_id(request.cookies))
    secure = sessions.config.secure_cookies or request.url.scheme == "https"
    return session, session_cookies(secure, session.sid, session.absolute)
