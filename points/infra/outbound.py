"""The one way out: everything Jifen sends to or fetches from outside (Open311 photos, webhooks, GeoReport servers)
goes through `fetch`, so that nobody can turn Jifen against what sits behind it.

It guarantees, for every call:
- http and https only, no user name or password in the URL;
- the host is resolved once, and every address it resolves to must be public: loopback, private, link-local,
  shared (CGNAT), multicast, reserved and unspecified addresses are refused — in IPv4, IPv6 and IPv4-mapped
  IPv6, however spelt (``2130706433``, ``127.1``, ``[::ffff:127.0.0.1]``: the resolver reads them all) — unless
  the operator allows their network (`JIFEN_OUTBOUND_ALLOW`, e.g. a city's internal platform);
- the connection goes to the address that was checked (the Host header and the TLS name stay the host's), so a
  name cannot resolve to something else between the check and the connect;
- no redirect is followed: a 3xx is a failure like any other;
- the whole exchange — resolving, connecting, sending, the answer to its last byte — ends within
  `JIFEN_OUTBOUND_SECONDS` (a host trickling a byte at a time is cut off), and an answer larger than the
  caller's bound is refused;
- nothing waits on the event loop; no proxy settings are taken from the environment.

A failure is an `OutboundError` whose message is a short class of what went wrong ("HTTP 503", "timed out",
"address not allowed") — safe to show to staff and users; what the other side said goes to the operator's log
only.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

import anyio
import httpx

from points.infra.config import settings

log = logging.getLogger("jifen.outbound")
MAX_ANSWER_BYTES = 1_000_000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """The outside system could not be reached, or did not answer 2xx. `status`: its HTTP status (None: no
    answer at all); the message is a short class of the failure, never the other side's words."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class TooLarge(OutboundError):
    """The answer was larger than the caller's bound."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def inward(address: Address) -> bool:
    """Whether an address points inward (at this machine, its networks or nowhere in particular)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return inward(address.ipv4_mapped)
        if address.sixtofour is not None or address.teredo is not None:
            return True
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified or not address.is_global)


@functools.cache
def _networks(allow: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n) for n in allow)


def allowed(address: Address, allow: tuple[str, ...] | None = None) -> bool:
    """Whether Jifen may call the address: it points outward, or into a network the operator allows."""
    networks = _networks(settings().outbound_allow if allow is None else allow)
    plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
    return not inward(plain) or any(plain in network for network in networks)


def target(url: str) -> tuple[urllib.parse.SplitResult, str, int]:
    """The URL's parts, host and port, if it is one Jifen may call at all (before resolving it)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError("only http and https URLs with a host")
    if parts.username is not None or parts.password is not None:
        raise OutboundError("a URL with a user name or password")
    return parts, parts.hostname, port


async def resolve(host: str, port: int) -> Address:
    """The address to connect to: every address the host resolves to must be allowed (else OutboundError)."""
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundError("the host name does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise OutboundError("the host name does not resolve")
    if not all(allowed(a) for a in addresses):
        raise OutboundError("address not allowed (an internal network)")
    return addresses[0]


async def fetch(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                max_bytes: int = MAX_ANSWER_BYTES, seconds: float | None = None) -> Answer:
    """Send one request outside and read its answer, under the rules above; a 2xx answer or OutboundError."""
    seconds = settings().outbound_seconds if seconds is None else seconds
    try:
        with anyio.fail_after(seconds):
            return await _exchange(method, url, body, dict(headers or {}), max_bytes)
    except TimeoutError:
        raise OutboundError("timed out") from None


@functools.cache
def _tls() -> ssl.SSLContext:
    """The one TLS context (the CA store loaded once, not on the event loop at every call: ~50 ms of CPU each)."""
    return httpx.create_ssl_context()


async def _exchange(method: str, url: str, body: bytes | None, headers: dict[str, str], max_bytes: int) -> Answer:
    parts, host, port = target(url)
    address = await resolve(host, port)
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = urllib.parse.urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
    headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=None, verify=_tls()) as client, \
                client.stream(method, pinned, content=body, headers=headers, extensions=extensions) as answer:
            if 300 <= answer.status_code < 400:
                raise OutboundError(f"HTTP {answer.status_code} (a redirect, not followed)", answer.status_code)
            data = bytearray()
            async for chunk in answer.aiter_raw():
                data += chunk
                if len(data) > max_bytes:
                    raise TooLarge(f"the answer is larger than {max_bytes} bytes", answer.status_code)
    except OutboundError:
        raise
    except (httpx.HTTPError, OSError, AttributeError, ValueError) as exc:  # the transport's ways of failing
        # (a peer gone between connect and first read surfaces from anyio as an AttributeError)
        log.warning("outbound %s %s: no answer (%s: %s)", method, _shown(parts), type(exc).__name__, exc)
        raise OutboundError("no answer") from None
    if not 200 <= answer.status_code < 300:
        log.warning("outbound %s %s: HTTP %d: %s", method, _shown(parts), answer.status_code,
                    bytes(data[:300]).decode("utf-8", "replace"))
        raise OutboundError(f"HTTP {answer.status_code}", answer.status_code)
    return Answer(answer.status_code, bytes(data))


def _shown(parts: urllib.parse.SplitResult) -> str:
    """A URL for the log: its host and path, never its query (an api_key may ride there)."""
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_url(url: str) -> None:
    """A link an admin saves (a forwarding's URL): refused now if it could never be called — not http(s), or a
    host that is an internal address as written (a name that resolves inward is refused when called)."""
    _, host, _ = target(url)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.rstrip(".").lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
            raise OutboundError("address not allowed (an internal network)") from None
        try:  # the spellings inet_aton takes (2130706433, 127.1, 0x7f.1)
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return
    if not allowed(address):
        raise OutboundError("address not allowed (an internal network)")
