"""cfsim: the Cloudflare API simulator (envelope, pagination, auth, validation, tunnels, DNS, Access)."""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from cfsim import CfSimulator
from cfsim.errors import DNS_CNAME_TAKEN, DNS_HOST_TAKEN, DNS_RECORD_EXISTS, TUNNEL_NAME_TAKEN
from cfsim.simulator import DEFAULT_ACCOUNT_ID, DEFAULT_TEAM, DEFAULT_ZONE, DEMO_TOKEN, zone_id
from cfsim.testing import CfSession
from cfsim.vendor import DATA_DIR, SCHEMA_FILE, SERVED_OPERATIONS, missing_operations, subset
from simcore.schema import gzip_compact_json, load_tree

pytestmark = pytest.mark.timeout(30)
SECRET = base64.b64encode(bytes(range(32))).decode("ascii")
ZONE_ID = zone_id(DEFAULT_ZONE)
READ_ONLY_TOKEN = "cfsim-test-readonly-token-0001"


@pytest.fixture(scope="module")
def sim():
    with CfSimulator(seed=11) as simulator:
        yield simulator


@pytest.fixture(name="api")
def api_session(sim):
    sim.reset()
    session = CfSession.admin(sim)
    yield session
    session.close()


def error_codes(answer):
    return [error["code"] for error in answer.json()["errors"]]


# -- the vendored schema ---------------------------------------------------------------------------
def test_subset_holds_every_served_operation_and_each_has_a_handler(sim):
    document = load_tree(os.path.join(DATA_DIR, SCHEMA_FILE))
    assert missing_operations(document) == []
    served = {(method.upper(), path) for path, methods in SERVED_OPERATIONS.items() for method in methods}
    assert served == set(sim.routes)
    assert document["paths"]["/accounts/{account_id}/cfd_tunnel"]["post"]["requestBody"]["content"]["application/json"]


def test_subset_regenerates_from_itself_byte_for_byte():
    path = os.path.join(DATA_DIR, SCHEMA_FILE)
    document = load_tree(path)
    with open(path, "rb") as handle:
        assert gzip_compact_json(json.loads(json.dumps(subset(document), sort_keys=True))) == handle.read()


# -- envelope, pagination, auth --------------------------------------------------------------------
def test_envelope_and_token_verify(api):
    answer = api.api("GET", "/user/tokens/verify")
    document = answer.json()
    assert answer.status_code == 200 and document["success"] is True and document["errors"] == []
    assert document["result"]["status"] == "active"
    assert document["messages"][0]["message"] == "This API Token is valid and active"


def test_zones_filter_by_name(api):
    assert [zone["id"] for zone in api.result("GET", "/zones", params={"name": DEFAULT_ZONE})] == [ZONE_ID]
    assert api.result("GET", "/zones", params={"name": "other.example"}) == []


def test_lists_paginate_with_result_info(api):
    for index in range(7):
        api.result("POST", "/zones/%s/dns_records" % ZONE_ID, json={"type": "TXT", "name": "t%d" % index, "content": "v"})
    first = api.api("GET", "/zones/%s/dns_records" % ZONE_ID, params={"per_page": 3}).json()
    assert first["result_info"] == {"page": 1, "per_page": 3, "count": 3, "total_count": 7, "total_pages": 3}
    last = api.api("GET", "/zones/%s/dns_records" % ZONE_ID, params={"per_page": 3, "page": 3}).json()
    assert last["result_info"]["count"] == 1 and len(last["result"]) == 1
    names = set()
    for page in (1, 2, 3):
        names.update(record["name"] for record in
                     api.result("GET", "/zones/%s/dns_records" % ZONE_ID, params={"per_page": 3, "page": page}))
    assert len(names) == 7
    default = api.api("GET", "/zones/%s/dns_records" % ZONE_ID).json()["result_info"]
    assert default["per_page"] == 100


@pytest.mark.parametrize("headers, status, code", [
    ({}, 400, 9106),
    ({"Authorization": "Token abc"}, 400, 6003),
    ({"Authorization": "Bearer unknown-token-0123456789"}, 403, 10000),
])
def test_authentication_errors(sim, headers, status, code):
    session = CfSession(sim)
    answer = session.api("GET", "/zones", headers=headers)
    assert answer.status_code == status and error_codes(answer) == [code]
    assert answer.json()["success"] is False and answer.json()["result"] is None
    if code == 6003:
        assert answer.json()["errors"][0]["error_chain"] == [{"code": 6111, "message": "Invalid format for Authorization header"}]


def test_token_without_permission_is_refused_and_tokens_come_and_go(sim, api):
    assert api.sim("POST", "tokens", json={"token": READ_ONLY_TOKEN, "permissions": ["dns:read", "zone:read"]}).status_code == 200
    reader = CfSession(sim, READ_ONLY_TOKEN)
    assert reader.api("GET", "/zones/%s/dns_records" % ZONE_ID).status_code == 200
    write = reader.api("POST", "/zones/%s/dns_records" % ZONE_ID, json={"type": "TXT", "name": "x", "content": "y"})
    assert write.status_code == 403 and error_codes(write) == [10000]
    access = reader.api("GET", api.account_path("/access/apps"))
    assert access.status_code == 403 and error_codes(access) == [9109]
    assert api.sim("DELETE", "tokens", json={"token": READ_ONLY_TOKEN}).status_code == 200
    assert reader.api("GET", "/zones").status_code == 403
    assert READ_ONLY_TOKEN not in json.dumps(api.sim("GET", "tokens").json())


def test_foreign_account_and_unknown_path(api):
    foreign = api.api("GET", "/accounts/%s/cfd_tunnel" % ("0" * 32))
    assert foreign.status_code == 403 and error_codes(foreign) == [9109]
    unknown = api.api("GET", "/accounts/%s/teamnet/routes" % DEFAULT_ACCOUNT_ID)
    assert unknown.status_code == 404 and error_codes(unknown) == [7003]


# -- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, body, code, field", [
    ("/cfd_tunnel", {"config_src": "local"}, 1001, "name: is required"),
    ("/cfd_tunnel", {"name": "t", "config_src": "elsewhere"}, 1001, "config_src: must be one of"),
    ("/cfd_tunnel", {"name": 5}, 1001, "name: must be of type string"),
    ("/cfd_tunnel", {"name": "t", "tunnel_secret": base64.b64encode(b"short").decode()}, 1001, "tunnel_secret"),
    ("/access/policies", {"name": "p", "decision": "maybe", "include": [{"everyone": {}}]}, 12130, "decision: must be one of"),
    ("/access/policies", {"name": "p", "decision": "allow", "include": [{"email": {"email": "nobody"}}]}, 12130,
     "include.0.email.email: must be a valid email"),
    ("/access/policies", {"name": "p", "decision": "allow", "include": []}, 12130, "include: must have at least 1 rule"),
    ("/access/policies", {"name": "p", "decision": "allow", "include": [{"okta": {"email": "g@x.example"}}]}, 12130,
     "include.0.okta.connection_id: is required"),
    ("/access/policies", {"name": "p", "decision": "allow", "include": [{"everyone": {}}], "session_duration": "1 day"},
     12130, "session_duration"),
    ("/access/apps", {"type": "self_hosted", "domain": "a.homecloud.example", "session_duration": "24hours"}, 12130,
     "session_duration"),
    ("/access/apps", {"type": "self_hosted", "domain": "a.homecloud.example", "policies": ["no-such-policy"]}, 12130,
     "policies.0"),
])
def test_account_request_validation(api, path, body, code, field):
    answer = api.api("POST", api.account_path(path), json=body)
    assert answer.status_code == 400 and error_codes(answer) == [code]
    assert field in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize("body, chain_code", [
    ({"type": "A", "name": "a", "content": "10.0.0"}, 9005),
    ({"type": "AAAA", "name": "a", "content": "10.0.0.1"}, 9006),
    ({"type": "TXT", "name": "a", "content": "x", "proxied": True}, 9041),
    ({"type": "A", "name": "a", "content": "10.0.0.1", "ttl": 5}, 1004),
    ({"type": "BOGUS", "name": "a", "content": "x"}, 1004),
])
def test_dns_validation(api, body, chain_code):
    answer = api.api("POST", "/zones/%s/dns_records" % ZONE_ID, json=body)
    assert answer.status_code == 400 and error_codes(answer) == [1004]
    assert answer.json()["errors"][0]["error_chain"][0]["code"] == chain_code


def test_unknown_ids_are_404(api):
    assert error_codes(api.api("GET", "/zones/%s/dns_records/%s" % (ZONE_ID, "f" * 32))) == [81044]
    assert api.api("GET", "/zones/%s/dns_records" % ("e" * 32)).status_code == 404
    assert api.api("GET", api.account_path("/cfd_tunnel/7c0d7e8a-6b1f-4a3e-9d2c-5b4a3f2e1d0c")).status_code == 404
    assert api.api("GET", api.account_path("/access/apps/7c0d7e8a-6b1f-4a3e-9d2c-5b4a3f2e1d0c")).status_code == 404


# -- tunnels ---------------------------------------------------------------------------------------
def test_tunnel_lifecycle_token_and_secret_never_answered(sim, api):
    tunnel = api.result("POST", api.account_path("/cfd_tunnel"), json={"name": "gw-a", "config_src": "local",
                                                                       "tunnel_secret": SECRET})
    assert tunnel["status"] == "inactive" and tunnel["deleted_at"] is None and tunnel["remote_config"] is False
    duplicate = api.api("POST", api.account_path("/cfd_tunnel"), json={"name": "gw-a"})
    assert duplicate.status_code == 409 and error_codes(duplicate) == [TUNNEL_NAME_TAKEN[0]]
    path = api.account_path("/cfd_tunnel/%s" % tunnel["id"])
    token = json.loads(base64.b64decode(api.result("GET", path + "/token")))
    assert token == {"a": sim.account_id, "t": tunnel["id"], "s": SECRET}
    assert api.sim("POST", "tunnels/%s/connect" % tunnel["id"]).json()["data"]["status"] == "healthy"
    assert len(api.result("GET", path)["connections"]) == 1
    assert api.result("PATCH", path, json={"name": "gw-b"})["name"] == "gw-b"
    assert api.result("DELETE", path, json={})["deleted_at"] is not None
    assert [item["id"] for item in api.result("GET", api.account_path("/cfd_tunnel"), params={"is_deleted": "false"})] == []
    assert [item["id"] for item in api.result("GET", api.account_path("/cfd_tunnel"), params={"is_deleted": "true"})] == [tunnel["id"]]
    assert api.api("GET", path + "/token").status_code == 404
    again = api.result("POST", api.account_path("/cfd_tunnel"), json={"name": "gw-b"})  # the name is free again
    everything = json.dumps([api.sim("GET", "state").json(), api.sim("GET", "requests").json(),
                             api.api("GET", api.account_path("/cfd_tunnel")).json(), again])
    assert SECRET not in everything and DEMO_TOKEN not in everything
    assert '"tunnel_secret": "***"' in json.dumps(api.sim("GET", "requests").json())


# -- DNS -------------------------------------------------------------------------------------------
def test_proxied_cname_to_the_tunnel_and_conflicts(api):
    target = "7c0d7e8a-6b1f-4a3e-9d2c-5b4a3f2e1d0c.cfargotunnel.com"
    records = "/zones/%s/dns_records" % ZONE_ID
    record = api.result("POST", records, json={"type": "CNAME", "name": "app", "content": target, "proxied": True,
                                               "ttl": 300, "comment": "tunnel route"})
    assert record["name"] == "app." + DEFAULT_ZONE and record["proxied"] is True and record["ttl"] == 1
    assert record["content"] == target and record["comment"] == "tunnel route"
    found = api.result("GET", records, params={"name": "app." + DEFAULT_ZONE, "type": "CNAME"})
    assert [item["id"] for item in found] == [record["id"]]
    same = api.api("POST", records, json={"type": "CNAME", "name": "app", "content": target})
    assert same.status_code == 400 and error_codes(same) == [DNS_RECORD_EXISTS[0]]
    address = api.api("POST", records, json={"type": "A", "name": "app." + DEFAULT_ZONE, "content": "192.0.2.1"})
    assert address.status_code == 400 and error_codes(address) == [DNS_CNAME_TAKEN[0]]
    api.result("POST", records, json={"type": "A", "name": "www", "content": "192.0.2.1"})
    cname = api.api("POST", records, json={"type": "CNAME", "name": "www", "content": target})
    assert cname.status_code == 400 and error_codes(cname) == [DNS_HOST_TAKEN[0]]
    patched = api.result("PATCH", "%s/%s" % (records, record["id"]), json={"proxied": False, "ttl": 600})
    assert patched["proxied"] is False and patched["ttl"] == 600 and patched["content"] == target
    assert api.result("DELETE", "%s/%s" % (records, record["id"]), json={}) == {"id": record["id"]}
    assert api.result("GET", records, params={"name": "app." + DEFAULT_ZONE}) == []


# -- Access ----------------------------------------------------------------------------------------
def test_access_app_and_policy_lifecycle(api):
    organization = api.result("GET", api.account_path("/access/organizations"))
    assert organization["auth_domain"] == "%s.cloudflareaccess.com" % DEFAULT_TEAM
    rules = [{"email": {"email": "ada@example.org"}}, {"email_domain": {"domain": "example.org"}}, {"group": {"id": "g-1"}}]
    policy = api.result("POST", api.account_path("/access/policies"),
                        json={"name": "staff", "decision": "allow", "include": rules, "session_duration": "8h"})
    app = api.result("POST", api.account_path("/access/apps"),
                     json={"type": "self_hosted", "name": "App", "domain": "app." + DEFAULT_ZONE,
                           "session_duration": "2h45m", "policies": [{"id": policy["id"], "precedence": 1}]})
    assert len(app["aud"]) == 64 and int(app["aud"], 16) >= 0
    assert [(item["id"], item["precedence"], item["include"]) for item in app["policies"]] == [(policy["id"], 1, rules)]
    taken = api.api("POST", api.account_path("/access/apps"), json={"type": "self_hosted", "domain": "app." + DEFAULT_ZONE})
    assert taken.status_code == 409 and error_codes(taken) == [11010]
    path = api.account_path("/access/apps/%s" % app["id"])
    updated = api.result("PUT", path, json={"type": "self_hosted", "name": "App 2", "domain": "app." + DEFAULT_ZONE,
                                            "session_duration": "24h", "policies": [policy["id"]]})
    assert updated["aud"] == app["aud"] and updated["id"] == app["id"] and updated["name"] == "App 2"
    assert api.result("GET", path)["aud"] == app["aud"]
    assert api.result("GET", api.account_path("/access/policies/%s" % policy["id"]))["app_count"] == 1
    in_use = api.api("DELETE", api.account_path("/access/policies/%s" % policy["id"]))
    assert in_use.status_code == 400 and error_codes(in_use) == [12131]
    assert api.result("DELETE", path) == {"id": app["id"]}
    assert api.result("DELETE", api.account_path("/access/policies/%s" % policy["id"])) == {"id": policy["id"]}
    assert api.result("GET", api.account_path("/access/policies")) == []


# -- core features through cfsim -------------------------------------------------------------------
def test_faults_and_latency_answer_in_the_envelope(sim, api):
    sim.inject_fault(method="GET", path="/zones$", status=503, message="overloaded")
    answer = api.api("GET", "/zones")
    assert answer.status_code == 503 and answer.json()["success"] is False
    assert answer.json()["errors"][0]["message"] == "overloaded"
    assert api.api("GET", "/zones").status_code == 200
    sim.set_latency(50)
    started = time.monotonic()
    api.api("GET", "/zones")
    assert time.monotonic() - started >= 0.05
    assert sim.requests()[-3]["fault"] is not None and sim.counters()["by_status"]["503"] == 1


def test_command_line_serves_and_keeps_state():
    workdir = tempfile.mkdtemp(prefix="cfsim-test-")
    port_file, cert_file, state_file = (os.path.join(workdir, name) for name in ("port", "cert.pem", "state.json"))
    command = [sys.executable, "-m", "cfsim", "--port", "0", "--port-file", port_file, "--cert-file", cert_file,
               "--state-file", state_file, "--zone", "second.example", "--team", "crew"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(open(port_file, encoding="ascii").read())  # pylint: disable=consider-using-with

        class Remote:  # pylint: disable=too-few-public-methods
            url = "https://127.0.0.1:%d" % port
            cert_path = cert_file
            side_prefix = "/_sim"
            account_id = DEFAULT_ACCOUNT_ID

        session = CfSession(Remote, DEMO_TOKEN)
        assert [zone["name"] for zone in session.result("GET", "/zones")] == ["second.example"]
        assert session.result("GET", session.account_path("/access/organizations"))["auth_domain"] == "crew.cloudflareaccess.com"
        session.result("POST", session.account_path("/cfd_tunnel"), json={"name": "kept", "tunnel_secret": SECRET})
        with open(state_file, encoding="utf-8") as handle:
            assert "kept" in handle.read()
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    assert process.returncode == 0
