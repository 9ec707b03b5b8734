# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cloudflare_access_policy, cloudflare_access_app, cloudflare_tunnel and cloudflare_tunnel_route against cfsim
through ansible-playbook: check mode writes nothing (no request, no file), the real run makes the planned writes,
the second run makes none; a hostname without a policy is refused before any write; the tunnel secret appears in
no output (at -vvv) and not in the simulator's request log; the credentials file is cloudflared's, mode 0600."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import stat

import pytest
import yaml

from cfsim import CfSimulator
from cfsim.testing import DEMO_TOKEN, CfSession

from .playbook import ansible_playbook

WRITES = ("POST", "PUT", "PATCH", "DELETE")
HOSTNAME = "app.homecloud.example"


@pytest.fixture(scope="module")
def cf_module_sim():
    with CfSimulator() as simulator:
        yield simulator


@pytest.fixture
def cf(cf_module_sim):  # pylint: disable=redefined-outer-name
    """The module's simulator in its initial state."""
    cf_module_sim.reset()
    return cf_module_sim


def writes(cf_sim):
    return [(entry["method"], entry["path"]) for entry in cf_sim.requests() if entry["method"] in WRITES]


def run_cf_tasks(cf_sim, tmp_path, tasks, check=False, verbose=False):
    """Run [(module, args)] in one play with the simulator's connection, each registered as r<number> (later
    tasks may refer to earlier results); returns (process, [result of each task])."""
    connection = dict(api_token=DEMO_TOKEN, account_id=cf_sim.account_id, ca_path=cf_sim.cert_path,
                      api_url="https://127.0.0.1:{0}/client/v4".format(cf_sim.port))
    results = tmp_path / "results.json"
    plays = [{"name": "cloudflare modules under test", "hosts": "localhost", "gather_facts": False, "tasks": [
        dict({"name": "Task {0}".format(number), "homecloud.proxmox." + module: dict(connection, **args),
              "register": "r{0}".format(number), "diff": True, "ignore_errors": True}, **extra)
        for number, (module, args, extra) in enumerate(tasks)] + [
        {"name": "Save the results", "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join("r{0}".format(number) for number in range(len(tasks))) + "] | to_json }}",
            "dest": str(results)}, "check_mode": False}]}]
    results.unlink(missing_ok=True)
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    options = ["-i", "localhost,", "-c", "local"] + (["--check"] if check else []) + (["-vvv"] if verbose else [])
    process = ansible_playbook(str(playbook), options, cwd=str(tmp_path), timeout=180)
    assert results.exists(), process.stdout[-5000:]
    return process, json.loads(results.read_text())


def gateway_tasks(credentials):
    """What the gateway playbook does per tenant: the policy, the hostname's app behind it, the tunnel (on the
    gateway), the hostname's route to it; then a hostname whose app names no policy, and one naming a missing policy."""
    return [
        ("cloudflare_access_policy", dict(name="acme-staff", emails=["admin@acme.example"], email_domains=["acme.example"],
                                          session_duration="12h"), {}),
        ("cloudflare_access_app", dict(name="acme app", domain=HOSTNAME, policies=["acme-staff"]), {}),
        ("cloudflare_tunnel", dict(name="acme-gateway", credentials_file=str(credentials)), {}),
        # in check mode the tunnel has no id yet, so its route cannot be planned
        ("cloudflare_tunnel_route", dict(zone="homecloud.example", hostname=HOSTNAME, tunnel_id="{{ r2.tunnel.id }}"),
         {"when": "r2.tunnel.id is not none"}),
        ("cloudflare_access_app", dict(name="open app", domain="open.homecloud.example", policies=[]), {}),
        ("cloudflare_access_app", dict(name="typo app", domain="typo.homecloud.example", policies=["acme-staf"]), {}),
    ]


@pytest.mark.timeout(600)
def test_tunnel_route_and_access_converge_refuse_an_unprotected_hostname_and_keep_the_secret(cf, tmp_path):
    credentials = tmp_path / "cloudflared" / "acme-gateway.json"
    tasks = gateway_tasks(credentials)

    process, planned = run_cf_tasks(cf, tmp_path, tasks, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(cf) == [], "check mode wrote"
    assert not credentials.exists() and not credentials.parent.exists()
    assert planned[3].get("skipped")

    process, done = run_cf_tasks(cf, tmp_path, tasks, verbose=True)
    assert process.returncode == 0, process.stdout[-5000:]
    policy_id = done[0]["policy"]["id"]
    for plan, result in zip(planned[:3], done[:3]):
        assert not result.get("failed"), result
        # check mode planned the app before its policy existed: the id is the one the policy task then created
        assert [write.replace("<id of acme-staff>", policy_id) for write in plan["writes"]] == result["writes"] and result["changed"]
    assert done[3]["writes"] == ["POST /zones/{0}/dns_records comment=managed by homecloud.proxmox (cloudflare_tunnel_route) "
                                 "content={1}.cfargotunnel.com name={2} proxied=true ttl=1 type=CNAME".format(
                                     done[3]["zone_id"], done[2]["tunnel"]["id"], HOSTNAME)]
    assert len(writes(cf)) == 4, writes(cf)

    # the refusals came before any write, naming the rule and the missing policy (in check mode a policy that
    # does not exist yet may come from an earlier task: a warning)
    assert planned[4]["failed"] and done[4]["failed"] and planned[4]["msg"] == done[4]["msg"]
    assert "every published hostname sits behind an Access policy" in done[4]["msg"]
    assert done[5]["failed"] and "no reusable Access policy named 'acme-staf'" in done[5]["msg"]
    assert not planned[5].get("failed") and "no reusable Access policy named 'acme-staf'" in planned[5]["warnings"][0]

    session = CfSession(cf, DEMO_TOKEN)
    apps = session.result("GET", session.account_path("/access/apps"))
    assert [app["domain"] for app in apps] == [HOSTNAME]
    assert done[1]["aud"] == apps[0]["aud"] and done[1]["app"]["id"] == apps[0]["id"] and done[1]["team_name"] == "homecloud"
    tunnel_id = done[2]["tunnel"]["id"]
    assert done[2]["cname_target"] == tunnel_id + ".cfargotunnel.com"
    record = session.result("GET", "/zones/{0}/dns_records".format(done[3]["zone_id"]), params={"name": HOSTNAME})[0]
    assert (record["type"], record["content"], record["proxied"]) == ("CNAME", tunnel_id + ".cfargotunnel.com", True)

    # the credentials file is cloudflared's, 0600 in a 0700 directory, and holds the tunnel's secret
    token = session.result("GET", session.account_path("/cfd_tunnel/{0}/token".format(tunnel_id)))
    secret = json.loads(base64.b64decode(token))["s"]
    assert json.loads(credentials.read_text()) == {"AccountTag": cf.account_id, "TunnelSecret": secret, "TunnelID": tunnel_id}
    assert stat.S_IMODE(os.stat(str(credentials)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(credentials.parent)).st_mode) == 0o700
    # ... and nowhere else: not in the -vvv output, the results, or the simulator's request log
    for text in (process.stdout, process.stderr, json.dumps(done), json.dumps(cf.requests())):
        assert secret not in text and token not in text

    process, again = run_cf_tasks(cf, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["writes"] for result in again[:4]] == [[], [], [], []]
    assert not any(result["changed"] for result in again[:4])
    assert again[1]["aud"] == done[1]["aud"]
    assert len(writes(cf)) == 4, "the second run wrote"
