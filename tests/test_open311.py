"""Open311 GeoReport v2 (/open311/v2), driven by an outside client library from PyPI (`georeport`, which reads)
and plain form posts (the spec's own encoding; the library has no POST): services, a request filed with an
admin's API token and read back in JSON and XML, its status as its case moves, the spec's error format,
and no personal data in any answer."""

from __future__ import annotations

import http.server
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests
from georeport import GeoReport

from casework import make_units
from conftest import PASSWORD, new_phone, photo, run, start_server, wait_for
from harness import FULL_PHONE, OUTSIDE, PRECISE_PLACE
from points.infra.db import sql
from points.people import members

REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}


@pytest.fixture(scope="module")
def inside():
    """A service on this machine's loopback (127.0.0.1, which the tests' apps do not allow), counting who reached
    it: what an attacker would have Jifen fetch for them."""
    reached = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            reached.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"INTERNAL-SECRET")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", reached
    server.shutdown()


@pytest.fixture(scope="module")
def media(inside):
    """A host the deployment allows photos from (JIFEN_OPEN311_MEDIA_HOSTS), serving one photo at /p.jpg; at
    /moved.jpg it redirects to the inside service, at /slow.jpg it trickles a byte a second, for ever."""
    picture = photo()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            if self.path == "/moved.jpg":
                self.send_response(302)
                self.send_header("Location", f"{inside[0]}/admin.jpg")
                self.end_headers()
                return
            self.send_response(200 if self.path in ("/p.jpg", "/slow.jpg") else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            if self.path == "/slow.jpg":
                try:
                    for byte in picture:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(1)
                except OSError:  # Jifen gave up on it, as it should
                    return
            self.wfile.write(picture if self.path == "/p.jpg" else b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((OUTSIDE, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"{OUTSIDE}:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def open311(media):
    server, url = start_server("open311", {"JIFEN_OPEN311_MEDIA_HOSTS": media, "JIFEN_OUTBOUND_SECONDS": "5"})
    yield f"{url}/open311/v2", media
    server.stop()


@pytest.fixture
def partner(api, community):
    """An admin issues an API token for a partner app (a resident account of the community)."""
    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    admin = api.user(phone)
    issued = api.post("/api/v1/admin/tokens", admin, json={"name": "12345热线", "community_id": community.id,
                                                           "role": "resident"})
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


def code_of(community) -> str:
    return run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]


def no_personal_data(text: str, *names: str) -> None:
    assert not FULL_PHONE.findall(text) and not PRECISE_PLACE.findall(text), text[:2000]
    assert not any(name in text for name in names) and "points" not in text


def test_a_partner_files_a_request_and_follows_it_to_closed(api, community, partner, open311, make_community):
    base, media = open311
    code = code_of(community)
    client, client_xml = GeoReport(base, jurisdiction=code), GeoReport(base, jurisdiction=code, output_format="xml")
    services = client.get_service_list()
    assert {s["service_code"] for s in services} >= {"order.streetlight_broken", "hazard.fire_exit_blocked"}
    light = next(s for s in services if s["service_code"] == "order.streetlight_broken")
    assert set(light) == SERVICE_FIELDS and light["service_name"] == "路灯损坏" and light["type"] == "realtime"
    assert client_xml.get_service_list()[0].keys() == services[0].keys()  # the same shapes in XML
    hourly = client.get_service_definition("service.volunteer_hour")
    assert hourly["attributes"][0]["code"] == "units" and hourly["attributes"][0]["datatype"] == "number"
    english = requests.get(f"{base}/services.json", params={"jurisdiction_id": code},
                           headers={"Accept-Language": "en"}).json()
    assert next(s for s in english if s["service_code"] == "order.streetlight_broken")["service_name"] == \
        "Broken streetlight"

    filed = requests.post(f"{base}/requests.json", data={
        "api_key": partner, "jurisdiction_id": code, "service_code": "hazard.fire_exit_blocked",
        "lat": "23.478912", "long": "116.760543", "description": "3号楼消防通道堵塞,联系人13812345678 或 +86 139 1234 5678",
        "media_url": f"http://{media}/p.jpg", "email": "someone@example.com"})
    assert filed.status_code == 201, filed.text
    [created] = filed.json()
    rid = created["service_request_id"]
    assert set(created) == {"service_request_id", "service_notice", "account_id"}

    seen = client.get_service_request(rid)
    assert set(seen) == REQUEST_FIELDS
    assert (seen["status"], seen["status_notes"], seen["lat"], seen["long"]) == ("open", "待社区核实", 23.479, 116.761)
    assert seen["description"] == ""  # not before staff have verified it
    as_xml = client_xml.get_service_request(rid)
    assert set(as_xml) == REQUEST_FIELDS and as_xml["status"] == "open" and as_xml["lat"] == "23.479"

    # Staff verify it; its case is handed to a unit with a deadline, fixed, and closed.
    staff = community.staff
    assert api.verify(staff, int(rid)).status_code == 200
    account = run(sql("SELECT member FROM submission WHERE id = {}", int(rid)))[0]["member"]
    wait_for(lambda: run(sql("SELECT id FROM case_file WHERE submission = {}", int(rid))), what="the case")
    cid = run(sql("SELECT id FROM case_file WHERE submission = {}", int(rid)))[0]["id"]
    units = make_units(api, make_community, community)
    assert api.post(f"/api/v1/staff/cases/{cid}/dispatch", staff, json={"unit": units.property}).status_code == 200
    seen = client.get_service_request(rid)
    assert (seen["status"], seen["agency_responsible"], seen["status_notes"]) == ("open", "华冠物业", "已交办华冠物业")
    assert seen["expected_datetime"] and seen["description"] == "3号楼消防通道堵塞,联系人*********** 或 +** *** **** ****"
    assert api.post(f"/api/v1/handler/cases/{cid}/accept", units.handler).status_code == 200
    done = api.post(f"/api/v1/handler/cases/{cid}/dispose", units.handler, data={"note": "已清理"},
                    files=[("photos", ("after.jpg", photo(), "image/jpeg"))])
    assert done.status_code == 200
    assert api.post(f"/api/v1/staff/cases/{cid}/recheck", staff).status_code == 200
    assert api.post(f"/api/v1/staff/cases/{cid}/conclude", staff, json={"fixed": True}).status_code == 200
    seen = client.get_service_request(rid)
    assert (seen["status"], seen["status_notes"]) == ("closed", "已办结")
    assert rid in [r["service_request_id"] for r in client.get_service_requests(status="closed")]
    assert rid not in [r["service_request_id"] for r in client.get_service_requests(status="open")]
    assert [r["service_request_id"] for r in client.get_service_requests(service_request_id=rid)] == [rid]
    lights = client.get_service_requests(service_code="order.streetlight_broken")
    assert rid not in [r["service_request_id"] for r in lights]
    assert all(r["service_code"] == "order.streetlight_broken" for r in lights)
    english = requests.get(f"{base}/requests/{rid}.json", params={"jurisdiction_id": code},
                           headers={"Accept-Language": "en"}).json()[0]
    assert english["status_notes"] == "Fixed and closed" and english["service_name"] == "Fire lane or exit blocked or occupied"
    token = requests.get(f"{base}/tokens/{rid}.json", params={"jurisdiction_id": code}).json()
    assert token == [{"service_request_id": rid, "token": rid}]

    # No answer names anyone, shows points, or a place finer than about 100 m.
    reporter = run(sql("SELECT name, phone FROM member WHERE id = {}", account))[0]
    for path in (f"requests/{rid}.json", f"requests/{rid}.xml", "requests.json", "requests.xml"):
        answer = requests.get(f"{base}/{path}", params={"jurisdiction_id": code})
        assert answer.status_code == 200
        no_personal_data(answer.text, reporter["name"], reporter["phone"], "someone@example.com")

    # The XML has the spec's shapes: <service_requests><request>…, <services><service>…, <discovery>.
    root = ET.fromstring(requests.get(f"{base}/requests/{rid}.xml", params={"jurisdiction_id": code}).content)
    assert root.tag == "service_requests" and {c.tag for c in root[0]} == REQUEST_FIELDS
    services_xml = ET.fromstring(requests.get(f"{base}/services.xml", params={"jurisdiction_id": code}).content)
    assert services_xml.tag == "services" and {c.tag for c in services_xml[0]} == SERVICE_FIELDS
    discovery = ET.fromstring(requests.get(f"{base}/discovery.xml").content)
    assert [e.tag for e in discovery.find("endpoints")] == ["endpoint"]
    assert [f.text for f in discovery.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert requests.get(f"{base}/discovery.xml").headers["content-type"] == "text/xml; charset=utf-8"
    # A server of several communities says which `jurisdiction_id`s it takes, and asking without one says where
    listed = requests.get(f"{base}/discovery.json").json()["jurisdictions"]
    assert code in [j["jurisdiction_id"] for j in listed] and all(j["name"] for j in listed)
    assert discovery.find(f"jurisdictions/jurisdiction[jurisdiction_id='{code}']") is not None
    unnamed = requests.get(f"{base}/services.json")
    if len(listed) > 1:
        assert unnamed.status_code == 400 and "discovery lists them" in unnamed.json()[0]["description"]
    # A description kept from before the fields refused what XML cannot carry still gives a whole XML answer.
    run(sql("UPDATE submission SET description = {} WHERE id = {}", "门口\ufffe堵塞\uffff", int(rid)))
    kept = ET.fromstring(requests.get(f"{base}/requests.xml", params={"jurisdiction_id": code}).content)
    assert [r.find("description").text for r in kept if r.find("service_request_id").text == rid] == ["门口堵塞"]


def test_bad_requests_get_the_spec_error_format_and_write_nothing(community, partner, open311, make_community,
                                                                  inside):
    base, media = open311
    code, elsewhere = code_of(community), code_of(make_community())
    before = run(sql("SELECT COUNT(*) AS n FROM submission"))[0]["n"]
    good = {"api_key": partner, "jurisdiction_id": code, "service_code": "hazard.fire_exit_blocked",
            "lat": "23.47", "long": "116.76", "description": "x", "media_url": f"http://{media}/p.jpg"}
    cases = [({"service_code": "no.such.thing"}, 400, "unknown_service"),
             ({"lat": "", "long": ""}, 400, "location_required"),
             ({"api_key": "jft_not_a_token"}, 403, "invalid_api_key"),
             ({"media_url": "http://203.0.113.7/p.jpg"}, 400, "media_host_not_allowed"),
             ({"media_url": f"http://{media}/moved.jpg"}, 400, "media_unreachable"),  # a redirect is not followed
             ({"media_url": f"http://{media}/slow.jpg"}, 400, "media_unreachable"),  # cut off, not waited on
             ({"media_url": f"http://{media}/missing.jpg"}, 400, "media_unreachable"),
             ({"jurisdiction_id": "nowhere"}, 404, "not_found"),
             ({"jurisdiction_id": elsewhere}, 403, "wrong_jurisdiction"),  # a token files at home only
             ({"lat": "north"}, 400, "invalid_number"),
             ({"description": "门口\ufffe堵塞"}, 400, "invalid_text")]  # XML cannot carry it
    for change, status, error in cases:
        for fmt in ("json", "xml"):
            answer = requests.post(f"{base}/requests.{fmt}", data={**good, **change})
            assert answer.status_code == status, (change, answer.text)
            assert "INTERNAL" not in answer.text and "refused" not in answer.text
            if fmt == "json":
                assert answer.json()[0]["code"] == error and answer.json()[0]["description"]
            else:
                root = ET.fromstring(answer.content)
                assert root.tag == "errors" and root.find("error/code").text == error
    assert inside[1] == []  # nothing inside was reached through Jifen
    too_large = requests.get(f"{base}/requests.json", params={"jurisdiction_id": code, "page_size": 5000})
    assert too_large.status_code == 400 and too_large.json()[0]["code"] == "page_too_large"
    for size in ("-1", "nan", "1e400", "²"):  # says what is wrong: not a page size at all
        bad = requests.get(f"{base}/requests.xml", params={"jurisdiction_id": code, "page_size": size})
        assert bad.status_code == 400 and ET.fromstring(bad.content).find("error/code").text == "invalid_page_size"
    wide = requests.get(f"{base}/requests.xml", params={"jurisdiction_id": code, "start_date": "2020-01-01T00:00:00Z",
                                                        "end_date": "2026-01-01T00:00:00Z"})
    assert wide.status_code == 400 and ET.fromstring(wide.content).find("error/code").text == "invalid_range"
    assert requests.get(f"{base}/requests.json").json()[0]["code"] == "jurisdiction_required"  # several communities
    assert requests.get(f"{base}/services/no.such.json", params={"jurisdiction_id": code}).status_code == 404
    assert requests.get(f"{base}/requests.html", params={"jurisdiction_id": code}).status_code == 404
    assert run(sql("SELECT COUNT(*) AS n FROM submission"))[0]["n"] == before
