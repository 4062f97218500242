"""The one way out (points/infra/outbound.py): which addresses Jifen refuses to call, however they are spelt. What
happens when a caller tries — an Open311 photo redirecting inward or trickling, a webhook redirecting, a link
saved inward — is tested where each is used: test_open311.py, test_forwarding.py."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from points.infra import outbound

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

# This machine, its networks, nowhere in particular — each as people write it.
INWARD_URLS = ["http://127.0.0.1/hook", "http://localhost:8000/hook", "http://169.254.169.254/latest/meta-data",
               "http://[::1]/hook", "http://0.0.0.0/hook", "http://2130706433/hook", "http://127.1/hook",
               "http://127.0.0.1:6379/", "http://10.0.0.5/hook", "http://192.168.1.1/hook", "http://172.16.0.1/",
               "http://[::ffff:127.0.0.1]/", "http://0x7f.1/hook", "http://100.64.0.1/hook", "http://[fe80::1]/hook",
               "http://[fc00::1]/", "http://224.0.0.1/", "http://[::]/", "http://017700000001/",
               "https://user:pw@example.com/", "ftp://example.com/", "file:///etc/passwd", "http:///nohost"]
OUTWARD = ["https://platform.example/hook", "http://8.8.8.8/", "https://[2001:4860:4860::8888]/", "http://1.1.1.1:8080/x"]


@pytest.mark.parametrize("url", INWARD_URLS)
def test_a_link_inward_is_refused_as_written(url):
    with pytest.raises(outbound.OutboundError):
        outbound.check_url(url)


@pytest.mark.parametrize("url", OUTWARD)
def test_a_link_outward_is_taken(url):
    outbound.check_url(url)


def test_an_allowed_network_is_reachable_and_nothing_else_inward():
    assert outbound.allowed(ipaddress.ip_address("10.20.3.4"), ("10.20.0.0/16",))
    assert outbound.allowed(ipaddress.ip_address("::ffff:10.20.3.4"), ("10.20.0.0/16",))
    assert not outbound.allowed(ipaddress.ip_address("10.21.0.1"), ("10.20.0.0/16",))
    assert not outbound.allowed(ipaddress.ip_address("127.0.0.1"), ("10.20.0.0/16",))


@pytest.mark.parametrize("url", ["http://localhost:9/x", "http://127.0.0.1:9/x", "http://[::1]:9/x"])
def test_a_call_inward_is_refused_before_connecting(url):
    """Resolved at the call (a name can point inward too), refused before any connection is tried."""
    with pytest.raises(outbound.OutboundError, match="address not allowed"):
        asyncio.run(outbound.fetch("GET", url))
