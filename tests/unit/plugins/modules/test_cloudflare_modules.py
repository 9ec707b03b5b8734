# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cloudflare_tunnel, cloudflare_tunnel_route, cloudflare_access_policy and cloudflare_access_app against an
in-memory Cloudflare API behind the real client (envelope, pages of two): create, no-op, update, delete, check
mode (plans the writes, sends none, writes no file), the refusals before any write, and the tunnel secret never
in a result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import io
import json
import os
import re
import stat
import uuid

import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.parse import parse_qsl, urlsplit

from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import CloudflareClient, cloudflare_argument_spec
from ansible_collections.homecloud.proxmox.plugins.modules import (
    cloudflare_access_app,
    cloudflare_access_policy,
    cloudflare_tunnel,
    cloudflare_tunnel_route,
)

ACCOUNT = "0123456789abcdef0123456789abcdef"
ZONE_ID = "fedcba9876543210fedcba9876543210"
API = "https://api.cloudflare.test/client/v4"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Answer:
    def __init__(self, document):
        self.body = json.dumps(document).encode()

    def getcode(self):
        return 200

    def read(self):
        return self.body


class FakeCloudflare:
    """The endpoints the modules use, in Cloudflare's envelope, two items a page."""

    def __init__(self):
        self.tunnels = []
        self.secrets = {}
        self.zones = [dict(id=ZONE_ID, name="example.com")]
        self.records = []
        self.policies = []
        self.apps = []
        self.requests = []
        self.lose_answers = []  # (method, path suffix): the change is made, then the answer is lost (HTTP 502)

    def __call__(self, url, data=None, headers=None, method=None, **_options):
        answer = self.answer(url, data, headers, method)
        lost = [entry for entry in self.lose_answers if entry[0] == method and self.requests[-1][1].endswith(entry[1])]
        if lost:
            self.lose_answers.remove(lost[0])
            self.error(502, 0, "Bad Gateway")
        return answer

    def answer(self, url, data, headers, method):
        parts = urlsplit(url)
        path = parts.path[len(urlsplit(API).path):]
        query = dict(parse_qsl(parts.query))
        body = json.loads(data.decode()) if data else None
        self.requests.append((method, path, query, body))
        assert headers["Authorization"] == "Bearer token-123"
        for pattern, handler in self.routes():
            found = re.match("^" + pattern + "$", path)
            if found and handler[0] == method:
                return handler[1](query, body, *found.groups())
        return self.error(404, 7003, "Could not route to {0}".format(path))

    def routes(self):
        account = "/accounts/" + ACCOUNT
        return [
            (account + "/cfd_tunnel", ("GET", self.list_tunnels)), (account + "/cfd_tunnel", ("POST", self.create_tunnel)),
            (account + "/cfd_tunnel/([^/]+)", ("GET", self.get_tunnel)), (account + "/cfd_tunnel/([^/]+)", ("DELETE", self.delete_tunnel)),
            (account + "/cfd_tunnel/([^/]+)/token", ("GET", self.tunnel_token)),
            ("/zones", ("GET", lambda query, body: self.page([z for z in self.zones if z["name"] == query.get("name")], query))),
            ("/zones/" + ZONE_ID + "/dns_records", ("GET", lambda query, body: self.page(
                [r for r in self.records if r["name"] == query.get("name")], query))),
            ("/zones/" + ZONE_ID + "/dns_records", ("POST", lambda query, body: self.create(self.records, body))),
            ("/zones/" + ZONE_ID + "/dns_records/([^/]+)", ("PATCH", lambda query, body, id_: self.update(self.records, id_, body, True))),
            ("/zones/" + ZONE_ID + "/dns_records/([^/]+)", ("DELETE", lambda query, body, id_: self.delete(self.records, id_))),
            (account + "/access/policies", ("GET", lambda query, body: self.page(self.policies, query))),
            (account + "/access/policies", ("POST", lambda query, body: self.create(self.policies, body))),
            (account + "/access/policies/([^/]+)", ("PUT", lambda query, body, id_: self.update(self.policies, id_, body))),
            (account + "/access/policies/([^/]+)", ("DELETE", lambda query, body, id_: self.delete(self.policies, id_))),
            (account + "/access/apps", ("GET", lambda query, body: self.page(self.apps, query))),
            (account + "/access/apps", ("POST", lambda query, body: self.create(self.apps, self.app_body(body), aud=uuid.uuid4().hex * 2))),
            (account + "/access/apps/([^/]+)", ("PUT", lambda query, body, id_: self.update(self.apps, id_, self.app_body(body)))),
            (account + "/access/apps/([^/]+)", ("DELETE", lambda query, body, id_: self.delete(self.apps, id_))),
            (account + "/access/organizations", ("GET", lambda query, body: self.ok(dict(auth_domain="homecloud.cloudflareaccess.com")))),
        ]

    @staticmethod
    def ok(result, info=None):
        document = dict(success=True, errors=[], messages=[], result=result)
        if info:
            document["result_info"] = info
        return Answer(document)

    @staticmethod
    def error(status, code, message):
        text = json.dumps(dict(success=False, errors=[dict(code=code, message=message)], messages=[], result=None))
        raise HTTPError(API, status, message, {}, io.BytesIO(text.encode()))

    def page(self, items, query):
        page, per_page = int(query.get("page", 1)), 2
        chunk = items[(page - 1) * per_page:page * per_page]
        total_pages = max(1, -(-len(items) // per_page))
        info = dict(page=page, per_page=per_page, count=len(chunk), total_count=len(items), total_pages=total_pages)
        return self.ok([dict(item) for item in chunk], info)

    def create(self, items, body, **extra):
        item = dict(body, id=uuid.uuid4().hex, **extra)
        items.append(item)
        return self.ok(dict(item))

    def update(self, items, item_id, body, patch=False):
        item = next((item for item in items if item["id"] == item_id), None)
        if item is None:
            return self.error(404, 1002, "not found")
        kept = dict(id=item["id"], aud=item.get("aud")) if not patch else dict(item)
        item.clear()
        item.update(kept, **body)
        return self.ok(dict(item))

    def delete(self, items, item_id):
        items[:] = [item for item in items if item["id"] != item_id]
        return self.ok(dict(id=item_id))

    def app_body(self, body):
        answer = dict(body)
        answer["policies"] = [dict(id=p["id"], precedence=p["precedence"],
                                   name=next(x["name"] for x in self.policies if x["id"] == p["id"])) for p in body["policies"]]
        return answer

    def list_tunnels(self, query, body):
        wanted = [t for t in self.tunnels if t["name"] == query.get("name") and (query.get("is_deleted") != "false" or not t["deleted_at"])]
        return self.page(wanted, query)

    def create_tunnel(self, query, body):
        assert len(base64.b64decode(body["tunnel_secret"])) == 32 and body["config_src"] == "local"
        tunnel = dict(id=str(uuid.uuid4()), name=body["name"], created_at="2025-01-01T00:00:00Z", deleted_at=None, status="inactive")
        self.tunnels.append(tunnel)
        self.secrets[tunnel["id"]] = body["tunnel_secret"]
        return self.ok(dict(tunnel))

    def get_tunnel(self, query, body, tunnel_id):
        tunnel = next((t for t in self.tunnels if t["id"] == tunnel_id), None)
        return self.ok(dict(tunnel)) if tunnel else self.error(404, 1003, "tunnel not found")

    def delete_tunnel(self, query, body, tunnel_id):
        tunnel = next(t for t in self.tunnels if t["id"] == tunnel_id)
        tunnel["deleted_at"] = "2025-01-02T00:00:00Z"
        return self.ok(dict(tunnel))

    def tunnel_token(self, query, body, tunnel_id):
        token = json.dumps(dict(a=ACCOUNT, t=tunnel_id, s=self.secrets[tunnel_id]))
        return self.ok(base64.b64encode(token.encode()).decode())

    def writes(self):
        return [(method, path) for method, path, _query, _body in self.requests if method in WRITES]


class Exited(Exception):
    def __init__(self, result, failed=False):
        super(Exited, self).__init__(result.get("msg"))
        self.result = result
        self.failed = failed


class FakeModule:
    """What the modules use of AnsibleModule; exit_json/fail_json end the run with its result (unmasked, so a
    test sees everything the module put into it)."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.no_log_values = set()
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        raise Exited(result)

    def fail_json(self, **result):
        raise Exited(result, failed=True)


def run(api, module, check_mode=False, **params):
    """One module run: its result (failed=True on failure)."""
    spec = dict(cloudflare_argument_spec(), **module.ARGUMENT_SPEC)
    values = dict((name, option.get("default")) for name, option in spec.items())
    values.update(api_token="token-123", api_url=API, account_id=ACCOUNT)
    values.update(params)
    fake_module = FakeModule(values, check_mode)
    module_class = [value for name, value in vars(module).items() if name.startswith("Cloudflare") and name not in (
        "CloudflareApiError", "CloudflareConvergeModule", "CloudflareError", "CloudflareInputError", "CloudflareObjectModule",
        "CloudflareWrite")][0]
    client = CloudflareClient("token-123", api_url=API, opener=api, sleep=lambda seconds: None)
    with pytest.raises(Exited) as ended:
        module_class(fake_module, client).execute()
    result = dict(ended.value.result, failed=ended.value.failed, warnings=fake_module.warnings)
    result["no_log_values"] = fake_module.no_log_values
    return result


@pytest.fixture
def api():
    return FakeCloudflare()


# --- cloudflare_tunnel ---------------------------------------------------------------------------


def test_a_new_tunnel_is_created_with_a_secret_born_here_and_its_credentials_file_is_written(api, tmp_path):
    credentials = tmp_path / "cloudflared" / "acme.json"
    planned = run(api, cloudflare_tunnel, check_mode=True, name="acme", credentials_file=str(credentials))
    assert api.writes() == [] and not credentials.exists() and not credentials.parent.exists()
    assert planned["changed"] and planned["writes"] == [
        "POST /accounts/{0}/cfd_tunnel config_src=local name=acme tunnel_secret=********".format(ACCOUNT),
        "write {0} (credentials of the new tunnel, mode 0600)".format(credentials)]
    assert planned["tunnel"]["id"] is None and planned["cname_target"] is None

    done = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    assert done["writes"] == planned["writes"] and not done["failed"]
    tunnel = api.tunnels[0]
    assert done["tunnel"] == dict(id=tunnel["id"], name="acme", created_at=tunnel["created_at"], status="inactive")
    assert done["cname_target"] == tunnel["id"] + ".cfargotunnel.com"
    assert json.loads(credentials.read_text()) == {"AccountTag": ACCOUNT, "TunnelSecret": api.secrets[tunnel["id"]],
                                                   "TunnelID": tunnel["id"]}
    assert stat.S_IMODE(os.stat(str(credentials)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(credentials.parent)).st_mode) == 0o700
    secret = api.secrets[tunnel["id"]]
    assert secret in done["no_log_values"]
    for result in (planned, done):
        assert secret not in json.dumps(dict(result, no_log_values=None))

    again = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    assert not again["changed"] and again["writes"] == [] and again["diff"]["before"] == again["diff"]["after"]
    assert len([call for call in api.requests if call[0] == "POST"]) == 1


def test_a_missing_or_foreign_credentials_file_is_recovered_from_the_token(api, tmp_path):
    credentials = tmp_path / "acme.json"
    run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    tunnel_id, secret = api.tunnels[0]["id"], api.secrets[api.tunnels[0]["id"]]
    credentials.write_text(json.dumps({"AccountTag": ACCOUNT, "TunnelSecret": "b3RoZXI=", "TunnelID": str(uuid.uuid4())}))
    planned = run(api, cloudflare_tunnel, check_mode=True, name="acme", credentials_file=str(credentials))
    assert planned["writes"] == ["write {0} (credentials of tunnel {1} from its token, mode 0600)".format(credentials, tunnel_id)]
    assert not any(path.endswith("/token") for _method, path, _query, _body in api.requests), "check mode read the token"

    credentials.unlink()
    done = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    assert done["changed"] and api.writes() == [("POST", "/accounts/{0}/cfd_tunnel".format(ACCOUNT))]
    assert json.loads(credentials.read_text())["TunnelSecret"] == secret and secret in done["no_log_values"]
    assert secret not in json.dumps(dict(done, no_log_values=None))

    os.chmod(str(credentials), 0o644)
    fixed = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    assert fixed["writes"] == ["chmod 0600 {0} (was 0644)".format(credentials)]
    assert stat.S_IMODE(os.stat(str(credentials)).st_mode) == 0o600


def test_a_lost_create_answer_is_confirmed_by_a_reread_and_the_file_written_from_the_token(api, tmp_path):
    credentials = tmp_path / "acme.json"
    api.lose_answers.append(("POST", "/cfd_tunnel"))
    done = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    assert not done["failed"] and api.writes() == [("POST", "/accounts/{0}/cfd_tunnel".format(ACCOUNT))], "the POST was resent"
    tunnel_id = api.tunnels[0]["id"]
    assert done["tunnel"]["id"] == tunnel_id and any(path.endswith("/token") for _method, path, _query, _body in api.requests)
    assert json.loads(credentials.read_text()) == {"AccountTag": ACCOUNT, "TunnelSecret": api.secrets[tunnel_id], "TunnelID": tunnel_id}


def test_absent_deletes_the_tunnel_and_its_credentials_file_only(api, tmp_path):
    credentials, other = tmp_path / "acme.json", tmp_path / "other.json"
    run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials))
    run(api, cloudflare_tunnel, name="other", credentials_file=str(other))
    acme_id = api.tunnels[0]["id"]
    planned = run(api, cloudflare_tunnel, check_mode=True, name="acme", credentials_file=str(credentials), state="absent")
    assert planned["writes"] == ["DELETE /accounts/{0}/cfd_tunnel/{1}".format(ACCOUNT, acme_id), "remove {0}".format(credentials)]
    assert credentials.exists() and api.tunnels[0]["deleted_at"] is None
    done = run(api, cloudflare_tunnel, name="acme", credentials_file=str(credentials), state="absent")
    assert done["writes"] == planned["writes"] and not credentials.exists() and api.tunnels[0]["deleted_at"]
    # another tunnel's live credentials are not removed under this name
    kept = run(api, cloudflare_tunnel, name="acme", credentials_file=str(other), state="absent")
    assert kept["writes"] == [] and other.exists()


def test_present_needs_a_credentials_file_and_the_account_before_any_request(api):
    result = run(api, cloudflare_tunnel, name="acme", credentials_file=None)
    assert result["failed"] and "credentials_file: required with state=present" in result["msg"]
    result = run(api, cloudflare_tunnel, name="acme", credentials_file="/tmp/x.json", account_id="not-an-account")
    assert result["failed"] and "account_id 'not-an-account'" in result["msg"]
    assert api.requests == []


# --- cloudflare_tunnel_route -------------------------------------------------------------------


TUNNEL_ID = "f70ff985-a4ef-4643-bbbc-4a0ed4fc8415"


def test_a_route_is_one_proxied_cname_to_the_tunnel(api):
    planned = run(api, cloudflare_tunnel_route, check_mode=True, zone="example.com", hostname="App.Example.com.", tunnel_id=TUNNEL_ID)
    assert api.writes() == []
    done = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.com", tunnel_id=TUNNEL_ID)
    assert planned["writes"] == done["writes"] == [
        "POST /zones/{0}/dns_records comment=managed by homecloud.proxmox (cloudflare_tunnel_route) "
        "content={1}.cfargotunnel.com name=app.example.com proxied=true ttl=1 type=CNAME".format(ZONE_ID, TUNNEL_ID)]
    record = api.records[0]
    assert (record["type"], record["content"], record["proxied"], record["ttl"]) == ("CNAME", TUNNEL_ID + ".cfargotunnel.com", True, 1)
    assert done["record"]["id"] == record["id"] and done["zone_id"] == ZONE_ID
    again = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.com", tunnel_id=TUNNEL_ID)
    assert again["writes"] == [] and not again["changed"]


def test_a_cname_pointing_elsewhere_is_updated_and_other_records_refuse(api):
    api.records.append(dict(id="r1", name="app.example.com", type="CNAME", content="old.example.net", proxied=False, ttl=300, comment=None))
    done = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.com", tunnel_id=TUNNEL_ID)
    assert done["writes"] == ["PATCH /zones/{0}/dns_records/r1 comment=managed by homecloud.proxmox (cloudflare_tunnel_route) "
                              "content={1}.cfargotunnel.com proxied=true ttl=1".format(ZONE_ID, TUNNEL_ID)]
    assert done["diff"]["before"]["content"] == "old.example.net" and api.records[0]["content"] == TUNNEL_ID + ".cfargotunnel.com"

    api.records.append(dict(id="a1", name="web.example.com", type="A", content="192.0.2.10", proxied=True, ttl=1))
    writes_before = api.writes()
    refused = run(api, cloudflare_tunnel_route, zone="example.com", hostname="web.example.com", tunnel_id=TUNNEL_ID)
    assert refused["failed"] and "A record web.example.com -> 192.0.2.10 (id a1)" in refused["msg"]
    assert api.writes() == writes_before
    outside = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.org", tunnel_id=TUNNEL_ID)
    assert outside["failed"] and "not inside zone example.com" in outside["msg"]


def test_absent_removes_only_a_cname_to_a_tunnel(api):
    api.records.append(dict(id="c1", name="app.example.com", type="CNAME", content="elsewhere.example.net", proxied=True, ttl=1))
    kept = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.com", state="absent")
    assert kept["writes"] == [] and "not to a tunnel" in kept["warnings"][0]
    api.records[0]["content"] = TUNNEL_ID + ".cfargotunnel.com"
    gone = run(api, cloudflare_tunnel_route, zone="example.com", hostname="app.example.com", state="absent")
    assert gone["writes"] == ["DELETE /zones/{0}/dns_records/c1".format(ZONE_ID)] and api.records == []


# --- cloudflare_access_policy ------------------------------------------------------------------


IDP = "ea85612a-29c8-46c2-bacb-669d65136971"


def test_a_policy_from_the_simple_forms_converges_and_compares_rules_as_a_set(api):
    options = dict(name="acme-staff", emails=["admin@acme.example"], email_domains=["acme.example"],
                   idp_groups=[dict(identity_provider_id=IDP, type="azure", id="group-1", name=None, email=None, team=None,
                                    attribute_name=None, attribute_value=None)], session_duration="12h")
    planned = run(api, cloudflare_access_policy, check_mode=True, **options)
    assert api.writes() == [] and planned["changed"]
    done = run(api, cloudflare_access_policy, **options)
    assert done["writes"] == planned["writes"] and len(api.policies) == 1
    assert api.policies[0]["decision"] == "allow" and sorted(api.policies[0]["include"], key=json.dumps) == sorted([
        {"email": {"email": "admin@acme.example"}}, {"email_domain": {"domain": "acme.example"}},
        {"azureAD": {"id": "group-1", "identity_provider_id": IDP}}], key=json.dumps)
    api.policies[0]["include"].reverse()  # the order Cloudflare answers in does not matter
    assert run(api, cloudflare_access_policy, **options)["writes"] == []

    changed = run(api, cloudflare_access_policy, name="acme-staff", emails=["ops@acme.example"])
    assert changed["writes"] == ["PUT /accounts/{0}/access/policies/{1} decision=allow exclude=[] include="
                                 "[{{\"email\":{{\"email\":\"ops@acme.example\"}}}}] name=acme-staff require=[] "
                                 "session_duration=12h".format(ACCOUNT, api.policies[0]["id"])]


def test_policy_refusals_come_before_any_request(api):
    everyone = run(api, cloudflare_access_policy, name="open", include=[{"everyone": {}}])
    assert everyone["failed"] and "allow_everyone=true" in everyone["msg"]
    empty = run(api, cloudflare_access_policy, name="none", emails=[])
    assert empty["failed"] and "needs at least one include rule" in empty["msg"]
    okta = run(api, cloudflare_access_policy, name="x", idp_groups=[dict(identity_provider_id=IDP, type="okta", name=None)])
    assert okta["failed"] and "idp_groups[0]: a okta group needs name" in okta["msg"]
    duration = run(api, cloudflare_access_policy, name="x", emails=["a@b.c"], session_duration="1 day")
    assert duration["failed"] and "session_duration '1 day'" in duration["msg"]
    assert api.requests == []
    allowed = run(api, cloudflare_access_policy, name="open", include=[{"everyone": {}}], allow_everyone=True)
    assert not allowed["failed"] and api.policies[0]["include"] == [{"everyone": {}}]


# --- cloudflare_access_app ---------------------------------------------------------------------


def test_an_app_behind_named_policies_returns_aud_and_team(api):
    run(api, cloudflare_access_policy, name="acme-staff", emails=["admin@acme.example"])
    run(api, cloudflare_access_policy, name="acme-ops", emails=["ops@acme.example"])
    options = dict(name="acme app", domain="App.example.com", policies=["acme-ops", "acme-staff"], app_launcher_visible=False)
    planned = run(api, cloudflare_access_app, check_mode=True, **options)
    assert planned["changed"] and planned["aud"] is None and planned["team_name"] == "homecloud"
    assert [call for call in api.writes() if "/apps" in call[1]] == []
    done = run(api, cloudflare_access_app, **options)
    app = api.apps[0]
    assert done["writes"] == planned["writes"] and [p["id"] for p in app["policies"]] == [api.policies[1]["id"], api.policies[0]["id"]]
    assert [p["precedence"] for p in app["policies"]] == [1, 2] and app["session_duration"] == "24h" and app["type"] == "self_hosted"
    assert done["aud"] == app["aud"] and done["team_name"] == "homecloud"
    assert done["app"] == dict(id=app["id"], aud=app["aud"], domain="app.example.com", name="acme app", policies=["acme-ops", "acme-staff"])
    again = run(api, cloudflare_access_app, **options)
    assert again["writes"] == [] and again["aud"] == app["aud"]
    reordered = run(api, cloudflare_access_app, name="acme app", domain="app.example.com", policies=["acme-staff", "acme-ops"])
    assert reordered["diff"]["after"]["policies"] == ["acme-staff", "acme-ops"] and reordered["aud"] == app["aud"]
    assert api.apps[0]["app_launcher_visible"] is False  # unset: left alone by the PUT


def test_app_refusals_come_before_any_write(api):
    run(api, cloudflare_access_policy, name="acme-staff", emails=["admin@acme.example"])
    writes = api.writes()
    for options, message in [
            (dict(policies=[]), "every published hostname sits behind an Access policy"),
            (dict(policies=None), "a new Access application needs at least one policy"),
            (dict(policies=["acme-staff", "nobody"]), "no reusable Access policy named 'nobody'"),
            (dict(policies=["acme-staff"], session_duration="forever"), "session_duration 'forever'")]:
        result = run(api, cloudflare_access_app, name="acme app", domain="app.example.com", **options)
        assert result["failed"] and message in result["msg"], result
    planned = run(api, cloudflare_access_app, check_mode=True, name="acme app", domain="app.example.com", policies=["later"])
    assert not planned["failed"] and "no reusable Access policy named 'later'" in planned["warnings"][0]
    assert '"id":"<id of later>"' in planned["writes"][0]
    assert api.writes() == writes
    run(api, cloudflare_access_app, name="acme app", domain="app.example.com", policies=["acme-staff"])
    taken = run(api, cloudflare_access_app, name="other app", domain="app.example.com", policies=["acme-staff"])
    assert taken["failed"] and "belongs to Access application 'acme app'" in taken["msg"]
    gone = run(api, cloudflare_access_app, name="acme app", domain="app.example.com", state="absent")
    assert gone["writes"] == ["DELETE /accounts/{0}/access/apps/{1}".format(ACCOUNT, gone["diff"]["before"]["id"])] and api.apps == []
