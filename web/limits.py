"""Rate limits per address, phone number and member.

Counters live in Redis in production, so every app process shares them; in
the embedded mode (one process) they live in memory. The limits and their
overrides are in points/infra/config.py (JIFEN_RATE_LIMITS). They protect the
service; the rules file's caps remain the business limits.
"""

from __future__ import annotations

from litestar import Request

from points import clock
from points.errors import DomainError
from web.sessions import redis_client


def client_ip(request: Request) -> str:
    """The address a request counts against (behind a trusted proxy, the client's; see JIFEN_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int, field: str | None = None):
        super().__init__("too_many_requests", f"too many attempts: try again in {retry_after} s", field=field,
                         retry_after=retry_after)


class Limiter:
    """Windows start at a subject's first request and last the limit's seconds (no burst at a boundary)."""

    def __init__(self, limits: dict[str, tuple[int, int]], redis_url: str | None = None):
        self.limits = limits
        self.redis = redis_client(redis_url) if redis_url else None
        self.memory: dict[str, tuple[float, int]] = {}

    async def _add(self, key: str, seconds: int, by: int) -> tuple[int, int]:
        """Add to the window's count; (the count now, seconds until the window ends)."""
        if self.redis is not None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=seconds, nx=True)
                pipe.incrby(key, by)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
                return count, max(ttl, 1)
        now = clock.timestamp()
        if len(self.memory) > 10_000:
            self.memory = {k: v for k, v in self.memory.items() if v[0] > now}
        ends, count = self.memory.get(key, (0.0, 0))
        if ends <= now:
            ends, count = now + seconds, 0
        self.memory[key] = (ends, count + by)
        return count + by, int(ends - now) + 1

    async def hit(self, name: str, subject: str, field: str | None = None) -> None:
        """Count one request; refuse (429) once the window's count is over the limit."""
        limit, seconds = self.limits[name]
        if limit:
            count, left = await self._add(f"jifen:limit:{name}:{subject}", seconds, 1)
            if count > limit:
                raise RateLimited(left, field)

    async def give_back(self, name: str, subject: str) -> None:
        """Take back one counted request (it turned out not to count: a sign-in that succeeded)."""
        limit, seconds = self.limits[name]
        if limit:
            count, _ = await self._add(f"jifen:limit:{name}:{subject}", seconds, -1)
            if count < 0:
                await self._add(f"jifen:limit:{name}:{subject}", seconds, -count)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
