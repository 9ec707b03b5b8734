# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API client against the simulator: both auth methods, retries on injected faults, task waits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

import warnings

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    USER_AGENT,
    ProxmoxApiError,
    ProxmoxClient,
    ProxmoxConnectionError,
    ProxmoxTaskError,
    ProxmoxUncertainError,
)

from .playbook import sim_token

BACKOFF = 0.01


def token_client(sim, **kwargs):
    user, token_id, secret = sim_token(sim)
    options = dict(host="127.0.0.1", port=sim.port, user=user, token_id=token_id, token_secret=secret,
                   ca_path=sim.cert_path, backoff=BACKOFF)
    options.update(kwargs)
    return ProxmoxClient(**options)


def password_client(sim, **kwargs):
    options = dict(host="127.0.0.1", port=sim.port, user="root@pam", password=sim.root_password,
                   ca_path=sim.cert_path, backoff=BACKOFF)
    options.update(kwargs)
    return ProxmoxClient(**options)


def hits(sim, route):
    return sim.counters()["by_path"].get(route, 0)


@pytest.mark.parametrize("make_client", [token_client, password_client], ids=["token", "ticket"])
def test_both_auth_methods_read_the_version(sim, make_client):
    client = make_client(sim)
    assert str(client.version).startswith(sim.pve_version + ".")
    assert client.version.at_least(8, 4)
    assert sorted(node["node"] for node in client.get("/nodes")) == sorted(sim.nodes)


@pytest.mark.parametrize("action", ["lock-timeout", "no-worker", "reset"])
def test_transient_faults_on_reads_are_retried(sim, action):
    sleeps = []
    client = token_client(sim, sleep=sleeps.append)
    sim.inject_fault(action=action, method="GET", path="^/cluster/status$", count=2)
    assert any(entry["type"] == "cluster" for entry in client.get("/cluster/status"))
    assert hits(sim, "GET /cluster/status") == 3
    assert sleeps == [BACKOFF, 2 * BACKOFF]


def test_retries_give_up_with_pves_message(sim):
    client = token_client(sim, retries=2, sleep=lambda seconds: None)
    sim.inject_fault(action="lock-timeout", method="GET", path="^/cluster/status$", count=10)
    with pytest.raises(ProxmoxApiError) as caught:
        client.get("/cluster/status")
    assert caught.value.status == 500
    assert "error: got lock request timeout" in str(caught.value)
    assert hits(sim, "GET /cluster/status") == 3


def test_a_400_is_never_retried_and_names_the_field(sim):
    sleeps = []
    client = token_client(sim, sleep=sleeps.append)
    with pytest.raises(ProxmoxApiError) as caught:
        client.get("/cluster/resources", type="bogus")
    assert str(caught.value) == ("GET /cluster/resources failed: HTTP 400 Parameter verification failed. - "
                                 "type: value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'")
    assert hits(sim, "GET /cluster/resources") == 1
    assert sleeps == []


@pytest.mark.parametrize("method, path, params", [
    ("POST", "/cluster/sdn/zones", dict(zone="tenanta", type="simple")),
    ("PUT", "/cluster/sdn/zones/keep", dict(mtu=1400)),
    ("DELETE", "/cluster/sdn/zones/keep", {}),
])
@pytest.mark.parametrize("fault", [dict(action="reset"), dict(status=502, message="Bad Gateway\n"),
                                   dict(status=504, message="Gateway Timeout\n")], ids=["reset", "502", "504"])
@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_write_with_a_lost_answer_is_never_resent_blindly(sim, method, path, params, fault, phase):
    client = token_client(sim, sleep=lambda seconds: None)
    client.post("/cluster/sdn/zones", zone="keep", type="simple")
    sim.inject_fault(method=method, path="^" + path + "$", phase=phase, **fault)
    with pytest.raises(ProxmoxUncertainError) as caught:
        client.request(method, path, **params)
    assert hits(sim, "{0} {1}".format(method, path)) == (2 if method == "POST" else 1)  # the setup POST, then one
    assert str(caught.value).startswith("{0} {1}: the outcome is unknown (".format(method, path))
    assert str(caught.value).endswith("PVE may or may not have made this change")
    assert caught.value.failure["uncertain"] is True and caught.value.failure["path"] == path


def test_a_lost_write_confirmed_in_place_is_done(sim):
    client = token_client(sim, sleep=lambda seconds: None)
    sim.inject_fault(method="POST", path="^/cluster/sdn/zones$", status=504, message="Gateway Timeout\n", phase="after")
    asked = []

    def confirm():
        asked.append(True)
        return any(zone["zone"] == "tenanta" for zone in client.get("/cluster/sdn/zones"))

    assert client.post("/cluster/sdn/zones", confirm=confirm, zone="tenanta", type="simple") is None
    assert asked == [True] and hits(sim, "POST /cluster/sdn/zones") == 1


def test_a_lost_write_confirmed_absent_is_sent_again(sim):
    client = token_client(sim, sleep=lambda seconds: None)
    sim.inject_fault(method="POST", path="^/cluster/sdn/zones$", status=502, message="Bad Gateway\n", phase="before")

    def confirm():
        return any(zone["zone"] == "tenanta" for zone in client.get("/cluster/sdn/zones"))

    client.post("/cluster/sdn/zones", confirm=confirm, zone="tenanta", type="simple")
    assert hits(sim, "POST /cluster/sdn/zones") == 2
    assert [zone["zone"] for zone in client.get("/cluster/sdn/zones")] == ["tenanta"]


@pytest.mark.parametrize("action", ["lock-timeout", "no-worker"])
def test_a_write_pve_refused_before_running_is_resent(sim, action):
    client = token_client(sim, sleep=lambda seconds: None)
    sim.inject_fault(action=action, method="POST", path="^/cluster/sdn/zones$")
    client.post("/cluster/sdn/zones", zone="tenanta", type="simple")
    assert hits(sim, "POST /cluster/sdn/zones") == 2


def test_a_refused_connection_is_retried_for_writes_too():
    sleeps = []
    client = ProxmoxClient(host="127.0.0.1", port=9, user="root@pam", token_id="t", token_secret="s", backoff=BACKOFF,
                           sleep=sleeps.append)
    with pytest.raises(ProxmoxConnectionError, match=r"POST /cluster/sdn/zones on https://127.0.0.1:9 failed after 4 attempt"):
        client.post("/cluster/sdn/zones", zone="tenanta", type="simple")
    assert len(sleeps) == 3


def test_a_bad_token_names_the_token_and_the_status(sim):
    client = token_client(sim, token_secret="wrong", sleep=lambda seconds: pytest.fail("retried a 401"))
    with pytest.raises(ProxmoxConnectionError) as caught:
        client.get("/version")
    assert str(caught.value).startswith("login to https://127.0.0.1:{0} as API token root@pam!homecloud failed: "
                                        "HTTP 401 authentication failure (PVE: ".format(sim.port))
    assert "wrong" not in str(caught.value)
    assert caught.value.failure == dict(method="GET", path="/version", status=401, reason=caught.value.reason, errors={})


def test_failures_are_structured(sim):
    client = token_client(sim)
    with pytest.raises(ProxmoxApiError) as caught:
        client.post("/cluster/sdn/zones", zone="toolongzone", type="simple")
    failure = caught.value.failure
    assert (failure["method"], failure["path"], failure["status"], failure["reason"]) == (
        "POST", "/cluster/sdn/zones", 400, "Parameter verification failed.")
    assert "zone" in failure["errors"]


def test_the_client_says_who_it_is(sim):
    client = token_client(sim)
    assert client.session().headers["User-Agent"] == USER_AGENT and USER_AGENT.startswith("homecloud.proxmox/")


def test_only_the_insecure_request_warning_is_silenced(sim):
    with warnings.catch_warnings():
        warnings.resetwarnings()
        client = token_client(sim, validate_certs=False, ca_path=None)
        client.get("/version")
        ignored = [entry[2].__name__ for entry in warnings.filters if entry[0] == "ignore"]
    assert ignored == ["InsecureRequestWarning"]


def test_login_is_retried_on_a_transient_failure(sim):
    sleeps = []
    sim.inject_fault(action="lock-timeout", method="POST", path="^/access/ticket$", count=1)
    client = password_client(sim, sleep=sleeps.append)
    assert client.get("/version")["release"] == sim.pve_version
    assert hits(sim, "POST /access/ticket") == 2 and len(sleeps) == 1


def test_a_wrong_password_is_not_retried(sim):
    client = password_client(sim, password="wrong", sleep=lambda seconds: pytest.fail("retried a 401"))
    with pytest.raises(ProxmoxConnectionError, match="login to https://127.0.0.1:[0-9]+ as user root@pam \\(password\\) failed"):
        client.get("/version")
    assert hits(sim, "POST /access/ticket") == 1


def test_an_untrusted_certificate_fails_at_once(sim):
    client = token_client(sim, ca_path=None, sleep=lambda seconds: pytest.fail("retried a TLS failure"))
    with pytest.raises(ProxmoxConnectionError, match=r"failed after 1 attempt\(s\) \(check validate_certs and ca_path\)"):
        client.get("/version")


def test_wait_task_returns_when_the_task_stops_ok(sim):
    upid = sim.add_task(node=sim.nodes[1], type="srvreload", id="networking", exitstatus="OK",
                        log=["reload networking", "TASK OK"], duration=0.3)
    status = token_client(sim).wait_task(upid, timeout=10, interval=0.1)
    assert status["exitstatus"] == "OK" and status["node"] == sim.nodes[1]


def test_a_failed_task_reports_its_exit_status_and_log_tail(sim):
    log = ["line {0}".format(number) for number in range(1, 16)] + ["TASK ERROR: command 'ifreload -a' failed: exit code 1"]
    upid = sim.add_task(node=sim.nodes[0], type="srvreload", id="networking",
                        exitstatus="command 'ifreload -a' failed: exit code 1", log=log, duration=0.1)
    with pytest.raises(ProxmoxTaskError) as caught:
        token_client(sim).wait_task(upid, timeout=10, interval=0.1, what="SDN apply")
    assert str(caught.value).startswith(
        "SDN apply failed on node {0}: command 'ifreload -a' failed: exit code 1; last task log lines:\nline 7\n".format(sim.nodes[0]))
    assert caught.value.log_tail == log[-10:]


def test_a_task_that_does_not_finish_in_time_says_so(sim):
    upid = sim.add_task(node=sim.nodes[2], type="vzdump", id="100", exitstatus="OK", log=["INFO: starting"], duration=30)
    with pytest.raises(ProxmoxTaskError, match=r"did not finish within 0.5 s \(status: running\); last task log lines:\nINFO: starting"):
        token_client(sim).wait_task(upid, timeout=0.5, interval=0.1)


def test_call_takes_parameters_named_like_its_own_arguments(sim):
    # PUT /access/acl and GET /access/permissions take `path`, which request() itself names.
    client = token_client(sim)
    client.call("PUT", "/access/acl", dict(path="/pool/acme", roles="PVEAuditor", users="root@pam"))
    assert {"path": "/pool/acme", "roleid": "PVEAuditor", "type": "user", "ugid": "root@pam", "propagate": 1} in \
        client.call("GET", "/access/acl", {})["data"]
