"""technitiumsim: the Technitium DNS Server simulator (API answers, auth, validation, zones, records, DNS)."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest
import requests

from technitiumsim import TechnitiumSimulator
from technitiumsim.rules import CALLS, RECORD_TYPES, ZONE_TYPES
from technitiumsim.testing import DEMO_TOKEN, TechnitiumSession, dns_query

pytestmark = pytest.mark.timeout(30)
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "technitiumsim", "data")
ZONE = "acme.lab.internal"
VIEW_TOKEN = "technitiumsim-view-only-token-01"
MODIFY_TOKEN = "technitiumsim-view-modify-token-02"


@pytest.fixture(scope="module")
def sim():
    with TechnitiumSimulator(port=0, dns_port=0) as simulator:
        yield simulator


@pytest.fixture(name="api")
def api_session(sim):
    sim.reset()
    session = TechnitiumSession(sim)
    yield session
    session.close()


def error_of(document):
    """The errorMessage of an error answer (and the answer has the documented error shape)."""
    assert document["status"] == "error", document
    assert set(document) >= {"status", "errorMessage", "stackTrace"}
    return document["errorMessage"]


def zone_names(api):
    return [zone["name"] for zone in api.ok("/api/zones/list")["zones"]]


def records(api, domain, zone=ZONE):
    return [(entry["name"], entry["type"], entry["rData"]) for entry in
            api.ok("/api/zones/records/get", domain=domain, zone=zone)["records"]]


# -- the vendored documentation and the rules --------------------------------------------------------
def test_vendored_subset_matches_provenance_and_holds_every_served_section():
    with open(os.path.join(DATA_DIR, "APIDOCS-subset.md"), "rb") as handle:
        text = handle.read()
    with open(os.path.join(DATA_DIR, "PROVENANCE.md"), encoding="utf-8") as handle:
        provenance = handle.read()
    assert "sha256 of the vendored file: `%s`" % hashlib.sha256(text).hexdigest() in provenance
    headings = set(re.findall(r"^### (.+?)\s*$", text.decode("utf-8"), re.M))
    for path, call in CALLS.items():
        assert call["section"] in headings, path
        section = text.decode("utf-8").split("### %s" % call["section"], 1)[1].split("\n### ", 1)[0]
        assert path in section, path
        for name in call["params"]:
            assert "`%s`" % name in section, (path, name)
    documented = text.decode("utf-8")
    for value in ZONE_TYPES + RECORD_TYPES:
        assert "`%s`" % value in documented


# -- the answer shapes and authentication ------------------------------------------------------------
def test_errors_are_http_200_with_the_error_shape(api):
    api.ok("/api/zones/create", zone=ZONE)
    answer = api.api("GET", "/api/zones/create", params={"zone": ZONE})
    assert answer.status_code == 200
    assert error_of(answer.json()) == "Zone already exists: %s" % ZONE
    assert answer.json()["server"] == "dns1.technitiumsim.internal"


def test_bearer_header_token_parameter_and_form_post_are_all_accepted(sim, api):
    api.ok("/api/zones/create", zone=ZONE)
    anonymous = TechnitiumSession(sim, token=None)
    assert anonymous.ok("/api/zones/list", token=DEMO_TOKEN)["zones"][0]["name"] == ZONE
    assert anonymous.ok("/api/zones/delete", method="POST", token=DEMO_TOKEN, zone=ZONE) == {}
    assert zone_names(api) == []


@pytest.mark.parametrize("token", [None, "not-a-token-the-simulator-has"])
def test_missing_or_unknown_token_answers_invalid_token(sim, token):
    session = TechnitiumSession(sim, token=token)
    answer = session.api("GET", "/api/zones/list")
    assert answer.status_code == 200
    assert answer.json()["status"] == "invalid-token"
    assert answer.json()["errorMessage"] == "Invalid token or session expired."


def test_token_without_a_permission_is_refused_and_changes_nothing(sim, api):
    sim.add_token(VIEW_TOKEN, ["Zones:View"])
    sim.add_token(MODIFY_TOKEN, ["Zones:View", "Zones:Modify"])
    try:
        api.ok("/api/zones/create", zone=ZONE)
        viewer = TechnitiumSession(sim, VIEW_TOKEN)
        assert viewer.ok("/api/zones/list")["zones"][0]["name"] == ZONE
        assert error_of(viewer.call("/api/zones/create", zone="other.internal")) == "Access was denied."
        assert error_of(viewer.call("/api/zones/records/add", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10")) == \
            "Access was denied."
        modifier = TechnitiumSession(sim, MODIFY_TOKEN)
        modifier.ok("/api/zones/records/add", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10")
        assert error_of(modifier.call("/api/zones/records/delete", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10")) == \
            "Access was denied."
        assert error_of(modifier.call("/api/zones/delete", zone=ZONE)) == "Access was denied."
        assert zone_names(api) == [ZONE] and ("web1." + ZONE, "A", {"ipAddress": "10.128.17.10"}) in records(api, "web1." + ZONE)
    finally:
        sim.remove_token(VIEW_TOKEN)
        sim.remove_token(MODIFY_TOKEN)


def test_paths_outside_the_served_calls_answer_404_and_methods_other_than_get_post_405(api):
    assert api.api("GET", "/api/zones/nosuchcall").status_code == 404
    assert api.api("GET", "/index.html").status_code == 404
    answer = api.api("PUT", "/api/zones/list")
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET, POST"


def test_query_string_wins_over_the_form(api):
    answer = api.api("POST", "/api/zones/create", params={"zone": ZONE}, data={"zone": "form.internal"})
    assert answer.json()["response"] == {"domain": ZONE}
    assert api.ok("/api/zones/create", method="POST", zone="form.internal") == {"domain": "form.internal"}
    assert zone_names(api) == [ZONE, "form.internal"]


def test_obsolete_paths_answer_as_the_current_ones(api):
    assert api.ok("/api/createZone", zone=ZONE) == {"domain": ZONE}
    assert zone_names(api) == [ZONE]


# -- zones ---------------------------------------------------------------------------------------------
def test_zone_create_list_delete_and_the_records_of_a_new_zone(api):
    assert api.ok("/api/zones/create", zone=ZONE + ".", type="primary") == {"domain": ZONE}
    assert zone_names(api) == [ZONE]
    soa, ns = api.ok("/api/zones/records/get", domain=ZONE, listZone="true")["records"]
    assert soa["type"] == "SOA" and soa["ttl"] == 900
    assert soa["rData"] == {"primaryNameServer": "dns1.technitiumsim.internal", "responsiblePerson": "hostadmin." + ZONE,
                            "serial": 1, "refresh": 900, "retry": 300, "expire": 604800, "minimum": 900}
    assert ns["type"] == "NS" and ns["ttl"] == 14400 and ns["rData"] == {"nameServer": "dns1.technitiumsim.internal"}
    assert api.ok("/api/zones/delete", zone=ZONE) == {}
    assert zone_names(api) == []
    assert error_of(api.call("/api/zones/delete", zone=ZONE)) == "No such zone was found: %s" % ZONE
    assert error_of(api.call("/api/zones/delete", zone="10.128.17.0/24")) == "No such zone was found: 10.128.17.0/24"


@pytest.mark.parametrize("given, created", [
    ("10.128.17.0/24", "17.128.10.in-addr.arpa"),
    ("10.128.16.0/20", "16.128.10.in-addr.arpa"),
    ("10.128.17.10", "10.17.128.10.in-addr.arpa"),
    ("2001:db8::/64", "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"),
])
def test_an_address_or_network_creates_its_reverse_zone(api, given, created):
    assert api.ok("/api/zones/create", zone=given)["domain"] == created
    assert zone_names(api) == [created]


def test_zone_list_pages_as_the_server_does(api):
    assert api.ok("/api/zones/list", pageNumber=1) == {"pageNumber": 0, "totalPages": 0, "totalZones": 0, "zones": []}
    for number in range(3):
        api.ok("/api/zones/create", zone="z%d.internal" % number)
    first = api.ok("/api/zones/list", pageNumber=0, zonesPerPage=2)
    assert (first["pageNumber"], first["totalPages"], first["totalZones"]) == (1, 2, 3)
    assert [zone["name"] for zone in first["zones"]] == ["z0.internal", "z1.internal"]
    last = api.ok("/api/zones/list", pageNumber=9, zonesPerPage=2)
    assert last["pageNumber"] == 2 and [zone["name"] for zone in last["zones"]] == ["z2.internal"]
    assert "pageNumber" not in api.ok("/api/zones/list") and len(api.ok("/api/zones/list")["zones"]) == 3


# -- records --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("record_type, data", [
    ("A", {"ipAddress": "10.128.17.10"}),
    ("AAAA", {"ipAddress": "2001:db8::10"}),
    ("CNAME", {"cname": "web1." + ZONE}),
    ("TXT", {"text": "v=spf1 -all"}),
    ("PTR", {"ptrName": "web1." + ZONE}),
    ("NS", {"nameServer": "ns2." + ZONE}),
    ("MX", {"preference": 10, "exchange": "mail." + ZONE}),
    ("SRV", {"priority": 0, "weight": 5, "port": 5432, "target": "db1." + ZONE}),
])
def test_records_add_get_delete_per_type(api, record_type, data):
    api.ok("/api/zones/create", zone=ZONE)
    name = "www." + ZONE
    added = api.ok("/api/zones/records/add", domain=name, zone=ZONE, type=record_type, ttl=300, comments="managed", **data)
    assert added["addedRecord"]["rData"] == data and added["addedRecord"]["ttl"] == 300
    assert added["addedRecord"]["comments"] == "managed" and added["zone"]["name"] == ZONE
    assert records(api, name) == [(name, record_type, data)]
    delete = dict(data) if record_type != "CNAME" else {}
    api.ok("/api/zones/records/delete", domain=name, zone=ZONE, type=record_type, **delete)
    assert records(api, name) == []
    assert error_of(api.call("/api/zones/records/delete", domain=name, zone=ZONE, type=record_type, **delete)) == \
        "Cannot delete record: no such record exists."


def test_add_defaults_the_ttl_and_overwrite_replaces_the_set(api):
    api.ok("/api/zones/create", zone=ZONE)
    name = "app." + ZONE
    assert api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.10")["addedRecord"]["ttl"] == 3600
    api.ok("/api/zones/records/add", domain=name, type="A", value="10.128.17.11")
    assert error_of(api.call("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.11")) == \
        "Cannot add record: record already exists."
    # an added record gives its TTL to the whole set; the same data with another TTL only changes the TTL
    api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.13", ttl=60)
    api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.13", ttl=120)
    listed = api.ok("/api/zones/records/get", domain=name)["records"]
    assert [(entry["rData"]["ipAddress"], entry["ttl"]) for entry in listed] == \
        [("10.128.17.10", 120), ("10.128.17.11", 120), ("10.128.17.13", 120)]
    api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.12", overwrite="true")
    assert records(api, name) == [(name, "A", {"ipAddress": "10.128.17.12"})]


@pytest.mark.parametrize("ttl, seconds, text", [("300", 300, "5m"), ("1h30m", 5400, "1h30m"), ("1w2d1h30m5", 783005, "1w2d1h30m5s"),
                                                ("0", 0, "0s"), ("4294967295", 4294967295, "7101w3d6h28m15s")])
def test_ttl_in_seconds_or_units(api, ttl, seconds, text):
    api.ok("/api/zones/create", zone=ZONE)
    added = api.ok("/api/zones/records/add", domain="t." + ZONE, type="TXT", text="x", ttl=ttl)["addedRecord"]
    assert (added["ttl"], added["ttlString"]) == (seconds, text)


def test_a_record_with_ptr_sets_and_removes_the_reverse_record(api):
    api.ok("/api/zones/create", zone=ZONE)
    name = "web1." + ZONE
    assert error_of(api.call("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.10", ptr="true")) == \
        "No reverse zone available to add PTR record."
    assert zone_names(api) == [ZONE] and records(api, name) == []
    api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.10", ptr="true", createPtrZone="true")
    reverse = "17.128.10.in-addr.arpa"
    assert zone_names(api) == [reverse, ZONE]
    assert records(api, "10." + reverse, reverse) == [("10." + reverse, "PTR", {"ptrName": name})]
    api.ok("/api/zones/records/delete", domain=name, type="A", ipAddress="10.128.17.10")
    assert records(api, "10." + reverse, reverse) == []


def test_update_replaces_one_record_and_its_ptr(api):
    api.ok("/api/zones/create", zone=ZONE)
    api.ok("/api/zones/create", zone="10.128.17.0/24")
    name = "db1." + ZONE
    api.ok("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.11", ptr="true")
    updated = api.ok("/api/zones/records/update", domain=name, type="A", ipAddress="10.128.17.11", newIpAddress="10.128.17.12",
                     ptr="true", ttl=60)["updatedRecord"]
    assert updated["rData"] == {"ipAddress": "10.128.17.12"} and updated["ttl"] == 60
    assert records(api, name) == [(name, "A", {"ipAddress": "10.128.17.12"})]
    reverse = "17.128.10.in-addr.arpa"
    assert [entry["name"] for entry in api.ok("/api/zones/records/get", domain=reverse, listZone="true")["records"]
            if entry["type"] == "PTR"] == ["12." + reverse]
    assert error_of(api.call("/api/zones/records/update", domain=name, type="A", ipAddress="10.128.17.99",
                             newIpAddress="10.128.17.13")) == "Cannot update record: the old record does not exists."


# -- validation refusals (one per class), nothing changed ------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"type": "A", "ipAddress": "10.0.0.1"}, "Parameter 'domain' missing."),
    ({"domain": "a." + ZONE, "type": "A"}, "Parameter 'ipAddress' missing."),
    ({"domain": "a." + ZONE, "type": "BOGUS", "ipAddress": "10.0.0.1"}, "Requested value 'BOGUS' was not found."),
    ({"domain": "a." + ZONE, "type": "A", "ipAddress": "10.0.0"}, "An invalid IP address was specified."),
    ({"domain": "a." + ZONE, "type": "AAAA", "ipAddress": "2001:db8::zz"}, "An invalid IP address was specified."),
    ({"domain": "a." + ZONE, "type": "A", "ipAddress": "10.0.0.1", "ttl": "-1"}, "Failed to parse TTL from value: -1"),
    ({"domain": "a." + ZONE, "type": "A", "ipAddress": "10.0.0.1", "ttl": "4294967296"}, "Failed to parse TTL from value: 4294967296"),
    ({"domain": "a." + ZONE, "type": "A", "ipAddress": "10.0.0.1", "ttl": "1y"}, "Failed to parse TTL from value: 1y"),
    ({"domain": "a." + ZONE, "type": "A", "ipAddress": "10.0.0.1", "overwrite": "yes"},
     "String 'yes' was not recognized as a valid Boolean."),
    ({"domain": "web.other.internal", "zone": ZONE, "type": "A", "ipAddress": "10.0.0.1"},
     "The domain name 'web.other.internal' does not belong to the zone: %s" % ZONE),
    ({"domain": "web.other.internal", "type": "A", "ipAddress": "10.0.0.1"}, "No such zone was found: web.other.internal"),
    ({"domain": "bad_label-.%s" % ZONE, "type": "A", "ipAddress": "10.0.0.1"}, "technitiumsim: invalid domain name: bad_label-.%s" % ZONE),
    ({"domain": "a." + ZONE, "type": "CAA"}, "technitiumsim: CAA records are not simulated"),
    ({"domain": "a." + ZONE, "type": "SRV", "priority": "1", "weight": "1", "port": "70000", "target": "b." + ZONE},
     "Value was either too large or too small for a UInt16."),
    ({"domain": ZONE, "type": "CNAME", "cname": ZONE}, "CNAME domain name cannot be same as that of the record name."),
])
def test_record_validation_refusals(api, params, message):
    api.ok("/api/zones/create", zone=ZONE)
    before = api.ok("/api/zones/records/get", domain=ZONE, listZone="true")["records"]
    assert error_of(api.call("/api/zones/records/add", **params)) == message
    assert api.ok("/api/zones/records/get", domain=ZONE, listZone="true")["records"] == before


@pytest.mark.parametrize("params, message", [
    ({}, "Parameter 'zone' missing."),
    ({"zone": "*.acme.internal"}, "Domain name for a zone cannot contain wildcard character."),
    ({"zone": "10.0.0.0/abc"}, "The zone name contains an invalid character: /"),
    ({"zone": "acme.internal", "type": "Stub"}, "technitiumsim: only Primary zones are simulated, not Stub"),
    ({"zone": "acme.internal", "type": "Master"}, "Requested value 'Master' was not found."),
])
def test_zone_validation_refusals(api, params, message):
    assert error_of(api.call("/api/zones/create", **params)) == message
    assert zone_names(api) == []


def test_cname_cannot_share_its_name_and_a_refused_write_changes_nothing(api):
    api.ok("/api/zones/create", zone=ZONE)
    name = "alias." + ZONE
    api.ok("/api/zones/records/add", domain=name, type="CNAME", cname="web1." + ZONE)
    assert error_of(api.call("/api/zones/records/add", domain=name, type="CNAME", cname="web2." + ZONE)) == \
        "Record already exists. Use overwrite option if you wish to overwrite existing record."
    conflict = "Cannot add record: a CNAME record cannot exists with other record types for the same name."
    # the PTR (and its new reverse zone) would come first: the refusal must take them back
    assert error_of(api.call("/api/zones/records/add", domain=name, type="A", ipAddress="10.128.17.10", ptr="true",
                             createPtrZone="true")) == conflict
    assert zone_names(api) == [ZONE]
    api.ok("/api/zones/records/add", domain="web1." + ZONE, type="TXT", text="owner=acme")
    api.ok("/api/zones/records/add", domain="WEB1.%s." % ZONE.upper(), type="TXT", text="Owner=ACME")  # names ignore case, text not
    assert len(records(api, "web1." + ZONE)) == 2
    assert error_of(api.call("/api/zones/records/add", domain="web1." + ZONE, type="CNAME", cname="x." + ZONE)) == conflict
    assert records(api, name) == [(name, "CNAME", {"cname": "web1." + ZONE})]


# -- DNS service ---------------------------------------------------------------------------------------------
def test_dns_answers_from_the_zones_held(sim, api):
    api.ok("/api/zones/create", zone=ZONE)
    api.ok("/api/zones/create", zone="10.128.17.0/24")
    api.ok("/api/zones/records/add", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10", ptr="true", ttl=120)
    api.ok("/api/zones/records/add", domain="www." + ZONE, type="CNAME", cname="web1." + ZONE)
    answer = dns_query(sim, "web1." + ZONE)
    assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA and not answer.flags & dns.flags.RA
    assert [(rrset.ttl, [rdata.to_text() for rdata in rrset]) for rrset in answer.answer] == [(120, ["10.128.17.10"])]
    ptr = dns_query(sim, "10.17.128.10.in-addr.arpa", "PTR", tcp=True)
    assert [rdata.to_text() for rdata in ptr.answer[0]] == ["web1.%s." % ZONE]
    chain = dns_query(sim, "www." + ZONE)
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in chain.answer] == ["CNAME", "A"]


def test_dns_negative_answers_carry_the_soa_and_foreign_names_are_refused(sim, api):
    api.ok("/api/zones/create", zone=ZONE)
    api.ok("/api/zones/records/add", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10")
    missing = dns_query(sim, "nosuch." + ZONE)
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
    assert missing.authority[0].rdtype == dns.rdatatype.SOA and missing.authority[0].ttl == 900
    nodata = dns_query(sim, "web1." + ZONE, "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.answer == [] and nodata.authority[0].rdtype == dns.rdatatype.SOA
    outside = dns_query(sim, "example.com")
    assert outside.rcode() == dns.rcode.REFUSED and outside.answer == []
    api.ok("/api/zones/delete", zone=ZONE)
    assert dns_query(sim, "web1." + ZONE).rcode() == dns.rcode.REFUSED


def test_dns_query_acl_refuses_clients_outside_it():
    with TechnitiumSimulator(port=0, dns_port=0, query_acl=["192.0.2.0/24", "10.128.0.0/16"]) as guarded:
        TechnitiumSession(guarded).ok("/api/zones/create", zone=ZONE)
        assert dns_query(guarded, ZONE, "SOA").rcode() == dns.rcode.REFUSED
        assert guarded.set_query_acl(["127.0.0.0/8"]) == ["127.0.0.0/8"]
        assert dns_query(guarded, ZONE, "SOA", tcp=True).rcode() == dns.rcode.NOERROR
        assert [entry["rcode"] for entry in guarded.dns_queries()] == ["REFUSED", "NOERROR"]
        assert guarded.counters()["dns_queries"] == 2


# -- observation: request log, side channel, faults, state file, command line ----------------------------
def test_tokens_never_reach_the_request_log(sim, api):
    anonymous = TechnitiumSession(sim, token=None)
    anonymous.ok("/api/zones/create", token=DEMO_TOKEN, zone=ZONE)
    anonymous.ok("/api/zones/list", method="POST", token=DEMO_TOKEN)
    api.ok("/api/zones/list")
    anonymous.call("/api/zones/list", token="a-wrong-token-value-1234")
    logged = json.dumps(sim.requests()) + api.sim("GET", "requests").text
    assert DEMO_TOKEN not in logged and "a-wrong-token-value-1234" not in logged
    assert [entry["params"].get("token") for entry in sim.requests()] == ["***", "***", None, "***"]
    assert [entry["api_status"] for entry in sim.requests()] == ["ok", "ok", "ok", "invalid-token"]
    assert sim.requests()[0]["token"] == "admin!demo"


def test_side_channel_tokens_state_and_faults(sim, api):
    side = api.sim("POST", "tokens", json={"token": VIEW_TOKEN, "permissions": ["Zones:View"], "name": "viewer"})
    assert side.json()["data"] == {"name": "viewer", "user": "admin", "permissions": ["Zones:View"]}
    viewer = TechnitiumSession(sim, VIEW_TOKEN)
    assert viewer.ok("/api/zones/list") == {"zones": []}
    assert VIEW_TOKEN not in api.sim("GET", "tokens").text
    api.sim("DELETE", "tokens", json={"token": VIEW_TOKEN})
    assert viewer.call("/api/zones/list")["status"] == "invalid-token"
    api.ok("/api/zones/create", zone=ZONE)
    assert list(api.sim("GET", "state").json()["data"]["namespaces"]["zones"]["zones"]) == [ZONE]
    sim.inject_fault(path="/api/zones/create", status=503, message="maintenance")
    answer = api.api("GET", "/api/zones/create", params={"zone": "later.internal"})
    assert answer.status_code == 503 and error_of(answer.json()) == "maintenance"
    assert zone_names(api) == [ZONE]
    sim.inject_fault(action="reset", path="/api/zones/list")
    with pytest.raises(requests.ConnectionError):
        api.api("GET", "/api/zones/list")


def test_state_file_survives_a_restart():
    workdir = tempfile.mkdtemp(prefix="technitiumsim-test-")
    state_file = os.path.join(workdir, "state.json")
    try:
        with TechnitiumSimulator(state_file=state_file) as first:
            TechnitiumSession(first).ok("/api/zones/create", zone=ZONE)
        with TechnitiumSimulator(state_file=state_file) as second:
            assert zone_names(TechnitiumSession(second)) == [ZONE]
            assert dns_query(second, ZONE, "NS").answer[0].rdtype == dns.rdatatype.NS
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_https_when_asked():
    with TechnitiumSimulator(tls=True) as secure:
        assert secure.url.startswith("https://127.0.0.1:")
        assert TechnitiumSession(secure).ok("/api/zones/create", zone=ZONE) == {"domain": ZONE}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(secure.url + "/api/zones/list", timeout=5)


def test_command_line_serves_api_and_dns():
    workdir = tempfile.mkdtemp(prefix="technitiumsim-cli-")
    port_file, dns_port_file, state_file = (os.path.join(workdir, name) for name in ("port", "dns-port", "state.json"))
    command = [sys.executable, "-m", "technitiumsim", "--port", "0", "--dns-port", "0", "--port-file", port_file,
               "--dns-port-file", dns_port_file, "--state-file", state_file]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(port_file, encoding="ascii") as handle, open(dns_port_file, encoding="ascii") as dns_handle:
            port, dns_port = int(handle.read()), int(dns_handle.read())

        class Remote:  # pylint: disable=too-few-public-methods
            url = "http://127.0.0.1:%d" % port
            cert_path = None
            side_prefix = "/_sim"
            bind = "127.0.0.1"

        Remote.dns_port = dns_port
        session = TechnitiumSession(Remote)
        session.ok("/api/zones/create", zone=ZONE)
        session.ok("/api/zones/records/add", domain="web1." + ZONE, type="A", ipAddress="10.128.17.10")
        assert dns_query(Remote, "web1." + ZONE).answer[0][0].to_text() == "10.128.17.10"
        with open(state_file, encoding="utf-8") as handle:
            assert "web1." + ZONE in handle.read()
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    assert process.returncode == 0
